//! # femscale-expr
//!
//! Math expressions of position — diffusion coefficients, sources, boundary values and exact
//! solutions written in config files — parsed once and evaluated fast.
//!
//! ```
//! use femscale_core::ScalarField;
//! use femscale_expr::Expression;
//!
//! let f = Expression::parse("2*pi^2*sin(pi*x)*sin(pi*y)").unwrap();
//! assert!((f.eval([0.5, 0.5, 0.0]) - 2.0 * std::f64::consts::PI.powi(2)).abs() < 1e-12);
//! let g = f.gradient([0.25, 0.5, 0.0]); // exact, from symbolic derivatives
//! assert!(g[1].abs() < 1e-12);
//! ```
//!
//! ## Language
//!
//! - numbers: `2`, `1.5`, `.5`, `1e-3`;
//! - variables `x`, `y`, `z`, and `t` — reserved for time-dependent data, it currently always
//!   evaluates to 0;
//! - constants `pi` and `e`, and named parameters supplied when parsing
//!   ([`Expression::parse_with_params`]);
//! - `+ - * /`, `^` (or `**`; right-associative and binding tighter than unary minus, so
//!   `2^3^2 = 512` and `-x^2 = -(x^2)`), unary `-` and `+`, parentheses;
//! - comparisons `< <= > >= == !=` (1 when true, 0 when false; not chainable) and
//!   `if(cond, a, b)` (`a` when `cond` is non-zero, `b` when zero, NaN when NaN);
//! - functions `sin cos tan asin acos atan sinh cosh tanh exp log` (natural; `ln` too) `log10
//!   sqrt abs sign floor ceil`, and `pow(a, b)`, `atan2(y, x)`, `min(a, b, ...)`,
//!   `max(a, b, ...)`.
//!
//! ## Pipeline
//!
//! text → [`parse`](Expression::parse) (recursive descent, folding constant subtrees exactly
//! and rejecting non-finite constants such as `1/0`) → [`Expr`] tree → a compiled backend.
//! The only backend today is [`bytecode::Program`], a register machine with a single-point and
//! a chunked batch interpreter; a JIT would take the same [`Expr`] and become another variant
//! of the private `Backend` enum that [`Expression`] dispatches on. All backends share the
//! semantics defined by [`BinOp::apply`] and [`Func::apply`], and [`Expr::eval`] is the
//! reference they are tested against.

pub mod ast;
pub mod bytecode;
mod derive;
mod parse;

use std::fmt;
use std::sync::Arc;

use femscale_core::{Constant, ScalarField, SharedField};

pub use ast::{BinOp, Expr, Func, Var};
use bytecode::Program;

/// A parse error: where in the text, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    /// 1-based column (in characters) of the problem.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// The expression text.
    pub text: String,
}

impl ExprError {
    /// Converts into [`femscale_core::Error::Expression`] for the parameter `field`.
    pub fn into_core(self, field: &str) -> femscale_core::Error {
        femscale_core::Error::Expression {
            field: field.to_owned(),
            text: self.text,
            column: self.column,
            message: self.message,
        }
    }
}

/// `column N: message`, then the text and a caret under the column.
impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "column {}: {}\n  {}\n  {:>width$}",
            self.column,
            self.message,
            self.text,
            "^",
            width = self.column
        )
    }
}

impl std::error::Error for ExprError {}

/// A compiled form of an expression.
#[derive(Debug, Clone)]
enum Backend {
    Constant(f64),
    Bytecode(Program),
}

impl Backend {
    fn compile(expr: &Expr, text: &str) -> Result<Backend, ExprError> {
        if let Some(c) = expr.as_const() {
            return Ok(Backend::Constant(c));
        }
        Program::compile(expr)
            .map(Backend::Bytecode)
            .map_err(|_| ExprError {
                column: 1,
                message: "expression too large to compile".into(),
                text: text.to_owned(),
            })
    }

    #[inline]
    fn eval(&self, vars: [f64; 4]) -> f64 {
        match self {
            Backend::Constant(c) => *c,
            Backend::Bytecode(p) => p.eval(vars),
        }
    }

    fn eval_batch(&self, points: &[[f64; 3]], out: &mut [f64]) {
        match self {
            Backend::Constant(c) => {
                assert_eq!(
                    points.len(),
                    out.len(),
                    "eval_batch: output length differs from input"
                );
                out.fill(*c);
            }
            Backend::Bytecode(p) => p.eval_batch(points, out),
        }
    }
}

struct Inner {
    text: String,
    ast: Expr,
    value: Backend,
    /// Compiled `d/dx`, `d/dy`, `d/dz`.
    gradient: [Backend; 3],
}

