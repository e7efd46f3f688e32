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
    /// `rows` is `None` when the rows are consumed elsewhere (Delta writes).
    pub fn update(&mut self, rows: Option<usize>, since_start: Option<&GraphCounters>) {
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

fn message(rows: Option<usize>, g: Option<&GraphCounters>) -> String {
    let rows = rows.map(|r| format!("{r} rows")).unwrap_or_default();
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
    fn message_counts_what_discovery_found() {
        let g = GraphCounters {
            requests: 7,
            teams_discovered: 2,
            channels_discovered: 5,
            ..GraphCounters::default()
        };
        assert_eq!(
            message(Some(3), Some(&g)),
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
            message(Some(40), Some(&g)),
            "12 Graph requests (teams 1, channels 0, messages 9) 2 throttled, waited 1.5s 40 rows"
        );
        assert_eq!(
            message(None, Some(&GraphCounters::default())),
            "0 Graph requests (teams 0, channels 0, messages 0)"
        );
    }
}
