//! Part 2: Assemble once, factorize once, solve many right-hand sides: 20 sources and boundary
//! values on one operator, in one block solve.

use std::sync::Arc;

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

/// Member `j` of the family: `k = 1 + x y` always; a bump source that moves with `j` and
/// Dirichlet values `u = 0.1 j x` on the whole boundary.
fn member(j: usize) -> Problem {
    let (cx, t) = (0.2 + 0.03 * j as f64, 0.1 * j as f64);
    Problem {
        mesh: MeshSpec::Rectangle(RectangleSpec {
            nx: 40,
            ny: 40,
            ..Default::default()
        }),
        diffusion: FieldSpec::func("1 + x y", |p| 1.0 + p[0] * p[1]),
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

/// The right-hand side of `problem` on `op`'s matrix: its load vector (the matrix is not
/// assembled again), then its Dirichlet values lifted with the recorded elimination. (The
/// pipeline assembles a problem this small serially, `op.assembly.parallel == false`, so the
/// serial assembler's load vector is the pipeline's, bit for bit: checked below.)
fn rhs_for(op: &AssembledOperator, problem: &Problem) -> Res<Vec<f64>> {
    let (mesh, form) = (op.mesh.view(), problem.form()?);
    let mut rhs = vec![0.0; op.rhs.len()];
    SerialAssembler::default().assemble_rhs(&mesh, &form, op.matrix.pattern(), &mut rhs)?;
    op.lift
        .apply_rhs(&DirichletConditions::from_form(&mesh, &form)?, &mut rhs)?;
    Ok(rhs)
}

pub fn run(fem: &FemSolver) -> Res<Reused> {
    let op = fem.assemble(&member(0))?;
    let n = op.rhs.len();
    let mut b = Vec::with_capacity(COUNT * n);
    for j in 0..COUNT {
        b.extend(rhs_for(&op, &member(j))?);
    }
    // The lifted load vector of member 0 is the pipeline's own, bit for bit.
    assert!(
        b[..n] == op.rhs[..],
        "re-lifted rhs differs from the assembled one"
    );

    // One factorization (the direct solver FemSolver::solve picks at this size), one block solve.
    let mut prepared =
        DirectSolver::default().prepare(Arc::clone(&op.matrix), &SolverOptions::default())?;
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
        let sol = fem.solve(&member(j))?;
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
