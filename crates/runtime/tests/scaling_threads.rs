//! `scaling.threads` is the thread count of a solve, not a cap: set to N > 0, the solve uses
//! exactly N threads at every level and reports them.

use femscale_runtime::{Config, FemSolver};

fn threads_used(level: &str, threads: usize) -> (usize, String) {
    let config = Config::from_toml_str(&format!(
        "[problem]\nmesh = {{ nx = 8, ny = 8 }}\nsource = \"1\"\n\
         [solver]\nkind = \"cg\"\npreconditioner = \"jacobi\"\n\
         [scaling]\nlevel = \"{level}\"\nthreads = {threads}\n"
    ))
    .unwrap();
    let solution = FemSolver::from_config(config)
        .unwrap()
        .solve_configured()
        .unwrap();
    (solution.metrics.threads, solution.metrics.plan_rationale)
}

#[test]
fn a_solve_with_two_threads_configured_uses_two_at_every_level() {
    // `auto` plans one thread for 81 unknowns and `minimal` is serial: the setting wins.
    for level in ["auto", "minimal", "standard", "aggressive"] {
        let (threads, why) = threads_used(level, 2);
        assert_eq!(threads, 2, "level {level}: {why}");
    }
    let (_, why) = threads_used("auto", 2);
    assert!(
        why.contains("2 thread(s) as configured by scaling.threads"),
        "{why}"
    );
    assert!(!why.contains("one thread"), "{why}");
    assert_eq!(threads_used("standard", 1).0, 1);
}

#[test]
fn threads_contradicting_serial_kernels_are_refused_when_loaded() {
    let sources = femscale_runtime::ConfigSources {
        file: None,
        overrides: vec![
            "scaling.threads=4".into(),
            "scaling.enable_parallel=false".into(),
        ],
    };
    let e = Config::load(&sources).unwrap_err().to_string();
    assert!(
        e.contains("scaling.threads") && e.contains("enable_parallel") && e.contains("--set"),
        "{e}"
    );
    // Set by a program (as the experiment runner fills in `scaling.threads`): serial wins.
    let mut config = Config::default();
    config.scaling.threads = 4;
    config.scaling.enable_parallel = Some(false);
    assert_eq!(config.scaling.toggles(100, 8).threads, 1);
}

#[test]
fn the_parallel_assembly_threshold_counts_at_the_auto_level_with_configured_threads() {
    let solve = |threshold: usize| {
        let config = Config::from_toml_str(&format!(
            "[problem]\nmesh = {{ nx = 8, ny = 8 }}\nsource = \"1\"\n\
             [solver]\nkind = \"cg\"\npreconditioner = \"jacobi\"\n\
             [assembly]\nparallel_threshold_cells = {threshold}\n\
             [scaling]\nlevel = \"auto\"\nthreads = 2\n"
        ))
        .unwrap();
        let solver = FemSolver::from_config(config).unwrap();
        solver
            .solve_configured()
            .unwrap()
            .metrics
            .parallel_assembly_used
    };
    // 128 cells: parallel from a threshold of 0, serial with the default 20 000.
    assert!(solve(0));
    assert!(!solve(20_000));
}
