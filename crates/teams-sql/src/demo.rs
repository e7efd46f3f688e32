//! `--demo`: a simulated Teams tenant started in-process on a loopback port. Microsoft's
//! throttling (x1) and realistic per-request latency stay on, so what users see here is what a
//! real tenant feels like; the tenant is sized so the README's queries finish in seconds.

use chrono::{DateTime, Utc};
use graph_sim::{SimConfig, SimServer};

use crate::credentials::Connection;
use crate::error::{Result, ShellError};

/// Keeps the simulator running for the life of the shell (it stops when this is dropped).
pub struct DemoTenant {
    _server: SimServer,
}

/// Tenant shape for the demo: a few teams with a handful of channels each, enough messages and
/// threads for the example queries to say something, small enough that a full scan of
/// `message_replies` under Microsoft's 1 request/second/channel limit stays within seconds.
///
/// The tenant's clock is `clock`, by default today's midnight (UTC): history still ends "now"
/// for queries such as `now() - interval '7 days'`, yet two runs on the same day see the same
/// tenant, so an export re-run with `'mode' 'merge'` shows that it changes nothing.
pub fn demo_config(clock: Option<DateTime<Utc>>) -> SimConfig {
    let midnight = || {
        Utc::now()
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
    };
    SimConfig {
        epoch: clock.or_else(midnight),
        seed: 42,
        teams: 4,
        channels_per_team: 3,
        messages_per_channel: 40,
        replies_per_message: 8,
        members_per_team: 12,
        big_threads: false,
        ..SimConfig::default()
    }
}

pub async fn start(clock: Option<DateTime<Utc>>) -> Result<(DemoTenant, Connection)> {
    let server = graph_sim::start(demo_config(clock))
        .await
        .map_err(|e| ShellError::Demo(format!("cannot start on 127.0.0.1: {e}")))?;
    let connection = Connection::demo(server.graph_url(), server.authority_url());
    Ok((DemoTenant { _server: server }, connection))
}
