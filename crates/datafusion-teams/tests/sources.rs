//! Message source selection: export API for time-bounded queries, channel delta for recent lower
//! bounds, and the documented refusals falling back once per run.

mod common;

use common::*;
use datafusion_teams::{MessageSource, Table, TeamsOptions, primary_key};
use graph_sim::{ExportApi, SimConfig, Switches};
use serde_json::Value;

/// A lower bound in the middle of the tenant's modification times, and the truth rows above it.
fn split(env: &Env, table: &str) -> (String, Vec<Value>) {
    let schema = table.parse::<Table>().unwrap().schema();
    let rows = truth(&env.sim, table, &schema);
    let mut times: Vec<i64> = rows
        .iter()
        .filter_map(|r| r["last_modified_date_time"].as_i64())
        .collect();
    times.sort();
    let mid = times[times.len() / 2];
    let bound = chrono::DateTime::from_timestamp_micros(mid)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let kept = rows
        .into_iter()
        .filter(|r| {
            r["last_modified_date_time"]
                .as_i64()
                .is_some_and(|t| t >= mid)
        })
        .collect();
    (bound, kept)
}

/// `SELECT * FROM table WHERE last_modified_date_time >= <the middle bound>`: checks that the
/// rows above the bound came back, and returns the requests it cost.
async fn read_recent(env: &Env, table: &str) -> std::collections::BTreeMap<String, u64> {
    let (bound, expected) = split(env, table);
    let (batches, counts) = env
        .counted(&format!(
            "SELECT * FROM {table} WHERE last_modified_date_time >= '{bound}'"
        ))
        .await;
    assert_rows_eq(actual_rows(&batches), expected, primary_key(table).unwrap());
    counts
}

