//! Scaling wired into the pipeline: the adaptive plan of `scaling.level = "auto"`, the memory
//! check that refuses a solve before meshing, `auto` switching to an iterative solver when the
//! factorisation would not fit, memory pooling, and the resource use and counters in the report.
//!
//! The counters and the vector pool are process-wide: every test here takes `SERIAL` so that
//! the differences they check are caused by that test alone.

use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

use femscale_core::{Error, Feature, SolveError, SolverChoice};
use femscale_runtime::{Config, FemSolver, FieldSpec, Laplace2d, Problem, ScalingLevel};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn solver(edit: impl FnOnce(&mut Config)) -> FemSolver {
    let mut c = Config::default();
    edit(&mut c);
    FemSolver::from_config(c).unwrap()
}

/// Records the `phase` of every `fem.phase` span opened on the thread that installed it.
#[derive(Clone, Default)]
struct PhaseProbe(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> Layer<S> for PhaseProbe {
    fn on_new_span(&self, attrs: &span::Attributes<'_>, _: &span::Id, _: Context<'_, S>) {
        struct Phase<'a>(&'a mut Option<String>);
        impl Visit for Phase<'_> {
            fn record_str(&mut self, field: &Field, value: &str) {
                if field.name() == "phase" {
                    *self.0 = Some(value.to_string());
                }
            }
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                if field.name() == "phase" {
                    *self.0 = Some(format!("{value:?}").trim_matches('"').to_string());
                }
            }
        }
        if attrs.metadata().name() == "fem.phase" {
            let mut phase = None;
            attrs.record(&mut Phase(&mut phase));
            self.0
                .lock()
                .unwrap()
                .push(phase.unwrap_or_else(|| "?".into()));
        }
    }
}

/// Runs `f` and returns its result with the pipeline phases it entered, in order.
fn phases_entered<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    let probe = PhaseProbe::default();
    let subscriber = tracing_subscriber::registry().with(probe.clone());
    let out = tracing::subscriber::with_default(subscriber, f);
    let phases = probe.0.lock().unwrap().clone();
    (out, phases)
}

fn poisson(n: usize) -> Problem {
    Laplace2d {
        nx: n,
        ny: n,
        source: Some(FieldSpec::Expr("2*pi^2*sin(pi*x)*sin(pi*y)".into())),
        exact: Some(FieldSpec::Expr("sin(pi*x)*sin(pi*y)".into())),
        ..Default::default()
    }
    .to_problem()
}

#[test]
fn a_solve_that_would_not_fit_is_refused_before_meshing() {
    let _guard = serial();
    // 4097² nodes with a direct solver: the factor alone would take ~10 GB; the limit is 64 MB.
    let s = solver(|c| {
        c.solver.kind = "direct".into();
        c.solver.memory_limit_mb = Some(64.0);
    });
    let (result, phases) = phases_entered(|| s.solve(&poisson(4096)));
    let err = result.unwrap_err();
    match &err {
        Error::Solve(SolveError::MemoryBudget {
            what,
            needed_mb,
            limit_mb,
        }) => {
            assert!(
                what.contains("direct") && what.contains("before meshing"),
                "{what}"
            );
            assert!(*needed_mb > 1000.0 && *limit_mb == 64.0, "{err}");
        }
        other => panic!("expected a memory budget error, got {other:?}"),
    }
    // Refused from the estimate: no phase ran, so nothing of the 16.8 M-node mesh was built.
    assert!(phases.is_empty(), "phases entered: {phases:?}");

    // The same limit lets a small solve through, which does enter the mesh phase on this
    // thread (so the probe above would have seen it; later phases may run on the solve's
    // thread pool).
    let (ok, phases) = phases_entered(|| s.solve(&poisson(16)));
    let ok = ok.unwrap();
    assert!(
        ok.metrics.solver.starts_with("direct"),
        "{}",
        ok.metrics.solver
    );
    assert_eq!(
        phases.first().map(String::as_str),
        Some("mesh"),
        "{phases:?}"
    );
}

