//! Reusing an assembled, eliminated operator: load-only assembly and the Dirichlet lift must
//! reproduce, bit for bit, the right-hand side of a full assembly plus elimination.

use std::sync::Arc;

use femscale_assembly::{DirichletConditions, DirichletLift, ParallelAssembler, SerialAssembler};
use femscale_core::{
    Assembler, BoundaryCondition, BoundaryKind, Constant, EllipticForm, Error, FnField,
    LinearSystem, SharedField,
};
use femscale_mesh::{Diagonal, Mesh, RectangleCells, RectangleSpec};

fn c(v: f64) -> SharedField {
    Arc::new(Constant(v))
}

fn mesh(cells: RectangleCells) -> Mesh {
    Mesh::rectangle(&RectangleSpec {
        x: [0.0, 2.0],
        y: [-1.0, 0.5],
        nx: 37,
        ny: 29,
        cells,
        diagonal: Diagonal::Alternating,
    })
    .unwrap()
}

/// Variable diffusion and reaction, a source `s`, Dirichlet `g` on left and bottom, Neumann on
/// the right, Robin on the top.
fn form(s: f64, g: f64) -> EllipticForm {
    let bc = |part: &str, kind| BoundaryCondition {
        part: part.into(),
        kind,
    };
    EllipticForm {
        diffusion: FnField::shared("k", |p| 1.5 + p[0] * p[0]),
        reaction: Some(FnField::shared("c", |p| 0.5 + p[1].abs())),
        source: Some(FnField::shared("f", move |p| s * (p[0] * 3.0).sin() + p[1])),
        boundary: vec![
            bc(
                "left",
                BoundaryKind::Dirichlet {
                    value: FnField::shared("g", move |p| g * (1.0 + p[1])),
                },
            ),
            bc("bottom", BoundaryKind::Dirichlet { value: c(g) }),
            bc(
                "right",
                BoundaryKind::Neumann {
                    flux: FnField::shared("h", move |p| s * p[1]),
                },
            ),
            bc(
                "top",
                BoundaryKind::Robin {
                    alpha: FnField::shared("a", |p| 2.0 + p[0]),
                    value: c(s),
                },
            ),
        ],
    }
}

fn full(a: &dyn Assembler, mesh: &Mesh, f: &EllipticForm) -> (LinearSystem, DirichletLift) {
    let pattern = Arc::new(a.pattern(&mesh.view()).unwrap());
    let mut system = LinearSystem::zeros(pattern);
    a.assemble_into(&mesh.view(), f, &mut system).unwrap();
    let lift = DirichletConditions::from_form(&mesh.view(), f)
        .unwrap()
        .apply_recording(&mut system)
        .unwrap();
    (system, lift)
}

#[test]
fn load_only_assembly_equals_the_full_right_hand_side() {
    let assemblers: [&dyn Assembler; 2] = [
        &SerialAssembler::default(),
        &ParallelAssembler {
            block_cells: 16,
            ..Default::default()
        },
    ];
    for cells in [RectangleCells::Triangle, RectangleCells::Quadrilateral] {
        let mesh = mesh(cells);
        for a in assemblers {
            let f = form(3.0, 0.25);
            let pattern = Arc::new(a.pattern(&mesh.view()).unwrap());
            let mut system = LinearSystem::zeros(pattern.clone());
            let full_stats = a.assemble_into(&mesh.view(), &f, &mut system).unwrap();
            let mut rhs = vec![f64::NAN; system.rhs.len()];
            let stats = a
                .assemble_rhs(&mesh.view(), &f, &pattern, &mut rhs)
                .unwrap();
            assert_eq!(rhs, system.rhs, "{cells:?} {}", a.name());
            // Only the source is sampled (diffusion and reaction are matrix terms).
            assert_eq!(stats.field_evaluations * 3, full_stats.field_evaluations);
            assert_eq!(stats.boundary_facets, full_stats.boundary_facets);
        }
    }
}

#[test]
fn lift_reproduces_the_eliminated_rhs_for_new_sources_and_boundary_values() {
    let mesh = mesh(RectangleCells::Triangle);
    let a = ParallelAssembler::default();
    let (operator, lift) = full(&a, &mesh, &form(1.0, 0.0));
    for (s, g) in [(1.0, 0.0), (-2.0, 0.75), (10.0, -3.0)] {
        let f = form(s, g);
        let (fresh, _) = full(&a, &mesh, &f);
        // The operator does not depend on the source or the Dirichlet values.
        assert_eq!(fresh.matrix.values(), operator.matrix.values());
        let mut rhs = vec![0.0; fresh.rhs.len()];
        a.assemble_rhs(&mesh.view(), &f, operator.matrix.pattern(), &mut rhs)
            .unwrap();
        let conditions = DirichletConditions::from_form(&mesh.view(), &f).unwrap();
        lift.apply_rhs(&conditions, &mut rhs).unwrap();
        assert_eq!(rhs, fresh.rhs, "s = {s}, g = {g}");
    }
}

#[test]
fn lift_round_trips_through_its_parts_and_rejects_bad_ones() {
    let mesh = mesh(RectangleCells::Quadrilateral);
    let (_, lift) = full(&SerialAssembler::default(), &mesh, &form(1.0, 1.0));
    let (rows, cols, values) = lift.couplings();
    assert!(!rows.is_empty());
    let rebuilt = DirichletLift::from_parts(
        lift.num_nodes(),
        lift.fixed_nodes().to_vec(),
        lift.diagonal().to_vec(),
        rows.to_vec(),
        cols.to_vec(),
        values.to_vec(),
    )
    .unwrap();
    assert_eq!(rebuilt, lift);
    let n = lift.num_nodes();
    let bad = [
        DirichletLift::from_parts(n, vec![3, 2], vec![1.0, 1.0], vec![], vec![], vec![]),
        DirichletLift::from_parts(n, vec![n], vec![1.0], vec![], vec![], vec![]),
        DirichletLift::from_parts(n, vec![2], vec![], vec![], vec![], vec![]),
        DirichletLift::from_parts(n, vec![2], vec![1.0], vec![0], vec![1], vec![1.0]),
        DirichletLift::from_parts(n, vec![2], vec![f64::NAN], vec![], vec![], vec![]),
        DirichletLift::from_parts(n, vec![2], vec![1.0], vec![0, 1], vec![2], vec![1.0]),
    ];
    for b in bad {
        assert!(
            matches!(b, Err(Error::InvalidInput { ref field, .. }) if field == "dirichlet_lift"),
            "{b:?}"
        );
    }
}

#[test]
fn lift_refuses_other_dirichlet_nodes() {
    let mesh = mesh(RectangleCells::Triangle);
    let (_, lift) = full(&SerialAssembler::default(), &mesh, &form(1.0, 1.0));
    let mut other = form(1.0, 1.0);
    other.boundary.truncate(1); // only `left` is Dirichlet now
    let conditions = DirichletConditions::from_form(&mesh.view(), &other).unwrap();
    let mut rhs = vec![0.0; mesh.num_nodes()];
    assert!(matches!(
        lift.apply_rhs(&conditions, &mut rhs),
        Err(Error::InvalidInput { field, .. }) if field == "boundary"
    ));
    let serial = SerialAssembler::default();
    let pattern = Arc::new(serial.pattern(&mesh.view()).unwrap());
    assert!(
        serial
            .assemble_rhs(&mesh.view(), &other, &pattern, &mut rhs[1..])
            .is_err()
    );
}
