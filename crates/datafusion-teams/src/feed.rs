//! The change feed of one team's messages, for writers that keep a copy of the tenant up to date
//! (`teams-sql sync`): posts *and* replies from one Graph pass, hard deletes, and what was read
//! completely, so the writer knows which of its rows are gone.
//!
//! The cheapest source that answers (docs/graph.md §5) serves it:
//! - the export API, `getAllMessages` with `lastModifiedDateTime gt <since>`: posts and replies of
//!   every channel of the team in one chain, each on its own timestamp (§8.1, §9.22);
//! - else channel delta with the same `gt` bound and `$expand=replies`: every reply chain changed
//!   after it, and `@removed` entries for messages deleted for good (§9.21);
//! - else the channel listing with `$expand=replies`, read to the end: complete, so whatever the
//!   writer holds of that channel and the listing no longer shows is gone.
//!
//! Refusals follow the table options (`on_forbidden`); a refused or missing team or channel is
//! reported in the handle's report and yields no completeness marker, so nothing of it is
//! deleted.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::arrow::array::RecordBatch;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use futures::stream::{self, BoxStream, StreamExt};
use graph_client::odata::Filter;
use graph_client::{EndpointClass, GraphRequest, Page, Scope};
use serde_json::Value;

use crate::access::delta_window_start;
use crate::error::TeamsError;
use crate::filters::Pushdown;
use crate::handle::TeamsHandle;
use crate::message_decode::{MessageDecoder, Parent, Parents, Rows as DecodedRows};
use crate::metrics::ScanMetrics;
use crate::options::{MessageSource, TeamsOptions};
use crate::plan::{MESSAGES_MAX_TOP, ScanPlan};
use crate::refusal::{self, Named};
use crate::scan::{PageStream, Scan, Tally, fail};
use crate::schema::Table;
use crate::sources::messages::{Probed, delta_refused, export_refused};

/// What to read of one team.
#[derive(Clone, Debug)]
pub struct FeedRequest {
    pub team_id: String,
    /// The team's channels as listed in this run (delta and listing read them one by one).
    pub channel_ids: Vec<String>,
    /// Only messages last modified after this (the writer's cursor); `None` reads everything.
    pub since: Option<DateTime<Utc>>,
    /// Never anything last modified at or before this (`--start`), incremental or not.
    pub floor: Option<DateTime<Utc>>,
    /// Read the whole team (above the floor) if the export API serves it, whatever `since`:
    /// the export API does not report messages deleted for good (docs/graph.md §5.4), so only
    /// a complete read finds them gone. Channel delta reports them and ignores this.
    pub reconcile: bool,
}

/// The source that served (part of) a team.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FeedSource {
    Export,
    Delta,
    Listing,
}

impl std::fmt::Display for FeedSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FeedSource::Export => "export API",
            FeedSource::Delta => "channel delta",
            FeedSource::Listing => "channel listing",
        })
    }
}

/// A message Graph reports as deleted for good (`@removed`, docs/graph.md §9.21).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Removed {
    pub channel_id: String,
    /// The post of a removed reply, when Graph names it.
    pub parent_message_id: Option<String>,
    pub id: String,
    /// A root post (its whole thread goes with it) rather than a reply.
    pub is_post: bool,
}

/// One step of the feed.
#[derive(Debug)]
pub enum FeedItem {
    /// Rows of one page, in the full schemas of `messages` and `message_replies`.
    Rows {
        messages: RecordBatch,
        replies: RecordBatch,
        /// Largest `lastModifiedDateTime` among the items of the page (microseconds).
        max_modified: Option<i64>,
    },
    Removed(Vec<Removed>),
    /// A channel (or, `None`, the whole team) was served by this source.
    Source(FeedSource, Option<String>),
    /// Every message of this channel (above the floor) was read.
    ChannelComplete(String),
    /// Every message of the team (above the floor) was read.
    TeamComplete,
    /// The last item: how many children (channels, threads, the team itself) the feed left out
    /// (403 under `skip`, or 404), as reported in the handle's report. Zero means the whole
    /// team was read, whatever else the handle's other reads left out meanwhile.
    Skipped(usize),
}

pub type FeedStream = BoxStream<'static, Result<FeedItem, TeamsError>>;

