//! The JIT backend: bit-for-bit agreement with the reference evaluator and the bytecode,
//! gradients, parameters, expression sets, the compile cache and its counters, fallback, and
//! use from many threads.
#![cfg(feature = "jit")]

mod common;

use std::sync::Arc;

use common::{expr, point, same};
use femscale_core::{ScalarField, SharedField};
use femscale_expr::{
    BackendKind, ExprOptions, ExprStats, Expression, ExpressionSet, jit_available,
    parse_field_with, stats,
};
use proptest::prelude::*;

const JIT: ExprOptions = ExprOptions::with_jit(true);
const BYTECODE: ExprOptions = ExprOptions::with_jit(false);

fn jit(text: &str) -> Expression {
    let e = Expression::parse_with(text, &[], JIT).unwrap_or_else(|e| panic!("{text}: {e}"));
    if e.constant().is_none() {
        assert_eq!(e.backend(), BackendKind::Jit, "{text}");
    }
    e
}

/// Points in the usual range plus zeros of both signs, integers, NaN and infinities.
fn points() -> impl Strategy<Value = Vec<[f64; 3]>> {
    let special = prop::sample::select(vec![
        [0.0, -0.0, 1.0],
        [-0.0, 0.0, -1.0],
        [1.0, 2.0, 3.0],
        [-2.0, 0.5, 0.0],
        [f64::NAN, 1.0, 0.5],
        [f64::INFINITY, -1.0, 2.0],
        [1e300, -1e-300, 0.25],
    ]);
    prop::collection::vec(prop_oneof![4 => point(), 1 => special], 1..24)
}

#[test]
fn jit_is_available_on_this_machine() {
    // CI runs on x86-64 (and developers on x86-64 or aarch64), which cranelift supports; if
    // this fails the JIT silently fell back everywhere and the other tests prove nothing.
    assert!(jit_available());
    assert!(stats().jit_available);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// JIT values (single points and batches) equal the reference tree walker and the bytecode
    /// bit for bit; JIT gradients equal the bytecode gradients bit for bit.
    #[test]
    fn jit_matches_reference_and_bytecode(e in expr(), pts in points()) {
        let text = e.to_string();
        let b = Expression::parse_with(&text, &[], BYTECODE);
        let j = match Expression::parse_with(&text, &[], JIT) {
            Ok(j) => j,
            // Constant subtrees folding to NaN or infinity are rejected by design (see
            // properties.rs), by both backends alike; any other refusal fails the case.
            Err(err) => {
                prop_assert!(
                    err.message.contains("evaluates to"),
                    "{text}: the JIT backend refused it: {err}"
                );
                prop_assert!(
                    b.is_err(),
                    "{text}: the JIT backend refused ({err}) what the bytecode accepts"
                );
                return Ok(());
            }
        };
        let b = b.unwrap_or_else(|e| {
            panic!("{text}: the JIT accepted what the bytecode refused: {e}")
        });
        if j.constant().is_none() {
            prop_assert_eq!(j.backend(), BackendKind::Jit);
            prop_assert_eq!(b.backend(), BackendKind::Bytecode);
        }
        let mut batch = vec![0.0; pts.len()];
        j.eval_batch(&pts, &mut batch);
        let mut grads = vec![[0.0; 3]; pts.len()];
        j.gradient_batch(&pts, &mut grads);
        for ((p, v), g) in pts.iter().zip(&batch).zip(&grads) {
            let want = e.eval([p[0], p[1], p[2], 0.0]);
            prop_assert!(same(j.eval(*p), want), "{text} at {p:?}: JIT {}, tree {want}", j.eval(*p));
            prop_assert!(same(*v, want), "{text} at {p:?}: JIT batch {v}, tree {want}");
            prop_assert!(same(b.eval(*p), want), "{text} at {p:?}: bytecode");
            let gb = b.gradient(*p);
            let gj = j.gradient(*p);
            for d in 0..3 {
                prop_assert!(same(gj[d], gb[d]), "{text} d{d} at {p:?}: JIT {}, bytecode {}", gj[d], gb[d]);
                prop_assert!(same(g[d], gb[d]), "{text} d{d} at {p:?}: JIT batch {}", g[d]);
            }
        }
    }

    /// A set compiled together gives each member's values.
    #[test]
    fn sets_match_members(a in expr(), b in expr(), c in expr(), pts in points()) {
        let members: Vec<Expression> = [a, b, c]
            .iter()
            .filter_map(|e| match Expression::parse_with(&e.to_string(), &[], BYTECODE) {
                Ok(member) => Some(member),
                // Folding to NaN or infinity is refused by design; anything else is a bug.
                Err(err) if err.message.contains("evaluates to") => None,
                Err(err) => panic!("{e}: refused: {err}"),
            })
            .collect();
        let m = members.len();
        let set = ExpressionSet::new(members.clone(), JIT);
        prop_assert_eq!(set.len(), m);
        let mut out = vec![0.0; pts.len() * m];
        set.eval_batch(&pts, &mut out);
        for (i, p) in pts.iter().enumerate() {
            for (j, e) in members.iter().enumerate() {
                let (got, want) = (out[i * m + j], e.eval(*p));
                prop_assert!(same(got, want), "{} at {p:?}: set {got}, alone {want}", e.text());
            }
        }
    }
}