#[test]
fn auto_picks_amg_cg_when_the_factorisation_would_not_fit() {
    let _guard = serial();
    for level in [ScalingLevel::Auto, ScalingLevel::Standard] {
        let with_limit = |limit: Option<f64>| {
            solver(|c| {
                c.scaling.level = level;
                c.solver.auto_direct_max_dofs = 1_000_000;
                c.solver.memory_limit_mb = limit;
            })
        };
        // 129² = 16 641 unknowns: the model estimates ~11 MB for a direct solve and ~8 MB for
        // AMG-CG.
        let roomy = with_limit(None).solve(&poisson(128)).unwrap();
        assert!(
            roomy.metrics.solver.starts_with("direct"),
            "{level:?}: {}",
            roomy.metrics.solver
        );
        let tight = with_limit(Some(10.0));
        let decision = tight.optimize_for_problem_size(129 * 129);
        assert_eq!(decision.plan.solver, Some(SolverChoice::AmgCg), "{level:?}");
        assert!(
            decision.plan.rationale().contains("would not fit"),
            "{}",
            decision.plan.rationale()
        );
        let s = tight.solve(&poisson(128)).unwrap();
        assert_eq!(
            (s.metrics.solver.as_str(), s.metrics.preconditioner.as_str()),
            ("cg", "amg"),
            "{level:?}"
        );
        assert!(s.metrics.linear_solve.converged);
        // Same discretisation, solved to the tolerance: the errors agree.
        let (a, b) = (roomy.metrics.l2_error.unwrap(), s.metrics.l2_error.unwrap());
        assert!((a - b).abs() < 1e-3 * a, "{a} vs {b}");
        // An explicit direct solver is not switched: it is refused instead.
        let forced = tight
            .with_overrides(&["solver.kind=direct", "solver.memory_limit_mb=5"])
            .unwrap();
        assert!(matches!(
            forced.solve(&poisson(128)),
            Err(Error::Solve(SolveError::MemoryBudget { .. }))
        ));
    }
}

#[test]
fn auto_says_when_the_method_it_picks_leaves_a_configured_preconditioner_unused() {
    let _guard = serial();
    let small = poisson(16);
    let s = solver(|c| c.solver.preconditioner = "jacobi".into())
        .solve(&small)
        .unwrap();
    assert!(
        s.metrics.solver.starts_with("direct"),
        "{}",
        s.metrics.solver
    );
    assert!(
        s.metrics
            .plan_rationale
            .contains("solver.preconditioner = jacobi unused"),
        "{}",
        s.metrics.plan_rationale
    );
    let plain = solver(|_| {}).solve(&small).unwrap();
    assert!(!plain.metrics.plan_rationale.contains("unused"));
    // Where auto picks CG, the plan says which preconditioner runs instead of the modelled AMG.
    let auto = FemSolver::new();
    let large = auto.optimize_for_problem_size(1_000_000);
    assert!(!large.plan.rationale().contains("as configured, not"));
    let jacobi = auto
        .with_overrides(&["solver.preconditioner=\"jacobi\""])
        .unwrap()
        .optimize_for_problem_size(1_000_000);
    assert_eq!(jacobi.solver, "cg");
    let rationale = jacobi.plan.rationale();
    assert!(
        rationale.contains("cg runs with solver.preconditioner = jacobi as configured, not amg"),
        "{rationale}"
    );
}

#[test]
fn the_auto_level_plans_with_the_adaptive_scaler() {
    let _guard = serial();
    let auto = FemSolver::new();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let small = auto.optimize_for_problem_size(500);
    assert_eq!((small.plan.threads, small.solver.as_str()), (1, "direct"));
    let large = auto.optimize_for_problem_size(1_000_000);
    assert_eq!(large.plan.threads, cores);
    assert_eq!(large.plan.parallel_assembly, cores > 1);
    assert_eq!(
        (large.solver.as_str(), large.preconditioner.as_str()),
        ("cg", "amg")
    );
    assert!(large.plan.estimated_memory_mb.unwrap() > 100.0);
    // Explicit settings win over the plan.
    let capped = auto.with_overrides(&["scaling.threads=1"]).unwrap();
    assert_eq!(capped.optimize_for_problem_size(1_000_000).plan.threads, 1);
    let serial_assembly = auto.with_overrides(&["assembly.parallel=false"]).unwrap();
    assert!(
        !serial_assembly
            .optimize_for_problem_size(1_000_000)
            .plan
            .parallel_assembly
    );
    let s = auto.solve(&poisson(24)).unwrap();
    assert_eq!(s.metrics.threads, 1);
    assert!(!s.metrics.plan_rationale.is_empty());
}

