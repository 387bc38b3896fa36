//! The coloured parallel assembler against the serial one, and subdomain coefficients, on 3D
//! and order-2 meshes.

use std::sync::Arc;

use femscale_core::{
    Assembler, BoundaryKind, CellKind, Constant, EllipticForm, Order, SharedField, SubdomainField,
};

use super::{ELEMENTS, Shape, assemble, bc, field, grid, grid_with_markers};
use crate::{ParallelAssembler, SerialAssembler};

fn form(diffusion: SharedField) -> EllipticForm {
    EllipticForm {
        diffusion,
        reaction: Some(field(|p| 1.0 + p[1] * p[1])),
        source: Some(field(|p| (2.0 * p[0] + p[2]).sin())),
        boundary: vec![
            bc(
                "right",
                BoundaryKind::Neumann {
                    flux: field(|p| p[1] - p[2]),
                },
            ),
            bc(
                "top",
                BoundaryKind::Robin {
                    alpha: Arc::new(Constant(3.0)),
                    value: field(|p| p[0]),
                },
            ),
        ],
    }
}

/// 3D elements of both orders and the quadratic 2D ones.
fn cases() -> impl Iterator<Item = (CellKind, Order)> {
    ELEMENTS
        .into_iter()
        .filter(|(k, o)| k.dim() == 3 || (k.dim() == 2 && *o == Order::Quadratic))
}

#[test]
fn parallel_assembly_matches_serial_in_3d_and_at_order_2() {
    for (kind, order) in cases() {
        let n = if kind.dim() == 3 { 3 } else { 6 };
        let mesh = grid(kind, order, n, Shape::Distorted);
        let f = form(field(|p| 1.0 + p[0] * p[0]));
        let serial = assemble(&SerialAssembler::default(), &mesh, &f);
        let parallel = ParallelAssembler {
            block_cells: 5,
            ..Default::default()
        };
        let par = assemble(&parallel, &mesh, &f);
        assert_eq!(
            serial.matrix.pattern(),
            par.matrix.pattern(),
            "{kind:?} {order:?}"
        );
        let scale = (serial.matrix.values().iter()).fold(0.0f64, |m, v| m.max(v.abs()));
        for (a, b) in serial.matrix.values().iter().zip(par.matrix.values()) {
            assert!(
                (a - b).abs() <= 1e-12 * scale,
                "{kind:?} {order:?}: {a} vs {b}"
            );
        }
        assert!(
            serial.matrix.is_symmetric(1e-13 * scale),
            "{kind:?} {order:?}"
        );
        // The load vector alone (assemble_rhs) is the one assemble_into builds.
        for a in [&SerialAssembler::default() as &dyn Assembler, &parallel] {
            let mut rhs = vec![0.0; mesh.num_nodes()];
            a.assemble_rhs(&mesh.view(), &f, serial.matrix.pattern(), &mut rhs)
                .unwrap();
            for (x, y) in serial
                .rhs
                .iter()
                .zip(&par.rhs)
                .chain(serial.rhs.iter().zip(&rhs))
            {
                assert!(
                    (x - y).abs() <= 1e-12 * (1.0 + x.abs()),
                    "{kind:?} {order:?}"
                );
            }
        }
    }
}

#[test]
fn subdomain_coefficients_work_on_3d_and_order_2_meshes() {
    for (kind, order) in cases() {
        let n = if kind.dim() == 3 { 2 } else { 4 };
        let mesh = grid_with_markers(kind, order, n, Shape::Uniform, true);
        // Per subdomain, and the same coefficient as a function of x (no cell straddles x = 1/2).
        let pieces = SubdomainField::new(vec![
            ("west".into(), Arc::new(Constant(2.0)) as SharedField),
            ("2".into(), field(|p| 3.0 + p[1])),
        ]);
        let by_x = field(|p| if p[0] < 0.5 { 2.0 } else { 3.0 + p[1] });
        let a = assemble(
            &ParallelAssembler::default(),
            &mesh,
            &form(Arc::new(pieces)),
        );
        let b = assemble(&SerialAssembler::default(), &mesh, &form(by_x));
        for (x, y) in a.matrix.values().iter().zip(b.matrix.values()) {
            assert!(
                (x - y).abs() <= 1e-12 * (1.0 + x.abs()),
                "{kind:?} {order:?}"
            );
        }
    }
}

#[test]
fn error_norms_refuse_an_exact_solution_by_subdomain() {
    let mesh = grid_with_markers(CellKind::Triangle, Order::Linear, 4, Shape::Uniform, true);
    let pieces = SubdomainField::new(vec![
        ("west".into(), Arc::new(Constant(2.0)) as SharedField),
        ("2".into(), field(|p| 3.0 + p[1])),
    ]);
    let uh = vec![0.0; mesh.num_nodes()];
    let e = crate::error_norms(&mesh.view(), &uh, &pieces).unwrap_err();
    assert!(
        matches!(&e, femscale_core::Error::InvalidInput { field, .. } if field == "exact"),
        "{e}"
    );
}
