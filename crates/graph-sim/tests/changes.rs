//! Delta rounds and the export API (getAllMessages): full reads at several page sizes, the
//! eight-month window, and mutations showing up with the right lastModifiedDateTime.

mod common;

use std::collections::BTreeMap;

use chrono::{DateTime, Months, Utc};
use common::{Env, assert_same_ids, enc};
use graph_sim::SimConfig;
use serde_json::Value;

fn ts(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse::<DateTime<Utc>>().unwrap()
}

/// Latest change of a reply chain per the ground truth.
fn chain_modified(sim: &graph_sim::Sim, team: &str, ch: &str, root: &Value) -> DateTime<Utc> {
    let mut t = ts(&root["lastModifiedDateTime"]);
    for r in sim.replies(team, ch, root["id"].as_str().unwrap()) {
        t = t.max(ts(&r["lastModifiedDateTime"]));
    }
    t
}

/// A one-team tenant with `messages` root posts per channel, and its first channel:
/// (env, sim, team id, channel id).
async fn one_channel(messages: usize) -> (Env, graph_sim::Sim, String, String) {
    let env = Env::new(SimConfig {
        teams: 1,
        messages_per_channel: messages,
        ..SimConfig::for_tests()
    })
    .await;
    let sim = env.server.sim();
    let team = sim.team_ids()[0].clone();
    let ch = sim.channels(&team)[0]["id"].as_str().unwrap().to_string();
    (env, sim, team, ch)
}

/// Follows a delta round to its deltaLink; returns items and the deltaLink.
async fn round(env: &Env, first_url: &str) -> (Vec<Value>, String) {
    let mut url = first_url.to_string();
    let mut items = Vec::new();
    for _ in 0..10_000 {
        let (s, v) = env.get_abs(&url).await;
        assert_eq!(s, 200, "{url}: {v}");
        items.extend(v["value"].as_array().unwrap().iter().cloned());
        if let Some(n) = v["@odata.nextLink"].as_str() {
            assert!(n.contains("$skiptoken="), "{n}");
            assert!(
                !n.contains("$top") && !n.contains("$filter"),
                "options travel inside the token: {n}"
            );
            url = n.to_string();
        } else {
            let d = v["@odata.deltaLink"]
                .as_str()
                .expect("last page has a deltaLink");
            assert!(d.contains("$deltatoken="));
            return (items, d.to_string());
        }
    }
    panic!("runaway delta round");
}

