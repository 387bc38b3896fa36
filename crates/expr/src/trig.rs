//! `sin` and `cos` of the expression language: one definition for a single value and for a
//! slice, the slice form vectorised (AVX-512 or AVX2 when the CPU has them), with the same
//! bits either way.
//!
//! The C library's `sin` costs 7–8 ns a value on this project's machines and cannot be
//! vectorised; error norms and load vectors spend most of their time in it (four to six calls
//! per quadrature point for an exact solution's value and gradient). This definition is the
//! classic one of fdlibm/musl without branches: the argument is reduced by the nearest
//! multiple `k` of π/2 to a double-double `r = y0 + y1` (fdlibm's Cody–Waite reduction with π/2
//! in 33-bit parts), both the sine and the cosine kernel polynomials are
//! evaluated on `r`, and `k mod 4` selects one and its sign. The tests find it never more
//! than one ulp from the C library's (millions of arguments, and next to every multiple of
//! π/2 below [`FAST_LIMIT`]).
//! Arguments beyond [`FAST_LIMIT`] in magnitude, infinities and NaN go to the C library, so
//! huge arguments keep its full-precision reduction.
//!
//! Only `+ - *` in a fixed order are used (Rust neither reassociates nor fuses them into
//! FMAs), so the scalar function and the SSE2, AVX2 and AVX-512 loops give identical bits: the
//! bytecode interpreter, the JIT (which calls [`sin`]/[`cos`]) and constant folding agree.

#![allow(clippy::excessive_precision)]

/// Largest magnitude reduced here; larger arguments use the C library.
pub const FAST_LIMIT: f64 = 1.0e5;

/// `1.5 · 2⁵²`: adding and subtracting it rounds a double of magnitude below 2⁵¹ to an integer.
const TOINT: f64 = 1.5 / f64::EPSILON;
const INV_PIO2: f64 = std::f64::consts::FRAC_2_PI;
/// π/2 in two 33-bit parts (`k · PIO2_i` is exact for `|k| < 2²⁰`) and the rest: fdlibm's
/// `pio2_1`, `pio2_2` and `pio2_2t`, bit for bit.
const PIO2_1: f64 = f64::from_bits(0x3FF9_21FB_5440_0000);
const PIO2_2: f64 = f64::from_bits(0x3DD0_B461_1A60_0000);
const PIO2_2T: f64 = f64::from_bits(0x3BA3_198A_2E03_7073);

// Kernel polynomials of fdlibm's __kernel_sin / __kernel_cos on [-π/4, π/4], in fdlibm's
// decimal form: each rounds to the intended double, and the digits are kept as published
// (hence the module's `excessive_precision` allowance).
const S1: f64 = -1.666_666_666_666_663_243_48e-1;
const S2: f64 = 8.333_333_333_322_489_461_24e-3;
const S3: f64 = -1.984_126_982_985_794_931_34e-4;
const S4: f64 = 2.755_731_370_707_006_767_89e-6;
const S5: f64 = -2.505_076_025_340_686_341_95e-8;
const S6: f64 = 1.589_690_995_211_550_102_21e-10;
const C1: f64 = 4.166_666_666_666_660_190_37e-2;
const C2: f64 = -1.388_888_888_887_410_957_49e-3;
const C3: f64 = 2.480_158_728_947_672_941_78e-5;
const C4: f64 = -2.755_731_435_139_066_330_35e-7;
const C5: f64 = 2.087_572_321_298_174_827_90e-9;
const C6: f64 = -1.135_964_755_778_819_482_65e-11;

/// `sin(y0 + y1)` for `|y0 + y1| <= π/4`.
#[inline(always)]
fn kernel_sin(x: f64, y: f64) -> f64 {
    let z = x * x;
    let w = z * z;
    let r = S2 + z * (S3 + z * S4) + z * w * (S5 + z * S6);
    let v = z * x;
    x - ((z * (0.5 * y - v * r) - y) - v * S1)
}

/// `cos(y0 + y1)` for `|y0 + y1| <= π/4`.
#[inline(always)]
fn kernel_cos(x: f64, y: f64) -> f64 {
    let z = x * x;
    let w = z * z;
    let r = z * (C1 + z * (C2 + z * C3)) + w * w * (C4 + z * (C5 + z * C6));
    let hz = 0.5 * z;
    let w = 1.0 - hz;
    w + (((1.0 - w) - hz) + (z * r - x * y))
}

