//! `femscale`: solve finite element problems from configuration files.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use femscale::experiment::Experiment;
use femscale::prelude::*;
use femscale::runtime::config::Attribution;

mod bench_cmd;
mod cache_cmd;
mod plugin_host;
mod plugins_cmd;
mod run;
mod solve_ranks;

/// femscale: a finite element solver framework for elliptic problems that scales.
///
/// Solves -div(k grad u) + c u = f with Dirichlet, Neumann and Robin boundaries: P1/P2 and
/// Q1/Q2 elements on generated intervals, rectangles and boxes or on Gmsh meshes, with
/// adaptive refinement and MPI ranks, configured by TOML files and --set overrides.
/// `0.1.0 (build 1a2b3c4d5e6f7a8b)`: the version and the build id that cache keys and run ids
/// carry (`femscale::runtime::BUILD_ID`).
fn version_text() -> &'static str {
    static TEXT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let (version, build) = (
            femscale::runtime::FEMSCALE_VERSION,
            femscale::runtime::BUILD_ID,
        );
        format!("{version} (build {build})")
    });
    &TEXT
}

#[derive(Debug, Parser)]
#[command(
    name = "femscale",
    version = version_text(),
    propagate_version = true,
    arg_required_else_help = true
)]
struct Cli {
    /// Log filter for diagnostics on stderr (e.g. `info`, `femscale_runtime=debug`);
    /// RUST_LOG is used when this is not given.
    #[arg(long, global = true, value_name = "FILTER")]
    log: Option<String>,

