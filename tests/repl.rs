//! The interactive shell through a pseudo-terminal: multi-line input, commands, history
//! hygiene and Ctrl-C cancelling a running query without leaving the shell.

mod common;

use std::time::Duration;

use common::{Pty, Tenant};
use graph_sim::Sim;
use graph_sim::SimConfig;

const T: Duration = Duration::from_secs(60);

#[test]
fn repl_session_with_history_that_holds_no_secret() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let mut pty = Pty::spawn(t.command(dir.path()));
    pty.expect("teams-sql> ", T);

    // A statement over two lines runs once the `;` arrives.
    pty.send("SELECT count(*) AS team_count\r");
    pty.send("FROM teams;\r");
    let out = pty.expect("graph: ", T);
    let n = t.sim().team_ids().len();
    assert!(out.contains("team_count"), "{out}");
    assert!(out.contains(&format!("| {n} ")), "{out}");
    pty.expect("teams-sql> ", T);

    // Output markers rather than the prompt: rustyline redraws the prompt while a line is typed.
    pty.send("\\d messages\r");
    let out = pty.expect("3 of 3", T);
    assert!(out.contains("1 of 3"), "{out}");

    pty.send("\\conn\r");
    let out = pty.expect("settings from", T);
    assert!(out.contains(graph_sim::DEFAULT_TENANT_ID), "{out}");

    pty.send("\\format json\r");
    pty.expect("output format is json", T);
    pty.send("SELECT 'my client_secret is hunter2' AS s;\r");
    pty.expect("hunter2\"}]", T);
    pty.send("SELECT 'p' AS password_note;\r");
    pty.expect("password_note", T);
    // Keys typed before the prompt is back can be discarded when the line editor takes the
    // terminal again (a race under load): wait for it.
    pty.expect("teams-sql> ", T);
    pty.send("\\q\r");
    assert!(pty.wait(T).success());
    assert!(!pty.all_output().contains(graph_sim::DEFAULT_CLIENT_SECRET));

    let history = std::fs::read_to_string(t.history_file()).unwrap();
    assert!(history.contains("FROM teams;"), "{history}");
    assert!(history.contains("\\d messages"), "{history}");
    assert!(!history.contains("hunter2"), "{history}");
    assert!(
        !history.to_ascii_lowercase().contains("password"),
        "{history}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(t.history_file())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn ctrl_c_cancels_the_running_query_and_stops_its_requests() {
    // Slow enough that a full scan of the replies takes many seconds: one request per second
    // per channel (Microsoft's limit) and real latency.
    let cfg = SimConfig {
        teams: 3,
        channels_per_team: 3,
        messages_per_channel: 1000,
        latency_ms: (200, 300),
        throttle_scale: Some(1.0),
        ..SimConfig::for_tests()
    };
    let t = Tenant::start(cfg);
    let dir = tempfile::tempdir().unwrap();
    // Channel listing: 20 pages per channel at one request per second per channel.
    let mut cmd = t.command(dir.path());
    cmd.args(["--message-source", "channel"]);
    let mut pty = Pty::spawn(cmd);
    pty.expect("teams-sql> ", T);

    pty.send("SELECT count(*) FROM message_replies;\r");
    // The progress line appears once the query has run for a second, with what discovery
    // has found so far (all three teams are listed on the first page), and how many rows the
    // aggregate has worked through while it has nothing to show yet.
    pty.expect("found 3 teams", Duration::from_secs(10));
    pty.expect("Graph requests", Duration::from_secs(10));
    pty.expect(" rows read", Duration::from_secs(10));
    pty.send("\x03");
    pty.expect("query cancelled", Duration::from_secs(10));
    pty.expect("teams-sql> ", T);

    // No Graph request is started after the cancel settles.
    std::thread::sleep(Duration::from_millis(800));
    let before = t.sim().counters().total();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(t.sim().counters().total(), before);

    // The shell is still usable.
    pty.send("SELECT 40 + 2 AS answer;\r");
    let out = pty.expect("graph: ", T);
    assert!(out.contains("42"), "{out}");
    // Ctrl-D leaves, once the prompt is back.
    pty.expect("teams-sql> ", T);
    pty.send("\x04");
    assert!(pty.wait(T).success());
}

