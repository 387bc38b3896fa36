//! The per-point summary (`summary.csv`): medians over repetitions and fitted convergence
//! rates.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::families::{Sample, family_of, fit_family};
use super::store::RunRecord;
use super::sweep::{Point, canonical_json, display_value};

/// Median, minimum and maximum of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stats {
    /// Median (mean of the two middle values for an even count).
    pub median: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

impl Stats {
    /// The statistics of `values`, `None` when empty.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Self> {
        let mut v: Vec<f64> = values.into_iter().filter(|x| !x.is_nan()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            0.5 * (v[n / 2 - 1] + v[n / 2])
        };
        Some(Self {
            median,
            min: v[0],
            max: v[n - 1],
        })
    }
}

/// One row of `summary.csv`: a point and what its runs gave.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SummaryRow {
    /// The point's id.
    pub point_id: String,
    /// The point's overrides, `{dotted key: value}`.
    pub point: BTreeMap<String, serde_json::Value>,
    /// Successful runs.
    pub runs_ok: usize,
    /// Failed runs.
    pub runs_failed: usize,
    /// `total_solve_time` over the successful runs, seconds.
    pub total_solve_time: Option<Stats>,
    /// Median solver set-up phase, seconds.
    pub setup_time: Option<f64>,
    /// Median solve phase, seconds.
    pub solve_time: Option<f64>,
    /// Median assembly phase, seconds.
    pub assembly_time: Option<f64>,
    /// Unknowns.
    pub dofs: Option<usize>,
    /// Median iterations of the linear solver.
    pub iterations: Option<f64>,
    /// Median L2 error.
    pub l2_error: Option<f64>,
    /// Median H1 seminorm error.
    pub h1_error: Option<f64>,
    /// An adaptive run's final error estimate (median).
    pub estimate: Option<f64>,
    /// An adaptive run's final energy error, when known (median).
    pub energy_error: Option<f64>,
    /// Steps of an adaptive run (solves on successively refined meshes).
    pub adaptive_steps: Option<usize>,
    /// What stopped the adaptive runs ([`AdaptiveStop::name`](femscale_core::AdaptiveStop::name):
    /// `target_reached`, `max_dofs`, ...; the distinct names joined by `/` when repetitions
    /// differ): whether the target was reached.
    pub adaptive_stopped_by: Option<String>,
    /// Mesh size `h` of the point's configuration.
    pub h: Option<f64>,
    /// Fitted order of convergence of the L2 error over the point's [family](Self::family).
    pub l2_rate: Option<f64>,
    /// Fitted order of convergence of the H1 seminorm error over the point's family.
    pub h1_rate: Option<f64>,
    /// The rate family: the point's sweep values other than the resolution keys
    /// ([`RESOLUTION_KEYS`](super::RESOLUTION_KEYS)) as `key=value` pairs, or
    /// [`WHOLE_SWEEP_FAMILY`](super::WHOLE_SWEEP_FAMILY). Rows with the same family were fitted
    /// together; no other rows were.
    pub family: String,
    /// Points in the family.
    pub family_points: usize,
    /// Distinct mesh sizes the family's L2 fit used.
    pub rate_mesh_sizes: usize,
    /// Why a rate is missing (e.g. the only point of its family); `None` when both are there.
    pub rate_note: Option<String>,
    /// The solver that ran.
    pub solver: Option<String>,
    /// The preconditioner that ran.
    pub preconditioner: Option<String>,
    /// The first error of a failed run.
    pub error: Option<String>,
}

/// Builds one row per point from the latest record of each of its runs, then fits
/// convergence rates per family: points that differ only in the resolution keys
/// ([`RESOLUTION_KEYS`](super::RESOLUTION_KEYS): `nx`, `ny`, `nz`, `refinements`, `nodes`) form a
/// family, and `log(error)` is fitted against `log(h)` by least squares over the family's
/// points. Every other key (cell type, diagonal, domain, solver, ...) separates families.
/// Rates are `None`, with [`SummaryRow::rate_note`] saying why, with fewer than two distinct
/// mesh sizes.
pub(crate) fn summarize(
    points: &[Point],
    repetitions: usize,
    records: &[RunRecord],
) -> Vec<SummaryRow> {
    let latest = super::store::latest_by_id(records);
    // Each point's row, and the exact solution's L2 norm there (the scale of its L2 error,
    // median over the successful runs) for the rate fits.
    let (mut rows, scales): (Vec<SummaryRow>, Vec<Option<f64>>) = points
        .iter()
        .map(|p| {
            let runs: Vec<&RunRecord> = (0..repetitions)
                .filter_map(|r| latest.get(p.run_id(r).as_str()).copied())
                .collect();
            let norms =
                (runs.iter().filter(|r| r.ok)).filter_map(|r| r.metrics.as_ref()?.exact_l2_norm);
            let scale = Stats::of(norms).map(|s| s.median);
            (row(p, &runs), scale)
        })
        .unzip();
    let mut families: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, r) in rows.iter_mut().enumerate() {
        let (key, label) = family_of(&r.point);
        r.family = label;
        families.entry(key).or_default().push(i);
    }
    for members in families.values() {
        let samples: Vec<Sample> = members
            .iter()
            .map(|&i| Sample {
                h: rows[i].h,
                l2: rows[i].l2_error,
                h1: rows[i].h1_error,
                scale: scales[i],
            })
            .collect();
        let fit = fit_family(&samples);
        for &i in members {
            let r = &mut rows[i];
            r.l2_rate = fit.l2_rate;
            r.h1_rate = fit.h1_rate;
            r.family_points = members.len();
            r.rate_mesh_sizes = fit.mesh_sizes;
            r.rate_note = fit.note.clone();
        }
    }
    rows
}

