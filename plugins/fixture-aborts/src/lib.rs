//! Test fixture for process isolation (`plugins.isolation = "process"`): two solvers whose
//! solve takes the process down.
//!
//! * `rust-abort` calls `std::process::abort()`. That is what a plugin built with
//!   `panic = "abort"` does on a panic; the panic strategy of a cdylib follows the workspace's
//!   profile, so the fixture aborts explicitly instead of being built with its own profile.
//! * `memory-hog` allocates and touches 64 MiB blocks until 2 GiB are held (then it fails with
//!   an error): under `solver.memory_limit_mb` in a child process the allocator fails first and
//!   Rust's allocation-failure handler aborts the child.
//!
//! Set-up always succeeds.

use femscale_plugin_api::sdk::{Csr, Monitor, Plugin, PreparedSolver, Solver};
use femscale_plugin_api::{PluginError, SolveOutcome, SolveParams};

/// Which way the solve fails.
#[derive(Clone, Copy)]
enum Failure {
    Abort,
    Hog,
}

impl Solver for Failure {
    type Prepared = Failure;

    fn prepare(&self, _: Csr<'_>, _: &SolveParams) -> Result<Failure, PluginError> {
        Ok(*self)
    }
}

impl PreparedSolver for Failure {
    fn solve(
        &mut self,
        _: Csr<'_>,
        _: &[f64],
        _: &mut [f64],
        _: &SolveParams,
        _: &mut Monitor<'_>,
    ) -> Result<SolveOutcome, PluginError> {
        match self {
            Failure::Abort => {
                eprintln!("fixture-aborts: a panic in solve, and this plugin aborts on panic");
                std::process::abort();
            }
            Failure::Hog => {
                const BLOCK: usize = 64 << 20;
                let mut held: Vec<Vec<u8>> = Vec::new();
                while held.len() * BLOCK < 2 << 30 {
                    let mut block = Vec::with_capacity(BLOCK);
                    block.resize(BLOCK, 1u8);
                    held.push(block);
                }
                let total: usize = held.iter().map(|b| b[BLOCK / 2] as usize).sum();
                Err(PluginError::other(format!(
                    "memory-hog held {} blocks of 64 MiB without hitting a limit",
                    total
                )))
            }
        }
    }

    fn update_values(&mut self, _: Csr<'_>) -> Result<(), PluginError> {
        Ok(())
    }
}

fn plugin() -> Plugin {
    Plugin::new(
        "fixture-aborts",
        env!("CARGO_PKG_VERSION"),
        "aborts or exhausts memory on purpose",
    )
    .solver("rust-abort", "aborts the process in solve", |_| {
        Ok(Failure::Abort)
    })
    .solver(
        "memory-hog",
        "allocates 64 MiB blocks in solve until 2 GiB are held",
        |_| Ok(Failure::Hog),
    )
}

femscale_plugin_api::export_plugin!(plugin);
