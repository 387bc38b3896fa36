#![allow(clippy::result_large_err)] // figment::Jail fixes the closure error type
//! Configuration layers with `figment::Jail` (which isolates the environment and the working
//! directory): defaults < file < `FEMSCALE_*` environment < `--set`, provenance, and errors that
//! name key and source.

use femscale_runtime::config::{FieldPath, Origin};
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

#[test]
fn out_of_bounds_durations_and_sizes_name_key_and_layer() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "big.toml",
            "[solver]\nkind = \"amg\"\ntimeout_seconds = 1e300\n",
        )?;
        let e = Config::load(&sources(Some("big.toml"), &[]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("big.toml:3") && e.contains("solver.timeout_seconds") && e.contains("1e9"),
            "{e}"
        );
        // The same bound through `provenance` (`femscale config show`).
        assert!(Config::provenance(&sources(Some("big.toml"), &[])).is_err());

        let e = Config::load(&sources(None, &["cache.ttl_seconds=1e300"]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--set cache.ttl_seconds=1e300") && e.contains("cache.ttl_seconds"),
            "{e}"
        );
        jail.set_env("FEMSCALE_CACHE__REDIS_TIMEOUT_SECONDS", "1e19");
        let e = Config::load(&sources(None, &[])).unwrap_err().to_string();
        assert!(
            e.contains("environment variable FEMSCALE_CACHE__REDIS_TIMEOUT_SECONDS")
                && e.contains("cache.redis_timeout_seconds"),
            "{e}"
        );
        jail.set_env("FEMSCALE_CACHE__REDIS_TIMEOUT_SECONDS", "2");
        for item in [
            "solver.memory_limit_mb=1e19",
            "cache.memory_mb=-1",
            "cache.disk_max_mb=inf",
            "scaling.threads=100000",
            "solver.gmres.restart=18446744073709551615",
            "solver.amg.sweeps=1000000000",
        ] {
            let key = item.split('=').next().unwrap();
            let e = Config::load(&sources(None, &[item]))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(key) && e.contains(&format!("--set {item}")),
                "{e}"
            );
        }
        // At the bounds: accepted.
        Config::load(&sources(
            None,
            &[
                "solver.timeout_seconds=1e9",
                "cache.memory_mb=0",
                "scaling.threads=1024",
            ],
        ))
        .unwrap();
        Ok(())
    });
}

#[test]
fn a_parent_key_override_is_named_for_errors_below_it() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "c.toml",
            "[problem]\nboundary = [{ where = \"left\" }]\n\n[solver]\ntimeout_seconds = 5\n",
        )?;
        let s = sources(
            Some("c.toml"),
            &["problem.boundary=[{ where = \"north\" }]"],
        );
        let origin = s.attribution().origin("problem.boundary[0].where").unwrap();
        assert_eq!(
            origin.to_string(),
            "from --set problem.boundary=[{ where = \"north\" }]"
        );
        // A table override names itself only for the keys it holds.
        let s = sources(Some("c.toml"), &["solver={ kind = \"cg\" }"]);
        let a = s.attribution();
        assert_eq!(
            a.origin("solver.kind").unwrap().label(),
            "--set solver={ kind = \"cg\" }"
        );
        assert_eq!(
            a.origin("solver.timeout_seconds").unwrap().label(),
            "c.toml:5"
        );
        // Bounds errors of a value inside a parent override.
        let e = Config::load(&sources(
            Some("c.toml"),
            &["solver={ timeout_seconds = 1e300 }"],
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("--set solver={ timeout_seconds = 1e300 }")
                && e.contains("solver.timeout_seconds"),
            "{e}"
        );
        jail.set_env("FEMSCALE_PROBLEM__BOUNDARY", "[{ where = \"north\" }]");
        let a = sources(Some("c.toml"), &[]).attribution();
        assert_eq!(
            a.origin("problem.boundary[0].where").unwrap().label(),
            "environment variable FEMSCALE_PROBLEM__BOUNDARY"
        );
        Ok(())
    });
}

