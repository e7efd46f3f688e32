//! The default chain, in `DefaultAzureCredential`'s order: environment
//! (secret, then certificate), workload identity, managed identity, Azure
//! CLI. A method that does not apply is skipped; the first that signs in
//! is kept for the life of the client; a method that applies but fails
//! ends the chain (as azure-identity does: a wrong secret must not fall
//! through to some other identity). When nothing applies, the error lists
//! every method and why.

use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::BoxFuture;

use super::{AccessToken, CredentialError, CredentialInfo, TokenContext, TokenCredential};
use crate::error::GraphError;
use crate::secret::Secret;

pub(crate) enum Member {
    Ready(Arc<dyn TokenCredential>),
    /// Not configured here, with the reason (which variables are unset).
    Skipped(String),
}

pub(crate) struct ChainCredential {
    pub(crate) members: Vec<(&'static str, Member)>,
    chosen: Mutex<Option<usize>>,
}

const METHOD: &str = "default chain";

impl ChainCredential {
    pub(crate) fn new(members: Vec<(&'static str, Member)>) -> Self {
        ChainCredential {
            members,
            chosen: Mutex::new(None),
        }
    }

    fn chosen(&self) -> Option<usize> {
        *self.chosen.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn fetch(
        &self,
        scope: &str,
        ctx: &TokenContext<'_>,
    ) -> Result<AccessToken, CredentialError> {
        if let Some(i) = self.chosen()
            && let (_, Member::Ready(c)) = &self.members[i]
        {
            return c.get_token(scope, ctx).await;
        }
        let mut tried = Vec::new();
        for (i, (name, member)) in self.members.iter().enumerate() {
            let c = match member {
                Member::Skipped(why) => {
                    tried.push(format!("{name}: {why}"));
                    continue;
                }
                Member::Ready(c) => c,
            };
            match c.get_token(scope, ctx).await {
                Ok(t) => {
                    *self.chosen.lock().unwrap_or_else(|p| p.into_inner()) = Some(i);
                    tracing::debug!("default chain: signed in with {name}");
                    return Ok(t);
                }
                Err(CredentialError::Unavailable(why)) => tried.push(format!("{name}: {why}")),
                Err(CredentialError::Transient(e)) => {
                    return Err(CredentialError::Transient(failed(&tried, name, e)));
                }
                Err(CredentialError::Fatal(e)) => {
                    return Err(CredentialError::Fatal(failed(&tried, name, e)));
                }
            }
        }
        Err(CredentialError::Fatal(GraphError::SignIn {
            method: METHOD.into(),
            message: format!(
                "no sign-in method is available; tried, in order:\n  {}\nSet up one of them (see \"Setting up access\" in the README), or pick one with --auth",
                tried.join("\n  ")
            ),
        }))
    }
}

/// A method that applied and failed, after the ones that did not apply.
fn failed(tried: &[String], name: &str, e: GraphError) -> GraphError {
    let skipped = if tried.is_empty() {
        String::new()
    } else {
        format!(" (after skipping: {})", tried.join("; "))
    };
    let why = match e {
        GraphError::SignIn { message, .. } => message,
        other => other.to_string(),
    };
    GraphError::SignIn {
        method: format!("{METHOD}, {name}"),
        message: format!("{why}{skipped}"),
    }
}

impl TokenCredential for ChainCredential {
    fn get_token<'a>(
        &'a self,
        scope: &'a str,
        ctx: &'a TokenContext<'a>,
    ) -> BoxFuture<'a, Result<AccessToken, CredentialError>> {
        self.fetch(scope, ctx).boxed()
    }

    fn info(&self) -> CredentialInfo {
        match self.chosen().map(|i| &self.members[i]) {
            Some((_, Member::Ready(c))) => {
                let inner = c.info();
                CredentialInfo {
                    method: format!("{METHOD}: {}", inner.method),
                    identity: inner.identity,
                }
            }
            _ => CredentialInfo {
                method: METHOD.into(),
                identity: format!(
                    "not signed in yet; the first that works of: {}",
                    self.members
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
        }
    }

    fn secrets(&self) -> Vec<Secret> {
        self.members
            .iter()
            .flat_map(|(_, m)| match m {
                Member::Ready(c) => c.secrets(),
                Member::Skipped(_) => Vec::new(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use super::*;

    /// Answers with `result` and counts its calls.
    struct Stub {
        result: Result<&'static str, CredentialError>,
        calls: AtomicU32,
    }

    impl Stub {
        fn new(result: Result<&'static str, CredentialError>) -> Arc<Stub> {
            Arc::new(Stub {
                result,
                calls: AtomicU32::new(0),
            })
        }
    }

    impl TokenCredential for Stub {
        fn get_token<'a>(
            &'a self,
            _scope: &'a str,
            _ctx: &'a TokenContext<'a>,
        ) -> BoxFuture<'a, Result<AccessToken, CredentialError>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let r = self.result.clone().map(|t| AccessToken {
                token: Secret::new(t),
                expires_in: Duration::from_secs(60),
            });
            async move { r }.boxed()
        }

        fn info(&self) -> CredentialInfo {
            CredentialInfo {
                method: "stub".into(),
                identity: "stub".into(),
            }
        }
    }

    fn fatal(msg: &str) -> CredentialError {
        CredentialError::Fatal(GraphError::SignIn {
            method: "x".into(),
            message: msg.into(),
        })
    }

    #[tokio::test]
    async fn skips_what_does_not_apply_keeps_what_worked_and_stops_at_a_real_failure() {
        let http = reqwest::Client::new();
        let ctx = TokenContext { http: &http };
        let unavailable = Stub::new(Err(CredentialError::Unavailable("no IMDS".into())));
        let works = Stub::new(Ok("tok"));
        let chain = ChainCredential::new(vec![
            ("environment", Member::Skipped("not configured".into())),
            ("managed identity", Member::Ready(unavailable.clone())),
            ("Azure CLI", Member::Ready(works.clone())),
        ]);
        for _ in 0..2 {
            let t = chain.get_token("s", &ctx).await.unwrap();
            assert_eq!(t.token.expose(), "tok");
        }
        // The method that worked is kept: the unavailable one is not asked again.
        assert_eq!(unavailable.calls.load(Ordering::SeqCst), 1);
        assert_eq!(works.calls.load(Ordering::SeqCst), 2);
        assert_eq!(chain.info().method, "default chain: stub");

        // A method that applies but fails ends the chain: a wrong secret must not fall through
        // to another identity.
        let after = Stub::new(Ok("other identity"));
        let chain = ChainCredential::new(vec![
            (
                "environment",
                Member::Ready(Stub::new(Err(fatal("wrong secret")))),
            ),
            ("Azure CLI", Member::Ready(after.clone())),
        ]);
        let Err(CredentialError::Fatal(e)) = chain.get_token("s", &ctx).await else {
            panic!("expected a fatal error");
        };
        assert!(e.to_string().contains("environment") && e.to_string().contains("wrong secret"));
        assert_eq!(after.calls.load(Ordering::SeqCst), 0);
    }
}
