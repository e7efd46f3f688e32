//! End-to-end tests of the `teams-sql` binary against a simulated tenant: the same flags,
//! environment variables and terminal a user has, with the simulator's ground truth as oracle.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use common::{Tenant, csv_rows, isolated_command, stderr_of, stdout_of};

fn ground_truth_messages(t: &Tenant) -> BTreeSet<(String, String, String)> {
    let sim = t.sim();
    let mut out = BTreeSet::new();
    for team in sim.team_ids() {
        for ch in sim.channels(&team) {
            let cid = ch["id"].as_str().unwrap().to_string();
            for m in sim.messages(&team, &cid) {
                out.insert((
                    team.clone(),
                    cid.clone(),
                    m["id"].as_str().unwrap().to_string(),
                ));
            }
        }
    }
    out
}

fn triples(csv: &str) -> BTreeSet<(String, String, String)> {
    csv.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[1].to_string(), f[2].to_string())
        })
        .collect()
}

#[test]
fn c_queries_match_ground_truth() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let sim = t.sim();

    let ids = t.csv(dir.path(), "SELECT id FROM teams ORDER BY id");
    let mut expected: Vec<String> = sim.team_ids();
    expected.sort();
    assert_eq!(csv_rows(&ids), expected);

    let per_team = t.csv(
        dir.path(),
        "SELECT team_id, count(*) AS n FROM channels GROUP BY team_id",
    );
    let expected: Vec<String> = {
        let mut v: Vec<String> = sim
            .team_ids()
            .iter()
            .map(|id| format!("{id},{}", sim.channels(id).len()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(csv_rows(&per_team), expected);

    let msgs = t.csv(dir.path(), "SELECT team_id, channel_id, id FROM messages");
    assert_eq!(triples(&msgs), ground_truth_messages(&t));

    let mut replies = 0usize;
    for (team, ch, id) in ground_truth_messages(&t) {
        replies += sim.replies(&team, &ch, &id).len();
    }
    let n = t.csv(dir.path(), "SELECT count(*) AS n FROM message_replies");
    assert_eq!(n, format!("n\n{replies}\n"));
}

#[test]
fn repeated_c_and_ndjson_output_keep_stdout_for_data() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let out = t.run(
        dir.path(),
        &[
            "--format",
            "ndjson",
            "-c",
            "SELECT id, display_name FROM teams ORDER BY id",
            "-c",
            "SELECT count(*) AS n FROM members",
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let sim = t.sim();
    let mut teams = sim.teams();
    teams.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    let lines: Vec<serde_json::Value> = stdout_of(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), teams.len() + 1);
    for (line, team) in lines.iter().zip(&teams) {
        assert_eq!(line["id"], team["id"]);
        assert_eq!(line["display_name"], team["displayName"]);
    }
    let members: usize = sim.team_ids().iter().map(|t| sim.members(t).len()).sum();
    assert_eq!(lines[teams.len()]["n"], serde_json::json!(members));
    // Summaries are on stderr, one per statement, with the Graph request line.
    let err = stderr_of(&out);
    assert_eq!(err.matches("graph: ").count(), 2, "{err}");
    assert!(err.contains(&format!("{} rows in", teams.len())), "{err}");
    // Streamed formats print every row, so nothing is ever reported as hidden.
    assert!(!err.contains("not shown"), "{err}");
}

#[test]
fn stdin_script_runs_when_not_a_terminal() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let mut child = t
        .command(dir.path())
        .args(["--format", "csv"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"-- count members\nSELECT count(*) AS n\nFROM members;\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let sim = t.sim();
    let members: usize = sim.team_ids().iter().map(|t| sim.members(t).len()).sum();
    assert_eq!(stdout_of(&out), format!("n\n{members}\n"));
}

#[test]
fn failing_statement_in_file_stops_with_its_line_and_nonzero_exit() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("script.sql");
    std::fs::write(
        &file,
        "-- first a good one\nSELECT count(*) AS n FROM teams;\n\nSELECT no_such_column\nFROM teams;\nSELECT 42 AS never;\n",
    )
    .unwrap();
    let out = t.run(
        dir.path(),
        &["--format", "csv", "-f", file.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("script.sql, line 4"), "{err}");
    assert!(err.contains("no_such_column"), "{err}");
    let stdout = stdout_of(&out);
    assert_eq!(stdout, format!("n\n{}\n", t.sim().team_ids().len()));
}

#[test]
fn missing_credentials_say_what_to_set() {
    let home = tempfile::tempdir().unwrap();
    let out = isolated_command(home.path(), home.path())
        .env("AZURE_CLIENT_ID", "0c8e5b7d-1f24-4a6b-9e3c-7d2a5f8b1e60")
        // No `az` either, whatever this machine has installed.
        .env("PATH", home.path())
        .args(["-c", "SELECT 1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(err.contains("AZURE_TENANT_ID"), "{err}");
    assert!(err.contains("AZURE_CLIENT_SECRET"), "{err}");
    assert!(!err.contains("AZURE_CLIENT_ID (or"), "{err}");
    assert!(err.contains("README"), "{err}");
    assert!(err.contains("--demo"), "{err}");
}

#[test]
fn profile_supplies_the_connection_and_conn_never_shows_the_secret() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let server = t.server.as_ref().unwrap();
    let config = dir.path().join("teams-sql.toml");
    std::fs::write(
        &config,
        format!(
            "[profiles.sim]\ntenant_id = \"{}\"\nclient_id = \"{}\"\nclient_secret_env = \"SIM_APP_SECRET\"\ngraph_endpoint = \"{}\"\nauthority_host = \"{}\"\n",
            graph_sim::DEFAULT_TENANT_ID,
            graph_sim::DEFAULT_CLIENT_ID,
            server.graph_url(),
            server.authority_url()
        ),
    )
    .unwrap();
    let out = isolated_command(t.home.path(), dir.path())
        .env("SIM_APP_SECRET", graph_sim::DEFAULT_CLIENT_SECRET)
        .args(["--config", config.to_str().unwrap(), "--profile", "sim"])
        .args([
            "--format",
            "csv",
            "-c",
            "\\conn",
            "-c",
            "SELECT count(*) AS n FROM teams",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = stdout_of(&out);
    assert!(stdout.contains(graph_sim::DEFAULT_TENANT_ID), "{stdout}");
    assert!(stdout.contains("profile 'sim'"), "{stdout}");
    assert!(stdout.contains("SIM_APP_SECRET"), "{stdout}");
    assert!(
        stdout.contains(&format!("n\n{}\n", t.sim().team_ids().len())),
        "{stdout}"
    );
    let all = format!("{stdout}{}", stderr_of(&out));
    assert!(!all.contains(graph_sim::DEFAULT_CLIENT_SECRET), "{all}");
}

#[test]
fn describe_shows_key_and_pushdown_columns() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let out = t.csv(dir.path(), "\\d messages");
    let rows: Vec<&str> = out.lines().collect();
    assert_eq!(
        rows[0],
        "column_name,data_type,nullable,primary_key,pushdown"
    );
    let team_id = rows.iter().find(|r| r.starts_with("team_id,")).unwrap();
    assert!(team_id.contains("1 of 3"), "{team_id}");
    assert!(team_id.ends_with(",exact"), "{team_id}");
    let id = rows.iter().find(|r| r.starts_with("id,")).unwrap();
    assert!(id.contains("3 of 3"), "{id}");
    let tables = t.csv(dir.path(), "\\d");
    for name in [
        "teams",
        "channels",
        "members",
        "messages",
        "message_replies",
    ] {
        assert!(tables.contains(&format!("teams,{name},")), "{tables}");
    }
}

#[test]
fn unsupported_destinations_fail_clearly() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let mut targets = vec![("ftp://host/teams.parquet", "unsupported destination scheme")];
    // With the s3 feature, tests/cloud.rs writes to S3 instead.
    if !cfg!(feature = "s3") {
        targets.push(("s3://bucket/teams", "--features s3"));
        targets.push(("s3://bucket/teams.parquet", "--features s3"));
    }
    for (target, says) in targets {
        let format = if target.ends_with(".parquet") {
            "PARQUET"
        } else {
            "DELTA"
        };
        let out = t.run(
            dir.path(),
            &[
                "-c",
                &format!("COPY teams TO '{target}' STORED AS {format}"),
            ],
        );
        assert_eq!(out.status.code(), Some(1), "{target}");
        let err = stderr_of(&out);
        assert!(err.contains(says), "{target}: {err}");
    }
}

#[test]
fn a_wrong_secret_is_reported_without_echoing_it() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let out = t
        .command(dir.path())
        .env("AZURE_CLIENT_SECRET", "wrong~Secret.value42")
        .args(["-c", "SELECT count(*) FROM teams"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains("AADSTS7000215"), "{err}");
    assert!(!err.contains("wrong~Secret.value42"), "{err}");
}

#[test]
fn ctrl_c_stops_a_script_with_exit_code_130() {
    let cfg = graph_sim::SimConfig {
        teams: 2,
        channels_per_team: 2,
        messages_per_channel: 1000,
        latency_ms: (200, 300),
        throttle_scale: Some(1.0),
        ..graph_sim::SimConfig::for_tests()
    };
    let t = Tenant::start(cfg);
    let dir = tempfile::tempdir().unwrap();
    let child = t
        .command(dir.path())
        .args([
            "-c",
            "SELECT count(*) FROM message_replies",
            "-c",
            "SELECT 'not reached'",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Signal once the query is talking to Graph (the shell is then inside the statement).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while t.sim().counters().total() == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("cancelled at -c #1"),
        "{}",
        stderr_of(&out)
    );
    assert!(!stdout_of(&out).contains("not reached"));
}

#[test]
fn skipped_children_are_warned_about_and_counted() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let sim = t.sim();
    let ids = sim.team_ids();
    let hidden = ids[0].clone();
    sim.set_switches(graph_sim::Switches {
        forbidden_team_ids: vec![hidden.clone()],
        ..Default::default()
    });
    let visible: usize = ids[1..].iter().map(|id| sim.channels(id).len()).sum();
    let out = t.run(
        dir.path(),
        &[
            "--format",
            "csv",
            "--allow-partial",
            "-c",
            "SELECT count(*) AS n FROM channels",
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), format!("n\n{visible}\n"));
    let err = stderr_of(&out);
    assert!(err.contains("warning: "), "{err}");
    assert!(err.contains("1 children skipped"), "{err}");
}

/// The binary pointed at a hostile stand-in for Graph, with credentials in the environment.
fn against(server: &common::hostile::Hostile, home: &std::path::Path) -> std::process::Command {
    let mut cmd = isolated_command(home, home);
    cmd.env("AZURE_TENANT_ID", "tenant-1")
        .env("AZURE_CLIENT_ID", "client-1")
        .env("AZURE_CLIENT_SECRET", HOSTILE_SECRET)
        .args([
            "--graph-endpoint",
            &server.url,
            "--authority-host",
            &server.url,
        ]);
    cmd
}

/// Azure secrets always hold `~`, which the token request form-encodes as `%7E`.
const HOSTILE_SECRET: &str = "Hx8Q~sec.ret_value/plus+";

fn assert_no_secret(text: &str) {
    for spelling in [
        HOSTILE_SECRET,
        "Hx8Q%7Esec",
        "Hx8Q%7esec",
        "value%2Fplus%2B",
        "hostile.token.value",
    ] {
        assert!(!text.contains(spelling), "{spelling} leaked: {text}");
    }
}

#[test]
fn a_looping_or_endless_next_link_chain_fails_naming_the_endpoint() {
    use common::hostile::{Hostile, Reply, TOKEN_OK};
    let home = tempfile::tempdir().unwrap();
    // The first request (A) -> ?$skiptoken=B -> A again: a two-link cycle.
    let first = std::sync::Mutex::new(String::new());
    let server = Hostile::start(
        |_| Reply::Json(200, TOKEN_OK.into()),
        move |_, target, n| {
            if n == 1 {
                *first.lock().unwrap() = target.to_string();
            }
            let next = if target.contains("skiptoken=B") {
                format!("{{base}}{}", first.lock().unwrap())
            } else {
                "{base}/v1.0/teams?$skiptoken=B".to_string()
            };
            Reply::Json(
                200,
                format!(
                    r#"{{"value":[{{"id":"t1","displayName":"x"}}],"@odata.nextLink":"{next}"}}"#
                ),
            )
        },
    );
    let out = against(&server, home.path())
        .args(["-c", "SELECT id FROM teams"])
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("GET /teams") && err.contains("already read"),
        "{err}"
    );
    assert_eq!(server.requests(), 2, "{err}");

    // Fresh links forever: the page cap (here 5, --max-pages) ends it.
    let server = Hostile::start(
        |_| Reply::Json(200, TOKEN_OK.into()),
        |_, _, n| {
            Reply::Json(
                200,
                format!(
                    r#"{{"value":[{{"id":"t{n}"}}],"@odata.nextLink":"{{base}}/v1.0/teams?$skiptoken={n}"}}"#
                ),
            )
        },
    );
    let out = against(&server, home.path())
        .args(["--max-pages", "5", "-c", "SELECT id FROM teams"])
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("GET /teams") && err.contains("max_pages"),
        "{err}"
    );
    assert_eq!(server.requests(), 5, "{err}");
}

#[test]
fn a_trickling_reply_is_cut_at_the_deadline_and_retried() {
    use common::hostile::{Hostile, Reply, TOKEN_OK};
    let home = tempfile::tempdir().unwrap();
    // The first reply trickles a byte every 100 ms (the read timeout never fires); the retry
    // gets a proper page. Without a deadline the first request alone would take 20 minutes.
    let server = Hostile::start(
        |_| Reply::Json(200, TOKEN_OK.into()),
        |_, _, n| {
            if n == 1 {
                Reply::Trickle {
                    len: 12_000,
                    every: Duration::from_millis(100),
                }
            } else {
                Reply::Json(200, r#"{"value":[{"id":"t1","displayName":"x"}]}"#.into())
            }
        },
    );
    let started = std::time::Instant::now();
    let out = against(&server, home.path())
        .args(["--request-timeout", "1", "--verbose", "--format", "csv"])
        .args(["-c", "SELECT id FROM teams"])
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    assert_eq!(stdout_of(&out), "id\nt1\n");
    assert_eq!(server.requests(), 2);
    println!("trickle then page, deadline 1 s: {:?}", started.elapsed());
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("GET /v1.0/teams"))
        .collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(lines[0].contains("deadline"), "{err}");
    assert!(lines[1].contains("200"), "{err}");
    assert_no_secret(&err);
}

#[test]
fn a_token_endpoint_echoing_the_request_never_shows_the_secret() {
    use common::hostile::{Hostile, Reply};
    let home = tempfile::tempdir().unwrap();
    let server = Hostile::start(
        |_| {
            Reply::Json(
                400,
                r#"{"error":"invalid_request: cannot parse {body}"}"#.into(),
            )
        },
        |_, _, _| Reply::Json(200, r#"{"value":[]}"#.into()),
    );
    let out = against(&server, home.path())
        .args(["--verbose", "-c", "SELECT id FROM teams"])
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    // The echo really carried the form-encoded secret.
    assert!(server.bodies.lock().unwrap()[0].contains("Hx8Q%7Esec"));
    assert!(err.contains("sign-in failed"), "{err}");
    assert_no_secret(&err);
    assert_no_secret(&stdout_of(&out));
}

#[test]
fn verbose_logs_one_line_per_graph_request_without_credentials() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let out = t.run(
        dir.path(),
        &[
            "--verbose",
            "--format",
            "csv",
            "-c",
            "SELECT count(*) AS n FROM channels",
        ],
    );
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    let teams = t.sim().team_ids().len();
    let requests: Vec<&str> = err.lines().filter(|l| l.contains("GET /v1.0/")).collect();
    // One listing of teams, one of channels per team (small tenant: one page each).
    assert_eq!(requests.len(), 1 + teams, "{err}");
    for line in &requests {
        for field in ["status=", "page=", "ms=", "throttle_wait_ms="] {
            assert!(line.contains(field), "{field} missing: {line}");
        }
    }
    assert!(
        requests.iter().any(|l| l.contains("GET /v1.0/teams")),
        "{err}"
    );
    assert!(!err.contains(graph_sim::DEFAULT_CLIENT_SECRET), "{err}");
    // Sim tokens are JWTs ("eyJ..."); no Authorization header or token is ever logged.
    assert!(!err.contains("eyJ") && !err.contains("Bearer"), "{err}");

    // Without --verbose (and RUST_LOG unset) there is no request log.
    let quiet = t.run(dir.path(), &["--format", "csv", "-c", "SELECT 1"]);
    assert!(!stderr_of(&quiet).contains("GET /v1.0/"));
}

#[test]
fn a_secret_given_as_the_variable_name_is_not_echoed() {
    let home = tempfile::tempdir().unwrap();
    let pasted = "Qw7Q~pasted.secret_value-123";
    let out = isolated_command(home.path(), home.path())
        .env("AZURE_TENANT_ID", "t")
        .env("AZURE_CLIENT_ID", "c")
        .args(["--client-secret-env", pasted, "-c", "SELECT 1"])
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--client-secret-env"), "{err}");
    assert!(!err.contains("Qw7Q"), "{err}");

    // The same through a profile.
    let config = home.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            "[profiles.p]\ntenant_id = \"t\"\nclient_id = \"c\"\nclient_secret_env = \"{pasted}\"\n"
        ),
    )
    .unwrap();
    let out = isolated_command(home.path(), home.path())
        .args([
            "--config",
            config.to_str().unwrap(),
            "--profile",
            "p",
            "-c",
            "SELECT 1",
        ])
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(!err.contains("Qw7Q"), "{err}");
}

