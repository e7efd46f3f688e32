//! List items Graph returns without an `id` cannot be keyed: they are left out and reported,
//! never emitted as rows with a NULL key. The simulator always sends ids, so a minimal HTTP
//! server plays Graph here.

mod mini;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::prelude::SessionContext;
use datafusion_teams::{TeamsConfig, register};

fn respond(head: &str) -> (&'static str, &'static str) {
    if head.contains("/channels") {
        (
            "200 OK",
            r#"{"value":[{"id":"c1","displayName":"General"},{"displayName":"No key"},{"id":"","displayName":"Empty key"}]}"#,
        )
    } else {
        (
            "200 OK",
            r#"{"value":[{"id":"t1","displayName":"Keyed"},{"displayName":"Keyless","visibility":"public"}]}"#,
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_without_an_id_are_left_out_and_reported() {
    let (client, server) = mini::start(respond).await;
    let ctx = SessionContext::new();
    let handle = register(&ctx, TeamsConfig::new(client)).await.unwrap();
    // Listing channels lists the teams first: the keyless team is reported there too.
    for (sql, expected, causes) in [
        ("SELECT id, display_name FROM teams.teams", vec!["t1"], 1),
        ("SELECT id, team_id FROM teams.channels", vec!["c1"], 2),
    ] {
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let ids: Vec<String> = batches
            .iter()
            .flat_map(|b| {
                let col = b.column(0).as_string::<i32>().clone();
                (0..col.len())
                    .map(move |i| {
                        assert!(!col.is_null(i), "{sql}: a NULL key");
                        col.value(i).to_string()
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(ids, expected, "{sql}");
        let report = handle.take_report();
        assert!(!report.is_partial());
        let lines = report.lines();
        assert_eq!(lines.len(), causes, "{sql}: {lines:?}");
        assert!(
            lines.iter().all(|l| l.contains("without an id")),
            "{lines:?}"
        );
    }
    server.abort();
}