#[tokio::test]
async fn delta_rounds_window_and_mutations() {
    let (env, sim, team, ch) = one_channel(40).await;
    let base = env.url(&format!(
        "/teams/{team}/channels/{}/messages/delta",
        enc(&ch)
    ));
    let cutoff = sim.now().checked_sub_months(Months::new(8)).unwrap();
    let roots = sim.messages(&team, &ch);
    let recent: Vec<Value> = roots
        .iter()
        .filter(|m| chain_modified(&sim, &team, &ch, m) >= cutoff)
        .cloned()
        .collect();
    assert!(
        recent.len() < roots.len(),
        "history reaches past the eight-month window"
    );
    assert!(!recent.is_empty());

    let mut delta_link = String::new();
    for top in [1, 3, 7, 50] {
        let (items, d) = round(&env, &format!("{base}?$top={top}")).await;
        assert_same_ids(&items, &recent, &format!("delta round at $top={top}"));
        assert!(
            items.iter().all(|m| m.get("replies").is_none()),
            "delta holds root posts only"
        );
        delta_link = d;
    }
    // $filter=lastModifiedDateTime gt X narrows the round to chains changed after X.
    let mid = chain_modified(&sim, &team, &ch, &recent[recent.len() / 2]);
    let x = mid.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let (items, _) = round(
        &env,
        &format!(
            "{base}?$top=5&$filter={}",
            enc(&format!("lastModifiedDateTime gt {x}"))
        ),
    )
    .await;
    let want: Vec<Value> = recent
        .iter()
        .filter(|m| chain_modified(&sim, &team, &ch, m) > mid)
        .cloned()
        .collect();
    assert_same_ids(&items, &want, "filtered delta");
    // $expand=replies carries the replies of each chain.
    let (items, _) = round(&env, &format!("{base}?$top=4&$expand=replies")).await;
    for m in &items {
        let want = sim.replies(&team, &ch, m["id"].as_str().unwrap());
        assert_same_ids(m["replies"].as_array().unwrap(), &want, "delta replies");
    }

    // Nothing changed: the next round is empty.
    let (items, delta_link) = round(&env, &delta_link).await;
    assert!(items.is_empty(), "{items:?}");

    // Mutations: a new post, a reply to an old recent post, an edit, a reaction and a deletion.
    sim.advance(chrono::Duration::minutes(5));
    let new_id = sim.post_message(&team, &ch, "<p>hello</p>").unwrap();
    let r_target = recent[0]["id"].as_str().unwrap().to_string();
    sim.post_reply(&team, &ch, &r_target, "<p>re</p>").unwrap();
    let live: Vec<&Value> = recent
        .iter()
        .filter(|m| m["deletedDateTime"].is_null())
        .collect();
    let e_target = live[1]["id"].as_str().unwrap().to_string();
    let react_target = live[2]["id"].as_str().unwrap().to_string();
    let del_target = live[3]["id"].as_str().unwrap().to_string();
    sim.edit_message(&team, &ch, &e_target, None, "<p>edited</p>")
        .unwrap();
    sim.react(&team, &ch, &react_target, None, "like").unwrap();
    sim.soft_delete(&team, &ch, &del_target, None).unwrap();
    // An old (pre-window) post that gets a reaction now is changed within the window.
    let old = roots
        .iter()
        .find(|m| chain_modified(&sim, &team, &ch, m) < cutoff && m["deletedDateTime"].is_null())
        .unwrap();
    let old_id = old["id"].as_str().unwrap().to_string();
    sim.react(&team, &ch, &old_id, None, "heart").unwrap();

    let (items, delta_link2) = round(&env, &delta_link).await;
    let got: BTreeMap<String, Value> = items
        .iter()
        .map(|m| (m["id"].as_str().unwrap().to_string(), m.clone()))
        .collect();
    let expect = [
        &new_id,
        &r_target,
        &e_target,
        &react_target,
        &del_target,
        &old_id,
    ];
    assert_eq!(got.len(), expect.len(), "{:?}", got.keys());
    let truth: BTreeMap<String, Value> = sim
        .messages(&team, &ch)
        .into_iter()
        .map(|m| (m["id"].as_str().unwrap().to_string(), m))
        .collect();
    for id in expect {
        let m = &got[id.as_str()];
        assert_eq!(
            m["lastModifiedDateTime"],
            truth[id.as_str()]["lastModifiedDateTime"],
            "message {id}"
        );
        assert!(
            ts(&m["lastModifiedDateTime"]) >= sim.now() - chrono::Duration::seconds(1)
                || id == &r_target
        );
    }
    assert_eq!(got[&e_target]["body"]["content"], "<p>edited</p>");
    assert_eq!(
        got[&e_target]["lastEditedDateTime"],
        got[&e_target]["lastModifiedDateTime"]
    );
    assert!(
        got[&react_target]["lastEditedDateTime"] != got[&react_target]["lastModifiedDateTime"],
        "a reaction is not an edit"
    );
    assert!(got[&del_target]["deletedDateTime"].is_string());
    assert_eq!(got[&del_target]["body"]["content"], "");
    let (items, _) = round(&env, &delta_link2).await;
    assert!(items.is_empty());
}

#[tokio::test]
async fn delta_change_during_a_round_is_not_lost() {
    let (env, sim, team, ch) = one_channel(30).await;
    let base = env.url(&format!(
        "/teams/{team}/channels/{}/messages/delta?$top=2",
        enc(&ch)
    ));
    let (s, first) = env.get_abs(&base).await;
    assert_eq!(s, 200);
    let seen_id = first["value"][0]["id"].as_str().unwrap().to_string();
    sim.react(&team, &ch, &seen_id, None, "like").ok();
    let posted = sim.post_message(&team, &ch, "mid-round").unwrap();
    let (_, d) = round(&env, first["@odata.nextLink"].as_str().unwrap()).await;
    let (items, _) = round(&env, &d).await;
    let ids = common::ids(&items);
    assert!(
        ids.contains(&posted),
        "post made during the round comes in the next round"
    );
}

