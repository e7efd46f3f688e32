//! Pushdown proven by the simulator's request counters.

mod common;

use common::*;
use graph_sim::SimConfig;

fn channel_ids(env: &Env, team: &str) -> Vec<String> {
    env.sim
        .channels(team)
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_on_one_channel_costs_exactly_one_request() {
    let env = env().await;
    let t = env.sim.team_ids()[0].clone();
    let c = channel_ids(&env, &t)[0].clone();
    let (batches, counts) = env
        .counted(&format!(
            "SELECT * FROM messages WHERE team_id = '{t}' AND channel_id = '{c}' LIMIT 10"
        ))
        .await;
    assert_eq!(row_count(&batches), 10);
    assert_eq!(total(&counts), 1, "{counts:?}");
    assert_eq!(count(&counts, "messages_list"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_without_filters_stops_discovery_early() {
    let env = env().await;
    let (batches, counts) = env.counted("SELECT * FROM messages LIMIT 5").await;
    assert_eq!(row_count(&batches), 5);
    // First team, its channels, the first channel's first page: nothing more.
    assert_eq!(count(&counts, "teams_list"), 1, "{counts:?}");
    assert_eq!(count(&counts, "channels_list"), 1, "{counts:?}");
    assert_eq!(count(&counts, "messages_list"), 1, "{counts:?}");
    assert_eq!(total(&counts), 3, "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_filter_never_lists_other_teams() {
    let env = env().await;
    let t = env.sim.team_ids()[1].clone();
    let channels = channel_ids(&env, &t).len() as u64;

    let (_, counts) = env
        .counted(&format!("SELECT * FROM channels WHERE team_id = '{t}'"))
        .await;
    assert_eq!(counts.len(), 1, "{counts:?}");
    assert_eq!(count(&counts, "channels_list"), 1);

    let (_, counts) = env
        .counted(&format!("SELECT * FROM members WHERE team_id = '{t}'"))
        .await;
    assert_eq!(total(&counts), 1, "{counts:?}");

    let (_, counts) = env
        .counted(&format!("SELECT id FROM messages WHERE team_id = '{t}'"))
        .await;
    assert_eq!(count(&counts, "teams_list"), 0, "{counts:?}");
    assert_eq!(count(&counts, "channels_list"), 1, "{counts:?}");
    // 25 messages per channel fit one page of 50.
    assert_eq!(count(&counts, "messages_list"), channels, "{counts:?}");
    assert_eq!(total(&counts), 1 + channels, "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_detail_only_when_projected() {
    let env = env().await;
    let n = env.sim.team_ids().len() as u64;
    let (_, counts) = env
        .counted("SELECT id, display_name, visibility FROM teams")
        .await;
    assert_eq!(count(&counts, "teams_list"), 1, "{counts:?}");
    assert_eq!(count(&counts, "team_get"), 0, "{counts:?}");
    let (_, counts) = env.counted("SELECT id, created_date_time FROM teams").await;
    assert_eq!(count(&counts, "team_get"), n, "{counts:?}");
    let t = env.sim.team_ids()[0].clone();
    let (batches, counts) = env
        .counted(&format!("SELECT * FROM teams WHERE id = '{t}'"))
        .await;
    assert_eq!(row_count(&batches), 1);
    assert_eq!(total(&counts), 1, "{counts:?}");
    assert_eq!(count(&counts, "team_get"), 1, "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_without_parent_filter_cost_no_per_message_requests() {
    let env = env().await;
    let channels: u64 = env
        .sim
        .team_ids()
        .iter()
        .map(|t| channel_ids(&env, t).len() as u64)
        .sum();
    let (batches, counts) = env.counted("SELECT * FROM message_replies").await;
    assert!(row_count(&batches) > 0);
    assert_eq!(count(&counts, "replies_list"), 0, "{counts:?}");
    assert_eq!(count(&counts, "message_get"), 0, "{counts:?}");
    assert_eq!(count(&counts, "messages_list"), channels, "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_over_1000_replies_follow_the_inline_next_link() {
    let cfg = SimConfig {
        teams: 1,
        channels_per_team: 1,
        messages_per_channel: 3,
        replies_per_message: 2,
        members_per_team: 3,
        big_threads: true,
        ..SimConfig::for_tests()
    };
    let env = env_with(cfg, Default::default()).await;
    let t = env.sim.team_ids()[0].clone();
    let c = channel_ids(&env, &t)[0].clone();
    let expected: usize = env
        .sim
        .messages(&t, &c)
        .iter()
        .map(|m| env.sim.replies(&t, &c, m["id"].as_str().unwrap()).len())
        .sum();
    assert!(expected > 1000, "the sim should make a big thread");
    let (batches, counts) = env
        .counted("SELECT id, parent_message_id FROM message_replies")
        .await;
    assert_eq!(row_count(&batches), expected);
    // One listing, plus only the replies pages beyond the first 1000 of the big thread.
    assert_eq!(count(&counts, "messages_list"), 1, "{counts:?}");
    let extra = count(&counts, "replies_list") as usize;
    assert!(
        extra >= 1 && extra <= (expected - 1000).div_ceil(50) + 1,
        "{counts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_shows_pushed_filters_and_request_plan() {
    let env = env().await;
    let t = env.sim.team_ids()[0].clone();
    let plan = env
        .explain(&format!(
            "SELECT id FROM messages WHERE team_id = '{t}' AND last_modified_date_time > now() - interval '7 days'"
        ))
        .await;
    assert!(plan.contains("TeamsScanExec"), "{plan}");
    assert!(plan.contains(&format!("team_id in ('{t}')")), "{plan}");
    assert!(plan.contains("last_modified_date_time"), "{plan}");
    assert!(plan.contains("source=export"), "{plan}");
    assert!(plan.contains("getAllMessages"), "{plan}");
    println!("{plan}");

    let plan = env
        .explain(&format!(
            "SELECT * FROM messages WHERE team_id = '{t}' LIMIT 3"
        ))
        .await;
    assert!(plan.contains("limit=3"), "{plan}");
    assert!(plan.contains("source=channel"), "{plan}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_analyze_reports_graph_metrics() {
    let env = env().await;
    let t = env.sim.team_ids()[0].clone();
    let batches = env
        .query(&format!(
            "EXPLAIN ANALYZE SELECT * FROM channels WHERE team_id = '{t}'"
        ))
        .await;
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string();
    assert!(text.contains("graph_requests=1"), "{text}");
    assert!(text.contains("graph_pages=1"), "{text}");
    assert!(text.contains("children_skipped=0"), "{text}");
    assert!(text.contains("graph_requests_per_s="), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_email_is_only_selected_when_projected() {
    let env = env().await;
    let plan = env.explain("SELECT id, display_name FROM channels").await;
    assert!(plan.contains("$select=displayName,id"), "{plan}");
    let plan = env
        .explain("SELECT display_name, email FROM channels")
        .await;
    assert!(plan.contains("$select=displayName,email,id"), "{plan}");
    let rows = actual_rows(&env.query("SELECT email FROM channels").await);
    assert!(rows.iter().all(|r| r["email"].is_string()), "{rows:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_teams_are_split_across_partitions() {
    let env = env().await;
    let teams = env.sim.team_ids();
    let list = teams
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("SELECT id FROM members WHERE team_id IN ({list})");
    let plan = env.explain(&sql).await;
    let target = env.ctx.state().config().target_partitions();
    let expected = target.clamp(1, teams.len());
    assert!(plan.contains(&format!("partitions={expected}")), "{plan}");
    let (batches, counts) = env.counted(&sql).await;
    let members: usize = teams.iter().map(|t| env.sim.members(t).len()).sum();
    assert_eq!(row_count(&batches), members);
    assert_eq!(
        count(&counts, "members_list"),
        teams.len() as u64,
        "{counts:?}"
    );
    assert_eq!(total(&counts), teams.len() as u64, "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_message_is_one_get() {
    let env = env().await;
    let t = env.sim.team_ids()[0].clone();
    let c = channel_ids(&env, &t)[2].clone();
    let truth = env.sim.messages(&t, &c);
    let m = truth[3]["id"].as_str().unwrap().to_string();
    let sql = format!(
        "SELECT * FROM messages WHERE team_id = '{t}' AND channel_id = '{c}' AND id = '{m}'"
    );
    assert_eq!(chosen_access(&env.explain(&sql).await), (true, 1));
    let (batches, counts) = env.counted(&sql).await;
    let schema = datafusion_teams::Table::Messages.schema();
    let expected = vec![common::expected_row(
        &schema,
        &truth[3],
        &[("team_id", &t), ("channel_id", &c)],
    )];
    assert_rows_eq(actual_rows(&batches), expected, &["id"]);
    assert_eq!(total(&counts), 1, "{counts:?}");
    assert_eq!(count(&counts, "message_get"), 1, "{counts:?}");
    // Without the channel, the id is checked while listing.
    let (batches, counts) = env
        .counted(&format!(
            "SELECT id FROM messages WHERE team_id = '{t}' AND id = '{m}'"
        ))
        .await;
    // Message ids may repeat across channels: every channel's copy is a row.
    let copies = channel_ids(&env, &t)
        .iter()
        .map(|c| {
            env.sim
                .messages(&t, c)
                .iter()
                .filter(|x| x["id"] == m.as_str())
                .count()
        })
        .sum::<usize>();
    assert_eq!(row_count(&batches), copies);
    assert_eq!(count(&counts, "message_get"), 0, "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_counts_what_it_listed_and_nothing_for_named_parents() {
    let env = env().await;
    let teams = env.sim.team_ids();
    let channels: u64 = teams
        .iter()
        .map(|t| channel_ids(&env, t).len() as u64)
        .sum();

    env.query("SELECT count(*) FROM messages").await;
    let d = env.handle.discovered();
    assert_eq!(d.teams, teams.len() as u64);
    assert_eq!(d.channels, channels);

    // A named team and channel are read, not discovered.
    let t = &teams[0];
    let c = channel_ids(&env, t)[0].clone();
    env.query(&format!(
        "SELECT count(*) FROM messages WHERE team_id = '{t}' AND channel_id = '{c}'"
    ))
    .await;
    assert_eq!(env.handle.discovered(), d);

    // The scans of one statement list the same parents again: each counts once.
    env.handle.start_statement();
    env.query("SELECT (SELECT count(*) FROM messages) + (SELECT count(*) FROM members) AS n")
        .await;
    assert_eq!(env.handle.discovered(), d);
}

/// The access EXPLAIN printed: (point reads chosen, the requests it estimated for that path).
fn chosen_access(plan: &str) -> (bool, u64) {
    let at = plan
        .find("chose ")
        .expect("EXPLAIN names the chosen access")
        + "chose ".len();
    let rest = &plan[at..];
    let point = !rest.starts_with(">=");
    let digits: String = rest
        .trim_start_matches(">= ")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (point, digits.parse().expect("a request count"))
}

fn quoted(values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("'{v}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Several teams, one channel of each, `per_channel` message ids of each channel, all in IN
/// lists: the cross product the old plan read one GET per combination.
fn in_list_query(env: &Env, per_channel: usize, filtered: &str) -> (String, usize) {
    let teams: Vec<String> = env.sim.team_ids()[..3].to_vec();
    let channels: Vec<String> = teams
        .iter()
        .map(|t| channel_ids(env, t)[1].clone())
        .collect();
    let mut ids = Vec::new();
    for (t, c) in teams.iter().zip(&channels) {
        for m in env.sim.messages(t, c).iter().take(per_channel) {
            ids.push(m["id"].as_str().unwrap().to_string());
        }
    }
    let product = teams.len() * channels.len() * ids.len();
    let sql = format!(
        "SELECT * FROM messages WHERE {filtered}team_id IN ({}) AND {filtered}channel_id IN ({}) AND {filtered}id IN ({})",
        quoted(&teams),
        quoted(&channels),
        quoted(&ids)
    );
    (sql, product)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_ids_over_several_teams_list_the_real_channels_instead_of_the_product() {
    let env = env().await;
    let (sql, product) = in_list_query(&env, 7, "");
    let (point, estimate) = chosen_access(&env.explain(&sql).await);
    assert!(!point, "21 ids in 3 channels: the listing is cheaper");
    let (batches, counts) = env.counted(&sql).await;
    println!(
        "IN lists: {} requests, the product was {product}",
        total(&counts)
    );
    // One channel listing per team, then one page per channel that exists in its team.
    assert_eq!(total(&counts), estimate, "{counts:?}");
    assert_eq!(total(&counts), 6, "{counts:?}");
    assert_eq!(count(&counts, "message_get"), 0, "{counts:?}");
    // Same rows as a query whose filters are not pushed.
    let (unpushed, _) = in_list_query(&env, 7, "'' || ");
    let (unpushed_batches, unpushed_counts) = env.counted(&unpushed).await;
    // Teams were discovered: the filters were not pushed.
    assert_eq!(
        count(&unpushed_counts, "teams_list"),
        1,
        "{unpushed_counts:?}"
    );
    let expected = actual_rows(&unpushed_batches);
    assert_eq!(expected.len(), 21);
    assert_rows_eq(
        actual_rows(&batches),
        expected,
        &["team_id", "channel_id", "id"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn few_ids_over_several_teams_are_point_reads_of_the_real_channels() {
    let env = env().await;
    let (sql, product) = in_list_query(&env, 1, "");
    let (point, estimate) = chosen_access(&env.explain(&sql).await);
    assert!(point, "3 ids per channel are point reads");
    let (batches, counts) = env.counted(&sql).await;
    println!(
        "IN lists: {} requests, the product was {product}",
        total(&counts)
    );
    assert_eq!(total(&counts), estimate, "{counts:?}");
    // Three channel listings find the three real (team, channel) pairs; 3 ids each.
    assert_eq!(count(&counts, "channels_list"), 3, "{counts:?}");
    assert_eq!(count(&counts, "message_get"), 9, "{counts:?}");
    let (unpushed, _) = in_list_query(&env, 1, "'' || ");
    let expected = actual_rows(&env.query(&unpushed).await);
    assert_eq!(expected.len(), 3);
    assert_rows_eq(
        actual_rows(&batches),
        expected,
        &["team_id", "channel_id", "id"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_parents_over_several_teams_follow_the_access_explain_prints() {
    let env = env().await;
    for (per_channel, point_expected) in [(1, true), (5, false)] {
        let (messages, _) = in_list_query(&env, per_channel, "");
        let pushed = messages
            .replace("FROM messages", "FROM message_replies")
            .replace("AND id IN", "AND parent_message_id IN");
        let (point, estimate) = chosen_access(&env.explain(&pushed).await);
        assert_eq!(point, point_expected, "{per_channel} parents per channel");
        let (batches, counts) = env.counted(&pushed).await;
        if point {
            assert_eq!(total(&counts), estimate, "{counts:?}");
            assert_eq!(count(&counts, "messages_list"), 0, "{counts:?}");
        } else {
            // Lower bound: long threads add replies@odata.nextLink pages.
            assert!(total(&counts) >= estimate, "{counts:?}");
            assert_eq!(count(&counts, "replies_list"), 0, "{counts:?}");
        }
        let (messages, _) = in_list_query(&env, per_channel, "'' || ");
        let unpushed = messages
            .replace("FROM messages", "FROM message_replies")
            .replace("AND '' || id IN", "AND '' || parent_message_id IN");
        let expected = actual_rows(&env.query(&unpushed).await);
        assert!(!expected.is_empty(), "the named parents have replies");
        assert_rows_eq(
            actual_rows(&batches),
            expected,
            &["team_id", "channel_id", "parent_message_id", "id"],
        );
    }
}

/// `last_modified_date_time` bounds written with `to_timestamp_seconds`, `to_timestamp_millis`
/// and string literals push down (the export API filters them: no channel listing) and keep
/// the rows of the same filter applied above a LIMIT, which no filter passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_bounds_in_other_units_push_down_and_keep_the_same_rows() {
    // Paced 50 times faster than Microsoft (the simulator does not throttle here): the
    // unpushed queries reread every channel.
    let limits = graph_client::ThrottleLimits::microsoft().scaled(50.0);
    let env = env_with_limits(SimConfig::for_tests(), Default::default(), limits).await;
    let teams = env.sim.team_ids().len() as u64;
    let schema = datafusion_teams::Table::Messages.schema();
    let mut times: Vec<i64> = truth(&env.sim, "messages", &schema)
        .iter()
        .filter_map(|r| r["last_modified_date_time"].as_i64())
        .collect();
    times.sort();
    // The middle of the tenant's modification times, on a whole second.
    let secs = times[times.len() / 2].div_euclid(1_000_000);
    let text = chrono::DateTime::from_timestamp(secs, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let millis = secs * 1000 + 500;
    for bound in [
        format!("to_timestamp_seconds({secs})"),
        format!("to_timestamp_millis({millis})"),
        format!("'{text}'"),
    ] {
        for op in [">=", ">", "<", "<="] {
            let pushed =
                format!("SELECT * FROM messages WHERE last_modified_date_time {op} {bound}");
            let plan = env.explain(&pushed).await;
            assert!(plan.contains("source=export"), "{pushed}: {plan}");
            let (batches, counts) = env.counted(&pushed).await;
            assert!(
                count(&counts, "get_all_messages") >= teams,
                "{pushed}: {counts:?}"
            );
            assert_eq!(count(&counts, "messages_list"), 0, "{pushed}: {counts:?}");
            let unpushed = format!(
                "SELECT * FROM (SELECT * FROM messages LIMIT 1000000) WHERE last_modified_date_time {op} {bound}"
            );
            let (unpushed_batches, unpushed_counts) = env.counted(&unpushed).await;
            assert_eq!(
                count(&unpushed_counts, "get_all_messages"),
                0,
                "{unpushed} is not pushed: {unpushed_counts:?}"
            );
            let expected = actual_rows(&unpushed_batches);
            assert!(!expected.is_empty(), "{unpushed}");
            assert_rows_eq(
                actual_rows(&batches),
                expected,
                &["team_id", "channel_id", "id"],
            );
        }
    }
}
