//! # femscale-experiment
//!
//! Above `femscale-runtime`: config-driven experiments ([`Experiment`]), the scaling
//! benchmark ([`bench`](mod@bench)) and the SVG plots both draw ([`plots`], cargo feature
//! `plots`, on by default: the only user of `plotters`; without it the `svg` output format is
//! refused with [`Error::FeatureDisabled`] naming `output.formats`, and the benchmark writes
//! no plot). Embedding programs that only solve need the runtime alone.
//!
//! Config-driven experiments: one TOML file holds a base configuration, a sweep over any
//! configuration keys, repetitions and outputs; [`Experiment::run`] runs every point on a pool
//! of workers, resumably.
//!
//! ```toml
//! [problem]                  # the normal configuration: the base of every point
//! mesh = { nx = 16, ny = 16 }
//! [solver]
//! kind = "direct"
//!
//! [experiment]
//! name = "convergence"       # default: the file's stem
//! repetitions = 1            # runs per point (>= 1); the summary takes medians
//! parallel_runs = 0          # runs in flight; 0 = automatic
//!
//! [sweep]                    # cartesian product over quoted dotted keys
//! "solver.kind" = ["direct", "cg"]
//!
//! [sweep.zip]                # lists of equal length advancing together: one factor
//! "problem.mesh.nx" = [16, 32]
//! "problem.mesh.ny" = [16, 32]
//!
//! [output]
//! dir = "results/convergence"   # default results/<name>, relative to the current directory
//! formats = ["jsonl", "csv"]    # also "vtu", "svg" (see `OutputFormat`)
//! ```
//!
//! * Points: the product of the factors, the first factor varying slowest. The factors are
//!   the `[sweep]` keys sorted by name, then the zip groups (`[[sweep.zip]]` gives several
//!   groups). Unquoted nested keys (`[sweep.problem.mesh] nx = [...]`) are flattened to
//!   dotted keys. Each point's
//!   configuration is defaults < the file's configuration sections < `--set` overrides < the
//!   point's values. A point whose values do not fit the schema, or that fails to solve, is
//!   recorded as a failed run; the other points go on.
//! * Ids: a point's id is the 64-bit FNV-1a hash (16 hex digits) of the canonical JSON of its
//!   overrides; a run's id hashes `{"point": overrides, "repetition": r}`. Runs already in
//!   `results.jsonl` are skipped, so rerunning an experiment resumes it. The ids do not cover
//!   the base configuration: after changing it, use a fresh output directory.
//! * Outputs (in `output.dir`): `results.jsonl`, one line per finished run (see
//!   [`RunRecord`] and the crash-safety notes in [`read_results`]); `summary.csv`, one row per
//!   point, replaced atomically at the end (see [`SummaryRow`] and [`SUMMARY_COLUMNS`]).
//! * Workers: the runs go through an auto-scaling worker pool (`femscale_scaling::WorkerPool`).
//!   `parallel_runs = 0` lets the adaptive scaler plan the runs in flight from the biggest
//!   point, the number of pending runs and the machine's cores and memory (`min(cores,
//!   pending)` unless memory limits them); each run gets `cores / parallel_runs` threads unless
//!   its configuration sets `scaling.threads`, and runs × threads never exceed the cores. With
//!   the `autoscaling` toggle the pool shrinks while idle or while the machine is busy and grows
//!   back on a queue (see [`ExperimentReport::worker_pool`]).
//! * Ranks: [`Experiment::run_ranks`] hands the runs out over a communicator
//!   (`femscale_distributed::Communicator`: MPI ranks under `mpirun`, cargo feature `mpi`), one
//!   run per rank at a time, dynamically; rank 0 alone writes the output directory, so the log,
//!   resume, summary and plots are those of one process ([`ExperimentReport::ranks`] tells what
//!   each rank did).
//!
//! ```no_run
//! use femscale_experiment::{Experiment, RunOptions};
//! let exp = Experiment::load("examples/configs/convergence_study.toml".as_ref(), &[])?;
//! println!("{} points", exp.points().len());
//! let report = exp.run(&RunOptions::default())?;
//! println!("{} ran, {} skipped, {} failed", report.ran, report.skipped, report.failed);
//! # Ok::<(), femscale_core::Error>(())
//! ```
#![warn(rustdoc::broken_intra_doc_links)]

