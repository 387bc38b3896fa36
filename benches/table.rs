//! Markdown tables as `docs/performance.md` shows them, with a header line that says which
//! command printed them, how many runs each figure is the median of, and the machine's load.

use std::fmt;

/// A markdown table: a header row and rows of preformatted cells.
#[derive(Debug, Clone, Default)]
pub struct MarkdownTable {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl MarkdownTable {
    /// A table with these column titles.
    pub fn new<S: AsRef<str>>(header: &[S]) -> Self {
        Self {
            header: header.iter().map(|h| h.as_ref().to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; missing cells are left empty, extra cells are kept (markdown renders them).
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) -> &mut Self {
        self.rows.push(cells.into_iter().map(Into::into).collect());
        self
    }
}

impl fmt::Display for MarkdownTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line =
            |f: &mut fmt::Formatter<'_>, cells: &[String]| writeln!(f, "| {} |", cells.join(" | "));
        line(f, &self.header)?;
        writeln!(f, "|{}", "---|".repeat(self.header.len()))?;
        for row in &self.rows {
            let mut cells = row.clone();
            cells.resize(cells.len().max(self.header.len()), String::new());
            line(f, &cells)?;
        }
        Ok(())
    }
}

/// The command that runs example `name` with this process's arguments, as a reader would type
/// it: `cargo run --release -p femscale-benches --example NAME -- ARGS`.
pub fn example_command(name: &str) -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut command = format!("cargo run --release -p femscale-benches --example {name}");
    if !args.is_empty() {
        command.push_str(" -- ");
        command.push_str(&args.join(" "));
    }
    command
}

/// The 1, 5 and 15 minute load averages (`/proc/loadavg`), or "unknown".
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The header line printed above every table: the command, what the figures are, the date and
/// the load average when it was printed.
pub fn provenance(command: &str, figures: &str) -> String {
    format!(
        "`{command}` — {figures}; printed {} UTC, load average {}",
        utc_now(),
        load_average()
    )
}

/// This process's peak resident set size in MB (`VmHWM` of `/proc/self/status`), NaN where the
/// system does not say.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Seconds with three decimals and the unit: `0.795 s`.
pub fn secs(seconds: f64) -> String {
    format!("{seconds:.3} s")
}

/// Milliseconds with one decimal: `396.0 ms`.
pub fn millis(seconds: f64) -> String {
    format!("{:.1} ms", seconds * 1e3)
}

/// A ratio with two decimals: `1.49×`.
pub fn times(ratio: f64) -> String {
    format!("{ratio:.2}×")
}

/// An integer with thousands separators: `1,050,625`.
pub fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `YYYY-MM-DD HH:MM` of the system clock, in UTC.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_renders_as_markdown_and_pads_short_rows() {
        let mut t = MarkdownTable::new(&["n", "time"]);
        t.row(["256", "1.0 s"]).row(["512"]);
        assert_eq!(
            t.to_string(),
            "| n | time |\n|---|---|\n| 256 | 1.0 s |\n| 512 |  |\n"
        );
    }

    #[test]
    fn counts_get_thousands_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1_050_625), "1,050,625");
    }

    #[test]
    fn day_counts_map_to_calendar_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_790), (2026, 12, 3));
    }

    #[test]
    fn figures_are_formatted_with_their_units() {
        assert_eq!(secs(0.7951), "0.795 s");
        assert_eq!(millis(0.396), "396.0 ms");
        assert_eq!(times(1.4949), "1.49×");
    }
}
