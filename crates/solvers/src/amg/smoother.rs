//! Smoothers of the V- and W-cycles.
//!
//! Chebyshev and damped Jacobi are both polynomial smoothers `x += p(D⁻¹A) D⁻¹ (b - A x)`:
//! damped Jacobi is the degree-1 case `p = ω`. They run as fused parallel row passes, one SpMV
//! per polynomial degree and sweep: each pass computes `r -= A d` for the last update `d`, the
//! next update `d'` from `r` and adds it to `x`. The same polynomial before and after the
//! coarse-grid correction makes the cycle symmetric.
//!
//! Symmetric Gauss–Seidel is serial: forward sweeps before the correction, backward sweeps after
//! (the adjoint), so the cycle stays symmetric too.

use crate::options::AmgSmoother;

use super::csr::{Mat, for_chunks1, for_chunks2, for_chunks3, row_dot};

/// Lower end of the Chebyshev interval as a fraction of its upper end. Measured on the 2D
/// Poisson matrix (CG iterations at n = 128 / 1024 cells per side): 1/30 gave 9 / 17, 0.1 gave
/// 9 / 13, 0.2–0.25 gave 9 / 11 and 0.4 gave 10 / 12.
pub(crate) const CHEBYSHEV_RATIO: f64 = 0.25;

/// Safety factor on the (under-)estimated largest eigenvalue of `D⁻¹A`.
pub(crate) const CHEBYSHEV_SAFETY: f64 = 1.1;

/// Chebyshev coefficients on `[upper * CHEBYSHEV_RATIO, upper]`: the first update's factor and
/// `(c1, c2)` of each later one (see [`Smoother`]).
pub(crate) fn chebyshev_coefficients(upper: f64, degree: usize) -> (f64, Vec<(f64, f64)>) {
    let hi = upper;
    let lo = hi * CHEBYSHEV_RATIO;
    let theta = 0.5 * (hi + lo);
    let delta = 0.5 * (hi - lo);
    let sigma = theta / delta;
    let mut rho = 1.0 / sigma;
    let mut steps = Vec::with_capacity(degree.saturating_sub(1));
    for _ in 1..degree {
        let next = 1.0 / (2.0 * sigma - rho);
        steps.push((next * rho, 2.0 * next / delta));
        rho = next;
    }
    (1.0 / theta, steps)
}

/// A level's smoother with its precomputed coefficients.
#[derive(Debug, Clone)]
pub(crate) struct Smoother {
    kind: AmgSmoother,
    sweeps: usize,
    /// Coefficient of the first update `d = c D⁻¹ r` (`1/θ` for Chebyshev, `ω` for Jacobi).
    first: f64,
    /// `(c1, c2)` of the later updates `d' = c1 d + c2 D⁻¹ r`.
    steps: Vec<(f64, f64)>,
}

/// Work vectors of a smoother (all of the level's length).
pub(crate) struct SmootherWork<'a> {
    pub r: &'a mut Vec<f64>,
    pub d: &'a mut Vec<f64>,
    pub dn: &'a mut Vec<f64>,
}

impl Smoother {
    /// The smoother `kind` with `sweeps` sweeps; `upper` bounds the spectrum of `D⁻¹A`.
    pub fn new(kind: AmgSmoother, sweeps: usize, degree: usize, weight: f64, upper: f64) -> Self {
        let (first, steps) = match kind {
            AmgSmoother::Chebyshev => chebyshev_coefficients(upper, degree),
            AmgSmoother::Jacobi => (weight, Vec::new()),
            AmgSmoother::SymmetricGaussSeidel => (1.0, Vec::new()),
        };
        Self {
            kind,
            sweeps,
            first,
            steps,
        }
    }

    /// Pre-smoothing from `x = 0` (whatever `x` holds on entry); leaves `r = b - A x`.
    pub fn pre(&self, a: &Mat, dinv: &[f64], b: &[f64], x: &mut [f64], w: SmootherWork<'_>) {
        match self.kind {
            AmgSmoother::SymmetricGaussSeidel => {
                x.fill(0.0);
                for _ in 0..self.sweeps {
                    gauss_seidel_forward(a, dinv, b, x);
                }
                a.residual(b, x, w.r);
            }
            _ => self.polynomial(a, dinv, b, x, w, true, true),
        }
    }

