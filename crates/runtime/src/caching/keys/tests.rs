//! Which config fields reach which content key, and the versions in every key.

use std::path::PathBuf;

use femscale_mesh::{Diagonal, RectangleCells, RectangleSpec};
use femscale_solvers::{AmgCycle, AmgSmoother};

use super::*;
use crate::caching::WritePolicyConfig;
use crate::problem::{BoundarySpecKind, MeshSpec};
use crate::scaling::ScalingLevel;

/// A rectangle with a parameter, variable diffusion, a reaction, a source, an exact
/// solution, Dirichlet + Neumann + Robin parts, CG + AMG: every key input has a non-default
/// value to change.
const BASE: &str = r#"
    [problem]
    params = { a = 1.5 }
    diffusion = "1 + a*x*y"
    reaction = 0.5
    source = "2*pi^2*sin(pi*x)*sin(pi*y)"
    exact = "sin(pi*x)*sin(pi*y)"
    mesh = { kind = "rectangle", x = [0, 1], y = [0, 2], nx = 8, ny = 6, cell = "triangle", diagonal = "right" }
    boundary = [
        { where = "left", kind = "dirichlet", value = "y" },
        { where = "right", kind = "neumann", value = 0.25 },
        { where = "bottom", kind = "robin", alpha = 2, value = 1 },
        { where = "top", kind = "dirichlet", value = 0 },
    ]
    [solver]
    kind = "cg"
    preconditioner = "amg"
    tolerance = 1e-10
    max_iterations = 500
    [plugins.options.chebyshev-cg]
    degree = 6
"#;

/// Which keys a change must change: each stage's key extends the previous one.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Changes {
    /// The operator: system, prepared and solution.
    All,
    /// The solver set-up: prepared and solution, the operator is reused.
    PreparedAndSolution,
    /// The right-hand side: only the solution.
    Solution,
    /// Cannot change a result: every key is kept (a hit).
    Nothing,
}

type Edit = fn(&mut Config);

fn base() -> Config {
    Config::from_toml_str(BASE).unwrap()
}

fn expr(text: &str) -> FieldSpec {
    FieldSpec::Expr(text.into())
}

fn num(value: f64) -> FieldSpec {
    FieldSpec::Constant(value)
}

/// The base configuration's rectangle.
fn rect(c: &mut Config) -> &mut RectangleSpec {
    match &mut c.problem.mesh {
        MeshSpec::Rectangle(r) => r,
        other => panic!("not a rectangle: {other:?}"),
    }
}

/// A Robin condition's kind.
fn robin(alpha: FieldSpec, value: FieldSpec) -> BoundarySpecKind {
    BoundarySpecKind::Robin { alpha, value }
}

/// The interval of the base configuration's x range and nx.
fn to_interval(c: &mut Config) {
    let r = rect(c).clone();
    c.problem.mesh = MeshSpec::Interval { x: r.x, n: r.nx };
}

/// Sets the data of boundary condition `i` (its value or flux), keeping its kind.
fn set_value(c: &mut Config, i: usize, v: FieldSpec) {
    match &mut c.problem.boundary[i].kind {
        BoundarySpecKind::Dirichlet { value }
        | BoundarySpecKind::Robin { value, .. }
        | BoundarySpecKind::Neumann { flux: value } => *value = v,
        other => panic!("unexpected kind {other:?}"),
    }
}

