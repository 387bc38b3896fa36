//! The cranelift JIT backend: a [`Dag`] of expressions compiled to one native function that
//! loops over a batch of points.
//!
//! The compiled function has the C signature
//!
//! ```text
//! void kernel(const double *points, double *out, size_t n, double t)
//! ```
//!
//! where `points` holds `n` points `[x, y, z]` and `out` receives `m = dag.roots.len()` values
//! per point, point-major (`out[i*m + j]` = output `j` at point `i`). The loop is inside
//! compiled code, so a batch pays one indirect call. For a single output there is also a point
//! function `double point(double x, double y, double z, double t)`, for
//! [`ScalarField::eval`](femscale_core::ScalarField::eval) without memory traffic.
//!
//! Each kernel owns its own [`JITModule`], shared through an [`Arc`] by every clone of the
//! kernel: the code memory is freed when the last clone is dropped and never while a clone (the
//! only holder of the function pointer) exists.

mod codegen;
mod helpers;

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, OnceLock};

use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_jit::JITModule;

use crate::ast::Func;
use crate::bytecode::Program;
use crate::dag::{Dag, Node};

/// Largest graph the JIT compiles; bigger ones run on the bytecode interpreter (compile time
/// and stack frames grow with the graph, and such expressions are not written by hand).
pub(crate) const MAX_NODES: usize = 20_000;

/// Deepest graph the JIT compiles (code generation recurses along paths of the graph).
pub(crate) const MAX_DEPTH: usize = 1_000;

/// The type of a compiled batch kernel; see the [module documentation](self).
type KernelFn = unsafe extern "C" fn(*const f64, *mut f64, usize, f64);

/// The type of a compiled point function: `(x, y, z, t) -> value`. It reads no memory, so
/// calling it is safe.
type PointFn = extern "C" fn(f64, f64, f64, f64) -> f64;

/// Why an expression could not be compiled to machine code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JitError {
    /// Cranelift does not support this machine.
    Unavailable(String),
    /// The graph has more than [`MAX_NODES`] nodes.
    TooLarge(usize),
    /// The graph is deeper than [`MAX_DEPTH`].
    TooDeep(usize),
    /// Cranelift rejected the function (a bug: reported, then the bytecode is used).
    Codegen(String),
}

impl fmt::Display for JitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JitError::Unavailable(why) => write!(f, "JIT unavailable on this machine: {why}"),
            JitError::TooLarge(n) => write!(
                f,
                "expression graph too large to JIT ({n} nodes, limit {MAX_NODES})"
            ),
            JitError::TooDeep(n) => write!(
                f,
                "expression graph too deep to JIT ({n} levels, limit {MAX_DEPTH})"
            ),
            JitError::Codegen(why) => write!(f, "JIT code generation failed: {why}"),
        }
    }
}

/// The host ISA, configured once per process.
fn isa() -> Result<&'static OwnedTargetIsa, JitError> {
    static ISA: OnceLock<Result<OwnedTargetIsa, String>> = OnceLock::new();
    ISA.get_or_init(|| {
        let mut flags = settings::builder();
        let verifier = if cfg!(debug_assertions) {
            "true"
        } else {
            "false"
        };
        for (name, value) in [
            ("opt_level", "speed"),
            ("enable_verifier", verifier),
            // Required by cranelift-jit.
            ("is_pic", "false"),
            ("use_colocated_libcalls", "false"),
            // Large expressions spill to big stack frames: probe them without a libcall.
            ("enable_probestack", "true"),
            ("probestack_strategy", "inline"),
        ] {
            flags
                .set(name, value)
                .map_err(|e| format!("setting {name}={value}: {e}"))?;
        }
        let builder = cranelift_native::builder().map_err(str::to_owned)?;
        builder
            .finish(settings::Flags::new(flags))
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|why| JitError::Unavailable(why.clone()))
}

/// Whether this process can compile expressions to machine code.
pub(crate) fn available() -> bool {
    isa().is_ok()
}

/// Owns the memory of compiled code; frees it on drop.
struct CodeMemory(Mutex<Option<JITModule>>);

impl Drop for CodeMemory {
    fn drop(&mut self) {
        let module = match self.0.get_mut() {
            Ok(m) => m.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(module) = module {
            // SAFETY: the only pointers into this module's code are the `KernelFn`s and
            // `PointFn`s of `JitKernel`s, and each `JitKernel` holds an `Arc<CodeMemory>`. This
            // is the drop of the last `Arc`, so no kernel exists any more: no call is running
            // and none can start.
            unsafe { module.free_memory() }
        }
    }
}

/// A compiled kernel computing [`outputs`](JitKernel::outputs) values per point. Cheap to
/// clone, `Send + Sync`.
#[derive(Clone)]
pub(crate) struct JitKernel {
    func: KernelFn,
    point: Option<PointFn>,
    outputs: usize,
    _code: Arc<CodeMemory>,
    /// The same graph as bytecode, which [`run`](JitKernel::run) uses for batches when the
    /// graph calls `sin` or `cos` and has no `if`: the interpreter evaluates those vectorised
    /// over a chunk of points ([`crate::trig`]), compiled code once per point, and both give
    /// the same bits.
    batch: Option<Arc<Program>>,
}

impl fmt::Debug for JitKernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JitKernel({} outputs)", self.outputs)
    }
}

