//! The outputs beyond `results.jsonl` and `summary.csv`: VTU files of solutions (`vtu`) and SVG
//! plots (`svg`): error against mesh size with fitted rates, and time against unknowns.

use std::path::Path;

use femscale_core::{Error, Result};

use super::spec::{OutputFormat, OutputSpec};
use super::summary::SummaryRow;
use super::sweep::Point;
use femscale_runtime::Solution;

/// Sub-directory of the output directory that holds the VTU files.
pub const VTU_DIR: &str = "vtu";
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
    if !output.wants(OutputFormat::Vtu) {
        return Ok(());
    }
    let vtu_dir = dir.join(VTU_DIR);
    std::fs::create_dir_all(&vtu_dir).map_err(|source| Error::Io {
        path: vtu_dir.clone(),
        source,
    })?;
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
