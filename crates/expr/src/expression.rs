//! [`Expression`]: a parsed, compiled expression usable as a [`ScalarField`].

use std::fmt;
use std::sync::{Arc, OnceLock};

use femscale_core::{Constant, ScalarField, SharedField};

use crate::ast::Expr;
use crate::backend::{BackendKind, ExprOptions, Kernel};
#[cfg(feature = "jit")]
use crate::backend::{JitKernel, jit_compile_dag};
use crate::bytecode::{Program, TooLarge};
use crate::dag::{Dag, NodeId, TooManyNodes};
use crate::{ExprError, MAX_NODES, Var, cache, parse, stats};

struct Inner {
    text: String,
    ast: Expr,
    options: ExprOptions,
    value: Kernel,
    /// The gradient, derived as one graph and compiled on first use (most expressions, such
    /// as coefficients and sources, never need it).
    gradient: OnceLock<Result<Gradient, ExprError>>,
    /// Value and gradient as one kernel with four outputs sharing their subexpressions,
    /// compiled on first use of [`ScalarField::value_and_gradient_batch`]; `None` for a
    /// constant or a graph too large, where the two are evaluated apart.
    value_and_gradient: OnceLock<Option<ValueAndGradient>>,
}

/// The compiled form of [`Inner::value_and_gradient`].
enum ValueAndGradient {
    #[cfg(feature = "jit")]
    Jit(JitKernel),
    Bytecode(Program),
}

impl ValueAndGradient {
    /// `out[4i..4i + 4]` = value and gradient at `points[i]`.
    fn run(&self, points: &[[f64; 3]], out: &mut [f64]) {
        match self {
            #[cfg(feature = "jit")]
            ValueAndGradient::Jit(k) => k.run(points, out, 0.0),
            ValueAndGradient::Bytecode(p) => p.eval_batch_interleaved(points, out),
        }
    }
}

/// The three partial derivatives as one graph sharing their nodes, and their compiled form.
struct Gradient {
    /// Roots `d/dx`, `d/dy`, `d/dz`.
    graph: Dag,
    kernel: GradientKernel,
}

enum GradientKernel {
    /// All three in one JIT kernel (shared subexpressions computed once).
    #[cfg(feature = "jit")]
    Jit(JitKernel),
    /// One constant or bytecode program per component.
    Separate([Kernel; 3]),
}

impl Gradient {
    /// Differentiates `ast` on a graph of at most [`MAX_NODES`] nodes and compiles the result.
    fn new(ast: &Expr, text: &str, options: ExprOptions) -> Result<Gradient, ExprError> {
        let too_large = |what: &str| ExprError {
            column: 1,
            message: format!(
                "{what} too large: the expression and its derivatives need more than {MAX_NODES} \
                 distinct operations"
            ),
            text: text.to_owned(),
        };
        let mut dag = Dag::with_limit(MAX_NODES);
        let root = dag.add(ast).map_err(|_| too_large("expression"))?;
        let roots = gradient_roots(&mut dag, root).map_err(|_| too_large("gradient"))?;
        let graph = dag.extract(&roots);
        let kernel = GradientKernel::new(&graph, options).map_err(|_| too_large("gradient"))?;
        Ok(Gradient { graph, kernel })
    }
}

/// The partial derivatives of `root` by x, y and z, added to `dag` (sharing its nodes).
fn gradient_roots(dag: &mut Dag, root: NodeId) -> Result<[NodeId; 3], TooManyNodes> {
    let mut roots = [0; 3];
    for (r, var) in roots.iter_mut().zip([Var::X, Var::Y, Var::Z]) {
        *r = dag.derivative(root, var)?;
    }
    Ok(roots)
}

impl GradientKernel {
    fn new(graph: &Dag, options: ExprOptions) -> Result<GradientKernel, TooLarge> {
        let all_constant = graph
            .roots
            .iter()
            .all(|r| graph.node(*r).as_const().is_some());
        #[cfg(feature = "jit")]
        if options.jit
            && !all_constant
            && let Some(k) = jit_compile_dag(graph)
        {
            return Ok(GradientKernel::Jit(k));
        }
        #[cfg(not(feature = "jit"))]
        if options.jit && !all_constant {
            crate::backend::jit_compile_unavailable();
        }
        let [x, y, z] = [0, 1, 2].map(|i| Kernel::from_dag(graph, graph.roots[i]));
        Ok(GradientKernel::Separate([x?, y?, z?]))
    }
}

