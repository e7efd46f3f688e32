//! Tenant switches (403/404/401/402 and delta unsupported), seeded faults, latency, and the HTTP
//! admin API under /_sim/.

mod common;

use common::{Env, enc};
use graph_sim::{ExportApi, Faults, SimConfig, Switches};
use serde_json::{Value, json};

async fn err(env: &Env, path: &str, status: u16) -> Value {
    let (s, v) = env.get(path).await;
    assert_eq!(s, status, "GET {path}: {v}");
    assert!(v["error"]["code"].is_string(), "{v}");
    v
}

#[tokio::test]
async fn switches_reproduce_real_tenant_refusals() {
    let env = Env::new(SimConfig::for_tests()).await;
    let sim = env.server.sim();
    let teams = sim.team_ids();
    let (t0, t1, t2) = (teams[0].clone(), teams[1].clone(), teams[2].clone());
    let c0 = sim.channels(&t0)[0]["id"].as_str().unwrap().to_string();
    let c1 = sim.channels(&t0)[1]["id"].as_str().unwrap().to_string();
    let msgs = |t: &str, c: &str| format!("/teams/{t}/channels/{}/messages", enc(c));

    sim.set_switches(Switches {
        protected_api_denied: true,
        ..Default::default()
    });
    let v = err(&env, &msgs(&t0, &c0), 403).await;
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Protected API")
    );
    err(&env, &format!("{}/delta", msgs(&t0, &c0)), 403).await;
    env.ok(&format!("/teams/{t0}/channels")).await;

    sim.set_switches(Switches {
        delta_unsupported: true,
        ..Default::default()
    });
    let v = err(&env, &format!("{}/delta", msgs(&t0, &c0)), 400).await;
    assert_eq!(
        v["error"]["message"],
        "Invalid request. Delta query is not supported by this resource."
    );
    env.ok(&msgs(&t0, &c0)).await;

    sim.set_switches(Switches {
        export_api: ExportApi::Forbidden,
        ..Default::default()
    });
    err(&env, &format!("/teams/{t0}/channels/getAllMessages"), 403).await;
    sim.set_switches(Switches {
        export_api: ExportApi::PaymentRequired,
        ..Default::default()
    });
    err(&env, &format!("/teams/{t0}/channels/getAllMessages"), 402).await;

    sim.set_switches(Switches {
        forbidden_team_ids: vec![t1.clone()],
        missing_team_ids: vec![t2.clone()],
        forbidden_channel_ids: vec![c1.clone()],
        members_unauthorized: true,
        ..Default::default()
    });
    err(&env, &format!("/teams/{t1}/channels"), 403).await;
    err(&env, &format!("/teams/{t1}"), 403).await;
    err(&env, &format!("/teams/{t2}/channels"), 404).await;
    err(&env, &msgs(&t0, &c1), 403).await;
    env.ok(&msgs(&t0, &c0)).await;
    err(&env, &format!("/teams/{t0}/members"), 401).await;
    // The team list itself still shows every team.
    assert_eq!(env.ok("/teams").await["value"].as_array().unwrap().len(), 3);
    sim.set_switches(Switches {
        missing_channel_ids: vec![c0.clone()],
        ..Default::default()
    });
    err(&env, &msgs(&t0, &c0), 404).await;
    sim.set_switches(Switches::default());
    env.ok(&format!("/teams/{t0}/members")).await;
}

