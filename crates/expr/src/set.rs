//! [`ExpressionSet`]: several expressions evaluated together at each point.

use std::fmt;

use femscale_core::ScalarField;

use crate::Expression;
use crate::backend::{BackendKind, ExprOptions};
#[cfg(feature = "jit")]
use crate::backend::{JitKernel, jit_compile};

enum SetKernel {
    /// One native function computing every output, common subexpressions once.
    #[cfg(feature = "jit")]
    Jit(JitKernel),
    /// Each expression with its own backend.
    Each,
}

/// Expressions evaluated together: with the JIT, one native function computes all of them at
/// a point and shares their common subexpressions (the `sin(pi*x)` of a coefficient and of a
/// source, say); otherwise each expression is evaluated by its own backend. Both give the
/// values of the individual expressions bit for bit.
///
/// ```
/// use femscale_expr::{ExprOptions, Expression, ExpressionSet};
///
/// let opts = ExprOptions::with_jit(true);
/// let k = Expression::parse_with("1 + sin(pi*x)^2", &[], opts).unwrap();
/// let f = Expression::parse_with("2*sin(pi*x)*y", &[], opts).unwrap();
/// let set = ExpressionSet::new(vec![k, f], opts);
/// let mut out = [0.0; 4];
/// set.eval_batch(&[[0.5, 1.0, 0.0], [0.0, 3.0, 0.0]], &mut out);
/// assert_eq!(out, [2.0, 2.0, 1.0, 0.0]);
/// ```
pub struct ExpressionSet {
    exprs: Vec<Expression>,
    kernel: SetKernel,
}

impl ExpressionSet {
    /// Compiles `exprs` together (with the JIT when `options.jit` and possible).
    pub fn new(exprs: Vec<Expression>, options: ExprOptions) -> Self {
        #[cfg(feature = "jit")]
        if options.jit
            && exprs.iter().any(|e| e.constant().is_none())
            && let Some(k) = jit_compile(&exprs.iter().map(Expression::ast).collect::<Vec<_>>())
        {
            return Self {
                exprs,
                kernel: SetKernel::Jit(k),
            };
        }
        #[cfg(not(feature = "jit"))]
        if options.jit && exprs.iter().any(|e| e.constant().is_none()) {
            crate::backend::jit_compile_unavailable();
        }
        Self {
            exprs,
            kernel: SetKernel::Each,
        }
    }

    /// The number of expressions.
    pub fn len(&self) -> usize {
        self.exprs.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.exprs.is_empty()
    }

    /// The expressions, in output order.
    pub fn expressions(&self) -> &[Expression] {
        &self.exprs
    }

    /// [`BackendKind::Jit`] when one native function evaluates the set.
    pub fn backend(&self) -> BackendKind {
        match self.kernel {
            #[cfg(feature = "jit")]
            SetKernel::Jit(_) => BackendKind::Jit,
            SetKernel::Each => BackendKind::Bytecode,
        }
    }

    /// `out[j]` = expression `j` at `p`.
    ///
    /// # Panics
    /// If `out.len() != self.len()`.
    pub fn eval(&self, p: [f64; 3], out: &mut [f64]) {
        self.eval_batch(&[p], out);
    }

    /// `out[i * len + j]` = expression `j` at `points[i]` (point-major).
    ///
    /// # Panics
    /// If `out.len() != points.len() * self.len()`.
    pub fn eval_batch(&self, points: &[[f64; 3]], out: &mut [f64]) {
        let m = self.exprs.len();
        assert_eq!(
            Some(out.len()),
            points.len().checked_mul(m),
            "ExpressionSet::eval_batch: output length differs from points times expressions"
        );
        if m == 0 {
            return;
        }
        match &self.kernel {
            #[cfg(feature = "jit")]
            SetKernel::Jit(k) => k.run(points, out, 0.0),
            SetKernel::Each => {
                let mut column = vec![0.0; points.len()];
                for (j, e) in self.exprs.iter().enumerate() {
                    e.eval_batch(points, &mut column);
                    for (row, v) in out.chunks_exact_mut(m).zip(&column) {
                        row[j] = *v;
                    }
                }
            }
        }
    }
}

impl fmt::Debug for ExpressionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExpressionSet")
            .field("exprs", &self.exprs)
            .field("backend", &self.backend())
            .finish()
    }
}
