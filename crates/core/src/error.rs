//! Typed errors. Every variant carries the data a caller needs to react or to explain.

use std::path::PathBuf;

use crate::field_path::FieldPath;
use crate::report::SolveReport;

/// The text of [`SolveError::DimensionMismatch`]: a matrix that is not square is said so (its
/// `len` is then the column count, not a vector's).
fn dimension_mismatch(rows: usize, cols: usize, len: usize) -> String {
    if rows == cols {
        format!("dimension mismatch: matrix is {rows}x{cols}, vector has {len} entries")
    } else {
        format!("dimension mismatch: matrix is {rows}x{cols}, not square")
    }
}

/// Result alias with femscale's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors from linear solvers and preconditioners.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SolveError {
    /// Matrix and vectors do not fit together (or the matrix is not square).
    #[error("{}", dimension_mismatch(*.rows, *.cols, *.len))]
    DimensionMismatch {
        /// Matrix rows.
        rows: usize,
        /// Matrix columns.
        cols: usize,
        /// Offending vector length.
        len: usize,
    },
    /// The iteration ended without meeting the tolerance.
    #[error(
        "{} did not converge in {} iterations (relative residual {:.3e}, tolerance {:.1e})",
        .report.solver, .report.iterations, .report.final_relative_residual, .report.tolerance
    )]
    NotConverged {
        /// What the solve did, including the residual history.
        report: Box<SolveReport>,
    },
    /// A Krylov method hit a zero or non-finite scalar it must divide by.
    #[error("breakdown in {method} after {} iteration(s): {detail}", .report.iterations)]
    Breakdown {
        /// The method that broke down.
        method: String,
        /// Which quantity vanished or became non-finite.
        detail: String,
        /// The state when it happened.
        report: Box<SolveReport>,
    },
    /// The wall-clock budget (`timeout_seconds`) was exceeded.
    #[error("{} timed out after {elapsed_seconds:.3}s (limit {limit_seconds}s)", .report.solver)]
    Timeout {
        /// Seconds spent.
        elapsed_seconds: f64,
        /// The configured limit.
        limit_seconds: f64,
        /// The partial report.
        report: Box<SolveReport>,
    },
    /// The estimated memory need exceeds `memory_limit_mb`.
    #[error(
        "{what} needs about {needed_mb:.1} MB, more than the limit of {} MB",
        crate::shown::Shown(*limit_mb)
    )]
    MemoryBudget {
        /// What would have been allocated.
        what: String,
        /// Estimated need, MB.
        needed_mb: f64,
        /// Configured limit, MB.
        limit_mb: f64,
    },
    /// A factorisation failed (singular matrix, not positive definite, ...).
    #[error("{method} factorisation failed: {detail}")]
    Factorization {
        /// The factorisation that failed.
        method: String,
        /// Why.
        detail: String,
    },
    /// The ranks of a distributed solve could not exchange what the method needs.
    #[error("distributed solve: {message}")]
    Communication {
        /// What failed, naming the ranks.
        message: String,
    },
    /// A solver or preconditioner option is out of range.
    #[error("invalid solver option `{option}`: {reason}")]
    InvalidOption {
        /// The option's name.
        option: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The solution has NaN or infinite entries (found by
    /// [`verify_solution`](crate::verify::verify_solution), whatever the solver reported).
    #[error(
        "{solver} returned a solution with {count} non-finite entries (first at index \
         {first_index}) while reporting a relative residual of {reported_relative_residual:.3e}"
    )]
    NonFiniteSolution {
        /// The solver that produced it.
        solver: String,
        /// How many entries are NaN or infinite.
        count: usize,
        /// The first such entry.
        first_index: usize,
        /// The relative residual the solver reported.
        reported_relative_residual: f64,
    },
    /// The true residual `‖b − A x‖ / ‖b‖`, recomputed after the solve, exceeds the tolerance
    /// by more than the documented factor (see [`crate::verify`]).
    #[error(
        "{solver} reported a relative residual of {reported_relative_residual:.3e}, but the \
         recomputed ‖b − Ax‖/‖b‖ is {verified_relative_residual:.3e} (tolerance {tolerance:.1e}, \
         accepted up to {factor}× that; componentwise backward error {backward_error:.3e})"
    )]
    Unverified {
        /// The solver that produced the solution.
        solver: String,
        /// The relative residual the solver reported.
        reported_relative_residual: f64,
        /// The relative residual recomputed from the matrix, `b` and `x`.
        verified_relative_residual: f64,
        /// The componentwise backward error of the solution.
        backward_error: f64,
        /// The relative tolerance of the solve.
        tolerance: f64,
        /// The slack allowed above the tolerance.
        factor: f64,
    },
    /// Only the componentwise backward error accepted the solution, and one step of iterative
    /// refinement with the same solver changes it by more than
    /// [`CORRECTION_LIMIT`](crate::verify::CORRECTION_LIMIT) of its size, or that solve
    /// failed: the system does not determine the solution to three digits (see
    /// [`confirm_solution`](crate::verify::confirm_solution)).
    #[error(
        "{solver}'s solution is not determined by the system: its recomputed ‖b − Ax‖/‖b‖ of \
         {verified_relative_residual:.3e} passes only as a componentwise backward error \
         ({backward_error:.3e}), and {detail} — the matrix is singular or too ill-conditioned \
         for this solver (a problem whose solution is fixed only up to a constant?)"
    )]
    Undetermined {
        /// The solver that produced the solution.
        solver: String,
        /// The relative residual recomputed from the matrix, `b` and `x`.
        verified_relative_residual: f64,
        /// The componentwise backward error of the solution.
        backward_error: f64,
        /// `‖δ‖∞ / ‖x‖∞` for the correction `A δ = b − A x` (infinite when its solve failed).
        relative_correction: f64,
        /// The largest relative correction accepted.
        limit: f64,
        /// What the correction step found, in words.
        detail: String,
    },
    /// The solution meets the tolerance in norm but not row by row: its componentwise
    /// backward error stays above [`VERIFY_FACTOR`](crate::verify::VERIFY_FACTOR) times the
    /// tolerance after steps of iterative refinement with the same solver (see
    /// [`refine_componentwise`](crate::verify::refine_componentwise)). Rows of very
    /// different size (a large Robin coefficient, a coefficient contrast) let `‖b − Ax‖`
    /// meet the tolerance on the largest rows while the others are not solved.
    #[error(
        "{solver}'s solution meets the tolerance only in norm (recomputed ‖b − Ax‖/‖b‖ \
         {verified_relative_residual:.3e}), not row by row: its componentwise backward error is \
         {backward_error:.3e} after {refinements} step(s) of iterative refinement ({detail}), \
         above the {limit:.1e} accepted — rows of very different size (a large Robin alpha, a coefficient \
         contrast) hide an unsolved part; a direct solver, or another preconditioner, solves \
         such systems"
    )]
    Inaccurate {
        /// The solver that produced the solution.
        solver: String,
        /// The relative residual recomputed from the matrix, `b` and `x`.
        verified_relative_residual: f64,
        /// The componentwise backward error after the refinement.
        backward_error: f64,
        /// The largest backward error accepted (`VERIFY_FACTOR` times the tolerance).
        limit: f64,
        /// Refinement steps taken.
        refinements: usize,
        /// Why the refinement stopped, in words.
        detail: String,
    },
    /// A [`SolveMonitor`](crate::SolveMonitor) asked the solve to stop.
    #[error("{} stopped by its monitor after {} iterations", .report.solver, .report.iterations)]
    Stopped {
        /// The state when it stopped.
        report: Box<SolveReport>,
    },
    /// An error specific to one backend.
    #[error(transparent)]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

