//! The request plan of one scan, decided at planning time from the pushed filters, the
//! projection, the limit and the options. EXPLAIN prints it; the sources follow it.

use std::collections::BTreeSet;
use std::fmt;

use chrono::Utc;
use datafusion::arrow::datatypes::SchemaRef;

use crate::access::{self, AccessPath, ChannelsFrom, Endpoints, Fallback, Read, TeamsFrom};
use crate::cost::Shape;
use crate::filters::{Pushdown, ValueSet};
use crate::options::TeamsOptions;
use crate::schema::{Table, graph_name};
use graph_client::ThrottleLimits;

pub use crate::cost::MESSAGES_MAX_TOP;

/// Columns `GET /teams` fills; anything else needs `GET /teams/{id}` per team.
const TEAM_LIST_COLUMNS: [&str; 4] = ["id", "display_name", "description", "visibility"];

/// `team.tags` is listed among the team's properties but Graph serves it as a relationship:
/// `$select=tags` is a 400. The column stays (null unless Graph inlines it) and is never selected.
const NOT_SELECTABLE_TEAM_COLUMNS: [&str; 1] = ["tags"];

/// Documented maximum `$top` of `GET /teams/{id}/members`.
pub const MEMBERS_MAX_TOP: u32 = 999;

/// What the run knows that the access decision uses besides the query.
#[derive(Debug, Clone, Default)]
pub struct RunFacts {
    /// The client's limits at its current scale (`None`: the client does not pace).
    pub limits: Option<ThrottleLimits>,
    /// The tenant as a full read in this run saw it.
    pub shape: Option<Shape>,
    /// The export API was refused earlier in this run.
    pub export_refused: bool,
}

#[derive(Debug, Clone)]
pub struct ScanPlan {
    pub table: Table,
    /// Projected schema the scan outputs.
    pub schema: SchemaRef,
    pub pushdown: Pushdown,
    pub options: TeamsOptions,
    pub limit: Option<usize>,
    /// The endpoints the scan calls, decided here once; the sources follow it.
    pub access: AccessPath,
}

