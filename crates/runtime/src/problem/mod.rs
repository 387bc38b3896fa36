//! The problem model: `-div(k grad u) + c u = f` on a mesh with boundary conditions, as the
//! library API builds it and as `[problem]` of a configuration file deserialises into it.
//!
//! One description serves both: [`Problem`] is the `[problem]` table (its serde form is the
//! configuration's), fields are [`FieldSpec`]s (a number or an expression string in a file, or
//! a Rust closure in a program), meshes are [`MeshSpec`]s (tagged by `kind`) and boundary
//! conditions are core's [`BoundaryConditionOf`] over `FieldSpec`.

use std::collections::BTreeMap;

use femscale_core::{
    BoundaryCondition, BoundaryConditionOf, BoundaryFieldRole, BoundaryKind, BoundaryKindOf,
    EllipticForm, Error, Order, Result, SharedField,
};
use femscale_expr::{ExprOptions, Expression, Var};
use serde::{Deserialize, Serialize};

mod convenience;
mod field;
mod mesh;

pub use convenience::{Laplace1d, Laplace2d};
pub use field::{FieldSpec, Source};
pub(crate) use mesh::check_refinements;
pub use mesh::{MAX_REFINEMENTS, MeshSpec};

/// A boundary condition of the problem model: on a named part, with [`FieldSpec`] data
/// (`BoundarySpec::dirichlet("left", 0.0)`, `BoundarySpec::robin("top", 2.0, "x*y")`).
pub type BoundarySpec = BoundaryConditionOf<FieldSpec>;

/// What a [`BoundarySpec`] prescribes.
pub type BoundarySpecKind = BoundaryKindOf<FieldSpec>;

/// A complete problem `-div(k grad u) + c u = f` with boundary conditions: `[problem]` of a
/// configuration file.
///
/// [`Problem::default`] is the configuration's default (the unit square, 32 x 32, `k = 1`,
/// `u = 0` on the whole boundary); [`Problem::new`] starts from a mesh without conditions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Problem {
    /// Spatial dimension the user expects (1, 2 or 3); checked against the mesh when given.
    pub dim: Option<usize>,
    /// The mesh.
    pub mesh: MeshSpec,
    /// The element's polynomial order: 1 (P1 on intervals, triangles and tetrahedra, Q1 on
    /// quadrilaterals and hexahedra) or 2 (P2/Q2). The mesh is lifted to (or, for a
    /// second-order file, lowered to) the node layout of this order.
    pub order: Order,
    /// Diffusion coefficient `k` (default 1).
    pub diffusion: FieldSpec,
    /// Reaction coefficient `c` (default none).
    pub reaction: Option<FieldSpec>,
    /// Source `f` (default none, i.e. 0).
    pub source: Option<FieldSpec>,
    /// Exact solution, to report L2/H1 errors.
    pub exact: Option<FieldSpec>,
    /// Boundary conditions, applied in order; parts without one are natural (`k du/dn = 0`).
    pub boundary: Vec<BoundarySpec>,
    /// Named parameters usable in expressions (`[problem.params] a = 2.5`).
    pub params: BTreeMap<String, f64>,
}

impl Default for Problem {
    fn default() -> Self {
        let mut p = Self::new(MeshSpec::default());
        p.boundary = vec![BoundarySpec::dirichlet("all", 0.0)];
        p
    }
}

/// Why `exact` cannot be a table by subdomain, and what to write instead.
pub(crate) const EXACT_BY_SUBDOMAIN: &str = "is given per subdomain, which the error norms do not take (an exact solution is one \
     function of x, y, z): select the pieces with comparisons, which give 1 or 0, e.g. \
     \"(x*x + y*y < 0.36) * (1 - x*x - y*y) + (x*x + y*y >= 0.36) * 0.64\"";

impl Problem {
    /// A problem on `mesh` with `k = 1`, no source and no boundary conditions yet.
    pub fn new(mesh: MeshSpec) -> Self {
        Self {
            dim: None,
            mesh,
            order: Order::Linear,
            diffusion: FieldSpec::Constant(1.0),
            reaction: None,
            source: None,
            exact: None,
            boundary: Vec::new(),
            params: BTreeMap::new(),
        }
    }

