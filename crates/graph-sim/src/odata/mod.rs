//! OData query options as Graph's Teams endpoints accept them: parsing of the raw query string,
//! `$top` bounds, `$select`, the `$filter` subset the docs show, and opaque paging tokens.
//! Anything an endpoint does not document is refused with a 400 (docs/graph.md §9.3: "The other
//! OData query parameters are not currently supported"), never silently ignored.

mod filter;

pub use filter::{Expr, Lit, Op, parse_filter};

use serde_json::{Map, Value};

use crate::encode::{b64_decode, b64url};
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
    /// `model=A|B` of the export API (docs/graph.md §5.5).
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
    /// Teams resources ("Parameter 'Filter' not supported for this request.", docs/graph.md §5.3).
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
