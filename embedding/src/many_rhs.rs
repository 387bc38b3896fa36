//! Part 2: Assemble once, factorize once, solve many right-hand sides: 20 sources and boundary
//! values on one operator, in one block solve.

use femscale::prelude::*;

use crate::Res;

/// Right-hand sides in the study.
pub const COUNT: usize = 20;

/// The operator, its factorization, and the block of right-hand sides with their solutions
/// (column-major: column `j` is `b[j*n..(j+1)*n]`), for parts 3 and 6.
pub struct Reused {
    pub op: AssembledOperator,
    pub prepared: Box<dyn PreparedSolver>,
    pub b: Vec<f64>,
    pub x: Vec<f64>,
}

/// Member `j` of the family: the diffusion `k` (the same for all: one closure, cloned), a bump
/// source that moves with `j` and Dirichlet values `u = 0.1 j x` on the whole boundary.
fn member(j: usize, k: &FieldSpec) -> Problem {
    let (cx, t) = (0.2 + 0.03 * j as f64, 0.1 * j as f64);
    Problem {
        mesh: MeshSpec::Rectangle(RectangleSpec {
            nx: 40,
            ny: 40,
            ..Default::default()
        }),
        diffusion: k.clone(),
        source: Some(FieldSpec::func(format!("bump at x={cx}"), move |p| {
            (-20.0 * ((p[0] - cx).powi(2) + (p[1] - 0.5).powi(2))).exp()
        })),
        boundary: vec![BoundarySpec::dirichlet(
            "all",
            FieldSpec::func(format!("{t} x"), move |p| t * p[0]),
        )],
        ..Problem::default()
    }
}

pub fn run(fem: &FemSolver) -> Res<Reused> {
    // A closure field is the same field where it is the same clone: assemble_rhs compares it
    // by identity, never by label.
    let k = FieldSpec::func("1 + x y", |p| 1.0 + p[0] * p[1]);
    let op = fem.assemble(&member(0, &k))?;
    let n = op.rhs.len();
    let mut b = Vec::with_capacity(COUNT * n);
    for j in 0..COUNT {
        // The load vector only (the matrix is not assembled again), lifted onto op's matrix;
        // a member with another matrix (diffusion, mesh, Robin alpha) would be refused.
        b.extend(fem.assemble_rhs(&op, &member(j, &k))?);
    }
    // Member 0's is the assembled one, bit for bit.
    assert!(
        b[..n] == op.rhs[..],
        "re-lifted rhs differs from the assembled one"
    );

    // One factorization — the solver and options FemSolver::solve would use (direct at this
    // size) — and one block solve.
    let mut prepared = fem.prepare(&op)?;
    let mut x = vec![0.0; b.len()];
    let reports = prepared.solve_many(&b, &mut x, &mut NoMonitor)?;
    assert_eq!(reports.len(), COUNT);

    // Each column equals a single solve, bit for bit.
    for (bj, xj) in b.chunks(n).zip(x.chunks(n)) {
        let mut y = vec![0.0; n];
        prepared.solve(bj, &mut y, &mut NoMonitor)?;
        assert!(y == xj, "block and single solves differ");
    }
    // The first and last columns equal the full pipeline's solutions, bit for bit.
    for j in [0, COUNT - 1] {
        let sol = fem.solve(&member(j, &k))?;
        assert!(
            sol.values[..] == x[j * n..(j + 1) * n],
            "column {j} != FemSolver::solve"
        );
    }
    println!(
        "2. one operator ({n} unknowns, assembled in {:.1} ms), one {} factorization, \
         {COUNT} right-hand sides in one block = single solves = FemSolver::solve",
        op.phases.assembly * 1e3,
        reports[0].solver
    );
    Ok(Reused { op, prepared, b, x })
}
