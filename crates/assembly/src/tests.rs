//! Unit tests of assembly invariants.

use std::sync::Arc;

use femscale_core::{
    Assembler, BoundaryCondition, BoundaryKind, Constant, EllipticForm, Error, FnField,
    LinearSystem, SharedField,
};
use femscale_mesh::{Diagonal, Mesh, RectangleCells, RectangleSpec};
use proptest::prelude::*;

use crate::{DirichletConditions, ParallelAssembler, SerialAssembler};

fn c(v: f64) -> SharedField {
    Arc::new(Constant(v))
}

fn form(
    k: SharedField,
    reaction: Option<SharedField>,
    source: Option<SharedField>,
    boundary: Vec<BoundaryCondition>,
) -> EllipticForm {
    EllipticForm {
        diffusion: k,
        reaction,
        source,
        boundary,
    }
}

fn assemble(a: &dyn Assembler, mesh: &Mesh, f: &EllipticForm) -> LinearSystem {
    let pattern = Arc::new(a.pattern(&mesh.view()).unwrap());
    let mut s = LinearSystem::zeros(pattern);
    a.assemble_into(&mesh.view(), f, &mut s).unwrap();
    s
}

fn rect(nx: usize, ny: usize, cells: RectangleCells, diagonal: Diagonal) -> Mesh {
    Mesh::rectangle(&RectangleSpec {
        x: [0.0, 2.0],
        y: [-1.0, 0.5],
        nx,
        ny,
        cells,
        diagonal,
    })
    .unwrap()
}

#[test]
fn stiffness_rows_sum_to_zero_and_mass_and_load_integrate_the_domain() {
    for cells in [RectangleCells::Triangle, RectangleCells::Quadrilateral] {
        let mesh = rect(7, 5, cells, Diagonal::Alternating);
        let k: SharedField = FnField::shared("1+x*y", |p| 2.0 + p[0] * p[1]);
        let s = assemble(
            &SerialAssembler::default(),
            &mesh,
            &form(k.clone(), None, Some(c(1.0)), vec![]),
        );
        let mut ones = vec![0.0; mesh.num_nodes()];
        s.matrix
            .mul_vec_into(&vec![1.0; mesh.num_nodes()], &mut ones);
        assert!(
            ones.iter().all(|v| v.abs() < 1e-12),
            "{cells:?}: stiffness kills constants"
        );
        assert!(
            (s.rhs.iter().sum::<f64>() - 3.0).abs() < 1e-12,
            "{cells:?}: load integrates 1 over the area 3"
        );
        assert!(s.matrix.is_symmetric(1e-14));
        // Mass matrix only (k -> reaction test): sum of all entries = c * area.
        let m = assemble(
            &SerialAssembler::default(),
            &mesh,
            &form(c(1e-300), Some(c(2.0)), None, vec![]),
        );
        assert!(
            (m.matrix.values().iter().sum::<f64>() - 6.0).abs() < 1e-12,
            "{cells:?}"
        );
    }
}

#[test]
fn parallel_assembly_matches_serial_to_rounding_with_identical_structure() {
    for cells in [RectangleCells::Triangle, RectangleCells::Quadrilateral] {
        let mesh = rect(90, 60, cells, Diagonal::Right);
        let f = form(
            FnField::shared("k", |p| 1.0 + p[0] * p[0]),
            Some(FnField::shared("c", |p| p[1].abs())),
            Some(FnField::shared("f", |p| (3.0 * p[0]).sin())),
            vec![BoundaryCondition {
                part: "top".into(),
                kind: BoundaryKind::Robin {
                    alpha: c(2.0),
                    value: c(1.0),
                },
            }],
        );
        let s = assemble(&SerialAssembler::default(), &mesh, &f);
        let p = assemble(
            &ParallelAssembler {
                block_cells: 64,
                ..Default::default()
            },
            &mesh,
            &f,
        );
        assert_eq!(s.matrix.pattern(), p.matrix.pattern());
        let scale = s.matrix.values().iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (a, b) in s.matrix.values().iter().zip(p.matrix.values()) {
            assert!((a - b).abs() <= 1e-12 * scale);
        }
        for (a, b) in s.rhs.iter().zip(&p.rhs) {
            assert!((a - b).abs() <= 1e-12 * (1.0 + a.abs()));
        }
    }
}

#[test]
fn dirichlet_elimination_is_symmetric_and_reproduces_boundary_values() {
    let mesh = rect(6, 4, RectangleCells::Triangle, Diagonal::Left);
    let g: SharedField = FnField::shared("x+2y", |p| p[0] + 2.0 * p[1]);
    let f = form(
        c(1.0),
        None,
        None,
        vec![BoundaryCondition {
            part: "all".into(),
            kind: BoundaryKind::Dirichlet { value: g.clone() },
        }],
    );
    let mut s = assemble(&SerialAssembler::default(), &mesh, &f);
    let bc = DirichletConditions::from_form(&mesh.view(), &f).unwrap();
    assert_eq!(bc.len(), 2 * (6 + 4));
    bc.apply(&mut s).unwrap();
    assert!(s.matrix.is_symmetric(0.0));
    // A linear function is discrete-harmonic: it must solve the eliminated system exactly.
    let u: Vec<f64> = mesh.points().iter().map(|p| p[0] + 2.0 * p[1]).collect();
    let mut au = vec![0.0; u.len()];
    s.matrix.mul_vec_into(&u, &mut au);
    for (a, b) in au.iter().zip(&s.rhs) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
}

