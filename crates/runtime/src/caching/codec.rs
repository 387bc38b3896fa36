//! Byte encodings of the artefacts stored in the byte-level cache levels (disk, Redis).
//!
//! Both encodings start with an 8-byte magic that names the artefact and its layout version,
//! followed by little-endian fixed-width fields. The levels themselves add a header and a
//! checksum; decoding here additionally re-checks every structural invariant (a CSR pattern
//! that is not one, indices out of range, lengths that do not add up), so a damaged or foreign
//! entry is reported as [`Corrupt`] and recomputed — never used.

use std::sync::Arc;

use femscale_assembly::DirichletLift;
use femscale_core::{CsrMatrix, Metrics, SparsityPattern};

/// Magic of an assembled system: matrix plus Dirichlet lift, layout 1.
const SYSTEM_MAGIC: &[u8; 8] = b"FEMSYS01";
/// Magic of a solution: nodal values plus metrics, layout 1.
const SOLUTION_MAGIC: &[u8; 8] = b"FEMSOL01";

/// An entry that does not decode; the message says where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Corrupt(pub String);

impl std::fmt::Display for Corrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An assembled, Dirichlet-eliminated operator and the record of its elimination.
#[derive(Debug, Clone)]
pub(crate) struct StoredSystem {
    pub matrix: Arc<CsrMatrix>,
    pub lift: Arc<DirichletLift>,
}

/// Encodes a system: `n, nnz, row_ptr[n+1], col_idx[nnz] (u32), values[nnz]`, then the lift
/// `fixed[k], diagonal[k], rows[m], cols[m] (u32), values[m]`.
pub(crate) fn encode_system(matrix: &CsrMatrix, lift: &DirichletLift) -> Vec<u8> {
    let (n, nnz) = (matrix.nrows(), matrix.nnz());
    let (rows, cols, coupling) = lift.couplings();
    let mut w = Writer(Vec::with_capacity(
        64 + 8 * (n + 1) + 12 * nnz + 16 * lift.fixed_nodes().len() + 20 * rows.len(),
    ));
    w.0.extend_from_slice(SYSTEM_MAGIC);
    w.u64(n as u64);
    w.u64(nnz as u64);
    w.usizes(matrix.pattern().row_ptr());
    w.u32s(matrix.pattern().col_idx());
    w.f64s(matrix.values());
    w.u64(lift.fixed_nodes().len() as u64);
    w.usizes(lift.fixed_nodes());
    w.f64s(lift.diagonal());
    w.u64(rows.len() as u64);
    w.usizes(rows);
    w.indices(cols);
    w.f64s(coupling);
    w.0
}

/// Decodes [`encode_system`]'s bytes, checking every invariant.
pub(crate) fn decode_system(bytes: &[u8]) -> Result<StoredSystem, Corrupt> {
    let mut r = Reader::new(bytes, SYSTEM_MAGIC, "system")?;
    let n = r.len("rows")?;
    if n >= u32::MAX as usize {
        return Err(Corrupt(format!(
            "system: {n} rows exceed the u32 index range"
        )));
    }
    let nnz = r.len("entries")?;
    let row_ptr = r.usizes(n + 1, "row_ptr")?;
    let col_idx = r.u32s(nnz, "col_idx")?;
    let values = r.f64s(nnz, "values")?;
    let k = r.len("constrained nodes")?;
    let fixed = r.usizes(k, "constrained nodes")?;
    let diagonal = r.f64s(k, "diagonal")?;
    let m = r.len("couplings")?;
    let rows = r.usizes(m, "coupling rows")?;
    let cols = r.indices(m, "coupling columns")?;
    let coupling = r.f64s(m, "coupling values")?;
    r.finish()?;
    let invalid = |e: femscale_core::Error| Corrupt(format!("system: {e}"));
    let pattern = SparsityPattern::try_new(n, n, row_ptr, col_idx).map_err(invalid)?;
    let matrix =
        CsrMatrix::try_from_pattern_and_values(Arc::new(pattern), values).map_err(invalid)?;
    let lift =
        DirichletLift::from_parts(n, fixed, diagonal, rows, cols, coupling).map_err(invalid)?;
    Ok(StoredSystem {
        matrix: Arc::new(matrix),
        lift: Arc::new(lift),
    })
}

/// Encodes a solution: `n, values[n], metrics JSON`.
pub(crate) fn encode_solution(values: &[f64], metrics: &Metrics) -> Vec<u8> {
    let json = serde_json::to_vec(metrics).unwrap_or_default();
    let mut w = Writer(Vec::with_capacity(32 + 8 * values.len() + json.len()));
    w.0.extend_from_slice(SOLUTION_MAGIC);
    w.u64(values.len() as u64);
    w.f64s(values);
    w.u64(json.len() as u64);
    w.0.extend_from_slice(&json);
    w.0
}

/// Decodes [`encode_solution`]'s bytes.
pub(crate) fn decode_solution(bytes: &[u8]) -> Result<(Vec<f64>, Metrics), Corrupt> {
    let mut r = Reader::new(bytes, SOLUTION_MAGIC, "solution")?;
    let n = r.len("values")?;
    let values = r.f64s(n, "values")?;
    let len = r.len("metrics")?;
    let json = r.take(len, "metrics")?;
    r.finish()?;
    let metrics = serde_json::from_slice(json)
        .map_err(|e| Corrupt(format!("solution: metrics do not parse: {e}")))?;
    if values.iter().any(|v| !v.is_finite()) {
        return Err(Corrupt("solution: non-finite value".into()));
    }
    Ok((values, metrics))
}

