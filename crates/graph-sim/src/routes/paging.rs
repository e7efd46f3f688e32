//! Paging of list endpoints: the list envelope, opaque `$skiptoken` positions and the nextLinks
//! that repeat a request's options. Pages are keyed (not offset) so that they stay stable while the
//! tenant changes underneath a client.

use serde_json::{Value, json};

use super::Ctx;
use crate::error::ApiError;
use crate::odata::{Query, apply_select};

/// Encodes query pairs the way Graph's links do (`%20` for spaces, `$` kept).
pub fn encode_query(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::render::pct(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Standard list envelope.
pub fn page(
    context: String,
    items: Vec<Value>,
    next_link: Option<String>,
    count: Option<usize>,
) -> Value {
    let mut o = serde_json::Map::new();
    o.insert("@odata.context".into(), json!(context));
    if let Some(c) = count {
        o.insert("@odata.count".into(), json!(c));
    }
    if let Some(n) = next_link {
        o.insert("@odata.nextLink".into(), json!(n));
    }
    o.insert("value".into(), Value::Array(items));
    Value::Object(o)
}

/// Reads the position stored in a `$skiptoken` (a JSON object with key `k`).
pub fn skip_key(q: &Query) -> Result<Option<Value>, ApiError> {
    match &q.skiptoken {
        None => Ok(None),
        Some(t) => {
            let v = crate::odata::decode_token(t)?;
            Ok(v.get("k").cloned())
        }
    }
}

/// A next link that repeats this request's options with a new `$skiptoken`.
pub fn next_link(ctx: &Ctx, key: Value) -> String {
    let token = crate::odata::encode_token(&json!({"k": key}));
    let q = &ctx.query;
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    if let Some(v) = &q.top {
        pairs.push(("$top", v));
    }
    if let Some(v) = &q.select {
        pairs.push(("$select", v));
    }
    if let Some(v) = &q.filter {
        pairs.push(("$filter", v));
    }
    if let Some(v) = &q.expand {
        pairs.push(("$expand", v));
    }
    if let Some(v) = &q.model {
        pairs.push(("model", v));
    }
    pairs.push(("$skiptoken", &token));
    ctx.link(&encode_query(&pairs))
}

/// Keyset paging: `items` come in ascending key order; the page holds up to `top` items with a
/// key above `after`, and the next key is returned when more remain. Keys (not offsets) keep pages
/// stable while the tenant changes underneath a client.
pub fn keyed_page<K, I>(items: I, after: Option<&K>, top: usize) -> (Vec<Value>, Option<K>)
where
    K: Ord + Clone,
    I: Iterator<Item = (K, Value)>,
{
    keyed_page_with(items, after, top, |v| v)
}

/// A page of a list keyed on list position (teams, groups, members): `$skiptoken` paging,
/// `$select` applied to the page only, and `@odata.count` of the whole filtered list when
/// `count` is set.
pub fn indexed_page(
    ctx: &Ctx,
    context: String,
    all: Vec<(usize, Value)>,
    top: usize,
    select: Option<&[String]>,
    count: bool,
) -> Result<Value, ApiError> {
    let after = after_key::<usize>(&ctx.query)?;
    let total = all.len();
    let (items, next) = keyed_page(all.into_iter(), after.as_ref(), top);
    let items = items.into_iter().map(|v| apply_select(v, select)).collect();
    Ok(page(
        context,
        items,
        next_for(ctx, next),
        count.then_some(total),
    ))
}

/// Like [`keyed_page`], for items not yet rendered: only the page is rendered.
pub fn keyed_page_with<K, T, I, R>(
    items: I,
    after: Option<&K>,
    top: usize,
    mut render: R,
) -> (Vec<Value>, Option<K>)
where
    K: Ord + Clone,
    I: Iterator<Item = (K, T)>,
    R: FnMut(T) -> Value,
{
    let mut out = Vec::new();
    let mut last: Option<K> = None;
    let mut more = false;
    for (k, t) in items {
        if after.is_some_and(|a| k <= *a) {
            continue;
        }
        if out.len() == top {
            more = true;
            break;
        }
        last = Some(k);
        out.push(render(t));
    }
    (out, if more { last } else { None })
}

/// Decodes the key of a `$skiptoken`.
pub fn after_key<K: serde::de::DeserializeOwned>(q: &Query) -> Result<Option<K>, ApiError> {
    match skip_key(q)? {
        None => Ok(None),
        Some(v) => serde_json::from_value(v)
            .map(Some)
            .map_err(|_| ApiError::bad_request("The provided skip token is invalid.")),
    }
}

/// The next link for a key, when there is one.
pub fn next_for<K: serde::Serialize>(ctx: &Ctx, key: Option<K>) -> Option<String> {
    key.map(|k| next_link(ctx, serde_json::to_value(k).unwrap_or(Value::Null)))
}
