//! OData query options as Graph's Teams endpoints accept them: parsing of the raw query string,
//! `$top` bounds, `$select`, the `$filter` subset the docs show, and opaque paging tokens.
//! Anything an endpoint does not document is refused with a 400 (graph-api.md 4.1 "The other
//! OData query parameters are not currently supported"), never silently ignored.

use serde_json::{Map, Value};

use crate::clock::Millis;
use crate::encode::{b64_decode, b64url, parse_ts};
use crate::error::ApiError;

/// The query options of one request.
#[derive(Debug, Default, Clone)]
pub struct Query {
    pub top: Option<String>,
    pub skip: Option<String>,
    pub select: Option<String>,
    pub filter: Option<String>,
    pub expand: Option<String>,
    pub skiptoken: Option<String>,
    pub deltatoken: Option<String>,
    pub count: Option<String>,
    /// Any other `$option` (`$orderby`, `$search`, ...), kept to refuse it.
    pub other_dollar: Vec<String>,
    /// `model=A|B` of the export API (graph-api.md 4.5).
    pub model: Option<String>,
}

/// Which options an endpoint accepts.
#[derive(Clone, Copy, Default)]
pub struct Allowed {
    pub top: bool,
    pub skip: bool,
    pub select: bool,
    pub filter: bool,
    pub expand: bool,
    pub count: bool,
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Result<Query, ApiError> {
        let mut q = Query::default();
        let Some(raw) = raw else { return Ok(q) };
        for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
            let key = k.to_ascii_lowercase();
            let slot = match key.as_str() {
                "$top" => &mut q.top,
                "$skip" => &mut q.skip,
                "$select" => &mut q.select,
                "$filter" => &mut q.filter,
                "$expand" => &mut q.expand,
                "$skiptoken" => &mut q.skiptoken,
                "$deltatoken" => &mut q.deltatoken,
                "$count" => &mut q.count,
                "model" => &mut q.model,
                k if k.starts_with('$') => {
                    q.other_dollar.push(k.to_string());
                    continue;
                }
                // Graph ignores unknown custom (non-$) parameters.
                _ => continue,
            };
            if slot.is_some() {
                return Err(ApiError::bad_request(format!(
                    "Query option '{k}' was specified more than once, but it must be specified at most once."
                )));
            }
            *slot = Some(v.into_owned());
        }
        Ok(q)
    }

    /// Refuses every option the endpoint does not document, with the wording Graph uses for
    /// Teams resources ("Parameter 'Filter' not supported for this request.", graph-api.md 4.4).
    pub fn check(&self, allowed: Allowed) -> Result<(), ApiError> {
        let refuse = |name: &str| {
            Err(ApiError::bad_request(format!(
                "Parameter '{name}' not supported for this request."
            )))
        };
        if self.top.is_some() && !allowed.top {
            return refuse("Top");
        }
        if self.skip.is_some() && !allowed.skip {
            return refuse("Skip");
        }
        if self.select.is_some() && !allowed.select {
            return refuse("Select");
        }
        if self.filter.is_some() && !allowed.filter {
            return refuse("Filter");
        }
        if self.expand.is_some() && !allowed.expand {
            return refuse("Expand");
        }
        if self.count.is_some() && !allowed.count {
            return refuse("Count");
        }
        if let Some(o) = self.other_dollar.first() {
            let name = o.trim_start_matches('$');
            let mut c = name.chars();
            let pascal: String = match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect(),
                None => String::new(),
            };
            return refuse(&pascal);
        }
        Ok(())
    }

    /// Page size: `default` when absent, 400 outside 1..=max.
    pub fn top(&self, default: usize, max: usize) -> Result<usize, ApiError> {
        match &self.top {
            None => Ok(default),
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(ApiError::bad_request(format!(
                    "Invalid page size specified: '{v}'. Must be between 1 and {max} inclusive."
                ))),
            },
        }
    }

    pub fn expand_replies(&self) -> Result<bool, ApiError> {
        match &self.expand {
            None => Ok(false),
            Some(e) if e.trim().eq_ignore_ascii_case("replies") => Ok(true),
            Some(e) => Err(ApiError::bad_request(format!(
                "Expand is only supported for 'replies', not '{e}'."
            ))),
        }
    }

    /// The parsed `$select` list, validated against the properties of the type.
    pub fn select_list(
        &self,
        type_name: &str,
        known: &[&str],
    ) -> Result<Option<Vec<String>>, ApiError> {
        let Some(s) = &self.select else {
            return Ok(None);
        };
        let mut out = Vec::new();
        for p in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if !known.contains(&p) {
                return Err(ApiError::bad_request(format!(
                    "Could not find a property named '{p}' on type 'microsoft.graph.{type_name}'."
                )));
            }
            out.push(p.to_string());
        }
        if out.is_empty() {
            return Err(ApiError::bad_request("The $select query option is empty."));
        }
        Ok(Some(out))
    }
}

/// Keeps the selected properties (and the `@odata.*` annotations) of an object.
pub fn apply_select(v: Value, select: Option<&[String]>) -> Value {
    let Some(sel) = select else { return v };
    match v {
        Value::Object(o) => {
            let mut out = Map::new();
            for (k, val) in o {
                if k.starts_with("@odata") || sel.iter().any(|s| s == &k) {
                    out.insert(k, val);
                }
            }
            Value::Object(out)
        }
        other => other,
    }
}

/// Paging state carried by `$skiptoken`/`$deltatoken`, opaque to clients: URL-safe base64 of JSON.
pub fn encode_token(v: &Value) -> String {
    b64url(v.to_string().as_bytes())
}

pub fn decode_token(s: &str) -> Result<Value, ApiError> {
    b64_decode(s)
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .filter(Value::is_object)
        .ok_or_else(|| {
            ApiError::bad_request("The provided skip token or delta token is invalid or expired.")
        })
}

// ---------------------------------------------------------------------------------------------
// $filter

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
/// (graph-api.md 5).
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
