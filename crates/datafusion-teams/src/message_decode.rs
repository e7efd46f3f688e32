//! Pages of channel messages, from the bytes Graph sent straight to Arrow.
//!
//! A page's items stay unparsed (graph-client keeps them as raw JSON); arrow-json's tape decoder
//! reads them against a *Graph-shaped* schema (Graph's camelCase names, nested structs, inline
//! `replies` as a list of the reply struct) holding only the projected columns and the few keys
//! the scan filters on. The table's rows are then rebuilt without copying: fields renamed to the
//! table's names, parent ids added, inline replies flattened through the list's offsets.
//!
//! The shapes a fixed Arrow type cannot hold keep working as they did through
//! [`normalise`](crate::decode::normalise): the polymorphic `eventDetail` and `policyViolation`
//! become the JSON text Graph sent (read only when projected), and a page the strict decode
//! refuses (a card attachment's `content` given as an object, a mention id that is not a number)
//! is repaired as `Value`s and decoded again.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, ListArray, RecordBatch, RecordBatchOptions,
    StringArray, StringBuilder, StructArray,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::{
    DataType, Field, FieldRef, Fields, Schema, SchemaRef, TimestampMicrosecondType,
};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::json::ReaderBuilder;
use graph_client::Page;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::TeamsError;
use crate::naming::graph_type;
use crate::schema::{Table, graph_name};

/// Columns the connector derives from the request, not Graph properties.
const DERIVED: [&str; 3] = ["team_id", "channel_id", "parent_message_id"];
/// Polymorphic properties kept as JSON text (their table names).
const POLY: [&str; 2] = ["event_detail", "policy_violation"];

const ID: &str = "id";
const REPLY_TO: &str = "replyToId";
const MODIFIED: &str = "lastModifiedDateTime";
const CHANNEL: &str = "channelIdentity";
const REMOVED: &str = "@removed";
const REPLIES: &str = "replies";
const REPLIES_LINK: &str = "replies@odata.nextLink";

/// What a message scan decodes of its pages, built once per scan from the projected schemas.
#[derive(Debug)]
pub struct MessageDecoder {
    /// Graph-shaped schema of one item.
    items: SchemaRef,
    /// Polymorphic columns wanted on items and on inline replies.
    item_poly: PolyWanted,
    reply_poly: PolyWanted,
    inline: bool,
}

#[derive(Clone, Copy, Debug, Default)]
struct PolyWanted {
    event_detail: bool,
    policy_violation: bool,
}

impl PolyWanted {
    fn of(schemas: &[Option<&SchemaRef>]) -> Self {
        let has = |n: &str| {
            schemas
                .iter()
                .flatten()
                .any(|s| s.fields().iter().any(|f| f.name() == n))
        };
        PolyWanted {
            event_detail: has("event_detail"),
            policy_violation: has("policy_violation"),
        }
    }

    fn any(self) -> bool {
        self.event_detail || self.policy_violation
    }
}

/// Graph-shaped fields for the Graph properties of `schemas` (snake_case table schemas), plus
/// the keys the scan filters on.
fn graph_fields(schemas: &[Option<&SchemaRef>], with_link: bool) -> Vec<FieldRef> {
    let mut out: Vec<FieldRef> = Vec::new();
    let mut add = |f: Field| {
        if !out.iter().any(|o| o.name() == f.name()) {
            out.push(Arc::new(f));
        }
    };
    for schema in schemas.iter().flatten() {
        for f in schema.fields() {
            let name = f.name().as_str();
            if DERIVED.contains(&name) || POLY.contains(&name) {
                continue;
            }
            add(Field::new(
                graph_name(name),
                graph_type(f.data_type()),
                true,
            ));
        }
    }
    let ts = crate::schema::Table::Messages
        .schema()
        .field_with_name("last_modified_date_time")
        .map(|f| f.data_type().clone())
        .unwrap_or(DataType::Utf8);
    add(Field::new(ID, DataType::Utf8, true));
    add(Field::new(REPLY_TO, DataType::Utf8, true));
    add(Field::new(MODIFIED, ts, true));
    add(Field::new(
        CHANNEL,
        DataType::Struct(Fields::from(vec![Field::new(
            "channelId",
            DataType::Utf8,
            true,
        )])),
        true,
    ));
    add(Field::new(
        REMOVED,
        DataType::Struct(Fields::from(vec![Field::new(
            "reason",
            DataType::Utf8,
            true,
        )])),
        true,
    ));
    if with_link {
        add(Field::new(REPLIES_LINK, DataType::Utf8, true));
    }
    out
}

