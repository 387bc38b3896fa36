//! Order statistics of repeated timings: the median every table in `docs/performance.md`
//! reports, and the range next to it.
//!
//! Sorting uses [`f64::total_cmp`], so a NaN sample cannot panic or reorder the others: it sorts
//! after every finite value (a NaN median means half the samples were NaN).

/// The median of `samples`: the middle element for an odd count, the mean of the two middle
/// elements for an even count, NaN for no samples.
pub fn median(samples: &[f64]) -> f64 {
    let sorted = sorted(samples);
    let n = sorted.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]),
    }
}

/// The smallest sample (NaN for none; NaN samples are ignored unless all are NaN).
pub fn min(samples: &[f64]) -> f64 {
    samples
        .iter()
        .copied()
        .filter(|v| !v.is_nan())
        .min_by(f64::total_cmp)
        .unwrap_or(f64::NAN)
}

/// The largest sample (NaN for none; NaN samples are ignored unless all are NaN).
pub fn max(samples: &[f64]) -> f64 {
    samples
        .iter()
        .copied()
        .filter(|v| !v.is_nan())
        .max_by(f64::total_cmp)
        .unwrap_or(f64::NAN)
}

/// The median of the per-round ratios `numerator[i] / denominator[i]`: the robust way to compare
/// two variants timed in the same rounds on a noisy machine.
pub fn median_ratio(numerator: &[f64], denominator: &[f64]) -> f64 {
    let ratios: Vec<f64> = numerator
        .iter()
        .zip(denominator)
        .map(|(a, b)| a / b)
        .collect();
    median(&ratios)
}

/// A distribution-free confidence interval for the median of `samples`: the order statistics
/// `x_(k) <= median <= x_(n+1-k)` with the largest `k` whose coverage
/// `1 - 2 P(Binomial(n, 1/2) <= k - 1)` is at least `level`. Returns `(low, high, coverage)`;
/// with too few samples for `level` (fewer than 6 for 95 %) the interval is the whole range and
/// the coverage says what it is worth. NaN for no samples.
pub fn median_confidence_interval(samples: &[f64], level: f64) -> (f64, f64, f64) {
    let sorted = sorted(samples);
    let n = sorted.len();
    if n == 0 {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    // P(B <= j) for B ~ Binomial(n, 1/2), accumulated term by term in f64 (n is a count of
    // benchmark rounds: the binomial coefficients stay far below overflow).
    let mut cdf = Vec::with_capacity(n + 1);
    let (mut term, mut sum) = (0.5f64.powi(n as i32), 0.0);
    for j in 0..=n {
        sum += term;
        cdf.push(sum);
        term *= (n - j) as f64 / (j + 1) as f64;
    }
    let coverage = |k: usize| 1.0 - 2.0 * cdf[k - 1];
    let mut k = 1;
    while k < n.div_ceil(2) && coverage(k + 1) >= level {
        k += 1;
    }
    (sorted[k - 1], sorted[n - k], coverage(k))
}

/// Median, range and count of a set of samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// See [`median`].
    pub median: f64,
    /// See [`min`].
    pub min: f64,
    /// See [`max`].
    pub max: f64,
    /// How many samples.
    pub count: usize,
}

impl Summary {
    /// Summarises `samples`.
    pub fn of(samples: &[f64]) -> Self {
        Self {
            median: median(samples),
            min: min(samples),
            max: max(samples),
            count: samples.len(),
        }
    }
}

fn sorted(samples: &[f64]) -> Vec<f64> {
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_counts_take_the_middle_element() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[5.0]), 5.0);
    }

    #[test]
    fn even_counts_take_the_mean_of_the_two_middle_elements() {
        // The upper middle element would be 10.0, the lower 2.0.
        assert_eq!(median(&[10.0, 1.0, 2.0, 100.0]), 6.0);
        assert_eq!(median(&[4.0, 2.0]), 3.0);
    }

    #[test]
    fn median_intervals_take_the_binomial_order_statistics() {
        let samples: Vec<f64> = (1..=10).map(f64::from).collect();
        // n = 10: k = 2 covers 1 - 2 * 11/1024 = 97.9 %; k = 3 only 89.1 %.
        let (low, high, coverage) = median_confidence_interval(&samples, 0.95);
        assert_eq!((low, high), (2.0, 9.0));
        assert!((coverage - (1.0 - 22.0 / 1024.0)).abs() < 1e-12);
        // n = 20: k = 6 covers 95.9 %.
        let samples: Vec<f64> = (1..=20).rev().map(f64::from).collect();
        assert_eq!(median_confidence_interval(&samples, 0.95).0, 6.0);
        // Too few samples for 95 %: the whole range, and what it covers.
        let (low, high, coverage) = median_confidence_interval(&[3.0, 1.0, 2.0], 0.95);
        assert_eq!((low, high), (1.0, 3.0));
        assert!((coverage - 0.75).abs() < 1e-12);
        assert!(median_confidence_interval(&[], 0.95).0.is_nan());
    }

    #[test]
    fn no_samples_give_nan_not_a_panic() {
        assert!(median(&[]).is_nan());
        assert!(min(&[]).is_nan());
        assert!(max(&[]).is_nan());
    }

    #[test]
    fn nan_samples_sort_last_and_do_not_panic() {
        assert_eq!(median(&[f64::NAN, 1.0, 2.0]), 2.0);
        assert_eq!(min(&[f64::NAN, 3.0, 1.0]), 1.0);
        assert_eq!(max(&[f64::NAN, 3.0, 1.0]), 3.0);
    }

    #[test]
    fn the_median_ratio_is_taken_per_round() {
        // Per-round ratios 2, 3, 10: median 3, while the ratio of the medians is 20 / 2 = 10.
        let slow = [2.0, 30.0, 20.0];
        let fast = [1.0, 10.0, 2.0];
        assert_eq!(median_ratio(&slow, &fast), 3.0);
    }

    #[test]
    fn the_summary_holds_median_range_and_count() {
        let s = Summary::of(&[0.3, 0.1, 0.2, 0.4]);
        assert_eq!((s.min, s.max, s.count), (0.1, 0.4, 4));
        assert!((s.median - 0.25).abs() < 1e-15);
    }
}
