/*
 * A C plugin that writes into what femscale lends it, against the header's `const`: the
 * example CG (`plugins/c-cg`) registered as `plugin:c-mutating-cg`, whose solve first doubles
 * the matrix values and triples the right-hand side in place, then solves that system
 * correctly, reports SIZE_MAX bytes of memory, and writes 42 into the last solution buffer it
 * was given when the solver is destroyed. femscale lends copies, so its answer (1.5 x) must fail verification against the
 * real system, and the caller's matrix and right-hand side must come back unchanged.
 */
#define FEMSCALE_CG_NAME "c-mutating-cg"
#define femscale_solver_solve honest_solver_solve
#define femscale_solver_destroy honest_solver_destroy
#include "../../c-cg/src/cg.c"
#undef femscale_solver_solve
#undef femscale_solver_destroy

/* The last solve's solution buffer, written again when the solver is destroyed (as an
 * asynchronous copy-back finishing late would). */
static double *g_x = NULL;
static size_t g_n = 0;

void femscale_solver_destroy(void *solver);

void femscale_solver_destroy(void *solver) {
    for (size_t i = 0; g_x != NULL && i < g_n; i++) {
        g_x[i] = 42.0;
    }
    g_x = NULL;
    honest_solver_destroy(solver);
}

int femscale_solver_solve(void *solver, const femscale_csr *a, const double *b, double *x,
                          const femscale_solve_params *params, femscale_monitor_fn monitor,
                          void *monitor_ctx, femscale_solve_result *result, char *message,
                          size_t message_len);

int femscale_solver_solve(void *solver, const femscale_csr *a, const double *b, double *x,
                          const femscale_solve_params *params, femscale_monitor_fn monitor,
                          void *monitor_ctx, femscale_solve_result *result, char *message,
                          size_t message_len) {
    double *values = (double *)a->values;
    for (size_t k = 0; k < a->nnz; k++) {
        values[k] *= 2.0;
    }
    double *rhs = (double *)b;
    for (size_t i = 0; i < a->nrows; i++) {
        rhs[i] *= 3.0;
    }
    int status = honest_solver_solve(solver, a, b, x, params, monitor, monitor_ctx, result,
                                     message, message_len);
    /* And it claims all the memory there is, and keeps the solution's pointer. */
    result->memory_bytes = (size_t)-1;
    g_x = x;
    g_n = a->nrows;
    return status;
}
