//! `GET /teams/{id}/members` (docs/graph.md §2.5): `$top` default 100, maximum 999; `$select`;
//! `$filter` on userId, displayName or email, optionally with the
//! `microsoft.graph.aadUserConversationMember/` cast.

use axum::extract::Path;
use serde_json::Value;

use super::lookup;
use super::{Ctx, Graph, Reply, indexed_page};
use crate::odata::{Allowed, Expr, Op, parse_filter};
use crate::render;

const MEMBER_PROPS: &[&str] = &[
    "id",
    "roles",
    "displayName",
    "visibleHistoryStartDateTime",
    "userId",
    "email",
    "tenantId",
];

pub async fn list(Path(team_id): Path<String>, ctx: Ctx) -> Reply {
    let sim = &ctx.sim;
    let ctx = &ctx;
    let q = &ctx.query;
    q.check(Allowed {
        top: true,
        select: true,
        filter: true,
        ..Default::default()
    })?;
    let top = q.top(100, 999)?;
    let select = q.select_list("aadUserConversationMember", MEMBER_PROPS)?;
    let filter = q.filter.as_deref().map(parse_filter).transpose()?;
    if let Some(f) = &filter {
        f.check(&|e| {
            matches!(e, Expr::Cmp { op: Op::Eq, .. })
                && matches!(e.prop(), Some("userId" | "displayName" | "email"))
        })?;
    }
    let t = sim.tenant();
    let (_, team) = lookup::team(&t, &team_id)?;
    let all: Vec<(usize, Value)> = team
        .live_members()
        .map(|(i, m)| (i, render::member(&t, m)))
        .filter(|(_, v)| filter.as_ref().is_none_or(|f| f.eval(v)))
        .collect();
    indexed_page(
        ctx,
        ctx.context(&format!("teams('{team_id}')/members")),
        all,
        top,
        select.as_deref(),
        true,
    )
    .map(Graph)
}
