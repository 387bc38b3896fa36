//! Per-phase wall-clock timings of the 2D P1 pipeline up to the solve (mesh, pattern,
//! assembly, Dirichlet) with the parallel assembler on all cores: medians over repetitions, as a
//! quick complement to the criterion benches. Prints the markdown table of `docs/performance.md`
//! (median, min and max of every phase).
//!
//! ```text
//! cargo run --release -p femscale-benches --example phase_timings -- [n = 1024] [repetitions = 7]
//! ```

use std::sync::Arc;
use std::time::Instant;

use femscale::assembly::{DirichletConditions, ParallelAssembler};
use femscale::core::{Assembler, LinearSystem};
use femscale_benches::stats::Summary;
use femscale_benches::table::{MarkdownTable, count, example_command, provenance, secs};
use femscale_benches::{mms_form, square_mesh};

fn main() {
    let arg = |i: usize, default: usize| {
        std::env::args()
            .nth(i)
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    };
    let (n, reps) = (arg(1, 1024), arg(2, 7).max(1));
    let names = ["mesh", "pattern", "assembly", "dirichlet", "total"];
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for _ in 0..reps {
        let form = mms_form();
        let assembler = ParallelAssembler::default();
        let mut times = [0.0; 5];
        let t = Instant::now();
        let mesh = square_mesh(n);
        times[0] = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let pattern = Arc::new(assembler.pattern(&mesh.view()).expect("valid mesh"));
        times[1] = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut system = LinearSystem::zeros(pattern);
        assembler
            .assemble_into(&mesh.view(), &form, &mut system)
            .expect("valid form");
        times[2] = t.elapsed().as_secs_f64();
        let t = Instant::now();
        DirichletConditions::from_form(&mesh.view(), &form)
            .and_then(|d| d.apply(&mut system))
            .expect("valid boundary");
        times[3] = t.elapsed().as_secs_f64();
        times[4] = times[..4].iter().sum();
        for (s, t) in samples.iter_mut().zip(times) {
            s.push(t);
        }
    }
    println!(
        "{}\n",
        provenance(
            &example_command("phase_timings"),
            &format!(
                "n = {n} ({} unknowns), {} threads; medians of {reps} repetitions",
                count((n + 1) * (n + 1)),
                rayon::current_num_threads()
            )
        )
    );
    let mut table = MarkdownTable::new(&["phase", "median", "min", "max"]);
    for (name, s) in names.iter().zip(samples) {
        let s = Summary::of(&s);
        table.row([name.to_string(), secs(s.median), secs(s.min), secs(s.max)]);
    }
    print!("{table}");
}
