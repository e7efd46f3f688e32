//! `messages` and `message_replies`, from the cheapest documented source (docs/graph.md §2.6, §5):
//!
//! - channel listing, `GET .../messages?$expand=replies`: one pass gives root posts and up to
//!   1000 replies each (`replies@odata.nextLink` beyond), so replies never cost one request per
//!   message;
//! - the export API, `GET /teams/{id}/channels/getAllMessages` with a lastModifiedDateTime range,
//!   for time-bounded queries; refused (402/403) once per run, then the run falls back;
//! - channel delta with `lastModifiedDateTime gt`, for recent lower bounds (8-month window);
//!   the documented 400s make the run fall back to the channel listing;
//! - `GET .../messages/{id}` and `.../messages/{id}/replies` only when team, channel and message
//!   (parent) ids are all named and the plan found point reads cheaper (`ScanPlan::access`).

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;

use chrono::{DateTime, Utc};
use futures::stream::{self, BoxStream, StreamExt};
use graph_client::odata::Filter;
use graph_client::{ChainScope, EndpointClass, GraphError, GraphRequest, Page, Scope};
use serde_json::Value;

use crate::access::{Fallback, Read};
use crate::decode::{ParentIds, normalise};
use crate::discovery;
use crate::error::TeamsError;
use crate::filters::Bound;
use crate::handle::{Availability, RunState};
use crate::message_decode::{Parent, Parents, Rows as DecodedRows};
use crate::plan::{MESSAGES_MAX_TOP, ScanPlan};
use crate::refusal::{self, Named};
use crate::scan::{Chunk, Failure, PageStream, RowStream, Scan, fail};
use crate::schema::Table;

fn replies_table(scan: &Scan) -> bool {
    scan.plan.table == Table::MessageReplies
}

fn str_field<'a>(item: &'a Value, key: &str) -> Option<&'a str> {
    item.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn wanted_parent(scan: &Scan, message_id: &str) -> bool {
    scan.plan
        .pushdown
        .parent_message_ids
        .as_ref()
        .is_none_or(|s| s.contains(message_id))
}

pub(crate) fn rows(scan: &Arc<Scan>) -> RowStream {
    if let Some(notice) = &scan.plan.access.notice {
        scan.state.notice(notice.clone());
    }
    let s = Arc::clone(scan);
    match &scan.plan.access.read {
        Read::MessageGet(_) => per_channel(scan, messages_by_id),
        Read::RepliesByParent(_) => per_channel(scan, replies_by_parent),
        Read::Export { .. } => discovery::team_ids(scan)
            .map(move |team| match team {
                Ok(t) => export_team(&s, t),
                Err(e) => fail(e),
            })
            .flatten_unordered(scan.chains(EndpointClass::GetAllMessages, ChainScope::Team))
            .boxed(),
        Read::Delta => per_channel(scan, delta_channel),
        _ => per_channel(scan, channel_listing),
    }
}

/// Runs `f` on every channel, spread across teams: at most four channels per team (Microsoft
/// allows four requests per second per app on a team and one per channel, docs/graph.md §4.3),
/// several teams at once, and as many channels in all as fill the tenant budget (the scan's
/// permits, `Scan::chains`), which is also what bounds the pages held in memory. A channel
/// waiting for its own slot holds a permit, but there are enough of them for the other
/// channels to keep the tenant budget full meanwhile.
fn per_channel(scan: &Arc<Scan>, f: fn(&Arc<Scan>, Named, Named) -> RowStream) -> RowStream {
    let per_team = scan.channels_per_team();
    let s = Arc::clone(scan);
    discovery::team_ids(scan)
        .map(move |team| match team {
            Ok(t) => {
                let s2 = Arc::clone(&s);
                s.seen.team();
                discovery::team_channels(&s, t)
                    .map(move |pair| match pair {
                        Ok((t, c)) => {
                            s2.seen.channel(&c.id);
                            s2.with_permit(f(&s2, t, c))
                        }
                        Err(e) => fail(e),
                    })
                    .flatten_unordered(per_team)
                    .boxed()
            }
            Err(e) => fail(e),
        })
        .flatten_unordered(scan.concurrency())
        .boxed()
}

