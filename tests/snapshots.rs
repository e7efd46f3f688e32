//! Snapshots of what the shell prints, as datafusion-cli tests its binary: a change in table,
//! csv or json output or in EXPLAIN shows up as a diff of `tests/snapshots/*.snap` to review
//! (`cargo insta review`, or INSTA_UPDATE=always and `git diff`). Under CI=true insta never
//! writes a snapshot: a difference, or a snapshot missing from the commit, fails the test.
//!
//! They run `--demo` as a user does, with its clock pinned by TEAMS_SQL_DEMO_EPOCH so the data
//! (message ids and times derive from the clock) is the same on every day. Only elapsed times
//! and the throttling figures, which depend on the machine, are filtered out.

use std::process::Command;

use insta_cmd::assert_cmd_snapshot;

const BIN: &str = env!("CARGO_BIN_EXE_teams-sql");

/// 2026-01-01T00:00:00Z.
const CLOCK: &str = "1767225600";

/// A team of the demo tenant (its ids derive from the seed only).
const TEAM: &str = "731911c1-fccb-48ed-b284-5353c512aae3";

/// `teams-sql --demo ARGS` with nothing from the developer's environment.
fn demo(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("TEAMS_SQL_DEMO_EPOCH", CLOCK)
        .arg("--demo")
        .args(args);
    cmd
}

fn messages_query() -> String {
    format!(
        "SELECT id, created_date_time, \"from\"['user']['display_name'] AS author, body, reactions \
         FROM messages WHERE team_id = '{TEAM}' AND reply_to_id IS NULL \
         ORDER BY created_date_time, channel_id, id LIMIT 4"
    )
}

macro_rules! snapshot {
    ($name:expr, $cmd:expr) => {
        insta::with_settings!({
            filters => vec![
                (r"(\d+ rows?) in \d+\.\d+s", "$1 in [ELAPSED]"),
                (r"\d+ throttled \(429\), \d+\.\d+s throttle wait", "[THROTTLING]"),
            ],
        }, {
            assert_cmd_snapshot!($name, $cmd);
        })
    };
}

#[test]
fn table_with_its_summary() {
    snapshot!(
        "table",
        demo(&[
            "--format",
            "table",
            "-c",
            "SELECT t.display_name AS team, c.display_name AS channel, c.membership_type \
             FROM channels c JOIN teams t ON t.id = c.team_id ORDER BY team, channel",
        ])
    );
}

#[test]
fn table_of_nested_and_long_values() {
    snapshot!(
        "table_nested",
        demo(&["--format", "table", "-q", "-c", &messages_query()])
    );
}

#[test]
fn csv() {
    snapshot!(
        "csv",
        demo(&["--format", "csv", "-q", "-c", &messages_query()])
    );
}

#[test]
fn json() {
    snapshot!(
        "json",
        demo(&["--format", "json", "-q", "-c", &messages_query()])
    );
}

#[test]
fn explain_lists_the_graph_requests() {
    let sql = format!(
        "EXPLAIN SELECT id, subject FROM messages WHERE team_id = '{TEAM}' \
         AND last_modified_date_time > TIMESTAMP '2025-12-01T00:00:00Z' LIMIT 10"
    );
    snapshot!("explain", demo(&["--format", "table", "-q", "-c", &sql]));
}

#[test]
fn tables_and_keys() {
    snapshot!(
        "describe",
        demo(&["--format", "table", "-q", "-c", "\\d", "-c", "\\d channels"])
    );
}
