//! The request plan of one scan, decided at planning time from the pushed filters, the
//! projection, the limit and the options. EXPLAIN prints it; the sources follow it.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use datafusion::arrow::datatypes::SchemaRef;

use crate::filters::{Pushdown, ValueSet};
use crate::options::{MessageSource, TeamsOptions};
use crate::schema::{Table, graph_name};

/// Columns `GET /teams` fills; anything else needs `GET /teams/{id}` per team.
const TEAM_LIST_COLUMNS: [&str; 4] = ["id", "display_name", "description", "visibility"];

/// `team.tags` is listed among the team's properties but Graph serves it as a relationship:
/// `$select=tags` is a 400. The column stays (null unless Graph inlines it) and is never selected.
const NOT_SELECTABLE_TEAM_COLUMNS: [&str; 1] = ["tags"];

/// Documented maximum `$top` of the message endpoints (list, replies, delta).
pub const MESSAGES_MAX_TOP: u32 = 50;
/// Documented maximum `$top` of `GET /teams/{id}/members`.
pub const MEMBERS_MAX_TOP: u32 = 999;

/// Channel delta only returns messages of the last eight months; keep a margin of days so a
/// bound close to the edge is not silently cut by Graph.
pub fn delta_window_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now - Duration::days(8 * 30 - 5)
}

#[derive(Debug, Clone)]
pub struct ScanPlan {
    pub table: Table,
    /// Projected schema the scan outputs.
    pub schema: SchemaRef,
    pub pushdown: Pushdown,
    pub options: TeamsOptions,
    pub limit: Option<usize>,
    /// For message tables: the source chosen before any fallback.
    pub source: MessageSource,
    /// For `teams`: projected columns need `GET /teams/{id}`.
    pub team_detail: bool,
    /// For message tables naming teams, channels and message (or parent) ids: point reads or
    /// the listing, decided once here for the whole scan (partitions keep it).
    pub access: Option<Access>,
    /// For message tables naming several teams and several channels: list each team's
    /// channels first instead of trying every (team, channel) of the product.
    pub learn_pairs: bool,
}

/// Point reads cost at most this many times the cheapest listing, per channel. A listing
/// costs one request per channel only while the channel holds at most 50 posts (§2.6, §3.2 of
/// docs/graph.md: `$top` at most 50, replies inline), and nothing says in advance how many it
/// holds; point reads cost exactly one request per id (§2.8; §2.7 for a parent's replies, one
/// page of 50 replies). Four ids per channel is at most four times a one-page listing, which a
/// channel of 200 posts or more already costs, so a few named ids never risk a long listing.
pub const POINT_READS_PER_CHANNEL: usize = 4;

/// The chosen way to reach named messages, with both estimates for EXPLAIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    pub point_reads: bool,
    /// Requests of the point reads, the channel listings of `learn_pairs` included.
    pub point_requests: usize,
    /// Fewest requests the listing can cost (one page per channel, pair learning included).
    pub listing_requests: usize,
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (point, list) = (self.point_requests, self.listing_requests);
        if self.point_reads {
            write!(f, "chose {point} point reads vs >= {list} listing requests")
        } else {
            write!(f, "chose >= {list} listing requests vs {point} point reads")
        }
    }
}

/// Cost model of a message scan naming `teams` teams, `channels` channels and `keys` message
/// (or parent) ids per channel. A channel belongs to one team, so the blind product
/// teams x channels wastes requests on pairs that do not exist; listing each team's channels
/// (one request per team, `GET /teams/{t}/channels`, §2.4) finds the real pairs, at most one
/// per channel. Returns whether to learn the pairs, and the access when ids are named.
fn cost(teams: usize, channels: usize, keys: Option<usize>) -> (bool, Option<Access>) {
    let blind = |per_pair: usize| teams * channels * per_pair;
    let learned = |per_pair: usize| teams + channels * per_pair;
    let cheapest = |per_pair: usize| {
        (
            learned(per_pair) < blind(per_pair),
            blind(per_pair).min(learned(per_pair)),
        )
    };
    let Some(keys) = keys else {
        return (cheapest(1).0, None);
    };
    let point_reads = keys <= POINT_READS_PER_CHANNEL;
    let (learn_point, point_requests) = cheapest(keys);
    let (learn_list, listing_requests) = cheapest(1);
    let access = Access {
        point_reads,
        point_requests,
        listing_requests,
    };
    (
        if point_reads { learn_point } else { learn_list },
        Some(access),
    )
}