#[tokio::test]
async fn get_all_messages_full_and_range_export() {
    let env = Env::new(SimConfig {
        teams: 1,
        ..SimConfig::for_tests()
    })
    .await;
    let sim = env.server.sim();
    let team = sim.team_ids()[0].clone();
    let mut all = Vec::new();
    for c in sim.channels(&team) {
        let cid = c["id"].as_str().unwrap();
        for m in sim.messages(&team, cid) {
            all.extend(sim.replies(&team, cid, m["id"].as_str().unwrap()));
            all.push(m);
        }
    }
    // Ids repeat across channels, so compare (channel, id) pairs.
    let key = |v: &Value| {
        format!(
            "{}|{}",
            v["channelIdentity"]["channelId"].as_str().unwrap(),
            v["id"].as_str().unwrap()
        )
    };
    let mut want: Vec<String> = all.iter().map(key).collect();
    want.sort();
    for top in [7, 50, 1000] {
        let (items, _) = env
            .all_pages(&format!("/teams/{team}/channels/getAllMessages?$top={top}"))
            .await;
        let mut got: Vec<String> = items.iter().map(key).collect();
        got.sort();
        assert_eq!(got, want, "getAllMessages at $top={top}");
        assert!(
            items.iter().any(|m| m["replyToId"].is_string())
                && items.iter().any(|m| m["replyToId"].is_null())
        );
    }
    let (items, _) = env
        .all_pages(&format!(
            "/teams/{team}/channels/getAllMessages?model=B&$top=20"
        ))
        .await;
    assert_eq!(items.len(), want.len());

    let since = sim.now();
    sim.advance(chrono::Duration::seconds(30));
    let ch = sim.channels(&team)[1]["id"].as_str().unwrap().to_string();
    let root = sim
        .messages(&team, &ch)
        .iter()
        .find(|m| m["deletedDateTime"].is_null())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let reply = sim
        .post_reply(&team, &ch, &root, "<p>new reply</p>")
        .unwrap();
    sim.react(&team, &ch, &root, None, "heart").unwrap();
    let until = sim.now() + chrono::Duration::seconds(1);
    let f = format!(
        "lastModifiedDateTime gt {} and lastModifiedDateTime lt {}",
        since.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
        until.format("%Y-%m-%dT%H:%M:%S%.3fZ")
    );
    let (items, _) = env
        .all_pages(&format!(
            "/teams/{team}/channels/getAllMessages?$top=5&$filter={}",
            enc(&f)
        ))
        .await;
    let mut got = common::ids(&items);
    got.sort();
    let mut expect = vec![root.clone(), reply.clone()];
    expect.sort();
    assert_eq!(got, expect);
    let truth_root = sim
        .messages(&team, &ch)
        .into_iter()
        .find(|m| m["id"] == root.as_str())
        .unwrap();
    let truth_reply = sim
        .replies(&team, &ch, &root)
        .into_iter()
        .find(|m| m["id"] == reply.as_str())
        .unwrap();
    for m in &items {
        let t = if m["id"] == root.as_str() {
            &truth_root
        } else {
            &truth_reply
        };
        assert_eq!(m["lastModifiedDateTime"], t["lastModifiedDateTime"]);
        assert!(ts(&m["lastModifiedDateTime"]) > since);
    }
}

/// The deltaLink carries the options of the initial request (docs/graph.md §5.1: options go in
/// the first request only and Graph encodes them into the tokens): the
/// next round keeps its page size, `$expand=replies` and filter, and refuses options repeated on
/// the token.
#[tokio::test]
async fn delta_link_keeps_the_initial_options() {
    let (env, sim, team, ch) = one_channel(10).await;
    // A filter in the future: only what is posted after it shows, in this round and the next.
    let since = (sim.now() + chrono::Duration::minutes(10))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let first = env.url(&format!(
        "/teams/{team}/channels/{}/messages/delta?$top=2&$expand=replies&$filter={}",
        enc(&ch),
        enc(&format!("lastModifiedDateTime gt {since}"))
    ));
    let (items, delta_link) = round(&env, &first).await;
    assert!(items.is_empty(), "nothing after the filter time yet");
    assert!(
        !delta_link.contains("$top") && !delta_link.contains("$expand"),
        "{delta_link}"
    );

    sim.advance(chrono::Duration::minutes(1));
    let early = sim
        .post_message(&team, &ch, "<p>before the filter time</p>")
        .unwrap();
    sim.advance(chrono::Duration::minutes(20));
    let mut posted = Vec::new();
    for i in 0..5 {
        posted.push(
            sim.post_message(&team, &ch, &format!("<p>n{i}</p>"))
                .unwrap(),
        );
    }
    let replied = posted[0].clone();
    sim.post_reply(&team, &ch, &replied, "<p>re</p>").unwrap();

    let mut url = delta_link.clone();
    let mut got = Vec::new();
    loop {
        let (s, v) = env.get_abs(&url).await;
        assert_eq!(s, 200, "{url}: {v}");
        let page = v["value"].as_array().unwrap();
        assert!(page.len() <= 2, "$top=2 survives into the next round");
        for m in page {
            assert!(m["replies"].is_array(), "$expand=replies survives: {m}");
        }
        got.extend(page.iter().cloned());
        match v["@odata.nextLink"].as_str() {
            Some(n) => url = n.to_string(),
            None => break,
        }
    }
    let mut ids = common::ids(&got);
    ids.sort();
    posted.sort();
    assert_eq!(ids, posted, "the filter survives: {early} is left out");
    let thread = got.iter().find(|m| m["id"] == replied.as_str()).unwrap();
    assert_eq!(thread["replies"].as_array().unwrap().len(), 1);

    let (s, _) = env.get_abs(&format!("{delta_link}&$top=5")).await;
    assert_eq!(s, 400, "options repeated on a delta token are refused");
}
