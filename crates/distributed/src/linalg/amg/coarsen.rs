//! One coarsening step of the distributed AMG: decoupled aggregation of each rank's block,
//! the prolongator smoothed across ranks, and the Galerkin product `Pᵀ A P` formed from each
//! rank's rows with the partial coarse rows sent to their owners.

use femscale_core::{CsrMatrix, Error, Result, SolveError, narrow_indices};
use femscale_solvers::amg::parts::{aggregates, triple_product};

use super::super::halo::Halo;
use super::super::{DistMatrix, RowPartition};
use super::spectrum::{Spectrum, spectrum};
use crate::comm::{Communicator, Tag};

/// Tag of the tentative prolongator's ghost entries (aggregate and weight).
const TENTATIVE: Tag = 110;
/// Tag of the prolongator rows of ghost unknowns.
const PROLONGATOR_ROWS: Tag = 111;
/// Tag of the partial coarse rows sent to their owners.
const COARSE_ROWS: Tag = 112;

/// Coarsening is considered stalled when a level keeps more than this fraction of unknowns.
const STALL_RATIO: f64 = 0.9;

/// Sparse rows with global column numbers, stored flat (row `i` is
/// `entries[ptr[i]..ptr[i + 1]]`).
#[derive(Debug, Clone)]
pub(super) struct Rows {
    ptr: Vec<usize>,
    entries: Vec<(usize, f64)>,
}

impl Default for Rows {
    fn default() -> Self {
        Self {
            ptr: vec![0],
            entries: Vec::new(),
        }
    }
}

impl Rows {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.ptr.len() - 1
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[(usize, f64)] {
        &self.entries[self.ptr[i]..self.ptr[i + 1]]
    }

    /// The rows in order.
    pub fn iter(&self) -> impl Iterator<Item = &[(usize, f64)]> + '_ {
        self.ptr.windows(2).map(|w| &self.entries[w[0]..w[1]])
    }

    /// Appends a row.
    pub fn push(&mut self, row: impl IntoIterator<Item = (usize, f64)>) {
        self.entries.extend(row);
        self.ptr.push(self.entries.len());
    }

    /// Appends every row of `other`.
    pub fn append(&mut self, other: Rows) {
        let offset = self.entries.len();
        self.ptr.extend(other.ptr[1..].iter().map(|p| p + offset));
        self.entries.extend(other.entries);
    }
}

/// The transfer between a level and the next coarser one, on this rank.
#[derive(Debug)]
pub(super) struct Transfer {
    /// Owned fine rows × local coarse columns (owned coarse unknowns, then `halo`'s ghosts).
    pub p: CsrMatrix,
    /// `Pᵀ`: local coarse rows × owned fine columns.
    pub r: CsrMatrix,
    /// The coarse unknowns other ranks own that `p` uses.
    pub halo: Halo,
}

/// A coarsened level: the smoother's data, the transfer and the coarse operator.
#[derive(Debug)]
pub(super) struct Coarsened {
    pub dinv: Vec<f64>,
    pub spectrum: Spectrum,
    pub transfer: Transfer,
    pub coarse: DistMatrix,
}

