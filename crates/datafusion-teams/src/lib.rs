//! Live Microsoft Teams data as SQL tables in Apache DataFusion.
//!
//! [`register`] adds a schema `teams` to a [`SessionContext`] holding five tables read straight
//! from Microsoft Graph at query time: `teams`, `channels`, `members`, `messages` and
//! `message_replies`. Column names are the snake_case forms of the Graph property names
//! (`display_name`, `last_modified_date_time`) plus the parent ids the connector derives
//! (`team_id`, `channel_id`, `parent_message_id`). Filters on those parent ids, on
//! `last_modified_date_time`, on `channels.membership_type` and on members' `user_id` / `email`
//! are pushed into the Graph requests, projections become `$select` where Graph supports it, and
//! a `LIMIT` stops paging, so a query spends the fewest Graph requests that give its answer.
//! Without parent filters the scan discovers teams, then channels, then messages itself,
//! streaming: memory stays bounded whatever the tenant size, and dropping the result stream stops
//! all requests.
//!
//! A team, channel or thread that Graph refuses (403) fails the statement, naming it and the
//! permission or consent it lacks, unless the session says `SET teams.on_forbidden = 'skip'`:
//! then it is left out, reported (grouped by cause, [`TeamsHandle::take_report`]) and the
//! statement's read is partial ([`ReadReport::is_partial`]); a statement in which every child
//! was refused still fails. A child that answers 404 after being listed (deleted meanwhile) is
//! left out and reported. The settings live in the session as the config extension `teams`
//! (`teams.on_forbidden`, `teams.message_source`, `teams.concurrency`, `teams.page_size`,
//! `teams.column_names`).
//!
//! Primary keys (also exposed as table constraints): `teams (id)`, `channels (team_id, id)`,
//! `members (team_id, id)`, `messages (team_id, channel_id, id)` (message ids repeat across
//! channels) and `message_replies (team_id, channel_id, parent_message_id, id)`.
//!
//! ```
//! use datafusion::prelude::SessionContext;
//! use datafusion_teams::{TeamsConfig, register};
//! use graph_client::{GraphClient, GraphConfig, Secret};
//!
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A simulated tenant stands in for Microsoft Graph here; against the real service use
//! // `GraphConfig::from_env()` (the azure-identity variables: a client secret or certificate,
//! // workload identity, managed identity or the Azure CLI, in DefaultAzureCredential's order).
//! let sim = graph_sim::start(graph_sim::SimConfig::for_tests()).await?;
//! let graph = GraphConfig::new(
//!     graph_sim::DEFAULT_TENANT_ID,
//!     graph_sim::DEFAULT_CLIENT_ID,
//!     Secret::new(graph_sim::DEFAULT_CLIENT_SECRET.to_string()),
//! )
//! .with_graph_endpoint(sim.graph_url())
//! .with_authority_host(sim.authority_url());
//! let client = GraphClient::new(graph)?;
//!
//! let ctx = SessionContext::new();
//! let handle = register(&ctx, TeamsConfig::new(client)).await?;
//! let team_id = sim.sim().team_ids()[0].clone();
//! let batches = ctx
//!     .sql(&format!(
//!         "SELECT c.display_name, count(m.id) AS messages
//!          FROM teams.channels c JOIN teams.messages m
//!            ON m.team_id = c.team_id AND m.channel_id = c.id
//!          WHERE c.team_id = '{team_id}' AND m.team_id = '{team_id}'
//!          GROUP BY c.display_name"
//!     ))
//!     .await?
//!     .collect()
//!     .await?;
//! assert!(!batches.is_empty());
//! for notice in handle.take_notices() {
//!     eprintln!("{notice}");
//! }
//! # sim.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod access;
mod cost;
mod decode;
mod discovery;
mod embed;
mod error;
mod exec;
mod factory;
mod feed;
mod filters;
mod handle;
mod message_decode;
mod metrics;
mod naming;
mod options;
mod plan;
mod provider;
mod refusal;
mod scan;
mod schema;
mod sources;

use std::sync::Arc;

use datafusion::catalog::{MemorySchemaProvider, SchemaProvider};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::source_as_provider;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;

#[doc(hidden)]
pub use decode::decode_messages_page;
pub use embed::{TeamsSchemaProvider, register_in_schema};
pub use error::TeamsError;
pub use exec::TeamsScanExec;
pub use factory::{FACTORY_NAME, TeamsTableFactory};
pub use feed::{FeedItem, FeedRequest, FeedSource, FeedStream, Removed, team_feed};
pub use handle::{Discovered, ReadReport, TeamsHandle};
pub use naming::ColumnNames;
pub use options::{
    MessageSource, OPTION_KEYS, OnForbidden, TeamsConfig, TeamsOptions, ThrottleScale,
};
pub use provider::TeamsTable;
pub use refusal::SkipGroup;
pub use schema::{TABLE_NAMES, Table, primary_key};

/// The schema [`register`] adds.
pub const SCHEMA_NAME: &str = "teams";

/// Adds schema `teams` (all five tables) to the context's default catalog, and the `TEAMS`
/// [`TableProviderFactory`](datafusion::catalog::TableProviderFactory) for
/// `CREATE EXTERNAL TABLE ... STORED AS TEAMS`. With `teams` as the default schema
/// (`SessionConfig::with_default_catalog_and_schema`), `messages` and `teams.messages` both work.
pub async fn register(ctx: &SessionContext, config: TeamsConfig) -> Result<TeamsHandle> {
    let handle = TeamsHandle {
        client: config.client.clone(),
        state: Arc::default(),
    };
    let schema = Arc::new(MemorySchemaProvider::new());
    for table in Table::ALL {
        schema.register_table(
            table.name().to_string(),
            Arc::new(TeamsTable::new(
                table,
                config.options.clone(),
                Vec::new(),
                config.client.clone(),
                Arc::clone(&handle.state),
            )),
        )?;
    }
    let catalog_name = ctx.state().config_options().catalog.default_catalog.clone();
    let catalog = ctx.catalog(&catalog_name).ok_or_else(|| {
        DataFusionError::Plan(format!(
            "the session has no default catalog '{catalog_name}' to add the teams schema to"
        ))
    })?;
    catalog.register_schema(SCHEMA_NAME, schema)?;
    let factory = TeamsTableFactory::new(
        config.options.clone(),
        config.client,
        Arc::clone(&handle.state),
    );
    let state = ctx.state_ref();
    let mut state = state.write();
    state
        .table_factories_mut()
        .insert(FACTORY_NAME.to_string(), Arc::new(factory));
    // The options become the session's `teams` settings: `SET teams.on_forbidden = 'skip'`
    // changes them for the statements that follow, and `SHOW ALL` lists them.
    state
        .config_mut()
        .options_mut()
        .extensions
        .insert(config.options);
    Ok(handle)
}

/// Whether running `plan` in a session with `config` may leave out children Graph refuses
/// (it scans a Teams table whose `on_forbidden` is `skip`). A writer that must know whether a
/// read was partial before it commits (see [`ReadReport::is_partial`]) reads such a plan to
/// the end first.
pub fn may_skip(plan: &LogicalPlan, config: &ConfigOptions) -> bool {
    let mut found = false;
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node
            && let Ok(provider) = source_as_provider(&scan.source)
            && let Some(table) = provider.downcast_ref::<TeamsTable>()
            && table
                .options(config)
                .is_ok_and(|o| o.on_forbidden == OnForbidden::Skip)
        {
            found = true;
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}
