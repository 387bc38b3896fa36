/*
 * Compiled together with plugins/c-cg/src/cg.c (as `plugin:c-marker-cg`): a constructor that
 * appends a line to a marker file when the library is opened — the file named by the
 * environment variable FEMSCALE_FIXTURE_MARKER, else `<library file>.marker` next to the
 * library (its real path, also when it was opened through /proc/self/fd/N). A test that finds
 * no marker after a refused load proves the library never ran any code.
 */
#define _GNU_SOURCE /* dladdr, realpath */

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((constructor)) static void femscale_fixture_write_marker(void) {
    char path[PATH_MAX + 16];
    const char *from_env = getenv("FEMSCALE_FIXTURE_MARKER");
    if (from_env != NULL && from_env[0] != '\0') {
        snprintf(path, sizeof path, "%s", from_env);
    } else {
        Dl_info info;
        char library[PATH_MAX];
        if (dladdr((void *)&femscale_fixture_write_marker, &info) == 0 || info.dli_fname == NULL ||
            realpath(info.dli_fname, library) == NULL) {
            return;
        }
        snprintf(path, sizeof path, "%s.marker", library);
    }
    FILE *f = fopen(path, "a");
    if (f != NULL) {
        fputs("initialiser ran\n", f);
        fclose(f);
    }
}