impl MessageDecoder {
    /// `items`: the table schemas (projected) the page's items may be rows of; `inline`: the
    /// schema of the inline replies' rows, when the pages carry `$expand=replies`.
    pub fn new(items: &[Option<&SchemaRef>], inline: Option<&SchemaRef>) -> Self {
        let mut fields = graph_fields(items, inline.is_some());
        if let Some(replies) = inline {
            let reply = graph_fields(&[Some(replies)], false);
            fields.push(Arc::new(Field::new(
                REPLIES,
                DataType::List(Arc::new(Field::new(
                    "item",
                    DataType::Struct(Fields::from(reply)),
                    true,
                ))),
                true,
            )));
        }
        MessageDecoder {
            items: Arc::new(Schema::new(fields)),
            item_poly: PolyWanted::of(items),
            reply_poly: PolyWanted::of(&[inline]),
            inline: inline.is_some(),
        }
    }

    /// Decodes the page's items (`table` names the scan in errors).
    pub fn decode(&self, table: Table, page: &Page) -> Result<Decoded, TeamsError> {
        let bad = |e| TeamsError::decode(table, e);
        let raw: Vec<&[u8]> = page.raw_items().collect();
        match self.decode_raw(&raw) {
            Ok(d) => Ok(d),
            // Shapes the strict decode refuses but normalisation always accepted: repair them
            // and decode again (rare; the cost of `Value`s is paid only here).
            Err(_) => {
                let repaired: Vec<Vec<u8>> = page
                    .items()
                    .into_iter()
                    .map(|mut v| {
                        repair(&mut v);
                        serde_json::to_vec(&v).unwrap_or_default()
                    })
                    .collect();
                let raw: Vec<&[u8]> = repaired.iter().map(Vec::as_slice).collect();
                self.decode_raw(&raw).map_err(bad)
            }
        }
    }

    fn decode_raw(&self, raw: &[&[u8]]) -> Result<Decoded, ArrowError> {
        let n = raw.len();
        let mut decoder = ReaderBuilder::new(Arc::clone(&self.items))
            .with_batch_size(n.max(1))
            // A number or boolean where Graph documents a string (ids, etags) becomes its text.
            .with_coerce_primitive(true)
            .build_decoder()?;
        for item in raw {
            decoder.decode(item)?;
        }
        let batch = match decoder.flush()? {
            Some(b) => b,
            None => RecordBatch::new_empty(Arc::clone(&self.items)),
        };
        let columns = StructArray::from(batch);
        let list = columns
            .column_by_name(REPLIES)
            .filter(|_| self.inline)
            .map(|l| l.as_list::<i32>().clone());
        let (items_poly, replies_poly) = if self.item_poly.any() || self.reply_poly.any() {
            polymorphic(
                raw,
                self.item_poly,
                self.reply_poly,
                list.as_ref().map(ListArray::offsets),
            )?
        } else {
            (Poly::default(), Poly::default())
        };
        let items = Rows::new(columns, items_poly);
        let inline = list.map(|list| {
            (
                Rows::new(list.values().as_struct().clone(), replies_poly),
                list.offsets().clone(),
            )
        });
        Ok(Decoded { items, inline })
    }
}

/// JSON-text columns of the polymorphic properties, item by item (and inline reply by reply).
#[derive(Debug, Default)]
struct Poly {
    event_detail: Option<StringArray>,
    policy_violation: Option<StringArray>,
}

#[derive(Deserialize)]
struct PolyItem<'a> {
    #[serde(rename = "eventDetail", borrow, default)]
    event_detail: Option<&'a RawValue>,
    #[serde(rename = "policyViolation", borrow, default)]
    policy_violation: Option<&'a RawValue>,
    #[serde(borrow, default)]
    replies: Option<Vec<PolyItem<'a>>>,
}

struct PolyBuilders {
    event_detail: Option<StringBuilder>,
    policy_violation: Option<StringBuilder>,
}

impl PolyBuilders {
    fn new(w: PolyWanted) -> Self {
        PolyBuilders {
            event_detail: w.event_detail.then(StringBuilder::new),
            policy_violation: w.policy_violation.then(StringBuilder::new),
        }
    }

