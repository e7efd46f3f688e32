//! What to ask Graph for: endpoint classes, the resource a request touches,
//! and request builders that percent-encode every path segment.

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::odata::Filter;

/// Everything but RFC 3986 unreserved characters is encoded, in path
/// segments and in query values alike. Ids such as `19:abc@thread.tacv2`
/// or user values containing `/`, `?`, `#`, `%` or `&` therefore stay one
/// path segment / one query value.
const ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub(crate) fn encode_component(s: &str) -> String {
    utf8_percent_encode(s, ENCODE).to_string()
}

/// The kind of Graph request: drives pacing (each class has its own
/// documented limit), counters, and which permission a 403 names.
///
/// `as_str()` gives the same names as the simulator's counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EndpointClass {
    TeamsList,
    TeamGet,
    GroupsList,
    ChannelsList,
    AllChannelsList,
    ChannelGet,
    MembersList,
    MessagesList,
    MessageGet,
    RepliesList,
    MessagesDelta,
    GetAllMessages,
}

impl EndpointClass {
    pub const ALL: [EndpointClass; 12] = [
        EndpointClass::TeamsList,
        EndpointClass::TeamGet,
        EndpointClass::GroupsList,
        EndpointClass::ChannelsList,
        EndpointClass::AllChannelsList,
        EndpointClass::ChannelGet,
        EndpointClass::MembersList,
        EndpointClass::MessagesList,
        EndpointClass::MessageGet,
        EndpointClass::RepliesList,
        EndpointClass::MessagesDelta,
        EndpointClass::GetAllMessages,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EndpointClass::TeamsList => "teams_list",
            EndpointClass::TeamGet => "team_get",
            EndpointClass::GroupsList => "groups_list",
            EndpointClass::ChannelsList => "channels_list",
            EndpointClass::AllChannelsList => "all_channels_list",
            EndpointClass::ChannelGet => "channel_get",
            EndpointClass::MembersList => "members_list",
            EndpointClass::MessagesList => "messages_list",
            EndpointClass::MessageGet => "message_get",
            EndpointClass::RepliesList => "replies_list",
            EndpointClass::MessagesDelta => "messages_delta",
            EndpointClass::GetAllMessages => "get_all_messages",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// Human name of the endpoint for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            EndpointClass::TeamsList => "GET /teams",
            EndpointClass::TeamGet => "GET /teams/{team-id}",
            EndpointClass::GroupsList => "GET /groups",
            EndpointClass::ChannelsList => "GET /teams/{team-id}/channels",
            EndpointClass::AllChannelsList => "GET /teams/{team-id}/allChannels",
            EndpointClass::ChannelGet => "GET /teams/{team-id}/channels/{channel-id}",
            EndpointClass::MembersList => "GET /teams/{team-id}/members",
            EndpointClass::MessagesList => "GET /teams/{team-id}/channels/{channel-id}/messages",
            EndpointClass::MessageGet => {
                "GET /teams/{team-id}/channels/{channel-id}/messages/{message-id}"
            }
            EndpointClass::RepliesList => {
                "GET /teams/{team-id}/channels/{channel-id}/messages/{message-id}/replies"
            }
            EndpointClass::MessagesDelta => {
                "GET /teams/{team-id}/channels/{channel-id}/messages/delta"
            }
            EndpointClass::GetAllMessages => "GET /teams/{team-id}/channels/getAllMessages",
        }
    }

    /// Least-privileged Graph *application* permission that lets the
    /// endpoint answer (docs/graph.md §7.3).
    pub fn permission(self) -> &'static str {
        match self {
            EndpointClass::TeamsList | EndpointClass::TeamGet => "Team.ReadBasic.All",
            EndpointClass::GroupsList => "GroupMember.Read.All",
            EndpointClass::ChannelsList
            | EndpointClass::AllChannelsList
            | EndpointClass::ChannelGet => "Channel.ReadBasic.All",
            EndpointClass::MembersList => "TeamMember.Read.All",
            EndpointClass::MessagesList
            | EndpointClass::MessageGet
            | EndpointClass::RepliesList
            | EndpointClass::MessagesDelta
            | EndpointClass::GetAllMessages => "ChannelMessage.Read.All",
        }
    }

    /// Message endpoints are "protected APIs" under application permissions:
    /// the permission alone is not enough, access must be requested from
    /// Microsoft (docs/graph.md §7.4).
    pub fn is_protected_api(self) -> bool {
        matches!(
            self,
            EndpointClass::MessagesList
                | EndpointClass::MessageGet
                | EndpointClass::RepliesList
                | EndpointClass::MessagesDelta
        )
    }

    /// True for endpoints that return a collection (`value` array).
    pub fn is_collection(self) -> bool {
        !matches!(
            self,
            EndpointClass::TeamGet | EndpointClass::ChannelGet | EndpointClass::MessageGet
        )
    }
}

