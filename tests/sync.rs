//! `teams-sql sync` through the built binary: the five Delta tables, read back with deltalake's
//! DataFusion table provider, equal the simulated tenant key by key and value by value after a
//! first load, after a seeded batch of changes, and after a run with nothing to do (which adds no
//! data file and spends only the requests that learn nothing changed); the same under each
//! message source (export API, channel delta, listing). And SIGKILL at seeded moments, then a
//! rerun, converges to the tenant with no duplicate, resuming a first load where it stopped.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

use chrono::DateTime;
use common::{Tenant, isolated_command, stderr_of};
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::prelude::SessionContext;
use graph_sim::{Change, ExportApi, SimConfig, Switches};
use serde_json::Value;

const TABLES: [&str; 5] = [
    "teams",
    "channels",
    "members",
    "messages",
    "message_replies",
];

/// Columns compared per table; the first `key_len` are the primary key.
fn columns(table: &str) -> (&'static str, usize) {
    const MSG: &str = "CAST(last_modified_date_time AS BIGINT), CAST(deleted_date_time AS BIGINT), \
                       CAST(last_edited_date_time AS BIGINT), body['content'], cardinality(reactions)";
    match table {
        "teams" => ("id, display_name, description", 1),
        "channels" => ("team_id, id, display_name, membership_type", 2),
        "members" => ("team_id, id, display_name, email", 2),
        "messages" => {
            let c: &'static str =
                Box::leak(format!("team_id, channel_id, id, {MSG}").into_boxed_str());
            (c, 3)
        }
        _ => {
            let c: &'static str = Box::leak(
                format!("team_id, channel_id, parent_message_id, id, {MSG}").into_boxed_str(),
            );
            (c, 4)
        }
    }
}

fn sync_command(t: &Tenant, cwd: &Path, extra: &[&str]) -> Command {
    let server = t.server.as_ref().unwrap();
    let mut cmd = isolated_command(t.home.path(), cwd);
    cmd.env("AZURE_TENANT_ID", graph_sim::DEFAULT_TENANT_ID)
        .env("AZURE_CLIENT_ID", graph_sim::DEFAULT_CLIENT_ID)
        .env("AZURE_CLIENT_SECRET", graph_sim::DEFAULT_CLIENT_SECRET)
        .args(["sync", "--to", "lake"])
        .args(extra)
        .arg("--graph-endpoint")
        .arg(server.graph_url())
        .arg("--authority-host")
        .arg(server.authority_url());
    cmd
}

fn sync(t: &Tenant, cwd: &Path, extra: &[&str]) -> Output {
    let out = sync_command(t, cwd, extra).output().unwrap();
    assert!(
        out.status.success(),
        "sync {extra:?} failed: {}",
        stderr_of(&out)
    );
    out
}

/// Rows of a lake table as `|`-joined text of [`columns`], read with deltalake's table provider.
async fn lake_rows(lake: &Path, table: &str) -> Vec<String> {
    let path = lake.join(table);
    let url = deltalake::ensure_table_uri(path.to_str().unwrap()).unwrap();
    let delta = deltalake::open_table(url).await.unwrap();
    let ctx = SessionContext::new();
    delta.update_datafusion_session(&ctx.state()).unwrap();
    ctx.register_table("d", delta.table_provider().await.unwrap())
        .unwrap();
    let (cols, _) = columns(table);
    let batches = ctx
        .sql(&format!("SELECT {cols} FROM d"))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let mut out = Vec::new();
    for b in &batches {
        for r in 0..b.num_rows() {
            let fields: Vec<String> = b
                .columns()
                .iter()
                .map(|c| {
                    if c.is_null(r) {
                        String::new()
                    } else {
                        array_value_to_string(c, r).unwrap()
                    }
                })
                .collect();
            out.push(fields.join("|"));
        }
    }
    out.sort();
    out
}