struct Writer(Vec<u8>);

impl Writer {
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn usizes(&mut self, v: &[usize]) {
        self.0.reserve(8 * v.len());
        for &x in v {
            self.u64(x as u64);
        }
    }

    /// Indices below `u32::MAX` (checked by the caller's sizes) as u32.
    fn indices(&mut self, v: &[usize]) {
        self.0.reserve(4 * v.len());
        for &x in v {
            self.0.extend_from_slice(&(x as u32).to_le_bytes());
        }
    }

    fn u32s(&mut self, v: &[u32]) {
        self.0.reserve(4 * v.len());
        for &x in v {
            self.0.extend_from_slice(&x.to_le_bytes());
        }
    }

    fn f64s(&mut self, v: &[f64]) {
        self.0.reserve(8 * v.len());
        for &x in v {
            self.0.extend_from_slice(&x.to_le_bytes());
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], magic: &[u8; 8], what: &'static str) -> Result<Self, Corrupt> {
        match bytes.strip_prefix(magic.as_slice()) {
            Some(rest) => Ok(Self { bytes: rest, what }),
            None => Err(Corrupt(format!("{what}: unknown magic or layout version"))),
        }
    }

    fn take(&mut self, len: usize, field: &str) -> Result<&'a [u8], Corrupt> {
        if len > self.bytes.len() {
            return Err(Corrupt(format!(
                "{}: truncated in {field} (needs {len} bytes, {} left)",
                self.what,
                self.bytes.len()
            )));
        }
        let (head, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(head)
    }

    fn u64(&mut self, field: &str) -> Result<u64, Corrupt> {
        let b = self.take(8, field)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    /// A count, bounded by what the remaining bytes could hold (so a damaged length cannot
    /// trigger a huge allocation).
    fn len(&mut self, field: &str) -> Result<usize, Corrupt> {
        let v = self.u64(field)?;
        if v > self.bytes.len() as u64 {
            return Err(Corrupt(format!(
                "{}: {field} count {v} exceeds the entry size",
                self.what
            )));
        }
        Ok(v as usize)
    }

    fn usizes(&mut self, n: usize, field: &str) -> Result<Vec<usize>, Corrupt> {
        let b = self.take(n.saturating_mul(8), field)?;
        b.chunks_exact(8)
            .map(|c| usize::try_from(u64::from_le_bytes(c.try_into().expect("8 bytes"))))
            .collect::<Result<_, _>>()
            .map_err(|_| Corrupt(format!("{}: {field} out of range", self.what)))
    }

    fn indices(&mut self, n: usize, field: &str) -> Result<Vec<usize>, Corrupt> {
        Ok(self
            .u32s(n, field)?
            .into_iter()
            .map(|j| j as usize)
            .collect())
    }

    fn u32s(&mut self, n: usize, field: &str) -> Result<Vec<u32>, Corrupt> {
        let b = self.take(n.saturating_mul(4), field)?;
        Ok(b.chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect())
    }

    fn f64s(&mut self, n: usize, field: &str) -> Result<Vec<f64>, Corrupt> {
        let b = self.take(n.saturating_mul(8), field)?;
        Ok(b.chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect())
    }

    fn finish(&self) -> Result<(), Corrupt> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(Corrupt(format!(
                "{}: {} trailing bytes",
                self.what,
                self.bytes.len()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use femscale_assembly::{DirichletConditions, SerialAssembler};
    use femscale_core::{Assembler, LinearSystem};

    fn system() -> (CsrMatrix, DirichletLift) {
        let mesh = femscale_mesh::Mesh::interval(0.0, 1.0, 6).unwrap();
        let problem = crate::Laplace1d {
            num_elements: 6,
            right_bc: 2.0,
            ..Default::default()
        }
        .to_problem();
        let form = problem.form().unwrap();
        let a = SerialAssembler::default();
        let mut s = LinearSystem::zeros(Arc::new(a.pattern(&mesh.view()).unwrap()));
        a.assemble_into(&mesh.view(), &form, &mut s).unwrap();
        let lift = DirichletConditions::from_form(&mesh.view(), &form)
            .unwrap()
            .apply_recording(&mut s)
            .unwrap();
        (s.matrix, lift)
    }

    #[test]
    fn system_round_trips_exactly() {
        let (m, lift) = system();
        let bytes = encode_system(&m, &lift);
        let back = decode_system(&bytes).unwrap();
        assert_eq!(*back.matrix, m);
        assert_eq!(*back.lift, lift);
    }

    #[test]
    fn every_truncation_and_many_flips_are_detected_or_harmless() {
        let (m, lift) = system();
        let bytes = encode_system(&m, &lift);
        for len in 0..bytes.len() {
            assert!(decode_system(&bytes[..len]).is_err(), "truncated to {len}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_system(&longer).is_err());
        // A flipped bit either fails to decode or decodes to a structurally valid system (the
        // levels' checksums catch those); it never panics.
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            let _ = decode_system(&b);
        }
    }

    #[test]
    fn solution_round_trips_and_rejects_damage() {
        let mut metrics = Metrics::default();
        metrics.dofs = 3;
        metrics.solver = "direct".into();
        let bytes = encode_solution(&[1.0, -2.5, 3.0], &metrics);
        let (values, back) = decode_solution(&bytes).unwrap();
        assert_eq!(values, [1.0, -2.5, 3.0]);
        assert_eq!(back, metrics);
        assert!(decode_solution(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode_solution(b"FEMSYS01").is_err());
        assert!(decode_solution(&[]).is_err());
    }
}
