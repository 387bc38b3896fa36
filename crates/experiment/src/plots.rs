//! Log-log convergence and timing plots as SVG files.
//!
//! * [`fit_rate`]: the least-squares slope of `log e` against `log h`.
//! * [`plot_error_vs_h`]: error against mesh size, one line with markers per series, the
//!   fitted rate in each legend label (`cg: L2, rate 2.00`).
//! * [`plot_time_vs_dofs`]: solve time against degrees of freedom, one series per solver.
//! * [`plot_adaptive_convergence`]: an adaptive run's estimate and error against degrees of
//!   freedom, with the optimal slope drawn as a dashed line.
//!
//! Plots are rendered in memory with plotters' SVG backend (text becomes SVG `<text>`, so no
//! fonts are needed) and written atomically. Points that cannot be shown on a log axis (zero,
//! negative or non-finite coordinates, or magnitudes outside `[1e-150, 1e150]`) are skipped.
//!
//! ```
//! use femscale_experiment::plots::fit_rate;
//! let h = [0.5, 0.25, 0.125];
//! let e: Vec<f64> = h.iter().map(|h| 3.0 * h * h).collect();
//! assert!((fit_rate(&h, &e).unwrap() - 2.0).abs() < 1e-12);
//! ```

use std::io::Write as _;
use std::ops::Range;
use std::path::Path;

use femscale_core::io::write_atomically;
use femscale_core::{Error, Result};
use plotters::prelude::*;

/// One named curve of `(x, y)` points.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Legend label (for example `cg: L2`).
    pub label: String,
    /// Points `(x, y)`; for [`plot_error_vs_h`] `(h, error)`, for [`plot_time_vs_dofs`]
    /// `(dofs, seconds)`.
    pub points: Vec<(f64, f64)>,
}

/// Plot size in pixels.
const SIZE: (u32, u32) = (900, 650);

/// Line colours (Tableau 10), distinguishable on white and for most colour-blind readers.
const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Whether `v` has a logarithm (positive and finite).
fn loggable(v: f64) -> bool {
    v.is_finite() && v > 0.0
}

/// Smallest and largest coordinate drawn on a log axis; beyond them a plot's 300 decades
/// could not hold every point.
const PLOT_LIMITS: (f64, f64) = (1e-150, 1e150);

/// Whether `v` is drawn on a log axis: within [`PLOT_LIMITS`] (so positive and finite).
pub(crate) fn plottable(v: f64) -> bool {
    (PLOT_LIMITS.0..=PLOT_LIMITS.1).contains(&v)
}

/// Least-squares slope of `log e` against `log h`: the convergence rate `p` of `e ≈ C h^p`.
///
/// Pairs `(h[i], e[i])` with a non-positive or non-finite entry are ignored, as are entries
/// beyond the shorter slice.
///
/// Returns `None` when fewer than two valid pairs remain or all valid `h` are equal.
pub fn fit_rate(h: &[f64], e: &[f64]) -> Option<f64> {
    let logs: Vec<(f64, f64)> = h
        .iter()
        .zip(e)
        .filter(|&(&h, &e)| loggable(h) && loggable(e))
        .map(|(h, e)| (h.ln(), e.ln()))
        .collect();
    if logs.len() < 2 {
        return None;
    }
    let n = logs.len() as f64;
    let mx = logs.iter().map(|p| p.0).sum::<f64>() / n;
    let my = logs.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = logs.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = logs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    // Relative test: all h equal up to rounding leaves no slope to fit.
    if sxx <= f64::EPSILON * logs.iter().map(|p| p.0 * p.0).sum::<f64>() {
        return None;
    }
    let slope = sxy / sxx;
    slope.is_finite().then_some(slope)
}

/// Writes a log-log SVG plot of error against mesh size `h` to `path`.
///
/// Each series is drawn as a line with markers; its legend label is
/// `"<label>, rate <p>"` with the rate from [`fit_rate`] (`n/a` with fewer than two points).
/// Axes are labelled `h` and `error`. Points with a coordinate outside `[1e-150, 1e150]`
/// (including zero, negative and non-finite ones) are skipped.
///
/// # Errors
/// * [`Error::InvalidInput`] for no series, or a series (`series[i]`, named in the reason) with
///   no point that can be shown on log axes.
/// * [`Error::Io`] when rendering or writing the file fails; `path` is left unchanged then.
pub fn plot_error_vs_h(series: &[Series], title: &str, path: &Path) -> Result<()> {
    plot_log_log(
        series,
        &LogLogPlot {
            title,
            x_desc: "h",
            y_desc: "error",
            legend_label: &|s: &Series, pts: &[(f64, f64)]| {
                format!("{}, rate {}", s.label, rate_text(pts))
            },
            reference_rate: None,
        },
        path,
    )
}

