//! An engine embeds the tables under its own names: its catalog and schema keep their own
//! tables, each provider and the `STORED AS` factory register under names it picks, and the
//! example program (examples/embed.rs) runs as written.

mod common;

// The example's own source, so the test runs what `cargo run --example embed` runs; its `main`
// is not called here.
#[allow(dead_code)]
#[path = "../examples/embed.rs"]
mod example;

use std::sync::Arc;

use common::*;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::catalog::{CatalogProvider, MemoryCatalogProvider, MemorySchemaProvider};
use datafusion::prelude::SessionContext;
use datafusion_teams::{Table, TeamsConfig, TeamsHandle, TeamsOptions, register_in_schema};
use graph_sim::SimConfig;

fn strings(batches: &[RecordBatch], column: usize) -> Vec<String> {
    batches
        .iter()
        .flat_map(|b| {
            let c = b.column(column).as_string_view_opt().map(|a| {
                (0..a.len())
                    .map(|i| a.value(i).to_string())
                    .collect::<Vec<_>>()
            });
            c.unwrap_or_else(|| {
                let a = b.column(column).as_string::<i32>();
                (0..a.len()).map(|i| a.value(i).to_string()).collect()
            })
        })
        .collect()
}

fn ints(batches: &[RecordBatch], column: usize) -> Vec<i64> {
    batches
        .iter()
        .flat_map(|b| {
            b.column(column)
                .as_primitive::<Int64Type>()
                .values()
                .to_vec()
        })
        .collect()
}

async fn sql(ctx: &SessionContext, sql: &str) -> Vec<RecordBatch> {
    ctx.sql(sql)
        .await
        .unwrap_or_else(|e| panic!("planning {sql}: {e}"))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("running {sql}: {e}"))
}

