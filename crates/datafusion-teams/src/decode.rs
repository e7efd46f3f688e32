//! Graph JSON -> Arrow for the tables other than messages (teams, channels, members) and for
//! single messages read by id; pages of messages go straight from their bytes to Arrow
//! ([`crate::message_decode`]).
//!
//! Each item goes through a cheap normalisation (keys to snake_case, OData annotations dropped,
//! parent ids added, polymorphic objects turned into JSON text) and then arrow-json's decoder
//! builds the columns against the table schema. Unknown keys are ignored by the decoder, absent
//! keys become nulls, and decoding against the *projected* schema means unprojected columns are
//! never materialised.

use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::json::ReaderBuilder;
use serde_json::{Map, Value};

use crate::error::TeamsError;
use crate::schema::{Table, snake_name};

/// Parent ids a row inherits from the request that produced it (connector-derived columns).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParentIds {
    pub team_id: Option<String>,
    pub channel_id: Option<String>,
    pub parent_message_id: Option<String>,
}

impl ParentIds {
    pub fn team(team_id: &str) -> Self {
        ParentIds {
            team_id: Some(team_id.to_string()),
            ..Default::default()
        }
    }
    pub fn channel(team_id: &str, channel_id: &str) -> Self {
        ParentIds {
            team_id: Some(team_id.to_string()),
            channel_id: Some(channel_id.to_string()),
            parent_message_id: None,
        }
    }
    #[cfg(test)]
    pub fn with_parent_message(mut self, id: &str) -> Self {
        self.parent_message_id = Some(id.to_string());
        self
    }
}

/// Top-level properties whose shape depends on an `@odata.type` subtype: a fixed Arrow type cannot
/// hold them all, so they are carried as the JSON text Graph sent.
const JSON_TEXT_PROPERTIES: [&str; 2] = ["eventDetail", "policyViolation"];

/// Turns one Graph object into the shape the table schema expects.
pub fn normalise(table: Table, item: Value, parents: &ParentIds) -> Value {
    let Value::Object(map) = item else {
        return Value::Null;
    };
    let mut out = Map::with_capacity(map.len() + 3);
    for (key, value) in map {
        if key.contains('@') || key == "replies" {
            continue;
        }
        let value = if JSON_TEXT_PROPERTIES.contains(&key.as_str()) {
            json_text(value)
        } else if key == "attachments" {
            map_array(value, normalise_attachment)
        } else if key == "mentions" {
            map_array(value, normalise_mention)
        } else {
            normalise_value(value)
        };
        out.insert(snake_name(&key), value);
    }
    let parent_columns = match table {
        Table::Teams => (false, false, false),
        Table::Channels | Table::Members => (true, false, false),
        Table::Messages => (true, true, false),
        Table::MessageReplies => (true, true, true),
    };
    if parent_columns.0 {
        out.insert("team_id".into(), opt_str(&parents.team_id));
    }
    if parent_columns.1 {
        out.insert("channel_id".into(), opt_str(&parents.channel_id));
    }
    if parent_columns.2 {
        out.insert(
            "parent_message_id".into(),
            opt_str(&parents.parent_message_id),
        );
    }
    Value::Object(out)
}

fn opt_str(v: &Option<String>) -> Value {
    v.as_ref().map_or(Value::Null, |s| Value::String(s.clone()))
}

fn json_text(v: Value) -> Value {
    match v {
        Value::Null => Value::Null,
        other => Value::String(other.to_string()),
    }
}

fn normalise_value(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (key, value) in map {
                if key.contains('@') {
                    continue;
                }
                out.insert(snake_name(&key), normalise_value(value));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(normalise_value).collect()),
        other => other,
    }
}

fn map_array(v: Value, f: fn(Value) -> Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.into_iter().map(f).collect()),
        other => normalise_value(other),
    }
}

/// Card attachments carry their card as JSON text already; if a server ever sends the object
/// itself, keep it as text rather than failing the batch.
fn normalise_attachment(v: Value) -> Value {
    let mut v = normalise_value(v);
    if let Some(Value::Object(map)) = Some(&mut v)
        && let Some(content) = map.get_mut("content")
        && !(content.is_string() || content.is_null())
    {
        *content = Value::String(content.to_string());
    }
    v
}

/// Mention ids are Int32 in the schema; tolerate a quoted number.
fn normalise_mention(v: Value) -> Value {
    let mut v = normalise_value(v);
    if let Value::Object(map) = &mut v
        && let Some(id) = map.get_mut("id")
        && let Value::String(s) = id
    {
        *id = s.trim().parse::<i64>().map_or(Value::Null, Value::from);
    }
    v
}