impl JitKernel {
    /// Values per point.
    #[cfg(test)]
    pub(crate) fn outputs(&self) -> usize {
        self.outputs
    }

    /// `out[i*m + j]` = output `j` at `points[i]`, with time `t`.
    ///
    /// # Panics
    /// If `out.len() != points.len() * self.outputs()`.
    #[inline]
    pub(crate) fn run(&self, points: &[[f64; 3]], out: &mut [f64], t: f64) {
        match &self.batch {
            // The interpreter's time is 0 (bit for bit: -0 is not 0 to `1/t`).
            Some(program) if t.to_bits() == 0 && points.len() > 1 => {
                program.eval_batch_interleaved(points, out);
            }
            _ => self.run_compiled(points, out, t),
        }
    }

    /// [`run`](Self::run) in compiled code only.
    #[inline]
    pub(crate) fn run_compiled(&self, points: &[[f64; 3]], out: &mut [f64], t: f64) {
        assert_eq!(
            Some(out.len()),
            points.len().checked_mul(self.outputs),
            "JIT kernel: output length differs from points times outputs"
        );
        // SAFETY: the kernel reads exactly `3 * n` f64 from its first argument and writes
        // exactly `outputs * n` f64 to its second, with `n = points.len()`: both slices have
        // those lengths (checked above; `[[f64; 3]]` is `3 * n` contiguous f64) and do not
        // overlap (one is borrowed shared, the other exclusively). The code it points into is
        // alive, since `self._code` keeps the module.
        unsafe {
            (self.func)(
                points.as_ptr().cast::<f64>(),
                out.as_mut_ptr(),
                points.len(),
                t,
            );
        }
    }

    /// The first output at `p`, with `t = 0`.
    #[inline]
    pub(crate) fn eval1(&self, p: [f64; 3]) -> f64 {
        match self.point {
            Some(f) => f(p[0], p[1], p[2], 0.0),
            None => {
                let mut out = vec![0.0; self.outputs];
                self.run(&[p], &mut out, 0.0);
                out.first().copied().unwrap_or(f64::NAN)
            }
        }
    }
}

