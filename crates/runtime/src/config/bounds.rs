//! Bounds of every duration, size and count key (`docs/configuration.md`, "Bounds").
//!
//! The schema's types accept any `f64` or `usize`, but a timeout of `1e300` seconds cannot be a
//! [`Duration`], a thread pool of `2^63` threads cannot be built and an AMG smoother of
//! `10^18` sweeps never ends. [`Config::check_bounds`] refuses such values with an error naming
//! the key before anything is built; [`duration_from_seconds`] is the panic-free conversion
//! the library uses wherever a `Duration` comes from a configured number of seconds.

use std::time::Duration;

use femscale_core::{Error, Result};

use super::Config;

/// Largest duration key, seconds (`solver.timeout_seconds`, `cache.ttl_seconds`,
/// `cache.redis_timeout_seconds`): 10^9 s, about 31.7 years — "no limit" in practice, and
/// small enough that every deadline computed from it is representable.
pub const MAX_SECONDS: f64 = 1.0e9;

/// Largest size key, MB (`solver.memory_limit_mb`, `cache.memory_mb`, `cache.disk_max_mb`):
/// 10^9 MB, about a petabyte.
pub const MAX_MEGABYTES: f64 = 1.0e9;

/// Largest `scaling.threads` (and `experiment.parallel_runs`).
pub const MAX_THREADS: usize = 1024;

/// Largest `solver.gmres.restart`: the Krylov basis holds `restart + 1` vectors.
pub const MAX_GMRES_RESTART: usize = 10_000;

/// Largest `solver.amg.sweeps` and `solver.amg.chebyshev_degree`: the smoother's work per
/// V-cycle grows with both, and the time budget is checked between cycles only.
pub const MAX_SMOOTHING_WORK: usize = 100;

/// Largest `solver.amg.max_levels`.
pub const MAX_AMG_LEVELS: usize = 100;

/// The [`Duration`] of `seconds`, clamped to [`MAX_SECONDS`]; `None` for NaN, negative or zero
/// values (callers treat them as "no limit" after validation refused them).
pub fn duration_from_seconds(seconds: f64) -> Option<Duration> {
    if seconds.is_nan() || seconds <= 0.0 {
        return None;
    }
    Duration::try_from_secs_f64(seconds.min(MAX_SECONDS)).ok()
}

/// `value` seconds in `(0, MAX_SECONDS]`.
pub(crate) fn check_seconds(key: &str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 && value <= MAX_SECONDS {
        return Ok(());
    }
    Err(Error::invalid(
        key,
        format!(
            "must be a number of seconds in (0, {MAX_SECONDS:e}] (about 31 years), got {}",
            show(value)
        ),
    ))
}

/// `value` MB in `(0, MAX_MEGABYTES]`, or `[0, MAX_MEGABYTES]` with `zero_ok`.
fn check_megabytes(key: &str, value: f64, zero_ok: bool) -> Result<()> {
    let low_ok = if zero_ok { value >= 0.0 } else { value > 0.0 };
    if value.is_finite() && low_ok && value <= MAX_MEGABYTES {
        return Ok(());
    }
    let open = if zero_ok { "[" } else { "(" };
    Err(Error::invalid(
        key,
        format!(
            "must be a size in MB in {open}0, {MAX_MEGABYTES:e}] (about a petabyte), got {}",
            show(value)
        ),
    ))
}

/// `value` as written by a person: `1e300` rather than its 301 digits.
fn show(value: f64) -> String {
    if value.is_finite() && value != 0.0 && !(1e-4..1e16).contains(&value.abs()) {
        format!("{value:e}")
    } else {
        value.to_string()
    }
}

/// Checks that the count `value` of `key` is in `low..=high`.
///
/// # Errors
/// [`Error::InvalidInput`] naming `key` and the range.
pub fn check_count(key: &str, value: usize, low: usize, high: usize) -> Result<()> {
    if (low..=high).contains(&value) {
        return Ok(());
    }
    Err(Error::invalid(
        key,
        format!("must be from {low} to {high}, got {value}"),
    ))
}

