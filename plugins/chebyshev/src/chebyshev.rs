//! The Chebyshev–Jacobi polynomial preconditioner: `z = p(D⁻¹A) D⁻¹ r`, where `p` is the
//! Chebyshev polynomial of degree `degree - 1` that best approximates `1/λ` on
//! `[λmax / eig_ratio, λmax]`, applied by `degree` steps of the Chebyshev iteration from `z = 0`.
//!
//! For an SPD matrix with positive diagonal and `λmax >= λmax(D⁻¹A)` the operator is symmetric
//! positive definite (`1 - λ p(λ) = T_k(..)/T_k(σ) < 1` on `(0, λmax]`), so CG may use it.
//! The Gershgorin bound `max_i Σ_j |a_ij| / a_ii` guarantees that; a power-iteration estimate
//! (times a safety factor, capped by the Gershgorin bound) is usually tighter.

use std::sync::Mutex;

use femscale_plugin_api::sdk::{Csr, Preconditioner, PreconditionerBuilder};
use femscale_plugin_api::{ErrorKind, PluginError};
use serde::Deserialize;

use crate::kernels::{cheb_start, cheb_step, dot, spmv};

/// How `λmax(D⁻¹A)` is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Estimate {
    /// `max_i Σ_j |a_ij| / a_ii`: a guaranteed upper bound (tight for M-matrices).
    Gershgorin,
    /// `power_iterations` steps of the power method, times 1.1, capped by Gershgorin.
    Power,
}

/// Options of the polynomial (the JSON object given to the plugin).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChebyshevOptions {
    /// Chebyshev steps per application (SpMVs: `degree - 1`), 1 to 64 (default 4).
    pub degree: usize,
    /// `λmax / λmin` of the interval the polynomial targets, > 1 (default 30).
    pub eig_ratio: f64,
    /// A known upper bound of `λmax(D⁻¹A)`; skips the estimate.
    pub lambda_max: Option<f64>,
    /// How `λmax` is estimated when not given (default `gershgorin`).
    pub estimate: Estimate,
    /// Steps of the power method for `estimate = "power"` (default 20).
    pub power_iterations: usize,
}

impl Default for ChebyshevOptions {
    fn default() -> Self {
        Self {
            degree: 4,
            eig_ratio: 30.0,
            lambda_max: None,
            estimate: Estimate::Gershgorin,
            power_iterations: 20,
        }
    }
}

impl ChebyshevOptions {
    /// Parses and checks the options JSON (`{}` gives the defaults).
    ///
    /// # Errors
    /// [`ErrorKind::INVALID_OPTIONS`] naming the option.
    pub fn from_json(text: &str) -> Result<Self, PluginError> {
        let text = if text.trim().is_empty() { "{}" } else { text };
        let o: Self = serde_json::from_str(text)
            .map_err(|e| PluginError::invalid_options(format!("chebyshev options: {e}")))?;
        let bad = |what: String| Err(PluginError::invalid_options(what));
        if !(1..=64).contains(&o.degree) {
            return bad(format!("`degree` must be 1 to 64, got {}", o.degree));
        }
        if !(o.eig_ratio.is_finite() && o.eig_ratio > 1.0) {
            return bad(format!("`eig_ratio` must be > 1, got {}", o.eig_ratio));
        }
        if let Some(l) = o.lambda_max
            && !(l.is_finite() && l > 0.0)
        {
            return bad(format!("`lambda_max` must be positive, got {l}"));
        }
        if o.power_iterations == 0 || o.power_iterations > 1000 {
            return bad(format!(
                "`power_iterations` must be 1 to 1000, got {}",
                o.power_iterations
            ));
        }
        Ok(o)
    }
}

/// The polynomial set up for one matrix: inverse diagonal and spectrum interval.
#[derive(Debug, Clone)]
pub struct Polynomial {
    inv_diag: Vec<f64>,
    lambda_max: f64,
    lambda_min: f64,
    degree: usize,
}

impl Polynomial {
    /// Sets the polynomial up for the square matrix `a`.
    ///
    /// # Errors
    /// [`ErrorKind::UNSUITABLE_MATRIX`] for a non-square matrix or a diagonal entry that is not
    /// positive and finite.
    pub fn new(a: &Csr<'_>, options: &ChebyshevOptions) -> Result<Self, PluginError> {
        if a.nrows != a.ncols {
            return Err(PluginError::new(
                ErrorKind::UNSUITABLE_MATRIX,
                format!("the matrix is {}x{}, not square", a.nrows, a.ncols),
            ));
        }
        let diag = a.diagonal();
        if let Some(i) = diag.iter().position(|d| !(d.is_finite() && *d > 0.0)) {
            return Err(PluginError::new(
                ErrorKind::UNSUITABLE_MATRIX,
                format!(
                    "diagonal entry {i} is {}; Chebyshev-Jacobi needs a positive diagonal",
                    diag[i]
                ),
            ));
        }
        let inv_diag: Vec<f64> = diag.iter().map(|d| 1.0 / d).collect();
        let gershgorin = (0..a.nrows)
            .map(|i| {
                let (s, e) = (a.row_ptr[i], a.row_ptr[i + 1]);
                a.values[s..e].iter().map(|v| v.abs()).sum::<f64>() * inv_diag[i]
            })
            .fold(0.0f64, f64::max);
        let lambda_max = match (options.lambda_max, options.estimate) {
            (Some(l), _) => l,
            (None, Estimate::Gershgorin) => gershgorin,
            (None, Estimate::Power) => {
                (1.1 * power_estimate(a, &inv_diag, options.power_iterations)).min(gershgorin)
            }
        };
        if !(lambda_max.is_finite() && lambda_max > 0.0) {
            return Err(PluginError::new(
                ErrorKind::UNSUITABLE_MATRIX,
                format!("the eigenvalue bound of D^-1 A is {lambda_max}"),
            ));
        }
        Ok(Self {
            inv_diag,
            lambda_max,
            lambda_min: lambda_max / options.eig_ratio,
            degree: options.degree,
        })
    }