/// Writes a log-log SVG plot of solve time in seconds against the number of DOFs to `path`,
/// one series per solver.
///
/// Each legend label is `"<label>, slope <p>"` with the fitted growth exponent of time in DOFs
/// (`n/a` with fewer than two points). Axes are labelled `DOFs` and `time [s]`. Points with a
/// coordinate outside `[1e-150, 1e150]` (including zero, negative and non-finite ones) are
/// skipped.
///
/// # Errors
/// As for [`plot_error_vs_h`].
pub fn plot_time_vs_dofs(series: &[Series], title: &str, path: &Path) -> Result<()> {
    plot_log_log(
        series,
        &LogLogPlot {
            title,
            x_desc: "DOFs",
            y_desc: "time [s]",
            legend_label: &|s: &Series, pts: &[(f64, f64)]| {
                format!("{}, slope {}", s.label, rate_text(pts))
            },
            reference_rate: None,
        },
        path,
    )
}

/// Writes a log-log SVG plot of error (estimates, true errors) against the number of DOFs to
/// `path`, with a dashed reference line of slope `optimal_rate` (e.g. `-1/2` for P1 in 2D:
/// error ∝ DOFs^(-p/d)) half a step below the first series' last point, across all points.
///
/// Legend labels are `"<label>, slope <p>"` as in [`plot_time_vs_dofs`]; axes `DOFs` and
/// `error`. Points outside `[1e-150, 1e150]` are skipped.
///
/// # Errors
/// As for [`plot_error_vs_h`], and [`Error::InvalidInput`] (`optimal_rate`) for a rate that
/// is not finite.
pub fn plot_adaptive_convergence(
    series: &[Series],
    optimal_rate: f64,
    title: &str,
    path: &Path,
) -> Result<()> {
    if !optimal_rate.is_finite() {
        return Err(Error::invalid(
            "optimal_rate",
            format!("the optimal slope must be finite, not {optimal_rate}"),
        ));
    }
    plot_log_log(
        series,
        &LogLogPlot {
            title,
            x_desc: "DOFs",
            y_desc: "error",
            legend_label: &|s: &Series, pts: &[(f64, f64)]| {
                format!("{}, slope {}", s.label, rate_text(pts))
            },
            reference_rate: Some(optimal_rate),
        },
        path,
    )
}

/// The dashed reference line of slope `rate` through half the first curve's last point,
/// spanning the x range of all curves; `None` when a point of it cannot be plotted.
fn reference_line(curves: &[(String, Vec<(f64, f64)>)], rate: f64) -> Option<Vec<(f64, f64)>> {
    let &(x0, y0) = curves.first()?.1.last()?;
    let xs = curves.iter().flat_map(|(_, pts)| pts.iter().map(|p| p.0));
    let (lo, hi) = xs.fold((f64::INFINITY, 0.0_f64), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    let line: Vec<(f64, f64)> = [lo, hi]
        .iter()
        .map(|&x| (x, 0.5 * y0 * (x / x0).powf(rate)))
        .collect();
    line.iter()
        .all(|&(x, y)| plottable(x) && plottable(y))
        .then_some(line)
}

/// The fitted slope through `pts` with two decimals, or `n/a`.
fn rate_text(pts: &[(f64, f64)]) -> String {
    let (x, y): (Vec<f64>, Vec<f64>) = pts.iter().copied().unzip();
    fit_rate(&x, &y).map_or_else(|| "n/a".to_string(), |r| format!("{r:.2}"))
}

/// Builds a series' legend label from the series and its plotted points.
type LegendLabel<'a> = &'a dyn Fn(&Series, &[(f64, f64)]) -> String;

/// What distinguishes the two plots.
struct LogLogPlot<'a> {
    title: &'a str,
    x_desc: &'a str,
    y_desc: &'a str,
    legend_label: LegendLabel<'a>,
    /// The slope of a dashed reference line, if one is drawn.
    reference_rate: Option<f64>,
}

