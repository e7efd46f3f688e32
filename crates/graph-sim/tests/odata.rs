//! Query options: documented `$top` limits, documented 400s for unsupported options, `$select`,
//! the documented `$filter` forms, Prefer include-unknown-enum-members, single-entity gets.

mod common;

use common::{Env, enc};
use graph_sim::SimConfig;
use serde_json::Value;

async fn bad(env: &Env, path: &str) -> String {
    let (s, v) = env.get(path).await;
    assert_eq!(s, 400, "GET {path} should be 400, got {v}");
    assert_eq!(v["error"]["code"], "BadRequest", "{v}");
    assert!(v["error"]["innerError"]["request-id"].is_string(), "{v}");
    v["error"]["message"].as_str().unwrap().to_string()
}

struct Ids {
    team: String,
    ch: String,
    msg: String,
}

async fn ids(env: &Env) -> Ids {
    let sim = env.server.sim();
    let team = sim.team_ids()[0].clone();
    let ch = sim.channels(&team)[0]["id"].as_str().unwrap().to_string();
    let msg = sim
        .messages(&team, &ch)
        .iter()
        .find(|m| {
            !sim.replies(&team, &ch, m["id"].as_str().unwrap())
                .is_empty()
        })
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    Ids {
        team,
        ch: enc(&ch),
        msg,
    }
}

#[tokio::test]
async fn top_limits_and_unsupported_options_are_documented_400s() {
    let env = Env::new(SimConfig::for_tests()).await;
    let Ids { team, ch, msg } = ids(&env).await;
    let msgs = format!("/teams/{team}/channels/{ch}/messages");
    env.ok(&format!("{msgs}?$top=50")).await;
    let m = bad(&env, &format!("{msgs}?$top=51")).await;
    assert!(m.contains("between 1 and 50"), "{m}");
    bad(&env, &format!("{msgs}?$top=0")).await;
    bad(&env, &format!("{msgs}?$top=abc")).await;
    let m = bad(
        &env,
        &format!(
            "{msgs}?$filter={}",
            enc("lastModifiedDateTime gt 2025-01-01T00:00:00Z")
        ),
    )
    .await;
    assert_eq!(m, "Parameter 'Filter' not supported for this request.");
    bad(&env, &format!("{msgs}?$select=id")).await;
    bad(&env, &format!("{msgs}?$orderby=createdDateTime")).await;
    bad(&env, &format!("{msgs}?$expand=hostedContents")).await;
    bad(&env, &format!("{msgs}?$top=5&$top=6")).await;
    bad(&env, &format!("{msgs}/{msg}?$top=5")).await;
    env.ok(&format!("{msgs}/{msg}/replies?$top=50")).await;
    bad(&env, &format!("{msgs}/{msg}/replies?$top=51")).await;
    bad(
        &env,
        &format!("{msgs}/{msg}/replies?$filter={}", enc("id eq '1'")),
    )
    .await;
    env.ok(&format!("{msgs}/delta?$top=50")).await;
    bad(&env, &format!("{msgs}/delta?$top=51")).await;
    let m = bad(
        &env,
        &format!(
            "{msgs}/delta?$filter={}",
            enc("lastModifiedDateTime lt 2025-01-01T00:00:00Z")
        ),
    )
    .await;
    assert_eq!(m, "Parameter 'Filter' not supported for this request.");
    bad(
        &env,
        &format!(
            "{msgs}/delta?$filter={}",
            enc("createdDateTime gt 2025-01-01T00:00:00Z")
        ),
    )
    .await;
    bad(&env, &format!("{msgs}/delta?$select=id")).await;
    env.ok(&format!("/teams/{team}/members?$top=999")).await;
    bad(&env, &format!("/teams/{team}/members?$top=1000")).await;
    bad(
        &env,
        &format!("/teams/{team}/members?$filter={}", enc("roles eq 'owner'")),
    )
    .await;
    env.ok("/groups?$top=999").await;
    bad(&env, "/groups?$top=1000").await;
    bad(&env, "/groups?$skip=1").await;
    bad(&env, "/teams?$top=1000").await;
    bad(&env, "/teams?$orderby=displayName").await;
    bad(&env, "/teams?$select=nope").await;
    bad(&env, &format!("/teams?$filter={}", enc("displayName eq"))).await;
    bad(&env, &format!("/teams/{team}/channels?$top=2")).await;
    bad(
        &env,
        &format!("/teams/{team}/channels/getAllMessages?$top=1001"),
    )
    .await;
    bad(
        &env,
        &format!(
            "/teams/{team}/channels/getAllMessages?$filter={}",
            enc("createdDateTime gt 2025-01-01T00:00:00Z")
        ),
    )
    .await;
    bad(
        &env,
        &format!("/teams/{team}/channels/getAllMessages?$select=id"),
    )
    .await;
    let m = bad(&env, "/teams/x/unknownThing").await;
    assert!(m.contains("unknownThing"), "{m}");
}