/// Compiles `dag` to a native kernel with one output per root.
pub(crate) fn compile(dag: &Dag) -> Result<JitKernel, JitError> {
    let isa = isa()?;
    if dag.nodes.len() > MAX_NODES {
        return Err(JitError::TooLarge(dag.nodes.len()));
    }
    let depth = dag.depth();
    if depth > MAX_DEPTH {
        return Err(JitError::TooDeep(depth));
    }
    // Cranelift reports errors as values, but guard against an internal panic too: user
    // expressions must never take the process down.
    let compiled = catch_unwind(AssertUnwindSafe(|| codegen::build(isa, dag)))
        .map_err(|_| JitError::Codegen("cranelift panicked".into()))??;
    // Not for graphs with `if` (the interpreter computes both arms, compiled code the chosen
    // one), nor for one too large for the bytecode.
    let calls_trig = (dag.nodes.iter()).any(|n| matches!(n, Node::Call(Func::Sin | Func::Cos, _)));
    let branches = (dag.nodes.iter()).any(|n| matches!(n, Node::If(..)));
    let batch = (calls_trig && !branches)
        .then(|| Program::compile_dag_roots(dag, &dag.roots).ok())
        .flatten()
        .map(Arc::new);
    Ok(JitKernel {
        func: compiled.batch,
        point: compiled.point,
        outputs: dag.roots.len(),
        _code: Arc::new(CodeMemory(Mutex::new(Some(compiled.module)))),
        batch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Expr;

    fn kernel(texts: &[&str]) -> (Vec<Expr>, JitKernel) {
        let exprs: Vec<Expr> = texts
            .iter()
            .map(|t| crate::parse::parse(t, &[("a", 2.5)]).unwrap_or(Expr::Const(f64::NAN)))
            .collect();
        let refs: Vec<&Expr> = exprs.iter().collect();
        let dag = Dag::build(&refs).unwrap_or_default();
        let k = compile(&dag).unwrap_or_else(|e| panic!("{texts:?}: {e}"));
        (exprs, k)
    }

    #[test]
    fn compiles_every_operation_bit_exactly() {
        let texts = [
            "2*pi^2*sin(pi*x)*sin(pi*y) + t",
            "x^2 + x^y + x^3.5 + pow(y, z) + atan2(y, x) - z/x",
            "min(x, y) + max(y, z) + min(z, -0.5) + abs(x) + sqrt(y) + sign(z - 0.5)",
            "if(x > y, tan(x), cosh(y)) + (x < y) + (x <= z) + (y >= z) + (x == y) + (x != z)",
            "asin(x/3) + acos(y/3) + atan(z) + sinh(x) + tanh(y) + exp(z) + log(y + 3)",
            "log10(z + 4) + floor(x*3) + ceil(y*3) - -x + a*x",
            "if(x, 1, 2) + if(x - x, y, z)",
        ];
        let (exprs, k) = kernel(&texts);
        assert_eq!(k.outputs(), texts.len());
        let points: Vec<[f64; 3]> = (0..37)
            .map(|i| {
                let s = i as f64 / 7.0 - 2.0;
                [s, (s * 1.7).sin() * 2.0, 1.0 - s * 0.4]
            })
            .chain([
                [0.0, -0.0, 0.5],
                [f64::NAN, 1.0, 2.0],
                [1.0, f64::INFINITY, 0.0],
            ])
            .collect();
        let mut out = vec![0.0; points.len() * texts.len()];
        k.run_compiled(&points, &mut out, 0.0);
        // Graphs calling `sin` without `if` take the bytecode batch in `run`: the same bits.
        assert!(k.batch.is_none(), "this graph has `if`");
        let (_, trig) = kernel(&texts[..1]);
        assert!(trig.batch.is_some());
        let (mut compiled, mut interpreted) = (vec![0.0; points.len()], vec![0.0; points.len()]);
        trig.run_compiled(&points, &mut compiled, 0.0);
        trig.run(&points, &mut interpreted, 0.0);
        let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
        assert!(compiled.iter().zip(&interpreted).all(|(a, b)| same(*a, *b)));
        for (i, p) in points.iter().enumerate() {
            for (j, e) in exprs.iter().enumerate() {
                let (got, want) = (out[i * texts.len() + j], e.eval([p[0], p[1], p[2], 0.0]));
                assert!(
                    got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                    "{} at {p:?}: JIT {got}, tree {want}",
                    texts[j]
                );
            }
        }
        // Time is a kernel argument.
        let mut one = [0.0; 7];
        k.run(&[[0.5, 0.5, 0.0]], &mut one, 2.0);
        assert_eq!(one[0], exprs[0].eval([0.5, 0.5, 0.0, 2.0]));
        // Empty batches are fine.
        k.run(&[], &mut [], 0.0);
    }

    #[test]
    fn branches_and_point_functions() {
        // Arms needing calls become branches; values shared between the arms and the code
        // after them must be recomputed where they are not available (the IR verifier checks
        // dominance in debug builds).
        let texts = [
            "if(x > 0, sin(x)*exp(y), exp(y)) + exp(y) + sin(x)",
            "if(x, if(y < 0.5, log(y), sqrt(y)), atan2(x, y)^3) * if(z, 1, cos(z))",
            "if(sin(x) > 0, x, y) + if(x < y, x*y, x - y)",
        ];
        for text in texts {
            let (exprs, k) = kernel(&[text]);
            assert!(k.point.is_some());
            let pts: Vec<[f64; 3]> = [-1.5, -0.25, 0.0, 0.5, 1.75, f64::NAN]
                .iter()
                .flat_map(|x| [[*x, 0.3, 0.0], [*x, 0.7, 1.0], [*x, -0.1, f64::NAN]])
                .collect();
            let mut out = vec![0.0; pts.len()];
            k.run_compiled(&pts, &mut out, 0.0);
            for (p, o) in pts.iter().zip(&out) {
                let want = exprs[0].eval([p[0], p[1], p[2], 0.0]);
                let point = k.eval1(*p);
                let same = |v: f64| v.to_bits() == want.to_bits() || (v.is_nan() && want.is_nan());
                assert!(
                    same(point) && same(*o),
                    "{text} at {p:?}: {point} {o} {want}"
                );
            }
        }
        let (_, k) = kernel(&["x", "y"]);
        assert!(k.point.is_none());
        assert_eq!(k.eval1([4.0, 5.0, 0.0]), 4.0);
    }

    #[test]
    fn kernels_outlive_their_creator_and_are_shared() {
        let (_, k) = kernel(&["x*y + 1"]);
        let clone = k.clone();
        drop(k);
        assert_eq!(clone.eval1([2.0, 3.0, 0.0]), 7.0);
        std::thread::scope(|s| {
            for i in 0..4 {
                let k = clone.clone();
                s.spawn(move || assert_eq!(k.eval1([f64::from(i), 1.0, 0.0]), f64::from(i) + 1.0));
            }
        });
    }

    #[test]
    fn rejects_huge_graphs() {
        let dag = Dag::from_raw(vec![crate::dag::Node::Const(0); MAX_NODES + 1], vec![0]);
        assert_eq!(compile(&dag).err(), Some(JitError::TooLarge(MAX_NODES + 1)));
        // A chain -(-(-(...x))) deeper than the limit.
        let mut nodes = vec![crate::dag::Node::Var(crate::Var::X)];
        for i in 0..MAX_DEPTH as u32 {
            nodes.push(crate::dag::Node::Neg(i));
        }
        let deep = Dag::from_raw(nodes, vec![MAX_DEPTH as u32]);
        assert_eq!(compile(&deep).err(), Some(JitError::TooDeep(MAX_DEPTH + 1)));
        assert!(available());
    }
}