impl ScanPlan {
    pub fn new(
        table: Table,
        schema: SchemaRef,
        pushdown: Pushdown,
        options: TeamsOptions,
        limit: Option<usize>,
    ) -> Self {
        let source = if table.is_message_table() {
            match options.message_source {
                MessageSource::Auto if !pushdown.modified.is_empty() => MessageSource::Export,
                MessageSource::Auto => MessageSource::Channel,
                forced => forced,
            }
        } else {
            MessageSource::Channel
        };
        let team_detail = table == Table::Teams
            && schema
                .fields()
                .iter()
                .any(|f| !TEAM_LIST_COLUMNS.contains(&f.name().as_str()));
        let (learn_pairs, access) = match (&pushdown.team_ids, &pushdown.channel_ids) {
            (Some(t), Some(c)) if table.is_message_table() => {
                let keys = match table {
                    Table::MessageReplies => pushdown.parent_message_ids.as_ref(),
                    _ => pushdown.ids.as_ref(),
                };
                cost(t.len(), c.len(), keys.map(|k| k.len()))
            }
            _ => (false, None),
        };
        ScanPlan {
            table,
            schema,
            pushdown,
            options,
            limit,
            source,
            team_detail,
            access,
            learn_pairs,
        }
    }

    /// One plan per output partition: named teams are dealt round-robin over up to
    /// `target_partitions` partitions; anything else stays one plan.
    pub fn split_by_team(&self, target_partitions: usize) -> Vec<ScanPlan> {
        let teams = match (&self.pushdown.team_ids, self.table) {
            (Some(t), table) if table != Table::Teams && t.len() > 1 => t,
            _ => return vec![self.clone()],
        };
        let n = target_partitions.clamp(1, teams.len());
        let mut groups: Vec<ValueSet> = vec![ValueSet::new(); n];
        for (i, t) in teams.iter().enumerate() {
            groups[i % n].insert(t.clone());
        }
        groups
            .into_iter()
            .map(|g| {
                let mut plan = self.clone();
                plan.pushdown.team_ids = Some(g);
                plan
            })
            .collect()
    }

    /// Graph names for `$select`: the projected columns that are Graph properties, plus `id`
    /// (needed to filter and to find children).
    pub fn select_list(&self) -> Vec<String> {
        let mut cols: BTreeSet<String> = BTreeSet::from(["id".to_string()]);
        for f in self.schema.fields() {
            let name = f.name().as_str();
            let derived = matches!(name, "team_id" | "channel_id" | "parent_message_id");
            let unselectable =
                self.table == Table::Teams && NOT_SELECTABLE_TEAM_COLUMNS.contains(&name);
            if !derived && !unselectable {
                cols.insert(graph_name(name));
            }
        }
        cols.into_iter().collect()
    }

    /// `$select` of `GET /teams` when the details come from `GET /teams/{id}`: the projected
    /// columns the listing has (kept for a team whose details are refused), and the display
    /// name that names a refused team.
    pub fn team_list_select(&self) -> Vec<String> {
        let listed: Vec<String> = TEAM_LIST_COLUMNS.iter().map(|c| graph_name(c)).collect();
        let mut cols: BTreeSet<String> = self
            .select_list()
            .into_iter()
            .filter(|c| listed.contains(c))
            .collect();
        cols.insert("displayName".to_string());
        cols.into_iter().collect()
    }

    /// `$top` for an endpoint whose documented maximum is `max` (None: send no `$top`).
    pub fn top(&self, max: Option<u32>, limit_applies: bool) -> Option<u32> {
        let mut top = match (self.options.page_size, max) {
            (Some(p), Some(m)) => Some(p.min(m)),
            (Some(p), None) => Some(p),
            (None, m) => m,
        };
        // With a pushed LIMIT (all filters exact) a smaller first page is all we need.
        if limit_applies && let Some(l) = self.limit {
            let l = u32::try_from(l.max(1)).unwrap_or(u32::MAX);
            top = Some(top.map_or(l, |t| t.min(l)));
        }
        top
    }

    /// Whether the pushed lower time bound allows channel delta (8-month window).
    pub fn delta_usable(&self, now: DateTime<Utc>) -> bool {
        self.pushdown
            .modified
            .lower
            .and_then(|b| DateTime::<Utc>::from_timestamp_micros(b.micros))
            .is_some_and(|lower| lower >= delta_window_start(now))
    }