/// The feed of one team (see the module documentation). Requests are made as the stream is
/// polled; its Graph requests count in the handle's client statistics.
pub fn team_feed(handle: &TeamsHandle, options: TeamsOptions, req: FeedRequest) -> FeedStream {
    let plan = ScanPlan::new(
        Table::Messages,
        Table::Messages.schema(),
        Pushdown::default(),
        options,
        None,
        &handle.state.facts(&handle.client),
    );
    let (client, stats) = handle.client.scoped();
    let mut scan = Scan::new(
        Arc::new(plan),
        client,
        Arc::clone(&handle.state),
        ScanMetrics::new(&ExecutionPlanMetricsSet::new(), 0, stats),
        Arc::new(Tally::new(1)),
    );
    // Four channels at once: what one team's 4/s limit admits of their 1/s each.
    scan.permits = Arc::new(tokio::sync::Semaphore::new(4));
    let feed = Arc::new(Feed {
        scan: Arc::new(scan),
        req,
        decoders: FeedDecoders::new(),
    });
    let source = feed.scan.plan.options.message_source;
    let items = match source {
        MessageSource::Auto | MessageSource::Export => export_team(&feed),
        _ => per_channel(&feed),
    };
    let scan = Arc::clone(&feed.scan);
    items
        .chain(stream::once(async move {
            Ok(FeedItem::Skipped(scan.metrics.children_skipped.value()))
        }))
        .boxed()
}

struct Feed {
    scan: Arc<Scan>,
    req: FeedRequest,
    decoders: FeedDecoders,
}

impl Feed {
    fn team(&self) -> Named {
        Named::id(self.req.team_id.clone())
    }

    /// The `gt` bound of the read: the later of cursor and floor, to the millisecond below
    /// (Graph compares at millisecond precision; widening only re-reads).
    fn lower(&self, incremental: bool) -> Option<DateTime<Utc>> {
        let since = if incremental { self.req.since } else { None };
        let t = match (since, self.req.floor) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }?;
        let ms = t.timestamp_micros().div_euclid(1000) * 1000;
        DateTime::<Utc>::from_timestamp_micros(ms)
    }

    fn above_floor(&self, modified: Option<i64>) -> bool {
        let Some(floor) = self.req.floor else {
            return true;
        };
        match modified {
            Some(t) => t > floor.timestamp_micros(),
            None => true,
        }
    }
}

fn str_field<'a>(item: &'a Value, key: &str) -> Option<&'a str> {
    item.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn gt_filter(t: DateTime<Utc>) -> Result<Filter, TeamsError> {
    Filter::gt("lastModifiedDateTime", t)
        .map_err(|e| TeamsError::option("last_modified_date_time", e.to_string()))
}

/// Rows of posts and replies of one page, in the two tables' full schemas.
#[derive(Default)]
struct PageRows {
    messages: Option<RecordBatch>,
    replies: Option<RecordBatch>,
    max_modified: Option<i64>,
    removed: Vec<Removed>,
}

/// The feed's decoders of message pages (the scan's [`MessageDecoder`]), full schemas.
struct FeedDecoders {
    /// Export API items: posts and replies mixed.
    export: MessageDecoder,
    /// Listing and delta pages: posts with their replies inline.
    expanded: MessageDecoder,
    /// Pages of one thread's replies.
    replies: MessageDecoder,
}

impl FeedDecoders {
    fn new() -> Self {
        let (m, r) = (Table::Messages.schema(), Table::MessageReplies.schema());
        FeedDecoders {
            export: MessageDecoder::new(&[Some(&m), Some(&r)], None),
            expanded: MessageDecoder::new(&[Some(&m)], Some(&r)),
            replies: MessageDecoder::new(&[Some(&r)], None),
        }
    }
}

impl PageRows {
    fn seen(&mut self, t: Option<i64>) {
        if let Some(t) = t {
            self.max_modified = Some(self.max_modified.map_or(t, |m| m.max(t)));
        }
    }

    /// Whether row `i` of `rows` (keyed, of the kind the caller checked) is a row to write:
    /// counted in the page's newest time either way.
    fn keep(&mut self, feed: &Feed, rows: &DecodedRows, i: usize) -> bool {
        let t = rows.modified(i);
        self.seen(t);
        feed.above_floor(t)
    }