pub mod bench;
mod families;
mod identity;
mod layers;
mod outputs;
#[cfg(feature = "plots")]
pub mod plots;
mod runner;
mod spec;
mod store;
mod summary;
mod sweep;

use std::path::{Path, PathBuf};

use femscale_core::{Error, Result};
use figment::value::Dict;
use tracing::instrument;

pub use families::{RESOLUTION_KEYS, WHOLE_SWEEP_FAMILY};
pub use outputs::{
    ADAPTIVE_DIR, ERROR_PLOT, OUTPUT_STAMPS_DIR, STEPS_COLLECTION, TIME_PLOT, VTU_DIR,
};
pub use runner::ranks::RankOutcome;
pub use runner::{ExperimentReport, ProgressEvent, ProgressFn, RankReport, RunOptions};
pub use spec::{ExperimentSettings, MAX_REPETITIONS, OutputFormat, OutputSpec};
pub use store::{RESULTS_FILE, RunRecord, SUMMARY_FILE, read_results};
pub use summary::{SUMMARY_COLUMNS, Stats, SummaryRow};
pub use sweep::{MAX_POINTS, Point};

use femscale_runtime::config::{Config, FieldPath, Origin, SourceMap};
use layers::{FileLayer, KeyLayer};

/// A loaded and validated experiment: its settings, outputs and points.
#[derive(Debug, Clone)]
pub struct Experiment {
    path: PathBuf,
    /// The file's configuration sections and its source map, read once by [`Experiment::load`].
    file: FileLayer,
    overrides: Vec<String>,
    settings: ExperimentSettings,
    output: OutputSpec,
    keys: Vec<String>,
    base: Config,
    points: Vec<Point>,
}

