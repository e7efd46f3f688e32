//! 503, 504, connection resets and truncated bodies from the simulator are
//! retried, counted, and the data still comes out complete.

mod common;
mod simutil;

use common::id_set;
use futures::TryStreamExt;
use graph_client::{GraphClient, GraphRequest, RetryPolicy};
use graph_sim::{Faults, SimConfig};
use serde_json::Value;

#[tokio::test]
async fn transient_faults_are_retried_and_counted() {
    let cfg = SimConfig {
        faults: Faults {
            rate_503: 0.04,
            rate_504: 0.08,
            rate_reset: 0.08,
            rate_truncated: 0.04,
        },
        ..SimConfig::for_tests()
    };
    let server = graph_sim::start(cfg).await.unwrap();
    let sim = server.sim();
    let client = GraphClient::new(simutil::sim_config(&server).with_retry(RetryPolicy {
        max_attempts: 10,
        ..simutil::fast_retry()
    }))
    .unwrap();
    let mut tasks = Vec::new();
    for t in sim.team_ids() {
        for ch in sim.channels(&t) {
            let c = ch["id"].as_str().unwrap().to_string();
            let (client, sim, t) = (client.clone(), sim.clone(), t.clone());
            tasks.push(tokio::spawn(async move {
                let msgs: Vec<Value> = client
                    .items(GraphRequest::list_messages(&t, &c).top(3))
                    .try_collect()
                    .await
                    .unwrap();
                assert_eq!(id_set(&msgs), id_set(&sim.messages(&t, &c)));
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let s = client.stats();
    println!(
        "faults run: {} requests, retries {}, 5xx {}, transport {}, decode {}, waited {:.2} s",
        s.total_requests,
        s.retries,
        s.unavailable_5xx,
        s.transport_errors,
        s.decode_errors,
        s.throttle_wait.as_secs_f64()
    );
    assert!(s.unavailable_5xx > 0);
    assert!(s.transport_errors > 0);
    assert_eq!(
        s.retries,
        s.unavailable_5xx + s.transport_errors + s.decode_errors
    );
    assert_eq!(s.total_requests, sim.counters().total());
}
