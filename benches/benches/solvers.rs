//! Linear solvers on the 2D P1 Poisson benchmark matrix: SpMV against the memory-bandwidth
//! bound of a plain copy of the same bytes, and set-up + solve of the direct solver and of
//! AMG-preconditioned CG, plus a second right-hand side on a prepared solver; the solution check
//! (`verify_solution`) against the serial SpMV.
// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use femscale::core::{CsrMatrix, NoMonitor, SolverOptions};
use femscale::runtime::Registry;
use femscale::solvers::{MethodOptions, kernels};
use femscale_benches::pipeline_until_solve;

fn system(n: usize) -> (Arc<CsrMatrix>, Vec<f64>) {
    let s = pipeline_until_solve(n, true).expect("benchmark problem assembles");
    (Arc::new(s.matrix), s.rhs)
}

/// Bytes one CSR SpMV must move at least: values, column indices, row pointers, x and y.
fn spmv_bytes(a: &CsrMatrix) -> u64 {
    (a.nnz() * 16 + (a.nrows() + 1) * 8 + a.ncols() * 8 + a.nrows() * 8) as u64
}

fn bench_spmv(c: &mut Criterion) {
    let mut group = c.benchmark_group("spmv");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    let (a, _) = system(1024);
    let bytes = spmv_bytes(&a);
    group.throughput(Throughput::Bytes(bytes));
    let x = vec![1.0; a.ncols()];
    let mut y = vec![0.0; a.nrows()];
    group.bench_function(BenchmarkId::new("parallel", a.nrows()), |b| {
        b.iter(|| kernels::spmv_parallel(&a, black_box(&x), &mut y))
    });
    group.bench_function(BenchmarkId::new("serial", a.nrows()), |b| {
        b.iter(|| a.mul_vec_into(black_box(&x), &mut y))
    });
    // The check every solve ends with (issue 13): finite entries, the true residual and the
    // componentwise backward error in one serial pass, against the serial SpMV above.
    let report = femscale::core::SolveReport::new("bench", "none");
    let options = SolverOptions::default();
    let mut b_vec = vec![0.0; a.nrows()];
    a.mul_vec_into(&x, &mut b_vec);
    group.bench_function(BenchmarkId::new("verify_solution", a.nrows()), |b| {
        b.iter(|| {
            femscale::core::verify_solution(&a, black_box(&b_vec), black_box(&x), &report, &options)
                .expect("x solves A x = b")
        })
    });
    // The bandwidth reference: copying an array of the same size (read + write of `bytes`).
    let src = vec![1.0f64; bytes as usize / 8];
    let mut dst = vec![0.0f64; src.len()];
    group.bench_function(BenchmarkId::new("copy-same-bytes", a.nrows()), |b| {
        b.iter(|| dst.copy_from_slice(black_box(&src)))
    });
    group.bench_function(
        BenchmarkId::new("copy-same-bytes-parallel", a.nrows()),
        |b| {
            use rayon::prelude::*;
            b.iter(|| {
                dst.par_chunks_mut(1 << 16)
                    .zip(black_box(&src).par_chunks(1 << 16))
                    .for_each(|(d, s)| d.copy_from_slice(s))
            })
        },
    );
    group.finish();
}

fn bench_solvers(c: &mut Criterion) {
    let mut group = c.benchmark_group("solve");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .warm_up_time(Duration::from_secs(1));
    let registry = Registry::with_builtins();
    let methods = MethodOptions::default();
    let mut options = SolverOptions::default();
    options.tolerance = 1e-8;
    for n in [256, 512] {
        let (a, b) = system(n);
        for (solver, pc) in [("direct", "none"), ("cg", "amg")] {
            let s = registry.solver(solver, pc, &methods).expect("registered");
            let label = format!("{solver}+{pc}");
            group.bench_with_input(
                BenchmarkId::new(format!("{label}/setup+solve"), n),
                &n,
                |bench, _| {
                    bench.iter(|| {
                        let mut p = s.prepare(a.clone(), &options).unwrap();
                        let mut x = vec![0.0; b.len()];
                        p.solve(&b, &mut x, &mut NoMonitor).unwrap()
                    })
                },
            );
            let mut prepared = s.prepare(a.clone(), &options).unwrap();
            group.bench_with_input(
                BenchmarkId::new(format!("{label}/second-rhs"), n),
                &n,
                |bench, _| {
                    bench.iter(|| {
                        let mut x = vec![0.0; b.len()];
                        prepared
                            .solve(black_box(&b), &mut x, &mut NoMonitor)
                            .unwrap()
                    })
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, bench_spmv, bench_solvers);
criterion_main!(benches);
