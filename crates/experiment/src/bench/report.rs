//! Presenting a [`BenchReport`]: the table, CSV, plot series and output files.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use femscale_core::io::write_atomically;
use femscale_core::{Error, Result};

use super::BenchReport;

/// The files [`BenchReport::write_outputs`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BenchOutputs {
    /// `bench.json`: the whole report.
    pub json: PathBuf,
    /// `bench.csv`: one line per row.
    pub csv: PathBuf,
    /// `bench_time_vs_dofs.svg`: median time against unknowns, one curve per configuration
    /// (`None` in a build without the `plots` feature, which draws no plots).
    pub svg: Option<PathBuf>,
}

impl BenchReport {
    /// A fixed-width table: one line per row, then the best configuration per size.
    pub fn table(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:>6} {:>9}  {:<22} {:<28} {:>7}  {:>10}  {:>21}  {:>8}",
            "size",
            "dofs",
            "configuration",
            "solver used",
            "threads",
            "median [s]",
            "min-max [s]",
            "vs best"
        );
        for row in &self.rows {
            let best = self
                .best
                .iter()
                .find(|b| b.size == row.size)
                .map_or(row.median_seconds, |b| b.median_seconds);
            let used = if row.level == "auto" {
                format!("{} ({})", row.solver, row.resolved_level)
            } else {
                row.solver.clone()
            };
            let _ = writeln!(
                out,
                "{:>6} {:>9}  {:<22} {:<28} {:>7}  {:>10.4}  {:>10.4}-{:<10.4}  {:>+7.1}%",
                row.size,
                row.dofs,
                row.label(),
                used,
                row.threads,
                row.median_seconds,
                row.min_seconds,
                row.max_seconds,
                if best > 0.0 {
                    100.0 * (row.median_seconds / best - 1.0)
                } else {
                    0.0
                }
            );
        }
        let _ = writeln!(out, "best configuration per size:");
        for b in &self.best {
            let auto = b
                .auto_gap
                .map_or(String::new(), |g| format!("; auto {:+.1}%", 100.0 * g));
            let _ = writeln!(
                out,
                "  {:>6} ({} dofs): {} in {:.4} s{auto}",
                b.size, b.dofs, b.label, b.median_seconds
            );
        }
        out
    }

    /// One CSV line per row, with a header.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "size,dofs,level,resolved_level,solver_requested,solver,preconditioner,threads,repetitions,median_s,min_s,max_s\n",
        );
        for r in &self.rows {
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{:.6},{:.6},{:.6}\n",
                r.size,
                r.dofs,
                r.level,
                r.resolved_level,
                r.solver_requested,
                r.solver,
                r.preconditioner,
                r.threads,
                r.seconds.len(),
                r.median_seconds,
                r.min_seconds,
                r.max_seconds
            ));
        }
        out
    }

    /// The median-time curves, one per configuration label (feature `plots`).
    #[cfg(feature = "plots")]
    pub fn series(&self) -> Vec<crate::plots::Series> {
        use crate::plots::Series;
        let mut series: Vec<Series> = Vec::new();
        for r in &self.rows {
            let label = r.label();
            let point = (r.dofs as f64, r.median_seconds);
            match series.iter_mut().find(|s| s.label == label) {
                Some(s) => s.points.push(point),
                None => series.push(Series {
                    label,
                    points: vec![point],
                }),
            }
        }
        series
    }

    /// Writes `bench.json`, `bench.csv` and (with the `plots` feature) `bench_time_vs_dofs.svg`
    /// into `dir` (created if missing), each atomically.
    ///
    /// # Errors
    /// [`Error::Io`] when the directory or a file cannot be written.
    pub fn write_outputs(&self, dir: &Path) -> Result<BenchOutputs> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let json = dir.join("bench.json");
        let text = serde_json::to_string_pretty(self).map_err(|e| Error::Io {
            path: json.clone(),
            source: std::io::Error::other(e),
        })?;
        write_atomically(&json, |w| w.write_all(text.as_bytes()))?;
        let csv = dir.join("bench.csv");
        write_atomically(&csv, |w| w.write_all(self.to_csv().as_bytes()))?;
        let svg = self.write_plot(dir)?;
        Ok(BenchOutputs { json, csv, svg })
    }

    /// How many timed runs the rows' medians are of: `3 runs`, or `3–100 runs` when short
    /// configurations ran more often than asked (see [`ScalingBenchmark::min_seconds`]).
    ///
    /// [`ScalingBenchmark::min_seconds`]: crate::bench::ScalingBenchmark::min_seconds
    pub fn timed_runs(&self) -> String {
        let counts = self.rows.iter().map(|r| r.seconds.len());
        match (counts.clone().min(), counts.max()) {
            (Some(lo), Some(hi)) if lo != hi => format!("{lo}–{hi} runs"),
            (Some(n), _) => format!("{n} runs"),
            (None, _) => format!("{} runs", self.repetitions),
        }
    }

    /// Writes `bench_time_vs_dofs.svg` into `dir`.
    #[cfg(feature = "plots")]
    fn write_plot(&self, dir: &Path) -> Result<Option<PathBuf>> {
        let svg = dir.join("bench_time_vs_dofs.svg");
        crate::plots::plot_time_vs_dofs(
            &self.series(),
            &format!(
                "femscale bench: median wall time ({} cores, {})",
                self.cores,
                self.timed_runs()
            ),
            &svg,
        )?;
        Ok(Some(svg))
    }

    /// No plot without the `plots` feature (the table, JSON and CSV hold the same numbers).
    #[cfg(not(feature = "plots"))]
    fn write_plot(&self, _dir: &Path) -> Result<Option<PathBuf>> {
        Ok(None)
    }
}
