//! Evaluation cost of compiled expressions: single points and batches.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use femscale_core::ScalarField;
use femscale_expr::bytecode::Program;
use femscale_expr::{ExprOptions, Expression, Var};

const SOURCE: &str = "2*pi^2*sin(pi*x)*sin(pi*y)";
const POLY: &str = "1 + x*x + 2*y*y + x*y";

fn points(n: usize) -> Vec<[f64; 3]> {
    (0..n)
        .map(|i| {
            let s = i as f64 / n as f64;
            [s, 1.0 - s * s, 0.0]
        })
        .collect()
}

fn single(c: &mut Criterion) {
    let mut g = c.benchmark_group("single");
    for text in [SOURCE, POLY] {
        let e = Expression::parse(text).expect("valid expression");
        g.bench_function(format!("bytecode {text}"), |b| {
            b.iter(|| e.eval(black_box([0.3, 0.7, 0.0])))
        });
        let ast = e.ast().clone();
        g.bench_function(format!("tree walk {text}"), |b| {
            b.iter(|| ast.eval(black_box([0.3, 0.7, 0.0, 0.0])))
        });
    }
    let pi = std::f64::consts::PI;
    g.bench_function(format!("native Rust {SOURCE}"), |b| {
        b.iter(|| {
            let p = black_box([0.3f64, 0.7, 0.0]);
            2.0 * pi * pi * (pi * p[0]).sin() * (pi * p[1]).sin()
        })
    });
    g.finish();
}

fn batch(c: &mut Criterion) {
    let mut g = c.benchmark_group("batch");
    for n in [7, 1024] {
        let pts = points(n);
        let mut out = vec![0.0; n];
        g.throughput(Throughput::Elements(n as u64));
        for text in [SOURCE, POLY] {
            let e = Expression::parse(text).expect("valid expression");
            g.bench_function(format!("eval_batch n={n} {text}"), |b| {
                b.iter(|| e.eval_batch(black_box(&pts), &mut out))
            });
            g.bench_function(format!("eval loop n={n} {text}"), |b| {
                b.iter(|| {
                    for (o, p) in out.iter_mut().zip(black_box(&pts)) {
                        *o = e.eval(*p);
                    }
                })
            });
        }
    }
    g.finish();
}

/// The exact solution: a product of 395 factors `(1+0.001*x)*(1+0.002*x)*...`.
fn product(n: usize) -> String {
    (1..=n)
        .map(|k| format!("(1+{}*x)", k as f64 * 0.001))
        .collect::<Vec<_>>()
        .join("*")
}

/// Gradient of a long product: the shared graph (now) against the tree derivative compiled
/// per component (before), derivation plus compilation and 1024-point batches.
fn gradient_product(c: &mut Criterion) {
    let mut g = c.benchmark_group("gradient_product");
    g.sample_size(10);
    let text = product(395);
    let e = Expression::parse(&text).expect("valid expression");
    let ast = e.ast().clone();
    g.bench_function("derive+compile graph n=395", |b| {
        b.iter(|| {
            let fresh = Expression::from_ast(ast.clone(), "p").expect("compiles");
            fresh.prepare_gradient().expect("within the limit");
            fresh
        })
    });
    g.bench_function("derive+compile tree n=395", |b| {
        b.iter(|| {
            [Var::X, Var::Y, Var::Z]
                .map(|v| Program::compile(&ast.derivative(v)).expect("compiles"))
        })
    });
    let pts = points(1024);
    let mut grads = vec![[0.0; 3]; pts.len()];
    e.prepare_gradient().expect("within the limit");
    g.throughput(Throughput::Elements(pts.len() as u64));
    g.bench_function("gradient_batch graph n=395 1024 points", |b| {
        b.iter(|| e.gradient_batch(black_box(&pts), &mut grads))
    });
    let tree = [Program::compile(&ast.derivative(Var::X)).expect("compiles")];
    let mut column = vec![0.0; pts.len()];
    g.bench_function("gradient_batch tree n=395 1024 points", |b| {
        b.iter(|| {
            // d/dy and d/dz are the constant 0: only d/dx costs anything.
            for p in &tree {
                p.eval_batch(black_box(&pts), &mut column);
            }
        })
    });
    g.finish();
}

/// An exact solution's values and gradients at quadrature points, as the error norms need
/// them: evaluated apart (two kernels) and together (one four-output kernel).
fn value_and_gradient(c: &mut Criterion) {
    let mut g = c.benchmark_group("value_and_gradient");
    let e = Expression::parse_with("sin(pi*x)*sin(pi*y)", &[], ExprOptions::with_jit(true))
        .expect("valid expression");
    let pts = points(4096);
    let (mut values, mut grads) = (vec![0.0; pts.len()], vec![[0.0; 3]; pts.len()]);
    e.value_and_gradient_batch(&pts, &mut values, &mut grads);
    g.throughput(Throughput::Elements(pts.len() as u64));
    g.bench_function("apart sin(pi*x)*sin(pi*y) 4096 points", |b| {
        b.iter(|| {
            e.eval_batch(black_box(&pts), &mut values);
            e.gradient_batch(black_box(&pts), &mut grads);
        })
    });
    g.bench_function("together sin(pi*x)*sin(pi*y) 4096 points", |b| {
        b.iter(|| e.value_and_gradient_batch(black_box(&pts), &mut values, &mut grads))
    });
    g.finish();
}

/// `sin` and `cos` of 4096 arguments in [-1, 9.3]: the C library's once per value (what
/// compiled code calling a function per point pays) against femscale's vectorised slices.
fn trig(c: &mut Criterion) {
    use femscale_expr::trig;
    let mut g = c.benchmark_group("trig");
    let x: Vec<f64> = (0..4096).map(|i| f64::from(i) * 0.0025 - 1.0).collect();
    let (mut s, mut co) = (vec![0.0; x.len()], vec![0.0; x.len()]);
    g.throughput(Throughput::Elements(x.len() as u64));
    g.bench_function("C library sin, 4096 values", |b| {
        b.iter(|| {
            for (o, v) in s.iter_mut().zip(black_box(&x)) {
                *o = v.sin();
            }
        })
    });
    g.bench_function("trig::sin_slice, 4096 values", |b| {
        b.iter(|| trig::sin_slice(black_box(&x), &mut s))
    });
    g.bench_function("C library sin and cos, 4096 values", |b| {
        b.iter(|| {
            for ((o, p), v) in s.iter_mut().zip(co.iter_mut()).zip(black_box(&x)) {
                (*o, *p) = (v.sin(), v.cos());
            }
        })
    });
    g.bench_function("trig::sin_cos_slice, 4096 values", |b| {
        b.iter(|| trig::sin_cos_slice(black_box(&x), &mut s, &mut co))
    });
    g.finish();
}

criterion_group!(
    benches,
    single,
    batch,
    gradient_product,
    value_and_gradient,
    trig
);
criterion_main!(benches);
