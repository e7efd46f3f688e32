//! COPY from the binary, read back in this process with DataFusion (Parquet) and deltalake
//! (Delta), compared with what the same query returns.

mod common;

use common::{Tenant, stderr_of, stdout_of, to_csv};
use datafusion::prelude::{ParquetReadOptions, SessionContext};

const KEY_QUERY: &str = "SELECT team_id, channel_id, id, body['content'] AS content, \
                         last_modified_date_time FROM {t} ORDER BY team_id, channel_id, id";

fn query(t: &str) -> String {
    KEY_QUERY.replace("{t}", t)
}

async fn read_delta(path: &std::path::Path, sql_on_d: &str) -> String {
    let url = deltalake::ensure_table_uri(path.to_str().unwrap()).unwrap();
    let table = deltalake::open_table(url).await.unwrap();
    let ctx = SessionContext::new();
    table.update_datafusion_session(&ctx.state()).unwrap();
    ctx.register_table("d", table.table_provider().await.unwrap())
        .unwrap();
    let batches = ctx.sql(sql_on_d).await.unwrap().collect().await.unwrap();
    to_csv(&batches)
}

async fn delta_version(path: &std::path::Path) -> Option<u64> {
    let url = deltalake::ensure_table_uri(path.to_str().unwrap()).unwrap();
    deltalake::open_table(url).await.unwrap().version()
}

#[test]
fn copy_to_parquet_reads_back_equal() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out").join("messages.parquet");
    let out = t.run(
        dir.path(),
        &[
            "--format",
            "csv",
            "-c",
            "COPY messages TO 'out/messages.parquet' STORED AS PARQUET OPTIONS ('compression' 'zstd(3)')",
        ],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let expected = t.csv(dir.path(), &query("messages"));
    let back = t.rt.block_on(async {
        let ctx = SessionContext::new();
        ctx.register_parquet("m", file.to_str().unwrap(), ParquetReadOptions::default())
            .await
            .unwrap();
        to_csv(&ctx.sql(&query("m")).await.unwrap().collect().await.unwrap())
    });
    assert_eq!(back, expected);
    assert!(expected.lines().count() > 10, "{expected}");
}

#[test]
fn copy_to_delta_append_overwrite_and_idempotent_merge() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out").join("messages");
    let copy = |mode: &str| {
        let out = t.run(
            dir.path(),
            &[
                "--format",
                "csv",
                "-q",
                "-c",
                &format!(
                    "COPY messages TO 'out/messages' STORED AS DELTA OPTIONS ('mode' '{mode}')"
                ),
            ],
        );
        assert!(out.status.success(), "{mode}: {}", stderr_of(&out));
        stdout_of(&out)
    };
    let count = |t: &Tenant| -> String {
        t.rt.block_on(read_delta(&path, "SELECT count(*) AS n FROM d"))
    };
    let expected = t.csv(dir.path(), &query("messages"));
    let n = expected.lines().count() - 1;

    let first = copy("append");
    assert!(first.contains(&format!(",append,{n},")), "{first}");
    copy("append");
    assert_eq!(count(&t), format!("n\n{}\n", 2 * n));

    let over = copy("overwrite");
    assert!(over.contains(&format!(",overwrite,{n},")), "{over}");
    assert_eq!(count(&t), format!("n\n{n}\n"));
    assert_eq!(t.rt.block_on(read_delta(&path, &query("d"))), expected);

    // Change the tenant: one edit, one new post. A merge applies exactly that.
    let sim = t.sim();
    let team = sim.team_ids()[0].clone();
    let channel = sim.channels(&team)[0]["id"].as_str().unwrap().to_string();
    let target = sim
        .messages(&team, &channel)
        .iter()
        .find(|m| m["deletedDateTime"].is_null() && m["messageType"] == "message")
        .map(|m| m["id"].as_str().unwrap().to_string())
        .unwrap();
    sim.advance(chrono::Duration::minutes(5));
    sim.edit_message(
        &team,
        &channel,
        &target,
        None,
        "<p>edited for the merge test</p>",
    )
    .unwrap();
    sim.post_message(&team, &channel, "<p>new after export</p>")
        .unwrap();

    let merged = copy("merge");
    assert!(merged.contains(",merge,2,1,1,"), "{merged}");
    let after = t.csv(dir.path(), &query("messages"));
    assert_eq!(t.rt.block_on(read_delta(&path, &query("d"))), after);
    assert!(after.contains("edited for the merge test"));

    // Nothing changed since: a second merge writes nothing and makes no new version.
    let version = t.rt.block_on(delta_version(&path));
    let again = copy("merge");
    assert!(again.contains(",merge,0,0,0,"), "{again}");
    assert_eq!(t.rt.block_on(delta_version(&path)), version);
    assert_eq!(t.rt.block_on(read_delta(&path, &query("d"))), after);
}

