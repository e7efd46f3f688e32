//! Configuration of a simulated tenant: its size, the app it accepts, and the switches that make it
//! behave like the awkward real tenants the connector has to survive.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// Tenant id the simulator accepts unless told otherwise (demo and tests use it).
pub const DEFAULT_TENANT_ID: &str = "6f1c7a52-3b9e-4d2a-8c41-5e0b9d7f2a13";
/// Application (client) id the simulator accepts unless told otherwise.
pub const DEFAULT_CLIENT_ID: &str = "0c8e5b7d-1f24-4a6b-9e3c-7d2a5f8b1e60";
/// Client secret the simulator accepts unless told otherwise. Fixed and public: it only ever
/// unlocks this simulator.
pub const DEFAULT_CLIENT_SECRET: &str = "sim~secret.v1";

/// The client id the system-assigned managed identity reports (`client_id` of its tokens).
pub const SYSTEM_ASSIGNED_CLIENT_ID: &str = "5e29463d-71da-4fe0-8e69-999b57db23b0";

/// Everything that decides what a simulated tenant contains and how it behaves.
#[derive(Clone)]
pub struct SimConfig {
    pub seed: u64,
    pub teams: usize,
    pub channels_per_team: usize,
    /// Root posts per channel.
    pub messages_per_channel: usize,
    /// Typical maximum of replies per root post; some threads get none, and with `big_threads`
    /// one thread gets more than 1000 (so `replies@odata.nextLink` shows up, docs/graph.md §2.6).
    pub replies_per_message: usize,
    pub members_per_team: usize,
    pub big_threads: bool,
    /// Fixed start of the simulator clock, for byte-for-byte reproducible output. `None` starts at
    /// the real current time and lets the clock follow real time.
    pub epoch: Option<DateTime<Utc>>,
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    /// The token endpoint answers AADSTS7000222 (expired secret) for the right secret.
    pub secret_expired: bool,
    /// A certificate registered on the app: client assertions signed by its key are accepted.
    pub client_certificate: Option<crate::assertion::TrustedCertificate>,
    /// A federated credential of the app (workload identity federation).
    pub federated: Option<crate::assertion::FederatedTrust>,
    /// The managed identity endpoints (App Service `/msi/token`, IMDS).
    pub managed_identity: ManagedIdentity,
    /// `expires_in` of issued tokens; tokens stop working after it (real time plus any
    /// `Sim::advance`).
    pub token_lifetime: Duration,
    /// `None` = no throttling; `Some(1.0)` = Microsoft's limits; `Some(10.0)` = ten times looser.
    pub throttle_scale: Option<f64>,
    /// Fraction (0..=1) of 429 answers sent without a `Retry-After` header.
    pub omit_retry_after_rate: f64,
    /// Uniform latency range per Graph request in milliseconds; `(0, 0)` = none.
    pub latency_ms: (u64, u64),
    pub faults: Faults,
    pub switches: Switches,
}

impl std::fmt::Debug for SimConfig {
    // Written out so that the client secret never reaches logs, even the simulator's own.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field("seed", &self.seed)
            .field("teams", &self.teams)
            .field("channels_per_team", &self.channels_per_team)
            .field("messages_per_channel", &self.messages_per_channel)
            .field("replies_per_message", &self.replies_per_message)
            .field("members_per_team", &self.members_per_team)
            .field("big_threads", &self.big_threads)
            .field("epoch", &self.epoch)
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("secret_expired", &self.secret_expired)
            .field("client_certificate", &self.client_certificate)
            .field("federated", &self.federated)
            .field("managed_identity", &self.managed_identity)
            .field("token_lifetime", &self.token_lifetime)
            .field("throttle_scale", &self.throttle_scale)
            .field("omit_retry_after_rate", &self.omit_retry_after_rate)
            .field("latency_ms", &self.latency_ms)
            .field("faults", &self.faults)
            .field("switches", &self.switches)
            .finish()
    }
}

