//! A progress line on stderr for queries that take more than a second, so users watching a
//! terminal know the shell is paging through Graph (and waiting out throttling) rather than
//! stuck. Never drawn when stderr is not a terminal, so logs and tests stay clean.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::stats::GraphCounters;

const SHOW_AFTER: Duration = Duration::from_secs(1);

pub struct Progress {
    started: Instant,
    enabled: bool,
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn new(enabled: bool) -> Self {
        Progress {
            started: Instant::now(),
            enabled,
            bar: None,
        }
    }

    /// How often the caller should call [`Progress::update`].
    pub const INTERVAL: Duration = Duration::from_millis(200);

    /// `since_start` are the Graph counters accumulated by this query so far.
    pub fn update(&mut self, rows: Rows, since_start: Option<&GraphCounters>) {
        if !self.enabled || self.started.elapsed() < SHOW_AFTER {
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed:>3} {msg}") {
                bar.set_style(style);
            }
            bar
        });
        bar.set_message(message(rows, since_start));
        bar.tick();
    }
}

/// Row counts of a running statement, each known only for some statements.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rows {
    /// Rows the statement has returned so far (queries whose result the shell prints).
    pub out: Option<u64>,
    /// Rows its scans have produced: what an aggregate or a COPY has worked through while it
    /// returns nothing yet.
    pub read: Option<u64>,
    /// Rows handed to a COPY's writer so far.
    pub written: Option<u64>,
}

impl Rows {
    fn text(self) -> String {
        match self {
            Rows {
                written: Some(w), ..
            } => format!("{w} rows written"),
            Rows {
                read: Some(r),
                out: Some(o),
                ..
            } if r > o => {
                if o == 0 {
                    format!("{r} rows read")
                } else {
                    format!("{r} rows read, {o} rows out")
                }
            }
            Rows { out: Some(o), .. } => format!("{o} rows"),
            Rows { read: Some(r), .. } => format!("{r} rows read"),
            _ => String::new(),
        }
    }
}

fn message(rows: Rows, g: Option<&GraphCounters>) -> String {
    let rows = rows.text();
    match g {
        None => rows,
        Some(g) => {
            let mut parts = Vec::new();
            if g.teams_discovered + g.channels_discovered > 0 {
                parts.push(format!(
                    "found {} teams, {} channels;",
                    g.teams_discovered, g.channels_discovered
                ));
            }
            parts.push(format!("{} Graph requests", g.requests));
            let teams = g.class("teams_list") + g.class("groups_list") + g.class("team_get");
            let channels = g.class("channels_list") + g.class("all_channels_list");
            let messages = g.class("messages_list")
                + g.class("messages_delta")
                + g.class("get_all_messages")
                + g.class("replies_list");
            parts.push(format!(
                "(teams {teams}, channels {channels}, messages {messages})"
            ));
            if g.throttled > 0 {
                parts.push(format!(
                    "{} throttled, waited {:.1}s",
                    g.throttled,
                    g.throttle_wait.as_secs_f64()
                ));
            }
            parts.push(rows);
            parts.join(" ").trim_end().to_string()
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // Also runs when a query is cancelled with Ctrl-C: the line must not stay behind.
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_say_what_an_aggregate_or_a_copy_has_done() {
        let aggregate = Rows {
            out: Some(0),
            read: Some(1200),
            written: None,
        };
        assert_eq!(aggregate.text(), "1200 rows read");
        let filter = Rows {
            out: Some(7),
            read: Some(1200),
            written: None,
        };
        assert_eq!(filter.text(), "1200 rows read, 7 rows out");
        let copy = Rows {
            out: None,
            read: Some(900),
            written: Some(850),
        };
        assert_eq!(copy.text(), "850 rows written");
        let delta = Rows {
            read: Some(900),
            ..Rows::default()
        };
        assert_eq!(delta.text(), "900 rows read");
    }

    #[test]
    fn message_counts_what_discovery_found() {
        let g = GraphCounters {
            requests: 7,
            teams_discovered: 2,
            channels_discovered: 5,
            ..GraphCounters::default()
        };
        assert_eq!(
            message(
                Rows {
                    out: Some(3),
                    ..Rows::default()
                },
                Some(&g)
            ),
            "found 2 teams, 5 channels; 7 Graph requests (teams 0, channels 0, messages 0) 3 rows"
        );
    }

    #[test]
    fn message_names_requests_throttling_and_rows() {
        let g = GraphCounters {
            requests: 12,
            throttled: 2,
            throttle_wait: Duration::from_millis(1500),
            per_class: [
                ("teams_list".to_string(), 1),
                ("messages_list".to_string(), 9),
            ]
            .into(),
            ..GraphCounters::default()
        };
        assert_eq!(
            message(
                Rows {
                    out: Some(40),
                    read: Some(40),
                    written: None
                },
                Some(&g)
            ),
            "12 Graph requests (teams 1, channels 0, messages 9) 2 throttled, waited 1.5s 40 rows"
        );
        assert_eq!(
            message(Rows::default(), Some(&GraphCounters::default())),
            "0 Graph requests (teams 0, channels 0, messages 0)"
        );
    }
}
