//! Test support: a throwaway `redis-server` for tests of Redis-backed caches.
//!
//! Used by this crate's tests and by the runtime's; public so that embedding users can test
//! their own Redis set-ups the same way. Without `redis-server` on `PATH`,
//! [`RedisServer::start`] prints a loud warning and returns `None` (the test skips), unless
//! `FEMSCALE_REQUIRE_REDIS=1` is set (CI), in which case it panics.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::Duration;

/// A `redis-server` child process on a free loopback port, without persistence, killed on
/// drop.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
}

impl RedisServer {
    /// Starts a server, or returns `None` (after a loud warning) when `redis-server` is not
    /// installed and `FEMSCALE_REQUIRE_REDIS` is not `1`.
    ///
    /// # Panics
    /// When the server cannot be started or does not answer, or is missing while
    /// `FEMSCALE_REQUIRE_REDIS=1` — this is test support, where a panic is the failure report.
    pub fn start() -> Option<Self> {
        let mut server = Self {
            child: None,
            port: free_port(),
        };
        match server.spawn() {
            Ok(()) => Some(server),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if std::env::var("FEMSCALE_REQUIRE_REDIS").as_deref() == Ok("1") {
                    panic!("redis-server not found on PATH but FEMSCALE_REQUIRE_REDIS=1");
                }
                eprintln!(
                    "SKIPPING redis tests: redis-server not found on PATH \
                     (apt-get install -y redis-server; set FEMSCALE_REQUIRE_REDIS=1 to fail instead)"
                );
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