/// A parsed and compiled expression of `x, y, z` (and the reserved `t = 0`).
///
/// Cheap to clone (the compiled forms are shared), `Send + Sync`, and a [`ScalarField`] with
/// exact gradients from symbolic differentiation. Compiled to machine code when parsed with
/// [`ExprOptions::jit`], to bytecode otherwise; both give the same values bit for bit.
#[derive(Clone)]
pub struct Expression {
    inner: Arc<Inner>,
}

impl Expression {
    /// Parses and compiles `text` with the variables `x, y, z, t` and constants `pi, e`, to
    /// bytecode (see [`parse_with`](Self::parse_with) for the JIT).
    ///
    /// # Errors
    /// [`ExprError`] with the column of the problem.
    pub fn parse(text: &str) -> Result<Self, ExprError> {
        Self::parse_with(text, &[], ExprOptions::default())
    }

    /// Like [`parse`](Self::parse), with named parameters that are replaced by their values
    /// (and folded with the constants around them).
    ///
    /// # Errors
    /// [`ExprError`] for invalid text, and for parameters that are not valid names, shadow a
    /// built-in name, repeat, or are not finite.
    pub fn parse_with_params(text: &str, params: &[(&str, f64)]) -> Result<Self, ExprError> {
        Self::parse_with(text, params, ExprOptions::default())
    }

    /// Parses and compiles `text` with `params` and the backend chosen by `options`, through
    /// the process-wide compile cache: the same text, parameters and options return the same
    /// compiled expression without parsing again (counted in [`stats`](crate::stats())).
    ///
    /// # Errors
    /// As [`parse_with_params`](Self::parse_with_params).
    pub fn parse_with(
        text: &str,
        params: &[(&str, f64)],
        options: ExprOptions,
    ) -> Result<Self, ExprError> {
        cache::get_or_compile(text, params, options, || {
            stats::parse();
            let ast = parse::parse(text, params)?;
            Self::from_ast_with(ast, text, options)
        })
    }

    /// Compiles a tree to bytecode; `text` is what [`text`](Self::text) and error messages
    /// show.
    ///
    /// # Errors
    /// [`ExprError`] when the tree is too large to compile.
    pub fn from_ast(ast: Expr, text: &str) -> Result<Self, ExprError> {
        Self::from_ast_with(ast, text, ExprOptions::default())
    }

    /// Compiles a tree with the backend chosen by `options` (not cached).
    ///
    /// # Errors
    /// [`ExprError`] when the tree is too large to compile.
    pub fn from_ast_with(ast: Expr, text: &str, options: ExprOptions) -> Result<Self, ExprError> {
        let value = Kernel::compile(&ast, text, options)?;
        Ok(Self {
            inner: Arc::new(Inner {
                text: text.to_owned(),
                ast,
                options,
                value,
                gradient: OnceLock::new(),
                value_and_gradient: OnceLock::new(),
            }),
        })
    }

    /// The value at `(x, y, z)`.
    #[inline]
    pub fn eval_xyz(&self, x: f64, y: f64, z: f64) -> f64 {
        self.inner.value.eval([x, y, z])
    }

    /// The source text.
    pub fn text(&self) -> &str {
        &self.inner.text
    }

    /// The expression tree, after constant folding.
    pub fn ast(&self) -> &Expr {
        &self.inner.ast
    }

    /// The value when the expression does not depend on any variable.
    pub fn constant(&self) -> Option<f64> {
        self.inner.ast.as_const()
    }

    /// A shared field: a [`Constant`] when the expression has no variables (so kernels skip
    /// evaluating it), the expression otherwise.
    pub fn into_field(self) -> SharedField {
        match self.constant() {
            Some(c) => Arc::new(Constant(c)),
            None => Arc::new(self),
        }
    }

