//! What one running scan shares between its sources: the plan, a Graph client scoped to this
//! scan (so its statistics are this scan's), the run state, and the metrics.
//!
//! Sources produce [`RowStream`]s: one chunk per Graph page (or per page of parents), either
//! normalised JSON rows that the execution plan decodes into Arrow batches, or (message pages)
//! a batch already decoded from the page's bytes. Every stream is
//! lazy: nothing is requested before it is polled and nothing after it is dropped.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use chrono::DateTime;
use futures::stream::{self, BoxStream, StreamExt};
use graph_client::{ChainScope, EndpointClass, GraphClient, GraphError, GraphRequest, Page, Scope};
use serde_json::Value;

use crate::cost::{self, Shape};
use crate::error::TeamsError;
use crate::handle::RunState;
use crate::message_decode::MessageDecoder;
use crate::metrics::ScanMetrics;
use crate::options::OnForbidden;
use crate::plan::ScanPlan;
use crate::refusal::{self, Cause, Groups};
use crate::schema::Table;

/// Latency assumed before the client has seen any answer: on the slow side of Graph's usual
/// 60-250 ms, since too many open chains only cost memory and too few cost throughput.
const ASSUMED_LATENCY: std::time::Duration = std::time::Duration::from_millis(500);

/// Normalised rows of one page.
pub(crate) type Rows = Vec<Value>;
/// The rows of one page, as JSON rows or already in Arrow (in the scan's projected schema).
#[derive(Debug)]
pub(crate) enum Chunk {
    Values(Rows),
    Batch(datafusion::arrow::array::RecordBatch),
}
pub(crate) type RowStream = BoxStream<'static, Result<Chunk, TeamsError>>;
/// Chunks of JSON rows (teams, channels, members).
pub(crate) type ValueStream = BoxStream<'static, Result<Rows, TeamsError>>;
pub(crate) type PageStream = BoxStream<'static, Result<Page, TeamsError>>;

pub(crate) struct Scan {
    pub plan: Arc<ScanPlan>,
    pub client: GraphClient,
    pub state: Arc<RunState>,
    pub metrics: ScanMetrics,
    /// Channel chains read at once across the whole scan (see [`Scan::with_permit`]).
    pub permits: Arc<tokio::sync::Semaphore>,
    /// Children read and refused, across every partition of the scan node.
    pub tally: Arc<Tally>,
    /// What this scan saw of the tenant (for `auto`'s estimate of later full reads).
    pub seen: Seen,
    /// Message pages straight to Arrow (see [`MessageDecoders`]).
    pub decoders: MessageDecoders,
}

/// The scan's decoders of message pages, built once from its projection.
#[derive(Debug)]
pub(crate) struct MessageDecoders {
    /// Items that are rows of the scanned table (listing without replies, reply pages, export).
    pub items: MessageDecoder,
    /// Posts carrying their replies inline (`$expand=replies`) for the replies table.
    pub expanded: MessageDecoder,
}

impl MessageDecoders {
    fn new(plan: &ScanPlan) -> Self {
        let schema = &plan.schema;
        MessageDecoders {
            items: MessageDecoder::new(&[Some(schema)], None),
            expanded: MessageDecoder::new(&[None], Some(schema)),
        }
    }
}

/// Teams, channels, posts and replies a message scan read.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    teams: AtomicU64,
    channels: Mutex<HashSet<String>>,
    posts: AtomicU64,
    replies: AtomicU64,
}

impl Seen {
    pub fn team(&self) {
        self.teams.fetch_add(1, Ordering::Relaxed);
    }

    pub fn channel(&self, id: &str) {
        if let Ok(mut c) = self.channels.lock()
            && !c.contains(id)
        {
            c.insert(id.to_string());
        }
    }