    fn requests(&self) -> Vec<String> {
        let p = &self.pushdown;
        let mut out = Vec::new();
        let teams_discovery = || "GET /teams?$select=id,displayName (discover teams)".to_string();
        let select = self.select_list().join(",");
        match self.table {
            Table::Teams => match &p.ids {
                Some(_) => out.push(format!("GET /teams/{{id}}?$select={select} per id")),
                None if self.team_detail => {
                    out.push(format!(
                        "GET /teams?$select={}",
                        self.team_list_select().join(",")
                    ));
                    out.push(format!("GET /teams/{{id}}?$select={select} per team (projected columns need the full team)"));
                }
                None => out.push(format!("GET /teams?$select={select}")),
            },
            Table::Channels => {
                if p.team_ids.is_none() {
                    out.push(teams_discovery());
                }
                if p.ids.is_some() && p.team_ids.is_some() {
                    out.push(format!(
                        "GET /teams/{{team}}/channels/{{id}}?$select={select} per id"
                    ));
                } else {
                    let mut r = format!("GET /teams/{{team}}/channels?$select={select}");
                    if let Some(m) = &p.membership_types {
                        r.push_str(&format!(" $filter=membershipType in {}", set(m)));
                    }
                    out.push(r);
                }
            }
            Table::Members => {
                if p.team_ids.is_none() {
                    out.push(teams_discovery());
                }
                let mut r = "GET /teams/{team}/members".to_string();
                if let Some(t) = self.top(Some(MEMBERS_MAX_TOP), true) {
                    r.push_str(&format!("?$top={t}"));
                }
                if let Some(u) = &p.user_ids {
                    r.push_str(&format!(" $filter=userId in {}", set(u)));
                }
                if let Some(e) = &p.emails {
                    r.push_str(&format!(" $filter=email in {}", set(e)));
                }
                out.push(r);
            }
            Table::Messages | Table::MessageReplies => {
                if p.team_ids.is_none() {
                    out.push(teams_discovery());
                }
                let replies = self.table == Table::MessageReplies;
                let point_reads = self.access.filter(|a| a.point_reads);
                if self.learn_pairs
                    && (point_reads.is_some() || self.source != MessageSource::Export)
                {
                    out.push(
                        "GET /teams/{team}/channels?$select=id,displayName per named team (which named channels it holds)"
                            .into(),
                    );
                } else if self.source != MessageSource::Export
                    && !(p.channel_ids.is_some() && p.team_ids.is_some())
                {
                    out.push(
                        "GET /teams/{team}/channels?$select=id,displayName (discover channels)"
                            .into(),
                    );
                }
                let chosen = self.access.map(|a| format!(" ({a})")).unwrap_or_default();
                match self.source {
                    _ if point_reads.is_some() && !replies => out.push(format!(
                        "GET /teams/{{team}}/channels/{{channel}}/messages/{{id}} per message id{chosen}"
                    )),
                    _ if point_reads.is_some() => out.push(format!(
                        "GET /teams/{{team}}/channels/{{channel}}/messages/{{id}}/replies?$top={} per parent message{chosen}",
                        self.top(Some(MESSAGES_MAX_TOP), false).unwrap_or(MESSAGES_MAX_TOP)
                    )),
                    MessageSource::Export => out.push(format!(
                        "GET /teams/{{team}}/channels/getAllMessages?$top={} $filter=lastModifiedDateTime range (fallback: channel listing)",
                        self.top(None, false).unwrap_or(MESSAGES_MAX_TOP)
                    )),
                    MessageSource::Delta => out.push(format!(
                        "GET /teams/{{team}}/channels/{{channel}}/messages/delta?$top={}{} $filter=lastModifiedDateTime gt (fallback: channel listing)",
                        self.top(Some(MESSAGES_MAX_TOP), false).unwrap_or(MESSAGES_MAX_TOP),
                        if replies { "&$expand=replies" } else { "" }
                    )),
                    _ => out.push(format!(
                        "GET /teams/{{team}}/channels/{{channel}}/messages?$top={}{}{chosen}",
                        self.top(Some(MESSAGES_MAX_TOP), !replies).unwrap_or(MESSAGES_MAX_TOP),
                        if replies { "&$expand=replies (+ replies@odata.nextLink beyond 1000)" } else { "" }
                    )),
                }
            }
        }
        out
    }
}

fn set(values: &ValueSet) -> String {
    let v: Vec<String> = values.iter().map(|s| format!("'{s}'")).collect();
    format!("({})", v.join(", "))
}

impl fmt::Display for ScanPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.pushdown;
        write!(f, "table={}, pushed={}", self.table, p)?;
        let mut parents = Vec::new();
        for (name, s) in [
            ("id", &p.ids),
            ("team_id", &p.team_ids),
            ("channel_id", &p.channel_ids),
            ("parent_message_id", &p.parent_message_ids),
        ] {
            if let Some(s) = s {
                parents.push(format!("{name} in {}", set(s)));
            }
        }
        if !parents.is_empty() {
            write!(f, ", parents=[{}]", parents.join(", "))?;
        }
        if self.table.is_message_table() {
            write!(f, ", source={}", self.source)?;
            if self.options.message_source != self.source {
                write!(f, " (option {})", self.options.message_source)?;
            }
        }
        if let Some(l) = self.limit {
            write!(f, ", limit={l}")?;
        }
        write!(
            f,
            ", concurrency={}, requests=[{}]",
            self.options.concurrency,
            self.requests().join(" -> ")
        )
    }
}
