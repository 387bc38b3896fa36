//! Gmsh meshes through the runtime: `kind = "gmsh"` with a path relative to the configuration
//! file, conditions on physical groups by name or number, refinement of file meshes, and
//! manufactured-solution convergence on them.

use std::path::{Path, PathBuf};

use femscale_runtime::{Config, ConfigSources, FemSolver, Solution};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../mesh/tests/data/gmsh")
        .join(name)
}

/// A configuration file in a fresh directory beside a copy of `mesh`, which it names by a
/// relative path; returns the directory (kept alive) and the loaded configuration.
fn config_beside(mesh: &str, body: &str) -> (tempfile::TempDir, Config) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("meshes")).unwrap();
    std::fs::copy(data(mesh), dir.path().join("meshes").join(mesh)).unwrap();
    let file = dir.path().join("case.toml");
    std::fs::write(
        &file,
        format!("[problem.mesh]\nkind = \"gmsh\"\npath = \"meshes/{mesh}\"\n{body}"),
    )
    .unwrap();
    let config = Config::load(&ConfigSources {
        file: Some(file),
        overrides: vec![],
    })
    .unwrap();
    (dir, config)
}

/// Solves the configured problem of `config`.
fn solve(config: Config) -> femscale_core::Result<Solution> {
    FemSolver::from_config(config).unwrap().solve_configured()
}

fn rates(e: &[f64]) -> Vec<f64> {
    e.windows(2).map(|w| (w[0] / w[1]).log2()).collect()
}

/// Solves on the file mesh refined 0..=levels times; returns L2 and H1 errors.
fn errors(config: Config, levels: usize) -> (Vec<f64>, Vec<f64>, Vec<Solution>) {
    let solver = FemSolver::from_config(config).unwrap();
    let solutions: Vec<Solution> = (0..=levels)
        .map(|k| {
            let set = format!("problem.mesh.refinements={k}");
            solver.scoped(&[&set], |s| s.solve_configured()).unwrap()
        })
        .collect();
    let l2 = solutions
        .iter()
        .map(|s| s.metrics.l2_error.unwrap())
        .collect();
    let h1 = solutions
        .iter()
        .map(|s| s.metrics.h1_error.unwrap())
        .collect();
    (l2, h1, solutions)
}

fn assert_optimal(label: &str, l2: &[f64], h1: &[f64]) {
    let (rl2, rh1) = (rates(l2), rates(h1));
    eprintln!("{label}: L2 {l2:?} rates {rl2:.3?}\n  H1 {h1:?} rates {rh1:.3?}");
    assert!(
        rl2[1..].iter().all(|r| (1.8..=2.2).contains(r)),
        "{label}: L2 rates {rl2:?}"
    );
    assert!(
        rh1[1..].iter().all(|r| (0.9..=1.1).contains(r)),
        "{label}: H1 rates {rh1:?}"
    );
}

/// -Δu = 1 on the disk, u = (1 - r²)/4. Refinement keeps the coarse polygon (midpoints stay on
/// the chords), so the boundary value is the exact solution there, not 0: the discrete
/// problem is then the polygon's, and converges at the optimal rates.
#[test]
fn poisson_on_the_gmsh_disk_converges_at_optimal_rates_in_every_encoding() {
    for enc in ["v22_ascii", "v41_binary"] {
        let (_dir, config) = config_beside(
            &format!("disk_{enc}.msh"),
            r#"
            [problem]
            source = 1.0
            exact = "(1 - x^2 - y^2)/4"
            [[problem.boundary]]
            where = "outer"
            kind = "dirichlet"
            value = "(1 - x^2 - y^2)/4"
            "#,
        );
        let (l2, h1, solutions) = errors(config, 3);
        assert_optimal(&format!("disk {enc}"), &l2, &h1);
        let m = &solutions[2].mesh;
        assert_eq!(m.cell_markers().len(), m.num_cells());
        assert_eq!(m.subdomains()[0].name.as_deref(), Some("disk"));
    }
}

