//! Channel messages: list root posts (with `$expand=replies`), get one, list and get replies
//! (docs/graph.md §2.6-§2.8). Newest first; pages are keyed on message ids.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use serde_json::{Value, json};

use super::channels::{channel_not_found, team_not_found};
use super::{App, Ctx, Scope, after_key, keyed_page_with, next_for, page, serve};
use crate::error::ApiError;
use crate::odata::{Allowed, encode_token};
use crate::render::{self, MsgCtx, pct};
use crate::tenant::{Channel, Message, Team, Tenant};

/// Inline replies per message under `$expand=replies` (docs/graph.md §2.6).
pub const INLINE_REPLIES: usize = 1000;

pub fn message_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Message {id} not found."))
}

/// Locates team and channel or answers Graph's 404.
pub fn locate<'t>(
    t: &'t Tenant,
    team_id: &str,
    channel_id: &str,
) -> Result<(&'t Team, &'t Channel), ApiError> {
    let (ti, team) = t.team(team_id).ok_or_else(|| team_not_found(team_id))?;
    let (_, ch) = t
        .channel(ti, channel_id)
        .ok_or_else(|| channel_not_found(channel_id))?;
    Ok((team, ch))
}

pub fn root_of<'c>(ch: &'c Channel, id: &str) -> Result<&'c Message, ApiError> {
    id.parse::<u64>()
        .ok()
        .and_then(|n| ch.root_pos(n))
        .map(|p| &ch.messages[p])
        .ok_or_else(|| message_not_found(id))
}

/// A root post with `replies`, `replies@odata.count` and, past 1000 replies,
/// `replies@odata.nextLink` to the rest (newest first, like the replies list).
pub fn with_replies(ctx: &Ctx, mctx: &MsgCtx<'_>, root: &Message) -> Value {
    let mut v = render::message(mctx, root, None);
    let total = root.replies.len();
    let inline: Vec<Value> = root
        .replies
        .iter()
        .rev()
        .take(INLINE_REPLIES)
        .map(|r| render::message(mctx, r, Some(root)))
        .collect();
    v["replies@odata.count"] = json!(total);
    if total > INLINE_REPLIES {
        let oldest_inline = root.replies[total - INLINE_REPLIES].id;
        let token = encode_token(&json!({"k": -(oldest_inline as i64)}));
        v["replies@odata.nextLink"] = json!(format!(
            "{}/v1.0/teams/{}/channels/{}/messages/{}/replies?$skiptoken={}",
            ctx.base,
            pct(&mctx.team.id),
            pct(&mctx.channel.id),
            root.id,
            token
        ));
    }
    v["replies"] = Value::Array(inline);
    v
}

/// `GET .../messages`: `$top` default 20, maximum 50; `$expand=replies`; nothing else.
pub async fn list(
    State(app): State<App>,
    Path((team_id, channel_id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let scope = Scope::channel(&team_id, &channel_id);
    serve(&app, "messages_list", &uri, &headers, scope, |sim, ctx| {
        let q = &ctx.query;
        q.check(Allowed {
            top: true,
            expand: true,
            ..Default::default()
        })?;
        let top = q.top(20, 50)?;
        let expand = q.expand_replies()?;
        let after = after_key::<i64>(q)?;
        let t = sim.tenant();
        let (team, ch) = locate(&t, &team_id, &channel_id)?;
        let mctx = ctx.msg_ctx(&t, team, ch);
        let items = ch.messages.iter().rev().map(|m| (-(m.id as i64), m));
        let (items, next) = keyed_page_with(items, after.as_ref(), top, |m| {
            if expand {
                with_replies(ctx, &mctx, m)
            } else {
                render::message(&mctx, m, None)
            }
        });
        let count = items.len();
        Ok(page(
            ctx.context(&format!(
                "teams('{team_id}')/channels('{}')/messages",
                pct(&channel_id)
            )),
            items,
            next_for(ctx, next),
            Some(count),
        ))
    })
    .await
}

/// `GET .../messages/{id}`: no OData options (docs/graph.md §2.8).
pub async fn get_message(
    State(app): State<App>,
    Path((team_id, channel_id, message_id)): Path<(String, String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let scope = Scope::channel(&team_id, &channel_id);
    serve(&app, "message_get", &uri, &headers, scope, |sim, ctx| {
        ctx.query.check(Allowed::default())?;
        let t = sim.tenant();
        let (team, ch) = locate(&t, &team_id, &channel_id)?;
        let root = root_of(ch, &message_id)?;
        let mctx = ctx.msg_ctx(&t, team, ch);
        let mut v = render::message(&mctx, root, None);
        v["@odata.context"] = json!(ctx.context(&format!(
            "teams('{team_id}')/channels('{}')/messages/$entity",
            pct(&channel_id)
        )));
        Ok(v)
    })
    .await
}

/// `GET .../messages/{id}/replies`: `$top` maximum 50 (docs/graph.md §2.7); default 20
/// (undocumented, same as messages: docs/graph.md §9.1).
pub async fn replies(
    State(app): State<App>,
    Path((team_id, channel_id, message_id)): Path<(String, String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let scope = Scope::channel(&team_id, &channel_id);
    serve(&app, "replies_list", &uri, &headers, scope, |sim, ctx| {
        let q = &ctx.query;
        q.check(Allowed {
            top: true,
            ..Default::default()
        })?;
        let top = q.top(20, 50)?;
        let after = after_key::<i64>(q)?;
        let t = sim.tenant();
        let (team, ch) = locate(&t, &team_id, &channel_id)?;
        let root = root_of(ch, &message_id)?;
        let mctx = ctx.msg_ctx(&t, team, ch);
        let items = root.replies.iter().rev().map(|m| (-(m.id as i64), m));
        let (items, next) = keyed_page_with(items, after.as_ref(), top, |m| {
            render::message(&mctx, m, Some(root))
        });
        let count = items.len();
        Ok(page(
            ctx.context(&format!(
                "teams('{team_id}')/channels('{}')/messages('{message_id}')/replies",
                pct(&channel_id)
            )),
            items,
            next_for(ctx, next),
            Some(count),
        ))
    })
    .await
}

/// `GET .../messages/{id}/replies/{reply-id}`: no OData options (docs/graph.md §2.8).
pub async fn get_reply(
    State(app): State<App>,
    Path((team_id, channel_id, message_id, reply_id)): Path<(String, String, String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let scope = Scope::channel(&team_id, &channel_id);
    serve(&app, "message_get", &uri, &headers, scope, |sim, ctx| {
        ctx.query.check(Allowed::default())?;
        let t = sim.tenant();
        let (team, ch) = locate(&t, &team_id, &channel_id)?;
        let root = root_of(ch, &message_id)?;
        let reply = reply_id
            .parse::<u64>()
            .ok()
            .and_then(|id| root.reply_pos(id))
            .map(|p| &root.replies[p])
            .ok_or_else(|| message_not_found(&reply_id))?;
        let mctx = ctx.msg_ctx(&t, team, ch);
        let mut v = render::message(&mctx, reply, Some(root));
        v["@odata.context"] = json!(ctx.context(&format!(
            "teams('{team_id}')/channels('{}')/messages('{message_id}')/replies/$entity",
            pct(&channel_id)
        )));
        Ok(v)
    })
    .await
}