fn channels(env: &Env) -> u64 {
    env.sim
        .team_ids()
        .iter()
        .map(|t| env.sim.channels(t).len() as u64)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_bounded_queries_use_the_export_api() {
    let env = env().await;
    for table in ["messages", "message_replies"] {
        let counts = read_recent(&env, table).await;
        // At least one export request per team (more when a team's range spans pages).
        assert!(
            count(&counts, "get_all_messages") >= env.sim.team_ids().len() as u64,
            "{counts:?}"
        );
        assert_eq!(count(&counts, "messages_list"), 0, "{counts:?}");
        assert_eq!(count(&counts, "channels_list"), 0, "{counts:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_refusal_falls_back_once_per_run() {
    for refusal in [ExportApi::Forbidden, ExportApi::PaymentRequired] {
        let env = env().await;
        env.sim.set_switches(Switches {
            export_api: refusal,
            ..Switches::default()
        });
        let counts = read_recent(&env, "messages").await;
        // One probe for the whole run, however many teams; then the channel listing.
        assert_eq!(
            count(&counts, "get_all_messages"),
            1,
            "{refusal:?} {counts:?}"
        );
        assert_eq!(
            count(&counts, "messages_list"),
            channels(&env),
            "{counts:?}"
        );
        let notices = env.handle.take_notices();
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert!(notices[0].contains("getAllMessages"), "{notices:?}");

        let counts = read_recent(&env, "messages").await;
        assert_eq!(count(&counts, "get_all_messages"), 0, "{counts:?}");
        assert!(env.handle.take_notices().is_empty());
    }
}

/// Delta needs the simulator clock near the real clock: its 8-month window is relative to now.
fn live_clock() -> SimConfig {
    SimConfig {
        epoch: None,
        ..SimConfig::for_tests()
    }
}

fn delta_options() -> TeamsOptions {
    TeamsOptions {
        message_source: MessageSource::Delta,
        ..TeamsOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_with_recent_lower_bound() {
    let env = env_with(live_clock(), delta_options()).await;
    for table in ["messages", "message_replies"] {
        let counts = read_recent(&env, table).await;
        assert!(
            count(&counts, "messages_delta") >= channels(&env),
            "{counts:?}"
        );
        assert_eq!(count(&counts, "messages_list"), 0, "{counts:?}");
        assert_eq!(count(&counts, "replies_list"), 0, "{counts:?}");
    }
    assert!(env.handle.take_notices().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_400_falls_back_to_channel_listing() {
    let env = env_with(live_clock(), delta_options()).await;
    env.sim.set_switches(Switches {
        delta_unsupported: true,
        ..Switches::default()
    });
    let counts = read_recent(&env, "messages").await;
    assert_eq!(count(&counts, "messages_delta"), 1, "{counts:?}");
    assert_eq!(
        count(&counts, "messages_list"),
        channels(&env),
        "{counts:?}"
    );
    let notices = env.handle.take_notices();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(notices[0].contains("delta"), "{notices:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_uses_delta_when_export_is_refused_and_the_bound_is_recent() {
    let env = env_with(live_clock(), TeamsOptions::default()).await;
    env.sim.set_switches(Switches {
        export_api: ExportApi::PaymentRequired,
        ..Switches::default()
    });
    let (bound, expected) = split(&env, "messages");
    let (batches, counts) = env
        .counted(&format!(
            "SELECT * FROM messages WHERE last_modified_date_time > '{bound}' OR last_modified_date_time = '{bound}'"
        ))
        .await;
    // The OR is not a pushable bound: the channel listing is used and DataFusion filters.
    assert_rows_eq(
        actual_rows(&batches),
        expected,
        primary_key("messages").unwrap(),
    );
    assert_eq!(count(&counts, "get_all_messages"), 0, "{counts:?}");

    let counts = read_recent(&env, "messages").await;
    assert_eq!(count(&counts, "get_all_messages"), 1, "{counts:?}");
    assert!(
        count(&counts, "messages_delta") >= channels(&env),
        "{counts:?}"
    );
    assert_eq!(count(&counts, "messages_list"), 0, "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_delta_without_recent_bound_uses_the_listing_with_a_notice() {
    let env = env_with(SimConfig::for_tests(), delta_options()).await;
    let (batches, counts) = env.counted("SELECT id FROM messages").await;
    assert!(row_count(&batches) > 0);
    assert_eq!(count(&counts, "messages_delta"), 0, "{counts:?}");
    assert_eq!(env.handle.take_notices().len(), 1);
}

/// Twelve teams of two channels, ten posts with one reply each, paced 50 times faster than
/// Microsoft (the simulator does not throttle here; the choice only depends on rate ratios).
/// A full read through the listing: 24 channel pages bound by the tenant's message rate and
/// each channel's; through the export API: one page per team at each team's rate.
async fn wide_tenant() -> Env {
    let cfg = SimConfig {
        teams: 12,
        channels_per_team: 2,
        messages_per_channel: 10,
        replies_per_message: 1,
        members_per_team: 2,
        ..SimConfig::for_tests()
    };
    let limits = graph_client::ThrottleLimits::microsoft().scaled(50.0);
    env_with_limits(cfg, TeamsOptions::default(), limits).await
}

/// Runs the first full read, which `auto` reads from the listing while the tenant's shape is
/// unknown, and returns its rows.
async fn first_full_read(env: &Env, table: &str) -> Vec<Value> {
    let sql = format!("SELECT * FROM {table}");
    let plan = env.explain(&sql).await;
    assert!(plan.contains("source=channel (option auto)"), "{plan}");
    assert!(plan.contains("until a full read"), "{plan}");
    let (batches, counts) = env.counted(&sql).await;
    assert_eq!(count(&counts, "messages_list"), channels(env), "{counts:?}");
    assert_eq!(count(&counts, "get_all_messages"), 0, "{counts:?}");
    actual_rows(&batches)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_reads_a_wide_tenant_through_the_export_api_once_it_knows_its_shape() {
    let env = wide_tenant().await;
    let teams = env.sim.team_ids().len() as u64;
    let replies = first_full_read(&env, "message_replies").await;
    let messages = actual_rows(&env.query("SELECT * FROM messages").await);
    for (table, expected) in [("message_replies", replies), ("messages", messages)] {
        let sql = format!("SELECT * FROM {table}");
        let plan = env.explain(&sql).await;
        assert!(plan.contains("source=export (option auto)"), "{plan}");
        // 12 teams of 20 posts and 20 replies: one export page each.
        assert!(
            plan.contains("lower bounds: export >= 12 requests"),
            "{plan}"
        );
        assert!(plan.contains("vs listing >= 36 requests"), "{plan}");
        let (batches, counts) = env.counted(&sql).await;
        assert_eq!(count(&counts, "get_all_messages"), teams, "{counts:?}");
        assert_eq!(count(&counts, "messages_list"), 0, "{counts:?}");
        assert_eq!(count(&counts, "channels_list"), 0, "{counts:?}");
        assert_rows_eq(actual_rows(&batches), expected, primary_key(table).unwrap());
    }
    // The test tenant's few teams with long threads stay on the listing.
    let narrow = common::env().await;
    first_full_read(&narrow, "message_replies").await;
    let plan = narrow.explain("SELECT * FROM message_replies").await;
    assert!(plan.contains("source=channel (option auto)"), "{plan}");
    assert!(
        plan.contains("the listing reads this tenant faster"),
        "{plan}"
    );
}

/// The estimate EXPLAIN prints is the one the scan will pace by: `SET teams.throttle_scale`
/// moves it from the first plan after the SET, before any scan has handed the scale to the
/// client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_after_set_throttle_scale_shows_the_scaled_estimate() {
    let env = wide_tenant().await;
    // A full read of the replies shows the tenant's shape.
    first_full_read(&env, "message_replies").await;
    let sql = "SELECT * FROM messages";
    // 12 channel lists and 24 message pages at the client's 50x: the 24 pages bind, 23
    // intervals at 1,000/s.
    let plan = env.explain(sql).await;
    assert!(plan.contains("vs listing >= 36 requests, 0.02s"), "{plan}");
    // At Microsoft's own limits (x1): 23 intervals at 20/s.
    env.query("SET teams.throttle_scale = 1").await;
    let plan = env.explain(sql).await;
    assert!(plan.contains("vs listing >= 36 requests, 1.15s"), "{plan}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_falls_back_to_the_listing_when_the_export_api_is_refused() {
    let env = wide_tenant().await;
    env.sim.set_switches(Switches {
        export_api: ExportApi::Forbidden,
        ..Switches::default()
    });
    let teams = env.sim.team_ids().len() as u64;
    let expected = first_full_read(&env, "message_replies").await;
    let sql = "SELECT * FROM message_replies";
    assert!(env.explain(sql).await.contains("source=export"));
    let (batches, counts) = env.counted(sql).await;
    // One refused probe for the run, then every team's channels and their listing.
    assert_eq!(count(&counts, "get_all_messages"), 1, "{counts:?}");
    assert_eq!(count(&counts, "channels_list"), teams, "{counts:?}");
    assert_eq!(
        count(&counts, "messages_list"),
        channels(&env),
        "{counts:?}"
    );
    assert_rows_eq(
        actual_rows(&batches),
        expected,
        primary_key("message_replies").unwrap(),
    );
    let notices = env.handle.take_notices();
    assert!(
        notices.iter().any(|n| n.contains("getAllMessages")),
        "{notices:?}"
    );
    // Known refused: later scans plan the listing and say why.
    let plan = env.explain(sql).await;
    assert!(plan.contains("source=channel (option auto)"), "{plan}");
    assert!(plan.contains("refused earlier in this run"), "{plan}");
    let (_, counts) = env.counted(sql).await;
    assert_eq!(count(&counts, "get_all_messages"), 0, "{counts:?}");
}
