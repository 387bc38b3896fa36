//! A deterministic fingerprint of the binary layout of [`PluginMod`](crate::PluginMod) and of
//! every type reachable from it.
//!
//! `abi_stable` checks layouts when a plugin loads, but only against the layouts the host was
//! built with: an interface change shipped without a version bump is caught by nobody until a
//! plugin built against the old crate fails to load (or a minor-compatible plugin meets a
//! changed prefix). The tests of this crate compare [`layout_fingerprint`] with a committed
//! value *together with* [`INTERFACE_VERSION`](crate::INTERFACE_VERSION), so changing the
//! layout without bumping the version fails a test.
//!
//! The C interface has the same hole: `include/femscale_plugin.h` could change a field type or
//! a signature without bumping `FEMSCALE_PLUGIN_C_ABI_VERSION`. [`c_header_fingerprint`] hashes
//! the header's declarations, and the tests check it with [`C_ABI_VERSION`](crate::c_abi::C_ABI_VERSION) against committed
//! values, next to the sizes and field offsets of the Rust mirror structs of [`crate::c_abi`].
//!
//! The description ([`layout_description`]) is built from `abi_stable`'s `TypeLayout` of the root
//! module and, depth first in declaration order, of every nested type: full type names, sizes,
//! alignments, fields, function-pointer signatures, prefix-field accessibility, tags, `repr`
//! and reflection mode. It leaves out what does not describe the layout and differs between
//! builds or edits: type ids, source lines and module paths, and package versions (the
//! interface version is checked next to the fingerprint, not inside it).

use std::collections::HashSet;
use std::fmt::Write;

use abi_stable::StableAbi;
use abi_stable::std_types::UTypeId;
use abi_stable::type_layout::TypeLayout;

use crate::PluginModRef;
use crate::c_abi::HEADER;

/// The layout of the root module and everything it reaches, as text (see the module docs).
pub fn layout_description() -> String {
    let mut out = String::new();
    let mut visited = HashSet::new();
    describe(PluginModRef::LAYOUT, &mut visited, &mut out);
    out
}

/// `fnv1a64:<16 hex digits>` of [`layout_description`]: stable across builds, machines and
/// compiler versions of one target pointer width.
pub fn layout_fingerprint() -> String {
    format!("fnv1a64:{:016x}", fnv1a(layout_description().as_bytes()))
}

fn describe(layout: &'static TypeLayout, visited: &mut HashSet<UTypeId>, out: &mut String) {
    // A type reached twice is described once, where it is first reached. The type id only
    // decides what was seen (it is the same type in every build); it is never written: its
    // value differs between compilers. Names cannot stand in for it: `RResult<A, B>` and
    // `RResult<C, D>` share the name `RResult`.
    if !visited.insert(layout.get_utypeid()) {
        return;
    }
    let text = layout.to_string();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("line:") {
            continue; // source line and module path
        }
        let line = match line.find(" version:'") {
            Some(at) => &line[..at], // the package version of `package:'..' version:'..'`
            None => line,
        };
        let _ = writeln!(out, "{line}");
    }
    for nested in layout.shared_vars().type_layouts() {
        describe(nested(), visited, out);
    }
    if let Some(checks) = layout.extra_checks() {
        for nested in checks.nested_type_layouts().iter() {
            describe(nested, visited, out);
        }
    }
}

