//! Workload identity federation (Kubernetes, and any OIDC issuer the app
//! trusts): the token in `AZURE_FEDERATED_TOKEN_FILE` is exchanged for an
//! access token as a client assertion.

use std::path::PathBuf;

use futures::FutureExt;
use futures::future::BoxFuture;

use super::token_endpoint::{ClientAuth, TokenEndpoint};
use super::{AccessToken, CredentialError, CredentialInfo, TokenContext, TokenCredential};
use crate::error::GraphError;
use crate::secret::Secret;

pub(crate) struct WorkloadIdentityCredential {
    pub(crate) endpoint: TokenEndpoint,
    pub(crate) token_file: PathBuf,
}

impl WorkloadIdentityCredential {
    /// The file is read at every token request, that is whenever the
    /// cached access token nears expiry: Kubernetes rotates the projected
    /// token (hourly by default), and a copy kept from start-up would
    /// expire under a long-running job.
    async fn assertion(&self) -> Result<Secret, CredentialError> {
        let fail = |message: String| {
            CredentialError::Fatal(GraphError::SignIn {
                method: "workload identity".into(),
                message,
            })
        };
        let text = tokio::fs::read_to_string(&self.token_file)
            .await
            .map_err(|e| {
                fail(format!(
                    "cannot read the federated token file {} (AZURE_FEDERATED_TOKEN_FILE): {e}; check the service account token volume is mounted (the pod needs the label azure.workload.identity/use: \"true\")",
                    self.token_file.display()
                ))
            })?;
        let token = text.trim();
        if token.is_empty() {
            return Err(fail(format!(
                "the federated token file {} (AZURE_FEDERATED_TOKEN_FILE) is empty",
                self.token_file.display()
            )));
        }
        Ok(Secret::new(token))
    }
}

impl TokenCredential for WorkloadIdentityCredential {
    fn get_token<'a>(
        &'a self,
        scope: &'a str,
        ctx: &'a TokenContext<'a>,
    ) -> BoxFuture<'a, Result<AccessToken, CredentialError>> {
        async move {
            let assertion = self.assertion().await?;
            self.endpoint
                .request(ctx.http, scope, ClientAuth::FederatedAssertion(&assertion))
                .await
        }
        .boxed()
    }

    fn info(&self) -> CredentialInfo {
        CredentialInfo {
            method: "workload identity".into(),
            identity: format!(
                "app {} in tenant {}, federated token {}",
                self.endpoint.client_id,
                self.endpoint.tenant_id,
                self.token_file.display()
            ),
        }
    }
}
