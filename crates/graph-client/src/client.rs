//! `GraphClient`: the one place that sends HTTP requests to Graph. It ties
//! together the token cache, pacing, retries, error mapping and counters.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::body::{BodyError, MAX_BODY, read_capped};
use crate::cloud::Cloud;
use crate::config::GraphConfig;
use crate::error::{GraphError, describe_reqwest, excerpt, unauthorized_hint};
use crate::pacing::{Pacer, ThrottleLimits};
use crate::page::{Page, parse_page};
use crate::request::{EndpointClass, GraphRequest, Scope};
use crate::retry::{Budget, RetryPolicy, is_retryable_status, parse_retry_after};
use crate::stats::{Sinks, Stats, StatsSnapshot};
use crate::status_error::{error_code_message, map_error};
use crate::token::TokenCache;

/// Who the client signs in as and where it sends requests. Never holds
/// the secret, so it can be printed freely.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub tenant_id: String,
    pub client_id: String,
    pub cloud: Cloud,
    pub authority_host: String,
    pub graph_endpoint: String,
    pub scope: String,
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "app {} in tenant {} ({} cloud, Graph {}, sign-in {})",
            self.client_id, self.tenant_id, self.cloud, self.graph_endpoint, self.authority_host
        )
    }
}

struct Inner {
    http: reqwest::Client,
    identity: Identity,
    /// The cloud's real Graph host, when `graph_endpoint` overrides it: a
    /// proxy may pass Graph's own nextLinks through unchanged.
    cloud_graph_host: String,
    token: TokenCache,
    pacer: Pacer,
    retry: RetryPolicy,
    request_timeout: Duration,
    max_pages: u64,
    stats: Arc<Stats>,
}

/// One request as `execute` sends it: what it is (class, scope and message
/// for pacing, counters and error messages), where it goes, its `Prefer`
/// headers, and which page of its chain it is (for the request log).
pub(crate) struct Target<'a> {
    class: EndpointClass,
    scope: &'a Scope,
    message_id: Option<&'a str>,
    prefer: &'a [String],
    url: String,
    page: u64,
}

impl<'a> Target<'a> {
    /// `url`, fetched as page `page` of a chain that `req` started.
    pub(crate) fn continuing(req: &'a GraphRequest, url: String, page: u64) -> Self {
        Target {
            class: req.class,
            scope: &req.scope,
            message_id: req.message_id.as_deref(),
            prefer: &req.prefer,
            url,
            page,
        }
    }
}

/// Client for Microsoft Graph. Cheap to clone: clones share the connection
/// pool, the token cache, the pacing schedule and the counters.
#[derive(Clone)]
pub struct GraphClient {
    inner: Arc<Inner>,
    sinks: Sinks,
}

impl fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphClient")
            .field("identity", &self.inner.identity)
            .finish_non_exhaustive()
    }
}

/// What one attempt produced, before the retry decision.
enum Attempt {
    Done(Result<Page, GraphError>),
    /// 429 / 503 / 504 with the server's suggested wait, if any.
    Retryable {
        status: u16,
        retry_after: Option<Duration>,
    },
    Unauthorized {
        generation: u64,
        detail: String,
    },
    Transport(String),
    /// No complete answer within the attempt's deadline.
    Deadline(Duration),
    Decode {
        reason: String,
        excerpt: String,
    },
}