fn message_row(scan: &Scan, item: Value, team: &str, channel: &str) -> Option<Value> {
    let wanted_id = scan
        .plan
        .pushdown
        .ids
        .as_ref()
        .is_none_or(|ids| str_field(&item, "id").is_some_and(|id| ids.contains(id)));
    (wanted_id && item.get("@removed").is_none() && scan.in_time_range(&item))
        .then(|| normalise(Table::Messages, item, &ParentIds::channel(team, channel)))
}

/// Whether a decoded root post is a row of `messages`: keyed, named by the pushed ids if any,
/// not an `@removed` entry, in the pushed time range.
fn post_wanted(scan: &Scan, rows: &DecodedRows, i: usize, class: EndpointClass) -> bool {
    let id = rows.id(i);
    scan.keyed(id, class)
        && scan
            .plan
            .pushdown
            .ids
            .as_ref()
            .is_none_or(|ids| id.is_some_and(|id| ids.contains(id)))
        && !rows.removed(i)
        && scan.in_range(rows.modified(i))
}

/// Whether a decoded reply is a row of `message_replies` (its parent is checked by the caller).
fn reply_wanted(scan: &Scan, rows: &DecodedRows, i: usize, class: EndpointClass) -> bool {
    scan.keyed(rows.id(i), class) && !rows.removed(i) && scan.in_range(rows.modified(i))
}

fn batch(result: Result<RecordBatch, TeamsError>) -> RowStream {
    stream::once(futures::future::ready(result.map(Chunk::Batch))).boxed()
}

/// `GET .../messages/{id}` for every named message id in one channel, one after the other
/// (one request per second per channel, docs/graph.md §4.3).
fn messages_by_id(scan: &Arc<Scan>, team: Named, channel: Named) -> RowStream {
    let ids: Vec<String> = scan.plan.pushdown.ids.iter().flatten().cloned().collect();
    let child = refusal::channel(&team, &channel);
    let (t, c) = (team.id, channel.id);
    let s = Arc::clone(scan);
    stream::iter(ids)
        .then(move |m| {
            let s = Arc::clone(&s);
            let (t, c) = (t.clone(), c.clone());
            let what = format!("message {m} in {child}");
            async move {
                let req =
                    GraphRequest::get_message(&t, &c, &m).prefer_include_unknown_enum_members();
                let item = s.get_one(req, &what).await?;
                Ok::<Chunk, TeamsError>(Chunk::Values(
                    item.and_then(|i| message_row(&s, i, &t, &c))
                        .into_iter()
                        .collect(),
                ))
            }
        })
        .boxed()
}

/// Rows of one page of replies to `parent` (a `replies@odata.nextLink` page or a replies list).
fn reply_page_rows(
    scan: &Scan,
    page: &Page,
    team: &str,
    channel: &str,
    parent: &str,
) -> Result<RecordBatch, TeamsError> {
    let table = scan.plan.table;
    let _timer = scan.metrics.baseline.elapsed_compute().timer();
    let decoded = scan.decoders.items.decode(table, page)?;
    let rows = &decoded.items;
    scan.seen.replies(rows.len());
    let keep: Vec<bool> = (0..rows.len())
        .map(|i| reply_wanted(scan, rows, i, EndpointClass::RepliesList))
        .collect();
    let parents = Parents {
        team: Parent::Same(team),
        channel: Parent::Same(channel),
        parent: Parent::Same(parent),
    };
    rows.rows(table, &scan.plan.schema, &parents, &keep)
}

