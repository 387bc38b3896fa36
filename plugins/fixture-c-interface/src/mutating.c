/*
 * A C plugin that writes into what femscale lends it, against the header's `const`: the
 * example CG (`plugins/c-cg`) registered as `plugin:c-mutating-cg`, whose solve first doubles
 * the matrix values and triples the right-hand side in place, then solves that system
 * correctly, and reports SIZE_MAX bytes of memory. femscale lends copies, so its answer (1.5 x) must fail verification against the
 * real system, and the caller's matrix and right-hand side must come back unchanged.
 */
#define FEMSCALE_CG_NAME "c-mutating-cg"
#define femscale_solver_solve honest_solver_solve
#include "../../c-cg/src/cg.c"
#undef femscale_solver_solve

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
    /* And it claims all the memory there is. */
    result->memory_bytes = (size_t)-1;
    return status;
}
