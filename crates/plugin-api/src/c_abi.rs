//! The plain C interface of `include/femscale_plugin.h`, for solvers written in C, C++ or
//! Fortran (`bind(C)`), mirrored as Rust types for the host.
//!
//! A C plugin is a shared library exporting the functions named by the `SYM_*` constants. The
//! host resolves [`SYM_ABI_VERSION`] first and calls nothing else unless it returns a version
//! from [`C_ABI_OLDEST_VERSION`] to [`C_ABI_VERSION`]. Version 2 appended fields to
//! [`CSolveParams`] (time and memory budgets) and [`CSolveResult`] (memory used), so a version 1
//! library, which reads and writes only the leading fields, is called with the same structs. One C library provides one solver, registered as `plugin:<name>` with the
//! name returned by [`SYM_NAME`]. Strings returned by the plugin are static and NUL-terminated;
//! error messages are written into a buffer the host provides.

use std::ffi::{c_char, c_int, c_void};

/// The C interface version this crate describes (`FEMSCALE_PLUGIN_C_ABI_VERSION`).
pub const C_ABI_VERSION: u32 = 2;

/// The oldest C interface version the host still loads.
pub const C_ABI_OLDEST_VERSION: u32 = 1;

/// `uint32_t femscale_plugin_abi_version(void)`: checked before any other call.
pub const SYM_ABI_VERSION: &str = "femscale_plugin_abi_version";
/// `const char *femscale_plugin_name(void)`.
pub const SYM_NAME: &str = "femscale_plugin_name";
/// `const char *femscale_plugin_version(void)`.
pub const SYM_VERSION: &str = "femscale_plugin_version";
/// `const char *femscale_plugin_description(void)` (optional).
pub const SYM_DESCRIPTION: &str = "femscale_plugin_description";
/// `void femscale_plugin_set_logger(femscale_log_fn, void *)` (optional).
pub const SYM_SET_LOGGER: &str = "femscale_plugin_set_logger";
/// `int femscale_plugin_check_options(options_json, message, message_len)` (optional, version 2).
pub const SYM_CHECK_OPTIONS: &str = "femscale_plugin_check_options";
/// `int femscale_solver_create(...)`.
pub const SYM_CREATE: &str = "femscale_solver_create";
/// `int femscale_solver_solve(...)`.
pub const SYM_SOLVE: &str = "femscale_solver_solve";
/// `void femscale_solver_destroy(void *)`.
pub const SYM_DESTROY: &str = "femscale_solver_destroy";

/// Status: success (converged).
pub const STATUS_OK: c_int = 0;
/// Status: the iteration limit was reached (the result is filled).
pub const STATUS_NOT_CONVERGED: c_int = 1;
/// Status: breakdown (the result is filled).
pub const STATUS_BREAKDOWN: c_int = 2;
/// Status: the monitor asked to stop (the result is filled).
pub const STATUS_STOPPED: c_int = 3;
/// Status: the options are invalid.
pub const STATUS_INVALID_OPTIONS: c_int = 4;
/// Status: the matrix is unsuitable (e.g. a zero diagonal entry).
pub const STATUS_UNSUITABLE_MATRIX: c_int = 5;
/// Status: out of memory.
pub const STATUS_OUT_OF_MEMORY: c_int = 6;
/// Status: any other error (see the message).
pub const STATUS_ERROR: c_int = 7;
/// Status (version 2): the solve passed `timeout_seconds` and stopped (the result is filled).
pub const STATUS_TIMED_OUT: c_int = 8;

/// `femscale_csr`: a borrowed CSR matrix.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CCsr {
    /// Rows.
    pub nrows: usize,
    /// Columns.
    pub ncols: usize,
    /// Stored entries.
    pub nnz: usize,
    /// `nrows + 1` row offsets.
    pub row_ptr: *const usize,
    /// `nnz` column indices.
    pub col_idx: *const usize,
    /// `nnz` values.
    pub values: *const f64,
}

/// `femscale_solve_params`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CSolveParams {
    /// Relative residual tolerance.
    pub tolerance: f64,
    /// Absolute residual tolerance.
    pub absolute_tolerance: f64,
    /// Iteration limit.
    pub max_iterations: usize,
    /// Threads the plugin may use (0: its own choice).
    pub threads: usize,
    /// Version 2: seconds left for this call (0: no limit).
    pub timeout_seconds: f64,
    /// Version 2: memory budget, MB (0: no limit).
    pub memory_limit_mb: f64,
}

/// `femscale_solve_result`, filled by a solve.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct CSolveResult {
    /// Iterations performed.
    pub iterations: usize,
    /// `||b - A x0||`.
    pub initial_residual: f64,
    /// `||b - A x||` at the end.
    pub final_residual: f64,
    /// `||b - A x|| / ||b||` at the end.
    pub final_relative_residual: f64,
    /// Version 2: bytes the solver object holds plus what the solve used (0: not reported).
    pub memory_bytes: usize,
}

