//! Per-phase wall-clock timings of the 2D P1 pipeline up to the solve (mesh, pattern,
//! assembly, Dirichlet), as a quick complement to the criterion benches.
//!
//! ```text
//! cargo run --release -p femscale-benches --example phase_timings -- 1024 7
//! ```
use femscale::assembly::{DirichletConditions, ParallelAssembler};
use femscale::core::{Assembler, LinearSystem};
use femscale_benches::{mms_form, square_mesh};
use std::sync::Arc;
use std::time::Instant;
fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(1024);
    let reps: usize = std::env::args()
        .nth(2)
        .map(|s| s.parse().unwrap())
        .unwrap_or(5);
    for _ in 0..reps {
        let t = Instant::now();
        let mesh = square_mesh(n);
        let t_mesh = t.elapsed().as_secs_f64();
        let form = mms_form();
        let a = ParallelAssembler::default();
        let t = Instant::now();
        let pattern = Arc::new(a.pattern(&mesh.view()).unwrap());
        let t_pat = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut system = LinearSystem::zeros(pattern);
        let t_zero = t.elapsed().as_secs_f64();
        let t = Instant::now();
        a.assemble_into(&mesh.view(), &form, &mut system).unwrap();
        let t_asm = t.elapsed().as_secs_f64();
        let t = Instant::now();
        DirichletConditions::from_form(&mesh.view(), &form)
            .unwrap()
            .apply(&mut system)
            .unwrap();
        let t_bc = t.elapsed().as_secs_f64();
        println!(
            "mesh {t_mesh:.4} pattern {t_pat:.4} zeros {t_zero:.4} assembly {t_asm:.4} bc {t_bc:.4} total {:.4}",
            t_mesh + t_pat + t_zero + t_asm + t_bc
        );
    }
}
