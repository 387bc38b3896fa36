//! Symbolic differentiation with algebraic simplification.
//!
//! The simplifying constructors here apply identities such as `0 * a = 0` and `1 * a = a`,
//! which hold for finite values only; they are used for derivatives, never for the expression
//! the user wrote (that one is only folded exactly, see [`Expr::binary`]).

use crate::ast::{BinOp, Expr, Func, Var};

fn c(v: f64) -> Expr {
    Expr::Const(v)
}

fn is(e: &Expr, v: f64) -> bool {
    matches!(e, Expr::Const(x) if *x == v)
}

fn add(a: Expr, b: Expr) -> Expr {
    match (a, b) {
        (a, b) if is(&a, 0.0) => b,
        (a, b) if is(&b, 0.0) => a,
        (a, Expr::Neg(b)) => sub(a, *b),
        (Expr::Neg(a), b) => sub(b, *a),
        (a, b) => Expr::binary(BinOp::Add, a, b),
    }
}

fn sub(a: Expr, b: Expr) -> Expr {
    match (a, b) {
        (a, b) if is(&b, 0.0) => a,
        (a, b) if is(&a, 0.0) => neg(b),
        (a, Expr::Neg(b)) => add(a, *b),
        (a, b) if a == b => c(0.0),
        (a, b) => Expr::binary(BinOp::Sub, a, b),
    }
}

fn neg(a: Expr) -> Expr {
    match a {
        Expr::Neg(a) => *a,
        a => Expr::negate(a),
    }
}

fn mul(a: Expr, b: Expr) -> Expr {
    match (a, b) {
        (a, b) if is(&a, 0.0) || is(&b, 0.0) => c(0.0),
        (a, b) if is(&a, 1.0) => b,
        (a, b) if is(&b, 1.0) => a,
        (a, b) if is(&a, -1.0) => neg(b),
        (a, b) if is(&b, -1.0) => neg(a),
        (Expr::Neg(a), Expr::Neg(b)) => mul(*a, *b),
        (Expr::Neg(a), b) | (b, Expr::Neg(a)) => neg(mul(*a, b)),
        // Constants to the left, and merged: c1 * (c2 * a) = (c1 * c2) * a.
        (a, Expr::Const(k)) if a.as_const().is_none() => mul(c(k), a),
        (Expr::Const(k1), Expr::Binary(BinOp::Mul, b1, b2)) if b1.as_const().is_some() => {
            let k2 = b1.as_const().unwrap_or(1.0);
            mul(c(k1 * k2), *b2)
        }
        (a, b) => Expr::binary(BinOp::Mul, a, b),
    }
}

fn div(a: Expr, b: Expr) -> Expr {
    match (a, b) {
        (a, _) if is(&a, 0.0) => c(0.0),
        (a, b) if is(&b, 1.0) => a,
        (Expr::Neg(a), b) => neg(div(*a, b)),
        (a, b) => Expr::binary(BinOp::Div, a, b),
    }
}

fn pow(a: Expr, b: Expr) -> Expr {
    match (a, b) {
        (_, b) if is(&b, 0.0) => c(1.0),
        (a, b) if is(&b, 1.0) => a,
        (a, b) => Expr::binary(BinOp::Pow, a, b),
    }
}

fn call(f: Func, a: Expr) -> Expr {
    Expr::call(f, a)
}

fn select(cond: Expr, a: Expr, b: Expr) -> Expr {
    if a == b && cond.as_const().is_none() {
        a
    } else {
        Expr::select(cond, a, b)
    }
}

