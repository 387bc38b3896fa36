//! Convergence-rate families: the points of a sweep that differ only in resolution.
//!
//! A rate `p` of `e ≈ C h^p` is only meaningful over one discretisation refined: the same
//! domain, cell type, diagonal, element, coefficients and solver, at several mesh sizes. Two
//! points belong to the same family when their sweep values agree on every key except the
//! [`RESOLUTION_KEYS`]; any other key (`problem.mesh.cell`, `problem.mesh.diagonal`,
//! `problem.mesh.x`, `solver.kind`, ...) separates families, so triangles and quadrilaterals are
//! never fitted together.

use std::collections::BTreeMap;

use serde_json::Value;

use super::sweep::{canonical_json, display_value};

/// The sweep keys that only set the resolution (the mesh size `h`) of one discretisation:
/// elements per direction, uniform refinements and explicit interval nodes (a sweep over node
/// lists is a refinement study). Points differing only in these keys form one rate family.
pub const RESOLUTION_KEYS: [&str; 5] = [
    "problem.mesh.nx",
    "problem.mesh.ny",
    "problem.mesh.nz",
    "problem.mesh.refinements",
    "problem.mesh.nodes",
];

/// The label of the family whose points sweep no key besides [`RESOLUTION_KEYS`].
pub const WHOLE_SWEEP_FAMILY: &str = "all points";

/// Mesh sizes closer than this relative distance count as one size in a fit.
const SAME_H: f64 = 1e-9;

/// Whether the dotted sweep key `key` only sets the resolution.
pub(crate) fn is_resolution_key(key: &str) -> bool {
    RESOLUTION_KEYS.contains(&key)
}

/// The family of a point given its sweep values: `(grouping key, label)`. The grouping key is
/// the canonical JSON of the non-resolution values; the label lists them as `key=value`
/// (sorted by key, separated by spaces), or is [`WHOLE_SWEEP_FAMILY`] when there are none. A
/// swept table (`"problem.mesh" = [{ nx = 4, cell = "quad" }, ...]`) is looked into key by key.
pub(crate) fn family_of(point: &BTreeMap<String, Value>) -> (String, String) {
    let mut leaves = Vec::new();
    for (key, value) in point {
        flatten(key, value, &mut leaves);
    }
    let defining: BTreeMap<String, Value> = leaves
        .into_iter()
        .filter(|(k, _)| !is_resolution_key(k))
        .collect();
    let label = if defining.is_empty() {
        WHOLE_SWEEP_FAMILY.to_string()
    } else {
        defining
            .iter()
            .map(|(k, v)| format!("{k}={}", display_value(v)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let key = canonical_json(&Value::Object(defining.into_iter().collect()));
    (key, label)
}

fn flatten(key: &str, value: &Value, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                flatten(&format!("{key}.{k}"), v, out);
            }
        }
        other => out.push((key.to_string(), other.clone())),
    }
}

/// The rates fitted over one family, and why a rate is missing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FamilyFit {
    /// Distinct mesh sizes with a usable L2 error (the points of the L2 fit).
    pub mesh_sizes: usize,
    /// Fitted L2 rate (`None` with fewer than two distinct mesh sizes).
    pub l2_rate: Option<f64>,
    /// Fitted H1-seminorm rate (`None` with fewer than two distinct mesh sizes).
    pub h1_rate: Option<f64>,
    /// Why a rate is missing (`None` when both are there).
    pub note: Option<String>,
}

/// One member of a family as the fit sees it: mesh size and median errors.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    pub h: Option<f64>,
    pub l2: Option<f64>,
    pub h1: Option<f64>,
    /// The exact solution's L2 norm, the scale of `l2` (`None` in older records).
    pub scale: Option<f64>,
}

/// L2 errors at most this share of the exact solution's L2 norm are round-off: the elements
/// reproduce the solution, and a rate fitted to them would be noise.
const ROUND_OFF: f64 = 1e-12;

/// Whether every member's L2 error (there is at least one) is round-off of its scale.
fn at_round_off(members: &[Sample]) -> bool {
    let with_errors: Vec<&Sample> = members.iter().filter(|s| s.l2.is_some()).collect();
    !with_errors.is_empty()
        && with_errors.iter().all(|s| match (s.l2, s.scale) {
            (Some(e), Some(scale)) => scale > 0.0 && e <= ROUND_OFF * scale,
            _ => false,
        })
}

