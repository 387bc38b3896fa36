//! Patch tests: a solution in the element's space solves the discrete problem exactly, so its
//! interpolant must satisfy the assembled, Dirichlet-eliminated system to round-off.

use std::sync::Arc;

use femscale_core::{
    Assembler, BoundaryKind, CellKind, Constant, EllipticForm, LinearSystem, MeshView, Order,
};
use femscale_mesh::Mesh;

use super::{ELEMENTS, Shape, assemble, bc, field, grid, shear};
use crate::{DirichletConditions, SerialAssembler, quadrature};

/// A polynomial with its gradient and Laplacian (in the mesh's dimension).
type Poly = (fn([f64; 3]) -> f64, fn([f64; 3]) -> [f64; 3], [f64; 3]);

const LINEAR: Poly = (
    |p| 1.0 + 2.0 * p[0] - p[1] + 0.5 * p[2],
    |_| [2.0, -1.0, 0.5],
    [0.0; 3],
);

const QUADRATIC: Poly = (
    |p| {
        let [x, y, z] = p;
        1.0 + x - 2.0 * y + z + x * x + x * y - 0.5 * y * y + y * z + 0.3 * z * z
    },
    |p| {
        let [x, y, z] = p;
        [1.0 + 2.0 * x + y, -2.0 + x - y + z, 1.0 + y + 0.6 * z]
    },
    // The Laplacian in 1D, 2D, 3D.
    [2.0, 1.0, 1.6],
);

const K: f64 = 1.5;
const C: f64 = 0.7;
const ALPHA: f64 = 2.0;

/// The outward unit normal of the face of the grid where coordinate `axis` is 1, on a grid of
/// `shape`.
fn normal(dim: usize, axis: usize, shape: Shape) -> [f64; 3] {
    let unit = |d: usize| -> [f64; 3] { std::array::from_fn(|i| if i == d { 1.0 } else { 0.0 }) };
    if shape != Shape::Sheared {
        return unit(axis);
    }
    let m = |d: usize| shear(unit(d));
    let cross = |a: [f64; 3], b: [f64; 3]| {
        [
            a[1] * b[2] - a[2] * b[1],
            a[2] * b[0] - a[0] * b[2],
            a[0] * b[1] - a[1] * b[0],
        ]
    };
    // Perpendicular to the images of the other axes, pointing along the image of `axis`.
    let mut n = match dim {
        2 => {
            let t = m(1 - axis);
            [t[1], -t[0], 0.0]
        }
        _ => cross(m((axis + 1) % 3), m((axis + 2) % 3)),
    };
    let along = m(axis);
    let sign = (0..3).map(|i| n[i] * along[i]).sum::<f64>().signum();
    let len = n.iter().map(|v| v * v).sum::<f64>().sqrt();
    n = n.map(|v| sign * v / len);
    n
}

/// `-K lap u + C u = f` with Neumann data on `right`, Robin data on `top` (2D, 3D) and the
/// exact solution as Dirichlet data on the other faces, on a grid of `shape`.
fn form(dim: usize, (u, grad, lap): Poly, shape: Shape) -> EllipticForm {
    let lap = lap[dim - 1];
    let flux = move |axis: usize| {
        let n = normal(dim, axis, shape);
        move |p: [f64; 3]| {
            let g = grad(p);
            K * (0..dim).map(|i| g[i] * n[i]).sum::<f64>()
        }
    };
    let mut boundary = vec![
        bc("left", BoundaryKind::Dirichlet { value: field(u) }),
        bc(
            "right",
            BoundaryKind::Neumann {
                flux: field(flux(0)),
            },
        ),
    ];
    if dim > 1 {
        boundary.push(bc("bottom", BoundaryKind::Dirichlet { value: field(u) }));
        boundary.push(bc(
            "top",
            BoundaryKind::Robin {
                alpha: Arc::new(Constant(ALPHA)),
                value: field(move |p| flux(1)(p) + ALPHA * u(p)),
            },
        ));
    }
    if dim > 2 {
        for face in ["front", "back"] {
            boundary.push(bc(face, BoundaryKind::Dirichlet { value: field(u) }));
        }
    }
    EllipticForm {
        diffusion: Arc::new(Constant(K)),
        reaction: Some(Arc::new(Constant(C))),
        source: Some(field(move |p| -K * lap + C * u(p))),
        boundary,
    }
}

/// The largest entry of `A u - b` relative to `max |A| max |u|`, for the interpolant `u` of
/// `poly` on `view` and the system of `form` with Dirichlet conditions eliminated.
fn residual(view: &MeshView<'_>, form: &EllipticForm, poly: Poly, degree: usize) -> f64 {
    let a = SerialAssembler {
        quadrature_degree: degree,
    };
    let mut system = LinearSystem::zeros(Arc::new(a.pattern(view).unwrap()));
    a.assemble_into(view, form, &mut system).unwrap();
    DirichletConditions::from_form(view, form)
        .unwrap()
        .apply(&mut system)
        .unwrap();
    let u: Vec<f64> = (0..view.num_nodes())
        .map(|i| poly.0(view.point(i)))
        .collect();
    let mut au = vec![0.0; u.len()];
    system.matrix.mul_vec_into(&u, &mut au);
    let scale = system
        .matrix
        .values()
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()))
        * u.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let worst = au
        .iter()
        .zip(&system.rhs)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    worst / scale
}

