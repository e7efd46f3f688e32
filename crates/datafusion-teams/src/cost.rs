//! The request arithmetic behind a scan's access path, in one place: point reads against the
//! listing (requests), and for a full read the channel listing against the export API (the
//! lower bound of its duration: requests divided by the documented rates that bind).

use std::fmt;

use graph_client::{EndpointClass, Scope, ThrottleLimits};

use crate::filters::Pushdown;

/// Documented maximum `$top` of the message endpoints (list, replies, delta). getAllMessages
/// documents no maximum (docs/graph.md §3.2), so it is asked for the same 50.
pub const MESSAGES_MAX_TOP: u32 = 50;

/// Point reads cost at most this many times the cheapest listing, per channel. A listing
/// costs one request per channel only while the channel holds at most 50 posts (§2.6, §3.2 of
/// docs/graph.md: `$top` at most 50, replies inline), and nothing says in advance how many it
/// holds; point reads cost exactly one request per id (§2.8; §2.7 for a parent's replies, one
/// page of 50 replies). Four ids per channel is at most four times a one-page listing, which a
/// channel of 200 posts or more already costs, so a few named ids never risk a long listing.
pub const POINT_READS_PER_CHANNEL: usize = 4;

/// The chosen way to reach named messages, with both estimates for EXPLAIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PointCost {
    pub point_reads: bool,
    /// Requests of the point reads, the channel listings of pair learning included.
    pub point_requests: usize,
    /// Fewest requests the listing can cost (one page per channel, pair learning included).
    pub listing_requests: usize,
}

impl fmt::Display for PointCost {
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
/// per channel. Returns whether to learn the pairs, and the cost when ids are named.
pub fn point_reads(
    teams: usize,
    channels: usize,
    keys: Option<usize>,
) -> (bool, Option<PointCost>) {
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
    let cost = PointCost {
        point_reads,
        point_requests,
        listing_requests,
    };
    (
        if point_reads { learn_point } else { learn_list },
        Some(cost),
    )
}

/// What this run has seen of the tenant by reading it whole: how many teams, channels, posts
/// and replies. The duration of a full read depends on them (replies cost export pages that
/// the listing gets inline), and Graph says nothing of them before they are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shape {
    pub teams: u64,
    pub channels: u64,
    pub posts: u64,
    pub replies: u64,
}

/// The lower bound of a full read's duration through one source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    pub requests: u64,
    pub seconds: f64,
}

/// Why `auto` read a full scan from the source it chose.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceChoice {
    pub export: bool,
    /// `None` when the shape or the rates are unknown: the listing is kept.
    pub bounds: Option<(Bound, Bound)>,
    pub reason: &'static str,
}

impl fmt::Display for SourceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.bounds {
            Some((listing, export)) => write!(
                f,
                "auto: {}; lower bounds: export >= {} requests, {:.2}s vs listing >= {} requests, {:.2}s",
                self.reason, export.requests, export.seconds, listing.requests, listing.seconds
            ),
            None => write!(f, "auto: {}", self.reason),
        }
    }
}

/// Lower bounds of reading `shape` whole through the channel listing and through the export
/// API, by the client's own arithmetic ([`ThrottleLimits::lower_bound`], which the benches
/// divide wall time by too). Listing: one channel list per team, then `ceil(posts / 50)` pages
/// per channel (at least one) with replies inline. Export: `ceil((posts + replies) / 50)` pages
/// per team (at least one). Channels are spread evenly over the teams and posts over the
/// channels: the real spread can only make either read slower.
pub fn bounds(shape: &Shape, limits: &ThrottleLimits) -> (Bound, Bound) {
    let teams: Vec<Scope> = (0..shape.teams.max(1))
        .map(|t| Scope::team(format!("t{t}")))
        .collect();
    let channels: Vec<Scope> = (0..shape.channels.max(1))
        .map(|c| Scope::channel(format!("t{}", c % teams.len() as u64), format!("c{c}")))
        .collect();
    let page = u64::from(MESSAGES_MAX_TOP);
    let per_channel = shape.posts.div_ceil(channels.len() as u64 * page).max(1);
    let listing = teams
        .iter()
        .map(|t| (EndpointClass::ChannelsList, t))
        .chain(channels.iter().flat_map(|c| {
            std::iter::repeat_n((EndpointClass::MessagesList, c), per_channel as usize)
        }));
    let listing = Bound {
        requests: teams.len() as u64 + channels.len() as u64 * per_channel,
        seconds: limits.lower_bound(listing).as_secs_f64(),
    };
    let per_team = (shape.posts + shape.replies)
        .div_ceil(teams.len() as u64 * page)
        .max(1);
    let export = teams
        .iter()
        .flat_map(|t| std::iter::repeat_n((EndpointClass::GetAllMessages, t), per_team as usize));
    let export = Bound {
        requests: teams.len() as u64 * per_team,
        seconds: limits.lower_bound(export).as_secs_f64(),
    };
    (listing, export)
}