    /// The options it was compiled with.
    pub fn options(&self) -> ExprOptions {
        self.inner.options
    }

    /// The backend evaluating the value: [`BackendKind::Jit`] only when the JIT was requested
    /// and succeeded.
    pub fn backend(&self) -> BackendKind {
        self.inner.value.kind()
    }

    /// Whether `self` and `other` are handles to one compiled expression (for instance two
    /// parses answered by the compile cache).
    pub fn shares_compiled_code(&self, other: &Expression) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The partial derivative with respect to `var`, as an expression whose text is the
    /// simplified derivative, compiled with the same options.
    ///
    /// # Errors
    /// [`ExprError`] when the derivative is too large: more than [`MAX_NODES`] distinct
    /// operations, or (written out as a tree, which repeats shared parts) more than
    /// [`MAX_NODES`] nodes.
    pub fn derivative(&self, var: Var) -> Result<Expression, ExprError> {
        let too_large = || ExprError {
            column: 1,
            message: format!(
                "the derivative by {} is too large to write out (more than {MAX_NODES} nodes)",
                var.name()
            ),
            text: self.inner.text.clone(),
        };
        let d = match var {
            Var::X | Var::Y | Var::Z => {
                let g = self.gradient_graph()?;
                g.graph.to_expr(g.graph.roots[var.index()], MAX_NODES)
            }
            Var::T => {
                let mut dag = Dag::with_limit(MAX_NODES);
                let root = dag.add(&self.inner.ast).map_err(|_| too_large())?;
                let d = dag.derivative(root, var).map_err(|_| too_large())?;
                dag.to_expr(d, MAX_NODES)
            }
        }
        .ok_or_else(too_large)?;
        let text = d.to_string();
        Self::from_ast_with(d, &text, self.inner.options)
    }

    /// Derives and compiles the gradient now (it is otherwise done on first use), so that an
    /// expression whose gradient is too large is refused up front.
    ///
    /// # Errors
    /// [`ExprError`] when the expression and its three partial derivatives together need more
    /// than [`MAX_NODES`] distinct operations.
    pub fn prepare_gradient(&self) -> Result<(), ExprError> {
        self.gradient_graph().map(|_| ())
    }

    /// The number of distinct operations (graph nodes, constants and variables included) of
    /// the three partial derivatives together; shared subexpressions count once.
    ///
    /// # Errors
    /// As [`prepare_gradient`](Self::prepare_gradient).
    pub fn gradient_size(&self) -> Result<usize, ExprError> {
        self.gradient_graph().map(|g| g.graph.nodes.len())
    }

    /// The number of distinct operations of the expression itself (graph nodes, constants and
    /// variables included); at most [`MAX_NODES`].
    pub fn graph_size(&self) -> usize {
        Dag::build(&[&self.inner.ast]).map_or(usize::MAX, |d| d.nodes.len())
    }

    /// The backend evaluating the gradient (derived and compiled now if not yet done):
    /// [`BackendKind::Jit`] when the JIT is on and some derivative is not constant,
    /// [`BackendKind::Constant`] when the gradient cannot be derived.
    pub fn gradient_backend(&self) -> BackendKind {
        match self.gradient_graph().map(|g| &g.kernel) {
            #[cfg(feature = "jit")]
            Ok(GradientKernel::Jit(_)) => BackendKind::Jit,
            Ok(GradientKernel::Separate(ks)) => ks
                .iter()
                .map(Kernel::kind)
                .find(|k| *k != BackendKind::Constant)
                .unwrap_or(BackendKind::Constant),
            Err(_) => BackendKind::Constant,
        }
    }

