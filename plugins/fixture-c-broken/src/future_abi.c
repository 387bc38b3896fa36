/* Built for a newer C interface than this femscale understands. */
#include <stdint.h>

uint32_t femscale_plugin_abi_version(void) { return 99u; }
const char *femscale_plugin_name(void) { return "from-the-future"; }
