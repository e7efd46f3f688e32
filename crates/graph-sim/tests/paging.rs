//! Every list endpoint returns each entity exactly once, at several page sizes, and matches the
//! simulator's ground truth.

mod common;

use common::{Env, assert_same_ids, enc};
use graph_sim::SimConfig;
use serde_json::Value;

fn cfg() -> SimConfig {
    SimConfig {
        teams: 7,
        members_per_team: 9,
        ..SimConfig::for_tests()
    }
}

#[tokio::test]
async fn teams_groups_members_page_exactly_once() {
    let env = Env::new(cfg()).await;
    let sim = env.server.sim();
    let truth = sim.teams();
    for top in (1..=8).chain([100, 999]) {
        let (items, pages) = env.all_pages(&format!("/teams?$top={top}")).await;
        assert_same_ids(&items, &truth, "teams");
        assert_eq!(
            pages,
            truth.len().div_ceil(top).max(1),
            "teams pages at top={top}"
        );
    }
    let (items, _) = env.all_pages("/teams").await;
    assert_same_ids(&items, &truth, "teams default page");
    for top in [1, 4, 999] {
        let (items, _) = env
            .all_pages(&format!(
                "/groups?$filter={}&$top={top}",
                enc("resourceProvisioningOptions/Any(x:x eq 'Team')")
            ))
            .await;
        assert_same_ids(&items, &truth, "groups filtered on Team");
    }
    let (all_groups, _) = env.all_pages("/groups?$top=2").await;
    assert!(
        all_groups.len() > truth.len(),
        "unfiltered groups include non-team groups"
    );
    for team in sim.team_ids() {
        let want = sim.members(&team);
        for top in (1..=10).chain([100, 999]) {
            let (items, _) = env
                .all_pages(&format!("/teams/{team}/members?$top={top}"))
                .await;
            assert_same_ids(&items, &want, "members");
        }
        let chans = sim.channels(&team);
        let (items, _) = env.all_pages(&format!("/teams/{team}/channels")).await;
        assert_same_ids(&items, &chans, "channels");
        let (items, _) = env.all_pages(&format!("/teams/{team}/allChannels")).await;
        assert_same_ids(&items, &sim.all_channels(&team), "allChannels");
    }
}

#[tokio::test]
async fn messages_and_replies_page_exactly_once() {
    let env = Env::new(SimConfig { teams: 2, ..cfg() }).await;
    let sim = env.server.sim();
    for team in sim.team_ids() {
        for ch in sim.channels(&team) {
            let cid = ch["id"].as_str().unwrap();
            let want = sim.messages(&team, cid);
            for top in [1, 2, 3, 5, 7, 20, 24, 25, 26, 50] {
                let (items, _) = env
                    .all_pages(&format!(
                        "/teams/{team}/channels/{}/messages?$top={top}",
                        enc(cid)
                    ))
                    .await;
                assert_same_ids(&items, &want, "messages");
            }
            let (items, _) = env
                .all_pages(&format!("/teams/{team}/channels/{}/messages", enc(cid)))
                .await;
            assert_same_ids(&items, &want, "messages default page");
            for m in want.iter().take(6) {
                let mid = m["id"].as_str().unwrap();
                let rwant = sim.replies(&team, cid, mid);
                for top in [1, 3, 50] {
                    let (items, _) = env
                        .all_pages(&format!(
                            "/teams/{team}/channels/{}/messages/{mid}/replies?$top={top}",
                            enc(cid)
                        ))
                        .await;
                    assert_same_ids(&items, &rwant, "replies");
                    for r in &items {
                        assert_eq!(r["replyToId"].as_str(), Some(mid));
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn expand_replies_inline_and_beyond_1000() {
    let env = Env::new(SimConfig {
        teams: 1,
        channels_per_team: 1,
        messages_per_channel: 6,
        big_threads: true,
        ..cfg()
    })
    .await;
    let sim = env.server.sim();
    let team = &sim.team_ids()[0];
    let ch = sim.channels(team)[0]["id"].as_str().unwrap().to_string();
    let (items, _) = env
        .all_pages(&format!(
            "/teams/{team}/channels/{}/messages?$expand=replies&$top=2",
            enc(&ch)
        ))
        .await;
    assert_same_ids(&items, &sim.messages(team, &ch), "messages with replies");
    let mut saw_big = false;
    for m in &items {
        let mid = m["id"].as_str().unwrap();
        let want = sim.replies(team, &ch, mid);
        let inline = m["replies"].as_array().unwrap();
        assert_eq!(m["replies@odata.count"].as_u64(), Some(want.len() as u64));
        let mut got: Vec<Value> = inline.clone();
        if want.len() > 1000 {
            saw_big = true;
            assert_eq!(inline.len(), 1000);
            let next = m["replies@odata.nextLink"]
                .as_str()
                .expect("nextLink beyond 1000 replies");
            let mut url = next.to_string();
            loop {
                let (s, v) = env.get_abs(&url).await;
                assert_eq!(s, 200, "{v}");
                got.extend(v["value"].as_array().unwrap().iter().cloned());
                match v["@odata.nextLink"].as_str() {
                    Some(n) => url = n.to_string(),
                    None => break,
                }
            }
        } else {
            assert!(m.get("replies@odata.nextLink").is_none());
        }
        assert_same_ids(&got, &want, "inline + linked replies");
    }
    assert!(
        saw_big,
        "big_threads gives a thread with more than 1000 replies"
    );
}

/// Without `$top`, teams (chosen), groups and members (documented, docs/graph.md §3.2) come 100
/// to a page, and the next page carries the rest.
#[tokio::test]
async fn default_page_size_is_100_for_teams_groups_members() {
    let env = Env::new(SimConfig::for_tests()).await;
    let sim = env.server.sim();
    while sim.team_ids().len() < 101 {
        sim.add_team(&format!("Extra {}", sim.team_ids().len()));
    }
    let team = sim.team_ids()[0].clone();
    while sim.members(&team).len() < 101 {
        let n = sim.members(&team).len();
        sim.add_member(
            &team,
            &format!("User {n}"),
            &format!("u{n}@example.com"),
            &[],
        )
        .unwrap();
    }
    let groups = format!(
        "/groups?$filter={}",
        enc("resourceProvisioningOptions/Any(x:x eq 'Team')")
    );
    for path in [
        "/teams".to_string(),
        groups,
        format!("/teams/{team}/members"),
    ] {
        let first = env.ok(&path).await;
        assert_eq!(first["value"].as_array().unwrap().len(), 100, "{path}");
        assert!(first["@odata.nextLink"].is_string(), "{path}");
        let (items, pages) = env.all_pages(&path).await;
        assert_eq!(pages, 2, "{path}");
        assert!(items.len() >= 101, "{path}");
    }
}
