//! The weak form of `-div(k grad u) + c u = f` with its boundary conditions.
//!
//! A boundary condition is described once, generic over how its fields are given:
//! [`BoundaryKindOf<F>`] and [`BoundaryConditionOf<F>`]. The assembler takes built fields
//! ([`BoundaryKind`] = `BoundaryKindOf<SharedField>`); the runtime's problem model takes field
//! descriptions (constants, expressions, closures) and maps them with
//! [`BoundaryKindOf::try_map`]. Their configuration form (`where`, `kind`, `value`, `alpha`)
//! is the serde form of [`BoundaryConditionOf`].

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::field::SharedField;

/// What a boundary condition prescribes on a boundary part, with fields of type `F`.
///
/// With outward normal `n`: Neumann prescribes the flux `k du/dn = g`; Robin prescribes
/// `k du/dn + alpha u = g`; Dirichlet prescribes `u = g`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum BoundaryKindOf<F> {
    /// `u = value`.
    Dirichlet {
        /// Prescribed value `g`.
        value: F,
    },
    /// `k du/dn = flux`.
    Neumann {
        /// Prescribed outward flux `g`.
        flux: F,
    },
    /// `k du/dn + alpha u = value`.
    Robin {
        /// Transfer coefficient `alpha`; `alpha >= 0` keeps the operator positive definite,
        /// negative values are accepted (the direct solver then falls back to LU if needed).
        alpha: F,
        /// Right-hand side `g`.
        value: F,
    },
}

/// A boundary condition's kind with built fields: what the assembler takes.
pub type BoundaryKind = BoundaryKindOf<SharedField>;

/// Which of a condition's fields a field of [`BoundaryKindOf::fields`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoundaryFieldRole {
    /// Enters the operator (Robin's `alpha`): changing it changes the matrix.
    Operator,
    /// Enters only the right-hand side (values and fluxes).
    Data,
}

impl<F> BoundaryKindOf<F> {
    /// `dirichlet`, `neumann` or `robin`: the configuration's `kind`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Dirichlet { .. } => "dirichlet",
            Self::Neumann { .. } => "neumann",
            Self::Robin { .. } => "robin",
        }
    }

    /// Whether the condition prescribes the value (it constrains unknowns instead of adding
    /// boundary terms).
    pub fn is_essential(&self) -> bool {
        matches!(self, Self::Dirichlet { .. })
    }

    /// The fields with their configuration key and role, operator fields first.
    pub fn fields(&self) -> Vec<(&'static str, BoundaryFieldRole, &F)> {
        use BoundaryFieldRole::{Data, Operator};
        match self {
            Self::Dirichlet { value } => vec![("value", Data, value)],
            Self::Neumann { flux } => vec![("value", Data, flux)],
            Self::Robin { alpha, value } => {
                vec![("alpha", Operator, alpha), ("value", Data, value)]
            }
        }
    }

    /// The same condition with each field mapped by `f`, which gets the field's configuration
    /// key (`value`, `alpha`) and the field.
    ///
    /// # Errors
    /// The first error of `f`.
    pub fn try_map<G, E>(
        &self,
        mut f: impl FnMut(&'static str, &F) -> Result<G, E>,
    ) -> Result<BoundaryKindOf<G>, E> {
        Ok(match self {
            Self::Dirichlet { value } => BoundaryKindOf::Dirichlet {
                value: f("value", value)?,
            },
            Self::Neumann { flux } => BoundaryKindOf::Neumann {
                flux: f("value", flux)?,
            },
            Self::Robin { alpha, value } => BoundaryKindOf::Robin {
                alpha: f("alpha", alpha)?,
                value: f("value", value)?,
            },
        })
    }

    /// The kind called `name` (as [`BoundaryKindOf::name`]) from its configuration keys.
    /// `Err` names the key that is missing or does not belong to the kind.
    fn from_keys(name: &str, value: Option<F>, alpha: Option<F>) -> Result<Self, KeyProblem> {
        let value = value.ok_or(KeyProblem::Missing("value"));
        match name {
            "dirichlet" | "neumann" if alpha.is_some() => Err(KeyProblem::Unknown("alpha")),
            "dirichlet" => Ok(Self::Dirichlet { value: value? }),
            "neumann" => Ok(Self::Neumann { flux: value? }),
            "robin" => Ok(Self::Robin {
                alpha: alpha.ok_or(KeyProblem::Missing("alpha"))?,
                value: value?,
            }),
            _ => Err(KeyProblem::Variant),
        }
    }
}

enum KeyProblem {
    Missing(&'static str),
    Unknown(&'static str),
    Variant,
}

/// The kinds' names, for errors.
const KINDS: &[&str] = &["dirichlet", "neumann", "robin"];

/// A boundary condition on one named boundary part, with fields of type `F`.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundaryConditionOf<F> {
    // Not a link: the page of an alias in another crate (the runtime's `BoundarySpec`) shows
    // this doc without resolving its links, so a link renders there as bracketed text.
    /// The boundary part's name (see `MeshView::boundary`).
    pub part: String,
    /// What is prescribed there.
    pub kind: BoundaryKindOf<F>,
}

/// A boundary condition with built fields: what the assembler takes.
pub type BoundaryCondition = BoundaryConditionOf<SharedField>;

impl<F> BoundaryConditionOf<F> {
    /// `u = value` on `part`.
    pub fn dirichlet(part: impl Into<String>, value: impl Into<F>) -> Self {
        let value = value.into();
        Self::new(part, BoundaryKindOf::Dirichlet { value })
    }

