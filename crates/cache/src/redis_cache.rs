//! [`RedisCache`]: a cache level in a Redis server (see its docs).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use femscale_core::cache::{Cache, CacheKey, CacheStats};
use femscale_core::error::{Error, Result};
use redis::{Client, Connection, RedisError};

use crate::glob::glob_match;
use crate::key::sha256;
use crate::redis_keys::{redact, validate_redis_prefix};

/// Version of the value layout stored in Redis.
const REDIS_FORMAT_VERSION: u32 = 1;

/// Magic bytes opening every value.
const MAGIC: &[u8; 8] = b"FEMSREDS";

/// Length of the header in front of the payload.
const HEADER: usize = 8 + 4 + 8 + 32;

/// `COUNT` hint of each `SCAN` step; also the largest batch of keys handed to one script.
const SCAN_BATCH: usize = 1000;

/// Lua script: deletes each of `KEYS` that is a string value opening with femscale's header
/// (`ARGV[1]` = magic, `ARGV[2]` = header length) and returns how many it deleted. The check
/// and the delete of one key are atomic (the server runs a script without interleaving other
/// commands), so a value that a concurrent writer replaced with foreign data is never deleted.
const DELETE_OWN_SCRIPT: &str = r"
local removed = 0
for _, k in ipairs(KEYS) do
  if redis.call('TYPE', k)['ok'] == 'string'
    and redis.call('STRLEN', k) >= tonumber(ARGV[2])
    and redis.call('GETRANGE', k, 0, #ARGV[1] - 1) == ARGV[1] then
    removed = removed + redis.call('DEL', k)
  end
end
return removed
";

/// Lua script: for each of `KEYS`, its length when it is a femscale entry (string value opening
/// with the header, as in [`DELETE_OWN_SCRIPT`]), else -1. Reads 8 bytes per key, never the value.
const SIZE_OWN_SCRIPT: &str = r"
local sizes = {}
for i, k in ipairs(KEYS) do
  sizes[i] = -1
  if redis.call('TYPE', k)['ok'] == 'string' then
    local n = redis.call('STRLEN', k)
    if n >= tonumber(ARGV[2]) and redis.call('GETRANGE', k, 0, #ARGV[1] - 1) == ARGV[1] then
      sizes[i] = n
    end
  end
end
return sizes
";

/// The longest [`RedisOptions::ttl`]: 10⁹ s, about 31.7 years (the runtime's largest
/// `cache.ttl_seconds`). Redis refuses expiry times whose deadline overflows its millisecond
/// clock, so longer durations ([`Duration::MAX`] included) are refused up front.
pub const MAX_REDIS_TTL: Duration = Duration::from_secs(1_000_000_000);

/// Options of [`RedisCache::connect`].
///
/// ```
/// use std::time::Duration;
/// use femscale_cache::RedisOptions;
/// let opts = RedisOptions {
///     prefix: "myapp:".into(),
///     ttl: Some(Duration::from_secs(3600)),
///     ..RedisOptions::default()
/// };
/// assert_eq!(opts.connect_timeout, Duration::from_secs(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisOptions {
    /// Prepended to every rendered key (default `femscale:`). Caches with different prefixes
    /// on one server do not see each other's entries. Must pass [`validate_redis_prefix`].
    pub prefix: String,
    /// Expiry of written entries (`SET … PX`); `None` (the default) keeps them until removed
    /// or evicted by the server's own policy. Millisecond resolution; from 1 ms to
    /// [`MAX_REDIS_TTL`].
    pub ttl: Option<Duration>,
    /// Bound on establishing a connection, handshake included (default 2 s).
    pub connect_timeout: Duration,
    /// Bound on reading or writing one command on the socket (default 5 s).
    pub io_timeout: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            prefix: "femscale:".into(),
            ttl: None,
            connect_timeout: Duration::from_secs(2),
            io_timeout: Duration::from_secs(5),
        }
    }
}

