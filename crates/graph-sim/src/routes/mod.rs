//! The HTTP surface: Graph v1.0 routes, the token endpoint and the `/_sim/` admin API, plus the
//! front door every Graph call goes through (bearer check, throttling, latency, faults, tenant
//! switches), in that order.

pub mod channels;
pub mod delta;
pub mod export;
pub mod members;
pub mod messages;
mod paging;
mod switches;
pub mod teams;

pub use paging::*;
use switches::check_switches;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::Rng;
use serde_json::{Value, json};

use crate::clock::Millis;
use crate::encode::mix;
use crate::error::ApiError;
use crate::faults::{self, Fault};
use crate::odata::Query;
use crate::sim::{Sim, lock};
use crate::throttle::{self, Key};

/// Shared state of the server: the tenant and the URL it is reachable at (for links).
#[derive(Clone)]
pub struct App {
    pub sim: Sim,
    /// `http://127.0.0.1:PORT`, no trailing slash, no `/v1.0`.
    pub base: Arc<str>,
}

/// What a route handler knows about its request.
pub struct Ctx {
    pub base: Arc<str>,
    /// The request path exactly as received (still percent-encoded), for links.
    pub raw_path: String,
    pub query: Query,
    pub include_unknown_enum: bool,
    pub now: Millis,
}

impl Ctx {
    /// What rendering a message of this channel needs, with this request's `Prefer` choice.
    pub fn msg_ctx<'t>(
        &self,
        tenant: &'t crate::tenant::Tenant,
        team: &'t crate::tenant::Team,
        channel: &'t crate::tenant::Channel,
    ) -> crate::render::MsgCtx<'t> {
        crate::render::MsgCtx {
            tenant,
            team,
            channel,
            include_unknown_enum: self.include_unknown_enum,
        }
    }

    /// An absolute link to this same path with the given query (already encoded).
    pub fn link(&self, query: &str) -> String {
        format!("{}{}?{}", self.base, self.raw_path, query)
    }

    pub fn context(&self, fragment: &str) -> String {
        format!("{}/v1.0/$metadata#{}", self.base, fragment)
    }
}

pub fn router(app: App) -> Router {
    let v1 = Router::new()
        .route("/v1.0/teams", get(teams::list))
        .route("/v1.0/teams/{team}", get(teams::get_team))
        .route("/v1.0/groups", get(teams::groups))
        .route("/v1.0/teams/{team}/channels", get(channels::list))
        .route("/v1.0/teams/{team}/allChannels", get(channels::all))
        .route(
            "/v1.0/teams/{team}/channels/getAllMessages",
            get(export::get_all_messages),
        )
        .route(
            "/v1.0/teams/{team}/channels/allMessages",
            get(export::get_all_messages),
        )
        .route(
            "/v1.0/teams/{team}/channels/{channel}",
            get(channels::get_channel),
        )
        .route("/v1.0/teams/{team}/members", get(members::list))
        .route(
            "/v1.0/teams/{team}/channels/{channel}/messages",
            get(messages::list),
        )
        .route(
            "/v1.0/teams/{team}/channels/{channel}/messages/delta",
            get(delta::delta),
        )
        .route(
            "/v1.0/teams/{team}/channels/{channel}/messages/{message}",
            get(messages::get_message),
        )
        .route(
            "/v1.0/teams/{team}/channels/{channel}/messages/{message}/replies",
            get(messages::replies),
        )
        .route(
            "/v1.0/teams/{team}/channels/{channel}/messages/{message}/replies/{reply}",
            get(messages::get_reply),
        )
        .route("/v1.0/{*rest}", get(unknown_segment))
        .route("/{tenant}/oauth2/v2.0/token", post(crate::auth::token))
        .route("/msi/token", get(crate::msi::app_service))
        .route("/metadata/identity/oauth2/token", get(crate::msi::imds));
    // Routes carry the full `/v1.0` path (no nesting) so that handlers see the path as requested
    // and can build links from it.
    v1.nest("/_sim", crate::admin::router()).with_state(app)
}

/// Graph answers an unknown path below the version segment with 400 "Resource not found for the
/// segment", after the bearer check like every other call (a client without a valid token learns
/// nothing about paths).
async fn unknown_segment(
    axum::extract::State(app): axum::extract::State<App>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let seg = uri
        .path()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let e = match crate::auth::check_bearer(&app.sim, &headers) {
        Err(e) => e,
        Ok(()) => ApiError::bad_request(format!("Resource not found for the segment '{seg}'.")),
    };
    let rid = request_id(&app.sim, app.sim.next_request_seq());
    error_response(
        &e,
        &rid,
        None,
        &app.sim.now().format("%Y-%m-%dT%H:%M:%S").to_string(),
    )
}

/// A deterministic request id: same seed and request sequence, same ids.
pub fn request_id(sim: &Sim, seq: u64) -> String {
    let a = mix(sim.config().seed, &[0x7265_7175, seq]);
    let b = mix(a, &[seq]);
    let h = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

pub fn error_response(
    e: &ApiError,
    request_id: &str,
    client_request_id: Option<&str>,
    date: &str,
) -> Response {
    let mut inner = json!({
        "date": date,
        "request-id": request_id,
        "client-request-id": client_request_id.unwrap_or(request_id),
    });
    if e.status == StatusCode::TOO_MANY_REQUESTS {
        // The documented 429 sample also carries code/status/message inside innerError
        // (docs/graph.md §4.5).
        inner["code"] = json!("429");
        inner["status"] = json!("429");
        inner["message"] = json!("Please retry after");
    }
    let body = json!({"error": {"code": e.code, "message": e.message, "innerError": inner}});
    let mut resp = (e.status, body.to_string()).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("request-id", v);
    }
    if let Some(loc) = e
        .location
        .as_deref()
        .and_then(|l| HeaderValue::from_str(l).ok())
    {
        h.insert(header::LOCATION, loc);
    }
    if let Some(ra) = e
        .retry_after
        .as_deref()
        .and_then(|r| HeaderValue::from_str(r).ok())
    {
        h.insert(header::RETRY_AFTER, ra);
    }
    if e.status == StatusCode::UNAUTHORIZED {
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(
                "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
            ),
        );
    }
    resp
}

