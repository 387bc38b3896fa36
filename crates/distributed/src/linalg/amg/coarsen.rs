//! One coarsening step of the distributed AMG: decoupled aggregation of each rank's block,
//! the prolongator smoothed across ranks, and the Galerkin product `Pᵀ A P` formed from each
//! rank's rows with the partial coarse rows sent to their owners.

use femscale_core::{CsrMatrix, Error, Result, SolveError};
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
    let dinv = inverse_diagonal(a, index)?;
    let aggs = aggregates(&a.diagonal_block()?, options.strength_threshold)?;
    let mut counts = vec![0.0; comm.size()];
    counts[rank] = aggs.count as f64;
    comm.all_reduce_sum(&mut counts)?;
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
        .iter()
        .flatten()
        .map(|&(k, _)| k)
        .filter(|k| !own_coarse.contains(k))
        .collect();
    let halo = Halo::new(comm, &coarse_partition, coarse_ghosts)?;
    let p = local_matrix(&rows, owned, owned_plus(&halo), |k| halo.local(k))?;
    let r = transpose(&p)?;

    // Rows of P for the ghost unknowns of A, from their owners, for the product A P.
    let received = a.halo().forward_bytes(comm, PROLONGATOR_ROWS, |wanted| {
        pack_rows(wanted.iter().map(|&i| rows[i].as_slice()))
    })?;
    let mut ghost_rows: Vec<Vec<(usize, f64)>> = vec![Vec::new(); ghosts];
    for (from, range, bytes) in received {
        let decoded = unpack_rows(&bytes, range.len(), coarse_partition.rows(), from)?;
        for (slot, row) in ghost_rows[range].iter_mut().zip(decoded) {
            *slot = row;
        }
    }
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
fn smoothed_rows(
    local: &CsrMatrix,
    dinv: &[f64],
    scale: f64,
    tentative: impl Fn(usize) -> Option<(usize, f64)> + Sync,
) -> Vec<Vec<(usize, f64)>> {
    use rayon::prelude::*;
    let (ptr, cols, values) = (
        local.pattern().row_ptr(),
        local.pattern().col_idx(),
        local.values(),
    );
    (0..local.nrows())
        .into_par_iter()
        .with_min_len(1024)
        .map(|i| {
            let mut row: Vec<(usize, f64)> = Vec::new();
            let s = scale * dinv[i];
            for k in ptr[i]..ptr[i + 1] {
                let j = cols[k];
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
            row
        })
        .collect()
}

/// A CSR matrix of `rows` with `ncols` local columns, `local(global)` mapping each column.
fn local_matrix(
    rows: &[Vec<(usize, f64)>],
    nrows: usize,
    ncols: usize,
    local: impl Fn(usize) -> Option<usize>,
) -> Result<CsrMatrix> {
    let mut row_ptr = Vec::with_capacity(nrows + 1);
    row_ptr.push(0);
    let nnz: usize = rows.iter().map(Vec::len).sum();
    let (mut cols, mut values) = (Vec::with_capacity(nnz), Vec::with_capacity(nnz));
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
    CsrMatrix::try_from_csr_parts(nrows, ncols, row_ptr, cols, values)
}

/// `Mᵀ` (the CSR arrays of `M` read as CSC arrays of its transpose).
fn transpose(m: &CsrMatrix) -> Result<CsrMatrix> {
    CsrMatrix::try_from_csc_parts(
        m.ncols(),
        m.nrows(),
        m.pattern().row_ptr(),
        m.pattern().col_idx(),
        m.values(),
    )
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

/// `count` rows packed by [`pack_rows`], columns checked below `ncols`.
pub(super) fn unpack_rows(
    bytes: &[u8],
    count: usize,
    ncols: usize,
    from: usize,
) -> Result<Vec<Vec<(usize, f64)>>> {
    let bad = |what: &str| Error::Communication {
        message: format!("rank {from} sent malformed matrix rows: {what}"),
    };
    let mut words = bytes
        .chunks_exact(8)
        .map(|c| c.try_into().expect("8 bytes"));
    if bytes.len() % 8 != 0 {
        return Err(bad("a partial word"));
    }
    let mut rows = Vec::with_capacity(count);
    for _ in 0..count {
        let len = u64::from_le_bytes(words.next().ok_or_else(|| bad("too few rows"))?);
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= bytes.len() / 16)
            .ok_or_else(|| bad("a row longer than the message"))?;
        let mut row = Vec::with_capacity(len);
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
            row.push((c, v));
        }
        rows.push(row);
    }
    if words.next().is_some() {
        return Err(bad("trailing bytes"));
    }
    Ok(rows)
}

/// The coarse columns of the owned and ghost prolongator rows that this rank does not own,
/// increasing: the extra columns of the local Galerkin product.
fn extra_columns(
    rows: &[Vec<(usize, f64)>],
    ghost_rows: &[Vec<(usize, f64)>],
    own: &std::ops::Range<usize>,
) -> Vec<usize> {
    let mut extra: Vec<usize> = rows
        .iter()
        .chain(ghost_rows)
        .flatten()
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
    rows: &[Vec<(usize, f64)>],
    ghost_rows: &[Vec<(usize, f64)>],
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
    let p_owned = local_matrix(rows, owned, ncols, local)?;
    let all_rows: Vec<Vec<(usize, f64)>> = rows.iter().chain(ghost_rows).cloned().collect();
    let p_ext = local_matrix(&all_rows, all_rows.len(), ncols, local)?;
    drop(all_rows);
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
            .map(|k| (global(cols[k]), values[k]))
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

    let mut merged: Vec<Vec<(usize, f64)>> = (0..owned_coarse).map(row_of).collect();
    for (from, bytes) in senders.iter().zip(&received) {
        let mut rest = bytes.as_slice();
        while !rest.is_empty() {
            let (head, tail) = rest.split_at(8.min(rest.len()));
            let k = u64::from_le_bytes(head.try_into().map_err(|_| Error::Communication {
                message: format!("rank {from} sent a truncated coarse row"),
            })?) as usize;
            if !own.contains(&k) {
                return Err(Error::Communication {
                    message: format!("rank {from} sent coarse row {k} to rank {rank}"),
                });
            }
            let len = tail
                .get(..8)
                .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
                .filter(|&l| l <= (tail.len() - 8) / 16)
                .ok_or_else(|| Error::Communication {
                    message: format!("rank {from} sent a truncated coarse row"),
                })?;
            let size = 8 + 16 * len;
            let row = unpack_rows(&tail[..size], 1, coarse_partition.rows(), *from)?;
            merged[k - own.start].extend(row.into_iter().flatten());
            rest = &tail[size..];
        }
    }
    let mut row_ptr = Vec::with_capacity(owned_coarse + 1);
    row_ptr.push(0);
    let (mut out_cols, mut out_values) = (Vec::new(), Vec::new());
    for mut row in merged {
        // Stable: equal columns are added in arrival order (own part, then by rank).
        row.sort_by_key(|e| e.0);
        for (c, v) in row {
            if out_cols.len() > *row_ptr.last().expect("a start") && out_cols.last() == Some(&c) {
                *out_values.last_mut().expect("a value") += v;
            } else {
                out_cols.push(c);
                out_values.push(v);
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
