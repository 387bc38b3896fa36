//! The lower-level API: build a mesh, assemble once, factorize once, then solve for several
//! right-hand sides and refresh the factorization when only the coefficient changes.
//!
//! ```text
//! cargo run --release -p femscale-examples --example ex03_reuse_factorization
//! ```

use std::sync::Arc;

// Everything below comes from the prelude: meshes, forms, assemblers, `DirichletConditions`,
// the solvers and `NoMonitor`.
use femscale::prelude::*;

fn form(k: f64, source_scale: f64) -> EllipticForm {
    // A closure as the source: `FieldSpec::func`, built into the field the form holds.
    let bump = FieldSpec::func("scaled bump", move |p| {
        source_scale * (-(p[0] - 0.5).powi(2) - (p[1] - 0.5).powi(2)).exp()
    });
    EllipticForm {
        diffusion: Arc::new(Constant(k)),
        reaction: None,
        source: Some(
            bump.build("source", &Default::default())
                .expect("a Rust function builds"),
        ),
        boundary: vec![BoundaryCondition {
            part: "all".into(),
            kind: BoundaryKind::Dirichlet {
                value: Arc::new(Constant(0.0)),
            },
        }],
    }
}

fn main() -> anyhow::Result<()> {
    // 1. Mesh and pattern: once.
    let mesh = Mesh::rectangle(&RectangleSpec {
        nx: 128,
        ny: 128,
        ..Default::default()
    })?;
    let assembler = ParallelAssembler::default();
    let pattern = Arc::new(assembler.pattern(&mesh.view())?);

    // 2. Assemble with k = 1 and factorize.
    let mut system = LinearSystem::zeros(pattern.clone());
    assembler.assemble_into(&mesh.view(), &form(1.0, 1.0), &mut system)?;
    let dirichlet = DirichletConditions::from_form(&mesh.view(), &form(1.0, 1.0))?;
    dirichlet.apply(&mut system)?;
    let mut prepared = DirectSolver::new(DirectMethod::Auto)
        .prepare(Arc::new(system.matrix.clone()), &SolverOptions::default())?;

    // 3. Many right-hand sides: the solution scales with the source. Every report carries the
    //    set-up time of the factorization it used.
    let mut base = vec![0.0; mesh.num_nodes()];
    let first = prepared.solve(&system.rhs, &mut base, &mut NoMonitor)?;
    println!(
        "factorized {} unknowns in {:.3} s",
        mesh.num_nodes(),
        first.setup_seconds
    );
    for scale in [2.0, -0.5, 10.0] {
        let rhs: Vec<f64> = system.rhs.iter().map(|b| b * scale).collect();
        let mut x = vec![0.0; rhs.len()];
        let report = prepared.solve(&rhs, &mut x, &mut NoMonitor)?;
        let err = x
            .iter()
            .zip(&base)
            .map(|(a, b)| (a - scale * b).abs())
            .fold(0.0, f64::max);
        println!(
            "scale {scale:>5}: solve {:.4} s, max deviation from scaled solution {err:.1e}",
            report.solve_seconds
        );
        assert!(err < 1e-12 * scale.abs().max(1.0));
    }

    // 4. New coefficient, same pattern: only the numeric factorization is redone.
    let mut system2 = LinearSystem::zeros(pattern);
    assembler.assemble_into(&mesh.view(), &form(4.0, 1.0), &mut system2)?;
    dirichlet.apply(&mut system2)?;
    prepared.update_values(Arc::new(system2.matrix))?;
    let mut x = vec![0.0; mesh.num_nodes()];
    let refactorized = prepared.solve(&system2.rhs, &mut x, &mut NoMonitor)?;
    // k = 4 with the same source gives a quarter of the k = 1 solution.
    let err = x
        .iter()
        .zip(&base)
        .map(|(a, b)| (a - b / 4.0).abs())
        .fold(0.0, f64::max);
    println!(
        "refactorized in {:.3} s; max deviation from u/4: {err:.1e}",
        refactorized.setup_seconds
    );
    assert!(err < 1e-12);
    Ok(())
}
