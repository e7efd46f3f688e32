//! Paging completeness against the simulator's ground truth at several
//! page sizes, delta links, reply links, and stopping on drop.

mod common;
mod simutil;

use std::collections::BTreeSet;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use graph_client::{EndpointClass, GraphClient, GraphRequest, Scope};
use graph_sim::SimConfig;
use serde_json::Value;

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|v| v["id"].as_str().unwrap_or("").to_string())
        .collect()
}

async fn collect(client: &GraphClient, req: GraphRequest) -> (Vec<Value>, usize) {
    let pages: Vec<_> = client.pages(req).try_collect().await.unwrap();
    let n = pages.len();
    (pages.into_iter().flat_map(|p| p.into_items()).collect(), n)
}

#[tokio::test]
async fn every_item_at_several_page_sizes() {
    let server = graph_sim::start(SimConfig::for_tests()).await.unwrap();
    let sim = server.sim();
    let client = simutil::sim_client(&server);
    let truth_teams: BTreeSet<String> = ids(&sim.teams()).into_iter().collect();
    for top in [1u32, 2, 7, 50] {
        let (teams, _) = collect(&client, GraphRequest::list_teams().top(top)).await;
        let got: Vec<String> = ids(&teams);
        assert_eq!(got.len(), truth_teams.len(), "teams at top={top}");
        assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), truth_teams);
        for t in &truth_teams {
            let (members, _) = collect(&client, GraphRequest::list_members(t).top(top)).await;
            assert_eq!(
                ids(&members),
                ids(&sim.members(t)),
                "members of {t} at top={top}"
            );
            let (channels, _) = collect(&client, GraphRequest::list_channels(t)).await;
            assert_eq!(
                ids(&channels).into_iter().collect::<BTreeSet<_>>(),
                ids(&sim.channels(t)).into_iter().collect::<BTreeSet<_>>()
            );
            let c = sim.channels(t)[0]["id"].as_str().unwrap().to_string();
            let truth = ids(&sim.messages(t, &c));
            let (messages, pages) =
                collect(&client, GraphRequest::list_messages(t, &c).top(top)).await;
            assert_eq!(
                ids(&messages).into_iter().collect::<BTreeSet<_>>(),
                truth.iter().cloned().collect::<BTreeSet<_>>(),
                "messages of {c} at top={top}"
            );
            assert_eq!(messages.len(), truth.len(), "no duplicates at top={top}");
            assert!(
                pages >= truth.len().div_ceil(top as usize),
                "top={top} pages={pages}"
            );
            // Replies of every thread in that channel.
            for m in &truth {
                let truth_r = ids(&sim.replies(t, &c, m));
                let (replies, _) = collect(
                    &client,
                    GraphRequest::list_replies(t, &c, m).top(top.min(50)),
                )
                .await;
                assert_eq!(
                    ids(&replies).into_iter().collect::<BTreeSet<_>>(),
                    truth_r.into_iter().collect::<BTreeSet<_>>()
                );
            }
        }
    }
    let s = client.stats();
    println!(
        "paging run: {} requests, {} bytes, by class {:?}",
        s.total_requests, s.bytes, s.requests
    );
    assert_eq!(s.retries, 0);
}

