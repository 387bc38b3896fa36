//! SSOR, ILU(0) and IC(0): defining properties, use with CG, and error semantics.

mod common;

use std::sync::Arc;

use common::*;
use femscale_core::{
    CsrMatrix, LinearSolver, NoMonitor, Preconditioner, PreconditionerFactory, SolveError,
    SolveReport, SolverOptions,
};
use femscale_solvers::ilu::{Ic0, Ic0Factory, Ilu0, Ilu0Factory, new_ic0, new_ilu0};
use femscale_solvers::ssor::{Ssor, SsorFactory, new_ssor};
use femscale_solvers::{ConjugateGradient, DirectSolver, JacobiFactory, MethodOptions};

fn options(tol: f64) -> SolverOptions {
    let mut o = SolverOptions::default();
    o.tolerance = tol;
    o
}

fn solve_with(
    solver: &dyn LinearSolver,
    a: &Arc<CsrMatrix>,
    b: &[f64],
    o: &SolverOptions,
) -> (Vec<f64>, SolveReport) {
    let mut prepared = solver.prepare(Arc::clone(a), o).unwrap();
    let mut x = vec![0.0; b.len()];
    let report = prepared.solve(b, &mut x, &mut NoMonitor).unwrap();
    (x, report)
}

fn apply(pc: &dyn Preconditioner, r: &[f64]) -> Vec<f64> {
    let mut z = vec![f64::NAN; r.len()];
    pc.apply(r, &mut z);
    z
}

fn dot(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| a * b).sum()
}

/// Deterministic pseudo-random vector in [-1, 1) (xorshift64*).
fn random_vector(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            let u = s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
            2.0 * (u as f64 / (1u64 << 53) as f64) - 1.0
        })
        .collect()
}

/// `-Δu + β·∇u` on an `m x m` grid, central differences scaled by `h²`: nonsymmetric.
fn convection_diffusion_2d(m: usize, beta: (f64, f64)) -> CsrMatrix {
    let h = 1.0 / (m as f64 + 1.0);
    let (cx, cy) = (beta.0 * h / 2.0, beta.1 * h / 2.0);
    let id = |i: usize, j: usize| i * m + j;
    let mut t = Vec::new();
    for i in 0..m {
        for j in 0..m {
            let k = id(i, j);
            t.push((k, k, 4.0));
            if i > 0 {
                t.push((k, id(i - 1, j), -1.0 - cy));
            }
            if i + 1 < m {
                t.push((k, id(i + 1, j), -1.0 + cy));
            }
            if j > 0 {
                t.push((k, id(i, j - 1), -1.0 - cx));
            }
            if j + 1 < m {
                t.push((k, id(i, j + 1), -1.0 + cx));
            }
        }
    }
    CsrMatrix::try_from_triplets(m * m, m * m, &t).unwrap()
}

/// Kershaw's 4x4 matrix: symmetric positive definite (Cholesky pivots 3, 5/3, 3/5, 1/3), but
/// IC(0) breaks down with a pivot of -5 in the last row. Verified by hand computation: the
/// shifted factorisation first succeeds at `α = 0.256`.
fn kershaw() -> CsrMatrix {
    let rows = [
        [3.0, -2.0, 0.0, 2.0],
        [-2.0, 3.0, -2.0, 0.0],
        [0.0, -2.0, 3.0, -2.0],
        [2.0, 0.0, -2.0, 3.0],
    ];
    let mut t = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            if v != 0.0 {
                t.push((i, j, v));
            }
        }
    }
    CsrMatrix::try_from_triplets(4, 4, &t).unwrap()
}

fn assert_factorization_error(err: &SolveError, expected_method: &str, row: usize) {
    let needle = format!("row {row}");
    assert!(
        matches!(err, SolveError::Factorization { method, detail }
            if method == expected_method && detail.contains(&needle)),
        "expected a {expected_method} factorisation error naming {needle}, got: {err}"
    );
}