/// One page of channel messages as Graph answered it (the HTTP body) decoded the way a scan of
/// `messages` decodes it: the page envelope with items left as bytes (as graph-client does),
/// then the items straight to Arrow. Public for the decode bench, which weighs it against
/// parsing the same bytes into `serde_json::Value` alone.
#[doc(hidden)]
pub fn decode_messages_page(
    body: &[u8],
    team_id: &str,
    channel_id: &str,
) -> Result<RecordBatch, TeamsError> {
    use crate::message_decode::{MessageDecoder, Parent, Parents};
    static DECODER: std::sync::OnceLock<MessageDecoder> = std::sync::OnceLock::new();
    let table = Table::Messages;
    let schema = table.schema();
    let decoder = DECODER.get_or_init(|| MessageDecoder::new(&[Some(&schema)], None));
    let page =
        graph_client::Page::from_body(graph_client::EndpointClass::MessagesList, body.to_vec())
            .map_err(|e| {
                TeamsError::decode(table, datafusion::arrow::error::ArrowError::JsonError(e))
            })?;
    let decoded = decoder.decode(table, &page)?;
    let rows = &decoded.items;
    let keep: Vec<bool> = (0..rows.len()).map(|i| rows.id(i).is_some()).collect();
    let parents = Parents {
        team: Parent::Same(team_id),
        channel: Parent::Same(channel_id),
        parent: Parent::Null,
    };
    rows.rows(table, &schema, &parents, &keep)
}