    fn into_items(self) -> Vec<FeedItem> {
        let mut out = Vec::new();
        if !self.removed.is_empty() {
            out.push(FeedItem::Removed(self.removed));
        }
        let rows = |b: &Option<RecordBatch>| b.as_ref().map_or(0, RecordBatch::num_rows);
        if rows(&self.messages) > 0 || rows(&self.replies) > 0 {
            let or_empty = |b: Option<RecordBatch>, t: Table| {
                b.unwrap_or_else(|| RecordBatch::new_empty(t.schema()))
            };
            out.push(FeedItem::Rows {
                messages: or_empty(self.messages, Table::Messages),
                replies: or_empty(self.replies, Table::MessageReplies),
                max_modified: self.max_modified,
            });
        }
        out
    }
}

fn items(result: Result<Vec<FeedItem>, TeamsError>) -> FeedStream {
    match result {
        Ok(v) => stream::iter(v.into_iter().map(Ok)).boxed(),
        Err(e) => fail(e),
    }
}

fn one(item: FeedItem) -> FeedStream {
    stream::once(futures::future::ready(Ok(item))).boxed()
}

/// The export API for the whole team, falling back channel by channel once it is refused.
fn export_team(feed: &Arc<Feed>) -> FeedStream {
    let incremental = feed.req.since.is_some() && !feed.req.reconcile;
    let mut req = GraphRequest::get_all_messages(&feed.req.team_id)
        .top(feed.scan.plan.export_top())
        .prefer_include_unknown_enum_members();
    if let Some(t) = feed.lower(incremental) {
        match gt_filter(t) {
            Ok(f) => req = req.filter(f),
            Err(e) => return fail(e),
        }
    }
    let probed = Probed {
        req,
        availability: |state| &state.export,
        refused: export_refused,
        notice: |e, _| {
            format!(
                "{e}; sync reads messages through channel delta or the channel listing for the rest of this run"
            )
        },
        scope: Scope::team(feed.req.team_id.clone()),
        child: refusal::team(&feed.team()),
    };
    let (f1, f2) = (Arc::clone(feed), Arc::clone(feed));
    probed.rows(
        &feed.scan,
        move || per_channel(&f1),
        move |pages| {
            // A refusal or 404 part-way leaves the stream short; only a chain read to its end
            // is complete, which the flag below records.
            let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let d2 = Arc::clone(&done);
            let pages = pages
                .map(move |page| match page {
                    Ok(p) => {
                        if p.next_link.is_none() {
                            d2.store(true, std::sync::atomic::Ordering::Release);
                        }
                        items(export_rows(&f2, p))
                    }
                    Err(e) => fail(e),
                })
                .flatten();
            one(FeedItem::Source(FeedSource::Export, None))
                .chain(pages)
                .chain(
                    // An incremental chain holds only what changed: complete as a change set,
                    // never as the team's whole content.
                    stream::once(async move {
                        (!incremental && done.load(std::sync::atomic::Ordering::Acquire))
                            .then_some(Ok(FeedItem::TeamComplete))
                    })
                    .filter_map(futures::future::ready),
                )
                .boxed()
        },
    )
}

fn export_rows(feed: &Feed, page: Page) -> Result<Vec<FeedItem>, TeamsError> {
    let decoded = feed.decoders.export.decode(Table::Messages, &page)?;
    let items = &decoded.items;
    let class = EndpointClass::GetAllMessages;
    let mut rows = PageRows::default();
    let n = items.len();
    let (mut posts, mut replies) = (vec![false; n], vec![false; n]);
    for i in 0..n {
        if items.channel(i).is_none() || !feed.scan.keyed(items.id(i), class) {
            continue;
        }
        let keep = rows.keep(feed, items, i);
        match items.reply_to(i) {
            None => posts[i] = keep,
            Some(_) => replies[i] = keep,
        }
    }
    let team = feed.req.team_id.as_str();
    let channels: Vec<Option<&str>> = (0..n).map(|i| items.channel(i)).collect();
    let parents = Parents {
        team: Parent::Same(team),
        channel: Parent::PerRow(channels.clone()),
        parent: Parent::Null,
    };
    rows.messages =
        Some(items.rows(Table::Messages, &Table::Messages.schema(), &parents, &posts)?);
    let parents = Parents {
        parent: Parent::PerRow((0..n).map(|i| items.reply_to(i)).collect()),
        ..parents
    };
    rows.replies = Some(items.rows(
        Table::MessageReplies,
        &Table::MessageReplies.schema(),
        &parents,
        &replies,
    )?);
    Ok(rows.into_items())
}

