//! Evaluation cost of compiled expressions: single points and batches.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use femscale_core::ScalarField;
use femscale_expr::Expression;

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

criterion_group!(benches, single, batch);
criterion_main!(benches);
