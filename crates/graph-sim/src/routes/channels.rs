//! `GET /teams/{id}/channels`, `/allChannels` and `/channels/{id}` (docs/graph.md §2.4).

use axum::extract::Path;
use serde_json::{Value, json};

use super::lookup;
use super::{Ctx, Graph, Reply, page};
use crate::error::ApiError;
use crate::odata::{Allowed, Expr, Op, apply_select, parse_filter};
use crate::render;

const CHANNEL_PROPS: &[&str] = &[
    "id",
    "createdDateTime",
    "displayName",
    "description",
    "isFavoriteByDefault",
    "email",
    "tenantId",
    "webUrl",
    "membershipType",
    "isArchived",
    "layoutType",
    "moderationSettings",
    "summary",
];

/// The documented filter: `membershipType eq 'private'` (and 'shared', 'standard'); displayName
/// comparisons are accepted as well since Graph's generic filter handles them.
fn channel_filter(ctx: &Ctx) -> Result<Option<Expr>, ApiError> {
    let filter = ctx.query.filter.as_deref().map(parse_filter).transpose()?;
    if let Some(f) = &filter {
        f.check(&|e| match e {
            Expr::Cmp {
                op: Op::Eq | Op::Ne,
                ..
            } => matches!(e.prop(), Some("membershipType" | "displayName")),
            Expr::StartsWith { .. } => e.prop() == Some("displayName"),
            _ => false,
        })?;
    }
    Ok(filter)
}

fn list_impl(ctx: &Ctx, team_id: &str, all: bool) -> Reply {
    // Current docs list only $filter and $select (docs/graph.md §2.4); lists come in one page.
    ctx.query.check(Allowed {
        select: true,
        filter: true,
        ..Default::default()
    })?;
    let select = ctx.query.select_list("channel", CHANNEL_PROPS)?;
    let filter = channel_filter(ctx)?;
    let t = ctx.sim.tenant();
    let (_, team) = lookup::team(&t, team_id)?;
    let mut items: Vec<Value> = team
        .live_channels()
        .map(|(_, c)| (team, c))
        .chain(all.then(|| t.incoming(team)).into_iter().flatten())
        .map(|(host, c)| {
            let mut v = render::channel(&t, host, c);
            if all {
                // allChannels items carry an @odata.id with a tenant segment (docs/graph.md §2.4).
                v["@odata.id"] = json!(format!(
                    "{}/v1.0/tenants/{}/teams/{}/channels/{}",
                    ctx.base,
                    t.tenant_id,
                    host.id,
                    render::pct(&c.id)
                ));
            }
            if select
                .as_ref()
                .is_some_and(|s| s.iter().any(|p| p == "summary"))
            {
                v["summary"] = render::channel_summary(host, c);
            }
            v
        })
        .filter(|v| filter.as_ref().is_none_or(|f| f.eval(v)))
        .collect();
    items = items
        .into_iter()
        .map(|v| apply_select(v, select.as_deref()))
        .collect();
    let what = if all { "allChannels" } else { "channels" };
    let count = items.len();
    Ok(Graph(page(
        ctx.context(&format!("teams('{team_id}')/{what}")),
        items,
        None,
        Some(count),
    )))
}

pub async fn list(Path(team_id): Path<String>, ctx: Ctx) -> Reply {
    list_impl(&ctx, &team_id, false)
}

pub async fn all(Path(team_id): Path<String>, ctx: Ctx) -> Reply {
    list_impl(&ctx, &team_id, true)
}

/// `GET /teams/{id}/channels/{id}`; `summary` only through `$select=summary` (docs/graph.md §2.4).
pub async fn get_channel(Path((team_id, channel_id)): Path<(String, String)>, ctx: Ctx) -> Reply {
    // $filter is listed as supported but means nothing on one entity; it is validated only.
    ctx.query.check(Allowed {
        select: true,
        filter: true,
        ..Default::default()
    })?;
    let select = ctx.query.select_list("channel", CHANNEL_PROPS)?;
    channel_filter(&ctx)?;
    let t = ctx.sim.tenant();
    let (team, ch) = lookup::locate(&t, &team_id, &channel_id)?;
    let mut v = render::channel(&t, team, ch);
    v["@odata.context"] = json!(ctx.context(&format!("teams('{team_id}')/channels/$entity")));
    if select
        .as_ref()
        .is_some_and(|s| s.iter().any(|p| p == "summary"))
    {
        v["summary"] = render::channel_summary(team, ch);
    }
    Ok(Graph(apply_select(v, select.as_deref())))
}
