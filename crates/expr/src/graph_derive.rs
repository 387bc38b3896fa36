//! Symbolic differentiation on the graph: the same rules and simplifications as the tree
//! derivative ([`Expr::derivative`](crate::Expr::derivative)), producing the same expression,
//! but with shared nodes.
//!
//! The tree derivative of `a*b` copies `a` and `b` into `da*b + a*db`; for a product of `n`
//! factors that makes `O(n^2)` nodes, and evaluating them costs as much. On the graph the
//! copies are references to existing nodes, so the derivative has `O(n)` new nodes and each is
//! computed once per point. Every constructor here mirrors one in `derive.rs` rule for rule
//! (including the trees' notion of equality, see [`Dag::tree_eq`]), so the graph unfolds to
//! exactly the tree derivative and evaluates to the same bits; tests check both.

use crate::ast::{BinOp, Func, Var, select as select_value};
use crate::dag::{Dag, Node, NodeId, TooManyNodes};

type R = Result<NodeId, TooManyNodes>;

impl Dag {
    /// The partial derivative of node `id` with respect to `var`, added to the graph.
    ///
    /// Iterative (operands are differentiated before the nodes using them, in node order), so
    /// deep expressions cannot exhaust the stack.
    ///
    /// # Errors
    /// [`TooManyNodes`] when the graph would grow beyond its limit.
    pub(crate) fn derivative(&mut self, id: NodeId, var: Var) -> R {
        let needed = self.derivative_needs(id, var);
        let mut d: Vec<NodeId> = vec![0; needed.len()];
        for (i, need) in needed.into_iter().enumerate() {
            if need {
                d[i] = self.derivative_of(i as NodeId, var, &d)?;
            }
        }
        Ok(d[id as usize])
    }

    /// Which nodes' derivatives the derivative of `id` reads: the tree rule recurses into the
    /// operands of a node that uses `var` (not into the condition of an `if`).
    fn derivative_needs(&self, id: NodeId, var: Var) -> Vec<bool> {
        let mut needed = vec![false; self.nodes.len()];
        needed[id as usize] = true;
        for i in (0..self.nodes.len()).rev() {
            if !needed[i] || !self.node_uses(i as NodeId, var) {
                continue;
            }
            match self.nodes[i] {
                Node::Const(_) | Node::Var(_) => {}
                Node::Neg(a) | Node::Call(_, a) => needed[a as usize] = true,
                Node::Binary(_, a, b) | Node::If(_, a, b) => {
                    needed[a as usize] = true;
                    needed[b as usize] = true;
                }
            }
        }
        needed
    }

    /// The derivative of one node, given those of its operands in `d`.
    fn derivative_of(&mut self, id: NodeId, var: Var, d: &[NodeId]) -> R {
        if !self.node_uses(id, var) {
            return self.k(0.0);
        }
        let da = |a: NodeId| d[a as usize];
        match self.node(id) {
            Node::Const(_) => self.k(0.0),
            Node::Var(v) => self.k(if v == var { 1.0 } else { 0.0 }),
            Node::Neg(a) => self.s_neg(da(a)),
            Node::Binary(op, a, b) => self.binary_derivative(op, a, b, da(a), da(b)),
            Node::Call(f, a) => {
                let da = da(a);
                if self.is(da, 0.0) {
                    return self.k(0.0);
                }
                let outer = self.outer_derivative(f, a)?;
                self.s_mul(outer, da)
            }
            Node::If(cond, a, b) => self.s_select(cond, da(a), da(b)),
        }
    }

    /// `f'(a)`.
    fn outer_derivative(&mut self, f: Func, a: NodeId) -> R {
        let one = self.k(1.0)?;
        let two = self.k(2.0)?;
        match f {
            Func::Sin => self.call(Func::Cos, a),
            Func::Cos => {
                let s = self.call(Func::Sin, a)?;
                self.s_neg(s)
            }
            Func::Tan => {
                let c = self.call(Func::Cos, a)?;
                let c2 = self.s_pow(c, two)?;
                self.s_div(one, c2)
            }
            Func::Asin | Func::Acos => {
                let a2 = self.s_pow(a, two)?;
                let r = self.s_sub(one, a2)?;
                let r = self.call(Func::Sqrt, r)?;
                let q = self.s_div(one, r)?;
                if f == Func::Acos {
                    self.s_neg(q)
                } else {
                    Ok(q)
                }
            }
            Func::Atan => {
                let a2 = self.s_pow(a, two)?;
                let s = self.s_add(one, a2)?;
                self.s_div(one, s)
            }
            Func::Sinh => self.call(Func::Cosh, a),
            Func::Cosh => self.call(Func::Sinh, a),
            Func::Tanh => {
                let c = self.call(Func::Cosh, a)?;
                let c2 = self.s_pow(c, two)?;
                self.s_div(one, c2)
            }
            Func::Exp => self.call(Func::Exp, a),
            Func::Ln => self.s_div(one, a),
            Func::Log10 => {
                let k = self.k(1.0 / std::f64::consts::LN_10)?;
                self.s_div(k, a)
            }
            Func::Sqrt => {
                let half = self.k(0.5)?;
                let r = self.call(Func::Sqrt, a)?;
                self.s_div(half, r)
            }
            Func::Abs => self.call(Func::Sign, a),
            Func::Floor | Func::Ceil | Func::Sign => self.k(0.0),
        }
    }

