//! `GET /teams`, `GET /teams/{id}` and `GET /groups` (docs/graph.md §2.1-§2.3).

use axum::extract::Path;
use serde_json::Value;

use super::lookup;
use super::{Ctx, Graph, Reply, indexed_page};
use crate::error::ApiError;
use crate::odata::{Allowed, Expr, Op, apply_select, parse_filter};
use crate::render;

const TEAM_PROPS: &[&str] = &[
    "id",
    "createdDateTime",
    "displayName",
    "description",
    "internalId",
    "classification",
    "specialization",
    "visibility",
    "webUrl",
    "isArchived",
    "tenantId",
    "isMembershipLimitedToOwners",
    "memberSettings",
    "guestSettings",
    "messagingSettings",
    "funSettings",
    "discoverySettings",
    "summary",
];

const GROUP_PROPS: &[&str] = &[
    "id",
    "deletedDateTime",
    "classification",
    "createdDateTime",
    "creationOptions",
    "description",
    "displayName",
    "expirationDateTime",
    "groupTypes",
    "isAssignableToRole",
    "mail",
    "mailEnabled",
    "mailNickname",
    "membershipRule",
    "membershipRuleProcessingState",
    "onPremisesDomainName",
    "onPremisesLastSyncDateTime",
    "onPremisesSyncEnabled",
    "preferredDataLocation",
    "preferredLanguage",
    "proxyAddresses",
    "renewedDateTime",
    "resourceBehaviorOptions",
    "resourceProvisioningOptions",
    "securityEnabled",
    "securityIdentifier",
    "theme",
    "visibility",
    "onPremisesProvisioningErrors",
];

/// `GET /teams` has no documented page size (docs/graph.md §3.2, §9.1); we use the
/// directory's 100 default and 999 maximum, and refuse larger `$top` values.
pub async fn list(ctx: Ctx) -> Reply {
    let sim = &ctx.sim;
    let ctx = &ctx;
    let q = &ctx.query;
    q.check(Allowed {
        top: true,
        select: true,
        filter: true,
        count: true,
        ..Default::default()
    })?;
    let top = q.top(100, 999)?;
    let select = q.select_list("team", TEAM_PROPS)?;
    let filter = q.filter.as_deref().map(parse_filter).transpose()?;
    if let Some(f) = &filter {
        // The documented forms: `displayName eq '...'` and `startswith(displayName, '...')`.
        f.check(&|e| match e {
            Expr::Cmp {
                op: Op::Eq | Op::Ne,
                ..
            }
            | Expr::StartsWith { .. } => {
                matches!(
                    e.prop(),
                    Some("displayName" | "description" | "id" | "visibility")
                )
            }
            _ => false,
        })?;
    }
    let t = sim.tenant();
    let all: Vec<(usize, Value)> = t
        .teams
        .iter()
        .enumerate()
        .filter(|(_, team)| !team.removed)
        .map(|(i, team)| (i, render::team_listed(team)))
        .filter(|(_, v)| filter.as_ref().is_none_or(|f| f.eval(v)))
        .collect();
    indexed_page(
        ctx,
        ctx.context("teams"),
        all,
        top,
        select.as_deref(),
        q.count.as_deref() == Some("true"),
    )
    .map(Graph)
}

/// `GET /teams/{id}`: the full team with settings and summary; `$select` and `$expand`
/// (docs/graph.md §2.2).
pub async fn get_team(Path(team_id): Path<String>, ctx: Ctx) -> Reply {
    let sim = &ctx.sim;
    let ctx = &ctx;
    let q = &ctx.query;
    q.check(Allowed {
        select: true,
        expand: true,
        ..Default::default()
    })?;
    if let Some(e) = &q.expand {
        return Err(ApiError::bad_request(format!(
            "Could not find a navigation property named '{e}' on type 'microsoft.graph.team' that can be expanded."
        )));
    }
    let select = q.select_list("team", TEAM_PROPS)?;
    let t = sim.tenant();
    let (_, team) = lookup::team(&t, &team_id)?;
    let mut v = render::team_full(&t, team);
    if let Value::Object(o) = &mut v {
        o.insert(
            "@odata.context".into(),
            Value::String(ctx.context("teams/$entity")),
        );
    }
    Ok(Graph(apply_select(v, select.as_deref())))
}

/// `GET /groups`: team groups and a few plain groups; `$filter=resourceProvisioningOptions/Any(x:x
/// eq 'Team')` keeps the teams. Default 100, maximum 999 a page, no `$skip` (docs/graph.md §2.3).
pub async fn groups(ctx: Ctx) -> Reply {
    let sim = &ctx.sim;
    let ctx = &ctx;
    let q = &ctx.query;
    q.check(Allowed {
        top: true,
        select: true,
        filter: true,
        count: true,
        ..Default::default()
    })?;
    let top = q.top(100, 999)?;
    let select = q.select_list("group", GROUP_PROPS)?;
    let filter = q.filter.as_deref().map(parse_filter).transpose()?;
    if let Some(f) = &filter {
        f.check(&|e| match e {
            Expr::Any { .. } => {
                matches!(e.prop(), Some("resourceProvisioningOptions" | "groupTypes"))
            }
            Expr::Cmp { op: Op::Eq, .. } | Expr::StartsWith { .. } => {
                matches!(
                    e.prop(),
                    Some("displayName" | "id" | "mail" | "mailNickname")
                )
            }
            _ => false,
        })?;
    }
    let t = sim.tenant();
    // Plain groups first so that teams added later append to the order.
    // Positions are taken before removed teams are skipped, so that a removal between two
    // pages does not shift the skip token's key.
    let teams = t
        .teams
        .iter()
        .map(|tm| (!tm.removed).then(|| render::group(tm)));
    let plain = t.plain_groups.iter().map(|g| Some(render::plain_group(g)));
    let all: Vec<(usize, Value)> = plain
        .chain(teams)
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (i, v)))
        .filter(|(_, v)| filter.as_ref().is_none_or(|f| f.eval(v)))
        .collect();
    indexed_page(
        ctx,
        ctx.context("groups"),
        all,
        top,
        select.as_deref(),
        q.count.as_deref() == Some("true"),
    )
    .map(Graph)
}
