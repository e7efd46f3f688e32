//! The `$filter` subset the Teams endpoints document: comparisons, `startswith`, `any()` lambdas,
//! `and`/`or`/`not`, and their evaluation against rendered JSON. Each endpoint then states which
//! leaves it accepts ([`Expr::check`]).

use serde_json::Value;

use crate::clock::Millis;
use crate::encode::parse_ts;
use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Str(String),
    DateTime(Millis),
    Num(f64),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp {
        prop: String,
        op: Op,
        lit: Lit,
    },
    StartsWith {
        prop: String,
        prefix: String,
    },
    /// `prop/any(x: x eq lit)`.
    Any {
        prop: String,
        lit: Lit,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Bare(String),
    LParen,
    RParen,
    Comma,
    Colon,
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1
            }
            ':' => {
                out.push(Tok::Colon);
                i += 1
            }
            '\'' => {
                let mut lit = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated string literal".into()),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            lit.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            lit.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(lit));
            }
            c if c.is_ascii_digit() || c == '-' => {
                let st = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric()
                        || matches!(chars[i], '.' | ':' | '+' | '-'))
                {
                    i += 1;
                }
                out.push(Tok::Bare(chars[st..i].iter().collect()));
            }
            c if c.is_alphabetic() || c == '_' || c == '$' => {
                let st = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || matches!(chars[i], '.' | '/' | '_' | '$'))
                {
                    i += 1;
                }
                out.push(Tok::Ident(chars[st..i].iter().collect()));
            }
            other => return Err(format!("unexpected character '{other}'")),
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s.eq_ignore_ascii_case(kw))
    }
    fn expect(&mut self, t: Tok) -> Result<(), String> {
        match self.next() {
            Some(ref x) if *x == t => Ok(()),
            other => Err(format!("expected {t:?}, found {other:?}")),
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut l = self.and()?;
        while self.keyword("or") {
            self.pos += 1;
            let r = self.and()?;
            l = Expr::Or(Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut l = self.unary()?;
        while self.keyword("and") {
            self.pos += 1;
            let r = self.unary()?;
            l = Expr::And(Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn unary(&mut self) -> Result<Expr, String> {
        if self.keyword("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        self.primary()
    }
    fn primary(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Tok::LParen) => {
                let e = self.or()?;
                self.expect(Tok::RParen)?;
                Ok(e)
            }
            Some(Tok::Ident(id)) => {
                if self.peek() == Some(&Tok::LParen) {
                    self.pos += 1;
                    if id.eq_ignore_ascii_case("startswith") {
                        let prop = match self.next() {
                            Some(Tok::Ident(p)) => p,
                            other => return Err(format!("expected a property, found {other:?}")),
                        };
                        self.expect(Tok::Comma)?;
                        let prefix = match self.next() {
                            Some(Tok::Str(s)) => s,
                            other => return Err(format!("expected a string, found {other:?}")),
                        };
                        self.expect(Tok::RParen)?;
                        return Ok(Expr::StartsWith { prop, prefix });
                    }
                    if let Some((prop, f)) = id.rsplit_once('/')
                        && f.eq_ignore_ascii_case("any")
                    {
                        let var = match self.next() {
                            Some(Tok::Ident(v)) => v,
                            other => {
                                return Err(format!("expected a lambda variable, found {other:?}"));
                            }
                        };
                        self.expect(Tok::Colon)?;
                        match self.next() {
                            Some(Tok::Ident(v)) if v == var => {}
                            other => return Err(format!("expected '{var}', found {other:?}")),
                        }
                        if !self.keyword("eq") {
                            return Err("only 'eq' is supported inside any()".into());
                        }
                        self.pos += 1;
                        let lit = self.literal()?;
                        self.expect(Tok::RParen)?;
                        return Ok(Expr::Any {
                            prop: prop.to_string(),
                            lit,
                        });
                    }
                    return Err(format!("unknown function '{id}'"));
                }
                let op = match self.next() {
                    Some(Tok::Ident(o)) => match o.to_ascii_lowercase().as_str() {
                        "eq" => Op::Eq,
                        "ne" => Op::Ne,
                        "gt" => Op::Gt,
                        "ge" => Op::Ge,
                        "lt" => Op::Lt,
                        "le" => Op::Le,
                        _ => return Err(format!("unknown operator '{o}'")),
                    },
                    other => return Err(format!("expected an operator, found {other:?}")),
                };
                let lit = self.literal()?;
                Ok(Expr::Cmp { prop: id, op, lit })
            }
            other => Err(format!("unexpected {other:?}")),
        }
    }
    fn literal(&mut self) -> Result<Lit, String> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Lit::Str(s)),
            Some(Tok::Bare(b)) => {
                if b.contains('T') || b.contains('t') || b.matches('-').count() >= 2 {
                    parse_ts(&b)
                        .map(Lit::DateTime)
                        .ok_or_else(|| format!("bad datetime '{b}'"))
                } else {
                    b.parse::<f64>()
                        .map(Lit::Num)
                        .map_err(|_| format!("bad literal '{b}'"))
                }
            }
            Some(Tok::Ident(i)) if i == "true" => Ok(Lit::Bool(true)),
            Some(Tok::Ident(i)) if i == "false" => Ok(Lit::Bool(false)),
            Some(Tok::Ident(i)) if i == "null" => Ok(Lit::Null),
            other => Err(format!("expected a literal, found {other:?}")),
        }
    }
}

/// Parses a `$filter` expression; a syntax error is Graph's 400 "Invalid filter clause".
pub fn parse_filter(s: &str) -> Result<Expr, ApiError> {
    let bad = |why: String| ApiError::bad_request(format!("Invalid filter clause: {why}"));
    let toks = lex(s).map_err(bad)?;
    let mut p = Parser { toks, pos: 0 };
    let e = p.or().map_err(bad)?;
    if p.pos < p.toks.len() {
        return Err(bad(format!("unexpected {:?}", p.toks[p.pos])));
    }
    Ok(e)
}

/// Strips the `microsoft.graph.aadUserConversationMember/` type cast used in members filters
/// (docs/graph.md §2.5).
fn bare_prop(p: &str) -> &str {
    p.rsplit_once('/').map(|(_, b)| b).unwrap_or(p)
}

impl Expr {
    /// Checks every leaf with `ok(property, leaf)`, so each endpoint states exactly the forms it
    /// documents.
    pub fn check(&self, ok: &dyn Fn(&Expr) -> bool) -> Result<(), ApiError> {
        match self {
            Expr::Or(a, b) | Expr::And(a, b) => {
                a.check(ok)?;
                b.check(ok)
            }
            Expr::Not(a) => a.check(ok),
            leaf => {
                if ok(leaf) {
                    Ok(())
                } else {
                    Err(ApiError::bad_request(format!(
                        "Invalid filter clause: the expression {} is not supported for this request.",
                        leaf.describe()
                    )))
                }
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Expr::Cmp { prop, op, .. } => format!("'{prop} {op:?}'").to_lowercase(),
            Expr::StartsWith { prop, .. } => format!("'startswith({prop})'"),
            Expr::Any { prop, .. } => format!("'{prop}/any()'"),
            _ => "(compound)".into(),
        }
    }

    pub fn prop(&self) -> Option<&str> {
        match self {
            Expr::Cmp { prop, .. } | Expr::StartsWith { prop, .. } | Expr::Any { prop, .. } => {
                Some(bare_prop(prop))
            }
            _ => None,
        }
    }

    pub fn eval(&self, v: &Value) -> bool {
        match self {
            Expr::Or(a, b) => a.eval(v) || b.eval(v),
            Expr::And(a, b) => a.eval(v) && b.eval(v),
            Expr::Not(a) => !a.eval(v),
            Expr::Cmp { prop, op, lit } => {
                cmp(v.get(bare_prop(prop)).unwrap_or(&Value::Null), *op, lit)
            }
            Expr::StartsWith { prop, prefix } => v
                .get(bare_prop(prop))
                .and_then(Value::as_str)
                .map(|s| s.to_lowercase().starts_with(&prefix.to_lowercase()))
                .unwrap_or(false),
            Expr::Any { prop, lit } => v
                .get(bare_prop(prop))
                .and_then(Value::as_array)
                .map(|a| a.iter().any(|x| cmp(x, Op::Eq, lit)))
                .unwrap_or(false),
        }
    }
}

fn cmp(v: &Value, op: Op, lit: &Lit) -> bool {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (v, lit) {
        (Value::Null, Lit::Null) => Some(Ordering::Equal),
        (Value::Null, _) | (_, Lit::Null) => None,
        // Directory string comparisons are case-insensitive.
        (Value::String(s), Lit::Str(l)) => Some(s.to_lowercase().cmp(&l.to_lowercase())),
        (Value::String(s), Lit::DateTime(t)) => parse_ts(s).map(|m| m.cmp(t)),
        (Value::Number(n), Lit::Num(x)) => n.as_f64().and_then(|f| f.partial_cmp(x)),
        (Value::Bool(b), Lit::Bool(x)) => Some(b.cmp(x)),
        _ => None,
    };
    match (op, ord) {
        (Op::Ne, None) => true,
        (_, None) => false,
        (Op::Eq, Some(o)) => o == Ordering::Equal,
        (Op::Ne, Some(o)) => o != Ordering::Equal,
        (Op::Gt, Some(o)) => o == Ordering::Greater,
        (Op::Ge, Some(o)) => o != Ordering::Less,
        (Op::Lt, Some(o)) => o == Ordering::Less,
        (Op::Le, Some(o)) => o != Ordering::Greater,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_documented_filters() {
        let e = parse_filter("resourceProvisioningOptions/Any(x:x eq 'Team')").unwrap();
        assert!(e.eval(&json!({"resourceProvisioningOptions": ["Team"]})));
        assert!(!e.eval(&json!({"resourceProvisioningOptions": []})));
        let e = parse_filter(
            "(microsoft.graph.aadUserConversationMember/displayName eq 'Harry Johnson' or microsoft.graph.aadUserConversationMember/email eq 'admin@x.com')",
        )
        .unwrap();
        assert!(e.eval(&json!({"displayName": "harry johnson", "email": "a"})));
        assert!(e.eval(&json!({"displayName": "z", "email": "admin@x.com"})));
        assert!(!e.eval(&json!({"displayName": "z", "email": "b"})));
        let e = parse_filter("lastModifiedDateTime gt 2019-02-27T07:13:28.000z").unwrap();
        assert!(e.eval(&json!({"lastModifiedDateTime": "2019-02-27T07:13:28.01Z"})));
        assert!(!e.eval(&json!({"lastModifiedDateTime": "2019-02-27T07:13:28.000Z"})));
        let e = parse_filter("startswith(displayName, 'A') and displayName ne 'O''Neil'").unwrap();
        assert!(e.eval(&json!({"displayName": "alpha"})));
        assert!(parse_filter("displayName eq").is_err());
        assert!(parse_filter("displayName eq 'x' extra").is_err());
    }
}
