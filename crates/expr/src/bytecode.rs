//! The bytecode backend: an [`Expr`] compiled to a flat list of register operations.
//!
//! Registers 0..4 hold the variables `x, y, z, t`; temporaries follow. Constants are
//! immediates inside the operations, so `2*x` is a single operation. Every operation writes a
//! register that none of its operands uses, which lets the batched interpreter run each
//! operation as one loop over a chunk of points without aliasing.
//!
//! - [`Program::eval`] interprets the operations for one point, with the register file in a
//!   fixed-size stack array (a heap vector only for programs with very many registers);
//! - [`Program::eval_batch`] runs each operation over up to [`CHUNK`] points at a time, so the
//!   dispatch cost is paid once per chunk and simple arithmetic vectorises.

use crate::ast::{BinOp, Expr, Func, select};
use crate::trig;

mod compile;
mod from_dag;

use compile::{Compiler, Operand};

/// Points per chunk in [`Program::eval_batch`].
pub const CHUNK: usize = 64;
/// Registers of the stack-allocated register file of [`Program::eval`].
const STACK_REGS: usize = 32;
/// Registers of the stack-allocated register file of [`Program::eval_batch`].
const STACK_BATCH_REGS: usize = 16;

thread_local! {
    /// The register file of chunked batches on this thread (grown to the largest program run
    /// here). Every register a program reads it has written earlier in the same chunk (inputs
    /// first, then each operation's destination), so what earlier batches left is never read.
    static CHUNK_REGS: std::cell::RefCell<Vec<[f64; CHUNK]>> =
        const { std::cell::RefCell::new(Vec::new()) };
}
/// Number of variable registers.
const NVARS: usize = 4;

type Reg = u16;

/// One operation; `d` is the destination register.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Add {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    Sub {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    Mul {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    Div {
        d: Reg,
        a: Reg,
        b: Reg,
    },
    /// `a + k` (also `a - k` as `a + (-k)`, which IEEE arithmetic defines identically).
    AddK {
        d: Reg,
        a: Reg,
        k: f64,
    },
    /// `a * k`.
    MulK {
        d: Reg,
        a: Reg,
        k: f64,
    },
    /// `k - b`.
    KSub {
        d: Reg,
        k: f64,
        b: Reg,
    },
    /// `a / k`.
    DivK {
        d: Reg,
        a: Reg,
        k: f64,
    },
    /// `k / b`.
    KDiv {
        d: Reg,
        k: f64,
        b: Reg,
    },
    /// `a * a`.
    Square {
        d: Reg,
        a: Reg,
    },
    Neg {
        d: Reg,
        a: Reg,
    },
    /// `s = sin(a)` and `c = cos(a)` together ([`trig::sin_cos_slice`]), for a graph that
    /// needs both.
    SinCos {
        s: Reg,
        c: Reg,
        a: Reg,
    },
    Call {
        f: Func,
        d: Reg,
        a: Reg,
    },
    Bin {
        op: BinOp,
        d: Reg,
        a: Reg,
        b: Reg,
    },
    BinK {
        op: BinOp,
        d: Reg,
        a: Reg,
        k: f64,
    },
    KBin {
        op: BinOp,
        d: Reg,
        k: f64,
        b: Reg,
    },
    Select {
        d: Reg,
        c: Reg,
        a: Reg,
        b: Reg,
    },
    Load {
        d: Reg,
        k: f64,
    },
}

/// A compiled expression. Compile with [`Program::compile`].
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    ops: Box<[Op]>,
    nregs: usize,
    /// The registers holding the results: one, or several for a program compiled from
    /// several roots of a graph ([`Program::eval_batch_interleaved`]).
    outs: Box<[Reg]>,
    /// Which of `x, y, z, t` the program reads.
    uses: [bool; NVARS],
}

/// The expression needs more registers than the register index type can address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge;

impl Program {
    /// Compiles `expr`. Constant subtrees are evaluated here.
    ///
    /// # Errors
    /// [`TooLarge`] when the expression needs more than 65 536 registers.
    pub fn compile(expr: &Expr) -> Result<Program, TooLarge> {
        let mut c = Compiler::new();
        let out = c.emit(expr)?;
        c.finish(&[out])
    }

