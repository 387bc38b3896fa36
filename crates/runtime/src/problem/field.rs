//! [`FieldSpec`]: a coefficient, source or boundary value as the problem model holds it.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use femscale_core::{Constant, FnField, Result, SharedField, SubdomainField};
use femscale_expr::ExprOptions;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A coefficient, source or boundary value: a constant, an expression of `x, y, z` and the
/// problem's parameters, or a Rust function.
///
/// A Rust closure is given as [`FieldSpec::func`]`(label, f)`: the one documented way (the
/// `label` is what reports and errors show). A field that already exists as a
/// [`SharedField`] is [`FieldSpec::field`] (or `.into()`); [`FieldSpec::build`] gives the
/// `SharedField` of any `FieldSpec`, as an [`femscale_core::EllipticForm`] holds it.
///
/// ```
/// use femscale_core::ScalarField;
/// use femscale_runtime::{FieldSpec, Laplace2d};
///
/// let k = 3.0;
/// let problem = Laplace2d {
///     diffusion: FieldSpec::func("1 + k x", move |p| 1.0 + k * p[0]),
///     source: Some(FieldSpec::expr("sin(pi*x)")),
///     ..Default::default()
/// };
/// let field = problem.diffusion.build("diffusion", &Default::default()).unwrap();
/// assert_eq!(field.eval([0.5, 0.0, 0.0]), 2.5);
/// ```
///
/// In a configuration file a field is a number or a string; a string that reads as a number
/// (`"2.5"`) is that constant. A Rust function has no configuration form: serialising it is
/// an error.
#[derive(Debug, Clone)]
pub enum FieldSpec {
    /// The same value everywhere.
    Constant(f64),
    /// An expression such as `"2*pi^2*sin(pi*x)*sin(pi*y)"`.
    Expr(String),
    /// A ready-made field: what [`FieldSpec::func`] and [`FieldSpec::field`] make.
    Field(SharedField),
    /// One field per subdomain, keyed by the subdomain's name or marker number
    /// (`diffusion = { copper = 400.0, steel = "16 + 0.01*x" }`); every subdomain of the mesh
    /// needs one, and the pieces are constants, expressions or functions, not nested tables.
    BySubdomain(BTreeMap<String, FieldSpec>),
}

/// The name the original design uses for source terms.
pub type Source = FieldSpec;

impl Default for FieldSpec {
    /// Zero.
    fn default() -> Self {
        Self::Constant(0.0)
    }
}

/// Constants by value (so `NaN != NaN`), expressions by text, Rust functions by identity.
impl PartialEq for FieldSpec {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Constant(a), Self::Constant(b)) => a == b,
            (Self::Expr(a), Self::Expr(b)) => a == b,
            (Self::Field(a), Self::Field(b)) => Arc::ptr_eq(a, b),
            (Self::BySubdomain(a), Self::BySubdomain(b)) => a == b,
            _ => false,
        }
    }
}

impl FieldSpec {
    /// An expression field.
    pub fn expr(text: impl Into<String>) -> Self {
        Self::Expr(text.into())
    }

    /// A constant field.
    pub fn constant(value: f64) -> Self {
        Self::Constant(value)
    }

    /// A field computed by a Rust function of `[x, y, z]`; `label` names it in reports and
    /// errors. The way to pass a closure (it wraps [`FnField`]).
    pub fn func(
        label: impl Into<String>,
        f: impl Fn([f64; 3]) -> f64 + Send + Sync + 'static,
    ) -> Self {
        Self::Field(FnField::shared(label, f))
    }

    /// A field that already exists (a [`SharedField`]: an `Arc` of any
    /// [`femscale_core::ScalarField`]). `From<SharedField>` does the same.
    pub fn field(field: SharedField) -> Self {
        Self::Field(field)
    }

    /// A field given per subdomain: `pieces` are (subdomain name or marker number, field).
    pub fn by_subdomain<K: Into<String>, F: Into<FieldSpec>>(
        pieces: impl IntoIterator<Item = (K, F)>,
    ) -> Self {
        Self::BySubdomain(
            (pieces.into_iter())
                .map(|(k, f)| (k.into(), f.into()))
                .collect(),
        )
    }

    /// Whether the field is (or, per subdomain, has) an expression.
    pub fn is_expr(&self) -> bool {
        match self {
            Self::Expr(_) => true,
            Self::BySubdomain(pieces) => pieces.values().any(Self::is_expr),
            _ => false,
        }
    }