/// Coarsens `a` (level `index`) by smoothed aggregation, or `None` when coarsening stalls
/// (no aggregate anywhere, or more than 90% of the unknowns kept). Collective.
///
/// # Errors
/// A non-positive diagonal (typed `SolveError::Factorization` naming the global row), the
/// aggregation's input errors, failing transports.
pub(super) fn coarsen(
    comm: &dyn Communicator,
    a: &DistMatrix,
    options: &femscale_solvers::options::AmgOptions,
    index: usize,
) -> Result<Option<Coarsened>> {
    let rank = comm.rank();
    let fine_rows = a.partition().rows();
    // A bad diagonal shows on the rank that owns it: every rank learns of it in the reduction
    // that follows (one rank returning alone would leave the others waiting in it).
    let dinv = inverse_diagonal(a, index);
    let aggs = match &dinv {
        Ok(_) => Some(aggregates(
            &a.diagonal_block()?,
            options.strength_threshold,
        )?),
        Err(_) => None,
    };
    let p = comm.size();
    let mut counts = vec![0.0; p + 1];
    counts[rank] = aggs.as_ref().map_or(0.0, |a| a.count as f64);
    counts[p] = f64::from(u8::from(dinv.is_err()));
    comm.all_reduce_sum(&mut counts)?;
    let dinv = match (dinv, counts.pop()) {
        (Err(e), _) => return Err(e),
        (Ok(_), Some(failed)) if failed > 0.0 => {
            return Err(SolveError::Factorization {
                method: "distributed-amg".into(),
                detail: format!(
                    "another rank found a diagonal entry that is not positive on level {index} \
                     (its error names the row)"
                ),
            }
            .into());
        }
        (Ok(dinv), _) => dinv,
    };
    let aggs = aggs.expect("aggregated when the diagonal was good");
    let coarse_rows: f64 = counts.iter().sum();
    if coarse_rows == 0.0 || coarse_rows > STALL_RATIO * fine_rows as f64 {
        return Ok(None);
    }
    let coarse_partition = RowPartition::from_counts(counts.iter().map(|&c| c as usize))?;
    let offset = coarse_partition.range(rank).start;

    // The tentative prolongator of every column of the local rows: owned, then ghosts.
    let owned = a.owned_rows();
    let ghosts = a.ghosts().len();
    let mut aggregate = vec![-1.0; owned + ghosts];
    let mut weight = vec![0.0; owned + ghosts];
    for (i, k) in aggs.aggregate.iter().enumerate() {
        if let Some(k) = k {
            aggregate[i] = (offset + *k as usize) as f64;
            weight[i] = aggs.weight[*k as usize];
        }
    }
    let (own_part, ghost_part) = aggregate.split_at_mut(owned);
    a.halo().forward(comm, TENTATIVE, own_part, ghost_part)?;
    let (own_part, ghost_part) = weight.split_at_mut(owned);
    a.halo().forward(comm, TENTATIVE, own_part, ghost_part)?;
    let tentative = |c: usize| (aggregate[c] >= 0.0).then(|| (aggregate[c] as usize, weight[c]));

    let spectrum = spectrum(comm, a, &dinv, index)?;
    let scale = options.prolongation_weight / spectrum.rho;
    let rows = smoothed_rows(a.local(), &dinv, scale, tentative);

    let own_coarse = coarse_partition.range(rank);
    let coarse_ghosts: Vec<usize> = rows
        .entries
        .iter()
        .map(|&(k, _)| k)
        .filter(|k| !own_coarse.contains(k))
        .collect();
    let halo = Halo::new(comm, &coarse_partition, coarse_ghosts)?;
    let p = local_matrix(rows.iter(), owned, owned_plus(&halo), |k| halo.local(k))?;
    let r = transpose(&p)?;

    // Rows of P for the ghost unknowns of A, from their owners, for the product A P.
    let received = a.halo().forward_bytes(comm, PROLONGATOR_ROWS, |wanted| {
        pack_rows(wanted.iter().map(|&i| rows.row(i)))
    })?;
    // The owners' messages come in ghost order (each owner's ghosts are one contiguous run).
    let mut ghost_rows = Rows::default();
    for (from, range, bytes) in received {
        unpack_rows(
            &bytes,
            range.len(),
            coarse_partition.rows(),
            from,
            &mut ghost_rows,
        )?;
    }
    debug_assert_eq!(ghost_rows.len(), ghosts);
    let coarse = galerkin(
        comm,
        a,
        &coarse_partition,
        &rows,
        &ghost_rows,
        &extra_columns(&rows, &ghost_rows, &own_coarse),
    )?;
    Ok(Some(Coarsened {
        dinv,
        spectrum,
        transfer: Transfer { p, r, halo },
        coarse,
    }))
}

/// Owned plus ghost entries of a halo.
fn owned_plus(halo: &Halo) -> usize {
    halo.owned() + halo.ghosts().len()
}

/// The inverse diagonal of the owned rows, checked positive and finite.
fn inverse_diagonal(a: &DistMatrix, index: usize) -> Result<Vec<f64>> {
    let local = a.local();
    let start = a.partition().range(a.rank()).start;
    (0..a.owned_rows())
        .map(|i| {
            let d = local
                .pattern()
                .find(i, i)
                .map_or(0.0, |k| local.values()[k]);
            if d > 0.0 && d.is_finite() {
                Ok(1.0 / d)
            } else {
                Err(SolveError::Factorization {
                    method: "distributed-amg".into(),
                    detail: format!(
                        "diagonal entry of row {} on level {index} is {d}; smoothed aggregation \
                         needs a positive diagonal (symmetric positive definite matrix)",
                        start + i
                    ),
                }
                .into())
            }
        })
        .collect()
}

