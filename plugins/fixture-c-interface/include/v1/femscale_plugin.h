/*
 * femscale_plugin.h -- the C interface for femscale solver plugins.
 *
 * A C plugin is a shared library (gcc -O2 -shared -fPIC plugin.c -o libmy_solver.so) that
 * provides one linear solver. femscale loads it at run time (`[plugins] paths = [...]`) and
 * registers the solver as `plugin:<name>`, with <name> from femscale_plugin_name().
 *
 * Rules:
 *  - femscale calls femscale_plugin_abi_version() first and nothing else unless it returns
 *    FEMSCALE_PLUGIN_C_ABI_VERSION. Any change to this file that is not an addition of an
 *    optional function bumps that number.
 *  - Required: abi_version, name, version, solver_create, solver_solve, solver_destroy.
 *    Optional: description, set_logger.
 *  - Strings returned by the plugin are static and NUL-terminated, UTF-8.
 *  - The matrix, vectors and parameters are borrowed for the duration of the call; the matrix
 *    given to femscale_solver_create is passed again, unchanged, to every solve of that solver,
 *    so there is no need to copy it. Only memory the plugin allocates is freed by the plugin
 *    (femscale_solver_destroy); never free anything femscale passed in.
 *  - Error messages go into the caller's buffer `message` of `message_len` bytes, truncated
 *    and always NUL-terminated.
 *  - Calls may come from any thread, but never concurrently for the same solver object.
 *  - C++ plugins must not let exceptions escape; Fortran plugins use bind(C, name="...").
 *
 * Fortran example of the version function:
 *   integer(c_int32_t) function abi_version() bind(C, name="femscale_plugin_abi_version")
 */
#ifndef FEMSCALE_PLUGIN_H
#define FEMSCALE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FEMSCALE_PLUGIN_C_ABI_VERSION 1u

/* Status codes returned by femscale_solver_create and femscale_solver_solve. */
#define FEMSCALE_OK 0
#define FEMSCALE_NOT_CONVERGED 1
#define FEMSCALE_BREAKDOWN 2
#define FEMSCALE_STOPPED 3
#define FEMSCALE_INVALID_OPTIONS 4
#define FEMSCALE_UNSUITABLE_MATRIX 5
#define FEMSCALE_OUT_OF_MEMORY 6
#define FEMSCALE_ERROR 7

/* Log levels for femscale_log_fn. */
#define FEMSCALE_LOG_TRACE 0
#define FEMSCALE_LOG_DEBUG 1
#define FEMSCALE_LOG_INFO 2
#define FEMSCALE_LOG_WARN 3
#define FEMSCALE_LOG_ERROR 4

/* A borrowed matrix in compressed sparse row form. Row i holds values[row_ptr[i] .. row_ptr[i+1]-1]
 * in the columns col_idx[row_ptr[i] .. row_ptr[i+1]-1]; row_ptr[0] = 0, row_ptr[nrows] = nnz. */
typedef struct femscale_csr {
    size_t nrows;
    size_t ncols;
    size_t nnz;
    const size_t *row_ptr;
    const size_t *col_idx;
    const double *values;
} femscale_csr;

/* Stop when ||b - A x|| <= max(tolerance * ||b||, absolute_tolerance) or after max_iterations. */
typedef struct femscale_solve_params {
    double tolerance;
    double absolute_tolerance;
    size_t max_iterations;
    size_t threads;
} femscale_solve_params;

/* Filled by femscale_solver_solve for FEMSCALE_OK, _NOT_CONVERGED, _BREAKDOWN and _STOPPED. */
typedef struct femscale_solve_result {
    size_t iterations;
    double initial_residual;
    double final_residual;
    double final_relative_residual;
} femscale_solve_result;

/* Called after each iteration; returns nonzero to continue, 0 to stop (FEMSCALE_STOPPED). */
typedef int (*femscale_monitor_fn)(void *ctx, size_t iteration, double relative_residual);

/* The host's log sink: level FEMSCALE_LOG_*, NUL-terminated message; pass ctx back unchanged. */
typedef void (*femscale_log_fn)(void *ctx, int level, const char *message);

/* The C interface version the plugin was built against: return FEMSCALE_PLUGIN_C_ABI_VERSION. */
uint32_t femscale_plugin_abi_version(void);

/* The solver's registry name (letters, digits, '-', '_'), the plugin's version, one line about it. */
const char *femscale_plugin_name(void);
const char *femscale_plugin_version(void);
const char *femscale_plugin_description(void);

/* Optional: keep `log` and `ctx` to send log lines to femscale's diagnostics. */
void femscale_plugin_set_logger(femscale_log_fn log, void *ctx);

/* Sets a solver up for `a` with the options in `options_json` (a JSON object, "{}" for the
 * defaults) and stores it in *solver. Returns FEMSCALE_OK or an error status with a message. */
int femscale_solver_create(const char *options_json, const femscale_csr *a, void **solver,
                           char *message, size_t message_len);

/* Solves A x = b with the solver's matrix `a`; x holds the initial guess on entry. Calls
 * monitor(monitor_ctx, k, relative_residual) after each iteration k and fills *result. */
int femscale_solver_solve(void *solver, const femscale_csr *a, const double *b, double *x,
                          const femscale_solve_params *params, femscale_monitor_fn monitor,
                          void *monitor_ctx, femscale_solve_result *result, char *message,
                          size_t message_len);

/* Frees everything femscale_solver_create allocated for `solver`. */
void femscale_solver_destroy(void *solver);

#ifdef __cplusplus
}
#endif

#endif /* FEMSCALE_PLUGIN_H */
