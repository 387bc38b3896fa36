//! `femscale run`: runs an experiment file (a sweep over configuration keys) resumably, with a
//! progress bar on terminals and one log line per run otherwise.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use femscale::experiment::{
    Experiment, ExperimentReport, ProgressEvent, ProgressFn, RESOLUTION_KEYS, RunOptions,
    SummaryRow,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

mod ranks;

const AFTER_HELP: &str = "\
Experiment file (TOML): the normal configuration sections ([problem], [solver], [assembly],
[scaling]) give the base point; these sections describe the experiment:

  [experiment]
  name = \"convergence\"        # default: the file's stem
  repetitions = 1             # runs per point (1 to 1000); the summary takes medians
  parallel_runs = 0           # runs in flight; 0 = automatic (cores, pending runs, memory)

  [sweep]                     # cartesian product over quoted dotted keys
  \"solver.kind\" = [\"direct\", \"cg\"]

  [sweep.zip]                 # equal-length lists that advance together
  \"problem.mesh.nx\" = [16, 32, 64]
  \"problem.mesh.ny\" = [16, 32, 64]

  [output]
  dir = \"results/convergence\" # default results/<name>, relative to the current directory
  formats = [\"jsonl\", \"csv\"]  # also \"vtu\", \"svg\"

Outputs: results.jsonl (one JSON line per finished run: id, point, repetition, ok, metrics,
error, seconds) and summary.csv (one row per point: medians over repetitions, errors and
convergence rates l2_rate/h1_rate fitted per family: the points that differ only in the
resolution keys problem.mesh.nx, ny, nz, refinements and nodes; any other key, e.g. the cell type,
separates families; the columns family, family_points, rate_mesh_sizes and rate_note say
which points a rate was fitted over, or why there is none).

Resuming: runs already in results.jsonl are skipped, so rerunning the same command after an
interruption only runs what is missing (use --retry-failed to rerun failures). A run is
identified by everything its result depends on: the point's full effective configuration
(file, FEMSCALE_* environment, --set, sweep values), the content of the plugin libraries it
names and of its Gmsh mesh file, and the femscale and discretisation versions. Runs recorded
under another identity (the file was edited, a plugin rebuilt, the mesh file changed) run
again; the old records are set aside, never counted in
the summary.
--fresh moves results.jsonl aside (results.jsonl.<time>.old) and starts a new one.

Repetitions measure: every run computes its solution (stored solutions never stand in for a
run), and repetition r of a point reuses assembled operators only from repetition r of other
points (cache_reused in results.jsonl says which), never from its own earlier repetitions.

Exit status: 0 when every run succeeded; 1 when some runs failed (they are recorded with
their errors and the other points still run); 2 when the experiment cannot run (bad
experiment file, invalid sweep, unwritable output directory).

Example:
  femscale run examples/configs/convergence_study.toml --set solver.tolerance=1e-12";

/// Arguments of `femscale run`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct RunArgs {
    /// The experiment file: a configuration plus `experiment`, `sweep`, `sweep.zip` and
    /// `output` tables (see --help for the format).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Override one key of the base configuration, applied before the sweep values, e.g.
    /// `--set solver.tolerance=1e-10`. Keys under `experiment.`, `sweep.` and `output.`
    /// change those sections (`--set experiment.repetitions=3`). Values are read as TOML.
    /// Repeatable; later ones win.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,

    /// Output directory (overrides `output.dir`).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub output: Option<PathBuf>,

    /// Runs in flight at once (overrides `experiment.parallel_runs`; 0 chooses
    /// automatically).
    #[arg(long, value_name = "N")]
    pub parallel_runs: Option<usize>,

    /// Run again the runs that results.jsonl records as failed (by default every recorded
    /// run is skipped).
    #[arg(long)]
    pub retry_failed: bool,

    /// Start a new results.jsonl: the existing one is moved aside (`results.jsonl.<time>.old`)
    /// and no earlier run is skipped.
    #[arg(long)]
    pub fresh: bool,

    /// No progress output and no per-point table: only the final line.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// When another `femscale run` is using the output directory, wait for it to finish
    /// (then skip what it ran) instead of failing.
    #[arg(long)]
    pub wait: bool,
}

/// Exit status for an experiment that cannot run.
const EXIT_BAD_EXPERIMENT: i32 = 2;