type Unary = fn(f64) -> f64;
type Binary = fn(f64, f64) -> f64;

#[test]
fn every_function_through_the_jit() {
    let unary: &[(&str, Unary)] = &[
        ("sin", femscale_expr::trig::sin),
        ("cos", femscale_expr::trig::cos),
        ("tan", f64::tan),
        ("asin", f64::asin),
        ("acos", f64::acos),
        ("atan", f64::atan),
        ("sinh", f64::sinh),
        ("cosh", f64::cosh),
        ("tanh", f64::tanh),
        ("exp", f64::exp),
        ("log", f64::ln),
        ("ln", f64::ln),
        ("log10", f64::log10),
        ("sqrt", f64::sqrt),
        ("abs", f64::abs),
        ("floor", f64::floor),
        ("ceil", f64::ceil),
        ("sign", |v| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else if v == 0.0 {
                0.0
            } else {
                f64::NAN
            }
        }),
        ("-", |v| -v),
    ];
    let xs = [
        -2.5,
        -0.7,
        -0.0,
        0.0,
        0.3,
        0.9,
        1.0,
        1.7,
        710.0,
        f64::NAN,
        f64::INFINITY,
    ];
    for &(name, f) in unary {
        let e = jit(&format!("{name}(x)"));
        let pts: Vec<[f64; 3]> = xs.iter().map(|x| [*x, 0.0, 0.0]).collect();
        let mut out = vec![0.0; pts.len()];
        e.eval_batch(&pts, &mut out);
        for (x, o) in xs.iter().zip(&out) {
            let want = f(*x);
            let got = e.eval([*x, 0.0, 0.0]);
            assert!(same(got, want), "{name}({x}) = {got}, std says {want}");
            assert!(same(*o, want), "{name}({x}) batch = {o}, std says {want}");
        }
    }
    let binary: &[(&str, Binary)] = &[
        ("pow", f64::powf),
        ("atan2", f64::atan2),
        ("min", f64::min),
        ("max", f64::max),
        ("", |a, b| a * b),
    ];
    let pairs = [
        (0.5, 1.5),
        (2.0, -0.5),
        (-1.0, 3.0),
        (3.0, 3.0),
        (0.2, 0.0),
        (-8.0, 1.0 / 3.0),
        (f64::NAN, 1.0),
        (1.0, f64::NAN),
        (0.0, -1.0),
    ];
    for &(name, f) in binary {
        let text = if name.is_empty() {
            "x*y".to_owned()
        } else {
            format!("{name}(x, y)")
        };
        let e = jit(&text);
        for (x, y) in pairs {
            let (got, want) = (e.eval([x, y, 0.0]), f(x, y));
            assert!(
                same(got, want),
                "{text} at ({x}, {y}) = {got}, std says {want}"
            );
        }
    }
    // Squares by multiplication, other constant exponents by powf, as in the bytecode.
    let e = jit("x^2 + x^3 + x^0.5 + x^y");
    let p = [1.1, 2.5, 0.0];
    assert_eq!(
        e.eval(p),
        1.1 * 1.1 + 1.1f64.powf(3.0) + 1.1f64.powf(0.5) + 1.1f64.powf(2.5)
    );
    // min/max agree with std except for the (documented) sign of equal zeros.
    assert!(jit("min(x, y)").eval([0.0, -0.0, 0.0]).is_sign_positive());
    assert!(jit("max(x, y)").eval([-0.0, 0.0, 0.0]).is_sign_negative());
}

