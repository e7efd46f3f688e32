//! Errors: `SimError` for the library's mutation API, `ApiError` for what the HTTP side answers
//! (rendered as Graph's error JSON, docs/graph.md §6.1).

use axum::http::StatusCode;

/// Why a call on [`crate::Sim`] was refused.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SimError {
    #[error("team {0:?} does not exist in the simulated tenant; list them with Sim::team_ids()")]
    TeamNotFound(String),
    #[error("channel {channel:?} does not exist in team {team:?}; list them with Sim::channels()")]
    ChannelNotFound { team: String, channel: String },
    #[error("message {message:?} does not exist in channel {channel:?}; ids are epoch-ms strings")]
    MessageNotFound { channel: String, message: String },
    #[error("reply {reply:?} does not exist under message {message:?}")]
    ReplyNotFound { message: String, reply: String },
    #[error("membership type {0:?} is not one of standard, private, shared")]
    InvalidMembershipType(String),
    #[error("message {0:?} is soft-deleted; it can no longer be edited or reacted to")]
    Deleted(String),
    #[error("message {message:?} has no {reaction:?} reaction to remove")]
    ReactionNotFound { message: String, reaction: String },
    #[error("member {member:?} does not exist in team {team:?}; list them with Sim::members()")]
    MemberNotFound { team: String, member: String },
}

/// A Graph error answer: status, `error.code`, `error.message`, and optionally the
/// `Retry-After` to send.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<String>,
    /// `Location` header (410 Gone on expired delta state).
    pub location: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
            location: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "NotFound", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "Forbidden", message)
    }
}

impl From<SimError> for ApiError {
    fn from(e: SimError) -> Self {
        match e {
            SimError::InvalidMembershipType(_) => ApiError::bad_request(e.to_string()),
            SimError::Deleted(_) => ApiError::new(StatusCode::CONFLICT, "Conflict", e.to_string()),
            _ => ApiError::not_found(e.to_string()),
        }
    }
}