/// `femscale_monitor_fn`: returns nonzero to continue, 0 to stop.
pub type MonitorFn =
    unsafe extern "C" fn(ctx: *mut c_void, iteration: usize, relative_residual: f64) -> c_int;
/// `femscale_log_fn`: level 0 (trace) to 4 (error), NUL-terminated message.
pub type LogFn = unsafe extern "C" fn(ctx: *mut c_void, level: c_int, message: *const c_char);

/// `femscale_plugin_abi_version`.
pub type AbiVersionFn = unsafe extern "C" fn() -> u32;
/// `femscale_plugin_name`, `femscale_plugin_version`, `femscale_plugin_description`.
pub type StringFn = unsafe extern "C" fn() -> *const c_char;
/// `femscale_plugin_check_options` (version 2, optional).
pub type CheckOptionsFn = unsafe extern "C" fn(
    options_json: *const c_char,
    message: *mut c_char,
    message_len: usize,
) -> c_int;
/// `femscale_plugin_set_logger`.
pub type SetLoggerFn = unsafe extern "C" fn(log: LogFn, ctx: *mut c_void);
/// `femscale_solver_create(options_json, a, &solver, message, message_len)`.
pub type CreateFn = unsafe extern "C" fn(
    options_json: *const c_char,
    a: *const CCsr,
    solver: *mut *mut c_void,
    message: *mut c_char,
    message_len: usize,
) -> c_int;
/// `femscale_solver_solve(solver, a, b, x, params, monitor, monitor_ctx, result, message,
/// message_len)`.
pub type SolveFn = unsafe extern "C" fn(
    solver: *mut c_void,
    a: *const CCsr,
    b: *const f64,
    x: *mut f64,
    params: *const CSolveParams,
    monitor: MonitorFn,
    monitor_ctx: *mut c_void,
    result: *mut CSolveResult,
    message: *mut c_char,
    message_len: usize,
) -> c_int;
/// `femscale_solver_destroy`.
pub type DestroyFn = unsafe extern "C" fn(solver: *mut c_void);

/// The text of `include/femscale_plugin.h`.
pub const HEADER: &str = include_str!("../include/femscale_plugin.h");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_matches_the_rust_mirror() {
        assert!(HEADER.contains(&format!(
            "#define FEMSCALE_PLUGIN_C_ABI_VERSION {C_ABI_VERSION}u"
        )));
        for sym in [
            SYM_ABI_VERSION,
            SYM_NAME,
            SYM_VERSION,
            SYM_DESCRIPTION,
            SYM_SET_LOGGER,
            SYM_CHECK_OPTIONS,
            SYM_CREATE,
            SYM_SOLVE,
            SYM_DESTROY,
        ] {
            assert!(HEADER.contains(&format!("{sym}(")), "{sym} missing");
        }
        for (name, value) in [
            ("FEMSCALE_OK", STATUS_OK),
            ("FEMSCALE_NOT_CONVERGED", STATUS_NOT_CONVERGED),
            ("FEMSCALE_BREAKDOWN", STATUS_BREAKDOWN),
            ("FEMSCALE_STOPPED", STATUS_STOPPED),
            ("FEMSCALE_INVALID_OPTIONS", STATUS_INVALID_OPTIONS),
            ("FEMSCALE_UNSUITABLE_MATRIX", STATUS_UNSUITABLE_MATRIX),
            ("FEMSCALE_OUT_OF_MEMORY", STATUS_OUT_OF_MEMORY),
            ("FEMSCALE_ERROR", STATUS_ERROR),
            ("FEMSCALE_TIMED_OUT", STATUS_TIMED_OUT),
        ] {
            assert!(
                HEADER.contains(&format!("#define {name} {value}\n")),
                "{name} = {value}"
            );
        }
        let fields = |s: &str| -> Vec<String> {
            let start = HEADER.find(&format!("typedef struct {s} {{")).expect(s);
            let body = &HEADER[start..];
            let body = &body[body.find('{').unwrap() + 1..body.find('}').unwrap()];
            body.lines()
                .filter_map(|l| l.trim().strip_suffix(';'))
                .map(|l| l.rsplit([' ', '*']).next().unwrap().to_string())
                .collect()
        };
        assert_eq!(
            fields("femscale_csr"),
            ["nrows", "ncols", "nnz", "row_ptr", "col_idx", "values"]
        );
        assert_eq!(
            fields("femscale_solve_params"),
            [
                "tolerance",
                "absolute_tolerance",
                "max_iterations",
                "threads",
                "timeout_seconds",
                "memory_limit_mb"
            ]
        );
        assert_eq!(
            fields("femscale_solve_result"),
            [
                "iterations",
                "initial_residual",
                "final_residual",
                "final_relative_residual",
                "memory_bytes"
            ]
        );
    }
}
