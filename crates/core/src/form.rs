//! The weak form of `-div(k grad u) + c u = f` with its boundary conditions.

use crate::field::SharedField;

/// What a boundary condition prescribes on a boundary part.
///
/// With outward normal `n`: Neumann prescribes the flux `k du/dn = g`; Robin prescribes
/// `k du/dn + alpha u = g`; Dirichlet prescribes `u = g`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum BoundaryKind {
    /// `u = value`.
    Dirichlet {
        /// Prescribed value `g`.
        value: SharedField,
    },
    /// `k du/dn = flux`.
    Neumann {
        /// Prescribed outward flux `g`.
        flux: SharedField,
    },
    /// `k du/dn + alpha u = value`.
    Robin {
        /// Transfer coefficient `alpha`; `alpha >= 0` keeps the operator positive definite,
        /// negative values are accepted (the direct solver then falls back to LU if needed).
        alpha: SharedField,
        /// Right-hand side `g`.
        value: SharedField,
    },
}

impl BoundaryKind {
    /// `dirichlet`, `neumann` or `robin`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Dirichlet { .. } => "dirichlet",
            Self::Neumann { .. } => "neumann",
            Self::Robin { .. } => "robin",
        }
    }
}

/// A boundary condition on one named boundary part.
#[derive(Debug, Clone)]
pub struct BoundaryCondition {
    /// The boundary part's name (see [`crate::MeshView::boundary`]).
    pub part: String,
    /// What is prescribed there.
    pub kind: BoundaryKind,
}

/// Coefficients and data of `-div(k grad u) + c u = f`.
///
/// Boundary parts without a condition get the natural (homogeneous Neumann) condition. Where
/// parts overlap (corner nodes), Dirichlet conditions win over the others, and among Dirichlet
/// conditions the later one in the list wins.
#[derive(Debug, Clone)]
pub struct EllipticForm {
    /// Diffusion coefficient `k` (must be positive).
    pub diffusion: SharedField,
    /// Reaction coefficient `c`, if any; `c >= 0` keeps the operator positive definite,
    /// negative values (Helmholtz-like, possibly indefinite problems) are accepted.
    pub reaction: Option<SharedField>,
    /// Source `f`, if any.
    pub source: Option<SharedField>,
    /// Boundary conditions, applied in order.
    pub boundary: Vec<BoundaryCondition>,
}
