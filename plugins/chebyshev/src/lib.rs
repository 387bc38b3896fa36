//! # femscale-plugin-chebyshev
//!
//! A femscale plugin (a dynamic library built with `femscale-plugin-api`) that provides:
//!
//! * the solver `plugin:chebyshev-cg`: conjugate gradients preconditioned by a Chebyshev
//!   polynomial in the Jacobi-scaled matrix ([`ChebyshevCg`]). Every iteration applies `degree`
//!   matrix-vector products but needs only two global reductions, which is what makes polynomial
//!   preconditioning attractive when reductions are expensive (many threads, many processes),
//!   and it needs no set-up beyond a diagonal and an eigenvalue bound;
//! * the preconditioner `plugin:chebyshev` ([`ChebyshevPreconditioner`]), the same polynomial
//!   for the host's Krylov solvers.
//!
//! Options (a JSON object, `[plugins.options.chebyshev-cg]` in a femscale config): `degree`
//! (default 4), `eig_ratio` (30), `lambda_max` (estimated when absent), `estimate`
//! (`gershgorin`, a guaranteed bound, or `power`), `power_iterations` (20).
//!
//! With `degree = 1` the polynomial is a scaled Jacobi preconditioner, so `chebyshev-cg` takes
//! the same iterations as femscale's built-in `cg` with `jacobi`.

pub mod cg;
pub mod chebyshev;
mod kernels;

use femscale_plugin_api::sdk::Plugin;

pub use cg::{ChebyshevCg, PreparedChebyshevCg};
pub use chebyshev::{ChebyshevOptions, ChebyshevPreconditioner, Estimate, Polynomial};

/// The plugin: its name, version and components.
pub fn plugin() -> Plugin {
    Plugin::new(
        "chebyshev",
        env!("CARGO_PKG_VERSION"),
        "CG with a Chebyshev-Jacobi polynomial preconditioner, and the polynomial alone",
    )
    .solver(
        "chebyshev-cg",
        "CG preconditioned by a Chebyshev polynomial of D^-1 A (SPD matrices); options: degree, \
         eig_ratio, lambda_max, estimate (gershgorin|power), power_iterations",
        ChebyshevCg::from_json,
    )
    .preconditioner(
        "chebyshev",
        "Chebyshev polynomial of D^-1 A as an SPD preconditioner; same options as chebyshev-cg",
        ChebyshevPreconditioner::from_json,
    )
}

femscale_plugin_api::export_plugin!(plugin);

#[cfg(test)]
mod tests {
    use femscale_plugin_api::sdk::{
        Csr, FnMonitor, Monitor, Preconditioner, PreconditionerBuilder, PreparedSolver, Solver,
    };
    use femscale_plugin_api::{ErrorKind, SolveParams};

    use super::*;

    /// The 2D 5-point Laplacian on an m x m grid.
    fn laplace_2d(m: usize) -> (Vec<usize>, Vec<usize>, Vec<f64>) {
        let (mut rp, mut ci, mut v) = (vec![0], vec![], vec![]);
        for i in 0..m {
            for j in 0..m {
                let k = i * m + j;
                let mut push = |c: usize, x: f64| {
                    ci.push(c);
                    v.push(x);
                };
                if i > 0 {
                    push(k - m, -1.0);
                }
                if j > 0 {
                    push(k - 1, -1.0);
                }
                push(k, 4.0);
                if j + 1 < m {
                    push(k + 1, -1.0);
                }
                if i + 1 < m {
                    push(k + m, -1.0);
                }
                rp.push(ci.len());
            }
        }
        (rp, ci, v)
    }