/// Every config field that can change a result, and the fields that cannot.
fn table() -> Vec<(&'static str, Changes, Edit)> {
    use Changes::*;
    vec![
        // The operator.
        ("problem.params value", All, |c| {
            c.problem.params.insert("a".into(), 2.5);
        }),
        ("problem.params new name", All, |c| {
            c.problem.params.insert("b".into(), 1.0);
        }),
        ("problem.diffusion", All, |c| {
            c.problem.diffusion = expr("1 + a*x")
        }),
        ("problem.diffusion constant", All, |c| {
            c.problem.diffusion = num(1.0)
        }),
        ("problem.reaction value", All, |c| {
            c.problem.reaction = Some(num(0.75))
        }),
        ("problem.reaction removed", All, |c| {
            c.problem.reaction = None
        }),
        ("problem.reaction as expression", All, |c| {
            c.problem.reaction = Some(expr("0.5 + x"))
        }),
        ("robin alpha", All, |c| {
            c.problem.boundary[2].kind = robin(num(3.0), num(1.0))
        }),
        ("robin alpha as expression", All, |c| {
            c.problem.boundary[2].kind = robin(expr("2 + x"), num(1.0))
        }),
        ("assembly.quadrature_degree", All, |c| {
            c.assembly.quadrature_degree += 1
        }),
        ("mesh.diagonal", All, |c| rect(c).diagonal = Diagonal::Left),
        ("mesh.x", All, |c| rect(c).x = [0.0, 2.0]),
        ("mesh.x start", All, |c| rect(c).x = [-1.0, 1.0]),
        ("mesh.y", All, |c| rect(c).y = [0.0, 1.0]),
        ("mesh.nx", All, |c| rect(c).nx = 9),
        ("mesh.ny", All, |c| rect(c).ny = 7),
        ("mesh.nx <-> ny", All, |c| {
            rect(c).nx = 6;
            rect(c).ny = 8;
        }),
        ("mesh.cell", All, |c| {
            rect(c).cells = RectangleCells::Quadrilateral
        }),
        ("mesh.refinements", All, |c| {
            c.problem.mesh = c.problem.mesh.clone().refined(1)
        }),
        (
            "mesh.parts (a predicate's part used by a condition)",
            All,
            |c| {
                c.problem.mesh = (c.problem.mesh.clone())
                    .with_parts([("west", "x < 1e-9")])
                    .unwrap();
                c.problem.boundary[0].part = "west".into();
            },
        ),
        ("mesh.parts (another predicate)", All, |c| {
            c.problem.mesh = (c.problem.mesh.clone())
                .with_parts([("west", "(x < 1e-9) * (y < 0.5)")])
                .unwrap();
            c.problem.boundary[0].part = "west".into();
        }),
        ("mesh.kind", All, |c| {
            to_interval(c);
            c.problem
                .boundary
                .retain(|b| b.part != "bottom" && b.part != "top");
            c.problem.source = Some(expr("pi^2*sin(pi*x)"));
        }),
        ("boundary kind: dirichlet <-> neumann", All, |c| {
            c.problem.boundary[0].kind = BoundarySpecKind::Neumann { flux: expr("y") };
            c.problem.boundary[1].kind = BoundarySpecKind::Dirichlet { value: num(0.25) };
        }),
        ("boundary kind: neumann -> robin", All, |c| {
            c.problem.boundary[1].kind = robin(num(2.0), num(0.25));
        }),
        ("boundary part", All, |c| {
            c.problem.boundary[3].part = "all".into()
        }),
        ("boundary parts swapped", All, |c| {
            c.problem.boundary[0].part = "right".into();
            c.problem.boundary[1].part = "left".into();
        }),
        ("boundary entry removed", All, |c| {
            c.problem.boundary.remove(1);
        }),
        // The element follows the cell type (P1 on triangles, Q1 on quadrilaterals); the
        // same cells with refinements give another discrete space.
        ("element (cell type and refinement)", All, |c| {
            rect(c).cells = RectangleCells::Quadrilateral;
            c.problem.mesh = c.problem.mesh.clone().refined(1);
        }),
        // The solver set-up.
        ("solver.kind", PreparedAndSolution, |c| {
            c.solver.kind = "gmres".into()
        }),
        ("solver.kind plugin", PreparedAndSolution, |c| {
            c.solver.kind = "plugin:chebyshev-cg".into()
        }),
        ("solver.tolerance", PreparedAndSolution, |c| {
            c.solver.tolerance = 1e-9
        }),
        ("solver.absolute_tolerance", PreparedAndSolution, |c| {
            c.solver.absolute_tolerance = 1e-14
        }),
        ("solver.max_iterations", PreparedAndSolution, |c| {
            c.solver.max_iterations = 499
        }),
        ("solver.preconditioner", PreparedAndSolution, |c| {
            c.solver.preconditioner = "jacobi".into()
        }),
        ("solver.preconditioner auto", PreparedAndSolution, |c| {
            c.solver.preconditioner = "auto".into()
        }),
        ("solver.auto_direct_max_dofs", PreparedAndSolution, |c| {
            c.solver.auto_direct_max_dofs = 10
        }),
        ("solver.amg.strength_threshold", PreparedAndSolution, |c| {
            c.solver.amg.strength_threshold = 0.25
        }),
        ("solver.amg.smoother", PreparedAndSolution, |c| {
            c.solver.amg.smoother = AmgSmoother::Jacobi
        }),
        ("solver.amg.cycle", PreparedAndSolution, |c| {
            c.solver.amg.cycle = AmgCycle::V
        }),
        ("solver.amg.sweeps", PreparedAndSolution, |c| {
            c.solver.amg.sweeps += 1
        }),
        ("solver.amg.jacobi_weight", PreparedAndSolution, |c| {
            c.solver.amg.jacobi_weight = 0.5
        }),
        ("solver.amg.chebyshev_degree", PreparedAndSolution, |c| {
            c.solver.amg.chebyshev_degree += 1
        }),
        ("solver.amg.prolongation_weight", PreparedAndSolution, |c| {
            c.solver.amg.prolongation_weight = 1.0
        }),
        ("solver.amg.coarse_size", PreparedAndSolution, |c| {
            c.solver.amg.coarse_size = 10
        }),
        ("solver.amg.max_levels", PreparedAndSolution, |c| {
            c.solver.amg.max_levels = 2
        }),
        ("solver.gmres.restart", PreparedAndSolution, |c| {
            c.solver.gmres.restart = 7
        }),
        ("solver.ssor.omega", PreparedAndSolution, |c| {
            c.solver.ssor.omega = 1.5
        }),
        // Budgets cannot change a converged result, but the whole solver section is
        // keyed: a conservative miss, never a wrong hit.
        (
            "solver.timeout_seconds (conservative)",
            PreparedAndSolution,
            |c| c.solver.timeout_seconds = Some(60.0),
        ),
        ("plugins.options", PreparedAndSolution, |c| {
            c.plugins
                .options
                .insert("chebyshev-cg".into(), serde_json::json!({ "degree": 7 }));
        }),
        ("plugins.options new component", PreparedAndSolution, |c| {
            c.plugins
                .options
                .insert("other".into(), serde_json::json!({ "x": 1 }));
        }),
        ("plugins.paths", PreparedAndSolution, |c| {
            c.plugins.paths.push(PathBuf::from("libother.so"))
        }),
        ("solver.direct.method", PreparedAndSolution, |c| {
            c.solver.direct.method = femscale_solvers::DirectMethod::Lu
        }),
        // Budgets, the plugin loading policy and the assembler choice cannot change a
        // converged result beyond round-off, but their whole sections are keyed: a
        // conservative miss, never a wrong hit. (The table records it; narrowing the keys
        // means moving these rows to `Nothing`.)
        (
            "solver.memory_limit_mb (conservative)",
            PreparedAndSolution,
            |c| c.solver.memory_limit_mb = Some(512.0),
        ),
        (
            "plugins.isolation (conservative)",
            PreparedAndSolution,
            |c| c.plugins.isolation = crate::plugins::Isolation::Process,
        ),
        (
            "plugins.require_pinned (conservative)",
            PreparedAndSolution,
            |c| c.plugins.require_pinned = true,
        ),
        (
            "plugins.host_executable (conservative)",
            PreparedAndSolution,
            |c| c.plugins.host_executable = Some("/usr/bin/femscale".into()),
        ),
        ("assembly.parallel (conservative)", All, |c| {
            c.assembly.parallel = Some(true)
        }),
        (
            "assembly.parallel_threshold_cells (conservative)",
            All,
            |c| c.assembly.parallel_threshold_cells = 10,
        ),
        // The right-hand side.
        ("problem.source", Solution, |c| {
            c.problem.source = Some(expr("1 + x"))
        }),
        ("problem.source removed", Solution, |c| {
            c.problem.source = None
        }),
        ("problem.exact", Solution, |c| {
            c.problem.exact = Some(expr("x*y"))
        }),
        ("problem.exact removed", Solution, |c| {
            c.problem.exact = None
        }),
        ("dirichlet value", Solution, |c| {
            set_value(c, 0, expr("2*y"))
        }),
        ("dirichlet constant value", Solution, |c| {
            set_value(c, 3, num(3.0))
        }),
        ("neumann value", Solution, |c| set_value(c, 1, num(0.5))),
        ("robin value", Solution, |c| set_value(c, 2, expr("1 + x"))),
        // Cannot change a result.
        ("cache.disk_dir", Nothing, |c| {
            c.cache.disk_dir = "/elsewhere".into()
        }),
        ("cache.memory_mb", Nothing, |c| c.cache.memory_mb = 7.0),
        ("cache.disk_max_mb", Nothing, |c| c.cache.disk_max_mb = 7.0),
        ("cache.ttl_seconds", Nothing, |c| {
            c.cache.ttl_seconds = Some(5.0)
        }),
        ("cache.levels", Nothing, |c| {
            c.cache.levels = vec!["memory".into(), "disk".into()]
        }),
        ("cache.redis_url", Nothing, |c| {
            c.cache.redis_url = "redis://127.0.0.1:1/".into()
        }),
        ("cache.redis_prefix", Nothing, |c| {
            c.cache.redis_prefix = "other".into()
        }),
        ("cache.write_policy", Nothing, |c| {
            c.cache.write_policy = match c.cache.write_policy {
                WritePolicyConfig::All => WritePolicyConfig::First,
                WritePolicyConfig::First => WritePolicyConfig::All,
            }
        }),
        ("cache.redis_timeout_seconds", Nothing, |c| {
            c.cache.redis_timeout_seconds = 9.0
        }),
        // Threads, JIT and parallel kernels change at most the last bits of a result
        // within the solver tolerance. Adaptive solves (`enable_adaptive_mesh`,
        // `[adaptivity]`) bypass the cache: no key covers them, and
        // `tests/adaptivity.rs` checks that an adaptive solve is never served a stored one.
        ("scaling.level", Nothing, |c| {
            c.scaling.level = ScalingLevel::Minimal
        }),
        ("scaling.threads", Nothing, |c| c.scaling.threads = 3),
        ("scaling.enable_jit", Nothing, |c| {
            c.scaling.enable_jit = Some(false)
        }),
        ("scaling.enable_parallel", Nothing, |c| {
            c.scaling.enable_parallel = Some(false)
        }),
        ("scaling.enable_caching", Nothing, |c| {
            c.scaling.enable_caching = Some(false)
        }),
        ("scaling.enable_adaptive_mesh", Nothing, |c| {
            c.scaling.enable_adaptive_mesh = Some(true)
        }),
        ("adaptivity.enabled (bypasses the cache)", Nothing, |c| {
            c.adaptivity.enabled = true
        }),
        ("scaling.enable_autoscaling", Nothing, |c| {
            c.scaling.enable_autoscaling = Some(false)
        }),
        ("scaling.enable_memory_pooling", Nothing, |c| {
            c.scaling.enable_memory_pooling = Some(false)
        }),
        ("problem.dim given", Nothing, |c| c.problem.dim = Some(2)),
        // The same number spelled as a string is the same constant.
    ]
}

