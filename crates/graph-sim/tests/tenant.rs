//! The generated tenant: realistic identifiers and message variety, history past eight months,
//! and byte-for-byte reproducibility for the same seed and epoch.

mod common;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Months, Utc};
use common::{Env, enc};
use graph_sim::SimConfig;
use serde_json::Value;

fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

#[test]
fn identifiers_and_message_variety() {
    let cfg = SimConfig {
        teams: 6,
        channels_per_team: 4,
        messages_per_channel: 60,
        big_threads: true,
        ..SimConfig::for_tests()
    };
    let sim = graph_sim::Sim::new(cfg);
    let now = sim.now();
    let mut seen_ids: HashMap<String, HashSet<String>> = HashMap::new();
    let mut kinds: HashSet<&str> = HashSet::new();
    let mut frac_digits = HashSet::new();
    let mut oldest = now;
    let mut max_replies = 0;
    let mut zero_reply_threads = 0;
    let mut roles = HashSet::new();
    let mut membership_types = HashSet::new();
    let mut sparse_team = false;
    for team in sim.teams() {
        let tid = team["id"].as_str().unwrap().to_string();
        assert!(is_guid(&tid), "{tid}");
        sparse_team |= team["description"].is_null() && team["createdDateTime"].is_null();
        for m in sim.members(&tid) {
            assert!(
                m["id"].as_str().unwrap().contains('='),
                "membership ids are base64-looking: {m}"
            );
            let r = m["roles"].as_array().unwrap();
            roles.insert(
                r.first()
                    .and_then(Value::as_str)
                    .unwrap_or("none")
                    .to_string(),
            );
        }
        for c in sim.channels(&tid) {
            let cid = c["id"].as_str().unwrap().to_string();
            let mt = c["membershipType"].as_str().unwrap().to_string();
            let suffix = if mt == "private" {
                "@thread.skype"
            } else {
                "@thread.tacv2"
            };
            assert!(
                cid.starts_with("19:")
                    && cid.ends_with(suffix)
                    && cid.len() == 3 + 32 + suffix.len(),
                "{cid}"
            );
            membership_types.insert(mt);
            for m in sim.messages(&tid, &cid) {
                let id = m["id"].as_str().unwrap().to_string();
                assert!(id.parse::<u64>().is_ok());
                seen_ids.entry(id.clone()).or_default().insert(cid.clone());
                let created: DateTime<Utc> =
                    m["createdDateTime"].as_str().unwrap().parse().unwrap();
                oldest = oldest.min(created);
                let replies = sim.replies(&tid, &cid, &id);
                max_replies = max_replies.max(replies.len());
                zero_reply_threads += usize::from(replies.is_empty());
                for x in std::iter::once(&m).chain(replies.iter()) {
                    let ts = x["createdDateTime"].as_str().unwrap();
                    frac_digits.insert(ts.rsplit('.').next().unwrap().len() - 1);
                    if x["messageType"] == "systemEventMessage" {
                        kinds.insert("system");
                        assert!(
                            x["eventDetail"]["@odata.type"]
                                .as_str()
                                .unwrap()
                                .starts_with("#microsoft.graph.")
                        );
                    }
                    if !x["deletedDateTime"].is_null() {
                        kinds.insert("deleted");
                        assert_eq!(x["body"]["content"], "");
                    }
                    if !x["lastEditedDateTime"].is_null() {
                        kinds.insert("edited");
                    }
                    if x["from"].is_null() {
                        kinds.insert("from-null");
                    } else if !x["from"]["application"].is_null() {
                        kinds.insert("from-app");
                    }
                    if x["body"]["contentType"] == "text" {
                        kinds.insert("text");
                    }
                    if !x["reactions"].as_array().unwrap().is_empty() {
                        kinds.insert("reactions");
                    }
                    for men in x["mentions"].as_array().unwrap() {
                        kinds.insert("mentions");
                        let n = men["id"].as_i64().expect("integer mention id");
                        assert!(
                            x["body"]["content"]
                                .as_str()
                                .unwrap()
                                .contains(&format!("<at id=\"{n}\">"))
                        );
                    }
                    for a in x["attachments"].as_array().unwrap() {
                        match a["contentType"].as_str().unwrap() {
                            "reference" => kinds.insert("file"),
                            "application/vnd.microsoft.card.adaptive" => {
                                let card: Value =
                                    serde_json::from_str(a["content"].as_str().unwrap()).unwrap();
                                assert_eq!(card["type"], "AdaptiveCard");
                                kinds.insert("card")
                            }
                            _ => false,
                        };
                    }
                }
            }
        }
    }
    for k in [
        "system",
        "deleted",
        "edited",
        "from-null",
        "from-app",
        "text",
        "reactions",
        "mentions",
        "file",
        "card",
    ] {
        assert!(kinds.contains(k), "no {k} message in the tenant");
    }
    assert!(
        seen_ids.values().any(|chans| chans.len() >= 2),
        "some message id occurs in two channels"
    );
    assert_eq!(
        frac_digits,
        HashSet::from([2, 3]),
        "timestamps with 2 and 3 fractional digits"
    );
    assert!(
        oldest < now.checked_sub_months(Months::new(8)).unwrap(),
        "history beyond eight months"
    );
    assert!(max_replies > 1000, "a thread with more than 1000 replies");
    assert!(zero_reply_threads > 0);
    assert_eq!(
        roles,
        HashSet::from(["owner".to_string(), "guest".to_string(), "none".to_string()])
    );
    assert_eq!(membership_types.len(), 3);
    assert!(sparse_team, "a team whose optional properties are null");
}

