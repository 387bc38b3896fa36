//! Two materials on a Gmsh mesh: read `examples/configs/two_materials_gmsh.toml` (an annulus
//! of copper and steel from a `.msh` file, coefficients by subdomain, conditions by physical
//! name and number), solve, check the error, and write a VTU with the subdomain and boundary
//! markers as cell data (open it in ParaView and threshold by `subdomain`).
//!
//! ```text
//! cargo run --release -p femscale-examples --example ex04_two_materials_gmsh
//! ```

use std::path::PathBuf;

use femscale::prelude::*;

fn main() -> anyhow::Result<()> {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("configs/two_materials_gmsh.toml");
    let config = Config::load(&ConfigSources {
        file: Some(file),
        overrides: vec![],
    })?;
    let sol = FemSolver::from_config(config)?.solve_configured()?;

    let m = &sol.metrics;
    for s in &m.mesh.subdomains {
        println!(
            "subdomain {} ({}): {} cells",
            s.id,
            s.name.as_deref().unwrap_or("-"),
            s.cells
        );
    }
    println!(
        "{} dofs, solver {}, L2 error {:.3e}, H1 error {:.3e}",
        m.dofs,
        m.solver,
        m.l2_error.unwrap_or(f64::NAN),
        m.h1_error.unwrap_or(f64::NAN)
    );
    assert_eq!(m.mesh.subdomains.len(), 2);
    assert!(
        m.l2_error.is_some_and(|e| e < 3e-3),
        "L2 error {:?}",
        m.l2_error
    );

    let out = std::env::temp_dir().join("femscale_ex04_two_materials.vtu");
    femscale::mesh::vtu::write_vtu(&sol.mesh, &[("u", &sol.values)], &out)?;
    println!("wrote {}", out.display());
    Ok(())
}
