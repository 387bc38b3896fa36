/*
 * A library built against version 1 of the C interface (include/v1, frozen): the example
 * C plugin as it was before version 2, kept to prove that version 1 libraries still load.
 * A femscale solver plugin in C99: Jacobi-preconditioned conjugate gradients for symmetric
 * positive definite matrices, registered as `plugin:c-jacobi-cg-v1`. It takes no options.
 *
 *   cc -O2 -shared -fPIC -I plugins/fixture-c-interface/include/v1 v1_cg.c -o libv1.so -lm
 */
#include "femscale_plugin.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A solver set up for one matrix: the inverse diagonal and the CG work vectors. */
typedef struct cg_solver {
    size_t n;
    double *inv_diag;
    double *r, *z, *p, *q;
} cg_solver;

static femscale_log_fn g_log = NULL;
static void *g_log_ctx = NULL;

static void log_line(int level, const char *message) {
    if (g_log != NULL) {
        g_log(g_log_ctx, level, message);
    }
}

static void set_message(char *buffer, size_t len, const char *message) {
    if (buffer != NULL && len > 0) {
        snprintf(buffer, len, "%s", message);
    }
}

uint32_t femscale_plugin_abi_version(void) { return FEMSCALE_PLUGIN_C_ABI_VERSION; }

const char *femscale_plugin_name(void) { return "c-jacobi-cg-v1"; }

const char *femscale_plugin_version(void) { return "0.1.0"; }

const char *femscale_plugin_description(void) {
    return "Jacobi-preconditioned conjugate gradients written in C99 (no options)";
}

void femscale_plugin_set_logger(femscale_log_fn log, void *ctx) {
    g_log = log;
    g_log_ctx = ctx;
}

/* Whether `json` is an empty object, `{}` with optional white space. */
static int is_empty_object(const char *json) {
    const char *c = json;
    if (c == NULL) {
        return 1;
    }
    while (*c == ' ' || *c == '\t' || *c == '\n' || *c == '\r') c++;
    if (*c == '\0') return 1;
    if (*c++ != '{') return 0;
    while (*c == ' ' || *c == '\t' || *c == '\n' || *c == '\r') c++;
    if (*c++ != '}') return 0;
    while (*c == ' ' || *c == '\t' || *c == '\n' || *c == '\r') c++;
    return *c == '\0';
}

void femscale_solver_destroy(void *handle) {
    cg_solver *s = handle;
    if (s == NULL) {
        return;
    }
    free(s->inv_diag);
    free(s->r);
    free(s->z);
    free(s->p);
    free(s->q);
    free(s);
}

int femscale_solver_create(const char *options_json, const femscale_csr *a, void **out,
                           char *message, size_t message_len) {
    char text[160];
    *out = NULL;
    if (!is_empty_object(options_json)) {
        set_message(message, message_len, "c-jacobi-cg-v1 takes no options; pass {}");
        return FEMSCALE_INVALID_OPTIONS;
    }
    if (a->nrows != a->ncols) {
        set_message(message, message_len, "the matrix is not square");
        return FEMSCALE_UNSUITABLE_MATRIX;
    }
    size_t n = a->nrows;
    cg_solver *s = calloc(1, sizeof *s);
    if (s == NULL) {
        set_message(message, message_len, "out of memory");
        return FEMSCALE_OUT_OF_MEMORY;
    }
    s->n = n;
    size_t bytes = (n > 0 ? n : 1) * sizeof(double);
    s->inv_diag = malloc(bytes);
    s->r = malloc(bytes);
    s->z = malloc(bytes);
    s->p = malloc(bytes);
    s->q = malloc(bytes);
    if (!s->inv_diag || !s->r || !s->z || !s->p || !s->q) {
        femscale_solver_destroy(s);
        set_message(message, message_len, "out of memory");
        return FEMSCALE_OUT_OF_MEMORY;
    }
    for (size_t i = 0; i < n; i++) {
        double d = 0.0;
        for (size_t k = a->row_ptr[i]; k < a->row_ptr[i + 1]; k++) {
            if (a->col_idx[k] == i) {
                d = a->values[k];
            }
        }
        if (!(d > 0.0) || !isfinite(d)) {
            snprintf(text, sizeof text, "diagonal entry %zu is %g; Jacobi-CG needs a positive diagonal",
                     i, d);
            set_message(message, message_len, text);
            femscale_solver_destroy(s);
            return FEMSCALE_UNSUITABLE_MATRIX;
        }
        s->inv_diag[i] = 1.0 / d;
    }
    snprintf(text, sizeof text, "c-jacobi-cg-v1 prepared for %zu unknowns", n);
    log_line(FEMSCALE_LOG_DEBUG, text);
    *out = s;
    return FEMSCALE_OK;
}