    fn push(&mut self, item: &PolyItem<'_>) {
        let put = |b: &mut Option<StringBuilder>, v: Option<&RawValue>| {
            if let Some(b) = b {
                match v.map(RawValue::get).filter(|s| *s != "null") {
                    Some(s) => b.append_value(s),
                    None => b.append_null(),
                }
            }
        };
        put(&mut self.event_detail, item.event_detail);
        put(&mut self.policy_violation, item.policy_violation);
    }

    fn finish(mut self) -> Poly {
        Poly {
            event_detail: self.event_detail.as_mut().map(StringBuilder::finish),
            policy_violation: self.policy_violation.as_mut().map(StringBuilder::finish),
        }
    }
}

/// Only the polymorphic properties are taken out of each item (the rest is skipped unparsed),
/// and only from items where one of them is present and not `null`: most messages carry
/// neither, or `null`, and those need no parse at all.
fn polymorphic(
    raw: &[&[u8]],
    items: PolyWanted,
    replies: PolyWanted,
    inline: Option<&OffsetBuffer<i32>>,
) -> Result<(Poly, Poly), ArrowError> {
    let mut on_items = PolyBuilders::new(items);
    let mut on_replies = PolyBuilders::new(replies);
    let none = PolyItem {
        event_detail: None,
        policy_violation: None,
        replies: None,
    };
    for (i, bytes) in raw.iter().enumerate() {
        if !any_set(bytes) {
            on_items.push(&none);
            if replies.any()
                && let Some(offsets) = inline
            {
                // Its inline replies carry none either.
                let n = offsets[i + 1] - offsets[i];
                for _ in 0..n {
                    on_replies.push(&none);
                }
            }
            continue;
        }
        let item: PolyItem<'_> =
            serde_json::from_slice(bytes).map_err(|e| ArrowError::JsonError(e.to_string()))?;
        on_items.push(&item);
        if replies.any() {
            for r in item.replies.iter().flatten() {
                on_replies.push(r);
            }
        }
    }
    Ok((on_items.finish(), on_replies.finish()))
}

/// Whether some `"eventDetail"` or `"policyViolation"` key in `item` (at any depth) has a value
/// other than `null`. In valid JSON these quoted names followed by `:` can only be keys: a quote
/// inside a string is escaped.
fn any_set(item: &[u8]) -> bool {
    [&b"\"eventDetail\""[..], &b"\"policyViolation\""[..]]
        .iter()
        .any(|key| {
            memchr::memmem::find_iter(item, key).any(|at| {
                let rest = item[at + key.len()..].trim_ascii_start();
                match rest.strip_prefix(b":") {
                    Some(value) => !value.trim_ascii_start().starts_with(b"null"),
                    // A string value, not a key.
                    None => false,
                }
            })
        })
}

/// A shape the strict decode refuses, repaired as [`normalise`](crate::decode::normalise)
/// does: card content given as an object becomes its text, a quoted mention id its number.
fn repair(item: &mut Value) {
    let Value::Object(map) = item else {
        return;
    };
    if let Some(Value::Array(atts)) = map.get_mut("attachments") {
        for a in atts {
            if let Some(content) = a.get_mut("content")
                && !(content.is_string() || content.is_null())
            {
                *content = Value::String(content.to_string());
            }
        }
    }
    if let Some(Value::Array(mentions)) = map.get_mut("mentions") {
        for m in mentions {
            if let Some(id) = m.get_mut("id")
                && !id.is_i64()
            {
                *id = id
                    .as_str()
                    .and_then(|s| s.trim().parse::<i32>().ok())
                    .map_or(Value::Null, Value::from);
            }
        }
    }
    if let Some(Value::Array(replies)) = map.get_mut(REPLIES) {
        replies.iter_mut().for_each(repair);
    }
}

/// A decoded page: its items, and their inline replies with the list offsets that say which
/// item each belongs to.
#[derive(Debug)]
pub struct Decoded {
    pub items: Rows,
    inline: Option<(Rows, OffsetBuffer<i32>)>,
}