/// `assembly.quadrature_degree` within the degrees `femscale_assembly::quadrature` has rules
/// for on some cell kind; the assembler refuses a degree its mesh's cell kind lacks.
fn check_quadrature_degree(degree: usize) -> Result<()> {
    use femscale_assembly::quadrature::{MAX_DEGREE, MIN_DEGREE, max_degree};
    if (MIN_DEGREE..=MAX_DEGREE).contains(&degree) {
        return Ok(());
    }
    Err(Error::invalid(
        "assembly.quadrature_degree",
        format!(
            "must be from {MIN_DEGREE} to {MAX_DEGREE} (at most {} on triangles), got {degree}",
            max_degree(femscale_core::CellKind::Triangle).unwrap_or(0)
        ),
    ))
}

/// A plugin option has a JSON value: a number that is not finite (TOML's `nan`, `inf`) has
/// none (it would reach the plugin as `null`), nor has a date or time (it would reach it as
/// the TOML library's private encoding).
///
/// # Errors
/// [`Error::InvalidInput`] naming the option's key.
fn check_plugin_option(field: &str, value: &serde_json::Value) -> Result<()> {
    use serde_json::Value;
    match value {
        Value::Null => Err(Error::invalid(
            field,
            "is not a finite number (nan or inf), which a plugin's JSON options cannot carry",
        )),
        Value::Object(map) if map.contains_key("$__toml_private_datetime") => Err(Error::invalid(
            field,
            "is a date or time, which a plugin's JSON options cannot carry: give it as a string",
        )),
        Value::Object(map) => map
            .iter()
            .try_for_each(|(k, v)| check_plugin_option(&format!("{field}.{k}"), v)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check_plugin_option(&format!("{field}[{i}]"), v)),
        _ => Ok(()),
    }
}

impl Config {
    /// Checks every duration, size and count key against its bound (see the constants of
    /// this module and `docs/configuration.md`). [`Config::load`], experiment files and
    /// [`crate::FemSolver::from_config`] run it; the other range checks (tolerances, names,
    /// mesh sizes) are done where the values are used.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the first key out of bounds.
    pub fn check_bounds(&self) -> Result<()> {
        let s = &self.solver;
        if let Some(t) = s.timeout_seconds {
            check_seconds("solver.timeout_seconds", t)?;
        }
        if let Some(m) = s.memory_limit_mb {
            check_megabytes("solver.memory_limit_mb", m, false)?;
        }
        check_count(
            "solver.gmres.restart",
            s.gmres.restart,
            1,
            MAX_GMRES_RESTART,
        )?;
        check_count("solver.amg.sweeps", s.amg.sweeps, 1, MAX_SMOOTHING_WORK)?;
        check_count(
            "solver.amg.chebyshev_degree",
            s.amg.chebyshev_degree,
            1,
            MAX_SMOOTHING_WORK,
        )?;
        check_count("solver.amg.max_levels", s.amg.max_levels, 2, MAX_AMG_LEVELS)?;
        check_count("scaling.threads", self.scaling.threads, 0, MAX_THREADS)?;
        let c = &self.cache;
        check_megabytes("cache.memory_mb", c.memory_mb, true)?;
        check_megabytes("cache.disk_max_mb", c.disk_max_mb, true)?;
        if let Some(t) = c.ttl_seconds {
            check_seconds("cache.ttl_seconds", t)?;
        }
        check_seconds("cache.redis_timeout_seconds", c.redis_timeout_seconds)?;
        self.adaptivity.check()?;
        for (name, options) in &self.plugins.options {
            check_plugin_option(&format!("plugins.options.{name}"), options)?;
        }
        check_quadrature_degree(self.assembly.quadrature_degree)
    }