/// `auto`'s choice for a full read: the export API when its lower bound is below the
/// listing's for the shape this run has seen; the listing while the shape is unknown.
pub fn full_read(
    limits: Option<&ThrottleLimits>,
    shape: Option<&Shape>,
    teams_named: Option<usize>,
) -> SourceChoice {
    let (Some(limits), Some(seen)) = (limits.filter(|l| l.enabled), shape) else {
        return SourceChoice {
            export: false,
            bounds: None,
            reason: "the listing, until a full read in this run has shown how many posts and replies the tenant holds",
        };
    };
    let mut shape = *seen;
    if let Some(n) = teams_named {
        // Named teams: scale the seen tenant to them, by its means per team.
        let per_team = |x: u64| x.div_ceil(seen.teams.max(1)) * n as u64;
        shape = Shape {
            teams: n as u64,
            channels: per_team(seen.channels),
            posts: per_team(seen.posts),
            replies: per_team(seen.replies),
        };
    }
    let (listing, export) = bounds(&shape, limits);
    let cheaper = export.seconds < listing.seconds;
    SourceChoice {
        export: cheaper,
        bounds: Some((listing, export)),
        reason: if cheaper {
            "the export API reads this tenant faster (fallback: the listing if it is refused)"
        } else {
            "the listing reads this tenant faster"
        },
    }
}

/// Whether a scan with these filters reads the tenant (or its named teams) whole.
pub fn is_full_read(p: &Pushdown, limit: Option<usize>) -> bool {
    p.channel_ids.is_none()
        && p.ids.is_none()
        && p.parent_message_ids.is_none()
        && p.modified.is_empty()
        && limit.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn microsoft() -> ThrottleLimits {
        ThrottleLimits::microsoft()
    }

    #[test]
    fn issue_tenant_reads_faster_through_export() {
        // 20 teams, 100 channels, 6,000 posts, 20,931 replies (issue 12's measured tenant):
        // the listing is bound by the tenant's 20/s (200 pages: the last one 9.95 s after the
        // first), export by 4/s on each team's 27 pages (6.5 s).
        let shape = Shape {
            teams: 20,
            channels: 100,
            posts: 6000,
            replies: 20_931,
        };
        let (listing, export) = bounds(&shape, &microsoft());
        assert_eq!(listing.requests, 220);
        assert!((listing.seconds - 9.95).abs() < 1e-6, "{listing:?}");
        assert_eq!(export.requests, 540);
        assert!((export.seconds - 6.5).abs() < 1e-6, "{export:?}");
        assert!(full_read(Some(&microsoft()), Some(&shape), None).export);
    }

    #[test]
    fn few_teams_with_long_threads_stay_on_the_listing() {
        // 3 teams of 3 channels, 25 posts with 4 replies each: 8 export pages per team at 4/s
        // against one listing page per channel.
        let shape = Shape {
            teams: 3,
            channels: 9,
            posts: 225,
            replies: 900,
        };
        let choice = full_read(Some(&microsoft()), Some(&shape), None);
        assert!(!choice.export, "{choice}");
        assert!(!full_read(Some(&microsoft()), None, None).export);
    }
}
