//! Tests of every element (P1/P2 on intervals, triangles, tetrahedra; Q1/Q2 on quadrilaterals
//! and hexahedra): patch tests, convergence rates, serial against parallel assembly.
//!
//! Meshes are structured grids on the unit interval, square or cube built here with
//! `Mesh::builder` (tetrahedra: six per cube along the main diagonal, so cubes conform), with
//! faces named `left`/`right` (x), `bottom`/`top` (y), `front`/`back` (z), optionally distorted
//! or mapped affinely, and lifted to order 2 with `Mesh::with_order`.

mod parallel;
mod patch;
mod rates;

use std::sync::Arc;

use femscale_core::{
    Assembler, BoundaryCondition, BoundaryKind, CellKind, EllipticForm, LinearSystem, Order,
    ScalarField, SharedField,
};
use femscale_mesh::Mesh;

use crate::{DirichletConditions, SerialAssembler};

pub(crate) const ELEMENTS: [(CellKind, Order); 10] = [
    (CellKind::Interval, Order::Linear),
    (CellKind::Interval, Order::Quadratic),
    (CellKind::Triangle, Order::Linear),
    (CellKind::Triangle, Order::Quadratic),
    (CellKind::Quadrilateral, Order::Linear),
    (CellKind::Quadrilateral, Order::Quadratic),
    (CellKind::Tetrahedron, Order::Linear),
    (CellKind::Tetrahedron, Order::Quadratic),
    (CellKind::Hexahedron, Order::Linear),
    (CellKind::Hexahedron, Order::Quadratic),
];

/// How grid nodes are moved off the uniform grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Shape {
    /// The uniform grid on the unit box.
    Uniform,
    /// Interior nodes moved pseudo-randomly by up to 0.2 h (non-affine quadrilaterals and
    /// hexahedra).
    Distorted,
    /// The whole grid mapped by one affine map (parallelograms, parallelepipeds).
    Sheared,
}

/// The shear used by [`Shape::Sheared`].
pub(crate) fn shear(p: [f64; 3]) -> [f64; 3] {
    [
        p[0] + 0.3 * p[1] - 0.2 * p[2],
        0.9 * p[1] + 0.25 * p[2],
        1.1 * p[2] + 0.1 * p[0],
    ]
}

/// `0..n` in a fixed pseudo-random order (xorshift Fisher–Yates): a node renumbering that
/// scatters neighbours.
pub(crate) fn shuffled(n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for k in (1..n).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        order.swap(k, (state % (k as u64 + 1)) as usize);
    }
    order
}

/// A structured mesh of `kind` with `n` cells (cubes, squares) per direction, faces named,
/// lifted to `order`.
pub(crate) fn grid(kind: CellKind, order: Order, n: usize, shape: Shape) -> Mesh {
    grid_with_markers(kind, order, n, shape, false)
}

/// [`grid`], with subdomain markers 1 (`west`, the cells of the cubes with x < 1/2) and 2
/// (`east`, the others) when `marked`.
pub(crate) fn grid_with_markers(
    kind: CellKind,
    order: Order,
    n: usize,
    shape: Shape,
    marked: bool,
) -> Mesh {
    let dim = kind.dim();
    let m = n + 1;
    let count = m.pow(dim as u32);
    let index = |i: [usize; 3]| i[0] + m * (i[1] + m * i[2]);
    let mut coords = Vec::with_capacity(count * dim);
    for id in 0..count {
        let i = [id % m, (id / m) % m, id / (m * m)];
        let h = 1.0 / n as f64;
        let mut p = [0.0; 3];
        let interior = (0..dim).all(|d| i[d] > 0 && i[d] < n);
        for d in 0..dim {
            p[d] = i[d] as f64 * h;
            if shape == Shape::Distorted && interior {
                let s = ((id * 7 + d * 13) as f64 * 1.618).sin();
                p[d] += 0.2 * h * s;
            }
        }
        if shape == Shape::Sheared {
            let q = shear(p);
            p[..dim].copy_from_slice(&q[..dim]);
        }
        coords.extend_from_slice(&p[..dim]);
    }
    let mut cells = Vec::new();
    let mut markers = Vec::new();
    let corner = |base: [usize; 3], off: [usize; 3]| {
        index([base[0] + off[0], base[1] + off[1], base[2] + off[2]])
    };
    let cubes = n.pow(dim as u32);
    for id in 0..cubes {
        let b = [id % n, (id / n) % n, id / (n * n)];
        let v = |x: usize, y: usize, z: usize| corner(b, [x, y, z]);
        let before = cells.len();
        match kind {
            CellKind::Interval => cells.extend([v(0, 0, 0), v(1, 0, 0)]),
            CellKind::Triangle => {
                cells.extend([v(0, 0, 0), v(1, 0, 0), v(1, 1, 0)]);
                cells.extend([v(0, 0, 0), v(1, 1, 0), v(0, 1, 0)]);
            }
            CellKind::Quadrilateral => {
                cells.extend([v(0, 0, 0), v(1, 0, 0), v(1, 1, 0), v(0, 1, 0)])
            }
            CellKind::Hexahedron => cells.extend([
                v(0, 0, 0),
                v(1, 0, 0),
                v(1, 1, 0),
                v(0, 1, 0),
                v(0, 0, 1),
                v(1, 0, 1),
                v(1, 1, 1),
                v(0, 1, 1),
            ]),
            CellKind::Tetrahedron => {
                // Kuhn's split: the paths from (0,0,0) to (1,1,1) along the axes.
                for axes in [
                    [0, 1, 2],
                    [0, 2, 1],
                    [1, 0, 2],
                    [1, 2, 0],
                    [2, 0, 1],
                    [2, 1, 0],
                ] {
                    let mut off = [0; 3];
                    let mut tet = [v(0, 0, 0), 0, 0, 0];
                    for (k, &a) in axes.iter().enumerate() {
                        off[a] = 1;
                        tet[k + 1] = v(off[0], off[1], off[2]);
                    }
                    let x =
                        |node: usize| -> [f64; 3] { std::array::from_fn(|d| coords[node * 3 + d]) };
                    let (p0, p1, p2, p3) = (x(tet[0]), x(tet[1]), x(tet[2]), x(tet[3]));
                    let e = |a: [f64; 3]| [a[0] - p0[0], a[1] - p0[1], a[2] - p0[2]];
                    let (a, b, c) = (e(p1), e(p2), e(p3));
                    let volume = a[0] * (b[1] * c[2] - b[2] * c[1])
                        - a[1] * (b[0] * c[2] - b[2] * c[0])
                        + a[2] * (b[0] * c[1] - b[1] * c[0]);
                    if volume < 0.0 {
                        tet.swap(1, 2);
                    }
                    cells.extend(tet);
                }
            }
        }
        let marker = if 2 * b[0] < n { 1 } else { 2 };
        markers.extend(std::iter::repeat_n(
            marker,
            (cells.len() - before) / kind.nodes_per_cell(),
        ));
    }
    // Faces by the grid index of their nodes, which survives distortion and shearing.
    let grid_index: std::collections::HashMap<[u64; 3], [usize; 3]> = (0..count)
        .map(|k| {
            let key = std::array::from_fn(|c| {
                if c < dim {
                    coords[k * dim + c].to_bits()
                } else {
                    0
                }
            });
            (key, [k % m, (k / m) % m, k / (m * m)])
        })
        .collect();
    let mut builder = Mesh::builder(dim, coords, kind, cells);
    if marked {
        builder = builder
            .cell_markers(markers)
            .subdomain_name(1, "west")
            .subdomain_name(2, "east");
    }
    let mut mesh = builder.build().unwrap();
    let faces = ["left", "right", "bottom", "top", "front", "back"];
    for (f, name) in faces.iter().enumerate().take(2 * dim) {
        let (d, side) = (f / 2, f % 2);
        let at = |p: [f64; 3]| grid_index[&p.map(f64::to_bits)][d] == side * n;
        mesh.add_boundary_part_where(name, at).unwrap();
    }
    mesh.with_order(order).unwrap()
}

