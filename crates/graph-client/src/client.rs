//! `GraphClient`: the one place that sends HTTP requests to Graph. It ties
//! together the token cache, pacing, retries, error mapping and counters.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::Stream;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde_json::Value;
use tokio::time::Instant;

use crate::body::{BodyError, MAX_BODY, read_capped};
use crate::cloud::Cloud;
use crate::config::GraphConfig;
use crate::error::{GraphError, excerpt, unauthorized_hint};
use crate::pacing::Pacer;
use crate::paging::{self, Page, parse_page};
use crate::request::{EndpointClass, GraphRequest, Scope};
use crate::retry::{RetryPolicy, is_retryable_status, parse_retry_after};
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
    stats: Arc<Stats>,
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

/// A fresh jitter source. Seeded from the clock and a counter: the jitter
/// only has to differ between requests and processes, not be unpredictable.
pub(crate) fn jitter_rng() -> SmallRng {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    SmallRng::seed_from_u64(t ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// A reqwest error with its causes ("connection reset by peer" is usually
/// only in the source chain). URLs are kept: they never carry credentials.
pub(crate) fn describe_reqwest(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        let t = s.to_string();
        if !msg.contains(&t) {
            msg.push_str(": ");
            msg.push_str(&t);
        }
        src = s.source();
    }
    msg
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
        let token = TokenCache::new(
            &authority,
            &cfg.tenant_id,
            &cfg.client_id,
            &cfg.client_secret,
            &scope,
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

    /// Client-wide counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.inner.stats.snapshot()
    }

    pub fn identity(&self) -> Identity {
        self.inner.identity.clone()
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
            .get(&self.inner.http, &self.inner.retry, &count)
            .await
    }

    /// One request (with retries), returning one page.
    pub async fn get_page(&self, req: &GraphRequest) -> Result<Page, GraphError> {
        let rel = req
            .relative_url()
            .map_err(|message| GraphError::InvalidId {
                endpoint: req.class.describe(),
                message,
            })?;
        let url = format!("{}/v1.0/{}", self.inner.identity.graph_endpoint, rel);
        self.execute(
            req.class,
            &req.scope,
            req.message_id.as_deref(),
            &url,
            &req.prefer,
        )
        .await
    }

    /// Follows a link Graph returned (`@odata.nextLink`, `@odata.deltaLink`,
    /// `replies@odata.nextLink`), using the whole URL as given.
    ///
    /// A link cannot carry the `Prefer` header of the request it came from.
    /// For message endpoints this sends `Prefer: include-unknown-enum-members`,
    /// so system events read as `systemEventMessage` on every page (the
    /// connector always asks for it); use [`follow_like`](Self::follow_like)
    /// to copy the headers of a specific request instead.
    pub async fn follow(
        &self,
        class: EndpointClass,
        scope: Scope,
        next_link: &str,
    ) -> Result<Page, GraphError> {
        let prefer = if matches!(
            class,
            EndpointClass::MessagesList
                | EndpointClass::MessageGet
                | EndpointClass::RepliesList
                | EndpointClass::MessagesDelta
                | EndpointClass::GetAllMessages
        ) {
            vec!["include-unknown-enum-members".to_string()]
        } else {
            Vec::new()
        };
        let url = self.resolve_link(next_link)?;
        self.execute(class, &scope, None, &url, &prefer).await
    }

    /// Follows a link that continues `original`: same class, scope and
    /// `Prefer` headers. This is what the page streams use.
    pub async fn follow_like(
        &self,
        original: &GraphRequest,
        next_link: &str,
    ) -> Result<Page, GraphError> {
        let url = self.resolve_link(next_link)?;
        self.execute(
            original.class,
            &original.scope,
            original.message_id.as_deref(),
            &url,
            &original.prefer,
        )
        .await
    }

    /// Pages of a collection, following `@odata.nextLink` until the end.
    /// Nothing is requested until the stream is polled, and nothing after it
    /// is dropped.
    pub fn pages(
        &self,
        req: GraphRequest,
    ) -> impl Stream<Item = Result<Page, GraphError>> + Send + 'static {
        paging::pages(self.clone(), req)
    }

    /// Items of every page of a collection, in order.
    pub fn items(
        &self,
        req: GraphRequest,
    ) -> impl Stream<Item = Result<Value, GraphError>> + Send + 'static {
        paging::items(self.clone(), req)
    }

    fn resolve_link(&self, link: &str) -> Result<String, GraphError> {
        crate::links::resolve_link(
            &self.inner.identity.graph_endpoint,
            &self.inner.cloud_graph_host,
            link,
        )
    }

    fn secrets(&self) -> Vec<String> {
        let mut v = vec![self.inner.token.secret().expose().to_string()];
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

    async fn execute(
        &self,
        class: EndpointClass,
        scope: &Scope,
        message_id: Option<&str>,
        url: &str,
        prefer: &[String],
    ) -> Result<Page, GraphError> {
        let policy = &self.inner.retry;
        // The retry budget starts when the first attempt is sent: time spent
        // queued behind our own pacing is not the server's doing.
        let mut started: Option<Instant> = None;
        let mut attempt: u32 = 0;
        let mut refreshed_after_401 = false;
        let mut decode_failures = 0u32;
        loop {
            attempt += 1;
            let paced = self.inner.pacer.acquire(class, scope).await;
            if !paced.is_zero() {
                self.sinks.each(|s| s.pacing_wait(paced));
            }
            let started = *started.get_or_insert_with(Instant::now);
            let outcome = self.attempt(class, scope, message_id, url, prefer).await?;
            let (retry_wait, give_up): (Duration, GraphError) = match outcome {
                Attempt::Done(result) => return result,
                Attempt::Unauthorized { generation, detail } => {
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
                    attempt -= 1;
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
                    let wait = match retry_after {
                        Some(d) => d,
                        None => policy.backoff(attempt, &mut jitter_rng()),
                    };
                    if status == 429 && retry_after.is_some() {
                        self.inner
                            .pacer
                            .hold_until(class, scope, Instant::now() + wait);
                    }
                    (
                        wait,
                        GraphError::Throttled {
                            endpoint: class.describe(),
                            attempts: attempt,
                            elapsed: started.elapsed(),
                            last_status: status,
                        },
                    )
                }
                Attempt::Transport(message) => {
                    self.sinks.each(|s| s.transport_error());
                    (
                        policy.backoff(attempt, &mut jitter_rng()),
                        GraphError::Transport {
                            endpoint: class.describe(),
                            attempts: attempt,
                            message,
                        },
                    )
                }
                Attempt::Decode { reason, excerpt } => {
                    self.sinks.each(|s| s.decode_error());
                    decode_failures += 1;
                    let err = GraphError::Decode {
                        endpoint: class.describe(),
                        reason,
                        excerpt,
                    };
                    // A garbled body is usually a truncated transfer; two more
                    // tries are plenty, a persistent problem will not go away.
                    if decode_failures > 2 {
                        return Err(err);
                    }
                    (policy.backoff(attempt, &mut jitter_rng()), err)
                }
            };
            if attempt >= policy.max_attempts || started.elapsed() + retry_wait > policy.max_elapsed
            {
                return Err(match give_up {
                    GraphError::Throttled {
                        endpoint,
                        attempts,
                        last_status,
                        ..
                    } => GraphError::Throttled {
                        endpoint,
                        attempts,
                        elapsed: started.elapsed(),
                        last_status,
                    },
                    other => other,
                });
            }
            tracing::debug!(
                endpoint = class.as_str(),
                attempt,
                wait_ms = retry_wait.as_millis() as u64,
                "retrying Graph request"
            );
            // Only waits the server asked for (429 / 503 / 504) count as
            // throttle time; backoff after a network failure is not throttling.
            let server_wait = matches!(give_up, GraphError::Throttled { .. });
            self.sinks.each(|s| {
                s.retry();
                if server_wait {
                    s.throttle_wait(retry_wait);
                }
            });
            tokio::time::sleep(retry_wait).await;
        }
    }

    /// Sends one request and classifies the outcome. Errors returned with
    /// `?` (token failures) end the retry loop.
    async fn attempt(
        &self,
        class: EndpointClass,
        scope: &Scope,
        message_id: Option<&str>,
        url: &str,
        prefer: &[String],
    ) -> Result<Attempt, GraphError> {
        let token = self.token().await?;
        let mut rb = self
            .inner
            .http
            .get(url)
            .bearer_auth(token.token.expose())
            .header(reqwest::header::ACCEPT, "application/json");
        if !prefer.is_empty() {
            rb = rb.header("Prefer", prefer.join(", "));
        }
        self.sinks.each(|s| s.request(class));
        let resp = match rb.send().await {
            Ok(r) => r,
            Err(e) if e.is_builder() => {
                return Ok(Attempt::Done(Err(GraphError::InvalidId {
                    endpoint: class.describe(),
                    message: format!("the request URL could not be built: {e}"),
                })));
            }
            Err(e) => return Ok(Attempt::Transport(describe_reqwest(&e))),
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
            Err(BodyError::Transport(e)) => return Ok(Attempt::Transport(describe_reqwest(&e))),
            Err(BodyError::TooLarge) => {
                // Not retried: the same request would bring the same body.
                return Ok(Attempt::Done(Err(GraphError::Decode {
                    endpoint: class.describe(),
                    reason: format!(
                        "the reply is larger than {} MiB; request smaller pages ($top) or do not expand replies",
                        MAX_BODY >> 20
                    ),
                    excerpt: "(not kept: over the size cap)".to_string(),
                })));
            }
        };
        self.sinks.each(|s| s.bytes(body.len() as u64));
        if (200..300).contains(&status) {
            return Ok(match parse_page(class, &body) {
                Ok(page) => Attempt::Done(Ok(page)),
                Err(reason) => Attempt::Decode {
                    reason,
                    excerpt: self.excerpt(&body),
                },
            });
        }
        if status == 401 {
            let (code, message) = error_code_message(&body);
            let detail = self.excerpt(format!("{code}: {message}").as_bytes());
            return Ok(Attempt::Unauthorized {
                generation: token.generation,
                detail,
            });
        }
        if is_retryable_status(status) {
            return Ok(Attempt::Retryable {
                status,
                retry_after,
            });
        }
        Ok(Attempt::Done(Err(map_error(
            class,
            scope,
            message_id,
            status,
            &body,
            request_id.as_deref(),
            &|b| self.excerpt(b),
        ))))
    }
}
