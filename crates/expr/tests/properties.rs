//! Backends against the reference evaluator, batches against single points, derivatives
//! against finite differences, and sharing between threads.

mod common;

use common::{expr, point, same};
use femscale_core::{ScalarField, SharedField};
use femscale_expr::Expression;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Printing a random tree, parsing it back (with folding) and compiling it gives the same
    /// values as walking the original tree.
    #[test]
    fn bytecode_matches_tree_walk(e in expr(), pts in prop::collection::vec(point(), 1..20)) {
        let text = e.to_string();
        let compiled = match Expression::parse(&text) {
            Ok(c) => c,
            // Constant subtrees that fold to NaN or infinity are rejected by design.
            Err(err) => {
                prop_assert!(err.message.contains("evaluates to"), "{text}: {err}");
                return Ok(());
            }
        };
        let mut batch = vec![0.0; pts.len()];
        compiled.eval_batch(&pts, &mut batch);
        for (p, b) in pts.iter().zip(&batch) {
            let want = e.eval([p[0], p[1], p[2], 0.0]);
            let got = compiled.eval(*p);
            prop_assert!(same(got, want), "{text} at {p:?}: bytecode {got}, tree {want}");
            prop_assert!(same(*b, want), "{text} at {p:?}: batch {b}, tree {want}");
            let folded = compiled.ast().eval([p[0], p[1], p[2], 0.0]);
            prop_assert!(same(folded, want), "{text}: folding changed the value");
        }
        if let Some(c) = compiled.as_constant() {
            prop_assert!(same(c, e.eval([0.3, -0.2, 1.1, 0.0])), "{text}: constant {c}");
        }
    }

    /// `eval_batch` equals `eval` bit for bit, for sizes around the chunk lengths.
    #[test]
    fn batch_equals_single(pts in prop::collection::vec(point(), 0..200)) {
        let texts = [
            "2*pi^2*sin(pi*x)*sin(pi*y)",
            "if(x*x + y*y < 1, exp(-z), 1/(1 + x^2))",
            "max(x, y, z) - min(x, 0.5) + atan2(y, x) + 3 - x",
            "x",
            "t + 1 + y",
            "-(x^2) / 2 + 1/y - 3/x + sqrt(abs(z)) ^ 1.5",
        ];
        for text in texts {
            let e = Expression::parse(text).unwrap();
            let mut out = vec![f64::NAN; pts.len()];
            e.eval_batch(&pts, &mut out);
            for (p, o) in pts.iter().zip(&out) {
                prop_assert!(same(*o, e.eval(*p)), "{text} at {p:?}");
            }
        }
    }

    /// Symbolic gradients agree with central differences.
    #[test]
    fn derivatives_match_finite_differences(p in [0.2..1.8f64, 0.2..1.8f64, 0.2..1.8f64]) {
        let texts = [
            "2*pi^2*sin(pi*x)*sin(pi*y)",
            "x^3*y - y/z + exp(x*z)",
            "sqrt(x*y + z) * log(x + 2) - atan(y/x)",
            "tan(x/3) + asin(y/2) + acos(z/2) + log10(x)",
            "sinh(x) * cosh(y) + tanh(z) + x^y + 2^z + pow(y, 2.5)",
            "atan2(y, x) + min(x, 3) + max(y^2, 5) + abs(z - 5)",
            "1/(1 + x^2 + y^2) - (x - y)/(z*z + 1) + -x^2",
            "if(x > 5, x, y*z) + floor(x) + ceil(y) + sign(z)",
        ];
        for text in texts {
            let e = Expression::parse(text).unwrap();
            let g = e.gradient(p);
            for d in 0..3 {
                let h = 1e-6;
                let (mut a, mut b) = (p, p);
                a[d] += h;
                b[d] -= h;
                let fd = (e.eval(a) - e.eval(b)) / (2.0 * h);
                let tol = 1e-6 * (1.0 + fd.abs());
                prop_assert!(
                    (g[d] - fd).abs() < tol,
                    "{text}: d/d{} at {p:?} is {}, finite differences say {fd}", ["x", "y", "z"][d], g[d]
                );
            }
        }
    }
}

