//! The streams that walk `@odata.nextLink` chains, and the guard that stops
//! a chain no real Graph collection could produce.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use futures::{Stream, StreamExt};
use serde_json::Value;

use crate::client::{GraphClient, Target};
use crate::error::GraphError;
use crate::page::Page;
use crate::request::{EndpointClass, GraphRequest, Scope};

/// The URLs one chain has requested, and how many. Graph's links only move
/// forward, so a link seen before is a loop (A -> B -> A as much as A -> A),
/// and a chain longer than `max_pages` is a server handing out endless
/// fresh links. Both end the chain with an error naming the endpoint,
/// before the repeated or surplus page is fetched: no duplicate rows reach
/// the caller.
pub(crate) struct Chain {
    endpoint: &'static str,
    max_pages: u64,
    pages: u64,
    /// 64-bit hashes of the resolved URLs: 8 bytes a page whatever the
    /// link length (800 KB at the default cap). SipHash with fixed keys; a
    /// collision (odds about 1e-9 at 100,000 pages) would stop a chain
    /// with an error, never lose or repeat rows silently.
    seen: HashSet<u64>,
}

impl Chain {
    pub(crate) fn new(class: EndpointClass, max_pages: u64) -> Chain {
        Chain {
            endpoint: class.describe(),
            max_pages,
            pages: 0,
            seen: HashSet::new(),
        }
    }

    /// Admits the next URL of the chain; returns its page number (1-based).
    pub(crate) fn admit(
        &mut self,
        url: &str,
        shown: &dyn Fn(&str) -> String,
    ) -> Result<u64, GraphError> {
        let mut h = DefaultHasher::new();
        url.hash(&mut h);
        if !self.seen.insert(h.finish()) {
            return Err(GraphError::Paging {
                endpoint: self.endpoint,
                reason: format!(
                    "@odata.nextLink after page {} points at a page this chain already read ({}); the server is looping, stopping instead of returning duplicate rows",
                    self.pages,
                    shown(url)
                ),
            });
        }
        if self.pages >= self.max_pages {
            return Err(GraphError::Paging {
                endpoint: self.endpoint,
                reason: format!(
                    "still more pages after {} (the page cap, max_pages), which is beyond any collection Graph documents; if the collection really is that large (or page_size is very small), raise it (--max-pages, profile key max_pages)",
                    self.max_pages
                ),
            });
        }
        self.pages += 1;
        Ok(self.pages)
    }
}

/// Where the next request of a stream goes.
enum Next {
    First,
    Link(String),
    Done,
}

/// The state of one page stream: what it continues, and its chain guard.
struct Walk {
    client: GraphClient,
    /// The request whose class, scope and `Prefer` headers every page uses.
    like: Arc<GraphRequest>,
    chain: Chain,
}

impl Walk {
    async fn fetch(&mut self, next: &Next) -> Result<Page, GraphError> {
        let url = match next {
            Next::First => self.client.first_url(&self.like)?,
            Next::Link(link) => self.client.resolve_link(link)?,
            Next::Done => unreachable!("a finished stream is not polled for pages"),
        };
        let page = self.chain.admit(&url, &|u| self.client.loggable(u))?;
        self.client
            .execute(Target::continuing(&self.like, url, page))
            .await
    }
}

fn walk(
    client: GraphClient,
    like: GraphRequest,
    first: Next,
) -> impl Stream<Item = Result<Page, GraphError>> + Send + 'static {
    let max_pages = client.max_pages();
    let chain = Chain::new(like.class, max_pages);
    let walk = Walk {
        client,
        like: Arc::new(like),
        chain,
    };
    futures::stream::unfold((walk, first), |(mut walk, next)| async move {
        if matches!(next, Next::Done) {
            return None;
        }
        match walk.fetch(&next).await {
            Ok(page) => {
                let after = match &page.next_link {
                    Some(link) => Next::Link(link.clone()),
                    None => Next::Done,
                };
                Some((Ok(page), (walk, after)))
            }
            // After an error the stream ends.
            Err(e) => Some((Err(e), (walk, Next::Done))),
        }
    })
}

impl GraphClient {
    /// Pages of a collection, following `@odata.nextLink` until the end.
    /// Nothing is requested until the stream is polled, and nothing after
    /// it is dropped. A looping or endless chain ends with
    /// [`GraphError::Paging`].
    pub fn pages(
        &self,
        req: GraphRequest,
    ) -> impl Stream<Item = Result<Page, GraphError>> + Send + 'static {
        walk(self.clone(), req, Next::First)
    }

    /// Pages reached from a link Graph returned (`replies@odata.nextLink`,
    /// or the nextLink of a first page fetched by hand), followed to the
    /// end with the same guard as [`pages`](Self::pages). Message classes
    /// send `Prefer: include-unknown-enum-members`, as [`follow`](Self::follow) does.
    pub fn follow_pages(
        &self,
        class: EndpointClass,
        scope: Scope,
        link: String,
    ) -> impl Stream<Item = Result<Page, GraphError>> + Send + 'static {
        walk(
            self.clone(),
            GraphRequest::continuation(class, scope),
            Next::Link(link),
        )
    }

    /// Items of every page of a collection, in order.
    pub fn items(
        &self,
        req: GraphRequest,
    ) -> impl Stream<Item = Result<Value, GraphError>> + Send + 'static {
        self.pages(req).flat_map(|page| {
            let items: Vec<Result<Value, GraphError>> = match page {
                Ok(p) => p.into_items().into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            };
            futures::stream::iter(items)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(u: &str) -> String {
        u.to_string()
    }

    #[test]
    fn chain_refuses_any_repeat_and_the_page_past_the_cap() {
        let mut c = Chain::new(EndpointClass::TeamsList, 3);
        assert_eq!(c.admit("a", &shown).unwrap(), 1);
        assert_eq!(c.admit("b", &shown).unwrap(), 2);
        let e = c.admit("a", &shown).unwrap_err().to_string();
        assert!(
            e.contains("GET /teams") && e.contains("already read"),
            "{e}"
        );
        assert_eq!(c.admit("c", &shown).unwrap(), 3);
        let e = c.admit("d", &shown).unwrap_err().to_string();
        assert!(e.contains("GET /teams") && e.contains("max_pages"), "{e}");
    }
}
