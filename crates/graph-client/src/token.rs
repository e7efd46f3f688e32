//! Client-credentials tokens: one cached token shared by every request,
//! refreshed before it expires, fetched by a single request however many
//! callers need it at once.

use std::sync::RwLock;
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use crate::body::{BodyError, read_capped};
use crate::error::{GraphError, describe_reqwest, excerpt};
use crate::retry::{Budget, RetryPolicy};
use crate::secret::Secret;

/// A token and when to stop using it.
#[derive(Clone, Debug)]
pub(crate) struct CachedToken {
    pub(crate) token: Secret,
    /// Refresh at this instant: expiry minus a margin.
    refresh_at: Instant,
    /// The token's own expiry: until then it still works, so a refresh
    /// that fails before it keeps the cached token in service.
    expires_at: Instant,
    /// Increases with each fetch; a 401 only invalidates the token it was
    /// sent with, so a burst of 401s for one stale token causes one refresh.
    pub(crate) generation: u64,
}

pub(crate) struct TokenCache {
    token_url: String,
    form_body: Secret,
    tenant_id: String,
    client_id: String,
    secret_for_redaction: Secret,
    current: RwLock<Option<CachedToken>>,
    /// Held while a token request is in flight: the single-flight guard.
    refresh: tokio::sync::Mutex<u64>,
    /// The last failed sign-in, replayed for a short while: requests queued
    /// behind a failing token request get its answer instead of each asking
    /// the token endpoint again (a wrong secret must not cost a hundred
    /// sign-in attempts).
    last_failure: RwLock<Option<(Instant, GraphError)>>,
}

/// How long a failed sign-in is replayed before the endpoint is asked again.
const FAILURE_REPLAY: Duration = Duration::from_secs(5);

#[derive(Deserialize)]
struct TokenReply {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
struct TokenErrorReply {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
    #[serde(default)]
    error_codes: Vec<u32>,
}

/// Refresh ahead of expiry by a tenth of the lifetime, at most 5 minutes:
/// long enough that an in-flight request never carries an expired token,
/// short enough that very short test lifetimes still cache.
fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 10).min(Duration::from_secs(300))
}

/// An excerpt of a token reply that could not be parsed. A truncated or
/// malformed success body can still hold the start of an access token, so
/// the excerpt stops at the `access_token` key.
fn token_reply_excerpt(body: &[u8], secret: &str) -> String {
    const KEY: &[u8] = b"access_token";
    match body.windows(KEY.len()).position(|w| w == KEY) {
        Some(at) => format!(
            "{} (rest hidden)",
            excerpt(&body[..at + KEY.len()], &[secret])
        ),
        None => excerpt(body, &[secret]),
    }
}

/// What to tell the user for each AADSTS code (docs/graph.md §6.3).
pub(crate) fn aadsts_hint(code: Option<u32>, error: &str) -> String {
    match code {
        Some(7000215) => "client secret is wrong: check AZURE_CLIENT_SECRET (use the secret's Value, not its Secret ID)".into(),
        Some(7000222) => "client secret has expired: create a new one under Certificates & secrets in the app registration and update AZURE_CLIENT_SECRET".into(),
        Some(700016) => "app not found in this tenant: check AZURE_CLIENT_ID and that admin consent was granted in this tenant".into(),
        Some(90002) => "tenant not found: check AZURE_TENANT_ID and the cloud (global, usgov, usgov-dod, china)".into(),
        Some(70011) => "the requested scope is invalid: it must be the Graph host of the cloud followed by /.default (check the cloud setting)".into(),
        Some(700022) => "the scope names more than one resource: use only <graph host>/.default".into(),
        Some(7000218) => "no client secret was sent: set AZURE_CLIENT_SECRET".into(),
        Some(500011) => "Microsoft Graph was not found in this tenant: check that the tenant is in the configured cloud".into(),
        Some(700027) => "the client assertion failed signature validation: check the certificate registered on the app".into(),
        Some(90014) | Some(900144) => "the token request lacked a required field: this is a client bug, please report it".into(),
        Some(90055) | Some(90006) | Some(90033) => "the sign-in service is busy or temporarily unavailable: try again in a few minutes".into(),
        _ => match error {
            "invalid_client" => "the client credentials were rejected: check AZURE_CLIENT_ID and AZURE_CLIENT_SECRET".into(),
            "unauthorized_client" => "the app is not registered or not added to this tenant: check AZURE_CLIENT_ID and admin consent".into(),
            "invalid_scope" => "the requested scope is invalid: check the cloud setting".into(),
            "temporarily_unavailable" => "the sign-in service is temporarily unavailable: try again later".into(),
            _ => "the token endpoint refused the request: check AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and the cloud".into(),
        },
    }
}

