//! The access path of one scan: which Graph endpoints it calls, in which order, decided once
//! when the scan is planned. EXPLAIN prints it (requests and endpoint classes) and the sources
//! execute it; neither decides again, so EXPLAIN always describes the plan that runs.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use graph_client::EndpointClass;

use crate::cost::{self, PointCost, SourceChoice};
use crate::filters::Pushdown;
use crate::options::MessageSource;
use crate::schema::Table;

/// Channel delta only returns messages of the last eight months; keep a margin of days so a
/// bound close to the edge is not silently cut by Graph.
pub fn delta_window_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now - Duration::days(8 * 30 - 5)
}

/// Whether a pushed lower time bound allows channel delta (8-month window).
fn delta_usable(pushdown: &Pushdown, now: DateTime<Utc>) -> bool {
    pushdown
        .modified
        .lower
        .and_then(|b| DateTime::<Utc>::from_timestamp_micros(b.micros))
        .is_some_and(|lower| lower >= delta_window_start(now))
}

/// How a scan finds the teams it reads (every table but `teams`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamsFrom {
    /// The pushed `team_id` values: no request.
    Named,
    /// `GET /teams?$select=id,displayName`, page by page.
    Listed,
}

/// How a message scan finds the (team, channel) pairs it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelsFrom {
    /// Every named channel in every named team: no request.
    Named,
    /// `GET /teams/{team}/channels?$select=id,displayName` per team, kept to the named
    /// channels if any (for several named teams and channels: the pairs that exist).
    Listed,
}

/// Where a refused export API sends the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    Listing,
    /// Channel delta (then the listing, should delta be refused too).
    Delta,
}

/// The requests that produce the table's rows.
#[derive(Debug, Clone, PartialEq)]
pub enum Read {
    /// The filters contradict each other: no request at all.
    Nothing,
    /// `GET /teams/{id}` per named id.
    TeamGet,
    /// `GET /teams`.
    TeamList,
    /// `GET /teams`, then `GET /teams/{id}` per team (projected columns need the full team).
    TeamListThenGet,
    /// `GET /teams/{t}/channels/{id}` per named id.
    ChannelGet,
    /// `GET /teams/{t}/channels`, with `$filter` on membershipType.
    ChannelList,
    /// `GET /teams/{t}/members`, with `$filter` on userId / email.
    MemberList,
    /// `GET .../messages/{id}` per named message id and channel.
    MessageGet(PointCost),
    /// `GET .../messages/{id}/replies` per named parent and channel.
    RepliesByParent(PointCost),
    /// `GET .../messages` (`$expand=replies` for replies); the point-read estimate it beat.
    Listing(Option<PointCost>),
    /// `GET /teams/{t}/channels/getAllMessages` per team; `fallback` once refused.
    Export { fallback: Fallback },
    /// `GET .../messages/delta` per channel; the listing once refused.
    Delta,
}

/// One scan's decided access.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessPath {
    pub teams: TeamsFrom,
    pub channels: ChannelsFrom,
    pub read: Read,
    /// Why a message source was chosen (auto), with the lower-bound estimate.
    pub choice: Option<SourceChoice>,
    /// Said to the user when the scan runs: the option asked for what this query cannot use.
    pub notice: Option<String>,
}

/// What the decision looks at besides the table and its pushed filters.
pub struct Inputs<'a> {
    pub table: Table,
    pub pushdown: &'a Pushdown,
    pub source: MessageSource,
    pub limit: Option<usize>,
    /// For `teams`: projected columns need `GET /teams/{id}`.
    pub team_detail: bool,
    pub now: DateTime<Utc>,
    /// The export API was refused earlier in this run.
    pub export_refused: bool,
    /// The limits the scan will pace by (its `throttle_scale` applied).
    pub limits: Option<graph_client::ThrottleLimits>,
    /// The tenant as a full read in this run saw it.
    pub shape: Option<cost::Shape>,
}

impl AccessPath {
    pub fn decide(i: Inputs<'_>) -> AccessPath {
        let p = i.pushdown;
        let teams = if p.team_ids.is_some() {
            TeamsFrom::Named
        } else {
            TeamsFrom::Listed
        };
        let mut path = AccessPath {
            teams,
            channels: ChannelsFrom::Listed,
            read: Read::Nothing,
            choice: None,
            notice: None,
        };
        if p.is_contradiction() {
            // `team_id = 'a' AND team_id = 'b'`: no row can match, no request is needed.
            return path;
        }
        path.read = match i.table {
            Table::Teams if p.ids.is_some() => Read::TeamGet,
            Table::Teams if i.team_detail => Read::TeamListThenGet,
            Table::Teams => Read::TeamList,
            Table::Channels if p.ids.is_some() && p.team_ids.is_some() => Read::ChannelGet,
            Table::Channels => Read::ChannelList,
            Table::Members => Read::MemberList,
            Table::Messages | Table::MessageReplies => return Self::messages(i, path),
        };
        path
    }

