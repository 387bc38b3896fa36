//! The confirmation across processes: threads standing in for ranks, each owning a block of
//! rows, reach the verdict one process reaches on the whole system.

use std::sync::{Arc, Barrier, Mutex};

use super::tests::{ill_conditioned_case, report, singular_case, stiff_case};
use super::*;
use crate::verify::{verify_solution, verify_solution_shared};

/// An element-wise sum across `ranks` threads (three barriers a call, so that a round's
/// result is read before the next round starts).
struct Exchange {
    barrier: Barrier,
    sum: Mutex<(usize, Vec<f64>)>,
}

impl Exchange {
    fn shares(ranks: usize, n: usize) -> Vec<RowShare> {
        let exchange = Arc::new(Exchange {
            barrier: Barrier::new(ranks),
            sum: Mutex::new((0, Vec::new())),
        });
        let counts: Vec<usize> = (0..ranks)
            .map(|r| n * (r + 1) / ranks - n * r / ranks)
            .collect();
        (0..ranks)
            .map(|rank| {
                let exchange = exchange.clone();
                let start = n * rank / ranks;
                RowShare {
                    rows: start..start + counts[rank],
                    rank,
                    ranks,
                    counts: counts.clone(),
                    sum: Arc::new(move |values: &mut [f64]| {
                        exchange.add(values);
                        Ok(())
                    }),
                }
            })
            .collect()
    }

    fn add(&self, values: &mut [f64]) {
        {
            let mut guard = self.sum.lock().unwrap();
            let (arrived, acc) = &mut *guard;
            if *arrived == 0 {
                *acc = vec![0.0; values.len()];
            }
            *arrived += 1;
            acc.iter_mut().zip(values.iter()).for_each(|(a, v)| *a += v);
        }
        self.barrier.wait();
        values.copy_from_slice(&self.sum.lock().unwrap().1);
        if self.barrier.wait().is_leader() {
            self.sum.lock().unwrap().0 = 0;
        }
        self.barrier.wait();
    }
}

/// `a` with the rows outside `rows` empty, as a process of a distributed solve assembles it.
fn own_rows(a: &CsrMatrix, rows: std::ops::Range<usize>) -> CsrMatrix {
    let p = a.pattern();
    let triplets: Vec<(usize, usize, f64)> = rows
        .flat_map(|i| (p.row_ptr()[i]..p.row_ptr()[i + 1]).map(move |k| (i, k)))
        .map(|(i, k)| (i, p.col_idx()[k] as usize, a.values()[k]))
        .collect();
    CsrMatrix::try_from_triplets(a.nrows(), a.ncols(), &triplets).unwrap()
}

/// Verifies and confirms `x` on `ranks` threads, each with its block of rows of `a` (the
/// others empty); `solve` gets the whole correction right-hand side (the blocks summed, as a
/// distributed solver sees it).
fn confirm_on_ranks(
    ranks: usize,
    a: &CsrMatrix,
    b: &[f64],
    x: &[f64],
    solve: impl Fn(&[f64], &mut [f64]) + Sync,
) -> Vec<Result<(), SolveError>> {
    let options = SolverOptions::default();
    let serial = verify_solution(a, b, x, &report(), &options).unwrap();
    std::thread::scope(|s| {
        let handles: Vec<_> = Exchange::shares(ranks, b.len())
            .into_iter()
            .map(|share| {
                let (options, solve) = (&options, &solve);
                s.spawn(move || {
                    let a = &own_rows(a, share.rows.clone());
                    let v = verify_solution_shared(a, b, x, &report(), options, &share).unwrap();
                    assert!(v.needs_confirmation(), "{v:?}");
                    let close = |p: f64, q: f64| (p - q).abs() <= 1e-12 * q.abs();
                    assert!(close(v.residual, serial.residual), "{v:?} {serial:?}");
                    assert_eq!(v.backward_error, serial.backward_error);
                    confirm_solution_shared(a, b, x, &v, &report(), options, &share, |r, d| {
                        let mut whole = r.to_vec();
                        (share.sum)(&mut whole)?;
                        solve(&whole, d);
                        Ok(report())
                    })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn ranks_refuse_a_singular_solution_as_one_process_does() {
    let (a, b, x) = singular_case();
    for ranks in [1, 2, 3] {
        for verdict in confirm_on_ranks(ranks, &a, &b, &x, |_, d| d.fill(3e11)) {
            assert!(
                matches!(verdict, Err(SolveError::Undetermined { relative_correction, .. })
                    if (relative_correction - 0.3).abs() < 1e-9),
                "{ranks} ranks: {verdict:?}"
            );
        }
    }
}

#[test]
fn ranks_refuse_a_correction_that_removes_an_easy_part_of_the_residual() {
    let (a, b, x, k) = stiff_case();
    for ranks in [2, 3] {
        let verdicts = confirm_on_ranks(ranks, &a, &b, &x, |_, d| {
            d.fill(0.0);
            d[k] = -1.0;
        });
        for verdict in verdicts {
            assert!(
                matches!(&verdict, Err(SolveError::Undetermined { detail, .. }) if detail.contains("did not solve")),
                "{ranks} ranks: {verdict:?}"
            );
        }
    }
}

#[test]
fn ranks_confirm_an_ill_conditioned_solution() {
    let (a, b, x, solve) = ill_conditioned_case();
    for ranks in [1, 2, 3] {
        let verdicts = confirm_on_ranks(ranks, &a, &b, &x, |r, d| d.copy_from_slice(&solve(r)));
        assert!(
            verdicts.iter().all(Result::is_ok),
            "{ranks} ranks: {verdicts:?}"
        );
    }
}