#[test]
fn bad_endpoints_authorities_and_config_files_are_usage_errors() {
    let home = tempfile::tempdir().unwrap();
    let creds = |cmd: &mut std::process::Command| {
        cmd.env("AZURE_TENANT_ID", "t")
            .env("AZURE_CLIENT_ID", "c")
            .env("AZURE_CLIENT_SECRET", "s3cr3t~value");
    };
    let cases: [(&[&str], &str); 4] = [
        (
            &["--graph-endpoint", "http://graph.example.com"],
            "plain http://",
        ),
        (
            &["--graph-endpoint", "https://[not a url"],
            "not a valid URL",
        ),
        (
            &["--authority-host", "https://login.microsoftonline.co"],
            "--allow-custom-authority",
        ),
        (
            &["--config", "/nonexistent/teams-sql.toml"],
            "/nonexistent/teams-sql.toml",
        ),
    ];
    for (flags, says) in cases {
        let mut cmd = isolated_command(home.path(), home.path());
        creds(&mut cmd);
        let out = cmd.args(flags).args(["-c", "SELECT 1"]).output().unwrap();
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {err}");
        assert!(err.contains(says), "{flags:?}: {err}");
        assert!(!err.contains("s3cr3t"), "{err}");
    }
    // A custom authority in a profile needs the profile key too.
    let config = home.path().join("c.toml");
    std::fs::write(
        &config,
        "[profiles.p]\nauthority_host = \"https://idp.example\"\n",
    )
    .unwrap();
    let mut cmd = isolated_command(home.path(), home.path());
    creds(&mut cmd);
    let out = cmd
        .args([
            "--config",
            config.to_str().unwrap(),
            "--profile",
            "p",
            "-c",
            "SELECT 1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("allow_custom_authority"));
}

/// `--throttle-scale` (and the profile key) reaches the pacer: against a simulator scaled x5 the
/// shell at x5 reads with no 429, and a scale above the simulator's is throttled, so the setting
/// is what decides the pace.
#[test]
fn throttle_scale_paces_the_shell_like_the_simulator() {
    let t = Tenant::start(graph_sim::SimConfig {
        throttle_scale: Some(5.0),
        ..graph_sim::SimConfig::for_tests()
    });
    let dir = tempfile::tempdir().unwrap();
    let read = [
        "--format",
        "csv",
        "-c",
        // 13 pages a channel: more than a x5 channel bucket holds (5), so only pacing keeps
        // them apart.
        "SET teams.page_size = 2",
        "-c",
        "SHOW teams.throttle_scale",
        "-c",
        "SELECT count(*) AS n FROM messages",
    ];
    let matching = t
        .command(dir.path())
        .args(["--throttle-scale", "5"])
        .args(read)
        .output()
        .unwrap();
    assert!(matching.status.success(), "{}", stderr_of(&matching));
    assert!(
        stdout_of(&matching).contains("teams.throttle_scale,5"),
        "{}",
        stdout_of(&matching)
    );
    assert_eq!(t.sim().counters().throttled_total(), 0);

    let config = dir.path().join("teams-sql.toml");
    std::fs::write(&config, "[profiles.fast]\nthrottle_scale = 50.0\n").unwrap();
    let too_fast = t
        .command(dir.path())
        .args(["--config", config.to_str().unwrap(), "--profile", "fast"])
        .args(read)
        .output()
        .unwrap();
    assert!(too_fast.status.success(), "{}", stderr_of(&too_fast));
    assert!(
        t.sim().counters().throttled_total() > 0,
        "x50 should outrun a x5 simulator"
    );

    let bad = t
        .command(dir.path())
        .args(["--throttle-scale", "0", "-c", "SELECT 1"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{}", stderr_of(&bad));
    assert!(
        stderr_of(&bad).contains("positive number"),
        "{}",
        stderr_of(&bad)
    );
}
