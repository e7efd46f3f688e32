//! `teams-sql sync` arguments: its own options, plus every connection flag of the shell
//! (flattened from [`Args`], so profiles, `--demo` and `--on-forbidden` resolve exactly as they
//! do for queries).

use chrono::{DateTime, NaiveDate, Utc};
use clap::Parser;

use crate::args::Args;
use crate::error::{Result, ShellError};
use datafusion_teams::Table;

#[derive(Debug, Parser)]
#[command(
    name = "teams-sql sync",
    about = "Bring Delta tables up to date with the tenant: one table per SQL table under --to, \
             merged incrementally with the cursor in the same Delta commit as its data"
)]
pub struct SyncArgs {
    /// Directory or URL (s3://, az://, abfss://, gs://) holding one Delta table per SQL table
    #[arg(long, value_name = "DIR|URL")]
    pub to: String,

    /// Tables to sync [default: teams,channels,members,messages,message_replies]
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub tables: Vec<String>,

    /// Only this team (repeatable); rows of other teams are left as they are
    #[arg(long = "team", value_name = "ID")]
    pub teams: Vec<String>,

    /// Nothing last modified at or before this date (2024-01-01 or RFC 3339) is loaded; kept in
    /// the table for later runs
    #[arg(long, value_name = "DATE")]
    pub start: Option<String>,

    /// How far behind the run's start the cursor stays, for Graph's replication delay
    /// (seconds, or with s, m, h, d)
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    pub lookback: String,

    /// Re-read everything and reconcile (deletes what Graph no longer has), ignoring cursors
    #[arg(long)]
    pub full: bool,

    /// A team read through the export API (which does not report messages deleted for good)
    /// is read in full and reconciled once its last reconciliation is this old (seconds, or
    /// with s, m, h, d; kept in the table)
    #[arg(long, value_name = "DURATION", default_value = "7d")]
    pub reconcile_every: String,

    /// Message rows read before a commit: teams are committed together until this many rows
    /// wait (each team with its own cursor), so a killed first load resumes after the last
    /// commit [default: 50000]
    #[arg(long, value_name = "N")]
    pub batch_rows: Option<usize>,

    /// Partition new tables by this column (tables without it are not partitioned)
    #[arg(long, value_name = "COLUMN")]
    pub partition_by: Option<String>,

    #[command(flatten)]
    pub shell: Args,
}

impl SyncArgs {
    /// The tables asked for, in the order they are synced (parents first).
    pub fn tables(&self) -> Result<Vec<Table>> {
        if self.tables.is_empty() {
            return Ok(Table::ALL.to_vec());
        }
        let mut wanted = Vec::new();
        for name in &self.tables {
            let t = Table::ALL
                .into_iter()
                .find(|t| t.name() == name.trim())
                .ok_or_else(|| {
                    ShellError::Usage(format!(
                        "--tables: unknown table '{name}': expected teams, channels, members, \
                         messages, message_replies"
                    ))
                })?;
            if !wanted.contains(&t) {
                wanted.push(t);
            }
        }
        Ok(Table::ALL
            .into_iter()
            .filter(|t| wanted.contains(t))
            .collect())
    }

    pub fn start(&self) -> Result<Option<DateTime<Utc>>> {
        self.start.as_deref().map(parse_start).transpose()
    }

    pub fn lookback(&self) -> Result<chrono::Duration> {
        parse_duration("--lookback", &self.lookback)
    }

    pub fn reconcile_every(&self) -> Result<chrono::Duration> {
        parse_duration("--reconcile-every", &self.reconcile_every)
    }

    /// The shell's own options make no sense here.
    pub fn check(&self) -> Result<()> {
        if !self.shell.commands.is_empty() || !self.shell.files.is_empty() {
            return Err(ShellError::Usage(
                "teams-sql sync takes no -c or -f: it runs no SQL of yours".to_string(),
            ));
        }
        Ok(())
    }
}

fn parse_start(s: &str) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            ShellError::Usage(format!(
                "--start '{s}' is not a date: use 2024-01-01 or 2024-01-01T00:00:00Z"
            ))
        })
}

fn parse_duration(flag: &str, s: &str) -> Result<chrono::Duration> {
    let s = s.trim();
    let (number, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 's'),
    };
    let n: i64 = number.trim().parse().map_err(|_| {
        ShellError::Usage(format!(
            "{flag} '{s}' is not a duration: use seconds or 30s, 5m, 2h, 1d"
        ))
    })?;
    let seconds = match unit {
        's' => n,
        'm' => n * 60,
        'h' => n * 3600,
        'd' => n * 86_400,
        _ => {
            return Err(ShellError::Usage(format!(
                "{flag} '{s}': unknown unit '{unit}' (s, m, h or d)"
            )));
        }
    };
    if seconds < 0 {
        return Err(ShellError::Usage(format!("{flag} cannot be negative")));
    }
    Ok(chrono::Duration::seconds(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dates_and_durations() {
        assert_eq!(
            parse_start("2024-01-01").unwrap().to_rfc3339(),
            "2024-01-01T00:00:00+00:00"
        );
        assert!(parse_start("yesterday").is_err());
        assert_eq!(
            parse_duration("--lookback", "5m").unwrap().num_seconds(),
            300
        );
        assert_eq!(
            parse_duration("--lookback", "90").unwrap().num_seconds(),
            90
        );
        assert_eq!(
            parse_duration("--reconcile-every", "7d")
                .unwrap()
                .num_days(),
            7
        );
        assert!(parse_duration("--lookback", "5w").is_err());
    }
}
