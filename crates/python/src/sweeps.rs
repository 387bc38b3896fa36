//! Experiments (`femscale run`) and the scaling benchmark (`femscale bench`) from Python.

use std::path::PathBuf;

use femscale::core::ScalingLevel;
use femscale::experiment::bench::{ScalingBenchmark, parse_level};
use femscale::experiment::{Experiment, RankOutcome, RunOptions};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::to_py;
use crate::fields::CallbackErrors;
use crate::json_to_py;
use crate::solver::detached;

/// Runs the experiment file `path` (sweep × repetitions, resumable) with `overrides`; returns
/// the report: counts, output paths, one record per run, the summary rows. With `comm` (an
/// mpi4py intra-communicator) the runs are handed out over its ranks and rank 0 alone writes
/// the output; rank 0 returns the report, the other ranks `{"rank": r, "runs": n}` (the runs
/// they executed).
#[pyfunction]
#[pyo3(signature = (path, overrides=Vec::new(), output_dir=None, parallel_runs=None, fresh=false, comm=None))]
pub fn run_experiment<'py>(
    py: Python<'py>,
    path: PathBuf,
    overrides: Vec<String>,
    output_dir: Option<PathBuf>,
    parallel_runs: Option<usize>,
    fresh: bool,
    comm: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let ranks = comm
        .map(|c| crate::ranks::communicator(py, c))
        .transpose()?;
    let outcome = detached(py, &CallbackErrors::default(), || {
        let experiment = Experiment::load(&path, &overrides)?;
        let options = RunOptions {
            output_dir,
            parallel_runs,
            fresh,
            ..Default::default()
        };
        match &ranks {
            Some(ranks) => experiment.run_ranks(&options, ranks.as_ref()),
            None => experiment
                .run(&options)
                .map(|r| RankOutcome::Coordinator(Box::new(r))),
        }
    })?;
    let report = match outcome {
        RankOutcome::Coordinator(report) => report,
        // Another rank: its share of the work (rank 0 has the report).
        other => {
            let out = PyDict::new(py);
            if let RankOutcome::Worker { rank, runs, .. } = other {
                out.set_item("rank", rank)?;
                out.set_item("runs", runs)?;
            }
            return Ok(out);
        }
    };
    let out = PyDict::new(py);
    out.set_item("name", &report.name)?;
    out.set_item("output_dir", report.output_dir.display().to_string())?;
    out.set_item("results_path", report.results_path.display().to_string())?;
    out.set_item(
        "summary_path",
        report
            .summary_path
            .as_ref()
            .map(|p| p.display().to_string()),
    )?;
    out.set_item("total", report.total)?;
    out.set_item("ran", report.ran)?;
    out.set_item("skipped", report.skipped)?;
    out.set_item("failed", report.failed)?;
    out.set_item("all_ok", report.all_ok())?;
    out.set_item("parallel_runs", report.parallel_runs)?;
    out.set_item("threads_per_run", report.threads_per_run)?;
    out.set_item("records", json_to_py(py, &report.records)?)?;
    out.set_item("summary", json_to_py(py, &report.summary)?)?;
    Ok(out)
}

/// The scaling benchmark: 2D P1 problems of `sizes` squares per side × scaling `levels` (×
/// `solvers`), `repetitions` timed runs each; returns rows, the best configuration per size.
#[pyfunction]
#[pyo3(signature = (sizes, levels, solvers=Vec::new(), repetitions=3, min_seconds=0.3, caching=false, overrides=Vec::new()))]
#[allow(clippy::too_many_arguments)]
pub fn scaling_benchmark<'py>(
    py: Python<'py>,
    sizes: Vec<usize>,
    levels: Vec<String>,
    solvers: Vec<String>,
    repetitions: usize,
    min_seconds: f64,
    caching: bool,
    overrides: Vec<String>,
) -> PyResult<Bound<'py, PyAny>> {
    let levels = levels
        .iter()
        .map(|l| parse_level(l))
        .collect::<femscale::Result<Vec<ScalingLevel>>>()
        .map_err(to_py)?;
    let report = detached(py, &CallbackErrors::default(), || {
        let base = femscale::runtime::Config::load(&femscale::runtime::config::ConfigSources {
            file: None,
            overrides,
        })?;
        let solver_refs: Vec<&str> = solvers.iter().map(String::as_str).collect();
        let mut bench = ScalingBenchmark::new()
            .sizes(&sizes)
            .levels(&levels)
            .repetitions(repetitions)
            .min_seconds(min_seconds)
            .with_caching(caching)
            .base_config(base);
        if !solver_refs.is_empty() {
            bench = bench.solvers(&solver_refs);
        }
        bench.run()
    })?;
    json_to_py(py, &report)
}
