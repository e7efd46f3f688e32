//! The HTTP admin API under `/_sim/`: the same ground truth, mutations, clock, switches and
//! counters as the [`crate::Sim`] methods, for tests and demos that drive a simulator in another
//! process. Not part of Graph; no bearer token needed.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::App;
use crate::config::Switches;
use crate::error::SimError;

fn sim_error(e: SimError) -> Response {
    let status = match e {
        SimError::InvalidMembershipType(_) => StatusCode::BAD_REQUEST,
        SimError::Deleted(_) => StatusCode::CONFLICT,
        _ => StatusCode::NOT_FOUND,
    };
    (status, Json(json!({"error": e.to_string()}))).into_response()
}

fn id_or_error(r: Result<String, SimError>) -> Response {
    match r {
        Ok(id) => (StatusCode::CREATED, Json(json!({"id": id}))).into_response(),
        Err(e) => sim_error(e),
    }
}

fn done_or_error(r: Result<(), SimError>) -> Response {
    match r {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => sim_error(e),
    }
}

pub fn router() -> Router<App> {
    Router::new()
        .route("/now", get(now))
        .route("/advance", post(advance))
        .route("/teams", get(teams).post(add_team))
        .route("/teams/{team}/channels", get(channels).post(add_channel))
        .route("/teams/{team}/members", get(members).post(add_member))
        .route(
            "/teams/{team}/channels/{channel}/messages",
            get(messages).post(post_message),
        )
        .route(
            "/teams/{team}/channels/{channel}/messages/{message}/replies",
            get(replies).post(post_reply),
        )
        .route(
            "/teams/{team}/channels/{channel}/messages/{message}/edit",
            post(edit),
        )
        .route(
            "/teams/{team}/channels/{channel}/messages/{message}/react",
            post(react),
        )
        .route(
            "/teams/{team}/channels/{channel}/messages/{message}/softDelete",
            post(soft_delete),
        )
        .route("/counters", get(counters))
        .route("/counters/reset", post(reset_counters))
        .route("/switches", get(get_switches).put(put_switches))
        .merge(removal_routes())
}

async fn now(State(app): State<App>) -> Json<Value> {
    Json(json!({"now": crate::encode::ts(app.sim.now().timestamp_millis())}))
}

#[derive(Deserialize)]
struct Advance {
    seconds: f64,
}

async fn advance(State(app): State<App>, Json(a): Json<Advance>) -> Response {
    if !a.seconds.is_finite() || a.seconds < 0.0 {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "seconds must be a non-negative number"})),
        )
            .into_response();
    }
    app.sim
        .advance(chrono::Duration::milliseconds((a.seconds * 1000.0) as i64));
    Json(json!({"now": crate::encode::ts(app.sim.now().timestamp_millis())})).into_response()
}