impl SolveError {
    /// The solve report carried by this error, if any.
    pub fn report(&self) -> Option<&SolveReport> {
        match self {
            Self::NotConverged { report }
            | Self::Breakdown { report, .. }
            | Self::Timeout { report, .. }
            | Self::Stopped { report } => Some(report),
            _ => None,
        }
    }
}

/// The general femscale error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter was out of range or inconsistent.
    #[error("invalid `{field}`: {reason}")]
    InvalidInput {
        /// The parameter, as a config key or struct field path (e.g. `problem.mesh.nx`).
        field: FieldPath,
        /// What is wrong with it.
        reason: String,
    },
    /// A name did not match any known one.
    #[error("unknown {what} `{}` in `{field}`; known: {}", shown_token(.name), .known.join(", "))]
    UnknownName {
        /// The parameter that held the name.
        field: FieldPath,
        /// The kind of thing named (boundary part, solver, ...).
        what: String,
        /// The name given.
        name: String,
        /// The valid names.
        known: Vec<String>,
    },
    /// An expression could not be parsed or evaluated.
    #[error(
        "invalid expression in `{field}` at column {column}: {message}\n  {}\n  {caret:>width$}",
        excerpt(.text, *.column).0,
        caret = "^",
        width = excerpt(.text, *.column).1
    )]
    Expression {
        /// The parameter that held the expression.
        field: FieldPath,
        /// The expression text.
        text: String,
        /// 1-based column of the problem.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A configuration key asks for something this build of femscale was compiled without
    /// (a cargo feature of the `femscale` crate that is off, e.g. `redis` or `plugins`).
    #[error(
        "`{field}`: {what} needs the `{feature}` feature of femscale, which is off in this \
         build (enable it: `femscale = {{ features = [\"{feature}\"] }}`)"
    )]
    FeatureDisabled {
        /// The key that asked for it (`cache.levels`, `plugins.paths`, ...).
        field: FieldPath,
        /// What was asked for (`the \`redis\` cache level`).
        what: String,
        /// The cargo feature of `femscale` that provides it.
        feature: String,
    },
    /// A mesh (generated or read from a file) is invalid.
    #[error("invalid mesh{}: {message}", .location.as_ref().map(|l| format!(" ({l})")).unwrap_or_default())]
    Mesh {
        /// File and line, when the mesh came from a file.
        location: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// A mesh file (a Gmsh `.msh`) could not be read: the file, the section, the line (ASCII)
    /// or byte offset (binary) and what is wrong, e.g.
    /// `domain.msh:123 ($Elements): node tag 9999 is not defined in $Nodes`.
    #[error("{}{position} ({section}): {message}", .path.display())]
    MeshFile {
        /// The file (or the origin given for in-memory input).
        path: PathBuf,
        /// The section being read (`$Nodes`, `$Elements`, ...).
        section: String,
        /// Where in the file.
        position: FilePosition,
        /// What is wrong.
        message: String,
    },
    /// Configuration could not be loaded or is invalid.
    #[error("configuration error: {message}")]
    Config {
        /// The full message, naming key, file and line where known.
        message: String,
        /// The (first) key the message is about, when it is about one: what
        /// [`Error::field`] returns (the message already names it in full, so
        /// [`Error::within`] leaves it).
        key: Option<FieldPath>,
    },
    /// A linear solve failed.
    #[error(transparent)]
    Solve(#[from] SolveError),
    /// A file could not be read or written.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A cache level failed.
    #[error("cache error: {message}")]
    Cache {
        /// What failed.
        message: String,
    },
    /// A plugin failed to load or returned an error.
    #[error("plugin `{plugin}`: {message}")]
    Plugin {
        /// The plugin's name or path.
        plugin: String,
        /// What failed.
        message: String,
    },
    /// Ranks of a parallel run (MPI processes, or the in-process ranks of tests) could not
    /// exchange a message, or one sent what the protocol does not allow.
    #[error("communication between ranks failed: {message}")]
    Communication {
        /// What failed, naming the ranks.
        message: String,
    },
    /// The wall-clock budget of a whole solve (`solver.timeout_seconds`: meshing, assembly,
    /// solve and post-processing) was spent; see [`Deadline`](crate::Deadline).
    #[error(
        "the solve timed out in the `{phase}` phase after {elapsed_seconds:.3}s \
         (`solver.timeout_seconds` = {}s covers every phase of a solve)",
        crate::shown::Shown(*limit_seconds)
    )]
    Timeout {
        /// The phase that was running (or about to start): `mesh`, `pattern`, `assembly`,
        /// `boundary_conditions`, `setup`, `solve` or `post`.
        phase: String,
        /// Seconds spent since the solve started.
        elapsed_seconds: f64,
        /// The configured limit, seconds.
        limit_seconds: f64,
    },
}