/// Conjugate gradients with a Jacobi preconditioner to relative residual `1e-13`.
pub(crate) fn solve(system: &LinearSystem) -> Vec<f64> {
    let a = &system.matrix;
    let b = &system.rhs;
    let n = b.len();
    let d = a.diagonal();
    let mut x = vec![0.0; n];
    let mut r = b.clone();
    let mut z: Vec<f64> = r.iter().zip(&d).map(|(r, d)| r / d).collect();
    let mut p = z.clone();
    let mut ap = vec![0.0; n];
    let dot = |u: &[f64], v: &[f64]| u.iter().zip(v).map(|(a, b)| a * b).sum::<f64>();
    let norm_b = dot(b, b).sqrt();
    let mut rz = dot(&r, &z);
    for _ in 0..10 * n {
        if dot(&r, &r).sqrt() <= 1e-13 * norm_b {
            break;
        }
        a.mul_vec_into(&p, &mut ap);
        let alpha = rz / dot(&p, &ap);
        for i in 0..n {
            x[i] += alpha * p[i];
            r[i] -= alpha * ap[i];
            z[i] = r[i] / d[i];
        }
        let rz_new = dot(&r, &z);
        let beta = rz_new / rz;
        rz = rz_new;
        for i in 0..n {
            p[i] = z[i] + beta * p[i];
        }
    }
    x
}

/// Assembles `form` on `mesh` with `assembler`, without Dirichlet conditions.
pub(crate) fn assemble(
    assembler: &dyn Assembler,
    mesh: &Mesh,
    form: &EllipticForm,
) -> LinearSystem {
    let pattern = Arc::new(assembler.pattern(&mesh.view()).unwrap());
    let mut system = LinearSystem::zeros(pattern);
    assembler
        .assemble_into(&mesh.view(), form, &mut system)
        .unwrap();
    system
}

/// Assembles `form` serially and applies its Dirichlet conditions.
pub(crate) fn assemble_with_dirichlet(mesh: &Mesh, form: &EllipticForm) -> LinearSystem {
    let mut system = assemble(&SerialAssembler::default(), mesh, form);
    DirichletConditions::from_form(&mesh.view(), form)
        .unwrap()
        .apply(&mut system)
        .unwrap();
    system
}

/// An exact solution with its gradient in closed form.
pub(crate) struct Exact {
    pub u: Box<dyn Fn([f64; 3]) -> f64 + Send + Sync>,
    pub grad: Box<dyn Fn([f64; 3]) -> [f64; 3] + Send + Sync>,
}

impl std::fmt::Debug for Exact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("exact")
    }
}

impl ScalarField for Exact {
    fn eval(&self, p: [f64; 3]) -> f64 {
        (self.u)(p)
    }

    fn gradient(&self, p: [f64; 3]) -> [f64; 3] {
        (self.grad)(p)
    }
}

/// A boundary condition on `part`.
pub(crate) fn bc(part: &str, kind: BoundaryKind) -> BoundaryCondition {
    BoundaryCondition {
        part: part.into(),
        kind,
    }
}

/// A field from a closure.
pub(crate) fn field(f: impl Fn([f64; 3]) -> f64 + Send + Sync + 'static) -> SharedField {
    femscale_core::FnField::shared("test field", f)
}
