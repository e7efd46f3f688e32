//! Removals through the admin API (`DELETE /_sim/teams/...`) and hard deletes of posts and
//! replies: afterwards Graph lists omit what is gone, GETs answer 404 with Graph's error body, a
//! removed channel's delta answers 404, getAllMessages leaves its messages out, and channel delta
//! reports hard-deleted messages as `@removed` (docs/graph.md §9.20, §9.21).

mod common;

use common::{Env, assert_same_ids, enc, ids};
use graph_sim::SimConfig;
use serde_json::{Value, json};

/// `DELETE {graph}/_sim{path}`: the admin API, no token.
async fn admin_delete(env: &Env, path: &str) -> u16 {
    env.http
        .delete(format!("{}/_sim{path}", env.server.graph_url()))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Asserts a 404 with Graph's error body (docs/graph.md §6.1).
async fn assert_graph_404(env: &Env, path: &str) {
    let (s, v) = env.get(path).await;
    assert_eq!(s, 404, "GET {path}: {v}");
    assert_eq!(v["error"]["code"], "NotFound", "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
    assert!(v["error"]["innerError"]["request-id"].is_string(), "{v}");
}

/// Follows a delta round to its deltaLink; returns items and the deltaLink.
async fn round(env: &Env, first_url: &str) -> (Vec<Value>, String) {
    let mut url = first_url.to_string();
    let mut items = Vec::new();
    for _ in 0..10_000 {
        let (s, v) = env.get_abs(&url).await;
        assert_eq!(s, 200, "{url}: {v}");
        items.extend(v["value"].as_array().unwrap().iter().cloned());
        match v["@odata.nextLink"].as_str() {
            Some(n) => url = n.to_string(),
            None => return (items, v["@odata.deltaLink"].as_str().unwrap().to_string()),
        }
    }
    panic!("runaway delta round");
}

/// (channel id, message id) of every item getAllMessages returns for a team.
async fn exported(env: &Env, team: &str) -> Vec<(String, String)> {
    let (items, _) = env
        .all_pages(&format!("/teams/{team}/channels/getAllMessages?$top=40"))
        .await;
    let mut keys: Vec<(String, String)> = items
        .iter()
        .map(|m| {
            (
                m["channelIdentity"]["channelId"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                m["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    keys.sort();
    keys
}

/// The same keys from the ground truth.
fn truth_keys(sim: &graph_sim::Sim, team: &str) -> Vec<(String, String)> {
    let mut keys = Vec::new();
    for c in sim.channels(team) {
        let cid = c["id"].as_str().unwrap().to_string();
        for m in sim.messages(team, &cid) {
            let mid = m["id"].as_str().unwrap().to_string();
            for r in sim.replies(team, &cid, &mid) {
                keys.push((cid.clone(), r["id"].as_str().unwrap().to_string()));
            }
            keys.push((cid.clone(), mid));
        }
    }
    keys.sort();
    keys
}

#[tokio::test]
async fn removed_channel_member_and_team_leave_lists_and_answer_404() {
    let env = Env::new(SimConfig::for_tests()).await;
    let sim = env.server.sim();
    let teams = sim.team_ids();
    let (a, b) = (teams[0].clone(), teams[1].clone());
    // The third channel is the shared one, which team (a + 1) = b also sees in allChannels.
    let chans = sim.channels(&a);
    let shared = chans[2]["id"].as_str().unwrap().to_string();
    assert_eq!(chans[2]["membershipType"], "shared");
    let (all_b, _) = env.all_pages(&format!("/teams/{b}/allChannels")).await;
    assert!(
        ids(&all_b).contains(&shared),
        "precondition: b sees a's shared channel"
    );
    let ch_path = format!("/teams/{a}/channels/{}", enc(&shared));
    let (_, delta_link) = round(&env, &env.url(&format!("{ch_path}/messages/delta"))).await;
    let before_export = exported(&env, &a).await;
    assert!(before_export.iter().any(|(c, _)| *c == shared));

    // Channel.
    assert_eq!(admin_delete(&env, &ch_path).await, 204);
    assert_eq!(admin_delete(&env, &ch_path).await, 404, "already gone");
    let (listed, _) = env.all_pages(&format!("/teams/{a}/channels")).await;
    assert!(!ids(&listed).contains(&shared));
    assert_same_ids(&listed, &sim.channels(&a), "channels after removal");
    let (all_b, _) = env.all_pages(&format!("/teams/{b}/allChannels")).await;
    assert!(
        !ids(&all_b).contains(&shared),
        "the host removed its shared channel"
    );
    assert_same_ids(&all_b, &sim.all_channels(&b), "allChannels after removal");
    assert_graph_404(&env, &ch_path).await;
    assert_graph_404(&env, &format!("{ch_path}/messages")).await;
    assert_graph_404(&env, &format!("{ch_path}/messages/delta")).await;
    let (s, _) = env.get_abs(&delta_link).await;
    assert_eq!(s, 404, "a saved deltaLink of a removed channel");
    let after_export = exported(&env, &a).await;
    assert!(after_export.iter().all(|(c, _)| *c != shared));
    assert!(after_export.len() < before_export.len());
    assert_eq!(after_export, truth_keys(&sim, &a));
    assert!(sim.messages(&a, &shared).is_empty());

    // Member.
    let members = sim.members(&a);
    let gone = members[1]["id"].as_str().unwrap().to_string();
    let m_path = format!("/teams/{a}/members/{}", enc(&gone));
    assert_eq!(admin_delete(&env, &m_path).await, 204);
    assert_eq!(admin_delete(&env, &m_path).await, 404);
    let (listed, _) = env.all_pages(&format!("/teams/{a}/members?$top=2")).await;
    assert_eq!(listed.len(), members.len() - 1);
    assert!(!ids(&listed).contains(&gone));
    assert_same_ids(&listed, &sim.members(&a), "members after removal");
    let summary = env.ok(&format!("/teams/{a}")).await["summary"].clone();
    let counted =
        summary["membersCount"].as_u64().unwrap() + summary["guestsCount"].as_u64().unwrap();
    assert_eq!(counted as usize, members.len() - 1, "{summary}");

    // Team.
    let b_chan = sim.channels(&b)[0]["id"].as_str().unwrap().to_string();
    assert_eq!(admin_delete(&env, &format!("/teams/{b}")).await, 204);
    assert_eq!(admin_delete(&env, &format!("/teams/{b}")).await, 404);
    let (listed, _) = env.all_pages("/teams?$top=1").await;
    assert_eq!(ids(&listed), sim.team_ids());
    assert!(!ids(&listed).contains(&b));
    let (groups, _) = env
        .all_pages(&format!(
            "/groups?$top=1&$filter={}",
            enc("resourceProvisioningOptions/Any(x:x eq 'Team')")
        ))
        .await;
    assert!(!ids(&groups).contains(&b));
    assert_eq!(groups.len(), teams.len() - 1);
    assert_graph_404(&env, &format!("/teams/{b}")).await;
    assert_graph_404(&env, &format!("/teams/{b}/channels")).await;
    assert_graph_404(&env, &format!("/teams/{b}/members")).await;
    assert_graph_404(&env, &format!("/teams/{b}/channels/getAllMessages")).await;
    assert_graph_404(
        &env,
        &format!("/teams/{b}/channels/{}/messages", enc(&b_chan)),
    )
    .await;
    assert!(sim.channels(&b).is_empty() && sim.members(&b).is_empty());
    assert!(!sim.teams().iter().any(|t| t["id"] == b.as_str()));
}

#[tokio::test]
async fn hard_deletes_are_gone_from_lists_and_reported_by_delta_as_removed() {
    let env = Env::new(SimConfig {
        teams: 1,
        messages_per_channel: 30,
        ..SimConfig::for_tests()
    })
    .await;
    let sim = env.server.sim();
    let team = sim.team_ids()[0].clone();
    let ch = sim.channels(&team)[0]["id"].as_str().unwrap().to_string();
    let ch_path = format!("/teams/{team}/channels/{}", enc(&ch));
    let delta = env.url(&format!("{ch_path}/messages/delta"));
    let (_, delta_link) = round(&env, &format!("{delta}?$top=7")).await;

    // The newest threads are inside the delta window; pick one with replies and another one.
    let roots = sim.messages(&team, &ch);
    let with_reply = roots
        .iter()
        .rev()
        .find(|m| {
            m["deletedDateTime"].is_null()
                && !sim
                    .replies(&team, &ch, m["id"].as_str().unwrap())
                    .is_empty()
        })
        .unwrap();
    let thread = with_reply["id"].as_str().unwrap().to_string();
    let reply = sim.replies(&team, &ch, &thread)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let post = roots
        .iter()
        .rev()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .find(|id| *id != thread)
        .unwrap();
    let post_replies = sim.replies(&team, &ch, &post);
    sim.advance(chrono::Duration::minutes(1));
    let since = sim.now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    sim.advance(chrono::Duration::minutes(1));

    assert_eq!(
        admin_delete(
            &env,
            &format!("{ch_path}/messages/{thread}/replies/{reply}")
        )
        .await,
        204
    );
    assert_eq!(
        admin_delete(&env, &format!("{ch_path}/messages/{post}")).await,
        204
    );
    assert_eq!(
        admin_delete(&env, &format!("{ch_path}/messages/{post}")).await,
        404
    );
    assert_eq!(
        admin_delete(
            &env,
            &format!("{ch_path}/messages/{thread}/replies/{reply}")
        )
        .await,
        404
    );

    // Lists, GETs and the export no longer have them.
    let (listed, _) = env.all_pages(&format!("{ch_path}/messages?$top=50")).await;
    assert!(!ids(&listed).contains(&post));
    assert_same_ids(
        &listed,
        &sim.messages(&team, &ch),
        "messages after hard delete",
    );
    assert_graph_404(&env, &format!("{ch_path}/messages/{post}")).await;
    assert_graph_404(&env, &format!("{ch_path}/messages/{post}/replies")).await;
    assert_graph_404(
        &env,
        &format!("{ch_path}/messages/{thread}/replies/{reply}"),
    )
    .await;
    let (replies, _) = env
        .all_pages(&format!("{ch_path}/messages/{thread}/replies"))
        .await;
    assert!(!ids(&replies).contains(&reply));
    assert_same_ids(
        &replies,
        &sim.replies(&team, &ch, &thread),
        "replies after hard delete",
    );
    let exported = exported(&env, &team).await;
    let gone: Vec<String> = post_replies
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .chain([post.clone(), reply.clone()])
        .collect();
    assert!(
        exported
            .iter()
            .all(|(c, id)| *c != ch || !gone.contains(id)),
        "the thread goes whole"
    );
    assert_eq!(exported, truth_keys(&sim, &team));

    // The next round reports both, in the documented shape, and nothing else.
    let (items, next) = round(&env, &delta_link).await;
    let removed_post = json!({"id": post, "@removed": {"reason": "deleted"}});
    let removed_reply =
        json!({"id": reply, "replyToId": thread, "@removed": {"reason": "deleted"}});
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(items.contains(&removed_post), "{items:?}");
    assert!(items.contains(&removed_reply), "{items:?}");
    let (items, _) = round(&env, &next).await;
    assert!(items.is_empty(), "reported once: {items:?}");

    // An initial round filtered on a time before the deletions reports them as well; an
    // unfiltered initial round is a snapshot of what exists and has no @removed entries.
    let filtered = format!(
        "{delta}?$top=1&$filter={}",
        enc(&format!("lastModifiedDateTime gt {since}"))
    );
    let (items, _) = round(&env, &filtered).await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(items.contains(&removed_post) && items.contains(&removed_reply));
    let (items, _) = round(&env, &delta).await;
    assert!(items.iter().all(|m| m.get("@removed").is_none()));
    assert!(!ids(&items).contains(&post));
}

/// A removal between two pages does not shift the pages a client is following
/// (docs/graph.md §9.8, §9.20): nothing is skipped, nothing repeated.
#[tokio::test]
async fn a_removal_between_two_pages_skips_nothing() {
    let env = Env::new(SimConfig {
        teams: 4,
        ..SimConfig::for_tests()
    })
    .await;
    let sim = env.server.sim();
    let teams = sim.team_ids();
    let (s, first) = env.get("/teams?$top=2").await;
    assert_eq!(s, 200);
    assert_eq!(ids(first["value"].as_array().unwrap()), teams[..2].to_vec());
    assert_eq!(
        admin_delete(&env, &format!("/teams/{}", teams[0])).await,
        204
    );
    let (s, second) = env
        .get_abs(first["@odata.nextLink"].as_str().unwrap())
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        ids(second["value"].as_array().unwrap()),
        teams[2..].to_vec()
    );

    let team = &teams[1];
    let members = sim.members(team);
    let (_, first) = env.get(&format!("/teams/{team}/members?$top=2")).await;
    let gone = members[0]["id"].as_str().unwrap();
    let path = format!("/teams/{team}/members/{}", enc(gone));
    assert_eq!(admin_delete(&env, &path).await, 204);
    let mut seen = ids(first["value"].as_array().unwrap());
    let mut next = first["@odata.nextLink"].as_str().map(String::from);
    while let Some(url) = next {
        let (s, page) = env.get_abs(&url).await;
        assert_eq!(s, 200);
        seen.extend(ids(page["value"].as_array().unwrap()));
        next = page["@odata.nextLink"].as_str().map(String::from);
    }
    assert_eq!(seen, ids(&members), "every member once, in order");
}
