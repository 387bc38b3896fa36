//! What validating a mesh given as arrays costs, and what a report's mesh statistics cost the
//! first time and once kept: `Mesh::builder(..).build()` (coordinates, orientation, the facet
//! pass, the conformity check of the exterior) on an `n`³ box given as arrays, tetrahedra and
//! hexahedra; `Mesh::stats` twice on a `m` × `m` square (the cell-quality range is computed on
//! the first call and kept with the mesh).
//!
//! ```text
//! cargo run --release -p femscale-benches --example mesh_build -- [n = 60] [m = 512] [repetitions = 5]
//! ```

use std::time::Instant;

use femscale::mesh::{BoxCells, BoxSpec, Mesh, RectangleSpec};
use femscale_benches::stats::median;

fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let (n, m, reps) = (
        args.first().copied().unwrap_or(60),
        args.get(1).copied().unwrap_or(512),
        args.get(2).copied().unwrap_or(5),
    );
    for cells in [BoxCells::Tetrahedron, BoxCells::Hexahedron] {
        let spec = BoxSpec {
            nx: n,
            ny: n,
            nz: n,
            cells,
            ..Default::default()
        };
        let cube = Mesh::cuboid(&spec)?;
        let mut times = Vec::new();
        for _ in 0..reps {
            let (coords, cell_nodes) = (cube.coords().to_vec(), cube.cells().to_vec());
            let t = Instant::now();
            let built = Mesh::builder(3, coords, cube.cell_kind(), cell_nodes).build()?;
            times.push(t.elapsed().as_secs_f64());
            drop(built);
        }
        println!(
            "{n}³ box, {} {:?} cells given as arrays: build {:.1} ms (median of {reps})",
            cube.num_cells(),
            cells,
            1e3 * median(&times)
        );
    }
    let square = Mesh::rectangle(&RectangleSpec {
        nx: m,
        ny: m,
        ..Default::default()
    })?;
    let t = Instant::now();
    let first = square.stats();
    let computed = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let again = square.stats();
    let kept = t.elapsed().as_secs_f64();
    assert_eq!(
        (first.min_quality, first.max_quality),
        (again.min_quality, again.max_quality)
    );
    println!(
        "{m} × {m} square, {} cells: stats {:.1} ms the first time, {:.2} ms once kept",
        square.num_cells(),
        1e3 * computed,
        1e3 * kept
    );
    Ok(())
}