/// A [`Cache`] level storing entries in a Redis server, shared by processes and machines.
///
/// Every entry is one Redis string under `<prefix><rendered key>` (e.g.
/// `femscale:solution_ab12…`) holding a small header followed by the payload:
///
/// | bytes | field |
/// |---|---|
/// | 8 | magic `FEMSREDS` |
/// | 4 | format version (1), little-endian |
/// | 8 | payload length `n`, little-endian |
/// | 32 | SHA-256 of the rendered key followed by the payload (as in the disk cache) |
/// | `n` | payload |
///
/// A value that fails verification (foreign or truncated data, checksum mismatch, a value
/// copied under another key) is deleted and reported as a miss.
///
/// [`Cache::invalidate`] (and so `femscale cache clear`) deletes only keys under the prefix
/// that hold a string value opening with the magic `FEMSREDS` and at least a whole header;
/// other keys under the prefix (another application's data) are left alone. The check and
/// the delete run together in one server-side Lua script per batch of `SCAN` matches
/// (`EVAL`, so the server must allow scripting), which reads 8 bytes of each value, not the
/// value. [`Cache::list`] counts the same entries.
///
/// The level uses the synchronous client over one connection guarded by a mutex. Connecting
/// is bounded by [`RedisOptions::connect_timeout`] and every command by
/// [`RedisOptions::io_timeout`]. After an I/O error (server restarted, connection dropped,
/// timeout) the connection is re-established once and the command retried once; if that fails
/// too the operation returns [`Error::Cache`], and the next operation tries to connect again.
/// A [`TieredCache`](crate::TieredCache) skips such a failing level, so a memory → disk →
/// redis stack keeps working when the server goes away.
///
/// ```no_run
/// use femscale_cache::{RedisCache, RedisOptions};
/// use femscale_core::cache::{Cache, CacheKey};
/// let cache = RedisCache::connect("redis://127.0.0.1:6379/", RedisOptions::default()).unwrap();
/// let key = CacheKey::new("system", "0123abcd");
/// cache.put(&key, b"payload").unwrap();
/// assert_eq!(cache.get(&key).unwrap().as_deref(), Some(&b"payload"[..]));
/// ```
pub struct RedisCache {
    client: Client,
    /// The URL with any password replaced by `***`, for messages.
    url: String,
    options: RedisOptions,
    conn: Mutex<Option<Connection>>,
    hits: AtomicU64,
    misses: AtomicU64,
    writes: AtomicU64,
}

