//! Shared helpers for femscale's workspace integration tests (see `it/`).

/// Observed convergence rates `log(e_{i-1} / e_i) / log(h_{i-1} / h_i)` of a refinement study.
pub fn rates(h: &[f64], errors: &[f64]) -> Vec<f64> {
    h.windows(2)
        .zip(errors.windows(2))
        .map(|(h, e)| (e[0] / e[1]).ln() / (h[0] / h[1]).ln())
        .collect()
}
