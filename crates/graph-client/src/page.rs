//! One page of a Graph reply, and how a response body becomes one.

use serde_json::Value;

use crate::request::EndpointClass;

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