/// A position in a file, for [`Error::MeshFile`]: displayed as `:123` (1-based line of a text
/// file) or ` at byte 4567` (0-based offset into a binary file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum FilePosition {
    /// 1-based line number.
    Line(usize),
    /// 0-based byte offset.
    Byte(u64),
}

impl std::fmt::Display for FilePosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Line(line) => write!(f, ":{line}"),
            Self::Byte(offset) => write!(f, " at byte {offset}"),
        }
    }
}

impl Error {
    /// Shorthand for [`Error::InvalidInput`]; `field` is a [`FieldPath`] or its dotted form.
    pub fn invalid(field: impl Into<FieldPath>, reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::FeatureDisabled`].
    pub fn feature_disabled(
        field: impl Into<FieldPath>,
        what: impl Into<String>,
        feature: impl Into<String>,
    ) -> Self {
        Self::FeatureDisabled {
            field: field.into(),
            what: what.into(),
            feature: feature.into(),
        }
    }

    /// The parameter this error is about, when it is about one.
    pub fn field(&self) -> Option<FieldPath> {
        match self {
            Self::InvalidInput { field, .. }
            | Self::UnknownName { field, .. }
            | Self::Expression { field, .. }
            | Self::FeatureDisabled { field, .. } => Some(field.clone()),
            Self::Timeout { .. } => Some(FieldPath::parse("solver.timeout_seconds")),
            Self::Config { key, .. } => key.clone(),
            _ => None,
        }
    }

    /// [`Error::field`] of an error that does not say yet where the value came from (every
    /// kind but [`Error::Config`], whose message names its file line, override or variable):
    /// the key to look up when adding that.
    pub fn unlocated_field(&self) -> Option<FieldPath> {
        match self {
            Self::Config { .. } => None,
            _ => self.field(),
        }
    }

    /// [`Error::field`] in its dotted form (`problem.boundary[0].where`).
    pub fn field_name(&self) -> Option<String> {
        self.field().map(|f| f.to_string())
    }

    /// The error with its field placed under `prefix`: a layer that passed its `mesh` to a
    /// generator reports the generator's `nx` as `mesh.nx` (`e.within("mesh")`). Errors
    /// without a field are returned unchanged.
    #[must_use]
    pub fn within(self, prefix: impl Into<FieldPath>) -> Self {
        let prefix = prefix.into();
        self.map_field(|field| prefix.join(&field))
    }

    /// The error with its field mapped by `f` (renaming parameters for another API). Errors
    /// without a field are returned unchanged.
    #[must_use]
    pub fn map_field(self, f: impl FnOnce(FieldPath) -> FieldPath) -> Self {
        match self {
            Self::InvalidInput { field, reason } => Self::InvalidInput {
                field: f(field),
                reason,
            },
            Self::UnknownName {
                field,
                what,
                name,
                known,
            } => Self::UnknownName {
                field: f(field),
                what,
                name,
                known,
            },
            Self::Expression {
                field,
                text,
                column,
                message,
            } => Self::Expression {
                field: f(field),
                text,
                column,
                message,
            },
            Self::FeatureDisabled {
                field,
                what,
                feature,
            } => Self::FeatureDisabled {
                field: f(field),
                what,
                feature,
            },
            other => other,
        }
    }
}

/// Checks that `value` is finite, naming `field` otherwise.
///
/// # Errors
/// [`Error::InvalidInput`] for NaN or infinite values.
pub fn ensure_finite(field: &str, value: f64) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Error::invalid(
            field,
            format!(
                "must be a finite number, got {}",
                crate::shown::Shown(value)
            ),
        ))
    }
}

/// The part of an expression `text` an error shows around its 1-based `column` (at most
/// [`EXCERPT_SIDE`] characters either side, `…` where cut, control characters escaped so
/// that a message cannot drive the terminal), and the caret's column within it.
fn excerpt(text: &str, column: usize) -> (String, usize) {
    let start = column.saturating_sub(1).saturating_sub(EXCERPT_SIDE);
    let mut shown = String::new();
    if start > 0 {
        shown.push('…');
    }
    let mut caret = None;
    let mut taken = start;
    for (i, c) in text
        .chars()
        .enumerate()
        .skip(start)
        .take(2 * EXCERPT_SIDE + 1)
    {
        if i + 1 == column {
            caret = Some(shown.chars().count() + 1);
        }
        push_shown(&mut shown, c);
        taken = i + 1;
    }
    let caret = caret.unwrap_or(shown.chars().count() + 1);
    if text.chars().nth(taken).is_some() {
        shown.push('…');
    }
    (shown, caret)
}

/// Appends `c` to a message as a terminal shows it harmlessly: control characters (escape
/// sequences, carriage returns) and invisible format characters that reorder or hide text
/// (bidirectional overrides and isolates, zero-width characters, the byte-order mark) as
/// their Rust escapes (`\u{1b}`, `\u{202e}`), others as they are.
pub fn push_shown(out: &mut String, c: char) {
    let invisible = matches!(c,
        '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{feff}');
    match c.is_control() || invisible {
        true => out.extend(c.escape_default()),
        false => out.push(c),
    }
}

/// `text` as a message quotes it: at most [`SHOWN_TOKEN`] characters (then `…`), each through
/// [`push_shown`] — for names and numbers taken from untrusted input, which may be a megabyte
/// long.
pub fn shown_token(text: &str) -> String {
    let mut shown = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == SHOWN_TOKEN {
            shown.push('…');
            break;
        }
        push_shown(&mut shown, c);
    }
    shown
}

/// `message` with every run of more than [`SHOWN_TOKEN`] characters without a space cut to
/// that many (then `…`), at most [`SHOWN_MESSAGE`] bytes in all, and each character
/// through [`push_shown`]: for messages of other
/// libraries (a configuration parser's "found `…`") that quote untrusted input whole.
pub fn shown_message(message: &str) -> String {
    let mut shown = String::with_capacity(message.len().min(4096));
    let mut run = 0;
    for c in message.chars() {
        if shown.len() >= SHOWN_MESSAGE {
            // A long value with spaces in it: the whole message is bounded too.
            shown.push('…');
            break;
        }
        run = if c == ' ' || c == '\n' { 0 } else { run + 1 };
        if run == SHOWN_TOKEN + 1 {
            shown.push('…');
        }
        if run <= SHOWN_TOKEN {
            match c {
                '\n' => shown.push(c),
                _ => push_shown(&mut shown, c),
            }
        }
    }
    shown
}

/// Bytes of a message [`shown_message`] shows at most (then `…`).
pub const SHOWN_MESSAGE: usize = 2000;

/// Characters of a name or number [`shown_token`] quotes.
pub const SHOWN_TOKEN: usize = 80;

/// Characters of an expression shown on either side of an error's column.
const EXCERPT_SIDE: usize = 60;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bounded_and_invisible_characters_escaped() {
        let long = "a".repeat(100_000);
        let shown = shown_token(&long);
        assert_eq!(shown.chars().count(), SHOWN_TOKEN + 1);
        assert!(shown.ends_with('…'));
        assert_eq!(
            shown_token("ab\u{202e}c\u{1b}[2J"),
            "ab\\u{202e}c\\u{1b}[2J"
        );
        assert_eq!(shown_token("x\u{200b}y\u{feff}"), "x\\u{200b}y\\u{feff}");
        let message = format!("found `{long}`, expected `one of `dim`, `mesh``\nnext line");
        let shown = shown_message(&message);
        assert_eq!(
            shown.len(),
            message.len() - (100_000 + 3 - SHOWN_TOKEN) + '…'.len_utf8()
        );
        assert!(
            shown.ends_with("a… expected `one of `dim`, `mesh``\nnext line"),
            "{shown}"
        );
        let spaced = format!("found string \"{}\"", "a ".repeat(100_000));
        let shown = shown_message(&spaced);
        assert!(
            shown.len() <= SHOWN_MESSAGE + 16 && shown.ends_with('…'),
            "{}",
            shown.len()
        );
    }

    #[test]
    fn expression_error_points_at_the_column() {
        let e = Error::Expression {
            field: "problem.source".into(),
            text: "sin(x".into(),
            column: 6,
            message: "expected `)`".into(),
        };
        let text = e.to_string();
        assert!(text.contains("problem.source"), "{text}");
        assert!(text.ends_with("  sin(x\n       ^"), "{text:?}");
        assert_eq!(e.field_name().as_deref(), Some("problem.source"));
    }

    #[test]
    fn mesh_file_errors_name_file_position_and_section() {
        let e = Error::MeshFile {
            path: "domain.msh".into(),
            section: "$Elements".into(),
            position: FilePosition::Line(123),
            message: "node tag 9999 is not defined in $Nodes".into(),
        };
        assert_eq!(
            e.to_string(),
            "domain.msh:123 ($Elements): node tag 9999 is not defined in $Nodes"
        );
        let e = Error::MeshFile {
            path: "domain.msh".into(),
            section: "$Nodes".into(),
            position: FilePosition::Byte(4567),
            message: "unexpected end of file".into(),
        };
        assert_eq!(
            e.to_string(),
            "domain.msh at byte 4567 ($Nodes): unexpected end of file"
        );
    }

    #[test]
    fn fields_are_prefixed_and_renamed_as_paths() {
        let e = Error::invalid("nx", "must be at least 1").within("mesh");
        assert_eq!(e.field_name().as_deref(), Some("mesh.nx"));
        let e = e.within("problem");
        assert_eq!(e.field(), Some(FieldPath::parse("problem.mesh.nx")));
        let e = Error::invalid("boundary[2].where", "empty").within("problem");
        let path = e.field().unwrap();
        assert_eq!(path.steps().len(), 4);
        assert!(path == "problem.boundary[2].where");
        let renamed = e.map_field(|f| f.strip_prefix(&"problem".into()).unwrap().into());
        assert_eq!(renamed.field_name().as_deref(), Some("boundary[2].where"));
        let untouched = Error::Config {
            key: None,
            message: "x".into(),
        };
        assert!(untouched.within("problem").field().is_none());
    }

    #[test]
    fn an_expression_error_shows_a_bounded_escaped_excerpt() {
        let error = |text: String, column| Error::Expression {
            field: FieldPath::parse("problem.source"),
            text,
            column,
            message: "unexpected".into(),
        };
        // A short expression whole, the caret under its column.
        let shown = error("x + (y * ".into(), 5).to_string();
        assert!(shown.ends_with("\n  x + (y * \n      ^"), "{shown:?}");
        // A million characters: a window around the column, cut with `…`.
        let long = format!("{}qq{}", "x+".repeat(250_000), "+y".repeat(250_000));
        let shown = error(long, 500_001).to_string();
        assert!(shown.len() < 400, "{} bytes", shown.len());
        let lines: Vec<&str> = shown.lines().collect();
        let (excerpt, caret) = (lines[1], lines[2]);
        assert!(
            excerpt.starts_with("  …") && excerpt.ends_with('…'),
            "{excerpt}"
        );
        let at = caret.chars().count() - 1;
        assert_eq!(excerpt.chars().nth(at), Some('q'), "{shown}");
        // Control characters escaped, the caret still under the offending one.
        let shown = error("x + \u{1b}[31m y".into(), 5).to_string();
        assert!(
            !shown.contains('\u{1b}') && shown.contains("\\u{1b}"),
            "{shown:?}"
        );
        // A column past the end: the caret after the text.
        let shown = error("x +".into(), 4).to_string();
        assert!(shown.ends_with("\n  x +\n     ^"), "{shown:?}");
    }
}