    pub fn posts(&self, n: usize) {
        self.posts.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn replies(&self, n: usize) {
        self.replies.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// One item of the export API, a post or (with a parent) a reply.
    pub fn export_item(&self, channel: &str, reply: bool) {
        self.channel(channel);
        if reply {
            self.replies(1)
        } else {
            self.posts(1)
        }
    }

    fn shape(&self) -> Shape {
        Shape {
            teams: self.teams.load(Ordering::Relaxed),
            channels: self.channels.lock().map_or(0, |c| c.len() as u64),
            posts: self.posts.load(Ordering::Relaxed),
            replies: self.replies.load(Ordering::Relaxed),
        }
    }
}

/// What a failed request means for the query.
pub(crate) enum Failure {
    /// A child left out under the policy (already recorded).
    Skipped,
    Fatal(TeamsError),
}

/// Children whose rows were read and children refused, over all partitions of one scan node:
/// under `skip`, a scan that read no child and was refused some fails (an empty answer made of
/// refusals is not an answer). Only requests that produce the table's rows count as read, so a
/// messages scan whose channel listings all worked but whose messages were all refused fails.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    read: AtomicU64,
    refused: AtomicU64,
    groups: Mutex<Groups>,
    partitions_left: AtomicUsize,
}

impl Tally {
    pub fn new(partitions: usize) -> Self {
        Tally {
            partitions_left: AtomicUsize::new(partitions),
            ..Tally::default()
        }
    }

    fn refuse(&self, cause: &Cause, child: &str) {
        self.refused.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut g) = self.groups.lock() {
            g.add(cause, child);
        }
    }

    /// Called when a partition has read everything; the last one checks the whole scan.
    pub fn partition_done(&self, table: crate::schema::Table) -> Result<(), TeamsError> {
        if self.partitions_left.fetch_sub(1, Ordering::AcqRel) != 1 {
            return Ok(());
        }
        if self.read.load(Ordering::Acquire) > 0 || self.refused.load(Ordering::Acquire) == 0 {
            return Ok(());
        }
        let groups = match self.groups.lock() {
            Ok(g) => g.clone(),
            Err(_) => return Ok(()),
        };
        let Some(g) = groups.largest_refusal() else {
            return Ok(());
        };
        let unit = match g.examples.first().map(String::as_str) {
            Some(e) if e.starts_with("channel") => "channels",
            Some(e) if e.starts_with("team") => "teams",
            Some(e) if e.starts_with("message") => "threads",
            _ => "children",
        };
        Err(TeamsError::AllRefused {
            table,
            count: self.refused.load(Ordering::Acquire),
            unit,
            cause: g.cause.clone(),
            examples: g.examples.join("; "),
            fix: g.fix.clone().unwrap_or_default(),
        })
    }
}

impl Scan {
    pub fn new(
        plan: Arc<ScanPlan>,
        client: GraphClient,
        state: Arc<RunState>,
        metrics: ScanMetrics,
        tally: Arc<Tally>,
    ) -> Self {
        let permits = Arc::new(tokio::sync::Semaphore::new(concurrency(&plan)));
        let plan_ref = Arc::clone(&plan);
        Scan {
            plan,
            client,
            state,
            metrics,
            permits,
            tally,
            seen: Seen::default(),
            decoders: MessageDecoders::new(&plan_ref),
        }
    }

    /// Parents read at once (see [`concurrency`]).
    pub fn concurrency(&self) -> usize {
        concurrency(&self.plan)
    }

    /// A scan that read the whole tenant's messages with their replies (the listing of
    /// `message_replies`, or the export API) tells the run its shape.
    pub fn read_to_the_end(&self) {
        let p = &self.plan;
        let whole = p.pushdown.team_ids.is_none() && cost::is_full_read(&p.pushdown, p.limit);
        let replies_seen = p.table == Table::MessageReplies
            || matches!(p.access.read, crate::access::Read::Export { .. });
        if whole && replies_seen && p.table.is_message_table() {
            let shape = self.seen.shape();
            if shape.teams > 0 {
                self.state.shape_seen(shape);
            }
        }
    }

    /// Request chains of `class` (a team's or a channel's pages, `per`) to keep open at once:
    /// enough for their requests to fill the tenant budget of `class` while each chain waits on
    /// its own team or channel limit (`ThrottleLimits::chains_to_fill`), a quarter more so that
    /// chains starting and ending (discovery, last pages) leave no gap, and never more than
    /// [`Scan::concurrency`]. Sized with the latency this client has observed so far.
    pub fn chains(&self, class: EndpointClass, per: ChainScope) -> usize {
        let latency = self
            .client
            .stats()
            .mean_latency()
            .unwrap_or(ASSUMED_LATENCY);
        let need = self.client.limits().chains_to_fill(class, per, latency);
        need.saturating_add(need.div_ceil(4))
            .min(self.concurrency())
            .max(1)
    }

    /// Channels of one team read at once: the team's limit over the channel's (four).
    pub fn channels_per_team(&self) -> usize {
        self.client
            .limits()
            .channels_per_team()
            .min(self.concurrency())
    }

