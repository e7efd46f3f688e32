//! A simulated Microsoft Teams tenant that speaks Microsoft Graph v1.0 over real HTTP.
//!
//! teams-sql has no network path to Microsoft, so every test, benchmark and demo runs against
//! this simulator. It serves the client-credentials token endpoint and the Graph endpoints the
//! connector reads (teams, groups, channels, members, messages, replies, delta, getAllMessages)
//! with the paging, query-option rules, error bodies, throttling and quirks that Microsoft
//! documents (see `docs/graph.md`; each behaviour points to its section). The tenant is
//! generated deterministically from a seed and size parameters, laid out relative to a simulator
//! clock, and can be changed while it runs (posts, edits, reactions, soft and hard deletions, new
//! and removed teams, channels and members, seeded batches of all of these for sync tests:
//! [`Sim::apply_change_batch`]) through [`Sim`] or the HTTP admin API under `/_sim/`.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let server = graph_sim::start(graph_sim::SimConfig::for_tests()).await?;
//! println!("graph: {} authority: {}", server.graph_url(), server.authority_url());
//! let teams = server.sim().team_ids();
//! # let _ = teams;
//! server.shutdown().await;
//! # Ok(()) }
//! ```

mod admin;
mod app;
mod auth;
mod batch;
mod class;
mod clock;
mod config;
mod encode;
mod error;
mod faults;
mod generate;
mod odata;
mod removals;
mod render;
mod routes;
mod sim;
mod tenant;
mod throttle;

use std::net::SocketAddr;
use std::sync::Arc;

pub use auth::GRAPH_SCOPE;
pub use batch::{Change, ChangeBatch};
pub use class::{EndpointClass, TenantLimit};
pub use config::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, ExportApi, Faults, SimConfig,
    Switches, default_test_epoch,
};
pub use error::SimError;
pub use sim::{Counters, Sim};

/// Per-team and per-channel rates (requests per second) at throttle scale 1.
pub use throttle::{CHANNEL_RATE, TEAM_RATE};

/// A running simulator: one HTTP listener serving the token endpoint, Graph and `/_sim/`.
pub struct SimServer {
    sim: Sim,
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for SimServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Generates the tenant and serves it on `127.0.0.1:0` (a free port).
pub async fn start(cfg: SimConfig) -> std::io::Result<SimServer> {
    start_on(cfg, SocketAddr::from(([127, 0, 0, 1], 0))).await
}

/// Generates the tenant and serves it on `addr`.
pub async fn start_on(cfg: SimConfig, addr: SocketAddr) -> std::io::Result<SimServer> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    // Generation is CPU work (tens of milliseconds for 100k messages); keep it off the reactor.
    let sim = tokio::task::spawn_blocking(move || Sim::new(cfg))
        .await
        .map_err(|e| std::io::Error::other(format!("tenant generation failed: {e}")))?;
    let app = app::App {
        sim: sim.clone(),
        base: Arc::from(format!("http://{addr}")),
    };
    let router = routes::router(app);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok(SimServer {
        sim,
        addr,
        shutdown: Some(tx),
        task,
    })
}

impl Drop for SimServer {
    /// A dropped server stops accepting connections (benches start many in one process).
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl SimServer {
    /// Graph root without the version segment, e.g. `http://127.0.0.1:PORT`.
    pub fn graph_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Authority host (as azure-identity's `AZURE_AUTHORITY_HOST`); the token endpoint is
    /// `{authority}/{tenant}/oauth2/v2.0/token`.
    pub fn authority_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn sim(&self) -> Sim {
        self.sim.clone()
    }

    /// Stops accepting connections and waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Open keep-alive connections would hold graceful shutdown; don't wait on them forever.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), &mut self.task).await;
        self.task.abort();
    }
}
