//! The expression language: precedence, functions, comparisons, parameters, folding, errors.

use std::f64::consts::{E, PI};

use femscale_core::{Error, ScalarField};
use femscale_expr::{Expr, Expression, Var, parse_field};

fn ev(text: &str, p: [f64; 3]) -> f64 {
    Expression::parse(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .eval(p)
}

fn ev0(text: &str) -> f64 {
    ev(text, [0.0; 3])
}

fn err(text: &str) -> (usize, String) {
    match Expression::parse(text) {
        Ok(e) => panic!("{text:?} parsed as {:?}", e.ast()),
        Err(e) => (e.column, e.message),
    }
}

#[test]
fn precedence_and_associativity() {
    assert_eq!(ev0("2^3^2"), 512.0);
    assert_eq!(ev0("2**3**2"), 512.0);
    assert_eq!(ev0("-2^2"), -4.0);
    assert_eq!(ev0("(-2)^2"), 4.0);
    assert_eq!(ev0("1-2-3"), -4.0);
    assert_eq!(ev0("8/4/2"), 1.0);
    assert_eq!(ev0("2+3*4"), 14.0);
    assert_eq!(ev0("(2+3)*4"), 20.0);
    assert_eq!(ev0("2^-1"), 0.5);
    assert_eq!(ev0("-3*-2"), 6.0);
    assert_eq!(ev0("--3"), 3.0);
    assert_eq!(ev0("+3 - +2"), 1.0);
    assert_eq!(ev0("2*3^2"), 18.0);
    assert_eq!(ev0("1 + 2 < 4"), 1.0);
    assert_eq!(ev("-x^2", [3.0, 0.0, 0.0]), -9.0);
    assert_eq!(ev("x^y^z", [2.0, 3.0, 2.0]), 512.0);
    assert_eq!(ev("x-y-z", [1.0, 2.0, 3.0]), -4.0);
    assert_eq!(ev("x/y/z", [8.0, 4.0, 2.0]), 1.0);
    assert_eq!(ev(".5e1 + 1e-3 + 2.", [0.0; 3]), 7.001);
}

type Unary = fn(f64) -> f64;
type Binary = fn(f64, f64) -> f64;

#[test]
fn every_function_matches_std() {
    let unary: &[(&str, Unary)] = &[
        ("sin", femscale_expr::trig::sin),
        ("cos", femscale_expr::trig::cos),
        ("tan", f64::tan),
        ("asin", f64::asin),
        ("acos", f64::acos),
        ("atan", f64::atan),
        ("exp", f64::exp),
        ("log", f64::ln),
        ("ln", f64::ln),
        ("log10", f64::log10),
        ("sqrt", f64::sqrt),
        ("abs", f64::abs),
        ("sinh", f64::sinh),
        ("cosh", f64::cosh),
        ("tanh", f64::tanh),
        ("floor", f64::floor),
        ("ceil", f64::ceil),
    ];
    for &(name, f) in unary {
        let e = Expression::parse(&format!("{name}(x)")).unwrap();
        for x in [-0.7, -0.2, 0.0, 0.3, 0.9, 1.7, 2.5] {
            let (got, want) = (e.eval([x, 0.0, 0.0]), f(x));
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "{name}({x}) = {got}, std says {want}"
            );
            // Folded at parse time with the same arithmetic.
            let folded = Expression::parse(&format!("{name}({x})"));
            if want.is_finite() {
                assert_eq!(folded.unwrap().constant(), Some(want), "{name}({x})");
            } else {
                assert!(folded.is_err(), "{name}({x}) should be rejected");
            }
        }
    }
    let binary: &[(&str, Binary)] = &[
        ("pow", f64::powf),
        ("atan2", f64::atan2),
        ("min", f64::min),
        ("max", f64::max),
    ];
    for &(name, f) in binary {
        let e = Expression::parse(&format!("{name}(x, y)")).unwrap();
        for (x, y) in [(0.5, 1.5), (2.0, -0.5), (-1.0, 3.0), (3.0, 3.0), (0.2, 0.0)] {
            let (got, want) = (e.eval([x, y, 0.0]), f(x, y));
            assert_eq!(got.to_bits(), want.to_bits(), "{name}({x}, {y})");
        }
    }
    assert_eq!(ev("sign(x)", [-2.0, 0.0, 0.0]), -1.0);
    assert_eq!(ev("sign(x)", [0.0, 0.0, 0.0]), 0.0);
    assert_eq!(ev("sign(x)", [5.0, 0.0, 0.0]), 1.0);
    assert_eq!(ev("min(x, y, z, 2)", [4.0, 3.0, 5.0]), 2.0);
    assert_eq!(ev("max(x, y, z)", [4.0, 3.0, 5.0]), 5.0);
    assert_eq!(ev("x^2", [1.1, 0.0, 0.0]), 1.1 * 1.1);
    assert_eq!(ev("x^y", [1.1, 2.5, 0.0]), 1.1f64.powf(2.5));
    assert_eq!(ev0("pi"), PI);
    assert_eq!(ev0("e"), E);
}

