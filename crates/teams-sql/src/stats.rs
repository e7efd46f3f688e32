//! Per-query Graph counters for the summary line: the client keeps running totals, the shell
//! takes the difference across one statement.

use std::collections::BTreeMap;
use std::time::Duration;

use graph_client::StatsSnapshot;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct GraphCounters {
    pub requests: u64,
    pub throttled: u64,
    pub retries: u64,
    pub throttle_wait: Duration,
    pub per_class: BTreeMap<String, u64>,
    /// Distinct teams and channels the statement's scans found by listing them (see
    /// `TeamsHandle::discovered`): counted per statement already, so never differenced.
    pub teams_discovered: u64,
    pub channels_discovered: u64,
    /// Rows the Teams scans produced (running total, see `TeamsHandle::rows_produced`).
    pub rows_produced: u64,
}

impl GraphCounters {
    pub fn from_snapshot(s: &StatsSnapshot) -> Self {
        GraphCounters {
            requests: s.total_requests,
            throttled: s.throttled_429,
            retries: s.retries,
            throttle_wait: s.throttle_wait,
            per_class: s
                .requests
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            teams_discovered: 0,
            channels_discovered: 0,
            rows_produced: 0,
        }
    }

    pub fn with_scans(mut self, handle: &datafusion_teams::TeamsHandle) -> Self {
        let d = handle.discovered();
        self.teams_discovered = d.teams;
        self.channels_discovered = d.channels;
        self.rows_produced = handle.rows_produced();
        self
    }

    pub fn class(&self, name: &str) -> u64 {
        self.per_class.get(name).copied().unwrap_or(0)
    }

    /// Counters accumulated since `earlier`.
    pub fn since(&self, earlier: &GraphCounters) -> GraphCounters {
        GraphCounters {
            requests: self.requests.saturating_sub(earlier.requests),
            throttled: self.throttled.saturating_sub(earlier.throttled),
            retries: self.retries.saturating_sub(earlier.retries),
            throttle_wait: self.throttle_wait.saturating_sub(earlier.throttle_wait),
            per_class: self
                .per_class
                .iter()
                .map(|(k, v)| (k.clone(), v.saturating_sub(earlier.class(k))))
                .filter(|(_, v)| *v > 0)
                .collect(),
            teams_discovered: self.teams_discovered,
            channels_discovered: self.channels_discovered,
            rows_produced: self.rows_produced.saturating_sub(earlier.rows_produced),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn difference_per_query() {
        let a = GraphCounters {
            requests: 5,
            throttled: 1,
            retries: 1,
            throttle_wait: Duration::from_secs(2),
            per_class: [("teams_list".to_string(), 5)].into(),
            teams_discovered: 4,
            channels_discovered: 10,
            rows_produced: 100,
        };
        let b = GraphCounters {
            requests: 9,
            throttled: 1,
            retries: 2,
            throttle_wait: Duration::from_secs(3),
            per_class: [
                ("teams_list".to_string(), 6),
                ("members_list".to_string(), 3),
            ]
            .into(),
            teams_discovered: 4,
            channels_discovered: 13,
            rows_produced: 150,
        };
        let d = b.since(&a);
        assert_eq!((d.requests, d.throttled, d.retries), (4, 0, 1));
        assert_eq!(d.throttle_wait, Duration::from_secs(1));
        assert_eq!(d.class("teams_list"), 1);
        assert_eq!(d.class("members_list"), 3);
        // Discovery is counted per statement by the connector, so it is the later value.
        assert_eq!((d.teams_discovered, d.channels_discovered), (4, 13));
        assert_eq!(d.rows_produced, 50);
    }
}