/// Rows of one page of root messages: the posts for `messages`; for `message_replies`, the
/// inline replies (`$expand=replies`), then the pages behind each `replies@odata.nextLink`
/// (threads of more than 1000 replies).
fn expanded_page_rows(scan: &Arc<Scan>, page: Page, team: Named, channel: Named) -> RowStream {
    let child = refusal::channel(&team, &channel);
    let (team, channel) = (team.id, channel.id);
    let table = scan.plan.table;
    let class = EndpointClass::MessagesList;
    let timer = scan.metrics.baseline.elapsed_compute().timer();
    if !replies_table(scan) {
        let out = scan.decoders.items.decode(table, &page).and_then(|d| {
            let rows = &d.items;
            scan.seen.posts(rows.len());
            let keep: Vec<bool> = (0..rows.len())
                .map(|i| post_wanted(scan, rows, i, class))
                .collect();
            let parents = Parents {
                team: Parent::Same(&team),
                channel: Parent::Same(&channel),
                parent: Parent::Null,
            };
            rows.rows(table, &scan.plan.schema, &parents, &keep)
        });
        return batch(out);
    }
    let mut more: Vec<(String, String)> = Vec::new();
    let inline = scan.decoders.expanded.decode(table, &page).and_then(|d| {
        let posts = &d.items;
        // Posts whose replies are wanted: keyed, named by the pushed parent ids if any.
        let wanted: Vec<Option<&str>> = (0..posts.len())
            .map(|i| {
                let id = posts.id(i);
                (scan.keyed(id, class) && id.is_some_and(|id| wanted_parent(scan, id)))
                    .then_some(id)
                    .flatten()
            })
            .collect();
        scan.seen
            .posts(wanted.iter().filter(|w| w.is_some()).count());
        for (i, id) in wanted.iter().enumerate() {
            if let (Some(id), Some(link)) = (id, posts.replies_link(i)) {
                more.push((id.to_string(), link.to_string()));
            }
        }
        let Some((replies, post_of)) = d.inline_replies() else {
            return Ok(RecordBatch::new_empty(Arc::clone(&scan.plan.schema)));
        };
        scan.seen
            .replies(post_of.iter().filter(|p| wanted[**p].is_some()).count());
        let keep: Vec<bool> = (0..replies.len())
            .map(|j| {
                wanted[post_of[j]].is_some()
                    && reply_wanted(scan, replies, j, EndpointClass::RepliesList)
            })
            .collect();
        let parents = Parents {
            team: Parent::Same(&team),
            channel: Parent::Same(&channel),
            parent: Parent::PerRow(post_of.iter().map(|p| wanted[*p]).collect()),
        };
        replies.rows(table, &scan.plan.schema, &parents, &keep)
    });
    drop(timer);
    let first = batch(inline);
    let s = Arc::clone(scan);
    let rest = stream::iter(more).flat_map(move |(parent, link)| {
        let s2 = Arc::clone(&s);
        let (team, channel) = (team.clone(), channel.clone());
        s.follow_pages(
            EndpointClass::RepliesList,
            Scope::channel(team.clone(), channel.clone()),
            Some(link),
            format!("message {parent} in {child}"),
        )
        .map(move |page| {
            page.and_then(|p| reply_page_rows(&s2, &p, &team, &channel, &parent))
                .map(Chunk::Batch)
        })
    });
    first.chain(rest).boxed()
}

fn page_stream_rows(scan: &Arc<Scan>, pages: PageStream, team: Named, channel: Named) -> RowStream {
    let s = Arc::clone(scan);
    pages
        .flat_map(move |page| match page {
            Ok(p) => expanded_page_rows(&s, p, team.clone(), channel.clone()),
            Err(e) => fail(e),
        })
        .boxed()
}

/// `GET /teams/{t}/channels/{c}/messages`, with `$expand=replies` for the replies table.
fn channel_listing(scan: &Arc<Scan>, team: Named, channel: Named) -> RowStream {
    let replies = replies_table(scan);
    let top = scan
        .plan
        .top(Some(MESSAGES_MAX_TOP), !replies)
        .unwrap_or(MESSAGES_MAX_TOP);
    let mut req = GraphRequest::list_messages(&team.id, &channel.id)
        .top(top)
        .prefer_include_unknown_enum_members();
    if replies {
        req = req.expand("replies");
    }
    let pages = scan.child_pages(req, refusal::channel(&team, &channel), true);
    page_stream_rows(scan, pages, team, channel)
}

