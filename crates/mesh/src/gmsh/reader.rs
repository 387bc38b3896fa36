//! A byte cursor over a whole `.msh` file: whitespace-separated ASCII tokens and little-endian
//! binary values, every error located by line (ASCII files) or byte offset (binary files).

use std::path::Path;

use femscale_core::{Error, FilePosition};

/// Reads tokens and binary values from `data`, naming `path` and the current section in errors.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pub(crate) pos: usize,
    path: &'a Path,
    /// Positions are byte offsets once the file is known to be binary, lines otherwise.
    pub(crate) binary: bool,
    pub(crate) section: String,
}

pub(crate) type Res<T> = Result<T, Error>;

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c')
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8], path: &'a Path) -> Self {
        Self {
            data,
            pos: 0,
            path,
            binary: false,
            section: String::new(),
        }
    }

    /// Bytes left after the cursor.
    pub(crate) fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    /// An error at byte offset `at`.
    pub(crate) fn error_at(&self, at: usize, message: impl Into<String>) -> Error {
        let at = at.min(self.data.len());
        let position = if self.binary {
            FilePosition::Byte(at as u64)
        } else {
            let newlines = self.data[..at].iter().filter(|&&b| b == b'\n').count();
            FilePosition::Line(newlines + 1)
        };
        Error::MeshFile {
            path: self.path.to_path_buf(),
            section: if self.section.is_empty() {
                "file start".into()
            } else {
                self.section.clone()
            },
            position,
            message: message.into(),
        }
    }

    /// An error at the cursor.
    pub(crate) fn error(&self, message: impl Into<String>) -> Error {
        self.error_at(self.pos, message)
    }

    pub(crate) fn skip_space(&mut self) {
        while self.pos < self.data.len() && is_space(self.data[self.pos]) {
            self.pos += 1;
        }
    }

    /// The next whitespace-separated token and its start, or `None` at the end of the data.
    pub(crate) fn try_token(&mut self) -> Option<(usize, &'a [u8])> {
        self.skip_space();
        let start = self.pos;
        let data = self.data;
        let mut end = start;
        while end < data.len() && !is_space(data[end]) {
            end += 1;
        }
        if end == start {
            return None;
        }
        self.pos = end;
        Some((start, &data[start..end]))
    }

    /// The next token; `what` names it in the end-of-file error.
    pub(crate) fn token(&mut self, what: &str) -> Res<(usize, &'a [u8])> {
        self.try_token()
            .ok_or_else(|| self.error(format!("unexpected end of file: expected {what}")))
    }

    /// An ASCII integer token.
    pub(crate) fn int(&mut self, what: &str) -> Res<i64> {
        // Fast path: digits parsed while scanning; anything unusual takes the checked path.
        self.skip_space();
        let data = self.data;
        let start = self.pos;
        let mut i = start;
        let mut value: u64 = 0;
        while i < data.len() && i - start < 18 {
            let d = data[i].wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            value = value * 10 + u64::from(d);
            i += 1;
        }
        if i > start && data.get(i).is_none_or(|&b| is_space(b)) {
            self.pos = i;
            return Ok(value as i64);
        }
        let (start, token) = self.token(what)?;
        parse_int(token).ok_or_else(|| {
            let digits = match token.first() {
                Some(b'+' | b'-') => &token[1..],
                _ => token,
            };
            let kind = if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
                "an integer from -9223372036854775808 to 9223372036854775807"
            } else {
                "an integer"
            };
            self.error_at(
                start,
                format!("expected {kind} ({what}), found `{}`", shown(token)),
            )
        })
    }

    /// An ASCII integer token that must lie in `min..=max`.
    pub(crate) fn int_in(&mut self, what: &str, min: i64, max: i64) -> Res<i64> {
        let start = self.peek_start();
        let value = self.int(what)?;
        if value < min || value > max {
            return Err(self.error_at(
                start,
                format!("{what} {value} is out of range ({min} to {max})"),
            ));
        }
        Ok(value)
    }

    /// An ASCII count (non-negative integer).
    pub(crate) fn count(&mut self, what: &str) -> Res<u64> {
        Ok(self.int_in(what, 0, i64::MAX)? as u64)
    }

    /// An ASCII floating-point token (any value, NaN and infinities included).
    pub(crate) fn float(&mut self, what: &str) -> Res<(usize, f64)> {
        let (start, token) = self.token(what)?;
        let value = std::str::from_utf8(token)
            .ok()
            .and_then(|s| s.parse::<f64>().ok());
        match value {
            Some(v) => Ok((start, v)),
            None => Err(self.error_at(
                start,
                format!("expected a number ({what}), found `{}`", shown(token)),
            )),
        }
    }

    /// The offset where the next token starts.
    pub(crate) fn peek_start(&mut self) -> usize {
        self.skip_space();
        self.pos
    }

    /// Where the next value starts: past whitespace in ASCII, the cursor in binary data.
    pub(crate) fn peek_start_if_ascii(&mut self) -> usize {
        if !self.binary {
            self.skip_space();
        }
        self.pos
    }

    /// The rest of the current line (without its end) and its start; the cursor moves past it.
    pub(crate) fn rest_of_line(&mut self) -> (usize, &'a [u8]) {
        let start = self.pos;
        let data = self.data;
        let mut end = start;
        while end < data.len() && data[end] != b'\n' {
            end += 1;
        }
        self.pos = (end + 1).min(data.len());
        let line = &data[start..end];
        (start, line.strip_suffix(b"\r").unwrap_or(line))
    }

    /// Moves past the line end (`\n` or `\r\n`) right after a header or section name, where
    /// binary data starts.
    pub(crate) fn skip_line_end(&mut self) {
        if self.data.get(self.pos) == Some(&b'\r') {
            self.pos += 1;
        }
        if self.data.get(self.pos) == Some(&b'\n') {
            self.pos += 1;
        }
    }

    /// The next `len` bytes of binary data; `what` names them in the end-of-file error.
    pub(crate) fn bytes(&mut self, len: usize, what: &str) -> Res<&'a [u8]> {
        if self.remaining() < len {
            return Err(self.error(format!(
                "unexpected end of file: {what} needs {len} bytes, {} are left",
                self.remaining()
            )));
        }
        let slice = &self.data[self.pos..self.pos + len];
        self.pos += len;
        Ok(slice)
    }

    /// A binary little-endian `int` (4 bytes).
    pub(crate) fn bin_i32(&mut self, what: &str) -> Res<i32> {
        let b = self.bytes(4, what)?;
        Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A binary little-endian `size_t` (8 bytes), as a count that must fit `usize`.
    pub(crate) fn bin_u64(&mut self, what: &str) -> Res<u64> {
        let b = self.bytes(8, what)?;
        Ok(le_u64(b))
    }

    /// A binary little-endian `double`.
    pub(crate) fn bin_f64(&mut self, what: &str) -> Res<f64> {
        let b = self.bytes(8, what)?;
        Ok(f64::from_bits(le_u64(b)))
    }

    /// Checks that the next token is `marker` (`$EndNodes`).
    pub(crate) fn expect_marker(&mut self, marker: &str) -> Res<()> {
        match self.try_token() {
            Some((_, token)) if token == marker.as_bytes() => Ok(()),
            Some((start, token)) => Err(self.error_at(
                start,
                format!(
                    "expected {marker}, found `{}` (a count in the section may be wrong)",
                    shown(token)
                ),
            )),
            None => Err(self.error(format!("unexpected end of file: missing {marker}"))),
        }
    }

    /// Moves past `$End<name>` of a section this reader skips, searching line starts.
    pub(crate) fn skip_section(&mut self, name: &str, start: usize) -> Res<()> {
        let marker = format!("$End{name}");
        let data = self.data;
        let mut i = self.pos;
        while i < data.len() {
            if data[i] == b'$'
                && (i == 0 || data[i - 1] == b'\n')
                && data[i..].starts_with(marker.as_bytes())
                && data.get(i + marker.len()).is_none_or(|&b| is_space(b))
            {
                self.pos = i + marker.len();
                return Ok(());
            }
            i += 1;
        }
        Err(self.error_at(
            start,
            format!("unexpected end of file: no {marker} after ${name}"),
        ))
    }
}