async fn teams(State(app): State<App>) -> Json<Vec<Value>> {
    Json(app.sim.teams())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewTeam {
    display_name: String,
}

async fn add_team(State(app): State<App>, Json(b): Json<NewTeam>) -> Response {
    id_or_error(Ok(app.sim.add_team(&b.display_name)))
}

async fn channels(State(app): State<App>, Path(team): Path<String>) -> Json<Vec<Value>> {
    Json(app.sim.channels(&team))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewChannel {
    display_name: String,
    #[serde(default = "standard")]
    membership_type: String,
}

fn standard() -> String {
    "standard".into()
}

async fn add_channel(
    State(app): State<App>,
    Path(team): Path<String>,
    Json(b): Json<NewChannel>,
) -> Response {
    id_or_error(
        app.sim
            .add_channel(&team, &b.display_name, &b.membership_type),
    )
}

async fn members(State(app): State<App>, Path(team): Path<String>) -> Json<Vec<Value>> {
    Json(app.sim.members(&team))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewMember {
    display_name: String,
    email: String,
    #[serde(default)]
    roles: Vec<String>,
}

async fn add_member(
    State(app): State<App>,
    Path(team): Path<String>,
    Json(b): Json<NewMember>,
) -> Response {
    let roles: Vec<&str> = b.roles.iter().map(String::as_str).collect();
    id_or_error(app.sim.add_member(&team, &b.display_name, &b.email, &roles))
}

async fn messages(
    State(app): State<App>,
    Path((team, channel)): Path<(String, String)>,
) -> Json<Vec<Value>> {
    Json(app.sim.messages(&team, &channel))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Html {
    html: String,
    #[serde(default)]
    reply_id: Option<String>,
}

async fn post_message(
    State(app): State<App>,
    Path((team, channel)): Path<(String, String)>,
    Json(b): Json<Html>,
) -> Response {
    id_or_error(app.sim.post_message(&team, &channel, &b.html))
}

async fn replies(
    State(app): State<App>,
    Path((team, channel, message)): Path<(String, String, String)>,
) -> Json<Vec<Value>> {
    Json(app.sim.replies(&team, &channel, &message))
}

async fn post_reply(
    State(app): State<App>,
    Path((team, channel, message)): Path<(String, String, String)>,
    Json(b): Json<Html>,
) -> Response {
    id_or_error(app.sim.post_reply(&team, &channel, &message, &b.html))
}

async fn edit(
    State(app): State<App>,
    Path((team, channel, message)): Path<(String, String, String)>,
    Json(b): Json<Html>,
) -> Response {
    done_or_error(
        app.sim
            .edit_message(&team, &channel, &message, b.reply_id.as_deref(), &b.html),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct React {
    reaction_type: String,
    #[serde(default)]
    reply_id: Option<String>,
}

async fn react(
    State(app): State<App>,
    Path((team, channel, message)): Path<(String, String, String)>,
    Json(b): Json<React>,
) -> Response {
    done_or_error(app.sim.react(
        &team,
        &channel,
        &message,
        b.reply_id.as_deref(),
        &b.reaction_type,
    ))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Target {
    #[serde(default)]
    reply_id: Option<String>,
}

async fn soft_delete(
    State(app): State<App>,
    Path((team, channel, message)): Path<(String, String, String)>,
    body: Option<Json<Target>>,
) -> Response {
    let t = body.map(|Json(t)| t).unwrap_or_default();
    done_or_error(
        app.sim
            .soft_delete(&team, &channel, &message, t.reply_id.as_deref()),
    )
}

async fn counters(State(app): State<App>) -> Json<Value> {
    let c = app.sim.counters();
    Json(json!({
        "requests": c.requests,
        "throttled": c.throttled,
        "tokenRequests": c.token_requests,
        "total": c.total(),
    }))
}

async fn reset_counters(State(app): State<App>) -> StatusCode {
    app.sim.reset_counters();
    StatusCode::NO_CONTENT
}

async fn get_switches(State(app): State<App>) -> Json<Switches> {
    Json(app.sim.switches())
}

async fn put_switches(State(app): State<App>, Json(s): Json<Switches>) -> StatusCode {
    app.sim.set_switches(s);
    StatusCode::NO_CONTENT
}

/// Removals (teams, channels, members), hard deletes of posts and replies, and the seeded change
/// batch (docs/graph.md §9.20-§9.22).
fn removal_routes() -> Router<App> {
    Router::new()
        .route("/teams/{team}", delete(remove_team))
        .route("/teams/{team}/channels/{channel}", delete(remove_channel))
        .route("/teams/{team}/members/{member}", delete(remove_member))
        .route(
            "/teams/{team}/channels/{channel}/messages/{message}",
            delete(hard_delete_message),
        )
        .route(
            "/teams/{team}/channels/{channel}/messages/{message}/replies/{reply}",
            delete(hard_delete_reply),
        )
        .route(
            "/teams/{team}/channels/{channel}/messages/{message}/unreact",
            post(unreact),
        )
        .route("/changes", post(apply_changes))
}

async fn unreact(
    State(app): State<App>,
    Path((team, channel, message)): Path<(String, String, String)>,
    Json(b): Json<React>,
) -> Response {
    done_or_error(app.sim.unreact(
        &team,
        &channel,
        &message,
        b.reply_id.as_deref(),
        &b.reaction_type,
    ))
}

async fn remove_team(State(app): State<App>, Path(team): Path<String>) -> Response {
    done_or_error(app.sim.remove_team(&team))
}

async fn remove_channel(
    State(app): State<App>,
    Path((team, channel)): Path<(String, String)>,
) -> Response {
    done_or_error(app.sim.remove_channel(&team, &channel))
}

async fn remove_member(
    State(app): State<App>,
    Path((team, member)): Path<(String, String)>,
) -> Response {
    done_or_error(app.sim.remove_member(&team, &member))
}

async fn hard_delete_message(
    State(app): State<App>,
    Path((team, channel, message)): Path<(String, String, String)>,
) -> Response {
    done_or_error(app.sim.hard_delete(&team, &channel, &message, None))
}

async fn hard_delete_reply(
    State(app): State<App>,
    Path((team, channel, message, reply)): Path<(String, String, String, String)>,
) -> Response {
    done_or_error(app.sim.hard_delete(&team, &channel, &message, Some(&reply)))
}

#[derive(Deserialize)]
struct Batch {
    seed: u64,
    #[serde(default = "one")]
    scale: usize,
}

fn one() -> usize {
    1
}

/// Applies a seeded change batch and answers what it did (`ChangeBatch` as JSON).
async fn apply_changes(State(app): State<App>, Json(b): Json<Batch>) -> Response {
    if b.scale == 0 || b.scale > 1000 {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "scale must be between 1 and 1000"})),
        )
            .into_response();
    }
    let sim = app.sim.clone();
    // A large batch walks the tenant many times; keep it off the reactor.
    match tokio::task::spawn_blocking(move || sim.apply_change_batch_scaled(b.seed, b.scale)).await
    {
        Ok(batch) => Json(batch).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": format!("change batch failed: {e}")})),
        )
            .into_response(),
    }
}
