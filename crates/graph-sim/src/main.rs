//! `teams-graph-sim`: serves a simulated Microsoft Teams tenant (token endpoint, Graph v1.0 and
//! the `/_sim/` admin API) on one port, until interrupted. See the graph_sim crate for what it
//! simulates.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Parser, ValueEnum};
use graph_sim::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, ExportApi, Faults, FederatedTrust,
    ManagedIdentity, SimConfig, Switches, TrustedCertificate,
};

#[derive(Parser, Debug)]
#[command(
    name = "teams-graph-sim",
    version,
    about = "Simulated Microsoft Teams tenant speaking Microsoft Graph v1.0 over HTTP",
    long_about = "Simulated Microsoft Teams tenant speaking Microsoft Graph v1.0 over HTTP.\n\n\
        Serves the client-credentials token endpoint (POST /{tenant}/oauth2/v2.0/token; client \
        secret, certificate and federated assertions), the managed identity endpoints (/msi/token, \
        IMDS), Graph (/v1.0/...) and an admin API (/_sim/...) on one port. The first line printed is\n  \
        graph: http://127.0.0.1:PORT authority: http://127.0.0.1:PORT\n\
        (Graph root without /v1.0, and the authority host as in AZURE_AUTHORITY_HOST). The accepted \
        scope is https://graph.microsoft.com/.default or <graph url>/.default.\n\n\
        The admin API reads the ground truth and changes the tenant while it runs: posts, replies, \
        edits, reactions (added and taken back), soft deletes (POST .../softDelete) and hard deletes (DELETE \
        /_sim/teams/{team}/channels/{channel}/messages/{id}[/replies/{id}]), removals (DELETE \
        /_sim/teams/{team}, .../channels/{channel}, .../members/{id}) and a seeded batch of all \
        of these (POST /_sim/changes {\"seed\": N}); see crates/graph-sim/README.md.\n\n\
        Example: teams-graph-sim --port 0 --seed 42 --teams 20 --epoch 2026-01-15T12:00:00Z"
)]
struct Args {
    /// TCP port to listen on; 0 picks a free port.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Seed of the generated tenant (same seed + epoch + sizes = same tenant, byte for byte).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Number of teams.
    #[arg(long, default_value_t = 20)]
    teams: usize,
    /// Channels per team (the first three are standard, private and shared).
    #[arg(long, default_value_t = 5)]
    channels: usize,
    /// Root posts per channel.
    #[arg(long, default_value_t = 60)]
    messages: usize,
    /// Typical maximum of replies per root post (a quarter of the threads get none).
    #[arg(long, default_value_t = 8)]
    replies: usize,
    /// Members per team.
    #[arg(long, default_value_t = 12)]
    members: usize,
    /// Leave out the thread with more than 1000 replies.
    #[arg(long)]
    no_big_threads: bool,
    /// Fixed start of the simulator clock (RFC 3339), for reproducible output; the clock then only
    /// moves through /_sim/advance. Default: the real current time, following real time.
    #[arg(long)]
    epoch: Option<DateTime<Utc>>,
    /// Tenant id the token endpoint accepts.
    #[arg(long, default_value = DEFAULT_TENANT_ID)]
    tenant_id: String,
    /// Client (application) id the token endpoint accepts.
    #[arg(long, default_value = DEFAULT_CLIENT_ID)]
    client_id: String,
    /// Client secret the token endpoint accepts (fixed public default: it only unlocks the simulator).
    #[arg(long, default_value = DEFAULT_CLIENT_SECRET)]
    client_secret: String,
    /// Answer the right secret with AADSTS7000222 (expired secret).
    #[arg(long)]
    secret_expired: bool,
    /// Register this PEM certificate on the app: the token endpoint then accepts client assertions
    /// (client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer) signed by its
    /// key, checking signature, x5t#S256/x5t thumbprint, audience (this token endpoint), iss = sub =
    /// client id, expiry and jti reuse (AADSTS700027, 700024, 700021, 700023, 50027 otherwise).
    #[arg(long, value_name = "FILE")]
    client_certificate: Option<std::path::PathBuf>,
    /// Trust federated tokens (workload identity) from this issuer; needs --federated-subject and
    /// --federated-jwks. Assertions must have aud api://AzureADTokenExchange and be signed by a
    /// JWKS key (AADSTS700211 unknown issuer, 700213 subject, 700212 audience, 700027 signature,
    /// 700024 expired).
    #[arg(long, value_name = "URL", requires_all = ["federated_subject", "federated_jwks"])]
    federated_issuer: Option<String>,
    /// The trusted subject, e.g. system:serviceaccount:NAMESPACE:NAME.
    #[arg(long, value_name = "SUB", requires = "federated_issuer")]
    federated_subject: Option<String>,
    /// The issuer's signing keys as a JWKS JSON file ({"keys": [{"kty": "RSA", "n": .., "e": ..}]}).
    #[arg(long, value_name = "FILE", requires = "federated_issuer")]
    federated_jwks: Option<std::path::PathBuf>,
    /// Serve the App Service managed identity endpoint GET /msi/token (IDENTITY_ENDPOINT =
    /// <graph url>/msi/token), demanding this X-IDENTITY-HEADER value (401 otherwise).
    #[arg(long, value_name = "VALUE")]
    identity_header: Option<String>,
    /// Serve IMDS, GET /metadata/identity/oauth2/token with header Metadata: true
    /// (AZURE_POD_IDENTITY_AUTHORITY_HOST = <graph url>).
    #[arg(long)]
    imds: bool,
    /// Client id of a user-assigned managed identity attached to the host (repeatable); other
    /// client ids are refused ("Identity not found").
    #[arg(long = "user-assigned-client-id", value_name = "ID")]
    user_assigned_client_ids: Vec<String>,
    /// Access token lifetime in seconds (`expires_in`).
    #[arg(long, default_value_t = 3599)]
    token_lifetime: u64,
    /// Scale of Microsoft's throttling limits (10 = ten times looser, 0.1 = ten times stricter).
    #[arg(long, default_value_t = 1.0)]
    throttle_scale: f64,
    /// Turn throttling off.
    #[arg(long)]
    no_throttle: bool,
    /// Fraction (0..1) of 429 answers sent without a Retry-After header.
    #[arg(long, default_value_t = 0.0)]
    omit_retry_after: f64,
    /// Latency per Graph request in milliseconds, uniform in MIN-MAX ("0-0" for none).
    #[arg(long, default_value = "60-250", value_parser = parse_range)]
    latency: (u64, u64),
    /// Fraction of Graph requests answered 503.
    #[arg(long, default_value_t = 0.0)]
    fault_503: f64,
    /// Fraction of Graph requests answered 504.
    #[arg(long, default_value_t = 0.0)]
    fault_504: f64,
    /// Fraction of Graph requests whose connection is dropped after the headers.
    #[arg(long, default_value_t = 0.0)]
    fault_reset: f64,
    /// Fraction of Graph requests answered with half of their JSON body.
    #[arg(long, default_value_t = 0.0)]
    fault_truncated: f64,
    /// Protected-API access not granted: message endpoints answer 403.
    #[arg(long)]
    protected_api_denied: bool,
    /// Channel delta answers 400 "Delta query is not supported by this resource." (app-only).
    #[arg(long)]
    delta_unsupported: bool,
    /// What getAllMessages answers.
    #[arg(long, value_enum, default_value_t = ExportArg::Granted)]
    export_api: ExportArg,
    /// Team id answering 403 (repeatable).
    #[arg(long = "forbidden-team", value_name = "TEAM_ID")]
    forbidden_teams: Vec<String>,
    /// Team id answering 404 (repeatable).
    #[arg(long = "missing-team", value_name = "TEAM_ID")]
    missing_teams: Vec<String>,
    /// Channel id answering 403 (repeatable).
    #[arg(long = "forbidden-channel", value_name = "CHANNEL_ID")]
    forbidden_channels: Vec<String>,
    /// Channel id answering 404 (repeatable).
    #[arg(long = "missing-channel", value_name = "CHANNEL_ID")]
    missing_channels: Vec<String>,
    /// Newly-created-tenant known issue: the members endpoint answers 401.
    #[arg(long)]
    members_unauthorized: bool,
    /// Saved delta links are stale: $deltatoken requests answer 410 Gone (resyncRequired).
    #[arg(long)]
    delta_tokens_expired: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ExportArg {
    Granted,
    Forbidden,
    PaymentRequired,
}

fn parse_range(s: &str) -> Result<(u64, u64), String> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| format!("expected MIN-MAX, got {s:?}"))?;
    let a: u64 = a
        .trim()
        .parse()
        .map_err(|_| format!("bad minimum in {s:?}"))?;
    let b: u64 = b
        .trim()
        .parse()
        .map_err(|_| format!("bad maximum in {s:?}"))?;
    if b < a {
        return Err(format!("maximum below minimum in {s:?}"));
    }
    Ok((a, b))
}

