//! Checks of the storage keys of `[cache]` (`disk_dir`, `redis_prefix`) and the persistent
//! levels opened for inspection by `femscale cache stats | clear | invalidate`.

use std::sync::Arc;

use femscale_cache::{DiskCache, redact_url, validate_redis_prefix};
use femscale_core::{Cache, Error, Result};

use super::{CacheConfig, MEMORY_LEVEL};
use crate::registry::Registry;

/// The built-in disk level's name.
pub const DISK_LEVEL: &str = "disk";
/// The built-in Redis level's name.
pub const REDIS_LEVEL: &str = "redis";

/// Checks `cache.disk_dir` (not empty, no NUL byte), `cache.redis_prefix` (see
/// [`validate_redis_prefix`]) and, with the `redis` feature (the URL is parsed by the Redis
/// client), the form of `cache.redis_url`, whichever levels are enabled: a bad value is an
/// error in the file, not a surprise on the day the level is switched on.
pub(super) fn validate_storage_keys(config: &CacheConfig) -> Result<()> {
    let dir = config.disk_dir.as_os_str();
    if dir.is_empty() {
        return Err(Error::invalid(
            "cache.disk_dir",
            "must not be empty (the default is `.femscale-cache`; use `.` for the working directory)",
        ));
    }
    if dir.as_encoded_bytes().contains(&0) {
        return Err(Error::invalid(
            "cache.disk_dir",
            "must not contain a NUL character",
        ));
    }
    validate_redis_prefix(&config.redis_prefix)
        .map_err(|reason| Error::invalid("cache.redis_prefix", reason))?;
    #[cfg(feature = "redis")]
    femscale_cache::validate_redis_url(&config.redis_url)
        .map_err(|reason| Error::invalid("cache.redis_url", reason))?;
    Ok(())
}

/// An error opening the disk level, as an [`Error::InvalidInput`] naming `cache.disk_dir` and
/// the path (a directory that cannot be created or written is a configuration problem).
pub(super) fn disk_dir_error(config: &CacheConfig, e: Error) -> Error {
    let reason = match e {
        Error::Io { path, source } if path == config.disk_dir => {
            format!("`{}`: {source}", path.display())
        }
        Error::Io { path, source } => format!(
            "`{}` ({}): {source}",
            config.disk_dir.display(),
            path.display()
        ),
        other => format!("`{}`: {other}", config.disk_dir.display()),
    };
    Error::invalid("cache.disk_dir", reason)
}

/// The byte-level bound of the disk level, from `cache.disk_max_mb`.
fn disk_max_bytes(config: &CacheConfig) -> u64 {
    femscale_core::checks::mb_to_bytes(config.disk_max_mb)
}

/// One persistent (byte) level of a configuration, opened for inspection.
#[derive(Debug)]
#[non_exhaustive]
pub enum PersistentLevel {
    /// The level is open.
    Open(Arc<dyn Cache>),
    /// The disk level's directory does not exist: nothing was ever stored (it is not created).
    Absent {
        /// The level's name.
        level: String,
        /// The directory that does not exist.
        dir: std::path::PathBuf,
    },
    /// The level could not be opened (server down, directory not readable).
    Unreachable {
        /// The level's name.
        level: String,
        /// Where it was looked for: the Redis URL (password redacted) or the directory.
        address: String,
        /// Why it could not be opened.
        error: Error,
    },
}

impl PersistentLevel {
    /// The level's name.
    pub fn name(&self) -> &str {
        match self {
            Self::Open(c) => c.name(),
            Self::Absent { level, .. } | Self::Unreachable { level, .. } => level,
        }
    }
}

