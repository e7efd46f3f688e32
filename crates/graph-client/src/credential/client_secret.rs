//! An app registration's client secret (`AZURE_CLIENT_SECRET`).

use futures::FutureExt;
use futures::future::BoxFuture;

use super::token_endpoint::{ClientAuth, TokenEndpoint};
use super::{AccessToken, CredentialError, CredentialInfo, TokenContext, TokenCredential};
use crate::secret::Secret;

pub(crate) struct ClientSecretCredential {
    pub(crate) endpoint: TokenEndpoint,
    pub(crate) secret: Secret,
}

impl TokenCredential for ClientSecretCredential {
    fn get_token<'a>(
        &'a self,
        scope: &'a str,
        ctx: &'a TokenContext<'a>,
    ) -> BoxFuture<'a, Result<AccessToken, CredentialError>> {
        self.endpoint
            .request(ctx.http, scope, ClientAuth::Secret(&self.secret))
            .boxed()
    }

    fn info(&self) -> CredentialInfo {
        CredentialInfo {
            method: "client secret".into(),
            identity: format!(
                "app {} in tenant {}",
                self.endpoint.client_id, self.endpoint.tenant_id
            ),
        }
    }

    fn secrets(&self) -> Vec<Secret> {
        vec![self.secret.clone()]
    }
}