fn s(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

fn micros(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .map(|t| {
            DateTime::parse_from_rfc3339(t)
                .unwrap()
                .timestamp_micros()
                .to_string()
        })
        .unwrap_or_default()
}

fn message_values(m: &Value) -> String {
    let reactions = m
        .get("reactions")
        .and_then(Value::as_array)
        .map_or(0, |r| r.len());
    let content = m
        .get("body")
        .and_then(|b| b.get("content"))
        .and_then(Value::as_str)
        .unwrap_or("");
    format!(
        "{}|{}|{}|{content}|{reactions}",
        micros(m, "lastModifiedDateTime"),
        micros(m, "deletedDateTime"),
        micros(m, "lastEditedDateTime"),
    )
}

/// The tenant as the simulator holds it, in the shape of [`lake_rows`].
fn truth(t: &Tenant) -> BTreeMap<&'static str, Vec<String>> {
    let sim = t.sim();
    let mut out: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for team in sim.teams() {
        let id = s(&team, "id");
        out.entry("teams").or_default().push(format!(
            "{id}|{}|{}",
            s(&team, "displayName"),
            s(&team, "description")
        ));
        for c in sim.channels(&id) {
            let cid = s(&c, "id");
            out.entry("channels").or_default().push(format!(
                "{id}|{cid}|{}|{}",
                s(&c, "displayName"),
                s(&c, "membershipType")
            ));
            for m in sim.messages(&id, &cid) {
                let mid = s(&m, "id");
                out.entry("messages")
                    .or_default()
                    .push(format!("{id}|{cid}|{mid}|{}", message_values(&m)));
                for r in sim.replies(&id, &cid, &mid) {
                    out.entry("message_replies").or_default().push(format!(
                        "{id}|{cid}|{mid}|{}|{}",
                        s(&r, "id"),
                        message_values(&r)
                    ));
                }
            }
        }
        for m in sim.members(&id) {
            out.entry("members").or_default().push(format!(
                "{id}|{}|{}|{}",
                s(&m, "id"),
                s(&m, "displayName"),
                s(&m, "email")
            ));
        }
    }
    for rows in out.values_mut() {
        rows.sort();
    }
    out
}

fn key(table: &str, row: &str) -> String {
    let (_, n) = columns(table);
    row.split('|').take(n).collect::<Vec<_>>().join("|")
}

async fn assert_lake_equals(
    lake: &Path,
    expected: &BTreeMap<&'static str, Vec<String>>,
    when: &str,
) {
    for table in TABLES {
        let got = lake_rows(lake, table).await;
        let mut keys: Vec<String> = got.iter().map(|r| key(table, r)).collect();
        keys.dedup();
        assert_eq!(keys.len(), got.len(), "{when}: duplicate keys in {table}");
        let want = expected.get(table).cloned().unwrap_or_default();
        if got != want {
            let missing: Vec<&String> = want.iter().filter(|r| !got.contains(r)).take(5).collect();
            let extra: Vec<&String> = got.iter().filter(|r| !want.contains(r)).take(5).collect();
            panic!(
                "{when}: {table} differs from the tenant ({} rows vs {}); missing: {missing:#?}; extra: {extra:#?}",
                got.len(),
                want.len()
            );
        }
    }
}

fn parquet_files(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            n += parquet_files(&p);
        } else if p.extension().is_some_and(|x| x == "parquet") {
            n += 1;
        }
    }
    n
}