    fn binary_derivative(&mut self, op: BinOp, a: NodeId, b: NodeId, da: NodeId, db: NodeId) -> R {
        let two = self.k(2.0)?;
        match op {
            BinOp::Add => self.s_add(da, db),
            BinOp::Sub => self.s_sub(da, db),
            BinOp::Mul => {
                let l = self.s_mul(da, b)?;
                let r = self.s_mul(a, db)?;
                self.s_add(l, r)
            }
            BinOp::Div if self.is(db, 0.0) => self.s_div(da, b),
            BinOp::Div => {
                let l = self.s_mul(da, b)?;
                let r = self.s_mul(a, db)?;
                let num = self.s_sub(l, r)?;
                let den = self.s_pow(b, two)?;
                self.s_div(num, den)
            }
            BinOp::Pow => match self.node(b).as_const() {
                // d(a^k) = k a^(k-1) da
                Some(k) => {
                    let kk = self.k(k)?;
                    let k1 = self.k(k - 1.0)?;
                    let p = self.s_pow(a, k1)?;
                    let m = self.s_mul(kk, p)?;
                    self.s_mul(m, da)
                }
                // 0^b is 0 wherever it is finite (b > 0); ln(0) would make the product NaN.
                None if self.is(da, 0.0) && self.is(a, 0.0) => self.k(0.0),
                None if self.is(da, 0.0) => {
                    // d(k^b) = k^b ln(k) db
                    let ln_a = self.call(Func::Ln, a)?;
                    let p = self.s_pow(a, b)?;
                    let m = self.s_mul(p, ln_a)?;
                    self.s_mul(m, db)
                }
                // d(a^b) = a^b (db ln a + b da / a)
                None => {
                    let ln_a = self.call(Func::Ln, a)?;
                    let l = self.s_mul(db, ln_a)?;
                    let bda = self.s_mul(b, da)?;
                    let r = self.s_div(bda, a)?;
                    let inner = self.s_add(l, r)?;
                    let p = self.s_pow(a, b)?;
                    self.s_mul(p, inner)
                }
            },
            // The derivative of the argument the value takes (`ast::min`): `b` when `b < a`
            // (`b > a` for max) or `a` is NaN, `a` otherwise (also when `b` is NaN).
            BinOp::Min | BinOp::Max => {
                let cmp = if op == BinOp::Min {
                    BinOp::Lt
                } else {
                    BinOp::Gt
                };
                let a_is_number = self.binary(BinOp::Eq, a, a)?;
                let takes_b = self.binary(cmp, b, a)?;
                let otherwise = self.s_select(a_is_number, da, db)?;
                self.s_select(takes_b, db, otherwise)
            }
            // d atan2(a, b) = (b da - a db) / (a^2 + b^2)
            BinOp::Atan2 => {
                let l = self.s_mul(b, da)?;
                let r = self.s_mul(a, db)?;
                let num = self.s_sub(l, r)?;
                let a2 = self.s_pow(a, two)?;
                let b2 = self.s_pow(b, two)?;
                let den = self.s_add(a2, b2)?;
                self.s_div(num, den)
            }
            _ => self.k(0.0),
        }
    }

    // --- Folding constructors: `Expr::negate`, `Expr::binary`, `Expr::call`, `Expr::select`.

    fn k(&mut self, v: f64) -> R {
        self.intern(Node::Const(v.to_bits()))
    }

    fn konst(&self, id: NodeId) -> Option<f64> {
        self.node(id).as_const()
    }

    fn is(&self, id: NodeId, v: f64) -> bool {
        self.konst(id) == Some(v)
    }

    fn negate(&mut self, a: NodeId) -> R {
        match self.konst(a) {
            Some(c) => self.k(-c),
            None => self.intern(Node::Neg(a)),
        }
    }

