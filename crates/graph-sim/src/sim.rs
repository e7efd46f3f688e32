//! `Sim`: the cloneable handle on a running tenant. It reads ground truth (every entity exactly as
//! Graph would serve it), mutates the tenant, moves the clock and reports request counters.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde::Serialize;
use serde_json::Value;

use crate::clock::{Clock, Millis};
use crate::config::{SimConfig, Switches};
use crate::encode::{guid, hex32, mix};
use crate::error::SimError;
use crate::render::{self, MsgCtx};
use crate::tenant::{
    Author, Channel, Kind, Member, Membership, Message, Reaction, Team, Tenant, User, membership_id,
};
use crate::throttle::Throttle;

/// Per-endpoint request counters (keys: `graph_client::EndpointClass::as_str`).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Counters {
    /// Graph requests received per class, whatever the answer (429s and faults included).
    pub requests: BTreeMap<String, u64>,
    /// Requests answered 429 per class.
    pub throttled: BTreeMap<String, u64>,
    pub token_requests: u64,
}

impl Counters {
    pub fn get(&self, class: &str) -> u64 {
        self.requests.get(class).copied().unwrap_or(0)
    }

    /// All Graph requests; token and admin requests are not counted here.
    pub fn total(&self) -> u64 {
        self.requests.values().sum()
    }

    pub fn throttled_total(&self) -> u64 {
        self.throttled.values().sum()
    }
}

/// Handle on a simulated tenant; cheap to clone, shared with the HTTP server.
#[derive(Clone)]
pub struct Sim {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("tenant_id", &self.inner.cfg.tenant_id)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub cfg: SimConfig,
    pub clock: Clock,
    pub tenant: Mutex<Tenant>,
    pub switches: Mutex<Switches>,
    pub counters: Mutex<Counters>,
    pub tokens: Mutex<HashMap<String, crate::auth::IssuedToken>>,
    /// `jti` of every client assertion accepted, with its `exp`: Entra ID refuses a replay.
    pub used_jtis: Mutex<HashMap<String, u64>>,
    pub throttle: Mutex<Throttle>,
    /// Seeded generator for latency, faults and omitted Retry-After.
    pub rng: Mutex<SmallRng>,
    pub request_seq: AtomicU64,
    /// Arrivals in order, while a test records them ([`Sim::start_journal`]).
    pub journal: Mutex<Option<Vec<Arrival>>>,
}

