//! The `teams-graph-sim` binary: first line format, a token and a page through it, --help.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use graph_sim::{DEFAULT_CLIENT_ID, DEFAULT_TENANT_ID};
use serde_json::Value;

/// Kills the simulator process even when an assertion fails.
struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn binary_prints_urls_first_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_teams-graph-sim"))
        .args([
            "--port",
            "0",
            "--seed",
            "5",
            "--teams",
            "2",
            "--messages",
            "5",
            "--latency",
            "0-0",
            "--no-throttle",
        ])
        .args(["--epoch", "2026-01-15T12:00:00Z"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _guard = Kill(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let rest = line
        .trim()
        .strip_prefix("graph: ")
        .unwrap_or_else(|| panic!("first line: {line:?}"));
    let (graph, authority) = rest.split_once(" authority: ").unwrap();
    assert!(
        graph.starts_with("http://127.0.0.1:") && !graph.ends_with(":0"),
        "{graph}"
    );
    assert_eq!(graph, authority);
    let http = reqwest::Client::new();
    let tok = common::token_at(authority, &http).await;
    let v: Value = http
        .get(format!("{graph}/v1.0/teams"))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["value"].as_array().unwrap().len(), 2);
}

#[test]
fn help_documents_every_switch() {
    let out = Command::new(env!("CARGO_BIN_EXE_teams-graph-sim"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--port",
        "--seed",
        "--teams",
        "--channels",
        "--messages",
        "--replies",
        "--members",
        "--epoch",
        "--tenant-id",
        "--client-id",
        "--client-secret",
        "--secret-expired",
        "--token-lifetime",
        "--throttle-scale",
        "--no-throttle",
        "--omit-retry-after",
        "--latency",
        "--fault-503",
        "--fault-504",
        "--fault-reset",
        "--fault-truncated",
        "--protected-api-denied",
        "--delta-unsupported",
        "--export-api",
        "--forbidden-team",
        "--missing-team",
        "--forbidden-channel",
        "--missing-channel",
        "--members-unauthorized",
        "--delta-tokens-expired",
        "--client-certificate",
        "--federated-issuer",
        "--federated-subject",
        "--federated-jwks",
        "--identity-header",
        "--imds",
        "--user-assigned-client-id",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    assert!(
        help.contains(DEFAULT_TENANT_ID) && help.contains(DEFAULT_CLIENT_ID),
        "defaults documented"
    );
    for admin in ["/_sim/changes", "DELETE /_sim/teams/{team}", "softDelete"] {
        assert!(help.contains(admin), "--help lacks the admin route {admin}");
    }
}