/// Channel by channel: delta for incremental reads inside its window, else the listing. At
/// most four channels at once (Microsoft's per-team rate, docs/graph.md §4.3).
fn per_channel(feed: &Arc<Feed>) -> FeedStream {
    let f = Arc::clone(feed);
    let use_delta = feed
        .req
        .since
        .is_some_and(|s| s >= delta_window_start(Utc::now()))
        && matches!(
            feed.scan.plan.options.message_source,
            MessageSource::Auto | MessageSource::Export | MessageSource::Delta
        );
    stream::iter(feed.req.channel_ids.clone())
        .map(move |c| {
            if use_delta {
                delta_channel(&f, c)
            } else {
                listing_channel(&f, c)
            }
        })
        .flatten_unordered(4)
        .boxed()
}

/// Pages of posts with inline replies (listing or delta), with `@removed` entries, then the
/// pages behind each `replies@odata.nextLink`.
fn expanded_rows(feed: &Arc<Feed>, page: Page, channel: &str) -> FeedStream {
    let mut more: Vec<(String, String)> = Vec::new();
    let first = expanded_page(feed, &page, channel, &mut more);
    let first = items(first);
    let f = Arc::clone(feed);
    let team = feed.req.team_id.clone();
    let channel = channel.to_string();
    let rest = stream::iter(more)
        .map(move |(parent, link)| {
            let f2 = Arc::clone(&f);
            let c2 = channel.clone();
            let child = format!(
                "message {parent} in {}",
                refusal::channel(&f.team(), &Named::id(channel.clone()))
            );
            f.scan
                .follow_pages(
                    EndpointClass::RepliesList,
                    Scope::channel(team.clone(), channel.clone()),
                    Some(link),
                    child,
                )
                .map(move |page| match page {
                    Ok(p) => items(reply_page(&f2, &p, &c2, &parent)),
                    Err(e) => fail(e),
                })
                .flatten()
                .boxed()
        })
        .flatten();
    first.chain(rest).boxed()
}

/// Posts, inline replies and `@removed` entries of one listing or delta page; the threads with
/// more replies than came inline go to `more` (post id, `replies@odata.nextLink`).
fn expanded_page(
    feed: &Feed,
    page: &Page,
    channel: &str,
    more: &mut Vec<(String, String)>,
) -> Result<Vec<FeedItem>, TeamsError> {
    let decoded = feed.decoders.expanded.decode(Table::Messages, page)?;
    let posts = &decoded.items;
    let mut rows = PageRows::default();
    let n = posts.len();
    // Posts that are rows; `live[i]`: the post is not an `@removed` entry (its replies count).
    let (mut keep, mut live) = (vec![false; n], vec![false; n]);
    for i in 0..n {
        let Some(id) = posts.id(i) else {
            feed.scan.keyed(None, EndpointClass::MessagesList);
            continue;
        };
        if posts.removed(i) {
            let parent = posts.reply_to(i).map(str::to_string);
            rows.removed.push(Removed {
                channel_id: channel.to_string(),
                is_post: parent.is_none(),
                parent_message_id: parent,
                id: id.to_string(),
            });
            continue;
        }
        if let Some(link) = posts.replies_link(i) {
            more.push((id.to_string(), link.to_string()));
        }
        live[i] = true;
        keep[i] = rows.keep(feed, posts, i);
    }
    let parents = Parents {
        team: Parent::Same(&feed.req.team_id),
        channel: Parent::Same(channel),
        parent: Parent::Null,
    };
    rows.messages =
        Some(posts.rows(Table::Messages, &Table::Messages.schema(), &parents, &keep)?);
    if let Some((replies, post_of)) = decoded.inline_replies() {
        let mut keep = vec![false; replies.len()];
        for (j, k) in keep.iter_mut().enumerate() {
            *k = live[post_of[j]]
                && feed.scan.keyed(replies.id(j), EndpointClass::RepliesList)
                && rows.keep(feed, replies, j);
        }
        let parents = Parents {
            parent: Parent::PerRow(post_of.iter().map(|p| posts.id(*p)).collect()),
            ..parents
        };
        rows.replies = Some(replies.rows(
            Table::MessageReplies,
            &Table::MessageReplies.schema(),
            &parents,
            &keep,
        )?);
    }
    Ok(rows.into_items())
}