/// `(k, sin r, cos r)` with `x = k·π/2 + r`, `|r| <= π/4`, for `|x| <= FAST_LIMIT`
/// (garbage otherwise), without branches.
#[inline(always)]
fn reduce(x: f64) -> (u64, f64, f64) {
    let f = (x * INV_PIO2 + TOINT) - TOINT;
    // The low bits of `f + TOINT` are `f` as a two's-complement integer.
    let k = (f + TOINT).to_bits();
    // fdlibm's medium-size reduction (`__rem_pio2`) with its second step always taken:
    // `r - w` is `x - f·π/2` to about 118 bits, so arguments next to a multiple of π/2 keep
    // their relative accuracy (fdlibm's third step, for cancellations beyond that, is not
    // needed below `FAST_LIMIT`: the test of every multiple there finds at most one ulp).
    let t = x - f * PIO2_1;
    let (r, w) = refine(t, f, PIO2_2, PIO2_2T);
    let y0 = r - w;
    let y1 = (r - y0) - w;
    (k, kernel_sin(y0, y1), kernel_cos(y0, y1))
}

/// `sin(x + k · π/2)` from `sin x` and `cos x`, for the low bits of `k`.
#[inline(always)]
fn quadrant(k: u64, s: f64, c: f64) -> f64 {
    let v = if k & 1 == 0 { s } else { c };
    // Quadrants 2 and 3 negate.
    f64::from_bits(v.to_bits() ^ ((k & 2) << 62))
}

/// `sin(x + quarter · π/2)` for `|x| <= FAST_LIMIT` (garbage otherwise), without branches.
#[inline(always)]
fn reduced(x: f64, quarter: u64) -> f64 {
    let (k, s, c) = reduce(x);
    quadrant(k.wrapping_add(quarter), s, c)
}

/// The refining step of the reduction: subtracts `f · part` (exact) from `t` and carries the
/// rounding error and `f · tail` in `w`.
#[inline(always)]
fn refine(t: f64, f: f64, part: f64, tail: f64) -> (f64, f64) {
    let w = f * part;
    let r = t - w;
    (r, f * tail - ((t - r) - w))
}

/// Whether `x` is reduced here (NaN is not).
#[inline(always)]
fn in_range(x: f64) -> bool {
    x.abs() <= FAST_LIMIT
}

/// The sine of `x`.
#[inline]
pub fn sin(x: f64) -> f64 {
    if in_range(x) { reduced(x, 0) } else { x.sin() }
}

/// The cosine of `x`.
#[inline]
pub fn cos(x: f64) -> f64 {
    if in_range(x) { reduced(x, 1) } else { x.cos() }
}

/// `sin[i] = sin(x[i])` and `cos[i] = cos(x[i])`, bit for bit as [`sin`] and [`cos`], for
/// about the cost of one of them (the reduction and both kernel polynomials are shared).
///
/// # Panics
/// If the lengths differ.
pub fn sin_cos_slice(x: &[f64], sin: &mut [f64], cos: &mut [f64]) {
    assert!(
        x.len() == sin.len() && x.len() == cos.len(),
        "trig: output length differs from input"
    );
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F (checked just above).
            unsafe { both_avx512(x, sin, cos) };
            return;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            unsafe { both_avx2(x, sin, cos) };
            return;
        }
    }
    both(x, sin, cos);
}

/// [`slice`] for both functions at once.
#[inline(always)]
fn both(x: &[f64], sin: &mut [f64], cos: &mut [f64]) {
    for ((s, c), &v) in sin.iter_mut().zip(cos.iter_mut()).zip(x) {
        let (k, ks, kc) = reduce(v);
        *s = quadrant(k, ks, kc);
        *c = quadrant(k.wrapping_add(1), ks, kc);
    }
    for ((s, c), &v) in sin.iter_mut().zip(cos.iter_mut()).zip(x) {
        if !in_range(v) {
            (*s, *c) = (v.sin(), v.cos());
        }
    }
}

/// [`both`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn both_avx2(x: &[f64], sin: &mut [f64], cos: &mut [f64]) {
    both(x, sin, cos);
}

/// [`both`] compiled for AVX-512 (eight lanes).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn both_avx512(x: &[f64], sin: &mut [f64], cos: &mut [f64]) {
    both(x, sin, cos);
}

/// `out[i] = sin(x[i])`, bit for bit as [`sin`].
///
/// # Panics
/// If the lengths differ.
pub fn sin_slice(x: &[f64], out: &mut [f64]) {
    dispatch(x, out, 0);
}

/// `out[i] = cos(x[i])`, bit for bit as [`cos`].
///
/// # Panics
/// If the lengths differ.
pub fn cos_slice(x: &[f64], out: &mut [f64]) {
    dispatch(x, out, 1);
}

fn dispatch(x: &[f64], out: &mut [f64], quarter: u64) {
    assert_eq!(x.len(), out.len(), "trig: output length differs from input");
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F (checked just above).
            unsafe { slice_avx512(x, out, quarter) };
            return;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            unsafe { slice_avx2(x, out, quarter) };
            return;
        }
    }
    slice(x, out, quarter);
}

/// The branch-free loop (which the compiler vectorises), then the few arguments out of range.
#[inline(always)]
fn slice(x: &[f64], out: &mut [f64], quarter: u64) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = reduced(v, quarter);
    }
    for (o, &v) in out.iter_mut().zip(x) {
        if !in_range(v) {
            *o = if quarter == 0 { v.sin() } else { v.cos() };
        }
    }
}

