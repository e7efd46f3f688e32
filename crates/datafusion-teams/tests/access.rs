//! Every scan's requests are the ones its EXPLAIN listed: over all five tables, named ids, IN
//! lists, time bounds, LIMIT and each message source, the endpoint classes the simulator
//! counted are among those EXPLAIN printed, and every endpoint EXPLAIN printed as certain was
//! called.

mod common;

use std::collections::BTreeSet;

use common::*;
use graph_client::ThrottleLimits;
use graph_sim::{ExportApi, SimConfig, Switches};

/// `endpoints=[a, b?]` of the single scan in an EXPLAIN: (certain, possible). A plan that
/// DataFusion emptied (contradicting filters) has no scan, and so lists nothing.
fn listed(plan: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let Some(at) = plan.find("endpoints=[") else {
        assert!(!plan.contains("TeamsScanExec"), "{plan}");
        return Default::default();
    };
    let at = at + "endpoints=[".len();
    let end = at + plan[at..].find(']').expect("closing bracket");
    assert!(
        !plan[end..].contains("endpoints=["),
        "one scan per query here: {plan}"
    );
    let (mut certain, mut possible) = (BTreeSet::new(), BTreeSet::new());
    for e in plan[at..end].split(", ").filter(|e| !e.is_empty()) {
        match e.strip_suffix('?') {
            Some(e) => possible.insert(e.to_string()),
            None => certain.insert(e.to_string()),
        };
    }
    (certain, possible)
}

async fn holds(env: &Env, sql: &str) {
    let plan = env.explain(sql).await;
    let (certain, possible) = listed(&plan);
    let (batches, counts) = env.counted(sql).await;
    let called: BTreeSet<String> = counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(c, _)| c.clone())
        .collect();
    for c in &called {
        assert!(
            certain.contains(c) || possible.contains(c),
            "{sql}: called {c} ({counts:?}), EXPLAIN did not list it:\n{plan}"
        );
    }
    for c in &certain {
        assert!(
            called.contains(c),
            "{sql}: EXPLAIN listed {c} as certain, not called ({counts:?}):\n{plan}"
        );
    }
    println!("{sql}: {} rows, {counts:?}", row_count(&batches));
}

fn ids(env: &Env) -> (Vec<String>, Vec<String>, Vec<String>) {
    let teams = env.sim.team_ids();
    let t = teams[0].clone();
    let channels: Vec<String> = env
        .sim
        .channels(&t)
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    let messages: Vec<String> = env
        .sim
        .messages(&t, &channels[0])
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    (teams, channels, messages)
}

fn queries(env: &Env, messages_only: bool) -> Vec<String> {
    let (teams, channels, messages) = ids(env);
    let (t, t2, c, c2, m, m2) = (
        &teams[0],
        &teams[1],
        &channels[0],
        &channels[1],
        &messages[0],
        &messages[1],
    );
    let mut q = vec![
        "SELECT * FROM teams".to_string(),
        "SELECT id, display_name FROM teams".to_string(),
        format!("SELECT * FROM teams WHERE id = '{t}'"),
        format!("SELECT id FROM teams WHERE id IN ('{t}', '{t2}')"),
        "SELECT id FROM teams LIMIT 1".to_string(),
        "SELECT * FROM channels".to_string(),
        format!("SELECT * FROM channels WHERE team_id = '{t}'"),
        format!("SELECT * FROM channels WHERE team_id = '{t}' AND id IN ('{c}', '{c2}')"),
        format!("SELECT id FROM channels WHERE id = '{c}'"),
        "SELECT id FROM channels WHERE membership_type = 'standard'".to_string(),
        "SELECT * FROM members".to_string(),
        format!("SELECT * FROM members WHERE team_id IN ('{t}', '{t2}') LIMIT 2"),
        "SELECT id FROM members WHERE user_id = 'nobody'".to_string(),
        // Contradicting filters: no request at all.
        "SELECT id FROM channels WHERE team_id = 'a' AND team_id = 'b'".to_string(),
    ];
    if messages_only {
        q.clear();
    }
    for table in ["messages", "message_replies"] {
        let key = if table == "messages" {
            "id"
        } else {
            "parent_message_id"
        };
        q.extend([
            format!("SELECT * FROM {table}"),
            format!("SELECT id FROM {table} LIMIT 5"),
            format!("SELECT id FROM {table} WHERE team_id = '{t}'"),
            format!("SELECT id FROM {table} WHERE team_id = '{t}' AND channel_id = '{c}'"),
            format!(
                "SELECT id FROM {table} WHERE team_id = '{t}' AND channel_id = '{c}' AND {key} = '{m}'"
            ),
            format!(
                "SELECT id FROM {table} WHERE team_id IN ('{t}', '{t2}') AND channel_id IN ('{c}', '{c2}') AND {key} IN ('{m}', '{m2}')"
            ),
            format!("SELECT id FROM {table} WHERE channel_id = '{c}'"),
            format!(
                "SELECT id FROM {table} WHERE last_modified_date_time > now() - interval '30 days'"
            ),
            format!(
                "SELECT id FROM {table} WHERE team_id = '{t}' AND last_modified_date_time >= '2020-01-01T00:00:00Z'"
            ),
            format!("SELECT id FROM {table} WHERE team_id = 'a' AND team_id = 'b'"),
        ]);
    }
    q
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scan_calls_what_its_explain_listed() {
    // The simulator's clock near the real one, so that channel delta's window applies.
    let cfg = SimConfig {
        epoch: None,
        teams: 2,
        channels_per_team: 2,
        messages_per_channel: 4,
        replies_per_message: 2,
        members_per_team: 3,
        ..SimConfig::for_tests()
    };
    // Paced 50 times faster than Microsoft's limits (the simulator does not throttle here), so
    // that rereading a channel does not wait its second.
    let limits = ThrottleLimits::microsoft().scaled(50.0);
    let env = env_with_limits(cfg, Default::default(), limits).await;
    for source in ["auto", "channel", "export", "delta"] {
        env.query(&format!("SET teams.message_source = '{source}'"))
            .await;
        for sql in queries(&env, source != "auto") {
            holds(&env, &sql).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_export_calls_only_the_fallbacks_explain_listed() {
    let env = env().await;
    env.sim.set_switches(Switches {
        export_api: ExportApi::Forbidden,
        ..Switches::default()
    });
    env.query("SET teams.message_source = 'export'").await;
    let (teams, channels, _) = ids(&env);
    for sql in [
        "SELECT id FROM messages".to_string(),
        "SELECT id FROM message_replies".to_string(),
        format!(
            "SELECT id FROM messages WHERE team_id = '{}' AND channel_id = '{}'",
            teams[0], channels[0]
        ),
    ] {
        holds(&env, &sql).await;
    }
}
