//! Pinning plugin libraries by content (`[plugins] sha256`, `require_pinned`) and opening a
//! library only after its bytes were checked.
//!
//! Opening a dynamic library runs its initialisers, so the check must come first and must be
//! about the bytes that are then opened. A library file is opened once; its SHA-256 is read
//! from that descriptor; on Linux the loader then opens `/proc/self/fd/<n>`, the same inode,
//! so replacing the file between the check and the load changes nothing. Elsewhere (no
//! `/proc`) the library is opened by path after the check, and a file swapped in that window
//! is not caught (logged once).
//!
//! Which pins apply to a file is decided from its file name alone, before it is opened: an
//! entry whose key is the file name (`"libmy_solver.so"`), or a plugin-name entry (`my-solver`)
//! that matches the file name's stem without the `lib` prefix, `-` and `_` alike
//! (`libmy_solver.so`). A plugin-name entry is also checked against the name a loaded library
//! reports; a library that reports a pinned name with other bytes is refused then, after it was
//! opened ([`PluginError::PinMismatch`] with `after_loading`).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
#[cfg(target_os = "linux")]
use std::sync::Mutex;

use femscale_core::{Error, Result};

use super::PluginError;

/// Hex digits of a SHA-256.
const SHA256_HEX_LEN: usize = 64;

/// The pins of `[plugins]`: what a library's bytes must hash to before it is opened.
#[derive(Debug, Clone, Copy)]
pub struct PinPolicy<'a> {
    pins: &'a BTreeMap<String, String>,
    require_pinned: bool,
}

static NO_PINS: BTreeMap<String, String> = BTreeMap::new();

impl<'a> PinPolicy<'a> {
    /// No pins: every library may be opened (what `femscale plugins check` uses).
    pub fn none() -> PinPolicy<'static> {
        PinPolicy {
            pins: &NO_PINS,
            require_pinned: false,
        }
    }

    /// The policy of `[plugins] sha256` and `require_pinned`, validated.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming `plugins.sha256.<entry>` for a malformed key or hash.
    pub fn new(pins: &'a BTreeMap<String, String>, require_pinned: bool) -> Result<Self> {
        validate_pins(pins)?;
        Ok(Self {
            pins,
            require_pinned,
        })
    }

    /// The entries that pin the file at `path`, decided from its file name.
    fn pins_for_file(&self, path: &Path) -> Vec<(&'a str, &'a str)> {
        let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
            return Vec::new();
        };
        let stem = normalise(library_stem(file_name));
        self.pins
            .iter()
            .filter(|(key, _)| {
                if is_file_name_key(key) {
                    key.as_str() == file_name
                } else {
                    normalise(key) == stem
                }
            })
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// Checks a file whose content hashes to `sha256` before it is opened: every entry that
    /// names it must pin this hash, and with `require_pinned` one must name it.
    ///
    /// # Errors
    /// [`PluginError::PinMismatch`], [`PluginError::Unpinned`].
    pub fn check_file(&self, path: &Path, sha256: &str) -> Result<(), PluginError> {
        let pins = self.pins_for_file(path);
        for (entry, expected) in &pins {
            if !expected.eq_ignore_ascii_case(sha256) {
                return Err(PluginError::PinMismatch {
                    path: path.to_path_buf(),
                    entry: (*entry).to_string(),
                    expected: expected.to_ascii_lowercase(),
                    found: sha256.to_string(),
                    after_loading: false,
                });
            }
        }
        if pins.is_empty() && self.require_pinned {
            return Err(PluginError::Unpinned {
                path: path.to_path_buf(),
                found: sha256.to_string(),
            });
        }
        Ok(())
    }

    /// Checks a loaded plugin's reported name against plugin-name entries.
    ///
    /// # Errors
    /// [`PluginError::PinMismatch`] with `after_loading` set.
    pub fn check_loaded(&self, path: &Path, name: &str, sha256: &str) -> Result<(), PluginError> {
        let name = normalise(name);
        for (entry, expected) in self.pins {
            if !is_file_name_key(entry)
                && normalise(entry) == name
                && !expected.eq_ignore_ascii_case(sha256)
            {
                return Err(PluginError::PinMismatch {
                    path: path.to_path_buf(),
                    entry: entry.clone(),
                    expected: expected.to_ascii_lowercase(),
                    found: sha256.to_string(),
                    after_loading: true,
                });
            }
        }
        Ok(())
    }
}

/// Whether a pin key names a file (it ends in `.so`, `.dylib` or `.dll`) rather than a plugin.
fn is_file_name_key(key: &str) -> bool {
    [".so", ".dylib", ".dll"]
        .iter()
        .any(|ext| key.len() > ext.len() && key.ends_with(ext))
}

