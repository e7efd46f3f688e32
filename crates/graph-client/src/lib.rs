//! Microsoft Graph client for teams-sql: the only code that talks HTTP to
//! Graph. It signs in the ways azure-identity does (client secret or
//! certificate, workload identity, managed identity, Azure CLI, or the
//! default chain of them; any national cloud, or a simulator / proxy
//! through base URL overrides), builds requests whose ids
//! can never change the path or query, paces itself by Microsoft's
//! documented Teams limits so a healthy run is never throttled, still
//! retries 429 / 503 / 504 and network failures within bounds, walks
//! `@odata.nextLink` as lazy streams, counts what it did, and turns every
//! failure into an error that tells the user what to fix. It knows nothing
//! of SQL or DataFusion; the connector crate builds tables on top of it.
//!
//! ```no_run
//! use futures::TryStreamExt;
//! use graph_client::{GraphClient, GraphConfig, GraphRequest};
//!
//! # async fn demo() -> Result<(), graph_client::GraphError> {
//! // The azure-identity variables (AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET,
//! // AZURE_CLIENT_CERTIFICATE_PATH or AZURE_FEDERATED_TOKEN_FILE; or a managed identity, or
//! // az login), tried in DefaultAzureCredential's order.
//! let client = GraphClient::new(GraphConfig::from_env()?)?;
//! let teams: Vec<serde_json::Value> = client
//!     .items(GraphRequest::list_teams().select(&["id", "displayName"]))
//!     .try_collect()
//!     .await?;
//! let stats = client.stats();
//! println!("{} teams, {} requests, {} throttled", teams.len(), stats.total_requests, stats.throttled_429);
//! # Ok(()) }
//! ```

mod body;
mod client;
mod cloud;
mod config;
mod credential;
mod error;
mod links;
pub mod odata;
mod pacing;
mod page;
mod paging;
mod request;
mod retry;
mod secret;
mod stats;
mod status_error;
mod token;

pub use client::{GraphClient, Identity};
pub use cloud::Cloud;
pub use config::{DEFAULT_MAX_PAGES, DEFAULT_REQUEST_TIMEOUT, GraphConfig};
pub use credential::{
    AccessToken, AuthMethod, AuthSettings, CredentialError, CredentialInfo, TokenContext,
    TokenCredential,
};
pub use error::GraphError;
pub use pacing::{ChainScope, TenantLimit, ThrottleLimits};
pub use page::Page;
pub use request::{EndpointClass, GraphRequest, Scope};
pub use retry::{RetryPolicy, parse_retry_after};
pub use secret::Secret;
pub use stats::{Stats, StatsSnapshot};
