//! A 403 on the tenant-level `GET /teams` fails the query and names the permission to grant.
//! The simulator has no switch for it, so a minimal HTTP server plays Graph: it issues a token
//! and answers every Graph request with Graph's 403 body.

mod mini;

use datafusion::prelude::SessionContext;
use datafusion_teams::{TeamsConfig, register};

fn respond(_head: &str) -> (&'static str, &'static str) {
    (
        "403 Forbidden",
        r#"{"error":{"code":"Forbidden","message":"Missing role permissions on the request.","innerError":{"request-id":"r1","date":"2026-01-01T00:00:00"}}}"#,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_team_listing_fails_with_the_permission() {
    let (client, server) = mini::start(respond).await;
    let ctx = SessionContext::new();
    let handle = register(&ctx, TeamsConfig::new(client)).await.unwrap();
    for sql in [
        "SELECT * FROM teams.teams",
        "SELECT * FROM teams.channels",
        "SELECT id FROM teams.messages",
    ] {
        let err = ctx
            .sql(sql)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("Team.ReadBasic.All"), "{sql}: {err}");
        assert!(err.contains("GET /teams"), "{sql}: {err}");
    }
    assert_eq!(handle.skipped_children(), 0);
    server.abort();
}