fn cells_per_side(kind: CellKind) -> usize {
    [0, 4, 3, 2][kind.dim()]
}

#[test]
fn every_element_reproduces_linear_solutions_on_distorted_meshes() {
    for (kind, order) in ELEMENTS {
        let mesh = grid(kind, order, cells_per_side(kind), Shape::Distorted);
        let r = residual(
            &mesh.view(),
            &form(kind.dim(), LINEAR, Shape::Distorted),
            LINEAR,
            2,
        );
        assert!(r < 1e-12, "{kind:?} {order:?}: relative residual {r:e}");
    }
}

#[test]
fn quadratic_elements_reproduce_quadratic_solutions() {
    for (kind, order) in ELEMENTS.into_iter().filter(|e| e.1 == Order::Quadratic) {
        // Q2 spans the quadratics only on affine images of the reference cube.
        let shape = match kind {
            CellKind::Quadrilateral | CellKind::Hexahedron => Shape::Sheared,
            _ => Shape::Distorted,
        };
        let mesh = grid(kind, order, cells_per_side(kind), shape);
        let r = residual(
            &mesh.view(),
            &form(kind.dim(), QUADRATIC, shape),
            QUADRATIC,
            2,
        );
        assert!(r < 1e-12, "{kind:?} {order:?}: relative residual {r:e}");
        // P1/Q1 must not pass this test (it can fail).
        let linear = grid(kind, Order::Linear, cells_per_side(kind), shape);
        let r = residual(
            &linear.view(),
            &form(kind.dim(), QUADRATIC, shape),
            QUADRATIC,
            2,
        );
        assert!(r > 1e-6, "{kind:?} order 1 reproduced a quadratic: {r:e}");
    }
}

/// Moves the interior non-vertex nodes of an order-2 mesh off their straight positions.
fn bend(mesh: &Mesh) -> Vec<f64> {
    let view = mesh.view();
    let dim = view.dim;
    let vertices = view.cell_kind.num_vertices();
    let mut on_boundary = vec![false; mesh.num_nodes()];
    for part in mesh.boundary_parts() {
        for &n in &part.nodes {
            on_boundary[n] = true;
        }
    }
    let mut coords = mesh.coords().to_vec();
    let mut moved = vec![false; mesh.num_nodes()];
    for c in 0..view.num_cells() {
        for &n in &view.cell(c)[vertices..] {
            if !on_boundary[n] && !moved[n] {
                moved[n] = true;
                for d in 0..dim {
                    coords[n * dim + d] += 0.03 * ((n * 3 + d) as f64).sin();
                }
            }
        }
    }
    coords
}

#[test]
fn curved_quadratic_meshes_map_isoparametrically_and_still_pass_the_linear_patch_test() {
    for (kind, order) in ELEMENTS.into_iter().filter(|e| e.1 == Order::Quadratic) {
        let mesh = grid(kind, order, cells_per_side(kind), Shape::Uniform);
        let coords = bend(&mesh);
        let view = MeshView {
            coords: &coords,
            curved: true,
            // A changed view is not known to be valid.
            validated: femscale_core::Validated::NO,
            ..mesh.view()
        };
        let degree = quadrature::max_degree(kind).unwrap();
        let form = form(kind.dim(), LINEAR, Shape::Distorted);
        let r = residual(&view, &form, LINEAR, degree);
        assert!(r < 1e-11, "{kind:?} curved: relative residual {r:e}");
        // Straight-sided geometry through the vertices on the same nodes is not consistent.
        let straight = MeshView {
            curved: false,
            // A changed view is not known to be valid.
            validated: femscale_core::Validated::NO,
            ..view
        };
        let r = residual(&straight, &form, LINEAR, degree);
        assert!(r > 1e-8, "{kind:?}: moved nodes ignored? {r:e}");
        // The measure comes out right: the load of f = 1 integrates the (unchanged) volume.
        let unit = EllipticForm {
            diffusion: Arc::new(Constant(1.0)),
            reaction: None,
            source: Some(Arc::new(Constant(1.0))),
            boundary: vec![],
        };
        let a = SerialAssembler {
            quadrature_degree: degree,
        };
        let mut s = LinearSystem::zeros(Arc::new(a.pattern(&view).unwrap()));
        a.assemble_into(&view, &unit, &mut s).unwrap();
        let volume: f64 = s.rhs.iter().sum();
        assert!((volume - 1.0).abs() < 1e-12, "{kind:?}: {volume}");
    }
}

#[test]
fn neumann_data_on_every_facet_kind_integrates_the_surface() {
    // Flux 1 on `right` (the face x = 1 of the unit box, measure 1; a point in 1D).
    for (kind, order) in ELEMENTS {
        let mesh = grid(kind, order, 2, Shape::Distorted);
        let form = EllipticForm {
            diffusion: Arc::new(Constant(1.0)),
            reaction: None,
            source: None,
            boundary: vec![bc(
                "right",
                BoundaryKind::Neumann {
                    flux: field(|p| 1.0 + p[1] * p[2]),
                },
            )],
        };
        let s = assemble(&SerialAssembler::default(), &mesh, &form);
        // int over x = 1 of 1 + y z: 1 (1D, 2D), 1.25 (3D).
        let want = if kind.dim() == 3 { 1.25 } else { 1.0 };
        let got: f64 = s.rhs.iter().sum();
        assert!((got - want).abs() < 1e-13, "{kind:?} {order:?}: {got}");
    }
}
