//! A minimal femscale solver plugin: the Jacobi-preconditioned Richardson iteration
//! `x += omega * D^-1 (b - A x)`, registered as `plugin:richardson`.
//!
//! It is the template of `docs/plugins.md`: copy this crate, rename it, replace the numerics.

use femscale_plugin_api::sdk::{Csr, Monitor, Plugin, PreparedSolver, Solver};
use femscale_plugin_api::{ErrorKind, PluginError, SolveOutcome, SolveParams};
use serde::Deserialize;

/// The solver's options, read from the JSON object the host passes (`{}` for the defaults).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Richardson {
    /// Damping factor, in (0, 2) (default 0.6).
    pub omega: f64,
}

impl Default for Richardson {
    fn default() -> Self {
        Self { omega: 0.6 }
    }
}

impl Richardson {
    /// Parses and checks the options.
    fn from_json(json: &str) -> Result<Self, PluginError> {
        let options: Self = serde_json::from_str(json)
            .map_err(|e| PluginError::invalid_options(format!("richardson: {e}")))?;
        if !(options.omega > 0.0 && options.omega < 2.0) {
            return Err(PluginError::invalid_options(format!(
                "richardson: `omega` must be in (0, 2), got {}",
                options.omega
            )));
        }
        Ok(options)
    }
}

/// The solver set up for one matrix: the inverse diagonal and two work vectors.
pub struct PreparedRichardson {
    omega: f64,
    inv_diag: Vec<f64>,
    ax: Vec<f64>,
}

impl Solver for Richardson {
    type Prepared = PreparedRichardson;

    fn prepare(
        &self,
        a: Csr<'_>,
        _params: &SolveParams,
    ) -> Result<PreparedRichardson, PluginError> {
        let diag = a.diagonal();
        if let Some(i) = diag.iter().position(|d| *d == 0.0 || !d.is_finite()) {
            return Err(PluginError::new(
                ErrorKind::UNSUITABLE_MATRIX,
                format!("diagonal entry {i} is {}", diag[i]),
            ));
        }
        Ok(PreparedRichardson {
            omega: self.omega,
            inv_diag: diag.iter().map(|d| 1.0 / d).collect(),
            ax: vec![0.0; a.nrows],
        })
    }
}

impl PreparedSolver for PreparedRichardson {
    fn solve(
        &mut self,
        a: Csr<'_>,
        b: &[f64],
        x: &mut [f64],
        params: &SolveParams,
        monitor: &mut Monitor<'_>,
    ) -> Result<SolveOutcome, PluginError> {
        let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        let b_norm = norm(b);
        let scale = if b_norm > 0.0 { b_norm } else { 1.0 };
        let target = (params.tolerance * b_norm).max(params.absolute_tolerance);
        let mut out = SolveOutcome {
            preconditioner: "jacobi".into(),
            ..SolveOutcome::default()
        };
        for it in 0..=params.max_iterations {
            // ax = b - A x, the residual.
            a.mul_vec_into(x, &mut self.ax);
            self.ax.iter_mut().zip(b).for_each(|(r, b)| *r = b - *r);
            let r_norm = norm(&self.ax);
            if it == 0 {
                out.initial_residual = r_norm;
            } else {
                out.residual_history.push(r_norm / scale);
                if !monitor.on_iteration(it, r_norm / scale) {
                    return Err(PluginError::with_outcome(
                        ErrorKind::STOPPED,
                        "stopped",
                        out,
                    ));
                }
            }
            (out.iterations, out.final_residual) = (it, r_norm);
            out.final_relative_residual = r_norm / scale;
            if r_norm <= target {
                out.converged = true;
                return Ok(out);
            }
            if !r_norm.is_finite() {
                return Err(PluginError::with_outcome(
                    ErrorKind::BREAKDOWN,
                    "diverged",
                    out,
                ));
            }
            for ((x, r), w) in x.iter_mut().zip(&self.ax).zip(&self.inv_diag) {
                *x += self.omega * w * r;
            }
        }
        let message = format!("no convergence in {} iterations", params.max_iterations);
        Err(PluginError::with_outcome(
            ErrorKind::NOT_CONVERGED,
            message,
            out,
        ))
    }

    fn update_values(&mut self, a: Csr<'_>) -> Result<(), PluginError> {
        *self = Richardson { omega: self.omega }.prepare(a, &SolveParams::default())?;
        Ok(())
    }

    fn memory_bytes(&self) -> usize {
        (self.inv_diag.capacity() + self.ax.capacity()) * std::mem::size_of::<f64>()
    }
}

/// The plugin: name, version, description and components.
fn plugin() -> Plugin {
    Plugin::new(
        "template",
        env!("CARGO_PKG_VERSION"),
        "the docs/plugins.md template",
    )
    .solver(
        "richardson",
        "Jacobi-preconditioned Richardson; option omega",
        Richardson::from_json,
    )
}

femscale_plugin_api::export_plugin!(plugin);
