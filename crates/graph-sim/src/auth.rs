//! The Microsoft identity platform's client-credentials token endpoint and the bearer check on
//! every Graph call (docs/graph.md §6.3, §7.1 and §6.1).
//!
//! Scope: real Entra ID wants `https://graph.microsoft.com/.default`. The simulator accepts that,
//! and also `<this server's graph url>/.default`, so a client that derives the scope from its
//! configured Graph endpoint works against it too. Anything else is AADSTS70011.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::App;
use crate::encode::{b64_decode, b64url, fnv, mix};
use crate::error::ApiError;
use crate::sim::{Sim, lock};

pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

#[derive(Debug, Clone)]
pub struct IssuedToken {
    issued: Instant,
    /// Clock advance at issue time: `Sim::advance` ages tokens as well.
    advanced_at_issue: i64,
    lifetime: Duration,
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub async fn token(
    State(app): State<App>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let sim = &app.sim;
    sim.count_token();
    let seq = sim.next_request_seq();
    let cfg = sim.config();
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let aad = |code: u32, error: &str, text: String| aad_error(sim, seq, code, error, &text);

    if !tenant.eq_ignore_ascii_case(&cfg.tenant_id) {
        return aad(
            90002,
            "invalid_request",
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        );
    }
    match field("grant_type").as_deref() {
        Some("client_credentials") => {}
        Some(other) => {
            return aad(
                70003,
                "unsupported_grant_type",
                format!("The app requested an unsupported grant type '{other}'."),
            );
        }
        None => {
            return aad(
                900144,
                "invalid_request",
                "The request body must contain the following parameter: 'grant_type'.".into(),
            );
        }
    }
    // HTTP Basic (RFC 6749 2.3.1): base64 of form-urlencoded "id:secret".
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        .and_then(|b| b64_decode(b.trim()))
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|s| {
            let (id, secret) = s.split_once(':')?;
            let dec = |x: &str| {
                url::form_urlencoded::parse(format!("v={x}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            Some((dec(id), dec(secret)))
        });
    let client_id = field("client_id").or_else(|| basic.as_ref().map(|b| b.0.clone()));
    let secret = field("client_secret").or_else(|| basic.as_ref().map(|b| b.1.clone()));
    let Some(client_id) = client_id else {
        return aad(
            900144,
            "invalid_request",
            "The request body must contain the following parameter: 'client_id'.".into(),
        );
    };
    if client_id != cfg.client_id {
        return aad(
            700016,
            "unauthorized_client",
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
                cfg.tenant_id
            ),
        );
    }
    let Some(secret) = secret else {
        return aad(
            7000218,
            "invalid_client",
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.".into(),
        );
    };
    if secret != cfg.client_secret {
        return aad(
            7000215,
            "invalid_client",
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
        );
    }
    if cfg.secret_expired {
        return aad(
            7000222,
            "invalid_client",
            format!(
                "The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal to create new keys for your app."
            ),
        );
    }
    let scope = field("scope").unwrap_or_default();
    let own_scope = format!("{}/.default", app.base);
    if scope != GRAPH_SCOPE && scope != own_scope {
        return aad(
            70011,
            "invalid_scope",
            format!(
                "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid: '{scope}'. The scope requested is invalid for client credentials; use {GRAPH_SCOPE}."
            ),
        );
    }

    let access_token = mint(sim, seq);
    let lifetime = cfg.token_lifetime;
    lock(&sim.inner.tokens).insert(
        access_token.clone(),
        IssuedToken {
            issued: Instant::now(),
            advanced_at_issue: sim.inner.clock.manual_offset_ms(),
            lifetime,
        },
    );
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store, no-cache"),
        ],
        json!({
            "token_type": "Bearer",
            "expires_in": lifetime.as_secs(),
            "ext_expires_in": lifetime.as_secs(),
            "access_token": access_token,
        })
        .to_string(),
    )
        .into_response()
}

/// A JWT-shaped opaque token. Clients must not parse it; it only has to look like one.
fn mint(sim: &Sim, seq: u64) -> String {
    let cfg = sim.config();
    let header = b64url(br#"{"typ":"JWT","alg":"RS256","x5t":"sim"}"#);
    let payload = b64url(
        json!({
            "aud": "https://graph.microsoft.com",
            "iss": format!("https://sts.windows.net/{}/", cfg.tenant_id),
            "appid": cfg.client_id,
            "tid": cfg.tenant_id,
            "roles": ["Team.ReadBasic.All", "Channel.ReadBasic.All", "ChannelMessage.Read.All", "TeamMember.Read.All", "Group.Read.All"],
            "n": seq,
        })
        .to_string()
        .as_bytes(),
    );
    let sig = mix(cfg.seed ^ fnv(payload.as_bytes()), &[seq, 0x51]);
    let sig2 = mix(sig, &[seq]);
    let mut raw = sig.to_le_bytes().to_vec();
    raw.extend_from_slice(&sig2.to_le_bytes());
    format!("{header}.{payload}.{}", b64url(&raw))
}

fn aad_error(sim: &Sim, seq: u64, code: u32, error: &str, text: &str) -> Response {
    let trace = crate::routes::request_id(sim, seq);
    let corr = crate::routes::request_id(sim, seq ^ 0xC0);
    let stamp = sim.now().format("%Y-%m-%d %H:%M:%SZ").to_string();
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {text} Trace ID: {trace} Correlation ID: {corr} Timestamp: {stamp}"),
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": corr,
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    });
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// Bearer check of a Graph call: 401 `InvalidAuthenticationToken` when missing, unknown or
/// expired (docs/graph.md §6.1).
pub fn check_bearer(sim: &Sim, headers: &HeaderMap) -> Result<(), ApiError> {
    let unauth =
        |msg: &str| ApiError::new(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", msg);
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(unauth("Access token is empty."));
    };
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .unwrap_or("");
    if token.is_empty() {
        return Err(unauth("Access token is empty."));
    }
    let tokens = lock(&sim.inner.tokens);
    let Some(t) = tokens.get(token) else {
        return Err(unauth(
            "IDX14100: JWT is not well formed, there are no dots (.) or the token was not issued for this resource.",
        ));
    };
    let advanced = sim.inner.clock.manual_offset_ms() - t.advanced_at_issue;
    let age = t.issued.elapsed() + Duration::from_millis(advanced.max(0) as u64);
    if age >= t.lifetime {
        return Err(unauth("Lifetime validation failed, the token is expired."));
    }
    Ok(())
}