impl Expr {
    /// The partial derivative with respect to `var`, simplified.
    ///
    /// Piecewise-constant operations (`floor`, `ceil`, `sign`, comparisons) have derivative 0;
    /// `abs`, `min`, `max` and `if` are differentiated branch by branch. Where the expression is
    /// not differentiable the result is one of the one-sided derivatives, or non-finite.
    pub fn derivative(&self, var: Var) -> Expr {
        if !self.uses(var) {
            return c(0.0);
        }
        match self {
            Expr::Const(_) => c(0.0),
            Expr::Var(v) => c(if *v == var { 1.0 } else { 0.0 }),
            Expr::Neg(a) => neg(a.derivative(var)),
            Expr::Binary(op, a, b) => binary_derivative(*op, a, b, var),
            Expr::Call(f, a) => {
                let da = a.derivative(var);
                if is(&da, 0.0) {
                    return c(0.0);
                }
                let a = (**a).clone();
                let outer = match f {
                    Func::Sin => call(Func::Cos, a),
                    Func::Cos => neg(call(Func::Sin, a)),
                    Func::Tan => div(c(1.0), pow(call(Func::Cos, a), c(2.0))),
                    Func::Asin => div(c(1.0), call(Func::Sqrt, sub(c(1.0), pow(a, c(2.0))))),
                    Func::Acos => neg(div(c(1.0), call(Func::Sqrt, sub(c(1.0), pow(a, c(2.0)))))),
                    Func::Atan => div(c(1.0), add(c(1.0), pow(a, c(2.0)))),
                    Func::Sinh => call(Func::Cosh, a),
                    Func::Cosh => call(Func::Sinh, a),
                    Func::Tanh => div(c(1.0), pow(call(Func::Cosh, a), c(2.0))),
                    Func::Exp => call(Func::Exp, a),
                    Func::Ln => div(c(1.0), a),
                    Func::Log10 => div(c(1.0 / std::f64::consts::LN_10), a),
                    Func::Sqrt => div(c(0.5), call(Func::Sqrt, a)),
                    Func::Abs => call(Func::Sign, a),
                    Func::Floor | Func::Ceil | Func::Sign => c(0.0),
                };
                mul(outer, da)
            }
            Expr::If(cond, a, b) => select((**cond).clone(), a.derivative(var), b.derivative(var)),
        }
    }
}

fn binary_derivative(op: BinOp, a: &Expr, b: &Expr, var: Var) -> Expr {
    let (da, db) = (a.derivative(var), b.derivative(var));
    let (a, b) = (a.clone(), b.clone());
    match op {
        BinOp::Add => add(da, db),
        BinOp::Sub => sub(da, db),
        BinOp::Mul => add(mul(da, b), mul(a, db)),
        BinOp::Div if is(&db, 0.0) => div(da, b),
        BinOp::Div => div(sub(mul(da, b.clone()), mul(a, db)), pow(b, c(2.0))),
        BinOp::Pow => match b.as_const() {
            // d(a^k) = k a^(k-1) da
            Some(k) => mul(mul(c(k), pow(a, c(k - 1.0))), da),
            // 0^b is 0 wherever it is finite (b > 0); ln(0) would make the product NaN.
            None if is(&da, 0.0) && a.as_const() == Some(0.0) => c(0.0),
            None if is(&da, 0.0) => {
                // d(k^b) = k^b ln(k) db
                let ln_a = call(Func::Ln, a.clone());
                mul(mul(pow(a, b), ln_a), db)
            }
            // d(a^b) = a^b (db ln a + b da / a)
            None => {
                let ln_a = call(Func::Ln, a.clone());
                let inner = add(mul(db, ln_a), div(mul(b.clone(), da), a.clone()));
                mul(pow(a, b), inner)
            }
        },
        // The derivative of the argument the value takes ([`crate::ast::min`]): `b` when
        // `b < a` (`b > a` for max) or `a` is NaN, `a` otherwise (also when `b` is NaN).
        BinOp::Min | BinOp::Max => {
            let cmp = if op == BinOp::Min {
                BinOp::Lt
            } else {
                BinOp::Gt
            };
            let a_is_number = Expr::binary(BinOp::Eq, a.clone(), a.clone());
            let takes_b = Expr::binary(cmp, b, a);
            select(takes_b, db.clone(), select(a_is_number, da, db))
        }
        // d atan2(a, b) = (b da - a db) / (a^2 + b^2)
        BinOp::Atan2 => div(
            sub(mul(b.clone(), da), mul(a.clone(), db)),
            add(pow(a, c(2.0)), pow(b, c(2.0))),
        ),
        _ => c(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simplifies_polynomials() {
        let e = crate::parse::parse("x^2 + 3*x*y", &[]).unwrap_or(c(0.0));
        assert_eq!(e.derivative(Var::X).to_string(), "2*x + 3*y");
        assert_eq!(e.derivative(Var::Y).to_string(), "3*x");
        assert_eq!(e.derivative(Var::Z), c(0.0));
    }
}