/// Runs an experiment file.
///
/// # Errors
/// Some runs failed (exit status 1). An experiment that cannot run at all exits with status 2
/// after printing the error.
pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let experiment = match Experiment::load(&args.file, &args.overrides) {
        Ok(e) => e,
        Err(e) => cannot_run(anyhow::anyhow!("{e}")),
    };
    let bar = (!args.quiet && std::io::stderr().is_terminal()).then(|| progress_bar(&experiment));
    let progress: Option<ProgressFn> = match (&bar, args.quiet) {
        (Some(bar), _) => Some(bar_progress(bar.clone())),
        (None, false) => Some(Arc::new(log_line)),
        (None, true) => Some(Arc::new(|_: &ProgressEvent<'_>| {})),
    };
    let options = RunOptions {
        output_dir: args.output.clone(),
        parallel_runs: args.parallel_runs,
        retry_failed: args.retry_failed,
        fresh: args.fresh,
        progress,
        wait_for_lock: args.wait,
    };
    let result = match femscale::distributed::launched_ranks() {
        Some(launched) if launched.size > 1 => ranks::run(&experiment, &options, &launched),
        _ => experiment.run(&options),
    };
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = match result {
        Ok(r) => r,
        // The Display of femscale's errors already includes their sources.
        Err(e) => cannot_run(anyhow::anyhow!("{e}").context(format!(
            "cannot run experiment `{}` ({})",
            experiment.name(),
            experiment.path().display()
        ))),
    };
    let mut out = std::io::stdout().lock();
    print_report(&mut out, &experiment, &report, args.quiet)?;
    out.flush()?;
    if report.all_ok() {
        return Ok(());
    }
    let earlier = report.failed_total - report.failed;
    anyhow::bail!(
        "{} of {} runs failed{}; errors are in {}",
        report.failed_total,
        report.total,
        if earlier > 0 {
            format!(" ({earlier} in an earlier invocation; --retry-failed reruns them)")
        } else {
            String::new()
        },
        report.results_path.display()
    )
}

/// Prints the error and exits with status 2.
fn cannot_run(e: anyhow::Error) -> ! {
    let _ = std::io::stdout().flush();
    eprintln!("error: {}", crate::error_chain(&e));
    std::process::exit(EXIT_BAD_EXPERIMENT)
}

fn progress_bar(experiment: &Experiment) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        Some(experiment.total_runs() as u64),
        ProgressDrawTarget::stderr(),
    );
    let style = ProgressStyle::with_template(
        "{spinner} {prefix} [{elapsed_precise}] {bar:30} {pos}/{len} ETA {eta} {wide_msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(experiment.name().to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn bar_progress(bar: ProgressBar) -> ProgressFn {
    Arc::new(move |e: &ProgressEvent<'_>| match e {
        ProgressEvent::Started {
            pending,
            skipped,
            set_aside,
            ..
        } => {
            bar.set_length(*pending as u64);
            if *skipped > 0 {
                bar.println(format!("resuming: {skipped} runs already done"));
            }
            if *set_aside > 0 {
                bar.println(set_aside_note(*set_aside));
            }
        }
        ProgressEvent::RunStarted { point, repetition } => {
            bar.set_message(format!("{} (rep {})", point.label(), repetition + 1));
        }
        ProgressEvent::RunFinished { point, record, .. } => {
            if !record.ok {
                bar.println(format!(
                    "failed: {}: {}",
                    point.label(),
                    record.error.as_deref().unwrap_or("")
                ));
            }
            bar.inc(1);
        }
        _ => {}
    })
}

/// One plain line per event on stderr (when stderr is not a terminal).
fn log_line(e: &ProgressEvent<'_>) {
    match e {
        ProgressEvent::Started {
            pending,
            skipped,
            set_aside,
            parallel_runs,
            threads_per_run,
            output_dir,
        } => {
            eprintln!(
                "femscale run: {pending} runs to do, {skipped} already done; {parallel_runs} at a \
                 time with {threads_per_run} thread(s) each; output in {}",
                output_dir.display()
            );
            if *set_aside > 0 {
                eprintln!("{}", set_aside_note(*set_aside));
            }
        }
        ProgressEvent::RunFinished {
            point,
            record,
            done,
            pending,
        } => {
            let status = if record.ok {
                format!("ok {:.3}s", record.seconds)
            } else {
                format!("FAILED: {}", record.error.as_deref().unwrap_or(""))
            };
            eprintln!(
                "[{done}/{pending}] {} (rep {}): {status}",
                point.label(),
                record.repetition + 1
            );
        }
        _ => {}
    }
}

/// What a resume says about records of another identity.
fn set_aside_note(set_aside: usize) -> String {
    format!(
        "note: {set_aside} run(s) in results.jsonl were recorded under another configuration, \
         plugin build or femscale version: set aside (rerun now, never counted); \
         `femscale run --fresh` starts a new results file"
    )
}