#[tokio::test]
async fn seeded_faults() {
    let one = |f: Faults| SimConfig {
        faults: f,
        ..SimConfig::for_tests()
    };
    let env = Env::new(one(Faults {
        rate_503: 1.0,
        ..Default::default()
    }))
    .await;
    let resp = env.raw(&env.url("/teams")).await;
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().get("retry-after").is_some());
    let env = Env::new(one(Faults {
        rate_504: 1.0,
        ..Default::default()
    }))
    .await;
    assert_eq!(env.get("/teams").await.0, 504);
    let env = Env::new(one(Faults {
        rate_truncated: 1.0,
        ..Default::default()
    }))
    .await;
    let resp = env.raw(&env.url("/teams")).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(
        serde_json::from_str::<Value>(&text).is_err(),
        "truncated body is not valid JSON"
    );
    assert!(text.starts_with('{'));
    let env = Env::new(one(Faults {
        rate_reset: 1.0,
        ..Default::default()
    }))
    .await;
    let r = env.authed(&env.url("/teams")).send().await;
    let failed = match r {
        Err(_) => true,
        Ok(resp) => resp.bytes().await.is_err(),
    };
    assert!(failed, "a reset connection surfaces as a transport error");

    // Same seed, same fault sequence.
    let pattern = |env: Env| async move {
        let mut out = Vec::new();
        for _ in 0..30 {
            out.push(env.get("/teams").await.0);
        }
        out
    };
    let mixed = || {
        one(Faults {
            rate_503: 0.3,
            rate_504: 0.2,
            ..Default::default()
        })
    };
    let a = pattern(Env::new(mixed()).await).await;
    let b = pattern(Env::new(mixed()).await).await;
    assert_eq!(a, b);
    assert!(
        a.contains(&200) && a.contains(&503) && a.contains(&504),
        "{a:?}"
    );
}

#[tokio::test]
async fn latency_is_applied() {
    let env = Env::new(SimConfig {
        latency_ms: (120, 130),
        ..SimConfig::for_tests()
    })
    .await;
    let start = std::time::Instant::now();
    env.ok("/teams").await;
    assert!(start.elapsed() >= std::time::Duration::from_millis(120));
}

#[tokio::test]
async fn admin_api_mirrors_sim() {
    let env = Env::new(SimConfig::for_tests()).await;
    let base = format!("{}/_sim", env.server.graph_url());
    let http = &env.http;
    // Admin calls: JSON in, raw response out.
    let post = |path: &str, body: Value| http.post(format!("{base}{path}")).json(&body).send();
    let get_json = |path: &str| {
        let req = http.get(format!("{base}{path}"));
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let teams = get_json("/teams").await;
    assert_eq!(teams.as_array().unwrap(), &env.server.sim().teams());
    let team = teams[0]["id"].as_str().unwrap().to_string();
    let resp = post(
        &format!("/teams/{team}/channels"),
        json!({"displayName": "Ops", "membershipType": "private"}),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 201);
    let ch = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(ch.ends_with("@thread.skype"));
    let resp = post(
        &format!("/teams/{team}/channels/{}/messages", enc(&ch)),
        json!({"html": "<p>hi</p>"}),
    )
    .await
    .unwrap();
    let mid = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = post(
        &format!("/teams/{team}/channels/{}/messages/{mid}/react", enc(&ch)),
        json!({"reactionType": "like"}),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 204);
    let v = env
        .ok(&format!("/teams/{team}/channels/{}/messages", enc(&ch)))
        .await;
    assert_eq!(v["value"][0]["id"], mid.as_str());
    assert_eq!(v["value"][0]["reactions"][0]["reactionType"], "like");
    let resp = post("/teams/nope/channels", json!({"displayName": "x"}))
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let c = get_json("/counters").await;
    assert_eq!(c["requests"]["messages_list"], 1);
    let resp = http
        .put(format!("{base}/switches"))
        .json(&json!({"protectedApiDenied": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(
        env.get(&format!("/teams/{team}/channels/{}/messages", enc(&ch)))
            .await
            .0,
        403
    );
    let before = env.server.sim().now();
    let v: Value = post("/advance", json!({"seconds": 3600}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v["now"].is_string());
    assert_eq!(env.server.sim().now() - before, chrono::Duration::hours(1));
    let team2 = post("/teams", json!({"displayName": "New team"}))
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert!(
        env.server
            .sim()
            .team_ids()
            .contains(&team2["id"].as_str().unwrap().to_string())
    );
}