/// The declarations of `include/femscale_plugin.h`: comments removed, whitespace collapsed to
/// single spaces, one preprocessor line or declaration per line (however it is wrapped), and
/// the
/// `FEMSCALE_PLUGIN_C_ABI_VERSION` definition left out (the version is checked next to the
/// fingerprint).
pub fn c_header_declarations() -> String {
    let mut code = String::with_capacity(HEADER.len());
    let mut rest = HEADER;
    while let Some(start) = rest.find("/*") {
        code.push_str(&rest[..start]);
        code.push(' ');
        rest = rest[start + 2..]
            .find("*/")
            .map_or("", |end| &rest[start + 2 + end + 2..]);
    }
    code.push_str(rest);
    // Declarations may be wrapped over several lines: words are joined until a `;`, `{` or
    // `}` ends the declaration, so rewrapping a prototype keeps the fingerprint.
    let mut out = String::new();
    let mut pending: Vec<&str> = Vec::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap_or("");
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first().is_some_and(|w| w.starts_with('#')) {
            if words.get(1) != Some(&"FEMSCALE_PLUGIN_C_ABI_VERSION") {
                let _ = writeln!(out, "{}", words.join(" "));
            }
            continue;
        }
        pending.extend(words);
        if pending.last().is_some_and(|w| w.ends_with([';', '{', '}'])) {
            let _ = writeln!(out, "{}", pending.join(" "));
            pending.clear();
        }
    }
    if !pending.is_empty() {
        let _ = writeln!(out, "{}", pending.join(" "));
    }
    out
}

/// `fnv1a64:<16 hex digits>` of [`c_header_declarations`].
pub fn c_header_fingerprint() -> String {
    format!("fnv1a64:{:016x}", fnv1a(c_header_declarations().as_bytes()))
}

