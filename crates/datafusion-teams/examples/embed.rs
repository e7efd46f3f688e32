//! A DataFusion engine of your own with the Teams tables in it, next to its own tables:
//! `cargo run -p datafusion-teams --example embed`.
//!
//! The engine has catalog `lake`, schema `crm`, and its own table `accounts` there. The five
//! Teams tables are added to `lake.crm` without replacing `accounts`, and the `STORED AS`
//! factory is registered under the engine's own name, `MSTEAMS`. A simulated tenant on a
//! loopback port stands in for Microsoft Graph; against your tenant, build the client with
//! `GraphConfig::from_env()` (the azure-identity variables, DefaultAzureCredential's order)
//! instead, or plug in your own credential with `GraphConfig::with_credential`.
//!
//! The tests run [`run`] (tests/embedding.rs) and compare what it returns with the tenant.

use std::error::Error;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::catalog::{CatalogProvider, MemoryCatalogProvider, MemorySchemaProvider};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_teams::{TeamsConfig, TeamsOptions, register_in_schema};
use graph_client::{GraphClient, GraphConfig, Secret};

/// What the engine printed: the tables of `lake.crm` and the posts of each team.
pub struct Report {
    pub tables: Vec<RecordBatch>,
    pub posts_per_team: Vec<RecordBatch>,
    pub notices: Vec<String>,
}

/// The engine, given a Graph client.
pub async fn run(client: GraphClient) -> Result<Report, Box<dyn Error>> {
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_information_schema(true));

    // The engine's own catalog, schema and table, there before the Teams tables.
    let lake = MemoryCatalogProvider::new();
    lake.register_schema("crm", Arc::new(MemorySchemaProvider::new()))?;
    ctx.register_catalog("lake", Arc::new(lake));
    ctx.sql(
        "CREATE TABLE lake.crm.accounts AS SELECT * FROM \
         (VALUES ('Contoso', 'Adele'), ('Fabrikam', 'Megan')) AS v(account, owner)",
    )
    .await?;

    // The Teams tables, into the engine's schema.
    let handle = register_in_schema(&ctx, "lake", "crm", TeamsConfig::new(client))?;

    // `CREATE EXTERNAL TABLE ... STORED AS MSTEAMS`: a table with its own options.
    let factory = handle.table_factory(TeamsOptions::default());
    ctx.state_ref()
        .write()
        .table_factories_mut()
        .insert("MSTEAMS".to_string(), Arc::new(factory));
    ctx.sql(
        "CREATE EXTERNAL TABLE lake.crm.small_pages STORED AS MSTEAMS LOCATION 'messages' \
         OPTIONS ('page_size' '25')",
    )
    .await?;

    let tables = ctx
        .sql(
            "SELECT table_name FROM information_schema.tables \
             WHERE table_catalog = 'lake' AND table_schema = 'crm' ORDER BY table_name",
        )
        .await?
        .collect()
        .await?;
    let posts_per_team = ctx
        .sql(
            "SELECT t.id AS team_id, t.display_name AS team, count(m.id) AS posts \
             FROM lake.crm.teams t JOIN lake.crm.small_pages m ON m.team_id = t.id \
             GROUP BY t.id, t.display_name ORDER BY t.id",
        )
        .await?
        .collect()
        .await?;
    Ok(Report {
        tables,
        posts_per_team,
        // Teams or channels Graph refused (403/404) are skipped and named here.
        notices: handle.take_notices(),
    })
}

/// A client for the simulated tenant at `graph` (its token endpoint at `authority`).
pub fn sim_client(graph: String, authority: String) -> Result<GraphClient, Box<dyn Error>> {
    let config = GraphConfig::new(
        graph_sim::DEFAULT_TENANT_ID,
        graph_sim::DEFAULT_CLIENT_ID,
        Secret::new(graph_sim::DEFAULT_CLIENT_SECRET.to_string()),
    )
    .with_graph_endpoint(graph)
    .with_authority_host(authority);
    Ok(GraphClient::new(config)?)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn Error>> {
    let sim = graph_sim::start(graph_sim::SimConfig::for_tests()).await?;
    let report = run(sim_client(sim.graph_url(), sim.authority_url())?).await?;
    println!("{}", pretty_format_batches(&report.tables)?);
    println!("{}", pretty_format_batches(&report.posts_per_team)?);
    for notice in report.notices {
        eprintln!("{notice}");
    }
    sim.shutdown().await;
    Ok(())
}
