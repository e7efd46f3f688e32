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
        }
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
        };
        let d = b.since(&a);
        assert_eq!((d.requests, d.throttled, d.retries), (4, 0, 1));
        assert_eq!(d.throttle_wait, Duration::from_secs(1));
        assert_eq!(d.class("teams_list"), 1);
        assert_eq!(d.class("members_list"), 3);
    }
}