#[test]
fn the_attribution_of_a_loaded_config_keeps_the_lines_of_the_file() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "c.toml",
            "[problem]\nboundary = [\n  { where = \"left\" },\n  { where = \"top\", kind = \"neumann\" },\n]\nparams.a = 2.0\n\n[solver]\nkind = \"cg\"\n",
        )?;
        let (config, a) =
            Config::load_attributed(&sources(Some("c.toml"), &["solver.tolerance=1e-9"])).unwrap();
        assert_eq!(config.solver.tolerance, 1e-9);
        // The source map was built when the file was loaded: the file is not read again.
        std::fs::remove_file(jail.directory().join("c.toml")).unwrap();
        let label = |field: &str| a.origin(field).unwrap().label();
        assert_eq!(label("problem.boundary[1].kind"), "c.toml:4");
        assert_eq!(label("problem.params.a"), "c.toml:6");
        assert_eq!(label("solver.kind"), "c.toml:9");
        // Keys the file leaves out: the line of the entry or table holding them.
        assert_eq!(label("problem.boundary[1].value"), "c.toml:4");
        assert_eq!(label("solver.max_iterations"), "c.toml:8");
        assert_eq!(label("solver.tolerance"), "--set solver.tolerance=1e-9");
        // Lookups go through the structured path; the column is kept too.
        let kind = FieldPath::root()
            .key("problem")
            .key("boundary")
            .index(1)
            .key("kind");
        assert_eq!(kind.to_string(), "problem.boundary[1].kind");
        assert_eq!(
            a.origin_of(&kind),
            Some(Origin::File {
                path: "c.toml".into(),
                line: Some(4),
                column: Some(20),
            })
        );
        let map = a.source_map().unwrap();
        assert_eq!(
            map.get(&FieldPath::parse("problem.boundary[0]"))
                .unwrap()
                .line,
            3
        );
        Ok(())
    });
}

