//! `GET .../channels/{id}/messages/delta` (docs/graph.md §5.1-§5.2, §9.9-§9.12).
//!
//! A round lists reply chains (root posts, with replies under `$expand=replies`) that were
//! created or changed, ordered by their latest change. Every query option is given in the first
//! request only and travels inside the opaque `$skiptoken` (next page of the round) and
//! `$deltatoken` (next round). Rounds are delimited by the tenant's change sequence, not by
//! timestamps, so a change made while a round is being paged is never lost: it is left out of the
//! running round and returned by the next one. Only chains changed within the last eight months
//! of the simulator clock are returned ("Delta will only return messages within the last eight
//! months"); older history is only reachable through the messages list.

use axum::extract::Path;
use axum::http::StatusCode;
use chrono::Months;
use serde_json::{Value, json};

use super::expand::with_replies;
use super::lookup::locate;
use super::{Ctx, Graph, Reply, encode_query};
use crate::clock::Millis;
use crate::error::ApiError;
use crate::odata::{Allowed, Expr, Lit, Op, decode_token, encode_token, parse_filter};
use crate::render;
use crate::sim::{Sim, lock};
use crate::tenant::HardDeleted;

/// Delta page size when `$top` is absent (undocumented, docs/graph.md §9.1; the maximum is 50).
const DEFAULT_TOP: usize = 20;

pub fn eight_months_before(now: Millis) -> Millis {
    chrono::DateTime::from_timestamp_millis(now)
        .and_then(|d| d.checked_sub_months(Months::new(8)))
        .map(|d| d.timestamp_millis())
        .unwrap_or(now)
}

/// The state a token carries.
#[derive(Debug, Clone)]
struct Round {
    top: usize,
    expand: bool,
    /// `$filter=lastModifiedDateTime gt X` of the initial request.
    since_ms: Option<Millis>,
    /// Change sequence the previous round ended at (`None` for the initial round).
    since_seq: Option<u64>,
    /// Change sequence at the start of this round.
    asof: u64,
    cutoff: Millis,
    /// Last (chainModified, id) delivered in this round.
    after: Option<(Millis, u64)>,
    skip: usize,
}

impl Round {
    fn to_json(&self) -> Value {
        json!({
            "top": self.top, "exp": self.expand, "sm": self.since_ms, "ss": self.since_seq,
            "asof": self.asof, "cut": self.cutoff, "k": self.after.map(|(a, b)| json!([a, b])),
        })
    }

    fn from_json(v: &Value) -> Option<Round> {
        Some(Round {
            // Tokens come back from clients: never trust their numbers blindly.
            top: v.get("top")?.as_u64().filter(|t| (1..=50).contains(t))? as usize,
            expand: v.get("exp")?.as_bool()?,
            since_ms: v.get("sm").and_then(Value::as_i64),
            since_seq: v.get("ss").and_then(Value::as_u64),
            asof: v.get("asof")?.as_u64()?,
            cutoff: v.get("cut")?.as_i64()?,
            after: v
                .get("k")
                .and_then(Value::as_array)
                .and_then(|a| Some((a.first()?.as_i64()?, a.get(1)?.as_u64()?))),
            skip: 0,
        })
    }
}

pub async fn delta(Path((team_id, channel_id)): Path<(String, String)>, ctx: Ctx) -> Reply {
    run(&ctx.sim, &ctx, &team_id, &channel_id).map(Graph)
}

