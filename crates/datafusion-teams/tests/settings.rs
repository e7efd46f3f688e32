//! The `teams` settings as a DataFusion config extension (`SET teams.*`, `SHOW ALL`), the
//! per-table override, rows that do not depend on the projection, and ids that cannot exist.

mod common;

use common::*;
use datafusion::arrow::array::{Array, AsArray};
use graph_sim::Switches;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_and_show_the_teams_settings() {
    let env = env().await;
    // What `SHOW ALL` lists (the shell's session has information_schema on; tests/partial.rs).
    let entries = |env: &Env| -> Vec<(String, Option<String>)> {
        env.ctx
            .state()
            .config_options()
            .entries()
            .into_iter()
            .map(|e| (e.key, e.value))
            .collect()
    };
    let keys: Vec<String> = entries(&env).into_iter().map(|(k, _)| k).collect();
    for key in [
        "teams.on_forbidden",
        "teams.message_source",
        "teams.concurrency",
        "teams.page_size",
    ] {
        assert!(keys.iter().any(|k| k == key), "{key} in {keys:?}");
    }
    env.query("SET teams.on_forbidden = 'skip'").await;
    env.query("SET teams.page_size = 10").await;
    assert!(entries(&env).contains(&("teams.on_forbidden".to_string(), Some("skip".to_string()))));

    // The setting reaches the scans: pages of 10.
    let t = env.sim.team_ids()[0].clone();
    let c = env.sim.channels(&t)[0]["id"].as_str().unwrap().to_string();
    let n = env.sim.messages(&t, &c).len();
    let (_, counts) = env
        .counted(&format!(
            "SELECT id FROM messages WHERE team_id = '{t}' AND channel_id = '{c}'"
        ))
        .await;
    assert_eq!(count(&counts, "messages_list") as usize, n.div_ceil(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_settings_are_one_line_errors_naming_the_allowed_values() {
    let env = env().await;
    for (sql, allowed) in [
        ("SET teams.on_forbidden = 'maybe'", "fail, skip"),
        ("SET teams.concurrency = 0", "1-128"),
        ("SET teams.page_size = 1000", "1-999"),
        (
            "SET teams.message_source = 'pigeon'",
            "auto, channel, export, delta",
        ),
        (
            "SET teams.colour = 'blue'",
            "on_forbidden, message_source, concurrency, page_size",
        ),
    ] {
        let err = env.try_query(sql).await.unwrap_err().to_string();
        assert!(err.contains(allowed), "{sql}: {err}");
        assert!(!err.contains('\n'), "{sql}: {err}");
    }
    // 51 is a fine page for members but above what Graph allows for messages.
    env.query("SET teams.page_size = 51").await;
    env.query("SELECT count(*) FROM members").await;
    let err = env
        .try_query("SELECT count(*) FROM messages")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("1-50"), "{err}");
    let err = env
        .try_query(
            "CREATE EXTERNAL TABLE m STORED AS TEAMS LOCATION 'messages' OPTIONS ('page_size' '51')",
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("1-50"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_table_can_skip_while_the_session_fails() {
    let env = env().await;
    let forbidden = env.sim.team_ids()[0].clone();
    env.sim.set_switches(Switches {
        forbidden_team_ids: vec![forbidden.clone()],
        ..Switches::default()
    });
    env.query(
        "CREATE EXTERNAL TABLE lenient STORED AS TEAMS LOCATION 'channels' OPTIONS ('on_forbidden' 'skip')",
    )
    .await;
    assert!(env.try_query("SELECT id FROM channels").await.is_err());
    let batches = env.query("SELECT team_id FROM lenient").await;
    let expected: usize = env
        .sim
        .team_ids()
        .iter()
        .filter(|t| **t != forbidden)
        .map(|t| env.sim.channels(t).len())
        .sum();
    assert_eq!(row_count(&batches), expected);
    assert!(env.handle.take_report().is_partial());
}

async fn count_star(env: &Env, sql: &str) -> i64 {
    let b = env.query(sql).await;
    b[0].column(0)
        .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
        .value(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_do_not_depend_on_the_projection_when_a_team_refuses_its_details() {
    let env = env().await;
    let forbidden = env.sim.team_ids()[1].clone();
    env.sim.set_switches(Switches {
        forbidden_team_ids: vec![forbidden.clone()],
        ..Switches::default()
    });
    // Under fail, a column that needs GET /teams/{id} fails the statement.
    assert!(
        env.try_query("SELECT count(*), count(summary) FROM teams")
            .await
            .is_err()
    );
    env.query("SET teams.on_forbidden = 'skip'").await;
    let teams = env.sim.team_ids().len() as i64;
    assert_eq!(count_star(&env, "SELECT count(*) FROM teams").await, teams);
    assert_eq!(
        count_star(&env, "SELECT count(*), count(summary) FROM teams").await,
        teams
    );
    // Named by id, the team can only be read with GET /teams/{id}: nothing but a refusal.
    let err = env
        .try_query(&format!(
            "SELECT display_name FROM teams WHERE id = '{forbidden}'"
        ))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("nothing of teams could be read"), "{err}");
    let b = env
        .query("SELECT id, display_name, summary FROM teams ORDER BY id")
        .await;
    let ids = b[0].column(0).as_string::<i32>();
    let row = (0..ids.len()).find(|&i| ids.value(i) == forbidden).unwrap();
    assert!(
        !b[0].column(1).is_null(row),
        "display_name comes from the listing"
    );
    assert!(
        b[0].column(2).is_null(row),
        "summary needs the refused call"
    );
    assert!(env.handle.take_report().is_partial());

    // Every table: count(*) is the same whatever else is selected (the forbidden team's
    // children are left out either way).
    for (table, col) in [
        ("channels", "display_name"),
        ("members", "email"),
        ("messages", "body"),
        ("message_replies", "body"),
    ] {
        let bare = count_star(&env, &format!("SELECT count(*) FROM {table}")).await;
        let with = count_star(&env, &format!("SELECT count(*), count({col}) FROM {table}")).await;
        let all = row_count(&env.query(&format!("SELECT * FROM {table}")).await) as i64;
        assert_eq!((bare, with), (all, all), "{table}");
        assert!(all > 0, "{table}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_that_cannot_exist_match_no_rows() {
    let env = env().await;
    let t = env.sim.team_ids()[0].clone();
    for sql in [
        "SELECT * FROM teams WHERE id = ''".to_string(),
        "SELECT * FROM channels WHERE team_id = '..'".to_string(),
        format!("SELECT * FROM messages WHERE team_id = '{t}' AND channel_id = '.'"),
        format!("SELECT * FROM message_replies WHERE team_id = '{t}' AND channel_id IN ('', '..')"),
    ] {
        let (b, counts) = env.counted(&sql).await;
        assert_eq!(row_count(&b), 0, "{sql}");
        assert_eq!(total(&counts), 0, "{sql}: {counts:?}");
    }
    let c = env.sim.channels(&t)[0]["id"].as_str().unwrap().to_string();
    let b = env
        .query(&format!(
            "SELECT id FROM messages WHERE team_id = '{t}' AND channel_id IN ('..', '{c}')"
        ))
        .await;
    assert_eq!(row_count(&b), env.sim.messages(&t, &c).len());
}

/// `column_names = 'graph'`: Graph's camelCase names, nested fields included, the parent ids
/// unchanged, the same rows, and filters on the renamed columns still pushed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_column_names_keep_rows_and_pushdown() {
    let env = env().await;
    env.query(
        "CREATE EXTERNAL TABLE graph_messages STORED AS TEAMS LOCATION 'messages' OPTIONS ('column_names' 'graph')",
    )
    .await;
    let t = env.sim.team_ids()[0].clone();
    let c = env.sim.channels(&t)[0]["id"].as_str().unwrap().to_string();
    let graph = format!(
        "SELECT id, \"lastModifiedDateTime\", \"from\"['user']['displayName'] AS who FROM graph_messages WHERE team_id = '{t}' AND channel_id = '{c}' LIMIT 10"
    );
    let snake = format!(
        "SELECT id, last_modified_date_time AS \"lastModifiedDateTime\", \"from\"['user']['display_name'] AS who FROM messages WHERE team_id = '{t}' AND channel_id = '{c}' LIMIT 10"
    );
    let (batches, counts) = env.counted(&graph).await;
    assert_eq!(total(&counts), 1, "{counts:?}");
    assert_eq!(count(&counts, "messages_list"), 1, "{counts:?}");
    assert_eq!(row_count(&batches), 10);
    let expected = actual_rows(&env.query(&snake).await);
    assert_rows_eq(actual_rows(&batches), expected, &["id"]);

    // A time bound on the renamed column goes to the export API, as on the snake_case one.
    let plan = env
        .explain("SELECT id FROM graph_messages WHERE \"lastModifiedDateTime\" > now() - interval '30 days'")
        .await;
    assert!(plan.contains("source=export"), "{plan}");
    let all = env.query("SELECT * FROM graph_messages LIMIT 1").await;
    let schema = all[0].schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        &names[..4],
        ["team_id", "channel_id", "id", "replyToId"],
        "{names:?}"
    );
    assert!(names.contains(&"lastModifiedDateTime"), "{names:?}");

    // `SET teams.column_names` names the tables created after it.
    env.query("SET teams.column_names = 'graph'").await;
    env.query("CREATE EXTERNAL TABLE graph_channels STORED AS TEAMS LOCATION 'channels'")
        .await;
    let rows = env
        .query(&format!(
            "SELECT \"displayName\" FROM graph_channels WHERE team_id = '{t}'"
        ))
        .await;
    assert_eq!(row_count(&rows), env.sim.channels(&t).len());
    // The registered tables keep their names.
    env.query("SELECT display_name FROM channels LIMIT 1").await;
}
