//! Marking strategies: which cells to refine, from the indicators `eta_K^2`.

use femscale_core::shown::Shown;
use femscale_core::{Error, Result};

/// How [`mark`] chooses cells (`theta` is the configuration's `adaptivity.theta`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Marking {
    /// Dörfler (bulk) marking, `theta` in (0, 1]: the smallest set of cells with
    /// `sum eta_K^2 >= theta * sum over all cells`.
    Dorfler {
        /// Bulk fraction.
        theta: f64,
    },
    /// Maximum strategy, `theta` in [0, 1]: the cells with `eta_K >= theta * max eta`.
    Maximum {
        /// Fraction of the largest indicator.
        theta: f64,
    },
    /// Fixed fraction, `theta` in (0, 1]: the `ceil(theta * cells)` cells with the largest
    /// indicators.
    FixedFraction {
        /// Fraction of the cells.
        theta: f64,
    },
}

impl Marking {
    /// The configuration's name: `dorfler`, `maximum` or `fixed-fraction`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Dorfler { .. } => "dorfler",
            Self::Maximum { .. } => "maximum",
            Self::FixedFraction { .. } => "fixed-fraction",
        }
    }

    /// The strategy called `name` (`dorfler`/`bulk`, `maximum`/`max`, `fixed-fraction`) with
    /// `theta`, checked.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] with field `adaptivity.marking` for an unknown name, or
    /// `adaptivity.theta` for a `theta` out of the strategy's range.
    pub fn from_name(name: &str, theta: f64) -> Result<Self> {
        let m = match name {
            "dorfler" | "bulk" => Self::Dorfler { theta },
            "maximum" | "max" => Self::Maximum { theta },
            "fixed-fraction" => Self::FixedFraction { theta },
            other => {
                return Err(Error::invalid(
                    "adaptivity.marking",
                    format!(
                        "unknown marking `{}`; expected `dorfler`, `maximum` or `fixed-fraction`",
                        femscale_core::error::shown_token(other)
                    ),
                ));
            }
        };
        m.check()?;
        Ok(m)
    }

    /// Checks `theta`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] (field `adaptivity.theta`) when it is out of range.
    pub fn check(self) -> Result<()> {
        let (theta, zero_ok) = match self {
            Self::Dorfler { theta } | Self::FixedFraction { theta } => (theta, false),
            Self::Maximum { theta } => (theta, true),
        };
        let low_ok = if zero_ok { theta >= 0.0 } else { theta > 0.0 };
        if low_ok && theta <= 1.0 {
            return Ok(());
        }
        let range = if zero_ok { "[0, 1]" } else { "(0, 1]" };
        Err(Error::invalid(
            "adaptivity.theta",
            format!(
                "must lie in {range} for {} marking, got {}",
                self.name(),
                Shown(theta)
            ),
        ))
    }
}