#[test]
fn comparisons_and_if() {
    let cases = [
        ("x < y", 1.0, 0.0, 0.0),
        ("x <= y", 1.0, 1.0, 0.0),
        ("x > y", 0.0, 0.0, 1.0),
        ("x >= y", 0.0, 1.0, 1.0),
        ("x == y", 0.0, 1.0, 0.0),
        ("x != y", 1.0, 0.0, 1.0),
    ];
    for (text, less, equal, greater) in cases {
        let e = Expression::parse(text).unwrap();
        assert_eq!(e.eval([1.0, 2.0, 0.0]), less, "{text} (1, 2)");
        assert_eq!(e.eval([2.0, 2.0, 0.0]), equal, "{text} (2, 2)");
        assert_eq!(e.eval([3.0, 2.0, 0.0]), greater, "{text} (3, 2)");
    }
    let e = Expression::parse("if(x > 0.5, 10 + y, -y)").unwrap();
    assert_eq!(e.eval([0.7, 2.0, 0.0]), 12.0);
    assert_eq!(e.eval([0.2, 2.0, 0.0]), -2.0);
    assert!(e.eval([f64::NAN, 2.0, 0.0]) == -2.0, "NaN > 0.5 is false");
    let e = Expression::parse("if(x, 1, 2)").unwrap();
    assert_eq!(e.eval([-3.0, 0.0, 0.0]), 1.0);
    assert_eq!(e.eval([0.0, 0.0, 0.0]), 2.0);
    assert!(e.eval([f64::NAN, 0.0, 0.0]).is_nan());
    assert_eq!(ev0("if(1 < 2, 3, 4)"), 3.0);
    assert_eq!(
        Expression::parse("if(0, x, 4)").unwrap().constant(),
        Some(4.0)
    );
}

#[test]
fn parameters_and_time() {
    let params = [("a", 2.5), ("k_1", -1.0)];
    let e = Expression::parse_with_params("a*x + k_1", &params).unwrap();
    assert_eq!(e.eval([2.0, 0.0, 0.0]), 4.0);
    let c = Expression::parse_with_params("a^2 * pi", &params).unwrap();
    assert_eq!(c.as_constant(), Some(6.25 * PI));
    for bad in [
        ("x", 1.0),
        ("pi", 1.0),
        ("sin", 1.0),
        ("2a", 1.0),
        ("b", f64::NAN),
    ] {
        let r = Expression::parse_with_params("1", &[bad]);
        assert!(r.is_err(), "parameter {bad:?} accepted");
    }
    let e = Expression::parse_with_params("q + 1", &params).unwrap_err();
    assert!(e.message.contains("parameters a, k_1"), "{}", e.message);
    // t is reserved and currently 0, but does not make an expression constant.
    let e = Expression::parse("x + t").unwrap();
    assert_eq!(e.eval([2.0, 0.0, 0.0]), 2.0);
    assert_eq!(Expression::parse("cos(t)").unwrap().as_constant(), None);
    assert_eq!(ev0("cos(t)"), 1.0);
}

#[test]
fn constant_folding() {
    let e = Expression::parse("2*pi^2").unwrap();
    assert_eq!(e.as_constant(), Some(2.0 * PI * PI));
    assert_eq!(e.ast(), &Expr::Const(2.0 * PI * PI));
    assert_eq!(e.gradient([1.0, 2.0, 3.0]), [0.0; 3]);
    // The constant prefix of the source term is one node.
    let e = Expression::parse("2*pi^2*sin(pi*x)*sin(pi*y)").unwrap();
    assert_eq!(
        e.ast().to_string(),
        format!("{:?}*sin({PI:?}*x)*sin({PI:?}*y)", 2.0 * PI * PI)
    );
    assert_eq!(e.as_constant(), None);
    assert_eq!(
        Expression::parse("sqrt(16) + max(1, 2, 3)")
            .unwrap()
            .as_constant(),
        Some(7.0)
    );
    assert_eq!(Expression::parse("x*0").unwrap().as_constant(), None);
    // parse_field gives Constant for constants and the expression otherwise.
    let f = parse_field("k", "3*2", &[]).unwrap();
    assert_eq!(f.as_constant(), Some(6.0));
    assert_eq!(f.describe(), "6");
    let f = parse_field("k", "1 + x", &[]).unwrap();
    assert_eq!(f.describe(), "1 + x");
    assert_eq!(f.eval([2.0, 0.0, 0.0]), 3.0);
}

