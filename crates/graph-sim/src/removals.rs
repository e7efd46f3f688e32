//! Removals: teams, channels and members that leave the tenant, and hard-deleted messages.
//!
//! Removed teams, channels and members stay in their vectors as tombstones (`removed`), so
//! paging keys, shared-channel pairs and the seeds of entities added later never shift; every
//! Graph route and ground-truth accessor skips them (docs/graph.md §9.20). A hard-deleted post or
//! reply leaves the channel for good and leaves a [`HardDeleted`] record that channel delta
//! reports as `@removed` (docs/graph.md §9.21).

use crate::error::SimError;
use crate::sim::{Sim, reply_pos, root_pos};
use crate::tenant::HardDeleted;

impl Sim {
    /// Removes a team: `GET /teams/{id}` and everything under it answer 404, lists omit it, and
    /// its shared channels leave the other teams' `allChannels`.
    pub fn remove_team(&self, team_id: &str) -> Result<(), SimError> {
        let mut t = self.tenant();
        let ti = t
            .team_pos(team_id)
            .ok_or_else(|| SimError::TeamNotFound(team_id.into()))?;
        t.change_seq += 1;
        let team = &mut t.teams[ti];
        team.removed = true;
        for ch in &mut team.channels {
            // Nothing can read them any more; free the memory.
            ch.messages = Vec::new();
            ch.hard_deleted = Vec::new();
        }
        Ok(())
    }

    /// Removes a channel with its messages: lists omit it, and the channel, its messages, its
    /// delta and its share in getAllMessages answer 404 or leave it out.
    pub fn remove_channel(&self, team_id: &str, channel_id: &str) -> Result<(), SimError> {
        self.with_channel(team_id, channel_id, |t, ti, ci| {
            t.change_seq += 1;
            let ch = &mut t.teams[ti].channels[ci];
            ch.removed = true;
            ch.messages = Vec::new();
            ch.hard_deleted = Vec::new();
            Ok(())
        })
    }

    /// Removes a membership (by its id, as `GET /teams/{id}/members` lists it).
    pub fn remove_member(&self, team_id: &str, membership_id: &str) -> Result<(), SimError> {
        let mut t = self.tenant();
        let ti = t
            .team_pos(team_id)
            .ok_or_else(|| SimError::TeamNotFound(team_id.into()))?;
        let team = &mut t.teams[ti];
        let mi = team
            .member_index
            .get(membership_id)
            .copied()
            .filter(|&i| !team.members[i].removed)
            .ok_or_else(|| SimError::MemberNotFound {
                team: team_id.into(),
                member: membership_id.into(),
            })?;
        team.members[mi].removed = true;
        t.change_seq += 1;
        Ok(())
    }

    /// Hard-deletes a root post with its whole thread (`reply_id` `None`) or one reply. Unlike
    /// [`Sim::soft_delete`] nothing is left to list or export; channel delta reports the id with
    /// `@removed` (reason `deleted`). Soft-deleted messages can be hard-deleted too (what
    /// retention does to them later).
    pub fn hard_delete(
        &self,
        team_id: &str,
        channel_id: &str,
        message_id: &str,
        reply_id: Option<&str>,
    ) -> Result<(), SimError> {
        let now = self.inner.clock.tick();
        self.with_channel(team_id, channel_id, |t, ti, ci| {
            let seq = t.change_seq + 1;
            let ch = &mut t.teams[ti].channels[ci];
            let pos = root_pos(ch, channel_id, message_id)?;
            let gone = match reply_id {
                None => {
                    let root = ch.messages.remove(pos);
                    HardDeleted {
                        id: root.id,
                        reply_to: None,
                        at: now,
                        seq,
                    }
                }
                Some(r) => {
                    let root = &mut ch.messages[pos];
                    let rp = reply_pos(root, message_id, r)?;
                    let reply = root.replies.remove(rp);
                    // The chain's latest change may have been this reply; what remains decides.
                    root.recompute_chain();
                    HardDeleted {
                        id: reply.id,
                        reply_to: Some(root.id),
                        at: now,
                        seq,
                    }
                }
            };
            ch.hard_deleted.push(gone);
            t.change_seq = seq;
            Ok(())
        })
    }
}