/// One Graph request as the throttle saw it on arrival, for tests of a client's scheduling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arrival {
    pub class: crate::EndpointClass,
    pub team: Option<String>,
    pub channel: Option<String>,
    /// Answered 429.
    pub throttled: bool,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its data consistent before anything can panic, so a poisoned
    // lock still holds usable state.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Sim {
    pub fn new(cfg: SimConfig) -> Sim {
        let clock = Clock::new(cfg.epoch);
        let tenant = crate::generate::generate(&cfg, clock.now_ms());
        let throttle = Throttle::new(cfg.throttle_scale);
        let rng = SmallRng::seed_from_u64(mix(cfg.seed, &[7]));
        Sim {
            inner: Arc::new(Inner {
                switches: Mutex::new(cfg.switches.clone()),
                cfg,
                clock,
                tenant: Mutex::new(tenant),
                counters: Mutex::new(Counters::default()),
                tokens: Mutex::new(HashMap::new()),
                used_jtis: Mutex::new(HashMap::new()),
                throttle: Mutex::new(throttle),
                rng: Mutex::new(rng),
                request_seq: AtomicU64::new(0),
                journal: Mutex::new(None),
            }),
        }
    }

    pub(crate) fn tenant(&self) -> MutexGuard<'_, Tenant> {
        lock(&self.inner.tenant)
    }

    pub fn config(&self) -> &SimConfig {
        &self.inner.cfg
    }

    pub(crate) fn next_request_seq(&self) -> u64 {
        self.inner.request_seq.fetch_add(1, Ordering::Relaxed)
    }

    // ---- clock

    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    pub(crate) fn now_ms(&self) -> Millis {
        self.inner.clock.now_ms()
    }

    /// Moves the simulator clock forward (negative durations are ignored). Access tokens age
    /// with it.
    pub fn advance(&self, d: chrono::Duration) {
        self.inner.clock.advance(d.num_milliseconds());
    }

    // ---- ground truth

    pub fn team_ids(&self) -> Vec<String> {
        self.tenant()
            .teams
            .iter()
            .filter(|t| !t.removed)
            .map(|t| t.id.clone())
            .collect()
    }

    /// Full team objects as `GET /teams/{id}` serves them.
    pub fn teams(&self) -> Vec<Value> {
        let t = self.tenant();
        t.teams
            .iter()
            .filter(|team| !team.removed)
            .map(|team| render::team_full(&t, team))
            .collect()
    }

    /// Full channel objects (with `email`) of a team's own channels; empty for an unknown team.
    pub fn channels(&self, team_id: &str) -> Vec<Value> {
        let t = self.tenant();
        let Some((_, team)) = t.team(team_id) else {
            return vec![];
        };
        team.live_channels()
            .map(|(_, c)| render::channel(&t, team, c))
            .collect()
    }

    /// Channels `allChannels` lists: the team's own, then shared channels of other teams that
    /// are shared with it (full objects, as `channels` renders them, without `@odata.id`).
    pub fn all_channels(&self, team_id: &str) -> Vec<Value> {
        let t = self.tenant();
        let Some((_, team)) = t.team(team_id) else {
            return vec![];
        };
        let own = team
            .live_channels()
            .map(|(_, c)| render::channel(&t, team, c));
        let incoming = t
            .incoming(team)
            .map(|(host, c)| render::channel(&t, host, c));
        own.chain(incoming).collect()
    }

    pub fn members(&self, team_id: &str) -> Vec<Value> {
        let t = self.tenant();
        let Some((_, team)) = t.team(team_id) else {
            return vec![];
        };
        team.live_members()
            .map(|(_, m)| render::member(&t, m))
            .collect()
    }

    /// Root posts of a channel, oldest first, without a `replies` key, with `messageType` as
    /// served under `Prefer: include-unknown-enum-members`.
    pub fn messages(&self, team_id: &str, channel_id: &str) -> Vec<Value> {
        let t = self.tenant();
        let Some((ti, _)) = t.team(team_id) else {
            return vec![];
        };
        let Some((_, ch)) = t.channel(ti, channel_id) else {
            return vec![];
        };
        let ctx = MsgCtx {
            tenant: &t,
            team: &t.teams[ti],
            channel: ch,
            include_unknown_enum: true,
        };
        ch.messages
            .iter()
            .map(|m| render::message(&ctx, m, None))
            .collect()
    }

    /// Replies of one thread, oldest first.
    pub fn replies(&self, team_id: &str, channel_id: &str, message_id: &str) -> Vec<Value> {
        let t = self.tenant();
        let Some((ti, _)) = t.team(team_id) else {
            return vec![];
        };
        let Some((_, ch)) = t.channel(ti, channel_id) else {
            return vec![];
        };
        let Some(pos) = message_id
            .parse::<u64>()
            .ok()
            .and_then(|id| ch.root_pos(id))
        else {
            return vec![];
        };
        let root = &ch.messages[pos];
        let ctx = MsgCtx {
            tenant: &t,
            team: &t.teams[ti],
            channel: ch,
            include_unknown_enum: true,
        };
        root.replies
            .iter()
            .map(|r| render::message(&ctx, r, Some(root)))
            .collect()
    }

    /// Total number of root posts and replies in the tenant.
    pub fn message_count(&self) -> usize {
        let t = self.tenant();
        t.teams
            .iter()
            .filter(|tm| !tm.removed)
            .flat_map(|tm| tm.live_channels())
            .flat_map(|(_, c)| c.messages.iter())
            .map(|m| 1 + m.replies.len())
            .sum()
    }

    // ---- mutations

    pub(crate) fn with_channel<R>(
        &self,
        team_id: &str,
        channel_id: &str,
        f: impl FnOnce(&mut Tenant, usize, usize) -> Result<R, SimError>,
    ) -> Result<R, SimError> {
        let mut t = self.tenant();
        let ti = t
            .team_pos(team_id)
            .ok_or_else(|| SimError::TeamNotFound(team_id.into()))?;
        let ci = t
            .channel_pos(ti, channel_id)
            .ok_or_else(|| SimError::ChannelNotFound {
                team: team_id.into(),
                channel: channel_id.into(),
            })?;
        f(&mut t, ti, ci)
    }

    /// A new message by the team's first member at `now` (or just after the channel's newest id,
    /// so ids stay unique and ordered), counted as the tenant's next change.
    fn compose(t: &mut Tenant, ti: usize, ci: usize, now: Millis, html: &str) -> (u64, Message) {
        t.change_seq += 1;
        let author = Self::poster(&t.teams[ti]);
        let id = (now.max(0) as u64).max(t.teams[ti].channels[ci].max_id() + 1);
        (id, new_message(id, t.change_seq, author, html))
    }

    fn poster(team: &Team) -> Author {
        team.live_members()
            .next()
            .map(|(_, m)| Author::User(m.user))
            .unwrap_or(Author::Nobody)
    }

    /// Posts a root message (HTML body) as the team's first member; returns its id.
    pub fn post_message(
        &self,
        team_id: &str,
        channel_id: &str,
        html: &str,
    ) -> Result<String, SimError> {
        let now = self.inner.clock.tick();
        self.with_channel(team_id, channel_id, |t, ti, ci| {
            let (id, mut m) = Self::compose(t, ti, ci, now, html);
            m.recompute_chain();
            t.teams[ti].channels[ci].messages.push(m);
            Ok(id.to_string())
        })
    }

    /// Posts a reply to a root post; returns the reply id.
    pub fn post_reply(
        &self,
        team_id: &str,
        channel_id: &str,
        message_id: &str,
        html: &str,
    ) -> Result<String, SimError> {
        let now = self.inner.clock.tick();
        self.with_channel(team_id, channel_id, |t, ti, ci| {
            let pos = root_pos(&t.teams[ti].channels[ci], channel_id, message_id)?;
            let (id, reply) = Self::compose(t, ti, ci, now, html);
            let root = &mut t.teams[ti].channels[ci].messages[pos];
            root.replies.push(reply);
            root.recompute_chain();
            Ok(id.to_string())
        })
    }

    fn mutate(
        &self,
        team_id: &str,
        channel_id: &str,
        message_id: &str,
        reply_id: Option<&str>,
        f: impl FnOnce(&mut Message, Millis, usize) -> Result<(), SimError>,
    ) -> Result<(), SimError> {
        let now = self.inner.clock.tick();
        self.with_channel(team_id, channel_id, |t, ti, ci| {
            let seq = t.change_seq + 1;
            let actor = match Self::poster(&t.teams[ti]) {
                Author::User(u) => u,
                _ => 0,
            };
            let ch = &mut t.teams[ti].channels[ci];
            let pos = root_pos(ch, channel_id, message_id)?;
            let root = &mut ch.messages[pos];
            let target = match reply_id {
                None => &mut *root,
                Some(r) => {
                    let rp = reply_pos(root, message_id, r)?;
                    &mut root.replies[rp]
                }
            };
            if target.deleted.is_some() {
                return Err(SimError::Deleted(target.id.to_string()));
            }
            f(target, now, actor)?;
            target.seq = seq;
            root.recompute_chain();
            t.change_seq = seq;
            Ok(())
        })
    }

    /// Replaces the HTML body of a post or reply; sets lastEditedDateTime and
    /// lastModifiedDateTime to now.
    pub fn edit_message(
        &self,
        team_id: &str,
        channel_id: &str,
        message_id: &str,
        reply_id: Option<&str>,
        html: &str,
    ) -> Result<(), SimError> {
        self.mutate(team_id, channel_id, message_id, reply_id, |m, now, _| {
            m.custom_html = Some(html.to_string());
            m.edited = Some(now);
            m.last_modified = now;
            Ok(())
        })
    }

    /// Adds a reaction by the team's first member. Bumps lastModifiedDateTime but not
    /// lastEditedDateTime (docs/graph.md §8: reactions count as changes).
    pub fn react(
        &self,
        team_id: &str,
        channel_id: &str,
        message_id: &str,
        reply_id: Option<&str>,
        reaction_type: &str,
    ) -> Result<(), SimError> {
        self.mutate(team_id, channel_id, message_id, reply_id, |m, now, user| {
            m.reactions.push(Reaction {
                reaction_type: reaction_type.to_string(),
                user,
                at: now,
            });
            m.last_modified = now;
            Ok(())
        })
    }

    /// Removes the latest reaction of this type. Like adding one, it bumps lastModifiedDateTime
    /// but not lastEditedDateTime (docs/graph.md §8.1), and `messageHistory` gains a
    /// `reactionRemoved` item.
    pub fn unreact(
        &self,
        team_id: &str,
        channel_id: &str,
        message_id: &str,
        reply_id: Option<&str>,
        reaction_type: &str,
    ) -> Result<(), SimError> {
        self.mutate(team_id, channel_id, message_id, reply_id, |m, now, _| {
            let pos = m
                .reactions
                .iter()
                .rposition(|r| r.reaction_type == reaction_type)
                .ok_or_else(|| SimError::ReactionNotFound {
                    message: m.id.to_string(),
                    reaction: reaction_type.to_string(),
                })?;
            let r = m.reactions.remove(pos);
            m.unreacted.push((r, now));
            m.last_modified = now;
            Ok(())
        })
    }

    /// Soft-deletes a post or reply: deletedDateTime set, body emptied (docs/graph.md §8).
    pub fn soft_delete(
        &self,
        team_id: &str,
        channel_id: &str,
        message_id: &str,
        reply_id: Option<&str>,
    ) -> Result<(), SimError> {
        self.mutate(team_id, channel_id, message_id, reply_id, |m, now, _| {
            m.deleted = Some(now);
            m.last_modified = now;
            m.reactions.clear();
            m.unreacted.clear();
            Ok(())
        })
    }

    /// Adds a team with a General channel and one owner; returns its id.
    pub fn add_team(&self, display_name: &str) -> String {
        let now = self.inner.clock.tick();
        let mut t = self.tenant();
        let n = t.teams.len();
        let mut rng = SmallRng::seed_from_u64(mix(self.inner.cfg.seed, &[99, n as u64]));
        let id = guid(&mut rng);
        let general = format!("19:{}@thread.tacv2", hex32(&mut rng));
        let mail_nickname: String = display_name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        let mut team = Team {
            id: id.clone(),
            display_name: display_name.to_string(),
            description: None,
            classification: None,
            visibility: "public",
            specialization: Some("none"),
            created: Some(now),
            mail_nickname,
            ..empty_team()
        };
        team.channel_index.insert(general.clone(), 0);
        team.channels.push(Channel {
            id: general,
            display_name: "General".into(),
            description: None,
            membership: Membership::Standard,
            created: Some(now),
            is_favorite_by_default: Some(true),
            email: String::new(),
            messages: Vec::new(),
            hard_deleted: Vec::new(),
            removed: false,
        });
        if !t.users.is_empty() {
            let mid = membership_id(&id, &t.users[0].id);
            team.member_index.insert(mid.clone(), 0);
            team.members.push(Member {
                id: mid,
                user: 0,
                roles: vec!["owner".into()],
                visible_history_start: 0,
                joined: self.inner.clock.now_ms(),
                removed: false,
            });
        }
        t.team_index.insert(id.clone(), n);
        t.teams.push(team);
        id
    }

    pub fn add_channel(
        &self,
        team_id: &str,
        display_name: &str,
        membership_type: &str,
    ) -> Result<String, SimError> {
        let membership = Membership::parse(membership_type)
            .ok_or_else(|| SimError::InvalidMembershipType(membership_type.into()))?;
        let now = self.inner.clock.tick();
        let mut t = self.tenant();
        let ti = t
            .team_pos(team_id)
            .ok_or_else(|| SimError::TeamNotFound(team_id.into()))?;
        let team = &mut t.teams[ti];
        let n = team.channels.len();
        let mut rng = SmallRng::seed_from_u64(mix(self.inner.cfg.seed, &[98, ti as u64, n as u64]));
        let domain = if membership == Membership::Private {
            "thread.skype"
        } else {
            "thread.tacv2"
        };
        let id = format!("19:{}@{domain}", hex32(&mut rng));
        team.channel_index.insert(id.clone(), n);
        team.channels.push(Channel {
            id: id.clone(),
            display_name: display_name.to_string(),
            description: None,
            membership,
            created: Some(now),
            is_favorite_by_default: Some(false),
            email: String::new(),
            messages: Vec::new(),
            hard_deleted: Vec::new(),
            removed: false,
        });
        Ok(id)
    }

    /// Adds a tenant user and makes them a member of the team; returns the membership id.
    pub fn add_member(
        &self,
        team_id: &str,
        display_name: &str,
        email: &str,
        roles: &[&str],
    ) -> Result<String, SimError> {
        let mut t = self.tenant();
        let ti = t
            .team_pos(team_id)
            .ok_or_else(|| SimError::TeamNotFound(team_id.into()))?;
        let nu = t.users.len();
        let mut rng = SmallRng::seed_from_u64(mix(self.inner.cfg.seed, &[97, nu as u64]));
        let user_id = guid(&mut rng);
        let tenant_id = t.tenant_id.clone();
        t.users.push(User {
            id: user_id.clone(),
            display_name: display_name.into(),
            email: email.into(),
            tenant_id,
        });
        let team = &mut t.teams[ti];
        let mid = membership_id(&team.id, &user_id);
        team.member_index.insert(mid.clone(), team.members.len());
        team.members.push(Member {
            id: mid.clone(),
            user: nu,
            roles: roles.iter().map(|r| r.to_string()).collect(),
            visible_history_start: 0,
            joined: self.inner.clock.now_ms(),
            removed: false,
        });
        Ok(mid)
    }

    // ---- switches and counters

    pub fn set_switches(&self, s: Switches) {
        *lock(&self.inner.switches) = s;
    }

    pub fn switches(&self) -> Switches {
        lock(&self.inner.switches).clone()
    }

    pub fn counters(&self) -> Counters {
        lock(&self.inner.counters).clone()
    }

    pub fn reset_counters(&self) {
        *lock(&self.inner.counters) = Counters::default();
    }

    pub(crate) fn count(&self, class: &str, throttled: bool) {
        let mut c = lock(&self.inner.counters);
        *c.requests.entry(class.to_string()).or_default() += 1;
        if throttled {
            *c.throttled.entry(class.to_string()).or_default() += 1;
        }
    }

    /// Starts (or restarts, empty) recording every Graph request's arrival: class, team,
    /// channel, and whether it was throttled. Off by default, so long runs hold no log.
    pub fn start_journal(&self) {
        *lock(&self.inner.journal) = Some(Vec::new());
    }

    /// The arrivals recorded since [`Sim::start_journal`], in arrival order.
    pub fn journal(&self) -> Vec<Arrival> {
        lock(&self.inner.journal).clone().unwrap_or_default()
    }

    pub(crate) fn record_arrival(&self, arrival: impl FnOnce() -> Arrival) {
        if let Some(j) = lock(&self.inner.journal).as_mut() {
            j.push(arrival());
        }
    }

    pub(crate) fn count_token(&self) {
        lock(&self.inner.counters).token_requests += 1;
    }
}