#[test]
fn every_field_that_can_change_a_result_changes_exactly_the_keys_of_its_stage() {
    let registry = Registry::with_builtins();
    let before = keys(&base(), &registry);
    let mut failures = Vec::new();
    for (name, expected, edit) in table() {
        let mut config = base();
        edit(&mut config);
        if config == base() {
            failures.push(format!("{name}: the edit changes nothing"));
            continue;
        }
        let after = keys(&config, &registry);
        let changed = (
            before.system != after.system,
            before.prepared != after.prepared,
            before.solution != after.solution,
        );
        let actual = match changed {
            (true, true, true) => Changes::All,
            (false, true, true) => Changes::PreparedAndSolution,
            (false, false, true) => Changes::Solution,
            (false, false, false) => Changes::Nothing,
            _ => {
                failures.push(format!("{name}: inconsistent stages {changed:?}"));
                continue;
            }
        };
        if actual != expected {
            failures.push(format!("{name}: expected {expected:?}, got {actual:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn interval_mesh_fields_change_the_operator_key() {
    let interval = |edit: Edit| {
        let mut c = base();
        to_interval(&mut c);
        c.problem
            .boundary
            .retain(|b| b.part == "left" || b.part == "right");
        edit(&mut c);
        keys(&c, &Registry::with_builtins())
    };
    let base = interval(|_| {});
    let edits: [(&str, Edit); 5] = [
        ("x", |c| {
            c.problem.mesh = MeshSpec::Interval {
                x: [0.0, 2.0],
                n: 8,
            }
        }),
        ("nx", |c| {
            c.problem.mesh = MeshSpec::Interval {
                x: [0.0, 1.0],
                n: 9,
            }
        }),
        ("nodes", |c| {
            c.problem.mesh = MeshSpec::IntervalNodes(vec![0.0, 0.3, 1.0])
        }),
        ("refinements", |c| {
            c.problem.mesh = c.problem.mesh.clone().refined(2)
        }),
        ("robin alpha (left)", |c| {
            c.problem.boundary[0].kind = robin(num(1.0), expr("y"));
        }),
    ];
    for (name, edit) in edits {
        let k = interval(edit);
        assert_ne!(k.system, base.system, "interval {name}");
        assert_ne!(k.solution, base.solution, "interval {name}");
    }
    // Nodes differing in one bit are another mesh.
    let a = interval(|c| c.problem.mesh = MeshSpec::IntervalNodes(vec![0.0, 0.3, 1.0]));
    let b = interval(|c| {
        let nodes = vec![0.0, f64::from_bits(0.3f64.to_bits() + 1), 1.0];
        c.problem.mesh = MeshSpec::IntervalNodes(nodes)
    });
    assert_ne!(a.system, b.system);
}

#[test]
fn keys_are_stable_and_include_the_femscale_discretisation_and_format_versions() {
    let config = base();
    let registry = Registry::with_builtins();
    let problem = config.problem.clone();
    let at = |versions: Versions<'_>| {
        keys_of_versions(&problem, &config, "cg", &registry, versions).unwrap()
    };
    let today = keys(&config, &registry);
    let current = Versions::CURRENT;
    assert_eq!(
        (
            current.femscale,
            current.build,
            current.discretisation,
            current.format
        ),
        (
            FEMSCALE_VERSION,
            crate::BUILD_ID,
            femscale_assembly::DISCRETISATION_VERSION,
            FORMAT_VERSION
        )
    );
    let same = at(current);
    assert_eq!(
        (&today.system, &today.prepared, &today.solution),
        (&same.system, &same.prepared, &same.solution),
        "problem_keys is this femscale, discretisation and format version"
    );
    // An entry written by code of any other version must miss: every stage's key changes.
    for (what, other) in [
        (
            "another femscale version",
            Versions {
                femscale: "0.0.0-other",
                ..current
            },
        ),
        (
            "another build (the same version numbers, other code)",
            Versions {
                build: "0123456789abcdef",
                ..current
            },
        ),
        (
            "an older discretisation version",
            Versions {
                discretisation: current.discretisation.wrapping_sub(1),
                ..current
            },
        ),
        (
            "a newer discretisation version",
            Versions {
                discretisation: current.discretisation + 1,
                ..current
            },
        ),
        (
            "another format version",
            Versions {
                format: current.format + 1,
                ..current
            },
        ),
    ] {
        let other = at(other);
        assert_ne!(today.system, other.system, "{what}: operator key");
        assert_ne!(today.prepared, other.prepared, "{what}: prepared key");
        assert_ne!(today.solution, other.solution, "{what}: solution key");
    }
    // The version fields are separated: the discretisation version is not a suffix of the
    // femscale version string.
    let shifted = at(Versions {
        femscale: &format!("{FEMSCALE_VERSION}1"),
        discretisation: current.discretisation / 10,
        ..current
    });
    assert_ne!(today.solution, shifted.solution);
    // The stage is in the kind, for readable keys and `solution_*` patterns.
    assert_eq!(
        (
            today.system.kind.as_str(),
            today.prepared.kind.as_str(),
            today.solution.kind.as_str()
        ),
        ("system", "prepared", "solution")
    );
}

#[test]
fn closure_fields_are_not_hashable_and_give_no_keys() {
    let config = base();
    let mut problem = config.problem.clone();
    problem.source = Some(FieldSpec::Field(std::sync::Arc::new(
        femscale_core::Constant(1.0),
    )));
    assert!(problem_keys(&problem, &config, "cg", &Registry::with_builtins()).is_none());
}

fn keys(config: &Config, registry: &Registry) -> ProblemKeys {
    let problem = config.problem.clone();
    problem_keys(&problem, config, &config.solver.kind, registry).unwrap()
}

#[test]
fn the_plugin_librarys_identity_is_part_of_the_prepared_and_solution_keys() {
    let mut config = Config::default();
    config.solver.kind = "plugin:foo".into();
    let mut old = Registry::with_builtins();
    old.set_plugin_identity("plugin:foo", "foo 1.0.0 sha256:aa".into());
    let mut rebuilt = Registry::with_builtins();
    rebuilt.set_plugin_identity("plugin:foo", "foo 1.0.0 sha256:bb".into());
    let (a, b) = (keys(&config, &old), keys(&config, &rebuilt));
    assert_eq!(
        a.system, b.system,
        "the operator does not depend on the solver"
    );
    assert_ne!(a.prepared, b.prepared);
    assert_ne!(a.solution, b.solution);
    assert_eq!(keys(&config, &old).solution, a.solution, "stable");

    // A plugin preconditioner counts as well; unrelated plugins do not.
    config.solver.kind = "cg".into();
    config.solver.preconditioner = "plugin:pc".into();
    let mut with_pc = Registry::with_builtins();
    with_pc.set_plugin_identity("plugin:pc", "pc 2.0.0 sha256:cc".into());
    with_pc.set_plugin_identity("plugin:other", "other 1.0.0 sha256:dd".into());
    let mut other_changed = Registry::with_builtins();
    other_changed.set_plugin_identity("plugin:pc", "pc 2.0.0 sha256:cc".into());
    other_changed.set_plugin_identity("plugin:other", "other 1.0.0 sha256:ee".into());
    assert_eq!(
        keys(&config, &with_pc).solution,
        keys(&config, &other_changed).solution
    );
    let mut pc_changed = Registry::with_builtins();
    pc_changed.set_plugin_identity("plugin:pc", "pc 2.0.1 sha256:cc".into());
    assert_ne!(
        keys(&config, &with_pc).solution,
        keys(&config, &pc_changed).solution
    );
}