/// Codes and statuses worth retrying: the identity platform's own
/// "retryable" codes, and 429/5xx from the token endpoint.
fn token_error_is_transient(status: u16, code: Option<u32>, error: &str) -> bool {
    matches!(code, Some(90055) | Some(90006) | Some(90033))
        || error == "temporarily_unavailable"
        || status == 429
        || status >= 500
}

pub(crate) enum FetchError {
    /// Worth another try (network, 5xx, throttling at the token endpoint).
    Transient(GraphError),
    Fatal(GraphError),
}

impl TokenCache {
    pub(crate) fn new(
        authority: &str,
        tenant_id: &str,
        client_id: &str,
        secret: &Secret,
        scope: &str,
    ) -> TokenCache {
        let token_url = format!(
            "{}/{}/oauth2/v2.0/token",
            authority.trim_end_matches('/'),
            crate::request::encode_component(tenant_id)
        );
        // form_urlencoded percent-encodes the secret, as the grant requires
        // (secrets routinely contain '~', '+', '=' and '/').
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", client_id)
            .append_pair("scope", scope)
            .append_pair("client_secret", secret.expose())
            .append_pair("grant_type", "client_credentials")
            .finish();
        TokenCache {
            token_url,
            form_body: Secret::new(body),
            tenant_id: tenant_id.to_string(),
            client_id: client_id.to_string(),
            secret_for_redaction: secret.clone(),
            current: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(0),
            last_failure: RwLock::new(None),
        }
    }

    fn valid(&self) -> Option<CachedToken> {
        let guard = self.current.read().unwrap_or_else(|p| p.into_inner());
        guard
            .as_ref()
            .filter(|t| Instant::now() < t.refresh_at)
            .cloned()
    }

    fn recent_failure(&self) -> Option<GraphError> {
        let guard = self.last_failure.read().unwrap_or_else(|p| p.into_inner());
        guard
            .as_ref()
            .filter(|(at, _)| at.elapsed() < FAILURE_REPLAY)
            .map(|(_, e)| e.clone())
    }

    fn remember_failure(&self, e: GraphError) -> GraphError {
        let mut guard = self.last_failure.write().unwrap_or_else(|p| p.into_inner());
        *guard = Some((Instant::now(), e.clone()));
        e
    }

    /// The cached token if it has not expired yet (though it may be due for
    /// refresh): what a failed refresh falls back to, as azure-identity does.
    fn unexpired(&self) -> Option<CachedToken> {
        let guard = self.current.read().unwrap_or_else(|p| p.into_inner());
        guard
            .as_ref()
            .filter(|t| Instant::now() < t.expires_at)
            .cloned()
    }

    /// A failed refresh: keep serving the cached token while it is still
    /// valid, else report the failure.
    fn fall_back(&self, e: GraphError) -> Result<CachedToken, GraphError> {
        match self.unexpired() {
            Some(t) => {
                tracing::debug!("token refresh failed, the cached token is still valid: {e}");
                Ok(t)
            }
            None => Err(e),
        }
    }

    /// The current token, if any, for scrubbing error text.
    pub(crate) fn current_token(&self) -> Option<Secret> {
        let guard = self.current.read().unwrap_or_else(|p| p.into_inner());
        guard.as_ref().map(|t| t.token.clone())
    }

    pub(crate) fn secret(&self) -> &Secret {
        &self.secret_for_redaction
    }

    /// Forgets the token with this generation (after a 401), unless a newer
    /// one has replaced it already.
    pub(crate) fn invalidate(&self, generation: u64) {
        let mut guard = self.current.write().unwrap_or_else(|p| p.into_inner());
        if guard.as_ref().map(|t| t.generation) == Some(generation) {
            *guard = None;
        }
    }