#[test]
fn comparisons_and_if_through_the_jit() {
    let cases = [
        ("x < y", 1.0, 0.0, 0.0),
        ("x <= y", 1.0, 1.0, 0.0),
        ("x > y", 0.0, 0.0, 1.0),
        ("x >= y", 0.0, 1.0, 1.0),
        ("x == y", 0.0, 1.0, 0.0),
        ("x != y", 1.0, 0.0, 1.0),
    ];
    for (text, less, equal, greater) in cases {
        let e = jit(text);
        assert_eq!(e.eval([1.0, 2.0, 0.0]), less, "{text} (1, 2)");
        assert_eq!(e.eval([2.0, 2.0, 0.0]), equal, "{text} (2, 2)");
        assert_eq!(e.eval([3.0, 2.0, 0.0]), greater, "{text} (3, 2)");
        let nan = e.eval([f64::NAN, 2.0, 0.0]);
        assert_eq!(nan, if text == "x != y" { 1.0 } else { 0.0 }, "{text} NaN");
    }
    let e = jit("if(x > 0.5, 10 + y, -y)");
    assert_eq!(e.eval([0.7, 2.0, 0.0]), 12.0);
    assert_eq!(e.eval([0.2, 2.0, 0.0]), -2.0);
    let e = jit("if(x, 1 + y, 2 + y)");
    assert_eq!(e.eval([-3.0, 0.0, 0.0]), 1.0);
    assert_eq!(e.eval([0.0, 0.0, 0.0]), 2.0);
    assert_eq!(e.eval([-0.0, 0.0, 0.0]), 2.0);
    assert!(e.eval([f64::NAN, 0.0, 0.0]).is_nan());
    // Gradients of piecewise expressions pick the branch.
    let e = jit("if(x > 0, x^2*y, -x*y)");
    assert_eq!(e.gradient([2.0, 3.0, 0.0]), [12.0, 4.0, 0.0]);
    assert_eq!(e.gradient([-2.0, 3.0, 0.0]), [-3.0, 2.0, 0.0]);
}

#[test]
fn parameters_through_the_jit() {
    let params = [("a", 2.5), ("k_1", -1.0)];
    let e = Expression::parse_with("a*x + k_1*y^2", &params, JIT).unwrap();
    assert_eq!(e.backend(), BackendKind::Jit);
    assert_eq!(e.eval([2.0, 3.0, 0.0]), 5.0 - 9.0);
    assert_eq!(e.gradient([2.0, 3.0, 0.0]), [2.5, -6.0, 0.0]);
    // Other values are another compiled expression.
    let f = Expression::parse_with("a*x + k_1*y^2", &[("a", 1.0), ("k_1", -1.0)], JIT).unwrap();
    assert!(!f.shares_compiled_code(&e));
    assert_eq!(f.eval([2.0, 3.0, 0.0]), 2.0 - 9.0);
    // Parameter errors are the same with the JIT.
    let err = Expression::parse_with("q + 1", &params, JIT).unwrap_err();
    assert_eq!(err.column, 1);
    assert!(err.message.contains("parameters a, k_1"), "{}", err.message);
    // Fully constant: no JIT needed.
    let c = Expression::parse_with("a^2 * pi", &params, JIT).unwrap();
    assert_eq!(c.backend(), BackendKind::Constant);
    assert_eq!(c.gradient_backend(), BackendKind::Constant);
}

#[test]
fn cache_counts_hits_and_compilations() {
    // Texts unique to this test, so that concurrent tests cannot have cached them.
    let text = "sin(pi*x)*cos(pi*y) + 0.125*x*y*z + 0.000917";
    let before = stats();
    let a = Expression::parse_with(text, &[], JIT).unwrap();
    let b = Expression::parse_with(text, &[], JIT).unwrap();
    let mid = stats().since(&before);
    assert!(a.shares_compiled_code(&b));
    assert!(
        mid.cache_hits >= 1 && mid.cache_misses >= 1 && mid.parses >= 1,
        "{mid:?}"
    );
    assert!(mid.jit_compilations >= 1, "{mid:?}");
    assert!(mid.jit_compile_seconds > 0.0);
    // The same text with the bytecode is a different entry.
    let c = Expression::parse_with(text, &[], BYTECODE).unwrap();
    assert!(!c.shares_compiled_code(&a));
    assert_eq!(c.backend(), BackendKind::Bytecode);
    // The gradient is compiled once, on first use, for all clones.
    let g = a.gradient([0.25, 0.5, 1.0]);
    assert_eq!(b.gradient_backend(), BackendKind::Jit);
    assert_eq!(b.gradient([0.25, 0.5, 1.0]), g);
    assert_eq!(c.gradient([0.25, 0.5, 1.0]), g);
    assert_eq!(c.gradient_backend(), BackendKind::Bytecode);
    let after = stats().since(&before);
    assert!(after.jit_compilations >= 2, "{after:?}");
    assert!(after.bytecode_compilations >= 1, "{after:?}");
    // The counters serialise for reports.
    let json = serde_json::to_value(after).unwrap();
    assert!(json["jit_compilations"].as_u64() >= Some(2));
    let back: ExprStats = serde_json::from_value(json).unwrap();
    assert_eq!(back, after);
}