fn print_report(
    out: &mut impl Write,
    experiment: &Experiment,
    r: &ExperimentReport,
    quiet: bool,
) -> std::io::Result<()> {
    writeln!(
        out,
        "experiment `{}`: {} runs ({} ran now, {} already done), {} ok, {} failed; output in {}",
        r.name,
        r.total,
        r.ran,
        r.skipped,
        r.total - r.failed_total,
        r.failed_total,
        r.output_dir.display()
    )?;
    if r.set_aside > 0 {
        writeln!(
            out,
            "  set aside: {} earlier run(s) recorded under another identity (not counted)",
            r.set_aside
        )?;
    }
    if let Some(old) = &r.previous_log {
        writeln!(out, "  previous results moved to {}", old.display())?;
    }
    if quiet {
        return Ok(());
    }
    const MAX_ROWS: usize = 40;
    let labels: Vec<String> = experiment.points().iter().map(|p| p.label()).collect();
    let width = labels
        .iter()
        .map(String::len)
        .max()
        .unwrap_or(5)
        .clamp(5, 60);
    writeln!(
        out,
        "  {:<width$}  {:>5}  {:>10}  {:>10}  {:>7}  solver",
        "point", "runs", "median [s]", "L2 error", "L2 rate"
    )?;
    for (row, label) in r.summary.iter().zip(&labels).take(MAX_ROWS) {
        writeln!(out, "  {}", format_row(row, label, width))?;
    }
    if r.summary.len() > MAX_ROWS {
        writeln!(out, "  ... {} more points", r.summary.len() - MAX_ROWS)?;
    }
    print_rate_families(out, &r.summary, MAX_ROWS)?;
    if !r.ranks.is_empty() {
        ranks::print(out, r)?;
    } else if r.ran > 0 {
        let pool = &r.worker_pool;
        writeln!(
            out,
            "  worker pool: {} workers max ({} thread(s) per run{}), {} scale-ups, {} scale-downs",
            pool.peak_workers,
            r.threads_per_run,
            if r.autoscaling { ", autoscaling" } else { "" },
            pool.scale_ups,
            pool.scale_downs
        )?;
    }
    if r.ran > 0
        && let Some(res) = &r.resources
    {
        writeln!(
            out,
            "  resources{}: peak RSS {:.1} MB, mean CPU {:.0}% of one core (machine {:.0}%){}",
            if r.ranks.is_empty() { "" } else { " of rank 0" },
            res.peak_rss_mb,
            res.mean_process_cpu_percent,
            res.mean_system_cpu_percent,
            res.peak_gpu_utilization_percent
                .map(|g| format!(", peak GPU {g:.0}%"))
                .unwrap_or_default()
        )?;
    }
    writeln!(out, "  results: {}", r.results_path.display())?;
    if let Some(summary) = &r.summary_path {
        writeln!(out, "  summary: {}", summary.display())?;
    }
    Ok(())
}

/// One line per rate family (points differing only in resolution) with its fitted rates, or
/// why it has none; nothing when no point has an error norm (no exact solution).
fn print_rate_families(
    out: &mut impl Write,
    rows: &[SummaryRow],
    max_rows: usize,
) -> std::io::Result<()> {
    if rows
        .iter()
        .all(|r| r.l2_error.is_none() && r.h1_error.is_none())
    {
        return Ok(());
    }
    let mut seen = std::collections::HashSet::new();
    let families: Vec<&SummaryRow> = rows.iter().filter(|r| seen.insert(&r.family)).collect();
    writeln!(
        out,
        "  convergence rates per family (points differing only in {}):",
        RESOLUTION_KEYS
            .iter()
            .map(|k| k.rsplit('.').next().unwrap_or(k))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    for row in families.iter().take(max_rows) {
        let rate = |r: Option<f64>| r.map_or("-".into(), |r| format!("{r:.2}"));
        write!(
            out,
            "    {}: L2 {}, H1 {} over {} point(s), {} mesh size(s)",
            row.family,
            rate(row.l2_rate),
            rate(row.h1_rate),
            row.family_points,
            row.rate_mesh_sizes
        )?;
        match &row.rate_note {
            Some(note) => writeln!(out, "; {note}")?,
            None => writeln!(out)?,
        }
    }
    if families.len() > max_rows {
        writeln!(out, "    ... {} more families", families.len() - max_rows)?;
    }
    Ok(())
}

fn format_row(row: &SummaryRow, label: &str, width: usize) -> String {
    let runs = format!("{}/{}", row.runs_ok, row.runs_ok + row.runs_failed);
    let time = row
        .total_solve_time
        .map_or("-".into(), |t| format!("{:.4}", t.median));
    let l2 = row.l2_error.map_or("-".into(), |e| format!("{e:.3e}"));
    let rate = row.l2_rate.map_or("-".into(), |e| format!("{e:.2}"));
    let solver = match (&row.solver, &row.error) {
        (Some(s), _) => format!(
            "{s}{}",
            row.preconditioner
                .as_deref()
                .filter(|p| *p != "none")
                .map(|p| format!(" + {p}"))
                .unwrap_or_default()
        ),
        (None, Some(e)) => format!("FAILED: {}", e.lines().next().unwrap_or("")),
        (None, None) => "-".into(),
    };
    // An adaptive point says whether it reached its target (its L2 error is often unknown).
    let adaptive = match (row.adaptive_steps, &row.adaptive_stopped_by) {
        (Some(steps), Some(stop)) => {
            let error =
                (row.energy_error.map(|e| format!(", energy error {e:.3e}"))).unwrap_or_default();
            let estimate = row.estimate.map_or("-".into(), |e| format!("{e:.3e}"));
            format!("; adaptive: {steps} steps, stopped by {stop} (estimate {estimate}{error})")
        }
        _ => String::new(),
    };
    format!("{label:<width$}  {runs:>5}  {time:>10}  {l2:>10}  {rate:>7}  {solver}{adaptive}")
}
