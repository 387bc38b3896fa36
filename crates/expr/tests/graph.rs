//! Derivatives on the shared graph: linear size for long products, the same trees and the same
//! bits as the tree derivative, and the size limit.

mod common;

use common::{expr, point, same};
use femscale_core::ScalarField;
use femscale_expr::{BackendKind, ExprOptions, Expression, MAX_NODES, Var};
use proptest::prelude::*;

/// `(1+0.001*x)*(1+0.002*x)*...` with `n` factors (the product from the issue).
fn linear_factors(n: usize) -> String {
    linear_factors_from(1, n)
}

/// `sin(x)*sin(2*x)*...*sin(n*y)`, mixing both variables.
fn sine_factors(n: usize) -> String {
    (1..=n)
        .map(|k| format!("sin({k}*{})", if k % 2 == 0 { "y" } else { "x" }))
        .collect::<Vec<_>>()
        .join("*")
}

fn parse(text: &str, jit: bool) -> Expression {
    Expression::parse_with(text, &[], ExprOptions::with_jit(jit)).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn gradient_of_a_long_product_grows_linearly() {
    for make in [linear_factors, sine_factors] {
        let sizes: Vec<usize> = [50, 100, 200, 395]
            .iter()
            .map(|&n| {
                let e = parse(&make(n), false);
                let g = e.gradient_size().unwrap_or_else(|err| panic!("{err}"));
                println!(
                    "{n} factors: graph {} nodes, gradient graph {g} nodes",
                    e.graph_size()
                );
                // A handful of nodes per factor and component: the partial products, their
                // derivatives, and the factor's own derivative.
                assert!(g <= 16 * n, "{n} factors: {g} gradient nodes");
                assert!(e.graph_size() <= 8 * n, "{n} factors: {}", e.graph_size());
                g
            })
            .collect();
        // Doubling the factors about doubles the gradient (a tree would quadruple).
        for w in sizes.windows(2) {
            assert!(w[1] < 3 * w[0], "not linear: {sizes:?}");
        }
        // The tree derivative of the same product is quadratic: it copies the partial
        // products into every term.
        let e = parse(&make(395), false);
        let tree = e.ast().derivative(Var::X).size();
        println!("395 factors: tree derivative d/dx {tree} nodes");
        assert!(tree > 395 * 395 / 2, "tree derivative has {tree} nodes");
        assert!(tree > 20 * sizes[3], "{tree} vs {}", sizes[3]);
    }
}

#[test]
fn long_product_gradient_is_bit_identical_to_the_tree_derivative() {
    let points = [[0.3, 0.7, 0.0], [-0.45, 0.1, 2.0], [0.9, -0.8, 0.5]];
    for text in [linear_factors(395), sine_factors(395)] {
        let bytecode = parse(&text, false);
        let jit = parse(&text, true);
        let tree = [Var::X, Var::Y, Var::Z].map(|v| bytecode.ast().derivative(v));
        let mut batch = [[0.0; 3]; 3];
        bytecode.gradient_batch(&points, &mut batch);
        let mut jit_batch = [[0.0; 3]; 3];
        jit.gradient_batch(&points, &mut jit_batch);
        for (i, p) in points.iter().enumerate() {
            let want = tree.each_ref().map(|d| d.eval([p[0], p[1], p[2], 0.0]));
            let got = bytecode.gradient(*p);
            let got_jit = jit.gradient(*p);
            for d in 0..3 {
                assert!(
                    same(got[d], want[d]),
                    "d{d} at {p:?}: {} vs {}",
                    got[d],
                    want[d]
                );
                assert!(same(batch[i][d], want[d]), "batch d{d} at {p:?}");
                assert!(same(got_jit[d], want[d]), "jit d{d} at {p:?}");
                assert!(same(jit_batch[i][d], want[d]), "jit batch d{d} at {p:?}");
            }
        }
        assert_ne!(bytecode.gradient_backend(), BackendKind::TreeWalk);
    }
}

/// `count` products of `factors` distinct factors each, summed: within the depth limit.
fn sum_of_products(count: usize, factors: usize) -> String {
    (0..count)
        .map(|i| format!("({})", linear_factors_from(1 + i * factors, factors)))
        .collect::<Vec<_>>()
        .join("+")
}

fn linear_factors_from(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|k| format!("(1+{}*x)", k as f64 * 0.001))
        .collect::<Vec<_>>()
        .join("*")
}

