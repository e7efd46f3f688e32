//! Arrow schemas of the five tables.
//!
//! Column names are the snake_case forms of the Graph property names, nested struct fields
//! included, so SQL never needs quoting (`"from".user.display_name`). Every field is nullable:
//! Graph omits or nulls almost anything (docs/graph.md §8).

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};

/// One of the five tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Table {
    Teams,
    Channels,
    Members,
    Messages,
    MessageReplies,
}

/// Table names as they appear in SQL.
pub const TABLE_NAMES: [&str; 5] = [
    "teams",
    "channels",
    "members",
    "messages",
    "message_replies",
];

impl Table {
    pub const ALL: [Table; 5] = [
        Table::Teams,
        Table::Channels,
        Table::Members,
        Table::Messages,
        Table::MessageReplies,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::Teams => "teams",
            Table::Channels => "channels",
            Table::Members => "members",
            Table::Messages => "messages",
            Table::MessageReplies => "message_replies",
        }
    }

    /// Columns identifying a row; message ids repeat across channels, hence the parent ids.
    pub fn primary_key(self) -> &'static [&'static str] {
        match self {
            Table::Teams => &["id"],
            Table::Channels => &["team_id", "id"],
            Table::Members => &["team_id", "id"],
            Table::Messages => &["team_id", "channel_id", "id"],
            Table::MessageReplies => &["team_id", "channel_id", "parent_message_id", "id"],
        }
    }

    pub fn schema(self) -> SchemaRef {
        match self {
            Table::Teams => TEAMS.clone(),
            Table::Channels => CHANNELS.clone(),
            Table::Members => MEMBERS.clone(),
            Table::Messages => MESSAGES.clone(),
            Table::MessageReplies => MESSAGE_REPLIES.clone(),
        }
    }

    pub fn is_message_table(self) -> bool {
        matches!(self, Table::Messages | Table::MessageReplies)
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Table {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        Table::ALL
            .into_iter()
            .find(|t| t.name() == wanted)
            .ok_or_else(|| {
                format!(
                    "unknown Teams table '{s}'; expected one of {}",
                    TABLE_NAMES.join(", ")
                )
            })
    }
}

/// Primary key columns of a table by SQL name.
pub fn primary_key(table: &str) -> Option<&'static [&'static str]> {
    Table::from_str(table).ok().map(Table::primary_key)
}

/// Graph timestamps are DateTimeOffset in UTC with millisecond (sometimes 2-digit) fractions.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn s(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}
fn b(name: &str) -> Field {
    Field::new(name, DataType::Boolean, true)
}
fn i(name: &str) -> Field {
    Field::new(name, DataType::Int32, true)
}
fn ts(name: &str) -> Field {
    Field::new(name, timestamp_type(), true)
}
fn st(name: &str, fields: Vec<Field>) -> Field {
    Field::new(name, DataType::Struct(Fields::from(fields)), true)
}
fn list_of(name: &str, item: DataType) -> Field {
    Field::new(
        name,
        DataType::List(Arc::new(Field::new("item", item, true))),
        true,
    )
}

/// identity / teamworkUserIdentity / teamworkApplicationIdentity / teamworkConversationIdentity /
/// teamworkTagIdentity folded into one struct: the Graph subtypes differ only by their
/// `*IdentityType` property.
fn identity(name: &str) -> Field {
    st(
        name,
        vec![
            s("id"),
            s("display_name"),
            s("user_identity_type"),
            s("application_identity_type"),
            s("conversation_identity_type"),
            s("tenant_id"),
        ],
    )
}

/// chatMessageFromIdentitySet / chatMessageReactionIdentitySet.
fn identity_set(name: &str) -> Field {
    st(
        name,
        vec![
            identity("application"),
            identity("device"),
            identity("user"),
        ],
    )
}

fn reaction_fields() -> Vec<Field> {
    vec![
        ts("created_date_time"),
        s("display_name"),
        s("reaction_content_url"),
        s("reaction_type"),
        identity_set("user"),
    ]
}

/// Columns shared by `messages` and `message_replies` (chatMessage v1.0, docs/graph.md §8).
/// `onBehalfOf` is beta-only and therefore absent.
fn chat_message_fields() -> Vec<Field> {
    vec![
        s("id"),
        s("reply_to_id"),
        s("etag"),
        s("message_type"),
        ts("created_date_time"),
        ts("last_modified_date_time"),
        ts("last_edited_date_time"),
        ts("deleted_date_time"),
        s("subject"),
        s("summary"),
        s("chat_id"),
        s("importance"),
        s("locale"),
        s("web_url"),
        st("channel_identity", vec![s("team_id"), s("channel_id")]),
        // Polymorphic (DLP verdicts, one of many event detail subtypes): kept as JSON text.
        s("policy_violation"),
        s("event_detail"),
        identity_set("from"),
        st("body", vec![s("content_type"), s("content")]),
        list_of(
            "attachments",
            DataType::Struct(Fields::from(vec![
                s("id"),
                s("content_type"),
                s("content_url"),
                // Card JSON arrives as a string and stays one.
                s("content"),
                s("name"),
                s("thumbnail_url"),
                s("teams_app_id"),
            ])),
        ),
        list_of(
            "mentions",
            DataType::Struct(Fields::from(vec![
                i("id"),
                s("mention_text"),
                st(
                    "mentioned",
                    vec![
                        identity("application"),
                        identity("device"),
                        identity("user"),
                        identity("conversation"),
                        identity("tag"),
                    ],
                ),
            ])),
        ),
        list_of(
            "reactions",
            DataType::Struct(Fields::from(reaction_fields())),
        ),
        list_of(
            "message_history",
            DataType::Struct(Fields::from(vec![
                s("actions"),
                ts("modified_date_time"),
                st("reaction", reaction_fields()),
            ])),
        ),
    ]
}

