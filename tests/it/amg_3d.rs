//! AMG on 3D and quadratic operators: the hierarchy really coarsens (a 27-point Q1 stencil
//! once did not coarsen at all and was factorised whole), AMG-CG iteration counts stay nearly
//! flat under refinement for 3D P1/Q1, and stay bounded for P2/Q2; a positive strength
//! threshold no longer drops coupled nodes from the coarse space.

use femscale::prelude::*;

/// The assembled, constrained operator of -lap u = 1, u = 0 on the unit cube or square.
fn operator(mesh: MeshSpec, order: Order) -> AssembledOperator {
    let mut problem = Problem::new(mesh);
    problem.order = order;
    problem.source = Some(FieldSpec::Constant(1.0));
    problem.boundary = vec![BoundarySpec::dirichlet("all", 0.0)];
    FemSolver::new().assemble(&problem).unwrap()
}

fn cube(n: usize, cells: BoxCells) -> MeshSpec {
    MeshSpec::Box(BoxSpec {
        nx: n,
        ny: n,
        nz: n,
        cells,
        ..BoxSpec::default()
    })
}

fn square(n: usize, cells: RectangleCells) -> MeshSpec {
    MeshSpec::Rectangle(RectangleSpec {
        nx: n,
        ny: n,
        cells,
        ..RectangleSpec::default()
    })
}

/// AMG-CG iterations to relative residual 1e-8, and the hierarchy's levels.
fn amg_cg(op: &AssembledOperator, options: AmgOptions) -> (usize, usize) {
    let levels = AmgFactory::new(options.clone())
        .build_with_budget(&op.matrix, None, None)
        .unwrap()
        .num_levels();
    let solver = ConjugateGradient::new(std::sync::Arc::new(AmgFactory::new(options)));
    let solver_options = SolverOptions::default()
        .with_tolerance(1e-8)
        .with_max_iterations(500);
    let mut prepared = solver.prepare(op.matrix.clone(), &solver_options).unwrap();
    let mut x = vec![0.0; op.rhs.len()];
    let report = prepared.solve(&op.rhs, &mut x, &mut NoMonitor).unwrap();
    (report.iterations, levels)
}

/// A family of meshes by size, its element order and three sizes.
type Case = (&'static str, fn(usize) -> MeshSpec, Order, [usize; 3]);

#[test]
fn amg_coarsens_3d_and_quadratic_operators_with_flat_iteration_counts() {
    let cases: [Case; 5] = [
        (
            "P1 tetrahedra",
            |n| cube(n, BoxCells::Tetrahedron),
            Order::Linear,
            [16, 24, 32],
        ),
        (
            "Q1 hexahedra",
            |n| cube(n, BoxCells::Hexahedron),
            Order::Linear,
            [16, 24, 32],
        ),
        (
            "P2 tetrahedra",
            |n| cube(n, BoxCells::Tetrahedron),
            Order::Quadratic,
            [4, 8, 12],
        ),
        (
            "P2 triangles",
            |n| square(n, RectangleCells::Triangle),
            Order::Quadratic,
            [16, 32, 64],
        ),
        (
            "Q2 quadrilaterals",
            |n| square(n, RectangleCells::Quadrilateral),
            Order::Quadratic,
            [16, 32, 64],
        ),
    ];
    for (name, mesh, order, sizes) in cases {
        let runs: Vec<(usize, usize, usize)> = sizes
            .iter()
            .map(|&n| {
                let op = operator(mesh(n), order);
                let (iterations, levels) = amg_cg(&op, AmgOptions::default().with_coarse_size(200));
                (op.matrix.nrows(), iterations, levels)
            })
            .collect();
        eprintln!("{name}: (unknowns, iterations, levels) {runs:?}");
        let (_, last_iterations, last_levels) = runs[2];
        assert!(
            last_levels >= 2,
            "{name}: the hierarchy did not coarsen: {runs:?}"
        );
        // Issue 18: at most 30 % growth for P1/Q1 from 16³ cubes on (the W-cycle keeps them
        // flat; smaller cubes are two-level solves); bounded (at most doubling over a 20-fold
        // size) for P2/Q2.
        let first = runs[0].1.max(1);
        let allowed = match order {
            Order::Linear => first + (3 * first) / 10,
            Order::Quadratic => 2 * first,
        };
        assert!(
            last_iterations <= allowed,
            "{name}: iterations grow from {first} to {last_iterations}: {runs:?}"
        );
        assert!(last_iterations < 60, "{name}: {runs:?}");
    }
}

/// With θ > 0 the 27-point Q1 stencil has no strong coupling at all; its nodes keep their
/// strongest one and the hierarchy still coarsens (it once factorised the whole matrix).
#[test]
fn a_positive_strength_threshold_still_coarsens_hexahedra() {
    let op = operator(cube(12, BoxCells::Hexahedron), Order::Linear);
    let options = AmgOptions::default()
        .with_coarse_size(200)
        .with_strength_threshold(0.08);
    let (iterations, levels) = amg_cg(&op, options);
    assert!(
        levels >= 3 && iterations < 20,
        "{levels} levels, {iterations} iterations"
    );
}
