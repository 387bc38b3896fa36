//! The distributed matrix and CG over in-process ranks: products equal the serial ones, the
//! halo is the ghost layer, CG converges to the serial solution on 1 to 4 ranks, reproducibly.

use std::sync::Arc;

use femscale_core::{CsrMatrix, NoMonitor, PreconditionerFactory, SolveError};
use femscale_solvers::{AmgFactory, Ic0Factory};

use super::*;
use crate::{Communicator, ThreadRanks};

/// Runs `f(comm)` on `p` in-process ranks; the results in rank order.
fn on_ranks<T: Send>(p: usize, f: impl Fn(&ThreadRanks) -> T + Sync) -> Vec<T> {
    let ranks = ThreadRanks::group(p);
    std::thread::scope(|s| {
        let handles: Vec<_> = ranks
            .into_iter()
            .map(|comm| {
                let f = &f;
                s.spawn(move || f(&comm))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn products_equal_the_serial_product() {
    let a = Arc::new(grid_laplacian(13).unwrap());
    let n = a.nrows();
    let x: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
    let mut serial = vec![0.0; n];
    a.mul_vec_into(&x, &mut serial);
    for p in 1..=4 {
        let parts = on_ranks(p, |comm| {
            let part = RowPartition::balanced(n, comm.size()).unwrap();
            let d = DistMatrix::from_global(comm, part.clone(), &a).unwrap();
            let own = part.range(comm.rank());
            // Rows by grid lines: a rank's rows next to a neighbour wait for the halo.
            let (interior, boundary) = d.interior_and_boundary_rows();
            assert_eq!(interior + boundary, own.len());
            assert_eq!(boundary > 0, comm.size() > 1);
            let mut y = vec![0.0; own.len()];
            d.mul(comm, &x[own.clone()], &mut y, &mut Vec::new())
                .unwrap();
            y
        });
        let y: Vec<f64> = parts.concat();
        for (a, b) in y.iter().zip(&serial) {
            assert!(
                (a - b).abs() <= 1e-14 * b.abs().max(1.0),
                "{p} ranks: {a} vs {b}"
            );
        }
    }
}

#[test]
fn the_halo_is_the_ghost_layer() {
    // Rows by grid lines and ranks owning whole lines: each interface between neighbouring
    // ranks moves one grid line (m values) each way per product.
    let m = 12;
    let a = grid_laplacian(m).unwrap();
    for p in [2, 3, 4] {
        let volumes = on_ranks(p, |comm| {
            let part = RowPartition::balanced(m * m, comm.size()).unwrap();
            let d = DistMatrix::from_global(comm, part, &a).unwrap();
            (d.ghosts().len(), d.halo_volume())
        });
        let total = volumes[0].1;
        assert_eq!(total.messages, 2 * (p - 1), "{p} ranks");
        assert_eq!(total.bytes, 8 * m * 2 * (p - 1), "{p} ranks");
        assert!(volumes.iter().all(|v| v.1 == total));
        // End ranks have one neighbour, the others two.
        assert_eq!(volumes[0].0, m);
        if p > 2 {
            assert_eq!(volumes[1].0, 2 * m);
        }
    }
}

fn solve(
    p: usize,
    a: &CsrMatrix,
    b: &[f64],
    factory: &dyn PreconditionerFactory,
) -> (Vec<f64>, Vec<DistSolveReport>) {
    solve_with(p, a, b, |_, d| {
        Box::new(block_jacobi(d, factory).unwrap()) as Box<dyn DistPreconditioner>
    })
}

fn solve_with(
    p: usize,
    a: &CsrMatrix,
    b: &[f64],
    build: impl Fn(&ThreadRanks, &Arc<DistMatrix>) -> Box<dyn DistPreconditioner> + Sync,
) -> (Vec<f64>, Vec<DistSolveReport>) {
    let n = a.nrows();
    let results = on_ranks(p, |comm| {
        let part = RowPartition::balanced(n, comm.size()).unwrap();
        let d = Arc::new(DistMatrix::from_global(comm, part.clone(), a).unwrap());
        let precond = build(comm, &d);
        let own = part.range(comm.rank());
        let mut x = vec![0.0; own.len()];
        let options = DistKrylovOptions {
            tolerance: 1e-10,
            max_iterations: 2000,
            ..DistKrylovOptions::default()
        };
        let report = cg(
            comm,
            &d,
            precond.as_ref(),
            &b[own],
            &mut x,
            &options,
            &mut NoMonitor,
        )
        .unwrap();
        (x, report)
    });
    let (xs, reports): (Vec<Vec<f64>>, Vec<DistSolveReport>) = results.into_iter().unzip();
    (xs.concat(), reports)
}

#[test]
fn cg_reaches_the_serial_solution_on_one_to_four_ranks() {
    let a = grid_laplacian(60).unwrap();
    let n = a.nrows();
    let exact: Vec<f64> = (0..n).map(|i| 1.0 + (i % 7) as f64).collect();
    let mut b = vec![0.0; n];
    a.mul_vec_into(&exact, &mut b);
    for factory in [
        &Ic0Factory as &dyn PreconditionerFactory,
        &AmgFactory::default(),
    ] {
        let mut iterations = Vec::new();
        for p in 1..=4 {
            let (x, reports) = solve(p, &a, &b, factory);
            let err = x
                .iter()
                .zip(&exact)
                .map(|(u, e)| (u - e).abs())
                .fold(0.0, f64::max);
            assert!(
                err < 1e-7,
                "{} on {p} ranks: max error {err}",
                factory.name()
            );
            // Every rank reports the same iterations and residuals.
            let r0 = &reports[0];
            assert!(
                reports
                    .iter()
                    .all(|r| r.report.iterations == r0.report.iterations)
            );
            assert!(
                r0.verified_relative_residual < 1e-9,
                "{}",
                r0.verified_relative_residual
            );
            assert_eq!(r0.products, r0.report.iterations + 2);
            iterations.push(r0.report.iterations);
        }
        // Block-Jacobi weakens with more blocks (hence distributed AMG), by a bounded factor
        // from two blocks to four.
        eprintln!(
            "{}: iterations on 1..4 ranks {iterations:?}",
            factory.name()
        );
        assert!(
            iterations[3] <= 2 * iterations[1],
            "{}: {iterations:?}",
            factory.name()
        );
    }
}

#[test]
fn distributed_amg_iterations_hardly_depend_on_the_ranks() {
    // Small gather threshold: two distributed levels before the replicated ones.
    let a = grid_laplacian(120).unwrap();
    let n = a.nrows();
    let exact: Vec<f64> = (0..n).map(|i| ((i % 11) as f64).sin()).collect();
    let mut b = vec![0.0; n];
    a.mul_vec_into(&exact, &mut b);
    let options = DistAmgOptions {
        gather_rows: 500,
        ..DistAmgOptions::default()
    };
    let mut iterations = Vec::new();
    for p in 1..=4 {
        let (x, reports) = solve_with(p, &a, &b, |comm, d| {
            let amg = DistAmg::build(comm, d.clone(), &options).unwrap();
            let distributed = amg.levels().iter().filter(|l| l.distributed).count();
            assert!(distributed >= 2, "{:?}", amg.levels());
            Box::new(amg)
        });
        let err = x
            .iter()
            .zip(&exact)
            .map(|(u, e)| (u - e).abs())
            .fold(0.0, f64::max);
        assert!(err < 1e-7, "{p} ranks: max error {err}");
        assert!(reports[0].verified_relative_residual < 1e-9);
        iterations.push(reports[0].report.iterations);
    }
    eprintln!("distributed amg: iterations on 1..4 ranks {iterations:?}");
    let (lo, hi) = (
        *iterations.iter().min().unwrap(),
        *iterations.iter().max().unwrap(),
    );
    assert!(lo <= 15, "{iterations:?}");
    assert!(hi as f64 <= 1.2 * lo as f64 + 1.0, "{iterations:?}");
}

#[test]
fn distributed_amg_refuses_a_sequential_smoother_and_matches_its_bits() {
    let a = grid_laplacian(40).unwrap();
    let b: Vec<f64> = (0..a.nrows()).map(|i| ((i * 7 % 5) as f64).cos()).collect();
    let options = DistAmgOptions {
        gather_rows: 100,
        ..DistAmgOptions::default()
    };
    let run = || {
        solve_with(3, &a, &b, |comm, d| {
            Box::new(DistAmg::build(comm, d.clone(), &options).unwrap())
        })
        .0
    };
    let (x1, x2) = (run(), run());
    assert!(x1.iter().zip(&x2).all(|(u, v)| u.to_bits() == v.to_bits()));
}

/// Symmetric Gauss–Seidel smooths on ranks too (hybrid: within a rank, Jacobi across them),
/// symmetric as CG needs: the solution of one rank, in a few more iterations at most.
#[test]
fn the_distributed_amg_smooths_with_symmetric_gauss_seidel() {
    let a = grid_laplacian(40).unwrap();
    let b: Vec<f64> = (0..a.nrows()).map(|i| ((i * 7 % 5) as f64).cos()).collect();
    let mut options = DistAmgOptions {
        gather_rows: 100,
        ..DistAmgOptions::default()
    };
    options.amg.smoother = femscale_solvers::options::AmgSmoother::SymmetricGaussSeidel;
    let mut iterations = Vec::new();
    let mut solutions = Vec::new();
    for p in [1, 2, 3] {
        let (x, reports) = solve_with(p, &a, &b, |comm, d| {
            Box::new(DistAmg::build(comm, d.clone(), &options).unwrap())
        });
        iterations.push(reports[0].report.iterations);
        solutions.push(x);
    }
    for x in &solutions[1..] {
        let diff = x
            .iter()
            .zip(&solutions[0])
            .map(|(u, v)| (u - v).abs())
            .fold(0.0, f64::max);
        assert!(diff < 1e-7, "{diff}");
    }
    assert!(iterations[0] <= 12, "{iterations:?}");
    assert!(
        iterations.iter().all(|&k| k <= iterations[0] + 4),
        "{iterations:?}"
    );
}

#[test]
fn the_same_rank_count_gives_the_same_bits() {
    let a = grid_laplacian(24).unwrap();
    let b: Vec<f64> = (0..a.nrows())
        .map(|i| ((i * 31 % 17) as f64).cos())
        .collect();
    let (x1, _) = solve(3, &a, &b, &Ic0Factory);
    let (x2, _) = solve(3, &a, &b, &Ic0Factory);
    assert!(x1.iter().zip(&x2).all(|(u, v)| u.to_bits() == v.to_bits()));
}

#[test]
fn inconsistent_input_is_a_typed_error() {
    let a = grid_laplacian(4).unwrap();
    let errors = on_ranks(2, |comm| {
        // A partition for three ranks on two.
        let wrong = DistMatrix::from_global(comm, RowPartition::balanced(16, 3).unwrap(), &a);
        assert!(wrong.is_err());
        let part = RowPartition::balanced(16, 2).unwrap();
        let bad_rows = DistMatrix::from_owned_rows(comm, part.clone(), &[0, 1], &[99], &[1.0]);
        let d = DistMatrix::from_global(comm, part, &a).unwrap();
        let short = d.mul(comm, &[1.0], &mut [0.0; 8], &mut Vec::new());
        (
            wrong.unwrap_err().to_string(),
            bad_rows.is_err(),
            short.is_err(),
        )
    });
    for (wrong, bad_rows, short) in errors {
        assert!(wrong.contains("3 ranks used on 2"), "{wrong}");
        assert!(bad_rows && short);
    }
}

#[test]
fn a_stop_asked_by_one_rank_stops_every_rank_at_the_same_iteration() {
    let a = grid_laplacian(30).unwrap();
    let b = vec![1.0; a.nrows()];
    let stopped = on_ranks(3, |comm| {
        let part = RowPartition::balanced(a.nrows(), comm.size()).unwrap();
        let d = DistMatrix::from_global(comm, part.clone(), &a).unwrap();
        let precond = block_jacobi(&d, &Ic0Factory).unwrap();
        let own = part.range(comm.rank());
        let mut x = vec![0.0; own.len()];
        // Only rank 1's monitor asks, after its fifth iteration.
        let rank = comm.rank();
        let mut monitor = |iteration: usize, _: f64| {
            if rank == 1 && iteration >= 5 {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            }
        };
        let options = DistKrylovOptions::default();
        match cg(comm, &d, &precond, &b[own], &mut x, &options, &mut monitor) {
            Err(femscale_core::Error::Solve(SolveError::Stopped { report })) => report.iterations,
            other => panic!("rank {rank}: {other:?}"),
        }
    });
    assert_eq!(stopped, vec![5, 5, 5]);
}

/// The 5-point Laplacian plus an upwinded convection `c ∂u/∂x`: nonsymmetric.
fn convection_diffusion(m: usize, c: f64) -> CsrMatrix {
    let a = grid_laplacian(m).unwrap();
    let mut triplets = Vec::new();
    for i in 0..a.nrows() {
        for j in a.pattern().columns(i) {
            let mut v = a.get(i, j);
            if j == i {
                v += c;
            } else if j + 1 == i && i % m != 0 {
                v -= c;
            }
            triplets.push((i, j, v));
        }
    }
    CsrMatrix::try_from_triplets(a.nrows(), a.ncols(), &triplets).unwrap()
}

#[test]
fn gmres_and_bicgstab_solve_a_nonsymmetric_system_on_one_to_four_ranks() {
    let a = convection_diffusion(40, 2.0);
    let n = a.nrows();
    let exact: Vec<f64> = (0..n).map(|i| ((i % 13) as f64 * 0.3).cos()).collect();
    let mut b = vec![0.0; n];
    a.mul_vec_into(&exact, &mut b);
    let options = DistKrylovOptions {
        tolerance: 1e-10,
        max_iterations: 2000,
        ..DistKrylovOptions::default()
    };
    for method in ["gmres", "bicgstab"] {
        let mut iterations = Vec::new();
        for p in 1..=4 {
            let results = on_ranks(p, |comm| {
                let part = RowPartition::balanced(n, comm.size()).unwrap();
                let d = DistMatrix::from_global(comm, part.clone(), &a).unwrap();
                let precond = block_jacobi(&d, &femscale_solvers::Ilu0Factory).unwrap();
                let own = part.range(comm.rank());
                let mut x = vec![0.0; own.len()];
                let report = match method {
                    "gmres" => gmres(
                        comm,
                        &d,
                        &precond,
                        &b[own.clone()],
                        &mut x,
                        &options,
                        30,
                        &mut NoMonitor,
                    ),
                    _ => bicgstab(
                        comm,
                        &d,
                        &precond,
                        &b[own.clone()],
                        &mut x,
                        &options,
                        &mut NoMonitor,
                    ),
                }
                .unwrap();
                (x, report)
            });
            let (xs, reports): (Vec<Vec<f64>>, Vec<DistSolveReport>) = results.into_iter().unzip();
            let x = xs.concat();
            let err = x
                .iter()
                .zip(&exact)
                .map(|(u, e)| (u - e).abs())
                .fold(0.0, f64::max);
            assert!(err < 1e-7, "{method} on {p} ranks: max error {err}");
            let r0 = &reports[0];
            assert!(r0.verified_relative_residual < 1e-9, "{method}: {r0:?}");
            assert!(
                reports
                    .iter()
                    .all(|r| r.report.iterations == r0.report.iterations)
            );
            iterations.push(r0.report.iterations);
        }
        eprintln!("{method}: iterations on 1..4 ranks {iterations:?}");
    }
    let refused = on_ranks(1, |comm| {
        let part = RowPartition::balanced(n, 1).unwrap();
        let d = DistMatrix::from_global(comm, part, &a).unwrap();
        let precond = block_jacobi(&d, &Ic0Factory).unwrap();
        let mut x = vec![0.0; n];
        gmres(comm, &d, &precond, &b, &mut x, &options, 0, &mut NoMonitor)
            .unwrap_err()
            .to_string()
    });
    assert!(refused[0].contains("gmres.restart"), "{}", refused[0]);
}

#[test]
fn ranks_prepared_with_different_systems_or_options_all_get_the_same_error() {
    use femscale_core::{LinearSolver, SolverOptions};
    let prepare = |rank_1_n: usize, rank_1_tolerance: f64| -> Vec<Result<(), String>> {
        let ranks = ThreadRanks::group(3);
        std::thread::scope(|s| {
            let handles: Vec<_> = ranks
                .into_iter()
                .map(|comm| {
                    s.spawn(move || {
                        let rank = comm.rank();
                        let (n, tolerance) = match rank {
                            1 => (rank_1_n, rank_1_tolerance),
                            _ => (12, 1e-8),
                        };
                        let solver = DistributedKrylov::new(
                            Arc::new(comm),
                            DistMethod::Cg,
                            DistPreconditionerChoice::BlockJacobi(Arc::new(Ic0Factory)),
                        );
                        let a = Arc::new(grid_laplacian(n).unwrap());
                        let options = SolverOptions::default().with_tolerance(tolerance);
                        solver
                            .prepare(a, &options)
                            .map(|_| ())
                            .map_err(|e| e.to_string())
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    };
    assert!(prepare(12, 1e-8).iter().all(Result::is_ok));
    for (results, expected) in [
        (prepare(13, 1e-8), "rank 0 has rows 144, rank 1 has 169"),
        (
            prepare(12, 1e-6),
            "rank 0 has tolerance 1e-8, rank 1 has 1e-6",
        ),
    ] {
        for result in &results {
            let message = result.as_ref().unwrap_err();
            assert!(
                message.contains("the ranks prepare different systems"),
                "{message}"
            );
        }
        let message = results[0].as_ref().unwrap_err();
        assert!(message.contains(expected), "{message}");
    }
}

/// A rank that failed before the set-up (its assembly, say) joins the agreement through
/// `abandon_shared`: the others fail naming it instead of waiting for it, and the rank itself
/// returns (ranks of an embedding program go on after the error).
#[test]
fn a_rank_that_fails_before_the_set_up_releases_the_others() {
    use femscale_core::{LinearSolver, SolverOptions};
    let ranks = ThreadRanks::group(3);
    let outcomes: Vec<Result<(), String>> = std::thread::scope(|s| {
        let handles: Vec<_> = ranks
            .into_iter()
            .map(|comm| {
                s.spawn(move || {
                    let rank = comm.rank();
                    let solver = DistributedKrylov::new(
                        Arc::new(comm),
                        DistMethod::Cg,
                        DistPreconditionerChoice::BlockJacobi(Arc::new(Ic0Factory)),
                    );
                    if rank == 2 {
                        solver.abandon_shared("the source is not finite on this part");
                        return Err("abandoned".to_string());
                    }
                    let a = Arc::new(grid_laplacian(12).unwrap());
                    solver
                        .prepare(a, &SolverOptions::default())
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for outcome in &outcomes[..2] {
        let message = outcome.as_ref().unwrap_err();
        assert!(
            message.contains("rank 2 failed before the distributed set-up"),
            "{message}"
        );
    }
}

/// A GMRES basis beyond the memory budget is a typed error on every rank at set-up (it
/// aborted the process when allocated), naming the rank's share; a restart that fits runs.
#[test]
fn a_gmres_basis_beyond_the_memory_budget_is_refused_on_every_rank() {
    use femscale_core::{LinearSolver, SolverOptions};
    let prepare = |restart: usize, n: usize, limit_mb: f64| -> Vec<Result<(), String>> {
        let ranks = ThreadRanks::group(3);
        std::thread::scope(|s| {
            let handles: Vec<_> = ranks
                .into_iter()
                .map(|comm| {
                    s.spawn(move || {
                        let solver = DistributedKrylov::new(
                            Arc::new(comm),
                            DistMethod::Gmres { restart },
                            DistPreconditionerChoice::BlockJacobi(Arc::new(Ic0Factory)),
                        );
                        // 144 rows, 48 per rank: a basis of 145 vectors and the 145 x 144
                        // Hessenberg matrix take 0.22 MB per rank, 10 vectors 6 kB.
                        let a = Arc::new(grid_laplacian(n).unwrap());
                        let options = SolverOptions::default().with_memory_limit_mb(limit_mb);
                        (solver.prepare(a, &options).map(|_| ())).map_err(|e| e.to_string())
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    };
    assert!(prepare(10, 12, 0.1).iter().all(Result::is_ok));
    for (rank, result) in prepare(10_000, 12, 0.1).iter().enumerate() {
        let message = result.as_ref().unwrap_err();
        assert!(
            message.contains(&format!(
                "distributed-gmres(144) Krylov basis and work vectors on rank {rank}"
            )),
            "{message}"
        );
    }
    // 169 rows as 57, 56, 56: a budget between the two shares (312,336 and 310,960 bytes)
    // fails rank 0 alone, and the others stop naming it.
    let uneven = prepare(10_000, 13, 311_600.0 / (1024.0 * 1024.0));
    let first = uneven[0].as_ref().unwrap_err();
    assert!(
        first.contains("Krylov basis and work vectors on rank 0"),
        "{first}"
    );
    for other in &uneven[1..] {
        let message = other.as_ref().unwrap_err();
        assert!(
            message.contains("rank 0 failed before the distributed set-up"),
            "{message}"
        );
    }
}
