//! `femscale bench`: the scaling benchmark over problem sizes × scaling levels (× solvers).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use femscale::experiment::bench::{BenchProgress, ScalingBenchmark, parse_level};
use femscale::prelude::*;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::ConfigArgs;

const AFTER_HELP: &str = "\
Every run solves -laplace(u) = 2 pi^2 sin(pi x) sin(pi y) on the unit square with u = 0 on the
boundary, on N x N squares split into P1 triangles ((N+1)^2 unknowns), from the built-in
defaults overridden by --config and --set (solver options, assembly, ...; the [problem] section
is not used). Each configuration solves once untimed first (thread pool, allocator), then the
repetitions run interleaved across configurations; small problems get more repetitions, until
each configuration has --min-seconds of timed runs. Caching is off unless --with-caching: a
repeated solve would otherwise be served from the cache.

Prints one line per size x configuration (median, min-max, distance to the best), the best
configuration per size and how far `auto` is from it; writes bench.json, bench.csv and
bench_time_vs_dofs.svg into --output.

Example:
  femscale bench --sizes 64,256,1024 --levels minimal,standard,aggressive,auto --repetitions 3";

/// Arguments of `femscale bench`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub(crate) struct BenchArgs {
    /// Squares per side of the problems, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "64,256,1024",
        value_name = "N,..."
    )]
    sizes: Vec<usize>,

    /// Scaling levels to compare: minimal, standard, aggressive, auto.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "minimal,standard,aggressive,auto",
        value_name = "LEVEL,..."
    )]
    levels: Vec<String>,

    /// Linear solvers to compare (registry names such as direct, cg, or auto); default: the
    /// configuration's `solver.kind`.
    #[arg(long, value_delimiter = ',', value_name = "SOLVER,...")]
    solvers: Vec<String>,

    /// Timed repetitions per configuration, at least (the table shows their median and range).
    #[arg(long, short = 'r', default_value_t = 3, value_name = "N")]
    repetitions: usize,

    /// Seconds of timed runs per configuration and size, at least: small problems are repeated
    /// more than --repetitions times (at most 100) so that their medians are not noise.
    #[arg(long, default_value_t = 0.3, value_name = "SECONDS")]
    min_seconds: f64,

    /// Output directory for bench.json, bench.csv and bench_time_vs_dofs.svg.
    #[arg(long, short = 'o', default_value = "results/bench", value_name = "DIR")]
    output: PathBuf,

    /// Keep each level's caching toggle (repetitions may then be served from the cache).
    #[arg(long)]
    with_caching: bool,

    /// Print the report as JSON on stdout instead of the table.
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    config: ConfigArgs,
}

/// Runs the benchmark and prints the table.
///
/// # Errors
/// Bad arguments or configuration, a failed solve, outputs that cannot be written.
pub(crate) fn run(args: BenchArgs) -> anyhow::Result<()> {
    // One process measures: under mpirun every rank would run the whole benchmark and write
    // the same files.
    if let Some(launched) = femscale::distributed::launched_ranks().filter(|l| l.size > 1) {
        anyhow::bail!(
            "femscale bench measures in one process, but it was started as one of {} ranks \
             ({} is set by the launcher): every rank would run the whole benchmark and write \
             the same files; run it without mpirun (`femscale run` spreads a sweep over ranks)",
            launched.size,
            launched.variable
        );
    }
    let levels = args
        .levels
        .iter()
        .map(|l| parse_level(l))
        .collect::<Result<Vec<_>, _>>()
        .map_err(flag_names)?;
    let sources = ConfigSources {
        file: args.config.config.clone(),
        overrides: args.config.overrides.clone(),
    };
    let config = Config::load(&sources)?;
    let solvers: Vec<&str> = args.solvers.iter().map(String::as_str).collect();
    let bench = ScalingBenchmark::new()
        .sizes(&args.sizes)
        .levels(&levels)
        .solvers(&solvers)
        .repetitions(args.repetitions)
        .min_seconds(args.min_seconds)
        .with_caching(args.with_caching)
        .base_config(config);

    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} timed runs  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    let mut progress = |p: &BenchProgress| match &bar {
        Some(bar) => {
            bar.set_length(p.total as u64);
            bar.set_position(p.done as u64);
            bar.set_message(format!("n = {} {} {:.3} s", p.size, p.level, p.seconds));
        }
        None => tracing::info!(
            done = p.done,
            total = p.total,
            size = p.size,
            level = %p.level,
            solver = %p.solver,
            seconds = p.seconds,
            "bench run"
        ),
    };
    let report = bench.run_with_progress(&mut progress);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = report.map_err(flag_names)?;
    let outputs = report
        .write_outputs(&args.output)
        .with_context(|| format!("writing the outputs to {}", args.output.display()))?;

    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", report.table())?;
        let (json, csv) = (outputs.json.display(), outputs.csv.display());
        match &outputs.svg {
            Some(svg) => writeln!(out, "wrote {json}, {csv} and {}", svg.display())?,
            None => writeln!(out, "wrote {json} and {csv}")?,
        }
    }
    Ok(())
}

/// Names the command-line flag in errors about the benchmark's settings (`bench.min_seconds`
/// becomes `--min-seconds`): the flag is where the value came from.
fn flag_names(e: Error) -> Error {
    use femscale::core::{FieldPath, Step};
    e.map_field(|field| match field.steps() {
        [Step::Key(section), Step::Key(name)] if section == "bench" => {
            FieldPath::root().key(format!("--{}", name.replace('_', "-")))
        }
        _ => field,
    })
}