#[test]
fn a_large_tenant_builds_quickly() {
    let cfg = SimConfig {
        teams: 50,
        channels_per_team: 10,
        messages_per_channel: 200,
        replies_per_message: 4,
        big_threads: true,
        ..SimConfig::for_tests()
    };
    let start = std::time::Instant::now();
    let sim = graph_sim::Sim::new(cfg);
    let n = sim.message_count();
    eprintln!(
        "50 teams x 10 channels x 200 posts: {n} messages generated in {:?}",
        start.elapsed()
    );
    assert!(n > 100_000);
}

/// Fetches a fixed set of pages and returns their bodies with the server's own address removed.
async fn snapshot(env: &Env) -> Vec<String> {
    let sim = env.server.sim();
    let team = sim.team_ids()[0].clone();
    let ch = enc(sim.channels(&team)[1]["id"].as_str().unwrap());
    let mut out = Vec::new();
    for path in [
        "/teams".to_string(),
        format!("/teams/{team}"),
        "/groups?$top=2".to_string(),
        format!("/teams/{team}/channels"),
        format!("/teams/{team}/allChannels"),
        format!("/teams/{team}/members?$top=3"),
        format!("/teams/{team}/channels/{ch}/messages?$expand=replies&$top=10"),
        format!("/teams/{team}/channels/{ch}/messages/delta?$top=5"),
        format!("/teams/{team}/channels/getAllMessages?$top=30"),
    ] {
        let (s, v) = env.get(&path).await;
        assert_eq!(s, 200, "{path}: {v}");
        let raw = env.raw(&env.url(&path)).await.text().await.unwrap();
        out.push(raw.replace(&env.server.graph_url(), "http://SIM"));
    }
    out
}

#[tokio::test]
async fn same_seed_and_epoch_give_byte_identical_responses() {
    let a = Env::new(SimConfig::for_tests()).await;
    let b = Env::new(SimConfig::for_tests()).await;
    let (sa, sb) = (snapshot(&a).await, snapshot(&b).await);
    for (x, y) in sa.iter().zip(&sb) {
        assert_eq!(x, y);
    }
    let c = Env::new(SimConfig {
        seed: 7,
        ..SimConfig::for_tests()
    })
    .await;
    let sc = snapshot(&c).await;
    assert_ne!(sa, sc, "a different seed gives a different tenant");
    assert_eq!(a.server.sim().teams(), b.server.sim().teams());
}