    /// Checks what can be checked before building anything: the declared dimension against
    /// the mesh, finite parameters, named boundary parts, a number of refinements in range,
    /// and that the solution is determined (a Dirichlet or Robin condition, or a reaction
    /// term).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the field of the problem (`dim`, `boundary`, ...; a
    /// caller that holds the problem under a key places it there with [`Error::within`]).
    pub fn check(&self) -> Result<()> {
        let field = |name: &str| name.to_string();
        check_refinements(&field("mesh.refinements"), self.mesh.refinements())?;
        if let Some(dim) = self.dim
            && let Some(mesh_dim) = self.mesh.dim()
            && dim != mesh_dim
        {
            return Err(Error::invalid(
                field("dim"),
                format!(
                    "dim = {dim} does not match a mesh of kind `{}` (dimension {mesh_dim})",
                    self.mesh.kind_name()
                ),
            ));
        }
        if let Some(FieldSpec::BySubdomain(_)) = &self.exact {
            return Err(Error::invalid(field("exact"), EXACT_BY_SUBDOMAIN));
        }
        for (name, v) in &self.params {
            let key = field(&format!("params.{name}"));
            if let Some(problem) = femscale_expr::param_name_problem(name) {
                return Err(Error::invalid(key, format!("a parameter that {problem}")));
            }
            femscale_core::error::ensure_finite(&key, *v)?;
        }
        // A condition determines the constant if it prescribes the value or enters the
        // operator (Robin's alpha); pure fluxes do not.
        let anchored = self.boundary.iter().any(|bc| {
            bc.kind.is_essential()
                || (bc.kind.fields().iter())
                    .any(|(_, role, _)| *role == BoundaryFieldRole::Operator)
        });
        if !anchored && self.reaction.is_none() {
            return Err(Error::invalid(
                field("boundary"),
                "no dirichlet or robin condition and no reaction: the solution is only determined \
                 up to a constant (the system is singular); add a dirichlet or robin condition or \
                 a reaction term",
            ));
        }
        for (i, bc) in self.boundary.iter().enumerate() {
            if bc.part.trim().is_empty() {
                return Err(Error::invalid(
                    field(&format!("boundary[{i}].where")),
                    "must not be empty",
                ));
            }
            for (key, _, f) in bc.kind.fields() {
                if let FieldSpec::BySubdomain(_) = f {
                    return Err(Error::invalid(
                        field(&format!("boundary[{i}].{key}")),
                        "is given per subdomain, which boundary data do not take (a boundary \
                         condition has one value or expression on its part): write one \
                         expression (`if(x < 0.5, 1, 2)`), or give each boundary part its own \
                         condition",
                    ));
                }
            }
        }
        if let Some(dim) = self.mesh.dim() {
            self.check_coordinates(dim)?;
        }
        Ok(())
    }

