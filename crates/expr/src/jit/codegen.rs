//! Cranelift IR for a [`Dag`]: a batch function with a loop over the points and, for a single
//! output, a point function taking the coordinates in registers.
//!
//! ```text
//! batch(points, out, n, t):  constants;  if n == 0 goto exit
//!   body(p, o, k):           x, y, z = p[0], p[1], p[2]
//!                            the roots, computing each node they need once
//!                            o[j] = root j
//!                            if k - 1 != 0 goto body(p + 3, o + m, k - 1)
//!   exit:                    return
//! point(x, y, z, t) -> f64:  constants; the root
//! ```
//!
//! Nodes are emitted on demand, depth first, and remembered, so a shared subexpression is
//! computed once. `if(c, a, b)` whose arms need a function call (`exp`, `sin`, ...) becomes a
//! branch that computes only the chosen arm; cheap arms are both computed and selected without
//! a branch. Values computed inside an arm are forgotten after it (they do not dominate the
//! code that follows).
//!
//! Operations with an exactly rounded machine instruction are emitted inline: `+ - * /`,
//! negation, `sqrt`, `abs`, squares, comparisons and the selects behind `if`, `min`, `max` and
//! `sign`. Everything else calls the shared Rust definition (see [`helpers`](super::helpers)).
//! Cranelift does not reassociate floating-point operations or fuse them into FMAs, so results
//! are those of the interpreter, bit for bit.

use std::collections::HashMap;

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{
    AbiParam, BlockArg, FuncRef, InstBuilder, MemFlagsData, Signature, Value, types,
};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{FuncId, Linkage, Module, ModuleError, default_libcall_names};

use super::helpers::{self, Helper};
use super::{JitError, KernelFn, PointFn};
use crate::ast::{BinOp, Func, Var};
use crate::dag::{Dag, Node, NodeId};

fn err(e: ModuleError) -> JitError {
    JitError::Codegen(e.to_string())
}

fn bug(what: &str) -> JitError {
    JitError::Codegen(what.to_owned())
}

/// The compiled functions and the module that owns their code.
pub(super) struct Compiled {
    pub(super) batch: KernelFn,
    pub(super) point: Option<PointFn>,
    pub(super) module: JITModule,
}

/// Compiles `dag`.
pub(super) fn build(isa: &OwnedTargetIsa, dag: &Dag) -> Result<Compiled, JitError> {
    let mut jb = JITBuilder::with_isa(isa.clone(), default_libcall_names());
    for h in helpers::all() {
        jb.symbol(h.name, h.ptr);
    }
    let mut module = JITModule::new(jb);
    let ptr = module.target_config().pointer_type();
    let expensive = expensive_nodes(dag);
    let mut fctx = FunctionBuilderContext::new();

    let mut sig = module.make_signature();
    sig.params
        .extend([ptr, ptr, ptr, types::F64].map(AbiParam::new));
    let batch_id = module
        .declare_function("femscale_expr_batch", Linkage::Local, &sig)
        .map_err(err)?;
    define(
        &mut module,
        &mut fctx,
        batch_id,
        sig,
        |e| e.batch(dag),
        &expensive,
    )?;

    let point_id = if dag.roots.len() == 1 {
        let mut sig = module.make_signature();
        sig.params.extend([AbiParam::new(types::F64); 4]);
        sig.returns.push(AbiParam::new(types::F64));
        let id = module
            .declare_function("femscale_expr_point", Linkage::Local, &sig)
            .map_err(err)?;
        define(
            &mut module,
            &mut fctx,
            id,
            sig,
            |e| e.point(dag),
            &expensive,
        )?;
        Some(id)
    } else {
        None
    };

    module.finalize_definitions().map_err(err)?;
    let code = module.get_finalized_function(batch_id);
    // SAFETY: `code` is the finalized entry of the function defined with the signature built
    // above: the platform's default (C) calling convention, parameters (pointer, pointer,
    // pointer-sized integer, f64) and no result, which is the ABI of `KernelFn`. The module
    // owning the code is returned with it and kept alive by every holder of the pointer.
    let batch = unsafe { std::mem::transmute::<*const u8, KernelFn>(code) };
    let point = point_id.map(|id| {
        let code = module.get_finalized_function(id);
        // SAFETY: as above, for the signature (f64, f64, f64, f64) -> f64 of `PointFn`. The
        // function reads no memory but its constants, so calling it with any values is safe.
        unsafe { std::mem::transmute::<*const u8, PointFn>(code) }
    });
    Ok(Compiled {
        batch,
        point,
        module,
    })
}