#[test]
fn refuses_gradients_over_the_size_limit() {
    // The expression is within the limit; with its gradient it is not.
    let big = sum_of_products(23, 350);
    let e = parse(&big, false);
    assert!(e.graph_size() < MAX_NODES);
    let err = e
        .prepare_gradient()
        .err()
        .unwrap_or_else(|| panic!("gradient of {} nodes accepted", e.graph_size()));
    assert!(err.message.contains("too large"), "{}", err.message);
    assert!(
        err.message.contains(&MAX_NODES.to_string()),
        "{}",
        err.message
    );
    assert!(e.derivative(Var::X).is_err());
    assert!(e.gradient([0.5, 0.5, 0.0]).iter().all(|g| g.is_nan()));
    let core = femscale_expr::parse_differentiable_field_with(
        "problem.exact",
        &big,
        &[],
        ExprOptions::default(),
    )
    .err()
    .unwrap_or_else(|| panic!("accepted"));
    assert_eq!(core.field_name().as_deref(), Some("problem.exact"));
    // Without the gradient (a source, say), only the expression's own size counts.
    assert!(femscale_expr::parse_field("problem.source", &big, &[]).is_ok());
    // A smaller sum is fine with its gradient.
    assert!(
        parse(&sum_of_products(4, 350), false)
            .prepare_gradient()
            .is_ok()
    );
}

#[test]
fn refuses_texts_over_the_size_limit() {
    // 120 groups of 150 products: 72 000 operations, 300 levels deep.
    let group = format!("({})", ["x*y"; 150].join("+"));
    let text = [group.as_str(); 120].join("+");
    let err = Expression::parse(&text)
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert!(err.message.contains("too large"), "{}", err.message);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// The graph derivative unfolds to exactly the tree derivative, and its compiled form
    /// gives the tree derivative's values bit for bit.
    #[test]
    fn graph_derivative_equals_tree_derivative(e in expr(), pts in prop::collection::vec(point(), 1..8)) {
        let text = e.to_string();
        let Ok(compiled) = Expression::parse(&text) else {
            return Ok(());
        };
        let ast = compiled.ast().clone();
        for var in [Var::X, Var::Y, Var::Z] {
            let tree = ast.derivative(var);
            let graph = compiled.derivative(var).unwrap_or_else(|e| panic!("{e}"));
            // Compared as printed with `{:?}`, so that NaN constants compare equal too.
            prop_assert_eq!(format!("{:?}", graph.ast()), format!("{tree:?}"), "{} d/d{}", text, var.name());
        }
        let mut batch = vec![[0.0; 3]; pts.len()];
        compiled.gradient_batch(&pts, &mut batch);
        for (p, b) in pts.iter().zip(&batch) {
            let g = compiled.gradient(*p);
            for (d, var) in [Var::X, Var::Y, Var::Z].into_iter().enumerate() {
                let want = ast.derivative(var).eval([p[0], p[1], p[2], 0.0]);
                prop_assert!(same(g[d], want), "{} d/d{} at {:?}: {} vs {}", text, var.name(), p, g[d], want);
                prop_assert!(same(b[d], want), "{} batch d/d{} at {:?}", text, var.name(), p);
            }
        }
    }
}

/// Values and gradients evaluated together (one four-output JIT kernel) give the bits of the
/// separate evaluations, for both backends, batches of any length and constants.
#[test]
fn value_and_gradient_together_equal_the_separate_evaluations() {
    let texts = [
        "sin(pi*x)*sin(pi*y)",
        "exp(-x*x - y*y) + z^3",
        "(x < 0.5) * x^2 + (x >= 0.5) * (1 - y)",
        "atan2(y, x) * sqrt(x*x + y*y)",
        "3.5",
        &sine_factors(40),
    ];
    for text in texts {
        for jit in [true, false] {
            let e = parse(text, jit);
            for n in [0, 1, 255, 256, 257, 1000] {
                let points: Vec<[f64; 3]> = (0..n)
                    .map(|i| {
                        let s = i as f64 / 97.0;
                        [s.sin() + 0.1, (1.3 * s).cos() - 0.2, 0.5 * s]
                    })
                    .collect();
                let (mut v, mut g) = (vec![0.0; n], vec![[0.0; 3]; n]);
                e.value_and_gradient_batch(&points, &mut v, &mut g);
                let (mut v2, mut g2) = (vec![0.0; n], vec![[0.0; 3]; n]);
                e.eval_batch(&points, &mut v2);
                e.gradient_batch(&points, &mut g2);
                for i in 0..n {
                    assert!(
                        same(v[i], v2[i]),
                        "{text} (jit {jit}): value {} vs {}",
                        v[i],
                        v2[i]
                    );
                    for d in 0..3 {
                        assert!(
                            same(g[i][d], g2[i][d]),
                            "{text} (jit {jit}): d{d} {} vs {}",
                            g[i][d],
                            g2[i][d]
                        );
                    }
                }
            }
        }
    }
}

