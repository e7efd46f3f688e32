//! The one error type of the crate. Every variant says what went wrong in
//! terms of the tenant and app registration, and what the user can do.
//!
//! No variant ever holds a secret or token: text taken from HTTP responses
//! is shortened and scrubbed (see `secret::redact`) before it is stored.

use std::time::Duration;

use crate::request::EndpointClass;

#[derive(Clone, Debug, thiserror::Error)]
pub enum GraphError {
    /// Bad or missing configuration, found before any request.
    #[error("configuration error: {message}")]
    Config { message: String },

    /// An id that cannot be put in a URL (empty, `.` or `..`).
    #[error("invalid id for {endpoint}: {message}")]
    InvalidId {
        endpoint: &'static str,
        message: String,
    },

    /// The token endpoint refused to issue a token.
    #[error(
        "sign-in failed for app {client_id} in tenant {tenant_id}: {hint}{}{}",
        code.map(|c| format!(" (AADSTS{c}")).unwrap_or_default(),
        if code.is_some() { format!(", {error})") } else { format!(" ({error})") }
    )]
    Auth {
        tenant_id: String,
        client_id: String,
        /// The AADSTS number from `error_codes`, when the reply had one.
        code: Option<u32>,
        /// The OAuth `error` value (`invalid_client`, ...) or a transport summary.
        error: String,
        /// What to do, in the user's terms.
        hint: String,
        status: Option<u16>,
    },

    /// A sign-in method other than the token endpoint failed (managed
    /// identity, Azure CLI, a federated token file), or none applied.
    #[error("sign-in with {method} failed: {message}")]
    SignIn { method: String, message: String },

    /// Graph answered 401 even with a freshly issued token.
    #[error(
        "{endpoint} answered 401 Unauthorized even with a fresh token: {hint} (Graph said: {detail})"
    )]
    Unauthorized {
        endpoint: &'static str,
        hint: String,
        detail: String,
    },

    /// 403: the app lacks a permission (or protected-API approval).
    #[error(
        "{endpoint} answered 403 Forbidden for {what}: the app needs the Microsoft Graph application permission {permission} with admin consent{}{} (Graph said: {detail})",
        if *protected_api { "; channel messages are also a protected API: application access must be requested from Microsoft (see https://learn.microsoft.com/graph/teams-protected-apis)" } else { "" },
        if *protected_api { "" } else { "; if it is granted, the app may be blocked from this team or channel" }
    )]
    Forbidden {
        endpoint: &'static str,
        permission: &'static str,
        protected_api: bool,
        what: String,
        detail: String,
    },

    /// 404 on a specific team, channel or message.
    #[error("{what} was not found ({endpoint} answered 404): check the id, or it was deleted")]
    NotFound {
        endpoint: &'static str,
        what: String,
    },

    /// Gave up on 429 / 503 / 504 after the retry budget.
    #[error(
        "{endpoint} kept answering {last_status} ({}): gave up after {attempts} attempts over {:.1} s; try again later, or lower concurrency / the client's throttle limits",
        if *last_status == 429 { "throttled" } else { "service unavailable" },
        elapsed.as_secs_f64()
    )]
    Throttled {
        endpoint: &'static str,
        attempts: u32,
        elapsed: Duration,
        last_status: u16,
    },

    /// The channel delta endpoint refused the query (documented for app-only
    /// access); callers fall back to full listing or the export API.
    #[error(
        "channel messages delta is not available for this app ({detail}): fall back to listing messages or getAllMessages"
    )]
    DeltaUnsupported { detail: String },

    /// A delta or skip token is no longer valid (410, `syncStateNotFound`,
    /// `resyncRequired`): start over with a full sync.
    #[error("the saved delta state is no longer valid ({detail}): run a full sync again")]
    ResyncRequired { detail: String },

    /// getAllMessages refused: 402 (licensing / metering) or 403.
    #[error(
        "the Teams export API (getAllMessages) is unavailable ({status}): {}; Graph said: {detail}",
        if *status == 402 { "the app's metered-API billing or licensing is not set up (an Azure subscription via model=A/B, or evaluation capacity exhausted)" } else { "the app needs the application permission ChannelMessage.Read.All with admin consent" }
    )]
    ExportUnavailable { status: u16, detail: String },

    /// Any other HTTP error status.
    #[error("{endpoint} failed with HTTP {status} {code}: {message}")]
    Http {
        endpoint: &'static str,
        status: u16,
        code: String,
        message: String,
    },

    /// A success response that is not the JSON we expect.
    #[error("could not decode the reply of {endpoint}: {reason}; body starts with: {excerpt}")]
    Decode {
        endpoint: &'static str,
        reason: String,
        excerpt: String,
    },

    /// Network failures that persisted through the retries.
    #[error(
        "could not reach {endpoint} after {attempts} attempts: {message}; check network access to the Graph and login hosts, or the configured proxy / base URLs"
    )]
    Transport {
        endpoint: &'static str,
        attempts: u32,
        message: String,
    },

    /// A chain of `@odata.nextLink`s that cannot be a real Graph collection:
    /// a link came back that the chain had already followed (a loop), or
    /// the chain ran past the page cap (`GraphConfig::max_pages`).
    #[error("paging {endpoint} stopped: {reason}")]
    Paging {
        endpoint: &'static str,
        reason: String,
    },

    /// No complete answer within the per-request deadline, through the
    /// retries. Retried like a 504 Gateway Timeout, and counted as one.
    #[error(
        "{endpoint} sent no complete answer within the {:.1} s deadline per request (treated like 504 Gateway Timeout): gave up after {attempts} attempts over {:.1} s; check the network or proxy, or raise the deadline (request_timeout, --request-timeout) if replies are legitimately that slow",
        deadline.as_secs_f64(),
        elapsed.as_secs_f64()
    )]
    Deadline {
        endpoint: &'static str,
        attempts: u32,
        deadline: Duration,
        elapsed: Duration,
    },

    /// A nextLink or deltaLink that points outside the configured Graph host;
    /// following it would send the access token elsewhere.
    #[error("refusing to follow link to {link_origin}: it is not the configured Graph endpoint")]
    ForeignLink { link_origin: String },
}

