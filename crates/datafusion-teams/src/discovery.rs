//! Finding the parents to read when the query does not name them: every team of the tenant,
//! then every channel of each team, as streams, so the first channel's messages are requested
//! while later teams are still being listed. Pushed ids replace discovery (no request at all).

use std::sync::Arc;

use futures::stream::{self, BoxStream, StreamExt};
use graph_client::GraphRequest;
use serde_json::Value;

use crate::error::TeamsError;
use crate::scan::{RowStream, Scan, fail};

pub(crate) type IdStream = BoxStream<'static, Result<String, TeamsError>>;
pub(crate) type ChannelStream = BoxStream<'static, Result<(String, String), TeamsError>>;

fn ids_of(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| i.get("id").and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// Team ids: the pushed `team_id` values, or `GET /teams` page by page.
pub(crate) fn team_ids(scan: &Arc<Scan>) -> IdStream {
    if let Some(ids) = &scan.plan.pushdown.team_ids {
        let ids: Vec<Result<String, TeamsError>> = ids.iter().cloned().map(Ok).collect();
        return stream::iter(ids).boxed();
    }
    let mut req = GraphRequest::list_teams().select(&["id"]);
    if let Some(top) = scan.plan.options.page_size {
        req = req.top(top);
    }
    let state = Arc::clone(&scan.state);
    scan.tenant_pages(req, "listing the tenant's teams (GET /teams)")
        .flat_map(move |page| match page {
            Ok(p) => {
                let ids = ids_of(&p.items);
                state.teams_found(ids.iter().map(String::as_str));
                stream::iter(ids.into_iter().map(Ok).collect::<Vec<_>>()).boxed()
            }
            Err(e) => fail(e),
        })
        .boxed()
}

/// Rows of every team (named or discovered), `concurrency` teams at a time: the shape of every
/// table whose only parent is the team (channels, members).
pub(crate) fn per_team(
    scan: &Arc<Scan>,
    team_rows: fn(&Arc<Scan>, String) -> RowStream,
) -> RowStream {
    let s = Arc::clone(scan);
    team_ids(scan)
        .map(move |team| match team {
            Ok(t) => team_rows(&s, t),
            Err(e) => fail(e),
        })
        .flatten_unordered(scan.concurrency())
        .boxed()
}

/// Channel ids of one team: the pushed `channel_id` values when the team was named too,
/// otherwise `GET /teams/{id}/channels?$select=id` (restricted to pushed channel ids, if any).
pub(crate) fn team_channels(scan: &Arc<Scan>, team_id: String) -> ChannelStream {
    let p = &scan.plan.pushdown;
    if let (Some(_), Some(channels)) = (&p.team_ids, &p.channel_ids) {
        let pairs: Vec<Result<(String, String), TeamsError>> = channels
            .iter()
            .map(|c| Ok((team_id.clone(), c.clone())))
            .collect();
        return stream::iter(pairs).boxed();
    }
    let wanted = p.channel_ids.clone();
    let state = Arc::clone(&scan.state);
    let req = GraphRequest::list_channels(&team_id).select(&["id"]);
    scan.child_pages(req, format!("channels of team {team_id}"))
        .flat_map(move |page| match page {
            Ok(p) => {
                let pairs: Vec<Result<(String, String), TeamsError>> = ids_of(&p.items)
                    .into_iter()
                    .filter(|c| wanted.as_ref().is_none_or(|w| w.contains(c)))
                    .map(|c| Ok((team_id.clone(), c)))
                    .collect();
                state.channels_found(
                    pairs
                        .iter()
                        .flatten()
                        .map(|(t, c)| (t.as_str(), c.as_str())),
                );
                stream::iter(pairs).boxed()
            }
            Err(e) => fail(e),
        })
        .boxed()
}