fn row(p: &Point, runs: &[&RunRecord]) -> SummaryRow {
    let ok: Vec<&femscale_core::Metrics> = runs
        .iter()
        .filter(|r| r.ok)
        .filter_map(|r| r.metrics.as_ref())
        .collect();
    let median = |f: fn(&femscale_core::Metrics) -> Option<f64>| {
        Stats::of(ok.iter().filter_map(|m| f(m))).map(|s| s.median)
    };
    SummaryRow {
        point_id: p.id().to_string(),
        point: p.as_map(),
        runs_ok: runs.iter().filter(|r| r.ok).count(),
        runs_failed: runs.iter().filter(|r| !r.ok).count(),
        total_solve_time: Stats::of(ok.iter().map(|m| m.total_solve_time)),
        setup_time: median(|m| Some(m.phases.setup)),
        solve_time: median(|m| Some(m.phases.solve)),
        assembly_time: median(|m| Some(m.phases.assembly)),
        dofs: ok.first().map(|m| m.dofs),
        iterations: median(|m| Some(m.iterations as f64)),
        l2_error: median(|m| m.l2_error),
        h1_error: median(|m| m.h1_error),
        estimate: median(|m| Some(m.adaptivity.as_ref()?.steps.last()?.estimate)),
        energy_error: median(|m| m.adaptivity.as_ref()?.steps.last()?.error),
        adaptive_steps: (ok.first()).and_then(|m| Some(m.adaptivity.as_ref()?.steps.len())),
        adaptive_stopped_by: adaptive_stops(&ok),
        // An adaptive run's final mesh is not the configured one: no single h to fit. A mesh
        // file's size comes from its cells (recorded by the run).
        h: p.mesh_size()
            .or_else(|| {
                let sizes = runs.iter().filter(|r| r.ok).filter_map(|r| r.mesh_size);
                Stats::of(sizes).map(|s| s.median)
            })
            .filter(|_| ok.iter().all(|m| m.adaptivity.is_none())),
        l2_rate: None,
        h1_rate: None,
        family: String::new(),
        family_points: 0,
        rate_mesh_sizes: 0,
        rate_note: None,
        solver: ok.first().map(|m| m.solver.clone()),
        preconditioner: ok.first().map(|m| m.preconditioner.clone()),
        error: runs.iter().find_map(|r| r.error.clone()),
    }
}

/// What stopped the adaptive runs: one name, or the distinct names in order joined by `/`
/// when repetitions stopped differently (review R: the first run's stop was shown beside the
/// medians of all); `None` for runs that did not adapt.
fn adaptive_stops(ok: &[&femscale_core::Metrics]) -> Option<String> {
    let mut stops: Vec<&str> = (ok.iter())
        .filter_map(|m| Some(m.adaptivity.as_ref()?.stopped_by.name()))
        .collect();
    stops.sort_unstable();
    stops.dedup();
    (!stops.is_empty()).then(|| stops.join("/"))
}

/// Least-squares slope of `y` against `x`; `None` without two distinct `x`.
pub(super) fn slope(pts: &[(f64, f64)]) -> Option<f64> {
    let n = pts.len() as f64;
    if pts.len() < 2 {
        return None;
    }
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 1e-12).then(|| sxy / sxx)
}

/// The fixed columns of `summary.csv`, after `point_id` and one column per swept key.
pub const SUMMARY_COLUMNS: [&str; 27] = [
    "runs_ok",
    "runs_failed",
    "total_solve_time_median",
    "total_solve_time_min",
    "total_solve_time_max",
    "setup_time_median",
    "solve_time_median",
    "assembly_time_median",
    "dofs",
    "iterations",
    "l2_error",
    "h1_error",
    "estimate",
    "energy_error",
    "adaptive_steps",
    "adaptive_stopped_by",
    "h",
    "l2_rate",
    "h1_rate",
    "family",
    "family_points",
    "rate_mesh_sizes",
    "rate_note",
    "solver",
    "preconditioner",
    "error",
    "point",
];

