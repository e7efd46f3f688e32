//! The tenant as the simulator holds it: compact records for teams, channels, members and
//! messages. Message bodies are not stored; they are rebuilt from a per-message seed when rendered
//! (see render.rs), which keeps a 100k-message tenant small.

use std::collections::HashMap;

use crate::clock::Millis;

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub display_name: String,
    pub email: String,
    /// Guests come from another directory; their identity carries that tenant id.
    pub tenant_id: String,
}

#[derive(Debug, Clone)]
pub struct Tenant {
    pub tenant_id: String,
    pub users: Vec<User>,
    pub teams: Vec<Team>,
    pub team_index: HashMap<String, usize>,
    /// Groups without a team: `/groups` lists them, the team filter drops them.
    pub plain_groups: Vec<PlainGroup>,
    /// Incremented by every mutation; delta tokens remember it (see routes/delta.rs).
    pub change_seq: u64,
}

#[derive(Debug, Clone)]
pub struct PlainGroup {
    pub id: String,
    pub display_name: String,
    pub created: Millis,
}

#[derive(Debug, Clone)]
pub struct Team {
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
    pub classification: Option<String>,
    pub visibility: &'static str,
    pub specialization: Option<&'static str>,
    pub created: Option<Millis>,
    pub is_archived: bool,
    /// Teams whose optional properties are null (docs/graph.md §2.1, §8).
    pub sparse: bool,
    pub mail_nickname: String,
    pub members: Vec<Member>,
    pub member_index: HashMap<String, usize>,
    pub channels: Vec<Channel>,
    pub channel_index: HashMap<String, usize>,
    /// Shared channels of other teams that this team sees through `allChannels`: (team, channel).
    pub incoming: Vec<(usize, usize)>,
    /// Removed through the admin API. Removed teams, channels and members stay in their vectors as
    /// tombstones so that positions (paging keys, `incoming` pairs, seeds of added entities) and
    /// the generated bodies that draw on the member list never shift.
    pub removed: bool,
}

#[derive(Debug, Clone)]
pub struct Member {
    pub id: String,
    pub user: usize,
    pub roles: Vec<String>,
    pub visible_history_start: Millis,
    /// When the member joined (0 for the generated members): generated message bodies mention
    /// only members who had joined when the message was posted, so adding a member never
    /// changes what an existing message says (docs/graph.md §9.20).
    pub joined: Millis,
    /// Removed from the team (see `Team::removed`).
    pub removed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    Standard,
    Private,
    Shared,
}

