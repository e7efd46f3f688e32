//! `CREATE EXTERNAL TABLE ... STORED AS TEAMS` gives a table its own options; credentials never
//! go through SQL.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_table_with_its_own_page_size_and_source() {
    let env = env().await;
    env.query(
        "CREATE EXTERNAL TABLE small_pages STORED AS TEAMS LOCATION 'messages' \
         OPTIONS ('message_source' 'channel', 'page_size' '10', 'concurrency' '2')",
    )
    .await;
    let t = env.sim.team_ids()[0].clone();
    let c = env.sim.channels(&t)[0]["id"].as_str().unwrap().to_string();
    let n = env.sim.messages(&t, &c).len();
    let (batches, counts) = env
        .counted(&format!(
            "SELECT id FROM small_pages WHERE team_id = '{t}' AND channel_id = '{c}'"
        ))
        .await;
    assert_eq!(row_count(&batches), n);
    assert_eq!(
        count(&counts, "messages_list") as usize,
        n.div_ceil(10),
        "{counts:?}"
    );
    // The registered table keeps the defaults (50 per page).
    let (_, counts) = env
        .counted(&format!(
            "SELECT id FROM messages WHERE team_id = '{t}' AND channel_id = '{c}'"
        ))
        .await;
    assert_eq!(
        count(&counts, "messages_list") as usize,
        n.div_ceil(50),
        "{counts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_external_tables_are_refused_with_reasons() {
    let env = env().await;
    let err = env
        .try_query(
            "CREATE EXTERNAL TABLE x STORED AS TEAMS LOCATION 'messages' OPTIONS ('client_secret' 'hunter2')",
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("credentials are never accepted"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    let err = env
        .try_query("CREATE EXTERNAL TABLE y STORED AS TEAMS LOCATION 'emails'")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a Teams table"), "{err}");
    let err = env
        .try_query(
            "CREATE EXTERNAL TABLE z STORED AS TEAMS LOCATION 'teams' OPTIONS ('message_source' 'pigeon')",
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("message_source"), "{err}");
}
