//! Microsoft Graph client for teams-sql: the only code that talks HTTP to
//! Graph. It signs in with client credentials (any national cloud, or a
//! simulator / proxy through base URL overrides), builds requests whose ids
//! can never change the path or query, paces itself by Microsoft's
//! documented Teams limits so a healthy run is never throttled, still
//! retries 429 / 503 / 504 and network failures within bounds, walks
//! `@odata.nextLink` as lazy streams, counts what it did, and turns every
//! failure into an error that tells the user what to fix. It knows nothing
//! of SQL or DataFusion; the connector crate builds tables on top of it.

mod client;
mod cloud;
mod config;
mod error;
pub mod odata;
mod pacing;
mod paging;
mod request;
mod retry;
mod secret;
mod stats;
mod token;

pub use client::{GraphClient, Identity};
pub use cloud::Cloud;
pub use config::GraphConfig;
pub use error::GraphError;
pub use pacing::{TenantLimit, ThrottleLimits};
pub use paging::Page;
pub use request::{EndpointClass, GraphRequest, Scope};
pub use retry::{RetryPolicy, parse_retry_after};
pub use secret::Secret;
pub use stats::{Stats, StatsSnapshot};