impl Membership {
    pub fn as_str(self) -> &'static str {
        match self {
            Membership::Standard => "standard",
            Membership::Private => "private",
            Membership::Shared => "shared",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "standard" => Some(Membership::Standard),
            "private" => Some(Membership::Private),
            "shared" => Some(Membership::Shared),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Channel {
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
    pub membership: Membership,
    pub created: Option<Millis>,
    pub is_favorite_by_default: Option<bool>,
    pub email: String,
    /// Root posts in creation (= id) order.
    pub messages: Vec<Message>,
    /// Hard-deleted posts and replies, which channel delta reports as `@removed`
    /// (docs/graph.md §9.21).
    pub hard_deleted: Vec<HardDeleted>,
    /// Removed through the admin API (see `Team::removed`); its messages are dropped.
    pub removed: bool,
}

/// What remains of a hard-deleted message: enough for delta's `@removed` entry.
#[derive(Debug, Clone)]
pub struct HardDeleted {
    pub id: u64,
    /// The thread's root post when the deleted message was a reply.
    pub reply_to: Option<u64>,
    pub at: Millis,
    /// Change sequence of the deletion (delta rounds are delimited by it).
    pub seq: u64,
}

impl Channel {
    pub fn root_pos(&self, id: u64) -> Option<usize> {
        self.messages.binary_search_by_key(&id, |m| m.id).ok()
    }

    /// Largest message id in the channel, roots and replies alike (ids are unique per channel).
    pub fn max_id(&self) -> u64 {
        self.messages
            .iter()
            .map(|m| m.replies.last().map(|r| r.id).unwrap_or(0).max(m.id))
            .max()
            .unwrap_or(0)
    }
}

/// What a message looks like; the content itself is derived from `Message::seed` at render time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Html,
    Text,
    Mentions,
    FileAttachment,
    Card,
    SystemEvent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    /// Index into `Tenant::users`.
    User(usize),
    /// A bot / workflow application (index into a fixed list in render.rs).
    App(usize),
    /// `from: null` (system messages and some deleted ones, docs/graph.md §8).
    Nobody,
}

#[derive(Debug, Clone)]
pub struct Reaction {
    pub reaction_type: String,
    pub user: usize,
    pub at: Millis,
}

#[derive(Debug, Clone)]
pub struct Message {
    /// Epoch-millisecond id (= created time, bumped by 1 ms on collisions within a channel).
    pub id: u64,
    pub created: Millis,
    pub last_modified: Millis,
    pub edited: Option<Millis>,
    pub deleted: Option<Millis>,
    pub kind: Kind,
    pub author: Author,
    pub seed: u64,
    /// Body set through the mutation API; generated bodies are `None`.
    pub custom_html: Option<String>,
    pub importance: &'static str,
    pub reactions: Vec<Reaction>,
    /// Reactions taken back, with the time they were removed (kept for `messageHistory`).
    pub unreacted: Vec<(Reaction, Millis)>,
    /// Replies in id order (empty for replies themselves).
    pub replies: Vec<Message>,
    /// Change sequence of the last change to this message.
    pub seq: u64,
    /// Latest change of the reply chain (root or a reply): what delta keys on (docs/graph.md §5.1).
    pub chain_modified: Millis,
    pub chain_seq: u64,
}

impl Message {
    pub fn reply_pos(&self, id: u64) -> Option<usize> {
        self.replies.binary_search_by_key(&id, |m| m.id).ok()
    }

    pub fn recompute_chain(&mut self) {
        self.chain_modified = self
            .replies
            .iter()
            .map(|r| r.last_modified)
            .max()
            .unwrap_or(0)
            .max(self.last_modified);
        self.chain_seq = self
            .replies
            .iter()
            .map(|r| r.seq)
            .max()
            .unwrap_or(0)
            .max(self.seq);
    }
}

/// Opaque, base64-looking membership id (with `=` padding), as Teams issues them
/// (docs/graph.md §2.5: membership ids are opaque).
pub fn membership_id(team_id: &str, user_id: &str) -> String {
    crate::encode::b64(format!("0#1##{team_id}##{user_id}").as_bytes())
}

impl Tenant {
    /// A team that exists (not removed).
    pub fn team(&self, id: &str) -> Option<(usize, &Team)> {
        let i = self.team_pos(id)?;
        Some((i, &self.teams[i]))
    }

    /// A channel of a team that exists (not removed).
    pub fn channel(&self, team: usize, id: &str) -> Option<(usize, &Channel)> {
        let c = self.channel_pos(team, id)?;
        Some((c, &self.teams[team].channels[c]))
    }

    pub fn team_pos(&self, id: &str) -> Option<usize> {
        self.team_index
            .get(id)
            .copied()
            .filter(|&i| !self.teams[i].removed)
    }

    pub fn channel_pos(&self, team: usize, id: &str) -> Option<usize> {
        let t = &self.teams[team];
        t.channel_index
            .get(id)
            .copied()
            .filter(|&c| !t.channels[c].removed)
    }

    /// Shared channels of other teams that `team` sees, skipping removed hosts and channels.
    pub fn incoming<'t>(&'t self, team: &'t Team) -> impl Iterator<Item = (&'t Team, &'t Channel)> {
        team.incoming.iter().filter_map(|&(ti, ci)| {
            let host = &self.teams[ti];
            let ch = &host.channels[ci];
            (!host.removed && !ch.removed).then_some((host, ch))
        })
    }
}

impl Team {
    pub fn live_channels(&self) -> impl Iterator<Item = (usize, &Channel)> {
        self.channels.iter().enumerate().filter(|(_, c)| !c.removed)
    }

    pub fn live_members(&self) -> impl Iterator<Item = (usize, &Member)> {
        self.members.iter().enumerate().filter(|(_, m)| !m.removed)
    }
}
