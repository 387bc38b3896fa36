//! Interleaved timing of expression backends against native Rust closures, for ratios that are
//! robust on a shared, noisy machine: every round times each variant once, one after the other,
//! and the table reports the median time and the median of the per-round ratios to the native
//! variant.
//!
//! ```text
//! cargo run --release -p femscale-benches --example expr_overhead -- [rounds]
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

/// One benchmark: variants timed in turn each round; the first is the baseline.
struct Table {
    title: String,
    unit: &'static str,
    names: Vec<&'static str>,
    /// `times[v][r]`: seconds per unit of variant `v` in round `r`.
    times: Vec<Vec<f64>>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
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

    fn print(&self) {
        println!("\n{}", self.title);
        println!(
            "| variant | median {} | ratio to {} |",
            self.unit, self.names[0]
        );
        println!("|---|---|---|");
        let scale = if self.unit == "ns/point" { 1e9 } else { 1e3 };
        for (v, name) in self.names.iter().enumerate() {
            let ratios: Vec<f64> = self.times[v]
                .iter()
                .zip(&self.times[0])
                .map(|(t, base)| t / base)
                .collect();
            println!(
                "| {name} | {:.2} | {:.2}× |",
                median(self.times[v].clone()) * scale,
                median(ratios)
            );
        }
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
) {
    const N: usize = 1024;
    let pts = points(N);
    let (jit, bytecode) = (parse(text, true), parse(text, false));
    let ast = jit.ast().clone();
    // How the library calls fields: through `Arc<dyn ScalarField>`.
    let shared: SharedField = FnField::shared(name, native);
    Table::measure(
        format!("{name} `{text}`, one point per call"),
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
    )
    .print();
    let field = FnField::new(name, native);
    let mut out = vec![0.0; N];
    let out = std::cell::RefCell::new(&mut out);
    let batch = |f: &dyn ScalarField| f.eval_batch(black_box(&pts), &mut out.borrow_mut());
    Table::measure(
        format!("{name} `{text}`, batches of {N} points (`eval_batch`)"),
        "ns/point",
        rounds,
        20,
        N,
        vec![
            ("native closure", Box::new(|| batch(&field))),
            ("JIT", Box::new(|| batch(&jit))),
            ("bytecode", Box::new(|| batch(&bytecode))),
        ],
    )
    .print();
}

fn gradients(rounds: usize) {
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
        format!("gradient of `{EXACT}`, batches of {N} points (`gradient_batch`)"),
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
    .print();
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

fn assembly(rounds: usize, parallel: bool) {
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
    let threads = if parallel { "parallel" } else { "serial" };
    Table::measure(
        format!(
            "{threads} P1 assembly, n = {n} (2 097 152 triangles), diffusion `{COEF}`, source `{SOURCE}`"
        ),
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
    .print();
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(15);
    let before = stats();
    per_point("source", SOURCE, source, rounds);
    per_point("coefficient", COEF, coef, rounds);
    per_point("piecewise", PIECEWISE, piecewise, rounds);
    gradients(rounds);
    assembly(rounds, false);
    assembly(rounds, true);
    let s = stats().since(&before);
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