    /// Refuses an expression that uses a coordinate the mesh does not have (`y` or `z` in 1D,
    /// `z` in 2D): it would be 0 at every point, so `sin(pi*y)` as the exact solution of a 1D
    /// problem gave the errors of u = 0, silently. [`Problem::check`] calls it when the
    /// mesh's dimension is known before it is built; a solve, once it has read the mesh.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the field (`source`, `boundary[1].value`, `exact`,
    /// `diffusion.copper`).
    pub fn check_coordinates(&self, dim: usize) -> Result<()> {
        let mut fields: Vec<(String, &FieldSpec)> = vec![("diffusion".into(), &self.diffusion)];
        for (name, f) in [
            ("reaction", &self.reaction),
            ("source", &self.source),
            ("exact", &self.exact),
        ] {
            fields.extend(f.as_ref().map(|f| (name.to_string(), f)));
        }
        for (i, bc) in self.boundary.iter().enumerate() {
            for (key, _, f) in bc.kind.fields() {
                fields.push((format!("boundary[{i}].{key}"), f));
            }
        }
        let params: Vec<(&str, f64)> = (self.params.iter())
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        let mut texts: Vec<(String, &str)> = Vec::new();
        for (name, f) in fields {
            match f {
                FieldSpec::Expr(text) => texts.push((name, text)),
                FieldSpec::BySubdomain(pieces) => {
                    for (key, piece) in pieces {
                        if let FieldSpec::Expr(text) = piece {
                            texts.push((format!("{name}.{key}"), text));
                        }
                    }
                }
                FieldSpec::Constant(_) | FieldSpec::Field(_) => {}
            }
        }
        let unused = [(Var::Y, "y", 2), (Var::Z, "z", 3)];
        for (name, text) in texts {
            // One that does not parse is refused, naming it, where it is built.
            let Ok(e) = Expression::parse_with(text, &params, ExprOptions::with_jit(false)) else {
                continue;
            };
            if let Some((_, var, _)) =
                (unused.iter()).find(|(v, _, from)| dim < *from && e.ast().uses(*v))
            {
                return Err(Error::invalid(
                    name,
                    format!(
                        "uses `{var}`, but the mesh is {dim}D: its points have no `{var}` (it \
                         would be 0 everywhere)"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Builds the core form.
    ///
    /// # Errors
    /// Invalid constants or expressions, naming the field of the problem (`diffusion`,
    /// `boundary[1].value`).
    pub fn form(&self) -> Result<EllipticForm> {
        self.form_with(ExprOptions::default())
    }

    /// [`Problem::form`] with a choice of expression backend.
    ///
    /// # Errors
    /// As [`Problem::form`].
    pub fn form_with(&self, options: ExprOptions) -> Result<EllipticForm> {
        let p = &self.params;
        let build = |name: &str, f: &FieldSpec| f.build_with(name, p, options);
        let optional =
            |name: &str, f: &Option<FieldSpec>| f.as_ref().map(|f| build(name, f)).transpose();
        let boundary = (self.boundary.iter().enumerate())
            .map(|(i, bc)| {
                let kind = bc
                    .kind
                    .try_map(|key, f| build(&format!("boundary[{i}].{key}"), f))?;
                Ok(BoundaryCondition::new(bc.part.clone(), kind))
            })
            .collect::<Result<_>>()?;
        let form = EllipticForm {
            diffusion: build("diffusion", &self.diffusion)?,
            reaction: optional("reaction", &self.reaction)?,
            source: optional("source", &self.source)?,
            boundary,
        };
        check_determined(&form)?;
        Ok(form)
    }

    /// The exact solution as a field, if one was given.
    ///
    /// # Errors
    /// An invalid expression, naming `exact`.
    pub fn exact_field(&self) -> Result<Option<SharedField>> {
        self.exact_field_with(ExprOptions::default())
    }

    /// [`Problem::exact_field`] with a choice of expression backend (its gradient, used for H1
    /// errors, is compiled the same way).
    ///
    /// # Errors
    /// As [`Problem::exact_field`].
    pub fn exact_field_with(&self, options: ExprOptions) -> Result<Option<SharedField>> {
        let field = "exact";
        self.exact
            .as_ref()
            .map(|e| match e {
                // Its gradient (for the H1 error) is derived now: one too large is refused here.
                FieldSpec::Expr(text) => {
                    let params: Vec<(&str, f64)> =
                        self.params.iter().map(|(k, v)| (k.as_str(), *v)).collect();
                    femscale_expr::parse_differentiable_field_with(field, text, &params, options)
                }
                e => e.build_with(field, &self.params, options),
            })
            .transpose()
    }

    /// The number of unknowns, computed without building the mesh (`None` for an existing
    /// mesh or a file): the generator's nodes of the element's order. Saturates for absurd
    /// sizes.
    pub fn estimated_dofs(&self) -> Option<f64> {
        self.mesh.estimated_nodes_of(self.order)
    }

    /// Whether any field is an expression (diffusion, reaction, source, boundary data, exact
    /// solution).
    pub fn uses_expressions(&self) -> bool {
        self.diffusion.is_expr()
            || [&self.reaction, &self.source, &self.exact]
                .into_iter()
                .flatten()
                .any(FieldSpec::is_expr)
            || (self.boundary.iter())
                .flat_map(|b| b.kind.fields())
                .any(|(_, _, f)| f.is_expr())
    }
}

/// Whether a boundary condition fixes the solution's constant on its nodes: a Dirichlet
/// condition, a Robin condition whose `alpha` is not the constant zero, and (conservatively) a
/// kind this check does not know; a Neumann condition does not.
pub(crate) fn fixes_constant(kind: &BoundaryKind) -> bool {
    match kind {
        BoundaryKindOf::Neumann { .. } => false,
        BoundaryKindOf::Robin { alpha, .. } => alpha.as_constant() != Some(0.0),
        _ => true,
    }
}

/// Whether the form's reaction fixes the constant everywhere: given and not the constant zero,
/// and, given per subdomain, with no piece the constant zero.
pub(crate) fn reaction_fixes_constant(form: &EllipticForm) -> bool {
    (form.reaction.as_ref()).is_some_and(|c| match c.as_subdomains() {
        Some(table) => (table.pieces().iter()).all(|(_, f)| f.as_constant() != Some(0.0)),
        None => c.as_constant() != Some(0.0),
    })
}

/// Whether the form's reaction fixes the constant somewhere: given and not the constant zero,
/// or given per subdomain with a piece that is not the constant zero (which fixes the parts
/// of the mesh with a cell of that subdomain).
pub(crate) fn reaction_fixes_constant_somewhere(form: &EllipticForm) -> bool {
    (form.reaction.as_ref()).is_some_and(|c| match c.as_subdomains() {
        Some(table) => (table.pieces().iter()).any(|(_, f)| f.as_constant() != Some(0.0)),
        None => c.as_constant() != Some(0.0),
    })
}

/// [`Problem::check`] refuses a problem without a Dirichlet condition, a Robin condition or a
/// reaction; this refuses the same singular problem when they are given but zero everywhere
/// (`reaction = 0`, Robin `alpha = 0`), naming the key that looks like it fixes the constant.
fn check_determined(form: &EllipticForm) -> Result<()> {
    if reaction_fixes_constant_somewhere(form)
        || form.boundary.iter().any(|bc| fixes_constant(&bc.kind))
    {
        return Ok(());
    }
    let zero_alpha =
        (form.boundary.iter()).position(|bc| matches!(bc.kind, BoundaryKindOf::Robin { .. }));
    let (field, what) = match (&form.reaction, zero_alpha) {
        (Some(_), _) => ("reaction".to_string(), "the reaction is zero"),
        (None, Some(i)) => (format!("boundary[{i}].alpha"), "robin's alpha is zero"),
        (None, None) => ("boundary".to_string(), "no condition fixes the solution"),
    };
    Err(Error::invalid(
        field,
        format!(
            "{what}, and there is no dirichlet condition, no robin condition with a nonzero \
             alpha and no nonzero reaction: the solution is only determined up to a constant \
             (the system is singular); add one of them"
        ),
    ))
}

#[cfg(test)]
mod tests;
