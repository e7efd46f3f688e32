//! Finding the parents to read when the query does not name them: every team of the tenant,
//! then every channel of each team, as streams, so the first channel's messages are requested
//! while later teams are still being listed. Pushed ids replace discovery (no request at all).
//! Listing asks for display names too (same request), so a refusal can name what was refused.

use std::sync::Arc;

use futures::stream::{self, BoxStream, StreamExt};
use graph_client::{ChainScope, EndpointClass, GraphRequest};
use serde_json::Value;

use crate::access::{ChannelsFrom, TeamsFrom};
use crate::error::TeamsError;
use crate::refusal::{self, Named};
use crate::scan::{Scan, ValueStream, fail};

pub(crate) type TeamStream = BoxStream<'static, Result<Named, TeamsError>>;
pub(crate) type ChannelStream = BoxStream<'static, Result<(Named, Named), TeamsError>>;

/// Items of a listing as named parents (items without an id were already left out).
fn named(items: &[Value]) -> Vec<Named> {
    items
        .iter()
        .filter_map(|i| {
            Some(Named {
                id: i.get("id").and_then(Value::as_str)?.to_string(),
                name: i
                    .get("displayName")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            })
        })
        .collect()
}

/// Teams: the pushed `team_id` values, or `GET /teams` page by page.
pub(crate) fn team_ids(scan: &Arc<Scan>) -> TeamStream {
    if scan.plan.access.teams == TeamsFrom::Named {
        let ids: Vec<Result<Named, TeamsError>> = scan
            .plan
            .pushdown
            .team_ids
            .iter()
            .flatten()
            .map(|id| Ok(Named::id(id.clone())))
            .collect();
        return stream::iter(ids).boxed();
    }
    let mut req = GraphRequest::list_teams().select(&["id", "displayName"]);
    if let Some(top) = scan.plan.options.page_size {
        req = req.top(top);
    }
    let state = Arc::clone(&scan.state);
    scan.tenant_pages(req, "listing the tenant's teams (GET /teams)")
        .flat_map(move |page| match page {
            Ok(p) => {
                let teams = named(&p.items());
                state.teams_found(teams.iter().map(|t| t.id.as_str()));
                stream::iter(teams.into_iter().map(Ok).collect::<Vec<_>>()).boxed()
            }
            Err(e) => fail(e),
        })
        .boxed()
}

/// Rows of every team (named or discovered), as many teams at a time as fill the tenant budget
/// of team collections (`Scan::chains`): the shape of every table whose only parent is the
/// team (channels, members).
pub(crate) fn per_team(
    scan: &Arc<Scan>,
    team_rows: fn(&Arc<Scan>, Named) -> ValueStream,
) -> ValueStream {
    let s = Arc::clone(scan);
    team_ids(scan)
        .map(move |team| match team {
            Ok(t) => team_rows(&s, t),
            Err(e) => fail(e),
        })
        .flatten_unordered(scan.chains(EndpointClass::MembersList, ChainScope::Team))
        .boxed()
}

/// Channels of one team: the pushed `channel_id` values when the team was named too,
/// otherwise `GET /teams/{id}/channels?$select=id,displayName` (restricted to pushed channel
/// ids, if any).
pub(crate) fn team_channels(scan: &Arc<Scan>, team: Named) -> ChannelStream {
    let p = &scan.plan.pushdown;
    // Several named teams and channels: the plan chose whether to learn which pairs exist.
    if scan.plan.access.channels == ChannelsFrom::Named {
        let pairs: Vec<Result<(Named, Named), TeamsError>> = p
            .channel_ids
            .iter()
            .flatten()
            .map(|c| Ok((team.clone(), Named::id(c.clone()))))
            .collect();
        return stream::iter(pairs).boxed();
    }
    let wanted = p.channel_ids.clone();
    let state = Arc::clone(&scan.state);
    let req = GraphRequest::list_channels(&team.id).select(&["id", "displayName"]);
    scan.child_pages(req, refusal::team(&team), false)
        .flat_map(move |page| match page {
            Ok(p) => {
                let pairs: Vec<Result<(Named, Named), TeamsError>> = named(&p.items())
                    .into_iter()
                    .filter(|c| wanted.as_ref().is_none_or(|w| w.contains(&c.id)))
                    .map(|c| Ok((team.clone(), c)))
                    .collect();
                state.channels_found(
                    pairs
                        .iter()
                        .flatten()
                        .map(|(t, c)| (t.id.as_str(), c.id.as_str())),
                );
                stream::iter(pairs).boxed()
            }
            Err(e) => fail(e),
        })
        .boxed()
}