    /// `rows` only starts once one of the scan's `chains` permits is free, and gives it
    /// back when it ends or is dropped. A waiting stream sends no request.
    pub fn with_permit(&self, rows: RowStream) -> RowStream {
        let permits = Arc::clone(&self.permits);
        stream::once(async move {
            match permits.acquire_owned().await {
                Ok(permit) => rows
                    .map(move |chunk| {
                        let _held = &permit;
                        chunk
                    })
                    .boxed(),
                // The semaphore is never closed; should it be, read without a permit.
                Err(_) => rows,
            }
        })
        .flatten()
        .boxed()
    }

    /// Applies the policy to a failed request for `child` (a team, channel or thread, as
    /// described by [`refusal`]): a 404 is left out and reported; a 403 fails the statement
    /// under `on_forbidden = 'fail'` and is left out, reported and makes the read partial under
    /// `skip`; anything else fails the statement.
    pub fn classify(&self, child: &str, e: GraphError) -> Failure {
        let Some(cause) = refusal::cause_of(&e) else {
            return Failure::Fatal(TeamsError::graph(
                self.plan.table,
                format!("reading {child}"),
                e,
            ));
        };
        if cause.refused && self.plan.options.on_forbidden == OnForbidden::Fail {
            let detail = match &e {
                GraphError::Forbidden { detail, .. } => detail.clone(),
                other => other.to_string(),
            };
            return Failure::Fatal(TeamsError::Forbidden {
                table: self.plan.table,
                child: child.to_string(),
                cause: cause.label,
                fix: cause.fix.unwrap_or_default(),
                detail,
            });
        }
        self.metrics.children_skipped.add(1);
        self.state.skipped_child(&cause, child);
        if cause.refused {
            self.tally.refuse(&cause, child);
        }
        Failure::Skipped
    }

