//! Assembly stages separately: pattern (once per mesh) and values (every re-assembly),
//! serial vs parallel, on n x n P1 meshes.
// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use femscale::core::LinearSystem;
use femscale_benches::{assembler, mms_form, square_mesh};

fn bench_assembly(c: &mut Criterion) {
    let mut group = c.benchmark_group("assembly");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));
    for n in [256, 512, 1024] {
        let mesh = square_mesh(n);
        let form = mms_form();
        for parallel in [false, true] {
            let variant = if parallel { "parallel" } else { "serial" };
            let a = assembler(parallel);
            group.bench_with_input(
                BenchmarkId::new(format!("pattern/{variant}"), n),
                &n,
                |b, _| b.iter(|| black_box(a.pattern(&mesh.view()).unwrap())),
            );
            let pattern = Arc::new(a.pattern(&mesh.view()).unwrap());
            let mut system = LinearSystem::zeros(pattern);
            group.bench_with_input(
                BenchmarkId::new(format!("values/{variant}"), n),
                &n,
                |b, _| {
                    b.iter(|| {
                        a.assemble_into(&mesh.view(), &form, black_box(&mut system))
                            .unwrap()
                    })
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, bench_assembly);
criterion_main!(benches);