/// `GET .../messages/{id}/replies` for every named parent message in one channel.
fn replies_by_parent(scan: &Arc<Scan>, team: Named, channel: Named) -> RowStream {
    let parents: Vec<String> = scan
        .plan
        .pushdown
        .parent_message_ids
        .iter()
        .flatten()
        .cloned()
        .collect();
    let top = scan
        .plan
        .top(Some(MESSAGES_MAX_TOP), true)
        .unwrap_or(MESSAGES_MAX_TOP);
    let child = refusal::channel(&team, &channel);
    let (t, c) = (team.id, channel.id);
    let s = Arc::clone(scan);
    stream::iter(parents)
        .flat_map(move |m| {
            let req = GraphRequest::list_replies(&t, &c, &m)
                .top(top)
                .prefer_include_unknown_enum_members();
            let s2 = Arc::clone(&s);
            let (t, c) = (t.clone(), c.clone());
            s.child_pages(req, format!("message {m} in {child}"), true)
                .map(move |page| {
                    page.and_then(|p| reply_page_rows(&s2, &p, &t, &c, &m))
                        .map(Chunk::Batch)
                })
                .boxed()
        })
        .boxed()
}

fn micros_to_datetime(micros: i64) -> Option<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp_micros(micros)
}

/// `gt` value that keeps every row SQL keeps: Graph compares at millisecond precision.
fn lower_gt(b: Bound) -> Option<DateTime<Utc>> {
    let floor_ms = b.micros.div_euclid(1000) * 1000;
    let v = if b.inclusive {
        floor_ms - 1000
    } else {
        floor_ms
    };
    micros_to_datetime(v)
}

/// `lt` value that keeps every row SQL keeps.
fn upper_lt(b: Bound) -> Option<DateTime<Utc>> {
    let ceil_ms = (b.micros + 999).div_euclid(1000) * 1000;
    let v = if b.inclusive { ceil_ms + 1000 } else { ceil_ms };
    micros_to_datetime(v)
}

fn time_filter(scan: &Scan, with_upper: bool) -> Result<Option<Filter>, TeamsError> {
    let range = &scan.plan.pushdown.modified;
    let mut out: Option<Filter> = None;
    let bad = |e: graph_client::odata::FilterError| {
        TeamsError::option("last_modified_date_time", e.to_string())
    };
    if let Some(t) = range.lower.and_then(lower_gt) {
        out = Some(Filter::gt("lastModifiedDateTime", t).map_err(bad)?);
    }
    if with_upper && let Some(t) = range.upper.and_then(upper_lt) {
        let f = Filter::lt("lastModifiedDateTime", t).map_err(bad)?;
        out = Some(match out {
            Some(g) => g.and(f),
            None => f,
        });
    }
    Ok(out)
}

/// A source whose availability is learned once per run (the export API, channel delta): its
/// first request runs under the run's lock for that source, so concurrent teams or channels do
/// not all probe a refusing endpoint. A documented refusal switches the run to the fallback
/// the plan chose; otherwise the pages, followed to the end, become rows.
pub(crate) struct Probed {
    pub(crate) req: GraphRequest,
    pub(crate) availability: fn(&RunState) -> &tokio::sync::Mutex<Availability>,
    /// Recognises the documented refusal.
    pub(crate) refused: fn(&GraphError) -> bool,
    /// The notice of the run's first refusal, given the error.
    pub(crate) notice: fn(&GraphError, &ScanPlan) -> String,
    pub(crate) scope: Scope,
    pub(crate) child: String,
}

impl Probed {
    /// The source's pages turned into `T`s by `rows` (scans make rows, the change feed makes
    /// feed items); `fallback` once the source is refused; nothing for a skipped child.
    pub(crate) fn rows<T: Send + 'static>(
        self,
        scan: &Arc<Scan>,
        fallback: impl FnOnce() -> BoxStream<'static, Result<T, TeamsError>> + Send + 'static,
        rows: impl FnOnce(PageStream) -> BoxStream<'static, Result<T, TeamsError>> + Send + 'static,
    ) -> BoxStream<'static, Result<T, TeamsError>> {
        let s = Arc::clone(scan);
        stream::once(async move {
            let lock = (self.availability)(&s.state);
            match probe(&s, lock, &self.req, self.refused, &self.child).await {
                Err(e) => fail(e),
                Ok(Probe::Skipped) => stream::empty().boxed(),
                Ok(Probe::Refused(first)) => {
                    if let Some(e) = first {
                        s.state.notice((self.notice)(&e, &s.plan));
                    }
                    fallback()
                }
                Ok(Probe::First(page)) => {
                    let next = page.next_link.clone();
                    let rest = s.follow_pages(self.req.class(), self.scope, next, self.child);
                    rows(
                        stream::once(futures::future::ready(Ok(page)))
                            .chain(rest)
                            .boxed(),
                    )
                }
            }
        })
        .flatten()
        .boxed()
    }
}