    /// A valid token, fetching one if needed. `on_request` runs once per
    /// HTTP request to the token endpoint (for counters).
    pub(crate) async fn get(
        &self,
        http: &reqwest::Client,
        retry: &RetryPolicy,
        deadline: Duration,
        on_request: &(dyn Fn() + Sync),
    ) -> Result<CachedToken, GraphError> {
        if let Some(t) = self.valid() {
            return Ok(t);
        }
        // Single flight: whoever holds the lock fetches; the others wait
        // here and then find the fresh token on the re-check.
        let mut generation = self.refresh.lock().await;
        if let Some(t) = self.valid() {
            return Ok(t);
        }
        if let Some(e) = self.recent_failure() {
            return self.fall_back(e);
        }
        // A failing token endpoint is asked at most 4 times: sign-in
        // errors are rarely transient, and every query waits behind it.
        let mut budget = Budget::capped(retry, 4);
        loop {
            budget.begin_attempt();
            on_request();
            let attempt_deadline = budget.attempt_deadline(deadline);
            let fetched = match tokio::time::timeout(attempt_deadline, self.fetch(http)).await {
                Ok(r) => r,
                Err(_) => Err(FetchError::Transient(self.auth_error(
                    Some(504),
                    None,
                    "deadline".into(),
                    format!(
                        "the token endpoint {} sent no complete answer within {:.1} s; check network access and AZURE_AUTHORITY_HOST",
                        self.token_url,
                        attempt_deadline.as_secs_f64()
                    ),
                ))),
            };
            match fetched {
                Ok((token, lifetime)) => {
                    *self.last_failure.write().unwrap_or_else(|p| p.into_inner()) = None;
                    *generation += 1;
                    let now = Instant::now();
                    let cached = CachedToken {
                        token,
                        refresh_at: now + lifetime - refresh_margin(lifetime),
                        expires_at: now + lifetime,
                        generation: *generation,
                    };
                    let mut guard = self.current.write().unwrap_or_else(|p| p.into_inner());
                    *guard = Some(cached.clone());
                    return Ok(cached);
                }
                Err(FetchError::Fatal(e)) => return self.fall_back(self.remember_failure(e)),
                Err(FetchError::Transient(e)) => match budget.next_wait(None) {
                    Some(wait) => tokio::time::sleep(wait).await,
                    None => return self.fall_back(self.remember_failure(e)),
                },
            }
        }
    }