/// Rows of `P = (I - scale D⁻¹A) P_tent` for the owned rows, with global coarse columns:
/// per aggregate `k` of a column `j` of row `i`, the sum of `(δ_ij - scale a_ij / a_ii) t_j`.
/// Parallel over blocks of rows, each block's rows appended in order.
fn smoothed_rows(
    local: &CsrMatrix,
    dinv: &[f64],
    scale: f64,
    tentative: impl Fn(usize) -> Option<(usize, f64)> + Sync,
) -> Rows {
    use rayon::prelude::*;
    const BLOCK: usize = 8192;
    let (ptr, cols, values) = (
        local.pattern().row_ptr(),
        local.pattern().col_idx(),
        local.values(),
    );
    let n = local.nrows();
    let blocks: Vec<Rows> = (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| {
            let mut out = Rows::default();
            let mut row: Vec<(usize, f64)> = Vec::new();
            for i in b * BLOCK..((b + 1) * BLOCK).min(n) {
                row.clear();
                let s = scale * dinv[i];
                for k in ptr[i]..ptr[i + 1] {
                    let j = cols[k] as usize;
                    let Some((aggregate, t)) = tentative(j) else {
                        continue;
                    };
                    let mut x = -s * values[k] * t;
                    if j == i {
                        x += t;
                    }
                    match row.iter_mut().find(|e| e.0 == aggregate) {
                        Some(e) => e.1 += x,
                        None => row.push((aggregate, x)),
                    }
                }
                row.sort_unstable_by_key(|e| e.0);
                out.push(row.iter().copied());
            }
            out
        })
        .collect();
    let mut rows = Rows::default();
    for block in blocks {
        rows.append(block);
    }
    rows
}

/// A CSR matrix of `rows` with `ncols` local columns, `local(global)` mapping each column.
fn local_matrix<'a>(
    rows: impl Iterator<Item = &'a [(usize, f64)]>,
    nrows: usize,
    ncols: usize,
    local: impl Fn(usize) -> Option<usize>,
) -> Result<CsrMatrix> {
    let mut row_ptr = Vec::with_capacity(nrows + 1);
    row_ptr.push(0);
    let (mut cols, mut values) = (Vec::new(), Vec::new());
    let mut entries: Vec<(usize, f64)> = Vec::new();
    for row in rows {
        entries.clear();
        for &(g, v) in row {
            let c = local(g).ok_or_else(|| Error::Communication {
                message: format!("column {g} has no local index"),
            })?;
            entries.push((c, v));
        }
        entries.sort_unstable_by_key(|e| e.0);
        cols.extend(entries.iter().map(|e| e.0));
        values.extend(entries.iter().map(|e| e.1));
        row_ptr.push(cols.len());
    }
    if row_ptr.len() != nrows + 1 {
        return Err(Error::Communication {
            message: format!("{} rows where {nrows} were expected", row_ptr.len() - 1),
        });
    }
    let cols = narrow_indices(&cols, "sparsity_pattern")?;
    CsrMatrix::try_from_csr_parts(nrows, ncols, row_ptr, cols, values)
}

/// `Mᵀ` (a counting sort of `M`'s entries, [`CsrMatrix::try_transpose`]).
fn transpose(m: &CsrMatrix) -> Result<CsrMatrix> {
    m.try_transpose()
}

/// Rows as bytes: per row its length, then (column, value) pairs (little-endian u64 / f64).
pub(super) fn pack_rows<'a>(rows: impl Iterator<Item = &'a [(usize, f64)]>) -> Vec<u8> {
    let mut bytes = Vec::new();
    for row in rows {
        bytes.extend((row.len() as u64).to_le_bytes());
        for &(c, v) in row {
            bytes.extend((c as u64).to_le_bytes());
            bytes.extend(v.to_le_bytes());
        }
    }
    bytes
}

