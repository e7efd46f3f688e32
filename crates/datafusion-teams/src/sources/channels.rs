//! `channels`: `GET /teams/{id}/channels` per team with `$select` (so the expensive `email` is
//! only asked for when projected) and `$filter` on membershipType; `GET .../channels/{id}` when
//! both the team and the channel ids are pushed.

use std::sync::Arc;

use futures::stream::{self, StreamExt};
use graph_client::odata::Filter;
use graph_client::{ChainScope, EndpointClass, GraphRequest};
use serde_json::Value;

use crate::access::Read;
use crate::decode::{ParentIds, normalise};
use crate::discovery;
use crate::error::TeamsError;
use crate::refusal::{self, Named};
use crate::scan::{Scan, ValueStream, fail};
use crate::schema::Table;

fn keep(scan: &Scan, item: &Value) -> bool {
    match &scan.plan.pushdown.ids {
        None => true,
        Some(ids) => item
            .get("id")
            .and_then(Value::as_str)
            .is_some_and(|id| ids.contains(id)),
    }
}

fn team_rows(scan: &Arc<Scan>, team: Named) -> ValueStream {
    let team_id = team.id.clone();
    let p = &scan.plan.pushdown;
    let cols = scan.plan.select_list();
    let cols: Vec<&str> = cols.iter().map(String::as_str).collect();
    if scan.plan.access.read == Read::ChannelGet {
        let reqs: Vec<(String, GraphRequest)> = p
            .ids
            .iter()
            .flatten()
            .map(|id| {
                (
                    id.clone(),
                    GraphRequest::get_channel(&team_id, id).select(&cols),
                )
            })
            .collect();
        let concurrency = scan.chains(EndpointClass::ChannelGet, ChainScope::Channel);
        let scan = Arc::clone(scan);
        return stream::iter(reqs)
            .map(move |(id, req)| {
                let scan = Arc::clone(&scan);
                let team_id = team_id.clone();
                let child = refusal::channel(&team, &Named::id(id));
                async move {
                    let item = scan.get_one(req, &child).await?;
                    Ok::<_, TeamsError>(
                        item.filter(|i| keep(&scan, i))
                            .map(|i| normalise(Table::Channels, i, &ParentIds::team(&team_id)))
                            .into_iter()
                            .collect(),
                    )
                }
            })
            .buffered(concurrency)
            .boxed();
    }
    let mut req = GraphRequest::list_channels(&team_id).select(&cols);
    if let Some(types) = &p.membership_types {
        let mut filter: Option<Filter> = None;
        for t in types {
            match Filter::eq_str("membershipType", t) {
                Ok(f) => {
                    filter = Some(match filter {
                        Some(g) => g.or(f),
                        None => f,
                    })
                }
                Err(e) => return fail(TeamsError::option("membership_type", e.to_string())),
            }
        }
        if let Some(f) = filter {
            req = req.filter(f);
        }
    }
    let s = Arc::clone(scan);
    scan.child_pages(req, refusal::team(&team), true)
        .map(move |page| {
            page.map(|p| {
                p.into_items()
                    .into_iter()
                    .filter(|i| keep(&s, i))
                    .map(|i| normalise(Table::Channels, i, &ParentIds::team(&team_id)))
                    .collect()
            })
        })
        .boxed()
}

pub(crate) fn rows(scan: &Arc<Scan>) -> ValueStream {
    discovery::per_team(scan, team_rows)
}