    /// `k du/dn = flux` on `part`.
    pub fn neumann(part: impl Into<String>, flux: impl Into<F>) -> Self {
        let flux = flux.into();
        Self::new(part, BoundaryKindOf::Neumann { flux })
    }

    /// `k du/dn + alpha u = value` on `part`.
    pub fn robin(part: impl Into<String>, alpha: impl Into<F>, value: impl Into<F>) -> Self {
        let (alpha, value) = (alpha.into(), value.into());
        Self::new(part, BoundaryKindOf::Robin { alpha, value })
    }

    /// `kind` on `part`.
    pub fn new(part: impl Into<String>, kind: BoundaryKindOf<F>) -> Self {
        Self {
            part: part.into(),
            kind,
        }
    }
}

/// The configuration form: `{ where = "left", kind = "robin", value = .., alpha = .. }`, with
/// `alpha` written (as none) for kinds without one, so that every condition has the same keys.
impl<F: Serialize> Serialize for BoundaryConditionOf<F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let fields = self.kind.fields();
        let mut map = s.serialize_map(Some(4))?;
        map.serialize_entry("where", &self.part)?;
        map.serialize_entry("kind", self.kind.name())?;
        let get = |key| fields.iter().find(|(k, _, _)| *k == key).map(|f| f.2);
        map.serialize_entry("value", &get("value"))?;
        map.serialize_entry("alpha", &get("alpha"))?;
        map.end()
    }
}

/// Reads the configuration form key by key (so that errors keep the key's path): `where`
/// (default `all`), `kind` (default `dirichlet`), `value` (default: `F`'s default), `alpha`
/// (required for `robin`, refused elsewhere); unknown keys are refused.
impl<'de, F: Deserialize<'de> + Default> Deserialize<'de> for BoundaryConditionOf<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ConditionVisitor<F>(std::marker::PhantomData<F>);
        impl<'de, F: Deserialize<'de> + Default> Visitor<'de> for ConditionVisitor<F> {
            type Value = BoundaryConditionOf<F>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boundary condition table (where, kind, value, alpha)")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let (mut part, mut kind, mut value, mut alpha) = (None, None, None, None);
                while let Some(Name(key)) = map.next_key_seed(Names(KEYS, Names::FIELD))? {
                    match key {
                        "where" => part = Some(map.next_value::<PartName>()?.0),
                        "kind" => kind = Some(map.next_value_seed(Names(KINDS, Names::VARIANT))?.0),
                        "value" => value = Some(map.next_value::<F>()?),
                        _ => alpha = map.next_value::<Option<F>>()?,
                    }
                }
                let name = kind.unwrap_or("dirichlet");
                let value = Some(value.unwrap_or_default());
                let kind = BoundaryKindOf::from_keys(name, value, alpha).map_err(|p| match p {
                    KeyProblem::Missing(key) => {
                        de::Error::custom(format!("`{key}` is required for a {name} condition"))
                    }
                    KeyProblem::Unknown(key) => de::Error::custom(format!(
                        "`{key}` is only for robin conditions (this one is {name})"
                    )),
                    KeyProblem::Variant => de::Error::unknown_variant(name, KINDS),
                })?;
                Ok(BoundaryConditionOf {
                    part: part.unwrap_or_else(|| "all".into()),
                    kind,
                })
            }
        }
        d.deserialize_map(ConditionVisitor(std::marker::PhantomData))
    }
}

/// A boundary part as `where` names it: its name, or its marker as a number (`where = 11`,
/// kept as the text `"11"`, which also finds a part by its marker).
struct PartName(String);

impl<'de> Deserialize<'de> for PartName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = PartName;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boundary part's name or marker number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PartName, E> {
                Ok(PartName(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PartName, E> {
                Ok(PartName(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PartName, E> {
                Ok(PartName(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// The keys of a condition's configuration form.
const KEYS: &[&str] = &["where", "kind", "value", "alpha"];

/// One of a fixed list of names, checked while it is read (so that an error is the name's
/// own, at its own path).
struct Name(&'static str);

/// Reads a [`Name`] from the list `.0`; `.1` says whether it is a key or a kind.
#[derive(Clone, Copy)]
struct Names(&'static [&'static str], bool);

impl Names {
    const FIELD: bool = true;
    const VARIANT: bool = false;
}

impl<'de> de::DeserializeSeed<'de> for Names {
    type Value = Name;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Name, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for Names {
    type Value = Name;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "one of {}", self.0.join(", "))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Name, E> {
        match self.0.iter().find(|n| **n == v) {
            Some(n) => Ok(Name(n)),
            None if self.1 == Names::FIELD => Err(E::unknown_field(v, self.0)),
            None => Err(E::unknown_variant(v, self.0)),
        }
    }
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
