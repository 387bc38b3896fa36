/* A shared library that is not a femscale plugin: it exports one unrelated function. */
int femscale_fixture_answer(void) { return 42; }
