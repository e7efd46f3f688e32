//! Cursors, kept in the Delta log as application transactions (`txn` actions) committed with
//! the data they cover, so data and cursor cannot disagree after a crash.
//!
//! - `teams-sql/<tenant>/<table>/<team-id>`: for `messages` and `message_replies`, the largest
//!   `lastModifiedDateTime` (microseconds since the epoch) merged for that team, kept at or
//!   below the run's start minus the lookback and never moved back. A team without one has not
//!   been loaded yet: a first load commits team by team, so a killed load resumes with the first
//!   team that has none.
//! - `teams-sql/<tenant>/<table>/start`: the `--start` floor the table was loaded with.
//! - `teams-sql/<tenant>/<table>/reconciled/<team-id>`: for the message tables, the start of
//!   the last run that read that team in full (so deleted what Graph no longer has).
//! - `teams-sql/<tenant>/<table>`: for snapshot tables, the start of the run that last changed
//!   them.

use chrono::{DateTime, Utc};
use deltalake::DeltaTable;
use deltalake::kernel::Transaction;

use crate::error::Result;
use datafusion_teams::Table;

pub fn table_app_id(tenant: &str, table: Table) -> String {
    format!("teams-sql/{tenant}/{}", table.name())
}

pub fn team_app_id(tenant: &str, table: Table, team: &str) -> String {
    format!("teams-sql/{tenant}/{}/{team}", table.name())
}

pub fn reconciled_app_id(tenant: &str, table: Table, team: &str) -> String {
    format!("teams-sql/{tenant}/{}/reconciled/{team}", table.name())
}

pub fn start_app_id(tenant: &str, table: Table) -> String {
    format!("teams-sql/{tenant}/{}/start", table.name())
}

/// The version recorded under `app_id`, if any.
pub async fn read(table: &DeltaTable, app_id: &str) -> Result<Option<i64>> {
    if table.version().is_none() {
        return Ok(None);
    }
    Ok(table
        .snapshot()?
        .transaction_version(table.log_store().as_ref(), app_id)
        .await?)
}

pub fn txn(app_id: String, version: i64) -> Transaction {
    Transaction::new_with_last_update(app_id, version, Some(Utc::now().timestamp_millis()))
}

pub fn to_time(micros: i64) -> Option<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp_micros(micros)
}

/// The cursor after a read: the largest timestamp read, but never past `cap` (the run's start
/// minus the lookback) and never behind `prev`. `None` when nothing is known yet.
pub fn advance(prev: Option<i64>, max_read: Option<i64>, cap: i64) -> Option<i64> {
    let proposed = max_read.map(|m| m.min(cap));
    match (prev, proposed) {
        (Some(p), Some(n)) => Some(p.max(n)),
        (p, n) => p.or(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_never_passes_the_cap_nor_goes_back() {
        assert_eq!(advance(None, Some(50), 100), Some(50));
        assert_eq!(advance(None, Some(150), 100), Some(100));
        assert_eq!(advance(Some(80), Some(50), 100), Some(80));
        assert_eq!(advance(Some(80), None, 100), Some(80));
        assert_eq!(advance(Some(120), Some(150), 100), Some(120));
        assert_eq!(advance(None, None, 100), None);
    }
}