/// `libmy_solver.so` → `my_solver`: the file name without the library extension and prefix.
fn library_stem(file_name: &str) -> &str {
    let stem = file_name
        .rsplit_once('.')
        .map_or(file_name, |(stem, _)| stem);
    stem.strip_prefix("lib")
        .filter(|s| !s.is_empty())
        .unwrap_or(stem)
}

/// Names compared with `-` and `_` alike (cargo writes crate `my-solver` as `libmy_solver.so`).
fn normalise(name: &str) -> String {
    name.replace('-', "_")
}

/// Checks every `plugins.sha256` entry: the key is a file name (no directory) or a plugin name,
/// the value 64 hexadecimal digits.
///
/// # Errors
/// [`Error::InvalidInput`] naming `plugins.sha256.<entry>`.
pub(crate) fn validate_pins(pins: &BTreeMap<String, String>) -> Result<()> {
    for (key, hex) in pins {
        let field = format!("plugins.sha256.{}", super::error::quote_key(key));
        if key.is_empty() || key.len() > 255 {
            return Err(Error::invalid(
                field,
                "the key must be a library file name or a plugin name of 1 to 255 characters",
            ));
        }
        if key.contains(['/', '\\', '\0']) {
            return Err(Error::invalid(
                field,
                format!(
                    "`{key}` is a path: pins name a library by its file name only \
                     (`\"libmy_solver.so\"`) or by its plugin name (`my-solver`)"
                ),
            ));
        }
        let shown: String = hex.chars().take(80).collect();
        if hex.len() != SHA256_HEX_LEN || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::invalid(
                field,
                format!(
                    "must be a SHA-256 as 64 hexadecimal digits (what `femscale plugins check \
                     PATH` prints), got {:?} ({} characters)",
                    shown,
                    hex.chars().count()
                ),
            ));
        }
    }
    Ok(())
}

/// A library file opened for checking and loading: the descriptor its hash was read from.
pub(crate) struct CheckedFile {
    file: File,
    /// SHA-256 of the bytes read from `file`, lower-case hex.
    pub(crate) sha256: String,
}

/// Opens `path` (a canonical path) and hashes it from the descriptor.
///
/// # Errors
/// [`PluginError::NotAPlugin`] when it is not a regular file or cannot be read.
pub(crate) fn open_and_hash(path: &Path) -> Result<CheckedFile, PluginError> {
    let unreadable = |e: std::io::Error| PluginError::NotAPlugin {
        path: path.to_path_buf(),
        reason: format!("cannot read it: {e}"),
    };
    let file = File::open(path).map_err(unreadable)?;
    if !file.metadata().map_err(unreadable)?.is_file() {
        return Err(PluginError::NotAPlugin {
            path: path.to_path_buf(),
            reason: "not a file".into(),
        });
    }
    let sha256 = super::reader_sha256(&file).map_err(unreadable)?;
    Ok(CheckedFile { file, sha256 })
}

/// Files handed to the dynamic loader, by device and inode, never closed: the loader records a
/// library under the name it was opened by (`/proc/self/fd/<n>`) and answers a later open of the
/// same name with that library, so the descriptor must go on naming this file for the life of
/// the process (loaded libraries are never unloaded either). One descriptor per inode.
#[cfg(target_os = "linux")]
static HANDED_TO_LOADER: Mutex<Vec<((u64, u64), File)>> = Mutex::new(Vec::new());

impl CheckedFile {
    /// Opens the checked file as a dynamic library: the same inode the hash was read from where
    /// `/proc/self/fd` exists, else `path` again (logged once: the check-then-open window is
    /// then open).
    ///
    /// # Errors
    /// [`PluginError::NotAPlugin`] when the loader refuses it.
    pub(crate) fn open_library(self, path: &Path) -> Result<libloading::Library, PluginError> {
        let target = self.loader_path(path);
        // SAFETY: loading runs the library's initialisers; that is what loading a plugin means,
        // and the bytes were checked against the pins first.
        let library =
            unsafe { libloading::Library::new(&target) }.map_err(|e| PluginError::NotAPlugin {
                path: path.to_path_buf(),
                reason: format!(
                    "cannot open it as a dynamic library: {}",
                    super::error::chain(&e)
                ),
            })?;
        self.keep_for_loader();
        Ok(library)
    }

