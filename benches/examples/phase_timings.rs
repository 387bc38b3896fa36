//! Per-phase wall-clock timings of the 2D pipeline up to the solve (mesh, lift to order 2,
//! pattern, assembly, Dirichlet) with the parallel assembler on all cores, P1 or P2 on
//! triangles: medians over repetitions, as a quick complement to the criterion benches. Prints
//! the markdown table of `docs/performance.md` (median, min and max of every phase).
//!
//! ```text
//! cargo run --release -p femscale-benches --example phase_timings -- [n = 1024] [repetitions = 7] [order = 1]
//! ```

use std::sync::Arc;
use std::time::Instant;

use femscale::assembly::{DirichletConditions, ParallelAssembler};
use femscale::core::{Assembler, LinearSystem, Order};
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
    let order = if arg(3, 1) == 2 {
        Order::Quadratic
    } else {
        Order::Linear
    };
    let names = ["mesh", "lift", "pattern", "assembly", "dirichlet", "total"];
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for _ in 0..reps {
        let form = mms_form();
        let assembler = ParallelAssembler::default();
        let mut times = [0.0; 6];
        let t = Instant::now();
        let mesh = square_mesh(n);
        times[0] = t.elapsed().as_secs_f64();
        // The pipeline lifts only when the order differs (P1 keeps the generated mesh).
        let t = Instant::now();
        let mesh = match order {
            Order::Linear => mesh,
            _ => mesh.with_order(order).expect("liftable mesh"),
        };
        times[1] = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let pattern = Arc::new(assembler.pattern(&mesh.view()).expect("valid mesh"));
        times[2] = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut system = LinearSystem::zeros(pattern);
        assembler
            .assemble_into(&mesh.view(), &form, &mut system)
            .expect("valid form");
        times[3] = t.elapsed().as_secs_f64();
        let t = Instant::now();
        DirichletConditions::from_form(&mesh.view(), &form)
            .and_then(|d| d.apply(&mut system))
            .expect("valid boundary");
        times[4] = t.elapsed().as_secs_f64();
        times[5] = times[..5].iter().sum();
        for (s, t) in samples.iter_mut().zip(times) {
            s.push(t);
        }
    }
    println!(
        "{}\n",
        provenance(
            &example_command("phase_timings"),
            &format!(
                "n = {n}, {order:?} ({} unknowns), {} threads; medians of {reps} repetitions",
                count(mesh_nodes(n, order)),
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

/// Unknowns of the `n x n` square of triangles at `order`.
fn mesh_nodes(n: usize, order: Order) -> usize {
    match order {
        Order::Linear => (n + 1) * (n + 1),
        _ => (2 * n + 1) * (2 * n + 1),
    }
}
