//! Interleaved timing of expression backends against native Rust closures, for ratios that are
//! robust on a shared, noisy machine: every round times each variant once, one after the other,
//! and the tables report the median time and the median of the per-round ratios to the native
//! variant (the two markdown tables of `docs/performance.md`, and the expression statistics).
//!
//! ```text
//! cargo run --release -p femscale-benches --example expr_overhead -- [rounds = 15]
//! ```
//!
//! Per-point costs (one point per call, and batches of 1024 points through `eval_batch`) for
//! three expressions, the gradient of an exact solution, and P1 assembly on the 1024 x 1024
//! unit square (2 097 152 triangles) with a diffusion coefficient and a source given as
//! expressions or as closures.

use std::f64::consts::PI;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use femscale::core::{
    BoundaryCondition, BoundaryKind, Constant, EllipticForm, FnField, LinearSystem, ScalarField,
    SharedField,
};
use femscale::expr::{BackendKind, ExprOptions, Expression, parse_field_with, stats};
use femscale_benches::stats::{median, median_ratio};
use femscale_benches::table::{MarkdownTable, example_command, provenance};
use femscale_benches::{assembler, square_mesh};

const SOURCE: &str = "2*pi^2*sin(pi*x)*sin(pi*y)";
const COEF: &str = "1 + x*x + 2*y*y + x*y";
const PIECEWISE: &str = "if(x < 0.5, 1 + exp(-y), 10*sqrt(1 + x*y))";
const EXACT: &str = "sin(pi*x)*sin(pi*y)";

fn source(p: [f64; 3]) -> f64 {
    2.0 * PI * PI * (PI * p[0]).sin() * (PI * p[1]).sin()
}

fn coef(p: [f64; 3]) -> f64 {
    1.0 + p[0] * p[0] + 2.0 * p[1] * p[1] + p[0] * p[1]
}

fn piecewise(p: [f64; 3]) -> f64 {
    if p[0] < 0.5 {
        1.0 + (-p[1]).exp()
    } else {
        10.0 * (1.0 + p[0] * p[1]).sqrt()
    }
}

/// A named piece of work to time.
type Variant<'a> = (&'static str, Box<dyn FnMut() + 'a>);

/// One benchmark (one row of a printed table): variants timed in turn each round; the first is
/// the baseline.
struct Table {
    title: String,
    unit: &'static str,
    names: Vec<&'static str>,
    /// `times[v][r]`: seconds per unit of variant `v` in round `r`.
    times: Vec<Vec<f64>>,
}

