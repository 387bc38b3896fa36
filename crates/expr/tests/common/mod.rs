//! Shared test helpers: bitwise comparison and random expression trees.
#![allow(dead_code)]

use femscale_expr::{BinOp, Expr, Func, Var};
use proptest::prelude::*;

/// Equal bit for bit, or both NaN.
pub fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

pub fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        prop::sample::select(vec![0.0, 0.5, 1.0, 2.0, 3.0, -1.5, 0.1, 1e-3, 7.25])
            .prop_map(Expr::Const),
        prop::sample::select(vec![Var::X, Var::Y, Var::Z, Var::T]).prop_map(Expr::Var),
    ]
}

pub fn expr() -> impl Strategy<Value = Expr> {
    let ops = vec![
        BinOp::Add,
        BinOp::Sub,
        BinOp::Mul,
        BinOp::Div,
        BinOp::Pow,
        BinOp::Lt,
        BinOp::Le,
        BinOp::Gt,
        BinOp::Ge,
        BinOp::Eq,
        BinOp::Ne,
        BinOp::Min,
        BinOp::Max,
        BinOp::Atan2,
    ];
    leaf().prop_recursive(6, 48, 3, move |inner| {
        prop_oneof![
            inner.clone().prop_map(|a| Expr::Neg(Box::new(a))),
            (prop::sample::select(Func::ALL.to_vec()), inner.clone())
                .prop_map(|(f, a)| Expr::Call(f, Box::new(a))),
            (
                prop::sample::select(ops.clone()),
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(op, a, b)| Expr::Binary(op, Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone(), inner).prop_map(|(c, a, b)| Expr::If(
                Box::new(c),
                Box::new(a),
                Box::new(b)
            )),
        ]
    })
}

pub fn point() -> impl Strategy<Value = [f64; 3]> {
    [-2.0..2.0f64, -2.0..2.0f64, -2.0..2.0f64]
}