    /// Resolves to a shared field; `field` names the parameter in errors.
    ///
    /// # Errors
    /// [`femscale_core::Error::InvalidInput`] for a non-finite constant,
    /// [`femscale_core::Error::Expression`] for an expression that does not parse.
    pub fn build(&self, field: &str, params: &BTreeMap<String, f64>) -> Result<SharedField> {
        self.build_with(field, params, ExprOptions::default())
    }

    /// [`FieldSpec::build`] with a choice of expression backend (`options.jit`: machine code
    /// through cranelift, else bytecode; the same values either way).
    ///
    /// # Errors
    /// As [`FieldSpec::build`].
    pub fn build_with(
        &self,
        field: &str,
        params: &BTreeMap<String, f64>,
        options: ExprOptions,
    ) -> Result<SharedField> {
        match self {
            Self::Constant(v) => {
                femscale_core::error::ensure_finite(field, *v)?;
                Ok(Arc::new(Constant(*v)))
            }
            Self::Expr(text) => {
                let params: Vec<(&str, f64)> =
                    params.iter().map(|(k, v)| (k.as_str(), *v)).collect();
                femscale_expr::parse_field_with(field, text, &params, options)
            }
            Self::Field(f) => Ok(f.clone()),
            Self::BySubdomain(pieces) => {
                if pieces.is_empty() {
                    return Err(femscale_core::Error::invalid(
                        field,
                        "a table by subdomain needs at least one subdomain",
                    ));
                }
                let built = (pieces.iter())
                    .map(|(key, piece)| {
                        let name = format!("{field}.{key}");
                        if matches!(piece, Self::BySubdomain(_)) {
                            return Err(femscale_core::Error::invalid(
                                name,
                                "a subdomain's value is a number, an expression or a function, \
                                 not another table",
                            ));
                        }
                        Ok((key.clone(), piece.build_with(&name, params, options)?))
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(Arc::new(SubdomainField::new(built)))
            }
        }
    }
}

impl From<f64> for FieldSpec {
    fn from(v: f64) -> Self {
        Self::Constant(v)
    }
}

impl From<SharedField> for FieldSpec {
    fn from(field: SharedField) -> Self {
        Self::Field(field)
    }
}

impl From<&str> for FieldSpec {
    fn from(text: &str) -> Self {
        Self::Expr(text.into())
    }
}

impl Serialize for FieldSpec {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Self::Constant(v) => s.serialize_f64(*v),
            Self::Expr(text) => s.serialize_str(text),
            Self::Field(f) => Err(serde::ser::Error::custom(format!(
                "the Rust function field {f:?} has no configuration form"
            ))),
            Self::BySubdomain(pieces) => pieces.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for FieldSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct FieldVisitor;
        impl<'de> serde::de::Visitor<'de> for FieldVisitor {
            type Value = FieldSpec;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a number, an expression string such as \"sin(pi*x)\", or a table by \
                     subdomain such as { copper = 400.0, steel = \"16 + 0.01*x\" }",
                )
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<FieldSpec, A::Error> {
                let mut pieces = BTreeMap::new();
                while let Some((key, value)) = map.next_entry::<String, FieldSpec>()? {
                    pieces.insert(key, value);
                }
                Ok(FieldSpec::BySubdomain(pieces))
            }

            fn visit_f64<E>(self, v: f64) -> std::result::Result<FieldSpec, E> {
                Ok(FieldSpec::Constant(v))
            }

            fn visit_i64<E>(self, v: i64) -> std::result::Result<FieldSpec, E> {
                Ok(FieldSpec::Constant(v as f64))
            }

            fn visit_u64<E>(self, v: u64) -> std::result::Result<FieldSpec, E> {
                Ok(FieldSpec::Constant(v as f64))
            }

            fn visit_i128<E>(self, v: i128) -> std::result::Result<FieldSpec, E> {
                Ok(FieldSpec::Constant(v as f64))
            }

            fn visit_u128<E>(self, v: u128) -> std::result::Result<FieldSpec, E> {
                Ok(FieldSpec::Constant(v as f64))
            }

            fn visit_str<E>(self, v: &str) -> std::result::Result<FieldSpec, E> {
                Ok(match v.trim().parse::<f64>() {
                    Ok(c) => FieldSpec::Constant(c),
                    Err(_) => FieldSpec::Expr(v.to_string()),
                })
            }
        }
        d.deserialize_any(FieldVisitor)
    }
}
