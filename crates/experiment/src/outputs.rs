//! The outputs beyond `results.jsonl` and `summary.csv`: VTU files of solutions (`vtu`) and SVG
//! plots (`svg`): error against mesh size with fitted rates, and time against unknowns.
//! Adaptive runs add one VTU file per step (the estimator as cell data) with a ParaView
//! collection, and a plot of estimate and error against unknowns with the optimal slope.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use femscale_core::{Error, Result};

use super::spec::{OutputFormat, OutputSpec};
use super::store::SUMMARY_FILE;
use super::summary::SummaryRow;
use super::sweep::Point;
use femscale_runtime::{AdaptiveSnapshot, Solution};

/// Sub-directory of the output directory that holds the VTU files.
pub const VTU_DIR: &str = "vtu";
/// Sub-directory of the output directory that holds adaptive runs' plots
/// (`adaptive/<point id>.svg`).
pub const ADAPTIVE_DIR: &str = "adaptive";
/// File name of an adaptive run's ParaView collection in `vtu/<point id>/`.
pub const STEPS_COLLECTION: &str = "steps.pvd";

/// `dir/name`, created if missing.
fn sub_dir(dir: &Path, name: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    std::fs::create_dir_all(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// Removes what an earlier run of `point` wrote beside the log — `vtu/<point id>.vtu`, its
/// step files and collection, `adaptive/<point id>.svg` — before its repetition 0 runs again
/// (under another identity, or retried): a run that now fails, or writes fewer outputs, must
/// not leave the old configuration's files under the point's name.
pub(super) fn clear_point_outputs(dir: &Path, point: &Point) -> Result<()> {
    let remove = |path: PathBuf| match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Io { path, source: e }),
        _ => Ok(()),
    };
    remove(dir.join(VTU_DIR).join(format!("{}.vtu", point.id())))?;
    remove(dir.join(ADAPTIVE_DIR).join(format!("{}.svg", point.id())))?;
    let steps = dir.join(VTU_DIR).join(point.id());
    if steps.is_dir() {
        clear_steps(&steps)?;
    }
    // The record last: outputs a kill leaves behind still have the record that names them.
    remove(dir.join(OUTPUT_STAMPS_DIR).join(point.id()))
}

/// Hidden sub-directory of the output directory that records, per point, which run wrote the
/// point's outputs (its VTU files and adaptive plot): `.outputs/<point id>` holds the run id.
pub const OUTPUT_STAMPS_DIR: &str = ".outputs";

/// What [`point_outputs_are`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stamp {
    /// Written, complete, by the run `point.run_id(0)`.
    Current,
    /// Written by another run (another configuration), or by one that did not complete them.
    Other,
    /// No record (outputs written before femscale kept them, or none written).
    Unrecorded,
}

/// Whether `point`'s outputs in `dir` were written, completely, by its current repetition 0.
pub(super) fn point_outputs_are(dir: &Path, point: &Point) -> Stamp {
    match std::fs::read_to_string(dir.join(OUTPUT_STAMPS_DIR).join(point.id())) {
        Ok(text) if text.trim() == point.run_id(0) => Stamp::Current,
        Ok(_) => Stamp::Other,
        Err(_) => Stamp::Unrecorded,
    }
}

/// Records which run writes `point`'s outputs: before it writes them (`complete` false: the
/// record says "unfinished", so that a run killed meanwhile leaves outputs a resume removes),
/// then once they are complete (its run id). [`clear_point_outputs`] removes the record.
pub(super) fn stamp_point_outputs(dir: &Path, point: &Point, complete: bool) -> Result<()> {
    let path = sub_dir(dir, OUTPUT_STAMPS_DIR)?.join(point.id());
    let text = match complete {
        true => format!("{}\n", point.run_id(0)),
        false => format!("unfinished {}\n", point.run_id(0)),
    };
    crate::store::write_atomic(&path, text.as_bytes())
}

/// Removes the outputs of every point (finished or failed: a failed one is not run again by a
/// resume) whose record names another run — a later run under another configuration, set
/// aside since — or an unfinished one (a run killed while writing them), so that no file
/// under a point's name shows another configuration; returns how many points had such.
pub(super) fn remove_foreign_outputs(dir: &Path, points: &[Point]) -> Result<usize> {
    let mut foreign = 0;
    for point in points {
        if point_outputs_are(dir, point) == Stamp::Other {
            clear_point_outputs(dir, point)?;
            foreign += 1;
        }
    }
    Ok(foreign)
}