#[test]
fn the_report_has_resource_use_and_the_counters_of_the_solve() {
    let _guard = serial();
    let s = solver(|c| {
        c.scaling.level = ScalingLevel::Standard;
        c.scaling.threads = 2;
        c.scaling.enable_caching = Some(true);
        c.assembly.parallel = Some(true);
        c.solver.kind = "cg".into();
        c.solver.preconditioner = "jacobi".into();
    });
    let first = s.solve(&poisson(48)).unwrap();
    let m = &first.metrics;
    assert!(m.peak_rss_mb.unwrap() > 1.0, "{:?}", m.peak_rss_mb);
    assert!(
        m.mean_cpu_percent.unwrap() > 0.0,
        "{:?}",
        m.mean_cpu_percent
    );
    assert_eq!(m.counters.parallel_assemblies, 1);
    // Lookups of the solution, the operator and the prepared solver: all missed.
    assert_eq!((m.counters.cache_hits, m.counters.cache_misses), (0, 3));
    // Expressions: source and exact solution (and its gradient), unless cached from before.
    assert!(m.counters.expression_compilations <= 3);
    assert!(m.features_used.contains(&Feature::MemoryPooling));

    // Another source on the same operator: operator and prepared solver are reused (the
    // prepared CG keeps its work vectors); the load vector's buffer, returned by the first
    // solve, is the one pool reuse.
    let other = Laplace2d {
        nx: 48,
        ny: 48,
        source: Some(FieldSpec::Constant(1.0)),
        ..Default::default()
    }
    .to_problem();
    let second = s.solve(&other).unwrap();
    let c = &second.metrics.counters;
    assert_eq!((c.cache_hits, c.cache_misses), (2, 1), "{c:?}");
    assert_eq!(c.pool_reuses, 1, "{c:?}");
    assert_eq!(c.pool_bytes_reused, 49 * 49 * 8, "{c:?}");
    // One load-vector assembly, in parallel.
    assert_eq!(c.parallel_assemblies, 1);

    let totals = s.scaling_metrics().counters;
    assert!(totals.cache_hits >= 2 && totals.parallel_assemblies >= 2);
}

#[test]
fn memory_pooling_follows_the_toggle() {
    let _guard = serial();
    let run = |pooling: bool| {
        let s = solver(|c| {
            c.scaling.level = ScalingLevel::Standard;
            c.scaling.enable_caching = Some(false);
            c.scaling.enable_memory_pooling = Some(pooling);
            c.solver.kind = "cg".into();
            c.solver.preconditioner = "jacobi".into();
        });
        s.solve(&poisson(32)).unwrap();
        s.solve(&poisson(32)).unwrap().metrics
    };
    let off = run(false);
    assert_eq!(off.counters.pool_reuses, 0, "{:?}", off.counters);
    assert!(!off.features_used.contains(&Feature::MemoryPooling));
    // The second solve assembles into the load vector and prepares CG's three work vectors
    // again, all four from the buffers the first one returned; the counters are this solve's
    // own (its execution context's), so the count is exact.
    let on = run(true);
    assert_eq!(on.counters.pool_reuses, 4, "{:?}", on.counters);
    assert_eq!(
        on.counters.pool_bytes_reused,
        4 * 33 * 33 * 8,
        "{:?}",
        on.counters
    );
}

/// The metrics of `problem` solved by `s`, checking the solver `auto` chose (and its
/// preconditioner, when given).
fn solved_by(s: &FemSolver, problem: &Problem, expected: &str) -> femscale_core::Metrics {
    let m = s.solve(problem).unwrap().metrics;
    let chosen = format!("{} + {}", m.solver, m.preconditioner);
    assert!(
        chosen == expected || m.solver == expected,
        "{chosen}, expected {expected}: {}",
        m.plan_rationale
    );
    m
}

/// 64² P1 with the reaction `c`: 2π² < 30 < 5π², so `c = -30` gives one negative eigenvalue.
fn with_reaction(c: FieldSpec) -> Problem {
    let mut p = poisson(64);
    p.reaction = Some(c);
    p
}