#[test]
fn progress_counts_rows_written_by_copy_and_teams_once_per_statement() {
    // Microsoft's pace on a tenant small enough that a full read takes a few seconds: long
    // enough for the progress line (it appears after a second), short enough to wait for.
    let t = Tenant::start(SimConfig {
        teams: 3,
        channels_per_team: 3,
        messages_per_channel: 200,
        latency_ms: (200, 300),
        throttle_scale: Some(1.0),
        ..SimConfig::for_tests()
    });
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = t.command(dir.path());
    cmd.args(["--message-source", "channel"]);
    let mut pty = Pty::spawn(cmd);
    pty.expect("teams-sql> ", T);

    pty.send("COPY message_replies TO 'replies.parquet' STORED AS PARQUET;\r");
    let progress = pty.expect(" rows written", T);
    assert!(progress.contains("found 3 teams"), "{progress}");
    pty.expect("graph: ", T);
    pty.expect("teams-sql> ", T);

    // Three scans list the same three teams: the progress line and the summary count them
    // once, whichever scan runs first.
    pty.send(
        "SELECT (SELECT count(*) FROM members) + (SELECT count(*) FROM channels) \
         + (SELECT count(*) FROM message_replies) AS n;\r",
    );
    let seen = pty.expect("graph: ", T);
    let summary = pty.expect("teams-sql> ", T);
    assert!(seen.contains("found 3 teams"), "{seen}");
    assert!(
        !seen.contains("found 6 teams") && !seen.contains("found 9 teams"),
        "{seen}"
    );
    let channels = channel_count(&t.sim());
    assert!(
        summary.contains(&format!("listed 3 teams, {channels} channels")),
        "{summary}"
    );
    pty.send("\x04");
    assert!(pty.wait(T).success());
}

fn channel_count(sim: &Sim) -> usize {
    sim.team_ids().iter().map(|t| sim.channels(t).len()).sum()
}

#[test]
fn datafusion_cli_habits_and_a_secret_kept_out_of_history() {
    // A secret without any marker word in it, as Entra ID issues them.
    let secret = "Zt8~kV2.pQ7-rW4_nB6xY1";
    let t = Tenant::start(SimConfig {
        client_secret: secret.to_string(),
        ..SimConfig::for_tests()
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("script.sql"),
        "SELECT 'from' || ' the file' AS origin;\n",
    )
    .unwrap();
    let mut cmd = t.command(dir.path());
    cmd.env("AZURE_CLIENT_SECRET", secret);
    let mut pty = Pty::spawn(cmd);
    pty.expect("teams-sql> ", T);

    // Where only a table fits, Tab offers tables first: `cha` completes to `channels`, not to
    // the prefix it shares with the `channel_id` column.
    pty.send("SELECT count(*) AS channel_total FROM cha\t");
    pty.send(";\r");
    let out = pty.expect("graph: ", T);
    assert!(
        out.contains(&format!("| {} ", channel_count(&t.sim()))),
        "{out}"
    );
    pty.expect("teams-sql> ", T);

    pty.send("\\i script.sql\r");
    pty.expect("from the file", T);
    pty.expect("teams-sql> ", T);

    pty.send("\\quiet on\r");
    pty.expect("quiet mode is on", T);
    pty.send("SELECT 40 + 2 AS answer;\r");
    pty.expect("42", T);
    pty.send("\\quiet off\r");
    let quiet = pty.expect("quiet mode is off", T);
    assert!(!quiet.contains("1 row"), "{quiet}");
    assert!(!quiet.contains("graph: "), "{quiet}");

    pty.send("\\pset format csv\r");
    pty.expect("output format is csv", T);
    pty.send("SELECT 6 * 7 AS product;\r");
    let csv = pty.expect("1 row", T);
    assert!(csv.contains("product\r\n42\r\n"), "{csv:?}");

    pty.send(&format!("SELECT '{secret}' AS pasted;\r"));
    pty.expect("pasted", T);
    pty.expect("teams-sql> ", T);
    pty.send("\\q\r");
    assert!(pty.wait(T).success());

    let history = std::fs::read_to_string(t.history_file()).unwrap();
    assert!(history.contains("FROM channels;"), "{history}");
    assert!(history.contains("\\pset format csv"), "{history}");
    assert!(!history.contains(secret), "{history}");
    assert!(!history.contains("pasted"), "{history}");
}
