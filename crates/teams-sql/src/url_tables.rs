//! `SELECT * FROM 'out/teams.parquet'`: files, directories and object-store URLs as tables, as
//! datafusion-cli allows (DataFusion's `DynamicFileCatalog`). On top of DataFusion's own
//! factory this one configures cloud stores from the environment the way COPY does (so reading
//! back an export needs nothing more than writing it did), reads a Delta table's current
//! version rather than every Parquet file its directory holds (old versions included), and
//! says so when a path names nothing readable instead of "table not found".

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{DynamicFileCatalog, TableProvider, UrlTableFactory};
use datafusion::datasource::dynamic_file::DynamicListTableFactory;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::SessionState;
use datafusion::prelude::SessionContext;
use futures::StreamExt;

use crate::destinations;
use crate::error::ShellError;

#[derive(Debug)]
struct UrlTables {
    listing: Arc<DynamicListTableFactory>,
}

fn user_error(e: ShellError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// A table name that can only be meant as a path (bare words stay "table not found").
fn looks_like_path(name: &str) -> bool {
    name.contains('/') || name.contains('.') || name.contains("://")
}

impl UrlTables {
    fn state(&self) -> DfResult<SessionState> {
        self.listing
            .session_store()
            .get_session()
            .upgrade()
            .and_then(|s| s.read().as_any().downcast_ref::<SessionState>().cloned())
            .ok_or_else(|| DataFusionError::Internal("the shell's session is gone".into()))
    }

    /// A directory with `_delta_log/` in it (local or in an object store).
    async fn is_delta(&self, state: &SessionState, url: &str) -> bool {
        let Ok(table_url) = ListingTableUrl::parse(url) else {
            return false;
        };
        let Ok(store) = state.runtime_env().object_store(table_url.object_store()) else {
            return false;
        };
        let log = table_url.prefix().clone().join("_delta_log");
        matches!(store.list(Some(&log)).next().await, Some(Ok(_)))
    }
}

#[async_trait]
impl UrlTableFactory for UrlTables {
    async fn try_new(&self, url: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        if !looks_like_path(url) {
            return Ok(None);
        }
        let state = self.state()?;
        if let Some((base, store)) = destinations::store_for(url).map_err(user_error)? {
            state.runtime_env().register_object_store(&base, store);
        }
        if self.is_delta(&state, url).await {
            let table_url = deltalake::ensure_table_uri(url).map_err(|e| user_error(e.into()))?;
            let table = deltalake::open_table(table_url)
                .await
                .map_err(|e| user_error(e.into()))?;
            let provider = table
                .table_provider()
                .with_session(Arc::new(state))
                .await
                .map_err(|e| user_error(e.into()))?;
            return Ok(Some(provider));
        }
        match self.listing.try_new(url).await? {
            Some(table) => Ok(Some(table)),
            None => Err(user_error(ShellError::Usage(format!(
                "'{url}' is neither a table nor a readable file or directory: a path needs a \
                 known extension (.parquet, .csv, .tsv, .json, .ndjson, .arrow, .avro) or a \
                 directory of such files, or a Delta table"
            )))),
        }
    }
}

/// The context with URL tables enabled (what `SessionContext::enable_url_table` does, with the
/// factory above).
pub fn enable(ctx: SessionContext) -> SessionContext {
    let catalogs = Arc::clone(ctx.state().catalog_list());
    let listing = Arc::new(DynamicListTableFactory::default());
    let factory = Arc::new(UrlTables {
        listing: Arc::clone(&listing),
    });
    let session_id = ctx.session_id();
    let ctx: SessionContext = ctx
        .into_state_builder()
        .with_session_id(session_id)
        .with_catalog_list(Arc::new(DynamicFileCatalog::new(catalogs, factory)))
        .build()
        .into();
    listing.session_store().with_state(ctx.state_weak_ref());
    ctx
}