fn tenant(switches: Switches) -> Tenant {
    Tenant::start(SimConfig {
        teams: 4,
        channels_per_team: 3,
        messages_per_channel: 20,
        replies_per_message: 3,
        members_per_team: 5,
        // The simulator clock follows real time, so that the cursor's cap (the run's start
        // minus the lookback) and delta's eight-month window mean what they mean in production.
        epoch: None,
        switches,
        ..SimConfig::for_tests()
    })
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Source {
    Export,
    Delta,
    Listing,
}

/// First load, a seeded batch of changes, an incremental run, and a run with nothing to do.
fn scenario(switches: Switches, source: Source) {
    let t = tenant(switches);
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");

    let first = sync(&t, dir.path(), &[]);
    let err = stderr_of(&first);
    for table in TABLES {
        assert!(
            err.lines().any(|l| l.starts_with(&format!("{table}: "))),
            "no summary line for {table}: {err}"
        );
    }
    let before = truth(&t);
    t.rt.block_on(assert_lake_equals(&lake, &before, "first load"));

    let batch = t.sim().apply_change_batch(7);
    let has = |f: &dyn Fn(&Change) -> bool| batch.changes.iter().any(f);
    assert!(has(&|c| matches!(
        c,
        Change::HardDelete { reply: None, .. }
    )));
    assert!(has(&|c| matches!(
        c,
        Change::HardDelete { reply: Some(_), .. }
    )));
    assert!(has(&|c| matches!(c, Change::SoftDelete { .. })));
    assert!(has(&|c| matches!(c, Change::Reply { .. })));
    assert!(has(&|c| matches!(c, Change::React { .. })));
    assert!(has(&|c| matches!(c, Change::Edit { .. })));
    assert!(has(&|c| matches!(c, Change::RemoveTeam { .. })));
    assert!(has(&|c| matches!(c, Change::RemoveChannel { .. })));
    assert!(has(&|c| matches!(c, Change::RemoveMember { .. })));
    assert!(has(&|c| matches!(c, Change::AddTeam { .. })));

    let second = sync(&t, dir.path(), &[]);
    let after = truth(&t);
    if source == Source::Export {
        // The export API does not report messages deleted for good (docs/graph.md §5.4, §9.21):
        // after an incremental run they are still in the lake, as they were; everything else
        // is exact (the first load was a full read, so no reconciliation is due for a week).
        let mut expected = after.clone();
        for c in &batch.changes {
            if let Change::HardDelete {
                team,
                channel,
                message,
                reply,
            } = c
            {
                let (table, prefix) = match reply {
                    None => ("messages", format!("{team}|{channel}|{message}|")),
                    Some(r) => (
                        "message_replies",
                        format!("{team}|{channel}|{message}|{r}|"),
                    ),
                };
                let kept: Vec<String> = before[table]
                    .iter()
                    .filter(|r| r.starts_with(&prefix))
                    .cloned()
                    .collect();
                assert!(!kept.is_empty(), "{prefix} was in the first load");
                expected.get_mut(table).unwrap().extend(kept);
                if reply.is_none() {
                    let thread = format!("{team}|{channel}|{message}|");
                    let replies: Vec<String> = before["message_replies"]
                        .iter()
                        .filter(|r| r.starts_with(&thread))
                        .cloned()
                        .collect();
                    expected.get_mut("message_replies").unwrap().extend(replies);
                }
            }
        }
        for rows in expected.values_mut() {
            rows.sort();
        }
        t.rt.block_on(assert_lake_equals(
            &lake,
            &expected,
            "after the batch (export)",
        ));
        // A team whose last full read is older than --reconcile-every is read in full and
        // reconciled, without the user scheduling a --full run.
        sync(&t, dir.path(), &["--reconcile-every", "0s"]);
        t.rt.block_on(assert_lake_equals(
            &lake,
            &after,
            "after a run with --reconcile-every 0s",
        ));
        sync(&t, dir.path(), &["--full"]);
        t.rt.block_on(assert_lake_equals(&lake, &after, "after --full"));
    } else {
        t.rt.block_on(assert_lake_equals(&lake, &after, "after the batch"));
    }
    let via = match source {
        Source::Export => "via export API",
        Source::Delta => "via channel delta",
        Source::Listing => "via channel listing",
    };
    let err = stderr_of(&second);
    assert!(
        err.lines()
            .any(|l| l.starts_with("messages: ") && l.contains(via)),
        "{err}"
    );
    assert!(err.contains(" deleted"), "{err}");

    // Nothing changed: no data file, and only the requests that learn so.
    let files = parquet_files(&lake);
    let sim = t.sim();
    sim.reset_counters();
    let third = sync(&t, dir.path(), &[]);
    assert_eq!(parquet_files(&lake), files, "{}", stderr_of(&third));
    t.rt.block_on(assert_lake_equals(
        &lake,
        &after,
        "after a run with no changes",
    ));
    let c = sim.counters();
    let teams = sim.team_ids().len() as u64;
    let channels: u64 = sim
        .team_ids()
        .iter()
        .map(|t| sim.channels(t).len() as u64)
        .sum();
    // GET /teams, then per team its details (for the teams table's columns), channels and
    // members; then the messages of each team: one chain per team with the export API, one
    // delta request per channel, or one listing page per channel (each holds under 50 posts).
    let mut expected = BTreeMap::from([
        ("teams_list", 1),
        ("team_get", teams),
        ("channels_list", teams),
        ("members_list", teams),
    ]);
    match source {
        Source::Export => {
            expected.insert("get_all_messages", teams);
        }
        Source::Delta => {
            expected.insert("get_all_messages", 1);
            expected.insert("messages_delta", channels);
        }
        Source::Listing => {
            expected.insert("get_all_messages", 1);
            expected.insert("messages_delta", 1);
            expected.insert("messages_list", channels);
        }
    }
    let got: BTreeMap<&str, u64> = c
        .requests
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .filter(|(_, v)| *v > 0)
        .collect();
    assert_eq!(got, expected, "{}", stderr_of(&third));
}

#[test]
fn sync_with_the_export_api() {
    scenario(Switches::default(), Source::Export);
}

#[test]
fn sync_with_the_export_api_and_no_channel_delta() {
    scenario(
        Switches {
            delta_unsupported: true,
            ..Switches::default()
        },
        Source::Export,
    );
}

#[test]
fn sync_with_channel_delta_when_the_export_api_is_refused() {
    scenario(
        Switches {
            export_api: ExportApi::Forbidden,
            ..Switches::default()
        },
        Source::Delta,
    );
}

#[test]
fn sync_with_the_channel_listing_when_both_are_refused() {
    scenario(
        Switches {
            export_api: ExportApi::Forbidden,
            delta_unsupported: true,
            ..Switches::default()
        },
        Source::Listing,
    );
}

/// Kill moments as fractions of one run, from a fixed seed (the LCG of tests/atomic.rs).
fn kill_fractions(seed: u64, n: usize) -> Vec<f64> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            0.05 + ((x >> 33) % 1000) as f64 / 1000.0 * 1.05
        })
        .collect()
}