/// Rows of one page of a thread's replies.
fn reply_page(
    feed: &Feed,
    page: &Page,
    channel: &str,
    parent: &str,
) -> Result<Vec<FeedItem>, TeamsError> {
    let decoded = feed.decoders.replies.decode(Table::MessageReplies, page)?;
    let replies = &decoded.items;
    let mut rows = PageRows::default();
    let keep: Vec<bool> = (0..replies.len())
        .map(|j| {
            feed.scan.keyed(replies.id(j), EndpointClass::RepliesList)
                && rows.keep(feed, replies, j)
        })
        .collect();
    let parents = Parents {
        team: Parent::Same(&feed.req.team_id),
        channel: Parent::Same(channel),
        parent: Parent::Same(parent),
    };
    rows.replies = Some(replies.rows(
        Table::MessageReplies,
        &Table::MessageReplies.schema(),
        &parents,
        &keep,
    )?);
    Ok(rows.into_items())
}

/// Runs the pages of one channel through [`expanded_rows`]; `complete` adds the marker when
/// the chain was read to its end.
fn channel_pages(
    feed: &Arc<Feed>,
    pages: PageStream,
    channel: String,
    complete: bool,
) -> FeedStream {
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d2 = Arc::clone(&done);
    let f = Arc::clone(feed);
    let c2 = channel.clone();
    let rows = pages
        .map(move |page| match page {
            Ok(p) => {
                if p.next_link.is_none() {
                    d2.store(true, std::sync::atomic::Ordering::Release);
                }
                expanded_rows(&f, p, &c2)
            }
            Err(e) => fail(e),
        })
        .flatten();
    let end = stream::once(async move {
        (complete && done.load(std::sync::atomic::Ordering::Acquire))
            .then_some(Ok(FeedItem::ChannelComplete(channel)))
    })
    .filter_map(futures::future::ready);
    rows.chain(end).boxed()
}

/// `GET .../messages?$expand=replies`, to the end.
fn listing_channel(feed: &Arc<Feed>, channel: String) -> FeedStream {
    let top = feed
        .scan
        .plan
        .options
        .page_size
        .unwrap_or(MESSAGES_MAX_TOP)
        .min(MESSAGES_MAX_TOP);
    let req = GraphRequest::list_messages(&feed.req.team_id, &channel)
        .top(top)
        .prefer_include_unknown_enum_members()
        .expand("replies");
    let child = refusal::channel(&feed.team(), &Named::id(channel.clone()));
    let pages = feed.scan.child_pages(req, child, true);
    one(FeedItem::Source(FeedSource::Listing, Some(channel.clone())))
        .chain(channel_pages(feed, pages, channel, true))
        .boxed()
}

/// Channel delta with `lastModifiedDateTime gt <since>` and `$expand=replies`; the listing
/// once delta is refused.
fn delta_channel(feed: &Arc<Feed>, channel: String) -> FeedStream {
    let top = feed
        .scan
        .plan
        .options
        .page_size
        .unwrap_or(MESSAGES_MAX_TOP)
        .min(MESSAGES_MAX_TOP);
    let mut req = GraphRequest::messages_delta(&feed.req.team_id, &channel)
        .top(top)
        .prefer_include_unknown_enum_members()
        .expand("replies");
    if let Some(t) = feed.lower(true) {
        match gt_filter(t) {
            Ok(f) => req = req.filter(f),
            Err(e) => return fail(e),
        }
    }
    let probed = Probed {
        req,
        availability: |state| &state.delta,
        refused: delta_refused,
        notice: |e, _| {
            format!(
                "channel delta was refused ({e}); sync reads messages from the channel listing for the rest of this run"
            )
        },
        scope: Scope::channel(feed.req.team_id.clone(), channel.clone()),
        child: refusal::channel(&feed.team(), &Named::id(channel.clone())),
    };
    let (f1, f2) = (Arc::clone(feed), Arc::clone(feed));
    let c1 = channel.clone();
    probed.rows(
        &feed.scan,
        move || listing_channel(&f1, c1),
        move |pages| {
            // Delta may replay an entity (docs/graph.md §5.2): keep the first copy.
            let mut seen: HashSet<String> = HashSet::new();
            let pages = pages
                .map(move |page| {
                    page.map(|mut p| {
                        p.retain(|i| {
                            let key = format!(
                                "{}/{}",
                                str_field(i, "replyToId").unwrap_or(""),
                                str_field(i, "id").unwrap_or("")
                            );
                            seen.insert(key)
                        });
                        p
                    })
                })
                .boxed();
            one(FeedItem::Source(FeedSource::Delta, Some(channel.clone())))
                .chain(channel_pages(&f2, pages, channel, false))
                .boxed()
        },
    )
}