/// Renders the rows as CSV: `point_id`, one column per swept key (`keys`), then
/// [`SUMMARY_COLUMNS`]. Empty cells for missing values; fields are quoted when they hold a
/// comma, a quote, a line break or surrounding spaces.
pub(crate) fn to_csv(keys: &[String], rows: &[SummaryRow]) -> String {
    let mut out = String::new();
    let header: Vec<String> = std::iter::once("point_id".to_string())
        .chain(keys.iter().cloned())
        .chain(SUMMARY_COLUMNS.iter().map(|c| c.to_string()))
        .collect();
    push_record(&mut out, &header);
    for r in rows {
        let num = |v: Option<f64>| v.map(format_float).unwrap_or_default();
        let t = r.total_solve_time;
        let mut cells = vec![r.point_id.clone()];
        cells.extend(
            keys.iter()
                .map(|k| r.point.get(k).map(display_value).unwrap_or_default()),
        );
        cells.extend([
            r.runs_ok.to_string(),
            r.runs_failed.to_string(),
            num(t.map(|s| s.median)),
            num(t.map(|s| s.min)),
            num(t.map(|s| s.max)),
            num(r.setup_time),
            num(r.solve_time),
            num(r.assembly_time),
            r.dofs.map(|d| d.to_string()).unwrap_or_default(),
            num(r.iterations),
            num(r.l2_error),
            num(r.h1_error),
            num(r.estimate),
            num(r.energy_error),
            r.adaptive_steps.map(|d| d.to_string()).unwrap_or_default(),
            r.adaptive_stopped_by.clone().unwrap_or_default(),
            num(r.h),
            num(r.l2_rate),
            num(r.h1_rate),
            r.family.clone(),
            r.family_points.to_string(),
            r.rate_mesh_sizes.to_string(),
            r.rate_note.clone().unwrap_or_default(),
            r.solver.clone().unwrap_or_default(),
            r.preconditioner.clone().unwrap_or_default(),
            r.error.clone().unwrap_or_default(),
            canonical_json(&serde_json::Value::Object(
                r.point.clone().into_iter().collect(),
            )),
        ]);
        push_record(&mut out, &cells);
    }
    out
}

/// Shortest round-trip decimal, in exponent form for very small or large magnitudes.
fn format_float(v: f64) -> String {
    let a = v.abs();
    if v != 0.0 && v.is_finite() && !(1e-4..1e15).contains(&a) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

fn push_record(out: &mut String, cells: &[String]) {
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&csv_field(c));
    }
    out.push('\n');
}

/// One CSV field, quoted (RFC 4180) when needed.
pub(crate) fn csv_field(s: &str) -> String {
    let needs = s.contains([',', '"', '\n', '\r']) || s.trim() != s;
    if needs {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_slope_and_quoting() {
        let s = Stats::of([3.0, 1.0, 2.0, 10.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.5, 1.0, 10.0));
        assert!(Stats::of([]).is_none());
        let pts: Vec<(f64, f64)> = [0.1f64, 0.05, 0.025]
            .iter()
            .map(|&h| (h.ln(), (3.0 * h * h).ln()))
            .collect();
        assert!((slope(&pts).unwrap() - 2.0).abs() < 1e-12);
        assert!(slope(&[(1.0, 1.0), (1.0, 2.0)]).is_none());
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(format_float(1e-10), "1e-10");
        assert_eq!(format_float(0.25), "0.25");
    }

    #[test]
    fn repetitions_that_stop_differently_show_every_stop() {
        use femscale_core::{AdaptiveStop, AdaptivityReport, Metrics};
        let run = |stop: Option<AdaptiveStop>| {
            let mut m = Metrics::default();
            m.adaptivity = stop.map(|stop| {
                let mut r = AdaptivityReport::default();
                r.stopped_by = stop;
                r
            });
            m
        };
        let (a, b, c) = (
            run(Some(AdaptiveStop::MaxSteps)),
            run(Some(AdaptiveStop::TargetReached)),
            run(Some(AdaptiveStop::MaxSteps)),
        );
        assert_eq!(adaptive_stops(&[&a, &c]).as_deref(), Some("max_steps"));
        let both = adaptive_stops(&[&a, &b, &c]);
        assert_eq!(both.as_deref(), Some("max_steps/target_reached"));
        assert_eq!(adaptive_stops(&[&run(None)]), None);
    }
}
