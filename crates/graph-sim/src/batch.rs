//! A seeded batch of changes for end-to-end sync tests: new posts, replies to old threads, edits
//! of posts and replies, reactions, soft and hard deletes, new and removed channels, members and
//! teams. The same tenant (same `SimConfig`, fixed epoch) and the same batch seed give the same
//! changes, ids and timestamps, so a test can apply a batch, sync, and compare its tables with
//! the ground-truth accessors (`Sim::teams`, `channels`, `members`, `messages`, `replies`).

use std::collections::HashSet;

use rand::rngs::SmallRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::encode::mix;
use crate::error::SimError;
use crate::sim::Sim;
use crate::tenant::{Kind, Message, Tenant};

/// One change a batch applied, with the ids it touched or created (`reply` names the reply when
/// the change was on a reply rather than on a root post).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Change {
    Post {
        team: String,
        channel: String,
        message: String,
    },
    Reply {
        team: String,
        channel: String,
        message: String,
        reply: String,
    },
    Edit {
        team: String,
        channel: String,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        reply: Option<String>,
    },
    React {
        team: String,
        channel: String,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        reply: Option<String>,
        reaction: String,
    },
    Unreact {
        team: String,
        channel: String,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        reply: Option<String>,
        reaction: String,
    },
    SoftDelete {
        team: String,
        channel: String,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        reply: Option<String>,
    },
    HardDelete {
        team: String,
        channel: String,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        reply: Option<String>,
    },
    AddTeam {
        team: String,
    },
    RemoveTeam {
        team: String,
    },
    AddChannel {
        team: String,
        channel: String,
    },
    RemoveChannel {
        team: String,
        channel: String,
    },
    AddMember {
        team: String,
        member: String,
    },
    RemoveMember {
        team: String,
        member: String,
    },
}

/// What a batch did, in order.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ChangeBatch {
    pub seed: u64,
    pub changes: Vec<Change>,
}

/// A message chosen for a change: team, channel, root post and (for a reply) reply id.
type Target = (String, String, String, Option<String>);

/// What a message must be to take a change.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    /// A root post that is not soft-deleted and not a system event (edits, reactions, deletes).
    LivePost,
    /// A live root post among the older half of its channel ("a reply to an old thread").
    OldThread,
    /// A live reply (not soft-deleted, not a system event).
    LiveReply,
    /// A live post, or else a live reply, that has a reaction to take back.
    Reacted,
}

const REACTIONS: [&str; 4] = ["like", "heart", "laugh", "surprised"];
/// Attempts at finding an untouched target before a change is skipped (tiny tenants).
const ATTEMPTS: usize = 64;

/// Messages the batch created are recorded, so later changes leave them as recorded.
fn mark_created(c: &Change, used: &mut HashSet<Target>) {
    match c {
        Change::Post {
            team,
            channel,
            message,
        } => {
            used.insert((team.clone(), channel.clone(), message.clone(), None));
        }
        Change::Reply {
            team,
            channel,
            message,
            reply,
        } => {
            used.insert((
                team.clone(),
                channel.clone(),
                message.clone(),
                Some(reply.clone()),
            ));
        }
        _ => {}
    }
}

/// The type of the latest reaction on a post or reply.
fn last_reaction(
    t: &Tenant,
    team: &str,
    channel: &str,
    message: &str,
    reply: Option<&str>,
) -> Option<String> {
    let ti = t.team_pos(team)?;
    let ci = t.channel_pos(ti, channel)?;
    let ch = &t.teams[ti].channels[ci];
    let root = &ch.messages[ch.root_pos(message.parse().ok()?)?];
    let m = match reply {
        None => root,
        Some(r) => &root.replies[root.reply_pos(r.parse().ok()?)?],
    };
    m.reactions.last().map(|r| r.reaction_type.clone())
}

fn editable(m: &Message) -> bool {
    m.deleted.is_none() && m.kind != Kind::SystemEvent
}

impl Sim {
    /// Applies the default batch (see [`Sim::apply_change_batch_scaled`]) with scale 1.
    pub fn apply_change_batch(&self, seed: u64) -> ChangeBatch {
        self.apply_change_batch_scaled(seed, 1)
    }