/// Where a request points inside the tenant, for throttling keys and tenant switches.
#[derive(Default, Clone, Copy)]
pub struct Scope<'a> {
    pub team: Option<&'a str>,
    pub channel: Option<&'a str>,
}

impl<'a> Scope<'a> {
    pub fn team(team: &'a str) -> Self {
        Scope {
            team: Some(team),
            channel: None,
        }
    }

    pub fn channel(team: &'a str, channel: &'a str) -> Self {
        Scope {
            team: Some(team),
            channel: Some(channel),
        }
    }
}

/// Runs one Graph request through the front door and then `handler`.
pub async fn serve<F>(
    app: &App,
    class: &'static str,
    uri: &Uri,
    headers: &HeaderMap,
    scope: Scope<'_>,
    handler: F,
) -> Response
where
    F: FnOnce(&Sim, &Ctx) -> Result<Value, ApiError>,
{
    let sim = &app.sim;
    let seq = sim.next_request_seq();
    let rid = request_id(sim, seq);
    let crid = headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let date = sim.now().format("%Y-%m-%dT%H:%M:%S").to_string();
    let fail = |e: ApiError| error_response(&e, &rid, crid.as_deref(), &date);

    if let Err(e) = crate::auth::check_bearer(sim, headers) {
        sim.count(class, false);
        return fail(e);
    }

    // Throttling is decided on arrival, before the (simulated) processing time.
    let mut keys = Vec::with_capacity(3);
    let (rate, burst) = throttle::tenant_rate(class);
    keys.push((Key::Tenant(class_group(class)), rate, burst));
    if let Some(t) = scope.team {
        keys.push((
            Key::Team(t.to_string()),
            throttle::TEAM_RATE,
            throttle::TEAM_RATE,
        ));
    }
    if let Some(c) = scope.channel {
        keys.push((
            Key::Channel(c.to_string()),
            throttle::CHANNEL_RATE,
            throttle::CHANNEL_RATE,
        ));
    }
    let admitted = lock(&sim.inner.throttle).admit(Instant::now(), &keys);
    let (latency, fault, omit_retry_after) = {
        let mut rng = lock(&sim.inner.rng);
        let lat = faults::latency_ms(&mut rng, sim.config().latency_ms);
        let fault = faults::roll(&mut rng, &sim.config().faults);
        let p = sim.config().omit_retry_after_rate;
        let omit = p.is_finite() && p > 0.0 && rng.random_bool(p.min(1.0));
        (lat, fault, omit)
    };
    sim.count(class, admitted.is_err());
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    if let Err(wait) = admitted {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Please retry again later.",
        );
        if !omit_retry_after {
            e.retry_after = Some(format!("{:.3}", wait.max(0.001)));
        }
        return fail(e);
    }
    match fault {
        Some(Fault::Unavailable) => {
            let mut e = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "serviceNotAvailable",
                "The service is temporarily unavailable. Please retry later.",
            );
            e.retry_after = Some("1".into());
            return fail(e);
        }
        Some(Fault::GatewayTimeout) => {
            return fail(ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "UnknownError",
                "Gateway timeout.",
            ));
        }
        _ => {}
    }
    if let Err(e) = check_switches(sim, class, scope) {
        return fail(e);
    }
    let ctx = Ctx {
        base: app.base.clone(),
        raw_path: uri.path().to_string(),
        query: match Query::parse(uri.query()) {
            Ok(q) => q,
            Err(e) => return fail(e),
        },
        include_unknown_enum: prefers_unknown_enum(headers),
        now: sim.now_ms(),
    };
    let value = match handler(sim, &ctx) {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let body = value.to_string();
    let mut resp = match fault {
        Some(Fault::Truncated) => {
            let cut = body.len() / 2;
            let cut = (0..=cut)
                .rev()
                .find(|i| body.is_char_boundary(*i))
                .unwrap_or(0);
            Response::new(Body::from(body[..cut].to_string()))
        }
        Some(Fault::Reset) => {
            // Headers go out, then the body stream fails: hyper aborts the connection.
            let stream = futures::stream::once(async {
                Err::<axum::body::Bytes, std::io::Error>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "simulated connection reset",
                ))
            });
            Response::new(Body::from_stream(stream))
        }
        _ => Response::new(Body::from(body)),
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&rid) {
        h.insert("request-id", v);
    }
    if let Some(v) = crid.as_deref().and_then(|c| HeaderValue::from_str(c).ok()) {
        h.insert("client-request-id", v);
    }
    resp
}

/// Tenant-wide buckets are per request class; the classes that share a row of the throttle
/// table share a bucket.
fn class_group(class: &'static str) -> &'static str {
    match class {
        "messages_list" | "message_get" | "replies_list" | "messages_delta" => "channel_message",
        "members_list" | "channels_list" | "all_channels_list" => "members_channels",
        "get_all_messages" => "get_all_messages",
        "groups_list" => "groups",
        _ => "other_get",
    }
}

fn prefers_unknown_enum(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| {
            p.trim()
                .eq_ignore_ascii_case("include-unknown-enum-members")
        })
}
