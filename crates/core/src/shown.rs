//! Numbers in messages: [`Shown`] writes a value a user gave as it reads, `1e308` rather than
//! 309 digits and `1e-300` rather than 300 zeros.

use std::fmt;

/// Displays an `f64` in plain decimal notation when that is short (magnitudes from 1e-4 up
/// to 1e15, and 0), else in scientific notation; both round-trip to the same value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shown(pub f64);

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        let plain = v == 0.0 || !v.is_finite() || (1e-4..1e15).contains(&v.abs());
        if plain {
            write!(f, "{v}")
        } else {
            write!(f, "{v:e}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Shown;

    #[test]
    fn extreme_values_are_short_and_round_trip() {
        for (v, text) in [
            (1e308, "1e308"),
            (1e-300, "1e-300"),
            (-2.5e-7, "-2.5e-7"),
            (0.001, "0.001"),
            (1024.0, "1024"),
            (0.0, "0"),
            (f64::INFINITY, "inf"),
        ] {
            let shown = Shown(v).to_string();
            assert_eq!(shown, text);
            assert_eq!(shown.parse::<f64>().unwrap(), v);
        }
    }
}