/// An integer token: optional sign, decimal digits, no overflow.
pub(crate) fn parse_int(token: &[u8]) -> Option<i64> {
    let (negative, digits) = match token.first()? {
        b'-' => (true, &token[1..]),
        b'+' => (false, &token[1..]),
        _ => (false, token),
    };
    if digits.is_empty() {
        return None;
    }
    let mut value: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(i64::from(d - b'0'))?;
    }
    Some(if negative { -value } else { value })
}

pub(crate) fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

/// A token for an error message: at most 40 characters, lossy UTF-8.
pub(crate) fn shown(token: &[u8]) -> String {
    // Control characters (a terminal's escape sequences) are shown escaped, not passed on.
    let text: String = (String::from_utf8_lossy(&token[..token.len().min(40)]).chars())
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect();
    if token.len() > 40 {
        format!("{text}...")
    } else {
        text
    }
}

/// Capacity for `count` items of at least `min_bytes` bytes each in `remaining` bytes: never
/// more than the data can hold, whatever a header claims.
pub(crate) fn bounded_capacity(count: u64, remaining: usize, min_bytes: usize) -> usize {
    let fits = remaining / min_bytes.max(1);
    usize::try_from(count).map_or(fits, |c| c.min(fits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_tokens_escape_control_characters() {
        assert_eq!(shown(b"ab\x1b[2J\x07"), "ab\\u{1b}[2J\\u{7}");
        assert_eq!(shown("é".as_bytes()), "é");
    }

    #[test]
    fn integers_are_parsed_strictly() {
        assert_eq!(parse_int(b"42"), Some(42));
        assert_eq!(parse_int(b"-7"), Some(-7));
        assert_eq!(parse_int(b"+7"), Some(7));
        assert_eq!(parse_int(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_int(b"9223372036854775808"), None);
        assert_eq!(parse_int(b"1.5"), None);
        assert_eq!(parse_int(b"-"), None);
        assert_eq!(parse_int(b""), None);
    }

    #[test]
    fn the_fast_integer_path_agrees_with_the_checked_one() {
        let data = b"12 -3 +4 007\n999999999999999999 9223372036854775807 9223372036854775808 5x";
        let mut r = Reader::new(data, Path::new("i.msh"));
        for want in [12, -3, 4, 7, 999_999_999_999_999_999, i64::MAX] {
            assert_eq!(r.int("n").unwrap(), want);
        }
        let e = r.int("n").unwrap_err().to_string();
        assert!(
            e.contains("`9223372036854775808`") && e.contains("to 9223372036854775807"),
            "{e}"
        );
        let e = r.int("n").unwrap_err().to_string();
        assert!(
            e.contains("`5x`") && !e.contains("9223372036854775807"),
            "{e}"
        );
    }

    #[test]
    fn errors_are_located_by_line_or_byte() {
        let data = b"$MeshFormat\n4.1 0 8\nxyz";
        let path = Path::new("a.msh");
        let mut r = Reader::new(data, path);
        r.section = "$MeshFormat".into();
        r.token("marker").unwrap();
        let e = r.int("version").unwrap_err().to_string();
        assert_eq!(
            e,
            "a.msh:2 ($MeshFormat): expected an integer (version), found `4.1`"
        );
        assert_eq!(r.int("type").unwrap(), 0);
        assert_eq!(r.int("size").unwrap(), 8);
        let e = r.int("x").unwrap_err().to_string();
        assert_eq!(
            e,
            "a.msh:3 ($MeshFormat): expected an integer (x), found `xyz`"
        );
        r.binary = true;
        let e = r.bin_i32("flag").unwrap_err().to_string();
        assert!(
            e.starts_with("a.msh at byte 23 ($MeshFormat): unexpected end"),
            "{e}"
        );
        assert_eq!(bounded_capacity(u64::MAX, 100, 8), 12);
        assert_eq!(bounded_capacity(3, 100, 8), 3);
    }
}