/// An engine's session: catalog `lake`, schema `crm` with its own `accounts` table, and a
/// `messages` table of its own in the default schema.
async fn engine() -> SessionContext {
    let ctx = SessionContext::new();
    let lake = MemoryCatalogProvider::new();
    lake.register_schema("crm", Arc::new(MemorySchemaProvider::new()))
        .unwrap();
    ctx.register_catalog("lake", Arc::new(lake));
    sql(
        &ctx,
        "CREATE TABLE lake.crm.accounts AS VALUES ('Contoso'), ('Fabrikam'), ('Northwind')",
    )
    .await;
    sql(&ctx, "CREATE TABLE messages AS VALUES ('not from Teams')").await;
    ctx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_join_an_engines_schema_and_its_tables_stay() {
    let server = graph_sim::start(SimConfig::for_tests()).await.unwrap();
    let sim = server.sim();
    let ctx = engine().await;
    register_in_schema(&ctx, "lake", "crm", TeamsConfig::new(client_for(&server))).unwrap();

    let crm = ctx.catalog("lake").unwrap().schema("crm").unwrap();
    let mut names = crm.table_names();
    names.sort();
    assert_eq!(
        names,
        [
            "accounts",
            "channels",
            "members",
            "message_replies",
            "messages",
            "teams"
        ]
    );
    // The engine's tables answer as before, beside the Teams ones.
    assert_eq!(
        strings(
            &sql(&ctx, "SELECT column1 FROM lake.crm.accounts ORDER BY 1").await,
            0
        ),
        ["Contoso", "Fabrikam", "Northwind"]
    );
    assert_eq!(
        strings(&sql(&ctx, "SELECT column1 FROM messages").await, 0),
        ["not from Teams"]
    );
    let mut team_ids = sim.team_ids();
    team_ids.sort();
    assert_eq!(
        strings(
            &sql(&ctx, "SELECT id FROM lake.crm.teams ORDER BY id").await,
            0
        ),
        team_ids
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_name_installs_nothing_and_replaces_nothing() {
    let server = graph_sim::start(SimConfig::for_tests()).await.unwrap();
    let ctx = engine().await;
    sql(
        &ctx,
        "CREATE TABLE lake.crm.channels AS VALUES ('sales'), ('support')",
    )
    .await;

    let err = register_in_schema(&ctx, "lake", "crm", TeamsConfig::new(client_for(&server)))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("lake.crm already has tables named channels"),
        "{err}"
    );

    let crm = ctx.catalog("lake").unwrap().schema("crm").unwrap();
    let mut names = crm.table_names();
    names.sort();
    assert_eq!(names, ["accounts", "channels"], "nothing added");
    assert_eq!(
        strings(
            &sql(&ctx, "SELECT column1 FROM lake.crm.channels ORDER BY 1").await,
            0
        ),
        ["sales", "support"],
        "the engine's own channels table is still its own"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_catalog_and_schema_are_created() {
    let server = graph_sim::start(SimConfig::for_tests()).await.unwrap();
    let sim = server.sim();
    let ctx = engine().await;
    register_in_schema(
        &ctx,
        "graph",
        "tenant",
        TeamsConfig::new(client_for(&server)),
    )
    .unwrap();
    let t = sim.team_ids()[0].clone();
    let counted = sql(
        &ctx,
        &format!("SELECT count(*) FROM graph.tenant.members WHERE team_id = '{t}'"),
    )
    .await;
    assert_eq!(ints(&counted, 0), [sim.members(&t).len() as i64]);
    // And the engine's catalog is untouched.
    assert_eq!(
        ctx.catalog("lake")
            .unwrap()
            .schema("crm")
            .unwrap()
            .table_names(),
        ["accounts"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_factory_and_schema_register_under_the_engines_names() {
    let server = graph_sim::start(SimConfig::for_tests()).await.unwrap();
    let sim = server.sim();
    let ctx = engine().await;
    let handle = TeamsHandle::new(client_for(&server));
    let t = sim.team_ids()[0].clone();
    let c = sim.channels(&t)[0]["id"].as_str().unwrap().to_string();

    // One table under a name of the engine's choosing.
    ctx.register_table(
        "chat",
        Arc::new(handle.table(Table::Messages, TeamsOptions::default())),
    )
    .unwrap();
    let counted = sql(
        &ctx,
        &format!("SELECT count(*) FROM chat WHERE team_id = '{t}' AND channel_id = '{c}'"),
    )
    .await;
    assert_eq!(ints(&counted, 0), [sim.messages(&t, &c).len() as i64]);

    // The factory under the engine's own `STORED AS` word.
    ctx.state_ref().write().table_factories_mut().insert(
        "MSTEAMS".to_string(),
        Arc::new(handle.table_factory(TeamsOptions::default())),
    );
    sql(
        &ctx,
        "CREATE EXTERNAL TABLE roster STORED AS msteams LOCATION 'members' OPTIONS ('page_size' '2')",
    )
    .await;
    let counted = sql(
        &ctx,
        &format!("SELECT count(*) FROM roster WHERE team_id = '{t}'"),
    )
    .await;
    assert_eq!(ints(&counted, 0), [sim.members(&t).len() as i64]);

    // The five tables as a whole schema, under the engine's name.
    ctx.catalog("lake")
        .unwrap()
        .register_schema(
            "msteams",
            Arc::new(handle.schema_provider(TeamsOptions::default())),
        )
        .unwrap();
    let counted = sql(
        &ctx,
        &format!("SELECT count(*) FROM lake.msteams.channels WHERE team_id = '{t}'"),
    )
    .await;
    assert_eq!(ints(&counted, 0), [sim.channels(&t).len() as i64]);
    assert!(
        ctx.catalog("lake")
            .unwrap()
            .schema("crm")
            .unwrap()
            .table_exist("accounts")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedding_example_runs() {
    let server = graph_sim::start(SimConfig::for_tests()).await.unwrap();
    let sim = server.sim();
    let client = example::sim_client(server.graph_url(), server.authority_url()).unwrap();
    let report = example::run(client).await.unwrap();

    assert_eq!(
        strings(&report.tables, 0),
        [
            "accounts",
            "channels",
            "members",
            "message_replies",
            "messages",
            "small_pages",
            "teams"
        ]
    );
    let mut expected: Vec<(String, String, i64)> = sim
        .teams()
        .iter()
        .map(|team| {
            let id = team["id"].as_str().unwrap().to_string();
            let posts: usize = sim
                .channels(&id)
                .iter()
                .map(|c| sim.messages(&id, c["id"].as_str().unwrap()).len())
                .sum();
            let name = team["displayName"].as_str().unwrap().to_string();
            (id, name, posts as i64)
        })
        .collect();
    expected.sort();
    let got: Vec<(String, String, i64)> = strings(&report.posts_per_team, 0)
        .into_iter()
        .zip(strings(&report.posts_per_team, 1))
        .zip(ints(&report.posts_per_team, 2))
        .map(|((id, name), n)| (id, name, n))
        .collect();
    assert_eq!(got, expected);
    assert!(report.notices.is_empty(), "{:?}", report.notices);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_that_embeds_the_tables_can_set_the_teams_settings() {
    let server = graph_sim::start(SimConfig::for_tests()).await.unwrap();
    let ctx = engine().await;
    register_in_schema(&ctx, "lake", "crm", TeamsConfig::new(client_for(&server))).unwrap();
    // Without the settings in the session, DataFusion answers "Could not find config namespace".
    sql(&ctx, "SET teams.on_forbidden = 'skip'").await;
    let state = ctx.state();
    let set = state.config_options().extensions.get::<TeamsOptions>();
    assert_eq!(
        set.map(|o| o.on_forbidden),
        Some(datafusion_teams::OnForbidden::Skip)
    );
    let refused = ctx.sql("SET teams.on_forbidden = 'maybe'").await;
    assert!(refused.is_err(), "a bad value must be refused");
}
