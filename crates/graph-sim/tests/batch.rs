//! The seeded change batch (`POST /_sim/changes`, `Sim::apply_change_batch`): the same tenant and
//! seed give the same changes and the same resulting tenant, every kind of change is in it, and
//! the ground truth afterwards agrees with what the batch says it did.

mod common;

use std::collections::BTreeSet;

use common::Env;
use graph_sim::{Change, Sim, SimConfig};
use serde_json::{Value, json};

/// Everything a sync copies, from the ground-truth accessors: teams, and per team its channels,
/// members, posts and replies.
fn snapshot(sim: &Sim) -> Value {
    let mut teams = Vec::new();
    for team in sim.teams() {
        let id = team["id"].as_str().unwrap().to_string();
        let channels: Vec<Value> = sim
            .channels(&id)
            .into_iter()
            .map(|c| {
                let cid = c["id"].as_str().unwrap().to_string();
                let posts: Vec<Value> = sim
                    .messages(&id, &cid)
                    .into_iter()
                    .map(|m| {
                        let replies = sim.replies(&id, &cid, m["id"].as_str().unwrap());
                        json!({"post": m, "replies": replies})
                    })
                    .collect();
                json!({"channel": c, "posts": posts})
            })
            .collect();
        teams.push(json!({"team": team, "channels": channels, "members": sim.members(&id)}));
    }
    Value::Array(teams)
}

async fn post_batch(env: &Env, body: Value) -> (u16, Value) {
    let resp = env
        .http
        .post(format!("{}/_sim/changes", env.server.graph_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_seed_gives_the_same_changes_and_the_same_tenant() {
    let a = Env::new(SimConfig::for_tests()).await;
    let b = Env::new(SimConfig::for_tests()).await;
    let (sa, ba) = post_batch(&a, json!({"seed": 7})).await;
    let (sb, bb) = post_batch(&b, json!({"seed": 7})).await;
    assert_eq!((sa, sb), (200, 200), "{ba} {bb}");
    assert_eq!(ba, bb, "same seed, same changes");
    let after = snapshot(&a.server.sim());
    assert_eq!(after, snapshot(&b.server.sim()), "same seed, same tenant");

    let c = Env::new(SimConfig::for_tests()).await;
    let (_, bc) = post_batch(&c, json!({"seed": 8})).await;
    assert_ne!(ba["changes"], bc["changes"], "another seed, other changes");
    assert_ne!(after, snapshot(&c.server.sim()));

    // The library call gives the same as the admin route.
    let d = Sim::new(SimConfig::for_tests());
    let batch = d.apply_change_batch(7);
    assert_eq!(serde_json::to_value(&batch).unwrap(), ba);
    assert_eq!(snapshot(&d), after);

    let (s, _) = post_batch(&a, json!({"seed": 1, "scale": 0})).await;
    assert_eq!(s, 400);
}

#[test]
fn the_batch_has_every_kind_of_change_and_the_ground_truth_shows_them() {
    for (seed, scale) in [(0, 1), (1, 1), (2, 1), (3, 2), (4, 3)] {
        check_batch(seed, scale);
    }
}

fn check_batch(seed: u64, scale: usize) {
    let sim = Sim::new(SimConfig::for_tests());
    let before: BTreeSet<String> = sim.team_ids().into_iter().collect();
    let batch = sim.apply_change_batch_scaled(seed, scale);
    let kinds: BTreeSet<String> = batch
        .changes
        .iter()
        .map(|c| {
            let v = serde_json::to_value(c).unwrap();
            let on_reply = if v.get("reply").is_some() && v["kind"] != "reply" {
                ".reply"
            } else {
                ""
            };
            format!("{}{on_reply}", v["kind"].as_str().unwrap())
        })
        .collect();
    let want = [
        "post",
        "reply",
        "edit",
        "edit.reply",
        "react",
        "react.reply",
        "unreact",
        "softDelete",
        "softDelete.reply",
        "hardDelete",
        "hardDelete.reply",
        "addTeam",
        "removeTeam",
        "addChannel",
        "removeChannel",
        "addMember",
        "removeMember",
    ];
    for k in want {
        assert!(kinds.contains(k), "seed {seed}: {k} missing from {kinds:?}");
    }

    let find = |team: &str, channel: &str, message: &str, reply: Option<&str>| -> Option<Value> {
        let post = sim
            .messages(team, channel)
            .into_iter()
            .find(|m| m["id"] == message)?;
        match reply {
            None => Some(post),
            Some(r) => sim
                .replies(team, channel, message)
                .into_iter()
                .find(|m| m["id"] == r),
        }
    };
    let teams: BTreeSet<String> = sim.team_ids().into_iter().collect();
    for c in &batch.changes {
        match c {
            Change::Post {
                team,
                channel,
                message,
            } => {
                assert!(find(team, channel, message, None).is_some(), "{c:?}")
            }
            Change::Reply {
                team,
                channel,
                message,
                reply,
            } => {
                assert!(find(team, channel, message, Some(reply)).is_some(), "{c:?}")
            }
            Change::Edit {
                team,
                channel,
                message,
                reply,
            } => {
                let m = find(team, channel, message, reply.as_deref()).unwrap();
                assert!(m["lastEditedDateTime"].is_string(), "{c:?}: {m}");
            }
            Change::React {
                team,
                channel,
                message,
                reply,
                reaction,
            } => {
                let m = find(team, channel, message, reply.as_deref()).unwrap();
                let types: Vec<&Value> = m["reactions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| &r["reactionType"])
                    .collect();
                assert!(types.contains(&&json!(reaction)), "{c:?}: {m}");
            }
            Change::Unreact {
                team,
                channel,
                message,
                reply,
                reaction,
            } => {
                let m = find(team, channel, message, reply.as_deref()).unwrap();
                let removed = m["messageHistory"].as_array().unwrap().iter().any(|h| {
                    h["actions"] == "reactionRemoved"
                        && h["reaction"]["reactionType"] == reaction.as_str()
                });
                assert!(removed, "{c:?}: {m}");
            }
            Change::SoftDelete {
                team,
                channel,
                message,
                reply,
            } => {
                let m = find(team, channel, message, reply.as_deref()).unwrap();
                assert!(m["deletedDateTime"].is_string(), "{c:?}: {m}");
            }
            Change::HardDelete {
                team,
                channel,
                message,
                reply,
            } => {
                assert!(
                    find(team, channel, message, reply.as_deref()).is_none(),
                    "{c:?}"
                )
            }
            Change::AddTeam { team } => assert!(teams.contains(team) && !before.contains(team)),
            Change::RemoveTeam { team } => assert!(!teams.contains(team) && before.contains(team)),
            Change::AddChannel { team, channel } => {
                assert!(
                    sim.channels(team)
                        .iter()
                        .any(|x| x["id"] == channel.as_str())
                )
            }
            Change::RemoveChannel { team, channel } => {
                assert!(
                    !sim.channels(team)
                        .iter()
                        .any(|x| x["id"] == channel.as_str())
                )
            }
            Change::AddMember { team, member } => {
                assert!(sim.members(team).iter().any(|x| x["id"] == member.as_str()))
            }
            Change::RemoveMember { team, member } => {
                assert!(!sim.members(team).iter().any(|x| x["id"] == member.as_str()))
            }
        }
    }
}
