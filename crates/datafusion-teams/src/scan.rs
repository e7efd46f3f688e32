//! What one running scan shares between its sources: the plan, a Graph client scoped to this
//! scan (so its statistics are this scan's), the run state, and the metrics.
//!
//! Sources produce [`RowStream`]s: chunks of normalised JSON rows, one chunk per Graph page (or
//! per page of parents), which the execution plan decodes into Arrow batches. Every stream is
//! lazy: nothing is requested before it is polled and nothing after it is dropped.

use std::sync::Arc;

use chrono::DateTime;
use futures::stream::{self, BoxStream, StreamExt};
use graph_client::{EndpointClass, GraphClient, GraphError, GraphRequest, Page, Scope};
use serde_json::Value;

use crate::error::TeamsError;
use crate::handle::RunState;
use crate::metrics::ScanMetrics;
use crate::plan::ScanPlan;

/// Normalised rows of one page.
pub(crate) type Rows = Vec<Value>;
pub(crate) type RowStream = BoxStream<'static, Result<Rows, TeamsError>>;
pub(crate) type PageStream = BoxStream<'static, Result<Page, TeamsError>>;

pub(crate) struct Scan {
    pub plan: Arc<ScanPlan>,
    pub client: GraphClient,
    pub state: Arc<RunState>,
    pub metrics: ScanMetrics,
    /// Children read at once across the whole scan (see [`Scan::with_permit`]).
    pub permits: Arc<tokio::sync::Semaphore>,
}

/// What a failed request means for the query.
pub(crate) enum Failure {
    /// 403 / 404 on a child: skip it (already noted).
    Skipped,
    Fatal(TeamsError),
}

impl Scan {
    /// Parents read at once. A small pushed LIMIT is usually met by the first page of the
    /// first parent, so it reads one parent at a time instead of starting requests it will
    /// not need.
    pub fn concurrency(&self) -> usize {
        match self.plan.limit {
            Some(l) if l <= crate::plan::MESSAGES_MAX_TOP as usize => 1,
            _ => self.plan.options.concurrency.max(1),
        }
    }

    /// `rows` only starts once one of the scan's `concurrency` permits is free, and gives it
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

    /// Records a skipped child (403/404): counted in metrics and in the run's notices.
    pub fn skip(&self, what: &str, e: &GraphError) {
        self.metrics.children_skipped.add(1);
        self.state.skipped_child(format!(
            "skipped {what} while reading {}: {e}",
            self.plan.table
        ));
    }

    /// A 403 or 404 on one child is skipped; anything else fails the query.
    pub fn classify(&self, what: &str, doing: &str, e: GraphError) -> Failure {
        if e.is_forbidden() || e.is_not_found() {
            self.skip(what, &e);
            Failure::Skipped
        } else {
            Failure::Fatal(TeamsError::graph(self.plan.table, doing, e))
        }
    }

    fn count_page(&self, _page: &Page) {
        self.metrics.pages.add(1);
        self.metrics.sync();
    }

    /// Pages of a tenant-level list: any error, 403 included, fails the query (the error names
    /// the permission to grant).
    pub fn tenant_pages(self: &Arc<Self>, req: GraphRequest, doing: &'static str) -> PageStream {
        let scan = Arc::clone(self);
        self.client
            .pages(req)
            .map(move |r| match r {
                Ok(page) => {
                    scan.count_page(&page);
                    Ok(page)
                }
                Err(e) => Err(TeamsError::graph(scan.plan.table, doing, e)),
            })
            .boxed()
    }

    /// Pages of a child collection (a team's channels, a channel's messages...): a 403 or 404
    /// ends it with a notice, other errors fail the query.
    pub fn child_pages(self: &Arc<Self>, req: GraphRequest, what: String) -> PageStream {
        let scan = Arc::clone(self);
        self.client
            .pages(req)
            .filter_map(move |r| {
                let out = match r {
                    Ok(page) => {
                        scan.count_page(&page);
                        Some(Ok(page))
                    }
                    Err(e) => match scan.classify(&what, &format!("reading {what}"), e) {
                        Failure::Skipped => None,
                        Failure::Fatal(e) => Some(Err(e)),
                    },
                };
                futures::future::ready(out)
            })
            .boxed()
    }

    /// One GET of a single object; `Ok(None)` when skipped (403/404).
    pub async fn get_one(
        &self,
        req: GraphRequest,
        what: &str,
    ) -> Result<Option<Value>, TeamsError> {
        match self.client.get_page(&req).await {
            Ok(page) => {
                self.count_page(&page);
                Ok(page.items.into_iter().next())
            }
            Err(e) => match self.classify(what, &format!("reading {what}"), e) {
                Failure::Skipped => Ok(None),
                Failure::Fatal(e) => Err(e),
            },
        }
    }

    /// Counts a page fetched outside the helpers above (first page of a probed source).
    pub fn counted(&self, page: Page) -> Page {
        self.count_page(&page);
        page
    }

    /// Pages reached from a link Graph returned (`replies@odata.nextLink`, or the nextLink of a
    /// first page fetched by hand), followed to the end. Children rules apply.
    pub fn follow_pages(
        self: &Arc<Self>,
        class: EndpointClass,
        scope: Scope,
        link: Option<String>,
        what: String,
    ) -> PageStream {
        let Some(link) = link else {
            return stream::empty().boxed();
        };
        // The client's chain walk: a looping or endless chain of links ends
        // with an error instead of repeating rows.
        let scan = Arc::clone(self);
        self.client
            .follow_pages(class, scope, link)
            .filter_map(move |r| {
                let out = match r {
                    Ok(page) => {
                        scan.count_page(&page);
                        Some(Ok(page))
                    }
                    Err(e) => match scan.classify(&what, &format!("reading {what}"), e) {
                        Failure::Skipped => None,
                        Failure::Fatal(e) => Some(Err(e)),
                    },
                };
                futures::future::ready(out)
            })
            .boxed()
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

/// A stream that yields one error; used where a parent stream failed.
pub(crate) fn fail<T: Send + 'static>(e: TeamsError) -> BoxStream<'static, Result<T, TeamsError>> {
    stream::once(futures::future::ready(Err(e))).boxed()
}
