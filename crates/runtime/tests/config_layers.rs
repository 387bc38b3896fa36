#![allow(clippy::result_large_err)] // figment::Jail fixes the closure error type
//! Configuration layers with `figment::Jail` (which isolates the environment and the working
//! directory): defaults < file < `FEMSCALE_*` environment < `--set`, provenance, and errors that
//! name key and source.

use femscale_runtime::{Config, ConfigSources};
use figment::Jail;

fn sources(file: Option<&str>, overrides: &[&str]) -> ConfigSources {
    ConfigSources {
        file: file.map(Into::into),
        overrides: overrides.iter().map(|s| s.to_string()).collect(),
    }
}

fn source_of(sources: &ConfigSources, key: &str) -> String {
    Config::provenance(sources)
        .unwrap()
        .into_iter()
        .find(|p| p.key == key)
        .unwrap()
        .source
}

#[test]
fn each_layer_overrides_the_one_below_and_provenance_says_which() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "exp.toml",
            "[solver]\ntolerance = 1e-6\nmax_iterations = 50\nkind = \"cg\"\n",
        )?;
        let file = Some("exp.toml");
        // Defaults.
        let c = Config::load(&sources(None, &[])).unwrap();
        assert_eq!(c.solver.tolerance, 1e-8);
        assert_eq!(
            source_of(&sources(None, &[]), "solver.tolerance"),
            "default"
        );
        // File over defaults.
        let c = Config::load(&sources(file, &[])).unwrap();
        assert_eq!((c.solver.tolerance, c.solver.max_iterations), (1e-6, 50));
        assert_eq!(
            source_of(&sources(file, &[]), "solver.tolerance"),
            "exp.toml:2"
        );
        // Environment over file; exponent floats without a decimal point are numbers.
        jail.set_env("FEMSCALE_SOLVER__TOLERANCE", "1e-9");
        jail.set_env("FEMSCALE_REQUIRE_REDIS", "1"); // not a config key: ignored
        let c = Config::load(&sources(file, &[])).unwrap();
        assert_eq!((c.solver.tolerance, c.solver.max_iterations), (1e-9, 50));
        assert_eq!(
            source_of(&sources(file, &[]), "solver.tolerance"),
            "environment variable FEMSCALE_SOLVER__TOLERANCE"
        );
        // --set over environment.
        let s = sources(file, &["solver.tolerance=1e-12"]);
        assert_eq!(Config::load(&s).unwrap().solver.tolerance, 1e-12);
        assert_eq!(
            source_of(&s, "solver.tolerance"),
            "--set solver.tolerance=1e-12"
        );
        assert_eq!(source_of(&s, "solver.kind"), "exp.toml:4");
        assert_eq!(source_of(&s, "solver.gmres.restart"), "default");
        Ok(())
    });
}

#[test]
fn bad_values_name_key_and_source_in_every_layer() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "bad.toml",
            "[problem]\ndim = 2\n\n[solver]\nmax_iterations = \"lots\"\n",
        )?;
        let e = Config::load(&sources(Some("bad.toml"), &[]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("bad.toml:5") && e.contains("solver.max_iterations"),
            "{e}"
        );

        jail.set_env("FEMSCALE_PROBLEM__MESH__NX", "many");
        let e = Config::load(&sources(None, &[])).unwrap_err().to_string();
        assert!(
            e.contains("environment variable FEMSCALE_PROBLEM__MESH__NX")
                && e.contains("problem.mesh.nx"),
            "{e}"
        );
        jail.set_env("FEMSCALE_PROBLEM__MESH__NX", "16");

        let e = Config::load(&sources(None, &["assembly.parallel=perhaps"]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--set assembly.parallel=perhaps") && e.contains("assembly.parallel"),
            "{e}"
        );
        Ok(())
    });
}

#[test]
fn unknown_keys_are_rejected_with_a_hint_in_every_layer() {
    Jail::expect_with(|jail| {
        jail.create_file("typo.toml", "[solver]\nprecondtioner = \"amg\"\n")?;
        let e = Config::load(&sources(Some("typo.toml"), &[]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("typo.toml:2") && e.contains("did you mean `preconditioner`"),
            "{e}"
        );

        jail.set_env("FEMSCALE_SOLVER__TOLERANSE", "1e-3");
        let e = Config::load(&sources(None, &[])).unwrap_err().to_string();
        assert!(
            e.contains("FEMSCALE_SOLVER__TOLERANSE") && e.contains("did you mean `tolerance`"),
            "{e}"
        );
        Ok(())
    });
}