    /// The four-output kernel of [`Inner::value_and_gradient`], compiled on first use: JIT
    /// code when the expression was compiled with the JIT (the bytecode if that fails).
    fn value_and_gradient_kernel(&self) -> Option<&ValueAndGradient> {
        let inner = &*self.inner;
        inner
            .value_and_gradient
            .get_or_init(|| {
                if self.constant().is_some() {
                    return None;
                }
                let mut dag = Dag::with_limit(MAX_NODES);
                let root = dag.add(&inner.ast).ok()?;
                let [dx, dy, dz] = gradient_roots(&mut dag, root).ok()?;
                let graph = dag.extract(&[root, dx, dy, dz]);
                #[cfg(feature = "jit")]
                if inner.options.jit
                    && let Some(k) = jit_compile_dag(&graph)
                {
                    return Some(ValueAndGradient::Jit(k));
                }
                stats::bytecode_compilation();
                Program::compile_dag_roots(&graph, &graph.roots)
                    .ok()
                    .map(ValueAndGradient::Bytecode)
            })
            .as_ref()
    }

    fn gradient_graph(&self) -> Result<&Gradient, ExprError> {
        let inner = &*self.inner;
        inner
            .gradient
            .get_or_init(|| Gradient::new(&inner.ast, &inner.text, inner.options))
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl fmt::Debug for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expression({:?})", self.inner.text)
    }
}

impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.text)
    }
}

impl std::str::FromStr for Expression {
    type Err = ExprError;

    fn from_str(s: &str) -> Result<Self, ExprError> {
        Self::parse(s)
    }
}

impl ScalarField for Expression {
    #[inline]
    fn eval(&self, p: [f64; 3]) -> f64 {
        self.inner.value.eval(p)
    }

    fn eval_batch(&self, points: &[[f64; 3]], out: &mut [f64]) {
        self.inner.value.eval_batch(points, out);
    }

    fn as_constant(&self) -> Option<f64> {
        self.constant()
    }

    /// The exact gradient; NaN when it cannot be derived (see
    /// [`Expression::prepare_gradient`], which reports why).
    fn gradient(&self, p: [f64; 3]) -> [f64; 3] {
        match self.gradient_graph().map(|g| &g.kernel) {
            #[cfg(feature = "jit")]
            Ok(GradientKernel::Jit(k)) => {
                let mut g = [0.0; 3];
                k.run(&[p], &mut g, 0.0);
                g
            }
            Ok(GradientKernel::Separate(ks)) => ks.each_ref().map(|g| g.eval(p)),
            Err(_) => [f64::NAN; 3],
        }
    }

    fn gradient_batch(&self, points: &[[f64; 3]], out: &mut [[f64; 3]]) {
        assert_eq!(
            points.len(),
            out.len(),
            "gradient_batch: output length differs from input"
        );
        let ks = match self.gradient_graph().map(|g| &g.kernel) {
            #[cfg(feature = "jit")]
            Ok(GradientKernel::Jit(k)) => {
                k.run(points, out.as_flattened_mut(), 0.0);
                return;
            }
            Ok(GradientKernel::Separate(ks)) => ks,
            Err(_) => {
                out.fill([f64::NAN; 3]);
                return;
            }
        };
        let mut component = vec![0.0; points.len()];
        for (d, g) in ks.iter().enumerate() {
            g.eval_batch(points, &mut component);
            for (o, v) in out.iter_mut().zip(&component) {
                o[d] = *v;
            }
        }
    }

    fn value_and_gradient_batch(
        &self,
        points: &[[f64; 3]],
        values: &mut [f64],
        gradients: &mut [[f64; 3]],
    ) {
        assert!(
            values.len() == points.len() && gradients.len() == points.len(),
            "value_and_gradient_batch: output lengths differ from input"
        );
        if let Some(kernel) = self.value_and_gradient_kernel() {
            // In blocks, so that the interleaved outputs stay in cache while scattered.
            const BLOCK: usize = 256;
            let mut out = [0.0; 4 * BLOCK];
            for ((p, v), g) in points
                .chunks(BLOCK)
                .zip(values.chunks_mut(BLOCK))
                .zip(gradients.chunks_mut(BLOCK))
            {
                let out = &mut out[..4 * p.len()];
                kernel.run(p, out);
                for ((o, v), g) in out.chunks_exact(4).zip(v).zip(g) {
                    *v = o[0];
                    *g = [o[1], o[2], o[3]];
                }
            }
            return;
        }
        self.eval_batch(points, values);
        self.gradient_batch(points, gradients);
    }

    fn describe(&self) -> String {
        self.inner.text.clone()
    }
}