    /// Unknowns.
    pub fn len(&self) -> usize {
        self.inv_diag.len()
    }

    /// Whether the matrix has no rows.
    pub fn is_empty(&self) -> bool {
        self.inv_diag.is_empty()
    }

    /// The upper end of the interval the polynomial targets.
    pub fn lambda_max(&self) -> f64 {
        self.lambda_max
    }

    /// A name for reports: `chebyshev-jacobi(degree 4)`.
    pub fn name(&self) -> String {
        format!("chebyshev-jacobi(degree {})", self.degree)
    }

    /// Heap bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.inv_diag.capacity() * std::mem::size_of::<f64>()
    }

    /// `z = p(D⁻¹A) D⁻¹ r`, using `d` and `az` (one entry per row each) as scratch.
    pub fn apply(&self, a: &Csr<'_>, r: &[f64], z: &mut [f64], d: &mut [f64], az: &mut [f64]) {
        let theta = 0.5 * (self.lambda_max + self.lambda_min);
        let delta = 0.5 * (self.lambda_max - self.lambda_min);
        let sigma = theta / delta;
        let mut rho = 1.0 / sigma;
        cheb_start(1.0 / theta, &self.inv_diag, r, d, z);
        for _ in 1..self.degree {
            spmv(a, z, az);
            let rho_next = 1.0 / (2.0 * sigma - rho);
            cheb_step(
                (rho_next * rho, 2.0 * rho_next / delta),
                &self.inv_diag,
                r,
                az,
                d,
                z,
            );
            rho = rho_next;
        }
    }
}

/// Rayleigh quotient of `D⁻¹A` after `steps` power iterations from a fixed start vector.
fn power_estimate(a: &Csr<'_>, inv_diag: &[f64], steps: usize) -> f64 {
    let n = inv_diag.len();
    // A deterministic start vector with components along every eigenvector in practice.
    let mut v: Vec<f64> = (0..n)
        .map(|i| 1.0 + ((i * 7919) % 97) as f64 / 97.0)
        .collect();
    let mut av = vec![0.0; n];
    let mut lambda = 0.0;
    for _ in 0..steps {
        let norm = dot(&v, &v).sqrt();
        if !(norm.is_finite() && norm > 0.0) {
            break;
        }
        v.iter_mut().for_each(|x| *x /= norm);
        spmv(a, &v, &mut av);
        // Rayleigh quotient of the generalised problem A v = λ D v.
        let vdv: f64 = v.iter().zip(inv_diag).map(|(x, w)| x * x / w).sum();
        lambda = dot(&v, &av) / vdv;
        v.iter_mut()
            .zip(&av)
            .zip(inv_diag)
            .for_each(|((x, ax), w)| *x = ax * w);
    }
    lambda
}

/// The polynomial as a preconditioner for the host's Krylov solvers (registry name
/// `plugin:chebyshev`). It keeps its own copy of the matrix, since a preconditioner is applied
/// without it.
#[derive(Debug, Clone)]
pub struct ChebyshevPreconditioner {
    options: ChebyshevOptions,
}

impl ChebyshevPreconditioner {
    /// From the options JSON.
    ///
    /// # Errors
    /// As [`ChebyshevOptions::from_json`].
    pub fn from_json(text: &str) -> Result<Self, PluginError> {
        Ok(Self {
            options: ChebyshevOptions::from_json(text)?,
        })
    }
}

/// [`ChebyshevPreconditioner`] set up for one matrix.
#[derive(Debug)]
pub struct BuiltChebyshev {
    polynomial: Polynomial,
    row_ptr: Vec<usize>,
    col_idx: Vec<usize>,
    values: Vec<f64>,
    scratch: Mutex<(Vec<f64>, Vec<f64>)>,
}

impl PreconditionerBuilder for ChebyshevPreconditioner {
    type Preconditioner = BuiltChebyshev;

    fn build(&self, a: Csr<'_>) -> Result<BuiltChebyshev, PluginError> {
        let polynomial = Polynomial::new(&a, &self.options)?;
        let n = a.nrows;
        Ok(BuiltChebyshev {
            polynomial,
            row_ptr: a.row_ptr.to_vec(),
            col_idx: a.col_idx.to_vec(),
            values: a.values.to_vec(),
            scratch: Mutex::new((vec![0.0; n], vec![0.0; n])),
        })
    }
}

impl Preconditioner for BuiltChebyshev {
    fn apply(&self, r: &[f64], z: &mut [f64]) {
        let a = Csr {
            nrows: self.polynomial.len(),
            ncols: self.polynomial.len(),
            row_ptr: &self.row_ptr,
            col_idx: &self.col_idx,
            values: &self.values,
        };
        let mut guard = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        let (d, az) = &mut *guard;
        self.polynomial.apply(&a, r, z, d, az);
    }

    fn memory_bytes(&self) -> usize {
        let f = std::mem::size_of::<f64>();
        self.polynomial.memory_bytes()
            + (self.row_ptr.capacity() + self.col_idx.capacity()) * std::mem::size_of::<usize>()
            + (self.values.capacity() + 2 * self.polynomial.len()) * f
    }
}