    /// Post-smoothing from the given `x`.
    pub fn post(&self, a: &Mat, dinv: &[f64], b: &[f64], x: &mut [f64], w: SmootherWork<'_>) {
        match self.kind {
            AmgSmoother::SymmetricGaussSeidel => {
                for _ in 0..self.sweeps {
                    gauss_seidel_backward(a, dinv, b, x);
                }
            }
            _ => self.polynomial(a, dinv, b, x, w, false, false),
        }
    }

    /// Invariant after every pass: `r = b - A (x - d)`, with `d` already added to `x` unless
    /// `pending`.
    #[allow(clippy::too_many_arguments)]
    fn polynomial(
        &self,
        a: &Mat,
        dinv: &[f64],
        b: &[f64],
        x: &mut [f64],
        w: SmootherWork<'_>,
        zero: bool,
        residual: bool,
    ) {
        let SmootherWork { r, d, dn } = w;
        let c0 = self.first;
        let mut pending = !zero;
        if zero {
            for_chunks3(x, r, d, |f, xc, rc, dc| {
                for k in 0..xc.len() {
                    let i = f + k;
                    rc[k] = b[i];
                    dc[k] = c0 * dinv[i] * b[i];
                    xc[k] = dc[k];
                }
            });
        } else {
            let (xr, parts): (&[f64], _) = (x, a.parts());
            for_chunks2(r, d, |f, rc, dc| {
                for k in 0..rc.len() {
                    let i = f + k;
                    rc[k] = b[i] - row_dot(parts, i, xr);
                    dc[k] = c0 * dinv[i] * rc[k];
                }
            });
        }
        for sweep in 0..self.sweeps {
            let restart = (sweep > 0).then_some((0.0, c0));
            for &(c1, c2) in restart.iter().chain(&self.steps) {
                step(a, dinv, d, dn, r, x, c1, c2, pending);
                std::mem::swap(d, dn);
                pending = false;
            }
        }
        if pending {
            crate::kernels::axpy(1.0, d, x);
        }
        if residual {
            let (dr, parts): (&[f64], _) = (d, a.parts());
            for_chunks1(r, |f, rc| {
                for (k, ri) in rc.iter_mut().enumerate() {
                    *ri -= row_dot(parts, f + k, dr);
                }
            });
        }
    }
}

/// `r -= A d; dn = c1 d + c2 D⁻¹ r; x += dn (+ d if pending)` in one pass.
#[allow(clippy::too_many_arguments)]
#[inline]
fn step(
    a: &Mat,
    dinv: &[f64],
    d: &[f64],
    dn: &mut [f64],
    r: &mut [f64],
    x: &mut [f64],
    c1: f64,
    c2: f64,
    pending: bool,
) {
    let p = if pending { 1.0 } else { 0.0 };
    let parts = a.parts();
    for_chunks3(x, r, dn, |f, xc, rc, nc| {
        for k in 0..xc.len() {
            let i = f + k;
            let ri = rc[k] - row_dot(parts, i, d);
            rc[k] = ri;
            let di = d[i];
            let n = c1 * di + c2 * dinv[i] * ri;
            nc[k] = n;
            xc[k] += p * di + n;
        }
    });
}

fn gauss_seidel_forward(a: &Mat, dinv: &[f64], b: &[f64], x: &mut [f64]) {
    for i in 0..a.nrows {
        let ax = a.row_dot(i, x);
        x[i] += (b[i] - ax) * dinv[i];
    }
}

fn gauss_seidel_backward(a: &Mat, dinv: &[f64], b: &[f64], x: &mut [f64]) {
    for i in (0..a.nrows).rev() {
        let ax = a.row_dot(i, x);
        x[i] += (b[i] - ax) * dinv[i];
    }
}
