//! The state every HTTP handler shares: Graph routes, the token endpoint and `/_sim/`.

use std::sync::Arc;

use crate::sim::Sim;

/// Shared state of the server: the tenant and the URL it is reachable at (for links).
#[derive(Clone)]
pub struct App {
    pub sim: Sim,
    /// `http://127.0.0.1:PORT`, no trailing slash, no `/v1.0`.
    pub base: Arc<str>,
}
