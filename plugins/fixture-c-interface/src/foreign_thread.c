/*
 * A version 2 C plugin that breaks the header's threading rule: its solve calls the monitor
 * from a thread of its own. The host must refuse that call without touching its monitor and
 * fail the solve naming the plugin. The solution it returns is x = b.
 */
#define _POSIX_C_SOURCE 200112L

#include "femscale_plugin.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint32_t femscale_plugin_abi_version(void) { return FEMSCALE_PLUGIN_C_ABI_VERSION; }
const char *femscale_plugin_name(void) { return "c-foreign-thread"; }
const char *femscale_plugin_version(void) { return "0.1.0"; }
const char *femscale_plugin_description(void) {
    return "calls the monitor from another thread (a test fixture)";
}

static int g_solver = 0;

int femscale_solver_create(const char *options_json, const femscale_csr *a, void **solver,
                           char *message, size_t message_len) {
    (void)options_json;
    (void)a;
    (void)message;
    (void)message_len;
    *solver = &g_solver;
    return FEMSCALE_OK;
}

typedef struct call {
    femscale_monitor_fn monitor;
    void *ctx;
    int answer;
} call;

static void *call_monitor(void *arg) {
    call *c = arg;
    c->answer = c->monitor(c->ctx, 1, 0.5);
    return NULL;
}

int femscale_solver_solve(void *solver, const femscale_csr *a, const double *b, double *x,
                          const femscale_solve_params *params, femscale_monitor_fn monitor,
                          void *monitor_ctx, femscale_solve_result *result, char *message,
                          size_t message_len) {
    (void)solver;
    (void)params;
    call c = {monitor, monitor_ctx, -1};
    pthread_t thread;
    if (pthread_create(&thread, NULL, call_monitor, &c) != 0) {
        snprintf(message, message_len, "pthread_create failed");
        return FEMSCALE_ERROR;
    }
    pthread_join(thread, NULL);
    memcpy(x, b, a->nrows * sizeof(double));
    result->iterations = 1;
    result->initial_residual = 1.0;
    result->final_residual = 0.0;
    result->final_relative_residual = 0.0;
    return FEMSCALE_OK;
}

void femscale_solver_destroy(void *solver) { (void)solver; }