/// 64-bit FNV-1a.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h: u64, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::c_abi::C_ABI_VERSION;

    /// The interface version and the layout fingerprint it was released with. Update both
    /// together (see the failure message of the test below).
    #[cfg(target_pointer_width = "64")]
    const COMMITTED: (&str, &str) = ("1.0.0", "fnv1a64:c1ffb49e6aee3a02");

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn the_layout_fingerprint_is_committed_with_the_interface_version() {
        let (version, fingerprint) = COMMITTED;
        let today = layout_fingerprint();
        let how = "the committed pair is `COMMITTED` in crates/plugin-api/src/fingerprint.rs";
        if today != fingerprint && crate::INTERFACE_VERSION == version {
            panic!(
                "the binary layout of the plugin interface changed (fingerprint {today}, \
                 committed {fingerprint}) but INTERFACE_VERSION is still {version}: bump the \
                 version of crates/plugin-api/Cargo.toml (major for an incompatible change; \
                 minor only when fields were appended to a prefix type), then set COMMITTED to \
                 (\"<new version>\", \"{today}\"); {how}. `fingerprint::layout_description()` \
                 prints the layout that was hashed."
            );
        }
        assert_eq!(
            (crate::INTERFACE_VERSION, today.as_str()),
            (version, fingerprint),
            "the interface version changed: record the released pair by setting COMMITTED to \
             (\"{}\", \"{today}\"); {how}",
            crate::INTERFACE_VERSION
        );
    }

    /// The C interface version and the header fingerprint it was released with.
    const C_COMMITTED: (u32, &str) = (2, "fnv1a64:4af3c0a15a1187f2");

    #[test]
    fn the_c_header_fingerprint_is_committed_with_the_c_interface_version() {
        let (version, fingerprint) = C_COMMITTED;
        let today = c_header_fingerprint();
        let how = "the committed pair is `C_COMMITTED` in crates/plugin-api/src/fingerprint.rs";
        if today != fingerprint && C_ABI_VERSION == version {
            panic!(
                "the declarations of include/femscale_plugin.h changed (fingerprint {today}, \
                 committed {fingerprint}) but the C interface version is still {version}: \
                 unless the change only adds an optional function, bump \
                 FEMSCALE_PLUGIN_C_ABI_VERSION in the header and C_ABI_VERSION in \
                 src/c_abi.rs (and say in the header what the new version changed); then set \
                 C_COMMITTED to (<version>, \"{today}\"); {how}. Declarations now:\n{}",
                c_header_declarations()
            );
        }
        assert_eq!(
            (C_ABI_VERSION, today.as_str()),
            (version, fingerprint),
            "the C interface version changed: set C_COMMITTED to ({C_ABI_VERSION}, \"{today}\"); {how}"
        );
    }

    /// The Rust mirror of the header's structs has the layout C compilers give them on 64-bit
    /// targets (`size_t` and pointers of 8 bytes); a field type changed on one side only, or a
    /// field inserted in the middle, moves an offset.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn the_c_structs_keep_their_committed_sizes_and_offsets() {
        use crate::c_abi::{CCsr, CSolveParams, CSolveResult};
        use std::mem::{align_of, offset_of, size_of};
        let layouts = [
            (
                "femscale_csr",
                size_of::<CCsr>(),
                align_of::<CCsr>(),
                vec![
                    offset_of!(CCsr, nrows),
                    offset_of!(CCsr, ncols),
                    offset_of!(CCsr, nnz),
                    offset_of!(CCsr, row_ptr),
                    offset_of!(CCsr, col_idx),
                    offset_of!(CCsr, values),
                ],
            ),
            (
                "femscale_solve_params",
                size_of::<CSolveParams>(),
                align_of::<CSolveParams>(),
                vec![
                    offset_of!(CSolveParams, tolerance),
                    offset_of!(CSolveParams, absolute_tolerance),
                    offset_of!(CSolveParams, max_iterations),
                    offset_of!(CSolveParams, threads),
                    offset_of!(CSolveParams, timeout_seconds),
                    offset_of!(CSolveParams, memory_limit_mb),
                ],
            ),
            (
                "femscale_solve_result",
                size_of::<CSolveResult>(),
                align_of::<CSolveResult>(),
                vec![
                    offset_of!(CSolveResult, iterations),
                    offset_of!(CSolveResult, initial_residual),
                    offset_of!(CSolveResult, final_residual),
                    offset_of!(CSolveResult, final_relative_residual),
                    offset_of!(CSolveResult, memory_bytes),
                ],
            ),
        ];
        let committed = [
            ("femscale_csr", 48, 8, vec![0, 8, 16, 24, 32, 40]),
            ("femscale_solve_params", 48, 8, vec![0, 8, 16, 24, 32, 40]),
            ("femscale_solve_result", 40, 8, vec![0, 8, 16, 24, 32]),
        ];
        assert_eq!(
            layouts, committed,
            "the C structs changed layout: that is a new C interface version (bump \
             FEMSCALE_PLUGIN_C_ABI_VERSION and C_ABI_VERSION; version 1 and 2 plugins rely on \
             the leading fields staying where they are), then update `committed` here"
        );
    }

    #[test]
    fn the_c_declarations_leave_out_comments_and_the_version() {
        let text = c_header_declarations();
        assert!(
            text.contains("typedef struct femscale_solve_params {"),
            "{text}"
        );
        assert!(text.contains("\ndouble memory_limit_mb;\n"), "{text}");
        assert!(
            text.contains("\nint femscale_solver_create(const char *options_json, "),
            "a wrapped prototype is one line: {text}"
        );
        assert!(text.contains("#define FEMSCALE_TIMED_OUT 8"), "{text}");
        assert!(!text.contains("FEMSCALE_PLUGIN_C_ABI_VERSION"), "{text}");
        assert!(!text.contains("/*") && !text.contains("Rules:"), "{text}");
    }

    #[test]
    fn the_description_covers_nested_types_and_leaves_out_build_details() {
        let text = layout_description();
        for needle in [
            "PluginMod",
            "new_solver",
            "new_preconditioner",
            // Types reached only through the root module's function pointers.
            "PluginInfo",
            "SolveParams",
            "CsrRef",
            // Both arms of the `RResult`s of `new_solver` and `new_preconditioner`.
            "RSolver_TO",
            "RPreconditionerBuilder_TO",
        ] {
            assert!(text.contains(needle), "{needle} missing from:\n{text}");
        }
        assert!(!text.contains("version:'"), "package versions are left out");
        assert!(!text.contains("line:"), "source lines are left out");
        assert_eq!(text, layout_description(), "deterministic within a build");
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
