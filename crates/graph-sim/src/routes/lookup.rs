//! Finding a request's team, channel and message in the tenant, or Graph's 404 for each.

use crate::error::ApiError;
use crate::tenant::{Channel, Message, Team, Tenant};

pub fn team_not_found(team_id: &str) -> ApiError {
    ApiError::not_found(format!("No team found with Group Id {team_id}"))
}

pub fn channel_not_found(channel_id: &str) -> ApiError {
    ApiError::not_found(format!("Channel {channel_id} not found."))
}

pub fn message_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Message {id} not found."))
}

/// The team and its index, or Graph's 404.
pub fn team<'t>(t: &'t Tenant, team_id: &str) -> Result<(usize, &'t Team), ApiError> {
    t.team(team_id).ok_or_else(|| team_not_found(team_id))
}

/// Locates team and channel or answers Graph's 404.
pub fn locate<'t>(
    t: &'t Tenant,
    team_id: &str,
    channel_id: &str,
) -> Result<(&'t Team, &'t Channel), ApiError> {
    let (ti, team) = team(t, team_id)?;
    let (_, ch) = t
        .channel(ti, channel_id)
        .ok_or_else(|| channel_not_found(channel_id))?;
    Ok((team, ch))
}

pub fn root_of<'c>(ch: &'c Channel, id: &str) -> Result<&'c Message, ApiError> {
    id.parse::<u64>()
        .ok()
        .and_then(|n| ch.root_pos(n))
        .map(|p| &ch.messages[p])
        .ok_or_else(|| message_not_found(id))
}