/// The files the end of an invocation writes from all the records, by the formats asked.
pub(super) fn summary_outputs(output: &OutputSpec) -> Vec<&'static str> {
    let mut names = Vec::new();
    if output.wants(OutputFormat::Csv) {
        names.push(SUMMARY_FILE);
    }
    if output.wants(OutputFormat::Svg) {
        names.extend([ERROR_PLOT, TIME_PLOT]);
    }
    names
}

/// Removes, from `dir`, every file the end of an invocation may write from all the records
/// (`summary.csv`, the plots) for which `keep` is false, whichever formats asked for them:
/// a summary left by an invocation with other formats would otherwise describe runs the log no
/// longer backs (review S: a `jsonl`-only run over a `csv` one kept its `summary.csv`). Only
/// regular files are removed; [`check_output_paths`] refuses other kinds where they are written.
pub(super) fn remove_summary_outputs(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<()> {
    for name in [SUMMARY_FILE, ERROR_PLOT, TIME_PLOT] {
        let path = dir.join(name);
        if !keep(name) && is_regular_file(&path) {
            std::fs::remove_file(&path).map_err(|source| Error::Io { path, source })?;
        }
    }
    Ok(())
}

/// Refuses, before anything is written, moved or removed, the paths this invocation will
/// write that only a regular file may take: `summary.csv` (with `csv`) and the plots (with
/// `svg`), which the end replaces, and the stamps of the points' outputs (`.outputs/`, a
/// directory of regular files, with `vtu` or `svg`).
pub(super) fn check_output_paths(dir: &Path, output: &OutputSpec, points: &[Point]) -> Result<()> {
    let refuse = |path: PathBuf, why: &str| {
        Err(Error::Io {
            path,
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, why.to_string()),
        })
    };
    for name in summary_outputs(output) {
        let path = dir.join(name);
        if std::fs::symlink_metadata(&path).is_ok() && !is_regular_file(&path) {
            return refuse(
                path,
                "exists and is not a regular file, which the end of the run would replace; \
                 remove it or choose another output directory",
            );
        }
    }
    let mut dirs = Vec::new();
    if output.wants(OutputFormat::Vtu) {
        dirs.push(VTU_DIR);
    }
    if output.wants(OutputFormat::Svg) {
        dirs.push(ADAPTIVE_DIR);
    }
    for name in dirs {
        let path = dir.join(name);
        if std::fs::symlink_metadata(&path).is_ok_and(|m| !m.is_dir()) && !path.is_dir() {
            return refuse(
                path,
                "exists and is not a directory: the runs write the points' files in it; \
                 remove it or choose another output directory",
            );
        }
    }
    if output.wants(OutputFormat::Vtu) {
        for point in points {
            let path = dir.join(VTU_DIR).join(format!("{}.vtu", point.id()));
            if std::fs::symlink_metadata(&path).is_ok() && !is_regular_file(&path) {
                return refuse(
                    path,
                    "exists and is not a regular file, which the point's run would replace; \
                     remove it",
                );
            }
        }
    }
    if output.wants(OutputFormat::Vtu) || output.wants(OutputFormat::Svg) {
        let stamps = dir.join(OUTPUT_STAMPS_DIR);
        let meta = std::fs::symlink_metadata(&stamps);
        if meta.as_ref().is_ok_and(|m| !m.is_dir()) {
            return refuse(
                stamps,
                "exists and is not a directory: it records which run wrote each point's \
                 VTU files and plot; remove it",
            );
        }
        for point in points {
            let stamp = stamps.join(point.id());
            if std::fs::symlink_metadata(&stamp).is_ok() && !is_regular_file(&stamp) {
                return refuse(
                    stamp,
                    "exists and is not a regular file: it records which run wrote the \
                     point's VTU files and plot; remove it",
                );
            }
        }
    }
    Ok(())
}

/// Whether `path` is a regular file (not followed through a link).
pub(super) fn is_regular_file(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file())
}

