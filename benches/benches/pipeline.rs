//! The 2D P1 pipeline up to the linear solve (mesh + pattern + assembly + Dirichlet) at
//! n = 256, 512, 1024, serial and parallel; the target is < 0.5 s at n = 1024.
// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use femscale_benches::pipeline_until_solve;

fn bench_pipeline(c: &mut Criterion) {
    let mut group = c.benchmark_group("pipeline");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(1));
    for n in [256, 512, 1024] {
        for parallel in [false, true] {
            let variant = if parallel { "parallel" } else { "serial" };
            group.bench_with_input(BenchmarkId::new(variant, n), &n, |b, &n| {
                b.iter(|| black_box(pipeline_until_solve(n, parallel).unwrap()))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_pipeline);
criterion_main!(benches);
