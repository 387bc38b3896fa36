/* Isolation fixture: set-up succeeds, the solve writes through a null pointer (SIGSEGV). */
#include <stddef.h>
#include <stdlib.h>
#include "femscale_plugin.h"

uint32_t femscale_plugin_abi_version(void) { return 1u; }
const char *femscale_plugin_name(void) { return "c-segfault"; }
const char *femscale_plugin_version(void) { return "0.1.0"; }
const char *femscale_plugin_description(void) { return "segfaults in solve (test fixture)"; }

static int solver_object;

int femscale_solver_create(const char *options_json, const femscale_csr *a, void **solver,
                           char *message, size_t message_len) {
    (void)options_json; (void)a; (void)message; (void)message_len;
    *solver = &solver_object;
    return FEMSCALE_OK;
}

/* Read through a volatile pointer so that the compiler cannot prove the fault away. */
static double *volatile nowhere = NULL;

int femscale_solver_solve(void *solver, const femscale_csr *a, const double *b, double *x,
                          const femscale_solve_params *params, femscale_monitor_fn monitor,
                          void *monitor_ctx, femscale_solve_result *result, char *message,
                          size_t message_len) {
    (void)solver; (void)a; (void)params; (void)monitor; (void)monitor_ctx; (void)result;
    (void)message; (void)message_len; (void)x;
    nowhere[0] = b[0];
    return FEMSCALE_OK;
}

void femscale_solver_destroy(void *solver) { (void)solver; }
