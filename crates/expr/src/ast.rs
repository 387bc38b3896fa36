//! The expression tree, the meaning of every operation, and a reference tree-walking evaluator.
//!
//! Every backend evaluates operations with the semantics of [`BinOp::apply`] and
//! [`Func::apply`]: the tree walker here, constant folding and the [bytecode](crate::bytecode)
//! interpreter call them, and the JIT either emits the same IEEE operation (`+ - * /`, `sqrt`,
//! `abs`, comparisons, selects) or calls these very functions, so all agree bit for bit.

use std::fmt;

/// A variable of an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Var {
    /// First coordinate.
    X,
    /// Second coordinate.
    Y,
    /// Third coordinate.
    Z,
    /// Time. Reserved for time-dependent data: it currently always evaluates to 0.
    T,
}

impl Var {
    /// All variables, in register order.
    pub const ALL: [Var; 4] = [Var::X, Var::Y, Var::Z, Var::T];

    /// The index of the variable in a `[x, y, z, t]` array.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The name used in expression text.
    pub fn name(self) -> &'static str {
        match self {
            Var::X => "x",
            Var::Y => "y",
            Var::Z => "z",
            Var::T => "t",
        }
    }

    /// The variable called `name`, if any.
    pub fn from_name(name: &str) -> Option<Var> {
        Var::ALL.into_iter().find(|v| v.name() == name)
    }
}