    /// A request producing rows of the table succeeded (see [`Tally`]).
    pub fn read_one(&self) {
        self.tally.read.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a page and drops items without an `id`: a row must never carry a NULL key.
    /// Pages of messages are left whole: their decoder drops keyless rows
    /// ([`Scan::keyed`]) without parsing the items into `Value`s first.
    fn count_page(&self, page: &mut Page, class: EndpointClass) {
        self.metrics.pages.add(1);
        self.metrics.sync();
        if !decoded_from_bytes(class) {
            page.retain(|item| self.has_id(item, class));
        }
    }

    /// Whether a decoded row has a usable id; one without is recorded and left out.
    pub fn keyed(&self, id: Option<&str>, class: EndpointClass) -> bool {
        if id.is_none() {
            self.missing_id(class, "an item");
        }
        id.is_some()
    }

    fn missing_id(&self, class: EndpointClass, example: &str) {
        self.metrics.children_skipped.add(1);
        self.state
            .skipped_child(&refusal::missing_id(class.describe()), example);
    }

    /// Whether an item has a usable id; one without is recorded (grouped) and left out.
    pub fn has_id(&self, item: &Value, class: EndpointClass) -> bool {
        let ok = item
            .get("id")
            .and_then(Value::as_str)
            .is_some_and(|id| !id.is_empty());
        if !ok {
            let example = item
                .get("displayName")
                .and_then(Value::as_str)
                .map(|n| format!("item '{n}'"))
                .unwrap_or_else(|| "an item".to_string());
            self.missing_id(class, &example);
        }
        ok
    }

    /// Pages of a tenant-level list: any error, 403 included, fails the query (the error names
    /// the permission to grant).
    pub fn tenant_pages(self: &Arc<Self>, req: GraphRequest, doing: &'static str) -> PageStream {
        let scan = Arc::clone(self);
        let class = req.class();
        self.client
            .pages(req)
            .map(move |r| match r {
                Ok(mut page) => {
                    scan.count_page(&mut page, class);
                    Ok(page)
                }
                Err(e) => Err(TeamsError::graph(scan.plan.table, doing, e)),
            })
            .boxed()
    }

    /// Pages of a child collection (a team's channels, a channel's messages...), under the
    /// policy of [`Scan::classify`]. `rows` says whether its items are rows of the table (as
    /// opposed to parents found on the way), which is what counts as a child read.
    pub fn child_pages(
        self: &Arc<Self>,
        req: GraphRequest,
        child: String,
        rows: bool,
    ) -> PageStream {
        let class = req.class();
        self.under_policy(self.client.pages(req).boxed(), class, child, rows)
    }

    /// Graph pages counted, keyless items dropped, and failures under the policy of
    /// [`Scan::classify`]; the first page counts as a read of `child` when `rows`.
    fn under_policy(
        self: &Arc<Self>,
        pages: BoxStream<'static, Result<Page, GraphError>>,
        class: EndpointClass,
        child: String,
        rows: bool,
    ) -> PageStream {
        let scan = Arc::clone(self);
        let mut first = true;
        pages
            .filter_map(move |r| {
                let out = match r {
                    Ok(mut page) => {
                        if std::mem::take(&mut first) && rows {
                            scan.read_one();
                        }
                        scan.count_page(&mut page, class);
                        Some(Ok(page))
                    }
                    Err(e) => match scan.classify(&child, e) {
                        Failure::Skipped => None,
                        Failure::Fatal(e) => Some(Err(e)),
                    },
                };
                futures::future::ready(out)
            })
            .boxed()
    }

    /// One GET of a single object that is a row of the table; `Ok(None)` when left out.
    pub async fn get_one(
        &self,
        req: GraphRequest,
        child: &str,
    ) -> Result<Option<Value>, TeamsError> {
        let class = req.class();
        match self.client.get_page(&req).await {
            Ok(mut page) => {
                self.read_one();
                self.count_page(&mut page, class);
                Ok(page.into_items().into_iter().next())
            }
            Err(e) => match self.classify(child, e) {
                Failure::Skipped => Ok(None),
                Failure::Fatal(e) => Err(e),
            },
        }
    }

    /// Counts the first page of a probed source (fetched by hand), a read of its child.
    pub fn counted(&self, mut page: Page, class: EndpointClass) -> Page {
        self.read_one();
        self.count_page(&mut page, class);
        page
    }

    /// Pages reached from a link Graph returned (`replies@odata.nextLink`, or the nextLink of a
    /// first page fetched by hand), followed to the end, under the same policy.
    pub fn follow_pages(
        self: &Arc<Self>,
        class: EndpointClass,
        scope: Scope,
        link: Option<String>,
        child: String,
    ) -> PageStream {
        let Some(link) = link else {
            return stream::empty().boxed();
        };
        // The client's chain walk: a looping or endless chain of links ends
        // with an error instead of repeating rows.
        let pages = self.client.follow_pages(class, scope, link).boxed();
        self.under_policy(pages, class, child, false)
    }

    /// [`Scan::in_time_range`] on a decoded `lastModifiedDateTime` (microseconds).
    pub fn in_range(&self, modified: Option<i64>) -> bool {
        let range = &self.plan.pushdown.modified;
        range.is_empty() || modified.is_none_or(|t| range.contains(t))
    }

    /// Client-side check of the pushed time range on a raw Graph item (rows outside it are
    /// dropped before decoding; DataFusion re-checks anyway).
    pub fn in_time_range(&self, item: &Value) -> bool {
        let range = &self.plan.pushdown.modified;
        if range.is_empty() {
            return true;
        }
        match item
            .get("lastModifiedDateTime")
            .and_then(Value::as_str)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        {
            Some(t) => range.contains(t.timestamp_micros()),
            // Unparseable or missing: keep it and let DataFusion decide.
            None => true,
        }
    }
}

/// Parents a scan reads at once. A small pushed LIMIT is usually met by the first page of the
/// first parent, so it reads one parent at a time instead of starting requests it will not
/// need.
fn concurrency(plan: &ScanPlan) -> usize {
    match plan.limit {
        Some(l) if l <= crate::plan::MESSAGES_MAX_TOP as usize => 1,
        _ => plan.options.concurrency.max(1),
    }
}

/// Classes whose pages the message decoder reads from their bytes.
pub(crate) fn decoded_from_bytes(class: EndpointClass) -> bool {
    matches!(
        class,
        EndpointClass::MessagesList
            | EndpointClass::RepliesList
            | EndpointClass::MessagesDelta
            | EndpointClass::GetAllMessages
    )
}

/// A stream that yields one error; used where a parent stream failed.
pub(crate) fn fail<T: Send + 'static>(e: TeamsError) -> BoxStream<'static, Result<T, TeamsError>> {
    stream::once(futures::future::ready(Err(e))).boxed()
}