impl fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCache")
            .field("url", &self.url)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl RedisCache {
    /// Connects to the server at `url` (`redis://[user:password@]host[:port][/db]`, or
    /// `redis+unix:///path`) and checks it answers `PING`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a zero TTL or timeout, a TTL above [`MAX_REDIS_TTL`], or a
    /// prefix refused by [`validate_redis_prefix`]; [`Error::Cache`] naming the URL
    /// (password redacted) when the URL is malformed or the server cannot be reached within
    /// the connect timeout.
    pub fn connect(url: &str, options: RedisOptions) -> Result<Self> {
        validate_redis_prefix(&options.prefix)
            .map_err(|reason| Error::invalid("prefix", reason))?;
        if let Some(ttl) = options.ttl {
            if ttl.as_millis() == 0 {
                return Err(Error::invalid("ttl", "must be at least 1 ms"));
            }
            if ttl > MAX_REDIS_TTL {
                return Err(Error::invalid(
                    "ttl",
                    format!(
                        "must be at most {} s (about 31 years), got {ttl:?}",
                        MAX_REDIS_TTL.as_secs()
                    ),
                ));
            }
        }
        if options.connect_timeout.is_zero() {
            return Err(Error::invalid("connect_timeout", "must be positive"));
        }
        if options.io_timeout.is_zero() {
            return Err(Error::invalid("io_timeout", "must be positive"));
        }
        let shown = redact(url);
        let client = Client::open(url).map_err(|e| Error::Cache {
            message: format!("redis {shown}: invalid URL: {e}"),
        })?;
        let cache = Self {
            client,
            url: shown,
            options,
            conn: Mutex::new(None),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            writes: AtomicU64::new(0),
        };
        let mut conn = cache
            .new_connection()
            .map_err(|e| cache.error("connect", &e))?;
        let _: String = redis::cmd("PING")
            .query(&mut conn)
            .map_err(|e| cache.error("PING", &e))?;
        *cache.lock() = Some(conn);
        Ok(cache)
    }

    /// The options this cache was opened with.
    pub fn options(&self) -> &RedisOptions {
        &self.options
    }

    /// The server URL, with any password replaced by `***`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The Redis key that holds (or would hold) the entry for `key`.
    pub fn redis_key(&self, key: &CacheKey) -> String {
        format!("{}{key}", self.options.prefix)
    }

    fn lock(&self) -> MutexGuard<'_, Option<Connection>> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn new_connection(&self) -> redis::RedisResult<Connection> {
        let conn = self
            .client
            .get_connection_with_timeout(self.options.connect_timeout)?;
        conn.set_read_timeout(Some(self.options.io_timeout))?;
        conn.set_write_timeout(Some(self.options.io_timeout))?;
        Ok(conn)
    }

    fn error(&self, op: &str, e: &RedisError) -> Error {
        Error::Cache {
            message: format!("redis {}: {op}: {e}", self.url),
        }
    }

    /// Runs `f` on the connection, connecting first if there is none. After an I/O-level
    /// failure the connection is dropped, re-established once and `f` retried once.
    /// Walks the keys under this cache's prefix whose rendered key matches the glob
    /// `pattern` with `SCAN`, calling `f` on each non-empty batch of `(redis key, rendered key)`;
    /// returns `f`'s results. Matches are re-checked with our own matcher (Redis `?` matches a
    /// byte, not a character).
    fn scan<T>(
        &self,
        pattern: &str,
        op: &str,
        f: impl Fn(&mut Connection, Vec<(Vec<u8>, String)>) -> redis::RedisResult<T>,
    ) -> Result<Vec<T>> {
        let prefix = self.options.prefix.as_str();
        let matcher = redis_match_pattern(prefix, pattern);
        self.with_conn(op, |c| {
            let mut out = Vec::new();
            let mut cursor: u64 = 0;
            loop {
                let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&matcher)
                    .arg("COUNT")
                    .arg(SCAN_BATCH)
                    .query(c)?;
                let batch: Vec<(Vec<u8>, String)> = keys
                    .into_iter()
                    .filter_map(|k| {
                        let rest = std::str::from_utf8(&k).ok()?.strip_prefix(prefix)?;
                        let rest = rest.to_string();
                        glob_match(pattern, &rest).then_some((k, rest))
                    })
                    .collect();
                if !batch.is_empty() {
                    out.push(f(c, batch)?);
                }
                if next == 0 {
                    return Ok(out);
                }
                cursor = next;
            }
        })
    }

    fn with_conn<T>(
        &self,
        op: &str,
        f: impl Fn(&mut Connection) -> redis::RedisResult<T>,
    ) -> Result<T> {
        let mut guard = self.lock();
        let mut reconnected = false;
        if guard.is_none() {
            *guard = Some(self.new_connection().map_err(|e| self.error(op, &e))?);
            reconnected = true;
        }
        let conn = guard.as_mut().expect("connection present");
        match f(conn) {
            Ok(v) => Ok(v),
            Err(e) if is_connection_error(&e) => {
                *guard = None;
                if reconnected {
                    return Err(self.error(op, &e));
                }
                tracing::debug!(url = %self.url, op, error = %e, "redis: reconnecting");
                let mut conn = self.new_connection().map_err(|e2| self.error(op, &e2))?;
                match f(&mut conn) {
                    Ok(v) => {
                        *guard = Some(conn);
                        Ok(v)
                    }
                    Err(e2) => {
                        if !is_connection_error(&e2) {
                            *guard = Some(conn);
                        }
                        Err(self.error(op, &e2))
                    }
                }
            }
            Err(e) => Err(self.error(op, &e)),
        }
    }
}

