//! The catalog browser behind `\d`, `\d TABLE` and completion: SQL over `information_schema`
//! (as datafusion-cli answers `\d`), plus what only a table's provider knows: its primary key
//! (`TableProvider::constraints`) and which columns it filters at the source.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::catalog::TableProvider;
use datafusion::common::{
    Column, Constraint, Constraints, ResolvedTableReference, ScalarValue, TableReference,
};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, lit};
use datafusion::prelude::SessionContext;

use crate::error::Result;
use crate::helper::Completions;

/// `\d`: every table and view of the default catalog but `information_schema`'s, with its
/// primary key.
pub async fn list_tables(ctx: &SessionContext) -> Result<RecordBatch> {
    let catalog = default_names(ctx).0;
    let names = query(
        ctx,
        "SELECT table_schema, table_name FROM information_schema.tables \
         WHERE table_catalog = $1 AND table_schema <> 'information_schema' \
         ORDER BY table_schema, table_name",
        &[&catalog],
    )
    .await?;
    let mut keys = Vec::with_capacity(names.num_rows());
    for (schema, table) in strings(&names, 0)?.iter().zip(strings(&names, 1)?.iter()) {
        let reference = TableReference::full(
            catalog.as_str(),
            schema.unwrap_or_default(),
            table.unwrap_or_default(),
        );
        let key = match ctx.table_provider(reference).await {
            Ok(provider) => provider_key(provider.as_ref()).map(|k| k.join(", ")),
            Err(_) => None,
        };
        keys.push(key);
    }
    with_columns(
        names,
        vec![(
            Field::new("primary_key", DataType::Utf8, true),
            Arc::new(StringArray::from(keys)),
        )],
    )
}

/// `\d TABLE`: its columns, where each stands in the primary key, and which filters on it
/// the provider takes.
pub async fn describe(ctx: &SessionContext, name: &str) -> Result<RecordBatch> {
    let reference = TableReference::from(name);
    // Fails with DataFusion's own "table not found" rather than an empty answer.
    let provider = ctx.table_provider(reference.clone()).await?;
    let (catalog, schema) = default_names(ctx);
    let ResolvedTableReference {
        catalog,
        schema,
        table,
    } = reference.resolve(&catalog, &schema);
    let columns = query(
        ctx,
        "SELECT column_name, data_type, is_nullable AS nullable FROM information_schema.columns \
         WHERE table_catalog = $1 AND table_schema = $2 AND table_name = $3 \
         ORDER BY ordinal_position",
        &[&catalog, &schema, &table],
    )
    .await?;
    let key = provider_key(provider.as_ref()).unwrap_or_default();
    let arrow_schema = provider.schema();
    let mut key_position = Vec::with_capacity(columns.num_rows());
    let mut pushdown = Vec::with_capacity(columns.num_rows());
    for column in strings(&columns, 0)?.iter() {
        let column = column.unwrap_or_default();
        key_position.push(
            key.iter()
                .position(|k| k == column)
                .map(|i| format!("{} of {}", i + 1, key.len())),
        );
        pushdown.push(
            arrow_schema
                .field_with_name(column)
                .ok()
                .and_then(|f| pushed(provider.as_ref(), f)),
        );
    }
    with_columns(
        columns,
        vec![
            (
                Field::new("primary_key", DataType::Utf8, true),
                Arc::new(StringArray::from(key_position)),
            ),
            (
                Field::new("pushdown", DataType::Utf8, true),
                Arc::new(StringArray::from(pushdown)),
            ),
        ],
    )
}

/// Table and column names for completion: bare names for the default schema's tables,
/// `schema.table` for all.
pub async fn completion_names(ctx: &SessionContext) -> Result<Completions> {
    let (catalog, default_schema) = default_names(ctx);
    let tables = query(
        ctx,
        "SELECT table_schema, table_name FROM information_schema.tables \
         WHERE table_catalog = $1 AND table_schema <> 'information_schema'",
        &[&catalog],
    )
    .await?;
    let columns = query(
        ctx,
        "SELECT DISTINCT column_name FROM information_schema.columns \
         WHERE table_catalog = $1 AND table_schema <> 'information_schema'",
        &[&catalog],
    )
    .await?;
    let mut names = Completions::default();
    for (schema, table) in strings(&tables, 0)?.iter().zip(strings(&tables, 1)?.iter()) {
        let (schema, table) = (schema.unwrap_or_default(), table.unwrap_or_default());
        if schema == default_schema {
            names.tables.push(table.to_string());
        }
        names.tables.push(format!("{schema}.{table}"));
    }
    names.columns = strings(&columns, 0)?
        .iter()
        .flatten()
        .map(String::from)
        .collect();
    for list in [&mut names.tables, &mut names.columns] {
        list.sort();
        list.dedup();
    }
    Ok(names)
}