/// A manufactured solution on the L-shape (Dirichlet data on the walls by name, a Robin
/// condition on the inlet by number) converges at the optimal rates.
#[test]
fn manufactured_solution_on_the_gmsh_l_shape_converges_at_optimal_rates() {
    let u = "sin(pi*x)*cos(pi*y) + x*y";
    let (_dir, config) = config_beside(
        "lshape_v41_ascii.msh",
        &format!(
            r#"
            [problem]
            source = "2*pi^2*sin(pi*x)*cos(pi*y)"
            exact = "{u}"
            [[problem.boundary]]
            where = "walls"
            kind = "dirichlet"
            value = "{u}"
            [[problem.boundary]]
            where = "inlet"
            kind = "dirichlet"
            value = "{u}"
            "#
        ),
    );
    let (l2, h1, _) = errors(config, 3);
    assert_optimal("L-shape", &l2, &h1);
}

/// A condition may name a physical group by its number, and a problem on the file mesh gives
/// the same numbers whichever encoding the file has.
#[test]
fn conditions_by_physical_number_and_encodings_agree() {
    let body = r#"
        [problem]
        source = "2*pi^2*sin(pi*x)*sin(pi*y)"
        [[problem.boundary]]
        where = 11
        kind = "dirichlet"
        value = 0.0
        [[problem.boundary]]
        where = "inlet"
        kind = "robin"
        alpha = 2.0
        value = 1.0
        "#;
    let mut values = Vec::new();
    for enc in ["v22_ascii", "v22_binary", "v41_ascii", "v41_binary"] {
        let (_dir, config) = config_beside(&format!("lshape_{enc}.msh"), body);
        let s = solve(config).unwrap();
        values.push(s.values.clone());
    }
    for v in &values[1..] {
        let diff = v
            .iter()
            .zip(&values[0])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        // ASCII files hold 16 significant digits, binary ones the exact doubles.
        assert!(diff < 1e-12, "encodings differ by {diff}");
    }
}

#[test]
fn a_missing_path_or_file_and_an_unknown_group_are_typed_errors() {
    let e = Config::from_toml_str("[problem.mesh]\nkind = \"gmsh\"\n").unwrap_err();
    assert!(e.to_string().contains("needs `path`"), "{e}");
    let (dir, config) = config_beside("disk_v41_ascii.msh", "");
    std::fs::remove_file(dir.path().join("meshes/disk_v41_ascii.msh")).unwrap();
    let e = solve(config).unwrap_err();
    assert!(e.to_string().contains("disk_v41_ascii.msh"), "{e}");
    let (_dir, config) = config_beside(
        "disk_v41_ascii.msh",
        "[[problem.boundary]]\nwhere = \"rim\"\nkind = \"dirichlet\"\nvalue = 0.0\n",
    );
    let e = solve(config).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("rim") && text.contains("outer"), "{text}");
    // The declared dimension is checked once the file is read.
    let (_dir, config) = config_beside("disk_v41_ascii.msh", "[problem]\ndim = 3\n");
    let e = solve(config).unwrap_err();
    assert_eq!(e.field_name().as_deref(), Some("problem.dim"), "{e}");
    // A tetrahedral mesh reads and, since issue 18, assembles and solves (P1 on tetrahedra).
    let (_dir, config) = config_beside("cube_v41_binary.msh", "");
    let solution = solve(config).unwrap();
    assert_eq!(solution.metrics.mesh.cell_kind, "tetrahedron");
    assert_eq!(solution.metrics.element, "P1");
}

