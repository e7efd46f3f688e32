//! `GET /teams/{id}/channels/getAllMessages` (docs/graph.md §5.4): root posts and replies of every
//! channel of a team, filterable on a lastModifiedDateTime range. Ordered by lastModifiedDateTime,
//! so an incremental export reads `gt <last high-water mark>`.

use axum::extract::Path;

use super::lookup;
use super::{Ctx, Graph, Reply, after_key, keyed_page_with, next_for, page};
use crate::clock::Millis;
use crate::error::ApiError;
use crate::odata::{Allowed, Expr, Lit, parse_filter};
use crate::render;
use crate::tenant::Message;

/// Page size when `$top` is absent, and the largest accepted: the docs state neither
/// (docs/graph.md §3.2, §9.1); larger `$top` values are refused rather than silently clamped.
const DEFAULT_TOP: usize = 50;

/// (lastModifiedDateTime, channel index, message id): the export order.
type RowKey = (Millis, usize, u64);
/// (channel index, message, its root when a reply).
type Row<'t> = (usize, &'t Message, Option<&'t Message>);
const MAX_TOP: usize = 1000;

pub async fn get_all_messages(Path(team_id): Path<String>, ctx: Ctx) -> Reply {
    let sim = &ctx.sim;
    let ctx = &ctx;
    let q = &ctx.query;
    q.check(Allowed {
        top: true,
        filter: true,
        ..Default::default()
    })?;
    if let Some(m) = &q.model
        && m != "A"
        && m != "B"
    {
        return Err(ApiError::bad_request(format!(
            "Invalid value '{m}' for the 'model' parameter; use A or B."
        )));
    }
    let top = q.top(DEFAULT_TOP, MAX_TOP)?;
    let filter = q.filter.as_deref().map(parse_filter).transpose()?;
    if let Some(f) = &filter {
        // "$filter is supported with dateTime range query on lastModifiedDateTime".
        f.check(&|e| match e {
            Expr::Cmp {
                op,
                lit: Lit::DateTime(_),
                ..
            } => {
                e.prop() == Some("lastModifiedDateTime")
                    && !matches!(op, crate::odata::Op::Eq | crate::odata::Op::Ne)
            }
            _ => false,
        })?;
        if contains_or_or_not(f) {
            return Err(ApiError::bad_request(
                "Invalid filter clause: only a lastModifiedDateTime range joined with 'and' is supported.",
            ));
        }
    }
    let after = after_key::<(Millis, usize, u64)>(q)?;
    let t = sim.tenant();
    let (_, team) = lookup::team(&t, &team_id)?;
    let mut rows: Vec<(RowKey, Row<'_>)> = Vec::new();
    for (ci, ch) in team.live_channels() {
        for root in &ch.messages {
            rows.push(((root.last_modified, ci, root.id), (ci, root, None)));
            for r in &root.replies {
                rows.push(((r.last_modified, ci, r.id), (ci, r, Some(root))));
            }
        }
    }
    if let Some(f) = &filter {
        rows.retain(|(_, (_, m, _))| {
            f.eval(&serde_json::json!({"lastModifiedDateTime": crate::encode::ts(m.last_modified)}))
        });
    }
    rows.sort_by_key(|(k, _)| *k);
    let (items, next) = keyed_page_with(rows.into_iter(), after.as_ref(), top, |(ci, m, root)| {
        let mctx = ctx.msg_ctx(&t, team, &team.channels[ci]);
        render::message(&mctx, m, root)
    });
    Ok(Graph(page(
        ctx.context("Collection(chatMessage)"),
        items,
        next_for(ctx, next),
        None,
    )))
}

fn contains_or_or_not(e: &Expr) -> bool {
    match e {
        Expr::Or(..) | Expr::Not(..) => true,
        Expr::And(a, b) => contains_or_or_not(a) || contains_or_or_not(b),
        _ => false,
    }
}