#[test]
fn delta_schema_mismatch_is_a_clear_error_and_writes_nothing() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let first = t.run(
        dir.path(),
        &[
            "-c",
            "COPY (SELECT id, display_name FROM teams) TO 'out/t' STORED AS DELTA",
        ],
    );
    assert!(first.status.success(), "{}", stderr_of(&first));
    let path = dir.path().join("out").join("t");
    let version = t.rt.block_on(delta_version(&path));
    let out = t.run(
        dir.path(),
        &[
            "-c",
            "COPY (SELECT id, visibility FROM teams) TO 'out/t' STORED AS DELTA",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains("'visibility' is not in the table"), "{err}");
    assert!(
        err.contains("'display_name' is missing from the query"),
        "{err}"
    );
    assert_eq!(t.rt.block_on(delta_version(&path)), version);
}

#[test]
fn merge_key_defaults_to_the_primary_key_of_a_plain_scan() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let sql = "COPY (SELECT team_id, id, display_name FROM channels WHERE membership_type <> 'x') \
               TO 'out/c' STORED AS DELTA OPTIONS ('mode' 'merge', 'partition_by' 'team_id')";
    for expected in [",merge,", ",merge,0,0,0,"] {
        let out = t.run(dir.path(), &["--format", "csv", "-q", "-c", sql]);
        assert!(out.status.success(), "{}", stderr_of(&out));
        assert!(stdout_of(&out).contains(expected), "{}", stdout_of(&out));
    }
    let n: usize = t
        .sim()
        .team_ids()
        .iter()
        .map(|id| t.sim().channels(id).len())
        .sum();
    let path = dir.path().join("out").join("c");
    assert_eq!(
        t.rt.block_on(read_delta(&path, "SELECT count(*) AS n FROM d")),
        format!("n\n{n}\n")
    );
}

fn file_names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A query that fails part-way through its rows (a decode-style error on one channel's page).
fn failing_query(t: &Tenant) -> String {
    let team = t.sim().team_ids()[1].clone();
    let channel = t.sim().channels(&team)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    format!(
        "SELECT id, CAST(CASE WHEN channel_id = '{channel}' THEN 'boom' ELSE '1' END AS BIGINT) \
         AS n FROM messages"
    )
}

#[test]
fn a_failed_copy_leaves_the_previous_file_untouched_and_no_debris() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let bad = failing_query(&t);
    for format in ["parquet", "csv", "json"] {
        let name = format!("good.{format}");
        let good = format!("COPY (SELECT id, 1 AS n FROM messages) TO '{name}' STORED AS {format}");
        t.csv(dir.path(), &good);
        let before = std::fs::read(dir.path().join(&name)).unwrap();
        let out = t.run(
            dir.path(),
            &[
                "-c",
                &format!("COPY ({bad}) TO '{name}' STORED AS {format}"),
            ],
        );
        assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
        assert!(stderr_of(&out).contains("boom"), "{}", stderr_of(&out));
        assert_eq!(
            std::fs::read(dir.path().join(&name)).unwrap(),
            before,
            "{format}: the previous file was replaced"
        );
    }
    assert_eq!(
        file_names(dir.path()),
        ["good.csv", "good.json", "good.parquet"]
    );

    // A new file in a new directory, and a directory of files: nothing appears at all.
    for target in ["new/sub/x.parquet", "parts/"] {
        let out = t.run(
            dir.path(),
            &[
                "-c",
                &format!("COPY ({bad}) TO '{target}' STORED AS PARQUET"),
            ],
        );
        assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    }
    assert_eq!(
        file_names(dir.path()),
        ["good.csv", "good.json", "good.parquet"]
    );

    // Success still writes where asked: a file, and a partitioned directory.
    t.csv(
        dir.path(),
        "COPY (SELECT team_id, id FROM channels) TO 'parts' STORED AS PARQUET PARTITIONED BY (team_id)",
    );
    let parts = file_names(&dir.path().join("parts"));
    assert_eq!(parts.len(), t.sim().team_ids().len(), "{parts:?}");
    assert!(parts.iter().all(|p| p.starts_with("team_id=")), "{parts:?}");
    assert_eq!(
        file_names(dir.path()),
        ["good.csv", "good.json", "good.parquet", "parts"]
    );
    // Into an existing directory DataFusion adds files beside the old ones: moved file by file
    // (the path every object store takes).
    t.csv(
        dir.path(),
        "COPY (SELECT team_id, id FROM channels) TO 'parts' STORED AS PARQUET PARTITIONED BY (team_id)",
    );
    for p in &parts {
        assert_eq!(
            file_names(&dir.path().join("parts").join(p)).len(),
            2,
            "{p}"
        );
    }
    assert_eq!(
        file_names(dir.path()),
        ["good.csv", "good.json", "good.parquet", "parts"]
    );

    // A Delta table created in an existing empty directory: moved in file by file, log last.
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    t.csv(
        dir.path(),
        "COPY (SELECT team_id, id FROM channels) TO 'empty' STORED AS DELTA OPTIONS ('partition_by' 'team_id')",
    );
    let n: usize = t
        .sim()
        .team_ids()
        .iter()
        .map(|id| t.sim().channels(id).len())
        .sum();
    assert_eq!(
        t.rt.block_on(read_delta(
            &dir.path().join("empty"),
            "SELECT count(*) AS n FROM d"
        )),
        format!("n\n{n}\n")
    );
}

