//! Channel messages: list root posts (with `$expand=replies`), get one, list and get replies
//! (docs/graph.md §2.6-§2.8). Newest first; pages are keyed on message ids.

use axum::extract::Path;
use serde_json::json;

use super::expand::with_replies;
use super::lookup::{locate, message_not_found, root_of};
use super::{Ctx, Graph, Reply, after_key, keyed_page_with, next_for, page};
use crate::odata::Allowed;
use crate::render::{self, pct};

/// `GET .../messages`: `$top` default 20, maximum 50; `$expand=replies`; nothing else.
pub async fn list(Path((team_id, channel_id)): Path<(String, String)>, ctx: Ctx) -> Reply {
    let sim = &ctx.sim;
    let ctx = &ctx;
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
    Ok(Graph(page(
        ctx.context(&format!(
            "teams('{team_id}')/channels('{}')/messages",
            pct(&channel_id)
        )),
        items,
        next_for(ctx, next),
        Some(count),
    )))
}

/// `GET .../messages/{id}`: no OData options (docs/graph.md §2.8).
pub async fn get_message(
    Path((team_id, channel_id, message_id)): Path<(String, String, String)>,
    ctx: Ctx,
) -> Reply {
    let sim = &ctx.sim;
    let ctx = &ctx;
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
    Ok(Graph(v))
}

/// `GET .../messages/{id}/replies`: `$top` maximum 50 (docs/graph.md §2.7); default 20
/// (undocumented, same as messages: docs/graph.md §9.1).
pub async fn replies(
    Path((team_id, channel_id, message_id)): Path<(String, String, String)>,
    ctx: Ctx,
) -> Reply {
    let sim = &ctx.sim;
    let ctx = &ctx;
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
    Ok(Graph(page(
        ctx.context(&format!(
            "teams('{team_id}')/channels('{}')/messages('{message_id}')/replies",
            pct(&channel_id)
        )),
        items,
        next_for(ctx, next),
        Some(count),
    )))
}

/// `GET .../messages/{id}/replies/{reply-id}`: no OData options (docs/graph.md §2.8).
pub async fn get_reply(
    Path((team_id, channel_id, message_id, reply_id)): Path<(String, String, String, String)>,
    ctx: Ctx,
) -> Reply {
    let sim = &ctx.sim;
    let ctx = &ctx;
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
    Ok(Graph(v))
}
