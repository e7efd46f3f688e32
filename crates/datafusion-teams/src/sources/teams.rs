//! `teams`: `GET /teams` fills only id, displayName, description and visibility, so
//! `GET /teams/{id}` is called per team only when another column is projected.

use std::sync::Arc;

use futures::stream::{self, StreamExt};
use graph_client::{ChainScope, EndpointClass, GraphRequest};
use serde_json::Value;

use crate::access::Read;
use crate::decode::{ParentIds, normalise};
use crate::error::TeamsError;
use crate::refusal::{self, Named};
use crate::scan::{Failure, Rows, Scan, ValueStream};
use crate::schema::Table;

fn select(scan: &Scan) -> Vec<String> {
    scan.plan.select_list()
}

/// `GET /teams/{id}` of one team. A team that `GET /teams` listed (`listed`) and whose details
/// are refused under `on_forbidden = 'skip'` keeps its row with what the listing gave, so the
/// rows of `teams` never depend on which columns are selected.
async fn get_team(
    scan: Arc<Scan>,
    team: Named,
    listed: Option<Value>,
    cols: Vec<String>,
) -> Result<Option<Value>, TeamsError> {
    let cols: Vec<&str> = cols.iter().map(String::as_str).collect();
    let req = GraphRequest::get_team(&team.id).select(&cols);
    let class = req.class();
    match scan.client.get_page(&req).await {
        Ok(page) => Ok(scan.counted(page, class).into_items().into_iter().next()),
        Err(e) => {
            let refused = e.is_forbidden();
            match scan.classify(&refusal::team(&team), e) {
                Failure::Skipped if refused => Ok(listed),
                Failure::Skipped => Ok(None),
                Failure::Fatal(e) => Err(e),
            }
        }
    }
}

/// [`get_team`] for each team, as many at a time as fill the tenant budget, as one chunk.
async fn get_teams(
    scan: Arc<Scan>,
    teams: Vec<(Named, Option<Value>)>,
) -> Result<Rows, TeamsError> {
    let cols = select(&scan);
    let fetched: Vec<Result<Option<Value>, TeamsError>> = stream::iter(teams)
        .map(|(team, listed)| get_team(Arc::clone(&scan), team, listed, cols.clone()))
        .buffered(scan.chains(EndpointClass::TeamGet, ChainScope::Team))
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

pub(crate) fn rows(scan: &Arc<Scan>) -> ValueStream {
    let p = &scan.plan.pushdown;
    let detail = scan.plan.access.read == Read::TeamListThenGet;
    if scan.plan.access.read == Read::TeamGet {
        let teams: Vec<(Named, Option<Value>)> = p
            .ids
            .iter()
            .flatten()
            .map(|id| (Named::id(id.clone()), None))
            .collect();
        let wanted = p.ids.clone();
        let scan = Arc::clone(scan);
        // Graph may match ids case-insensitively; keep the filter exact.
        return stream::once(async move {
            get_teams(scan, teams).await.map(|rows| {
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
    let cols = if detail {
        scan.plan.team_list_select()
    } else {
        select(scan)
    };
    let cols: Vec<&str> = cols.iter().map(String::as_str).collect();
    let mut req = GraphRequest::list_teams().select(&cols);
    if let Some(top) = scan.plan.options.page_size {
        req = req.top(top);
    }
    let pages = scan.tenant_pages(req, "listing the tenant's teams (GET /teams)");
    if detail {
        let s = Arc::clone(scan);
        pages
            .then(move |page| {
                let s = Arc::clone(&s);
                async move {
                    let page = page?;
                    let teams = page
                        .into_items()
                        .into_iter()
                        .filter_map(|i| {
                            let team = Named {
                                id: i.get("id").and_then(Value::as_str)?.to_string(),
                                name: i
                                    .get("displayName")
                                    .and_then(Value::as_str)
                                    .map(str::to_string),
                            };
                            Some((team, Some(i)))
                        })
                        .collect();
                    get_teams(s, teams).await
                }
            })
            .boxed()
    } else {
        pages
            .map(|page| {
                page.map(|p| {
                    p.into_items()
                        .into_iter()
                        .map(|i| normalise(Table::Teams, i, &ParentIds::default()))
                        .collect()
                })
            })
            .boxed()
    }
}