    /// The number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the program has no operations (it returns a variable unchanged).
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The number of registers, variables included.
    pub fn register_count(&self) -> usize {
        self.nregs
    }

    /// The value (the first result) at `vars = [x, y, z, t]`. Allocates only for programs with
    /// more than 32 registers.
    #[inline]
    pub fn eval(&self, vars: [f64; 4]) -> f64 {
        if self.nregs <= 8 {
            let mut regs = [0.0; 8];
            self.run(&mut regs, vars)
        } else if self.nregs <= STACK_REGS {
            let mut regs = [0.0; STACK_REGS];
            self.run(&mut regs, vars)
        } else {
            let mut regs = vec![0.0; self.nregs];
            self.run(&mut regs, vars)
        }
    }

    #[inline]
    fn run(&self, r: &mut [f64], vars: [f64; 4]) -> f64 {
        r[..NVARS].copy_from_slice(&vars);
        for op in self.ops.iter() {
            match *op {
                Op::Add { d, a, b } => r[d as usize] = r[a as usize] + r[b as usize],
                Op::Sub { d, a, b } => r[d as usize] = r[a as usize] - r[b as usize],
                Op::Mul { d, a, b } => r[d as usize] = r[a as usize] * r[b as usize],
                Op::Div { d, a, b } => r[d as usize] = r[a as usize] / r[b as usize],
                Op::AddK { d, a, k } => r[d as usize] = r[a as usize] + k,
                Op::MulK { d, a, k } => r[d as usize] = r[a as usize] * k,
                Op::KSub { d, k, b } => r[d as usize] = k - r[b as usize],
                Op::DivK { d, a, k } => r[d as usize] = r[a as usize] / k,
                Op::KDiv { d, k, b } => r[d as usize] = k / r[b as usize],
                Op::Square { d, a } => r[d as usize] = r[a as usize] * r[a as usize],
                Op::Neg { d, a } => r[d as usize] = -r[a as usize],
                Op::SinCos { s, c, a } => {
                    let v = r[a as usize];
                    (r[s as usize], r[c as usize]) = (trig::sin(v), trig::cos(v));
                }
                Op::Call { f, d, a } => r[d as usize] = f.apply(r[a as usize]),
                Op::Bin { op, d, a, b } => r[d as usize] = op.apply(r[a as usize], r[b as usize]),
                Op::BinK { op, d, a, k } => r[d as usize] = op.apply(r[a as usize], k),
                Op::KBin { op, d, k, b } => r[d as usize] = op.apply(k, r[b as usize]),
                Op::Select { d, c, a, b } => {
                    r[d as usize] = select(r[c as usize], r[a as usize], r[b as usize]);
                }
                Op::Load { d, k } => r[d as usize] = k,
            }
        }
        r[self.outs[0] as usize]
    }

    /// `out[i]` = the value at `points[i]` (with `t = 0`), chunk by chunk.
    ///
    /// # Panics
    /// If `out.len() != points.len()`, or the program has several results (see
    /// [`eval_batch_interleaved`](Self::eval_batch_interleaved)).
    pub fn eval_batch(&self, points: &[[f64; 3]], out: &mut [f64]) {
        assert_eq!(
            points.len(),
            out.len(),
            "eval_batch: output length differs from input"
        );
        assert_eq!(
            self.outs.len(),
            1,
            "eval_batch: a program with several results"
        );
        if points.len() <= 8 {
            // Small batches (one element's quadrature points) get a small register file.
            self.batch_with::<8>(points, out);
        } else {
            self.batch_chunked(points, out);
        }
    }

    fn batch_with<const C: usize>(&self, points: &[[f64; 3]], out: &mut [f64]) {
        let mut stack;
        let mut heap;
        let regs: &mut [[f64; C]] = if self.nregs <= STACK_BATCH_REGS {
            stack = [[0.0; C]; STACK_BATCH_REGS];
            &mut stack
        } else {
            heap = vec![[0.0; C]; self.nregs];
            &mut heap
        };
        self.run_chunks(regs, points, out);
    }