#[test]
fn derivatives_at_fixed_points() {
    use std::f64::consts::PI;
    let e = Expression::parse("sin(pi*x)*sin(pi*y)").unwrap();
    let g = e.gradient([0.25, 0.5, 0.0]);
    assert!((g[0] - PI * (PI / 4.0).cos()).abs() < 1e-14);
    assert!(g[1].abs() < 1e-14);
    assert_eq!(g[2], 0.0);
    let e = Expression::parse("x^2 + y^2 + z^2").unwrap();
    assert_eq!(e.gradient([1.0, -2.0, 0.5]), [2.0, -4.0, 1.0]);
    let e = Expression::parse("abs(x)").unwrap();
    assert_eq!(e.gradient([-3.0, 0.0, 0.0])[0], -1.0);
}

#[test]
fn large_expressions_fall_back_gracefully() {
    // A balanced product of 64 distinct factors needs more registers than the stack arrays.
    fn tree(lo: usize, hi: usize) -> String {
        if hi - lo == 1 {
            format!("(x + {lo})")
        } else {
            let mid = (lo + hi) / 2;
            format!("({} * {})", tree(lo, mid), tree(mid, hi))
        }
    }
    let text = format!("sin({}) + {}", tree(0, 64), tree(0, 64));
    let e = Expression::parse(&text).unwrap();
    let pts: Vec<[f64; 3]> = (0..100).map(|i| [i as f64 * 1e-3, 0.0, 0.0]).collect();
    let mut out = vec![0.0; pts.len()];
    e.eval_batch(&pts, &mut out);
    for (p, o) in pts.iter().zip(&out) {
        let want = e.ast().eval([p[0], 0.0, 0.0, 0.0]);
        assert!(same(*o, want) && same(e.eval(*p), want));
    }
}

#[test]
fn shared_between_threads() {
    let f: SharedField =
        std::sync::Arc::new(Expression::parse("2*pi^2*sin(pi*x)*sin(pi*y) + z").unwrap());
    let expected: Vec<f64> = (0..1000)
        .map(|i| f.eval([i as f64 / 1000.0, 0.3, 1.0]))
        .collect();
    std::thread::scope(|s| {
        for _ in 0..4 {
            let f = f.clone();
            let expected = &expected;
            s.spawn(move || {
                let pts: Vec<[f64; 3]> = (0..1000).map(|i| [i as f64 / 1000.0, 0.3, 1.0]).collect();
                let mut out = vec![0.0; pts.len()];
                for _ in 0..20 {
                    f.eval_batch(&pts, &mut out);
                    assert_eq!(&out, expected);
                    for (p, want) in pts.iter().zip(expected) {
                        assert_eq!(f.eval(*p), *want);
                    }
                }
            });
        }
    });
}

/// Batches on one thread share a register file: a program run after a larger one that left
/// NaN in every register still gives its own values (no register is read before it is
/// written). `sin` keeps both on the vectorised bytecode path even with the JIT.
#[test]
fn batches_after_a_larger_program_are_unaffected() {
    let poison = Expression::parse(
        "sin(sqrt(-1 - x*x)) * (x + 1) * (y + 2) * (z + 3) * (x*y + 4) * (y*z + 5) * (z*x + 6) \
         * (x + y + 7) * (y + z + 8) * (z + x + 9) * (x - y + 10) * (y - z + 11) * (z - x + 12) \
         * (x*y*z + 13) * (x*x + 14) * (y*y + 15) * (z*z + 16) * (x*y*y + 17) * (y*z*z + 18)",
    )
    .unwrap();
    let after =
        Expression::parse("sin(pi*x)*cos(2*y) + x*y*z - exp(-x*x) * (y + 3) / (z*z + 1)").unwrap();
    let pts: Vec<[f64; 3]> = (0..300)
        .map(|i| {
            let s = f64::from(i);
            [0.01 * s, (0.37 * s).sin(), 1.0 - 0.003 * s]
        })
        .collect();
    let mut out = vec![0.0; pts.len()];
    poison.eval_batch(&pts, &mut out);
    assert!(out.iter().all(|v| v.is_nan()));
    after.eval_batch(&pts, &mut out);
    for (p, o) in pts.iter().zip(&out) {
        assert!(
            same(*o, after.eval(*p)),
            "at {p:?}: {o} vs {}",
            after.eval(*p)
        );
    }
}
