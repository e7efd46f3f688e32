//! `column_names = 'graph'`: the tables under Graph's own camelCase names (`displayName`,
//! `lastModifiedDateTime`, nested struct fields too), the shape the Lakeflow connector and
//! Graph's JSON use, with the same types. The connector-derived parent ids (`team_id`,
//! `channel_id`, `parent_message_id`) keep their names, as the Lakeflow connector's do.
//!
//! Everything inside the connector stays snake_case: the provider shows the renamed schema,
//! turns the filters DataFusion pushes back to snake_case names before reading them, and the
//! scan renames its batches on the way out (metadata only: the arrays are the same).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayData, ArrayRef, RecordBatch, make_array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::logical_expr::Expr;

use crate::options::option_words;
use crate::schema::{graph_name, snake_name};

/// How the tables name their columns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColumnNames {
    /// snake_case forms of the Graph names (`display_name`): SQL never needs quoting.
    #[default]
    Snake,
    /// Graph's camelCase names (`"displayName"`).
    Graph,
}

option_words!(ColumnNames, "column_names", {
    "snake" => Snake,
    "graph" => Graph,
});

/// Columns the connector derives from the parents: not Graph properties, never renamed.
fn derived(name: &str) -> bool {
    matches!(name, "team_id" | "channel_id" | "parent_message_id")
}

/// The Graph name of a top-level column.
fn graph_column(name: &str) -> String {
    if derived(name) {
        name.to_string()
    } else {
        graph_name(name)
    }
}

pub(crate) fn graph_type(dt: &DataType) -> DataType {
    match dt {
        DataType::Struct(fields) => DataType::Struct(graph_fields(fields, graph_name)),
        DataType::List(item) => DataType::List(graph_field(item, |n| n.to_string())),
        other => other.clone(),
    }
}

fn graph_field(f: &FieldRef, name: fn(&str) -> String) -> FieldRef {
    Arc::new(
        Field::new(name(f.name()), graph_type(f.data_type()), f.is_nullable())
            .with_metadata(f.metadata().clone()),
    )
}

fn graph_fields(fields: &Fields, name: fn(&str) -> String) -> Fields {
    fields.iter().map(|f| graph_field(f, name)).collect()
}

impl ColumnNames {
    /// `schema` (snake_case) under these names.
    pub fn schema(self, schema: &SchemaRef) -> SchemaRef {
        match self {
            ColumnNames::Snake => Arc::clone(schema),
            ColumnNames::Graph => Arc::new(Schema::new_with_metadata(
                graph_fields(schema.fields(), graph_column),
                schema.metadata().clone(),
            )),
        }
    }

    /// A filter written against these names, over the connector's snake_case columns.
    pub fn to_snake(self, filter: &Expr) -> Expr {
        if self == ColumnNames::Snake {
            return filter.clone();
        }
        filter
            .clone()
            .transform(|e| {
                Ok(match e {
                    Expr::Column(mut c) => {
                        c.name = snake_name(&c.name);
                        Transformed::yes(Expr::Column(c))
                    }
                    other => Transformed::no(other),
                })
            })
            .map_or_else(|_| filter.clone(), |t| t.data)
    }
}

/// `batch` under `schema`, which names the same columns and nested fields differently.
pub fn rename(batch: RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
    if batch.schema().fields() == schema.fields() {
        return Ok(batch);
    }
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(a, f)| retype(a.to_data(), f.data_type()).map(make_array))
        .collect::<Result<_, _>>()?;
    RecordBatch::try_new(Arc::clone(schema), columns)
}

/// The same buffers under `dt`, which differs from the data's type in field names only.
fn retype(data: ArrayData, dt: &DataType) -> Result<ArrayData, ArrowError> {
    let children: Vec<ArrayData> = match dt {
        DataType::Struct(fields) => data
            .child_data()
            .iter()
            .zip(fields)
            .map(|(c, f)| retype(c.clone(), f.data_type()))
            .collect::<Result<_, _>>()?,
        DataType::List(item) => data
            .child_data()
            .iter()
            .map(|c| retype(c.clone(), item.data_type()))
            .collect::<Result<_, _>>()?,
        _ => return Ok(data),
    };
    data.into_builder()
        .data_type(dt.clone())
        .child_data(children)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Table;

    #[test]
    fn graph_names_keep_types_and_parent_ids() {
        let schema = Table::MessageReplies.schema();
        let graph = ColumnNames::Graph.schema(&schema);
        let names: Vec<&str> = graph.fields().iter().map(|f| f.name().as_str()).collect();
        assert!(names.contains(&"lastModifiedDateTime"), "{names:?}");
        assert!(names.contains(&"parent_message_id"), "{names:?}");
        assert!(names.contains(&"replyToId"), "{names:?}");
        let from = graph.field_with_name("from").unwrap();
        let DataType::Struct(identities) = from.data_type() else {
            panic!("from is a struct");
        };
        let DataType::Struct(user) = identities.find("user").unwrap().1.data_type() else {
            panic!("from.user is a struct");
        };
        assert!(user.find("displayName").is_some(), "{user:?}");
        for (s, g) in schema.fields().iter().zip(graph.fields()) {
            assert_eq!(
                std::mem::discriminant(s.data_type()),
                std::mem::discriminant(g.data_type())
            );
        }
    }
}