    /// [`Self::batch_with`] in chunks of [`CHUNK`] points on this thread's register file
    /// ([`CHUNK_REGS`]), so that batch after batch (a block of quadrature points each) neither
    /// allocates nor zeroes one.
    fn batch_chunked(&self, points: &[[f64; 3]], out: &mut [f64]) {
        CHUNK_REGS.with(|file| match file.try_borrow_mut() {
            Ok(mut regs) => {
                if regs.len() < self.nregs {
                    regs.resize(self.nregs, [0.0; CHUNK]);
                }
                self.run_chunks(&mut regs[..self.nregs], points, out);
            }
            // Taken by a batch further up this thread's stack: a file of its own.
            Err(_) => self.batch_with::<CHUNK>(points, out),
        });
    }

    fn run_chunks<const C: usize>(
        &self,
        regs: &mut [[f64; C]],
        points: &[[f64; 3]],
        out: &mut [f64],
    ) {
        let m = self.outs.len();
        for (pts, out) in points.chunks(C).zip(out.chunks_mut(C * m)) {
            self.run_chunk(regs, pts, out);
        }
    }

    fn run_chunk<const C: usize>(&self, r: &mut [[f64; C]], pts: &[[f64; 3]], out: &mut [f64]) {
        let n = pts.len();
        for v in 0..3 {
            if self.uses[v] {
                for (slot, p) in r[v].iter_mut().zip(pts) {
                    *slot = p[v];
                }
            }
        }
        if self.uses[3] {
            r[3] = [0.0; C];
        }
        for op in self.ops.iter() {
            match *op {
                Op::Add { d, a, b } => map2(r, n, d, a, b, |x, y| x + y),
                Op::Sub { d, a, b } => map2(r, n, d, a, b, |x, y| x - y),
                Op::Mul { d, a, b } => map2(r, n, d, a, b, |x, y| x * y),
                Op::Div { d, a, b } => map2(r, n, d, a, b, |x, y| x / y),
                Op::AddK { d, a, k } => map1(r, n, d, a, |x| x + k),
                Op::MulK { d, a, k } => map1(r, n, d, a, |x| x * k),
                Op::KSub { d, k, b } => map1(r, n, d, b, |x| k - x),
                Op::DivK { d, a, k } => map1(r, n, d, a, |x| x / k),
                Op::KDiv { d, k, b } => map1(r, n, d, b, |x| k / x),
                Op::Square { d, a } => map1(r, n, d, a, |x| x * x),
                Op::Neg { d, a } => map1(r, n, d, a, |x| -x),
                Op::SinCos { s, c, a } => {
                    let (mut sin, mut cos) = ([0.0; C], [0.0; C]);
                    trig::sin_cos_slice(&r[a as usize][..n], &mut sin[..n], &mut cos[..n]);
                    r[s as usize][..n].copy_from_slice(&sin[..n]);
                    r[c as usize][..n].copy_from_slice(&cos[..n]);
                }
                Op::Call {
                    f: f @ (Func::Sin | Func::Cos),
                    d,
                    a,
                } => {
                    // Vectorised, bit for bit as `f.apply`.
                    let (dst, src) = split(r, d);
                    let kernel = if f == Func::Sin {
                        trig::sin_slice
                    } else {
                        trig::cos_slice
                    };
                    kernel(&src.get(a)[..n], &mut dst[..n]);
                }
                Op::Call { f, d, a } => dispatch_func!(f, g => map1(r, n, d, a, g)),
                Op::Bin { op, d, a, b } => dispatch_bin!(op, g => map2(r, n, d, a, b, g)),
                Op::BinK { op, d, a, k } => {
                    dispatch_bin!(op, g => map1(r, n, d, a, |x| g(x, k)));
                }
                Op::KBin { op, d, k, b } => {
                    dispatch_bin!(op, g => map1(r, n, d, b, |x| g(k, x)));
                }
                Op::Select { d, c, a, b } => select_chunk(r, n, d, [c, a, b]),
                Op::Load { d, k } => r[d as usize][..n].fill(k),
            }
        }
        let m = self.outs.len();
        if m == 1 {
            out.copy_from_slice(&r[self.outs[0] as usize][..n]);
            return;
        }
        for (j, &reg) in self.outs.iter().enumerate() {
            for (i, v) in r[reg as usize][..n].iter().enumerate() {
                out[i * m + j] = *v;
            }
        }
    }

