//! Children Graph will not serve. A 403 fails the statement by default, naming the child and
//! the fix; `SET teams.on_forbidden = 'skip'` leaves refused children out, reports them grouped
//! by cause and marks the read partial, but still fails when nothing at all could be read. A
//! 404 (deleted after listing) is left out and reported, never an error.

mod common;

use common::*;
use datafusion_teams::{Table, primary_key};
use graph_sim::Switches;

fn channel_id(env: &Env, team: &str, i: usize) -> String {
    env.sim.channels(team)[i]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn team_name(env: &Env, team: &str) -> String {
    env.sim
        .teams()
        .into_iter()
        .find(|t| t["id"] == team)
        .and_then(|t| t["displayName"].as_str().map(str::to_string))
        .unwrap()
}

async fn skip(env: &Env) {
    env.query("SET teams.on_forbidden = 'skip'").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_team_fails_the_statement_by_default_naming_it_and_the_fix() {
    let env = env().await;
    let forbidden = env.sim.team_ids()[1].clone();
    env.sim.set_switches(Switches {
        forbidden_team_ids: vec![forbidden.clone()],
        ..Switches::default()
    });
    for sql in [
        "SELECT * FROM messages",
        "SELECT * FROM channels",
        "SELECT id FROM members",
        "SELECT count(*) FROM message_replies",
        "SELECT summary FROM teams",
    ] {
        let err = env.try_query(sql).await.unwrap_err().to_string();
        assert!(err.contains(&forbidden), "{sql}: {err}");
        assert!(err.contains(&team_name(&env, &forbidden)), "{sql}: {err}");
        assert!(err.contains("403"), "{sql}: {err}");
        assert!(err.contains("on_forbidden = 'skip'"), "{sql}: {err}");
        assert!(err.contains("admin consent"), "{sql}: {err}");
        assert!(!err.contains('\n'), "one line: {err}");
    }
    assert!(!env.handle.take_report().is_partial());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_skip_refused_and_missing_children_are_left_out_grouped_and_partial() {
    let env = env().await;
    let teams = env.sim.team_ids();
    let forbidden_team = teams[1].clone();
    let missing_channel = channel_id(&env, &teams[0], 1);
    env.sim.set_switches(Switches {
        forbidden_team_ids: vec![forbidden_team.clone()],
        missing_channel_ids: vec![missing_channel.clone()],
        ..Switches::default()
    });
    skip(&env).await;

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
    let report = env.handle.take_report();
    assert!(report.is_partial(), "{report:?}");
    assert_eq!(report.refused(), 1);
    let lines = report.lines();
    assert_eq!(lines.len(), 2, "one line per cause: {lines:?}");
    assert!(
        lines
            .iter()
            .any(|n| n.contains(&forbidden_team) && n.contains("403")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|n| n.contains(&missing_channel) && n.contains("404")),
        "{lines:?}"
    );
    assert!(
        env.handle.take_report().is_empty(),
        "the report starts afresh"
    );

    let batches = env.query("EXPLAIN ANALYZE SELECT id FROM members").await;
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string();
    assert!(text.contains("children_skipped=1"), "{text}");
    assert_eq!(env.handle.skipped_children(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_channel_is_left_out_and_reported_but_is_no_error_nor_partial() {
    let env = env().await;
    let t = env.sim.team_ids()[0].clone();
    let missing = channel_id(&env, &t, 1);
    env.sim.set_switches(Switches {
        missing_channel_ids: vec![missing.clone()],
        ..Switches::default()
    });
    let batches = env
        .query(&format!("SELECT id FROM messages WHERE team_id = '{t}'"))
        .await;
    let expected: usize = env
        .sim
        .channels(&t)
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .filter(|c| *c != missing)
        .map(|c| env.sim.messages(&t, c).len())
        .sum();
    assert_eq!(row_count(&batches), expected);
    let report = env.handle.take_report();
    assert!(!report.is_partial(), "{report:?}");
    assert_eq!(report.skipped.len(), 1);
    assert!(report.lines()[0].contains(&missing));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_team_that_is_forbidden_fails_under_fail_and_under_skip() {
    let env = env().await;
    let t = env.sim.team_ids()[2].clone();
    env.sim.set_switches(Switches {
        forbidden_team_ids: vec![t.clone()],
        ..Switches::default()
    });
    let sql = format!("SELECT * FROM channels WHERE team_id = '{t}'");
    let err = env.try_query(&sql).await.unwrap_err().to_string();
    assert!(err.contains("Graph refused team"), "{err}");
    skip(&env).await;
    // Nothing but refusals: an empty result would pass a refusal off as "no channels".
    let err = env.try_query(&sql).await.unwrap_err().to_string();
    assert!(err.contains("nothing of channels could be read"), "{err}");
    assert!(err.contains(&t), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_api_denied_fails_under_fail_and_under_skip_with_the_fix() {
    let env = env().await;
    env.sim.set_switches(Switches {
        protected_api_denied: true,
        ..Switches::default()
    });
    let err = env
        .try_query("SELECT count(*) FROM messages")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("protected-API access"), "{err}");
    assert!(err.contains("ChannelMessage.Read.All"), "{err}");
    assert!(err.contains("ChannelMessage.Read.Group"), "{err}");

    skip(&env).await;
    env.handle.take_report();
    let channels: usize = env
        .sim
        .team_ids()
        .iter()
        .map(|t| env.sim.channels(t).len())
        .sum();
    for sql in [
        "SELECT count(*) FROM messages",
        "SELECT id FROM message_replies",
    ] {
        let err = env.try_query(sql).await.unwrap_err().to_string();
        assert!(err.contains("nothing of"), "{sql}: {err}");
        assert!(
            err.contains(&format!("all {channels} channels")),
            "{sql}: {err}"
        );
        assert!(err.contains("protected-API access"), "{sql}: {err}");
        let report = env.handle.take_report();
        assert_eq!(report.lines().len(), 1, "grouped: {report:?}");
        assert_eq!(report.skipped[0].count as usize, channels);
        assert_eq!(report.skipped[0].examples.len(), 3);
    }
    // The other tables do not need the protected API.
    assert!(row_count(&env.query("SELECT * FROM channels").await) > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_channels_are_one_line_per_cause_under_skip() {
    let env = env().await;
    let teams = env.sim.team_ids();
    let forbidden: Vec<String> = teams
        .iter()
        .flat_map(|t| (0..2).map(move |i| (t.clone(), i)))
        .map(|(t, i)| channel_id(&env, &t, i))
        .collect();
    env.sim.set_switches(Switches {
        forbidden_channel_ids: forbidden.clone(),
        ..Switches::default()
    });
    let err = env
        .try_query("SELECT id FROM messages")
        .await
        .unwrap_err()
        .to_string();
    assert!(forbidden.iter().any(|c| err.contains(c.as_str())), "{err}");
    skip(&env).await;
    env.handle.take_report();
    let batches = env
        .query("SELECT team_id, channel_id, id FROM messages")
        .await;
    let expected: usize = teams
        .iter()
        .flat_map(|t| env.sim.channels(t))
        .map(|c| c["id"].as_str().unwrap().to_string())
        .filter(|c| !forbidden.contains(c))
        .map(|c| {
            let t = teams
                .iter()
                .find(|t| env.sim.channels(t).iter().any(|x| x["id"] == c.as_str()))
                .unwrap();
            env.sim.messages(t, &c).len()
        })
        .sum();
    assert_eq!(row_count(&batches), expected);
    let report = env.handle.take_report();
    assert!(report.is_partial());
    let lines = report.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!("left out {} (403", forbidden.len())),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_unauthorized_fails_with_the_documented_hint() {
    let env = env().await;
    env.sim.set_switches(Switches {
        members_unauthorized: true,
        ..Switches::default()
    });
    skip(&env).await;
    let err = env
        .try_query("SELECT * FROM members")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("401"), "{err}");
    assert!(err.contains("members"), "{err}");
}