/// Two materials on the annulus (copper for 0.3 < r < 0.6, steel for 0.6 < r < 1) with
/// diffusion (jumping 25-fold), reaction and source given per subdomain.
///
/// The mesh's interface is the polygon inscribed in r = 0.6, and refinement keeps it, so a
/// manufactured solution must satisfy the interface condition on that polygon: u = w³ with
/// w = max(0, r² - 0.36) is 0 with zero gradient inside the circle, so the flux k du/dn is zero
/// on both sides of any interface inside it, and u is C² (P1 rates need H²). With k = 16 + x²
/// in steel: f = -(16 + x²)(24 r² w + 12 w²) - 12 x² w² + 3 u; in copper f = 0.
#[test]
fn two_materials_on_the_annulus_converge_at_optimal_rates() {
    let w = "max(0, x^2 + y^2 - 0.36)";
    let u = format!("{w}^3");
    let body = format!(
        r#"
        [problem]
        diffusion = {{ copper = 400.0, steel = "16 + x^2" }}
        reaction = {{ copper = 0.0, 2 = 3.0 }}
        source = {{ copper = 0.0, steel = "-(16 + x^2)*(24*(x^2 + y^2)*{w} + 12*{w}^2) - 12*x^2*{w}^2 + 3*{u}" }}
        exact = "{u}"
        [[problem.boundary]]
        where = "inner"
        kind = "dirichlet"
        value = 0.0
        [[problem.boundary]]
        where = "outer"
        kind = "dirichlet"
        value = "{u}"
        "#
    );
    let (_dir, config) = config_beside("annulus_v41_binary.msh", &body);
    let (l2, h1, solutions) = errors(config, 3);
    assert_optimal("annulus, two materials", &l2, &h1);
    assert_eq!(solutions[1].mesh.subdomains().len(), 2);
}

#[test]
fn coefficients_by_subdomain_must_cover_every_subdomain_and_name_real_ones() {
    let run = |diffusion: &str, mesh: &str| {
        let body = format!(
            "[problem]\ndiffusion = {diffusion}\n[[problem.boundary]]\nwhere = \"all\"\nkind = \"dirichlet\"\nvalue = 0.0\n"
        );
        let (_dir, config) = config_beside(mesh, &body);
        solve(config)
    };
    let e = run("{ copper = 1.0 }", "annulus_v41_ascii.msh").unwrap_err();
    assert!(e.to_string().contains("steel"), "{e}");
    assert_eq!(e.field_name().as_deref(), Some("problem.diffusion"));
    let e = run(
        "{ copper = 1.0, steel = 2.0, brass = 3.0 }",
        "annulus_v41_ascii.msh",
    )
    .unwrap_err();
    assert_eq!(e.field_name().as_deref(), Some("problem.diffusion.brass"));
    let e = run("{ copper = 1.0, steel = -2.0 }", "annulus_v41_ascii.msh").unwrap_err();
    assert!(e.to_string().contains("positive"), "{e}");
    assert!(run("{ 1 = 1.0, steel = 2.0 }", "annulus_v41_ascii.msh").is_ok());
    // A subdomain given twice, by name and by marker: refused naming the second key (the
    // number was dropped silently).
    for (coefficients, key) in [
        (
            "{ copper = 1.0, 2 = 1.0, steel = 3.0 }",
            "problem.diffusion.steel",
        ),
        (
            "{ 1 = 400.0, copper = 5.0, steel = 1.0 }",
            "problem.diffusion.copper",
        ),
    ] {
        let e = run(coefficients, "annulus_v41_ascii.msh").unwrap_err();
        assert_eq!(e.field_name().as_deref(), Some(key), "{coefficients}: {e}");
        assert!(e.to_string().contains("give each subdomain once"), "{e}");
    }
    // Two subdomains with one name: the name would reach the first alone (and the second's
    // entry by number was dropped).
    let dir = tempfile::tempdir().unwrap();
    let twins = dir.path().join("twins.msh");
    std::fs::write(
        &twins,
        "$MeshFormat\n2.2 0 8\n$EndMeshFormat\n$PhysicalNames\n2\n2 1 \"x\"\n2 2 \"x\"\n\
         $EndPhysicalNames\n$Nodes\n4\n1 0 0 0\n2 1 0 0\n3 1 1 0\n4 0 1 0\n$EndNodes\n\
         $Elements\n2\n1 2 2 1 1 1 2 3\n2 2 2 2 2 1 3 4\n$EndElements\n",
    )
    .unwrap();
    for diffusion in ["{ x = 5.0, 2 = 1.0 }", "{ x = 5.0 }"] {
        let config = Config::from_toml_str(&format!(
            "[problem]\nmesh = {{ kind = \"gmsh\", path = {:?} }}\ndiffusion = {diffusion}\n\
             [[problem.boundary]]\nwhere = \"all\"\nkind = \"dirichlet\"\nvalue = 0.0\n",
            twins.display().to_string()
        ))
        .unwrap();
        let e = solve(config).unwrap_err();
        assert_eq!(
            e.field_name().as_deref(),
            Some("problem.diffusion.x"),
            "{e}"
        );
        assert!(e.to_string().contains("markers 1 and 2"), "{e}");
    }
    // A generated mesh has no subdomains.
    let config = Config::from_toml_str("[problem]\ndiffusion = { a = 1.0 }\n").unwrap();
    let e = solve(config).unwrap_err();
    assert!(e.to_string().contains("no subdomain markers"), "{e}");
}

