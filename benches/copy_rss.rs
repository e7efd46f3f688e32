//! Peak memory of the shell writing `COPY messages TO '...parquet'` for 100k and 1M root posts
//! (export source, the simulator's limits scaled x100 so the read is not throttle-bound). The
//! simulator runs in this process; the shell runs as its own process, whose peak resident set
//! (`VmHWM`) is read from /proc while it runs. Prints MB for each size and 1M / 100k. Asserts
//! nothing. Linux only.
//!
//! `cargo bench -p teams-sql --bench copy_rss`; `COPY_RSS_POSTS` (comma-separated, default
//! `100000,1000000`) picks the sizes.

use std::process::Command;
use std::time::{Duration, Instant};

use graph_sim::SimConfig;

/// Highest VmHWM seen for `pid` (kB), polled until the process ends.
fn peak_kb(child: &mut std::process::Child) -> std::io::Result<(u64, std::process::ExitStatus)> {
    let path = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(&path)
            && let Some(kb) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kb);
        }
        if let Some(status) = child.try_wait()? {
            return Ok((peak, status));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sizes: Vec<usize> = std::env::var("COPY_RSS_POSTS")
        .unwrap_or_else(|_| "100000,1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let out = tempfile::tempdir()?;
    let mut figures = Vec::new();
    for posts in sizes {
        // 40 teams of 5 channels, root posts only: the rows are messages.
        let per_channel = posts.div_ceil(200);
        let cfg = SimConfig {
            teams: 40,
            channels_per_team: 5,
            messages_per_channel: per_channel,
            replies_per_message: 0,
            members_per_team: 2,
            big_threads: false,
            throttle_scale: Some(100.0),
            latency_ms: (0, 0),
            ..SimConfig::for_tests()
        };
        let server = rt.block_on(graph_sim::start(cfg))?;
        let file = out.path().join(format!("messages-{posts}.parquet"));
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_teams-sql"))
            .env("AZURE_TENANT_ID", graph_sim::DEFAULT_TENANT_ID)
            .env("AZURE_CLIENT_ID", graph_sim::DEFAULT_CLIENT_ID)
            .env("AZURE_CLIENT_SECRET", graph_sim::DEFAULT_CLIENT_SECRET)
            .env("HOME", out.path())
            .env("XDG_DATA_HOME", out.path().join("data"))
            .env("XDG_CONFIG_HOME", out.path().join("config"))
            .args(["--graph-endpoint", &server.graph_url()])
            .args(["--authority-host", &server.authority_url()])
            .args([
                "--throttle-scale",
                "100",
                "--message-source",
                "export",
                "-q",
            ])
            .arg("-c")
            .arg(format!(
                "COPY messages TO '{}' STORED AS PARQUET",
                file.display()
            ))
            .stdout(std::process::Stdio::null())
            .spawn()?;
        let (kb, status) = peak_kb(&mut child)?;
        let secs = started.elapsed().as_secs_f64();
        rt.block_on(server.shutdown());
        if !status.success() {
            return Err(format!("COPY of {posts} posts failed: {status}").into());
        }
        let mb = kb as f64 / 1024.0;
        println!(
            "COPY messages TO parquet, {posts:>8} posts: peak RSS {mb:>7.1} MB, {secs:>6.1} s"
        );
        figures.push(mb);
    }
    if let [small, .., big] = figures[..] {
        println!("largest / smallest: {:.2}x", big / small);
    }
    Ok(())
}