/// The derivative of `min` and `max` is that of the argument the value takes, also when an
/// argument is NaN (the value then takes the other): `max(x^2, floor(log(x - 0.5)))` is `x^2`
/// everywhere, and its derivative was that of the NaN argument's side (0) for x < 0.5.
#[test]
fn min_and_max_differentiate_the_argument_they_take() {
    // (text, value, derivative in x) — `nan_below` is NaN for x < 0.5 and -1 at x = 0.9.
    let nan_below = "floor(log(x - 0.5))";
    type Of = fn(f64) -> f64;
    let cases: Vec<(String, Of, Of)> = vec![
        (format!("max(x^2, {nan_below})"), |x| x * x, |x| 2.0 * x),
        (format!("max({nan_below}, x^2)"), |x| x * x, |x| 2.0 * x),
        (format!("min(-x^2, -{nan_below})"), |x| -x * x, |x| -2.0 * x),
        (format!("min(-{nan_below}, -x^2)"), |x| -x * x, |x| -2.0 * x),
        (
            "max(x, 3*x)".into(),
            |x| x.max(3.0 * x),
            |x| if 3.0 * x > x { 3.0 } else { 1.0 },
        ),
        (
            "min(x, 3*x)".into(),
            |x| x.min(3.0 * x),
            |x| if 3.0 * x < x { 3.0 } else { 1.0 },
        ),
    ];
    let points = [
        [0.3, 0.0, 0.0],
        [0.9, 0.0, 0.0],
        [-0.2, 0.0, 0.0],
        [0.1, 0.0, 0.0],
    ];
    for (text, value, slope) in &cases {
        for jit in [true, false] {
            let e = parse(text, jit);
            let tree = e.ast().derivative(Var::X);
            let (mut v, mut g) = ([0.0; 4], [[0.0; 3]; 4]);
            e.value_and_gradient_batch(&points, &mut v, &mut g);
            let mut batch = [[0.0; 3]; 4];
            e.gradient_batch(&points, &mut batch);
            for (i, p) in points.iter().enumerate() {
                let x = p[0];
                assert_eq!(v[i], value(x), "{text} at {x}");
                let want = slope(x);
                assert_eq!(g[i][0], want, "{text} (jit {jit}) at {x}");
                assert_eq!(batch[i][0], want, "{text} (jit {jit}) batch at {x}");
                assert_eq!(e.gradient(*p)[0], want, "{text} (jit {jit}) single at {x}");
                assert_eq!(tree.eval([x, 0.0, 0.0, 0.0]), want, "{text} tree at {x}");
            }
        }
    }
}

/// `0^b` is the constant 0 where it is finite; its derivative was `0^b ln(0) db` = NaN.
#[test]
fn a_power_of_zero_has_the_derivative_zero() {
    for text in ["0^x", "0^(x + y)", "0^(2*x)*x + x"] {
        for jit in [true, false] {
            let e = parse(text, jit);
            let p = [0.3, 0.2, 0.0];
            let g = e.gradient(p);
            let mut batch = [[0.0; 3]; 1];
            e.gradient_batch(&[p], &mut batch);
            let want = if text.ends_with("+ x") { 1.0 } else { 0.0 };
            assert_eq!(g[0], want, "{text} (jit {jit})");
            assert_eq!(batch[0][0], want, "{text} (jit {jit}) batch");
            assert_eq!(
                e.ast().derivative(Var::X).eval([0.3, 0.2, 0.0, 0.0]),
                want,
                "{text}"
            );
        }
    }
}