/// A figure with three significant digits or two decimals, whichever is shorter.
fn figure(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

impl Table {
    /// Runs `rounds` rounds; variant `v` performs `units` units of work per call of `run[v]`,
    /// called `reps` times per round.
    fn measure(
        title: String,
        unit: &'static str,
        rounds: usize,
        reps: usize,
        units: usize,
        mut variants: Vec<Variant<'_>>,
    ) -> Table {
        let mut times = vec![Vec::new(); variants.len()];
        for (_, run) in &mut variants {
            run(); // warm-up
        }
        for _ in 0..rounds {
            for (v, (_, run)) in variants.iter_mut().enumerate() {
                let start = Instant::now();
                for _ in 0..reps {
                    run();
                }
                times[v].push(start.elapsed().as_secs_f64() / (reps * units) as f64);
            }
        }
        Table {
            title,
            unit,
            names: variants.iter().map(|(n, _)| *n).collect(),
            times,
        }
    }

    /// The cell of variant `name`: the median (in ns or ms), and for all but the baseline the
    /// median of the per-round ratios to it; `—` for a variant this benchmark does not have.
    fn cell(&self, name: &str) -> String {
        let scale = if self.unit == "ns/point" { 1e9 } else { 1e3 };
        let Some(v) = self.names.iter().position(|n| *n == name) else {
            return "—".into();
        };
        let time = figure(median(&self.times[v]) * scale);
        if v == 0 {
            time
        } else {
            format!(
                "{time} ({:.2}×)",
                median_ratio(&self.times[v], &self.times[0])
            )
        }
    }

    /// A markdown table with one row per benchmark and one column per variant in `columns`.
    fn render(corner: &str, columns: &[&'static str], rows: &[Table]) -> MarkdownTable {
        let mut header = vec![corner];
        header.extend(columns);
        let mut table = MarkdownTable::new(&header);
        for t in rows {
            let mut row = vec![t.title.clone()];
            row.extend(columns.iter().map(|c| t.cell(c)));
            table.row(row);
        }
        table
    }
}

fn parse(text: &str, jit: bool) -> Expression {
    let e = Expression::parse_with(text, &[], ExprOptions::with_jit(jit)).expect("valid");
    let want = if jit {
        BackendKind::Jit
    } else {
        BackendKind::Bytecode
    };
    assert_eq!(e.backend(), want, "{text}");
    e
}

fn points(n: usize) -> Vec<[f64; 3]> {
    (0..n)
        .map(|i| {
            let s = (i as f64 + 0.5) / n as f64;
            [s, (1.0 - s * s).abs(), 0.0]
        })
        .collect()
}

/// Evaluates `f` at every point, one call per point (inlined where the compiler can).
fn single(pts: &[[f64; 3]], f: impl Fn([f64; 3]) -> f64) {
    let mut acc = 0.0;
    for p in pts {
        acc += f(black_box(*p));
    }
    black_box(acc);
}

fn per_point<F: Fn([f64; 3]) -> f64 + Copy + Send + Sync + 'static>(
    name: &str,
    text: &str,
    native: F,
    rounds: usize,
) -> [Table; 2] {
    const N: usize = 1024;
    let pts = points(N);
    let (jit, bytecode) = (parse(text, true), parse(text, false));
    let ast = jit.ast().clone();
    // How the library calls fields: through `Arc<dyn ScalarField>`.
    let shared: SharedField = FnField::shared(name, native);
    let single_calls = Table::measure(
        format!("`{text}`, one point per call"),
        "ns/point",
        rounds,
        20,
        N,
        vec![
            ("native closure", Box::new(|| single(&pts, native))),
            (
                "native closure as `dyn ScalarField`",
                Box::new(|| single(&pts, |p| shared.eval(p))),
            ),
            ("JIT", Box::new(|| single(&pts, |p| jit.eval(p)))),
            ("bytecode", Box::new(|| single(&pts, |p| bytecode.eval(p)))),
            (
                "tree walk",
                Box::new(|| single(&pts, |p| ast.eval([p[0], p[1], p[2], 0.0]))),
            ),
        ],
    );
    let field = FnField::new(name, native);
    let mut out = vec![0.0; N];
    let out = std::cell::RefCell::new(&mut out);
    let batch = |f: &dyn ScalarField| f.eval_batch(black_box(&pts), &mut out.borrow_mut());
    let batches = Table::measure(
        format!("same, `eval_batch` of {N} points"),
        "ns/point",
        rounds,
        20,
        N,
        vec![
            ("native closure", Box::new(|| batch(&field))),
            ("JIT", Box::new(|| batch(&jit))),
            ("bytecode", Box::new(|| batch(&bytecode))),
        ],
    );
    [single_calls, batches]
}

fn gradients(rounds: usize) -> Table {
    const N: usize = 1024;
    let pts = points(N);
    let (jit, bytecode) = (parse(EXACT, true), parse(EXACT, false));
    let native = |p: &[f64; 3]| {
        let (sx, cx) = (PI * p[0]).sin_cos();
        let (sy, cy) = (PI * p[1]).sin_cos();
        [PI * cx * sy, PI * sx * cy, 0.0]
    };
    let mut out = vec![[0.0; 3]; N];
    let out = std::cell::RefCell::new(&mut out);
    Table::measure(
        format!("gradient of `{EXACT}`, `gradient_batch` of {N}"),
        "ns/point",
        rounds,
        20,
        N,
        vec![
            (
                "native closure",
                Box::new(|| {
                    for (o, p) in out.borrow_mut().iter_mut().zip(black_box(&pts)) {
                        *o = native(p);
                    }
                }),
            ),
            (
                "JIT",
                Box::new(|| jit.gradient_batch(black_box(&pts), &mut out.borrow_mut())),
            ),
            (
                "bytecode",
                Box::new(|| bytecode.gradient_batch(black_box(&pts), &mut out.borrow_mut())),
            ),
        ],
    )
}

fn form(diffusion: SharedField, source: SharedField) -> EllipticForm {
    EllipticForm {
        diffusion,
        reaction: None,
        source: Some(source),
        boundary: vec![BoundaryCondition {
            part: "all".into(),
            kind: BoundaryKind::Dirichlet {
                value: Arc::new(Constant(0.0)),
            },
        }],
    }
}

fn assembly(rounds: usize, parallel: bool) -> Table {
    let n = 1024;
    let mesh = square_mesh(n);
    let a = assembler(parallel);
    let pattern = Arc::new(a.pattern(&mesh.view()).expect("pattern"));
    let expr = |field: &str, text: &str, jit: bool| {
        parse_field_with(field, text, &[], ExprOptions::with_jit(jit)).expect("valid")
    };
    let forms = [
        form(FnField::shared(COEF, coef), FnField::shared(SOURCE, source)),
        form(
            expr("problem.diffusion", COEF, true),
            expr("problem.source", SOURCE, true),
        ),
        form(
            expr("problem.diffusion", COEF, false),
            expr("problem.source", SOURCE, false),
        ),
    ];
    let system = std::cell::RefCell::new(LinearSystem::zeros(pattern));
    let run = |f: &EllipticForm| {
        a.assemble_into(&mesh.view(), f, &mut system.borrow_mut())
            .expect("assembly");
    };
    let title = if parallel {
        format!("parallel, {} threads", rayon::current_num_threads())
    } else {
        "serial".to_string()
    };
    Table::measure(
        title,
        "ms",
        rounds,
        1,
        1,
        vec![
            ("native closures", Box::new(|| run(&forms[0]))),
            ("JIT expressions", Box::new(|| run(&forms[1]))),
            ("bytecode expressions", Box::new(|| run(&forms[2]))),
        ],
    )
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(15);
    let before = stats();
    let mut points = Vec::new();
    points.extend(per_point("source", SOURCE, source, rounds));
    points.extend(per_point("coefficient", COEF, coef, rounds));
    points.extend(per_point("piecewise", PIECEWISE, piecewise, rounds));
    points.push(gradients(rounds));
    let assemblies = [assembly(rounds, false), assembly(rounds, true)];
    let s = stats().since(&before);
    println!(
        "{}\n",
        provenance(
            &example_command("expr_overhead"),
            &format!(
                "medians of {rounds} interleaved rounds, ratios the medians of the per-round ratios to the first column"
            )
        )
    );
    print!(
        "{}",
        Table::render(
            "ns per point",
            &[
                "native closure",
                "native closure as `dyn ScalarField`",
                "JIT",
                "bytecode",
                "tree walk"
            ],
            &points
        )
    );
    println!(
        "\nP1 assembly, n = 1024 (2,097,152 triangles), diffusion `{COEF}`, source `{SOURCE}`, median ms:\n"
    );
    print!(
        "{}",
        Table::render(
            "",
            &["native closures", "JIT expressions", "bytecode expressions"],
            &assemblies
        )
    );
    println!(
        "\nexpression stats: {} JIT compilations in {:.1} ms, {} bytecode compilations, {} cache hits, {} misses, {} JIT fallbacks",
        s.jit_compilations,
        s.jit_compile_seconds * 1e3,
        s.bytecode_compilations,
        s.cache_hits,
        s.cache_misses,
        s.jit_fallbacks
    );
}
