//! Access tokens: one cached token shared by every request, refreshed
//! before it expires, fetched by a single request however many callers
//! need it at once, whatever the sign-in method (`credential`).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::time::Instant;

use crate::credential::{CredentialError, TokenContext, TokenCredential};
use crate::error::GraphError;
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
    credential: Arc<dyn TokenCredential>,
    scope: String,
    /// The app's tenant and client id, for errors.
    tenant_id: String,
    client_id: String,
    /// Secrets of the credential and its settings, for scrubbing.
    secrets: Vec<Secret>,
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

/// Refresh ahead of expiry by a tenth of the lifetime, at most 5 minutes:
/// long enough that an in-flight request never carries an expired token,
/// short enough that very short test lifetimes still cache.
fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 10).min(Duration::from_secs(300))
}

impl TokenCache {
    pub(crate) fn new(
        credential: Arc<dyn TokenCredential>,
        scope: &str,
        (tenant_id, client_id): (&str, &str),
        extra_secrets: Vec<Secret>,
    ) -> TokenCache {
        let mut secrets = credential.secrets();
        secrets.extend(extra_secrets);
        TokenCache {
            credential,
            scope: scope.to_string(),
            tenant_id: tenant_id.to_string(),
            client_id: client_id.to_string(),
            secrets,
            current: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(0),
            last_failure: RwLock::new(None),
        }
    }

    pub(crate) fn credential(&self) -> &Arc<dyn TokenCredential> {
        &self.credential
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

    pub(crate) fn secrets(&self) -> &[Secret] {
        &self.secrets
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
            let ctx = TokenContext { http };
            let fetch = self.credential.get_token(&self.scope, &ctx);
            let fetched = match tokio::time::timeout(attempt_deadline, fetch).await {
                Ok(r) => r,
                Err(_) => Err(CredentialError::Transient(GraphError::Auth {
                    tenant_id: self.tenant_id.clone(),
                    client_id: self.client_id.clone(),
                    code: None,
                    error: "deadline".into(),
                    hint: format!(
                        "the sign-in service ({}) sent no complete answer within {:.1} s; check network access and AZURE_AUTHORITY_HOST",
                        self.credential.info().method,
                        attempt_deadline.as_secs_f64()
                    ),
                    status: Some(504),
                })),
            };
            match fetched {
                Ok(access) => {
                    let (token, lifetime) = (access.token, access.expires_in);
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
                Err(CredentialError::Transient(e)) => match budget.next_wait(None) {
                    Some(wait) => tokio::time::sleep(wait).await,
                    None => return self.fall_back(self.remember_failure(e)),
                },
                Err(fatal) => {
                    let e = fatal.into_graph_error(&self.credential.info().method);
                    return self.fall_back(self.remember_failure(e));
                }
            }
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
            Arc::new(crate::credential::ClientSecretCredential {
                endpoint: crate::credential::TokenEndpoint::new(
                    "http://127.0.0.1:1",
                    "tenant",
                    "client",
                ),
                secret: Secret::new("secret"),
            }),
            "https://graph.microsoft.com/.default",
            ("tenant", "client"),
            Vec::new(),
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
}
