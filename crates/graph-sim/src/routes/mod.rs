//! The HTTP surface: Graph v1.0 routes, the token endpoint and the `/_sim/` admin API. Every
//! Graph route is registered with its endpoint class behind the front door ([`door`]).

pub mod channels;
pub mod delta;
mod door;
mod expand;
pub mod export;
mod lookup;
pub mod members;
pub mod messages;
mod paging;
mod switches;
pub mod teams;

pub use door::{Ctx, Graph, Reply, error_response, request_id};
pub use paging::*;

use axum::Router;
use axum::extract::State;
use axum::handler::Handler;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::{MethodRouter, get, post};

use crate::app::App;
use crate::class::EndpointClass;
use crate::error::ApiError;

pub fn router(app: App) -> Router {
    use EndpointClass::*;
    let v1 = Router::new()
        .route("/v1.0/teams", graph_route(&app, TeamsList, teams::list))
        .route(
            "/v1.0/teams/{team}",
            graph_route(&app, TeamGet, teams::get_team),
        )
        .route("/v1.0/groups", graph_route(&app, GroupsList, teams::groups))
        .route(
            "/v1.0/teams/{team}/channels",
            graph_route(&app, ChannelsList, channels::list),
        )
        .route(
            "/v1.0/teams/{team}/allChannels",
            graph_route(&app, AllChannelsList, channels::all),
        )
        .route(
            "/v1.0/teams/{team}/channels/getAllMessages",
            graph_route(&app, GetAllMessages, export::get_all_messages),
        )
        .route(
            "/v1.0/teams/{team}/channels/allMessages",
            graph_route(&app, GetAllMessages, export::get_all_messages),
        )
        .route(
            "/v1.0/teams/{team}/channels/{channel}",
            graph_route(&app, ChannelGet, channels::get_channel),
        )
        .route(
            "/v1.0/teams/{team}/members",
            graph_route(&app, MembersList, members::list),
        )
        .route(
            "/v1.0/teams/{team}/channels/{channel}/messages",
            graph_route(&app, MessagesList, messages::list),
        )
        .route(
            "/v1.0/teams/{team}/channels/{channel}/messages/delta",
            graph_route(&app, MessagesDelta, delta::delta),
        )
        .route(
            "/v1.0/teams/{team}/channels/{channel}/messages/{message}",
            graph_route(&app, MessageGet, messages::get_message),
        )
        .route(
            "/v1.0/teams/{team}/channels/{channel}/messages/{message}/replies",
            graph_route(&app, RepliesList, messages::replies),
        )
        .route(
            "/v1.0/teams/{team}/channels/{channel}/messages/{message}/replies/{reply}",
            graph_route(&app, MessageGet, messages::get_reply),
        )
        .route("/v1.0/{*rest}", get(unknown_segment))
        .route("/{tenant}/oauth2/v2.0/token", post(crate::auth::token));
    // Routes carry the full `/v1.0` path (no nesting) so that handlers see the path as requested
    // and can build links from it.
    v1.nest("/_sim", crate::admin::router()).with_state(app)
}

/// A GET route of `class`: the handler runs behind the front door, which the route layer
/// places after routing so that it sees the route's `{team}` and `{channel}`.
fn graph_route<H, T>(app: &App, class: EndpointClass, handler: H) -> MethodRouter<App>
where
    H: Handler<T, App>,
    T: 'static,
{
    let door = door::Door {
        app: app.clone(),
        class,
    };
    get(handler).route_layer(axum::middleware::from_fn_with_state(door, door::front_door))
}

/// Graph answers an unknown path below the version segment with 400 "Resource not found for the
/// segment", after the bearer check like every other call (a client without a valid token learns
/// nothing about paths).
async fn unknown_segment(State(app): State<App>, uri: Uri, headers: HeaderMap) -> Response {
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
