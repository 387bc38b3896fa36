//! Figment's type errors in a user's words: numbers shown short (`1e30`, not 31 digits) and
//! Rust's type names as what a key takes (`a whole number ≥ 0`, not `usize`).

use femscale_core::shown::Shown;
use figment::error::{Actual, Kind};

/// The text of `kind`, as figment writes it but for the found value and the expected type of
/// a type or value error; long quotes cut short.
pub(super) fn kind_text(kind: &Kind) -> String {
    let text = match kind {
        Kind::InvalidType(found, expected) => {
            format!(
                "invalid type: found {}, expected {}",
                actual(found),
                wanted(expected)
            )
        }
        Kind::InvalidValue(found, expected) => {
            format!(
                "invalid value: found {}, expected {}",
                actual(found),
                wanted(expected)
            )
        }
        other => other.to_string(),
    };
    femscale_core::error::shown_message(&text)
}

fn actual(found: &Actual) -> String {
    match found {
        Actual::Float(v) => format!("the number {}", Shown(*v)),
        Actual::Signed(v) => format!("the integer {v}"),
        Actual::Unsigned(v) => format!("the integer {v}"),
        other => other.to_string(),
    }
}

/// What a Rust type name means to a user; other expectations unchanged.
fn wanted(expected: &str) -> &str {
    match expected {
        "usize" | "u64" | "u32" | "u16" | "u8" => "a whole number ≥ 0",
        "isize" | "i64" | "i32" | "i16" | "i8" => "a whole number",
        "f64" | "f32" => "a number",
        "a boolean" | "bool" => "true or false",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short_and_types_are_named_for_users() {
        let huge = Kind::InvalidType(Actual::Float(1e30), "usize".into());
        assert_eq!(
            kind_text(&huge),
            "invalid type: found the number 1e30, expected a whole number ≥ 0"
        );
        let negative = Kind::InvalidValue(Actual::Signed(-3), "u32".into());
        assert_eq!(
            kind_text(&negative),
            "invalid value: found the integer -3, expected a whole number ≥ 0"
        );
        let text = Kind::InvalidType(Actual::Str("x".into()), "f64".into());
        assert_eq!(
            kind_text(&text),
            "invalid type: found string \"x\", expected a number"
        );
        let other = Kind::InvalidType(Actual::Bool(true), "a sequence".into());
        assert_eq!(
            kind_text(&other),
            "invalid type: found bool true, expected a sequence"
        );
    }
}
