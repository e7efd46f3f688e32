//! `teams`: `GET /teams` fills only id, displayName, description and visibility, so
//! `GET /teams/{id}` is called per team only when another column is projected.

use std::sync::Arc;

use futures::stream::{self, StreamExt};
use graph_client::GraphRequest;
use serde_json::Value;

use crate::decode::{ParentIds, normalise};
use crate::error::TeamsError;
use crate::scan::{RowStream, Rows, Scan};
use crate::schema::Table;

fn select(scan: &Scan) -> Vec<String> {
    scan.plan.select_list()
}

/// `GET /teams/{id}` for each id, `concurrency` at a time, as one chunk.
async fn get_teams(scan: Arc<Scan>, ids: Vec<String>) -> Result<Rows, TeamsError> {
    let cols = select(&scan);
    let fetched: Vec<Result<Option<Value>, TeamsError>> = stream::iter(ids)
        .map(|id| {
            let scan = Arc::clone(&scan);
            let cols = cols.clone();
            async move {
                let cols: Vec<&str> = cols.iter().map(String::as_str).collect();
                let req = GraphRequest::get_team(&id).select(&cols);
                scan.get_one(req, &format!("team {id}")).await
            }
        })
        .buffered(scan.concurrency())
        .collect()
        .await;
    let mut rows = Vec::with_capacity(fetched.len());
    for item in fetched {
        if let Some(item) = item? {
            rows.push(normalise(Table::Teams, item, &ParentIds::default()));
        }
    }
    Ok(rows)
}

pub(crate) fn rows(scan: &Arc<Scan>) -> RowStream {
    let p = &scan.plan.pushdown;
    if let Some(ids) = &p.ids {
        let ids: Vec<String> = ids.iter().cloned().collect();
        let wanted = p.ids.clone();
        let scan = Arc::clone(scan);
        // Graph may match ids case-insensitively; keep the filter exact.
        return stream::once(async move {
            get_teams(scan, ids).await.map(|rows| {
                rows.into_iter()
                    .filter(|r| {
                        r.get("id")
                            .and_then(Value::as_str)
                            .is_some_and(|id| wanted.as_ref().is_none_or(|w| w.contains(id)))
                    })
                    .collect()
            })
        })
        .boxed();
    }
    let mut req = if scan.plan.team_detail {
        GraphRequest::list_teams().select(&["id"])
    } else {
        let cols = select(scan);
        let cols: Vec<&str> = cols.iter().map(String::as_str).collect();
        GraphRequest::list_teams().select(&cols)
    };
    if let Some(top) = scan.plan.options.page_size {
        req = req.top(top);
    }
    let pages = scan.tenant_pages(req, "listing the tenant's teams (GET /teams)");
    if scan.plan.team_detail {
        let s = Arc::clone(scan);
        pages
            .then(move |page| {
                let s = Arc::clone(&s);
                async move {
                    let page = page?;
                    let ids = page
                        .items
                        .iter()
                        .filter_map(|i| i.get("id").and_then(Value::as_str).map(str::to_string))
                        .collect();
                    get_teams(s, ids).await
                }
            })
            .boxed()
    } else {
        pages
            .map(|page| {
                page.map(|p| {
                    p.items
                        .into_iter()
                        .map(|i| normalise(Table::Teams, i, &ParentIds::default()))
                        .collect()
                })
            })
            .boxed()
    }
}