    /// Applies `scale` times this mix, each change one to five simulated seconds after the
    /// previous one: 3 new posts, 3 replies to old threads, 2 edits of posts and 2 of replies,
    /// 3 reactions (2 on posts, 1 on a reply), the removal of a reaction, a soft and a hard
    /// delete of a post and of a reply, then a new team (with a post), channel (with a post and
    /// a reply) and member, and last the removal of one team, one channel and one member that no
    /// other change of the batch touched. A change with no possible target (a one-team tenant has no team to remove) is
    /// left out of the record. Message changes never touch the same message twice.
    pub fn apply_change_batch_scaled(&self, seed: u64, scale: usize) -> ChangeBatch {
        let mut rng = SmallRng::seed_from_u64(mix(self.config().seed, &[0xBA7C, seed]));
        let mut out = Vec::new();
        // Removals are chosen first so that no other change lands in what is about to go.
        let (gone_teams, gone_channels, gone_members) = self.pick_removals(&mut rng, scale);
        let mut used: HashSet<Target> = HashSet::new();
        for _ in 0..scale {
            self.message_changes(
                &mut rng,
                seed,
                &gone_teams,
                &gone_channels,
                &mut used,
                &mut out,
            );
            let first = out.len();
            self.additions(&mut rng, seed, &gone_teams, &mut out);
            for c in &out[first..] {
                mark_created(c, &mut used);
            }
        }
        for (team, member) in gone_members {
            self.step(&mut rng);
            if self.remove_member(&team, &member).is_ok() {
                out.push(Change::RemoveMember { team, member });
            }
        }
        for (team, channel) in gone_channels {
            self.step(&mut rng);
            if self.remove_channel(&team, &channel).is_ok() {
                out.push(Change::RemoveChannel { team, channel });
            }
        }
        for team in gone_teams {
            self.step(&mut rng);
            if self.remove_team(&team).is_ok() {
                out.push(Change::RemoveTeam { team });
            }
        }
        ChangeBatch { seed, changes: out }
    }

    fn step(&self, rng: &mut SmallRng) {
        self.advance(chrono::Duration::seconds(rng.random_range(1..=5)));
    }

    /// Teams, channels (never a team's first, General) and members (never a team's first, who
    /// posts the batch's messages) to remove at the end of the batch.
    #[allow(clippy::type_complexity)]
    fn pick_removals(
        &self,
        rng: &mut SmallRng,
        scale: usize,
    ) -> (Vec<String>, Vec<(String, String)>, Vec<(String, String)>) {
        let t = self.tenant();
        let mut live: Vec<usize> = (0..t.teams.len())
            .filter(|&i| !t.teams[i].removed)
            .collect();
        let mut teams = Vec::new();
        for _ in 0..scale {
            if live.len() < 2 {
                break;
            }
            let k = rng.random_range(0..live.len());
            teams.push(t.teams[live.remove(k)].id.clone());
        }
        let mut channels = Vec::new();
        let mut members = Vec::new();
        for _ in 0..scale {
            let with_channels: Vec<usize> = live
                .iter()
                .copied()
                .filter(|&ti| t.teams[ti].live_channels().count() >= 2)
                .collect();
            if let Some(&ti) = with_channels.choose(rng) {
                let team = &t.teams[ti];
                let cands: Vec<&str> = team
                    .live_channels()
                    .skip(1)
                    .map(|(_, c)| c.id.as_str())
                    .filter(|c| !channels.iter().any(|(_, x): &(String, String)| x == c))
                    .collect();
                if let Some(c) = cands.choose(rng) {
                    channels.push((team.id.clone(), c.to_string()));
                }
            }
            let with_members: Vec<usize> = live
                .iter()
                .copied()
                .filter(|&ti| t.teams[ti].live_members().count() >= 2)
                .collect();
            if let Some(&ti) = with_members.choose(rng) {
                let team = &t.teams[ti];
                let cands: Vec<&str> = team
                    .live_members()
                    .skip(1)
                    .map(|(_, m)| m.id.as_str())
                    .filter(|m| !members.iter().any(|(_, x): &(String, String)| x == m))
                    .collect();
                if let Some(m) = cands.choose(rng) {
                    members.push((team.id.clone(), m.to_string()));
                }
            }
        }
        (teams, channels, members)
    }

