//! VTU output of quadratic and 3D solutions by the experiment runner (what `femscale run`
//! writes with `formats = ["vtu"]`), read back by an independent reader (vtkio): the cells
//! have the quadratic VTK types and the point fields one value per unknown.

use std::path::Path;

use femscale_experiment::{Experiment, RESULTS_FILE, RunOptions, VTU_DIR, read_results};
use vtkio::model::{Attribute, CellType, DataSet};

/// Cell types, point count and the lengths of the point fields `u`, `exact` and `error`.
struct Read {
    types: Vec<CellType>,
    points: usize,
    fields: Vec<(String, usize)>,
}

fn read(file: &Path) -> Read {
    let vtk = vtkio::Vtk::import(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let DataSet::UnstructuredGrid { pieces, .. } = vtk.data else {
        panic!("{}: not an UnstructuredGrid", file.display());
    };
    let [piece] = <[_; 1]>::try_from(pieces).expect("one piece");
    let piece = piece.into_loaded_piece_data(None).unwrap();
    let points = piece
        .points
        .into_vec::<f64>()
        .expect("Float64 points")
        .len()
        / 3;
    let fields = (piece.data.point.into_iter())
        .filter_map(|a| match a {
            Attribute::DataArray(d) => {
                let n = d.data.into_vec::<f64>().expect("Float64 field").len();
                Some((d.name, n))
            }
            _ => None,
        })
        .collect();
    Read {
        types: piece.cells.types,
        points,
        fields,
    }
}

/// Runs the experiment `text` (with an `[output]` section added) in `dir`; returns the VTU of
/// every point by its swept values and the point's unknowns.
fn run(dir: &Path, text: &str) -> Vec<(String, usize, Read)> {
    let out = dir.join("out");
    let file = dir.join("exp.toml");
    std::fs::write(
        &file,
        format!(
            "{text}\n[output]\ndir = {:?}\nformats = [\"jsonl\", \"vtu\"]\n",
            out.display().to_string()
        ),
    )
    .unwrap();
    let exp = Experiment::load(&file, &[]).unwrap();
    let report = exp
        .run(&RunOptions {
            parallel_runs: Some(2),
            ..Default::default()
        })
        .unwrap();
    assert!(report.all_ok());
    let records = read_results(&out.join(RESULTS_FILE)).unwrap();
    exp.points()
        .iter()
        .map(|point| {
            let label: Vec<String> = point
                .overrides()
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let record = records.iter().find(|r| r.point_id == point.id()).unwrap();
            let dofs = record.metrics.as_ref().unwrap().dofs;
            let vtu = read(&out.join(VTU_DIR).join(format!("{}.vtu", point.id())));
            (label.join(" "), dofs, vtu)
        })
        .collect()
}

/// Every point field has one value per unknown, and the unknowns are the points.
fn assert_fields(label: &str, dofs: usize, vtu: &Read) {
    assert_eq!(vtu.points, dofs, "{label}");
    let names: Vec<&str> = vtu.fields.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(names, ["u", "exact", "error"], "{label}");
    assert!(vtu.fields.iter().all(|f| f.1 == dofs), "{label}");
}

fn count(types: &[CellType], t: CellType) -> usize {
    types.iter().filter(|&&c| c == t).count()
}

#[test]
fn quadratic_2d_solutions_are_written_with_quadratic_cells() {
    let dir = tempfile::tempdir().unwrap();
    let runs = run(
        dir.path(),
        r#"
        [problem]
        order = 2
        mesh = { kind = "rectangle", nx = 3, ny = 2 }
        source = "2*pi^2*sin(pi*x)*sin(pi*y)"
        exact = "sin(pi*x)*sin(pi*y)"
        [sweep]
        "problem.mesh.cell" = ["triangle", "quadrilateral"]
        "#,
    );
    assert_eq!(runs.len(), 2);
    for (label, dofs, vtu) in &runs {
        assert_fields(label, *dofs, vtu);
        // The cells, then the quadratic edges of the four marked sides (2 (nx + ny)).
        let (cells, cell_type, nodes) = if label.contains("triangle") {
            (12, CellType::QuadraticTriangle, 7 * 5)
        } else {
            (6, CellType::BiquadraticQuad, 7 * 5)
        };
        assert_eq!(*dofs, nodes, "{label}");
        assert_eq!(count(&vtu.types, cell_type), cells, "{label}");
        assert_eq!(count(&vtu.types, CellType::QuadraticEdge), 10, "{label}");
        assert_eq!(vtu.types.len(), cells + 10, "{label}");
    }
}

#[test]
fn solutions_on_boxes_are_written_with_3d_cells() {
    let dir = tempfile::tempdir().unwrap();
    let runs = run(
        dir.path(),
        r#"
        [problem]
        mesh = { kind = "box", nx = 2, ny = 2, nz = 1 }
        source = "3*pi^2*sin(pi*x)*sin(pi*y)*sin(pi*z)"
        exact = "sin(pi*x)*sin(pi*y)*sin(pi*z)"
        [sweep]
        "problem.mesh.cell" = ["tetrahedron", "hexahedron"]
        "problem.order" = [1, 2]
        "#,
    );
    assert_eq!(runs.len(), 4);
    for (label, dofs, vtu) in &runs {
        assert_fields(label, *dofs, vtu);
        let tets = label.contains("tetrahedron");
        let quadratic = label.contains("order=2");
        // Cubes 2 x 2 x 1; faces: 2 (x) + 2 (y) of 2 squares each, 2 (z) of 4 squares.
        let (cubes, squares) = (4, 2 * 2 + 2 * 2 + 2 * 4);
        let (cell, facet, cells, facets) = match (tets, quadratic) {
            (true, false) => (CellType::Tetra, CellType::Triangle, 6, 2),
            (true, true) => (CellType::QuadraticTetra, CellType::QuadraticTriangle, 6, 2),
            (false, false) => (CellType::Hexahedron, CellType::Quad, 1, 1),
            (false, true) => (
                CellType::TriquadraticHexahedron,
                CellType::BiquadraticQuad,
                1,
                1,
            ),
        };
        let per_axis = if quadratic { [5, 5, 3] } else { [3, 3, 2] };
        assert_eq!(*dofs, per_axis.iter().product::<usize>(), "{label}");
        assert_eq!(count(&vtu.types, cell), cells * cubes, "{label}");
        assert_eq!(count(&vtu.types, facet), facets * squares, "{label}");
        assert_eq!(
            vtu.types.len(),
            (cells * cubes) + facets * squares,
            "{label}"
        );
    }
}