/// Builds the body of function `id` with `emit` and defines it in `module`.
fn define(
    module: &mut JITModule,
    fctx: &mut FunctionBuilderContext,
    id: FuncId,
    sig: Signature,
    emit: impl FnOnce(&mut Emitter<'_>) -> Result<(), JitError>,
    expensive: &[bool],
) -> Result<(), JitError> {
    let mut ctx = module.make_context();
    ctx.func.signature = sig;
    {
        let mut e = Emitter {
            b: FunctionBuilder::new(&mut ctx.func, fctx),
            module,
            imports: HashMap::new(),
            memo: Vec::new(),
            log: Vec::new(),
            expensive,
            consts: None,
        };
        emit(&mut e)?;
        e.b.seal_all_blocks();
        let config = e.module.target_config();
        e.b.finalize(config);
    }
    module.define_function(id, &mut ctx).map_err(err)?;
    module.clear_context(&mut ctx);
    Ok(())
}

/// Whether computing each node involves a call (worth a branch to skip).
fn expensive_nodes(dag: &Dag) -> Vec<bool> {
    let mut expensive = vec![false; dag.nodes.len()];
    for (i, n) in dag.nodes.iter().enumerate() {
        let call = match *n {
            Node::Call(f, _) => !matches!(f, Func::Sqrt | Func::Abs | Func::Sign),
            Node::Binary(BinOp::Atan2, ..) => true,
            Node::Binary(BinOp::Pow, _, b) => dag.nodes[b as usize] != Node::Const(2f64.to_bits()),
            _ => false,
        };
        expensive[i] = call || n.children().any(|c| expensive[c as usize]);
    }
    expensive
}

/// Constants the emitted operations need.
#[derive(Clone, Copy)]
struct Consts {
    nan: Value,
    zero: Value,
    one: Value,
    minus_one: Value,
}

struct Emitter<'a> {
    b: FunctionBuilder<'a>,
    module: &'a mut JITModule,
    /// Helpers declared in this function, by symbol.
    imports: HashMap<&'static str, FuncRef>,
    /// The value of each node computed so far, where it is still valid.
    memo: Vec<Option<Value>>,
    /// Nodes set in `memo`, in order, so that an `if` arm can forget its own.
    log: Vec<NodeId>,
    expensive: &'a [bool],
    consts: Option<Consts>,
}

