//! Config expressions: evaluation cost per point for the reference tree walker (interpreter
//! style), the bytecode fallback and the cranelift JIT against a native Rust closure, compile
//! times, and 2D P1 assembly at n = 1024 with expression coefficients against the same
//! assembly with native closures. `docs/performance.md` ("Expressions") holds the results.
// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::f64::consts::PI;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use femscale::core::{
    BoundaryCondition, BoundaryKind, Constant, EllipticForm, FnField, LinearSystem, ScalarField,
    SharedField,
};
use femscale::expr::{BackendKind, ExprOptions, Expression, parse_field_with};
use femscale_benches::{assembler, square_mesh};

/// The manufactured source of the 2D benchmark problem.
const SOURCE: &str = "2*pi^2*sin(pi*x)*sin(pi*y)";
/// A polynomial diffusion coefficient.
const COEF: &str = "1 + x*x + 2*y*y + x*y";
/// A piecewise coefficient (two materials) with a transcendental part.
const PIECEWISE: &str = "if(x < 0.5, 1 + exp(-y), 10*sqrt(1 + x*y))";

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

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// Runs `bench(group, name, text, native)` for every case; `native` is a distinct function
/// item each time, so the native baseline is inlined like a closure.
macro_rules! for_each_case {
    ($g:expr, $bench:ident) => {
        $bench($g, "source", SOURCE, source);
        $bench($g, "coef", COEF, coef);
        $bench($g, "piecewise", PIECEWISE, piecewise);
    };
}

fn points(n: usize) -> Vec<[f64; 3]> {
    (0..n)
        .map(|i| {
            let s = (i as f64 + 0.5) / n as f64;
            [s, (1.0 - s * s).abs(), 0.0]
        })
        .collect()
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

/// One point per call: what boundary conditions and `ScalarField::eval` pay.
fn bench_single(c: &mut Criterion) {
    let mut g = c.benchmark_group("expr_single");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    fn case(
        g: &mut Group<'_>,
        name: &str,
        text: &str,
        native: impl Fn([f64; 3]) -> f64 + Send + Sync,
    ) {
        let p = [0.3, 0.7, 0.0];
        let (jit, bytecode) = (parse(text, true), parse(text, false));
        assert_eq!(jit.eval(p).to_bits(), bytecode.eval(p).to_bits());
        assert!((jit.eval(p) - native(p)).abs() <= 1e-12 * native(p).abs());
        let ast = jit.ast().clone();
        g.bench_function(BenchmarkId::new("native", name), |b| {
            b.iter(|| native(black_box(p)))
        });
        g.bench_function(BenchmarkId::new("jit", name), |b| {
            b.iter(|| jit.eval(black_box(p)))
        });
        g.bench_function(BenchmarkId::new("bytecode", name), |b| {
            b.iter(|| bytecode.eval(black_box(p)))
        });
        g.bench_function(BenchmarkId::new("tree-walk", name), |b| {
            b.iter(|| ast.eval(black_box([p[0], p[1], p[2], 0.0])))
        });
    }
    for_each_case!(&mut g, case);
    g.finish();
}

/// 1024 points per call: what assembly pays (`eval_batch` over a block of cells).
fn bench_batch(c: &mut Criterion) {
    const N: usize = 1024;
    let mut g = c.benchmark_group("expr_batch");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(N as u64));
    fn case(
        g: &mut Group<'_>,
        name: &str,
        text: &str,
        native: impl Fn([f64; 3]) -> f64 + Send + Sync,
    ) {
        let pts = points(N);
        let mut out = vec![0.0; N];
        let (jit, bytecode) = (parse(text, true), parse(text, false));
        let ast = jit.ast().clone();
        // The native baseline as assembly sees it: a closure behind `ScalarField::eval_batch`.
        let field = FnField::new(name, native);
        g.bench_function(BenchmarkId::new("native", name), |b| {
            b.iter(|| field.eval_batch(black_box(&pts), &mut out))
        });
        g.bench_function(BenchmarkId::new("jit", name), |b| {
            b.iter(|| jit.eval_batch(black_box(&pts), &mut out))
        });
        g.bench_function(BenchmarkId::new("bytecode", name), |b| {
            b.iter(|| bytecode.eval_batch(black_box(&pts), &mut out))
        });
        g.bench_function(BenchmarkId::new("tree-walk", name), |b| {
            b.iter(|| {
                for (o, p) in out.iter_mut().zip(black_box(&pts)) {
                    *o = ast.eval([p[0], p[1], p[2], 0.0]);
                }
            })
        });
    }
    for_each_case!(&mut g, case);
    let pts = points(N);
    // Gradients of an exact solution (H1 errors): three derivatives per point.
    let exact = "sin(pi*x)*sin(pi*y)";
    let mut grads = vec![[0.0; 3]; N];
    for jit in [true, false] {
        let e = parse(exact, jit);
        let variant = if jit { "jit" } else { "bytecode" };
        g.bench_function(BenchmarkId::new(variant, "exact-gradient"), |b| {
            b.iter(|| e.gradient_batch(black_box(&pts), &mut grads))
        });
    }
    let native_grad = |p: &[f64; 3]| {
        let (sx, cx) = (PI * p[0]).sin_cos();
        let (sy, cy) = (PI * p[1]).sin_cos();
        [PI * cx * sy, PI * sx * cy, 0.0]
    };
    g.bench_function(BenchmarkId::new("native", "exact-gradient"), |b| {
        b.iter(|| {
            for (o, p) in grads.iter_mut().zip(black_box(&pts)) {
                *o = native_grad(p);
            }
        })
    });
    g.finish();
}

