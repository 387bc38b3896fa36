//! Content-hash cache keys.
//!
//! A [`KeyBuilder`] feeds everything that determines an artefact (its kind, the format version
//! of its serialisation and every input) into SHA-256 and renders the digest as lower-case hex.
//! The byte stream is fully specified, so keys are stable across processes, platforms and
//! compiler releases (unlike `std`'s `DefaultHasher`).
//!
//! Every field is written as `tag (1 byte) | name length (u64 LE) | name | value length (u64 LE)
//! | value`, so fields are separated unambiguously: `("ab", "c")` and `("a", "bc")` hash
//! differently, and so do a string and raw bytes with the same content.

use femscale_core::cache::CacheKey;
use sha2::{Digest, Sha256};

/// Version of the key scheme and of the artefact encodings of this crate. Bump it whenever an
/// encoding changes so that stale entries stop matching.
pub const FORMAT_VERSION: u32 = 1;

/// Domain separator written before anything else.
const DOMAIN: &[u8] = b"femscale-cache-key\0";

/// Type tags: the same bytes added through different helpers give different keys.
mod tag {
    pub const KIND: u8 = 0;
    pub const FORMAT: u8 = 1;
    pub const BYTES: u8 = 2;
    pub const STR: u8 = 3;
    pub const U64: u8 = 4;
    pub const I64: u8 = 5;
    pub const F64: u8 = 6;
    pub const F64S: u8 = 7;
    pub const BOOL: u8 = 8;
    pub const U64S: u8 = 9;
}

/// Builds a [`CacheKey`] from a content hash over named fields.
///
/// ```
/// use femscale_cache::{KeyBuilder, FORMAT_VERSION};
/// let key = KeyBuilder::new("system")
///     .with_format_version(FORMAT_VERSION)
///     .str("mesh", "unit_square")
///     .u64("refinements", 3)
///     .f64s("coefficients", &[1.0, 0.5])
///     .finish();
/// assert_eq!(key.kind, "system");
/// assert_eq!(key.digest.len(), 64);
/// ```
#[derive(Debug, Clone)]
pub struct KeyBuilder {
    kind: String,
    hasher: Sha256,
}

impl KeyBuilder {
    /// Starts a key for artefacts of `kind`; the kind is part of the hash.
    pub fn new(kind: impl Into<String>) -> Self {
        let kind = kind.into();
        let mut hasher = Sha256::new();
        hasher.update(DOMAIN);
        let mut b = Self { kind, hasher };
        let kind_bytes = b.kind.clone().into_bytes();
        b.write(tag::KIND, "kind", &kind_bytes);
        b
    }

    /// Adds the format version of the artefact encoding (normally [`FORMAT_VERSION`]).
    #[must_use]
    pub fn with_format_version(mut self, version: u32) -> Self {
        self.write(tag::FORMAT, "format_version", &version.to_le_bytes());
        self
    }

    /// Adds raw bytes under `name`.
    #[must_use]
    pub fn field(mut self, name: &str, bytes: impl AsRef<[u8]>) -> Self {
        self.write(tag::BYTES, name, bytes.as_ref());
        self
    }

    /// Adds a UTF-8 string under `name`.
    #[must_use]
    pub fn str(mut self, name: &str, value: &str) -> Self {
        self.write(tag::STR, name, value.as_bytes());
        self
    }

    /// Adds an unsigned integer under `name` (as 8 little-endian bytes; `usize`, `u32`, ...
    /// widen losslessly).
    #[must_use]
    pub fn u64(mut self, name: &str, value: u64) -> Self {
        self.write(tag::U64, name, &value.to_le_bytes());
        self
    }

    /// Adds a signed integer under `name` (as 8 little-endian bytes).
    #[must_use]
    pub fn i64(mut self, name: &str, value: i64) -> Self {
        self.write(tag::I64, name, &value.to_le_bytes());
        self
    }

    /// Adds a boolean under `name`.
    #[must_use]
    pub fn bool(mut self, name: &str, value: bool) -> Self {
        self.write(tag::BOOL, name, &[u8::from(value)]);
        self
    }

    /// Adds a float under `name`, bit-exactly (`0.0` and `-0.0` differ, every NaN payload is
    /// kept).
    #[must_use]
    pub fn f64(mut self, name: &str, value: f64) -> Self {
        self.write(tag::F64, name, &value.to_le_bytes());
        self
    }

    /// Adds a slice of floats under `name`, bit-exactly, each as 8 little-endian bytes.
    #[must_use]
    pub fn f64s(mut self, name: &str, values: &[f64]) -> Self {
        self.header(tag::F64S, name, values.len() * 8);
        for v in values {
            self.hasher.update(v.to_le_bytes());
        }
        self
    }

    /// Adds a slice of unsigned integers (indices, connectivity) under `name`, each as 8
    /// little-endian bytes.
    #[must_use]
    pub fn usizes(mut self, name: &str, values: &[usize]) -> Self {
        self.header(tag::U64S, name, values.len() * 8);
        for &v in values {
            self.hasher.update((v as u64).to_le_bytes());
        }
        self
    }

    /// The key: this builder's kind and the hex SHA-256 digest of every field added.
    pub fn finish(self) -> CacheKey {
        let digest = self.hasher.finalize();
        CacheKey::new(self.kind, to_hex(&digest))
    }

    fn header(&mut self, tag: u8, name: &str, value_len: usize) {
        self.hasher.update([tag]);
        self.hasher.update((name.len() as u64).to_le_bytes());
        self.hasher.update(name.as_bytes());
        self.hasher.update((value_len as u64).to_le_bytes());
    }

    fn write(&mut self, tag: u8, name: &str, value: &[u8]) {
        self.header(tag, name, value.len());
        self.hasher.update(value);
    }
}

/// Lower-case hex rendering of `bytes`.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 0xf)] as char);
    }
    s
}

/// SHA-256 of the concatenation of `parts`.
pub(crate) fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}