impl Emitter<'_> {
    /// Defines the constants (and `t`) in the current block, which dominates the rest.
    fn prologue(&mut self, dag: &Dag, t: Value) {
        self.memo = vec![None; dag.nodes.len()];
        for (i, node) in dag.nodes.iter().enumerate() {
            self.memo[i] = match *node {
                Node::Const(bits) => Some(self.b.ins().f64const(f64::from_bits(bits))),
                Node::Var(Var::T) => Some(t),
                _ => None,
            };
        }
        self.consts = Some(Consts {
            nan: self.b.ins().f64const(f64::NAN),
            zero: self.b.ins().f64const(0.0),
            one: self.b.ins().f64const(1.0),
            minus_one: self.b.ins().f64const(-1.0),
        });
    }

    fn set_var(&mut self, dag: &Dag, var: Var, v: Value) {
        if let Some(i) = dag.nodes.iter().position(|n| *n == Node::Var(var)) {
            self.memo[i] = Some(v);
        }
    }

    fn batch(&mut self, dag: &Dag) -> Result<(), JitError> {
        let ptr = self.module.target_config().pointer_type();
        let entry = self.b.create_block();
        let body = self.b.create_block();
        let exit = self.b.create_block();
        self.b.append_block_params_for_function_params(entry);
        for _ in 0..3 {
            self.b.append_block_param(body, ptr);
        }

        self.b.switch_to_block(entry);
        let &[points, out, n, t] = self.b.block_params(entry) else {
            return Err(bug("batch signature mismatch"));
        };
        self.prologue(dag, t);
        let args = [points, out, n].map(BlockArg::Value);
        self.b.ins().brif(n, body, &args, exit, &[]);

        self.b.switch_to_block(body);
        let &[p, o, k] = self.b.block_params(body) else {
            return Err(bug("loop block mismatch"));
        };
        let flags = MemFlagsData::trusted();
        for (offset, var) in [(0, Var::X), (8, Var::Y), (16, Var::Z)] {
            if dag.uses(var) {
                let v = self.b.ins().load(types::F64, flags, p, offset);
                self.set_var(dag, var, v);
            }
        }
        let mut offset = 0i32;
        for root in &dag.roots {
            let v = self.get(dag, *root)?;
            self.b.ins().store(flags, v, o, offset);
            offset = offset
                .checked_add(8)
                .ok_or_else(|| bug("too many outputs"))?;
        }
        let p_next = self.b.ins().iadd_imm_s(p, 24);
        let o_next = self.b.ins().iadd_imm_s(o, i64::from(offset));
        let k_next = self.b.ins().iadd_imm_s(k, -1);
        let more = self.b.ins().icmp_imm_s(IntCC::NotEqual, k_next, 0);
        let args = [p_next, o_next, k_next].map(BlockArg::Value);
        self.b.ins().brif(more, body, &args, exit, &[]);

        self.b.switch_to_block(exit);
        self.b.ins().return_(&[]);
        Ok(())
    }

    fn point(&mut self, dag: &Dag) -> Result<(), JitError> {
        let entry = self.b.create_block();
        self.b.append_block_params_for_function_params(entry);
        self.b.switch_to_block(entry);
        let &[x, y, z, t] = self.b.block_params(entry) else {
            return Err(bug("point signature mismatch"));
        };
        self.prologue(dag, t);
        for (var, v) in [(Var::X, x), (Var::Y, y), (Var::Z, z)] {
            self.set_var(dag, var, v);
        }
        let &[root] = dag.roots.as_slice() else {
            return Err(bug("point function needs one output"));
        };
        let v = self.get(dag, root)?;
        self.b.ins().return_(&[v]);
        Ok(())
    }

    /// The value of node `id`, emitted now if not yet available.
    fn get(&mut self, dag: &Dag, id: NodeId) -> Result<Value, JitError> {
        if let Some(v) = self.memo[id as usize] {
            return Ok(v);
        }
        let c = self.consts.ok_or_else(|| bug("no prologue"))?;
        let v = match dag.nodes[id as usize] {
            Node::Const(_) | Node::Var(_) => return Err(bug("leaf without a value")),
            Node::Neg(a) => {
                let a = self.get(dag, a)?;
                self.b.ins().fneg(a)
            }
            Node::Binary(op, a, b) => {
                let b_const = match dag.nodes[b as usize] {
                    Node::Const(bits) => Some(f64::from_bits(bits)),
                    _ => None,
                };
                let a = self.get(dag, a)?;
                let b = self.get(dag, b)?;
                self.binary(op, a, b, b_const, c)?
            }
            Node::Call(f, a) => {
                let a = self.get(dag, a)?;
                self.call(f, a, c)?
            }
            Node::If(cond, a, b) => self.select(dag, [cond, a, b], c)?,
        };
        self.memo[id as usize] = Some(v);
        self.log.push(id);
        Ok(v)
    }

    /// `if(cond, a, b)`: NaN when `cond` is NaN, `a` when non-zero, `b` when zero.
    fn select(
        &mut self,
        dag: &Dag,
        [cond, a, b]: [NodeId; 3],
        c: Consts,
    ) -> Result<Value, JitError> {
        let cond = self.get(dag, cond)?;
        let pending = |e: &Self, n: NodeId| e.memo[n as usize].is_none() && e.expensive[n as usize];
        let chosen = if pending(self, a) || pending(self, b) {
            let (then_block, else_block) = (self.b.create_block(), self.b.create_block());
            let merge = self.b.create_block();
            self.b.append_block_param(merge, types::F64);
            let nonzero = self.b.ins().fcmp(FloatCC::NotEqual, cond, c.zero);
            self.b.ins().brif(nonzero, then_block, &[], else_block, &[]);
            for (block, arm) in [(then_block, a), (else_block, b)] {
                self.b.switch_to_block(block);
                let mark = self.log.len();
                let v = self.get(dag, arm)?;
                for forgotten in self.log.drain(mark..) {
                    self.memo[forgotten as usize] = None;
                }
                self.b.ins().jump(merge, &[BlockArg::Value(v)]);
            }
            self.b.switch_to_block(merge);
            *self
                .b
                .block_params(merge)
                .first()
                .ok_or_else(|| bug("merge block without a parameter"))?
        } else {
            let a = self.get(dag, a)?;
            let b = self.get(dag, b)?;
            let nonzero = self.b.ins().fcmp(FloatCC::NotEqual, cond, c.zero);
            self.b.ins().select(nonzero, a, b)
        };
        let is_nan = self.b.ins().fcmp(FloatCC::Unordered, cond, cond);
        Ok(self.b.ins().select(is_nan, c.nan, chosen))
    }

    fn binary(
        &mut self,
        op: BinOp,
        a: Value,
        b: Value,
        b_const: Option<f64>,
        c: Consts,
    ) -> Result<Value, JitError> {
        Ok(match op {
            BinOp::Add => self.b.ins().fadd(a, b),
            BinOp::Sub => self.b.ins().fsub(a, b),
            BinOp::Mul => self.b.ins().fmul(a, b),
            BinOp::Div => self.b.ins().fdiv(a, b),
            // `ast::pow`: squares by multiplication, other constants by `powf`.
            BinOp::Pow if b_const == Some(2.0) => self.b.ins().fmul(a, a),
            BinOp::Pow if b_const.is_some() => self.call_helper(helpers::powf(), &[a, b])?,
            BinOp::Pow => self.call_helper(helpers::pow(), &[a, b])?,
            BinOp::Atan2 => self.call_helper(helpers::atan2(), &[a, b])?,
            BinOp::Lt => self.compare(FloatCC::LessThan, a, b, c),
            BinOp::Le => self.compare(FloatCC::LessThanOrEqual, a, b, c),
            BinOp::Gt => self.compare(FloatCC::GreaterThan, a, b, c),
            BinOp::Ge => self.compare(FloatCC::GreaterThanOrEqual, a, b, c),
            BinOp::Eq => self.compare(FloatCC::Equal, a, b, c),
            // Unordered or unequal: true for NaN, like Rust's `!=`.
            BinOp::Ne => self.compare(FloatCC::NotEqual, a, b, c),
            // `ast::min`/`ast::max`: `b` when `a` is NaN or `b` is strictly better, else `a`.
            BinOp::Min => self.pick(FloatCC::LessThan, a, b),
            BinOp::Max => self.pick(FloatCC::GreaterThan, a, b),
        })
    }

    /// 1 when `a cc b`, else 0.
    fn compare(&mut self, cc: FloatCC, a: Value, b: Value, c: Consts) -> Value {
        let cond = self.b.ins().fcmp(cc, a, b);
        self.b.ins().select(cond, c.one, c.zero)
    }

    /// `b` when `a` is NaN or `b cc a`, else `a`.
    fn pick(&mut self, cc: FloatCC, a: Value, b: Value) -> Value {
        let better = self.b.ins().fcmp(cc, b, a);
        let m = self.b.ins().select(better, b, a);
        let a_nan = self.b.ins().fcmp(FloatCC::Unordered, a, a);
        self.b.ins().select(a_nan, b, m)
    }

    fn call(&mut self, f: Func, v: Value, c: Consts) -> Result<Value, JitError> {
        Ok(match f {
            Func::Sqrt => self.b.ins().sqrt(v),
            Func::Abs => self.b.ins().fabs(v),
            // -1, 0 or 1 by the sign (+0 for either zero), NaN for NaN.
            Func::Sign => {
                let neg = self.b.ins().fcmp(FloatCC::LessThan, v, c.zero);
                let s = self.b.ins().select(neg, c.minus_one, c.zero);
                let pos = self.b.ins().fcmp(FloatCC::GreaterThan, v, c.zero);
                let s = self.b.ins().select(pos, c.one, s);
                let nan = self.b.ins().fcmp(FloatCC::Unordered, v, v);
                self.b.ins().select(nan, c.nan, s)
            }
            f => self.call_helper(helpers::unary(f), &[v])?,
        })
    }

    fn call_helper(&mut self, h: Helper, args: &[Value]) -> Result<Value, JitError> {
        let fref = match self.imports.get(h.name) {
            Some(f) => *f,
            None => {
                let mut sig = Signature::new(self.module.isa().default_call_conv());
                sig.params
                    .extend((0..h.arity).map(|_| AbiParam::new(types::F64)));
                sig.returns.push(AbiParam::new(types::F64));
                let id = self
                    .module
                    .declare_function(h.name, Linkage::Import, &sig)
                    .map_err(err)?;
                let f = self.module.declare_func_in_func(id, self.b.func);
                self.imports.insert(h.name, f);
                f
            }
        };
        let call = self.b.ins().call(fref, args);
        self.b
            .inst_results(call)
            .first()
            .copied()
            .ok_or_else(|| JitError::Codegen(format!("{} returned nothing", h.name)))
    }
}
