//! What a sync did to each table: one line per table on stderr, and the exit code.

use std::time::Duration;

use datafusion_teams::Table;

use super::lake::Counts;

#[derive(Debug, Default)]
pub struct TableSummary {
    pub counts: Counts,
    pub requests: u64,
    /// Requests counted on another table's line (the one pass for both message tables).
    pub shared_with: Option<Table>,
    pub elapsed: Duration,
    pub sources: Vec<String>,
    pub error: Option<String>,
    /// Teams whose rows were committed in this run, of those asked for.
    pub teams_done: usize,
    pub teams: usize,
}

impl TableSummary {
    pub fn fail(&mut self, e: impl std::fmt::Display) {
        if self.error.is_none() {
            self.error = Some(e.to_string());
        }
    }

    pub fn line(&self, table: Table) -> String {
        let c = &self.counts;
        let requests = match self.shared_with {
            Some(t) => format!("Graph requests counted with {}", t.name()),
            None => format!(
                "{} Graph request{}",
                self.requests,
                if self.requests == 1 { "" } else { "s" }
            ),
        };
        let sources = if self.sources.is_empty() {
            String::new()
        } else {
            format!(" via {}", self.sources.join(", "))
        };
        let head = format!(
            "{}: {} inserted, {} updated, {} deleted; {requests}{sources}; {} commit{}; {:.1} s",
            table.name(),
            c.inserted,
            c.updated,
            c.deleted,
            c.commits,
            if c.commits == 1 { "" } else { "s" },
            self.elapsed.as_secs_f64()
        );
        match &self.error {
            None => head,
            Some(e) => format!(
                "{head}; FAILED after {} of {} teams: {e}",
                self.teams_done, self.teams
            ),
        }
    }
}
