//! Pages of Graph collections and the streams that walk them.

use futures::Stream;
use serde_json::Value;

use crate::client::GraphClient;
use crate::error::GraphError;
use crate::request::{EndpointClass, GraphRequest};

/// One response from Graph.
///
/// For collection endpoints `items` is the `value` array; for single-object
/// endpoints (get team / channel / message) it holds that one object.
/// Items are kept as JSON as served, so annotations such as
/// `replies@odata.nextLink` and `replies@odata.count` stay on each message.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Page {
    pub items: Vec<Value>,
    /// `@odata.nextLink`: the whole URL of the next page.
    pub next_link: Option<String>,
    /// `@odata.deltaLink`: where the next delta round starts.
    pub delta_link: Option<String>,
    /// `@odata.count`, when present (first page only for some resources).
    pub count: Option<u64>,
    /// Body size in bytes.
    pub bytes: usize,
}

/// Turns a response body into a page, or says why it is not one.
pub(crate) fn parse_page(class: EndpointClass, body: &[u8]) -> Result<Page, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    let Value::Object(mut obj) = value else {
        return Err("expected a JSON object".to_string());
    };
    let link =
        |obj: &serde_json::Map<String, Value>, key: &str| -> Result<Option<String>, String> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(format!("{key} is not a string")),
            }
        };
    let next_link = link(&obj, "@odata.nextLink")?;
    let delta_link = link(&obj, "@odata.deltaLink")?;
    let count = match obj.get("@odata.count") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .ok_or_else(|| "@odata.count is not a non-negative integer".to_string())?,
        ),
    };
    let items = if class.is_collection() {
        match obj.remove("value") {
            Some(Value::Array(items)) => items,
            Some(_) => return Err("\"value\" is not an array".to_string()),
            None => return Err("no \"value\" array in a collection reply".to_string()),
        }
    } else {
        vec![Value::Object(obj)]
    };
    Ok(Page {
        items,
        next_link,
        delta_link,
        count,
        bytes: body.len(),
    })
}

/// Where the next request of a stream goes.
enum Next {
    First,
    Link(String),
    Fail(GraphError),
    Done,
}

/// A stream of pages that follows `@odata.nextLink`.
///
/// Lazy: a request is only sent when the consumer polls for the next page,
/// so dropping the stream stops all traffic. After an error the stream
/// ends.
pub(crate) fn pages(
    client: GraphClient,
    req: GraphRequest,
) -> impl Stream<Item = Result<Page, GraphError>> + Send + 'static {
    let req = std::sync::Arc::new(req);
    futures::stream::unfold(Next::First, move |next| {
        let client = client.clone();
        let req = req.clone();
        async move {
            let result = match &next {
                Next::Done => return None,
                Next::Fail(e) => return Some((Err(e.clone()), Next::Done)),
                Next::First => client.get_page(&req).await,
                Next::Link(url) => client.follow_like(&req, url).await,
            };
            match result {
                Ok(page) => {
                    let next = match &page.next_link {
                        // A server that hands back the link just followed
                        // would keep the stream going forever: deliver this
                        // page, then end with an error.
                        Some(link) if matches!(&next, Next::Link(cur) if cur == link) => {
                            Next::Fail(GraphError::Decode {
                                endpoint: req.class.describe(),
                                reason: "@odata.nextLink points at the page just read; stopping instead of looping".into(),
                                excerpt: link.chars().take(200).collect(),
                            })
                        }
                        Some(link) => Next::Link(link.clone()),
                        None => Next::Done,
                    };
                    Some((Ok(page), next))
                }
                Err(e) => Some((Err(e), Next::Done)),
            }
        }
    })
}

/// The items of every page, in order.
pub(crate) fn items(
    client: GraphClient,
    req: GraphRequest,
) -> impl Stream<Item = Result<Value, GraphError>> + Send + 'static {
    use futures::StreamExt;
    pages(client, req).flat_map(|page| {
        let items: Vec<Result<Value, GraphError>> = match page {
            Ok(p) => p.items.into_iter().map(Ok).collect(),
            Err(e) => vec![Err(e)],
        };
        futures::stream::iter(items)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_collection_with_annotations() {
        let body = br#"{"@odata.context":"x","@odata.count":3,"value":[{"id":"1","replies@odata.nextLink":"https://g/next","replies":[]}],"@odata.nextLink":"https://g/v1.0/teams?$skiptoken=a"}"#;
        let p = parse_page(EndpointClass::MessagesList, body).unwrap();
        assert_eq!(p.items.len(), 1);
        assert_eq!(p.items[0]["replies@odata.nextLink"], "https://g/next");
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
            br#"{"value":[],"@odata.deltaLink":"https://g/d"}"#,
        )
        .unwrap();
        assert!(p.items.is_empty());
        assert_eq!(p.delta_link.as_deref(), Some("https://g/d"));
        assert!(parse_page(EndpointClass::TeamsList, br#"{"x":1}"#).is_err());
        assert!(parse_page(EndpointClass::TeamsList, br#"{"value":[1"#).is_err());
        let single = parse_page(EndpointClass::TeamGet, br#"{"id":"t"}"#).unwrap();
        assert_eq!(single.items, vec![serde_json::json!({"id":"t"})]);
    }
}