impl Experiment {
    /// Loads the experiment file at `path` with `--set key=value` `overrides`. Overrides of
    /// `experiment.*`, `sweep.*` and `output.*` change those sections; the others apply to the
    /// base configuration, below the sweep values.
    ///
    /// # Errors
    /// [`Error::Config`] for an unreadable file or TOML syntax errors (naming file and line),
    /// an invalid base configuration (naming key, file and line) or malformed overrides;
    /// [`Error::InvalidInput`] for sweeps over unknown keys, empty value lists or zip lists of
    /// unequal length (naming the key, e.g. `sweep."problem.mesh.nz"`), and bad
    /// `[experiment]`/`[output]` values; [`Error::UnknownName`] for unknown output formats.
    #[instrument(skip_all, fields(path = %path.display()))]
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self> {
        let (file_raw, source) = layers::read_toml(path)?;
        let source = std::sync::Arc::new(source);
        let mut raw = file_raw.clone();
        let mut set_layers = Vec::new();
        for item in overrides {
            let (key, value) = layers::parse_override(item)?;
            let head = key.split('.').next().unwrap_or_default();
            match key.strip_prefix("sweep.") {
                // A swept key replaces the file's values of that key, however the file wrote it
                // (`[sweep] "problem.mesh.nx" = ...` or nested tables).
                Some(swept) if swept.split('.').next() != Some("zip") => {
                    spec::set_swept(&mut raw, swept, value);
                }
                _ if spec::SECTIONS.contains(&head) => layers::insert_dotted(&mut raw, &key, value),
                _ => set_layers.push((item, key, layers::set_layer(item)?)),
            }
        }
        let sections = spec::parse_sections(&raw, &file_raw, &source)?;
        // An override of a swept key (or of a key inside one) would be replaced at every point.
        // (An environment variable's name has no case: it is compared in lower case.)
        let swept_by = |key: &str, any_case: bool| {
            (sections.keys.iter()).find(|k| {
                let lower = |s: &str| {
                    if any_case {
                        s.to_ascii_lowercase()
                    } else {
                        s.into()
                    }
                };
                let (key, k) = (lower(key), lower(k));
                key == k || key.strip_prefix(&k).is_some_and(|r| r.starts_with('.'))
            })
        };
        for (item, key, _) in &set_layers {
            if let Some(swept) = swept_by(key, false) {
                return Err(Error::invalid(
                    layers::sweep_field(swept),
                    format!(
                        "`--set {item}` would be replaced by the sweep's value at every point; to \
                         run other values, replace the sweep: `--set sweep.{swept}=[...]`"
                    ),
                ));
            }
        }
        // Likewise a `FEMSCALE_*` variable (review S: it was dropped without a word).
        for layer in femscale_runtime::config::env_layers()? {
            if let Some(swept) = swept_by(&layer.key, true) {
                return Err(Error::invalid(
                    layers::sweep_field(swept),
                    format!(
                        "the {} sets `{}`, which the sweep replaces at every point: unset it \
                         (to run other values, replace the sweep: `--set sweep.{swept}=[...]`)",
                        layer.name, layer.key
                    ),
                ));
            }
        }
        let set_layers: Vec<_> = set_layers.into_iter().map(|(_, _, layer)| layer).collect();
        let base_dict: Dict = raw
            .into_iter()
            .filter(|(k, _)| !spec::SECTIONS.contains(&k.as_str()))
            .collect();
        check_sections(&base_dict, &source)?;
        let file = FileLayer {
            path: path.to_path_buf(),
            dict: base_dict,
            source,
        };
        let base = layers::extract_config(&file, &set_layers)?;
        layers::check_mesh_keys_of_kind(&sections.keys, base.problem.mesh.kind_name())?;
        let mut hashes = identity::PluginHashes::default();
        let points = sweep::expand(&sections.factors)?
            .into_iter()
            .enumerate()
            .map(|(index, overrides)| point(index, overrides, &file, &set_layers, &mut hashes))
            .collect::<Result<Vec<_>>>()?;
        check_distinct_runs(&points)?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            overrides: overrides.to_vec(),
            settings: sections.settings,
            output: sections.output,
            keys: sections.keys,
            base,
            points,
        })
    }

    /// The points of the sweep, in run order.
    pub fn points(&self) -> &[Point] {
        &self.points
    }

    /// The experiment file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The experiment's name.
    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// `[experiment]` as loaded (name defaulted).
    pub fn settings(&self) -> &ExperimentSettings {
        &self.settings
    }

    /// `[output]` as loaded (directory defaulted).
    pub fn output(&self) -> &OutputSpec {
        &self.output
    }

    /// The swept keys, in factor order (the key columns of `summary.csv`).
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// The base configuration: defaults < file < `--set`, without sweep values.
    pub fn base_config(&self) -> &Config {
        &self.base
    }

    /// Runs of the experiment: points × repetitions.
    pub fn total_runs(&self) -> usize {
        self.points.len() * self.settings.repetitions
    }
}

/// Refuses two points with one identity: their sweep values differ only in keys the
/// configuration ignores (an interval's `ny`, `nx` beside `nodes`), so they would be the same
/// run under two names (and every resume would find it recorded twice).
fn check_distinct_runs(points: &[Point]) -> Result<()> {
    let mut seen: std::collections::HashMap<&str, &Point> = Default::default();
    for p in points.iter().filter(|p| p.config.is_ok()) {
        let Some(other) = seen.insert(p.identity(), p) else {
            continue;
        };
        let differing: Vec<&str> = (p.overrides.iter())
            .filter(|(k, v)| other.value(k) != Some(v))
            .map(|(k, _)| k.as_str())
            .collect();
        return Err(Error::invalid(
            "sweep",
            format!(
                "points {} and {} are the same run: their values of {} differ, but the \
                 configuration ignores them (e.g. a key another mesh kind takes); sweep a key \
                 that changes the run, or sweep the kind together with its own keys in a zip group",
                other.id(),
                p.id(),
                differing.join(", ")
            ),
        ));
    }
    Ok(())
}