/// The catalog and schema unqualified names resolve in.
fn default_names(ctx: &SessionContext) -> (String, String) {
    let state = ctx.state();
    let options = &state.config_options().catalog;
    (
        options.default_catalog.clone(),
        options.default_schema.clone(),
    )
}

/// Runs a catalog query with its names bound as parameters (never spliced into the SQL) and
/// returns its rows as one batch: catalogs are small.
async fn query(ctx: &SessionContext, sql: &str, params: &[&str]) -> Result<RecordBatch> {
    let values: Vec<ScalarValue> = params.iter().map(|p| ScalarValue::from(*p)).collect();
    let df = ctx.sql(sql).await?.with_param_values(values)?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    Ok(concat_batches(&schema, &batches).map_err(DataFusionError::from)?)
}

fn strings(batch: &RecordBatch, i: usize) -> Result<&StringArray> {
    batch.column(i).as_string_opt::<i32>().ok_or_else(|| {
        DataFusionError::Internal(format!(
            "information_schema column {} is {}, not Utf8",
            batch.schema().field(i).name(),
            batch.column(i).data_type()
        ))
        .into()
    })
}

/// `batch` with `extra` columns appended.
fn with_columns(batch: RecordBatch, extra: Vec<(Field, ArrayRef)>) -> Result<RecordBatch> {
    let mut fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let mut columns = batch.columns().to_vec();
    for (field, column) in extra {
        fields.push(field);
        columns.push(column);
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map_err(DataFusionError::from)?)
}

/// A table's primary key by column name, from its declared constraints.
pub fn primary_key(constraints: Option<&Constraints>, schema: &Schema) -> Option<Vec<String>> {
    constraints?.iter().find_map(|c| match c {
        Constraint::PrimaryKey(indices) => indices
            .iter()
            .map(|&i| schema.fields().get(i).map(|f| f.name().clone()))
            .collect(),
        Constraint::Unique(_) => None,
    })
}

fn provider_key(provider: &dyn TableProvider) -> Option<Vec<String>> {
    primary_key(provider.constraints(), &provider.schema())
}

/// Whether the provider filters on `field` itself, asked of the provider with a probe filter
/// (so the answer never goes stale).
fn pushed(provider: &dyn TableProvider, field: &Field) -> Option<&'static str> {
    let probe = probe_filter(field.name(), field.data_type())?;
    match provider
        .supports_filters_pushdown(&[&probe])
        .ok()?
        .first()?
    {
        TableProviderFilterPushDown::Exact => Some("exact"),
        TableProviderFilterPushDown::Inexact => Some("inexact"),
        TableProviderFilterPushDown::Unsupported => None,
    }
}

/// A filter on one column of the kinds a connector could push down.
fn probe_filter(name: &str, dt: &DataType) -> Option<Expr> {
    let c = Expr::Column(Column::new_unqualified(name));
    let value = match dt {
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => lit("x"),
        DataType::Boolean => lit(true),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => lit(0i64),
        DataType::Timestamp(TimeUnit::Microsecond, tz) => {
            return Some(c.gt(lit(ScalarValue::TimestampMicrosecond(Some(0), tz.clone()))));
        }
        _ => return None,
    };
    Some(c.eq(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session;

    fn column<'a>(batch: &'a RecordBatch, name: &str) -> Vec<Option<&'a str>> {
        let i = batch.schema().index_of(name).unwrap();
        strings(batch, i).unwrap().iter().collect()
    }

    #[tokio::test]
    async fn keys_come_from_the_providers_constraints_under_any_name() {
        let ctx = session::new_context();
        ctx.sql("CREATE TABLE t (a INT PRIMARY KEY, b VARCHAR)")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let tables = list_tables(&ctx).await.unwrap();
        assert_eq!(column(&tables, "table_name"), [Some("t")]);
        assert_eq!(column(&tables, "primary_key"), [Some("a")]);
        for name in ["t", "teams.t", "datafusion.teams.t"] {
            let d = describe(&ctx, name).await.unwrap();
            assert_eq!(column(&d, "column_name"), [Some("a"), Some("b")], "{name}");
            assert_eq!(column(&d, "primary_key"), [Some("1 of 1"), None], "{name}");
        }
        let names = completion_names(&ctx).await.unwrap();
        assert_eq!(names.tables, ["t", "teams.t"]);
        assert_eq!(names.columns, ["a", "b"]);
    }
}