/// Fits `log(error)` against `log(h)` by least squares over a family's `members`.
pub(crate) fn fit_family(members: &[Sample]) -> FamilyFit {
    let usable = |err: fn(&Sample) -> Option<f64>| -> Vec<(f64, f64)> {
        members
            .iter()
            .filter_map(|s| Some((s.h?, err(s)?)))
            .filter(|&(h, e)| h > 0.0 && h.is_finite() && e > 0.0 && e.is_finite())
            .collect()
    };
    if members.len() > 1 && at_round_off(members) {
        return FamilyFit {
            mesh_sizes: distinct_sizes(&usable(|s| s.l2)),
            l2_rate: None,
            h1_rate: None,
            note: Some(
                "no rate: the errors are round-off (L2 errors at most 1e-12 of the exact \
                 solution's L2 norm: the elements reproduce it)"
                    .to_string(),
            ),
        };
    }
    let l2 = usable(|s| s.l2);
    let h1 = usable(|s| s.h1);
    let l2_rate = rate(&l2);
    let h1_rate = rate(&h1);
    let mesh_sizes = distinct_sizes(&l2);
    let note = match (l2_rate, h1_rate) {
        (Some(_), Some(_)) => None,
        _ if members.len() == 1 => Some(
            "no rate: the only point of its family; sweep problem.mesh.nx/ny/nz or refinements \
             with the other keys fixed for one"
                .to_string(),
        ),
        (None, None) if l2.is_empty() && h1.is_empty() => {
            let zero = members
                .iter()
                .any(|s| s.l2 == Some(0.0) || s.h1 == Some(0.0));
            let unsized_errors = members
                .iter()
                .any(|s| s.h.is_none() && (s.l2.is_some() || s.h1.is_some()));
            Some(if unsized_errors {
                "no rate: these points have errors but no mesh size (adaptive runs end on \
                 meshes of their own)"
                    .to_string()
            } else if zero {
                "no rate: the errors are zero (the elements reproduce the exact solution)"
                    .to_string()
            } else {
                "no rate: no error norms in this family (no exact solution or no successful run)"
                    .to_string()
            })
        }
        (None, None) => Some(format!(
            "no rate: errors at {} mesh size(s) of this family; a fit needs two",
            mesh_sizes.max(distinct_sizes(&h1))
        )),
        (Some(_), None) => Some("no H1 rate: fewer than two mesh sizes with an H1 error".into()),
        (None, Some(_)) => Some("no L2 rate: fewer than two mesh sizes with an L2 error".into()),
    };
    FamilyFit {
        mesh_sizes,
        l2_rate,
        h1_rate,
        note,
    }
}

fn distinct_sizes(pts: &[(f64, f64)]) -> usize {
    let mut h: Vec<f64> = pts.iter().map(|p| p.0).collect();
    h.sort_by(f64::total_cmp);
    h.dedup_by(|a, b| (*a - *b).abs() <= SAME_H * b.abs());
    h.len()
}

