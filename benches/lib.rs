//! Shared set-up for femscale's criterion benchmarks (`benches/`).
//!
//! Run them with `cargo bench -p femscale-benches`; `docs/performance.md` holds the tables.
//! The examples (`benches/examples/`) share [`stats`] (medians, ranges) and [`table`] (the
//! markdown tables they print, with the command and the number of runs above each).

use std::sync::Arc;

use femscale::assembly::{DirichletConditions, ParallelAssembler, SerialAssembler};
use femscale::core::{
    Assembler, BoundaryCondition, BoundaryKind, Constant, EllipticForm, LinearSystem, Result,
};
use femscale::expr::parse_field;
use femscale::mesh::{Mesh, RectangleSpec};

pub mod stats;
pub mod table;

/// The benchmark problem: `-laplace(u) = 2 pi^2 sin(pi x) sin(pi y)` with `u = 0` on the
/// boundary, the source given as an expression (as in a config file).
pub fn mms_form() -> EllipticForm {
    EllipticForm {
        diffusion: Arc::new(Constant(1.0)),
        reaction: None,
        source: Some(
            parse_field("problem.source", "2*pi^2*sin(pi*x)*sin(pi*y)", &[])
                .expect("valid expression"),
        ),
        boundary: vec![BoundaryCondition {
            part: "all".into(),
            kind: BoundaryKind::Dirichlet {
                value: Arc::new(Constant(0.0)),
            },
        }],
    }
}

/// The unit square with `n x n` squares, each split into two triangles.
pub fn square_mesh(n: usize) -> Mesh {
    Mesh::rectangle(&RectangleSpec {
        nx: n,
        ny: n,
        ..Default::default()
    })
    .expect("valid mesh")
}

/// The assembler under test.
pub fn assembler(parallel: bool) -> Box<dyn Assembler> {
    if parallel {
        Box::new(ParallelAssembler::default())
    } else {
        Box::new(SerialAssembler::default())
    }
}

/// Everything before the linear solve: mesh, pattern, assembly, Dirichlet elimination.
///
/// # Errors
/// Never for the benchmark inputs; propagated for completeness.
pub fn pipeline_until_solve(n: usize, parallel: bool) -> Result<LinearSystem> {
    let mesh = square_mesh(n);
    let form = mms_form();
    let a = assembler(parallel);
    let pattern = Arc::new(a.pattern(&mesh.view())?);
    let mut system = LinearSystem::zeros(pattern);
    a.assemble_into(&mesh.view(), &form, &mut system)?;
    DirichletConditions::from_form(&mesh.view(), &form)?.apply(&mut system)?;
    Ok(system)
}