    fn messages(i: Inputs<'_>, mut path: AccessPath) -> AccessPath {
        let p = i.pushdown;
        let replies = i.table == Table::MessageReplies;
        // Named teams and channels: point reads or the listing, and the pairs to read.
        let mut point = None;
        if let (Some(t), Some(c)) = (&p.team_ids, &p.channel_ids) {
            let keys = if replies {
                p.parent_message_ids.as_ref()
            } else {
                p.ids.as_ref()
            };
            let (learn_pairs, access) = cost::point_reads(t.len(), c.len(), keys.map(|k| k.len()));
            path.channels = if learn_pairs {
                ChannelsFrom::Listed
            } else {
                ChannelsFrom::Named
            };
            point = access;
        }
        if let Some(a) = point.filter(|a| a.point_reads) {
            path.read = if replies {
                Read::RepliesByParent(a)
            } else {
                Read::MessageGet(a)
            };
            return path;
        }
        let delta_ok = delta_usable(p, i.now);
        path.read = match i.source {
            MessageSource::Auto | MessageSource::Export if i.export_refused => {
                path.choice = Some(SourceChoice {
                    export: false,
                    bounds: None,
                    reason: "the export API was refused earlier in this run",
                });
                if delta_ok && i.source == MessageSource::Auto {
                    Read::Delta
                } else {
                    Read::Listing(point)
                }
            }
            MessageSource::Channel => Read::Listing(point),
            MessageSource::Export => Read::Export {
                fallback: Fallback::Listing,
            },
            MessageSource::Delta if delta_ok => Read::Delta,
            MessageSource::Delta => {
                path.notice = Some(format!(
                    "message_source=delta needs a last_modified_date_time lower bound within the last 8 months (channel delta only returns that window); reading {} from the channel listing instead",
                    i.table
                ));
                Read::Listing(point)
            }
            MessageSource::Auto => {
                let fallback = if delta_ok {
                    Fallback::Delta
                } else {
                    Fallback::Listing
                };
                if !p.modified.is_empty() {
                    // A time range: the export API filters it server-side, the listing cannot.
                    Read::Export { fallback }
                } else {
                    let choice = cost::is_full_read(p, i.limit).then(|| {
                        let named = p.team_ids.as_ref().map(|t| t.len());
                        cost::full_read(i.limits.as_ref(), i.shape.as_ref(), named)
                    });
                    let export = choice.as_ref().is_some_and(|c| c.export);
                    path.choice = choice;
                    if export {
                        Read::Export { fallback }
                    } else {
                        Read::Listing(point)
                    }
                }
            }
        };
        path
    }

    /// The message source this path reads from.
    pub fn source(&self) -> MessageSource {
        match self.read {
            Read::Export { .. } => MessageSource::Export,
            Read::Delta => MessageSource::Delta,
            _ => MessageSource::Channel,
        }
    }

    /// Whether the message channels are listed before the rows are read.
    pub fn lists_channels_first(&self) -> bool {
        self.channels == ChannelsFrom::Listed
            && matches!(
                self.read,
                Read::MessageGet(_) | Read::RepliesByParent(_) | Read::Listing(_) | Read::Delta
            )
    }

    /// The endpoint classes the path calls, each with whether it is certain to be called (for
    /// a scan that reads anything) or only in some case (a fallback, a long thread).
    pub fn endpoints(&self, table: Table) -> Vec<(EndpointClass, bool)> {
        use EndpointClass::*;
        let mut out: Vec<(EndpointClass, bool)> = Vec::new();
        if self.read == Read::Nothing {
            return out;
        }
        if table != Table::Teams && self.teams == TeamsFrom::Listed {
            out.push((TeamsList, true));
        }
        if self.lists_channels_first() {
            out.push((ChannelsList, true));
        }
        // After a refusal (export, delta): the channels, then their listing.
        let after_refusal = |out: &mut Vec<(EndpointClass, bool)>, delta: bool| {
            if self.channels == ChannelsFrom::Listed {
                out.push((ChannelsList, false));
            }
            if delta {
                out.push((MessagesDelta, false));
            }
            out.push((MessagesList, false));
            if table == Table::MessageReplies {
                out.push((RepliesList, false));
            }
        };
        match &self.read {
            Read::Nothing => {}
            Read::TeamGet => out.push((TeamGet, true)),
            Read::TeamList => out.push((TeamsList, true)),
            Read::TeamListThenGet => {
                out.push((TeamsList, true));
                out.push((TeamGet, true));
            }
            Read::ChannelGet => out.push((ChannelGet, true)),
            Read::ChannelList => out.push((ChannelsList, true)),
            Read::MemberList => out.push((MembersList, true)),
            Read::MessageGet(_) => out.push((MessageGet, true)),
            Read::RepliesByParent(_) => out.push((RepliesList, true)),
            Read::Listing(_) => {
                out.push((MessagesList, true));
                if table == Table::MessageReplies {
                    out.push((RepliesList, false));
                }
            }
            Read::Export { fallback } => {
                out.push((GetAllMessages, true));
                after_refusal(&mut out, *fallback == Fallback::Delta);
            }
            Read::Delta => {
                out.push((MessagesDelta, true));
                after_refusal(&mut out, false);
            }
        }
        let mut seen = BTreeSet::new();
        out.retain(|(c, _)| seen.insert(c.as_str()));
        out
    }
}

/// `endpoints=[teams_list, messages_list, replies_list?]`: `?` marks an endpoint called only in
/// some case (a refusal's fallback, a long thread).
pub struct Endpoints<'a>(pub &'a AccessPath, pub Table);

impl fmt::Display for Endpoints<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list: Vec<String> = self
            .0
            .endpoints(self.1)
            .into_iter()
            .map(|(c, certain)| format!("{}{}", c.as_str(), if certain { "" } else { "?" }))
            .collect();
        write!(f, "endpoints=[{}]", list.join(", "))
    }
}
