//! The front door every Graph call goes through before its handler: bearer check, throttling,
//! latency, faults, tenant switches and query parsing, in that order, then the wire format of
//! the handler's answer (content type, request ids, truncated or reset bodies). It is one axum
//! middleware layered on each Graph route with that route's endpoint class, so that a handler
//! holds only Graph logic: it takes a [`Ctx`] and answers a [`Reply`].

use std::time::Instant;

use axum::body::Body;
use axum::extract::{FromRequestParts, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::Rng;
use serde_json::{Value, json};

use super::switches::check_switches;
use crate::app::App;
use crate::class::EndpointClass;
use crate::clock::Millis;
use crate::encode::mix;
use crate::error::ApiError;
use crate::faults::{self, Fault};
use crate::odata::Query;
use crate::sim::{Sim, lock};
use crate::throttle::{self, Key};

/// The front door's own state: the server's, and the class of the route it guards.
#[derive(Clone)]
pub struct Door {
    pub app: App,
    pub class: EndpointClass,
}

/// What a route handler knows about its request; extracted from the request once the front
/// door has let it in.
#[derive(Clone)]
pub struct Ctx {
    pub sim: Sim,
    pub base: std::sync::Arc<str>,
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

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.remove::<Ctx>().ok_or((
            StatusCode::INTERNAL_SERVER_ERROR,
            "simulator bug: a Graph route is registered without its front door",
        ))
    }
}

/// A handler's answer: the JSON body, or the Graph error to render.
pub type Reply = Result<Graph, ApiError>;

/// A successful Graph JSON body; the front door renders it.
pub struct Graph(pub Value);

/// Carries a handler's answer back out to the front door, which alone knows the request ids
/// and faults that shape the wire response.
#[derive(Clone)]
struct Answer(Result<Value, ApiError>);

impl IntoResponse for Graph {
    fn into_response(self) -> Response {
        let mut r = Response::default();
        r.extensions_mut().insert(Answer(Ok(self.0)));
        r
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = Response::default();
        r.extensions_mut().insert(Answer(Err(self)));
        r
    }
}

/// Where a request points inside the tenant, for throttling keys and tenant switches: the
/// route's `{team}` and `{channel}` segments.
#[derive(Default, Clone)]
pub struct Scope {
    pub team: Option<String>,
    pub channel: Option<String>,
}

impl Scope {
    fn of(params: &RawPathParams) -> Scope {
        let mut s = Scope::default();
        for (k, v) in params {
            match k {
                "team" => s.team = Some(v.to_string()),
                "channel" => s.channel = Some(v.to_string()),
                _ => {}
            }
        }
        s
    }
}

/// The middleware: runs one Graph request through the front door, then its handler.
pub async fn front_door(
    State(door): State<Door>,
    params: RawPathParams,
    mut req: Request,
    next: Next,
) -> Response {
    let Door { app, class } = door;
    let sim = &app.sim;
    let scope = Scope::of(&params);
    let headers = req.headers();
    let seq = sim.next_request_seq();
    let rid = request_id(sim, seq);
    let crid = headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let date = sim.now().format("%Y-%m-%dT%H:%M:%S").to_string();
    let fail = |e: ApiError| error_response(&e, &rid, crid.as_deref(), &date);

    if let Err(e) = crate::auth::check_bearer(sim, headers) {
        sim.count(class.as_str(), false);
        return fail(e);
    }

    // Throttling is decided on arrival, before the (simulated) processing time.
    let mut keys = Vec::with_capacity(3);
    let tenant = class.tenant_limit();
    keys.push((Key::Tenant(tenant.bucket), tenant.rps, tenant.burst));
    if let Some(t) = &scope.team {
        keys.push((
            Key::Team(t.clone()),
            throttle::TEAM_RATE,
            throttle::TEAM_RATE,
        ));
    }
    if let Some(c) = &scope.channel {
        keys.push((
            Key::Channel(c.clone()),
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
    sim.count(class.as_str(), admitted.is_err());
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
    if let Err(e) = check_switches(sim, class, &scope) {
        return fail(e);
    }
    let ctx = Ctx {
        sim: sim.clone(),
        base: app.base.clone(),
        raw_path: req.uri().path().to_string(),
        query: match Query::parse(req.uri().query()) {
            Ok(q) => q,
            Err(e) => return fail(e),
        },
        include_unknown_enum: prefers_unknown_enum(req.headers()),
        now: sim.now_ms(),
    };
    req.extensions_mut().insert(ctx);
    let mut handled = next.run(req).await;
    let value = match handled.extensions_mut().remove::<Answer>() {
        Some(Answer(Ok(v))) => v,
        Some(Answer(Err(e))) => return fail(e),
        // An extractor refused the request before the handler ran; its answer stands.
        None => return handled,
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

/// Graph's error JSON with its headers (docs/graph.md §6.1).
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