#[test]
fn a_delta_merge_reads_graph_once() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let requests = |sql: &str| {
        t.sim().reset_counters();
        t.csv(dir.path(), sql);
        t.sim().counters().total()
    };
    let query = requests("SELECT * FROM messages");
    let merge = "COPY (SELECT * FROM messages) TO 'out/m' STORED AS DELTA OPTIONS ('mode' 'merge')";
    let create = requests(merge);
    let again = requests(merge);
    assert!(query > 5, "{query}");
    assert_eq!((create, again), (query, query));
}

#[test]
fn partition_by_a_nested_column_is_refused_before_writing() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    for column in ["body", "mentions"] {
        let out = t.run(
            dir.path(),
            &[
                "-c",
                &format!(
                    "COPY messages TO 'out/p' STORED AS DELTA OPTIONS ('partition_by' '{column}')"
                ),
            ],
        );
        assert_eq!(out.status.code(), Some(1));
        let err = stderr_of(&out);
        assert!(
            err.contains(&format!("cannot partition by '{column}'")),
            "{err}"
        );
        assert!(err.contains("primitive type"), "{err}");
    }
    assert!(file_names(dir.path()).is_empty());
}

#[test]
fn merge_keys_are_checked_before_the_first_write() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let run = |sql: &str| t.run(dir.path(), &["-c", sql]);

    let out = run(
        "COPY (SELECT id, display_name FROM teams) TO 'out/k' STORED AS DELTA \
         OPTIONS ('mode' 'merge', 'merge_keys' 'team_id')",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("merge key 'team_id' is not in the query's columns"),
        "{}",
        stderr_of(&out)
    );

    // channels.team_id repeats once per channel: not a key.
    let dup = "COPY (SELECT team_id, display_name FROM channels) TO 'out/k' STORED AS DELTA \
               OPTIONS ('mode' 'merge', 'merge_keys' 'team_id')";
    let out = run(dup);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains("merge key (team_id) is not unique"), "{err}");
    assert!(
        t.sim()
            .team_ids()
            .iter()
            .any(|id| err.contains(id.as_str())),
        "{err}"
    );
    assert!(file_names(dir.path()).is_empty(), "nothing may be written");

    // The same on an existing table: no new version.
    let out = run(
        "COPY (SELECT team_id, display_name FROM channels WHERE membership_type = 'nope') \
         TO 'out/k' STORED AS DELTA",
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let path = dir.path().join("out").join("k");
    let version = t.rt.block_on(delta_version(&path));
    let out = run(dup);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(t.rt.block_on(delta_version(&path)), version);
}

#[test]
fn copy_into_a_non_delta_directory_is_refused() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("d");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("notes.txt"), "keep me").unwrap();
    let copy = |mode: &str| {
        t.run(
            dir.path(),
            &[
                "-c",
                &format!("COPY teams TO 'd' STORED AS DELTA OPTIONS ('mode' '{mode}')"),
            ],
        )
    };
    for mode in ["append", "merge", "overwrite"] {
        let out = copy(mode);
        assert_eq!(out.status.code(), Some(1), "{mode}");
        let err = stderr_of(&out);
        assert!(err.contains("is not a Delta table"), "{err}");
        assert!(err.contains("notes.txt"), "{err}");
    }
    assert_eq!(file_names(&target), ["notes.txt"]);

    // Only Parquet files (what a COPY writes): overwrite may take it over, nothing else may.
    std::fs::remove_file(target.join("notes.txt")).unwrap();
    t.csv(
        dir.path(),
        "COPY teams TO 'd/old.parquet' STORED AS PARQUET",
    );
    let out = copy("append");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("'mode' 'overwrite'"),
        "{}",
        stderr_of(&out)
    );
    let out = copy("overwrite");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let n = t.sim().team_ids().len();
    assert_eq!(
        t.rt.block_on(read_delta(&target, "SELECT count(*) AS n FROM d")),
        format!("n\n{n}\n")
    );
}

#[test]
fn a_copy_removes_the_staging_directories_a_killed_copy_left_beside_it() {
    let t = Tenant::small();
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    // What a COPY killed with SIGKILL leaves beside its destination: our staging directory,
    // named after a process that is gone, long ago. Names that are not ours stay.
    let dead = out_dir.join(".teams-sql-4194303-1000-3.tmp");
    std::fs::create_dir_all(&dead).unwrap();
    std::fs::write(dead.join("teams.parquet"), b"half").unwrap();
    let other = out_dir.join(".teams-sql-backup.tmp");
    std::fs::create_dir_all(&other).unwrap();
    let out = t.run(
        dir.path(),
        &["-c", "COPY teams TO 'out/teams.parquet' STORED AS PARQUET"],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(out_dir.join("teams.parquet").is_file());
    assert!(!dead.exists(), "the killed COPY's staging directory stayed");
    assert!(other.exists(), "a directory that is not ours was removed");
}