/// A parsed and compiled expression of `x, y, z` (and the reserved `t = 0`).
///
/// Cheap to clone (the compiled forms are shared), `Send + Sync`, and a [`ScalarField`] with
/// exact gradients from symbolic differentiation.
#[derive(Clone)]
pub struct Expression {
    inner: Arc<Inner>,
}

impl Expression {
    /// Parses and compiles `text` with the variables `x, y, z, t` and constants `pi, e`.
    ///
    /// # Errors
    /// [`ExprError`] with the column of the problem.
    pub fn parse(text: &str) -> Result<Self, ExprError> {
        Self::parse_with_params(text, &[])
    }

    /// Like [`parse`](Self::parse), with named parameters that are replaced by their values
    /// (and folded with the constants around them).
    ///
    /// # Errors
    /// [`ExprError`] for invalid text, and for parameters that are not valid names, shadow a
    /// built-in name, repeat, or are not finite.
    pub fn parse_with_params(text: &str, params: &[(&str, f64)]) -> Result<Self, ExprError> {
        let ast = parse::parse(text, params)?;
        Self::from_ast(ast, text)
    }

    /// Compiles a tree; `text` is what [`text`](Self::text) and error messages show.
    ///
    /// # Errors
    /// [`ExprError`] when the tree is too large to compile.
    pub fn from_ast(ast: Expr, text: &str) -> Result<Self, ExprError> {
        let value = Backend::compile(&ast, text)?;
        let d = |v: Var| Backend::compile(&ast.derivative(v), text);
        let gradient = [d(Var::X)?, d(Var::Y)?, d(Var::Z)?];
        Ok(Self {
            inner: Arc::new(Inner {
                text: text.to_owned(),
                ast,
                value,
                gradient,
            }),
        })
    }

    /// The value at `(x, y, z)`.
    #[inline]
    pub fn eval_xyz(&self, x: f64, y: f64, z: f64) -> f64 {
        self.inner.value.eval([x, y, z, 0.0])
    }

    /// The source text.
    pub fn text(&self) -> &str {
        &self.inner.text
    }

    /// The expression tree, after constant folding.
    pub fn ast(&self) -> &Expr {
        &self.inner.ast
    }

    /// The value when the expression does not depend on any variable.
    pub fn constant(&self) -> Option<f64> {
        self.inner.ast.as_const()
    }

    /// The partial derivative with respect to `var`, as an expression whose text is the
    /// simplified derivative.
    ///
    /// # Errors
    /// [`ExprError`] when the derivative is too large to compile.
    pub fn derivative(&self, var: Var) -> Result<Expression, ExprError> {
        let d = self.inner.ast.derivative(var);
        let text = d.to_string();
        Self::from_ast(d, &text)
    }
}

impl fmt::Debug for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expression({:?})", self.inner.text)
    }
}

impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.text)
    }
}

impl std::str::FromStr for Expression {
    type Err = ExprError;

    fn from_str(s: &str) -> Result<Self, ExprError> {
        Self::parse(s)
    }
}

impl ScalarField for Expression {
    #[inline]
    fn eval(&self, p: [f64; 3]) -> f64 {
        self.inner.value.eval([p[0], p[1], p[2], 0.0])
    }

    fn eval_batch(&self, points: &[[f64; 3]], out: &mut [f64]) {
        self.inner.value.eval_batch(points, out);
    }

    fn as_constant(&self) -> Option<f64> {
        self.constant()
    }

    fn gradient(&self, p: [f64; 3]) -> [f64; 3] {
        let v = [p[0], p[1], p[2], 0.0];
        self.inner.gradient.each_ref().map(|g| g.eval(v))
    }

    fn gradient_batch(&self, points: &[[f64; 3]], out: &mut [[f64; 3]]) {
        assert_eq!(
            points.len(),
            out.len(),
            "gradient_batch: output length differs from input"
        );
        let mut component = vec![0.0; points.len()];
        for (d, g) in self.inner.gradient.iter().enumerate() {
            g.eval_batch(points, &mut component);
            for (o, v) in out.iter_mut().zip(&component) {
                o[d] = *v;
            }
        }
    }

    fn describe(&self) -> String {
        self.inner.text.clone()
    }
}

/// Parses the expression held by the parameter `field` into a shared field: a
/// [`Constant`] when the expression has no variables, an [`Expression`] otherwise.
///
/// # Errors
/// [`femscale_core::Error::Expression`] naming `field`.
pub fn parse_field(
    field: &str,
    text: &str,
    params: &[(&str, f64)],
) -> femscale_core::Result<SharedField> {
    let e = Expression::parse_with_params(text, params).map_err(|e| e.into_core(field))?;
    Ok(match e.constant() {
        Some(c) => Arc::new(Constant(c)),
        None => Arc::new(e),
    })
}
