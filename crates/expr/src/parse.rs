//! Lexer and recursive-descent parser: text → [`Expr`], with constants folded as the tree is
//! built.
//!
//! Grammar, loosest binding first:
//!
//! ```text
//! expr     := sum (cmp_op sum)?              cmp_op: < <= > >= == !=  (not chainable)
//! sum      := product (('+' | '-') product)*
//! product  := unary (('*' | '/') unary)*
//! unary    := ('-' | '+') unary | power
//! power    := primary (('^' | '**') unary)?  right-associative: 2^3^2 = 2^(3^2)
//! primary  := number | name | name '(' expr (',' expr)* ')' | '(' expr ')'
//! ```

use femscale_core::error::{push_shown, shown_token};

use crate::ast::{BinOp, Callable, Expr, Var};
use crate::{ExprError, MAX_NODES};

/// Deepest tree the parser builds; keeps the recursive passes far from stack overflow.
const MAX_DEPTH: usize = 400;
/// Deepest nesting of parentheses, signs and function calls the parser recurses into.
const MAX_NESTING: usize = 100;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Name(String),
    Plus,
    Minus,
    Star,
    Slash,
    Caret,
    LParen,
    RParen,
    Comma,
    Cmp(BinOp),
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Num(v) => format!("number `{v}`"),
            Tok::Name(n) => format!("`{n}`"),
            Tok::Plus => "`+`".into(),
            Tok::Minus => "`-`".into(),
            Tok::Star => "`*`".into(),
            Tok::Slash => "`/`".into(),
            Tok::Caret => "`^`".into(),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Cmp(op) => format!("`{}`", op.symbol()),
            Tok::End => "end of input".into(),
        }
    }
}

/// A token and its 1-based column.
type Spanned = (Tok, usize);

fn err(text: &str, column: usize, message: impl Into<String>) -> ExprError {
    ExprError {
        column,
        message: message.into(),
        text: text.to_owned(),
    }
}

fn lex(text: &str) -> Result<Vec<Spanned>, ExprError> {
    let chars: Vec<char> = text.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            if i < chars.len() && chars[i] == '.' {
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            }
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let mut j = i + 1;
                if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_ascii_digit() {
                    i = j;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                } else {
                    return Err(err(
                        text,
                        j + 1,
                        "malformed number: expected digits in the exponent",
                    ));
                }
            }
            let s: String = chars[start..i].iter().collect();
            let v: f64 = s
                .parse()
                .map_err(|_| err(text, col, format!("malformed number `{}`", shown_token(&s))))?;
            if !v.is_finite() {
                return Err(err(
                    text,
                    col,
                    format!("number `{}` is out of range", shown_token(&s)),
                ));
            }
            toks.push((Tok::Num(v), col));
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            toks.push((Tok::Name(chars[start..i].iter().collect()), col));
            continue;
        }
        let next = chars.get(i + 1).copied();
        let (tok, len) = match (c, next) {
            ('*', Some('*')) => (Tok::Caret, 2),
            ('<', Some('=')) => (Tok::Cmp(BinOp::Le), 2),
            ('>', Some('=')) => (Tok::Cmp(BinOp::Ge), 2),
            ('=', Some('=')) => (Tok::Cmp(BinOp::Eq), 2),
            ('!', Some('=')) => (Tok::Cmp(BinOp::Ne), 2),
            ('<', _) => (Tok::Cmp(BinOp::Lt), 1),
            ('>', _) => (Tok::Cmp(BinOp::Gt), 1),
            ('+', _) => (Tok::Plus, 1),
            ('-', _) => (Tok::Minus, 1),
            ('*', _) => (Tok::Star, 1),
            ('/', _) => (Tok::Slash, 1),
            ('^', _) => (Tok::Caret, 1),
            ('(', _) => (Tok::LParen, 1),
            (')', _) => (Tok::RParen, 1),
            (',', _) => (Tok::Comma, 1),
            ('=', _) => return Err(err(text, col, "unexpected `=`; use `==` to compare")),
            _ => {
                // Control characters escaped: an error message must not drive the terminal.
                let mut shown = String::new();
                push_shown(&mut shown, c);
                return Err(err(text, col, format!("unexpected character `{shown}`")));
            }
        };
        toks.push((tok, col));
        i += len;
    }
    toks.push((Tok::End, chars.len() + 1));
    Ok(toks)
}

