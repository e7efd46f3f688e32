//! Managed identity endpoints of the simulated host (docs/graph.md §6.5):
//!
//! - `GET /msi/token`: the App Service / Container Apps / Functions protocol (`IDENTITY_ENDPOINT`
//!   and `IDENTITY_HEADER`): api-version 2019-08-01, `resource`, optional `client_id`, header
//!   `X-IDENTITY-HEADER`; answers `expires_on` in Unix seconds, as a string.
//! - `GET /metadata/identity/oauth2/token`: IMDS, api-version 2018-02-01, header `Metadata:
//!   true`; answers `expires_in` and `expires_on` as strings.
//!
//! Both hand out the same access tokens as the token endpoint, for the resource
//! `https://graph.microsoft.com` (or this server's Graph URL).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::App;

fn reply(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// Which identity the request names, if the host has it: `Ok(None)` is the system-assigned one.
fn identity<'q>(app: &App, q: &'q HashMap<String, String>) -> Result<Option<&'q str>, ()> {
    match q.get("client_id").map(String::as_str) {
        None => Ok(None),
        Some(id)
            if app
                .sim
                .config()
                .managed_identity
                .user_assigned_client_ids
                .iter()
                .any(|u| u.eq_ignore_ascii_case(id)) =>
        {
            Ok(Some(id))
        }
        Some(_) => Err(()),
    }
}

fn resource_ok(app: &App, resource: Option<&String>) -> bool {
    let r = resource.map(|r| r.trim_end_matches('/')).unwrap_or("");
    r == "https://graph.microsoft.com" || r == &*app.base
}

fn token(app: &App, client_id: Option<&str>, resource: &str, imds: bool) -> Response {
    let sim = &app.sim;
    sim.count_token();
    let seq = sim.next_request_seq();
    let (access_token, lifetime) = crate::auth::issue(sim, seq);
    let expires_on = chrono::Utc::now().timestamp() + lifetime.as_secs() as i64;
    let client_id = client_id.unwrap_or(crate::config::SYSTEM_ASSIGNED_CLIENT_ID);
    let mut body = json!({
        "access_token": access_token,
        "expires_on": expires_on.to_string(),
        "resource": resource,
        "token_type": "Bearer",
        "client_id": client_id,
    });
    if imds {
        body["expires_in"] = json!(lifetime.as_secs().to_string());
        body["ext_expires_in"] = body["expires_in"].clone();
        body["not_before"] = json!((expires_on - lifetime.as_secs() as i64).to_string());
    }
    reply(StatusCode::OK, body)
}

/// `GET /msi/token` (App Service protocol).
pub async fn app_service(
    State(app): State<App>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Some(expected) = app.sim.config().managed_identity.identity_header.clone() else {
        return reply(
            StatusCode::NOT_FOUND,
            json!({"statusCode": 404, "message": "No managed identity endpoint on this host (start the simulator with --identity-header)."}),
        );
    };
    let presented = headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok());
    if presented != Some(expected.as_str()) {
        // App Service and Functions answer a missing or stale header with 401 and a short
        // message (azure-functions-host#7273, azure-sdk-for-net#46932); the exact body is not
        // documented.
        return reply(
            StatusCode::UNAUTHORIZED,
            json!({"statusCode": 401, "message": "Invalid secret token header: X-IDENTITY-HEADER is missing or does not match IDENTITY_HEADER."}),
        );
    }
    if q.get("api-version").map(String::as_str) != Some("2019-08-01") {
        return reply(
            StatusCode::BAD_REQUEST,
            json!({"statusCode": 400, "message": "The api-version is missing or not supported; use 2019-08-01."}),
        );
    }
    if !resource_ok(&app, q.get("resource")) {
        return reply(
            StatusCode::BAD_REQUEST,
            json!({"statusCode": 400, "message": "The resource is missing or unknown to this simulator (https://graph.microsoft.com)."}),
        );
    }
    match identity(&app, &q) {
        Ok(id) => token(&app, id, "https://graph.microsoft.com", false),
        Err(()) => reply(
            StatusCode::BAD_REQUEST,
            json!({"statusCode": 400, "message": "Unable to load the proper Managed Identity. No user-assigned identity with this client_id is assigned to this resource."}),
        ),
    }
}

/// `GET /metadata/identity/oauth2/token` (IMDS).
pub async fn imds(
    State(app): State<App>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let bad = |error: &str, description: &str| {
        reply(
            StatusCode::BAD_REQUEST,
            json!({"error": error, "error_description": description}),
        )
    };
    if !app.sim.config().managed_identity.imds {
        return reply(
            StatusCode::NOT_FOUND,
            json!({"error": "not_found", "error_description": "No IMDS on this host (start the simulator with --imds)."}),
        );
    }
    // The IMDS documentation's error table: a missing Metadata header, an unknown identity.
    if headers.get("metadata").and_then(|v| v.to_str().ok()) != Some("true") {
        return bad("invalid_request", "Required metadata header not specified");
    }
    if !resource_ok(&app, q.get("resource")) {
        return bad(
            "invalid_resource",
            "AADSTS50001: The application named in resource was not found in the tenant.",
        );
    }
    match identity(&app, &q) {
        Ok(id) => token(&app, id, "https://graph.microsoft.com", true),
        Err(()) => bad("invalid_request", "Identity not found"),
    }
}