impl Decoded {
    /// The inline replies and, for each, the index of its item.
    pub fn inline_replies(&self) -> Option<(&Rows, Vec<usize>)> {
        let (rows, offsets) = self.inline.as_ref()?;
        let mut parent = Vec::with_capacity(rows.len());
        for (i, w) in offsets.windows(2).enumerate() {
            let n = usize::try_from(w[1] - w[0]).unwrap_or(0);
            parent.extend(std::iter::repeat_n(i, n));
        }
        Some((rows, parent))
    }
}

/// Items (or inline replies) in Graph's shape, with accessors for the keys the scan filters on.
#[derive(Debug)]
pub struct Rows {
    columns: StructArray,
    poly: Poly,
    id: Option<StringArray>,
    reply_to: Option<StringArray>,
    channel: Option<StringArray>,
    removed: Option<StructArray>,
    link: Option<StringArray>,
}

impl Rows {
    fn new(columns: StructArray, poly: Poly) -> Self {
        let string = |n: &str| {
            columns
                .column_by_name(n)
                .map(|a| a.as_string::<i32>().clone())
        };
        let channel = columns
            .column_by_name(CHANNEL)
            .and_then(|c| c.as_struct().column_by_name("channelId"))
            .map(|a| a.as_string::<i32>().clone());
        Rows {
            id: string(ID),
            reply_to: string(REPLY_TO),
            link: string(REPLIES_LINK),
            removed: columns
                .column_by_name(REMOVED)
                .map(|a| a.as_struct().clone()),
            channel,
            poly,
            columns,
        }
    }

    pub fn len(&self) -> usize {
        self.columns.len()
    }

    fn text(a: &Option<StringArray>, i: usize) -> Option<&str> {
        a.as_ref()
            .filter(|a| a.is_valid(i))
            .map(|a| a.value(i))
            .filter(|s| !s.is_empty())
    }

    /// The item's id; `None` when missing or empty.
    pub fn id(&self, i: usize) -> Option<&str> {
        Self::text(&self.id, i)
    }

    pub fn reply_to(&self, i: usize) -> Option<&str> {
        Self::text(&self.reply_to, i)
    }

    /// `channelIdentity.channelId` (export API items).
    pub fn channel(&self, i: usize) -> Option<&str> {
        Self::text(&self.channel, i)
    }

    /// `replies@odata.nextLink`: more replies than came inline.
    pub fn replies_link(&self, i: usize) -> Option<&str> {
        Self::text(&self.link, i)
    }

    /// An `@removed` entry (delta): the message is gone.
    pub fn removed(&self, i: usize) -> bool {
        self.removed.as_ref().is_some_and(|r| r.is_valid(i))
    }

    /// `lastModifiedDateTime` in microseconds.
    pub fn modified(&self, i: usize) -> Option<i64> {
        let a = self.columns.column_by_name(MODIFIED)?;
        let a = a.as_primitive_opt::<TimestampMicrosecondType>()?;
        a.is_valid(i).then(|| a.value(i))
    }

    /// The rows `keep` selects, in `schema` (a projection of a message table's schema), with
    /// the parent-id columns from `parents`.
    pub fn rows(
        &self,
        table: Table,
        schema: &SchemaRef,
        parents: &Parents<'_>,
        keep: &[bool],
    ) -> Result<RecordBatch, TeamsError> {
        self.build(schema, parents, keep)
            .map_err(|e| TeamsError::decode(table, e))
    }

    fn build(
        &self,
        schema: &SchemaRef,
        parents: &Parents<'_>,
        keep: &[bool],
    ) -> Result<RecordBatch, ArrowError> {
        let n = self.len();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        for f in schema.fields() {
            let name = f.name().as_str();
            let column: ArrayRef = match name {
                "team_id" => parents.team.column(n),
                "channel_id" => parents.channel.column(n),
                "parent_message_id" => parents.parent.column(n),
                "event_detail" | "policy_violation" => {
                    let p = if name == "event_detail" {
                        &self.poly.event_detail
                    } else {
                        &self.poly.policy_violation
                    };
                    match p {
                        Some(a) => Arc::new(a.clone()),
                        None => datafusion::arrow::array::new_null_array(&DataType::Utf8, n),
                    }
                }
                _ => match self.columns.column_by_name(&graph_name(name)) {
                    Some(a) => retype(a, f.data_type())?,
                    None => datafusion::arrow::array::new_null_array(f.data_type(), n),
                },
            };
            columns.push(column);
        }
        let options = RecordBatchOptions::new().with_row_count(Some(n));
        let batch = RecordBatch::try_new_with_options(Arc::clone(schema), columns, &options)?;
        if keep.iter().all(|k| *k) {
            Ok(batch)
        } else {
            let mask = BooleanArray::from(keep.to_vec());
            if schema.fields().is_empty() {
                // COUNT(*): no column to filter, only the count.
                let kept = keep.iter().filter(|k| **k).count();
                let options = RecordBatchOptions::new().with_row_count(Some(kept));
                return RecordBatch::try_new_with_options(Arc::clone(schema), vec![], &options);
            }
            filter_record_batch(&batch, &mask)
        }
    }
}

