//! Drive a solve from a configuration file, with overrides, as the CLI does: variable
//! diffusion, Q1 elements and Dirichlet, Neumann and Robin boundaries
//! (`examples/configs/mixed_bc_2d.toml`).
//!
//! ```text
//! cargo run --release -p femscale-examples --example ex02_config_file
//! ```

use std::path::PathBuf;

use femscale::prelude::*;

fn main() -> anyhow::Result<()> {
    // 1. Layered configuration: built-in defaults < the file < overrides.
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("configs/mixed_bc_2d.toml");
    let sources = ConfigSources {
        file: Some(file),
        overrides: vec!["problem.mesh.nx=48".into(), "problem.mesh.ny=48".into()],
    };
    let config = Config::load(&sources)?;

    // 2. Build the pipeline from it and solve its [problem].
    let sol = FemSolver::from_config(config)?.solve_configured()?;

    // 3. Report and check against the exact solution given in the file.
    let m = &sol.metrics;
    println!(
        "{} {} dofs, solver {}, L2 error {:.3e}, H1 error {:.3e}",
        m.element,
        m.dofs,
        m.solver,
        m.l2_error.unwrap_or(f64::NAN),
        m.h1_error.unwrap_or(f64::NAN)
    );
    assert_eq!(m.element, "Q1");
    assert!(m.l2_error.is_some_and(|e| e < 1e-4));
    Ok(())
}
