//! `members`: `GET /teams/{id}/members` per team, with `$filter` on userId / email.

use std::sync::Arc;

use futures::stream::StreamExt;
use graph_client::GraphRequest;
use graph_client::odata::Filter;

use crate::decode::{ParentIds, normalise};
use crate::discovery;
use crate::error::TeamsError;
use crate::filters::ValueSet;
use crate::plan::MEMBERS_MAX_TOP;
use crate::refusal::{self, Named};
use crate::scan::{Scan, ValueStream, fail};
use crate::schema::Table;

/// `(p eq 'a') or (p eq 'b')` over the documented cast path of aadUserConversationMember.
fn any_of(property: &str, values: &ValueSet) -> Result<Option<Filter>, TeamsError> {
    let path = format!("microsoft.graph.aadUserConversationMember/{property}");
    let mut out: Option<Filter> = None;
    for v in values {
        let f =
            Filter::eq_str(&path, v).map_err(|e| TeamsError::option(property, e.to_string()))?;
        out = Some(match out {
            Some(g) => g.or(f),
            None => f,
        });
    }
    Ok(out)
}

fn team_rows(scan: &Arc<Scan>, team: Named) -> ValueStream {
    let p = &scan.plan.pushdown;
    let team_id = team.id.clone();
    let mut req = GraphRequest::list_members(&team_id);
    if let Some(top) = scan.plan.top(Some(MEMBERS_MAX_TOP), true) {
        req = req.top(top);
    }
    for (property, values) in [("userId", &p.user_ids), ("email", &p.emails)] {
        if let Some(values) = values {
            match any_of(property, values) {
                Ok(Some(f)) => req = req.filter(f),
                Ok(None) => {}
                Err(e) => return fail(e),
            }
        }
    }
    scan.child_pages(req, refusal::team(&team), true)
        .map(move |page| {
            page.map(|p| {
                p.into_items()
                    .into_iter()
                    .map(|i| normalise(Table::Members, i, &ParentIds::team(&team_id)))
                    .collect()
            })
        })
        .boxed()
}

pub(crate) fn rows(scan: &Arc<Scan>) -> ValueStream {
    discovery::per_team(scan, team_rows)
}