static TEAMS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        s("id"),
        s("display_name"),
        s("description"),
        s("classification"),
        s("specialization"),
        s("visibility"),
        s("internal_id"),
        b("is_archived"),
        s("web_url"),
        ts("created_date_time"),
        s("tenant_id"),
        b("is_membership_limited_to_owners"),
        st(
            "member_settings",
            vec![
                b("allow_create_update_channels"),
                b("allow_create_private_channels"),
                b("allow_delete_channels"),
                b("allow_add_remove_apps"),
                b("allow_create_update_remove_tabs"),
                b("allow_create_update_remove_connectors"),
            ],
        ),
        st(
            "guest_settings",
            vec![
                b("allow_create_update_channels"),
                b("allow_delete_channels"),
            ],
        ),
        st(
            "messaging_settings",
            vec![
                b("allow_user_edit_messages"),
                b("allow_user_delete_messages"),
                b("allow_owner_delete_messages"),
                b("allow_team_mentions"),
                b("allow_channel_mentions"),
            ],
        ),
        st(
            "fun_settings",
            vec![
                b("allow_giphy"),
                s("giphy_content_rating"),
                b("allow_stickers_and_memes"),
                b("allow_custom_memes"),
            ],
        ),
        st(
            "discovery_settings",
            vec![b("show_in_teams_search_and_suggestions")],
        ),
        st(
            "summary",
            vec![i("owners_count"), i("members_count"), i("guests_count")],
        ),
        list_of(
            "tags",
            DataType::Struct(Fields::from(vec![
                s("id"),
                s("team_id"),
                s("display_name"),
                s("description"),
                i("member_count"),
                s("tag_type"),
            ])),
        ),
    ]))
});

static CHANNELS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        s("team_id"),
        s("id"),
        s("display_name"),
        s("description"),
        s("email"),
        s("web_url"),
        s("membership_type"),
        ts("created_date_time"),
        b("is_favorite_by_default"),
        b("is_archived"),
        s("tenant_id"),
        s("layout_type"),
        st(
            "moderation_settings",
            vec![
                s("user_new_message_restriction"),
                s("reply_restriction"),
                b("allow_new_message_from_bots"),
                b("allow_new_message_from_connectors"),
            ],
        ),
        st(
            "summary",
            vec![
                b("has_members_from_other_tenants"),
                i("guests_count"),
                i("members_count"),
                i("owners_count"),
            ],
        ),
    ]))
});

static MEMBERS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        s("team_id"),
        s("id"),
        s("display_name"),
        s("email"),
        list_of("roles", DataType::Utf8),
        s("tenant_id"),
        s("user_id"),
        ts("visible_history_start_date_time"),
    ]))
});

static MESSAGES: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields = vec![s("team_id"), s("channel_id")];
    fields.extend(chat_message_fields());
    Arc::new(Schema::new(fields))
});

static MESSAGE_REPLIES: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields = vec![s("team_id"), s("channel_id"), s("parent_message_id")];
    fields.extend(chat_message_fields());
    Arc::new(Schema::new(fields))
});

/// Graph property name (camelCase) of a top-level snake_case column, for `$select`.
pub fn graph_name(column: &str) -> String {
    let mut out = String::with_capacity(column.len());
    let mut upper = false;
    for c in column.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// snake_case form of a Graph property name (`lastModifiedDateTime` -> `last_modified_date_time`).
pub fn snake_name(graph: &str) -> String {
    let mut out = String::with_capacity(graph.len() + 4);
    for (idx, c) in graph.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if idx > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_for_every_top_level_column() {
        for t in Table::ALL {
            for f in t.schema().fields() {
                assert_eq!(
                    snake_name(&graph_name(f.name())),
                    *f.name(),
                    "{t}.{}",
                    f.name()
                );
            }
        }
    }

    #[test]
    fn primary_keys_are_columns() {
        for t in Table::ALL {
            for k in t.primary_key() {
                assert!(t.schema().index_of(k).is_ok(), "{t}.{k}");
            }
        }
        assert_eq!(
            primary_key("MESSAGES"),
            Some(&["team_id", "channel_id", "id"][..])
        );
        assert_eq!(primary_key("nope"), None);
    }
}
