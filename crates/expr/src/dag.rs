//! A set of expressions as one hash-consed graph: structurally equal subtrees become one node.
//!
//! The JIT compiles a [`Dag`] rather than trees, so a value that several outputs share (the
//! `cos(pi*x)` of a function and of its derivatives, the `sin(pi*y)` of both gradient
//! components) is computed once per point. Nodes are stored children first, so evaluating them
//! in order never meets an operand that is not yet computed.

use std::collections::HashMap;

use crate::ast::{BinOp, Expr, Func, Var};

/// Index of a node in [`Dag::nodes`].
pub(crate) type NodeId = u32;

/// One operation of the graph; operands are earlier nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Node {
    /// A constant, by its bits (so that equal constants, NaN included, are one node).
    Const(u64),
    /// A variable.
    Var(Var),
    /// `-a`.
    Neg(NodeId),
    /// `a op b`.
    Binary(BinOp, NodeId, NodeId),
    /// `f(a)`.
    Call(Func, NodeId),
    /// `if(c, a, b)`.
    If(NodeId, NodeId, NodeId),
}

impl Node {
    /// The operands.
    pub(crate) fn children(self) -> impl Iterator<Item = NodeId> {
        let (list, len): ([NodeId; 3], usize) = match self {
            Node::Const(_) | Node::Var(_) => ([0; 3], 0),
            Node::Neg(a) | Node::Call(_, a) => ([a, 0, 0], 1),
            Node::Binary(_, a, b) => ([a, b, 0], 2),
            Node::If(c, a, b) => ([c, a, b], 3),
        };
        list.into_iter().take(len)
    }
}

/// Expressions sharing their common subexpressions.
#[derive(Debug, Clone, Default)]
pub(crate) struct Dag {
    /// The operations, children before parents.
    pub(crate) nodes: Vec<Node>,
    /// The node of each expression, in the order given to [`Dag::build`].
    pub(crate) roots: Vec<NodeId>,
}

/// The graph would have more nodes than [`NodeId`] can count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooManyNodes;

struct Builder {
    nodes: Vec<Node>,
    index: HashMap<Node, NodeId>,
}

impl Builder {
    fn intern(&mut self, node: Node) -> Result<NodeId, TooManyNodes> {
        if let Some(&id) = self.index.get(&node) {
            return Ok(id);
        }
        let id = NodeId::try_from(self.nodes.len()).map_err(|_| TooManyNodes)?;
        self.nodes.push(node);
        self.index.insert(node, id);
        Ok(id)
    }

    fn add(&mut self, e: &Expr) -> Result<NodeId, TooManyNodes> {
        let node = match e {
            Expr::Const(c) => Node::Const(c.to_bits()),
            Expr::Var(v) => Node::Var(*v),
            Expr::Neg(a) => Node::Neg(self.add(a)?),
            Expr::Binary(op, a, b) => {
                let a = self.add(a)?;
                Node::Binary(*op, a, self.add(b)?)
            }
            Expr::Call(f, a) => Node::Call(*f, self.add(a)?),
            Expr::If(c, a, b) => {
                let c = self.add(c)?;
                let a = self.add(a)?;
                Node::If(c, a, self.add(b)?)
            }
        };
        self.intern(node)
    }
}

impl Dag {
    /// The graph of `exprs`, with one root per expression.
    pub(crate) fn build(exprs: &[&Expr]) -> Result<Dag, TooManyNodes> {
        let mut b = Builder {
            nodes: Vec::new(),
            index: HashMap::new(),
        };
        let roots = exprs
            .iter()
            .map(|e| b.add(e))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Dag {
            nodes: b.nodes,
            roots,
        })
    }

    /// The longest path from a root to a leaf, in nodes (0 for an empty graph).
    pub(crate) fn depth(&self) -> usize {
        let mut depth = vec![0usize; self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            depth[i] = 1 + n.children().map(|c| depth[c as usize]).max().unwrap_or(0);
        }
        depth.into_iter().max().unwrap_or(0)
    }

    /// Whether any node reads `var`.
    pub(crate) fn uses(&self, var: Var) -> bool {
        self.nodes.contains(&Node::Var(var))
    }

    /// Evaluates every root at `vars = [x, y, z, t]` with the shared semantics of
    /// [`BinOp::apply`], [`Func::apply`] and [`select`](crate::ast::select); the reference for
    /// the graph structure (tests compare it with the trees).
    #[cfg(test)]
    pub(crate) fn eval(&self, vars: [f64; 4]) -> Vec<f64> {
        let mut v: Vec<f64> = Vec::with_capacity(self.nodes.len());
        for n in &self.nodes {
            let at = |i: NodeId| v[i as usize];
            let value = match *n {
                Node::Const(bits) => f64::from_bits(bits),
                Node::Var(var) => vars[var.index()],
                Node::Neg(a) => -at(a),
                Node::Binary(op, a, b) => op.apply(at(a), at(b)),
                Node::Call(f, a) => f.apply(at(a)),
                Node::If(c, a, b) => crate::ast::select(at(c), at(a), at(b)),
            };
            v.push(value);
        }
        self.roots.iter().map(|r| v[*r as usize]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Expr {
        crate::parse::parse(text, &[]).unwrap_or(Expr::Const(f64::NAN))
    }

    #[test]
    fn shares_common_subexpressions() {
        let f = parse("sin(pi*x)*sin(pi*y) + sin(pi*x)");
        let dx = f.derivative(Var::X);
        let dag = Dag::build(&[&f, &dx]).unwrap_or_default();
        assert_eq!(dag.roots.len(), 2);
        let sines = dag
            .nodes
            .iter()
            .filter(|n| matches!(n, Node::Call(Func::Sin, _)))
            .count();
        assert_eq!(sines, 2, "sin(pi*x) and sin(pi*y) once each: {dag:?}");
        let p = [0.3, 0.7, 0.0, 0.0];
        let v = dag.eval(p);
        assert_eq!(v[0].to_bits(), f.eval(p).to_bits());
        assert_eq!(v[1].to_bits(), dx.eval(p).to_bits());
        // Children come before parents.
        for (i, n) in dag.nodes.iter().enumerate() {
            assert!(n.children().all(|c| (c as usize) < i));
        }
        // sin(pi*x)*sin(pi*y) + sin(pi*x): add, mul, sin, mul, x.
        assert_eq!(Dag::build(&[&f]).unwrap_or_default().depth(), 5);
        assert!(dag.uses(Var::X) && dag.uses(Var::Y) && !dag.uses(Var::Z));
    }
}