/// [`slice`] compiled for AVX2 (four lanes; no FMA, so the bits do not change).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn slice_avx2(x: &[f64], out: &mut [f64], quarter: u64) {
    slice(x, out, quarter);
}

/// [`slice`] compiled for AVX-512 (eight lanes, no FMA either).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn slice_avx512(x: &[f64], out: &mut [f64], quarter: u64) {
    slice(x, out, quarter);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64).abs_diff(b.to_bits() as i64)
    }

    /// Deterministic arguments over several magnitudes, as [`FAST_LIMIT`] sees them.
    fn arguments(n: usize) -> Vec<f64> {
        let mut s = 0x9e37_79b9_7f4a_7c15_u64;
        let scales = [1e-6, 0.8, 4.0, 40.0, 3000.0, 0.99 * FAST_LIMIT, 1e7];
        (0..n)
            .map(|i| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let u = (s >> 11) as f64 / (1u64 << 53) as f64;
                (2.0 * u - 1.0) * scales[i % scales.len()]
            })
            .collect()
    }

    #[test]
    fn within_one_ulp_of_the_c_library() {
        let x = arguments(2_000_000);
        let (mut worst_sin, mut worst_cos) = (0, 0);
        for &v in &x {
            worst_sin = worst_sin.max(ulps(sin(v), v.sin()));
            worst_cos = worst_cos.max(ulps(cos(v), v.cos()));
        }
        assert!(
            worst_sin <= 1 && worst_cos <= 1,
            "{worst_sin} {worst_cos} ulps"
        );
    }

    #[test]
    fn slices_equal_the_scalar_function_bit_for_bit() {
        let mut x = arguments(10_007);
        x.extend([
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            -5e-324,
            FAST_LIMIT,
            -FAST_LIMIT,
            FAST_LIMIT * 1.000001,
            f64::MAX,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ]);
        let mut out = vec![0.0; x.len()];
        for (f, g) in [
            (sin_slice as fn(&[f64], &mut [f64]), sin as fn(f64) -> f64),
            (cos_slice, cos),
        ] {
            f(&x, &mut out);
            for (&v, &o) in x.iter().zip(&out) {
                let want = g(v);
                assert!(
                    o.to_bits() == want.to_bits() || (o.is_nan() && want.is_nan()),
                    "{v}"
                );
            }
        }
        let mut other = vec![0.0; x.len()];
        type Both = fn(&[f64], &mut [f64], &mut [f64]);
        #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
        let mut pairs: Vec<Both> = vec![sin_cos_slice, both];
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            pairs.push(|x, s, c| unsafe { both_avx2(x, s, c) });
        }
        for run in pairs {
            run(&x, &mut out, &mut other);
            for (f, g) in [(&out, sin as fn(f64) -> f64), (&other, cos)] {
                for (&v, &o) in x.iter().zip(f) {
                    let want = g(v);
                    assert!(o.to_bits() == want.to_bits() || (o.is_nan() && want.is_nan()));
                }
            }
        }
        // The portable loop and the AVX2 loop as well, wherever a wider one took the calls
        // above.
        type Loop = fn(&[f64], &mut [f64], u64);
        #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
        let mut loops: Vec<Loop> = vec![|x, o, q| slice(x, o, q)];
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            loops.push(|x, o, q| unsafe { slice_avx2(x, o, q) });
        }
        for run in loops {
            for (quarter, g) in [(0, sin as fn(f64) -> f64), (1, cos)] {
                run(&x, &mut out, quarter);
                for (&v, &o) in x.iter().zip(&out) {
                    let want = g(v);
                    assert!(o.to_bits() == want.to_bits() || (o.is_nan() && want.is_nan()));
                }
            }
        }
    }

    #[test]
    fn special_values() {
        assert_eq!(sin(0.0).to_bits(), 0.0f64.to_bits());
        assert_eq!(sin(-0.0).to_bits(), (-0.0f64).to_bits());
        assert_eq!(cos(0.0), 1.0);
        assert_eq!(sin(1e-300), 1e-300);
        assert_eq!(sin(5e-324), 5e-324);
        assert!(sin(f64::NAN).is_nan() && cos(f64::INFINITY).is_nan());
        assert!(sin(f64::NEG_INFINITY).is_nan());
        assert_eq!(sin(f64::MAX), f64::MAX.sin());
        // Next to every multiple of π/2 below the limit, where the reduction cancels most
        // digits (sin(pi*x) at integer x, say).
        for k in 1..=(FAST_LIMIT / std::f64::consts::FRAC_PI_2) as u32 {
            let x = f64::from(k) * std::f64::consts::FRAC_PI_2;
            for v in [x, x.next_up(), x.next_down()] {
                assert!(
                    ulps(sin(v), v.sin()) <= 1 && ulps(cos(v), v.cos()) <= 1,
                    "{v}"
                );
            }
        }
    }
}
