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
