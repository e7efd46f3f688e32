//! What `teams-sql sync` costs against a simulated tenant with Microsoft's throttling limits and
//! 60-250 ms of latency per request, through the built binary: the first sync's wall time next to
//! the throttle lower bound of every request it made (`ThrottleLimits::lower_bound` over the
//! simulator's journal), its requests next to the fewest the source it used needs, and the cost
//! of an incremental run after a seeded batch of changes and of a run with nothing to do, per
//! team. Three tenants: export API granted; granted without channel delta; refused (first load
//! from the channel listing, incremental runs through channel delta). It prints figures; it
//! asserts nothing.
//!
//! `cargo bench --workspace --bench sync`
//! (`SYNC_BENCH_TEAMS`, default 20; `SYNC_BENCH_MESSAGES`, root posts per channel, default 60).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use graph_client::{EndpointClass, Scope, ThrottleLimits};
use graph_sim::{Counters, ExportApi, Sim, SimConfig, Switches};

const BIN: &str = env!("CARGO_BIN_EXE_teams-sql");

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn sync(server: &graph_sim::SimServer, dir: &Path) -> f64 {
    let started = Instant::now();
    let out = Command::new(BIN)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("AZURE_TENANT_ID", graph_sim::DEFAULT_TENANT_ID)
        .env("AZURE_CLIENT_ID", graph_sim::DEFAULT_CLIENT_ID)
        .env("AZURE_CLIENT_SECRET", graph_sim::DEFAULT_CLIENT_SECRET)
        .args(["sync", "--to", "lake", "-q"])
        .arg("--graph-endpoint")
        .arg(server.graph_url())
        .arg("--authority-host")
        .arg(server.authority_url())
        .output();
    let seconds = started.elapsed().as_secs_f64();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => eprintln!("sync failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => eprintln!("cannot run {BIN}: {e}"),
    }
    seconds
}

/// The throttle lower bound of the requests the run made (the simulator's journal: each
/// request's class, team and channel), with graph-client's arithmetic
/// (`ThrottleLimits::lower_bound`): the busiest limit's requests over its rate.
fn lower_bound(journal: &[graph_sim::Arrival]) -> f64 {
    let scopes: Vec<(EndpointClass, Scope)> = journal
        .iter()
        .filter_map(|a| {
            let class = EndpointClass::ALL
                .into_iter()
                .find(|c| c.as_str() == a.class.as_str())?;
            let scope = match (&a.team, &a.channel) {
                (Some(t), Some(c)) => Scope::channel(t.clone(), c.clone()),
                (Some(t), None) => Scope::team(t.clone()),
                _ => Scope::tenant(),
            };
            Some((class, scope))
        })
        .collect();
    ThrottleLimits::microsoft()
        .lower_bound(scopes.iter().map(|(c, s)| (*c, s)))
        .as_secs_f64()
}

/// The fewest requests a first sync can make with `source`: `GET /teams`, then per team its
/// details, channels and members, then the messages: one export page per 50 messages of a team
/// (the only page size Microsoft documents for it, docs/graph.md §3.2), or one listing page per
/// 50 posts of a channel (replies inline).
fn fewest(sim: &Sim, export: bool) -> u64 {
    let teams = sim.team_ids();
    let mut n = 1 + 3 * teams.len() as u64;
    for t in &teams {
        let mut team_messages = 0u64;
        for c in sim.channels(t) {
            let id = c["id"].as_str().unwrap_or_default().to_string();
            let posts = sim.messages(t, &id);
            let replies: u64 = posts
                .iter()
                .map(|m| {
                    sim.replies(t, &id, m["id"].as_str().unwrap_or_default())
                        .len() as u64
                })
                .sum();
            team_messages += posts.len() as u64 + replies;
            if !export {
                n += (posts.len() as u64).div_ceil(50).max(1);
            }
        }
        if export {
            n += team_messages.div_ceil(50).max(1);
        }
    }
    n
}

fn message_requests(c: &Counters) -> u64 {
    [
        "get_all_messages",
        "messages_delta",
        "messages_list",
        "replies_list",
    ]
    .iter()
    .map(|k| c.get(k))
    .sum()
}

fn by_class(c: &Counters) -> String {
    let m: BTreeMap<&String, &u64> = c.requests.iter().filter(|(_, v)| **v > 0).collect();
    m.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let teams = env_usize("SYNC_BENCH_TEAMS", 20);
    println!(
        "simulator at Microsoft's limits, latency 60-250 ms; {teams} teams, 5 channels a team, {} posts a channel with replies",
        env_usize("SYNC_BENCH_MESSAGES", 60)
    );
    for (label, export_api, delta_unsupported) in [
        ("export API", ExportApi::Granted, false),
        ("export API, no channel delta", ExportApi::Granted, true),
        (
            "channel listing (export API refused)",
            ExportApi::Forbidden,
            false,
        ),
    ] {
        let cfg = SimConfig {
            teams,
            channels_per_team: 5,
            messages_per_channel: env_usize("SYNC_BENCH_MESSAGES", 60),
            replies_per_message: 6,
            members_per_team: 4,
            big_threads: false,
            throttle_scale: Some(1.0),
            latency_ms: (60, 250),
            epoch: None,
            switches: Switches {
                export_api,
                delta_unsupported,
                ..Switches::default()
            },
            ..SimConfig::for_tests()
        };
        let server = rt.block_on(graph_sim::start(cfg))?;
        let sim = server.sim();
        let channels: usize = sim.team_ids().iter().map(|t| sim.channels(t).len()).sum();
        let dir = tempfile::tempdir()?;
        println!(
            "== {label}: {teams} teams, {channels} channels, {} posts and replies",
            sim.message_count()
        );

        sim.reset_counters();
        sim.start_journal();
        let wall = sync(&server, dir.path());
        let c = sim.counters();
        let bound = lower_bound(&sim.journal());
        let least = fewest(&sim, export_api == ExportApi::Granted);
        println!(
            "first sync: {wall:.2} s wall, throttle lower bound {bound:.2} s, ratio {:.2}; {} requests, fewest {least} ({:.2}x); 429s {}; {}",
            wall / bound.max(1e-9),
            c.total(),
            c.total() as f64 / least as f64,
            c.throttled_total(),
            by_class(&c)
        );

        sim.apply_change_batch(1);
        let teams_now = sim.team_ids().len().max(1);
        sim.reset_counters();
        sim.start_journal();
        let wall = sync(&server, dir.path());
        let c = sim.counters();
        let bound = lower_bound(&sim.journal());
        println!(
            "incremental after a change batch: {wall:.2} s (bound {bound:.2} s), {} requests, {:.2} message requests per team; 429s {}; {}",
            c.total(),
            message_requests(&c) as f64 / teams_now as f64,
            c.throttled_total(),
            by_class(&c)
        );

        sim.reset_counters();
        let wall = sync(&server, dir.path());
        let c = sim.counters();
        println!(
            "nothing changed: {wall:.2} s, {} requests, {:.2} message requests per team; {}",
            c.total(),
            message_requests(&c) as f64 / teams_now as f64,
            by_class(&c)
        );
        rt.block_on(server.shutdown());
    }
    Ok(())
}