/// A binary operation: arithmetic, comparison, or a two-argument function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BinOp {
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a * b`.
    Mul,
    /// `a / b`.
    Div,
    /// `a ^ b` and `pow(a, b)`; `a ^ 2` is computed as `a * a`.
    Pow,
    /// `a < b` (1 or 0).
    Lt,
    /// `a <= b` (1 or 0).
    Le,
    /// `a > b` (1 or 0).
    Gt,
    /// `a >= b` (1 or 0).
    Ge,
    /// `a == b` (1 or 0).
    Eq,
    /// `a != b` (1 or 0).
    Ne,
    /// `min(a, b)`: the smaller argument, ignoring a NaN argument like [`f64::min`]; when the
    /// arguments compare equal (`-0` and `+0`) it is `a`, so every backend agrees bit for bit.
    Min,
    /// `max(a, b)`: the larger argument, ignoring a NaN argument like [`f64::max`]; when the
    /// arguments compare equal (`-0` and `+0`) it is `a`.
    Max,
    /// `atan2(a, b)`: the angle of the point `(b, a)`, as [`f64::atan2`].
    Atan2,
}

impl BinOp {
    /// The value of the operation. This is the single definition every backend uses.
    #[inline(always)]
    pub fn apply(self, a: f64, b: f64) -> f64 {
        let truth = |c: bool| if c { 1.0 } else { 0.0 };
        match self {
            BinOp::Add => a + b,
            BinOp::Sub => a - b,
            BinOp::Mul => a * b,
            BinOp::Div => a / b,
            BinOp::Pow => pow(a, b),
            BinOp::Lt => truth(a < b),
            BinOp::Le => truth(a <= b),
            BinOp::Gt => truth(a > b),
            BinOp::Ge => truth(a >= b),
            BinOp::Eq => truth(a == b),
            BinOp::Ne => truth(a != b),
            BinOp::Min => min(a, b),
            BinOp::Max => max(a, b),
            BinOp::Atan2 => a.atan2(b),
        }
    }

    /// The operator symbol, or the function name for `min`, `max` and `atan2`.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Pow => "^",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Min => "min",
            BinOp::Max => "max",
            BinOp::Atan2 => "atan2",
        }
    }

    /// Whether the operation is written as a function call (`min(a, b)`).
    pub fn is_function(self) -> bool {
        matches!(self, BinOp::Min | BinOp::Max | BinOp::Atan2)
    }

    /// Whether the operation is a comparison.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne
        )
    }
}

/// `a ^ b`. Squares are computed as `a * a` (exact rounding, and fast); everything else with
/// [`f64::powf`].
#[inline(always)]
pub fn pow(a: f64, b: f64) -> f64 {
    if b == 2.0 { a * a } else { a.powf(b) }
}

/// `min(a, b)`: `b` when `a` is NaN or `b < a`, `a` otherwise. Equals [`f64::min`] except
/// that the sign of a zero result is defined (that of `a`).
#[inline(always)]
pub fn min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b < a { b } else { a }
}

/// `max(a, b)`: `b` when `a` is NaN or `b > a`, `a` otherwise. Equals [`f64::max`] except
/// that the sign of a zero result is defined (that of `a`).
#[inline(always)]
pub fn max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b > a { b } else { a }
}

/// The value of `if(cond, a, b)`: `a` when `cond` is non-zero, `b` when it is zero, NaN when
/// `cond` is NaN.
#[inline(always)]
pub fn select(cond: f64, a: f64, b: f64) -> f64 {
    if cond.is_nan() {
        f64::NAN
    } else if cond != 0.0 {
        a
    } else {
        b
    }
}

macro_rules! funcs {
    ($v:ident; $($variant:ident $name:literal $doc:literal => $body:expr;)*) => {
        /// A one-argument function.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Func {
            $(#[doc = $doc] $variant,)*
        }

        impl Func {
            /// All one-argument functions.
            pub const ALL: &'static [Func] = &[$(Func::$variant,)*];

            /// The value of the function. This is the single definition every backend uses.
            #[inline(always)]
            pub fn apply(self, $v: f64) -> f64 {
                match self {
                    $(Func::$variant => $body,)*
                }
            }

            /// The name used in expression text.
            pub fn name(self) -> &'static str {
                match self {
                    $(Func::$variant => $name,)*
                }
            }
        }
    };
}

funcs! {
    v;
    Sin "sin" "Sine (see [`crate::trig`])." => crate::trig::sin(v);
    Cos "cos" "Cosine (see [`crate::trig`])." => crate::trig::cos(v);
    Tan "tan" "Tangent." => v.tan();
    Asin "asin" "Inverse sine." => v.asin();
    Acos "acos" "Inverse cosine." => v.acos();
    Atan "atan" "Inverse tangent." => v.atan();
    Sinh "sinh" "Hyperbolic sine." => v.sinh();
    Cosh "cosh" "Hyperbolic cosine." => v.cosh();
    Tanh "tanh" "Hyperbolic tangent." => v.tanh();
    Exp "exp" "Exponential." => v.exp();
    Ln "log" "Natural logarithm (`log` or `ln`)." => v.ln();
    Log10 "log10" "Decimal logarithm." => v.log10();
    Sqrt "sqrt" "Square root." => v.sqrt();
    Abs "abs" "Absolute value." => v.abs();
    Floor "floor" "Largest integer not above the argument." => v.floor();
    Ceil "ceil" "Smallest integer not below the argument." => v.ceil();
    Sign "sign" "-1, 0 or 1 by the sign of the argument (NaN for NaN)." => {
        if v > 0.0 { 1.0 } else if v < 0.0 { -1.0 } else if v == 0.0 { 0.0 } else { f64::NAN }
    };
}

/// A function as named in expression text, with its argument count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Callable {
    Unary(Func),
    Binary(BinOp),
    /// `min`/`max` with two or more arguments.
    Variadic(BinOp),
    If,
}

impl Callable {
    /// Looks up a function name.
    pub(crate) fn lookup(name: &str) -> Option<Callable> {
        if name == "ln" {
            return Some(Callable::Unary(Func::Ln));
        }
        if let Some(f) = Func::ALL.iter().find(|f| f.name() == name) {
            return Some(Callable::Unary(*f));
        }
        Some(match name {
            "pow" => Callable::Binary(BinOp::Pow),
            "atan2" => Callable::Binary(BinOp::Atan2),
            "min" => Callable::Variadic(BinOp::Min),
            "max" => Callable::Variadic(BinOp::Max),
            "if" => Callable::If,
            _ => return None,
        })
    }

    /// All function names, for error messages.
    pub(crate) fn names() -> Vec<&'static str> {
        let mut names: Vec<_> = Func::ALL.iter().map(|f| f.name()).collect();
        names.extend(["ln", "pow", "atan2", "min", "max", "if"]);
        names
    }
}

/// An expression tree.
///
/// Parameters and the constants `pi` and `e` are replaced by their values while parsing, so the
/// only leaves are constants and [variables](Var).
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A number.
    Const(f64),
    /// A variable.
    Var(Var),
    /// `-a`.
    Neg(Box<Expr>),
    /// A binary operation.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// A one-argument function.
    Call(Func, Box<Expr>),
    /// `if(cond, then, else)`, see [`select`].
    If(Box<Expr>, Box<Expr>, Box<Expr>),
}

impl Expr {
    /// The reference tree-walking evaluator; `vars` is `[x, y, z, t]`.
    ///
    /// Slow compared with [`Expression`](crate::Expression), but obviously right: tests check
    /// the compiled forms against it.
    pub fn eval(&self, vars: [f64; 4]) -> f64 {
        match self {
            Expr::Const(c) => *c,
            Expr::Var(v) => vars[v.index()],
            Expr::Neg(a) => -a.eval(vars),
            Expr::Binary(op, a, b) => op.apply(a.eval(vars), b.eval(vars)),
            Expr::Call(f, a) => f.apply(a.eval(vars)),
            Expr::If(c, a, b) => {
                let c = c.eval(vars);
                if c.is_nan() {
                    f64::NAN
                } else if c != 0.0 {
                    a.eval(vars)
                } else {
                    b.eval(vars)
                }
            }
        }
    }

    /// The value, when the expression is a constant.
    pub fn as_const(&self) -> Option<f64> {
        match self {
            Expr::Const(c) => Some(*c),
            _ => None,
        }
    }

    /// Whether `var` occurs in the expression.
    pub fn uses(&self, var: Var) -> bool {
        match self {
            Expr::Const(_) => false,
            Expr::Var(v) => *v == var,
            Expr::Neg(a) | Expr::Call(_, a) => a.uses(var),
            Expr::Binary(_, a, b) => a.uses(var) || b.uses(var),
            Expr::If(c, a, b) => c.uses(var) || a.uses(var) || b.uses(var),
        }
    }

    /// The number of nodes.
    pub fn size(&self) -> usize {
        1 + match self {
            Expr::Const(_) | Expr::Var(_) => 0,
            Expr::Neg(a) | Expr::Call(_, a) => a.size(),
            Expr::Binary(_, a, b) => a.size() + b.size(),
            Expr::If(c, a, b) => c.size() + a.size() + b.size(),
        }
    }

    /// `-a`, folding constants exactly.
    pub fn negate(a: Expr) -> Expr {
        match a {
            Expr::Const(c) => Expr::Const(-c),
            a => Expr::Neg(Box::new(a)),
        }
    }

    /// `a op b`, folding constants exactly (with the same arithmetic as evaluation).
    pub fn binary(op: BinOp, a: Expr, b: Expr) -> Expr {
        match (&a, &b) {
            (Expr::Const(x), Expr::Const(y)) => Expr::Const(op.apply(*x, *y)),
            _ => Expr::Binary(op, Box::new(a), Box::new(b)),
        }
    }

    /// `f(a)`, folding constants exactly.
    pub fn call(f: Func, a: Expr) -> Expr {
        match a {
            Expr::Const(c) => Expr::Const(f.apply(c)),
            a => Expr::Call(f, Box::new(a)),
        }
    }

    /// `if(c, a, b)`, choosing the branch when the condition is constant.
    pub fn select(c: Expr, a: Expr, b: Expr) -> Expr {
        match c {
            Expr::Const(c) if c.is_nan() => Expr::Const(f64::NAN),
            Expr::Const(c) if c != 0.0 => a,
            Expr::Const(_) => b,
            c => Expr::If(Box::new(c), Box::new(a), Box::new(b)),
        }
    }

    /// Binding strength when printed: 1 comparison, 2 sum, 3 product, 4 sign, 5 power, 6 atom.
    fn precedence(&self) -> u8 {
        match self {
            Expr::Const(c) if c.is_sign_negative() => 4,
            Expr::Const(_) | Expr::Var(_) | Expr::Call(..) | Expr::If(..) => 6,
            Expr::Neg(_) => 4,
            Expr::Binary(op, ..) => match op {
                BinOp::Add | BinOp::Sub => 2,
                BinOp::Mul | BinOp::Div => 3,
                BinOp::Pow => 5,
                op if op.is_function() => 6,
                _ => 1,
            },
        }
    }
}

/// Writes `e`, in parentheses when it binds less strongly than `min`.
fn write_prec(f: &mut fmt::Formatter<'_>, e: &Expr, min: u8) -> fmt::Result {
    if e.precedence() < min {
        write!(f, "({e})")
    } else {
        write!(f, "{e}")
    }
}

/// Prints text that parses back to the same tree (for finite constants).
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Const(c) => {
                let s = format!("{c:?}");
                f.write_str(s.strip_suffix(".0").unwrap_or(&s))
            }
            Expr::Var(v) => f.write_str(v.name()),
            Expr::Neg(a) => {
                f.write_str("-")?;
                write_prec(f, a, 4)
            }
            Expr::Binary(op, a, b) if op.is_function() => {
                write!(f, "{}({a}, {b})", op.symbol())
            }
            Expr::Binary(op, a, b) => {
                let (left, right) = match op {
                    BinOp::Add | BinOp::Sub => (2, 3),
                    BinOp::Mul | BinOp::Div => (3, 4),
                    BinOp::Pow => (6, 4),
                    _ => (2, 2),
                };
                write_prec(f, a, left)?;
                match op {
                    BinOp::Pow | BinOp::Mul | BinOp::Div => f.write_str(op.symbol())?,
                    op => write!(f, " {} ", op.symbol())?,
                }
                write_prec(f, b, right)
            }
            Expr::Call(func, a) => write!(f, "{}({a})", func.name()),
            Expr::If(c, a, b) => write!(f, "if({c}, {a}, {b})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_keeps_structure() {
        let x = || Expr::Var(Var::X);
        let e = Expr::binary(
            BinOp::Sub,
            x(),
            Expr::binary(BinOp::Sub, x(), Expr::Const(1.0)),
        );
        assert_eq!(e.to_string(), "x - (x - 1)");
        let e = Expr::negate(Expr::binary(BinOp::Pow, x(), Expr::Const(2.0)));
        assert_eq!(e.to_string(), "-x^2");
        let e = Expr::binary(BinOp::Pow, Expr::negate(x()), Expr::Const(-0.5));
        assert_eq!(e.to_string(), "(-x)^-0.5");
    }

    #[test]
    fn sign_and_select() {
        assert_eq!(Func::Sign.apply(-3.0), -1.0);
        assert_eq!(Func::Sign.apply(0.0), 0.0);
        assert!(Func::Sign.apply(f64::NAN).is_nan());
        assert_eq!(select(0.0, 1.0, 2.0), 2.0);
        assert!(select(f64::NAN, 1.0, 2.0).is_nan());
    }
}