impl ScanPlan {
    pub fn new(
        table: Table,
        schema: SchemaRef,
        pushdown: Pushdown,
        options: TeamsOptions,
        limit: Option<usize>,
        facts: &RunFacts,
    ) -> Self {
        let team_detail = table == Table::Teams
            && schema
                .fields()
                .iter()
                .any(|f| !TEAM_LIST_COLUMNS.contains(&f.name().as_str()));
        let access = AccessPath::decide(access::Inputs {
            table,
            pushdown: &pushdown,
            source: options.message_source,
            limit,
            team_detail,
            now: Utc::now(),
            export_refused: facts.export_refused,
            // `SET teams.throttle_scale` reaches the client only when a scan runs; the
            // estimate must use it from the first plan after the SET.
            limits: facts.limits.clone().map(|l| match options.throttle_scale {
                Some(scale) => l.scaled(scale.get()),
                None => l,
            }),
            shape: facts.shape,
        });
        ScanPlan {
            table,
            schema,
            pushdown,
            options,
            limit,
            access,
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

    /// `$top` for getAllMessages, which documents no maximum (docs/graph.md §3.2): the page
    /// size a user set, else the 50 Microsoft's export guide uses. Scans and sync's feed both
    /// ask it here, so neither sends a size Graph may refuse.
    pub fn export_top(&self) -> u32 {
        self.top(None, false).unwrap_or(MESSAGES_MAX_TOP)
    }

    fn requests(&self) -> Vec<String> {
        let p = &self.pushdown;
        let a = &self.access;
        let mut out = Vec::new();
        let select = self.select_list().join(",");
        if self.table != Table::Teams && a.teams == TeamsFrom::Listed && a.read != Read::Nothing {
            out.push("GET /teams?$select=id,displayName (discover teams)".to_string());
        }
        if a.lists_channels_first() && self.table.is_message_table() {
            out.push(if p.channel_ids.is_some() && p.team_ids.is_some() {
                "GET /teams/{team}/channels?$select=id,displayName per named team (which named channels it holds)".into()
            } else {
                "GET /teams/{team}/channels?$select=id,displayName (discover channels)".into()
            });
        }
        let replies = self.table == Table::MessageReplies;
        let listing = |chosen: String| {
            format!(
                "GET /teams/{{team}}/channels/{{channel}}/messages?$top={}{}{chosen}",
                self.top(Some(MESSAGES_MAX_TOP), !replies)
                    .unwrap_or(MESSAGES_MAX_TOP),
                if replies {
                    "&$expand=replies (+ replies@odata.nextLink beyond 1000)"
                } else {
                    ""
                }
            )
        };
        let fallback_channels = if a.channels == ChannelsFrom::Listed {
            "channel discovery, then "
        } else {
            ""
        };
        match &a.read {
            Read::Nothing => out.push("none (the filters contradict each other)".into()),
            Read::TeamGet => out.push(format!("GET /teams/{{id}}?$select={select} per id")),
            Read::TeamListThenGet => {
                out.push(format!(
                    "GET /teams?$select={}",
                    self.team_list_select().join(",")
                ));
                out.push(format!("GET /teams/{{id}}?$select={select} per team (projected columns need the full team)"));
            }
            Read::TeamList => out.push(format!("GET /teams?$select={select}")),
            Read::ChannelGet => out.push(format!(
                "GET /teams/{{team}}/channels/{{id}}?$select={select} per id"
            )),
            Read::ChannelList => {
                let mut r = format!("GET /teams/{{team}}/channels?$select={select}");
                if let Some(m) = &p.membership_types {
                    r.push_str(&format!(" $filter=membershipType in {}", set(m)));
                }
                out.push(r);
            }
            Read::MemberList => {
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
            Read::MessageGet(cost) => out.push(format!(
                "GET /teams/{{team}}/channels/{{channel}}/messages/{{id}} per message id ({cost})"
            )),
            Read::RepliesByParent(cost) => out.push(format!(
                "GET /teams/{{team}}/channels/{{channel}}/messages/{{id}}/replies?$top={} per parent message ({cost})",
                self.top(Some(MESSAGES_MAX_TOP), false)
                    .unwrap_or(MESSAGES_MAX_TOP)
            )),
            Read::Listing(cost) => {
                out.push(listing(cost.map(|c| format!(" ({c})")).unwrap_or_default()))
            }
            Read::Export { fallback } => out.push(format!(
                "GET /teams/{{team}}/channels/getAllMessages?$top={}{} (fallback: {fallback_channels}{})",
                self.top(None, false).unwrap_or(MESSAGES_MAX_TOP),
                if p.modified.is_empty() {
                    ""
                } else {
                    " $filter=lastModifiedDateTime range"
                },
                match fallback {
                    Fallback::Delta => "channel delta",
                    Fallback::Listing => "channel listing",
                }
            )),
            Read::Delta => out.push(format!(
                "GET /teams/{{team}}/channels/{{channel}}/messages/delta?$top={}{} $filter=lastModifiedDateTime gt (fallback: channel listing)",
                self.top(Some(MESSAGES_MAX_TOP), false)
                    .unwrap_or(MESSAGES_MAX_TOP),
                if replies { "&$expand=replies" } else { "" }
            )),
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
            let source = self.access.source();
            write!(f, ", source={source}")?;
            if self.options.message_source != source {
                write!(f, " (option {})", self.options.message_source)?;
            }
            if let Some(choice) = &self.access.choice {
                write!(f, " ({choice})")?;
            }
        }
        if let Some(l) = self.limit {
            write!(f, ", limit={l}")?;
        }
        write!(
            f,
            ", concurrency={}, requests=[{}], {}",
            self.options.concurrency,
            self.requests().join(" -> "),
            Endpoints(&self.access, self.table)
        )
    }
}