    /// The number of results.
    pub fn outputs(&self) -> usize {
        self.outs.len()
    }

    /// `out[i * m + j]` = result `j` at `points[i]` (with `t = 0`), `m` = [`outputs`](Self::outputs).
    ///
    /// # Panics
    /// If `out.len() != points.len() * m`.
    pub fn eval_batch_interleaved(&self, points: &[[f64; 3]], out: &mut [f64]) {
        assert_eq!(
            Some(out.len()),
            points.len().checked_mul(self.outs.len()),
            "eval_batch_interleaved: output length differs from input"
        );
        self.batch_chunked(points, out);
    }
}

/// Expands `$body` once per binary operation, with `$g` bound to a closure computing it, so
/// the operation is chosen once per chunk rather than once per point.
macro_rules! dispatch_bin {
    ($op:expr, $g:ident => $body:expr) => {
        dispatch_bin!(@arms $op, $g, $body,
            Add Sub Mul Div Pow Lt Le Gt Ge Eq Ne Min Max Atan2)
    };
    (@arms $op:expr, $g:ident, $body:expr, $($v:ident)*) => {
        match $op {
            $(BinOp::$v => {
                let $g = |x: f64, y: f64| BinOp::$v.apply(x, y);
                $body
            })*
        }
    };
}

/// Like [`dispatch_bin!`] for one-argument functions.
macro_rules! dispatch_func {
    ($f:expr, $g:ident => $body:expr) => {
        dispatch_func!(@arms $f, $g, $body,
            Sin Cos Tan Asin Acos Atan Sinh Cosh Tanh Exp Ln Log10 Sqrt Abs Floor Ceil Sign)
    };
    (@arms $f:expr, $g:ident, $body:expr, $($v:ident)*) => {
        match $f {
            $(Func::$v => {
                let $g = |x: f64| Func::$v.apply(x);
                $body
            })*
        }
    };
}
use {dispatch_bin, dispatch_func};

/// The rows of a chunk register file other than the destination.
struct Sources<'a, const C: usize> {
    lo: &'a [[f64; C]],
    hi: &'a [[f64; C]],
    d: usize,
}

impl<'a, const C: usize> Sources<'a, C> {
    #[inline(always)]
    fn get(&self, i: Reg) -> &'a [f64; C] {
        let i = usize::from(i);
        if i < self.d {
            &self.lo[i]
        } else {
            &self.hi[i - self.d - 1]
        }
    }
}

/// Splits the register file into the destination row `d` and the others. The compiler never
/// makes an operation read its own destination.
#[inline(always)]
fn split<const C: usize>(r: &mut [[f64; C]], d: Reg) -> (&mut [f64; C], Sources<'_, C>) {
    let d = usize::from(d);
    let (lo, rest) = r.split_at_mut(d);
    let (dst, hi) = rest
        .split_first_mut()
        .expect("bytecode: destination register out of range");
    (dst, Sources { lo, hi, d })
}

#[inline(always)]
fn map1<const C: usize>(r: &mut [[f64; C]], n: usize, d: Reg, a: Reg, f: impl Fn(f64) -> f64) {
    let (dst, src) = split(r, d);
    let a = src.get(a);
    for (o, x) in dst[..n].iter_mut().zip(&a[..n]) {
        *o = f(*x);
    }
}

#[inline(always)]
fn map2<const C: usize>(
    r: &mut [[f64; C]],
    n: usize,
    d: Reg,
    a: Reg,
    b: Reg,
    f: impl Fn(f64, f64) -> f64,
) {
    let (dst, src) = split(r, d);
    let (a, b) = (src.get(a), src.get(b));
    for ((o, x), y) in dst[..n].iter_mut().zip(&a[..n]).zip(&b[..n]) {
        *o = f(*x, *y);
    }
}

fn select_chunk<const C: usize>(r: &mut [[f64; C]], n: usize, d: Reg, [c, a, b]: [Reg; 3]) {
    let (dst, src) = split(r, d);
    let (c, a, b) = (src.get(c), src.get(a), src.get(b));
    for i in 0..n {
        dst[i] = select(c[i], a[i], b[i]);
    }
}