/// Teams whose first load both message tables committed (a cursor in each).
async fn loaded_teams(lake: &Path, teams: &[String]) -> usize {
    let mut n = 0;
    'team: for team in teams {
        for table in ["messages", "message_replies"] {
            let Ok(url) = deltalake::ensure_table_uri(lake.join(table).to_str().unwrap()) else {
                return 0;
            };
            let Ok(delta) = deltalake::open_table(url).await else {
                return 0;
            };
            let id = format!("teams-sql/{}/{table}/{team}", graph_sim::DEFAULT_TENANT_ID);
            let v = delta
                .snapshot()
                .unwrap()
                .transaction_version(delta.log_store().as_ref(), id)
                .await
                .unwrap();
            if v.is_none() {
                continue 'team;
            }
        }
        n += 1;
    }
    n
}

#[test]
fn sigkill_at_seeded_moments_then_a_rerun_converges_and_a_first_load_resumes() {
    // The listing for first loads (export refused), delta afterwards: a team loaded before the
    // kill costs one delta request per channel on the rerun instead of its whole listing. One
    // team per commit (`--batch-rows 1`), teams read one after another (`--concurrency 1`: read
    // at once, they all end together and their commits, which only add files written during the
    // read, follow each other within milliseconds), so that kills land between teams of the
    // first load.
    let t = Tenant::start(SimConfig {
        teams: 3,
        channels_per_team: 3,
        messages_per_channel: 110,
        replies_per_message: 2,
        members_per_team: 4,
        epoch: None,
        latency_ms: (5, 15),
        switches: Switches {
            export_api: ExportApi::Forbidden,
            ..Switches::default()
        },
        ..SimConfig::for_tests()
    });
    let sim = t.sim();
    let teams = sim.team_ids();
    let per_team_channels = sim.channels(&teams[0]).len() as u64;
    let expected = truth(&t);

    let clean = tempfile::tempdir().unwrap();
    sim.reset_counters();
    let started = Instant::now();
    sync(
        &t,
        clean.path(),
        &["--batch-rows", "1", "--concurrency", "1"],
    );
    let took = started.elapsed();
    let listing = sim.counters().get("messages_list");
    assert_eq!(listing % teams.len() as u64, 0);
    let per_team_listing = listing / teams.len() as u64;
    assert!(
        per_team_listing > per_team_channels,
        "several pages per channel"
    );
    t.rt.block_on(assert_lake_equals(
        &clean.path().join("lake"),
        &expected,
        "clean run",
    ));

    let mut resumed = 0;
    for (i, f) in kill_fractions(23, 20).into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let lake = dir.path().join("lake");
        let mut child = sync_command(
            &t,
            dir.path(),
            &["-q", "--batch-rows", "1", "--concurrency", "1"],
        )
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
        std::thread::sleep(took.mul_f64(f));
        let _ = child.kill();
        let _ = child.wait();
        let loaded = t.rt.block_on(loaded_teams(&lake, &teams)) as u64;
        sim.reset_counters();
        let out = sync(&t, dir.path(), &["--batch-rows", "1", "--concurrency", "1"]);
        let when = format!("kill {i} at {f:.2} of a run ({loaded} teams loaded)");
        t.rt.block_on(assert_lake_equals(&lake, &expected, &when));
        let c = sim.counters();
        assert_eq!(
            c.get("messages_list"),
            (teams.len() as u64 - loaded) * per_team_listing,
            "{when}: the rerun lists only teams not loaded yet\n{}",
            stderr_of(&out)
        );
        assert_eq!(
            c.get("messages_delta"),
            loaded * per_team_channels,
            "{when}: loaded teams cost one delta request per channel\n{}",
            stderr_of(&out)
        );
        if loaded > 0 && loaded < teams.len() as u64 {
            resumed += 1;
        }
    }
    assert!(
        resumed >= 2,
        "only {resumed} kills landed inside the first load's team batches"
    );
}