/// A parsed subtree with its depth.
struct Node {
    expr: Expr,
    depth: usize,
}

struct Parser<'a> {
    text: &'a str,
    toks: Vec<Spanned>,
    pos: usize,
    params: &'a [(&'a str, f64)],
    /// Current recursion depth of [`Parser::unary`].
    nesting: usize,
}

/// Parses `text`; names in `params` are replaced by their values.
pub(crate) fn parse(text: &str, params: &[(&str, f64)]) -> Result<Expr, ExprError> {
    check_params(text, params)?;
    let toks = lex(text)?;
    if toks.len() == 1 {
        return Err(err(text, 1, "empty expression"));
    }
    let mut p = Parser {
        text,
        toks,
        pos: 0,
        params,
        nesting: 0,
    };
    let node = p.expr()?;
    let (tok, col) = p.peek();
    match tok {
        Tok::End if node.expr.size() > MAX_NODES => Err(err(
            text,
            1,
            format!(
                "expression too large: {} operations (the limit is {MAX_NODES})",
                node.expr.size()
            ),
        )),
        Tok::End => Ok(node.expr),
        Tok::RParen => Err(err(text, col, "unbalanced parentheses: unexpected `)`")),
        Tok::Name(_) | Tok::Num(_) | Tok::LParen => Err(err(
            text,
            col,
            format!(
                "unexpected {} after a complete expression; missing an operator such as `*`?",
                tok.describe()
            ),
        )),
        tok => Err(err(text, col, format!("unexpected {}", tok.describe()))),
    }
}

/// Why `name` cannot name a parameter (not an identifier, or a built-in variable, constant or
/// function it would shadow); `None` when it can.
pub fn param_name_problem(name: &str) -> Option<String> {
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        Some("is not a valid name".to_owned())
    } else if Var::from_name(name).is_some() || matches!(name, "pi" | "e") {
        Some(format!("would shadow the built-in `{}`", shown_token(name)))
    } else if Callable::lookup(name).is_some() {
        Some(format!("would shadow the function `{}`", shown_token(name)))
    } else if name.parse::<f64>().is_ok() {
        // `nan`, `inf`, `infinity` in any case: a field written as the name alone is read as
        // that number before it could be read as an expression.
        Some(format!(
            "is read as the number {}, not as a name",
            name.parse::<f64>().unwrap_or(f64::NAN)
        ))
    } else {
        None
    }
}

fn check_params(text: &str, params: &[(&str, f64)]) -> Result<(), ExprError> {
    for (i, (name, value)) in params.iter().enumerate() {
        let problem = if let Some(problem) = param_name_problem(name) {
            Some(problem)
        } else if params[..i].iter().any(|(n, _)| n == name) {
            Some("is given twice".to_owned())
        } else if !value.is_finite() {
            Some(format!("has the non-finite value {value}"))
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(err(
                text,
                1,
                format!("parameter `{}` {problem}", shown_token(name)),
            ));
        }
    }
    Ok(())
}