/// The report's mesh statistics name both materials of the annulus with counts summing to the
/// cells, before and after refinement, and list the marked boundary groups.
#[test]
fn the_report_lists_the_annulus_materials_and_boundary_groups() {
    let (_dir, config) = config_beside(
        "annulus_v41_binary.msh",
        r#"
        [problem]
        source = 1.0
        [[problem.boundary]]
        where = "outer"
        kind = "dirichlet"
        value = 0.0
        "#,
    );
    let solver = FemSolver::from_config(config).unwrap();
    let coarse = solver.solve_configured().unwrap().metrics;
    let fine = solver
        .scoped(&["problem.mesh.refinements=1"], |s| s.solve_configured())
        .unwrap()
        .metrics;
    for (m, scale) in [(&coarse, 1), (&fine, 2)] {
        let s = &m.mesh;
        assert_eq!(
            (s.cell_kind.as_str(), s.cells),
            ("triangle", m.num_elements)
        );
        assert_eq!(s.nodes, m.dofs);
        let sub: Vec<_> = s
            .subdomains
            .iter()
            .map(|d| (d.name.as_deref(), d.cells))
            .collect();
        assert_eq!(
            sub,
            [
                (Some("copper"), 91 * scale * scale),
                (Some("steel"), 228 * scale * scale)
            ]
        );
        assert_eq!(sub.iter().map(|d| d.1).sum::<usize>(), s.cells);
        let outer = s.boundary.iter().find(|b| b.name == "outer").unwrap();
        assert_eq!((outer.id, outer.facets), (Some(12), 42 * scale));
        assert!(0.0 < s.min_quality && s.min_quality <= s.max_quality && s.max_quality <= 1.0);
    }
    let json = serde_json::to_value(&coarse).unwrap();
    assert_eq!(json["mesh"]["subdomains"][1]["name"], "steel");
}

