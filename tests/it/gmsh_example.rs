//! The two-material Gmsh example's configuration (`examples/configs/two_materials_gmsh.toml`,
//! run by `ex04_two_materials_gmsh`): solved as the example does, its VTU written as the example
//! writes it and opened with an independent reader (`vtkio`), which must see the solution, both
//! subdomains with the report's cell counts, and the marked boundary facets.

use std::path::Path;

use femscale::prelude::*;
use vtkio::model::{Attribute, CellType, DataSet, VertexNumbers};

#[test]
fn example_vtu_opens_in_vtkio_with_solution_and_markers() {
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/configs/two_materials_gmsh.toml");
    let config = Config::load(&ConfigSources {
        file: Some(file),
        overrides: vec![],
    })
    .unwrap();
    let sol = FemSolver::from_config(config)
        .unwrap()
        .solve_configured()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two_materials.vtu");
    femscale::mesh::vtu::write_vtu(&sol.mesh, &[("u", &sol.values)], &path).unwrap();

    let vtk = vtkio::Vtk::import(&path).unwrap_or_else(|e| panic!("vtkio cannot read: {e}"));
    let DataSet::UnstructuredGrid { pieces, .. } = vtk.data else {
        panic!("not an UnstructuredGrid");
    };
    let piece = (pieces.into_iter().next().unwrap())
        .into_loaded_piece_data(None)
        .unwrap();
    assert_eq!(piece.points.len(), 3 * sol.mesh.num_nodes());
    let VertexNumbers::XML { offsets, .. } = &piece.cells.cell_verts else {
        panic!("expected XML cell numbering");
    };
    let types = &piece.cells.types;
    assert_eq!(offsets.len(), types.len());
    let triangles = types.iter().filter(|t| **t == CellType::Triangle).count();
    let lines = types.iter().filter(|t| **t == CellType::Line).count();
    assert_eq!(triangles, sol.mesh.num_cells());

    let point = |name: &str| -> Vec<f64> {
        (piece.data.point.iter())
            .find_map(|a| match a {
                Attribute::DataArray(d) if d.name == name => {
                    Some(d.data.clone().into_vec::<f64>().unwrap())
                }
                _ => None,
            })
            .unwrap_or_else(|| panic!("no point data `{name}`"))
    };
    let cell = |name: &str| -> Vec<i32> {
        (piece.data.cell.iter())
            .find_map(|a| match a {
                Attribute::DataArray(d) if d.name == name => {
                    Some(d.data.clone().into_vec::<i32>().unwrap())
                }
                _ => None,
            })
            .unwrap_or_else(|| panic!("no cell data `{name}`"))
    };
    let u = point("u");
    assert_eq!(u, sol.values);
    assert!(u.iter().all(|v| v.is_finite()));

    // Subdomain markers on the triangles match the report's counts (copper 1, steel 2).
    let subdomain = cell("subdomain");
    assert_eq!(subdomain.len(), types.len());
    for s in &sol.metrics.mesh.subdomains {
        let seen = (subdomain.iter().zip(types))
            .filter(|(m, t)| **m == s.id && **t == CellType::Triangle)
            .count();
        assert_eq!(seen, s.cells, "subdomain {} ({:?})", s.id, s.name);
    }
    assert_eq!(sol.metrics.mesh.subdomains.len(), 2);

    // Boundary markers on the facet lines: inner 11, outer 12, interface 13, each with the
    // report's facet count.
    let boundary = cell("boundary");
    assert!(lines > 0, "no boundary facets in the file");
    for id in [11, 12, 13] {
        let seen = (boundary.iter().zip(types))
            .filter(|(m, t)| **m == id && **t == CellType::Line)
            .count();
        let part = (sol.metrics.mesh.boundary.iter())
            .find(|b| b.id == Some(id))
            .unwrap_or_else(|| panic!("no part with marker {id} in the report"));
        assert_eq!(seen, part.facets, "boundary marker {id}");
    }
}
