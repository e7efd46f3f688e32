//! Graph errors from the simulator's tenant switches become variants that
//! tell the user what to do.

mod common;
mod simutil;

use graph_client::{GraphError, GraphRequest};
use graph_sim::{ExportApi, SimConfig, Switches};

#[tokio::test]
async fn forbidden_and_not_found_name_permission_and_ids() {
    let server = graph_sim::start(SimConfig::for_tests()).await.unwrap();
    let sim = server.sim();
    let teams = sim.team_ids();
    let (t0, t1) = (teams[0].clone(), teams[1].clone());
    let c1 = sim.channels(&t1)[0]["id"].as_str().unwrap().to_string();
    sim.set_switches(Switches {
        forbidden_team_ids: vec![t0.clone()],
        missing_channel_ids: vec![c1.clone()],
        ..Default::default()
    });
    let client = simutil::sim_client(&server);

    let err = client
        .get_page(&GraphRequest::list_channels(&t0))
        .await
        .unwrap_err();
    assert!(err.is_forbidden(), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("Channel.ReadBasic.All"), "{msg}");
    assert!(msg.contains(&t0), "{msg}");
    assert_eq!(err.status(), Some(403));

    let err = client
        .get_page(&GraphRequest::list_messages(&t1, &c1))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&c1) && msg.contains(&t1), "{msg}");

    // Had the id been split, the simulator would answer 400 "Resource not
    // found for the segment" (an Http error), not a team 404.
    let weird = "no such team: a/b?c#d%e@f";
    let err = client
        .get_page(&GraphRequest::get_team(weird))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert!(err.to_string().contains(weird), "{err}");

    let err = client
        .get_page(&GraphRequest::get_message(
            &t1,
            "19:nope@thread.tacv2",
            "1700000000000",
        ))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("1700000000000"), "{err}");
}

#[tokio::test]
async fn protected_api_denied_says_to_request_access() {
    let cfg = SimConfig {
        switches: Switches {
            protected_api_denied: true,
            ..Default::default()
        },
        ..SimConfig::for_tests()
    };
    let server = graph_sim::start(cfg).await.unwrap();
    let sim = server.sim();
    let t = sim.team_ids()[0].clone();
    let c = sim.channels(&t)[0]["id"].as_str().unwrap().to_string();
    let client = simutil::sim_client(&server);
    let err = client
        .get_page(&GraphRequest::list_messages(&t, &c))
        .await
        .unwrap_err();
    let msg = err.to_string();
    println!("{msg}");
    assert!(err.is_forbidden());
    assert!(msg.contains("ChannelMessage.Read.All"), "{msg}");
    assert!(msg.contains("protected API"), "{msg}");
    assert!(msg.contains("requested from Microsoft"), "{msg}");
    // Non-message endpoints still work.
    client
        .get_page(&GraphRequest::list_channels(&t))
        .await
        .unwrap();
}

#[tokio::test]
async fn delta_unsupported_and_export_unavailable_are_distinct() {
    let server = graph_sim::start(SimConfig::for_tests()).await.unwrap();
    let sim = server.sim();
    let t = sim.team_ids()[0].clone();
    let c = sim.channels(&t)[0]["id"].as_str().unwrap().to_string();
    let client = simutil::sim_client(&server);

    sim.set_switches(Switches {
        delta_unsupported: true,
        ..Default::default()
    });
    let err = client
        .get_page(&GraphRequest::messages_delta(&t, &c))
        .await
        .unwrap_err();
    assert!(
        matches!(err, GraphError::DeltaUnsupported { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("fall back"), "{err}");

    for (mode, status) in [
        (ExportApi::Forbidden, 403),
        (ExportApi::PaymentRequired, 402),
    ] {
        sim.set_switches(Switches {
            export_api: mode,
            ..Default::default()
        });
        let err = client
            .get_page(&GraphRequest::get_all_messages(&t))
            .await
            .unwrap_err();
        match &err {
            GraphError::ExportUnavailable { status: s, .. } => assert_eq!(*s, status),
            other => panic!("unexpected {other:?}"),
        }
        println!("{err}");
    }
}

#[tokio::test]
async fn members_401_known_issue_is_explained() {
    let server = graph_sim::start(SimConfig {
        switches: Switches {
            members_unauthorized: true,
            ..Default::default()
        },
        ..SimConfig::for_tests()
    })
    .await
    .unwrap();
    let t = server.sim().team_ids()[0].clone();
    let client = simutil::sim_client(&server);
    let err = client
        .get_page(&GraphRequest::list_members(&t))
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::Unauthorized { .. }), "{err:?}");
    assert!(err.to_string().contains("known issue"), "{err}");
    // One refresh, not a loop.
    assert_eq!(client.stats().token_requests, 2);
}
