/* Declares the femscale C interface but lacks femscale_solver_solve and _destroy. */
#include "femscale_plugin.h"

uint32_t femscale_plugin_abi_version(void) { return FEMSCALE_PLUGIN_C_ABI_VERSION; }
const char *femscale_plugin_name(void) { return "half-done"; }
const char *femscale_plugin_version(void) { return "0.0.1"; }