    /// A message of a surviving channel that fits `want` and no earlier change touched.
    fn pick_message(
        t: &Tenant,
        rng: &mut SmallRng,
        want: Want,
        gone_teams: &[String],
        gone_channels: &[(String, String)],
        used: &HashSet<Target>,
        fresh_thread: bool,
    ) -> Option<Target> {
        let channels: Vec<(usize, usize)> = t
            .teams
            .iter()
            .enumerate()
            .filter(|(_, tm)| !tm.removed && !gone_teams.contains(&tm.id))
            .flat_map(|(ti, tm)| {
                tm.live_channels()
                    .filter(|(_, c)| !gone_channels.iter().any(|(_, g)| *g == c.id))
                    .filter(|(_, c)| !c.messages.is_empty())
                    .map(move |(ci, _)| (ti, ci))
            })
            .collect();
        for _ in 0..ATTEMPTS {
            let &(ti, ci) = channels.choose(rng)?;
            let (team, ch) = (&t.teams[ti], &t.teams[ti].channels[ci]);
            let n = ch.messages.len();
            let pos = match want {
                Want::OldThread => rng.random_range(0..n.div_ceil(2)),
                _ => rng.random_range(0..n),
            };
            let root = &ch.messages[pos];
            let reply = match want {
                Want::LiveReply => match root.replies.choose(rng) {
                    Some(r) if editable(r) && root.deleted.is_none() => Some(r.id.to_string()),
                    _ => continue,
                },
                Want::Reacted if editable(root) && !root.reactions.is_empty() => None,
                Want::Reacted => match root.replies.choose(rng) {
                    Some(r) if editable(r) && !r.reactions.is_empty() && root.deleted.is_none() => {
                        Some(r.id.to_string())
                    }
                    _ => continue,
                },
                _ if editable(root) => None,
                _ => continue,
            };
            let target = (team.id.clone(), ch.id.clone(), root.id.to_string(), reply);
            // A thread that goes entirely must not take away what an earlier change recorded.
            let thread_touched = || {
                used.iter()
                    .any(|(a, b, c, _)| (a, b, c) == (&target.0, &target.1, &target.2))
            };
            let taken = used.contains(&target) || (fresh_thread && thread_touched());
            if !taken {
                return Some(target);
            }
        }
        None
    }

    fn message_changes(
        &self,
        rng: &mut SmallRng,
        seed: u64,
        gone_teams: &[String],
        gone_channels: &[(String, String)],
        used: &mut HashSet<Target>,
        out: &mut Vec<Change>,
    ) {
        // (what is wanted, what is done) in the batch's order.
        #[derive(Clone, Copy)]
        enum Op {
            Post,
            Reply,
            Edit,
            React,
            Unreact,
            Soft,
            Hard,
        }
        let plan: [(Want, Op, usize); 11] = [
            (Want::LivePost, Op::Post, 3),
            (Want::OldThread, Op::Reply, 3),
            (Want::LivePost, Op::Edit, 2),
            (Want::LiveReply, Op::Edit, 2),
            (Want::LivePost, Op::React, 2),
            (Want::LiveReply, Op::React, 1),
            (Want::Reacted, Op::Unreact, 1),
            (Want::LivePost, Op::Soft, 1),
            (Want::LiveReply, Op::Soft, 1),
            (Want::LivePost, Op::Hard, 1),
            (Want::LiveReply, Op::Hard, 1),
        ];
        for (want, op, n) in plan {
            for _ in 0..n {
                self.step(rng);
                let picked = {
                    let t = self.tenant();
                    let fresh_thread = matches!((op, want), (Op::Hard, Want::LivePost));
                    Self::pick_message(&t, rng, want, gone_teams, gone_channels, used, fresh_thread)
                };
                let Some(target) = picked else { continue };
                used.insert(target.clone());
                let (team, channel, message, reply) = target;
                let i = out.len();
                let r = reply.as_deref();
                let done: Result<Change, SimError> = match op {
                    Op::Post => self
                        .post_message(&team, &channel, &format!("<p>batch {seed} post {i}</p>"))
                        .map(|message| Change::Post {
                            team,
                            channel,
                            message,
                        }),
                    Op::Reply => self
                        .post_reply(
                            &team,
                            &channel,
                            &message,
                            &format!("<p>batch {seed} reply {i}</p>"),
                        )
                        .map(|reply| Change::Reply {
                            team,
                            channel,
                            message,
                            reply,
                        }),
                    Op::Edit => self
                        .edit_message(
                            &team,
                            &channel,
                            &message,
                            r,
                            &format!("<p>batch {seed} edit {i}</p>"),
                        )
                        .map(|()| Change::Edit {
                            team,
                            channel,
                            message,
                            reply,
                        }),
                    Op::React => {
                        let reaction = REACTIONS[rng.random_range(0..REACTIONS.len())].to_string();
                        self.react(&team, &channel, &message, r, &reaction)
                            .map(|()| Change::React {
                                team,
                                channel,
                                message,
                                reply,
                                reaction,
                            })
                    }
                    Op::Unreact => {
                        let reaction = {
                            let t = self.tenant();
                            last_reaction(&t, &team, &channel, &message, r)
                        };
                        match reaction {
                            Some(reaction) => self
                                .unreact(&team, &channel, &message, r, &reaction)
                                .map(|()| Change::Unreact {
                                    team,
                                    channel,
                                    message,
                                    reply,
                                    reaction,
                                }),
                            None => continue,
                        }
                    }
                    Op::Soft => self.soft_delete(&team, &channel, &message, r).map(|()| {
                        Change::SoftDelete {
                            team,
                            channel,
                            message,
                            reply,
                        }
                    }),
                    Op::Hard => self.hard_delete(&team, &channel, &message, r).map(|()| {
                        Change::HardDelete {
                            team,
                            channel,
                            message,
                            reply,
                        }
                    }),
                };
                // Targets are picked live under the same rules the mutations check, so a refusal
                // would be a bug in the picking; the change is then simply not recorded.
                if let Ok(c) = done {
                    mark_created(&c, used);
                    out.push(c);
                }
            }
        }
    }

