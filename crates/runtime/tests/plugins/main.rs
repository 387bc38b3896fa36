//! Plugins loaded as real dynamic libraries: the Rust plugins of `plugins/` (built as cdylibs
//! next to this test binary, since they are dev-dependencies), the C plugin and the C fixtures
//! (compiled by their build scripts), and the Rust fixtures that panic or were built against
//! another interface.
#![cfg(feature = "plugins")]

mod c_interface;
mod common;
mod loading;
mod pinning;
mod rebuilt;
mod solving;
mod verification;