impl Parser<'_> {
    fn peek(&self) -> (Tok, usize) {
        self.toks[self.pos].clone()
    }

    fn bump(&mut self) -> (Tok, usize) {
        let t = self.toks[self.pos].clone();
        if t.0 != Tok::End {
            self.pos += 1;
        }
        t
    }

    fn error(&self, column: usize, message: impl Into<String>) -> ExprError {
        err(self.text, column, message)
    }

    /// Builds a node from children, checking depth and that constant folding stayed finite.
    fn node(&self, column: usize, child_depth: usize, expr: Expr) -> Result<Node, ExprError> {
        let depth = 1 + child_depth;
        if depth > MAX_DEPTH {
            return Err(self.error(
                column,
                format!(
                    "expression too deep: its tree of operations has more than {MAX_DEPTH} \
                     levels (a sum or product of more than {MAX_DEPTH} terms is one); group \
                     terms in parentheses"
                ),
            ));
        }
        if let Expr::Const(v) = expr
            && !v.is_finite()
        {
            return Err(self.error(
                column,
                format!("this constant subexpression evaluates to {v}"),
            ));
        }
        Ok(Node { expr, depth })
    }

    fn expr(&mut self) -> Result<Node, ExprError> {
        let lhs = self.sum()?;
        let (tok, col) = self.peek();
        let Tok::Cmp(op) = tok else {
            return Ok(lhs);
        };
        self.bump();
        let rhs = self.sum()?;
        if let (Tok::Cmp(_), col2) = self.peek() {
            return Err(self.error(
                col2,
                "comparisons cannot be chained; use parentheses or if(...)",
            ));
        }
        let depth = lhs.depth.max(rhs.depth);
        let e = Expr::binary(op, lhs.expr, rhs.expr);
        self.node(col, depth, e)
    }

    fn sum(&mut self) -> Result<Node, ExprError> {
        let mut lhs = self.product()?;
        loop {
            let (op, col) = match self.peek() {
                (Tok::Plus, c) => (BinOp::Add, c),
                (Tok::Minus, c) => (BinOp::Sub, c),
                _ => return Ok(lhs),
            };
            self.bump();
            let rhs = self.product()?;
            let depth = lhs.depth.max(rhs.depth);
            let e = Expr::binary(op, lhs.expr, rhs.expr);
            lhs = self.node(col, depth, e)?;
        }
    }

    fn product(&mut self) -> Result<Node, ExprError> {
        let mut lhs = self.unary()?;
        loop {
            let (op, col) = match self.peek() {
                (Tok::Star, c) => (BinOp::Mul, c),
                (Tok::Slash, c) => (BinOp::Div, c),
                _ => return Ok(lhs),
            };
            self.bump();
            let rhs = self.unary()?;
            let depth = lhs.depth.max(rhs.depth);
            let e = Expr::binary(op, lhs.expr, rhs.expr);
            lhs = self.node(col, depth, e)?;
        }
    }

    fn unary(&mut self) -> Result<Node, ExprError> {
        self.nesting += 1;
        let result = if self.nesting > MAX_NESTING {
            let col = self.peek().1;
            Err(self.error(
                col,
                format!(
                    "expression nested too deeply: more than {MAX_NESTING} levels of \
                     parentheses, signs, function calls and powers (`a^b^c` nests to the right)"
                ),
            ))
        } else {
            self.unary_inner()
        };
        self.nesting -= 1;
        result
    }

    fn unary_inner(&mut self) -> Result<Node, ExprError> {
        match self.peek() {
            (Tok::Minus, col) => {
                self.bump();
                let a = self.unary()?;
                self.node(col, a.depth, Expr::negate(a.expr))
            }
            (Tok::Plus, _) => {
                self.bump();
                self.unary()
            }
            _ => self.power(),
        }
    }

    fn power(&mut self) -> Result<Node, ExprError> {
        let base = self.primary()?;
        let (Tok::Caret, col) = self.peek() else {
            return Ok(base);
        };
        self.bump();
        let exponent = self.unary()?;
        let depth = base.depth.max(exponent.depth);
        let e = Expr::binary(BinOp::Pow, base.expr, exponent.expr);
        self.node(col, depth, e)
    }

    fn primary(&mut self) -> Result<Node, ExprError> {
        let (tok, col) = self.bump();
        match tok {
            Tok::Num(v) => Ok(Node {
                expr: Expr::Const(v),
                depth: 1,
            }),
            Tok::LParen => {
                let inner = self.expr()?;
                self.expect_close(col)?;
                Ok(inner)
            }
            Tok::Name(name) => {
                if self.peek().0 == Tok::LParen {
                    self.call(&name, col)
                } else {
                    self.name(&name, col)
                }
            }
            Tok::End => Err(self.error(col, "expected an expression, found end of input")),
            Tok::RParen => Err(self.error(
                col,
                "expected an expression, found `)` (unbalanced parentheses or empty argument)",
            )),
            tok => Err(self.error(
                col,
                format!("expected an expression, found {}", tok.describe()),
            )),
        }
    }

    fn expect_close(&mut self, open_col: usize) -> Result<(), ExprError> {
        match self.bump() {
            (Tok::RParen, _) => Ok(()),
            (Tok::End, col) => Err(self.error(
                col,
                format!("expected `)` to close the `(` at column {open_col}"),
            )),
            (tok, col) => Err(self.error(
                col,
                format!(
                    "expected `)` to close the `(` at column {open_col}, found {}",
                    tok.describe()
                ),
            )),
        }
    }

    fn name(&self, name: &str, col: usize) -> Result<Node, ExprError> {
        let expr = if let Some(v) = Var::from_name(name) {
            Expr::Var(v)
        } else if name == "pi" {
            Expr::Const(std::f64::consts::PI)
        } else if name == "e" {
            Expr::Const(std::f64::consts::E)
        } else if let Some((_, v)) = self.params.iter().find(|(n, _)| *n == name) {
            Expr::Const(*v)
        } else if Callable::lookup(name).is_some() {
            return Err(self.error(
                col,
                format!(
                    "`{0}` is a function; call it as `{0}(...)`",
                    shown_token(name)
                ),
            ));
        } else {
            let mut known = String::from("variables x, y, z, t; constants pi, e");
            if !self.params.is_empty() {
                let names: Vec<&str> = self.params.iter().map(|(n, _)| *n).collect();
                known.push_str("; parameters ");
                known.push_str(&names.join(", "));
            }
            return Err(self.error(
                col,
                format!(
                    "unknown identifier `{}`; valid names are {known}",
                    shown_token(name)
                ),
            ));
        };
        Ok(Node { expr, depth: 1 })
    }

    fn call(&mut self, name: &str, col: usize) -> Result<Node, ExprError> {
        let Some(callable) = Callable::lookup(name) else {
            let what = if Var::from_name(name).is_some()
                || matches!(name, "pi" | "e")
                || self.params.iter().any(|(n, _)| *n == name)
            {
                format!(
                    "`{}` is not a function; use `*` to multiply",
                    shown_token(name)
                )
            } else {
                format!(
                    "unknown function `{}`; known functions: {}",
                    shown_token(name),
                    Callable::names().join(", ")
                )
            };
            return Err(self.error(col, what));
        };
        let (_, open_col) = self.bump();
        let mut args = vec![self.expr()?];
        while self.peek().0 == Tok::Comma {
            self.bump();
            args.push(self.expr()?);
        }
        self.expect_close(open_col)?;
        let n = args.len();
        let arity_error = |expected: &str| {
            let s = if n == 1 { "" } else { "s" };
            Err(self.error(
                col,
                format!(
                    "`{}` takes {expected}, got {n} argument{s}",
                    shown_token(name)
                ),
            ))
        };
        // Folding `min(a, b, c)` into nested pairs adds one level per extra argument.
        let depth = args.iter().map(|a| a.depth).max().unwrap_or(0) + n.saturating_sub(2);
        let mut args = args.into_iter().map(|a| a.expr);
        let mut arg = || args.next().unwrap_or(Expr::Const(0.0));
        let e = match callable {
            Callable::Unary(f) if n == 1 => Expr::call(f, arg()),
            Callable::Unary(_) => return arity_error("1 argument"),
            Callable::Binary(op) if n == 2 => Expr::binary(op, arg(), arg()),
            Callable::Binary(_) => return arity_error("2 arguments"),
            Callable::Variadic(op) if n >= 2 => {
                let first = arg();
                (1..n).fold(first, |acc, _| Expr::binary(op, acc, arg()))
            }
            Callable::Variadic(_) => return arity_error("at least 2 arguments"),
            Callable::If if n == 3 => {
                let (c, a, b) = (arg(), arg(), arg());
                Expr::select(c, a, b)
            }
            Callable::If => return arity_error("3 arguments (condition, then, else)"),
        };
        self.node(col, depth, e)
    }
}
