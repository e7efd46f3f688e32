//! Decode throughput: realistic pages of channel messages (the simulator's rendering: nested
//! from, body, mentions, reactions, attachments, 50 to a page) decoded into Arrow the way a scan
//! of `messages` does (`decode_messages_page`: the page envelope with items left as bytes, as
//! graph-client parses every body, then arrow-json's tape decoder on the items and the rebuild
//! into the table schema, all columns), against
//! `serde_json::from_slice::<serde_json::Value>` of the same bytes. Prints MB/s, rows/s and the
//! ratio (above 1: decoding to Arrow is faster than parsing to `Value`). Asserts nothing.
//!
//! `cargo bench --bench decode`; `DECODE_BENCH_ROUNDS` (default 5) repeats the pages.

use std::time::Instant;

use graph_sim::SimConfig;
use serde_json::{Value, json};

fn pages() -> Vec<(String, String, Vec<u8>)> {
    let sim = graph_sim::Sim::new(SimConfig {
        teams: 2,
        channels_per_team: 3,
        messages_per_channel: 200,
        replies_per_message: 0,
        ..SimConfig::for_tests()
    });
    let mut out = Vec::new();
    for team in sim.team_ids() {
        for channel in sim.channels(&team) {
            let Some(channel_id) = channel["id"].as_str() else {
                continue;
            };
            for chunk in sim.messages(&team, channel_id).chunks(50) {
                let page = json!({
                    "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#teams('x')/channels('y')/messages",
                    "@odata.count": chunk.len(),
                    "value": chunk,
                });
                out.push((
                    team.clone(),
                    channel_id.to_string(),
                    serde_json::to_vec(&page).unwrap_or_default(),
                ));
            }
        }
    }
    out
}

fn main() {
    let rounds: usize = std::env::var("DECODE_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let pages = pages();
    let bytes: usize = pages.iter().map(|(_, _, b)| b.len()).sum::<usize>() * rounds;

    let started = Instant::now();
    let mut values = 0usize;
    for _ in 0..rounds {
        for (_, _, body) in &pages {
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            values += v["value"].as_array().map_or(0, Vec::len);
        }
    }
    let serde_secs = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let mut rows = 0usize;
    for _ in 0..rounds {
        for (team, channel, body) in &pages {
            match datafusion_teams::decode_messages_page(body, team, channel) {
                Ok(batch) => rows += batch.num_rows(),
                Err(e) => {
                    eprintln!("decode failed: {e}");
                    return;
                }
            }
        }
    }
    let arrow_secs = started.elapsed().as_secs_f64();

    let mb = bytes as f64 / 1e6;
    println!(
        "{} pages x {rounds} rounds, {:.1} MB, {} messages",
        pages.len(),
        mb,
        rows
    );
    println!(
        "serde_json::Value : {:>8.1} MB/s {:>10.0} rows/s",
        mb / serde_secs,
        values as f64 / serde_secs
    );
    println!(
        "scan decode (Arrow): {:>6.1} MB/s {:>10.0} rows/s",
        mb / arrow_secs,
        rows as f64 / arrow_secs
    );
    println!(
        "ratio (Arrow decode speed / Value parse speed): {:.2}",
        serde_secs / arrow_secs
    );
}
