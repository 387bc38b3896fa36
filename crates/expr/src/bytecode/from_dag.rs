//! Bytecode for a node of a [`Dag`]: every node the root needs is computed once, into a
//! register that is freed after its last reader, so shared subexpressions (the partial
//! products of a long product's derivative, say) cost one operation each per point.
//!
//! The operations are those the tree compiler emits for the unfolded tree (same constant
//! folding, same immediates, squares as products), so the values agree bit for bit.

use std::collections::HashMap;

use super::{Compiler, NVARS, Op, Operand, Program, Reg, TooLarge};
use crate::ast::Func;
use crate::dag::{Dag, Node, NodeId};

impl Program {
    /// Compiles node `root` of `dag`, each needed node once.
    ///
    /// # Errors
    /// [`TooLarge`] when the values alive at once need more than 65 536 registers.
    pub(crate) fn compile_dag(dag: &Dag, root: NodeId) -> Result<Program, TooLarge> {
        Self::compile_dag_roots(dag, &[root])
    }

    /// Compiles the nodes `roots` of `dag` into one program with a result per root, each
    /// needed node once (shared between the roots).
    ///
    /// # Errors
    /// As [`compile_dag`](Self::compile_dag).
    pub(crate) fn compile_dag_roots(dag: &Dag, roots: &[NodeId]) -> Result<Program, TooLarge> {
        let needed = dag.reachable(roots);
        // Reads of each node by the needed nodes above it (a root is also read as a result,
        // so it is never freed).
        let mut reads = vec![0u32; dag.nodes.len()];
        for &root in roots {
            reads[root as usize] = 1;
        }
        for (i, node) in dag.nodes.iter().enumerate() {
            if needed[i] {
                for child in node.children() {
                    reads[child as usize] = reads[child as usize].saturating_add(1);
                }
            }
        }
        // The sine and cosine nodes of each argument: when both are needed they come from
        // one `SinCos` (one argument reduction and both kernel polynomials serve the two).
        let mut trig_of: HashMap<NodeId, [Option<NodeId>; 2]> = HashMap::new();
        for (i, node) in dag.nodes.iter().enumerate() {
            if let (true, Node::Call(f @ (Func::Sin | Func::Cos), a)) = (needed[i], *node) {
                trig_of.entry(a).or_default()[usize::from(f == Func::Cos)] = Some(i as NodeId);
            }
        }
        let mut c = Compiler::new();
        let mut value: Vec<Option<Operand>> = vec![None; dag.nodes.len()];
        for (i, node) in dag.nodes.iter().enumerate() {
            if !needed[i] || value[i].is_some() {
                continue;
            }
            if let Node::Call(Func::Sin | Func::Cos, a) = *node
                && let Some(&[Some(sin), Some(cos)]) = trig_of.get(&a)
                && let Some(Operand::Reg(ra)) = value[a as usize]
            {
                let (s, co) = (c.alloc()?, c.alloc()?);
                c.ops.push(Op::SinCos { s, c: co, a: ra });
                // Both nodes read the argument.
                c.release(Operand::Reg(ra));
                c.release(Operand::Reg(ra));
                c.remaining[usize::from(s)] = reads[sin as usize];
                c.remaining[usize::from(co)] = reads[cos as usize];
                value[sin as usize] = Some(Operand::Reg(s));
                value[cos as usize] = Some(Operand::Reg(co));
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
        let outs = (roots.iter())
            .map(|&root| value[root as usize].ok_or(TooLarge))
            .collect::<Result<Vec<_>, _>>()?;
        c.finish(&outs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    fn program(texts: &[&str]) -> (Vec<crate::ast::Expr>, Program) {
        let exprs: Vec<_> = texts.iter().map(|t| parse(t, &[]).unwrap()).collect();
        let refs: Vec<_> = exprs.iter().collect();
        let dag = Dag::build(&refs).unwrap();
        let program = Program::compile_dag_roots(&dag, &dag.roots).unwrap();
        (exprs, program)
    }

    #[test]
    fn sine_and_cosine_of_one_argument_share_an_operation() {
        // Cosine first in one root, sine first in the other; a third argument has only a sine.
        let texts = ["cos(2*x) * y + sin(y)", "sin(2*x) + cos(y) * sin(z)"];
        let (exprs, p) = program(&texts);
        let fused = p
            .ops
            .iter()
            .filter(|op| matches!(op, Op::SinCos { .. }))
            .count();
        let single = p
            .ops
            .iter()
            .filter(|op| matches!(op, Op::Call { .. }))
            .count();
        assert_eq!((fused, single), (2, 1), "{:?}", p.ops);
        assert_eq!(p.outputs(), 2);
        let points: Vec<[f64; 3]> = (0..150)
            .map(|i| {
                let s = f64::from(i) * 0.37 - 20.0;
                [s, 1.3 * s + 0.1, 1e6 / (s + 0.05)]
            })
            .collect();
        let mut out = vec![0.0; points.len() * 2];
        p.eval_batch_interleaved(&points, &mut out);
        for (i, q) in points.iter().enumerate() {
            for (j, e) in exprs.iter().enumerate() {
                let want = e.eval([q[0], q[1], q[2], 0.0]);
                assert_eq!(
                    out[2 * i + j].to_bits(),
                    want.to_bits(),
                    "{} at {q:?}",
                    texts[j]
                );
            }
        }
    }
}