impl Args {
    fn config(&self) -> Result<SimConfig, String> {
        let read = |path: &std::path::Path| {
            std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))
        };
        let client_certificate = match &self.client_certificate {
            Some(path) => Some(
                TrustedCertificate::from_pem(&read(path)?)
                    .map_err(|e| format!("--client-certificate {}: {e}", path.display()))?,
            ),
            None => None,
        };
        let federated = match (
            &self.federated_issuer,
            &self.federated_subject,
            &self.federated_jwks,
        ) {
            (Some(issuer), Some(subject), Some(jwks)) => Some(
                FederatedTrust::new(issuer.clone(), subject.clone(), &read(jwks)?)
                    .map_err(|e| format!("--federated-jwks {}: {e}", jwks.display()))?,
            ),
            _ => None,
        };
        Ok(SimConfig {
            seed: self.seed,
            teams: self.teams,
            channels_per_team: self.channels,
            messages_per_channel: self.messages,
            replies_per_message: self.replies,
            members_per_team: self.members,
            big_threads: !self.no_big_threads,
            epoch: self.epoch,
            tenant_id: self.tenant_id.clone(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            secret_expired: self.secret_expired,
            client_certificate,
            federated,
            managed_identity: ManagedIdentity {
                identity_header: self.identity_header.clone(),
                imds: self.imds,
                user_assigned_client_ids: self.user_assigned_client_ids.clone(),
            },
            token_lifetime: Duration::from_secs(self.token_lifetime),
            throttle_scale: (!self.no_throttle).then_some(self.throttle_scale),
            omit_retry_after_rate: self.omit_retry_after,
            latency_ms: self.latency,
            faults: Faults {
                rate_503: self.fault_503,
                rate_504: self.fault_504,
                rate_reset: self.fault_reset,
                rate_truncated: self.fault_truncated,
            },
            switches: Switches {
                protected_api_denied: self.protected_api_denied,
                delta_unsupported: self.delta_unsupported,
                export_api: match self.export_api {
                    ExportArg::Granted => ExportApi::Granted,
                    ExportArg::Forbidden => ExportApi::Forbidden,
                    ExportArg::PaymentRequired => ExportApi::PaymentRequired,
                },
                forbidden_team_ids: self.forbidden_teams.clone(),
                missing_team_ids: self.missing_teams.clone(),
                forbidden_channel_ids: self.forbidden_channels.clone(),
                missing_channel_ids: self.missing_channels.clone(),
                members_unauthorized: self.members_unauthorized,
                delta_tokens_expired: self.delta_tokens_expired,
            },
        })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let addr = SocketAddr::new(args.host, args.port);
    let config = match args.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("teams-graph-sim: {e}");
            return ExitCode::from(2);
        }
    };
    let server = match graph_sim::start_on(config, addr).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "teams-graph-sim: cannot listen on {addr}: {e} (try --port 0 for a free port)"
            );
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout();
    let _ = writeln!(
        out,
        "graph: {} authority: {}",
        server.graph_url(),
        server.authority_url()
    );
    let _ = writeln!(
        out,
        "tenant {} client {} | {} teams, {} messages | Ctrl-C to stop",
        args.tenant_id,
        args.client_id,
        server.sim().team_ids().len(),
        server.sim().message_count()
    );
    let _ = out.flush();
    let _ = tokio::signal::ctrl_c().await;
    server.shutdown().await;
    ExitCode::SUCCESS
}