/// Appends `count` rows packed by [`pack_rows`] to `out`, columns checked below `ncols`.
pub(super) fn unpack_rows(
    bytes: &[u8],
    count: usize,
    ncols: usize,
    from: usize,
    out: &mut Rows,
) -> Result<()> {
    let bad = |what: &str| Error::Communication {
        message: format!("rank {from} sent malformed matrix rows: {what}"),
    };
    let mut words = bytes
        .chunks_exact(8)
        .map(|c| c.try_into().expect("8 bytes"));
    if !bytes.len().is_multiple_of(8) {
        return Err(bad("a partial word"));
    }
    for _ in 0..count {
        let len = u64::from_le_bytes(words.next().ok_or_else(|| bad("too few rows"))?);
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= bytes.len() / 16)
            .ok_or_else(|| bad("a row longer than the message"))?;
        for _ in 0..len {
            let c = u64::from_le_bytes(words.next().ok_or_else(|| bad("a truncated row"))?);
            let v = f64::from_le_bytes(words.next().ok_or_else(|| bad("a truncated row"))?);
            let c = usize::try_from(c)
                .ok()
                .filter(|&c| c < ncols)
                .ok_or_else(|| bad("a column beyond the matrix"))?;
            if !v.is_finite() {
                return Err(bad("a non-finite value"));
            }
            out.entries.push((c, v));
        }
        out.ptr.push(out.entries.len());
    }
    if words.next().is_some() {
        return Err(bad("trailing bytes"));
    }
    Ok(())
}

/// The coarse columns of the owned and ghost prolongator rows that this rank does not own,
/// increasing: the extra columns of the local Galerkin product.
fn extra_columns(rows: &Rows, ghost_rows: &Rows, own: &std::ops::Range<usize>) -> Vec<usize> {
    let mut extra: Vec<usize> = rows
        .entries
        .iter()
        .chain(&ghost_rows.entries)
        .map(|&(k, _)| k)
        .filter(|k| !own.contains(k))
        .collect();
    extra.sort_unstable();
    extra.dedup();
    extra
}