    /// [`Config::check_bounds`], and settings that contradict each other in what the user
    /// wrote: `scaling.threads` above one with `scaling.enable_parallel = false`. (A program
    /// that sets both gets one thread: the runner of `femscale run` fills in
    /// `scaling.threads` for each run, and an explicit `enable_parallel = false` wins.)
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the key.
    pub fn check_loaded(&self) -> Result<()> {
        self.check_bounds()?;
        if self.scaling.threads > 1 && self.scaling.enable_parallel == Some(false) {
            return Err(Error::invalid(
                "scaling.threads",
                format!(
                    "{} threads contradict scaling.enable_parallel = false (one thread); \
                     drop one of them",
                    self.scaling.threads
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_options_without_a_json_value_are_refused_by_key() {
        for (value, field, says) in [
            ("nan", "plugins.options.x.tol", "finite"),
            ("-inf", "plugins.options.x.tol", "finite"),
            ("[1.0, inf]", "plugins.options.x.tol[1]", "finite"),
            ("{ a = nan }", "plugins.options.x.tol.a", "finite"),
            ("1979-05-27T07:32:00Z", "plugins.options.x.tol", "date"),
        ] {
            let text = format!("[plugins.options.x]\ntol = {value}\n");
            let e = Config::from_toml_str(&text)
                .and_then(|c| c.check_bounds())
                .unwrap_err();
            assert_eq!(e.field_name().as_deref(), Some(field), "{value}: {e}");
            assert!(e.to_string().contains(says), "{value}: {e}");
        }
        let fine = Config::from_toml_str("[plugins.options.x]\ntol = 1e-300\nname = \"a\"\n");
        fine.unwrap().check_bounds().unwrap();
    }

    #[test]
    fn durations_never_panic_and_clamp() {
        for s in [f64::NAN, -1.0, -0.0, 0.0, f64::NEG_INFINITY] {
            assert_eq!(duration_from_seconds(s), None, "{s}");
        }
        for s in [1e19, 1e300, f64::INFINITY, f64::MAX] {
            assert_eq!(
                duration_from_seconds(s),
                Some(Duration::from_secs(1_000_000_000))
            );
        }
        assert_eq!(
            duration_from_seconds(1.5),
            Some(Duration::from_millis(1500))
        );
        // Every deadline a clamped duration gives is representable.
        let now = std::time::Instant::now();
        assert!(
            now.checked_add(duration_from_seconds(1e300).unwrap())
                .is_some()
        );
    }

    #[test]
    fn every_bounded_key_names_itself() {
        type Set = fn(&mut Config);
        let cases: [(&str, Set); 13] = [
            ("solver.timeout_seconds", |c| {
                c.solver.timeout_seconds = Some(1e300)
            }),
            ("solver.memory_limit_mb", |c| {
                c.solver.memory_limit_mb = Some(-1.0)
            }),
            ("solver.gmres.restart", |c| {
                c.solver.gmres.restart = usize::MAX
            }),
            ("solver.amg.sweeps", |c| c.solver.amg.sweeps = 1 << 40),
            ("solver.amg.chebyshev_degree", |c| {
                c.solver.amg.chebyshev_degree = 101
            }),
            ("solver.amg.max_levels", |c| c.solver.amg.max_levels = 1000),
            ("scaling.threads", |c| c.scaling.threads = 1 << 20),
            ("cache.memory_mb", |c| c.cache.memory_mb = f64::NAN),
            ("cache.disk_max_mb", |c| c.cache.disk_max_mb = 1e19),
            ("cache.ttl_seconds", |c| c.cache.ttl_seconds = Some(1e300)),
            ("cache.redis_timeout_seconds", |c| {
                c.cache.redis_timeout_seconds = 1e19
            }),
            ("assembly.quadrature_degree", |c| {
                c.assembly.quadrature_degree = 0
            }),
            ("assembly.quadrature_degree", |c| {
                c.assembly.quadrature_degree = femscale_assembly::quadrature::MAX_DEGREE + 1
            }),
        ];
        Config::default().check_bounds().unwrap();
        for (key, set) in cases {
            let mut c = Config::default();
            set(&mut c);
            let e = c.check_bounds().unwrap_err();
            assert_eq!(e.field_name().as_deref(), Some(key), "{e}");
        }
        let mut c = Config::default();
        c.solver.timeout_seconds = Some(MAX_SECONDS);
        c.cache.memory_mb = 0.0;
        c.scaling.threads = MAX_THREADS;
        c.assembly.quadrature_degree = femscale_assembly::quadrature::MAX_DEGREE;
        c.check_bounds().unwrap();
    }
}