fn run(sim: &Sim, ctx: &Ctx, team_id: &str, channel_id: &str) -> Result<Value, ApiError> {
    let q = &ctx.query;
    let bad_token =
        || ApiError::bad_request("The provided skip token or delta token is invalid or expired.");
    let (mut round, first_page) = match (&q.skiptoken, &q.deltatoken) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "Specify either $skiptoken or $deltatoken, not both.",
            ));
        }
        (None, Some(_)) if lock(&sim.inner.switches).delta_tokens_expired => {
            let mut e = ApiError::new(
                StatusCode::GONE,
                "resyncRequired",
                "The delta token has expired or is no longer valid. Restart with a full synchronization.",
            );
            e.location = Some(format!("{}{}", ctx.base, ctx.raw_path));
            return Err(e);
        }
        (Some(tok), None) | (None, Some(tok)) => {
            if q.top.is_some()
                || q.filter.is_some()
                || q.expand.is_some()
                || q.skip.is_some()
                || q.select.is_some()
            {
                return Err(ApiError::bad_request(
                    "Query options must be given only in the initial delta request; they are encoded in the token.",
                ));
            }
            q.check(Allowed::default())?;
            let r = Round::from_json(&decode_token(tok)?).ok_or_else(bad_token)?;
            if q.deltatoken.is_some() {
                // A new round: changes after the previous round, window recomputed.
                let seq = sim.tenant().change_seq;
                (
                    Round {
                        since_seq: Some(r.asof),
                        asof: seq,
                        cutoff: eight_months_before(ctx.now),
                        after: None,
                        ..r
                    },
                    true,
                )
            } else {
                (r, false)
            }
        }
        (None, None) => {
            q.check(Allowed {
                top: true,
                skip: true,
                filter: true,
                expand: true,
                ..Default::default()
            })?;
            let top = q.top(DEFAULT_TOP, 50)?;
            let expand = q.expand_replies()?;
            let since_ms = match &q.filter {
                None => None,
                Some(f) => match parse_filter(f)? {
                    // "The only property that supports filtering is lastModifiedDateTime, and
                    // only the gt operator is supported."
                    Expr::Cmp {
                        prop,
                        op: Op::Gt,
                        lit: Lit::DateTime(t),
                    } if prop == "lastModifiedDateTime" => Some(t),
                    _ => {
                        return Err(ApiError::bad_request(
                            "Parameter 'Filter' not supported for this request.",
                        ));
                    }
                },
            };
            let skip = match &q.skip {
                None => 0,
                Some(s) => s.trim().parse::<usize>().map_err(|_| {
                    ApiError::bad_request(format!("Invalid value '{s}' for $skip."))
                })?,
            };
            let seq = sim.tenant().change_seq;
            (
                Round {
                    top,
                    expand,
                    since_ms,
                    since_seq: None,
                    asof: seq,
                    cutoff: eight_months_before(ctx.now),
                    after: None,
                    skip,
                },
                true,
            )
        }
    };

    let t = sim.tenant();
    let (team, ch) = locate(&t, team_id, channel_id)?;
    let in_round = |seq: u64, at: Millis, id: u64| {
        seq <= round.asof
            && round.since_seq.is_none_or(|s| seq > s)
            && round.since_ms.is_none_or(|x| at > x)
            && at >= round.cutoff
            && round.after.is_none_or(|a| (at, id) > a)
    };
    let chains = ch
        .messages
        .iter()
        .filter(|m| in_round(m.chain_seq, m.chain_modified, m.id))
        .map(Entry::Chain);
    // Hard deletions are changes after a point: an unfiltered initial round is a snapshot of
    // what exists and carries none of them (docs/graph.md §9.21).
    let removals_wanted = round.since_seq.is_some() || round.since_ms.is_some();
    let removals = ch
        .hard_deleted
        .iter()
        .filter(|_| removals_wanted)
        .filter(|d| in_round(d.seq, d.at, d.id))
        .map(Entry::Removed);
    let mut eligible: Vec<Entry<'_>> = chains.chain(removals).collect();
    eligible.sort_by_key(Entry::key);
    let mctx = ctx.msg_ctx(&t, team, ch);
    let start = round.skip.min(eligible.len());
    let end = (start + round.top).min(eligible.len());
    let items: Vec<Value> = eligible[start..end]
        .iter()
        .map(|e| {
            let m = match e {
                Entry::Chain(m) => m,
                Entry::Removed(d) => return removed_entry(d),
            };
            let mut v = if round.expand {
                with_replies(ctx, &mctx, m)
            } else {
                render::message(&mctx, m, None)
            };
            v["@odata.type"] = json!("#microsoft.graph.chatMessage");
            if !first_page && v.get("eventDetail").is_some_and(Value::is_null) {
                // Later delta pages omit a null eventDetail entirely (docs/graph.md §5.1).
                if let Value::Object(o) = &mut v {
                    o.remove("eventDetail");
                }
            }
            v
        })
        .collect();
    let mut out = serde_json::Map::new();
    out.insert(
        "@odata.context".into(),
        json!(ctx.context("Collection(chatMessage)")),
    );
    round.skip = 0;
    if end < eligible.len() {
        round.after = Some(eligible[end - 1].key());
        let tok = encode_token(&round.to_json());
        out.insert(
            "@odata.nextLink".into(),
            json!(ctx.link(&encode_query(&[("$skiptoken", &tok)]))),
        );
    } else {
        let next = Round {
            after: None,
            ..round
        };
        let tok = encode_token(&next.to_json());
        out.insert(
            "@odata.deltaLink".into(),
            json!(ctx.link(&encode_query(&[("$deltatoken", &tok)]))),
        );
    }
    out.insert("value".into(), Value::Array(items));
    Ok(Value::Object(out))
}

/// One item of a delta round: a reply chain created or changed, or a hard-deleted message.
enum Entry<'t> {
    Chain(&'t crate::tenant::Message),
    Removed(&'t HardDeleted),
}

impl Entry<'_> {
    /// Rounds are ordered by the time of the change, then id; a skip token keeps the last key.
    fn key(&self) -> (Millis, u64) {
        match self {
            Entry::Chain(m) => (m.chain_modified, m.id),
            Entry::Removed(d) => (d.at, d.id),
        }
    }
}

/// The delta form of a removed instance (docs/graph.md §5.2): its id and `@removed` with reason
/// `deleted` (cannot be restored). A reply also names its thread in `replyToId`, since reply ids
/// are unique only within a channel's threads (docs/graph.md §9.21).
fn removed_entry(d: &HardDeleted) -> Value {
    let mut o = serde_json::Map::new();
    o.insert("id".into(), json!(d.id.to_string()));
    if let Some(root) = d.reply_to {
        o.insert("replyToId".into(), json!(root.to_string()));
    }
    o.insert("@removed".into(), json!({"reason": "deleted"}));
    Value::Object(o)
}
