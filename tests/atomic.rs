//! Outputs are atomic even when the shell is killed: SIGKILL during a COPY to Parquet or Delta,
//! at seeded moments spread over the time a COPY takes, leaves the destination either as it
//! was or complete, never half-written.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Pty, Tenant, stderr_of};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use graph_sim::SimConfig;

/// Kill moments as fractions of one COPY's duration, from a fixed seed (a small LCG: no
/// dependency, same moments on every run).
fn kill_fractions(seed: u64, n: usize) -> Vec<f64> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // 0.05 ..= 1.1 of a run: from the first requests to just after it would have ended.
            0.05 + ((x >> 33) % 1000) as f64 / 1000.0 * 1.05
        })
        .collect()
}

fn slow_tenant() -> Tenant {
    Tenant::start(SimConfig {
        teams: 2,
        channels_per_team: 3,
        messages_per_channel: 120,
        latency_ms: (60, 120),
        ..SimConfig::for_tests()
    })
}

/// Runs `sql` to completion and returns how long it took.
fn timed(t: &Tenant, dir: &Path, sql: &str) -> Duration {
    let started = Instant::now();
    let out = t.run(dir, &["-q", "-c", sql]);
    assert!(out.status.success(), "{sql}: {}", stderr_of(&out));
    started.elapsed()
}

/// Starts `sql`, kills the shell with SIGKILL after `after`, and waits for it.
fn kill_during(t: &Tenant, dir: &Path, sql: &str, after: Duration) {
    let mut child = t.command(dir).args(["-q", "-c", sql]).spawn().unwrap();
    std::thread::sleep(after);
    // Child::kill sends SIGKILL on Unix: no handler, no cleanup in the shell.
    let _ = child.kill();
    let _ = child.wait();
}

async fn parquet_rows(path: &Path) -> Result<usize, String> {
    let ctx = SessionContext::new();
    ctx.register_parquet("p", path.to_str().unwrap(), ParquetReadOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let batches = ctx
        .sql("SELECT * FROM p")
        .await
        .map_err(|e| e.to_string())?
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    Ok(batches.iter().map(|b| b.num_rows()).sum())
}

/// (version, rows) of a Delta table, or None when there is no table at `path`.
async fn delta_state(path: &Path) -> Option<(u64, usize)> {
    let url = deltalake::ensure_table_uri(path.to_str()?).ok()?;
    let table = deltalake::open_table(url).await.ok()?;
    let version = table.version()?;
    let ctx = SessionContext::new();
    table.update_datafusion_session(&ctx.state()).unwrap();
    ctx.register_table("d", table.table_provider().await.unwrap())
        .unwrap();
    let batches = ctx
        .sql("SELECT * FROM d")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    Some((version, batches.iter().map(|b| b.num_rows()).sum()))
}

fn visible_entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn sigkill_during_copy_to_parquet_never_leaves_a_partial_file() {
    let t = slow_tenant();
    let dir = tempfile::tempdir().unwrap();
    let sql = "COPY (SELECT team_id, channel_id, id, body FROM messages) TO 'm.parquet' STORED AS PARQUET";
    let took = timed(&t, dir.path(), sql);
    let file = dir.path().join("m.parquet");
    let good = std::fs::read(&file).unwrap();
    let rows = t.rt.block_on(parquet_rows(&file)).unwrap();
    assert!(rows > 100, "{rows}");
    for (i, f) in kill_fractions(11, 5).into_iter().enumerate() {
        kill_during(&t, dir.path(), sql, took.mul_f64(f));
        let now = std::fs::read(&file).unwrap();
        if now != good {
            let back = t.rt.block_on(parquet_rows(&file));
            assert_eq!(
                back,
                Ok(rows),
                "kill {i} at {f:.2} of a run: a different file"
            );
        }
        assert_eq!(visible_entries(dir.path()), ["m.parquet"], "kill {i}");
    }
}

#[test]
fn sigkill_during_copy_to_delta_never_leaves_a_torn_table() {
    let t = slow_tenant();
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t");
    let create =
        "COPY (SELECT team_id, channel_id, id, body FROM messages) TO 'new' STORED AS DELTA";
    let overwrite = "COPY (SELECT team_id, channel_id, id, body FROM messages) TO 't' \
                     STORED AS DELTA OPTIONS ('mode' 'overwrite')";
    let took = timed(&t, dir.path(), overwrite);
    let (v0, rows) = t.rt.block_on(delta_state(&table)).unwrap();
    assert!(rows > 100, "{rows}");

    let mut version = v0;
    for (i, f) in kill_fractions(23, 5).into_iter().enumerate() {
        // An existing table: the old version and rows, or one new complete version.
        kill_during(&t, dir.path(), overwrite, took.mul_f64(f));
        let (v, n) =
            t.rt.block_on(delta_state(&table))
                .expect("the table is still readable");
        assert_eq!(n, rows, "kill {i} at {f:.2}: rows");
        assert!(
            v == version || v == version + 1,
            "kill {i}: version {v} after {version}"
        );
        version = v;

        // A new table: nothing at all, or a complete table.
        let new = dir.path().join("new");
        kill_during(&t, dir.path(), create, took.mul_f64(f));
        if new.exists() {
            let state = t.rt.block_on(delta_state(&new));
            assert_eq!(
                state.map(|(_, n)| n),
                Some(rows),
                "kill {i} at {f:.2}: {:?} left at the destination",
                visible_entries(&new)
            );
            std::fs::remove_dir_all(&new).unwrap();
        }
    }
}

#[test]
fn ctrl_c_during_a_copy_keeps_the_old_file_and_removes_the_staging() {
    let t = slow_tenant();
    let dir = tempfile::tempdir().unwrap();
    let sql = "COPY (SELECT team_id, channel_id, id, body FROM messages) TO 'm.parquet' STORED AS PARQUET";
    timed(&t, dir.path(), sql);
    let file = dir.path().join("m.parquet");
    let good = std::fs::read(&file).unwrap();

    let mut pty = Pty::spawn(t.command(dir.path()));
    let wait = Duration::from_secs(30);
    pty.expect("teams-sql> ", wait);
    pty.send(&format!("{sql};\r"));
    // The progress line shows once the COPY has run for a second: it is mid-read.
    pty.expect("Graph requests", wait);
    pty.send("\x03");
    pty.expect("query cancelled", wait);
    pty.expect("teams-sql> ", wait);
    assert_eq!(std::fs::read(&file).unwrap(), good);
    let mut all: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    all.sort();
    assert_eq!(all, ["m.parquet"], "no staging directory left after Ctrl-C");
    pty.send("\x04");
    assert!(pty.wait(wait).success());
}