impl GraphClient {
    pub fn new(cfg: GraphConfig) -> Result<Self, GraphError> {
        cfg.validate()?;
        let authority = cfg.effective_authority()?;
        let graph = cfg.effective_graph_endpoint()?;
        let scope = cfg.effective_scope();
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .gzip(true)
            .connect_timeout(cfg.connect_timeout)
            .read_timeout(cfg.read_timeout)
            // A redirect could carry the bearer token to another host, and
            // Graph's read endpoints do not redirect; surface it instead.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!(
                "teams-sql-graph-client/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|e| {
                GraphError::config(format!(
                    "could not build the HTTP client: {}",
                    describe_reqwest(&e)
                ))
            })?;
        let credential = crate::credential::build(&cfg.auth, cfg.app(), &authority)?;
        let token = TokenCache::new(
            credential,
            &scope,
            (&cfg.tenant_id, &cfg.client_id),
            cfg.auth.secrets(),
        );
        let stats = Arc::new(Stats::new());
        let inner = Inner {
            http,
            identity: Identity {
                tenant_id: cfg.tenant_id.clone(),
                client_id: cfg.client_id.clone(),
                cloud: cfg.cloud,
                authority_host: authority,
                graph_endpoint: graph,
                scope,
            },
            cloud_graph_host: cfg.cloud.graph_host().to_string(),
            token,
            pacer: Pacer::new(cfg.limits.clone()),
            retry: cfg.retry.clone(),
            request_timeout: cfg.request_timeout,
            max_pages: cfg.max_pages,
            stats: stats.clone(),
        };
        Ok(GraphClient {
            inner: Arc::new(inner),
            sinks: Sinks(vec![stats]),
        })
    }

    /// A client sharing this one's pool, token and pacing that also records
    /// into a fresh `Stats` (per-query metrics). Client-wide stats still
    /// count everything.
    pub fn scoped(&self) -> (GraphClient, Arc<Stats>) {
        let extra = Arc::new(Stats::new());
        let mut sinks = self.sinks.clone();
        sinks.0.push(extra.clone());
        (
            GraphClient {
                inner: self.inner.clone(),
                sinks,
            },
            extra,
        )
    }

    /// Multiplies every documented rate by `scale` from now on, for this
    /// client and its clones: a tenant with negotiated limits, or a simulator
    /// run with `--throttle-scale`.
    pub fn set_throttle_scale(&self, scale: f64) {
        self.inner.pacer.set_scale(scale);
    }

    /// The limits this client paces by, at its current scale.
    pub fn limits(&self) -> ThrottleLimits {
        self.inner.pacer.limits()
    }

    /// Client-wide counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.inner.stats.snapshot()
    }

    pub fn identity(&self) -> Identity {
        self.inner.identity.clone()
    }

    /// The sign-in method and the identity it signs in as (for the default
    /// chain, the method that worked once one has). Never holds a secret.
    pub fn credential_info(&self) -> crate::credential::CredentialInfo {
        self.inner.token.credential().info()
    }

    /// Fetches a token now (e.g. to check credentials at start-up).
    pub async fn sign_in(&self) -> Result<(), GraphError> {
        self.token().await.map(|_| ())
    }

    async fn token(&self) -> Result<crate::token::CachedToken, GraphError> {
        let sinks = self.sinks.clone();
        let count = move || sinks.each(|s| s.token_request());
        self.inner
            .token
            .get(
                &self.inner.http,
                &self.inner.retry,
                self.inner.request_timeout,
                &count,
            )
            .await
    }

    /// One request (with retries), returning one page.
    pub async fn get_page(&self, req: &GraphRequest) -> Result<Page, GraphError> {
        let url = self.first_url(req)?;
        self.execute(Target::continuing(req, url, 1)).await
    }

    /// Follows a link Graph returned (`@odata.nextLink`, `@odata.deltaLink`,
    /// `replies@odata.nextLink`), using the whole URL as given.
    ///
    /// A link cannot carry the `Prefer` header of the request it came from.
    /// For message endpoints this sends `Prefer: include-unknown-enum-members`,
    /// so system events read as `systemEventMessage` on every page (the
    /// connector always asks for it); use [`follow_like`](Self::follow_like)
    /// to copy the headers of a specific request instead. To walk the rest
    /// of a chain, [`follow_pages`](Self::follow_pages) guards against loops.
    pub async fn follow(
        &self,
        class: EndpointClass,
        scope: Scope,
        next_link: &str,
    ) -> Result<Page, GraphError> {
        let like = GraphRequest::continuation(class, scope);
        self.follow_like(&like, next_link).await
    }

    /// Follows a link that continues `original`: same class, scope and
    /// `Prefer` headers.
    pub async fn follow_like(
        &self,
        original: &GraphRequest,
        next_link: &str,
    ) -> Result<Page, GraphError> {
        let url = self.resolve_link(next_link)?;
        self.execute(Target::continuing(original, url, 1)).await
    }

    pub(crate) fn max_pages(&self) -> u64 {
        self.inner.max_pages
    }

    /// The absolute URL of a request's first page.
    pub(crate) fn first_url(&self, req: &GraphRequest) -> Result<String, GraphError> {
        let rel = req
            .relative_url()
            .map_err(|message| GraphError::InvalidId {
                endpoint: req.class.describe(),
                message,
            })?;
        Ok(format!(
            "{}/v1.0/{}",
            self.inner.identity.graph_endpoint, rel
        ))
    }

    /// A URL as it may be shown in logs and errors: the path after the
    /// Graph host, with the values of paging and delta tokens elided (they
    /// are opaque, long, and grant a continuation) and any echo of our
    /// credentials redacted.
    pub(crate) fn loggable(&self, url: &str) -> String {
        let rest = url
            .strip_prefix(&self.inner.identity.graph_endpoint)
            .unwrap_or(url);
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let mut out = path.to_string();
        if let Some(q) = query {
            for (i, pair) in q.split('&').enumerate() {
                out.push(if i == 0 { '?' } else { '&' });
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let name = percent_encoding::percent_decode_str(k).decode_utf8_lossy();
                if name.to_ascii_lowercase().contains("token") {
                    out.push_str(k);
                    out.push_str("=...");
                } else {
                    out.push_str(k);
                    if pair.contains('=') {
                        out.push('=');
                        out.push_str(v);
                    }
                }
            }
        }
        self.redacted(&out)
    }

    pub(crate) fn resolve_link(&self, link: &str) -> Result<String, GraphError> {
        crate::links::resolve_link(
            &self.inner.identity.graph_endpoint,
            &self.inner.cloud_graph_host,
            link,
        )
    }

    fn secrets(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .inner
            .token
            .secrets()
            .iter()
            .map(|s| s.expose().to_string())
            .collect();
        if let Some(t) = self.inner.token.current_token() {
            v.push(t.expose().to_string());
        }
        v
    }

    fn excerpt(&self, body: &[u8]) -> String {
        let secrets = self.secrets();
        let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        excerpt(body, &refs)
    }

    fn redacted(&self, text: &str) -> String {
        let secrets = self.secrets();
        let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        crate::secret::redact(text, &refs)
    }

    /// Sends one request with retries. Every transient failure (429,
    /// 503/504/509, a missed deadline, a network error, a garbled body)
    /// spends from one budget (`RetryPolicy`); a 401 gets one token refresh
    /// on top of it.
    pub(crate) async fn execute(&self, target: Target<'_>) -> Result<Page, GraphError> {
        let class = target.class;
        let mut budget = Budget::new(&self.inner.retry);
        let mut refreshed_after_401 = false;
        loop {
            let paced = self.inner.pacer.acquire(class, target.scope).await;
            if !paced.is_zero() {
                self.sinks.each(|s| s.pacing_wait(paced));
            }
            let attempt = budget.begin_attempt();
            let deadline = budget.attempt_deadline(self.inner.request_timeout);
            let sent = Instant::now();
            let outcome = self.attempt(&target, deadline).await?;
            let took = sent.elapsed();
            let ms = took.as_millis() as u64;
            if !matches!(outcome, Attempt::Transport(_) | Attempt::Deadline(_)) {
                self.sinks.each(|s| s.answered(took));
            }
            let (status, server_wait, give_up): (String, Option<Duration>, GraphError) =
                match outcome {
                    Attempt::Done(result) => {
                        let status = match &result {
                            Ok(_) => "200".to_string(),
                            Err(e) => e.status().map_or_else(|| "error".into(), |s| s.to_string()),
                        };
                        self.log_request(&target, &status, attempt, ms, paced, Duration::ZERO);
                        return result;
                    }
                    Attempt::Unauthorized { generation, detail } => {
                        self.log_request(&target, "401", attempt, ms, paced, Duration::ZERO);
                        self.sinks.each(|s| s.unauthorized());
                        if refreshed_after_401 {
                            return Err(GraphError::Unauthorized {
                                endpoint: class.describe(),
                                hint: unauthorized_hint(class),
                                detail,
                            });
                        }
                        // The token may have been revoked or expired early on the
                        // server side: get a new one and try once more.
                        refreshed_after_401 = true;
                        self.inner.token.invalidate(generation);
                        self.sinks.each(|s| s.retry());
                        budget.refund();
                        continue;
                    }
                    Attempt::Retryable {
                        status,
                        retry_after,
                    } => {
                        self.sinks.each(|s| {
                            if status == 429 {
                                s.throttled()
                            } else {
                                s.unavailable()
                            }
                        });
                        (
                            status.to_string(),
                            retry_after,
                            GraphError::Throttled {
                                endpoint: class.describe(),
                                attempts: attempt,
                                elapsed: budget.elapsed(),
                                last_status: status,
                            },
                        )
                    }
                    Attempt::Deadline(deadline) => {
                        // Counted and retried as the 504 a gateway would have sent.
                        self.sinks.each(|s| s.unavailable());
                        (
                            "deadline".to_string(),
                            None,
                            GraphError::Deadline {
                                endpoint: class.describe(),
                                attempts: attempt,
                                deadline,
                                elapsed: budget.elapsed(),
                            },
                        )
                    }
                    Attempt::Transport(message) => {
                        self.sinks.each(|s| s.transport_error());
                        (
                            "network error".to_string(),
                            None,
                            GraphError::Transport {
                                endpoint: class.describe(),
                                attempts: attempt,
                                message,
                            },
                        )
                    }
                    Attempt::Decode { reason, excerpt } => {
                        self.sinks.each(|s| s.decode_error());
                        (
                            "200 garbled".to_string(),
                            None,
                            GraphError::Decode {
                                endpoint: class.describe(),
                                reason,
                                excerpt,
                            },
                        )
                    }
                };
            let Some(wait) = budget.next_wait(server_wait) else {
                self.log_request(&target, &status, attempt, ms, paced, Duration::ZERO);
                return Err(with_final_elapsed(give_up, budget.elapsed()));
            };
            // 429 / 503 / 504 (and missed deadlines, retried like a 504) are
            // the server's doing and count as throttle time; backoff after a
            // network or decode failure does not.
            let server_side = matches!(
                give_up,
                GraphError::Throttled { .. } | GraphError::Deadline { .. }
            );
            let throttle_wait = if server_side { wait } else { Duration::ZERO };
            self.log_request(&target, &status, attempt, ms, paced, throttle_wait);
            if let GraphError::Throttled {
                last_status: 429, ..
            } = give_up
                && server_wait.is_some()
            {
                self.inner
                    .pacer
                    .hold_until(class, target.scope, Instant::now() + wait);
            }
            self.sinks.each(|s| {
                s.retry();
                if server_side {
                    s.throttle_wait(wait);
                }
            });
            tokio::time::sleep(wait).await;
        }
    }

    /// The request log: one line per HTTP request sent to Graph, at debug
    /// level (`--verbose`, or `RUST_LOG=graph_client=debug`). Never holds a
    /// token or secret: the path goes through [`loggable`](Self::loggable).
    fn log_request(
        &self,
        target: &Target<'_>,
        status: &str,
        attempt: u32,
        ms: u64,
        paced: Duration,
        throttle_wait: Duration,
    ) {
        if !tracing::enabled!(tracing::Level::DEBUG) {
            return;
        }
        tracing::debug!(
            status,
            page = target.page,
            attempt,
            ms,
            paced_ms = paced.as_millis() as u64,
            throttle_wait_ms = throttle_wait.as_millis() as u64,
            "GET {}",
            self.loggable(&target.url)
        );
    }

    /// Sends one request under a total deadline and classifies the
    /// outcome. Errors returned with `?` (token failures) end the retry loop.
    async fn attempt(
        &self,
        target: &Target<'_>,
        deadline: Duration,
    ) -> Result<Attempt, GraphError> {
        let token = self.token().await?;
        self.sinks.each(|s| s.request(target.class));
        // Connecting, the headers and the whole body: a server trickling
        // one byte at a time never trips the read timeout, this bounds it.
        match tokio::time::timeout(deadline, self.exchange(target, &token)).await {
            Ok(outcome) => Ok(outcome),
            Err(_) => Ok(Attempt::Deadline(deadline)),
        }
    }

    async fn exchange(&self, target: &Target<'_>, token: &crate::token::CachedToken) -> Attempt {
        let class = target.class;
        let mut rb = self
            .inner
            .http
            .get(&target.url)
            .bearer_auth(token.token.expose())
            .header(reqwest::header::ACCEPT, "application/json");
        if !target.prefer.is_empty() {
            rb = rb.header("Prefer", target.prefer.join(", "));
        }
        let resp = match rb.send().await {
            Ok(r) => r,
            Err(e) if e.is_builder() => {
                return Attempt::Done(Err(GraphError::InvalidId {
                    endpoint: class.describe(),
                    message: format!("the request URL could not be built: {e}"),
                }));
            }
            Err(e) => return Attempt::Transport(describe_reqwest(&e)),
        };
        let status = resp.status().as_u16();
        // Graph's request id is what Microsoft support asks for; it goes
        // into errors the user cannot fix alone.
        let request_id = resp
            .headers()
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(64).collect::<String>());
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
        let body = match read_capped(resp, MAX_BODY).await {
            Ok(b) => b,
            Err(BodyError::Transport(e)) => return Attempt::Transport(describe_reqwest(&e)),
            Err(BodyError::TooLarge) => {
                // Not retried: the same request would bring the same body.
                return Attempt::Done(Err(GraphError::Decode {
                    endpoint: class.describe(),
                    reason: format!(
                        "the reply is larger than {} MiB; request smaller pages ($top) or do not expand replies",
                        MAX_BODY >> 20
                    ),
                    excerpt: "(not kept: over the size cap)".to_string(),
                }));
            }
        };
        self.sinks.each(|s| s.bytes(body.len() as u64));
        if (200..300).contains(&status) {
            return match parse_page(class, body) {
                Ok(page) => Attempt::Done(Ok(page)),
                Err((reason, body)) => Attempt::Decode {
                    reason,
                    excerpt: self.excerpt(&body),
                },
            };
        }
        if status == 401 {
            let (code, message) = error_code_message(&body);
            let detail = self.excerpt(format!("{code}: {message}").as_bytes());
            return Attempt::Unauthorized {
                generation: token.generation,
                detail,
            };
        }
        if is_retryable_status(status) {
            return Attempt::Retryable {
                status,
                retry_after,
            };
        }
        Attempt::Done(Err(map_error(
            class,
            target.scope,
            target.message_id,
            status,
            &body,
            request_id.as_deref(),
            &|b| self.excerpt(b),
        )))
    }
}

/// The error to report when the budget is spent, with the time really
/// spent (the variant was built before the last wait was decided).
fn with_final_elapsed(e: GraphError, elapsed: Duration) -> GraphError {
    match e {
        GraphError::Throttled {
            endpoint,
            attempts,
            last_status,
            ..
        } => GraphError::Throttled {
            endpoint,
            attempts,
            elapsed,
            last_status,
        },
        GraphError::Deadline {
            endpoint,
            attempts,
            deadline,
            ..
        } => GraphError::Deadline {
            endpoint,
            attempts,
            deadline,
            elapsed,
        },
        other => other,
    }
}
