//! The strict parser behind [`super::read_vtu`].

use femscale_core::{Error, Result};

use super::*;

/// Parses the text of a `.vtu` file; `file` names it in error locations.
pub(super) fn parse_vtu(text: &str, file: &str) -> Result<VtuData> {
    Parser {
        lexer: Lexer {
            src: text,
            pos: 0,
            line: 1,
            file,
        },
    }
    .document()
}

/// A markup event of the XML subset used by `.vtu` files.
#[derive(Debug)]
enum Event<'a> {
    /// `<name attr="value" ...>` or `<name .../>` (`empty`).
    Start {
        name: &'a str,
        attrs: Vec<(&'a str, String)>,
        empty: bool,
        line: usize,
    },
    /// `</name>`.
    End { name: &'a str, line: usize },
    /// Character data between tags.
    Text { text: &'a str, line: usize },
    /// End of input.
    Eof { line: usize },
}

/// Splits XML text into events, tracking line numbers; skips declarations and comments.
struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    line: usize,
    file: &'a str,
}

impl<'a> Lexer<'a> {
    fn error<T>(&self, line: usize, message: impl Into<String>) -> Result<T> {
        Err(Error::Mesh {
            location: Some(format!("{}:{line}", self.file)),
            message: message.into(),
        })
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    /// Moves past `n` bytes, counting newlines.
    fn advance(&mut self, n: usize) {
        let end = (self.pos + n).min(self.src.len());
        self.line += self.src.as_bytes()[self.pos..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.pos = end;
    }

    fn skip_ws(&mut self) {
        let n = self.rest().len() - self.rest().trim_start().len();
        self.advance(n);
    }

    /// Skips to just after `terminator`, or fails naming `what`.
    fn skip_past(&mut self, terminator: &str, what: &str) -> Result<()> {
        let line = self.line;
        match self.rest().find(terminator) {
            Some(k) => {
                self.advance(k + terminator.len());
                Ok(())
            }
            None => self.error(line, format!("unterminated {what}")),
        }
    }

    /// An XML name: letters, digits, `_`, `-`, `.`, `:`.
    fn name(&mut self) -> Result<&'a str> {
        let rest = self.rest();
        let n = rest
            .find(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')))
            .unwrap_or(rest.len());
        if n == 0 {
            let found = rest
                .chars()
                .next()
                .map_or("end of file".to_string(), |c| format!("`{c}`"));
            return self.error(self.line, format!("expected a name, found {found}"));
        }
        self.advance(n);
        Ok(&rest[..n])
    }

    fn next(&mut self) -> Result<Event<'a>> {
        loop {
            let rest = self.rest();
            let line = self.line;
            if rest.is_empty() {
                return Ok(Event::Eof { line });
            }
            if !rest.starts_with('<') {
                let n = rest.find('<').unwrap_or(rest.len());
                self.advance(n);
                return Ok(Event::Text {
                    text: &rest[..n],
                    line,
                });
            }
            if rest.starts_with("<?") {
                self.skip_past("?>", "processing instruction `<?`")?;
                continue;
            }
            if rest.starts_with("<!--") {
                self.skip_past("-->", "comment `<!--`")?;
                continue;
            }
            if rest.starts_with("<!") {
                return self.error(line, "DOCTYPE and CDATA sections are not supported");
            }
            if rest.starts_with("</") {
                self.advance(2);
                let name = self.name()?;
                self.skip_ws();
                if !self.rest().starts_with('>') {
                    return self.error(self.line, format!("expected `>` to close `</{name}`"));
                }
                self.advance(1);
                return Ok(Event::End { name, line });
            }
            self.advance(1);
            let name = self.name()?;
            let mut attrs = Vec::new();
            loop {
                let before = self.pos;
                self.skip_ws();
                let rest = self.rest();
                if rest.starts_with("/>") {
                    self.advance(2);
                    return Ok(Event::Start {
                        name,
                        attrs,
                        empty: true,
                        line,
                    });
                }
                if rest.starts_with('>') {
                    self.advance(1);
                    return Ok(Event::Start {
                        name,
                        attrs,
                        empty: false,
                        line,
                    });
                }
                if rest.is_empty() {
                    return self.error(line, format!("unterminated tag `<{name}`"));
                }
                if self.pos == before {
                    return self.error(
                        self.line,
                        format!("expected whitespace, `>` or `/>` in tag `<{name}`"),
                    );
                }
                let attr = self.name()?;
                self.skip_ws();
                if !self.rest().starts_with('=') {
                    return self.error(self.line, format!("expected `=` after attribute `{attr}`"));
                }
                self.advance(1);
                self.skip_ws();
                let quote = match self.rest().chars().next() {
                    Some(q @ ('"' | '\'')) => q,
                    _ => {
                        return self.error(
                            self.line,
                            format!("expected a quoted value for attribute `{attr}`"),
                        );
                    }
                };
                self.advance(1);
                let value_line = self.line;
                let rest = self.rest();
                let Some(end) = rest.find(quote) else {
                    return self.error(
                        value_line,
                        format!("unterminated value of attribute `{attr}`"),
                    );
                };
                let raw = &rest[..end];
                if raw.contains('<') {
                    return self.error(
                        value_line,
                        format!("`<` in the value of attribute `{attr}`"),
                    );
                }
                let value = match xml_unescape(raw) {
                    Ok(v) => v,
                    Err(m) => return self.error(value_line, format!("attribute `{attr}`: {m}")),
                };
                self.advance(end + 1);
                if attrs.iter().any(|(a, _)| *a == attr) {
                    return self.error(value_line, format!("attribute `{attr}` given twice"));
                }
                attrs.push((attr, value));
            }
        }
    }
}

/// Resolves the predefined XML entities and numeric character references.
fn xml_unescape(s: &str) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(k) = rest.find('&') {
        out.push_str(&rest[..k]);
        rest = &rest[k + 1..];
        let Some(end) = rest.find(';') else {
            return Err("unterminated entity `&`".into());
        };
        let entity = &rest[..end];
        let c = match entity {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = entity.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = entity.strip_prefix('#') {
                    dec.parse().ok()
                } else {
                    None
                };
                code.and_then(char::from_u32)
                    .ok_or_else(|| format!("unknown entity `&{entity};`"))?
            }
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A parsed `<DataArray>`.
struct DataArray<'a> {
    name: Option<String>,
    components: usize,
    text: &'a str,
    /// Line of the opening tag.
    line: usize,
    /// Line where `text` starts.
    text_line: usize,
}

/// Recursive-descent parser over [`Lexer`] events for the `.vtu` subset.
struct Parser<'a> {
    lexer: Lexer<'a>,
}

/// The scalar types of VTK data arrays.
const VTK_TYPES: [&str; 10] = [
    "Int8", "UInt8", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64", "Float32", "Float64",
];

impl<'a> Parser<'a> {
    fn error<T>(&self, line: usize, message: impl Into<String>) -> Result<T> {
        self.lexer.error(line, message)
    }

    /// The next event that is not whitespace-only text.
    fn next_markup(&mut self) -> Result<Event<'a>> {
        loop {
            match self.lexer.next()? {
                Event::Text { text, line } => {
                    if !text.trim().is_empty() {
                        return self.error(
                            line,
                            format!(
                                "unexpected text `{}` outside a DataArray",
                                text.trim().chars().take(40).collect::<String>()
                            ),
                        );
                    }
                }
                e => return Ok(e),
            }
        }
    }

    /// Describes an event for error messages.
    fn describe(e: &Event<'_>) -> String {
        match e {
            Event::Start { name, .. } => format!("`<{name}>`"),
            Event::End { name, .. } => format!("`</{name}>`"),
            Event::Text { .. } => "text".into(),
            Event::Eof { .. } => "end of file (the file is truncated)".into(),
        }
    }

    fn line_of(e: &Event<'_>) -> usize {
        match e {
            Event::Start { line, .. }
            | Event::End { line, .. }
            | Event::Text { line, .. }
            | Event::Eof { line } => *line,
        }
    }

    /// Expects `<name ...>` (not self-closing) and returns its attributes and line.
    fn open(&mut self, want: &str) -> Result<(Vec<(&'a str, String)>, usize)> {
        match self.next_markup()? {
            Event::Start {
                name,
                attrs,
                empty: false,
                line,
            } if name == want => Ok((attrs, line)),
            e => self.error(
                Self::line_of(&e),
                format!("expected `<{want}>`, found {}", Self::describe(&e)),
            ),
        }
    }

    /// Expects `</name>`.
    fn close(&mut self, want: &str) -> Result<()> {
        match self.next_markup()? {
            Event::End { name, .. } if name == want => Ok(()),
            e => self.error(
                Self::line_of(&e),
                format!("expected `</{want}>`, found {}", Self::describe(&e)),
            ),
        }
    }

    fn attr<'b>(attrs: &'b [(&str, String)], key: &str) -> Option<&'b str> {
        attrs
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    fn count_attr(&self, attrs: &[(&str, String)], key: &str, line: usize) -> Result<usize> {
        match Self::attr(attrs, key) {
            None => self.error(line, format!("missing attribute `{key}`")),
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) => Ok(n),
                Err(_) => self.error(
                    line,
                    format!("attribute `{key}` = `{v}` is not a non-negative integer"),
                ),
            },
        }
    }

    fn document(mut self) -> Result<VtuData> {
        let (attrs, line) = self.open("VTKFile")?;
        match Self::attr(&attrs, "type") {
            Some("UnstructuredGrid") => {}
            Some(t) => {
                return self.error(
                    line,
                    format!("VTKFile type `{t}` is not supported (expected UnstructuredGrid)"),
                );
            }
            None => return self.error(line, "VTKFile has no `type` attribute"),
        }
        if let Some(c) = Self::attr(&attrs, "compressor") {
            return self.error(line, format!("compressed files (`{c}`) are not supported"));
        }
        self.open("UnstructuredGrid")?;
        let data = self.piece()?;
        match self.next_markup()? {
            Event::End {
                name: "UnstructuredGrid",
                ..
            } => {}
            Event::Start {
                name: "Piece",
                line,
                ..
            } => return self.error(line, "files with more than one Piece are not supported"),
            Event::Start {
                name: "AppendedData",
                line,
                ..
            } => return self.error(line, "appended data is not supported"),
            e => {
                return self.error(
                    Self::line_of(&e),
                    format!(
                        "expected `</UnstructuredGrid>`, found {}",
                        Self::describe(&e)
                    ),
                );
            }
        }
        self.close("VTKFile")?;
        match self.next_markup()? {
            Event::Eof { .. } => Ok(data),
            e => self.error(
                Self::line_of(&e),
                format!("unexpected {} after `</VTKFile>`", Self::describe(&e)),
            ),
        }
    }

    /// Reads the `<DataArray>`s inside an element up to its closing tag.
    fn arrays(&mut self, parent: &str) -> Result<Vec<DataArray<'a>>> {
        let mut arrays = Vec::new();
        loop {
            match self.next_markup()? {
                Event::End { name, .. } if name == parent => return Ok(arrays),
                Event::Start {
                    name: "DataArray",
                    attrs,
                    empty,
                    line,
                } => arrays.push(self.data_array(&attrs, empty, line)?),
                e => {
                    return self.error(
                        Self::line_of(&e),
                        format!(
                            "expected `<DataArray>` or `</{parent}>`, found {}",
                            Self::describe(&e)
                        ),
                    );
                }
            }
        }
    }

    fn data_array(
        &mut self,
        attrs: &[(&str, String)],
        empty: bool,
        line: usize,
    ) -> Result<DataArray<'a>> {
        match Self::attr(attrs, "format") {
            Some("ascii") => {}
            Some(f) => {
                return self.error(
                    line,
                    format!("DataArray format `{f}` is not supported (only `ascii`)"),
                );
            }
            None => return self.error(line, "DataArray has no `format` attribute"),
        }
        match Self::attr(attrs, "type") {
            Some(t) if VTK_TYPES.contains(&t) => {}
            Some(t) => return self.error(line, format!("unknown DataArray type `{t}`")),
            None => return self.error(line, "DataArray has no `type` attribute"),
        }
        let components = match Self::attr(attrs, "NumberOfComponents") {
            None => 1,
            Some(_) => self.count_attr(attrs, "NumberOfComponents", line)?,
        };
        let name = Self::attr(attrs, "Name").map(str::to_string);
        if empty {
            return Ok(DataArray {
                name,
                components,
                text: "",
                line,
                text_line: line,
            });
        }
        let (text, text_line) = match self.lexer.next()? {
            Event::Text { text, line } => {
                self.close("DataArray")?;
                (text, line)
            }
            Event::End {
                name: "DataArray",
                line,
            } => ("", line),
            e => {
                return self.error(
                    Self::line_of(&e),
                    format!(
                        "expected numbers and `</DataArray>`, found {}",
                        Self::describe(&e)
                    ),
                );
            }
        };
        Ok(DataArray {
            name,
            components,
            text,
            line,
            text_line,
        })
    }

    /// Parses whitespace-separated numbers, reporting the line of the first bad one.
    fn numbers<T: std::str::FromStr>(&self, a: &DataArray<'_>, what: &str) -> Result<Vec<T>> {
        let mut out = Vec::new();
        for (k, line) in a.text.split('\n').enumerate() {
            for token in line.split_ascii_whitespace() {
                match token.parse::<T>() {
                    Ok(v) => out.push(v),
                    Err(_) => {
                        return self.error(
                            a.text_line + k,
                            format!(
                                "`{token}` in {what} is not a valid {}",
                                std::any::type_name::<T>()
                            ),
                        );
                    }
                }
            }
        }
        Ok(out)
    }

    fn piece(&mut self) -> Result<VtuData> {
        let (attrs, piece_line) = self.open("Piece")?;
        let num_points = self.count_attr(&attrs, "NumberOfPoints", piece_line)?;
        let num_cells = self.count_attr(&attrs, "NumberOfCells", piece_line)?;
        let mut data = VtuData::default();
        let mut seen_points = false;
        let mut seen_cells = false;
        let mut seen_point_data = false;
        loop {
            let (name, empty, line) = match self.next_markup()? {
                Event::End { name: "Piece", .. } => break,
                Event::Start {
                    name, empty, line, ..
                } => (name, empty, line),
                e => {
                    return self.error(
                        Self::line_of(&e),
                        format!(
                            "expected a Piece section or `</Piece>`, found {}",
                            Self::describe(&e)
                        ),
                    );
                }
            };
            let arrays = if empty {
                Vec::new()
            } else {
                self.arrays(name)?
            };
            let seen = match name {
                "PointData" => &mut seen_point_data,
                "Points" => &mut seen_points,
                "Cells" => &mut seen_cells,
                "CellData" if arrays.is_empty() => continue,
                "CellData" => return self.error(line, "CellData arrays are not supported"),
                other => return self.error(line, format!("unsupported Piece section `<{other}>`")),
            };
            if std::mem::replace(seen, true) {
                return self.error(line, format!("`<{name}>` appears twice"));
            }
            match name {
                "PointData" => self.point_data(&arrays, num_points, &mut data)?,
                "Points" => self.points(&arrays, num_points, line, &mut data)?,
                _ => self.cells(&arrays, num_points, num_cells, line, &mut data)?,
            }
        }
        if !seen_points {
            return self.error(piece_line, "the Piece has no `<Points>`");
        }
        if !seen_cells {
            return self.error(piece_line, "the Piece has no `<Cells>`");
        }
        Ok(data)
    }

    fn point_data(
        &self,
        arrays: &[DataArray<'_>],
        num_points: usize,
        data: &mut VtuData,
    ) -> Result<()> {
        for a in arrays {
            let Some(name) = a.name.clone() else {
                return self.error(a.line, "a PointData DataArray has no `Name`");
            };
            if a.components != 1 {
                return self.error(
                    a.line,
                    format!(
                        "point field `{name}` has {} components; only scalar fields are supported",
                        a.components
                    ),
                );
            }
            if data.point_fields.iter().any(|(n, _)| *n == name) {
                return self.error(a.line, format!("point field `{name}` appears twice"));
            }
            let values: Vec<f64> = self.numbers(a, &format!("point field `{name}`"))?;
            if values.len() != num_points {
                return self.error(
                    a.line,
                    format!(
                        "point field `{name}` has {} values, but NumberOfPoints is {num_points}",
                        values.len()
                    ),
                );
            }
            data.point_fields.push((name, values));
        }
        Ok(())
    }

    fn points(
        &self,
        arrays: &[DataArray<'_>],
        num_points: usize,
        line: usize,
        data: &mut VtuData,
    ) -> Result<()> {
        let [a] = arrays else {
            return self.error(
                line,
                format!(
                    "`<Points>` must hold exactly one DataArray, found {}",
                    arrays.len()
                ),
            );
        };
        if a.components != 3 {
            return self.error(
                a.line,
                format!(
                    "Points have NumberOfComponents = {}, expected 3",
                    a.components
                ),
            );
        }
        let coords: Vec<f64> = self.numbers(a, "Points")?;
        if coords.len() != 3 * num_points {
            return self.error(
                a.line,
                format!(
                    "Points hold {} numbers, expected 3 x NumberOfPoints = {}",
                    coords.len(),
                    3 * num_points
                ),
            );
        }
        data.points = coords.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect();
        Ok(())
    }

    fn cells(
        &self,
        arrays: &[DataArray<'_>],
        num_points: usize,
        num_cells: usize,
        line: usize,
        data: &mut VtuData,
    ) -> Result<()> {
        let find = |name: &str| -> Result<&DataArray<'_>> {
            let mut it = arrays.iter().filter(|a| a.name.as_deref() == Some(name));
            match (it.next(), it.next()) {
                (Some(a), None) => Ok(a),
                (None, _) => self.error(line, format!("`<Cells>` has no `{name}` DataArray")),
                (Some(_), Some(b)) => {
                    self.error(b.line, format!("`<Cells>` has two `{name}` DataArrays"))
                }
            }
        };
        if let Some(a) = arrays.iter().find(|a| {
            !matches!(
                a.name.as_deref(),
                Some("connectivity" | "offsets" | "types")
            )
        }) {
            return self.error(
                a.line,
                format!(
                    "unexpected DataArray `{}` in `<Cells>`",
                    a.name.as_deref().unwrap_or("(unnamed)")
                ),
            );
        }
        let (ca, oa, ta) = (find("connectivity")?, find("offsets")?, find("types")?);
        let connectivity: Vec<usize> = self.numbers(ca, "connectivity")?;
        let offsets: Vec<usize> = self.numbers(oa, "offsets")?;
        let types: Vec<u8> = self.numbers(ta, "types")?;
        for (a, len, what) in [(oa, offsets.len(), "offsets"), (ta, types.len(), "types")] {
            if len != num_cells {
                return self.error(
                    a.line,
                    format!("{what} has {len} entries, but NumberOfCells is {num_cells}"),
                );
            }
        }
        if let Some(&v) = connectivity.iter().find(|&&v| v >= num_points) {
            return self.error(
                ca.line,
                format!("connectivity refers to point {v}, but NumberOfPoints is {num_points}"),
            );
        }
        let mut start = 0;
        let mut cells = Vec::with_capacity(num_cells);
        for (c, (&end, &t)) in offsets.iter().zip(&types).enumerate() {
            if end < start || end > connectivity.len() {
                return self.error(
                    oa.line,
                    format!(
                        "offset {end} of cell {c} is out of order or past the {} connectivity entries",
                        connectivity.len()
                    ),
                );
            }
            let Some(npc) = vtk_nodes_per_cell(t) else {
                return self.error(ta.line, format!("cell {c} has unsupported VTK type {t}"));
            };
            if end - start != npc {
                return self.error(
                    oa.line,
                    format!(
                        "cell {c} of VTK type {t} has {} nodes, expected {npc}",
                        end - start
                    ),
                );
            }
            cells.push(connectivity[start..end].to_vec());
            start = end;
        }
        if start != connectivity.len() {
            return self.error(
                ca.line,
                format!(
                    "connectivity has {} entries, but the offsets end at {start}",
                    connectivity.len()
                ),
            );
        }
        data.cells = cells;
        data.cell_types = types;
        Ok(())
    }
}