/// Whether `e` means the connection is unusable (rather than a command-level error).
fn is_connection_error(e: &RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_timeout() || e.is_unrecoverable_error()
}

/// Checks that `url` is a Redis URL the client accepts (`redis://`, `rediss://`,
/// `redis+unix://`, `unix://`), without connecting.
///
/// ```
/// use femscale_cache::validate_redis_url;
/// assert!(validate_redis_url("redis://127.0.0.1:6379/0").is_ok());
/// assert!(validate_redis_url("http://example.org/").is_err());
/// ```
///
/// # Errors
/// Why the URL is refused (the URL itself, password redacted, included).
pub fn validate_redis_url(url: &str) -> std::result::Result<(), String> {
    use redis::IntoConnectionInfo;
    url.into_connection_info()
        .map(|_| ())
        .map_err(|e| format!("`{}` is not a Redis URL: {e}", redact(url)))
}

/// Translates a [`glob_match`] pattern to Redis `MATCH` syntax: `*` and `?` keep their
/// meaning, and the characters special to Redis but literal to us (`[`, `]`, `\`) are escaped.
/// With `literal` every character is taken literally (for the key prefix).
fn push_redis_pattern(out: &mut String, pattern: &str, literal: bool) {
    for c in pattern.chars() {
        match c {
            '*' | '?' if !literal => out.push(c),
            '*' | '?' | '[' | ']' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
}

/// The Redis `MATCH` pattern selecting the keys under `prefix` whose rendered key matches
/// the glob `pattern`.
///
/// Redis matches bytes, so `?` matches exactly one character only for ASCII keys (rendered
/// keys are `kind_hexdigest`); matches are re-checked with [`glob_match`] before deletion.
pub(crate) fn redis_match_pattern(prefix: &str, pattern: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + pattern.len() + 8);
    push_redis_pattern(&mut out, prefix, true);
    push_redis_pattern(&mut out, pattern, false);
    out
}

/// `EVAL script n keys… MAGIC HEADER` for the scripts that act on femscale entries only.
fn own_entries_script(script: &str, keys: &[&[u8]]) -> redis::Cmd {
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(script)
        .arg(keys.len())
        .arg(keys)
        .arg(&MAGIC[..])
        .arg(HEADER);
    cmd
}

/// Serialises header and payload into one value.
fn encode(key_text: &str, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER + payload.len());
    v.extend_from_slice(MAGIC);
    v.extend_from_slice(&REDIS_FORMAT_VERSION.to_le_bytes());
    v.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    v.extend_from_slice(&sha256(&[key_text.as_bytes(), payload]));
    v.extend_from_slice(payload);
    v
}