#[test]
fn bad_input_gives_typed_errors() {
    let mesh = rect(3, 3, RectangleCells::Triangle, Diagonal::Right);
    let a = SerialAssembler::default();
    let pattern = Arc::new(a.pattern(&mesh.view()).unwrap());
    let mut s = LinearSystem::zeros(pattern);
    let unknown = form(
        c(1.0),
        None,
        None,
        vec![BoundaryCondition {
            part: "north".into(),
            kind: BoundaryKind::Neumann { flux: c(0.0) },
        }],
    );
    match a.assemble_into(&mesh.view(), &unknown, &mut s) {
        Err(Error::UnknownName {
            field, name, known, ..
        }) => {
            assert_eq!(field, "boundary[0].where");
            assert_eq!(name, "north");
            assert!(known.contains(&"top".to_string()));
        }
        other => panic!("expected UnknownName, got {other:?}"),
    }
    let nan = form(c(f64::NAN), None, None, vec![]);
    assert_eq!(
        a.assemble_into(&mesh.view(), &nan, &mut s)
            .unwrap_err()
            .field_name()
            .as_deref(),
        Some("diffusion")
    );
    let neg = form(FnField::shared("x-1", |p| p[0] - 1.0), None, None, vec![]);
    let e = ParallelAssembler::default()
        .assemble_into(&mesh.view(), &neg, &mut s)
        .unwrap_err();
    assert_eq!(e.field_name().as_deref(), Some("diffusion"), "{e}");
    let inf_src = form(
        c(1.0),
        None,
        Some(FnField::shared("ln(y)", |p| p[1].ln())),
        vec![],
    );
    assert_eq!(
        a.assemble_into(&mesh.view(), &inf_src, &mut s)
            .unwrap_err()
            .field_name()
            .as_deref(),
        Some("source")
    );
    let other_mesh = rect(4, 3, RectangleCells::Triangle, Diagonal::Right);
    assert!(
        a.assemble_into(
            &other_mesh.view(),
            &form(c(1.0), None, None, vec![]),
            &mut s
        )
        .is_err()
    );
}