impl fmt::Display for EndpointClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The team and channel a request touches: Microsoft limits requests per
/// team and per channel, and error messages name them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Scope {
    pub team_id: Option<String>,
    pub channel_id: Option<String>,
}

impl Scope {
    pub fn tenant() -> Scope {
        Scope::default()
    }

    pub fn team(team_id: impl Into<String>) -> Scope {
        Scope {
            team_id: Some(team_id.into()),
            channel_id: None,
        }
    }

    pub fn channel(team_id: impl Into<String>, channel_id: impl Into<String>) -> Scope {
        Scope {
            team_id: Some(team_id.into()),
            channel_id: Some(channel_id.into()),
        }
    }
}

/// One Graph GET request, built by the constructors below.
///
/// Path segments are kept raw and encoded when the URL is built; query
/// options are kept as (name, value) pairs and encoded the same way.
#[derive(Clone, Debug)]
pub struct GraphRequest {
    pub(crate) class: EndpointClass,
    pub(crate) scope: Scope,
    pub(crate) message_id: Option<String>,
    pub(crate) segments: Vec<String>,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) prefer: Vec<String>,
}

impl GraphRequest {
    fn new(class: EndpointClass, scope: Scope, segments: Vec<String>) -> GraphRequest {
        GraphRequest {
            class,
            scope,
            message_id: None,
            segments,
            query: Vec::new(),
            prefer: Vec::new(),
        }
    }

    /// `teams/{team_id}/<tail>`, paced and reported as a request on that team.
    fn on_team(class: EndpointClass, team_id: &str, tail: &[&str]) -> GraphRequest {
        let head = ["teams", team_id];
        let segments = head.iter().chain(tail).map(|s| s.to_string());
        Self::new(class, Scope::team(team_id), segments.collect())
    }

    /// `teams/{team_id}/channels/{channel_id}/<tail>`, paced and reported as
    /// a request on that channel.
    fn on_channel(
        class: EndpointClass,
        team_id: &str,
        channel_id: &str,
        tail: &[&str],
    ) -> GraphRequest {
        let head = ["teams", team_id, "channels", channel_id];
        let segments = head.iter().chain(tail).map(|s| s.to_string());
        Self::new(
            class,
            Scope::channel(team_id, channel_id),
            segments.collect(),
        )
    }

    /// What a bare link continues: the class and scope it belongs to, and
    /// the `Prefer` header a link cannot carry. Message endpoints always
    /// get `include-unknown-enum-members`, so system events read as
    /// `systemEventMessage` on every page (the connector always asks for it).
    pub(crate) fn continuation(class: EndpointClass, scope: Scope) -> GraphRequest {
        let mut req = Self::new(class, scope, Vec::new());
        if matches!(
            class,
            EndpointClass::MessagesList
                | EndpointClass::MessageGet
                | EndpointClass::RepliesList
                | EndpointClass::MessagesDelta
                | EndpointClass::GetAllMessages
        ) {
            req.prefer.push("include-unknown-enum-members".to_string());
        }
        req
    }