/// Opens every configured level except `memory` for inspection and removal, without creating
/// anything: a missing disk directory is [`PersistentLevel::Absent`], a level that cannot be
/// opened is [`PersistentLevel::Unreachable`] (the caller decides whether that is fatal).
///
/// # Errors
/// Invalid `[cache]` values, unknown level names, a disk directory that is a file.
pub fn open_persistent_levels(
    config: &CacheConfig,
    registry: &Registry,
) -> Result<Vec<PersistentLevel>> {
    config.validate()?;
    let mut out = Vec::new();
    for name in &config.levels {
        if name == MEMORY_LEVEL {
            continue;
        }
        if name == DISK_LEVEL {
            match DiskCache::open_existing(&config.disk_dir, disk_max_bytes(config)) {
                Ok(Some(disk)) => out.push(PersistentLevel::Open(Arc::new(disk))),
                Ok(None) => out.push(PersistentLevel::Absent {
                    level: name.clone(),
                    dir: config.disk_dir.clone(),
                }),
                Err(e @ Error::Io { .. }) if is_not_a_directory(&e) => {
                    return Err(disk_dir_error(config, e));
                }
                Err(e) => out.push(PersistentLevel::Unreachable {
                    level: name.clone(),
                    address: config.disk_dir.display().to_string(),
                    error: disk_dir_error(config, e),
                }),
            }
            continue;
        }
        match registry.cache(name, config) {
            Ok(level) => out.push(PersistentLevel::Open(level)),
            Err(
                e @ (Error::UnknownName { .. }
                | Error::InvalidInput { .. }
                | Error::FeatureDisabled { .. }),
            ) => return Err(e),
            Err(error) => out.push(PersistentLevel::Unreachable {
                level: name.clone(),
                address: if name == REDIS_LEVEL {
                    redact_url(&config.redis_url)
                } else {
                    String::new()
                },
                error,
            }),
        }
    }
    Ok(out)
}

fn is_not_a_directory(e: &Error) -> bool {
    matches!(e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotADirectory)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_keys_are_checked() {
        let mut c = CacheConfig::default();
        assert!(validate_storage_keys(&c).is_ok());
        c.disk_dir = "".into();
        assert_eq!(
            validate_storage_keys(&c)
                .unwrap_err()
                .field_name()
                .as_deref(),
            Some("cache.disk_dir")
        );
        c = CacheConfig::default();
        c.redis_prefix = String::new();
        let err = validate_storage_keys(&c).unwrap_err();
        assert_eq!(err.field_name().as_deref(), Some("cache.redis_prefix"));
        assert!(err.to_string().contains("empty"), "{err}");
        c.redis_prefix = "fem*".into();
        assert_eq!(
            validate_storage_keys(&c)
                .unwrap_err()
                .field_name()
                .as_deref(),
            Some("cache.redis_prefix")
        );
    }

    #[test]
    #[cfg(feature = "redis")]
    fn malformed_redis_urls_name_the_key_without_the_password() {
        let mut c = CacheConfig {
            redis_url: "http://u:secret@h:1/".into(),
            ..CacheConfig::default()
        };
        let err = validate_storage_keys(&c).unwrap_err();
        assert_eq!(err.field_name().as_deref(), Some("cache.redis_url"));
        assert!(!err.to_string().contains("secret"), "{err}");
        c.redis_url = "not a url".into();
        assert_eq!(
            validate_storage_keys(&c)
                .unwrap_err()
                .field_name()
                .as_deref(),
            Some("cache.redis_url")
        );
    }

    #[test]
    fn a_missing_disk_dir_is_absent_and_not_created() {
        let tmp = tempfile::tempdir().unwrap();
        let c = CacheConfig {
            levels: vec!["memory".into(), "disk".into()],
            disk_dir: tmp.path().join("nope"),
            ..CacheConfig::default()
        };
        let levels = open_persistent_levels(&c, &Registry::with_builtins()).unwrap();
        assert!(matches!(&levels[..], [PersistentLevel::Absent { level, .. }] if level == "disk"));
        assert!(!c.disk_dir.exists());
        std::fs::write(&c.disk_dir, b"a file").unwrap();
        let err = open_persistent_levels(&c, &Registry::with_builtins()).unwrap_err();
        assert_eq!(err.field_name().as_deref(), Some("cache.disk_dir"));
        assert!(err.to_string().contains("nope"), "{err}");
    }
}