static void spmv(const femscale_csr *a, const double *x, double *y) {
    for (size_t i = 0; i < a->nrows; i++) {
        double acc = 0.0;
        for (size_t k = a->row_ptr[i]; k < a->row_ptr[i + 1]; k++) {
            acc += a->values[k] * x[a->col_idx[k]];
        }
        y[i] = acc;
    }
}

static double dot(size_t n, const double *x, const double *y) {
    double acc = 0.0;
    for (size_t i = 0; i < n; i++) {
        acc += x[i] * y[i];
    }
    return acc;
}

int femscale_solver_solve(void *handle, const femscale_csr *a, const double *b, double *x,
                          const femscale_solve_params *params, femscale_monitor_fn monitor,
                          void *monitor_ctx, femscale_solve_result *result, char *message,
                          size_t message_len) {
    cg_solver *s = handle;
    size_t n = s->n;
    if (a->nrows != n || a->ncols != n) {
        set_message(message, message_len, "the matrix is not the one the solver was created for");
        return FEMSCALE_ERROR;
    }
    double *r = s->r, *z = s->z, *p = s->p, *q = s->q;
    spmv(a, x, q);
    for (size_t i = 0; i < n; i++) r[i] = b[i] - q[i];
    double b_norm = sqrt(dot(n, b, b));
    double scale = b_norm > 0.0 ? b_norm : 1.0;
    double target = fmax(params->tolerance * b_norm, params->absolute_tolerance);
    double r_norm = sqrt(dot(n, r, r));
    result->iterations = 0;
    result->initial_residual = r_norm;
    result->final_residual = r_norm;
    result->final_relative_residual = r_norm / scale;
    if (r_norm <= target) {
        return FEMSCALE_OK;
    }
    for (size_t i = 0; i < n; i++) p[i] = z[i] = s->inv_diag[i] * r[i];
    double rz = dot(n, r, z);
    for (size_t it = 1; it <= params->max_iterations; it++) {
        spmv(a, p, q);
        double pq = dot(n, p, q);
        if (!(pq > 0.0) || !isfinite(pq)) {
            set_message(message, message_len, "p.Ap is not positive: is the matrix SPD?");
            return FEMSCALE_BREAKDOWN;
        }
        double alpha = rz / pq;
        for (size_t i = 0; i < n; i++) {
            x[i] += alpha * p[i];
            r[i] -= alpha * q[i];
        }
        r_norm = sqrt(dot(n, r, r));
        result->iterations = it;
        result->final_residual = r_norm;
        result->final_relative_residual = r_norm / scale;
        if (!isfinite(r_norm)) {
            set_message(message, message_len, "the residual is not finite");
            return FEMSCALE_BREAKDOWN;
        }
        if (monitor != NULL && !monitor(monitor_ctx, it, r_norm / scale)) {
            set_message(message, message_len, "stopped by the host");
            return FEMSCALE_STOPPED;
        }
        if (r_norm <= target) {
            return FEMSCALE_OK;
        }
        for (size_t i = 0; i < n; i++) z[i] = s->inv_diag[i] * r[i];
        double rz_next = dot(n, r, z);
        double beta = rz_next / rz;
        rz = rz_next;
        for (size_t i = 0; i < n; i++) p[i] = z[i] + beta * p[i];
    }
    set_message(message, message_len, "the iteration limit was reached");
    return FEMSCALE_NOT_CONVERGED;
}