#[test]
fn error_columns_and_messages() {
    let cases: &[(&str, usize, &str)] = &[
        ("sin(x", 6, "expected `)` to close the `(` at column 4"),
        ("2*+", 4, "expected an expression, found end of input"),
        ("foo(x)", 1, "unknown function `foo`"),
        (
            "q + 1",
            1,
            "unknown identifier `q`; valid names are variables x, y, z, t",
        ),
        ("sin(x, y)", 1, "`sin` takes 1 argument, got 2"),
        ("atan2(x)", 1, "`atan2` takes 2 arguments, got 1"),
        ("if(x, 1)", 1, "`if` takes 3 arguments"),
        ("min(x)", 1, "at least 2 arguments"),
        ("", 1, "empty expression"),
        ("   ", 1, "empty expression"),
        ("(x + 1))", 8, "unbalanced parentheses"),
        ("((x)", 5, "expected `)` to close the `(` at column 1"),
        ("x + )", 5, "found `)`"),
        ("2 x", 3, "missing an operator"),
        ("1/0", 2, "evaluates to inf"),
        ("x + log(0)", 5, "evaluates to -inf"),
        ("sqrt(-1)*x", 1, "evaluates to NaN"),
        ("1e999", 1, "out of range"),
        ("1e+", 4, "exponent"),
        ("x = 1", 3, "use `==`"),
        ("x # 2", 3, "unexpected character `#`"),
        ("1 < x < 2", 7, "cannot be chained"),
        ("sin + 1", 1, "`sin` is a function"),
        ("x(2)", 1, "`x` is not a function"),
        ("2 *, 3", 4, "found `,`"),
    ];
    for &(text, column, message) in cases {
        let (col, msg) = err(text);
        assert!(
            msg.contains(message),
            "{text:?}: message {msg:?} lacks {message:?}"
        );
        assert_eq!(col, column, "{text:?}: {msg}");
    }
    let deep = format!("{}x{}", "(".repeat(5000), ")".repeat(5000));
    assert!(err(&deep).1.contains("nested too deeply"));
    let long = vec!["x"; 5000].join(" + ");
    assert!(err(&long).1.contains("more than 400 terms"));
    // Long but reasonable inputs are fine.
    let chain = vec!["x*y"; 300].join(" + ");
    assert_eq!(
        Expression::parse(&chain).unwrap().gradient([1.0, 2.0, 0.0]),
        [600.0, 300.0, 0.0]
    );
    let nested = format!("{}x{}", "sin(".repeat(90), ")".repeat(90));
    assert!(
        Expression::parse(&nested)
            .unwrap()
            .gradient([0.5, 0.0, 0.0])[0]
            > 0.0
    );
    // Display and conversion to the core error.
    let e = Expression::parse("sin(x").unwrap_err();
    assert_eq!(
        e.to_string(),
        "column 6: expected `)` to close the `(` at column 4\n  sin(x\n       ^"
    );
    let core = e.into_core("problem.source");
    assert!(
        matches!(&core, Error::Expression { column: 6, field, .. } if field == "problem.source")
    );
    assert!(core.to_string().ends_with("  sin(x\n       ^"));
    let Err(core) = parse_field("bc.value", "foo(x)", &[]) else {
        panic!("foo(x) accepted");
    };
    assert_eq!(core.field_name().as_deref(), Some("bc.value"));
}

#[test]
fn derivative_text_is_simplified() {
    let e = Expression::parse("x^3 + sin(2*y)").unwrap();
    assert_eq!(e.derivative(Var::X).unwrap().text(), "3*x^2");
    assert_eq!(e.derivative(Var::Y).unwrap().text(), "2*cos(2*y)");
    assert_eq!(e.derivative(Var::Z).unwrap().as_constant(), Some(0.0));
    let g = e.gradient([2.0, 0.0, 5.0]);
    assert_eq!(g, [12.0, 2.0, 0.0]);
    assert_eq!(format!("{e:?}"), "Expression(\"x^3 + sin(2*y)\")");
    assert_eq!(e.describe(), "x^3 + sin(2*y)");
}

#[test]
fn batched_gradients_equal_pointwise_gradients() {
    let e = Expression::parse("exp(x)*cos(y) + x*y*z^2").unwrap();
    let points: Vec<[f64; 3]> = (0..150)
        .map(|i| {
            let t = i as f64 * 0.037;
            [t.sin(), 1.0 - t, 0.5 * t]
        })
        .collect();
    let mut batch = vec![[0.0; 3]; points.len()];
    e.gradient_batch(&points, &mut batch);
    for (p, g) in points.iter().zip(&batch) {
        assert_eq!(*g, e.gradient(*p));
    }
    let expected = [
        points[7][0].exp() * points[7][1].cos() + points[7][1] * points[7][2].powi(2),
        0.0,
        0.0,
    ];
    assert!((batch[7][0] - expected[0]).abs() < 1e-12);
}
