//! "When Graph says no", through the binary: a refused team, channel or protected API fails the
//! statement by default (exit 1) and changes nothing it was writing; `--on-forbidden skip`
//! leaves refused children out with one warning line per cause and exits 3; `--allow-partial`
//! accepts that (exit 0). Delta `overwrite` never commits a partial read unless
//! `'allow_partial'`; `append` and `merge` commit what was read and record what was not.

mod common;

use std::path::Path;
use std::process::Output;

use common::{Tenant, stderr_of, stdout_of, to_csv};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use graph_sim::Switches;

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

async fn delta_state(path: &Path) -> (Option<u64>, String, Option<serde_json::Value>) {
    let url = deltalake::ensure_table_uri(path.to_str().unwrap()).unwrap();
    let table = deltalake::open_table(url).await.unwrap();
    let version = table.version();
    let ctx = SessionContext::new();
    table.update_datafusion_session(&ctx.state()).unwrap();
    ctx.register_table("d", table.table_provider().await.unwrap())
        .unwrap();
    let rows = to_csv(
        &ctx.sql("SELECT count(*) AS n FROM d")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap(),
    );
    let mut history = table.history(Some(1));
    let mut meta = None;
    use futures::StreamExt;
    if let Some(commit) = history.next().await {
        meta = commit.unwrap().info.get("teams_sql").cloned();
    }
    (version, rows, meta)
}

/// The first field of the first data row of a CSV result.
fn count_of(csv: &str) -> usize {
    let row = csv
        .lines()
        .nth(1)
        .unwrap_or_else(|| panic!("no row in {csv:?}"));
    row.split(',').next().unwrap().trim().parse().unwrap()
}

/// Messages of every channel except those of `team`.
fn messages_without(t: &Tenant, team: &str) -> usize {
    let sim = t.sim();
    sim.team_ids()
        .iter()
        .filter(|id| *id != team)
        .flat_map(|id| {
            sim.channels(id)
                .into_iter()
                .map(move |c| (id.clone(), c["id"].as_str().unwrap().to_string()))
        })
        .map(|(id, c)| sim.messages(&id, &c).len())
        .sum()
}

fn warnings(err: &str) -> Vec<&str> {
    err.lines()
        .filter(|l| l.starts_with("warning: left out"))
        .collect()
}

#[test]
fn select_under_fail_skip_and_allow_partial() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let sim = t.sim();
    let team = sim.team_ids()[1].clone();
    let channel = sim.channels(&sim.team_ids()[0])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    sim.set_switches(Switches {
        forbidden_team_ids: vec![team.clone()],
        forbidden_channel_ids: vec![channel.clone()],
        ..Switches::default()
    });
    let sql = "SELECT count(*) AS n FROM messages";

    let out = t.run(dir.path(), &["--format", "csv", "-c", sql]);
    assert_eq!(code(&out), 1, "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), "", "no number printed for a refused read");
    let err = stderr_of(&out);
    assert!(err.contains("Graph refused"), "{err}");
    assert!(err.contains("--on-forbidden skip"), "{err}");

    let out = t.run(
        dir.path(),
        &["--format", "csv", "--on-forbidden", "skip", "-c", sql],
    );
    assert_eq!(code(&out), 3, "{}", stderr_of(&out));
    let err = stderr_of(&out);
    // The forbidden team (403 listing its channels) and the forbidden channel (403 listing its
    // messages) are two causes: two lines, not one per channel.
    assert_eq!(warnings(&err).len(), 2, "{err}");
    assert!(err.contains(&team) && err.contains(&channel), "{err}");
    assert!(err.contains("exit code 3"), "{err}");
    let expected = messages_without(&t, &team) - sim.messages(&sim.team_ids()[0], &channel).len();
    assert_eq!(count_of(&stdout_of(&out)), expected);

    let out = t.run(
        dir.path(),
        &["--format", "csv", "--allow-partial", "-c", sql],
    );
    assert_eq!(code(&out), 0, "{}", stderr_of(&out));
    assert_eq!(count_of(&stdout_of(&out)), expected);
    assert_eq!(warnings(&stderr_of(&out)).len(), 2);

    // SET in the script works like the flag.
    let out = t.run(
        dir.path(),
        &[
            "--format",
            "csv",
            "-c",
            "SET teams.on_forbidden = 'skip'",
            "-c",
            sql,
        ],
    );
    assert_eq!(code(&out), 3, "{}", stderr_of(&out));
}

