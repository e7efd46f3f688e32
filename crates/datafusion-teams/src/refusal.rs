//! What a refusal from Graph means for one child of a scan (a team, a channel, a thread), and
//! how skipped children are reported: grouped by cause, with a count and a few examples, never
//! one line per channel.
//!
//! The policy itself (fail or skip) is applied in `Scan::classify`; this module only names
//! causes and their fixes, so every message about a refusal says the same thing.

use std::collections::BTreeMap;
use std::fmt;

use graph_client::GraphError;

/// Examples kept per cause.
const EXAMPLES: usize = 3;

/// A team or channel as the user knows it: display name when discovery saw one, and the id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Named {
    pub id: String,
    pub name: Option<String>,
}

impl Named {
    pub fn id(id: impl Into<String>) -> Self {
        Named {
            id: id.into(),
            name: None,
        }
    }
}

impl fmt::Display for Named {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "'{n}' ({})", self.id),
            None => f.write_str(&self.id),
        }
    }
}

/// Description of a team, for notices and errors.
pub(crate) fn team(t: &Named) -> String {
    format!("team {t}")
}

/// Description of a channel of a team.
pub(crate) fn channel(t: &Named, c: &Named) -> String {
    format!("channel {c} of team {t}")
}

/// Why a child was left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cause {
    /// Groups notices: one line per key.
    key: String,
    /// What happened, in the user's terms.
    pub label: String,
    /// What to do about it.
    pub fix: Option<String>,
    /// A refusal (403): skipping it makes the answer partial. A 404 is not: the child is gone.
    pub refused: bool,
}

/// The resource-specific-consent permission that grants the same access for one team.
fn rsc_permission(permission: &str) -> Option<&'static str> {
    match permission {
        "Team.ReadBasic.All" => Some("TeamSettings.Read.Group"),
        "Channel.ReadBasic.All" => Some("ChannelSettings.Read.Group"),
        "TeamMember.Read.All" => Some("TeamMember.Read.Group"),
        "ChannelMessage.Read.All" => Some("ChannelMessage.Read.Group"),
        _ => None,
    }
}

const PROTECTED_API_FIX: &str = "grant the application permission ChannelMessage.Read.All with admin consent and request protected-API access for the app from Microsoft (request form linked from https://learn.microsoft.com/graph/teams-protected-apis), or give the app resource-specific consent ChannelMessage.Read.Group by installing it in each team";

/// The cause behind a child-level failure, or `None` when the error is not about one child
/// (throttling, network, authentication...), which always fails the statement.
pub(crate) fn cause_of(e: &GraphError) -> Option<Cause> {
    match e {
        GraphError::Forbidden {
            endpoint,
            permission,
            protected_api,
            detail,
            ..
        } => {
            // Graph's refusal of app-only access to messages names the protected API; the same
            // 403 without it means this one team or channel keeps the app out.
            let protected = *protected_api && detail.to_ascii_lowercase().contains("protected api");
            if protected {
                return Some(Cause {
                    key: "403 protected api".into(),
                    label: "403: the app has no protected-API access to Teams channel messages"
                        .into(),
                    fix: Some(PROTECTED_API_FIX.into()),
                    refused: true,
                });
            }
            let rsc = rsc_permission(permission)
                .map(|p| format!(" or resource-specific consent {p} (install the app in the team)"))
                .unwrap_or_default();
            let extra = if *protected_api {
                "; channel messages are also a protected API: app-only access must be approved by Microsoft (https://learn.microsoft.com/graph/teams-protected-apis)"
            } else {
                ""
            };
            Some(Cause {
                key: format!("403 {endpoint}"),
                label: format!("403 on {endpoint}: the app may not read these"),
                fix: Some(format!(
                    "grant the application permission {permission} with admin consent{rsc}{extra}; if it is granted, the team or channel itself keeps the app out (a private or shared channel the app is not part of, or an access policy)"
                )),
                refused: true,
            })
        }
        GraphError::NotFound { endpoint, .. } => Some(Cause {
            key: format!("404 {endpoint}"),
            label: format!(
                "404 on {endpoint}: deleted after being listed, or an id in the query that does not exist"
            ),
            fix: None,
            refused: false,
        }),
        _ => None,
    }
}

