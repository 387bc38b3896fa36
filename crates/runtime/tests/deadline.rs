//! `solver.timeout_seconds` covers every phase of a solve: a slow post-processing step (error
//! norms against an expensive exact solution) ends in a typed timeout naming the phase, and
//! the issue's 395-factor exact solution is fast now that derivatives share subexpressions.

use std::sync::Arc;
use std::time::{Duration, Instant};

use femscale_core::{Error, ScalarField};
use femscale_mesh::RectangleSpec;
use femscale_runtime::{BoundarySpec, Config, FemSolver, FieldSpec, MeshSpec, Problem};

/// `u = 0` whose gradient takes `delay` per batch: the post phase, and only it, is slow.
#[derive(Debug)]
struct SlowGradient {
    delay: Duration,
}

impl ScalarField for SlowGradient {
    fn eval(&self, _: [f64; 3]) -> f64 {
        0.0
    }

    fn gradient_batch(&self, points: &[[f64; 3]], out: &mut [[f64; 3]]) {
        assert_eq!(points.len(), out.len());
        std::thread::sleep(self.delay);
        out.fill([0.0; 3]);
    }
}

fn square(n: usize) -> Problem {
    let mut p = Problem::new(MeshSpec::Rectangle(RectangleSpec {
        nx: n,
        ny: n,
        ..Default::default()
    }));
    p.source = Some(FieldSpec::constant(1.0));
    p.boundary = vec![BoundarySpec::dirichlet("all", 0.0)];
    p
}

fn solver(timeout_seconds: Option<f64>) -> FemSolver {
    let mut config = Config::default();
    config.solver.timeout_seconds = timeout_seconds;
    config.solver.kind = "cg".into();
    FemSolver::from_config(config).unwrap_or_else(|e| panic!("{e}"))
}

/// `(1+0.001*x)*(1+0.002*x)*...` with `n` factors.
fn product(n: usize) -> String {
    (1..=n)
        .map(|k| format!("(1+{}*x)", k as f64 * 0.001))
        .collect::<Vec<_>>()
        .join("*")
}

#[test]
fn slow_error_norms_time_out_in_the_post_phase() {
    let mut problem = square(4);
    problem.exact = Some(FieldSpec::Field(Arc::new(SlowGradient {
        delay: Duration::from_millis(1500),
    })));
    // The first batch of gradients alone outlasts the 1 s budget, which leaves the phases
    // before it (a 4x4 solve: milliseconds) a wide margin on a loaded machine.
    let started = Instant::now();
    let err = solver(Some(1.0))
        .solve(&problem)
        .err()
        .unwrap_or_else(|| panic!("a 1.5 s post phase fit in a 1 s budget"));
    match &err {
        Error::Timeout {
            phase,
            elapsed_seconds,
            limit_seconds,
        } => {
            assert_eq!(phase, "post", "{err}");
            assert_eq!(*limit_seconds, 1.0);
            assert!(*elapsed_seconds > 1.0, "{err}");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(err.field_name().as_deref(), Some("solver.timeout_seconds"));
    let text = err.to_string();
    assert!(
        text.contains("`post` phase") && text.contains("solver.timeout_seconds"),
        "{text}"
    );
    // A hang guard: the error comes after one slow batch, not after every batch (minutes).
    assert!(started.elapsed() < Duration::from_secs(60));
    // Without a budget the same solve completes.
    let ok = solver(None)
        .solve(&problem)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        ok.metrics
            .h1_error
            .is_some_and(|e| e.is_finite() && e > 0.0)
    );
}

#[test]
fn a_tiny_budget_stops_the_issue_case_with_a_typed_timeout() {
    let mut problem = square(256);
    problem.exact = Some(FieldSpec::expr(product(395)));
    let started = Instant::now();
    let err = solver(Some(0.001))
        .solve(&problem)
        .err()
        .unwrap_or_else(|| panic!("a 256x256 solve fit in a millisecond"));
    let Error::Timeout { phase, .. } = &err else {
        panic!("expected a timeout, got {err:?}");
    };
    let phases = [
        "mesh",
        "pattern",
        "assembly",
        "boundary_conditions",
        "setup",
        "solve",
        "post",
    ];
    assert!(phases.contains(&phase.as_str()), "{err}");
    assert!(started.elapsed() < Duration::from_secs(120));
}

#[test]
fn the_issue_case_completes_with_finite_errors() {
    // 395 factors: the gradient used to be a tree of ~235 000 nodes; it is a graph of a few
    // thousand now (node counts are asserted in femscale-expr's tests/graph.rs).
    let mut problem = square(16);
    problem.exact = Some(FieldSpec::expr(product(395)));
    let s = solver(Some(600.0))
        .solve(&problem)
        .unwrap_or_else(|e| panic!("{e}"));
    let h1 = s.metrics.h1_error.unwrap_or(f64::NAN);
    assert!(h1.is_finite() && h1 > 0.0, "{h1}");
}
