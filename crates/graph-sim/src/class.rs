//! Endpoint classes: the Graph endpoints the simulator serves, grouped the way Microsoft's
//! throttling table counts them (docs/graph.md §4.4). The names are the keys of [`crate::Counters`]
//! and match graph-client's `EndpointClass` one for one (a graph-client test holds the two
//! together), so a count on either side names the same endpoint.

/// One Graph endpoint, as counted and throttled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

    /// The counter key.
    pub fn as_str(self) -> &'static str {
        use EndpointClass::*;
        match self {
            TeamsList => "teams_list",
            TeamGet => "team_get",
            GroupsList => "groups_list",
            ChannelsList => "channels_list",
            AllChannelsList => "all_channels_list",
            ChannelGet => "channel_get",
            MembersList => "members_list",
            MessagesList => "messages_list",
            MessageGet => "message_get",
            RepliesList => "replies_list",
            MessagesDelta => "messages_delta",
            GetAllMessages => "get_all_messages",
        }
    }

    /// Message endpoints that need Protected API access under application permissions
    /// (docs/graph.md §7.4); the export API has its own licensing switch.
    pub fn is_protected_api(self) -> bool {
        use EndpointClass::*;
        matches!(
            self,
            MessagesList | MessageGet | RepliesList | MessagesDelta
        )
    }

    /// The tenant-wide bucket (a row of the throttle table) this class counts against, with its
    /// rate in requests per second and its burst. Classes on one row share one bucket.
    pub fn tenant_limit(self) -> TenantLimit {
        use EndpointClass::*;
        let (bucket, rps, burst) = match self {
            // "GET channel message" row: 20 rps per app per tenant; list/replies/delta have no
            // row of their own and fall under it (docs/graph.md §4.4).
            MessagesList | MessageGet | RepliesList | MessagesDelta => {
                ("channel_message", 20.0, 20.0)
            }
            MembersList | ChannelsList | AllChannelsList => ("members_channels", 60.0, 60.0),
            GetAllMessages => ("get_all_messages", 200.0, 200.0),
            // Not a Teams API: the identity limit for a small tenant, 3500 resource units per
            // 10 s at cost 1, so rate 350/s and burst 3500.
            GroupsList => ("groups", 350.0, 3500.0),
            // GET team and "Other GET API calls for Microsoft Teams".
            TeamsList | TeamGet | ChannelGet => ("other_get", 30.0, 30.0),
        };
        TenantLimit { bucket, rps, burst }
    }
}

impl std::fmt::Display for EndpointClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A per-tenant limit as the simulator enforces it (at throttle scale 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TenantLimit {
    /// Name of the shared bucket.
    pub bucket: &'static str,
    /// Requests per second.
    pub rps: f64,
    /// Tokens the bucket holds when full.
    pub burst: f64,
}
