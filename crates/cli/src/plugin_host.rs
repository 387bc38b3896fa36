//! `femscale plugin-host` (hidden): the child process that runs one plugin solver under
//! `plugins.isolation = "process"`. The host talks to it over stdin/stdout and shares the
//! matrix and vectors through the memory at fd 3; see `femscale::runtime::plugins::isolation`.

/// Serves the host until it closes stdin, then exits with the server's status.
pub fn run() -> ! {
    std::process::exit(femscale::runtime::plugins::isolation::serve())
}