    fn solve(options: &str, m: usize) -> (Vec<f64>, usize, Vec<f64>) {
        let (rp, ci, v) = laplace_2d(m);
        let n = m * m;
        let a = Csr {
            nrows: n,
            ncols: n,
            row_ptr: &rp,
            col_idx: &ci,
            values: &v,
        };
        let b: Vec<f64> = (0..n).map(|i| ((i % 13) as f64) - 6.0).collect();
        let params = SolveParams {
            tolerance: 1e-10,
            ..SolveParams::default()
        };
        let mut prepared = ChebyshevCg::from_json(options)
            .unwrap()
            .prepare(a, &params)
            .unwrap();
        let mut x = vec![0.0; n];
        let mut go_on = FnMonitor(|_, _| true);
        let out = prepared
            .solve(a, &b, &mut x, &params, &mut Monitor::from_fn(&mut go_on))
            .unwrap();
        assert!(out.converged);
        let mut ax = vec![0.0; n];
        a.mul_vec_into(&x, &mut ax);
        let res: f64 = ax.iter().zip(&b).map(|(p, q)| (p - q).powi(2)).sum();
        let bn: f64 = b.iter().map(|q| q * q).sum();
        assert!((res / bn).sqrt() < 1e-9, "{}", (res / bn).sqrt());
        (x, out.iterations, out.residual_history.to_vec())
    }

    #[test]
    fn higher_degree_needs_fewer_iterations_for_the_same_solution() {
        let (x1, it1, h1) = solve(r#"{"degree": 1}"#, 40);
        let (x4, it4, _) = solve("{}", 40);
        let (x8, it8, _) = solve(r#"{"degree": 8, "estimate": "power"}"#, 40);
        assert_eq!(h1.len(), it1);
        assert!(it4 * 2 < it1, "degree 4: {it4}, degree 1: {it1}");
        assert!(it8 < it4, "degree 8: {it8}, degree 4: {it4}");
        for (a, b) in x1.iter().zip(&x4).chain(x1.iter().zip(&x8)) {
            assert!((a - b).abs() < 1e-7 * (1.0 + a.abs()));
        }
    }

    #[test]
    fn the_monitor_stops_the_solve_and_bad_options_are_named() {
        let (rp, ci, v) = laplace_2d(10);
        let a = Csr {
            nrows: 100,
            ncols: 100,
            row_ptr: &rp,
            col_idx: &ci,
            values: &v,
        };
        let params = SolveParams::default();
        let mut prepared = ChebyshevCg::from_json("{}")
            .unwrap()
            .prepare(a, &params)
            .unwrap();
        let mut stop_at_2 = FnMonitor(|it, _| it < 2);
        let mut x = vec![0.0; 100];
        let err = prepared
            .solve(
                a,
                &[1.0; 100],
                &mut x,
                &params,
                &mut Monitor::from_fn(&mut stop_at_2),
            )
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::STOPPED);
        assert_eq!(err.outcome.into_option().map(|o| o.iterations), Some(2));
        for (json, what) in [
            (r#"{"degree": 0}"#, "degree"),
            (r#"{"eig_ratio": 0.5}"#, "eig_ratio"),
            (r#"{"degre": 3}"#, "degre"),
            ("[1, 2", "chebyshev options"),
        ] {
            let err = ChebyshevCg::from_json(json).unwrap_err();
            assert_eq!(err.kind, ErrorKind::INVALID_OPTIONS);
            assert!(err.message.contains(what), "{json}: {err}");
        }
    }

    #[test]
    fn the_preconditioner_is_symmetric_positive_definite() {
        let (rp, ci, v) = laplace_2d(6);
        let a = Csr {
            nrows: 36,
            ncols: 36,
            row_ptr: &rp,
            col_idx: &ci,
            values: &v,
        };
        let pc = ChebyshevPreconditioner::from_json(r#"{"degree": 5}"#)
            .unwrap()
            .build(a)
            .unwrap();
        let apply = |r: &[f64]| {
            let mut z = vec![0.0; 36];
            pc.apply(r, &mut z);
            z
        };
        let e = |i: usize| {
            (0..36)
                .map(|k| f64::from(u8::from(k == i)))
                .collect::<Vec<_>>()
        };
        for i in 0..36 {
            let mi = apply(&e(i));
            assert!(mi[i] > 0.0);
            for j in 0..36 {
                let mj = apply(&e(j));
                assert!((mi[j] - mj[i]).abs() < 1e-12, "M[{i},{j}] != M[{j},{i}]");
            }
        }
        assert!(pc.memory_bytes() > 0);
    }
}