/// Where a parent-id column comes from.
#[derive(Clone, Debug)]
pub enum Parent<'a> {
    Null,
    /// The same for every row (the request's team, channel, or thread).
    Same(&'a str),
    /// One per row (the export API's `channelIdentity`, `replyToId`, inline replies' posts).
    PerRow(Vec<Option<&'a str>>),
}

impl Parent<'_> {
    fn column(&self, n: usize) -> ArrayRef {
        match self {
            Parent::Null => datafusion::arrow::array::new_null_array(&DataType::Utf8, n),
            Parent::Same(s) => {
                let mut b = StringBuilder::with_capacity(n, n * s.len());
                for _ in 0..n {
                    b.append_value(s);
                }
                Arc::new(b.finish())
            }
            Parent::PerRow(v) => Arc::new(StringArray::from(v.clone())),
        }
    }
}

/// The parent-id columns of a batch of rows.
#[derive(Clone, Debug)]
pub struct Parents<'a> {
    pub team: Parent<'a>,
    pub channel: Parent<'a>,
    pub parent: Parent<'a>,
}

/// The same buffers under `dt`, which differs from the array's type in field names only
/// (Graph's camelCase inside structs and lists, snake_case in the table).
fn retype(a: &ArrayRef, dt: &DataType) -> Result<ArrayRef, ArrowError> {
    if a.data_type() == dt {
        return Ok(Arc::clone(a));
    }
    match dt {
        DataType::Struct(fields) => {
            let s = a.as_struct();
            let children = s
                .columns()
                .iter()
                .zip(fields)
                .map(|(c, f)| retype(c, f.data_type()))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Arc::new(StructArray::try_new(
                fields.clone(),
                children,
                s.nulls().cloned(),
            )?))
        }
        DataType::List(item) => {
            let l: &ListArray = a.as_list();
            let values = retype(l.values(), item.data_type())?;
            Ok(Arc::new(ListArray::try_new(
                Arc::clone(item),
                l.offsets().clone(),
                values,
                l.nulls().cloned(),
            )?))
        }
        _ => Ok(Arc::clone(a)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int32Array, TimestampMicrosecondArray};
    use graph_client::EndpointClass;
    use serde_json::json;

    fn message(id: &str) -> Value {
        // Shapes from the Graph docs (docs/graph.md §8): 2-digit fractions, @odata.type
        // everywhere, id after other fields, integer mention ids, card content as text.
        json!({
            "@odata.type": "#microsoft.graph.chatMessage",
            "replyToId": null,
            "etag": 1616990032035u64,
            "messageType": "message",
            "createdDateTime": "2021-01-22T21:39:42.08Z",
            "lastModifiedDateTime": "2021-03-29T03:53:52.035Z",
            "lastEditedDateTime": "2021-03-29T03:53:52.0350000Z",
            "deletedDateTime": null,
            "subject": "",
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
                          "mentioned": {"user": {"id": "u2", "displayName": "Jane",
                                                 "userIdentityType": "aadUser"}}}],
            "reactions": [],
            "messageHistory": [],
            "unknownFutureProperty": {"x": 1},
            "id": id
        })
    }

    fn page(items: &[Value]) -> Page {
        let body =
            serde_json::to_vec(&json!({"@odata.count": items.len(), "value": items})).unwrap();
        Page::from_body(EndpointClass::MessagesList, body).unwrap()
    }

    fn same<'a>(team: &'a str, channel: &'a str) -> Parents<'a> {
        Parents {
            team: Parent::Same(team),
            channel: Parent::Same(channel),
            parent: Parent::Null,
        }
    }

    fn col(batch: &RecordBatch, name: &str) -> ArrayRef {
        Arc::clone(batch.column(batch.schema().index_of(name).unwrap()))
    }

    #[test]
    fn message_page_decodes_all_shapes_from_bytes() {
        let schema = Table::Messages.schema();
        let decoder = MessageDecoder::new(&[Some(&schema)], None);
        let d = decoder
            .decode(Table::Messages, &page(&[message("m1")]))
            .unwrap();
        let batch = d
            .items
            .rows(Table::Messages, &schema, &same("T", "C"), &[true])
            .unwrap();
        assert_eq!(batch.schema(), schema);
        assert_eq!(col(&batch, "team_id").as_string::<i32>().value(0), "T");
        assert_eq!(col(&batch, "channel_id").as_string::<i32>().value(0), "C");
        assert_eq!(col(&batch, "id").as_string::<i32>().value(0), "m1");
        // A number where Graph documents a string becomes its text.
        assert_eq!(
            col(&batch, "etag").as_string::<i32>().value(0),
            "1616990032035"
        );
        assert!(col(&batch, "reply_to_id").is_null(0));
        assert!(col(&batch, "event_detail").is_null(0));
        let created = col(&batch, "created_date_time");
        assert_eq!(
            created.as_primitive::<TimestampMicrosecondType>().value(0) % 1_000_000,
            80_000
        );
        let edited = col(&batch, "last_edited_date_time");
        let edited: &TimestampMicrosecondArray = edited.as_primitive();
        assert_eq!(edited.value(0) % 1_000_000, 35_000);
        let pv = col(&batch, "policy_violation");
        let pv: Value = serde_json::from_str(pv.as_string::<i32>().value(0)).unwrap();
        assert_eq!(pv["dlpAction"], "None");
        let from = col(&batch, "from");
        let user = from.as_struct().column_by_name("user").unwrap().as_struct();
        let name = user
            .column_by_name("display_name")
            .unwrap()
            .as_string::<i32>();
        assert_eq!(name.value(0), "Robin Kline");
        let mentions = col(&batch, "mentions");
        let m0 = mentions.as_list::<i32>().value(0);
        let ids: &Int32Array = m0.as_struct().column_by_name("id").unwrap().as_primitive();
        assert_eq!(ids.value(0), 0);
        let att = col(&batch, "attachments").as_list::<i32>().value(0);
        let content = att.as_struct().column_by_name("content").unwrap().clone();
        assert_eq!(
            content.as_string::<i32>().value(0),
            "{\"type\":\"AdaptiveCard\"}"
        );
    }

    #[test]
    fn shapes_the_strict_decode_refuses_are_repaired() {
        let schema = Table::Messages.schema();
        let decoder = MessageDecoder::new(&[Some(&schema)], None);
        let mut odd = message("m2");
        odd["attachments"][0]["content"] = json!({"type": "AdaptiveCard"});
        odd["mentions"][0]["id"] = json!(" 3");
        odd["eventDetail"] =
            json!({"@odata.type": "#microsoft.graph.membersAddedEventMessageDetail"});
        let d = decoder
            .decode(Table::Messages, &page(&[message("m1"), odd]))
            .unwrap();
        let batch = d
            .items
            .rows(Table::Messages, &schema, &same("T", "C"), &[true, true])
            .unwrap();
        assert_eq!(batch.num_rows(), 2);
        let att = col(&batch, "attachments").as_list::<i32>().value(1);
        let content = att.as_struct().column_by_name("content").unwrap().clone();
        let card: Value = serde_json::from_str(content.as_string::<i32>().value(0)).unwrap();
        assert_eq!(card["type"], "AdaptiveCard");
        let m = col(&batch, "mentions").as_list::<i32>().value(1);
        let ids: &Int32Array = m.as_struct().column_by_name("id").unwrap().as_primitive();
        assert_eq!(ids.value(0), 3);
        let ed = col(&batch, "event_detail");
        assert!(ed.is_null(0));
        assert!(
            ed.as_string::<i32>()
                .value(1)
                .contains("membersAddedEventMessageDetail")
        );
    }

    #[test]
    fn projection_keys_and_count_only() {
        let full = Table::Messages.schema();
        let schema = Arc::new(full.project(&[2, 4]).unwrap());
        assert_eq!(schema.field(0).name(), "id");
        let decoder = MessageDecoder::new(&[Some(&schema)], None);
        let mut keyless = message("");
        keyless.as_object_mut().unwrap().remove("id");
        let mut removed = message("m3");
        removed["@removed"] = json!({"reason": "deleted"});
        let d = decoder
            .decode(Table::Messages, &page(&[message("m1"), keyless, removed]))
            .unwrap();
        let rows = &d.items;
        assert_eq!(rows.len(), 3);
        assert_eq!(rows.id(0), Some("m1"));
        assert_eq!(rows.id(1), None);
        assert!(!rows.removed(0) && rows.removed(2));
        assert_eq!(rows.channel(0), Some("C"));
        assert_eq!(rows.modified(0), Some(1_616_990_032_035_000));
        let keep = [true, false, false];
        let batch = rows
            .rows(Table::Messages, &schema, &same("T", "C"), &keep)
            .unwrap();
        assert_eq!(batch.num_columns(), 2);
        assert_eq!(batch.num_rows(), 1);
        let none = Arc::new(full.project(&[]).unwrap());
        let count = rows
            .rows(Table::Messages, &none, &same("T", "C"), &keep)
            .unwrap();
        assert_eq!(count.num_rows(), 1);
    }

    #[test]
    fn inline_replies_flatten_under_their_posts() {
        let schema = Table::MessageReplies.schema();
        let decoder = MessageDecoder::new(&[None], Some(&schema));
        let mut p1 = message("p1");
        let mut r = message("r1");
        r["replyToId"] = json!("p1");
        let mut r2 = message("r2");
        r2["replyToId"] = json!("p1");
        r2["eventDetail"] = json!({"x": 1});
        p1["replies"] = json!([r, r2]);
        p1["replies@odata.nextLink"] = json!("https://g/next");
        let mut p2 = message("p2");
        p2["replies"] = json!([]);
        let mut p3 = message("p3");
        let mut r3 = message("r3");
        r3["replyToId"] = json!("p3");
        p3["replies"] = json!([r3]);
        let d = decoder
            .decode(Table::MessageReplies, &page(&[p1, p2, p3]))
            .unwrap();
        assert_eq!(d.items.replies_link(0), Some("https://g/next"));
        assert_eq!(d.items.replies_link(1), None);
        let (replies, post_of) = d.inline_replies().unwrap();
        assert_eq!(post_of, vec![0, 0, 2]);
        let parents = Parents {
            team: Parent::Same("T"),
            channel: Parent::Same("C"),
            parent: Parent::PerRow(post_of.iter().map(|p| d.items.id(*p)).collect()),
        };
        let batch = replies
            .rows(
                Table::MessageReplies,
                &schema,
                &parents,
                &[true, false, true],
            )
            .unwrap();
        assert_eq!(batch.num_rows(), 2);
        let ids = col(&batch, "id");
        let parent = col(&batch, "parent_message_id");
        assert_eq!(ids.as_string::<i32>().value(1), "r3");
        assert_eq!(parent.as_string::<i32>().value(0), "p1");
        assert_eq!(parent.as_string::<i32>().value(1), "p3");
        let ed = col(&batch, "event_detail");
        assert!(ed.is_null(0) && ed.is_null(1));
        let (_, unfiltered_post_of) = d.inline_replies().unwrap();
        let all = replies
            .rows(
                Table::MessageReplies,
                &schema,
                &Parents {
                    parent: Parent::Null,
                    ..same("T", "C")
                },
                &vec![true; unfiltered_post_of.len()],
            )
            .unwrap();
        assert_eq!(
            all.column(all.schema().index_of("event_detail").unwrap())
                .as_string::<i32>()
                .value(1),
            "{\"x\":1}"
        );
    }
}

#[cfg(test)]
mod prefilter_tests {
    use super::any_set;

    #[test]
    fn only_keys_with_a_value_count() {
        assert!(!any_set(
            br#"{"id":"1","eventDetail":null,"policyViolation" : null}"#
        ));
        assert!(!any_set(br#"{"body":{"content":"\"eventDetail\": {}"}}"#));
        assert!(!any_set(
            br#"{"subject":"eventDetail","x":"\"policyViolation\""}"#
        ));
        assert!(any_set(
            br#"{"eventDetail":null,"replies":[{"eventDetail":{"a":1}}]}"#
        ));
        assert!(any_set(br#"{"policyViolation": {"dlpAction":"None"}}"#));
    }
}