impl Default for SimConfig {
    /// Microsoft-like behaviour on a modest tenant: throttling at Microsoft's numbers, 60-250 ms
    /// latency, clock at the real current time.
    fn default() -> Self {
        SimConfig {
            seed: 42,
            teams: 20,
            channels_per_team: 5,
            messages_per_channel: 60,
            replies_per_message: 8,
            members_per_team: 12,
            big_threads: true,
            epoch: None,
            tenant_id: DEFAULT_TENANT_ID.to_string(),
            client_id: DEFAULT_CLIENT_ID.to_string(),
            client_secret: DEFAULT_CLIENT_SECRET.to_string(),
            secret_expired: false,
            client_certificate: None,
            federated: None,
            managed_identity: ManagedIdentity::default(),
            token_lifetime: Duration::from_secs(3599),
            throttle_scale: Some(1.0),
            omit_retry_after_rate: 0.0,
            latency_ms: (60, 250),
            faults: Faults::default(),
            switches: Switches::default(),
        }
    }
}

impl SimConfig {
    /// Small tenant, no latency, no throttling, fixed epoch (2026-01-15T12:00:00Z): what unit and
    /// integration tests want.
    pub fn for_tests() -> Self {
        SimConfig {
            teams: 3,
            channels_per_team: 3,
            messages_per_channel: 25,
            replies_per_message: 4,
            members_per_team: 6,
            big_threads: false,
            epoch: Some(default_test_epoch()),
            throttle_scale: None,
            latency_ms: (0, 0),
            ..SimConfig::default()
        }
    }
}

/// The fixed epoch of [`SimConfig::for_tests`].
pub fn default_test_epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 15, 12, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// Managed identities of the simulated host (docs/graph.md §6.5).
#[derive(Clone, Default)]
pub struct ManagedIdentity {
    /// Serve the App Service / Container Apps / Functions endpoint `GET /msi/token`, which
    /// demands this `X-IDENTITY-HEADER` value.
    pub identity_header: Option<String>,
    /// Serve IMDS, `GET /metadata/identity/oauth2/token` (header `Metadata: true`).
    pub imds: bool,
    /// Client ids of the user-assigned identities attached (`client_id=`); without
    /// `client_id` the system-assigned identity answers.
    pub user_assigned_client_ids: Vec<String>,
}

impl std::fmt::Debug for ManagedIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedIdentity")
            .field(
                "identity_header",
                &self.identity_header.as_ref().map(|_| "***"),
            )
            .field("imds", &self.imds)
            .field("user_assigned_client_ids", &self.user_assigned_client_ids)
            .finish()
    }
}

/// Seeded fault rates, each a probability per Graph request (token and admin calls never fault).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct Faults {
    /// 503 Service Unavailable with a Graph error body and `Retry-After`.
    pub rate_503: f64,
    /// 504 Gateway Timeout with a Graph error body.
    pub rate_504: f64,
    /// Connection dropped after the status line (the client sees a transport error).
    pub rate_reset: f64,
    /// 200 whose JSON body is cut in half (complete HTTP message, invalid JSON).
    pub rate_truncated: f64,
}

impl Faults {
    pub fn any(&self) -> bool {
        self.rate_503 > 0.0
            || self.rate_504 > 0.0
            || self.rate_reset > 0.0
            || self.rate_truncated > 0.0
    }
}

/// What the export API (`getAllMessages`) answers.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum ExportApi {
    #[default]
    Granted,
    /// 403: the app lacks ChannelMessage.Read.All.
    Forbidden,
    /// 402: metered API without billing set up (docs/graph.md §5.5).
    PaymentRequired,
}

/// Tenant switches that reproduce what real tenants do to an app (docs/graph.md §6.2, §9.15).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct Switches {
    /// Protected-API access not granted: message endpoints answer 403.
    pub protected_api_denied: bool,
    /// Channel delta answers 400 "Delta query is not supported by this resource." (app-only).
    pub delta_unsupported: bool,
    pub export_api: ExportApi,
    /// These teams (and everything under them) answer 403.
    pub forbidden_team_ids: Vec<String>,
    /// These teams (and everything under them) answer 404.
    pub missing_team_ids: Vec<String>,
    pub forbidden_channel_ids: Vec<String>,
    pub missing_channel_ids: Vec<String>,
    /// Known issue of newly created tenants: the members endpoint answers 401.
    pub members_unauthorized: bool,
    /// Saved delta state is no longer valid: requests carrying a `$deltatoken` answer 410 Gone
    /// with code `resyncRequired` and a `Location` to restart from (docs/graph.md
    /// §5.2).
    pub delta_tokens_expired: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret() {
        let cfg = SimConfig {
            client_secret: "s3cr3t-value".into(),
            ..SimConfig::for_tests()
        };
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
        assert!(shown.contains("***"));
    }
}
