//! The shell's own behaviour through the binary: output that hostile data cannot turn against
//! the operator's terminal, the order of `-c`/`-f`, the datafusion-cli habits (`\h`, `\i`,
//! `\quiet`, `\pset format`, `--format tsv`, files as tables) and `\conn`.

mod common;

use common::{Tenant, isolated_command, stderr_of, stdout_of};

/// An OSC title change ended by BEL, a screen clear, an 8-bit CSI (C1) and a right-to-left
/// override: what a Teams user can type into a team name or a message.
const HOSTILE: &str = "Evil\u{1b}]0;owned\u{7} \u{1b}[2J\u{9b}31m\u{202e}txt.exe";
const HOSTILE_SHOWN: &str = "Evil\\x1b]0;owned\\x07 \\x1b[2J\\u{9b}31m\\u{202e}txt.exe";

fn has_terminal_controls(text: &str) -> bool {
    text.chars()
        .any(|c| (c.is_control() && c != '\n') || ('\u{202a}'..='\u{202e}').contains(&c))
}

#[test]
fn tables_show_control_characters_escaped_and_streamed_formats_keep_them_exact() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let sim = t.sim();
    let team = sim.add_team(HOSTILE);
    let channel = sim.channels(&team)[0]["id"].as_str().unwrap().to_string();
    let message = sim
        .post_message(&team, &channel, &format!("<p>{HOSTILE}</p>"))
        .unwrap();
    let body = sim
        .messages(&team, &channel)
        .into_iter()
        .find(|m| m["id"] == message.as_str())
        .unwrap()["body"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(body.contains('\u{1b}'), "{body}");

    let teams = format!("SELECT display_name FROM teams WHERE id = '{team}'");
    let posts = format!(
        "SELECT body['content'] AS content FROM messages \
         WHERE team_id = '{team}' AND channel_id = '{channel}' AND id = '{message}'"
    );
    for sql in [&teams, &posts] {
        let out = t.run(dir.path(), &["--format", "table", "-c", sql]);
        assert!(out.status.success(), "{}", stderr_of(&out));
        let table = stdout_of(&out);
        assert!(!has_terminal_controls(&table), "{table:?}");
        assert!(table.contains(HOSTILE_SHOWN), "{table}");
    }

    // csv, tsv, json and ndjson are data: exact, quoted and escaped by their own rules.
    let csv = t.csv(dir.path(), &teams);
    assert_eq!(csv, format!("display_name\n{HOSTILE}\n"));
    let out = t.run(dir.path(), &["--format", "tsv", "-q", "-c", &teams]);
    assert_eq!(stdout_of(&out), format!("display_name\n{HOSTILE}\n"));
    for format in ["json", "ndjson"] {
        let out = t.run(dir.path(), &["--format", format, "-q", "-c", &posts]);
        assert!(out.status.success(), "{}", stderr_of(&out));
        let text = stdout_of(&out);
        assert!(!text.contains('\u{1b}'), "{format}: {text:?}");
        let value: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        let row = if format == "json" { &value[0] } else { &value };
        assert_eq!(row["content"].as_str(), Some(body.as_str()), "{format}");
    }

    // Errors quote data too.
    let out = t.run(
        dir.path(),
        &[
            "-c",
            &format!("SELECT CAST(display_name AS INT) FROM teams WHERE id = '{team}'"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(!has_terminal_controls(&err), "{err:?}");
    assert!(err.contains("Evil\\x1b]0;owned"), "{err}");
}

#[test]
fn c_and_f_run_in_the_order_given() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let setup = dir.path().join("setup.sql");
    std::fs::write(
        &setup,
        "CREATE VIEW team_names AS SELECT display_name FROM teams;\nSELECT 'file' AS step;\n",
    )
    .unwrap();
    let out = t.run(
        dir.path(),
        &[
            "--format",
            "csv",
            "-q",
            "-c",
            "SELECT 'first' AS step",
            "-f",
            setup.to_str().unwrap(),
            "-c",
            "SELECT count(*) AS n FROM team_names",
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        stdout_of(&out),
        format!("step\nfirst\nstep\nfile\nn\n{}\n", t.sim().team_ids().len())
    );
}

#[test]
fn tsv_output_is_tab_separated() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let out = t.run(
        dir.path(),
        &[
            "--format",
            "tsv",
            "-q",
            "-c",
            "SELECT id, display_name FROM teams ORDER BY id",
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let mut expected: Vec<String> = t
        .sim()
        .teams()
        .iter()
        .map(|t| {
            format!(
                "{}\t{}",
                t["id"].as_str().unwrap(),
                t["displayName"].as_str().unwrap()
            )
        })
        .collect();
    expected.sort();
    expected.insert(0, "id\tdisplay_name".to_string());
    assert_eq!(stdout_of(&out).lines().collect::<Vec<_>>(), expected);
}

#[test]
fn files_and_delta_tables_are_tables() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let n = t.sim().team_ids().len();
    t.csv(
        dir.path(),
        "COPY teams TO 'out/teams.parquet' STORED AS PARQUET",
    );
    t.csv(
        dir.path(),
        "COPY (SELECT id, display_name FROM teams) TO 'out/teams.csv' STORED AS CSV OPTIONS ('has_header' 'true')",
    );
    assert_eq!(
        t.csv(dir.path(), "SELECT count(*) AS n FROM 'out/teams.parquet'"),
        format!("n\n{n}\n")
    );
    let live = t.csv(dir.path(), "SELECT id, display_name FROM teams ORDER BY id");
    let from_csv = t.csv(
        dir.path(),
        "SELECT id, display_name FROM 'out/teams.csv' ORDER BY id",
    );
    assert_eq!(from_csv, live);

    // A Delta directory reads as its current version, not as every Parquet file in it: after
    // an overwrite the old files are still there.
    for _ in 0..2 {
        t.csv(
            dir.path(),
            "COPY teams TO 'out/delta/teams' STORED AS DELTA OPTIONS ('mode' 'overwrite')",
        );
    }
    assert_eq!(
        t.csv(dir.path(), "SELECT count(*) AS n FROM 'out/delta/teams'"),
        format!("n\n{n}\n")
    );

    let out = t.run(
        dir.path(),
        &["-c", "SELECT * FROM 'out/nothing-here.parquet'"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.contains("'out/nothing-here.parquet' is neither a table nor a readable file"),
        "{err}"
    );

    if !cfg!(feature = "s3") {
        let out = t.run(
            dir.path(),
            &["-c", "SELECT * FROM 's3://bucket/teams.parquet'"],
        );
        assert_eq!(out.status.code(), Some(1));
        let err = stderr_of(&out);
        assert!(err.contains("--features s3"), "{err}");
    }
}

#[test]
fn function_help_include_quiet_and_pset() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();

    let out = t.run(dir.path(), &["-c", "\\h date_trunc"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let help = stdout_of(&out);
    assert!(help.starts_with("date_trunc (scalar function)"), "{help}");
    assert!(help.contains("Syntax:\n  date_trunc("), "{help}");
    assert!(help.contains("Arguments:"), "{help}");

    let out = t.run(dir.path(), &["--format", "csv", "-c", "\\h"]);
    let list = stdout_of(&out);
    assert!(list.starts_with("function,kind,description\n"), "{list}");
    assert!(list.contains("\ncount,aggregate,"), "{list}");
    assert!(list.contains("\nrow_number,window,"), "{list}");

    let out = t.run(dir.path(), &["-c", "\\h no_such_fn"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("unknown function 'no_such_fn'"));

    // \i runs a file; a failure inside it names the file and line.
    std::fs::write(
        dir.path().join("inner.sql"),
        "SELECT 7 AS seven;\n\nSELECT nope FROM teams;\n",
    )
    .unwrap();
    let out = t.run(
        dir.path(),
        &["--format", "csv", "-c", "\\i inner.sql", "-c", "SELECT 8"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout_of(&out), "seven\n7\n");
    let err = stderr_of(&out);
    assert!(
        err.contains("error at -c #1, line 1: inner.sql, line 3:"),
        "{err}"
    );
    std::fs::write(dir.path().join("loop.sql"), "\\i loop.sql\n").unwrap();
    let out = t.run(dir.path(), &["-c", "\\i loop.sql"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("nested more than 16 deep"));

    // \quiet drops the summaries from then on; \pset format switches the format.
    let out = t.run(
        dir.path(),
        &[
            "-c",
            "SELECT 1 AS a",
            "-c",
            "\\quiet on",
            "-c",
            "\\pset format json",
            "-c",
            "SELECT count(*) AS n FROM teams",
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert_eq!(err.matches("graph: ").count(), 1, "{err}");
    assert!(err.contains("quiet mode is on"), "{err}");
    assert_eq!(
        stdout_of(&out),
        format!("a\n1\n[{{\"n\":{}}}]\n", t.sim().team_ids().len())
    );
}

#[test]
fn summary_counts_teams_and_channels_once_per_statement() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let sim = t.sim();
    let teams = sim.team_ids();
    let channels: usize = teams.iter().map(|t| sim.channels(t).len()).sum();
    // Three scans list the tenant's teams; messages also lists every channel.
    let sql = "SELECT (SELECT count(*) FROM messages) + (SELECT count(*) FROM members) \
               + (SELECT count(*) FROM channels) AS n";
    let out = t.run(
        dir.path(),
        &[
            "--message-source",
            "channel",
            "--format",
            "csv",
            "-c",
            sql,
            "-c",
            sql,
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    let listed = format!("listed {} teams, {channels} channels", teams.len());
    assert_eq!(err.matches(&listed).count(), 2, "{err}");
}

#[test]
fn conn_shows_the_endpoints_requests_go_to() {
    let home = tempfile::tempdir().unwrap();
    let tenant = "6f1c7a52-3b9e-4d2a-8c41-5e0b9d7f2a13";
    let out = isolated_command(home.path(), home.path())
        .env("AZURE_TENANT_ID", tenant)
        .env("AZURE_CLIENT_ID", "0c8e5b7d-1f24-4a6b-9e3c-7d2a5f8b1e60")
        .env("AZURE_CLIENT_SECRET", "not-used-by-conn")
        .args(["--cloud", "usgov", "-c", "\\conn"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let conn = stdout_of(&out);
    assert!(
        conn.contains("graph endpoint: https://graph.microsoft.us/v1.0"),
        "{conn}"
    );
    assert!(
        conn.contains(&format!(
            "token endpoint: https://login.microsoftonline.us/{tenant}/oauth2/v2.0/token"
        )),
        "{conn}"
    );
    assert!(!conn.contains("not-used-by-conn"), "{conn}");

    let t = Tenant::small();
    let out = t.run(home.path(), &["-c", "\\conn"]);
    let conn = stdout_of(&out);
    let server = t.server.as_ref().unwrap();
    assert!(
        conn.contains(&format!("graph endpoint: {}/v1.0", server.graph_url())),
        "{conn}"
    );
    assert!(
        conn.contains(&format!(
            "token endpoint: {}/{}/oauth2/v2.0/token",
            server.authority_url(),
            graph_sim::DEFAULT_TENANT_ID
        )),
        "{conn}"
    );
}