/// The least-squares slope of `log e` against `log h`, `None` without two distinct sizes.
fn rate(pts: &[(f64, f64)]) -> Option<f64> {
    if distinct_sizes(pts) < 2 {
        return None;
    }
    let logs: Vec<(f64, f64)> = pts.iter().map(|&(h, e)| (h.ln(), e.ln())).collect();
    super::summary::slope(&logs).filter(|r| r.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn point(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn only_resolution_keys_are_dropped_from_the_family() {
        let tri = point(&[
            ("problem.mesh.cell", json!("triangle")),
            ("problem.mesh.nx", json!(4)),
            ("problem.mesh.ny", json!(4)),
        ]);
        let tri_fine = point(&[
            ("problem.mesh.cell", json!("triangle")),
            ("problem.mesh.nx", json!(16)),
            ("problem.mesh.ny", json!(16)),
            ("problem.mesh.refinements", json!(1)),
        ]);
        let quad = point(&[
            ("problem.mesh.cell", json!("quadrilateral")),
            ("problem.mesh.nx", json!(4)),
            ("problem.mesh.ny", json!(4)),
        ]);
        assert_eq!(family_of(&tri), family_of(&tri_fine));
        assert_ne!(family_of(&tri).0, family_of(&quad).0);
        assert_eq!(family_of(&tri).1, "problem.mesh.cell=triangle");
        for (key, a, b) in [
            ("problem.mesh.diagonal", json!("right"), json!("left")),
            ("problem.mesh.x", json!([0, 1]), json!([0, 2])),
            ("problem.mesh.kind", json!("interval"), json!("rectangle")),
            ("solver.kind", json!("cg"), json!("direct")),
            ("assembly.quadrature_degree", json!(2), json!(3)),
        ] {
            let with =
                |v: &Value| family_of(&point(&[(key, v.clone()), ("problem.mesh.nx", json!(4))]));
            assert_ne!(with(&a).0, with(&b).0, "{key} separates families");
        }
        // Only resolution keys: one family for the whole sweep.
        let only = point(&[
            ("problem.mesh.nx", json!(8)),
            ("problem.mesh.nodes", json!([0, 1])),
        ]);
        assert_eq!(family_of(&only).1, WHOLE_SWEEP_FAMILY);
        // A swept table is looked into.
        let table = |cell: &str, nx: u64| {
            family_of(&point(&[(
                "problem.mesh",
                json!({ "cell": cell, "nx": nx }),
            )]))
        };
        assert_eq!(table("quad", 4), table("quad", 8));
        assert_ne!(table("quad", 4), table("triangle", 4));
        assert_eq!(table("quad", 4).1, "problem.mesh.cell=quad");
    }

    #[test]
    fn fits_recover_the_rate_and_say_why_one_is_missing() {
        let sample = |h: f64| Sample {
            h: Some(h),
            l2: Some(3.0 * h * h),
            h1: Some(0.5 * h),
            scale: Some(1.0),
        };
        let fit = fit_family(&[sample(0.25), sample(0.125), sample(0.0625)]);
        assert!((fit.l2_rate.unwrap() - 2.0).abs() < 1e-12);
        assert!((fit.h1_rate.unwrap() - 1.0).abs() < 1e-12);
        assert_eq!((fit.mesh_sizes, fit.note), (3, None));

        let single = fit_family(&[sample(0.25)]);
        assert_eq!(
            (single.l2_rate, single.h1_rate, single.mesh_sizes),
            (None, None, 1)
        );
        assert!(single.note.unwrap().contains("only point of its family"));

        // Two points at the same mesh size (e.g. nx and ny swapped) give no rate either.
        let mut twin = sample(0.25);
        twin.l2 = Some(1.0);
        let same_h = fit_family(&[sample(0.25), twin]);
        assert_eq!((same_h.l2_rate, same_h.mesh_sizes), (None, 1));
        assert!(same_h.note.unwrap().contains("1 mesh size(s)"));

        let no_errors = |h| Sample {
            h: Some(h),
            l2: None,
            h1: None,
            scale: None,
        };
        let none = fit_family(&[no_errors(0.5), no_errors(0.25)]);
        assert!(none.note.unwrap().contains("no error norms"));
        let exact = |h| Sample {
            h: Some(h),
            l2: Some(0.0),
            h1: Some(0.0),
            scale: None,
        };
        // Review N: errors at round-off (u = 1 reproduced) were fitted "rates" 0.50, -0.50.
        let round_off = |h: f64, e: f64| Sample {
            h: Some(h),
            l2: Some(e),
            h1: Some(3.0 * e),
            scale: Some(2.0),
        };
        let fit = fit_family(&[round_off(0.5, 1e-16), round_off(0.25, 4e-16)]);
        assert_eq!((fit.l2_rate, fit.h1_rate), (None, None));
        assert!(fit.note.unwrap().contains("round-off"));
        // One member above round-off: fitted as before.
        let fit = fit_family(&[round_off(0.5, 1e-6), round_off(0.25, 4e-16)]);
        assert!(fit.l2_rate.is_some());
        let reproduced = fit_family(&[exact(0.5), exact(0.25)]);
        assert!(reproduced.note.unwrap().contains("the errors are zero"));

        // NaN, zero and infinite errors are left out of the fit, never turned into a rate.
        let mut bad = sample(0.125);
        bad.l2 = Some(f64::NAN);
        bad.h1 = Some(0.0);
        let partial = fit_family(&[
            sample(0.25),
            bad,
            Sample {
                h: Some(0.0625),
                l2: Some(f64::INFINITY),
                h1: Some(0.03125),
                scale: None,
            },
        ]);
        assert_eq!(partial.l2_rate, None);
        assert!((partial.h1_rate.unwrap() - 1.0).abs() < 1e-12);
        assert!(partial.note.unwrap().starts_with("no L2 rate"));
    }
}