/// `Pᵀ A P`: each rank multiplies its rows (`Pᵀ` of its rows × its rows of `A` × `P` of
/// their columns), keeps the coarse rows it owns and sends the others to their owners, which
/// add the parts (in rank order). Collective.
fn galerkin(
    comm: &dyn Communicator,
    a: &DistMatrix,
    coarse_partition: &RowPartition,
    rows: &Rows,
    ghost_rows: &Rows,
    extra: &[usize],
) -> Result<DistMatrix> {
    let (p, rank) = (comm.size(), comm.rank());
    let own = coarse_partition.range(rank);
    let owned_coarse = own.len();
    let local = |k: usize| {
        if own.contains(&k) {
            Some(k - own.start)
        } else {
            extra.binary_search(&k).ok().map(|e| owned_coarse + e)
        }
    };
    let global = |c: usize| {
        if c < owned_coarse {
            own.start + c
        } else {
            extra[c - owned_coarse]
        }
    };
    let ncols = owned_coarse + extra.len();
    let owned = a.owned_rows();
    let p_owned = local_matrix(rows.iter(), owned, ncols, local)?;
    let extended = rows.len() + ghost_rows.len();
    let p_ext = local_matrix(rows.iter().chain(ghost_rows.iter()), extended, ncols, local)?;
    let product = triple_product(&transpose(&p_owned)?, a.local(), &p_ext)?;
    drop((p_owned, p_ext));

    // Coarse rows of other owners: packed per owner as (global row, row) records.
    let (ptr, cols, values) = (
        product.pattern().row_ptr(),
        product.pattern().col_idx(),
        product.values(),
    );
    let row_of = |c: usize| -> Vec<(usize, f64)> {
        (ptr[c]..ptr[c + 1])
            .map(|k| (global(cols[k] as usize), values[k]))
            .collect()
    };
    let mut outgoing: Vec<(usize, Vec<u8>)> = Vec::new();
    for c in owned_coarse..ncols {
        let k = global(c);
        let owner = coarse_partition.owner(k);
        let record = {
            let mut bytes = (k as u64).to_le_bytes().to_vec();
            bytes.extend(pack_rows(std::iter::once(row_of(c).as_slice())));
            bytes
        };
        match outgoing.last_mut() {
            Some((to, bytes)) if *to == owner => bytes.extend(record),
            _ => outgoing.push((owner, record)),
        }
    }
    // Who sends to whom: counts[owner * p + sender].
    let mut counts = vec![0.0; p * p];
    for (owner, _) in &outgoing {
        counts[owner * p + rank] = 1.0;
    }
    comm.all_reduce_sum(&mut counts)?;
    let senders: Vec<usize> = (0..p).filter(|&s| counts[rank * p + s] > 0.0).collect();
    let sends: Vec<(usize, &[u8])> = outgoing.iter().map(|(to, b)| (*to, b.as_slice())).collect();
    let received = comm.exchange(COARSE_ROWS, &sends, &senders)?;

    // Parts of owned coarse rows from other ranks, per row (most rows get none).
    let mut incoming: Vec<Rows> = Vec::new();
    let mut targets: Vec<usize> = Vec::new();
    for (from, bytes) in senders.iter().zip(&received) {
        let mut parts = Rows::default();
        let mut rest = bytes.as_slice();
        while !rest.is_empty() {
            let truncated = || Error::Communication {
                message: format!("rank {from} sent a truncated coarse row"),
            };
            let (head, tail) = rest.split_at(8.min(rest.len()));
            let k = u64::from_le_bytes(head.try_into().map_err(|_| truncated())?) as usize;
            if !own.contains(&k) {
                return Err(Error::Communication {
                    message: format!("rank {from} sent coarse row {k} to rank {rank}"),
                });
            }
            let len = tail
                .get(..8)
                .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
                .filter(|&l| l <= (tail.len() - 8) / 16)
                .ok_or_else(truncated)?;
            let size = 8 + 16 * len;
            unpack_rows(&tail[..size], 1, coarse_partition.rows(), *from, &mut parts)?;
            targets.push(k - own.start);
            rest = &tail[size..];
        }
        incoming.push(parts);
    }
    let mut extra_parts: Vec<Vec<(usize, f64)>> = vec![Vec::new(); owned_coarse];
    for (target, row) in targets.iter().zip(incoming.iter().flat_map(Rows::iter)) {
        extra_parts[*target].extend_from_slice(row);
    }
    let mut row_ptr = Vec::with_capacity(owned_coarse + 1);
    row_ptr.push(0);
    let (mut out_cols, mut out_values) = (Vec::new(), Vec::new());
    let mut merged: Vec<(usize, f64)> = Vec::new();
    for (c, parts) in extra_parts.iter().enumerate() {
        if parts.is_empty() {
            // Columns in any order: `from_owned_rows` sorts them.
            out_cols.extend(cols[ptr[c]..ptr[c + 1]].iter().map(|&l| global(l as usize)));
            out_values.extend_from_slice(&values[ptr[c]..ptr[c + 1]]);
        } else {
            merged.clear();
            merged.extend(row_of(c));
            merged.extend_from_slice(parts);
            // Stable: equal columns are added in arrival order (own part, then by rank).
            merged.sort_by_key(|e| e.0);
            let start = out_cols.len();
            for &(col, v) in &merged {
                if out_cols.len() > start && out_cols.last() == Some(&col) {
                    *out_values.last_mut().expect("a value") += v;
                } else {
                    out_cols.push(col);
                    out_values.push(v);
                }
            }
        }
        row_ptr.push(out_cols.len());
    }
    DistMatrix::from_owned_rows(
        comm,
        coarse_partition.clone(),
        &row_ptr,
        &out_cols,
        &out_values,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_rows_round_trip_and_malformed_messages_are_typed_errors() {
        let rows = [vec![(0, 1.5), (7, -2.0)], vec![], vec![(3, 0.25)]];
        let bytes = pack_rows(rows.iter().map(Vec::as_slice));
        let mut out = Rows::default();
        unpack_rows(&bytes, 3, 8, 1, &mut out).unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(out.row(0), rows[0].as_slice());
        assert!(out.row(1).is_empty());
        let fails = |bytes: &[u8], count: usize, ncols: usize| {
            let err = unpack_rows(bytes, count, ncols, 1, &mut Rows::default()).unwrap_err();
            assert!(
                matches!(err, Error::Communication { .. }) && err.to_string().contains("rank 1"),
                "{err}"
            );
        };
        fails(&bytes[..bytes.len() - 8], 3, 8); // truncated
        fails(&bytes[..bytes.len() - 3], 3, 8); // partial word
        fails(&bytes, 2, 8); // trailing bytes
        fails(&bytes, 3, 5); // a column beyond the matrix
        let mut huge = (u64::MAX).to_le_bytes().to_vec();
        huge.extend([0; 16]);
        fails(&huge, 1, 8); // a length no message can hold: refused, not allocated
        let mut nan = 1u64.to_le_bytes().to_vec();
        nan.extend(0u64.to_le_bytes());
        nan.extend(f64::NAN.to_le_bytes());
        fails(&nan, 1, 8);
    }
}