    /// A new team with a post, a new channel in a surviving team with a post and a reply, and a
    /// new member of a surviving team.
    fn additions(
        &self,
        rng: &mut SmallRng,
        seed: u64,
        gone_teams: &[String],
        out: &mut Vec<Change>,
    ) {
        let i = out.len();
        self.step(rng);
        let team = self.add_team(&format!("Batch {seed} team {i}"));
        out.push(Change::AddTeam { team: team.clone() });
        if let Some(general) = self
            .channels(&team)
            .first()
            .and_then(|c| c["id"].as_str().map(String::from))
        {
            self.step(rng);
            if let Ok(message) =
                self.post_message(&team, &general, &format!("<p>batch {seed} first post</p>"))
            {
                out.push(Change::Post {
                    team,
                    channel: general,
                    message,
                });
            }
        }
        let survivors: Vec<String> = self
            .team_ids()
            .into_iter()
            .filter(|t| !gone_teams.contains(t))
            .collect();
        if let Some(team) = survivors.choose(rng).cloned() {
            self.step(rng);
            if let Ok(channel) =
                self.add_channel(&team, &format!("Batch {seed} channel {i}"), "standard")
            {
                out.push(Change::AddChannel {
                    team: team.clone(),
                    channel: channel.clone(),
                });
                self.step(rng);
                if let Ok(message) = self.post_message(
                    &team,
                    &channel,
                    &format!("<p>batch {seed} new channel post</p>"),
                ) {
                    out.push(Change::Post {
                        team: team.clone(),
                        channel: channel.clone(),
                        message: message.clone(),
                    });
                    self.step(rng);
                    if let Ok(reply) = self.post_reply(
                        &team,
                        &channel,
                        &message,
                        &format!("<p>batch {seed} new channel reply</p>"),
                    ) {
                        out.push(Change::Reply {
                            team: team.clone(),
                            channel,
                            message,
                            reply,
                        });
                    }
                }
            }
        }
        if let Some(team) = survivors.choose(rng).cloned() {
            self.step(rng);
            let n = out.len();
            if let Ok(member) = self.add_member(
                &team,
                &format!("Batch {seed} member {n}"),
                &format!("batch{seed}.member{n}@contoso.com"),
                &[],
            ) {
                out.push(Change::AddMember { team, member });
            }
        }
    }
}