fn factories() -> Vec<Arc<dyn PreconditionerFactory>> {
    let options = MethodOptions::default();
    vec![new_ssor(&options), new_ilu0(&options), new_ic0(&options)]
}

#[test]
fn constructors_have_the_registry_names() {
    let names: Vec<_> = factories().iter().map(|f| f.name()).collect();
    assert_eq!(names, ["ssor", "ilu0", "ic0"]);
    let a = poisson_1d(5);
    for f in factories() {
        let pc = f.build(&a).unwrap();
        assert_eq!(pc.name(), f.name());
        assert!(pc.memory_bytes() > 0);
    }
    let mut options = MethodOptions::default();
    options.ssor.omega = 1.4;
    let pc = new_ssor(&options).build(&a).unwrap();
    assert!(format!("{pc:?}").contains("1.4"), "{pc:?}");
    assert_eq!(SsorFactory::default().omega(), 1.0);
}

#[test]
fn ilu0_and_ic0_are_exact_on_tridiagonal_matrices() {
    let n = 200;
    let spd = poisson_1d(n);
    let nonsym = convection_diffusion_1d(n, 50.0);
    let b = smooth_vector(n);
    let o = options(1e-12);

    let ic0 = Ic0::try_new(&spd).unwrap();
    assert_eq!(ic0.shift(), 0.0);
    for (a, pc) in [
        (&spd, Box::new(ic0) as Box<dyn Preconditioner>),
        (&spd, Box::new(Ilu0::try_new(&spd).unwrap())),
        (&nonsym, Box::new(Ilu0::try_new(&nonsym).unwrap())),
    ] {
        let z = apply(&*pc, &b);
        let res = true_residual(a, &z, &b);
        // Backward-stable triangular solves: residual at round-off relative to |A| |z|.
        let scale = 4.0 * norm(&z) + norm(&b);
        assert!(
            res <= 1e-14 * scale,
            "{}: residual {res:e}, scale {scale:e}",
            pc.name()
        );
        let a = Arc::new(a.clone());
        let (x, _) = solve_with(&DirectSolver::default(), &a, &b, &o);
        let diff = rel_max_diff(&z, &x);
        assert!(
            diff <= 1e-10,
            "{}: differs from direct by {diff:e}",
            pc.name()
        );
    }
}

#[test]
fn cg_with_ssor_ic0_ilu0_beats_jacobi_on_poisson_2d() {
    let a = Arc::new(poisson_2d(40));
    let n = a.nrows();
    let b = smooth_vector(n);
    let o = options(1e-10);
    let (x_direct, _) = solve_with(&DirectSolver::default(), &a, &b, &o);

    let run = |factory: Arc<dyn PreconditionerFactory>| {
        let (x, report) = solve_with(&ConjugateGradient::new(factory), &a, &b, &o);
        assert!(report.converged);
        assert!(true_residual(&a, &x, &b) <= 1.1e-10 * norm(&b));
        let diff = rel_max_diff(&x, &x_direct);
        assert!(
            diff <= 1e-8,
            "{}: differs from direct by {diff:e}",
            report.preconditioner
        );
        report.iterations
    };
    let jacobi = run(Arc::new(JacobiFactory));
    let mut options = MethodOptions::default();
    let mut counts = vec![("jacobi", jacobi)];
    counts.push(("ssor(1.0)", run(new_ssor(&options))));
    options.ssor.omega = 1.5;
    counts.push(("ssor(1.5)", run(new_ssor(&options))));
    counts.push(("ic0", run(new_ic0(&options))));
    counts.push(("ilu0", run(new_ilu0(&options))));
    eprintln!("CG iterations on 40x40 Poisson, tol 1e-10: {counts:?}");
    for &(name, it) in &counts[1..] {
        assert!(
            (it as f64) <= 0.7 * jacobi as f64,
            "{name}: {it} iterations vs {jacobi} with Jacobi"
        );
    }
}

