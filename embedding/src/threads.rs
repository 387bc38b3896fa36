//! Part 6: Two threads, one factorization: a `SharedSolver` solves through `&self`, and the direct
//! solver's solves run concurrently.

use std::thread;

use femscale::prelude::*;

use crate::Res;
use crate::many_rhs::{COUNT, Reused};

pub fn run(reused: Reused) -> Res {
    let Reused { prepared, b, x, .. } = reused;
    let n = b.len() / COUNT;
    let shared = SharedSolver::new(prepared);
    assert!(
        shared.is_concurrent(),
        "the direct solver solves concurrently"
    );

    // Thread 0 takes the even right-hand sides, thread 1 the odd ones.
    let solve = |parity: usize| -> Result<Vec<(usize, Vec<f64>)>, SolveError> {
        (0..COUNT)
            .filter(|j| j % 2 == parity)
            .map(|j| {
                let mut y = vec![0.0; n];
                shared.solve(&b[j * n..(j + 1) * n], &mut y, &mut NoMonitor)?;
                Ok((j, y))
            })
            .collect()
    };
    let results = thread::scope(|s| {
        let handles = [0, 1].map(|parity| s.spawn(move || solve(parity)));
        handles.map(|h| h.join().expect("a solving thread panicked"))
    });
    let mut solved = 0;
    for result in results {
        for (j, y) in result? {
            assert!(
                y[..] == x[j * n..(j + 1) * n],
                "column {j} differs from the sequential solve"
            );
            solved += 1;
        }
    }
    assert_eq!(solved, COUNT);
    println!("6. two threads, one shared factorization: {solved} solves equal the sequential ones");
    Ok(())
}
