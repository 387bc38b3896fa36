//! Bytecode for a node of a [`Dag`]: every node the root needs is computed once, into a
//! register that is freed after its last reader, so shared subexpressions (the partial
//! products of a long product's derivative, say) cost one operation each per point.
//!
//! The operations are those the tree compiler emits for the unfolded tree (same constant
//! folding, same immediates, squares as products), so the values agree bit for bit.

use super::{Compiler, NVARS, Operand, Program, Reg, TooLarge};
use crate::dag::{Dag, Node, NodeId};

impl Program {
    /// Compiles node `root` of `dag`, each needed node once.
    ///
    /// # Errors
    /// [`TooLarge`] when the values alive at once need more than 65 536 registers.
    pub(crate) fn compile_dag(dag: &Dag, root: NodeId) -> Result<Program, TooLarge> {
        let needed = dag.reachable(&[root]);
        // Reads of each node by the needed nodes above it (the root is also read as the
        // result, so it is never freed).
        let mut reads = vec![0u32; dag.nodes.len()];
        reads[root as usize] = 1;
        for (i, node) in dag.nodes.iter().enumerate() {
            if needed[i] {
                for child in node.children() {
                    reads[child as usize] = reads[child as usize].saturating_add(1);
                }
            }
        }
        let mut c = Compiler::new();
        let mut value: Vec<Option<Operand>> = vec![None; dag.nodes.len()];
        for (i, node) in dag.nodes.iter().enumerate() {
            if !needed[i] {
                continue;
            }
            let at = |id: NodeId| value[id as usize].ok_or(TooLarge);
            let v = match *node {
                Node::Const(bits) => Operand::Const(f64::from_bits(bits)),
                Node::Var(var) => {
                    c.uses[var.index()] = true;
                    Operand::Reg(var.index() as Reg)
                }
                Node::Neg(a) => match at(a)? {
                    Operand::Const(k) => Operand::Const(-k),
                    Operand::Reg(a) => c.unary(a, |d| super::Op::Neg { d, a })?,
                },
                Node::Call(f, a) => match at(a)? {
                    Operand::Const(k) => Operand::Const(f.apply(k)),
                    Operand::Reg(a) => c.unary(a, |d| super::Op::Call { f, d, a })?,
                },
                Node::Binary(op, a, b) => c.binary(op, at(a)?, at(b)?)?,
                Node::If(cond, a, b) => c.select(at(cond)?, at(a)?, at(b)?)?,
            };
            if let Operand::Reg(r) = v
                && usize::from(r) >= NVARS
            {
                c.remaining[usize::from(r)] = reads[i];
            }
            value[i] = Some(v);
        }
        let out = value[root as usize].ok_or(TooLarge)?;
        c.finish(out)
    }
}