/// The same problem on gmsh's structured 8 x 8 square and on `Mesh::rectangle`'s gives the
/// same numbers (node numbering differs, so sums run in another order: equal to rounding).
#[test]
fn a_gmsh_square_and_the_generated_one_give_the_same_numbers() {
    let problem = r#"
        source = "2*pi^2*sin(pi*x)*sin(pi*y)"
        exact = "sin(pi*x)*sin(pi*y)"
        diffusion = "1 + x*y"
        [[problem.boundary]]
        where = "left"
        kind = "dirichlet"
        value = 0.0
        [[problem.boundary]]
        where = 4
        kind = "robin"
        alpha = 2.0
        value = "x"
        [[problem.boundary]]
        where = "right"
        kind = "neumann"
        value = 1.0
        "#;
    let (_dir, config) =
        config_beside("structured_v41_ascii.msh", &format!("[problem]\n{problem}"));
    let from_file = solve(config).unwrap();
    let generated = Config::from_toml_str(&format!(
        "[problem]\nmesh = {{ kind = \"rectangle\", nx = 8, ny = 8, cell = \"quadrilateral\" }}\n{problem}"
    ))
    .unwrap();
    let from_generator = solve(generated).unwrap();
    let by_point = |s: &Solution| {
        let mut v: Vec<([i64; 2], f64)> = (s.mesh.points().iter().zip(&s.values))
            .map(|(p, u)| {
                (
                    [(p[0] * 1e9).round() as i64, (p[1] * 1e9).round() as i64],
                    *u,
                )
            })
            .collect();
        v.sort_by_key(|e| e.0);
        v
    };
    let (a, b) = (by_point(&from_file), by_point(&from_generator));
    assert_eq!(a.len(), 81);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.0, y.0, "node positions differ");
        assert!(
            (x.1 - y.1).abs() < 1e-12,
            "u at {:?}: {} vs {}",
            x.0,
            x.1,
            y.1
        );
    }
    let (ea, eb) = (
        from_file.metrics.l2_error.unwrap(),
        from_generator.metrics.l2_error.unwrap(),
    );
    assert!((ea - eb).abs() < 1e-12 * eb.max(1.0), "{ea} vs {eb}");
}

/// Boundary parts named by predicate in the configuration (`problem.mesh.parts`) select the
/// facets of the file's physical groups: the same solution, by name of either.
#[test]
fn parts_named_by_predicate_select_the_physical_groups_facets() {
    let conditions = |dirichlet: &str, robin: &str, neumann: &str| {
        format!(
            r#"
            [problem]
            source = "2*pi^2*sin(pi*x)*sin(pi*y)"
            diffusion = "1 + x*y"
            boundary = [
                {{ where = "{dirichlet}", kind = "dirichlet", value = 0.0 }},
                {{ where = "{robin}", kind = "robin", alpha = 2.0, value = "x" }},
                {{ where = "{neumann}", kind = "neumann", value = 1.0 }},
            ]
            "#
        )
    };
    let (_a, by_group) = config_beside(
        "structured_v41_ascii.msh",
        &conditions("left", "top", "right"),
    );
    let parts =
        "parts = { west = \"x < 1e-9\", north = \"y > 1 - 1e-9\", east = \"x > 1 - 1e-9\" }\n";
    let (_b, by_predicate) = config_beside(
        "structured_v41_ascii.msh",
        &format!("{parts}{}", conditions("west", "north", "east")),
    );
    let (a, b) = (solve(by_group).unwrap(), solve(by_predicate).unwrap());
    for name in ["west", "north", "east"] {
        assert_eq!(
            b.mesh.boundary_part(name).unwrap().facets.len(),
            8 * 2,
            "{name}"
        );
    }
    assert_eq!(a.values.len(), b.values.len());
    for (u, v) in a.values.iter().zip(&b.values) {
        assert!((u - v).abs() < 1e-12, "{u} vs {v}");
    }
}