/// Validates, renders in memory and writes atomically.
fn plot_log_log(series: &[Series], plot: &LogLogPlot<'_>, path: &Path) -> Result<()> {
    if series.is_empty() {
        return Err(Error::invalid("series", "there are no series to plot"));
    }
    let mut curves = Vec::with_capacity(series.len());
    for (i, s) in series.iter().enumerate() {
        let mut pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|&(x, y)| plottable(x) && plottable(y))
            .collect();
        if pts.is_empty() {
            return Err(Error::invalid(
                format!("series[{i}]"),
                format!(
                    "series `{}` has no point with coordinates in [1e-150, 1e150] to show on \
                     log axes ({} points given)",
                    s.label,
                    s.points.len()
                ),
            ));
        }
        pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        curves.push(((plot.legend_label)(s, &pts), pts));
    }
    let svg = render(&curves, plot).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(format!("rendering the plot failed: {e}")),
    })?;
    write_atomically(path, |w| w.write_all(svg.as_bytes()))
}

/// A log-axis range covering `values` (all [`plottable`], at least one) with a margin.
///
/// The range spans at most 300 decades: plotters' log axis never finishes placing its ticks
/// when the ratio of the ends overflows `f64`.
fn log_range(values: impl Iterator<Item = f64>) -> Range<f64> {
    let (lo, hi) = values.fold((f64::INFINITY, 0.0_f64), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (a, b) = (lo.ln(), hi.ln());
    let max_span = 300.0 * std::f64::consts::LN_10;
    let pad = (0.04 * (b - a))
        .max(1.25_f64.ln())
        .min(((max_span - (b - a)) / 2.0).max(0.0));
    (a - pad).exp()..(b + pad).exp()
}

/// Where the labelled ticks of a log axis over `range` go: powers of ten, else 1-2-5 or 1–9
/// times them, else evenly spaced round numbers — the first of these that puts three to
/// twelve ticks on the axis (decades thinned to at most twelve). plotters' own choice left
/// axes within one decade with one label or none.
fn log_ticks(range: &Range<f64>) -> Vec<f64> {
    let (lo, hi) = (range.start, range.end);
    let in_range = |v: &f64| range.contains(v);
    let (first, last) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let times = |mantissas: &[f64]| -> Vec<f64> {
        (first..=last)
            .flat_map(|e| mantissas.iter().map(move |m| m * 10f64.powi(e)))
            .filter(in_range)
            .collect()
    };
    let decades = times(&[1.0]);
    if decades.len() >= 3 {
        let every = decades.len().div_ceil(12);
        return decades.into_iter().step_by(every).collect();
    }
    for mantissas in [
        &[1.0, 2.0, 5.0][..],
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
    ] {
        let ticks = times(mantissas);
        if (3..=12).contains(&ticks.len()) {
            return ticks;
        }
    }
    // A range narrower than a factor of about 1.5: the largest round step (1, 2, 2.5 or 5
    // times a power of ten) that puts at least three ticks on it.
    let span = hi - lo;
    let power = 10f64.powi(span.log10().floor() as i32);
    let mut best = Vec::new();
    for step in [5.0, 2.5, 2.0, 1.0, 0.5, 0.25, 0.2, 0.1, 0.05, 0.025].map(|m| m * power) {
        let start = (lo / step).ceil();
        best = (0..13)
            .map(|k| (start + f64::from(k)) * step)
            .take_while(|v| *v < hi)
            .collect();
        if best.len() >= 3 {
            break;
        }
    }
    best
}

/// The unlabelled grid lines of a log axis: 1–9 times the powers of ten in `range`, when
/// there are at most a hundred.
fn log_grid(range: &Range<f64>) -> Vec<f64> {
    let (first, last) = (
        range.start.log10().floor() as i32,
        range.end.log10().ceil() as i32,
    );
    if last - first > 11 {
        return Vec::new();
    }
    (first..=last)
        .flat_map(|e| (1..10).map(move |m| f64::from(m) * 10f64.powi(e)))
        .filter(|v| range.contains(v))
        .collect()
}

/// The fewest significant digits (at least one, at most 15) with which every tick's
/// [`tick_label`] reads as its value (`2.5`, not `2`) and no two labels are the same.
fn tick_digits(ticks: &[f64]) -> usize {
    (1..=15)
        .find(|&digits| {
            let labels: Vec<String> = ticks.iter().map(|&v| tick_label(v, digits)).collect();
            let exact = labels.iter().zip(ticks).all(|(label, &v)| {
                label
                    .parse::<f64>()
                    .is_ok_and(|read| (read - v).abs() <= 1e-9 * v.abs())
            });
            exact && labels.windows(2).all(|w| w[0] != w[1])
        })
        .unwrap_or(15)
}

/// A short tick label with `digits` significant digits: `1e-3`, `2.5e4`, `100`, `0.0102`.
fn tick_label(v: f64, digits: usize) -> String {
    let digits = digits.clamp(1, 17);
    if (1e-2..1e4).contains(&v.abs()) {
        let decimals = (digits as i32 - 1 - v.abs().log10().floor() as i32).max(0) as usize;
        let s = format!("{v:.decimals$}");
        if s.contains('.') {
            return s.trim_end_matches('0').trim_end_matches('.').to_string();
        }
        return s;
    }
    let s = format!("{v:.prec$e}", prec = digits - 1);
    match s.split_once('e') {
        Some((mantissa, exp)) if mantissa.contains('.') => {
            let m = mantissa.trim_end_matches('0').trim_end_matches('.');
            format!("{m}e{exp}")
        }
        _ => s,
    }
}

/// Draws the plot into an SVG string.
fn render(
    curves: &[(String, Vec<(f64, f64)>)],
    plot: &LogLogPlot<'_>,
) -> std::result::Result<String, Box<dyn std::error::Error>> {
    let reference = plot.reference_rate.and_then(|r| reference_line(curves, r));
    let all = || {
        curves
            .iter()
            .flat_map(|(_, pts)| pts.iter())
            .chain(reference.iter().flatten())
    };
    let x_range = log_range(all().map(|p| p.0));
    let y_range = log_range(all().map(|p| p.1));
    let (x_ticks, y_ticks) = (log_ticks(&x_range), log_ticks(&y_range));
    let (x_digits, y_digits) = (tick_digits(&x_ticks), tick_digits(&y_ticks));
    let x_label = |v: &f64| tick_label(*v, x_digits);
    let y_label = |v: &f64| tick_label(*v, y_digits);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(plot.title, ("sans-serif", 28))
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(
                x_range
                    .clone()
                    .log_scale()
                    .with_key_points(x_ticks.clone())
                    .with_light_points(log_grid(&x_range)),
                y_range
                    .clone()
                    .log_scale()
                    .with_key_points(y_ticks.clone())
                    .with_light_points(log_grid(&y_range)),
            )?;
        chart
            .configure_mesh()
            .x_desc(plot.x_desc)
            .y_desc(plot.y_desc)
            .axis_desc_style(("sans-serif", 22))
            .label_style(("sans-serif", 17))
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        for (i, (label, pts)) in curves.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let line = ShapeStyle::from(&color).stroke_width(2);
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), line))?
                .label(label.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], line));
            chart.draw_series(
                pts.iter()
                    .map(|&p| Circle::new(p, 4, ShapeStyle::from(&color).filled())),
            )?;
        }
        if let (Some(line), Some(rate)) = (&reference, plot.reference_rate) {
            let style = ShapeStyle::from(&BLACK.mix(0.6)).stroke_width(2);
            chart
                .draw_series(DashedLineSeries::new(line.iter().copied(), 10, 6, style))?
                .label(format!("optimal slope {rate:.2}"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
        }
        chart
            .configure_series_labels()
            // Falling error curves leave the lower left empty; rising times the upper left.
            .position(if plot.reference_rate.is_some() {
                SeriesLabelPosition::LowerLeft
            } else {
                SeriesLabelPosition::UpperLeft
            })
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font(("sans-serif", 20))
            .draw()?;
        root.present()?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(label: &str, rate: f64, c: f64) -> Series {
        Series {
            label: label.into(),
            points: [0.5, 0.25, 0.125, 0.0625, 0.03125]
                .iter()
                .map(|&h| (h, c * f64::powf(h, rate)))
                .collect(),
        }
    }

    #[test]
    fn fit_rate_recovers_exact_power_laws() {
        let h = [1.0, 0.5, 0.25, 0.125, 0.0625];
        let quad: Vec<f64> = h.iter().map(|h| 0.7 * h * h).collect();
        let lin: Vec<f64> = h.iter().map(|h| 12.0 * h).collect();
        assert!((fit_rate(&h, &quad).unwrap() - 2.0).abs() < 1e-12);
        assert!((fit_rate(&h, &lin).unwrap() - 1.0).abs() < 1e-12);
        // Two points suffice; order does not matter.
        assert!((fit_rate(&[0.1, 0.2], &[0.01, 0.04]).unwrap() - 2.0).abs() < 1e-12);
    }

    #[test]
    fn fit_rate_on_noisy_data_is_close_to_the_true_rate() {
        let h: Vec<f64> = (1..=8).map(|k| 0.5_f64.powi(k)).collect();
        // Deterministic ±5 % multiplicative noise.
        let noise = [1.05, 0.96, 1.02, 0.95, 1.04, 0.97, 1.03, 0.99];
        let e: Vec<f64> = h
            .iter()
            .zip(noise)
            .map(|(h, n)| 2.0 * h.powi(3) * n)
            .collect();
        let r = fit_rate(&h, &e).unwrap();
        assert!((r - 3.0).abs() < 0.05, "{r}");
        assert!(r != 3.0);
    }

    #[test]
    fn fit_rate_on_degenerate_input_is_none_or_skips_bad_points() {
        assert_eq!(fit_rate(&[], &[]), None);
        assert_eq!(fit_rate(&[0.1], &[0.01]), None);
        assert_eq!(fit_rate(&[0.1, 0.1, 0.1], &[0.01, 0.02, 0.03]), None);
        assert_eq!(fit_rate(&[0.1, 0.0, -1.0], &[0.01, 0.1, 0.1]), None);
        assert_eq!(fit_rate(&[0.1, 0.2], &[0.0, f64::NAN]), None);
        assert_eq!(fit_rate(&[f64::INFINITY, 0.2], &[1.0, 1.0]), None);
        // Invalid pairs and surplus entries are ignored.
        let r = fit_rate(
            &[0.1, 0.0, 0.2, f64::NAN, 0.4],
            &[0.01, 5.0, 0.04, 1.0, 0.16, 9.0],
        );
        assert!((r.unwrap() - 2.0).abs() < 1e-12);
        // A flat error gives rate 0, not None.
        assert_eq!(fit_rate(&[0.1, 0.2], &[1.0, 1.0]), Some(0.0));
    }

    fn temp_files(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp-"))
            .collect()
    }

    fn check_svg(path: &Path, labels: &[&str], series: usize) -> String {
        let svg = std::fs::read_to_string(path).unwrap();
        assert!(
            svg.trim_start().starts_with("<svg"),
            "{}",
            &svg[..80.min(svg.len())]
        );
        assert!(svg.trim_end().ends_with("</svg>"));
        // plotters writes each text on its own line: `<text ...>\nLABEL\n</text>`.
        let texts: Vec<&str> = svg
            .split("<text")
            .skip(1)
            .filter_map(|t| t.split_once('>')?.1.split_once("</text>"))
            .map(|(text, _)| text.trim())
            .collect();
        for l in labels {
            assert!(texts.contains(l), "missing label {l:?} in {texts:?}");
        }
        // One line per series plus one legend sample per series.
        let lines = svg.matches("<polyline").count() + svg.matches("<path").count();
        assert!(lines >= 2 * series, "{lines} lines for {series} series");
        assert!(svg.matches("<circle").count() >= series);
        svg
    }

    #[test]
    fn error_plot_is_a_valid_svg_with_rates_in_the_legend() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("error.svg");
        std::fs::write(&path, "old").unwrap();
        let mut h1 = series("cg: H1", 1.0, 0.9);
        // Invalid points are skipped, not fatal.
        h1.points.push((0.0, 1.0));
        h1.points.push((0.01, f64::NAN));
        h1.points.push((-1.0, 1.0));
        let s = [
            series("cg: L2", 2.0, 0.3),
            h1,
            series("single & <odd>", 1.0, 1.0),
        ];
        let mut s = s.to_vec();
        s[2].points.truncate(1);
        plot_error_vs_h(&s, "Poisson 2D: error vs h", &path).unwrap();
        let svg = check_svg(
            &path,
            &[
                "cg: L2, rate 2.00",
                "cg: H1, rate 1.00",
                "single &amp; &lt;odd&gt;, rate n/a",
                "Poisson 2D: error vs h",
                "h",
                "error",
            ],
            3,
        );
        assert!(!svg.contains("NaN"));
        assert!(temp_files(dir.path()).is_empty());
    }

    #[test]
    fn time_plot_is_a_valid_svg_with_one_series_per_solver() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("time.svg");
        let dofs = [1e2, 1e3, 1e4, 1e5];
        let s: Vec<Series> = [("cg", 1.5), ("direct", 1.2)]
            .iter()
            .map(|&(label, p)| Series {
                label: label.into(),
                points: dofs.iter().map(|&n| (n, 1e-6 * f64::powf(n, p))).collect(),
            })
            .collect();
        plot_time_vs_dofs(&s, "Solve time", &path).unwrap();
        check_svg(
            &path,
            &[
                "cg, slope 1.50",
                "direct, slope 1.20",
                "DOFs",
                "time [s]",
                "Solve time",
            ],
            2,
        );
        // Identical points (a zero-width range) and extreme magnitudes still render.
        let odd = [
            Series {
                label: "flat".into(),
                points: vec![(10.0, 0.5), (10.0, 0.5)],
            },
            Series {
                label: "wide".into(),
                points: vec![
                    (1e-150, 1e-150),
                    (1e150, 1e150),
                    (5e-324, 1.0),
                    (f64::MAX, 1.0),
                    (1.0, 1e-200),
                ],
            },
        ];
        plot_time_vs_dofs(&odd, "", &path).unwrap();
        let svg = check_svg(&path, &["flat, slope n/a", "wide, slope 1.00"], 2);
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
        assert!(temp_files(dir.path()).is_empty());
    }

    #[test]
    fn adaptive_plot_draws_the_optimal_slope_dashed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("adaptive.svg");
        let dofs: [f64; 4] = [1e2, 4e2, 1.6e3, 6.4e3];
        let s: Vec<Series> = [("estimate", 2.0), ("error", 0.5)]
            .iter()
            .map(|&(label, c)| Series {
                label: label.into(),
                points: dofs.iter().map(|&n| (n, c / n.sqrt())).collect(),
            })
            .collect();
        plot_adaptive_convergence(&s, -0.5, "L-shape, P1", &path).unwrap();
        let svg = check_svg(
            &path,
            &[
                "estimate, slope -0.50",
                "error, slope -0.50",
                "optimal slope -0.50",
                "DOFs",
                "error",
            ],
            3,
        );
        // The reference is drawn in dashes: many short segments.
        assert!(svg.matches("<polyline").count() >= 10, "{svg}");
        let e = plot_adaptive_convergence(&s, f64::NAN, "t", &path).unwrap_err();
        assert_eq!(e.field_name().as_deref(), Some("optimal_rate"));
        // A single point still plots, with its reference line.
        let one = [Series {
            label: "one".into(),
            points: vec![(100.0, 0.1)],
        }];
        plot_adaptive_convergence(&one, -1.0, "", &path).unwrap();
        assert!(temp_files(dir.path()).is_empty());
    }

    #[test]
    fn invalid_input_and_unwritable_paths_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.svg");
        let e = plot_error_vs_h(&[], "t", &path).unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
        let bad = Series {
            label: "gmres: L2".into(),
            points: vec![(0.0, 1.0), (0.1, -2.0), (f64::NAN, 1.0)],
        };
        let e = plot_error_vs_h(&[series("cg", 2.0, 1.0), bad.clone()], "t", &path).unwrap_err();
        assert_eq!(e.field_name().as_deref(), Some("series[1]"));
        assert!(e.to_string().contains("gmres: L2"), "{e}");
        let e = plot_time_vs_dofs(&[bad], "t", &path).unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
        assert!(!path.exists());
        let missing = dir.path().join("missing/p.svg");
        let e = plot_error_vs_h(&[series("cg", 2.0, 1.0)], "t", &missing).unwrap_err();
        match e {
            Error::Io { path, .. } => assert_eq!(path, missing),
            other => panic!("expected Io, got {other:?}"),
        }
        assert!(temp_files(dir.path()).is_empty());
    }

    #[test]
    fn extreme_ranges_render_without_hanging() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.svg");
        let cases = [
            vec![(1e-150, 1e-150), (1e150, 1e150)],
            vec![(1e-150, 1e150), (1e150, 1e-150)],
            vec![(1.0, 1.0), (1.0 + 1e-15, 1.0 - 1e-15)],
            vec![(1e-20, 3e-17), (2e-20, 1e-16)],
            vec![(7.0, 1e140)],
        ];
        for pts in cases {
            let s = Series {
                label: "s".into(),
                points: pts,
            };
            plot_error_vs_h(std::slice::from_ref(&s), "t", &path).unwrap();
            plot_time_vs_dofs(&[s], "t", &path).unwrap();
            check_svg(&path, &["t"], 1);
        }
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(tick_label(0.001, 3), "1e-3");
        assert_eq!(tick_label(100.0, 3), "100");
        assert_eq!(tick_label(0.25, 3), "0.25");
        assert_eq!(tick_label(25000.0, 3), "2.5e4");
        assert_eq!(tick_label(0.0102, 3), "0.0102");
        assert_eq!(tick_label(3.0000000000000004e-5, 2), "3e-5");
        assert_eq!(tick_label(1234.0, 2), "1234");
    }

    /// The tick labels of `svg` on its two axes (numbers only; the title, axis names and the
    /// legend are words).
    fn numeric_labels(svg: &str) -> Vec<String> {
        (svg.split("<text").skip(1))
            .filter_map(|t| {
                let text = t[t.find('>')? + 1..t.find("</text>")?].trim();
                text.parse::<f64>().is_ok().then(|| text.to_string())
            })
            .collect()
    }

    #[test]
    fn every_axis_gets_three_to_twelve_distinct_labels() {
        // Ranges as `log_range` pads them: within a decade (plotters' own ticks gave such
        // axes one label or none), a few decades, and the widest range allowed.
        let mut ends = vec![(1.0, 1.0 + 1e-15), (1e-150, 1e150), (7.0, 7.0)];
        for lo in [
            1e-20, 3e-5, 0.0101, 0.0126, 0.3, 2.0, 2.91, 1000.0, 123456.0, 2.91e21,
        ] {
            for factor in [
                1.0, 1.0001, 1.03, 1.5, 2.5, 4.0, 9.0, 11.0, 40.0, 1e3, 1e7, 1e40,
            ] {
                ends.push((lo, lo * factor));
            }
        }
        // Single points across two decades (review P: 2.91 was labelled 2, 3, 4 at 2.5, 3,
        // 3.5; 0.0126 had two ticks).
        for k in 0..2000 {
            let v = 10f64.powf(f64::from(k) / 1000.0) * 1e-3;
            ends.push((v, v));
        }
        for (lo, hi) in ends {
            let range = log_range([lo, hi].into_iter());
            let ticks = log_ticks(&range);
            assert!((3..=12).contains(&ticks.len()), "{range:?}: {ticks:?}");
            assert!(
                ticks.windows(2).all(|w| w[0] < w[1]),
                "{range:?}: {ticks:?}"
            );
            assert!(
                ticks.iter().all(|t| range.contains(t)),
                "{range:?}: {ticks:?}"
            );
            let digits = tick_digits(&ticks);
            let labels: Vec<String> = ticks.iter().map(|&t| tick_label(t, digits)).collect();
            // Each label reads as its tick's value (review P: `2.5` was labelled `2`).
            for (label, &t) in labels.iter().zip(&ticks) {
                let read: f64 = label.parse().unwrap();
                assert!((read - t).abs() <= 1e-9 * t, "{range:?}: {label} at {t}");
            }
            let mut seen = std::collections::HashSet::new();
            assert!(
                labels.iter().all(|l| seen.insert(l)),
                "{range:?}: {labels:?}"
            );
            assert!(labels.iter().all(|l| l.len() <= 8), "{range:?}: {labels:?}");
        }
    }

    #[test]
    fn plots_within_a_decade_label_both_axes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.svg");
        // One point; a sweep's times within a few percent; an adaptive run's few steps.
        for pts in [
            vec![(7.0, 7.0)],
            vec![(0.0101, 0.0101), (0.0104, 0.0104)],
            vec![(289.0, 5.6), (483.0, 1.6)],
        ] {
            let s = Series {
                label: "s".into(),
                points: pts.clone(),
            };
            for plot in [plot_error_vs_h, plot_time_vs_dofs] {
                plot(std::slice::from_ref(&s), "t", &path).unwrap();
                let svg = std::fs::read_to_string(&path).unwrap();
                let labels = numeric_labels(&svg);
                assert!((6..=24).contains(&labels.len()), "{pts:?}: {labels:?}");
            }
        }
    }
}
