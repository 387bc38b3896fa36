//! What the MPI tests share: whether they can run here, and `mpirun` of the binary.

use std::path::Path;
use std::process::{Command, Output};

/// Whether MPI tests can run here; prints why not (and fails under FEMSCALE_REQUIRE_MPI=1).
pub fn mpi_available(test: &str) -> bool {
    let missing = if !cfg!(feature = "mpi") {
        Some("femscale-cli was built without the `mpi` feature (--features mpi)")
    } else if Command::new("mpirun").arg("--version").output().is_err() {
        Some("mpirun not found (apt-get install openmpi-bin libopenmpi-dev)")
    } else {
        None
    };
    let Some(why) = missing else {
        return true;
    };
    if std::env::var("FEMSCALE_REQUIRE_MPI").is_ok_and(|v| v == "1") {
        panic!("{test}: {why}, and FEMSCALE_REQUIRE_MPI=1");
    }
    eprintln!("SKIPPED: {test}: {why}");
    false
}

/// `femscale <args>` on `ranks` ranks under `mpirun` (0: without `mpirun`), in `dir`.
pub fn femscale(dir: &Path, ranks: usize, args: &[&str]) -> Output {
    let exe = env!("CARGO_BIN_EXE_femscale");
    let mut command = if ranks == 0 {
        Command::new(exe)
    } else {
        let mut c = Command::new("mpirun");
        c.args(["--allow-run-as-root", "--oversubscribe", "-n"])
            .arg(ranks.to_string())
            .arg(exe);
        c
    };
    command
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the command runs")
}

/// Status, stdout and stderr, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
