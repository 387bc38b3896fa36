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

/// A constant diffusion on affine order-2 cells takes the reference stiffness tensor; the
/// same diffusion as a sampled field takes the per-point gradients. Both integrate the same
/// rule, so the matrices agree to rounding, on uniform and sheared grids, with the reaction,
/// Neumann and Robin terms of [`form`] on top.
#[test]
fn the_reference_stiffness_tensor_is_the_quadrature() {
    for kind in [
        CellKind::Interval,
        CellKind::Triangle,
        CellKind::Tetrahedron,
    ] {
        // Distorted grids move the vertices: the simplices stay straight, their metrics vary.
        for shape in [Shape::Uniform, Shape::Sheared, Shape::Distorted] {
            let mesh = grid(kind, Order::Quadratic, 3, shape);
            let element = crate::element::Element::of_mesh(&mesh.view(), 4).unwrap();
            assert!(
                crate::element::with_shape!(&element, has_tensor(&element)),
                "{kind:?}"
            );
            // Intervals have no `top` for the Robin term.
            let of = |diffusion: SharedField| {
                let mut f = form(diffusion);
                if kind == CellKind::Interval {
                    f.boundary.retain(|b| b.part != "top");
                }
                f
            };
            let tensor = assemble(
                &SerialAssembler::default(),
                &mesh,
                &of(Arc::new(Constant(2.5))),
            );
            let sampled = assemble(&SerialAssembler::default(), &mesh, &of(field(|_| 2.5)));
            let scale = (sampled.matrix.values().iter()).fold(0.0f64, |m, v| m.max(v.abs()));
            let worst = (tensor.matrix.values().iter())
                .zip(sampled.matrix.values())
                .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
            assert!(worst <= 1e-13 * scale, "{kind:?} {shape:?}: {worst:e}");
            assert_eq!(tensor.rhs, sampled.rhs, "{kind:?} {shape:?}");
        }
    }
}

fn has_tensor<const N: usize, const D: usize, const G: usize>(
    element: &crate::element::Element,
) -> bool {
    crate::element::Tables::<N, D, G>::of(element)
        .reference_stiffness()
        .is_some()
}