/// Checks `M (M⁻¹ r) = r` with `M = 1/(ω(2-ω)) (D + ωL) D⁻¹ (D + ωU)` formed explicitly.
fn check_ssor_definition(a: &CsrMatrix, omega: f64, r: &[f64]) {
    let n = a.nrows();
    let z = apply(&Ssor::try_new(a, omega).unwrap(), r);
    let (rp, ci, v) = (a.pattern().row_ptr(), a.pattern().col_idx(), a.values());
    let d = a.diagonal();
    // t = (D + ωU) z, then t = D⁻¹ t, then m = (D + ωL) t / (ω(2-ω)).
    let mut t = vec![0.0; n];
    for i in 0..n {
        t[i] = d[i] * z[i];
        for p in rp[i]..rp[i + 1] {
            if (ci[p] as usize) > i {
                t[i] += omega * v[p] * z[ci[p] as usize];
            }
        }
        t[i] /= d[i];
    }
    let mut m = vec![0.0; n];
    for i in 0..n {
        m[i] = d[i] * t[i];
        for p in rp[i]..rp[i + 1] {
            if (ci[p] as usize) < i {
                m[i] += omega * v[p] * t[ci[p] as usize];
            }
        }
        m[i] /= omega * (2.0 - omega);
    }
    let diff = rel_max_diff(&m, r);
    assert!(
        diff <= 1e-12,
        "omega {omega}: M M^-1 r differs from r by {diff:e}"
    );
}

#[test]
fn ssor_is_symmetric_positive_and_matches_its_definition() {
    // A variable-coefficient SPD matrix: 2D Poisson with a varying positive diagonal shift.
    let base = poisson_2d(20);
    let n = base.nrows();
    let mut a = base.clone();
    let positions = a.pattern().diagonal_positions();
    for (i, k) in positions.into_iter().enumerate() {
        a.values_mut()[k.unwrap()] += 0.5 * (1.0 + (0.3 * i as f64).sin());
    }
    for omega in [0.3, 1.0, 1.5, 1.9] {
        let pc = Ssor::try_new(&a, omega).unwrap();
        assert_eq!(pc.omega(), omega);
        for seed in 0..4 {
            let x = random_vector(n, 2 * seed + 1);
            let y = random_vector(n, 2 * seed + 2);
            let (mx, my) = (apply(&pc, &x), apply(&pc, &y));
            let (lhs, rhs) = (dot(&mx, &y), dot(&x, &my));
            let scale = norm(&mx) * norm(&y) + norm(&x) * norm(&my);
            assert!(
                (lhs - rhs).abs() <= 1e-12 * scale,
                "omega {omega}: (M^-1 x)·y = {lhs}, x·(M^-1 y) = {rhs}"
            );
            assert!(dot(&x, &mx) > 0.0, "omega {omega}: x·M^-1 x <= 0");
            check_ssor_definition(&a, omega, &x);
        }
    }
    // Symmetric Gauss–Seidel on a nonsymmetric matrix too (M is not symmetric then).
    check_ssor_definition(
        &convection_diffusion_2d(10, (30.0, -10.0)),
        1.0,
        &smooth_vector(100),
    );
}

