//! No configuration value is a non-finite number: `inf`, `-inf` and `nan` (TOML has them, and so
//! do `--set` and the environment) are refused by the checks of the keys that take numbers, and
//! this check catches the rest (a constant coefficient was refused only when a solve used it,
//! and an experiment's identity, which serialises the configuration to JSON, read every
//! non-finite number as `null`: `reaction = -inf` resumed as the run without a reaction).

use femscale_core::{Error, FieldPath, Result};
use figment::Figment;
use figment::value::{Num, Value};

/// The first key of `fig`'s effective configuration whose value is a non-finite number, as
/// [`Error::InvalidInput`] naming it.
///
/// # Errors
/// As described; figment's own error when the layers cannot be merged (the caller has
/// extracted the configuration from them already).
pub fn check_finite_values(fig: &Figment) -> Result<()> {
    let Ok(root) = fig.extract::<Value>() else {
        return Ok(());
    };
    match non_finite(&root, FieldPath::root()) {
        None => Ok(()),
        Some((field, v)) => Err(Error::invalid(
            field,
            format!("{v} is not a number femscale can use (give a finite value)"),
        )),
    }
}

fn non_finite(value: &Value, at: FieldPath) -> Option<(FieldPath, f64)> {
    match value {
        Value::Num(_, Num::F64(v)) if !v.is_finite() => Some((at, *v)),
        Value::Num(_, Num::F32(v)) if !v.is_finite() => Some((at, f64::from(*v))),
        Value::Dict(_, dict) => dict
            .iter()
            .find_map(|(k, v)| non_finite(v, at.key(k.as_str()))),
        Value::Array(_, items) => {
            (items.iter().enumerate()).find_map(|(i, v)| non_finite(v, at.index(i)))
        }
        _ => None,
    }
}
