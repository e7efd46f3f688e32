//! Tenant switches that make endpoints fail the way real tenants do (docs/graph.md §6.2, §9.15):
//! protected API not granted, delta unsupported, export API refused, teams or channels that
//! answer 403/404, the new-tenant 401 on members.

use axum::http::StatusCode;

use super::door::Scope;
use crate::class::EndpointClass;
use crate::error::ApiError;
use crate::sim::{Sim, lock};

pub fn check_switches(sim: &Sim, class: EndpointClass, scope: &Scope) -> Result<(), ApiError> {
    let s = lock(&sim.inner.switches);
    if let Some(t) = &scope.team {
        if s.missing_team_ids.iter().any(|x| x == t) {
            return Err(ApiError::not_found(format!(
                "No team found with Group Id {t}"
            )));
        }
        if s.forbidden_team_ids.iter().any(|x| x == t) {
            return Err(ApiError::forbidden(
                "Caller is not authorized to access this team.",
            ));
        }
    }
    if let Some(c) = &scope.channel {
        if s.missing_channel_ids.iter().any(|x| x == c) {
            return Err(ApiError::not_found(format!("Channel {c} not found.")));
        }
        if s.forbidden_channel_ids.iter().any(|x| x == c) {
            return Err(ApiError::forbidden(
                "Caller is not authorized to access this channel.",
            ));
        }
    }
    if s.protected_api_denied && class.is_protected_api() {
        return Err(ApiError::forbidden(
            "Invoked API requires Protected API access in application-only context when not using Resource Specific Consent. Visit https://docs.microsoft.com/en-us/graph/teams-protected-apis for more details.",
        ));
    }
    if s.delta_unsupported && class == EndpointClass::MessagesDelta {
        return Err(ApiError::bad_request(
            "Invalid request. Delta query is not supported by this resource.",
        ));
    }
    if class == EndpointClass::GetAllMessages {
        match s.export_api {
            crate::config::ExportApi::Granted => {}
            crate::config::ExportApi::Forbidden => {
                return Err(ApiError::forbidden(
                    "Missing role permissions on the request. API requires one of 'ChannelMessage.Read.All'. Roles on the request 'Team.ReadBasic.All, Channel.ReadBasic.All'.",
                ));
            }
            crate::config::ExportApi::PaymentRequired => {
                return Err(ApiError::new(
                    StatusCode::PAYMENT_REQUIRED,
                    "PaymentRequired",
                    "Evaluation capacity for the month has exceeded. To continue, the application must be associated with an Azure subscription.",
                ));
            }
        }
    }
    if s.members_unauthorized && class == EndpointClass::MembersList {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Unauthorized",
        ));
    }
    Ok(())
}
