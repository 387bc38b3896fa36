//! # femscale-mesh
//!
//! Simplex and quadrilateral meshes with named boundary parts, laid out for fast assembly:
//! coordinates node-major in one `Vec<f64>`, cells as one flat connectivity `Vec<usize>`.
//!
//! * [`Mesh::interval`] and [`Mesh::interval_from_nodes`]: 1D meshes, boundary parts `left`,
//!   `right`, `all`.
//! * [`Mesh::rectangle`]: structured 2D meshes of triangles (diagonals `right`, `left` or
//!   `alternating`) or quadrilaterals, boundary parts `left`, `right`, `bottom`, `top`, `all`.
//! * [`Mesh::cuboid`]: structured 3D boxes of hexahedra or tetrahedra (six per cube), boundary
//!   parts `left`, `right`, `front`, `back`, `bottom`, `top`, `all`.
//! * [`Mesh::builder`] and [`Mesh::try_new`]: any mesh from raw arrays (intervals, triangles,
//!   quadrilaterals, tetrahedra, hexahedra) with optional cell and facet markers, validated,
//!   inverted cells reoriented.
//! * [`Mesh::stats`]: sizes, cell quality range, cells per subdomain, facets per part.
//! * [`gmsh`]: Gmsh `.msh` files (2.2 and 4.1, ASCII and binary).
//! * [`Mesh::refine_uniform`] and [`Mesh::refined`]: uniform refinement of any mesh (2 children
//!   per interval, 4 per triangle or quadrilateral, 8 per tetrahedron or hexahedron), boundary
//!   parts included.
//! * [`Mesh::refine_marked`]: conforming local refinement (bisection of intervals,
//!   newest-vertex bisection of triangles) with parent maps and field transfer ([`Refined`]).
//!
//! ```
//! use femscale_mesh::{Mesh, RectangleSpec, RectangleCells};
//! let mesh = Mesh::rectangle(&RectangleSpec { nx: 4, ny: 2, ..RectangleSpec::default() }).unwrap();
//! assert_eq!(mesh.num_nodes(), 15);
//! assert_eq!(mesh.num_cells(), 16); // two triangles per rectangle
//! assert_eq!(mesh.boundary_part("top").unwrap().nodes.len(), 5);
//! let quads = Mesh::rectangle(&RectangleSpec { nx: 4, ny: 2, cells: RectangleCells::Quadrilateral, ..RectangleSpec::default() }).unwrap();
//! assert_eq!(quads.num_cells(), 8);
//! ```
#![warn(rustdoc::broken_intra_doc_links)]

mod adapt;
mod box_tree;
mod build;
mod components;
mod conformity;
mod generate;
mod generate3d;
mod generate_order2;
mod geometry;
pub mod gmsh;
mod isoparametric;
mod lift;
mod mesh;
#[cfg(feature = "metis")]
mod metis_partition;
mod names;
mod order2;
mod overlap;
pub mod partition;
mod refine;
mod refine3d;
mod renumber;
mod stats;
mod topology;
pub mod vtu;

pub use adapt::{Refined, RefinementState};
pub use build::{EXTERIOR_PART, MeshBuilder};
pub use components::NodeParts;
pub use generate::{Diagonal, MAX_GENERATED_NODES, RectangleCells, RectangleSpec};
pub use generate3d::{BoxCells, BoxSpec};
pub use mesh::Mesh;
pub use refine::MeshCounts;