impl GraphError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, GraphError::NotFound { .. })
    }

    pub fn is_forbidden(&self) -> bool {
        matches!(
            self,
            GraphError::Forbidden { .. } | GraphError::ExportUnavailable { status: 403, .. }
        )
    }

    pub fn is_throttled(&self) -> bool {
        matches!(self, GraphError::Throttled { .. })
    }

    /// HTTP status behind the error, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            GraphError::Auth { status, .. } => *status,
            GraphError::Unauthorized { .. } => Some(401),
            GraphError::Forbidden { .. } => Some(403),
            GraphError::NotFound { .. } => Some(404),
            GraphError::Throttled { last_status, .. } => Some(*last_status),
            GraphError::Deadline { .. } => Some(504),
            GraphError::ExportUnavailable { status, .. } => Some(*status),
            GraphError::Http { status, .. } => Some(*status),
            GraphError::ResyncRequired { .. } => None,
            _ => None,
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> GraphError {
        GraphError::Config {
            message: message.into(),
        }
    }
}

/// Helpful text for a 401 that survived a token refresh.
pub(crate) fn unauthorized_hint(class: EndpointClass) -> String {
    match class {
        EndpointClass::MembersList => "this is a documented known issue for newly created tenants on the members endpoint; otherwise check that the token's cloud matches the Graph endpoint".to_string(),
        _ => "check that the token's cloud matches the Graph endpoint (tokens do not work across national clouds) and that admin consent was granted".to_string(),
    }
}

/// A reqwest error with its causes ("connection reset by peer" is usually
/// only in the source chain). URLs are kept: the client never puts
/// credentials in them (the token travels in a header, the secret in a
/// request body).
pub(crate) fn describe_reqwest(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        let t = s.to_string();
        if !msg.contains(&t) {
            msg.push_str(": ");
            msg.push_str(&t);
        }
        src = s.source();
    }
    msg
}

/// A short, single-line excerpt of a body for error messages.
pub(crate) fn excerpt(body: &[u8], secrets: &[&str]) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(body);
    let text = crate::secret::redact(&text, secrets);
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut cut: String = one_line.chars().take(MAX).collect();
    if one_line.chars().count() > MAX {
        cut.push('…');
    }
    if cut.is_empty() {
        "(empty)".to_string()
    } else {
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_to_do() {
        let e = GraphError::Throttled {
            endpoint: EndpointClass::MessagesList.describe(),
            attempts: 8,
            elapsed: Duration::from_millis(12_345),
            last_status: 429,
        };
        let m = e.to_string();
        assert!(m.contains("gave up after 8 attempts over 12.3 s"), "{m}");
        assert!(m.contains("throttled"), "{m}");
        assert_eq!(e.status(), Some(429));
        assert!(e.is_throttled());

        let e = GraphError::Forbidden {
            endpoint: EndpointClass::MembersList.describe(),
            permission: EndpointClass::MembersList.permission(),
            protected_api: false,
            what: "team 't'".into(),
            detail: "Forbidden: x".into(),
        };
        let m = e.to_string();
        assert!(
            m.contains("TeamMember.Read.All") && m.contains("team 't'"),
            "{m}"
        );
        assert!(!m.contains("protected API"), "{m}");
        assert!(e.is_forbidden());

        let e = GraphError::ExportUnavailable {
            status: 403,
            detail: String::new(),
        };
        assert!(e.is_forbidden());
        assert!(e.to_string().contains("ChannelMessage.Read.All"));
    }

    #[test]
    fn excerpt_is_short_single_line_and_scrubbed() {
        let body = format!("line1\nsecret-token-xyz {}", "a".repeat(500));
        let e = excerpt(body.as_bytes(), &["secret-token-xyz"]);
        assert!(!e.contains('\n'));
        assert!(!e.contains("secret-token-xyz"));
        assert!(e.chars().count() <= 201);
        assert_eq!(excerpt(b"", &[]), "(empty)");
    }
}