/// The cause for list items Graph returned without an `id`: they cannot be keyed, so they are
/// left out rather than emitted with a NULL key.
pub(crate) fn missing_id(endpoint: &str) -> Cause {
    Cause {
        key: format!("no id {endpoint}"),
        label: format!("items of {endpoint} without an id: a row cannot go without its key"),
        fix: None,
        refused: false,
    }
}

/// Children left out for one cause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkipGroup {
    /// What happened.
    pub cause: String,
    /// What to do about it, when the user can do something.
    pub fix: Option<String>,
    /// Graph refused these children (403): leaving them out made the answer partial.
    pub refused: bool,
    pub count: u64,
    /// Up to three of them, as team / channel names and ids.
    pub examples: Vec<String>,
}

impl fmt::Display for SkipGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "left out {} ({}): e.g. {}",
            self.count,
            self.cause,
            self.examples.join("; ")
        )?;
        if self.count > self.examples.len() as u64 {
            write!(f, "; ...")?;
        }
        if let Some(fix) = &self.fix {
            write!(f, "; fix: {fix}")?;
        }
        Ok(())
    }
}

/// Skipped children grouped by cause.
#[derive(Clone, Debug, Default)]
pub(crate) struct Groups(BTreeMap<String, SkipGroup>);

impl Groups {
    pub fn add(&mut self, cause: &Cause, example: &str) {
        let g = self
            .0
            .entry(cause.key.clone())
            .or_insert_with(|| SkipGroup {
                cause: cause.label.clone(),
                fix: cause.fix.clone(),
                refused: cause.refused,
                count: 0,
                examples: Vec::new(),
            });
        g.count += 1;
        if g.examples.len() < EXAMPLES && !g.examples.iter().any(|e| e == example) {
            g.examples.push(example.to_string());
        }
    }

    pub fn take(&mut self) -> Vec<SkipGroup> {
        std::mem::take(&mut self.0).into_values().collect()
    }

    pub fn snapshot(&self) -> Vec<SkipGroup> {
        self.0.values().cloned().collect()
    }

    /// The refusal that left out the most children.
    pub fn largest_refusal(&self) -> Option<&SkipGroup> {
        self.0
            .values()
            .filter(|g| g.refused)
            .max_by_key(|g| g.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forbidden(detail: &str, protected_api: bool) -> GraphError {
        GraphError::Forbidden {
            endpoint: "GET /teams/{id}/channels/{id}/messages",
            permission: "ChannelMessage.Read.All",
            protected_api,
            what: "x".into(),
            detail: detail.into(),
        }
    }

    #[test]
    fn causes_name_their_fix_and_group() {
        let p = cause_of(&forbidden(
            "Forbidden: Invoked API requires Protected API access in application-only context",
            true,
        ))
        .unwrap();
        assert!(p.refused);
        assert!(p.fix.as_deref().unwrap().contains("protected-API access"));
        let c = cause_of(&forbidden(
            "Forbidden: not authorized to access this channel",
            true,
        ))
        .unwrap();
        assert_ne!(p.key, c.key);
        assert!(
            c.fix
                .as_deref()
                .unwrap()
                .contains("ChannelMessage.Read.Group")
        );
        let mut g = Groups::default();
        for i in 0..5 {
            g.add(&p, &format!("channel c{i}"));
        }
        let groups = g.take();
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].count, 5);
        assert_eq!(groups[0].examples.len(), 3);
        let line = groups[0].to_string();
        assert!(line.starts_with("left out 5 (403"), "{line}");
        assert!(!line.contains('\n'));
        assert!(
            cause_of(&GraphError::Throttled {
                endpoint: "x",
                attempts: 1,
                elapsed: std::time::Duration::ZERO,
                last_status: 429
            })
            .is_none()
        );
    }
}
