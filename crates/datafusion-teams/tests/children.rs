//! A team or channel answering 403 / 404 is skipped with a notice and counted; the query still
//! returns everything else.

mod common;

use common::*;
use datafusion_teams::{Table, primary_key};
use graph_sim::Switches;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_and_missing_children_are_skipped_and_counted() {
    let env = env().await;
    let teams = env.sim.team_ids();
    let forbidden_team = teams[1].clone();
    let missing_channel = env.sim.channels(&teams[0])[1]["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.sim.set_switches(Switches {
        forbidden_team_ids: vec![forbidden_team.clone()],
        missing_channel_ids: vec![missing_channel.clone()],
        ..Switches::default()
    });

    let batches = env.query("SELECT * FROM messages").await;
    let schema = Table::Messages.schema();
    let expected: Vec<_> = truth(&env.sim, "messages", &schema)
        .into_iter()
        .filter(|r| {
            r["team_id"] != forbidden_team.as_str() && r["channel_id"] != missing_channel.as_str()
        })
        .collect();
    assert_rows_eq(
        actual_rows(&batches),
        expected,
        primary_key("messages").unwrap(),
    );

    assert_eq!(env.handle.skipped_children(), 2);
    let notices = env.handle.take_notices();
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert!(
        notices
            .iter()
            .any(|n| n.contains(&forbidden_team) && n.contains("403")),
        "{notices:?}"
    );
    assert!(
        notices.iter().any(|n| n.contains(&missing_channel)),
        "{notices:?}"
    );
    assert!(env.handle.take_notices().is_empty(), "notices are drained");

    let batches = env.query("EXPLAIN ANALYZE SELECT id FROM members").await;
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string();
    assert!(text.contains("children_skipped=1"), "{text}");
    assert_eq!(env.handle.skipped_children(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_team_that_is_forbidden_yields_no_rows_and_a_notice() {
    let env = env().await;
    let t = env.sim.team_ids()[2].clone();
    env.sim.set_switches(Switches {
        forbidden_team_ids: vec![t.clone()],
        ..Switches::default()
    });
    let batches = env
        .query(&format!("SELECT * FROM channels WHERE team_id = '{t}'"))
        .await;
    assert_eq!(row_count(&batches), 0);
    assert_eq!(env.handle.skipped_children(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_api_denied_is_reported_with_the_permission() {
    let env = env().await;
    env.sim.set_switches(Switches {
        protected_api_denied: true,
        ..Switches::default()
    });
    let t = env.sim.team_ids()[0].clone();
    let batches = env
        .query(&format!("SELECT * FROM messages WHERE team_id = '{t}'"))
        .await;
    assert_eq!(row_count(&batches), 0);
    let notices = env.handle.take_notices();
    assert!(!notices.is_empty());
    assert!(notices[0].contains("ChannelMessage.Read"), "{notices:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_unauthorized_fails_with_the_documented_hint() {
    let env = env().await;
    env.sim.set_switches(Switches {
        members_unauthorized: true,
        ..Switches::default()
    });
    let err = env
        .try_query("SELECT * FROM members")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("401"), "{err}");
    assert!(err.contains("members"), "{err}");
}
