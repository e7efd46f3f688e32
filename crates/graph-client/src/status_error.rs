//! What a Graph error reply means for the user: the status and error code
//! of a non-retryable response turned into the `GraphError` variant that
//! says what to do (permission to grant, id not found, fall back, resync).

use serde_json::Value;

use crate::error::GraphError;
use crate::request::{EndpointClass, Scope, describe_target};

/// The parsed `{"error":{"code","message"}}` body of a Graph error.
pub(crate) fn error_code_message(body: &[u8]) -> (String, String) {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let err = &v["error"];
    let code = err["code"].as_str().unwrap_or("").to_string();
    let message = err["message"].as_str().unwrap_or("").to_string();
    (code, message)
}

/// Maps a non-retryable error status; `excerpt` shortens and scrubs text
/// taken from the body.
pub(crate) fn map_error(
    class: EndpointClass,
    scope: &Scope,
    message_id: Option<&str>,
    status: u16,
    body: &[u8],
    request_id: Option<&str>,
    excerpt: &dyn Fn(&[u8]) -> String,
) -> GraphError {
    let (code, message) = error_code_message(body);
    let rid = request_id
        .map(|r| format!(" [request-id {r}]"))
        .unwrap_or_default();
    let detail = if code.is_empty() && message.is_empty() {
        excerpt(body)
    } else {
        excerpt(format!("{code}: {message}").as_bytes())
    };
    let code_lc = code.to_ascii_lowercase();
    if status == 410 || code_lc == "syncstatenotfound" || code_lc == "resyncrequired" {
        return GraphError::ResyncRequired { detail };
    }
    if class == EndpointClass::MessagesDelta && matches!(status, 400 | 501) {
        return GraphError::DeltaUnsupported { detail };
    }
    if class == EndpointClass::GetAllMessages && matches!(status, 402 | 403) {
        return GraphError::ExportUnavailable { status, detail };
    }
    match status {
        403 => GraphError::Forbidden {
            endpoint: class.describe(),
            permission: class.permission(),
            protected_api: class.is_protected_api(),
            what: describe_target(class, scope, message_id),
            detail: format!("{detail}{rid}"),
        },
        404 => GraphError::NotFound {
            endpoint: class.describe(),
            what: describe_target(class, scope, message_id),
        },
        _ => GraphError::Http {
            endpoint: class.describe(),
            status,
            code: if code.is_empty() { "-".into() } else { code },
            message: if message.is_empty() {
                format!("{}{rid}", excerpt(body))
            } else {
                format!("{}{rid}", excerpt(message.as_bytes()))
            },
        },
    }
}