/// Checks the value `bytes` stored for `key_text`; the payload, or why it is corrupt.
fn decode<'a>(bytes: &'a [u8], key_text: &str) -> std::result::Result<&'a [u8], &'static str> {
    if bytes.len() < HEADER {
        return Err("shorter than the header");
    }
    if &bytes[..8] != MAGIC {
        return Err("wrong magic");
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version != REDIS_FORMAT_VERSION {
        return Err("unknown format version");
    }
    let len = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes"));
    let payload = &bytes[HEADER..];
    if len != payload.len() as u64 {
        return Err("length mismatch (truncated or extended)");
    }
    if sha256(&[key_text.as_bytes(), payload])[..] != bytes[20..52] {
        return Err("checksum mismatch (or stored under another key)");
    }
    Ok(payload)
}

impl Cache for RedisCache {
    fn name(&self) -> &str {
        "redis"
    }

    fn get(&self, key: &CacheKey) -> Result<Option<Vec<u8>>> {
        let key_text = key.to_string();
        let rkey = self.redis_key(key);
        let value: Option<Vec<u8>> =
            self.with_conn("GET", |c| redis::cmd("GET").arg(&rkey).query(c))?;
        let Some(mut value) = value else {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        };
        match decode(&value, &key_text) {
            Ok(_) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                value.drain(..HEADER);
                Ok(Some(value))
            }
            Err(reason) => {
                tracing::warn!(key = %rkey, reason, "redis cache: removing corrupt entry");
                // A concurrent writer's fresh value may go too: only a lost entry, never a
                // wrong one.
                let _: i64 = self.with_conn("DEL", |c| redis::cmd("DEL").arg(&rkey).query(c))?;
                self.misses.fetch_add(1, Ordering::Relaxed);
                Ok(None)
            }
        }
    }

    fn put(&self, key: &CacheKey, value: &[u8]) -> Result<()> {
        let rkey = self.redis_key(key);
        let bytes = encode(&key.to_string(), value);
        // `connect` bounded the TTL; the conversion saturates all the same.
        let ttl_ms = self
            .options
            .ttl
            .map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1));
        let () = self.with_conn("SET", |c| {
            let mut cmd = redis::cmd("SET");
            cmd.arg(&rkey).arg(&bytes);
            if let Some(ms) = ttl_ms {
                cmd.arg("PX").arg(ms);
            }
            cmd.query(c)
        })?;
        self.writes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn remove(&self, key: &CacheKey) -> Result<bool> {
        let rkey = self.redis_key(key);
        let n: i64 = self.with_conn("DEL", |c| redis::cmd("DEL").arg(&rkey).query(c))?;
        Ok(n > 0)
    }

    /// Deletes the femscale entries (see the type's docs) whose rendered key matches
    /// `pattern`; foreign keys under the prefix survive.
    fn invalidate(&self, pattern: &str) -> Result<usize> {
        self.scan(pattern, "SCAN/EVAL delete", |c, batch| {
            let keys: Vec<&[u8]> = batch.iter().map(|(k, _)| k.as_slice()).collect();
            own_entries_script(DELETE_OWN_SCRIPT, &keys).query::<usize>(c)
        })
        .map(|counts| counts.into_iter().sum())
    }

    /// The femscale entries (see the type's docs) whose rendered key matches `pattern`, with
    /// their stored sizes (header included).
    fn list(&self, pattern: &str) -> Result<Option<Vec<(String, u64)>>> {
        let batches = self.scan(pattern, "SCAN/EVAL sizes", |c, batch| {
            let keys: Vec<&[u8]> = batch.iter().map(|(k, _)| k.as_slice()).collect();
            let sizes: Vec<i64> = own_entries_script(SIZE_OWN_SCRIPT, &keys).query(c)?;
            Ok(batch
                .into_iter()
                .map(|(_, name)| name)
                .zip(sizes)
                .filter_map(|(name, size)| u64::try_from(size).ok().map(|s| (name, s)))
                .collect::<Vec<_>>())
        })?;
        let mut out: Vec<(String, u64)> = batches.into_iter().flatten().collect();
        out.sort();
        Ok(Some(out))
    }

    fn stats(&self) -> CacheStats {
        let mut s = CacheStats::default();
        s.level = "redis".into();
        s.hits = self.hits.load(Ordering::Relaxed);
        s.misses = self.misses.load(Ordering::Relaxed);
        s.writes = self.writes.load(Ordering::Relaxed);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_pattern_escapes_redis_specials() {
        assert_eq!(
            redis_match_pattern("femscale:", "system_*"),
            "femscale:system_*"
        );
        assert_eq!(redis_match_pattern("p:", "a?b"), "p:a?b");
        assert_eq!(redis_match_pattern("p:", r"x[1]\y"), r"p:x\[1\]\\y");
        assert_eq!(redis_match_pattern("a*[?]:", "*"), r"a\*\[\?\]:*");
    }

    #[test]
    fn encode_decode_round_trip_and_corruption() {
        let v = encode("system_ab", b"payload");
        assert_eq!(decode(&v, "system_ab"), Ok(&b"payload"[..]));
        assert!(decode(&v, "system_ac").is_err());
        assert!(decode(&v[..v.len() - 1], "system_ab").is_err());
        assert!(decode(b"garbage", "system_ab").is_err());
        let mut flipped = v.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(decode(&flipped, "system_ab").is_err());
    }
}