#[test]
fn a_missing_or_unreadable_config_file_is_an_io_error_with_its_path() {
    let dir = std::env::temp_dir().join(format!("femscale-io-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("missing.toml");
    match Config::load(&sources(missing.to_str(), &[])) {
        Err(femscale_core::Error::Io { path, source }) => {
            assert_eq!(path, missing);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
    match Config::load(&sources(dir.to_str(), &[])) {
        Err(e @ femscale_core::Error::Io { .. }) => {
            assert!(e.to_string().contains("not a file"), "{e}");
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
    let latin1 = dir.join("latin1.toml");
    std::fs::write(&latin1, b"[solver]\nkind = \"d\xe9rect\"\n").unwrap();
    match Config::load(&sources(latin1.to_str(), &[])) {
        Err(femscale_core::Error::Io { source, .. }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::InvalidData);
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn overrides_of_a_solver_are_named_and_misspelt_keys_get_a_suggestion() {
    let solver = femscale_runtime::FemSolver::new();
    let e = solver
        .with_overrides(&["solver.tolerence=1e-9"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("override `solver.tolerence=1e-9`"), "{e}");
    assert!(e.contains("solver.tolerence"), "{e}");
    assert!(e.contains("did you mean `tolerance`"), "{e}");
    // Neither figment's provider types nor femscale's source paths.
    assert!(!e.contains("Serialized") && !e.contains(".rs"), "{e}");
    let e = solver
        .with_overrides(&["problem.mesh.nx=-3"])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("problem.mesh.nx") && e.contains("override"),
        "{e}"
    );
}

/// A table of names (parameters, per-subdomain coefficients) set whole by a variable or an
/// override replaces the file's (merged key by key, the file's other names stayed); a key
/// inside it still merges, and settings tables (`problem.mesh`) merge as before.
#[test]
fn a_named_table_set_whole_replaces_the_files() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "c.toml",
            "[problem]\nparams = { a = 5.0, b = 5.0 }\nmesh = { kind = \"rectangle\", nx = 4, ny = 6 }\n",
        )?;
        let file = Some("c.toml");
        let names = |c: &Config| {
            c.problem
                .params
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect::<Vec<_>>()
        };
        let c = Config::load(&sources(file, &["problem.params={ a = 1.0 }"])).unwrap();
        assert_eq!(names(&c), [("a".to_string(), 1.0)]);
        let c = Config::load(&sources(file, &["problem.params.c=3.0"])).unwrap();
        assert_eq!(names(&c).len(), 3);
        // The variable replaces the file's table; a later override of one key merges into it,
        // and a later override of the whole table drops the variable.
        jail.set_env("FEMSCALE_PROBLEM__PARAMS", "{ c = 2.0 }");
        let c = Config::load(&sources(file, &["problem.params.d=4.0"])).unwrap();
        assert_eq!(names(&c), [("c".to_string(), 2.0), ("d".to_string(), 4.0)]);
        let c = Config::load(&sources(file, &["problem.params={ e = 1.0 }"])).unwrap();
        assert_eq!(names(&c), [("e".to_string(), 1.0)]);
        // Set inside a parent table's value, the same (and a lower parent layer loses it).
        let c = Config::load(&sources(file, &["problem={ params = { f = 1.0 } }"])).unwrap();
        assert_eq!(names(&c), [("f".to_string(), 1.0)]);
        let both = [
            "problem={ params = { g = 1.0 } }",
            "problem.params={ h = 1.0 }",
        ];
        let c = Config::load(&sources(file, &both)).unwrap();
        assert_eq!(names(&c), [("h".to_string(), 1.0)]);
        // Settings tables merge: the file's `ny` stays beside the override's `nx`.
        let c = Config::load(&sources(file, &["problem.mesh={ nx = 8 }"])).unwrap();
        let shown = format!("{:?}", c.problem.mesh);
        assert!(
            shown.contains("ny: 6") && shown.contains("nx: 8"),
            "{shown}"
        );
        Ok(())
    });
}

/// A configuration error names its key as data too (the Python package's `field`), not only
/// in its message: a value out of range, a value of the wrong type, an unknown key.
#[test]
fn configuration_errors_carry_their_key() {
    // In a jail: other tests set `FEMSCALE_*` variables meanwhile.
    Jail::expect_with(|jail| {
        check_keys_carried();
        // A number out of range, from a variable.
        jail.set_env("FEMSCALE_SOLVER__TOLERANCE", "1e400");
        let e = Config::load(&sources(None, &[])).unwrap_err();
        assert_eq!(e.field_name().as_deref(), Some("solver.tolerance"), "{e}");
        assert!(e.to_string().contains("FEMSCALE_SOLVER__TOLERANCE"), "{e}");
        Ok(())
    });
}

fn check_keys_carried() {
    for (set, key) in [
        ("scaling.threads=-1", "scaling.threads"),
        ("solver.tolerance=\"small\"", "solver.tolerance"),
        ("problem.mesh.nxx=4", "problem.mesh.nxx"),
        ("cache.memory_mb=1e30", "cache.memory_mb"),
        ("problem.mesh.nx=1e400", "problem.mesh.nx"),
        ("problem.mesh.nx=99999999999999999999999", "problem.mesh.nx"),
    ] {
        let e = Config::load(&sources(None, &[set])).unwrap_err();
        assert_eq!(e.field_name().as_deref(), Some(key), "{set}: {e}");
        assert!(e.to_string().contains(key), "{e}");
    }
}

/// A non-finite number is no value of any key: refused at load, naming the key and where it
/// came from (a constant coefficient was refused only by a solve, and an experiment's identity
/// read it as unset).
#[test]
fn non_finite_numbers_are_refused_wherever_they_are() {
    Jail::expect_with(|jail| {
        jail.create_file("c.toml", "[problem]\nreaction = -1e400\n")?;
        let e = Config::load(&sources(Some("c.toml"), &[])).unwrap_err();
        assert_eq!(e.field_name().as_deref(), Some("problem.reaction"), "{e}");
        assert!(e.to_string().contains("c.toml:2"), "{e}");
        for set in [
            "problem.reaction=nan",
            "problem.params.k=inf",
            "problem.diffusion={ a = -inf }",
        ] {
            let e = Config::load(&sources(None, &[set])).unwrap_err();
            assert!(e.to_string().contains("--set"), "{set}: {e}");
            assert!(
                e.to_string().contains("not a number femscale can use"),
                "{set}: {e}"
            );
        }
        assert!(Config::from_toml_str("[problem]\nsource = nan\n").is_err());
        Ok(())
    });
}

/// `FemSolver::with_overrides` stacks over the solver's whole configuration, defaults
/// included: a subdomain key replaces the default constant `diffusion = 1.0` as `--set` does
/// without a file (review C: it was refused, naming the configuration's Rust type), while a
/// key under a value an earlier override set is refused as on the command line.
#[test]
fn overrides_in_code_set_subdomain_keys_over_the_defaults() {
    let solver = femscale_runtime::FemSolver::new();
    let over = solver
        .with_overrides(&["problem.diffusion.copper=400", "problem.diffusion.steel=16"])
        .unwrap();
    let diffusion = serde_json::to_value(&over.config().problem.diffusion).unwrap();
    assert_eq!(diffusion["copper"], 400.0, "{diffusion}");
    assert_eq!(diffusion["steel"], 16.0, "{diffusion}");
    let e = solver
        .with_overrides(&["adaptivity=1", "adaptivity.theta=0.5"])
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("adaptivity.theta=0.5") && e.contains("adaptivity=1"),
        "{e}"
    );
}