    fn binary(&mut self, op: BinOp, a: NodeId, b: NodeId) -> R {
        match (self.konst(a), self.konst(b)) {
            (Some(x), Some(y)) => self.k(op.apply(x, y)),
            _ => self.intern(Node::Binary(op, a, b)),
        }
    }

    fn call(&mut self, f: Func, a: NodeId) -> R {
        match self.konst(a) {
            Some(c) => self.k(f.apply(c)),
            None => self.intern(Node::Call(f, a)),
        }
    }

    fn select(&mut self, c: NodeId, a: NodeId, b: NodeId) -> R {
        match self.konst(c) {
            Some(c) if c.is_nan() => self.k(select_value(c, 0.0, 0.0)),
            Some(c) if c != 0.0 => Ok(a),
            Some(_) => Ok(b),
            None => self.intern(Node::If(c, a, b)),
        }
    }

    fn neg_operand(&self, id: NodeId) -> Option<NodeId> {
        match self.node(id) {
            Node::Neg(a) => Some(a),
            _ => None,
        }
    }

    // --- Simplifying constructors, rule for rule those of `derive.rs`.

    fn s_add(&mut self, a: NodeId, b: NodeId) -> R {
        if self.is(a, 0.0) {
            return Ok(b);
        }
        if self.is(b, 0.0) {
            return Ok(a);
        }
        if let Some(b) = self.neg_operand(b) {
            return self.s_sub(a, b);
        }
        if let Some(a) = self.neg_operand(a) {
            return self.s_sub(b, a);
        }
        self.binary(BinOp::Add, a, b)
    }

    fn s_sub(&mut self, a: NodeId, b: NodeId) -> R {
        if self.is(b, 0.0) {
            return Ok(a);
        }
        if self.is(a, 0.0) {
            return self.s_neg(b);
        }
        if let Some(b) = self.neg_operand(b) {
            return self.s_add(a, b);
        }
        if self.tree_eq(a, b) {
            return self.k(0.0);
        }
        self.binary(BinOp::Sub, a, b)
    }

    fn s_neg(&mut self, a: NodeId) -> R {
        match self.neg_operand(a) {
            Some(a) => Ok(a),
            None => self.negate(a),
        }
    }

    fn s_mul(&mut self, a: NodeId, b: NodeId) -> R {
        if self.is(a, 0.0) || self.is(b, 0.0) {
            return self.k(0.0);
        }
        if self.is(a, 1.0) {
            return Ok(b);
        }
        if self.is(b, 1.0) {
            return Ok(a);
        }
        if self.is(a, -1.0) {
            return self.s_neg(b);
        }
        if self.is(b, -1.0) {
            return self.s_neg(a);
        }
        match (self.neg_operand(a), self.neg_operand(b)) {
            (Some(a), Some(b)) => return self.s_mul(a, b),
            (Some(a), None) => {
                let m = self.s_mul(a, b)?;
                return self.s_neg(m);
            }
            // `(b, Neg(a)) => neg(mul(a, b))`: the operands swap, as in the tree rule.
            (None, Some(b_inner)) => {
                let m = self.s_mul(b_inner, a)?;
                return self.s_neg(m);
            }
            (None, None) => {}
        }
        // Constants to the left, and merged: c1 * (c2 * a) = (c1 * c2) * a.
        if let (None, Some(k)) = (self.konst(a), self.konst(b)) {
            let k = self.k(k)?;
            return self.s_mul(k, a);
        }
        if let (Some(k1), Node::Binary(BinOp::Mul, b1, b2)) = (self.konst(a), self.node(b))
            && let Some(k2) = self.konst(b1)
        {
            let k = self.k(k1 * k2)?;
            return self.s_mul(k, b2);
        }
        self.binary(BinOp::Mul, a, b)
    }

    fn s_div(&mut self, a: NodeId, b: NodeId) -> R {
        if self.is(a, 0.0) {
            return self.k(0.0);
        }
        if self.is(b, 1.0) {
            return Ok(a);
        }
        if let Some(a) = self.neg_operand(a) {
            let q = self.s_div(a, b)?;
            return self.s_neg(q);
        }
        self.binary(BinOp::Div, a, b)
    }

    fn s_pow(&mut self, a: NodeId, b: NodeId) -> R {
        if self.is(b, 0.0) {
            return self.k(1.0);
        }
        if self.is(b, 1.0) {
            return Ok(a);
        }
        self.binary(BinOp::Pow, a, b)
    }

    fn s_select(&mut self, cond: NodeId, a: NodeId, b: NodeId) -> R {
        if self.tree_eq(a, b) && self.konst(cond).is_none() {
            return Ok(a);
        }
        self.select(cond, a, b)
    }
}