#[test]
fn neumann_and_robin_in_1d_add_point_terms() {
    let mesh = Mesh::interval(0.0, 1.0, 4).unwrap();
    let f = form(
        c(1.0),
        None,
        None,
        vec![
            BoundaryCondition {
                part: "left".into(),
                kind: BoundaryKind::Neumann { flux: c(3.0) },
            },
            BoundaryCondition {
                part: "right".into(),
                kind: BoundaryKind::Robin {
                    alpha: c(2.0),
                    value: c(5.0),
                },
            },
        ],
    );
    let s = assemble(&SerialAssembler::default(), &mesh, &f);
    assert_eq!(s.rhs[0], 3.0);
    assert_eq!(s.rhs[4], 5.0);
    assert_eq!(s.matrix.get(4, 4), 4.0 + 2.0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn assembled_matrices_are_symmetric_with_nonnegative_diagonal_and_zero_row_sums(
        nx in 1usize..9, ny in 1usize..9, quad in any::<bool>(), diag in 0u8..3, k0 in 0.1f64..10.0,
    ) {
        let cells = if quad { RectangleCells::Quadrilateral } else { RectangleCells::Triangle };
        let mesh = rect(nx, ny, cells, [Diagonal::Right, Diagonal::Left, Diagonal::Alternating][diag as usize]);
        let f = form(FnField::shared("k", move |p| k0 + p[0] * p[0]), None, None, vec![]);
        let s = assemble(&ParallelAssembler { block_cells: 3, ..Default::default() }, &mesh, &f);
        prop_assert!(s.matrix.is_symmetric(1e-13));
        prop_assert!(s.matrix.diagonal().iter().all(|&d| d > 0.0));
        let mut r = vec![0.0; mesh.num_nodes()];
        s.matrix.mul_vec_into(&vec![1.0; mesh.num_nodes()], &mut r);
        prop_assert!(r.iter().all(|v| v.abs() < 1e-10 * (1.0 + k0)));
    }
}

#[test]
fn caller_built_views_and_parameters_give_errors_not_panics() {
    use femscale_core::{BoundaryPart, CellKind, MeshView};
    let good = Mesh::interval(0.0, 1.0, 2).unwrap();
    let f = form(c(1.0), None, Some(c(1.0)), vec![]);
    let pattern = Arc::new(SerialAssembler::default().pattern(&good.view()).unwrap());
    let coords = [0.0, 0.5, 1.0];
    let bad_views = [
        MeshView {
            dim: 1,
            coords: &coords,
            order: femscale_core::Order::Linear,
            curved: false,
            cell_kind: CellKind::Interval,
            cells: &[0, 1, 1, 7],
            boundary: &[],
            cell_markers: &[],
            subdomains: &[],
            validated: femscale_core::Validated::NO,
        },
        MeshView {
            dim: 0,
            coords: &coords,
            order: femscale_core::Order::Linear,
            curved: false,
            cell_kind: CellKind::Interval,
            cells: &[0, 1],
            boundary: &[],
            cell_markers: &[],
            subdomains: &[],
            validated: femscale_core::Validated::NO,
        },
        MeshView {
            dim: 1,
            coords: &coords,
            order: femscale_core::Order::Linear,
            curved: false,
            cell_kind: CellKind::Interval,
            cells: &[0, 1, 1],
            boundary: &[],
            cell_markers: &[],
            subdomains: &[],
            validated: femscale_core::Validated::NO,
        },
    ];
    for view in bad_views {
        for a in [
            &SerialAssembler::default() as &dyn Assembler,
            &ParallelAssembler::default(),
        ] {
            let mut s = LinearSystem::zeros(pattern.clone());
            assert!(matches!(
                a.assemble_into(&view, &f, &mut s),
                Err(Error::Mesh { .. }) | Err(Error::InvalidInput { .. })
            ));
            assert!(a.pattern(&view).is_err());
        }
    }
    let far = [BoundaryPart {
        name: "far".into(),
        id: None,
        facets: vec![9],
        nodes: vec![9],
    }];
    let view = MeshView {
        boundary: &far,
        // A changed view is not known to be valid.
        validated: femscale_core::Validated::NO,
        ..good.view()
    };
    let dirichlet = form(
        c(1.0),
        None,
        None,
        vec![BoundaryCondition {
            part: "far".into(),
            kind: BoundaryKind::Dirichlet { value: c(0.0) },
        }],
    );
    assert!(DirichletConditions::from_form(&view, &dirichlet).is_err());

    // Oversized blocks and unsupported quadrature degrees.
    let mut s = LinearSystem::zeros(pattern.clone());
    ParallelAssembler {
        block_cells: usize::MAX,
        ..Default::default()
    }
    .assemble_into(&good.view(), &f, &mut s)
    .unwrap();
    let tri = rect(2, 2, RectangleCells::Triangle, Diagonal::Right);
    let tri_pattern = Arc::new(SerialAssembler::default().pattern(&tri.view()).unwrap());
    let e = SerialAssembler {
        quadrature_degree: 8,
    }
    .assemble_into(&tri.view(), &f, &mut LinearSystem::zeros(tri_pattern))
    .unwrap_err();
    assert_eq!(e.field_name().as_deref(), Some("quadrature_degree"));
}

#[test]
fn error_norms_report_non_finite_exact_solutions_and_solutions() {
    let mesh = Mesh::interval(0.0, 1.0, 8).unwrap();
    let sqrt = FnField::new("sqrt(x-0.5)", |p: [f64; 3]| (p[0] - 0.5).sqrt());
    let e = crate::error_norms(&mesh.view(), &[0.0; 9], &sqrt).unwrap_err();
    assert_eq!(e.field_name().as_deref(), Some("exact"));
    let mut uh = vec![0.0; 9];
    uh[3] = f64::NAN;
    let norms = crate::error_norms(&mesh.view(), &uh, &Constant(0.0)).unwrap();
    assert!(norms.max_nodal.is_nan() && norms.l2.is_nan());
}

#[test]
fn error_norms_of_huge_or_tiny_errors_are_those_of_ordinary_ones_scaled() {
    let mesh = rect(8, 8, RectangleCells::Triangle, Diagonal::Right);
    let uh = vec![0.0; mesh.num_nodes()];
    let field = |s: f64| {
        FnField::new("s sin sin", move |p: [f64; 3]| {
            s * (std::f64::consts::PI * p[0]).sin() * (std::f64::consts::PI * p[1]).sin()
        })
    };
    let base = crate::error_norms(&mesh.view(), &uh, &field(1.0)).unwrap();
    assert!(base.l2 > 0.1 && base.h1_seminorm > 1.0, "{base:?}");
    // Powers of two: the errors (and the gradients' differences) scale exactly.
    for k in [-530, -600, 665, 1000] {
        let s = 2f64.powi(k);
        let norms = crate::error_norms(&mesh.view(), &uh, &field(s)).unwrap();
        for (got, want) in [(norms.l2, base.l2), (norms.h1_seminorm, base.h1_seminorm)] {
            assert!(
                ((got / s) / want - 1.0).abs() < 1e-12,
                "2^{k}: {got:e} against {want:e}"
            );
        }
    }
}
