//! Expressions as one hash-consed graph: structurally equal subtrees become one node.
//!
//! Both backends compile a [`Dag`] rather than trees, so a value that several places share (the
//! `cos(pi*x)` of a function and of its derivatives, the `sin(pi*y)` of both gradient
//! components, the partial products of a long product's derivative) is computed once per point.
//! Nodes are stored children first, so evaluating them in order never meets an operand that is
//! not yet computed. Derivatives are taken on the graph itself (see `graph_derive`), which keeps
//! the derivative of a product of `n` factors at `O(n)` nodes where the tree has `O(n^2)`.

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

    /// The node with every operand replaced by `f(operand)`.
    fn map_children(self, f: impl Fn(NodeId) -> NodeId) -> Node {
        match self {
            Node::Const(_) | Node::Var(_) => self,
            Node::Neg(a) => Node::Neg(f(a)),
            Node::Call(func, a) => Node::Call(func, f(a)),
            Node::Binary(op, a, b) => Node::Binary(op, f(a), f(b)),
            Node::If(c, a, b) => Node::If(f(c), f(a), f(b)),
        }
    }

    /// The value of a constant node.
    pub(crate) fn as_const(self) -> Option<f64> {
        match self {
            Node::Const(bits) => Some(f64::from_bits(bits)),
            _ => None,
        }
    }
}

/// What the graph knows about a node besides its operation.
#[derive(Debug, Clone, Copy)]
struct Meta {
    /// Bit `i` set when variable `i` occurs below the node.
    uses: u8,
    /// A NaN constant occurs below the node.
    nan: bool,
    /// The node's class under the trees' equality ([`Expr`]'s `==`, which compares constants
    /// as numbers, so `0` equals `-0` and NaN equals nothing).
    class: u32,
}

/// Expressions sharing their common subexpressions.
#[derive(Debug, Clone)]
pub(crate) struct Dag {
    /// The operations, children before parents.
    pub(crate) nodes: Vec<Node>,
    /// The node of each expression, in the order given to [`Dag::build`].
    pub(crate) roots: Vec<NodeId>,
    meta: Vec<Meta>,
    index: HashMap<Node, NodeId>,
    /// Class keys (a node over the classes of its operands, zeros unsigned) to class ids.
    classes: HashMap<Node, u32>,
    /// Most nodes the graph may hold.
    limit: usize,
}

impl Default for Dag {
    fn default() -> Self {
        Dag::with_limit(NodeId::MAX as usize)
    }
}

/// The graph would have more nodes than its limit (or than [`NodeId`] can count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooManyNodes {
    /// The limit that was reached.
    pub(crate) limit: usize,
}

impl Dag {
    /// An empty graph that refuses to grow beyond `limit` nodes.
    pub(crate) fn with_limit(limit: usize) -> Dag {
        Dag {
            nodes: Vec::new(),
            roots: Vec::new(),
            meta: Vec::new(),
            index: HashMap::new(),
            classes: HashMap::new(),
            limit: limit.min(NodeId::MAX as usize),
        }
    }

    /// The graph of `exprs`, with one root per expression.
    pub(crate) fn build(exprs: &[&Expr]) -> Result<Dag, TooManyNodes> {
        let mut dag = Dag::default();
        for e in exprs {
            let root = dag.add(e)?;
            dag.roots.push(root);
        }
        Ok(dag)
    }