/// Rows of `table` (as [`lake_rows`] or [`truth`] shape them) that belong to `team`.
fn of_team(rows: &[String], team: &str) -> Vec<String> {
    rows.iter()
        .filter(|r| r.starts_with(&format!("{team}|")))
        .cloned()
        .collect()
}

#[test]
fn a_team_graph_refuses_under_skip_deletes_nothing_and_keeps_its_rows() {
    let t = tenant(Switches::default());
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    sync(&t, dir.path(), &[]);
    let before = truth(&t);
    t.rt.block_on(assert_lake_equals(&lake, &before, "first load"));

    // A channel and a member of one team go, and Graph then refuses that team.
    let sim = t.sim();
    let team = sim.team_ids()[1].clone();
    let channel = sim.channels(&team)[1]["id"].as_str().unwrap().to_string();
    let member = sim.members(&team)[1]["id"].as_str().unwrap().to_string();
    sim.remove_channel(&team, &channel).unwrap();
    sim.remove_member(&team, &member).unwrap();
    sim.set_switches(Switches {
        forbidden_team_ids: vec![team.clone()],
        ..Switches::default()
    });
    let out = sync_command(&t, dir.path(), &["--on-forbidden", "skip"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    for table in ["channels", "members", "messages", "message_replies"] {
        let got = t.rt.block_on(lake_rows(&lake, table));
        assert_eq!(
            of_team(&got, &team),
            of_team(&before[table], &team),
            "{table} of the refused team changed\n{}",
            stderr_of(&out)
        );
    }

    // Once Graph lets the team be read again, the next run catches up.
    sim.set_switches(Switches::default());
    sync(&t, dir.path(), &[]);
    t.rt.block_on(assert_lake_equals(
        &lake,
        &truth(&t),
        "after the refusal ends",
    ));
}

#[test]
fn start_tables_and_partition_by_bound_what_is_loaded() {
    let t = tenant(Switches::default());
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    // A floor in the middle of the tenant's history.
    let all = truth(&t);
    let stamps: Vec<i64> = all["messages"]
        .iter()
        .map(|r| r.split('|').nth(3).unwrap().parse().unwrap())
        .collect();
    let floor = (stamps.iter().min().unwrap() + stamps.iter().max().unwrap()) / 2;
    let start = DateTime::from_timestamp_micros(floor).unwrap().to_rfc3339();
    sync(
        &t,
        dir.path(),
        &[
            "--tables",
            "messages,message_replies",
            "--start",
            &start,
            "--partition-by",
            "team_id",
        ],
    );
    assert!(!lake.join("teams").exists() && !lake.join("channels").exists());
    assert!(
        std::fs::read_dir(lake.join("messages")).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("team_id=")),
        "messages is partitioned by team_id"
    );
    for (table, at) in [("messages", 3), ("message_replies", 4)] {
        let want: Vec<String> = all[table]
            .iter()
            .filter(|r| r.split('|').nth(at).unwrap().parse::<i64>().unwrap() > floor)
            .cloned()
            .collect();
        assert!(!want.is_empty() && want.len() < all[table].len());
        let got = t.rt.block_on(lake_rows(&lake, table));
        assert_eq!(got, want, "{table} above --start");
    }
    // The floor is kept in the table: a later run without --start loads nothing older.
    t.sim().apply_change_batch(3);
    sync(&t, dir.path(), &["--tables", "messages,message_replies"]);
    let now = truth(&t);
    for (table, at) in [("messages", 3), ("message_replies", 4)] {
        let got = t.rt.block_on(lake_rows(&lake, table));
        assert!(
            got.iter()
                .all(|r| r.split('|').nth(at).unwrap().parse::<i64>().unwrap() > floor),
            "{table}: nothing at or below the floor"
        );
        let missing: Vec<&String> = now[table]
            .iter()
            .filter(|r| r.split('|').nth(at).unwrap().parse::<i64>().unwrap() > floor)
            .filter(|r| !got.contains(r))
            .collect();
        // Everything above the floor arrived (messages deleted for good may stay with the export
        // API, see sync_with_the_export_api).
        assert!(missing.is_empty(), "{table}: {missing:#?}");
    }
}

/// Each team's cursor of a message table, as stored in the lake (`None`: no cursor).
async fn cursors(lake: &Path, table: &str, teams: &[String]) -> BTreeMap<String, Option<i64>> {
    let url = deltalake::ensure_table_uri(lake.join(table).to_str().unwrap()).unwrap();
    let delta = deltalake::open_table(url).await.unwrap();
    let mut out = BTreeMap::new();
    for team in teams {
        let id = format!("teams-sql/{}/{table}/{team}", graph_sim::DEFAULT_TENANT_ID);
        let v = delta
            .snapshot()
            .unwrap()
            .transaction_version(delta.log_store().as_ref(), id)
            .await
            .unwrap();
        out.insert(team.clone(), v);
    }
    out
}

#[test]
fn team_reads_and_writes_only_the_named_teams() {
    // Channel delta reports messages deleted for good, so the named team's rows converge
    // exactly after the batch.
    let t = tenant(Switches {
        export_api: ExportApi::Forbidden,
        ..Switches::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    sync(&t, dir.path(), &[]);
    let before = truth(&t);
    let sim = t.sim();
    let teams_before = sim.team_ids();
    let cursors_before: Vec<_> = ["messages", "message_replies"]
        .iter()
        .map(|table| t.rt.block_on(cursors(&lake, table, &teams_before)))
        .collect();

    sim.apply_change_batch(7);
    let now = truth(&t);
    let named = sim
        .team_ids()
        .into_iter()
        .find(|id| teams_before.contains(id))
        .unwrap();
    let others: Vec<String> = teams_before
        .iter()
        .filter(|id| **id != named)
        .cloned()
        .collect();
    // The batch changed other teams too, or the test would prove nothing.
    assert!(
        others.iter().any(|o| TABLES
            .iter()
            .any(|table| of_team(&before[table], o) != of_team(&now[table], o))),
        "the change batch left every other team as it was"
    );

    sim.start_journal();
    sync(&t, dir.path(), &["--team", &named]);
    let strays: Vec<_> = sim
        .journal()
        .into_iter()
        .filter(|a| a.team.as_ref().is_some_and(|t| *t != named))
        .map(|a| format!("{} {:?}", a.class.as_str(), a.team))
        .collect();
    assert!(strays.is_empty(), "requests for other teams: {strays:?}");
    for table in TABLES {
        let got = t.rt.block_on(lake_rows(&lake, table));
        assert_eq!(
            of_team(&got, &named),
            of_team(&now[table], &named),
            "{table} of the named team equals the tenant"
        );
        for o in &others {
            assert_eq!(
                of_team(&got, o),
                of_team(&before[table], o),
                "{table} of team {o}, not named, was touched"
            );
        }
    }
    for (i, table) in ["messages", "message_replies"].iter().enumerate() {
        let after = t.rt.block_on(cursors(&lake, table, &teams_before));
        for o in &others {
            assert_eq!(
                after[o], cursors_before[i][o],
                "{table}: the cursor of team {o}, not named, moved"
            );
        }
        assert!(
            after[&named] > cursors_before[i][&named],
            "{table}: the named team's cursor moved on"
        );
    }
}

#[test]
fn a_progress_line_on_a_terminal_and_none_otherwise() {
    let t = tenant(Switches::default());
    let dir = tempfile::tempdir().unwrap();
    let out = sync(&t, dir.path(), &[]);
    let err = stderr_of(&out);
    assert!(
        !err.contains('\r') && !err.contains("\x1b[") && !err.contains("sync messages: team"),
        "progress on a pipe: {err:?}"
    );

    let tty_dir = tempfile::tempdir().unwrap();
    let cmd = sync_command(&t, tty_dir.path(), &[]);
    let mut pty = common::Pty::spawn(cmd);
    let timeout = std::time::Duration::from_secs(120);
    pty.expect("sync messages: team", timeout);
    pty.expect("message_replies: ", timeout);
    assert!(pty.wait(timeout).success(), "{}", pty.all_output());
    let all = pty.all_output();
    // The progress line is erased before the summary lines print.
    assert!(all.contains("\r\x1b[2K"), "{all:?}");
}

#[test]
fn staging_directories_a_killed_run_left_are_removed_by_the_next() {
    let t = tenant(Switches::default());
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    std::fs::create_dir_all(&lake).unwrap();
    // What a SIGKILL during a table's creation leaves: our staging directory, named after a
    // process that is gone, long ago.
    let dead = lake.join(".teams-sql-4194303-1000-0.tmp");
    std::fs::create_dir_all(dead.join("messages/_delta_log")).unwrap();
    std::fs::write(dead.join("messages/part-0.parquet"), b"half").unwrap();
    // A staging directory of a process still running (this one) is not stale, and names that
    // are not ours are never touched.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let live = lake.join(format!(".teams-sql-{}-{now}-0.tmp", std::process::id()));
    let others = [lake.join(".teams-sql-notes.tmp"), lake.join("notes.tmp")];
    for d in others.iter().chain([&live]) {
        std::fs::create_dir_all(d).unwrap();
    }
    sync(&t, dir.path(), &[]);
    assert!(!dead.exists(), "the killed run's staging directory stayed");
    assert!(
        live.exists(),
        "a running process's staging directory was removed"
    );
    for d in &others {
        assert!(d.exists(), "{} is not ours but was removed", d.display());
    }
    t.rt.block_on(assert_lake_equals(&lake, &truth(&t), "after the run"));
}