/// Decodes normalised rows into one batch of `schema` (a projection of the table schema).
pub fn decode_rows(
    table: Table,
    schema: &SchemaRef,
    rows: &[Value],
) -> Result<RecordBatch, TeamsError> {
    if schema.fields().is_empty() {
        // COUNT(*) projects no column: the batch only carries a row count.
        let options = RecordBatchOptions::new().with_row_count(Some(rows.len()));
        return RecordBatch::try_new_with_options(Arc::clone(schema), vec![], &options)
            .map_err(|e| TeamsError::decode(table, e));
    }
    let mut decoder = ReaderBuilder::new(Arc::clone(schema))
        .with_batch_size(rows.len().max(1))
        // A number or boolean where Graph documents a string (ids, etags) becomes its text
        // instead of failing the whole page.
        .with_coerce_primitive(true)
        .build_decoder()
        .map_err(|e| TeamsError::decode(table, e))?;
    decoder
        .serialize(rows)
        .map_err(|e| TeamsError::decode(table, e))?;
    match decoder.flush().map_err(|e| TeamsError::decode(table, e))? {
        Some(batch) => Ok(batch),
        None => Ok(RecordBatch::new_empty(Arc::clone(schema))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{
        Array, AsArray, Int32Array, ListArray, StringArray, StructArray, TimestampMicrosecondArray,
    };
    use datafusion::arrow::datatypes::TimestampMicrosecondType;
    use serde_json::json;

    fn message_fixture() -> Value {
        // Shapes from the Graph docs (docs/graph.md §8): 2-digit fractions, @odata.type everywhere,
        // id after other fields, integer mention ids, card content as text, no eventDetail.
        json!({
            "@odata.type": "#microsoft.graph.chatMessage",
            "replyToId": null,
            "etag": "1616990032035",
            "messageType": "message",
            "createdDateTime": "2021-01-22T21:39:42.08Z",
            "lastModifiedDateTime": "2021-03-29T03:53:52.035Z",
            "lastEditedDateTime": "2021-03-29T03:53:52.0350000Z",
            "deletedDateTime": null,
            "subject": "",
            "summary": null,
            "chatId": null,
            "importance": "normal",
            "locale": "en-us",
            "webUrl": "https://teams.microsoft.com/l/message/x",
            "policyViolation": {"dlpAction": "None", "policyTip": null},
            "from": {"application": null, "device": null, "conversation": null,
                     "user": {"@odata.type": "#microsoft.graph.teamworkUserIdentity",
                              "id": "u1", "displayName": "Robin Kline",
                              "userIdentityType": "aadUser", "tenantId": "t1"}},
            "body": {"contentType": "html", "content": "<at id=\"0\">Jane</at> hi"},
            "channelIdentity": {"teamId": "T", "channelId": "C"},
            "attachments": [{"id": "a1", "contentType": "application/vnd.microsoft.card.adaptive",
                             "contentUrl": null, "content": "{\"type\":\"AdaptiveCard\"}",
                             "name": null, "thumbnailUrl": null, "teamsAppId": null}],
            "mentions": [{"id": 0, "mentionText": "Jane",
                          "mentioned": {"application": null, "device": null, "conversation": null,
                                        "user": {"id": "u2", "displayName": "Jane",
                                                 "userIdentityType": "aadUser"}}}],
            "reactions": [{"reactionType": "like", "createdDateTime": "2021-03-29T03:53:52.03Z",
                           "user": {"application": null, "device": null,
                                    "user": {"id": "u3", "displayName": null,
                                             "userIdentityType": "aadUser"}}}],
            "messageHistory": [],
            "unknownFutureProperty": {"x": 1},
            "id": "1616990032035"
        })
    }

    #[test]
    fn message_decodes_all_shapes() {
        let schema = Table::Messages.schema();
        let row = normalise(
            Table::Messages,
            message_fixture(),
            &ParentIds::channel("T", "C"),
        );
        let batch = decode_rows(Table::Messages, &schema, &[row]).unwrap();
        assert_eq!(batch.num_rows(), 1);
        let col = |n: &str| batch.column(schema.index_of(n).unwrap()).clone();
        assert_eq!(col("team_id").as_string::<i32>().value(0), "T");
        assert_eq!(col("channel_id").as_string::<i32>().value(0), "C");
        assert_eq!(col("id").as_string::<i32>().value(0), "1616990032035");
        assert!(col("reply_to_id").is_null(0));
        assert!(col("event_detail").is_null(0));
        let created = col("created_date_time");
        let created = created.as_primitive::<TimestampMicrosecondType>();
        // 2-digit fraction: .08 s = 80 ms.
        assert_eq!(created.value(0) % 1_000_000, 80_000);
        let edited = col("last_edited_date_time");
        let edited: &TimestampMicrosecondArray = edited.as_primitive();
        // 7-digit fraction parses too.
        assert_eq!(edited.value(0) % 1_000_000, 35_000);
        let pv = col("policy_violation");
        let pv: Value = serde_json::from_str(pv.as_string::<i32>().value(0)).unwrap();
        assert_eq!(pv["dlpAction"], "None");
        let from = col("from");
        let from: &StructArray = from.as_struct();
        let user = from.column_by_name("user").unwrap().as_struct();
        let name: &StringArray = user.column_by_name("display_name").unwrap().as_string();
        assert_eq!(name.value(0), "Robin Kline");
        assert!(from.column_by_name("application").unwrap().is_null(0));
        let mentions = col("mentions");
        let mentions: &ListArray = mentions.as_list();
        let m0 = mentions.value(0);
        let ids: &Int32Array = m0.as_struct().column_by_name("id").unwrap().as_primitive();
        assert_eq!(ids.value(0), 0);
        let att = col("attachments");
        let att = att.as_list::<i32>().value(0);
        let content = att.as_struct().column_by_name("content").unwrap().clone();
        assert_eq!(
            content.as_string::<i32>().value(0),
            "{\"type\":\"AdaptiveCard\"}"
        );
    }

    #[test]
    fn projection_decodes_only_projected_columns_and_absent_keys_are_null() {
        let full = Table::MessageReplies.schema();
        let schema = Arc::new(full.project(&[2, 3, 20]).unwrap());
        let mut msg = message_fixture();
        msg.as_object_mut().unwrap().remove("from");
        let row = normalise(
            Table::MessageReplies,
            msg,
            &ParentIds::channel("T", "C").with_parent_message("P"),
        );
        let batch = decode_rows(Table::MessageReplies, &schema, &[row]).unwrap();
        assert_eq!(batch.num_columns(), 3);
        assert_eq!(batch.schema().field(0).name(), "parent_message_id");
        assert_eq!(batch.column(0).as_string::<i32>().value(0), "P");
        assert_eq!(batch.schema().field(2).name(), "from");
        assert!(batch.column(2).is_null(0));
    }

    #[test]
    fn empty_projection_counts_rows() {
        let schema = Arc::new(Table::Teams.schema().project(&[]).unwrap());
        let rows = vec![json!({"id": "a"}), json!({"id": "b"})];
        let batch = decode_rows(Table::Teams, &schema, &rows).unwrap();
        assert_eq!(batch.num_rows(), 2);
    }

    #[test]
    fn numbers_in_string_columns_become_text() {
        let schema = Table::Members.schema();
        let row = normalise(
            Table::Members,
            json!({"id": 42, "displayName": "x", "roles": ["owner"]}),
            &ParentIds::team("T"),
        );
        let batch = decode_rows(Table::Members, &schema, &[row]).unwrap();
        assert_eq!(batch.column(1).as_string::<i32>().value(0), "42");
    }

    #[test]
    fn quoted_mention_id_is_coerced() {
        let m = normalise_mention(json!({"id": "3", "mentionText": "x"}));
        assert_eq!(m["id"], 3);
    }
}