/// Runs `req`, the first request of a source whose availability is learned once per run,
/// under the run's lock for that source; `refused` recognises the documented refusal.
async fn probe(
    scan: &Arc<Scan>,
    lock: &tokio::sync::Mutex<Availability>,
    req: &GraphRequest,
    refused: fn(&GraphError) -> bool,
    what: &str,
) -> Result<Probe, TeamsError> {
    let mut held = Some(lock.lock().await);
    match held.as_deref().copied() {
        Some(Availability::Refused) => return Ok(Probe::Refused(None)),
        // Known to work: no need to hold the others back.
        Some(Availability::Available) => held = None,
        // Unknown: the lock stays held over this first request, so that concurrent callers
        // wait for its verdict instead of all probing a refusing endpoint.
        _ => {}
    }
    match scan.client.get_page(req).await {
        Ok(page) => {
            if let Some(state) = held.as_mut() {
                **state = Availability::Available;
            }
            Ok(Probe::First(scan.counted(page, req.class())))
        }
        // Capacity can run out mid-run (402 after the monthly evaluation quota): this team
        // falls back like the first refusal did, rather than being skipped.
        Err(e) if refused(&e) => {
            match held.as_mut() {
                Some(state) => **state = Availability::Refused,
                None => *lock.lock().await = Availability::Refused,
            }
            Ok(Probe::Refused(Some(e)))
        }
        Err(e) => match scan.classify(what, e) {
            Failure::Skipped => Ok(Probe::Skipped),
            Failure::Fatal(e) => Err(e),
        },
    }
}

enum Probe {
    First(Page),
    /// Refused; `Some` the first time in this run (the caller writes the notice).
    Refused(Option<GraphError>),
    Skipped,
}

pub(crate) fn export_refused(e: &GraphError) -> bool {
    matches!(e, GraphError::ExportUnavailable { .. })
}

pub(crate) fn delta_refused(e: &GraphError) -> bool {
    matches!(e, GraphError::DeltaUnsupported { .. })
        || (e.status() == Some(400) && !matches!(e, GraphError::Throttled { .. }))
}

/// Where a team's messages come from once the export API is refused.
fn export_fallback(scan: &Arc<Scan>, team: Named) -> RowStream {
    let use_delta = matches!(
        scan.plan.access.read,
        Read::Export {
            fallback: Fallback::Delta
        }
    );
    let s = Arc::clone(scan);
    discovery::team_channels(scan, team)
        .map(move |pair| match pair {
            Ok((t, c)) if use_delta => delta_channel(&s, t, c),
            Ok((t, c)) => channel_listing(&s, t, c),
            Err(e) => fail(e),
        })
        .flatten_unordered(scan.concurrency())
        .boxed()
}

/// Export API rows of one team: root posts and replies mixed, channel from `channelIdentity`.
fn export_team(scan: &Arc<Scan>, team: Named) -> RowStream {
    let mut req = GraphRequest::get_all_messages(&team.id)
        .top(scan.plan.export_top())
        .prefer_include_unknown_enum_members();
    match time_filter(scan, true) {
        Ok(Some(f)) => req = req.filter(f),
        Ok(None) => {}
        Err(e) => return fail(e),
    }
    scan.seen.team();
    let probed = Probed {
        req,
        availability: |state| &state.export,
        refused: export_refused,
        notice: |e, plan| {
            let delta = matches!(
                plan.access.read,
                Read::Export {
                    fallback: Fallback::Delta
                }
            );
            format!(
                "{e}; reading messages from the channel listing{} for the rest of this run",
                if delta { " and channel delta" } else { "" }
            )
        },
        scope: Scope::team(team.id.clone()),
        child: refusal::team(&team),
    };
    let (s, s2) = (Arc::clone(scan), Arc::clone(scan));
    let team_id = team.id.clone();
    probed.rows(
        scan,
        move || export_fallback(&s, team),
        move |pages| {
            pages
                .map(move |page| {
                    page.and_then(|p| export_rows(&s2, p, &team_id))
                        .map(Chunk::Batch)
                })
                .boxed()
        },
    )
}