    async fn fetch(&self, http: &reqwest::Client) -> Result<(Secret, Duration), FetchError> {
        let resp = http
            .post(&self.token_url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(self.form_body.expose().to_string())
            .send()
            .await
            .map_err(|e| {
                FetchError::Transient(self.auth_error(
                    None,
                    None,
                    "transport".into(),
                    format!(
                        "could not reach the token endpoint {}: {}; check network access and AZURE_AUTHORITY_HOST",
                        self.token_url,
                        describe_reqwest(&e)
                    ),
                ))
            })?;
        let status = resp.status().as_u16();
        // A token reply is a few KB; a megabyte is not one.
        let body = match read_capped(resp, 1 << 20).await {
            Ok(b) => b,
            Err(BodyError::Transport(e)) => {
                return Err(FetchError::Transient(self.auth_error(
                    Some(status),
                    None,
                    "transport".into(),
                    format!(
                        "the token endpoint's reply was cut off: {}",
                        describe_reqwest(&e)
                    ),
                )));
            }
            Err(BodyError::TooLarge) => {
                return Err(FetchError::Fatal(self.auth_error(
                    Some(status),
                    None,
                    "oversized reply".into(),
                    "the token endpoint sent a reply over 1 MiB: check AZURE_AUTHORITY_HOST points at the Microsoft identity platform".into(),
                )));
            }
        };
        if (200..300).contains(&status) {
            let reply: TokenReply = serde_json::from_slice(&body).map_err(|e| {
                FetchError::Fatal(GraphError::Decode {
                    endpoint: "POST /{tenant}/oauth2/v2.0/token",
                    reason: e.to_string(),
                    excerpt: token_reply_excerpt(&body, self.secret_for_redaction.expose()),
                })
            })?;
            // expires_in is a number per the docs; some servers send it as a
            // string. Fall back to an hour, the documented minimum-ish default.
            let secs = match reply.expires_in {
                Some(serde_json::Value::Number(n)) => n.as_f64(),
                Some(serde_json::Value::String(s)) => s.parse::<f64>().ok(),
                _ => None,
            }
            .filter(|s| s.is_finite() && *s > 0.0)
            .unwrap_or(3600.0)
            .min(86_400.0 * 2.0);
            return Ok((
                Secret::new(reply.access_token),
                Duration::from_secs_f64(secs),
            ));
        }
        let reply: TokenErrorReply = serde_json::from_slice(&body).unwrap_or_default();
        let code = reply.error_codes.first().copied().or_else(|| {
            // error_codes is optional; the description always starts with
            // "AADSTSnnnn:".
            let d = reply.error_description.strip_prefix("AADSTS")?;
            let digits: String = d.chars().take_while(|c| c.is_ascii_digit()).collect();
            digits.parse().ok()
        });
        let error = if reply.error.is_empty() {
            format!("HTTP {status}")
        } else {
            reply.error.clone()
        };
        let hint = aadsts_hint(code, &error);
        let e = self.auth_error(Some(status), code, error.clone(), hint);
        if token_error_is_transient(status, code, &error) {
            Err(FetchError::Transient(e))
        } else {
            Err(FetchError::Fatal(e))
        }
    }

    fn auth_error(
        &self,
        status: Option<u16>,
        code: Option<u32>,
        error: String,
        hint: String,
    ) -> GraphError {
        let secret = self.secret_for_redaction.expose();
        GraphError::Auth {
            tenant_id: self.tenant_id.clone(),
            client_id: self.client_id.clone(),
            code,
            error: crate::secret::redact(&error, &[secret]),
            hint: crate::secret::redact(&hint, &[secret]),
            status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin() {
        assert_eq!(
            refresh_margin(Duration::from_secs(3599)),
            Duration::from_secs(300)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(10)),
            Duration::from_secs(1)
        );
    }

    #[tokio::test]
    async fn a_failed_refresh_keeps_serving_a_token_that_is_still_valid() {
        // Nothing listens on port 1: every refresh fails as a network error.
        let c = TokenCache::new(
            "http://127.0.0.1:1",
            "tenant",
            "client",
            &Secret::new("secret"),
            "https://graph.microsoft.com/.default",
        );
        let now = Instant::now();
        *c.current.write().unwrap() = Some(CachedToken {
            token: Secret::new("still-good"),
            refresh_at: now - Duration::from_secs(1),
            expires_at: now + Duration::from_secs(600),
            generation: 1,
        });
        let retry = RetryPolicy {
            max_attempts: 2,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
            ..RetryPolicy::default()
        };
        let http = reqwest::Client::new();
        let t = c
            .get(&http, &retry, Duration::from_secs(5), &|| {})
            .await
            .expect("the cached token is served");
        assert_eq!(t.token.expose(), "still-good");

        // Once it has expired, the failure is reported.
        c.current.write().unwrap().as_mut().unwrap().expires_at = now;
        *c.last_failure.write().unwrap() = None;
        assert!(
            c.get(&http, &retry, Duration::from_secs(5), &|| {})
                .await
                .is_err()
        );
    }

    #[test]
    fn token_reply_excerpt_never_shows_the_token() {
        let body = br#"{"token_type":"Bearer","expires_in":3599,"access_token":"eyJ0eXAiOiJKV1Qi"#;
        let e = token_reply_excerpt(body, "secret");
        assert!(!e.contains("eyJ0"), "{e}");
        assert!(e.contains("expires_in") && e.contains("rest hidden"), "{e}");
        assert_eq!(token_reply_excerpt(b"<html>", "secret"), "<html>");
    }

    #[test]
    fn form_body_encodes_secret() {
        let c = TokenCache::new(
            "https://login.microsoftonline.com/",
            "tenant",
            "client",
            &Secret::new("a+b/c=d~e&f"),
            "https://graph.microsoft.com/.default",
        );
        assert_eq!(
            c.form_body.expose(),
            "client_id=client&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&client_secret=a%2Bb%2Fc%3Dd%7Ee%26f&grant_type=client_credentials"
        );
        assert_eq!(
            c.token_url,
            "https://login.microsoftonline.com/tenant/oauth2/v2.0/token"
        );
    }
}
