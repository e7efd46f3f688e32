//! One page of a Graph reply, and how a response body becomes one.

use std::ops::Range;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::request::EndpointClass;

/// One response from Graph.
///
/// For collection endpoints the items are the `value` array; for single-object endpoints (get
/// team / channel / message) the one object. Items stay the bytes Graph sent, unparsed: a
/// decoder that builds Arrow straight from JSON reads them with [`Page::raw_items`], and
/// consumers that want `serde_json::Value`s parse them on demand ([`Page::items`]). Annotations
/// such as `replies@odata.nextLink` stay on each message.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Page {
    body: Arc<Vec<u8>>,
    /// Where each item lies in `body` (validated JSON).
    spans: Vec<Range<usize>>,
    /// `@odata.nextLink`: the whole URL of the next page.
    pub next_link: Option<String>,
    /// `@odata.deltaLink`: where the next delta round starts.
    pub delta_link: Option<String>,
    /// `@odata.count`, when present (first page only for some resources).
    pub count: Option<u64>,
    /// Body size in bytes.
    pub bytes: usize,
}

impl Page {
    /// A page holding `items` (tests, and callers that assemble pages themselves).
    pub fn from_items(items: &[Value]) -> Page {
        let mut body = Vec::new();
        let mut spans = Vec::with_capacity(items.len());
        for item in items {
            let start = body.len();
            // Writing a Value into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut body, item);
            spans.push(start..body.len());
        }
        Page {
            bytes: body.len(),
            body: Arc::new(body),
            spans,
            ..Page::default()
        }
    }

    /// The page a response body of an endpoint of `class` makes (what the client does with
    /// every body it receives), or why it is not one.
    pub fn from_body(class: EndpointClass, body: Vec<u8>) -> Result<Page, String> {
        parse_page(class, body).map_err(|(reason, _)| reason)
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Each item's JSON text, as Graph sent it (already validated as JSON).
    pub fn raw_items(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.spans.iter().map(|s| &self.body[s.clone()])
    }

    /// The items parsed into `Value`s.
    pub fn items(&self) -> Vec<Value> {
        self.raw_items().map(parse_item).collect()
    }

    /// The items parsed into `Value`s, consuming the page.
    pub fn into_items(self) -> Vec<Value> {
        self.items()
    }

    /// Keeps the items for which `keep` (given the parsed item) says so.
    pub fn retain(&mut self, mut keep: impl FnMut(&Value) -> bool) {
        let body = Arc::clone(&self.body);
        self.spans.retain(|s| keep(&parse_item(&body[s.clone()])));
    }
}

/// An item's text was validated when the page was parsed, so this cannot fail short of
/// serde_json's nesting limit, which the page parse applies too.
fn parse_item(raw: &[u8]) -> Value {
    serde_json::from_slice(raw).unwrap_or(Value::Null)
}

/// The envelope of a collection reply; items stay raw.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
    #[serde(rename = "@odata.deltaLink", default)]
    delta_link: Option<String>,
    #[serde(rename = "@odata.count", default)]
    count: Option<u64>,
    #[serde(borrow, default)]
    value: Option<Vec<&'a RawValue>>,
}

type Located = (
    Vec<Range<usize>>,
    Option<String>,
    Option<String>,
    Option<u64>,
);

/// Turns a response body into a page, or says why it is not one (and gives the body back for
/// the error's excerpt).
pub(crate) fn parse_page(class: EndpointClass, body: Vec<u8>) -> Result<Page, (String, Vec<u8>)> {
    match locate(class, &body) {
        Ok((spans, next_link, delta_link, count)) => Ok(Page {
            bytes: body.len(),
            body: Arc::new(body),
            spans,
            next_link,
            delta_link,
            count,
        }),
        Err(reason) => Err((reason, body)),
    }
}

/// The page's links and where its items lie in `body`.
fn locate(class: EndpointClass, body: &[u8]) -> Result<Located, String> {
    let span_of = |raw: &RawValue| {
        let start = raw.get().as_ptr() as usize - body.as_ptr() as usize;
        start..start + raw.get().len()
    };
    if class.is_collection() {
        let envelope: Envelope<'_> = serde_json::from_slice(body).map_err(|e| {
            if e.is_data() {
                format!("not a Graph collection reply: {e}")
            } else {
                format!("invalid JSON: {e}")
            }
        })?;
        let Some(items) = envelope.value else {
            return Err("no \"value\" array in a collection reply".to_string());
        };
        Ok((
            items.into_iter().map(span_of).collect(),
            envelope.next_link,
            envelope.delta_link,
            envelope.count,
        ))
    } else {
        let raw: &RawValue =
            serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
        if !raw.get().starts_with('{') {
            return Err("expected a JSON object".to_string());
        }
        Ok((vec![span_of(raw)], None, None, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_collection_with_annotations() {
        let body = br#"{"@odata.context":"x","@odata.count":3,"value":[{"id":"1","replies@odata.nextLink":"https://g/next","replies":[]}],"@odata.nextLink":"https://g/v1.0/teams?$skiptoken=a"}"#;
        let p = parse_page(EndpointClass::MessagesList, body.to_vec()).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p.items()[0]["replies@odata.nextLink"], "https://g/next");
        assert_eq!(p.count, Some(3));
        assert_eq!(
            p.next_link.as_deref(),
            Some("https://g/v1.0/teams?$skiptoken=a")
        );
        assert_eq!(p.bytes, body.len());
    }

    #[test]
    fn empty_page_with_next_link_and_delta() {
        let p = parse_page(
            EndpointClass::MessagesDelta,
            br#"{"value":[],"@odata.deltaLink":"https://g/d"}"#.to_vec(),
        )
        .unwrap();
        assert!(p.is_empty());
        assert_eq!(p.delta_link.as_deref(), Some("https://g/d"));
        assert!(parse_page(EndpointClass::TeamsList, br#"{"x":1}"#.to_vec()).is_err());
        assert!(parse_page(EndpointClass::TeamsList, br#"{"value":[1"#.to_vec()).is_err());
        let single = parse_page(EndpointClass::TeamGet, br#"{"id":"t"}"#.to_vec()).unwrap();
        assert_eq!(single.items(), vec![serde_json::json!({"id":"t"})]);
    }
}
