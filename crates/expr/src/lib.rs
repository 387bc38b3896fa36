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
//!   `max(a, b, ...)`. `sin` and `cos` are femscale's own ([`trig`]: within one ulp of the C
//!   library's, the same bits on every machine for `|x| <= 1e5`, vectorised over batches);
//!   the other functions are the C library's (through Rust's `f64` methods).
//!
//! ## Pipeline
//!
//! text → [`parse`](Expression::parse) (recursive descent, folding constant subtrees exactly
//! and rejecting non-finite constants such as `1/0`) → [`Expr`] tree → a compiled backend:
//!
//! - the **JIT** (feature `jit`, on by default; chosen with [`ExprOptions::jit`], the
//!   `scaling.enable_jit` toggle): the tree, or several trees, become one hash-consed graph and
//!   then one cranelift function that loops over a batch of points (and, for one expression,
//!   a function of `(x, y, z, t)` for single points); `sin`, `exp`, `powf` and the like are
//!   calls to the same Rust functions the interpreter uses, and `if` with such calls in an arm
//!   branches so that only the chosen arm runs. A graph that calls `sin` or `cos` (and has no
//!   `if`) evaluates batches of points with the bytecode instead, whose chunked interpreter computes those
//!   on several points per instruction (four with AVX2, eight with AVX-512) and a sine and cosine of one
//!   argument together; single points still run the compiled function;
//! - the **bytecode** ([`bytecode::Program`]): a register machine with a single-point and a
//!   chunked batch interpreter, used when the JIT is off, unavailable on the machine (reported
//!   once as a warning) or for graphs too large to JIT. It too is compiled from the
//!   hash-consed graph, so a repeated subexpression is computed once per point.
//!
//! All backends share the semantics defined by [`BinOp::apply`] and [`Func::apply`] and agree
//! bit for bit; [`Expr::eval`] is the reference they are tested against. Gradients come from
//! symbolic derivatives taken on the graph — the derivative of `a*b` refers to `a` and `b`
//! instead of copying them, so a product of `n` factors has a gradient of `O(n)` operations,
//! not the `O(n^2)` of a tree — with exactly the simplifications (and values) of the tree
//! derivative [`Expr::derivative`]; they are derived and compiled (all three components in one
//! JIT function) on first use or by [`Expression::prepare_gradient`]. An expression, and an
//! expression with its gradient, may have at most [`MAX_NODES`] distinct operations.
//!
//! Parses go through a process-wide compile cache keyed by text, parameters and options, so a
//! sweep compiles each expression once; [`stats()`] returns the counters (JIT compilations,
//! cache hits and misses, fallbacks) for `scaling_metrics()`.
//!
//! ```
//! use femscale_core::ScalarField;
//! use femscale_expr::{BackendKind, ExprOptions, Expression};
//!
//! let jit = ExprOptions::with_jit(true);
//! let k = Expression::parse_with("1 + a*x^2", &[("a", 2.5)], jit).unwrap();
//! if femscale_expr::jit_available() {
//!     assert_eq!(k.backend(), BackendKind::Jit);
//! }
//! let mut out = [0.0; 2];
//! k.eval_batch(&[[1.0, 0.0, 0.0], [2.0, 0.0, 0.0]], &mut out);
//! assert_eq!(out, [3.5, 11.0]);
//! assert_eq!(k.gradient([2.0, 0.0, 0.0]), [10.0, 0.0, 0.0]);
//! ```

pub mod ast;
mod backend;
pub mod bytecode;
mod cache;
mod dag;
mod derive;
mod expression;
mod graph_derive;
#[cfg(feature = "jit")]
mod jit;
mod parse;
mod set;
mod stats;
pub mod trig;

use std::fmt;

use femscale_core::SharedField;

pub use ast::{BinOp, Expr, Func, Var};
pub use backend::{BackendKind, ExprOptions, jit_available};
pub use cache::{CAPACITY as CACHE_CAPACITY, clear_cache};
pub use expression::Expression;
pub use parse::param_name_problem;
pub use set::ExpressionSet;
pub use stats::{ExprStats, stats};

/// Most distinct operations an expression may have, and an expression with its three partial
/// derivatives together (graph nodes: shared subexpressions count once). Larger inputs are
/// refused with an [`ExprError`], so that no expression can make evaluation take minutes; real
/// coefficients and exact solutions have tens to hundreds.
pub const MAX_NODES: usize = 50_000;

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
            field: field.into(),
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

/// Parses the expression held by the parameter `field` into a shared field (bytecode backend):
/// a [`Constant`](femscale_core::Constant) when the expression has no variables, an
/// [`Expression`] otherwise.
///
/// # Errors
/// [`femscale_core::Error::Expression`] naming `field`.
pub fn parse_field(
    field: &str,
    text: &str,
    params: &[(&str, f64)],
) -> femscale_core::Result<SharedField> {
    parse_field_with(field, text, params, ExprOptions::default())
}

/// Like [`parse_field_with`], for a field whose gradient is needed (an exact solution, for the
/// H1 error): the gradient is derived and compiled now, so that one too large to evaluate is
/// refused here, naming `field`, rather than failing later.
///
/// # Errors
/// [`femscale_core::Error::Expression`] naming `field`.
pub fn parse_differentiable_field_with(
    field: &str,
    text: &str,
    params: &[(&str, f64)],
    options: ExprOptions,
) -> femscale_core::Result<SharedField> {
    let e = Expression::parse_with(text, params, options).map_err(|e| e.into_core(field))?;
    e.prepare_gradient().map_err(|e| e.into_core(field))?;
    Ok(e.into_field())
}

/// Like [`parse_field`], compiled as `options` say (`ExprOptions::with_jit(toggles.jit)` for
/// the `scaling.enable_jit` toggle), through the compile cache.
///
/// # Errors
/// [`femscale_core::Error::Expression`] naming `field`.
pub fn parse_field_with(
    field: &str,
    text: &str,
    params: &[(&str, f64)],
    options: ExprOptions,
) -> femscale_core::Result<SharedField> {
    Expression::parse_with(text, params, options)
        .map(Expression::into_field)
        .map_err(|e| e.into_core(field))
}