/// Removes the temporary files (`.<name>.tmp-<pid>-<n>`, see
/// [`femscale_core::io::write_atomically`]) that writers of the output directory left when
/// they were killed mid-write: in `dir`, `vtu/`, the step directories of `points`,
/// `adaptive/` and the stamps. Only files at least an hour old whose writer is no process of
/// this machine (a writer on another host of a shared file system, or a user's file of that
/// shape being written now, is left). Called under the experiment's lock. Best effort: what
/// cannot be listed or removed is skipped.
pub(super) fn remove_abandoned_temps(dir: &Path, points: &[Point]) {
    const AGE: std::time::Duration = std::time::Duration::from_secs(3600);
    let mut dirs = vec![
        dir.to_path_buf(),
        dir.join(VTU_DIR),
        dir.join(ADAPTIVE_DIR),
        dir.join(OUTPUT_STAMPS_DIR),
    ];
    // Step directories that are directories here (a link may lead out of the output).
    dirs.extend(
        (points.iter())
            .map(|p| dir.join(VTU_DIR).join(p.id()))
            .filter(|d| std::fs::symlink_metadata(d).is_ok_and(|m| m.is_dir())),
    );
    let now = std::time::SystemTime::now();
    for d in dirs {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(temp_writer) else {
                continue;
            };
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            let old =
                (meta.modified()).is_ok_and(|t| now.duration_since(t).unwrap_or_default() >= AGE);
            // This process writes for seconds, so an hour-old file of its pid is another's:
            // one of an earlier process of the same pid (every run of a container is pid 1).
            let writer_gone = pid == std::process::id() || !process_alive(pid);
            if meta.is_file() && old && writer_gone {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// The writer's pid of a temporary file named `.<name>.tmp-<pid>-<n>`.
fn temp_writer(name: &str) -> Option<u32> {
    let (head, tail) = name.rsplit_once(".tmp-")?;
    let (pid, n) = tail.split_once('-')?;
    (head.starts_with('.') && n.parse::<u64>().is_ok())
        .then(|| pid.parse().ok())
        .flatten()
}

/// Whether process `pid` exists (signal 0 checks without signalling); elsewhere than Unix,
/// assumed alive (its files are left).
#[cfg(not(unix))]
fn process_alive(_pid: u32) -> bool {
    true
}

/// Whether process `pid` exists (signal 0 checks without signalling).
#[cfg(unix)]
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 sends nothing; it only reports whether the process exists
    // (EPERM: it exists, owned by someone else).
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Whether `point`'s VTU file is in `dir`.
pub(super) fn has_point_vtu(dir: &Path, point: &Point) -> bool {
    dir.join(VTU_DIR)
        .join(format!("{}.vtu", point.id()))
        .is_file()
}

/// Writes `vtu/<point id>/step_NNN.vtu` for one step of an adaptive run when `vtu` output is
/// asked for: the solution `u` at the nodes and, as cell data, the estimator's `eta` (`η_K`),
/// `marked` (1 on the cells refined after the step) and, with an exact solution, `error` (the
/// true energy error on the cell). The first step clears the files of an earlier run.
pub(super) fn write_step_output(
    dir: &Path,
    output: &OutputSpec,
    point: &Point,
    snapshot: &AdaptiveSnapshot<'_>,
) -> Result<()> {
    if !output.wants(OutputFormat::Vtu) {
        return Ok(());
    }
    let steps_dir = sub_dir(&dir.join(VTU_DIR), point.id())?;
    if snapshot.index == 0 {
        clear_steps(&steps_dir)?;
    }
    let eta: Vec<f64> = snapshot.eta_squared.iter().map(|e| e.sqrt()).collect();
    let mut marked = vec![0.0; eta.len()];
    for &c in snapshot.marked {
        marked[c] = 1.0;
    }
    let error: Option<Vec<f64>> = snapshot
        .error_squared
        .map(|e| e.iter().map(|e| e.sqrt()).collect());
    let mut cells: Vec<(&str, &[f64])> = vec![("eta", &eta), ("marked", &marked)];
    if let Some(error) = &error {
        cells.push(("error", error));
    }
    let path = steps_dir.join(step_file(snapshot.index));
    femscale_mesh::vtu::write_vtu_with_cell_data(
        snapshot.mesh,
        &[("u", snapshot.values)],
        &cells,
        &path,
    )
}

fn step_file(index: usize) -> String {
    format!("step_{index:03}.vtu")
}

/// Removes the step files and the collection an earlier run left in `steps_dir`.
pub(super) fn clear_steps(steps_dir: &Path) -> Result<()> {
    let io = |source| Error::Io {
        path: steps_dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(steps_dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let ours =
            (name.starts_with("step_") && name.ends_with(".vtu")) || name == STEPS_COLLECTION;
        if ours {
            std::fs::remove_file(&path).map_err(|source| Error::Io { path, source })?;
        }
    }
    Ok(())
}

/// Writes `vtu/<point id>/steps.pvd`, a ParaView collection of the `steps` step files with the
/// step number as time, when `vtu` output is asked for.
pub(super) fn write_step_collection(
    dir: &Path,
    output: &OutputSpec,
    point: &Point,
    steps: usize,
) -> Result<()> {
    if !output.wants(OutputFormat::Vtu) || steps == 0 {
        return Ok(());
    }
    let path = dir.join(VTU_DIR).join(point.id()).join(STEPS_COLLECTION);
    femscale_core::io::write_atomically(&path, |w| {
        writeln!(w, r#"<?xml version="1.0"?>"#)?;
        writeln!(w, r#"<VTKFile type="Collection" version="1.0">"#)?;
        writeln!(w, "  <Collection>")?;
        for k in 0..steps {
            let file = step_file(k);
            writeln!(w, r#"    <DataSet timestep="{k}" part="0" file="{file}"/>"#)?;
        }
        writeln!(w, "  </Collection>")?;
        writeln!(w, "</VTKFile>")
    })
}
/// File name of the error-against-h plot.
pub const ERROR_PLOT: &str = "error_vs_h.svg";
/// File name of the time-against-unknowns plot.
pub const TIME_PLOT: &str = "time_vs_dofs.svg";

/// Writes `vtu/<point id>.vtu` when `vtu` output is asked for: the nodal solution `u` and, when
/// the problem has an exact solution, `exact` and `error` (`u - exact`) at the nodes; the
/// mesh's subdomain and boundary markers as cell data.
pub(super) fn write_point_outputs(
    dir: &Path,
    output: &OutputSpec,
    point: &Point,
    solution: &Solution,
) -> Result<()> {
    if output.wants(OutputFormat::Svg) {
        write_adaptive_plot(dir, point, solution)?;
    }
    if !output.wants(OutputFormat::Vtu) {
        return Ok(());
    }
    let vtu_dir = sub_dir(dir, VTU_DIR)?;
    let path = vtu_dir.join(format!("{}.vtu", point.id()));
    let exact = match point.config() {
        Some(config) => config.problem.exact_field()?,
        None => None,
    };
    let mut fields: Vec<(&str, &[f64])> = vec![("u", &solution.values)];
    let (exact_values, error_values);
    if let Some(exact) = exact {
        let points = solution.mesh.points();
        let mut values = vec![0.0; points.len()];
        exact.eval_batch(&points, &mut values);
        error_values = (solution.values.iter().zip(&values))
            .map(|(u, e)| u - e)
            .collect::<Vec<f64>>();
        exact_values = values;
        fields.push(("exact", &exact_values));
        fields.push(("error", &error_values));
    }
    femscale_mesh::vtu::write_vtu(&solution.mesh, &fields, &path)
}

/// Writes `adaptive/<point id>.svg` for an adaptive run: the estimate and, where known, the
/// true error of every step against its unknowns, with the optimal slope `-p/d` dashed.
#[cfg(feature = "plots")]
fn write_adaptive_plot(dir: &Path, point: &Point, solution: &Solution) -> Result<()> {
    use crate::plots::{Series, plot_adaptive_convergence};
    let Some(report) = &solution.metrics.adaptivity else {
        return Ok(());
    };
    let dofs = |s: &femscale_core::AdaptiveStep| s.dofs as f64;
    let mut series = vec![Series {
        label: format!("estimate ({})", report.estimator),
        points: report.steps.iter().map(|s| (dofs(s), s.estimate)).collect(),
    }];
    let errors: Vec<(f64, f64)> = (report.steps.iter())
        .filter_map(|s| Some((dofs(s), s.error?)))
        .collect();
    if !errors.is_empty() {
        series.push(Series {
            label: "energy error".into(),
            points: errors,
        });
    }
    // Only positive values can be shown on log axes: an estimate of zero (an exact solve)
    // leaves nothing to plot.
    series.retain(|s| s.points.iter().any(|&(n, e)| n > 0.0 && e > 0.0));
    if series.is_empty() {
        return Ok(());
    }
    let order = match solution.mesh.order() {
        femscale_core::Order::Linear => 1.0,
        femscale_core::Order::Quadratic => 2.0,
    };
    let rate = -order / solution.mesh.dim() as f64;
    let title = match point.label() {
        label if label.is_empty() => format!("adaptive ({} marking)", report.marking),
        label => label,
    };
    let path = sub_dir(dir, ADAPTIVE_DIR)?.join(format!("{}.svg", point.id()));
    plot_adaptive_convergence(&series, rate, &title, &path)
}

/// Without the `plots` feature `svg` is refused when the experiment is loaded.
#[cfg(not(feature = "plots"))]
fn write_adaptive_plot(_dir: &Path, _point: &Point, _solution: &Solution) -> Result<()> {
    Ok(())
}

/// Writes the SVG plots when `svg` output is asked for; a plot without any plottable point
/// (e.g. no exact solution, hence no errors) is skipped.
#[cfg(feature = "plots")]
pub(super) fn write_summary_outputs(
    dir: &Path,
    output: &OutputSpec,
    rows: &[SummaryRow],
) -> Result<()> {
    use std::collections::BTreeMap;

    use crate::plots::{Series, plot_error_vs_h, plot_time_vs_dofs};
    /// `(x, y)` points of one plotted series.
    type Points = Vec<(f64, f64)>;

    if !output.wants(OutputFormat::Svg) {
        return Ok(());
    }
    let mut errors: BTreeMap<String, (Points, Points)> = BTreeMap::new();
    let mut times: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for row in rows {
        // One series per rate family, labelled as in `summary.csv`.
        let label = row.family.clone();
        if let (Some(h), Some(l2)) = (row.h, row.l2_error) {
            errors.entry(label.clone()).or_default().0.push((h, l2));
        }
        if let (Some(h), Some(h1)) = (row.h, row.h1_error) {
            errors.entry(label.clone()).or_default().1.push((h, h1));
        }
        if let (Some(dofs), Some(t)) = (row.dofs, row.total_solve_time.as_ref()) {
            times
                .entry(label)
                .or_default()
                .push((dofs as f64, t.median));
        }
    }
    let sorted = |mut v: Vec<(f64, f64)>| {
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        v
    };
    let mut error_series = Vec::new();
    for (label, (l2, h1)) in errors {
        if !l2.is_empty() {
            error_series.push(Series {
                label: format!("{label}: L2"),
                points: sorted(l2),
            });
        }
        if !h1.is_empty() {
            error_series.push(Series {
                label: format!("{label}: H1"),
                points: sorted(h1),
            });
        }
    }
    // Errors that are exactly zero (an exact solution the elements reproduce) or beyond what
    // log axes show leave their series empty: it is left out (with a note), not the whole
    // experiment failed after its runs.
    error_series.retain(|s| {
        let shown = s.points.iter().any(|&(x, y)| crate::plots::plottable(x) && crate::plots::plottable(y));
        if !shown {
            tracing::warn!(series = %s.label, "no point to show on log axes: left out of {ERROR_PLOT}");
        }
        shown
    });
    if !error_series.is_empty() {
        plot_error_vs_h(
            &error_series,
            "error against mesh size",
            &dir.join(ERROR_PLOT),
        )?;
    }
    let time_series: Vec<Series> = times
        .into_iter()
        .map(|(label, points)| Series {
            label,
            points: sorted(points),
        })
        .collect();
    if !time_series.is_empty() {
        plot_time_vs_dofs(
            &time_series,
            "solve time against unknowns",
            &dir.join(TIME_PLOT),
        )?;
    }
    Ok(())
}

/// Without the `plots` feature there is nothing to write after the runs: `svg` is refused
/// when the experiment is loaded (`output.formats`, [`Error::FeatureDisabled`]).
#[cfg(not(feature = "plots"))]
pub(super) fn write_summary_outputs(
    _dir: &Path,
    output: &OutputSpec,
    _rows: &[SummaryRow],
) -> Result<()> {
    debug_assert!(!output.wants(OutputFormat::Svg));
    Ok(())
}