fn export_rows(scan: &Scan, page: Page, team: &str) -> Result<RecordBatch, TeamsError> {
    let p = &scan.plan.pushdown;
    let table = scan.plan.table;
    let _timer = scan.metrics.baseline.elapsed_compute().timer();
    let decoded = scan.decoders.items.decode(table, &page)?;
    let rows = &decoded.items;
    let class = EndpointClass::GetAllMessages;
    let replies = replies_table(scan);
    let mut keep = Vec::with_capacity(rows.len());
    for i in 0..rows.len() {
        let wanted = match rows.channel(i) {
            Some(channel) if p.channel_ids.as_ref().is_none_or(|w| w.contains(channel)) => {
                let parent = rows.reply_to(i);
                scan.seen.export_item(channel, parent.is_some());
                match (parent, replies) {
                    (None, false) => post_wanted(scan, rows, i, class),
                    (Some(parent), true) if wanted_parent(scan, parent) => {
                        reply_wanted(scan, rows, i, class)
                    }
                    _ => false,
                }
            }
            _ => false,
        };
        keep.push(wanted);
    }
    let parents = Parents {
        team: Parent::Same(team),
        channel: Parent::PerRow((0..rows.len()).map(|i| rows.channel(i)).collect()),
        parent: if replies {
            Parent::PerRow((0..rows.len()).map(|i| rows.reply_to(i)).collect())
        } else {
            Parent::Null
        },
    };
    rows.rows(table, &scan.plan.schema, &parents, &keep)
}

/// Channel delta with `lastModifiedDateTime gt` (and `$expand=replies` for replies).
fn delta_channel(scan: &Arc<Scan>, team: Named, channel: Named) -> RowStream {
    let mut req = GraphRequest::messages_delta(&team.id, &channel.id)
        .top(
            scan.plan
                .top(Some(MESSAGES_MAX_TOP), false)
                .unwrap_or(MESSAGES_MAX_TOP),
        )
        .prefer_include_unknown_enum_members();
    if replies_table(scan) {
        req = req.expand("replies");
    }
    match time_filter(scan, false) {
        Ok(Some(f)) => req = req.filter(f),
        Ok(None) => {}
        Err(e) => return fail(e),
    }
    let probed = Probed {
        req,
        availability: |state| &state.delta,
        refused: delta_refused,
        notice: |e, _| {
            format!(
                "channel delta was refused ({e}); reading messages from the channel listing for the rest of this run"
            )
        },
        scope: Scope::channel(team.id.clone(), channel.id.clone()),
        child: refusal::channel(&team, &channel),
    };
    let (s, s2) = (Arc::clone(scan), Arc::clone(scan));
    let (t2, c2) = (team.clone(), channel.clone());
    probed.rows(
        scan,
        move || channel_listing(&s, team, channel),
        move |pages| {
            // Delta may replay an entity; keep the first copy of each root message.
            let mut seen: HashSet<String> = HashSet::new();
            let pages = pages
                .map(move |page| {
                    page.map(|mut p| {
                        p.retain(|i| {
                            str_field(i, "id").is_none_or(|id| seen.insert(id.to_string()))
                        });
                        p
                    })
                })
                .boxed();
            page_stream_rows(&s2, pages, t2, c2)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_side_bounds_only_widen() {
        // 2024-01-01T00:00:00.000500Z inclusive lower -> gt 23:59:59.999Z.
        let t = 1_704_067_200_000_000i64;
        let lower = lower_gt(Bound {
            micros: t + 500,
            inclusive: true,
        })
        .unwrap();
        assert_eq!(lower.timestamp_micros(), t - 1000);
        let lower = lower_gt(Bound {
            micros: t,
            inclusive: false,
        })
        .unwrap();
        assert_eq!(lower.timestamp_micros(), t);
        let upper = upper_lt(Bound {
            micros: t + 500,
            inclusive: false,
        })
        .unwrap();
        assert_eq!(upper.timestamp_micros(), t + 1000);
        let upper = upper_lt(Bound {
            micros: t,
            inclusive: true,
        })
        .unwrap();
        assert_eq!(upper.timestamp_micros(), t + 1000);
    }
}