/// Review T's F4: `auto` gave CG + AMG to `-Δu - 30u = f` above the direct solver's size, and
/// CG broke down on the indefinite operator. A reaction that is negative somewhere now gets
/// GMRES with AMG, which solves it.
#[test]
fn auto_gives_gmres_with_amg_where_a_negative_reaction_may_make_the_operator_indefinite() {
    let _guard = serial();
    let iterative = solver(|c| c.solver.auto_direct_max_dofs = 100);
    let cases = [
        (FieldSpec::Constant(-30.0), "reaction = -30)"),
        // Negative in one corner only: found at a node there.
        (
            FieldSpec::expr("30 - 60*(x > 0.9)*(y > 0.9)"),
            "reaction = -30 at (",
        ),
        // Negative on one column of nodes, which a sample of the nodes could miss.
        (
            FieldSpec::expr("if(abs(x - 37/64) < 0.3/64, -30, 1)"),
            "reaction = -30 at (0.578125, ",
        ),
        // A penalty value of 1e16 does not make a -30 beside it rounding (review W).
        (
            FieldSpec::expr("1e16*(x > 0.99)*(y > 0.99) - 30"),
            "reaction = -30 at (",
        ),
    ];
    for (reaction, said) in cases {
        let m = solved_by(&iterative, &with_reaction(reaction), "gmres + amg");
        assert!(m.linear_solve.converged);
        let why = &m.plan_rationale;
        let told = why.contains("may be indefinite") && why.contains(said);
        assert!(told && !why.contains("amg-cg"), "{why}");
    }
    let reference = solver(|c| c.solver.kind = "direct".into());
    let indefinite = with_reaction(FieldSpec::Constant(-30.0));
    let a = reference
        .solve(&indefinite)
        .unwrap()
        .metrics
        .l2_error
        .unwrap();
    let b = solved_by(&iterative, &indefinite, "gmres")
        .l2_error
        .unwrap();
    assert!((a - b).abs() < 1e-6 * a, "{a} vs {b}");
    solved_by(
        &iterative,
        &with_reaction(FieldSpec::Constant(30.0)),
        "cg + amg",
    );

    // A configured preconditioner is kept, and said; a configured CG is not switched.
    let ilu = solver(|c| {
        c.solver.auto_direct_max_dofs = 100;
        c.solver.preconditioner = "ilu0".into();
    });
    let why = solved_by(&ilu, &indefinite, "gmres + ilu0").plan_rationale;
    let said = "gmres runs with solver.preconditioner = ilu0 as configured, not amg";
    assert!(why.contains(said), "{why}");
    let cg = solver(|c| c.solver.kind = "cg".into());
    match cg.solve(&indefinite) {
        Err(Error::Solve(SolveError::Breakdown { method, .. })) => assert_eq!(method, "cg"),
        other => panic!("expected CG to break down, got {other:?}"),
    }
}

/// A negative Robin `alpha` counts like a negative reaction, on its boundary part only, also
/// beside a reaction that is nowhere negative (review W: that reaction ended the search).
#[test]
fn a_negative_robin_alpha_counts_on_its_boundary_part() {
    let _guard = serial();
    let iterative = solver(|c| c.solver.auto_direct_max_dofs = 100);
    let mut robin = poisson(64);
    robin.boundary = vec![femscale_runtime::BoundarySpec::robin("all", -0.5, 0.0)];
    let why = solved_by(&iterative, &robin, "gmres").plan_rationale;
    assert!(why.contains("boundary[0].alpha = -0.5"), "{why}");
    robin.reaction = Some(FieldSpec::Constant(1.0));
    solved_by(&iterative, &robin, "gmres");
    // Negative only off its part (review V: `2 - 4y` on the bottom, where y = 0).
    let mut bottom = poisson(64);
    bottom.boundary = vec![
        femscale_runtime::BoundarySpec::robin("bottom", FieldSpec::expr("2 - 4*y"), 0.0),
        femscale_runtime::BoundarySpec::dirichlet("left", 0.0),
        femscale_runtime::BoundarySpec::dirichlet("right", 0.0),
        femscale_runtime::BoundarySpec::dirichlet("top", 0.0),
    ];
    solved_by(&iterative, &bottom, "cg");
}

/// A direct solve of an indefinite operator is an LU: priced as one against the limit (review
/// V: the Cholesky estimate let `auto` pick a factor that did not fit), and the check before
/// meshing names the solver that would run.
#[test]
fn an_indefinite_operators_direct_solve_is_priced_as_an_lu() {
    let _guard = serial();
    let limited = solver(|c| c.solver.memory_limit_mb = Some(20.0));
    let mut p = poisson(140);
    p.reaction = Some(FieldSpec::Constant(-30.0));
    let why = solved_by(&limited, &p, "gmres").plan_rationale;
    assert!(
        why.contains("LU factor") && !why.contains("amg-cg"),
        "{why}"
    );
    let tiny = solver(|c| c.solver.memory_limit_mb = Some(1.0));
    match tiny.solve(&p) {
        Err(Error::Solve(SolveError::MemoryBudget { what, .. })) => {
            let named = what.contains("gmres") && what.contains("before meshing");
            assert!(named, "{what}");
        }
        other => panic!("expected a memory budget error, got {other:?}"),
    }
    p.reaction = Some(FieldSpec::Constant(30.0));
    let m = limited.solve(&p).unwrap().metrics;
    assert!(m.solver.starts_with("direct"), "{}", m.solver);
}