/// Parse + compile, bypassing the compile cache.
fn bench_compile(c: &mut Criterion) {
    let mut g = c.benchmark_group("expr_compile");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for jit in [true, false] {
        let variant = if jit { "jit" } else { "bytecode" };
        let ast = parse(SOURCE, false).ast().clone();
        g.bench_function(BenchmarkId::new(variant, "source"), |b| {
            b.iter(|| {
                Expression::from_ast_with(ast.clone(), SOURCE, ExprOptions::with_jit(jit))
                    .expect("valid")
            })
        });
    }
    g.bench_function("cache-hit/source", |b| {
        b.iter(|| Expression::parse_with(black_box(SOURCE), &[], ExprOptions::with_jit(true)))
    });
    g.finish();
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

/// Assembly values at n = 1024 (2 097 152 triangles) with a non-constant diffusion coefficient
/// and source given as native closures, JIT-compiled expressions and bytecode.
fn bench_assembly(c: &mut Criterion) {
    let mut g = c.benchmark_group("expr_assembly");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6));
    let n = 1024;
    let mesh = square_mesh(n);
    let expr = |field: &str, text: &str, jit: bool| {
        parse_field_with(field, text, &[], ExprOptions::with_jit(jit)).expect("valid")
    };
    let variants: [(&str, EllipticForm); 3] = [
        (
            "native",
            form(FnField::shared(COEF, coef), FnField::shared(SOURCE, source)),
        ),
        (
            "jit",
            form(
                expr("problem.diffusion", COEF, true),
                expr("problem.source", SOURCE, true),
            ),
        ),
        (
            "bytecode",
            form(
                expr("problem.diffusion", COEF, false),
                expr("problem.source", SOURCE, false),
            ),
        ),
    ];
    for parallel in [false, true] {
        let a = assembler(parallel);
        let pattern = Arc::new(a.pattern(&mesh.view()).expect("pattern"));
        let mut system = LinearSystem::zeros(pattern);
        let threads = if parallel { "parallel" } else { "serial" };
        for (name, form) in &variants {
            g.bench_with_input(
                BenchmarkId::new(format!("{threads}/{name}"), n),
                &n,
                |b, _| {
                    b.iter(|| {
                        a.assemble_into(&mesh.view(), form, black_box(&mut system))
                            .expect("assembly")
                    })
                },
            );
        }
    }
    g.finish();
}

criterion_group!(
    benches,
    bench_single,
    bench_batch,
    bench_compile,
    bench_assembly
);
criterion_main!(benches);