pub(crate) fn root_pos(
    ch: &Channel,
    channel_id: &str,
    message_id: &str,
) -> Result<usize, SimError> {
    message_id
        .parse::<u64>()
        .ok()
        .and_then(|id| ch.root_pos(id))
        .ok_or_else(|| SimError::MessageNotFound {
            channel: channel_id.into(),
            message: message_id.into(),
        })
}

pub(crate) fn reply_pos(
    root: &Message,
    message_id: &str,
    reply_id: &str,
) -> Result<usize, SimError> {
    reply_id
        .parse::<u64>()
        .ok()
        .and_then(|id| root.reply_pos(id))
        .ok_or_else(|| SimError::ReplyNotFound {
            message: message_id.into(),
            reply: reply_id.into(),
        })
}

fn new_message(id: u64, seq: u64, author: Author, html: &str) -> Message {
    let at = id as Millis;
    Message {
        id,
        created: at,
        last_modified: at,
        edited: None,
        deleted: None,
        kind: Kind::Html,
        author,
        seed: id,
        custom_html: Some(html.to_string()),
        importance: "normal",
        reactions: Vec::new(),
        unreacted: Vec::new(),
        replies: Vec::new(),
        seq,
        chain_modified: at,
        chain_seq: seq,
    }
}

fn empty_team() -> Team {
    Team {
        id: String::new(),
        display_name: String::new(),
        description: None,
        classification: None,
        visibility: "public",
        specialization: None,
        created: None,
        is_archived: false,
        sparse: false,
        mail_nickname: String::new(),
        members: Vec::new(),
        member_index: HashMap::new(),
        channels: Vec::new(),
        channel_index: HashMap::new(),
        incoming: Vec::new(),
        removed: false,
    }
}