#[test]
fn protected_api_denied_fails_under_fail_and_skip() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    t.sim().set_switches(Switches {
        protected_api_denied: true,
        ..Switches::default()
    });
    for extra in [
        &[][..],
        &["--on-forbidden", "skip"][..],
        &["--allow-partial"][..],
    ] {
        let mut args = vec!["--format", "csv"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["-c", "SELECT count(*) FROM messages"]);
        let out = t.run(dir.path(), &args);
        assert_eq!(code(&out), 1, "{extra:?}: {}", stderr_of(&out));
        assert_eq!(stdout_of(&out), "", "{extra:?}");
        let err = stderr_of(&out);
        assert!(err.contains("protected-API access"), "{extra:?}: {err}");
        assert!(err.lines().count() <= 4, "short, grouped: {err}");
    }
}

#[test]
fn team_details_refused_keep_the_row_under_skip() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let sim = t.sim();
    let n = sim.team_ids().len();
    sim.set_switches(Switches {
        forbidden_team_ids: vec![sim.team_ids()[0].clone()],
        ..Switches::default()
    });
    let out = t.run(
        dir.path(),
        &[
            "--format",
            "csv",
            "-c",
            "SELECT count(*) AS n, count(summary) AS s FROM teams",
        ],
    );
    assert_eq!(code(&out), 1, "{}", stderr_of(&out));
    // Only the second needs GET /teams/{id}, so only it is partial; both count every team.
    for (sql, exit) in [
        ("SELECT count(*) AS n FROM teams", 0),
        ("SELECT count(*) AS n, count(summary) AS s FROM teams", 3),
    ] {
        let out = t.run(
            dir.path(),
            &["--format", "csv", "--on-forbidden", "skip", "-c", sql],
        );
        assert_eq!(code(&out), exit, "{sql}: {}", stderr_of(&out));
        assert_eq!(count_of(&stdout_of(&out)), n, "{sql}");
    }
}