    /// `GET /teams`
    pub fn list_teams() -> GraphRequest {
        Self::new(
            EndpointClass::TeamsList,
            Scope::tenant(),
            vec!["teams".to_string()],
        )
    }

    /// `GET /teams/{id}`
    pub fn get_team(team_id: &str) -> GraphRequest {
        Self::on_team(EndpointClass::TeamGet, team_id, &[])
    }

    /// `GET /groups?$filter=resourceProvisioningOptions/Any(x:x eq 'Team')`
    pub fn list_groups_with_teams() -> GraphRequest {
        Self::new(
            EndpointClass::GroupsList,
            Scope::tenant(),
            vec!["groups".to_string()],
        )
        .filter(Filter::groups_with_teams())
    }

    /// `GET /teams/{id}/channels`
    pub fn list_channels(team_id: &str) -> GraphRequest {
        Self::on_team(EndpointClass::ChannelsList, team_id, &["channels"])
    }

    /// `GET /teams/{id}/allChannels` (own and incoming shared channels)
    pub fn list_all_channels(team_id: &str) -> GraphRequest {
        Self::on_team(EndpointClass::AllChannelsList, team_id, &["allChannels"])
    }

    /// `GET /teams/{id}/channels/{id}`
    pub fn get_channel(team_id: &str, channel_id: &str) -> GraphRequest {
        Self::on_channel(EndpointClass::ChannelGet, team_id, channel_id, &[])
    }

    /// `GET /teams/{id}/members`
    pub fn list_members(team_id: &str) -> GraphRequest {
        Self::on_team(EndpointClass::MembersList, team_id, &["members"])
    }

    /// `GET /teams/{id}/channels/{id}/messages` (root posts)
    pub fn list_messages(team_id: &str, channel_id: &str) -> GraphRequest {
        Self::on_channel(
            EndpointClass::MessagesList,
            team_id,
            channel_id,
            &["messages"],
        )
    }

    /// `GET /teams/{id}/channels/{id}/messages/{id}`
    pub fn get_message(team_id: &str, channel_id: &str, message_id: &str) -> GraphRequest {
        let mut r = Self::on_channel(
            EndpointClass::MessageGet,
            team_id,
            channel_id,
            &["messages", message_id],
        );
        r.message_id = Some(message_id.to_string());
        r
    }

    /// `GET /teams/{id}/channels/{id}/messages/{id}/replies`
    pub fn list_replies(team_id: &str, channel_id: &str, message_id: &str) -> GraphRequest {
        let mut r = Self::on_channel(
            EndpointClass::RepliesList,
            team_id,
            channel_id,
            &["messages", message_id, "replies"],
        );
        r.message_id = Some(message_id.to_string());
        r
    }

    /// `GET /teams/{id}/channels/{id}/messages/delta`
    pub fn messages_delta(team_id: &str, channel_id: &str) -> GraphRequest {
        Self::on_channel(
            EndpointClass::MessagesDelta,
            team_id,
            channel_id,
            &["messages", "delta"],
        )
    }

    /// `GET /teams/{id}/channels/getAllMessages` (export API)
    pub fn get_all_messages(team_id: &str) -> GraphRequest {
        Self::on_team(
            EndpointClass::GetAllMessages,
            team_id,
            &["channels", "getAllMessages"],
        )
    }

    fn set_query(mut self, name: &str, value: String) -> Self {
        self.query.retain(|(n, _)| n != name);
        self.query.push((name.to_string(), value));
        self
    }

    /// `$top=n` (page size).
    pub fn top(self, n: u32) -> Self {
        self.set_query("$top", n.to_string())
    }

    /// `$select=a,b,c`
    pub fn select(self, cols: &[&str]) -> Self {
        self.set_query("$select", cols.join(","))
    }