/// A swept Gmsh path (`problem.mesh.path`, or one in a swept `problem.mesh` or `problem`
/// table) relative to the directory of the experiment file `file`, as the file's own path is
/// read; absolute paths and other values are returned as they are.
fn relative_to_file(key: &str, value: &serde_json::Value, file: &Path) -> serde_json::Value {
    let dir = file.parent().unwrap_or(Path::new(""));
    let mut value = value.clone();
    let path = match key {
        "problem.mesh.path" => Some(&mut value),
        "problem.mesh" => value.get_mut("path"),
        "problem" => value.get_mut("mesh").and_then(|m| m.get_mut("path")),
        _ => None,
    };
    if let Some(path) = path
        && let Some(text) = path.as_str()
        && Path::new(text).is_relative()
    {
        *path = serde_json::Value::String(dir.join(text).display().to_string());
    }
    value
}

/// One point with its configuration resolved (or the reason it cannot be).
fn point(
    index: usize,
    overrides: Vec<(String, serde_json::Value)>,
    file: &FileLayer,
    set_layers: &[KeyLayer],
    hashes: &mut identity::PluginHashes,
) -> Result<Point> {
    let mut layers = set_layers.to_vec();
    for (key, value) in &overrides {
        let value = relative_to_file(key, value, &file.path);
        layers.push(layers::sweep_layer(key, &value)?);
    }
    let config = layers::extract_config(file, &layers)
        .and_then(one_process)
        .map_err(|e| match e {
            Error::Config { message, .. } => message,
            other => other.to_string(),
        });
    Ok(Point {
        index,
        id: sweep::point_id(&overrides),
        identity: identity::point_identity(&config, &overrides, hashes),
        overrides,
        config,
    })
}

/// The solvers of one problem across the ranks (`femscale::ranks`), which no run of an
/// experiment uses.
const DISTRIBUTED_SOLVERS: [&str; 3] = [
    "distributed-cg",
    "distributed-gmres",
    "distributed-bicgstab",
];

/// Refuses a distributed solver: each run of an experiment is one process (under `mpirun`
/// the runs, not one problem, are spread over the ranks).
fn one_process(config: Config) -> Result<Config> {
    let kind = &config.solver.kind;
    if DISTRIBUTED_SOLVERS.contains(&kind.as_str()) {
        let serial = kind.trim_start_matches("distributed-");
        return Err(Error::invalid(
            "solver.kind",
            format!(
                "is `{kind}`, which solves one problem across the ranks of `femscale solve`; \
                 each run of an experiment is one process (under mpirun the runs are spread \
                 over the ranks): use `{serial}`, the same method in one process"
            ),
        ));
    }
    Ok(config)
}

/// Rejects misspelt experiment sections (`[sweeps]`) with a hint, before the configuration
/// schema reports them as unknown configuration sections.
fn check_sections(base: &Dict, source: &SourceMap) -> Result<()> {
    let known = serde_json::to_value(Config::default())
        .ok()
        .and_then(|v| v.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()))
        .unwrap_or_default();
    for key in base.keys() {
        if known.contains(key) {
            continue;
        }
        if let Some(hint) = spec::section_hint(key) {
            let origin = Origin::in_file(source, &FieldPath::root().key(key.as_str()));
            return Err(Error::Config {
                key: None,
                message: format!(
                    "{}: unknown section `{key}` (did you mean `{hint}`?)",
                    origin.label()
                ),
            });
        }
    }
    Ok(())
}