#[test]
fn copy_to_delta_never_commits_a_refused_or_unaccepted_partial_read() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m");
    let sim = t.sim();
    let team = sim.team_ids()[0].clone();
    let copy = |mode: &str, extra: &[&str], options: &str| {
        let sql =
            format!("COPY messages TO 'm' STORED AS DELTA OPTIONS ('mode' '{mode}'{options})");
        let mut args = vec!["--format", "csv", "-q"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["-c", &sql]);
        t.run(dir.path(), &args)
    };
    let out = copy("overwrite", &[], "");
    assert_eq!(code(&out), 0, "{}", stderr_of(&out));
    let full = t.rt.block_on(delta_state(&path));
    let all = count_of(&full.1);
    assert!(all > 0);

    // A refused team: under fail nothing is committed, whatever the mode.
    sim.set_switches(Switches {
        forbidden_team_ids: vec![team.clone()],
        ..Switches::default()
    });
    for mode in ["overwrite", "append", "merge"] {
        let out = copy(mode, &[], "");
        assert_eq!(code(&out), 1, "{mode}: {}", stderr_of(&out));
        assert!(stderr_of(&out).contains(&team), "{mode}");
        assert_eq!(t.rt.block_on(delta_state(&path)), full, "{mode}");
    }
    // Under skip, overwrite refuses the partial read: nothing written.
    let out = copy("overwrite", &["--on-forbidden", "skip"], "");
    assert_eq!(code(&out), 1, "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("'allow_partial' 'true'"), "{err}");
    assert_eq!(t.rt.block_on(delta_state(&path)), full);
    // 'allow_partial' anywhere else is an error, and writes nothing.
    let out = copy(
        "append",
        &["--on-forbidden", "skip"],
        ", 'allow_partial' 'true'",
    );
    assert_eq!(code(&out), 1, "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("only applies to 'mode' 'overwrite'"));
    assert_eq!(t.rt.block_on(delta_state(&path)), full);

    // Merge under skip: commits only what changed among what was read, never deletes the
    // refused team's rows, records what was left out, exits 3.
    let other = sim.team_ids()[1].clone();
    let ch = sim.channels(&other)[0]["id"].as_str().unwrap().to_string();
    sim.post_message(&other, &ch, "<p>after the export</p>")
        .unwrap();
    let out = copy("merge", &["--on-forbidden", "skip"], "");
    assert_eq!(code(&out), 3, "{}", stderr_of(&out));
    let merged = t.rt.block_on(delta_state(&path));
    assert_eq!(merged.0, full.0.map(|v| v + 1));
    assert_eq!(count_of(&merged.1), all + 1);
    let meta = merged.2.expect("commit records what was left out");
    assert_eq!(meta["partial"], true, "{meta}");
    assert!(meta.to_string().contains(&team), "{meta}");

    // Append under skip: appends what was read, exit 3.
    let readable = messages_without(&t, &team);
    let out = copy("append", &["--on-forbidden", "skip"], "");
    assert_eq!(code(&out), 3, "{}", stderr_of(&out));
    let appended = t.rt.block_on(delta_state(&path));
    assert_eq!(count_of(&appended.1), all + 1 + readable);
    assert_eq!(appended.2.unwrap()["partial"], true);

    // Overwrite with 'allow_partial': the user accepted it, exit 0.
    let out = copy(
        "overwrite",
        &["--on-forbidden", "skip"],
        ", 'allow_partial' 'true'",
    );
    assert_eq!(code(&out), 0, "{}", stderr_of(&out));
    let over = t.rt.block_on(delta_state(&path));
    assert_eq!(count_of(&over.1), readable);
    assert_eq!(over.2.unwrap()["refused"], 1);

    // Protected API denied: nothing at all could be read, so nothing is committed even under
    // skip and even with 'allow_partial'.
    sim.set_switches(Switches {
        protected_api_denied: true,
        ..Switches::default()
    });
    let before = t.rt.block_on(delta_state(&path));
    for (mode, options) in [
        ("overwrite", ", 'allow_partial' 'true'"),
        ("append", ""),
        ("merge", ""),
    ] {
        let out = copy(mode, &["--on-forbidden", "skip"], options);
        assert_eq!(code(&out), 1, "{mode}: {}", stderr_of(&out));
        assert!(stderr_of(&out).contains("nothing of messages"), "{mode}");
        assert_eq!(t.rt.block_on(delta_state(&path)), before, "{mode}");
    }
}

#[test]
fn copy_to_parquet_under_fail_and_skip() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let sim = t.sim();
    let team = sim.team_ids()[0].clone();
    sim.set_switches(Switches {
        forbidden_team_ids: vec![team.clone()],
        ..Switches::default()
    });
    let copy = "COPY messages TO 'm.parquet' STORED AS PARQUET";
    let out = t.run(dir.path(), &["-q", "-c", copy]);
    assert_eq!(code(&out), 1, "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains(&team));

    let out = t.run(dir.path(), &["-q", "--on-forbidden", "skip", "-c", copy]);
    assert_eq!(code(&out), 3, "{}", stderr_of(&out));
    let n = t.rt.block_on(async {
        let ctx = SessionContext::new();
        let file = dir.path().join("m.parquet");
        ctx.register_parquet("m", file.to_str().unwrap(), ParquetReadOptions::default())
            .await
            .unwrap();
        count_of(&to_csv(
            &ctx.sql("SELECT count(*) FROM m")
                .await
                .unwrap()
                .collect()
                .await
                .unwrap(),
        ))
    });
    assert_eq!(n, messages_without(&t, &team));

    let out = t.run(
        dir.path(),
        &[
            "-q",
            "--on-forbidden",
            "skip",
            "-c",
            "COPY messages TO 'n.parquet' STORED AS PARQUET OPTIONS ('allow_partial' 'true')",
        ],
    );
    assert_eq!(code(&out), 1, "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("'allow_partial' only applies"));
    assert!(!dir.path().join("n.parquet").exists());
}

#[test]
fn bad_settings_exit_non_zero_with_one_line() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    for (sql, allowed) in [
        ("SET teams.on_forbidden = 'maybe'", "fail, skip"),
        ("SET teams.concurrency = 0", "1-128"),
        ("SET teams.colour = 'red'", "on_forbidden"),
    ] {
        let out = t.run(dir.path(), &["-c", sql]);
        assert_eq!(code(&out), 1, "{sql}");
        let err = stderr_of(&out);
        assert!(err.contains(allowed), "{sql}: {err}");
        assert_eq!(err.lines().count(), 1, "{sql}: {err}");
    }
    let out = t.run(
        dir.path(),
        &[
            "-c",
            "SET teams.page_size = 51",
            "-c",
            "SELECT count(*) FROM messages",
        ],
    );
    assert_eq!(code(&out), 1);
    assert!(stderr_of(&out).contains("1-50"), "{}", stderr_of(&out));
    let out = t.run(
        dir.path(),
        &[
            "--format",
            "csv",
            "--on-forbidden",
            "skip",
            "-c",
            "SHOW ALL",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr_of(&out));
    let all = stdout_of(&out);
    assert!(all.contains("teams.on_forbidden,skip"), "{all}");
    for key in [
        "teams.message_source",
        "teams.concurrency",
        "teams.page_size",
    ] {
        assert!(all.contains(key), "{key}");
    }
    let out = t.run(dir.path(), &["--on-forbidden", "maybe", "-c", "SELECT 1"]);
    assert_eq!(code(&out), 2, "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("fail or skip"));
}

/// The other two refusals of the issue, through COPY: a forbidden channel (messages) and a team
/// whose `GET /teams/{id}` is refused (teams with a column that needs it).
#[test]
fn copy_with_a_forbidden_channel_or_refused_team_details() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let sim = t.sim();
    let team = sim.team_ids()[0].clone();
    let channel = sim.channels(&team)[0]["id"].as_str().unwrap().to_string();
    let run = |sql: &str, extra: &[&str]| {
        let mut args = vec!["--format", "csv", "-q"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["-c", sql]);
        t.run(dir.path(), &args)
    };
    for (table, query) in [
        ("m", "messages"),
        ("t", "(SELECT id, display_name, summary FROM teams)"),
    ] {
        let out = run(
            &format!("COPY {query} TO '{table}' STORED AS DELTA OPTIONS ('mode' 'overwrite')"),
            &[],
        );
        assert_eq!(code(&out), 0, "{}", stderr_of(&out));
    }
    let all_messages = count_of(&t.rt.block_on(delta_state(&dir.path().join("m"))).1);
    let teams = sim.team_ids().len();
    sim.set_switches(Switches {
        forbidden_channel_ids: vec![channel.clone()],
        forbidden_team_ids: vec![sim.team_ids()[1].clone()],
        ..Switches::default()
    });
    let copy_m = |mode: &str, extra: &[&str]| {
        run(
            &format!("COPY messages TO 'm' STORED AS DELTA OPTIONS ('mode' '{mode}')"),
            extra,
        )
    };
    let before = t.rt.block_on(delta_state(&dir.path().join("m")));
    for mode in ["overwrite", "append", "merge"] {
        let out = copy_m(mode, &[]);
        assert_eq!(code(&out), 1, "{mode}: {}", stderr_of(&out));
        assert!(stderr_of(&out).contains("Graph refused"), "{mode}");
        assert_eq!(
            t.rt.block_on(delta_state(&dir.path().join("m"))),
            before,
            "{mode}"
        );
    }
    let out = copy_m("overwrite", &["--on-forbidden", "skip"]);
    assert_eq!(code(&out), 1, "{}", stderr_of(&out));
    assert_eq!(t.rt.block_on(delta_state(&dir.path().join("m"))), before);
    let out = copy_m("append", &["--on-forbidden", "skip"]);
    assert_eq!(code(&out), 3, "{}", stderr_of(&out));
    let readable = messages_without(&t, &sim.team_ids()[1]) - sim.messages(&team, &channel).len();
    let after = t.rt.block_on(delta_state(&dir.path().join("m")));
    assert_eq!(count_of(&after.1), all_messages + readable);
    let meta = after.2.unwrap().to_string();
    assert!(meta.contains(&channel), "{meta}");

    // Teams whose details are refused: fail commits nothing; skip keeps every team's row.
    let t_before = t.rt.block_on(delta_state(&dir.path().join("t")));
    let copy_t = "COPY (SELECT id, display_name, summary FROM teams) TO 't' STORED AS DELTA \
                  OPTIONS ('mode' 'overwrite', 'allow_partial' 'true')";
    let out = run(copy_t, &[]);
    assert_eq!(code(&out), 1, "{}", stderr_of(&out));
    assert_eq!(t.rt.block_on(delta_state(&dir.path().join("t"))), t_before);
    let out = run(copy_t, &["--on-forbidden", "skip"]);
    assert_eq!(code(&out), 0, "{}", stderr_of(&out));
    let t_after = t.rt.block_on(delta_state(&dir.path().join("t")));
    assert_eq!(count_of(&t_after.1), teams);
    assert_eq!(t_after.0, t_before.0.map(|v| v + 1));
    let out = run(
        "COPY (SELECT id, summary FROM teams) TO 't.parquet' STORED AS PARQUET",
        &["--on-forbidden", "skip"],
    );
    assert_eq!(code(&out), 3, "{}", stderr_of(&out));
    let n = t.rt.block_on(async {
        let ctx = SessionContext::new();
        let file = dir.path().join("t.parquet");
        ctx.register_parquet("p", file.to_str().unwrap(), ParquetReadOptions::default())
            .await
            .unwrap();
        count_of(&to_csv(
            &ctx.sql("SELECT count(*) FROM p")
                .await
                .unwrap()
                .collect()
                .await
                .unwrap(),
        ))
    });
    assert_eq!(n, teams);
}

#[test]
fn a_profile_can_choose_skip() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let sim = t.sim();
    sim.set_switches(Switches {
        forbidden_team_ids: vec![sim.team_ids()[0].clone()],
        ..Switches::default()
    });
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, "[profiles.lenient]\non_forbidden = \"skip\"\n").unwrap();
    let sql = "SELECT count(*) FROM channels";
    let out = t.run(dir.path(), &["-c", sql]);
    assert_eq!(code(&out), 1, "{}", stderr_of(&out));
    let cfg = cfg.to_str().unwrap();
    let out = t.run(
        dir.path(),
        &["--config", cfg, "--profile", "lenient", "-c", sql],
    );
    assert_eq!(code(&out), 3, "{}", stderr_of(&out));
    let out = t.run(
        dir.path(),
        &[
            "--config",
            cfg,
            "--profile",
            "lenient",
            "--on-forbidden",
            "fail",
            "-c",
            sql,
        ],
    );
    assert_eq!(
        code(&out),
        1,
        "the flag wins over the profile: {}",
        stderr_of(&out)
    );
}