    /// `$filter=...`; a second call combines with `and`.
    pub fn filter(self, f: Filter) -> Self {
        let combined = match self.query.iter().find(|(n, _)| n == "$filter") {
            Some((_, existing)) => format!("({existing}) and ({f})"),
            None => f.to_string(),
        };
        self.set_query("$filter", combined)
    }

    /// `$expand=...` (e.g. `replies` on channel messages).
    pub fn expand(self, what: &str) -> Self {
        self.set_query("$expand", what.to_string())
    }

    /// `$count=true`
    pub fn count(self) -> Self {
        self.set_query("$count", "true".to_string())
    }

    /// `model=A|B` on the export API (metering model; optional since
    /// August 2025 but still accepted).
    pub fn model(self, m: &str) -> Self {
        self.set_query("model", m.to_string())
    }

    /// `Prefer: include-unknown-enum-members`, so system events come back as
    /// `systemEventMessage` rather than `unknownFutureValue`.
    pub fn prefer_include_unknown_enum_members(mut self) -> Self {
        let p = "include-unknown-enum-members".to_string();
        if !self.prefer.contains(&p) {
            self.prefer.push(p);
        }
        self
    }

    pub fn class(&self) -> EndpointClass {
        self.class
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The path and query after the version segment, encoded, e.g.
    /// `teams/19%3Aa%40thread/channels?%24top=50`.
    ///
    /// Fails for ids that no encoding can keep inside one segment: empty
    /// ids, and `.` / `..`, which URL parsers collapse as dot segments even
    /// when written `%2E`.
    pub fn relative_url(&self) -> Result<String, String> {
        let mut out = String::new();
        for (i, seg) in self.segments.iter().enumerate() {
            if seg.is_empty() || seg == "." || seg == ".." {
                return Err(format!(
                    "'{seg}' cannot be used as an id in a Graph URL (empty or a dot segment)"
                ));
            }
            if i > 0 {
                out.push('/');
            }
            out.push_str(&encode_component(seg));
        }
        for (i, (k, v)) in self.query.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            // `$` is kept literal in option names: it is what Graph documents
            // and some proxies do not decode %24 in names.
            out.push_str(k);
            out.push('=');
            out.push_str(&encode_component(v));
        }
        Ok(out)
    }
}

pub(crate) fn describe_target(
    class: EndpointClass,
    scope: &Scope,
    message_id: Option<&str>,
) -> String {
    let team = scope.team_id.as_deref();
    let channel = scope.channel_id.as_deref();
    match (message_id, channel, team) {
        (Some(m), Some(c), Some(t)) => {
            format!("message '{m}' in channel '{c}' of team '{t}'")
        }
        (_, Some(c), Some(t)) => format!("channel '{c}' of team '{t}'"),
        (_, None, Some(t)) => format!("team '{t}'"),
        _ => format!("resource of {}", class.describe()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_ids_stay_one_segment() {
        let r = GraphRequest::list_messages("t/1?x#y", "19:a@thread.tacv2%2F");
        let u = r.relative_url().unwrap();
        assert_eq!(
            u,
            "teams/t%2F1%3Fx%23y/channels/19%3Aa%40thread.tacv2%252F/messages"
        );
        assert!(GraphRequest::get_team("..").relative_url().is_err());
        assert!(GraphRequest::get_team("").relative_url().is_err());
    }

    #[test]
    fn query_values_are_encoded() {
        let f = Filter::eq_str("displayName", "a&b=#c").unwrap();
        let r = GraphRequest::list_teams()
            .filter(f)
            .top(5)
            .select(&["id", "displayName"]);
        let u = r.relative_url().unwrap();
        assert_eq!(
            u,
            "teams?$filter=displayName%20eq%20%27a%26b%3D%23c%27&$top=5&$select=id%2CdisplayName"
        );
    }

    #[test]
    fn groups_filter_present() {
        let u = GraphRequest::list_groups_with_teams()
            .relative_url()
            .unwrap();
        assert!(u.starts_with("groups?$filter=resourceProvisioningOptions%2FAny"));
    }
}
