//! Backend choice: compiling trees to JIT kernels or bytecode, with the fallback between them.

use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::ast::Expr;
use crate::bytecode::{Program, TooLarge};
use crate::dag::{Dag, NodeId};
#[cfg(feature = "jit")]
pub(crate) use crate::jit::JitKernel;
use crate::{ExprError, stats};

/// How to compile expressions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExprOptions {
    /// Compile to machine code with cranelift (the `scaling.enable_jit` toggle). When the JIT
    /// is unavailable the bytecode interpreter is used instead, with identical results. Off by
    /// default: the bytecode compiles in microseconds, the JIT in about a millisecond.
    pub jit: bool,
}

impl ExprOptions {
    /// Options with the JIT on or off.
    pub const fn with_jit(jit: bool) -> Self {
        Self { jit }
    }
}

/// Which backend evaluates an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum BackendKind {
    /// No variables: a stored constant.
    Constant,
    /// The bytecode interpreter (the fallback).
    Bytecode,
    /// Machine code from the cranelift JIT.
    Jit,
    /// The reference tree walker. No longer produced: derivatives are compiled as graphs,
    /// which the bytecode always holds within the size limit ([`MAX_NODES`](crate::MAX_NODES)).
    TreeWalk,
}

/// Whether this process can compile expressions to machine code: built with the `jit` feature
/// and running on a machine cranelift supports.
pub fn jit_available() -> bool {
    #[cfg(feature = "jit")]
    {
        crate::jit::available()
    }
    #[cfg(not(feature = "jit"))]
    {
        false
    }
}

/// A compiled single-output function.
#[derive(Debug, Clone)]
pub(crate) enum Kernel {
    Constant(f64),
    Bytecode(Program),
    #[cfg(feature = "jit")]
    Jit(JitKernel),
}

impl Kernel {
    /// Compiles `expr` with the JIT when `options.jit` and possible, else to bytecode.
    pub(crate) fn compile(
        expr: &Expr,
        text: &str,
        options: ExprOptions,
    ) -> Result<Kernel, ExprError> {
        if let Some(c) = expr.as_const() {
            return Ok(Kernel::Constant(c));
        }
        #[cfg(feature = "jit")]
        if options.jit
            && let Some(k) = jit_compile(&[expr])
        {
            return Ok(Kernel::Jit(k));
        }
        #[cfg(not(feature = "jit"))]
        if options.jit {
            jit_compile_unavailable();
        }
        Kernel::bytecode(expr, text)
    }

    /// Compiles `expr` to bytecode, each distinct subexpression once.
    pub(crate) fn bytecode(expr: &Expr, text: &str) -> Result<Kernel, ExprError> {
        if let Some(c) = expr.as_const() {
            return Ok(Kernel::Constant(c));
        }
        stats::bytecode_compilation();
        Dag::build(&[expr])
            .map_err(|_| TooLarge)
            .and_then(|dag| Program::compile_dag(&dag, dag.roots[0]))
            .map(Kernel::Bytecode)
            .map_err(|_| ExprError {
                column: 1,
                message: "expression too large to compile".into(),
                text: text.to_owned(),
            })
    }

    /// Compiles node `root` of `dag` to bytecode (a constant node to a constant).
    pub(crate) fn from_dag(dag: &Dag, root: NodeId) -> Result<Kernel, TooLarge> {
        if let Some(c) = dag.node(root).as_const() {
            return Ok(Kernel::Constant(c));
        }
        stats::bytecode_compilation();
        Program::compile_dag(dag, root).map(Kernel::Bytecode)
    }

    /// The backend.
    pub(crate) fn kind(&self) -> BackendKind {
        match self {
            Kernel::Constant(_) => BackendKind::Constant,
            Kernel::Bytecode(_) => BackendKind::Bytecode,
            #[cfg(feature = "jit")]
            Kernel::Jit(_) => BackendKind::Jit,
        }
    }

    /// The value at `p` with `t = 0`.
    #[inline]
    pub(crate) fn eval(&self, p: [f64; 3]) -> f64 {
        match self {
            Kernel::Constant(c) => *c,
            Kernel::Bytecode(prog) => prog.eval([p[0], p[1], p[2], 0.0]),
            #[cfg(feature = "jit")]
            Kernel::Jit(k) => k.eval1(p),
        }
    }

    /// `out[i]` = the value at `points[i]`.
    ///
    /// # Panics
    /// If the lengths differ.
    pub(crate) fn eval_batch(&self, points: &[[f64; 3]], out: &mut [f64]) {
        assert_eq!(
            points.len(),
            out.len(),
            "eval_batch: output length differs from input"
        );
        match self {
            Kernel::Constant(c) => out.fill(*c),
            Kernel::Bytecode(prog) => prog.eval_batch(points, out),
            #[cfg(feature = "jit")]
            Kernel::Jit(k) => k.run(points, out, 0.0),
        }
    }
}

/// Set once the first JIT failure has been reported as a warning; later ones are debug logs.
static WARNED: AtomicBool = AtomicBool::new(false);

fn report_fallback(why: &dyn std::fmt::Display) {
    stats::jit_fallback();
    if WARNED.swap(true, Ordering::Relaxed) {
        tracing::debug!("expression JIT: {why}; using the bytecode interpreter");
    } else {
        tracing::warn!(
            "expression JIT: {why}; using the bytecode interpreter (same results, slower); \
             further fallbacks are logged at debug level"
        );
    }
}

/// JIT-compiles `exprs` into one kernel with an output per expression; `None` (reported and
/// counted as a fallback) when that is not possible.
#[cfg(feature = "jit")]
pub(crate) fn jit_compile(exprs: &[&Expr]) -> Option<JitKernel> {
    match Dag::build(exprs) {
        Ok(dag) => jit_compile_dag(&dag),
        Err(_) => {
            report_fallback(&crate::jit::JitError::TooLarge(usize::MAX));
            None
        }
    }
}

/// JIT-compiles `dag` into one kernel with an output per root; `None` (reported and counted as
/// a fallback) when that is not possible.
#[cfg(feature = "jit")]
pub(crate) fn jit_compile_dag(dag: &Dag) -> Option<JitKernel> {
    let start = std::time::Instant::now();
    match crate::jit::compile(dag) {
        Ok(k) => {
            stats::jit_compilation(start.elapsed());
            Some(k)
        }
        Err(e) => {
            report_fallback(&e);
            None
        }
    }
}

/// Counts and reports a JIT request in a build without the JIT.
#[cfg(not(feature = "jit"))]
pub(crate) fn jit_compile_unavailable() {
    report_fallback(&"femscale-expr was built without the `jit` feature");
}
