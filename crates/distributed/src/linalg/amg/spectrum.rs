//! Bounds on the spectrum of `D⁻¹A` for a distributed level: the prolongator's `ω/ρ` and the
//! Chebyshev smoother's interval, chosen as the serial hierarchy chooses them.

use femscale_core::Result;
use femscale_solvers::amg::parts::tridiagonal_max_eigenvalue;
use femscale_solvers::kernels::dot;

use super::super::DistMatrix;
use crate::comm::Communicator;

/// Lanczos steps of the estimate on coarse levels and non-M-matrices (as the serial AMG).
const LANCZOS_STEPS: usize = 10;
/// Safety factor on the Lanczos estimate for the smoother's upper bound (as the serial AMG).
const SAFETY: f64 = 1.1;

/// The spectral radius estimate of `D⁻¹A` (prolongator smoothing) and the smoother's upper
/// bound.
#[derive(Debug, Clone, Copy)]
pub(super) struct Spectrum {
    pub rho: f64,
    pub upper: f64,
}

/// The Gershgorin bound on the finest level of an M-matrix (tight there, and free); 10 Lanczos
/// steps clamped by Gershgorin elsewhere. The same on every rank, and independent of the
/// number of ranks up to rounding (the start vector is a function of the global row).
pub(super) fn spectrum(
    comm: &dyn Communicator,
    a: &DistMatrix,
    dinv: &[f64],
    index: usize,
) -> Result<Spectrum> {
    let local = a.local();
    let (ptr, cols, values) = (
        local.pattern().row_ptr(),
        local.pattern().col_idx(),
        local.values(),
    );
    let mut gershgorin = 0.0f64;
    let mut positive_coupling = false;
    for i in 0..a.owned_rows() {
        let mut sum = 0.0;
        for k in ptr[i]..ptr[i + 1] {
            sum += values[k].abs();
            positive_coupling |= cols[k] as usize != i && values[k] > 0.0;
        }
        gershgorin = gershgorin.max(sum * dinv[i]);
    }
    // Maxima by a sum: each rank fills its own slots.
    let p = comm.size();
    let mut slots = vec![0.0; 2 * p];
    slots[comm.rank()] = gershgorin;
    slots[p + comm.rank()] = f64::from(u8::from(positive_coupling));
    comm.all_reduce_sum(&mut slots)?;
    let g = slots[..p].iter().copied().fold(0.0, f64::max);
    let m_matrix = slots[p..].iter().all(|&x| x == 0.0);
    if index == 0 && m_matrix {
        return Ok(Spectrum { rho: g, upper: g });
    }
    let l = lanczos(comm, a, dinv, LANCZOS_STEPS)?;
    Ok(Spectrum {
        rho: l.min(g),
        upper: (SAFETY * l).min(g),
    })
}

/// Largest eigenvalue of `D⁻¹A` estimated by `steps` Lanczos steps on `D^-1/2 A D^-1/2`.
fn lanczos(comm: &dyn Communicator, a: &DistMatrix, dinv: &[f64], steps: usize) -> Result<f64> {
    let n = a.owned_rows();
    let global_rows = a.partition().rows();
    if global_rows == 0 {
        return Ok(0.0);
    }
    let steps = steps.min(global_rows).max(1);
    let start = a.partition().range(comm.rank()).start;
    let sq: Vec<f64> = dinv.iter().map(|d| d.sqrt()).collect();
    // The serial hierarchy's pseudo-random start vector, indexed by global row.
    let mut v: Vec<f64> = (start..start + n)
        .map(|i| {
            let h = (i as u64 ^ 0x9E37_79B9_7F4A_7C15).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            ((h >> 11) as f64 / (1u64 << 53) as f64) - 0.5
        })
        .collect();
    let norm = global_dot(comm, &v, &v)?.sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    let (mut v_prev, mut u, mut w) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let mut work = Vec::new();
    let (mut alphas, mut betas) = (Vec::with_capacity(steps), Vec::with_capacity(steps));
    let mut beta = 0.0;
    for _ in 0..steps {
        for ((ui, vi), si) in u.iter_mut().zip(&v).zip(&sq) {
            *ui = vi * si;
        }
        a.mul(comm, &u, &mut w, &mut work)?;
        for i in 0..n {
            w[i] = w[i] * sq[i] - beta * v_prev[i];
        }
        let alpha = global_dot(comm, &w, &v)?;
        for (wi, vi) in w.iter_mut().zip(&v) {
            *wi -= alpha * vi;
        }
        alphas.push(alpha);
        beta = global_dot(comm, &w, &w)?.sqrt();
        if beta.is_nan() || beta <= 1e-12 * alpha.abs() || alphas.len() == steps {
            break;
        }
        betas.push(beta);
        std::mem::swap(&mut v_prev, &mut v);
        for (vi, wi) in v.iter_mut().zip(&w) {
            *vi = wi / beta;
        }
    }
    Ok(tridiagonal_max_eigenvalue(&alphas, &betas))
}

/// `x · y` over all ranks.
fn global_dot(comm: &dyn Communicator, x: &[f64], y: &[f64]) -> Result<f64> {
    let mut sum = [dot(x, y)];
    comm.all_reduce_sum(&mut sum)?;
    Ok(sum[0])
}