    #[cfg(target_os = "linux")]
    fn loader_path(&self, path: &Path) -> PathBuf {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::MetadataExt;
        if !Path::new("/proc/self/fd").is_dir() {
            super::warn_once(
                "/proc is not mounted: plugin libraries are opened by path after their hash \
                 was checked, so a file replaced in between would not be caught"
                    .into(),
            );
            return path.to_path_buf();
        }
        let Ok(meta) = self.file.metadata() else {
            return path.to_path_buf();
        };
        let id = (meta.dev(), meta.ino());
        let kept = HANDED_TO_LOADER.lock().unwrap_or_else(|e| e.into_inner());
        let fd = kept
            .iter()
            .find(|(k, _)| *k == id)
            .map_or(self.file.as_raw_fd(), |(_, f)| f.as_raw_fd());
        PathBuf::from(format!("/proc/self/fd/{fd}"))
    }

    #[cfg(not(target_os = "linux"))]
    fn loader_path(&self, path: &Path) -> PathBuf {
        super::warn_once(
            "plugin libraries are opened by path after their hash was checked (no \
             /proc/self/fd here), so a file replaced in between would not be caught"
                .into(),
        );
        path.to_path_buf()
    }

    /// Keeps the descriptor the loader opened the library through (Linux), unless one for the
    /// same inode is kept already.
    #[cfg(target_os = "linux")]
    fn keep_for_loader(self) {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = self.file.metadata() else {
            // Never close a descriptor the loader may have recorded.
            std::mem::forget(self.file);
            return;
        };
        let id = (meta.dev(), meta.ino());
        let mut kept = HANDED_TO_LOADER.lock().unwrap_or_else(|e| e.into_inner());
        if !kept.iter().any(|(k, _)| *k == id) {
            kept.push((id, self.file));
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn keep_for_loader(self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pins(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const H1: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const H2: &str = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

    #[test]
    fn pins_are_validated_naming_the_entry() {
        let upper = H2.to_uppercase();
        assert!(validate_pins(&pins(&[("libx.so", H1), ("x", upper.as_str())])).is_ok());
        let not_hex = H1.replace('0', "g");
        let too_long = format!("{H1}0");
        for (key, value, says) in [
            ("libx.so", "abc", "64 hexadecimal digits"),
            ("libx.so", not_hex.as_str(), "64 hexadecimal digits"),
            ("libx.so", too_long.as_str(), "65 characters"),
            ("dir/libx.so", H1, "is a path"),
            ("", H1, "1 to 255"),
        ] {
            let e = validate_pins(&pins(&[(key, value)])).unwrap_err();
            let text = e.to_string();
            assert!(text.contains("plugins.sha256."), "{text}");
            assert!(text.contains(says), "{key} {value}: {text}");
        }
        let e = validate_pins(&pins(&[("libx.so", "0")])).unwrap_err();
        assert_eq!(
            e.field_name().as_deref(),
            Some("plugins.sha256.\"libx.so\"")
        );
        let e = validate_pins(&pins(&[("my-solver", "0")])).unwrap_err();
        assert_eq!(e.field_name().as_deref(), Some("plugins.sha256.my-solver"));
    }

    #[test]
    fn file_name_and_plugin_name_entries_select_files_before_opening() {
        let p = pins(&[("libfemscale_c_cg.so", H1), ("my-solver", H2)]);
        let policy = PinPolicy::new(&p, true).unwrap();
        let file = Path::new("/x/libfemscale_c_cg.so");
        assert!(policy.check_file(file, H1).is_ok());
        assert!(matches!(
            policy.check_file(file, H2),
            Err(PluginError::PinMismatch { after_loading: false, ref entry, .. }) if entry == "libfemscale_c_cg.so"
        ));
        // A plugin-name entry matches the stem, `-` and `_` alike, and upper-case hex.
        for name in ["libmy_solver.so", "my-solver.so", "libmy-solver.dylib"] {
            assert!(policy.check_file(&Path::new("/y").join(name), H2).is_ok());
            assert!(policy.check_file(&Path::new("/y").join(name), H1).is_err());
        }
        // Unpinned files: refused only with require_pinned.
        let other = Path::new("/z/libother.so");
        assert!(matches!(
            policy.check_file(other, H1),
            Err(PluginError::Unpinned { .. })
        ));
        let lax = PinPolicy::new(&p, false).unwrap();
        assert!(lax.check_file(other, H1).is_ok());
        // After loading: the reported name against plugin-name entries.
        assert!(lax.check_loaded(other, "my_solver", H2).is_ok());
        assert!(matches!(
            lax.check_loaded(other, "my-solver", H1),
            Err(PluginError::PinMismatch {
                after_loading: true,
                ..
            })
        ));
        assert!(lax.check_loaded(other, "libfemscale_c_cg.so", H2).is_ok());
    }

    #[test]
    fn library_stems() {
        assert_eq!(library_stem("libmy_solver.so"), "my_solver");
        assert_eq!(library_stem("my_solver.dll"), "my_solver");
        assert_eq!(library_stem("lib.so"), "lib");
    }
}
