//! Incremental reads: after edits, reactions and deletions in the tenant, a query bounded by
//! `last_modified_date_time` returns exactly the changed rows, whichever source serves it.

mod common;

use common::*;
use datafusion_teams::{MessageSource, Table, TeamsOptions, primary_key};
use graph_sim::SimConfig;

async fn changed_rows_only(source: MessageSource, cfg: SimConfig) {
    let options = TeamsOptions {
        message_source: source,
        ..TeamsOptions::default()
    };
    let env = env_with(cfg, options).await;
    let t = env.sim.team_ids()[0].clone();
    let c = env.sim.channels(&t)[1]["id"].as_str().unwrap().to_string();
    let messages = env.sim.messages(&t, &c);
    let (m0, m1) = (
        messages[0]["id"].as_str().unwrap().to_string(),
        messages[1]["id"].as_str().unwrap().to_string(),
    );
    let thread = messages
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .find(|m| !env.sim.replies(&t, &c, m).is_empty())
        .unwrap();
    let reply = env.sim.replies(&t, &c, &thread)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    env.sim.advance(chrono::Duration::hours(1));
    let since = env
        .sim
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    env.sim.advance(chrono::Duration::seconds(5));
    env.sim
        .edit_message(&t, &c, &m0, None, "<p>edited</p>")
        .unwrap();
    env.sim.react(&t, &c, &m1, None, "heart").unwrap();
    env.sim.soft_delete(&t, &c, &thread, Some(&reply)).unwrap();

    let sql = format!("SELECT * FROM messages WHERE last_modified_date_time > '{since}'");
    let batches = env.query(&sql).await;
    let schema = Table::Messages.schema();
    let expected: Vec<_> = truth(&env.sim, "messages", &schema)
        .into_iter()
        .filter(|r| r["id"] == m0.as_str() || r["id"] == m1.as_str())
        .filter(|r| r["channel_id"] == c.as_str())
        .collect();
    assert_eq!(expected.len(), 2);
    assert_rows_eq(
        actual_rows(&batches),
        expected,
        primary_key("messages").unwrap(),
    );

    let sql = format!("SELECT * FROM message_replies WHERE last_modified_date_time > '{since}'");
    let rows = actual_rows(&env.query(&sql).await);
    assert_eq!(rows.len(), 1, "{source:?}: {rows:?}");
    assert_eq!(rows[0]["id"], reply.as_str());
    assert_eq!(rows[0]["parent_message_id"], thread.as_str());
    assert!(!rows[0]["deleted_date_time"].is_null());
    assert!(env.handle.take_notices().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_via_export() {
    changed_rows_only(MessageSource::Auto, SimConfig::for_tests()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_via_channel_listing() {
    changed_rows_only(MessageSource::Channel, SimConfig::for_tests()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_via_delta() {
    let cfg = SimConfig {
        epoch: None,
        ..SimConfig::for_tests()
    };
    changed_rows_only(MessageSource::Delta, cfg).await;
}
