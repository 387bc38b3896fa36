//! AMG-CG on P2/Q2 through the pipeline, which gives AMG the P1/Q1 space of the mesh as its
//! first coarse level: the iterations stay nearly flat under refinement (plain smoothed
//! aggregation on the P2 matrix needed a third more iterations per refinement).

use femscale_runtime::{Config, FemSolver};

/// AMG-CG iterations of `-lap u = 2 pi^2 sin(pi x) sin(pi y)`, `u = 0` on the boundary, on the
/// `n x n` square of `cell`s with order-2 elements; a small coarse size keeps the smaller
/// problem a multigrid (not a two-grid) solve.
fn iterations(n: usize, cell: &str) -> usize {
    let text = format!(
        "[problem]\ndim = 2\norder = 2\n\
         mesh = {{ kind = \"rectangle\", nx = {n}, ny = {n}, cell = \"{cell}\" }}\n\
         source = \"2*pi^2*sin(pi*x)*sin(pi*y)\"\n\
         boundary = [{{ where = \"all\", kind = \"dirichlet\", value = 0.0 }}]\n\
         [solver]\nkind = \"cg\"\npreconditioner = \"amg\"\ntolerance = 1e-8\n\
         [solver.amg]\ncoarse_size = 100\n"
    );
    let config = Config::from_toml_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let solution = FemSolver::from_config(config)
        .unwrap()
        .solve_configured()
        .unwrap();
    assert_eq!(solution.metrics.preconditioner, "amg");
    solution.metrics.iterations
}

#[test]
fn amg_cg_iterations_stay_flat_for_p2_and_q2() {
    for cell in ["triangle", "quadrilateral"] {
        let (coarse, fine) = (iterations(32, cell), iterations(128, cell));
        eprintln!("{cell}: {coarse} iterations at 32^2, {fine} at 128^2");
        assert!(
            10 * fine <= 13 * coarse,
            "{cell}: AMG-CG iterations grow from {coarse} (32^2) to {fine} (128^2)"
        );
        assert!(fine < 30, "{cell}: {fine} iterations at 128^2");
    }
}