/// A predicate that does not parse, uses unknown names, matches no exterior facet or reuses a
/// group's name is a typed error naming `problem.mesh.parts.<name>`.
#[test]
fn bad_part_predicates_are_typed_errors_naming_the_part() {
    let body = |parts: &str| {
        format!("parts = {{ {parts} }}\n[problem]\nboundary = [{{ where = \"all\" }}]\n")
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("meshes")).unwrap();
    std::fs::copy(
        data("structured_v41_ascii.msh"),
        dir.path().join("meshes/structured_v41_ascii.msh"),
    )
    .unwrap();
    let file = dir.path().join("case.toml");
    for (parts, says) in [
        ("west = \"x <\"", "problem.mesh.parts.west"),
        ("west = \"w < 1\"", "problem.mesh.parts.west"),
    ] {
        std::fs::write(
            &file,
            format!(
                "[problem.mesh]\nkind = \"gmsh\"\npath = \"meshes/structured_v41_ascii.msh\"\n{}",
                body(parts)
            ),
        )
        .unwrap();
        let e = Config::load(&ConfigSources {
            file: Some(file.clone()),
            overrides: vec![],
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.contains(says) || e.contains("problem.mesh"),
            "{parts}: {e}"
        );
        assert!(e.contains("west"), "{parts}: {e}");
    }
    for (parts, says) in [
        ("west = \"x < -1\"", "no exterior facet"),
        ("left = \"x < 1e-9\"", "already called `left`"),
    ] {
        let (_d, config) = config_beside("structured_v41_ascii.msh", &body(parts));
        let e = solve(config).unwrap_err();
        let text = e.to_string();
        assert!(
            matches!(e, femscale_core::Error::InvalidInput { .. }),
            "{text}"
        );
        assert!(
            text.contains("mesh.parts.") && text.contains(says),
            "{parts}: {text}"
        );
    }
}

/// Non-conforming Gmsh meshes (written by gmsh, `data/gmsh/nonconforming.py`): two OCC
/// rectangles never fragmented (their common edge meshed twice, with different sizes) are
/// refused naming the file and a node on the interface; fragmented they solve; a slit opened
/// by gmsh's Crack plugin (both sides in the group `crack`) solves with the sides apart; a
/// group called `all` that is not every exterior facet is refused.
#[test]
fn non_conforming_gmsh_meshes_are_refused_and_cracks_in_groups_accepted() {
    let outer = "[[problem.boundary]]\nwhere = \"outer\"\nkind = \"dirichlet\"\nvalue = \"x\"\n";
    let (_dir, config) = config_beside("unmerged_v41_ascii.msh", outer);
    let text = solve(config).unwrap_err().to_string();
    assert!(text.contains("unmerged_v41_ascii.msh"), "{text}");
    assert!(
        text.contains("not conforming") && text.contains("at (1, "),
        "{text}"
    );

    // Without groups its facets are marked by their curves' tags: that excuses nothing.
    let (_dir, config) = config_beside("unmerged_nogroups_v41_ascii.msh", "");
    let text = solve(config).unwrap_err().to_string();
    assert!(text.contains("not conforming"), "{text}");

    let (_dir, config) = config_beside("fragments_v41_ascii.msh", outer);
    let solution = solve(config).unwrap();
    // u = x is harmonic and P1 reproduces it.
    let err = (0..solution.mesh.num_nodes())
        .map(|i| (solution.values[i] - solution.node(i)[0]).abs())
        .fold(0.0, f64::max);
    assert!(err < 1e-9, "{err}");

    // The slit x = 0.5, 0 <= y <= 0.5 insulates: with u = x on the outer boundary the two
    // copies of a node on it take different values.
    let (_dir, config) = config_beside("crack_v41_ascii.msh", outer);
    let solution = solve(config).unwrap();
    let on_slit: Vec<usize> = (0..solution.mesh.num_nodes())
        .filter(|&i| {
            let p = solution.node(i);
            p[0] == 0.5 && p[1] > 0.05 && p[1] < 0.45
        })
        .collect();
    let jump = (on_slit.iter())
        .flat_map(|&i| on_slit.iter().map(move |&j| (i, j)))
        .filter(|&(i, j)| i < j && solution.node(i) == solution.node(j))
        .map(|(i, j)| (solution.values[i] - solution.values[j]).abs())
        .fold(0.0, f64::max);
    assert!(
        jump > 1e-3,
        "copies on the slit: {on_slit:?}, largest jump {jump}"
    );

    let (_dir, config) = config_beside("allgroup_v41_ascii.msh", "");
    let text = solve(config).unwrap_err().to_string();
    assert!(text.contains("allgroup_v41_ascii.msh"), "{text}");
    assert!(
        text.contains("`all`") && text.contains("rename the group"),
        "{text}"
    );
}