#[test]
fn ilu0_reproduces_a_on_its_pattern() {
    let m = 30;
    let a = convection_diffusion_2d(m, (40.0, 25.0));
    assert!(!a.is_symmetric(1e-3));
    let ilu = Ilu0::try_new(&a).unwrap();
    let f = ilu.factors();
    assert!(
        Arc::ptr_eq(f.pattern(), a.pattern()),
        "the pattern must be shared"
    );
    let n = a.nrows();
    let l = |i: usize, k: usize| match k.cmp(&i) {
        std::cmp::Ordering::Less => f.get(i, k),
        std::cmp::Ordering::Equal => 1.0,
        std::cmp::Ordering::Greater => 0.0,
    };
    let u = |k: usize, j: usize| if k <= j { f.get(k, j) } else { 0.0 };
    // (L U)_ij = Σ_{k ≤ min(i, j)} l_ik u_kj; the stored k < i of row i plus k = i.
    let lu = |i: usize, j: usize| {
        let mut s = 0.0;
        for k in f.pattern().columns(i) {
            if k <= i && k <= j {
                s += l(i, k) * u(k, j);
            }
        }
        s
    };
    let scale = a.values().iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut worst = 0.0f64;
    for i in 0..n {
        for j in a.pattern().columns(i) {
            worst = worst.max((lu(i, j) - a.get(i, j)).abs());
        }
    }
    assert!(
        worst <= 1e-12 * scale,
        "max |(LU)_ij - a_ij| on the pattern = {worst:e}"
    );
    // The dropped fill: (L U)_{i, i-m+1} = l_{i,i-m} u_{i-m,i-m+1} is not zero, so ILU(0) is
    // an incomplete factorisation here, not an exact one.
    let i = 2 * m + 3;
    assert!(a.pattern().find(i, i - m + 1).is_none());
    assert!(lu(i, i - m + 1).abs() > 1e-3);

    // apply solves (L U) z = r.
    let r = random_vector(n, 7);
    let z = apply(&ilu, &r);
    let mut uz = vec![0.0; n];
    for k in 0..n {
        for j in f.pattern().columns(k) {
            uz[k] += u(k, j) * z[j];
        }
    }
    let mut luz = vec![0.0; n];
    for i in 0..n {
        for k in f.pattern().columns(i) {
            luz[i] += l(i, k) * uz[k];
        }
    }
    let diff = rel_max_diff(&luz, &r);
    assert!(diff <= 1e-12, "L U z differs from r by {diff:e}");
}

#[test]
fn ic0_reproduces_a_on_the_lower_pattern_of_poisson() {
    let a = poisson_2d(25);
    let ic = Ic0::try_new(&a).unwrap();
    assert_eq!(ic.shift(), 0.0);
    let l = ic.factor();
    let n = a.nrows();
    let mut worst = 0.0f64;
    for i in 0..n {
        for j in l.pattern().columns(i) {
            // (L Lᵀ)_ij = Σ_k l_ik l_jk
            let s: f64 = l
                .pattern()
                .columns(j)
                .map(|k| l.get(i, k) * l.get(j, k))
                .sum();
            worst = worst.max((s - a.get(i, j)).abs());
        }
    }
    assert!(worst <= 1e-12 * 4.0, "max |(L Lᵀ)_ij - a_ij| = {worst:e}");
    // M⁻¹ = L⁻ᵀ L⁻¹ is symmetric.
    let (x, y) = (random_vector(n, 11), random_vector(n, 12));
    let (lhs, rhs) = (dot(&apply(&ic, &x), &y), dot(&x, &apply(&ic, &y)));
    assert!(
        (lhs - rhs).abs() <= 1e-12 * lhs.abs().max(rhs.abs()),
        "{lhs} vs {rhs}"
    );
}

#[test]
fn ic0_shifts_the_diagonal_after_a_breakdown() {
    let a = kershaw();
    // Kershaw's matrix is SPD: the direct Cholesky succeeds.
    let a = Arc::new(a);
    let b = vec![1.0, 2.0, 3.0, 4.0];
    let o = options(1e-12);
    let (x, report) = solve_with(&DirectSolver::default(), &a, &b, &o);
    assert_eq!(report.solver, "direct-banded"); // 4 x 4: within the banded path's reach

    let ic = Ic0::try_new(&a).unwrap();
    assert!(ic.shift() > 0.0);
    assert!((ic.shift() - 0.256).abs() < 1e-12, "shift {}", ic.shift());
    // The factor matches the shifted matrix on the pattern.
    let l = ic.factor();
    for i in 0..4 {
        for j in l.pattern().columns(i) {
            let s: f64 = l
                .pattern()
                .columns(j)
                .map(|k| l.get(i, k) * l.get(j, k))
                .sum();
            let shifted = if i == j {
                a.get(i, i) * (1.0 + ic.shift())
            } else {
                a.get(i, j)
            };
            assert!((s - shifted).abs() <= 1e-12, "({i}, {j}): {s} vs {shifted}");
        }
    }
    // And it is a usable SPD preconditioner.
    let (x_cg, report) = solve_with(&ConjugateGradient::new(Arc::new(Ic0Factory)), &a, &b, &o);
    assert!(report.converged && report.iterations <= 6, "{report:?}");
    assert!(rel_max_diff(&x_cg, &x) <= 1e-9);

    // An indefinite matrix breaks down at every shift.
    let indefinite =
        CsrMatrix::try_from_triplets(2, 2, &[(0, 0, 1.0), (0, 1, 2.0), (1, 0, 2.0), (1, 1, 1.0)])
            .unwrap();
    let err = Ic0Factory.build(&indefinite).unwrap_err();
    assert_factorization_error(&err, "ic0", 1);
    assert!(err.to_string().contains("shift"), "{err}");
}