#[test]
fn parse_field_with_the_jit() {
    let f = parse_field_with("problem.source", "2*pi^2*sin(pi*x)*sin(pi*y)", &[], JIT).unwrap();
    let g =
        femscale_expr::parse_field("problem.source", "2*pi^2*sin(pi*x)*sin(pi*y)", &[]).unwrap();
    let p = [0.3, 0.6, 0.0];
    assert_eq!(f.eval(p).to_bits(), g.eval(p).to_bits());
    assert_eq!(
        parse_field_with("k", "3*2", &[], JIT)
            .unwrap()
            .as_constant(),
        Some(6.0)
    );
    let err = parse_field_with("bc.value", "sin(x", &[], JIT).unwrap_err();
    assert_eq!(err.field_name().as_deref(), Some("bc.value"));
}

#[test]
fn derivatives_keep_the_backend() {
    let e = jit("x^3*y + exp(z)");
    let dx = e.derivative(femscale_expr::Var::X).unwrap();
    assert_eq!(dx.text(), "3*x^2*y");
    assert_eq!(dx.backend(), BackendKind::Jit);
    assert_eq!(dx.eval([2.0, 5.0, 0.0]), 60.0);
}

#[test]
fn graphs_too_large_for_the_jit_fall_back_to_bytecode() {
    // A balanced product of 8192 distinct factors: about 24 600 graph nodes, above the limit.
    fn tree(lo: usize, hi: usize, out: &mut String) {
        if hi - lo == 1 {
            out.push_str(&format!("(x + {lo})"));
        } else {
            let mid = (lo + hi) / 2;
            out.push('(');
            tree(lo, mid, out);
            out.push_str(" * 1e-3 * ");
            tree(mid, hi, out);
            out.push(')');
        }
    }
    let mut text = String::new();
    tree(0, 8192, &mut text);
    let before = stats();
    let e = Expression::parse_with(&text, &[], JIT).unwrap();
    assert_eq!(e.backend(), BackendKind::Bytecode);
    assert!(stats().since(&before).jit_fallbacks >= 1);
    let p = [1e-3, 0.0, 0.0];
    assert!(same(e.eval(p), e.ast().eval([p[0], 0.0, 0.0, 0.0])));
}

#[test]
fn shared_between_threads() {
    let text = "2*pi^2*sin(pi*x)*sin(pi*y) + z*exp(-x) + 0.0271828";
    let pts: Vec<[f64; 3]> = (0..1000)
        .map(|i| [i as f64 / 1000.0, 0.3, 1.0 - i as f64 / 2000.0])
        .collect();
    let reference = Expression::parse_with(text, &[], BYTECODE).unwrap();
    let expected: Vec<f64> = pts.iter().map(|p| reference.eval(*p)).collect();
    let expected_grad: Vec<[f64; 3]> = pts.iter().map(|p| reference.gradient(*p)).collect();
    // Every thread parses (racing on the cache and the lazy gradient) and evaluates.
    let fields: Vec<SharedField> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (pts, expected, expected_grad) = (&pts, &expected, &expected_grad);
                s.spawn(move || {
                    let f = Expression::parse_with(text, &[], JIT).unwrap();
                    let mut out = vec![0.0; pts.len()];
                    let mut grad = vec![[0.0; 3]; pts.len()];
                    for _ in 0..10 {
                        f.eval_batch(pts, &mut out);
                        assert_eq!(&out, expected);
                        f.gradient_batch(pts, &mut grad);
                        assert_eq!(&grad, expected_grad);
                        for (p, want) in pts.iter().zip(expected).step_by(37) {
                            assert_eq!(f.eval(*p), *want);
                        }
                    }
                    Arc::new(f) as SharedField
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    // A field outlives the thread that compiled it.
    for f in &fields {
        assert_eq!(f.eval(pts[10]), expected[10]);
    }
}

#[test]
fn empty_and_constant_sets() {
    let empty = ExpressionSet::new(Vec::new(), JIT);
    assert!(empty.is_empty());
    empty.eval_batch(&[[1.0, 2.0, 3.0]], &mut []);
    let set = ExpressionSet::new(
        vec![
            Expression::parse("2").unwrap(),
            Expression::parse("x").unwrap(),
        ],
        JIT,
    );
    assert_eq!(set.backend(), BackendKind::Jit);
    let mut out = [0.0; 2];
    set.eval([5.0, 0.0, 0.0], &mut out);
    assert_eq!(out, [2.0, 5.0]);
    let set = ExpressionSet::new(vec![Expression::parse("2").unwrap()], JIT);
    assert_eq!(set.backend(), BackendKind::Bytecode);
    assert_eq!(set.expressions().len(), 1);
}
