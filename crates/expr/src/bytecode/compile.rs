//! Compiling an [`Expr`] tree to register operations: register allocation with reuse after a
//! value's last read, constants folded into immediates.

use super::{NVARS, Op, Program, Reg, TooLarge};
use crate::ast::{BinOp, Expr};

/// An operand during compilation.
#[derive(Clone, Copy)]
pub(super) enum Operand {
    Reg(Reg),
    Const(f64),
}

pub(super) struct Compiler {
    pub(super) ops: Vec<Op>,
    pub(super) free: Vec<Reg>,
    pub(super) nregs: usize,
    pub(super) uses: [bool; NVARS],
    /// Reads still to come of the value in each temporary register: 1 for a tree's values,
    /// the number of users for a shared graph node. A register is free again after its last
    /// read.
    pub(super) remaining: Vec<u32>,
}

impl Compiler {
    /// The program returning `outs` (constants loaded into registers of their own, after
    /// every other operation, so nothing overwrites them).
    pub(super) fn finish(mut self, outs: &[Operand]) -> Result<Program, TooLarge> {
        let mut regs = Vec::with_capacity(outs.len());
        for out in outs {
            regs.push(match *out {
                Operand::Reg(r) => r,
                Operand::Const(k) => {
                    let d = self.alloc_fresh()?;
                    self.ops.push(Op::Load { d, k });
                    d
                }
            });
        }
        Ok(Program {
            ops: self.ops.into_boxed_slice(),
            nregs: self.nregs,
            outs: regs.into_boxed_slice(),
            uses: self.uses,
        })
    }

    /// A register no operation has written yet.
    pub(super) fn alloc_fresh(&mut self) -> Result<Reg, TooLarge> {
        let r = Reg::try_from(self.nregs).map_err(|_| TooLarge)?;
        self.nregs += 1;
        self.remaining.push(1);
        Ok(r)
    }

    pub(super) fn new() -> Compiler {
        Compiler {
            ops: Vec::new(),
            free: Vec::new(),
            nregs: NVARS,
            uses: [false; NVARS],
            remaining: vec![0; NVARS],
        }
    }

    /// A free register, to be read once unless [`Compiler::remaining`] says otherwise.
    pub(super) fn alloc(&mut self) -> Result<Reg, TooLarge> {
        let r = match self.free.pop() {
            Some(r) => r,
            None => {
                let r = Reg::try_from(self.nregs).map_err(|_| TooLarge)?;
                self.nregs += 1;
                self.remaining.push(0);
                r
            }
        };
        self.remaining[usize::from(r)] = 1;
        Ok(r)
    }

    /// Records one read of `o`; frees its register after the last.
    pub(super) fn release(&mut self, o: Operand) {
        if let Operand::Reg(r) = o
            && usize::from(r) >= NVARS
        {
            let left = &mut self.remaining[usize::from(r)];
            *left = left.saturating_sub(1);
            if *left == 0 {
                self.free.push(r);
            }
        }
    }

    /// A register holding `o`, loading constants.
    pub(super) fn reg(&mut self, o: Operand) -> Result<Reg, TooLarge> {
        match o {
            Operand::Reg(r) => Ok(r),
            Operand::Const(k) => {
                let d = self.alloc()?;
                self.ops.push(Op::Load { d, k });
                Ok(d)
            }
        }
    }

    pub(super) fn emit(&mut self, e: &Expr) -> Result<Operand, TooLarge> {
        Ok(match e {
            Expr::Const(k) => Operand::Const(*k),
            Expr::Var(v) => {
                self.uses[v.index()] = true;
                Operand::Reg(v.index() as Reg)
            }
            Expr::Neg(a) => match self.emit(a)? {
                Operand::Const(k) => Operand::Const(-k),
                Operand::Reg(a) => self.unary(a, |d| Op::Neg { d, a })?,
            },
            Expr::Call(f, a) => match self.emit(a)? {
                Operand::Const(k) => Operand::Const(f.apply(k)),
                Operand::Reg(a) => self.unary(a, |d| Op::Call { f: *f, d, a })?,
            },
            Expr::Binary(op, a, b) => {
                let (a, b) = (self.emit(a)?, self.emit(b)?);
                self.binary(*op, a, b)?
            }
            Expr::If(c, a, b) => {
                let c = self.emit(c)?;
                let a = self.emit(a)?;
                let b = self.emit(b)?;
                self.select(c, a, b)?
            }
        })
    }

    /// `if(c, a, b)` as a select of registers (constants loaded).
    pub(super) fn select(
        &mut self,
        c: Operand,
        a: Operand,
        b: Operand,
    ) -> Result<Operand, TooLarge> {
        let (rc, ra, rb) = (self.reg(c)?, self.reg(a)?, self.reg(b)?);
        let d = self.alloc()?;
        self.ops.push(Op::Select {
            d,
            c: rc,
            a: ra,
            b: rb,
        });
        for r in [rc, ra, rb] {
            self.release(Operand::Reg(r));
        }
        Ok(Operand::Reg(d))
    }

    pub(super) fn unary(
        &mut self,
        a: Reg,
        op: impl FnOnce(Reg) -> Op,
    ) -> Result<Operand, TooLarge> {
        let d = self.alloc()?;
        self.ops.push(op(d));
        self.release(Operand::Reg(a));
        Ok(Operand::Reg(d))
    }

    pub(super) fn binary(
        &mut self,
        op: BinOp,
        a: Operand,
        b: Operand,
    ) -> Result<Operand, TooLarge> {
        use Operand::{Const as K, Reg as R};
        if let (K(x), K(y)) = (a, b) {
            return Ok(K(op.apply(x, y)));
        }
        let d = self.alloc()?;
        let instr = match (op, a, b) {
            (op, K(x), K(y)) => Op::Load {
                d,
                k: op.apply(x, y),
            },
            (BinOp::Add, R(a), R(b)) => Op::Add { d, a, b },
            (BinOp::Sub, R(a), R(b)) => Op::Sub { d, a, b },
            (BinOp::Mul, R(a), R(b)) => Op::Mul { d, a, b },
            (BinOp::Div, R(a), R(b)) => Op::Div { d, a, b },
            (BinOp::Add, R(a), K(k)) | (BinOp::Add, K(k), R(a)) => Op::AddK { d, a, k },
            (BinOp::Sub, R(a), K(k)) => Op::AddK { d, a, k: -k },
            (BinOp::Mul, R(a), K(k)) | (BinOp::Mul, K(k), R(a)) => Op::MulK { d, a, k },
            (BinOp::Sub, K(k), R(b)) => Op::KSub { d, k, b },
            (BinOp::Div, R(a), K(k)) => Op::DivK { d, a, k },
            (BinOp::Div, K(k), R(b)) => Op::KDiv { d, k, b },
            (BinOp::Pow, R(a), K(2.0)) => Op::Square { d, a },
            (op, R(a), R(b)) => Op::Bin { op, d, a, b },
            (op, R(a), K(k)) => Op::BinK { op, d, a, k },
            (op, K(k), R(b)) => Op::KBin { op, d, k, b },
        };
        self.ops.push(instr);
        self.release(a);
        self.release(b);
        Ok(R(d))
    }
}
