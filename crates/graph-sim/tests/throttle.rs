//! Throttling: admitted request counts against the token-bucket math of Microsoft's limits
//! (docs/graph.md §4.2) at scale x10 (x1 for the tenant-wide "other GET" class), the documented 429
//! body with a fractional Retry-After, the switch that omits it, and no 429 for a client pacing
//! itself at the documented rate.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Env, enc};
use graph_sim::SimConfig;
use serde_json::Value;

struct Outcome {
    admitted: u64,
    throttled: u64,
    secs: f64,
}

/// Sends GETs to `urls` (round-robin) from `workers` concurrent tasks for `dur`.
async fn hammer(env: &Env, urls: Vec<String>, workers: usize, dur: Duration) -> Outcome {
    let ok = Arc::new(AtomicU64::new(0));
    let thr = Arc::new(AtomicU64::new(0));
    let next = Arc::new(AtomicU64::new(0));
    let urls = Arc::new(urls);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (ok, thr, next, urls) = (ok.clone(), thr.clone(), next.clone(), urls.clone());
        let http = env.http.clone();
        let token = env.token.clone();
        tasks.push(tokio::spawn(async move {
            while start.elapsed() < dur {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let resp = http
                    .get(&urls[i % urls.len()])
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                match resp.status().as_u16() {
                    200 => ok.fetch_add(1, Ordering::Relaxed),
                    429 => thr.fetch_add(1, Ordering::Relaxed),
                    s => panic!("unexpected status {s}"),
                };
                let _ = resp.bytes().await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    Outcome {
        admitted: ok.load(Ordering::Relaxed),
        throttled: thr.load(Ordering::Relaxed),
        secs: start.elapsed().as_secs_f64(),
    }
}

/// Admitted requests may not exceed the bucket (burst + rate x time) and, since the client sends
/// faster than the limit the whole time, must reach at least 80% of rate x time.
fn check(o: &Outcome, rate: f64, burst: f64, what: &str) {
    let max = burst + rate * o.secs + 1.0;
    let min = 0.8 * rate * o.secs;
    eprintln!(
        "{what}: admitted {} throttled {} in {:.2} s = {:.1} admitted/s (limit {rate} rps, burst {burst}; allowed {min:.0}..={max:.0})",
        o.admitted,
        o.throttled,
        o.secs,
        o.admitted as f64 / o.secs
    );
    assert!(
        o.throttled > 0,
        "{what}: the client sent above the limit, some requests must be refused"
    );
    assert!(
        (o.admitted as f64) <= max,
        "{what}: admitted {} > {max:.1}",
        o.admitted
    );
    assert!(
        (o.admitted as f64) >= min,
        "{what}: admitted {} < {min:.1}",
        o.admitted
    );
}

fn cfg(scale: f64) -> SimConfig {
    SimConfig {
        teams: 10,
        channels_per_team: 8,
        messages_per_channel: 3,
        throttle_scale: Some(scale),
        ..SimConfig::for_tests()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_channel_limit_1rps_times_10() {
    let env = Env::new(cfg(10.0)).await;
    let sim = env.server.sim();
    let team = sim.team_ids()[0].clone();
    let ch = sim.channels(&team)[0]["id"].as_str().unwrap().to_string();
    let url = env.url(&format!(
        "/teams/{team}/channels/{}/messages?$top=1",
        enc(&ch)
    ));
    let o = hammer(&env, vec![url], 6, Duration::from_millis(2500)).await;
    check(&o, 10.0, 10.0, "per channel (1 rps x10)");
    let c = sim.counters();
    assert_eq!(c.throttled.get("messages_list").copied(), Some(o.throttled));
    assert_eq!(c.get("messages_list"), o.admitted + o.throttled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_team_limit_4rps_times_10() {
    let env = Env::new(cfg(10.0)).await;
    let sim = env.server.sim();
    let team = sim.team_ids()[1].clone();
    // Eight channels: 80 rps of channel budget, so the team's 40 rps binds.
    let urls = sim
        .channels(&team)
        .iter()
        .map(|c| {
            env.url(&format!(
                "/teams/{team}/channels/{}/messages?$top=1",
                enc(c["id"].as_str().unwrap())
            ))
        })
        .collect();
    let o = hammer(&env, urls, 8, Duration::from_millis(2500)).await;
    check(&o, 40.0, 40.0, "per team (4 rps x10)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_tenant_class_limit_other_get_30rps() {
    let env = Env::new(cfg(1.0)).await;
    let o = hammer(
        &env,
        vec![env.url("/teams")],
        6,
        Duration::from_millis(2500),
    )
    .await;
    check(&o, 30.0, 30.0, "per tenant, other GET (30 rps x1)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_answer_has_documented_body_and_fractional_retry_after() {
    let env = Env::new(cfg(1.0)).await;
    let sim = env.server.sim();
    let team = sim.team_ids()[2].clone();
    let ch = sim.channels(&team)[0]["id"].as_str().unwrap().to_string();
    let url = env.url(&format!(
        "/teams/{team}/channels/{}/messages?$top=1",
        enc(&ch)
    ));
    let mut got = None;
    for _ in 0..40 {
        let resp = env.raw(&url).await;
        if resp.status() == 429 {
            let ra = resp
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            let v: Value = resp.json().await.unwrap();
            got = Some((ra, v));
            break;
        }
    }
    let (ra, v) = got.expect("a burst on one channel at 1 rps is throttled");
    let ra = ra.expect("Retry-After present by default");
    assert!(ra.contains('.'), "fractional Retry-After: {ra}");
    let secs: f64 = ra.parse().unwrap();
    assert!(secs > 0.0 && secs <= 1.0, "{secs}");
    assert_eq!(v["error"]["code"], "TooManyRequests");
    assert_eq!(v["error"]["innerError"]["code"], "429");
    assert_eq!(v["error"]["innerError"]["status"], "429");
    // Waiting Retry-After is enough.
    tokio::time::sleep(Duration::from_secs_f64(secs + 0.01)).await;
    assert_eq!(env.raw(&url).await.status(), 200);

    let env = Env::new(SimConfig {
        omit_retry_after_rate: 1.0,
        ..cfg(1.0)
    })
    .await;
    let team = env.server.sim().team_ids()[0].clone();
    let url = env.url(&format!("/teams/{team}"));
    for _ in 0..40 {
        let resp = env.raw(&url).await;
        if resp.status() == 429 {
            assert!(resp.headers().get("retry-after").is_none());
            return;
        }
    }
    panic!("team get at 4 rps was not throttled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pacing_at_the_documented_rate_is_never_throttled() {
    let env = Env::new(cfg(10.0)).await;
    let sim = env.server.sim();
    let team = sim.team_ids()[3].clone();
    let ch = sim.channels(&team)[0]["id"].as_str().unwrap().to_string();
    let url = env.url(&format!(
        "/teams/{team}/channels/{}/messages?$top=1",
        enc(&ch)
    ));
    // 10 rps (1 rps x10) on one channel for 2 s.
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    // A paced client never catches up on missed ticks in a burst.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for _ in 0..20 {
        tick.tick().await;
        let s = env.raw(&url).await.status();
        assert_eq!(s, 200);
    }
    assert_eq!(sim.counters().throttled_total(), 0);
}