    /// Adds the tree `e` (sharing what is already present); returns its node.
    pub(crate) fn add(&mut self, e: &Expr) -> Result<NodeId, TooManyNodes> {
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

    /// The node `node` (whose operands must be nodes of this graph), added unless present.
    pub(crate) fn intern(&mut self, node: Node) -> Result<NodeId, TooManyNodes> {
        if let Some(&id) = self.index.get(&node) {
            return Ok(id);
        }
        if self.nodes.len() >= self.limit {
            return Err(TooManyNodes { limit: self.limit });
        }
        let id =
            NodeId::try_from(self.nodes.len()).map_err(|_| TooManyNodes { limit: self.limit })?;
        let meta = self.meta_of(node);
        self.nodes.push(node);
        self.meta.push(meta);
        self.index.insert(node, id);
        Ok(id)
    }

    fn meta_of(&mut self, node: Node) -> Meta {
        let (mut uses, mut nan) = (0u8, false);
        match node {
            Node::Const(bits) => nan = f64::from_bits(bits).is_nan(),
            Node::Var(v) => uses = 1 << v.index(),
            _ => {
                for c in node.children() {
                    let m = self.meta[c as usize];
                    uses |= m.uses;
                    nan |= m.nan;
                }
            }
        }
        let key = match node {
            // `0 == -0` for the trees: one class.
            Node::Const(bits) if f64::from_bits(bits) == 0.0 => Node::Const(0),
            node => node.map_children(|c| self.meta[c as usize].class),
        };
        let next = u32::try_from(self.classes.len()).unwrap_or(u32::MAX);
        let class = *self.classes.entry(key).or_insert(next);
        Meta { uses, nan, class }
    }

    /// Whether the trees of `a` and `b` are equal as [`Expr`] values (`==`): what the tree
    /// simplifier tests, so that the graph derivative simplifies exactly as the tree one.
    pub(crate) fn tree_eq(&self, a: NodeId, b: NodeId) -> bool {
        let (ma, mb) = (self.meta[a as usize], self.meta[b as usize]);
        ma.class == mb.class && !ma.nan && !mb.nan
    }

    /// Whether `var` occurs below `id`.
    pub(crate) fn node_uses(&self, id: NodeId, var: Var) -> bool {
        self.meta[id as usize].uses & (1 << var.index()) != 0
    }

    /// The node `id`.
    pub(crate) fn node(&self, id: NodeId) -> Node {
        self.nodes[id as usize]
    }

    /// Which nodes the roots need: `reachable[i]` when node `i` is a root or an operand of a
    /// needed node.
    pub(crate) fn reachable(&self, roots: &[NodeId]) -> Vec<bool> {
        let mut needed = vec![false; self.nodes.len()];
        for r in roots {
            needed[*r as usize] = true;
        }
        // Children come before parents: one sweep from the top marks everything below.
        for i in (0..self.nodes.len()).rev() {
            if needed[i] {
                for c in self.nodes[i].children() {
                    needed[c as usize] = true;
                }
            }
        }
        needed
    }

    /// A compact graph of just what `roots` need, in the same order, with these roots.
    pub(crate) fn extract(&self, roots: &[NodeId]) -> Dag {
        let needed = self.reachable(roots);
        let mut out = Dag::with_limit(self.limit);
        let mut new_id = vec![0 as NodeId; self.nodes.len()];
        for (i, node) in self.nodes.iter().enumerate() {
            if needed[i] {
                // Cannot fail: the compact graph is no larger than this one.
                new_id[i] = out
                    .intern(node.map_children(|c| new_id[c as usize]))
                    .unwrap_or(0);
            }
        }
        out.roots = roots.iter().map(|r| new_id[*r as usize]).collect();
        out
    }

    /// The tree of node `id`, or `None` when it would have more than `max_size` nodes (a tree
    /// repeats every shared node, so it can be far larger than the graph).
    pub(crate) fn to_expr(&self, id: NodeId, max_size: usize) -> Option<Expr> {
        let needed = self.reachable(&[id]);
        let mut size = vec![0usize; self.nodes.len()];
        for (i, node) in self.nodes.iter().enumerate() {
            if needed[i] {
                size[i] = node
                    .children()
                    .fold(1usize, |s, c| s.saturating_add(size[c as usize]));
            }
        }
        if size[id as usize] > max_size {
            return None;
        }
        let mut trees: Vec<Option<Expr>> = vec![None; self.nodes.len()];
        for (i, node) in self.nodes.iter().enumerate() {
            if !needed[i] {
                continue;
            }
            let take = |c: NodeId| trees[c as usize].clone().unwrap_or(Expr::Const(f64::NAN));
            let tree = match *node {
                Node::Const(bits) => Expr::Const(f64::from_bits(bits)),
                Node::Var(v) => Expr::Var(v),
                Node::Neg(a) => Expr::Neg(Box::new(take(a))),
                Node::Binary(op, a, b) => Expr::Binary(op, Box::new(take(a)), Box::new(take(b))),
                Node::Call(f, a) => Expr::Call(f, Box::new(take(a))),
                Node::If(c, a, b) => {
                    Expr::If(Box::new(take(c)), Box::new(take(a)), Box::new(take(b)))
                }
            };
            trees[i] = Some(tree);
        }
        trees[id as usize].take()
    }

    /// The longest path from a root to a leaf, in nodes (0 for an empty graph).
    #[cfg_attr(not(feature = "jit"), allow(dead_code))]
    pub(crate) fn depth(&self) -> usize {
        let mut depth = vec![0usize; self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            depth[i] = 1 + n.children().map(|c| depth[c as usize]).max().unwrap_or(0);
        }
        depth.into_iter().max().unwrap_or(0)
    }

    /// Whether any node reads `var`.
    #[cfg_attr(not(feature = "jit"), allow(dead_code))]
    pub(crate) fn uses(&self, var: Var) -> bool {
        self.nodes.contains(&Node::Var(var))
    }

    /// A graph made of `nodes` as given (children first), for tests of the backends' limits.
    #[cfg(test)]
    pub(crate) fn from_raw(nodes: Vec<Node>, roots: Vec<NodeId>) -> Dag {
        let mut dag = Dag::default();
        for n in nodes {
            dag.meta.push(Meta {
                uses: 0,
                nan: false,
                class: 0,
            });
            dag.nodes.push(n);
        }
        dag.roots = roots;
        dag
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

    #[test]
    fn tree_equality_treats_zeros_as_equal_and_nan_as_unequal() {
        let mut dag = Dag::default();
        let x = dag.add(&parse("x")).unwrap_or(0);
        let pos = dag.add(&parse("x*0")).unwrap_or(0);
        let neg = dag.add(&parse("x*-0")).unwrap_or(0);
        assert_ne!(pos, neg);
        assert!(dag.tree_eq(pos, neg) && dag.tree_eq(x, x) && !dag.tree_eq(x, pos));
        let k = dag.intern(Node::Const(f64::NAN.to_bits())).unwrap_or(0);
        let nan = dag.intern(Node::Binary(BinOp::Mul, x, k)).unwrap_or(0);
        assert!(!dag.tree_eq(nan, nan));
        assert!(dag.node_uses(nan, Var::X) && !dag.node_uses(nan, Var::Y));
    }

    #[test]
    fn extracts_and_unfolds_what_roots_need() {
        let f = parse("sin(x)*cos(y) + sin(x)");
        let mut dag = Dag::build(&[&parse("z + 1")]).unwrap_or_default();
        let root = dag.add(&f).unwrap_or(0);
        let small = dag.extract(&[root]);
        assert!(!small.uses(Var::Z));
        assert_eq!(small.nodes.len(), 6, "{small:?}");
        assert_eq!(small.to_expr(small.roots[0], 100), Some(f.clone()));
        assert_eq!(dag.to_expr(root, 100), Some(f.clone()));
        assert_eq!(dag.to_expr(root, f.size() - 1), None);
        let mut capped = Dag::with_limit(3);
        assert_eq!(capped.add(&f), Err(TooManyNodes { limit: 3 }));
    }
}