#[tokio::test]
async fn export_api_returns_posts_and_replies_of_all_channels() {
    let server = graph_sim::start(SimConfig::for_tests()).await.unwrap();
    let sim = server.sim();
    let client = simutil::sim_client(&server);
    let t = sim.team_ids()[0].clone();
    let mut truth = BTreeSet::new();
    for ch in sim.channels(&t) {
        let c = ch["id"].as_str().unwrap().to_string();
        for m in sim.messages(&t, &c) {
            let id = m["id"].as_str().unwrap().to_string();
            for r in sim.replies(&t, &c, &id) {
                truth.insert((c.clone(), r["id"].as_str().unwrap().to_string()));
            }
            truth.insert((c.clone(), id));
        }
    }
    let items: Vec<Value> = client
        .items(GraphRequest::get_all_messages(&t).top(13))
        .try_collect()
        .await
        .unwrap();
    let got: BTreeSet<(String, String)> = items
        .iter()
        .map(|m| {
            (
                m["channelIdentity"]["channelId"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                m["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(got, truth);
}

#[tokio::test]
async fn delta_rounds_surface_delta_link_and_new_messages() {
    let server = graph_sim::start(SimConfig::for_tests()).await.unwrap();
    let sim = server.sim();
    let client = simutil::sim_client(&server);
    let t = sim.team_ids()[0].clone();
    let c = sim.channels(&t)[0]["id"].as_str().unwrap().to_string();
    let pages: Vec<_> = client
        .pages(GraphRequest::messages_delta(&t, &c).top(10))
        .try_collect()
        .await
        .unwrap();
    let last = pages.last().unwrap();
    let delta = last
        .delta_link
        .clone()
        .expect("final page carries @odata.deltaLink");
    assert!(
        pages[..pages.len() - 1]
            .iter()
            .all(|p| p.delta_link.is_none() && p.next_link.is_some())
    );
    let seen: BTreeSet<String> = pages.iter().flat_map(|p| ids(&p.items())).collect();
    // Delta only returns messages of the last eight months (docs/graph.md
    // §5.1); everything comfortably inside that window must be there.
    let all = sim.messages(&t, &c);
    let recent_cutoff = sim.now() - chrono::Duration::days(7 * 30);
    let recent: BTreeSet<String> = all
        .iter()
        .filter(|m| {
            m["lastModifiedDateTime"]
                .as_str()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .is_some_and(|d| d > recent_cutoff)
        })
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert!(!recent.is_empty());
    assert!(
        recent.is_subset(&seen),
        "missing {:?}",
        recent.difference(&seen)
    );
    assert!(seen.is_subset(&ids(&all).into_iter().collect()));

    let new_id = sim.post_message(&t, &c, "<p>hello</p>").unwrap();
    let mut round: Vec<Value> = Vec::new();
    let mut link = Some(delta);
    let mut next_delta = None;
    while let Some(l) = link.take() {
        let p = client
            .follow(EndpointClass::MessagesDelta, Scope::channel(&t, &c), &l)
            .await
            .unwrap();
        round.extend(p.items());
        link = p.next_link;
        next_delta = p.delta_link.or(next_delta);
    }
    assert!(ids(&round).contains(&new_id), "{:?}", ids(&round));
    assert!(next_delta.is_some());
}

#[tokio::test]
async fn expanded_replies_keep_their_next_link() {
    let cfg = SimConfig {
        teams: 1,
        channels_per_team: 1,
        messages_per_channel: 3,
        big_threads: true,
        ..SimConfig::for_tests()
    };
    let server = graph_sim::start(cfg).await.unwrap();
    let sim = server.sim();
    let client = simutil::sim_client(&server);
    let t = sim.team_ids()[0].clone();
    let c = sim.channels(&t)[0]["id"].as_str().unwrap().to_string();
    let items: Vec<Value> = client
        .items(
            GraphRequest::list_messages(&t, &c)
                .expand("replies")
                .top(50),
        )
        .try_collect()
        .await
        .unwrap();
    let big = items
        .iter()
        .find(|m| m.get("replies@odata.nextLink").is_some())
        .expect("a thread with more than 1000 replies has replies@odata.nextLink");
    let id = big["id"].as_str().unwrap();
    let mut all = ids(big["replies"].as_array().unwrap());
    let mut link = big["replies@odata.nextLink"].as_str().map(str::to_string);
    while let Some(l) = link.take() {
        let p = client
            .follow(EndpointClass::RepliesList, Scope::channel(&t, &c), &l)
            .await
            .unwrap();
        all.extend(ids(&p.items()));
        link = p.next_link;
    }
    let truth: BTreeSet<String> = ids(&sim.replies(&t, &c, id)).into_iter().collect();
    assert!(truth.len() > 1000);
    assert_eq!(
        big["replies@odata.count"].as_u64(),
        Some(truth.len() as u64)
    );
    assert_eq!(all.len(), truth.len());
    assert_eq!(all.into_iter().collect::<BTreeSet<_>>(), truth);
}

#[tokio::test]
async fn dropped_stream_sends_nothing_more() {
    let server = graph_sim::start(SimConfig::for_tests()).await.unwrap();
    let sim = server.sim();
    let client = simutil::sim_client(&server);
    let t = sim.team_ids()[0].clone();
    let c = sim.channels(&t)[0]["id"].as_str().unwrap().to_string();
    let mut pages = Box::pin(client.pages(GraphRequest::list_messages(&t, &c).top(1)));
    pages.next().await.unwrap().unwrap();
    pages.next().await.unwrap().unwrap();
    drop(pages);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sim.counters().get("messages_list"), 2);
}

#[tokio::test]
async fn scoped_stats_count_only_their_own_requests() {
    let server = graph_sim::start(SimConfig::for_tests()).await.unwrap();
    let client = simutil::sim_client(&server);
    client.get_page(&GraphRequest::list_teams()).await.unwrap();
    let (scoped, stats) = client.scoped();
    let t = server.sim().team_ids()[0].clone();
    scoped
        .get_page(&GraphRequest::list_channels(&t))
        .await
        .unwrap();
    scoped.get_page(&GraphRequest::get_team(&t)).await.unwrap();
    let q = stats.snapshot();
    assert_eq!(q.total_requests, 2);
    assert_eq!(q.get(EndpointClass::ChannelsList), 1);
    assert_eq!(q.get(EndpointClass::TeamGet), 1);
    assert_eq!(q.token_requests, 0);
    assert!(q.bytes > 0);
    let all = client.stats();
    assert_eq!(all.total_requests, 3);
    assert_eq!(all.token_requests, 1);
}

#[tokio::test]
async fn odata_count_is_surfaced() {
    let server = graph_sim::start(SimConfig::for_tests()).await.unwrap();
    let client = simutil::sim_client(&server);
    let pages: Vec<_> = client
        .pages(GraphRequest::list_teams().count().top(1))
        .try_collect()
        .await
        .unwrap();
    let n = server.sim().team_ids().len() as u64;
    assert_eq!(pages[0].count, Some(n));
    assert_eq!(pages.len() as u64, n);
}