    /// Format of the diagnostics on stderr: `text` (default) or `json` (one JSON object per
    /// line with the event's fields, its current span and the list of enclosing spans, e.g.
    /// `fem.solve` and `fem.phase` with `phase=assembly`); FEMSCALE_LOG_FORMAT is used when
    /// this is not given.
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    log_format: Option<LogFormat>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Solve one problem and print a summary (or one JSON object with --json).
    ///
    /// The problem comes from the built-in defaults, overridden by --config FILE, overridden by
    /// each --set in order. Example:
    ///
    ///   femscale solve --config examples/configs/poisson_2d_mms.toml --set problem.mesh.nx=256 --json
    Solve(SolveArgs),
    /// Run an experiment file: a base problem and solver, a `[sweep]` over any configuration
    /// keys, repetitions, and `[output]` (results.jsonl, summary.csv, VTU files, plots).
    /// Rerunning the same command resumes: finished points are skipped.
    Run(run::RunArgs),
    /// Inspect the layered configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Inspect and clear the disk and Redis cache levels of a configuration
    /// (`[cache] levels`, `disk_dir`, `redis_url`).
    #[command(subcommand)]
    Cache(cache_cmd::CacheCommand),
    /// The scaling benchmark: problem sizes x scaling levels (x solvers), repeated; prints
    /// medians and ranges and the best configuration per size, writes JSON, CSV and an SVG
    /// plot. Example:
    ///
    ///   femscale bench --sizes 64,256,1024 --levels minimal,standard,aggressive,auto
    Bench(bench_cmd::BenchArgs),
    /// Solver plugins: list what the configuration loads, or check one library. Example:
    ///
    ///   femscale plugins check target/release/libfemscale_plugin_chebyshev.so
    #[command(subcommand)]
    Plugins(plugins_cmd::PluginsCommand),
    /// Runs one plugin solver for a host process (`plugins.isolation = "process"`); not for
    /// interactive use.
    #[command(hide = true)]
    PluginHost,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration and, for each value, the layer it came from:
    /// default, FILE:LINE, environment variable FEMSCALE_SECTION__KEY, or --set.
    Show {
        #[command(flatten)]
        config: ConfigArgs,
        /// Print a JSON array of {key, value, source} instead.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
struct ConfigArgs {
    /// TOML configuration file (must exist).
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,

    /// Override one configuration key, e.g. `--set problem.mesh.nx=256` or
    /// `--set solver.kind=cg`. Values are read as TOML (numbers, booleans, arrays, quoted
    /// strings), anything else as a plain string. Repeatable; later ones win.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
}

#[derive(Debug, Args)]
struct SolveArgs {
    #[command(flatten)]
    config: ConfigArgs,

    /// Print exactly one JSON object with the solve's metrics on stdout.
    #[arg(long)]
    json: bool,

    /// Write the solution `u` as VTK for ParaView: a `.vtu` file; under `mpirun` on several
    /// ranks (or for a PATH ending in `.pvtu`) a `.pvtu` file (PATH with that extension) and one
    /// `.vtu` piece per rank beside it.
    #[arg(long, value_name = "PATH")]
    vtu: Option<PathBuf>,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, with span context.
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = log_format(cli.log_format);
    init_tracing(cli.log.as_deref(), format);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// `e` and its causes joined by `: `, as `{e:#}` prints them, but without a cause whose text
/// the message already ends with (`femscale_core::Error::Io` shows its OS error itself).
pub(crate) fn error_chain(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let cause = cause.to_string();
        if text.ends_with(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}

/// `--log-format`, else `FEMSCALE_LOG_FORMAT`, else text. An invalid variable is a usage
/// error (exit status 2), as an invalid option would be.
fn log_format(option: Option<LogFormat>) -> LogFormat {
    use clap::{CommandFactory, ValueEnum};
    if let Some(format) = option {
        return format;
    }
    match std::env::var("FEMSCALE_LOG_FORMAT") {
        Ok(v) if !v.trim().is_empty() => LogFormat::from_str(v.trim(), true).unwrap_or_else(|_| {
            Cli::command()
                .error(
                    clap::error::ErrorKind::InvalidValue,
                    format!(
                        "invalid value '{v}' for FEMSCALE_LOG_FORMAT \
                             [possible values: text, json]"
                    ),
                )
                .exit()
        }),
        _ => LogFormat::Text,
    }
}

fn init_tracing(filter: Option<&str>, format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = match filter {
        Some(f) => EnvFilter::new(f),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
    };
    // No colour codes when stderr is a file or a pipe (logs, CI, `2>&1 | grep`).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .init(),
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Solve(args) => solve(args),
        Command::Run(args) => run::run(args),
        Command::Config(ConfigCommand::Show { config, json }) => config_show(config, json),
        Command::Cache(command) => cache_cmd::run(command),
        Command::Bench(args) => bench_cmd::run(args),
        Command::Plugins(command) => plugins_cmd::run(command),
        Command::PluginHost => plugin_host::run(),
    }
}

fn config_show(args: ConfigArgs, json: bool) -> anyhow::Result<()> {
    let experiment = match &args.config {
        Some(path) if Experiment::is_experiment_file(path).unwrap_or(false) => {
            Some(Experiment::load(path, &args.overrides)?)
        }
        _ => None,
    };
    let entries = match &experiment {
        Some(exp) => exp.base_provenance()?,
        None => Config::provenance(&ConfigSources {
            file: args.config,
            overrides: args.overrides,
        })?,
    };
    // Which configuration this is, when it is the base of an experiment: on stderr with
    // --json (stdout stays one JSON array), as a comment line otherwise.
    let note = experiment.as_ref().map(|exp| {
        let points = exp.points().len();
        let swept = if exp.keys().is_empty() {
            String::new()
        } else {
            format!("; swept keys, not applied here: {}", exp.keys().join(", "))
        };
        format!(
            "base point of experiment `{}` with {points} point{} x {} repetition{}{swept}",
            exp.name(),
            if points == 1 { "" } else { "s" },
            exp.settings().repetitions,
            if exp.settings().repetitions == 1 {
                ""
            } else {
                "s"
            },
        )
    });
    let mut out = std::io::stdout().lock();
    if json {
        if let Some(note) = note {
            eprintln!("note: {note}");
        }
        serde_json::to_writer_pretty(&mut out, &entries)?;
        writeln!(out)?;
        return Ok(());
    }
    if let Some(note) = note {
        writeln!(out, "# {note}")?;
    }
    // The sources line up after the longest assignment, up to a column: a longer value (an
    // array of 10⁴ nodes) pushes its own source out rather than every line's.
    const MAX_COLUMN: usize = 100;
    let width = entries
        .iter()
        .map(|e| e.key.len() + e.value.len() + 3)
        .filter(|&w| w <= MAX_COLUMN)
        .max()
        .unwrap_or(0);
    for e in &entries {
        let assignment = format!("{} = {}", e.key, e.value);
        let pad = width.saturating_sub(assignment.chars().count());
        writeln!(out, "{assignment}{:pad$}  # {}", "", e.source)?;
    }
    Ok(())
}

fn solve(args: SolveArgs) -> anyhow::Result<()> {
    let sources = ConfigSources {
        file: args.config.config.clone(),
        overrides: args.config.overrides.clone(),
    };
    let (config, attribution) = Config::load_attributed(&sources)?;
    if let Some(path) = &args.vtu {
        // Before the solve, whose result a path that cannot be written would lose.
        solve_ranks::check_vtu_path(path)?;
    }
    let ranks = solve_ranks::Ranks::start()?;
    // Writing a VTU file is collective: a rank without `--vtu` would leave the others waiting.
    let outputs = format!("--vtu {}", args.vtu.is_some());
    let result = ranks
        .agree("set of outputs (--vtu on some ranks only)", &outputs)
        .and_then(|()| ranks.solver(config))
        .and_then(|s| s.solve_configured());
    let solution = result.map_err(|e| ranks.fail(located(e, &attribution)))?;
    let written = (args.vtu.as_ref()).map(|path| ranks.write_vtu(&solution, path));
    if !ranks.is_root() {
        // Rank 0 reports; the others solved their share.
        if let Some(Err(e)) = written {
            return Err(ranks.fail(e.into()));
        }
        return Ok(());
    }
    // The result is reported also when its file could not be written (a full disk): the
    // command then fails, after the report.
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &solution.metrics).context("writing JSON")?;
        writeln!(out)?;
    } else {
        print_summary(&mut out, &solution.metrics)?;
        if let Some(Ok(path)) = &written {
            writeln!(out, "  output      {}", path.display())?;
        }
    }
    drop(out);
    if let Some(Err(e)) = written {
        return Err(ranks.fail(e.into()));
    }
    Ok(())
}

/// Adds where the offending value came from to errors that name a configuration key: the
/// `--set` or `FEMSCALE_*` variable that set the key or a parent holding it, else the config
/// file's line (from the source map kept when the configuration was loaded).
fn located(e: femscale::Error, attribution: &Attribution) -> anyhow::Error {
    let origin = (e.unlocated_field()).and_then(|field| attribution.origin_of(&field));
    match origin {
        Some(origin) => anyhow::Error::new(e).context(origin.to_string()),
        None => anyhow::Error::new(e),
    }
}

fn print_summary(out: &mut impl Write, m: &Metrics) -> std::io::Result<()> {
    let p = &m.phases;
    writeln!(
        out,
        "femscale solve: {} element, {} dofs ({} Dirichlet), {} elements, {} nonzeros",
        m.element, m.dofs, m.dirichlet_dofs, m.num_elements, m.nnz
    )?;
    let mesh = &m.mesh;
    writeln!(
        out,
        "  mesh        {} {} cells, {} nodes, quality {:.3} to {:.3}, {} reoriented",
        mesh.cells,
        mesh.cell_kind,
        mesh.nodes,
        mesh.min_quality,
        mesh.max_quality,
        mesh.reoriented_cells
    )?;
    writeln!(
        out,
        "  solver      {} (preconditioner {}), {} iteration{}, relative residual {:.2e} (verified {:.2e})",
        m.solver,
        m.preconditioner,
        m.iterations,
        if m.iterations == 1 { "" } else { "s" },
        m.final_relative_residual,
        m.verified_relative_residual
    )?;
    writeln!(
        out,
        "  assembly    {} assembler; {} thread{} for assembly and solver kernels",
        m.assembler,
        m.threads,
        if m.threads == 1 { "" } else { "s" }
    )?;
    writeln!(
        out,
        "  phases [s]  mesh {:.4} | pattern {:.4} | assembly {:.4} | bcs {:.4} | setup {:.4} | solve {:.4} | post {:.4}",
        p.mesh, p.pattern, p.assembly, p.boundary_conditions, p.setup, p.solve, p.post
    )?;
    writeln!(out, "  total       {:.4} s", m.total_solve_time)?;
    if let Some(r) = &m.linear_solve.ranks {
        writeln!(
            out,
            "  ranks       {} ranks, {}..{} rows each (imbalance {:.2}); per product {} halo messages, \
             {} bytes; {} products, {} reductions; communication {:.3}..{:.3} s of {:.3} s",
            r.ranks,
            r.rows_min,
            r.rows_max,
            r.imbalance(m.dofs),
            r.halo_messages_per_product,
            r.halo_bytes_per_product,
            r.products,
            r.reductions,
            r.communication_seconds_min,
            r.communication_seconds_max,
            r.solve_seconds_max
        )?;
    }
    if !m.cache_reused.is_empty() {
        let reused: Vec<String> = m.cache_reused.iter().map(ToString::to_string).collect();
        let served = m.features_used.contains(&Feature::SolutionCacheHit);
        writeln!(
            out,
            "  cache       reused {}{}",
            reused.join(", "),
            if served {
                " (the solution was computed by an earlier solve of this problem; the lines \
                 above describe that solve, phases, total and resources this lookup)"
            } else {
                ""
            }
        )?;
    }
    if let (Some(rss), Some(cpu)) = (m.peak_rss_mb, m.mean_cpu_percent) {
        writeln!(
            out,
            "  resources   peak RSS {rss:.1} MB | mean CPU {cpu:.0}% of one core | level {}",
            m.scaling_level
        )?;
    }
    if !m.plan_rationale.is_empty() {
        writeln!(out, "  plan        {}", m.plan_rationale)?;
    }
    if let (Some(l2), Some(h1)) = (m.l2_error, m.h1_error) {
        writeln!(
            out,
            "  error       L2 {l2:.4e} | H1 seminorm {h1:.4e} | max nodal {:.4e}",
            m.max_nodal_error.unwrap_or(f64::NAN)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::error_chain;

    #[test]
    fn an_error_chain_shows_each_cause_once() {
        let io = femscale::core::Error::Io {
            path: "/x.msh".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        };
        let e = anyhow::Error::from(io);
        assert_eq!(error_chain(&e), "/x.msh: no such file");
        let e = e.context("reading the mesh");
        assert_eq!(error_chain(&e), "reading the mesh: /x.msh: no such file");
        let plain = anyhow::anyhow!("plain").context("outer");
        assert_eq!(error_chain(&plain), "outer: plain");
    }
}
