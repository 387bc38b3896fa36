//! Test support: a throwaway `redis-server` for tests of Redis-backed caches.
//!
//! Used by this crate's tests and by the runtime's and the CLI's; public so that embedding users
//! can test their own Redis set-ups the same way. Without `redis-server` on `PATH`,
//! [`RedisServer::start`] prints a loud `SKIPPED` line naming the test and returns `None` (the
//! test returns early and shows as `ok`), unless `FEMSCALE_REQUIRE_REDIS=1` is set (CI), in
//! which case it panics: a missing server is then a failure, not a silent pass.

use std::io::Write;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::Duration;

/// The environment variable that turns a missing `redis-server` into a test failure.
pub const REQUIRE_REDIS_VAR: &str = "FEMSCALE_REQUIRE_REDIS";

/// Whether [`REQUIRE_REDIS_VAR`] asks for Redis: set to anything but empty, `0`, `false` or
/// `no` (CI sets `1`).
pub fn redis_required() -> bool {
    asks_for_redis(std::env::var(REQUIRE_REDIS_VAR).ok().as_deref())
}

/// Whether the value `var` of [`REQUIRE_REDIS_VAR`] (`None`: unset) asks for Redis.
fn asks_for_redis(var: Option<&str>) -> bool {
    var.map(str::trim).is_some_and(|v| {
        !(v.is_empty()
            || v == "0"
            || v.eq_ignore_ascii_case("false")
            || v.eq_ignore_ascii_case("no"))
    })
}

/// Reports that the running test is skipped because `what` is missing, on the process's
/// real standard error: the test harness captures `eprintln!` of passing tests, and a skip
/// that nobody sees is indistinguishable from a pass.
pub fn report_skip(what: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    let line = format!(
        "\nSKIPPED: {test}: {what}; it passes without testing anything \
         (set {REQUIRE_REDIS_VAR}=1 to make this a failure)\n"
    );
    // Written to the handle, not through `eprintln!`, to bypass the harness's capture.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// A `redis-server` child process on a free loopback port, without persistence, killed on
/// drop.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
}

impl RedisServer {
    /// Starts a server, or returns `None` (after a loud [`report_skip`]) when `redis-server`
    /// is not installed and [`redis_required`] is false. Use it as
    /// `let Some(server) = RedisServer::start() else { return };`.
    ///
    /// # Panics
    /// When the server cannot be started or does not answer, or is missing while
    /// [`redis_required`] — this is test support, where a panic is the failure report.
    pub fn start() -> Option<Self> {
        let mut server = Self {
            child: None,
            port: free_port(),
        };
        match server.spawn() {
            Ok(()) => Some(server),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if redis_required() {
                    panic!(
                        "redis-server not found on PATH but {REQUIRE_REDIS_VAR} is set: \
                         install it (apt-get install -y redis-server) or unset the variable"
                    );
                }
                report_skip("redis-server not found on PATH (apt-get install -y redis-server)");
                None
            }
            Err(e) => panic!("cannot start redis-server: {e}"),
        }
    }

    /// Starts the process on `self.port` and waits until it answers `PING`.
    fn spawn(&mut self) -> std::io::Result<()> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        let client = redis::Client::open(self.url()).expect("a valid URL");
        for _ in 0..100 {
            if let Ok(mut c) = client.get_connection_with_timeout(Duration::from_millis(200))
                && redis::cmd("PING").query::<String>(&mut c).is_ok()
            {
                return Ok(());
            }
            sleep(Duration::from_millis(50));
        }
        panic!(
            "redis-server on port {} did not answer PING within ~5 s",
            self.port
        );
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A plain client connection, bypassing any cache.
    ///
    /// # Panics
    /// When the server does not accept the connection.
    pub fn raw(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .expect("a valid URL")
            .get_connection_with_timeout(Duration::from_secs(2))
            .expect("the test server accepts connections")
    }

    /// Stops the server now (as if it died); later commands to it fail.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts a fresh, empty server on the same port (after [`RedisServer::kill`]).
    ///
    /// # Panics
    /// When it cannot be started or does not answer.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn().expect("redis-server restarts");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A loopback port that was free a moment ago.
///
/// # Panics
/// When no loopback port can be bound.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    l.local_addr().expect("a bound address").port()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_asks_for_redis() {
        for yes in ["1", "true", "yes", " 1 ", "2"] {
            assert!(asks_for_redis(Some(yes)), "{yes:?}");
        }
        for no in [
            None,
            Some(""),
            Some("0"),
            Some("false"),
            Some("NO"),
            Some(" "),
        ] {
            assert!(!asks_for_redis(no), "{no:?}");
        }
    }
}