#[tokio::test]
async fn select_and_documented_filters() {
    let env = Env::new(SimConfig {
        teams: 5,
        members_per_team: 9,
        ..SimConfig::for_tests()
    })
    .await;
    let sim = env.server.sim();
    let team = sim.team_ids()[0].clone();

    let v = env.ok("/teams?$select=id,description").await;
    for t in v["value"].as_array().unwrap() {
        // Key order depends on serde_json's preserve_order feature; compare as a set.
        let mut keys: Vec<&String> = t.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["description", "id"], "{t}");
    }
    let name = sim.teams()[1]["displayName"].as_str().unwrap().to_string();
    let v = env
        .ok(&format!(
            "/teams?$filter={}",
            enc(&format!("displayName eq '{name}'"))
        ))
        .await;
    assert_eq!(v["value"].as_array().unwrap().len(), 1);
    assert_eq!(v["value"][0]["displayName"], name.as_str());
    let first = &name[..1];
    let v = env
        .ok(&format!(
            "/teams?$filter={}&$top=1",
            enc(&format!("startswith(displayName, '{first}')"))
        ))
        .await;
    assert!(
        v["value"][0]["displayName"]
            .as_str()
            .unwrap()
            .starts_with(first)
    );

    // Members: by userId, and displayName or email with the type cast (docs/graph.md §2.5).
    let members = sim.members(&team);
    let m0 = &members[0];
    let m1 = &members[1];
    let f = format!(
        "(microsoft.graph.aadUserConversationMember/userId eq '{}')",
        m0["userId"].as_str().unwrap()
    );
    let v = env
        .ok(&format!("/teams/{team}/members?$filter={}", enc(&f)))
        .await;
    assert_eq!(v["value"].as_array().unwrap().len(), 1);
    assert_eq!(v["value"][0]["id"], m0["id"]);
    let f = format!(
        "(microsoft.graph.aadUserConversationMember/displayName eq '{}' or microsoft.graph.aadUserConversationMember/email eq '{}')",
        m0["displayName"].as_str().unwrap().replace('\'', "''"),
        m1["email"].as_str().unwrap()
    );
    let v = env
        .ok(&format!("/teams/{team}/members?$filter={}", enc(&f)))
        .await;
    assert_eq!(v["value"].as_array().unwrap().len(), 2, "{v}");
    let v = env
        .ok(&format!("/teams/{team}/members?$select=id,roles"))
        .await;
    assert!(v["value"][0].get("email").is_none());
    assert!(v["value"][0]["@odata.type"].is_string());

    // Channels by membership type.
    for kind in ["standard", "private", "shared"] {
        let v = env
            .ok(&format!(
                "/teams/{team}/channels?$filter={}",
                enc(&format!("membershipType eq '{kind}'"))
            ))
            .await;
        let items = v["value"].as_array().unwrap();
        assert!(!items.is_empty(), "no {kind} channel");
        assert!(items.iter().all(|c| c["membershipType"] == kind));
    }
    let v = env
        .ok(&format!("/teams/{team}/channels?$select=id,displayName"))
        .await;
    assert!(v["value"][0].get("email").is_none());

    // Groups filtered on Team have resourceProvisioningOptions containing "Team".
    let v = env
        .ok(&format!(
            "/groups?$filter={}&$select=id,resourceProvisioningOptions",
            enc("resourceProvisioningOptions/Any(x:x eq 'Team')")
        ))
        .await;
    assert_eq!(v["value"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn entity_gets_and_prefer_header() {
    let env = Env::new(SimConfig::for_tests()).await;
    let sim = env.server.sim();
    let Ids { team, ch, msg } = ids(&env).await;
    let v = env.ok(&format!("/teams/{team}")).await;
    for k in [
        "memberSettings",
        "guestSettings",
        "messagingSettings",
        "funSettings",
        "discoverySettings",
        "summary",
        "internalId",
        "webUrl",
    ] {
        assert!(v.get(k).is_some(), "team lacks {k}");
    }
    assert!(v["summary"]["membersCount"].is_number());
    let listed = env.ok("/teams").await;
    assert!(
        listed["value"][0]["memberSettings"].is_null(),
        "GET /teams populates only the basic properties"
    );
    let (s, e) = env.get("/teams/00000000-0000-0000-0000-000000000000").await;
    assert_eq!(s, 404);
    assert_eq!(e["error"]["code"], "NotFound");

    let c = env.ok(&format!("/teams/{team}/channels/{ch}")).await;
    assert!(c.get("summary").is_none());
    let c = env
        .ok(&format!("/teams/{team}/channels/{ch}?$select=id,summary"))
        .await;
    assert!(c["summary"]["membersCount"].is_number(), "{c}");
    let all = env.ok(&format!("/teams/{team}/allChannels")).await;
    let own = sim.channels(&team).len();
    assert!(
        all["value"].as_array().unwrap().len() > own,
        "allChannels includes incoming shared channels"
    );
    assert!(
        all["value"][0]["@odata.id"]
            .as_str()
            .unwrap()
            .contains("/tenants/")
    );

    let m = env
        .ok(&format!("/teams/{team}/channels/{ch}/messages/{msg}"))
        .await;
    assert_eq!(m["id"], msg.as_str());
    assert!(m["replyToId"].is_null());
    let r = env
        .ok(&format!(
            "/teams/{team}/channels/{ch}/messages/{msg}/replies?$top=1"
        ))
        .await;
    let rid = r["value"][0]["id"].as_str().unwrap();
    let one = env
        .ok(&format!(
            "/teams/{team}/channels/{ch}/messages/{msg}/replies/{rid}"
        ))
        .await;
    assert_eq!(one["replyToId"], msg.as_str());

    // System event messages: unknownFutureValue unless Prefer include-unknown-enum-members.
    let sys = sim
        .team_ids()
        .iter()
        .flat_map(|t| {
            sim.channels(t)
                .into_iter()
                .map(move |c| (t.clone(), c["id"].as_str().unwrap().to_string()))
        })
        .flat_map(|(t, c)| {
            sim.messages(&t, &c)
                .into_iter()
                .map(move |m| (t.clone(), c.clone(), m))
        })
        .find(|(_, _, m)| m["messageType"] == "systemEventMessage")
        .expect("tenant has a system event message");
    let url = env.url(&format!(
        "/teams/{}/channels/{}/messages/{}",
        sys.0,
        enc(&sys.1),
        sys.2["id"].as_str().unwrap()
    ));
    let plain: Value = env.raw(&url).await.json().await.unwrap();
    assert_eq!(plain["messageType"], "unknownFutureValue");
    assert!(plain["eventDetail"]["@odata.type"].is_string());
    let pref: Value = env
        .authed(&url)
        .header("Prefer", "include-unknown-enum-members")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pref["messageType"], "systemEventMessage");
}