/// The cells to refine (ascending) under `marking`, from the indicators `eta_squared`.
/// Nothing is marked when every indicator is zero.
///
/// Dörfler marking runs in expected linear time: quickselect halves the candidates around
/// their median (by `eta` descending, then cell index, a total order, so the set is unique
/// and deterministic), taking the upper half whole when it falls short of the bulk and
/// searching inside it otherwise (`n + n/2 + ...` work). Fixed fraction is one selection; the
/// marked set is returned in cell order through a mask (no sort).
///
/// # Errors
/// [`Error::InvalidInput`]: `adaptivity.theta` out of range (see [`Marking::check`]),
/// `estimate` for a negative or non-finite indicator.
pub fn mark(marking: Marking, eta_squared: &[f64]) -> Result<Vec<usize>> {
    marking.check()?;
    if let Some(i) = eta_squared
        .iter()
        .position(|e| !(e.is_finite() && *e >= 0.0))
    {
        return Err(Error::invalid(
            "estimate",
            format!(
                "the indicator of cell {i} is {}; indicators must be finite and non-negative",
                eta_squared[i]
            ),
        ));
    }
    let n = eta_squared.len();
    let total: f64 = eta_squared.iter().sum();
    if total == 0.0 {
        return Ok(Vec::new());
    }
    // Larger indicator first, then smaller index.
    let before = |a: &usize, b: &usize| eta_squared[*b].total_cmp(&eta_squared[*a]).then(a.cmp(b));
    let mut chosen = vec![false; n];
    match marking {
        Marking::Maximum { theta } => {
            let max = eta_squared.iter().fold(0.0f64, |m, &e| m.max(e));
            let bar = theta * theta * max;
            for (c, &e) in chosen.iter_mut().zip(eta_squared) {
                *c = e >= bar;
            }
        }
        Marking::FixedFraction { theta } => {
            // `0.07 * 100` is 7.000000000000001 in binary: a product within rounding of a
            // whole number is that number, not one cell more.
            let share = theta * n as f64;
            let whole = share.round();
            let m = if (share - whole).abs() <= 1e-9 * whole.max(1.0) {
                whole
            } else {
                share.ceil()
            };
            let m = (m as usize).clamp(1, n);
            let mut idx: Vec<usize> = (0..n).collect();
            idx.select_nth_unstable_by(m - 1, before);
            for &i in &idx[..m] {
                chosen[i] = true;
            }
        }
        Marking::Dorfler { theta } => {
            let mut idx: Vec<usize> = (0..n).collect();
            // idx[..lo] are taken; the rest of the bulk lies in idx[lo..hi].
            let (mut lo, mut hi) = (0, n);
            let mut needed = theta * total;
            while hi - lo > 1 {
                let m = (hi - lo) / 2;
                idx[lo..hi].select_nth_unstable_by(m - 1, before);
                let upper: f64 = idx[lo..lo + m].iter().map(|&i| eta_squared[i]).sum();
                if upper >= needed {
                    hi = lo + m;
                } else {
                    needed -= upper;
                    lo += m;
                }
            }
            for &i in &idx[..=lo] {
                chosen[i] = true;
            }
        }
    }
    Ok((0..n).filter(|&i| chosen[i]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted_desc(eta: &[f64]) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..eta.len()).collect();
        idx.sort_by(|a, b| eta[*b].total_cmp(&eta[*a]).then(a.cmp(b)));
        idx
    }

    #[test]
    fn hand_made_indicators_mark_the_expected_cells() {
        let eta = [1.0, 9.0, 0.0, 4.0, 16.0, 1.0];
        // total 31: 16 alone is 0.516 of it, 16 + 9 = 25 is 0.806.
        let d = |theta| mark(Marking::Dorfler { theta }, &eta).unwrap();
        assert_eq!(d(0.5), vec![4]);
        assert_eq!(d(0.52), vec![1, 4]);
        assert_eq!(d(0.9), vec![1, 3, 4]);
        assert_eq!(d(1.0), vec![0, 1, 3, 4, 5]);
        // eta = 1, 3, 0, 2, 4, 1: eta >= 0.5 * 4 = 2.
        let m = |theta| mark(Marking::Maximum { theta }, &eta).unwrap();
        assert_eq!(m(0.5), vec![1, 3, 4]);
        assert_eq!(m(1.0), vec![4]);
        assert_eq!(m(0.0), vec![0, 1, 2, 3, 4, 5]);
        let f = |theta| mark(Marking::FixedFraction { theta }, &eta).unwrap();
        assert_eq!(f(0.3), vec![1, 4]); // ceil(1.8) = 2
        // Ties go to the smaller index: the two ones are cells 0 and 5.
        assert_eq!(f(0.8), vec![0, 1, 3, 4, 5]); // ceil(4.8) = 5
        // 0.07 × 100 rounds to 7.000000000000001: seven cells, not eight.
        let hundred: Vec<f64> = (0..100).map(f64::from).collect();
        let g = |theta| {
            mark(Marking::FixedFraction { theta }, &hundred)
                .unwrap()
                .len()
        };
        assert_eq!((g(0.07), g(0.069), g(0.071), g(0.29)), (7, 7, 8, 29));
        assert!(
            mark(Marking::Dorfler { theta: 0.5 }, &[0.0; 4])
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn dorfler_picks_the_smallest_bulk_set_like_a_full_sort() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for n in [1, 2, 3, 7, 100, 1000] {
            let eta: Vec<f64> = (0..n)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    // Repeated values exercise the tie-break.
                    (state % 50) as f64
                })
                .collect();
            let total: f64 = eta.iter().sum();
            for theta in [0.1, 0.3, 0.5, 0.77, 1.0] {
                let got = mark(Marking::Dorfler { theta }, &eta).unwrap();
                let order = sorted_desc(&eta);
                let mut sum = 0.0;
                let count = order
                    .iter()
                    .position(|&i| {
                        sum += eta[i];
                        sum >= theta * total
                    })
                    .map_or(0, |p| p + 1);
                let mut want = order[..count].to_vec();
                want.sort_unstable();
                if total > 0.0 {
                    assert_eq!(got, want, "n {n} theta {theta}");
                }
            }
        }
    }

    #[test]
    fn invalid_theta_and_indicators_are_typed_errors() {
        for m in [
            Marking::Dorfler { theta: 0.0 },
            Marking::Dorfler { theta: 1.5 },
            Marking::Maximum { theta: -0.1 },
            Marking::FixedFraction { theta: f64::NAN },
        ] {
            let e = mark(m, &[1.0]).unwrap_err();
            assert!(e.to_string().contains("adaptivity.theta"), "{e}");
        }
        let e = mark(Marking::Maximum { theta: 0.5 }, &[1.0, f64::NAN]).unwrap_err();
        assert!(e.to_string().contains("estimate"), "{e}");
        let e = mark(Marking::Maximum { theta: 0.5 }, &[1.0, -1.0]).unwrap_err();
        assert!(e.to_string().contains("cell 1"), "{e}");
        assert!(Marking::from_name("greedy", 0.5).is_err());
        assert_eq!(
            Marking::from_name("bulk", 0.5).unwrap(),
            Marking::Dorfler { theta: 0.5 }
        );
    }
}
