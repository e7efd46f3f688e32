//! Helpers shared by the integration tests: start a simulator, get a token, fetch JSON, follow
//! nextLinks.
#![allow(dead_code)]

use graph_sim::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, SimConfig, SimServer,
};
use serde_json::Value;

pub struct Env {
    pub server: SimServer,
    pub http: reqwest::Client,
    pub token: String,
}

pub fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

pub async fn token(server: &SimServer, http: &reqwest::Client) -> String {
    token_at(&server.authority_url(), http).await
}

/// A token from the simulator's token endpoint at `authority` (in-process or the binary).
pub async fn token_at(authority: &str, http: &reqwest::Client) -> String {
    let url = format!("{authority}/{DEFAULT_TENANT_ID}/oauth2/v2.0/token");
    let resp = http
        .post(url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_string()
}

impl Env {
    pub async fn new(cfg: SimConfig) -> Env {
        let server = graph_sim::start(cfg).await.unwrap();
        let http = reqwest::Client::new();
        let token = token(&server, &http).await;
        Env {
            server,
            http,
            token,
        }
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}/v1.0{}", self.server.graph_url(), path_and_query)
    }

    /// An authenticated GET of an absolute URL, ready for more headers.
    pub fn authed(&self, url: &str) -> reqwest::RequestBuilder {
        self.http.get(url).bearer_auth(&self.token)
    }

    /// An authenticated GET of an absolute URL: the raw response.
    pub async fn raw(&self, url: &str) -> reqwest::Response {
        self.authed(url).send().await.unwrap()
    }

    /// GET returning (status, body as JSON or Null).
    pub async fn get_abs(&self, url: &str) -> (u16, Value) {
        let resp = self.raw(url).await;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path_and_query: &str) -> (u16, Value) {
        self.get_abs(&self.url(path_and_query)).await
    }

    pub async fn ok(&self, path_and_query: &str) -> Value {
        let (s, v) = self.get(path_and_query).await;
        assert_eq!(s, 200, "GET {path_and_query}: {v}");
        v
    }

    /// Follows @odata.nextLink until exhausted; returns all items and the number of pages.
    pub async fn all_pages(&self, path_and_query: &str) -> (Vec<Value>, usize) {
        let mut url = self.url(path_and_query);
        let mut items = Vec::new();
        let mut pages = 0;
        loop {
            let (s, v) = self.get_abs(&url).await;
            assert_eq!(s, 200, "GET {url}: {v}");
            pages += 1;
            items.extend(v["value"].as_array().unwrap().iter().cloned());
            match v.get("@odata.nextLink").and_then(Value::as_str) {
                Some(n) => url = n.to_string(),
                None => break,
            }
            assert!(pages < 10_000, "runaway paging");
        }
        (items, pages)
    }
}

pub fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect()
}

/// Asserts that `got` holds exactly the ids of `want`, each once.
pub fn assert_same_ids(got: &[Value], want: &[Value], what: &str) {
    let mut g = ids(got);
    let n = g.len();
    g.sort();
    g.dedup();
    assert_eq!(g.len(), n, "{what}: duplicate ids across pages");
    let mut w = ids(want);
    w.sort();
    assert_eq!(g, w, "{what}: ids differ from ground truth");
}