#[test]
fn bad_diagonals_are_factorization_errors_naming_the_row() {
    let zero = CsrMatrix::try_from_triplets(
        3,
        3,
        &[
            (0, 0, 2.0),
            (1, 1, 0.0),
            (1, 2, -1.0),
            (2, 1, -1.0),
            (2, 2, 2.0),
        ],
    )
    .unwrap();
    let missing =
        CsrMatrix::try_from_triplets(3, 3, &[(0, 0, 1.0), (1, 1, 1.0), (2, 1, 1.0)]).unwrap();
    let nan = CsrMatrix::try_from_triplets(2, 2, &[(0, 0, 1.0), (1, 1, f64::NAN)]).unwrap();
    for f in factories() {
        assert_factorization_error(&f.build(&zero).unwrap_err(), f.name(), 1);
        assert_factorization_error(&f.build(&missing).unwrap_err(), f.name(), 2);
        assert_factorization_error(&f.build(&nan).unwrap_err(), f.name(), 1);
    }
    // A zero pivot that only appears during elimination: [[1, 1], [1, 1]].
    let singular =
        CsrMatrix::try_from_triplets(2, 2, &[(0, 0, 1.0), (0, 1, 1.0), (1, 0, 1.0), (1, 1, 1.0)])
            .unwrap();
    assert_factorization_error(&Ilu0Factory.build(&singular).unwrap_err(), "ilu0", 1);
    // IC(0) rejects a negative diagonal outright.
    let negative = CsrMatrix::try_from_triplets(2, 2, &[(0, 0, 1.0), (1, 1, -2.0)]).unwrap();
    assert_factorization_error(&Ic0Factory.build(&negative).unwrap_err(), "ic0", 1);
    // SSOR and ILU(0) accept it.
    assert!(SsorFactory::default().build(&negative).is_ok());
    assert!(Ilu0Factory.build(&negative).is_ok());
}

#[test]
fn invalid_omega_is_an_invalid_option() {
    let a = poisson_1d(4);
    for omega in [0.0, 2.0, f64::NAN, -0.5, 2.5, f64::INFINITY] {
        let mut options = MethodOptions::default();
        options.ssor.omega = omega;
        let err = new_ssor(&options).build(&a).unwrap_err();
        assert!(
            matches!(&err, SolveError::InvalidOption { option, .. } if option == "ssor.omega"),
            "omega {omega}: {err}"
        );
    }
    assert!(SsorFactory::new(1e-3).build(&a).is_ok());
    assert!(SsorFactory::new(1.999).build(&a).is_ok());
}

#[test]
fn non_square_matrices_are_rejected() {
    let a = CsrMatrix::try_from_triplets(2, 3, &[(0, 0, 1.0), (1, 1, 1.0)]).unwrap();
    for f in factories() {
        let err = f.build(&a).unwrap_err();
        assert!(
            matches!(
                err,
                SolveError::DimensionMismatch {
                    rows: 2,
                    cols: 3,
                    ..
                }
            ),
            "{}: {err}",
            f.name()
        );
    }
}

#[test]
fn empty_matrices_work() {
    let a = CsrMatrix::try_from_triplets(0, 0, &[]).unwrap();
    for f in factories() {
        let pc = f.build(&a).unwrap();
        pc.apply(&[], &mut []);
    }
}
