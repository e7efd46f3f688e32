//! Shared test harness: a simulated tenant, a session with the tables registered, and a
//! ground-truth comparison that does not reuse the crate's own JSON handling (its own snake_case
//! conversion and schema walk), so a decoding bug cannot hide behind itself.

#![allow(dead_code)]

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::arrow::json::ArrayWriter;
use datafusion::arrow::json::writer::JsonArray;
use datafusion::arrow::json::writer::WriterBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_teams::{TeamsConfig, TeamsHandle, TeamsOptions, register};
use graph_client::{GraphClient, GraphConfig, Secret, ThrottleLimits};
use graph_sim::{Sim, SimConfig, SimServer};
use serde_json::{Map, Value};

pub struct Env {
    pub server: SimServer,
    pub sim: Sim,
    pub ctx: SessionContext,
    pub handle: TeamsHandle,
}

pub fn client_for(server: &SimServer) -> GraphClient {
    client_with(server, ThrottleLimits::microsoft())
}

/// A client of `server` pacing by `limits`.
pub fn client_with(server: &SimServer, limits: ThrottleLimits) -> GraphClient {
    let cfg = GraphConfig::new(
        graph_sim::DEFAULT_TENANT_ID,
        graph_sim::DEFAULT_CLIENT_ID,
        Secret::new(graph_sim::DEFAULT_CLIENT_SECRET.to_string()),
    )
    .with_graph_endpoint(server.graph_url())
    .with_authority_host(server.authority_url())
    .with_limits(limits);
    GraphClient::new(cfg).expect("client")
}

pub async fn env_with(cfg: SimConfig, options: TeamsOptions) -> Env {
    env_with_limits(cfg, options, ThrottleLimits::microsoft()).await
}

/// [`env_with`], the client pacing by `limits`.
pub async fn env_with_limits(cfg: SimConfig, options: TeamsOptions, limits: ThrottleLimits) -> Env {
    let server = graph_sim::start(cfg).await.expect("sim starts");
    let sim = server.sim();
    let ctx = SessionContext::new_with_config(
        SessionConfig::new().with_default_catalog_and_schema("datafusion", "teams"),
    );
    let handle = register(
        &ctx,
        TeamsConfig {
            client: client_with(&server, limits),
            options,
        },
    )
    .await
    .expect("register");
    Env {
        server,
        sim,
        ctx,
        handle,
    }
}

pub async fn env() -> Env {
    env_with(SimConfig::for_tests(), TeamsOptions::default()).await
}

impl Env {
    pub async fn query(&self, sql: &str) -> Vec<RecordBatch> {
        self.ctx
            .sql(sql)
            .await
            .unwrap_or_else(|e| panic!("planning {sql}: {e}"))
            .collect()
            .await
            .unwrap_or_else(|e| panic!("running {sql}: {e}"))
    }

    pub async fn try_query(&self, sql: &str) -> datafusion::error::Result<Vec<RecordBatch>> {
        self.ctx.sql(sql).await?.collect().await
    }

    /// Runs `sql` and returns its rows and the Graph requests it cost, by endpoint class.
    pub async fn counted(&self, sql: &str) -> (Vec<RecordBatch>, BTreeMap<String, u64>) {
        self.sim.reset_counters();
        let batches = self.query(sql).await;
        (batches, self.sim.counters().requests)
    }

    pub async fn explain(&self, sql: &str) -> String {
        let batches = self.query(&format!("EXPLAIN {sql}")).await;
        datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .expect("format")
            .to_string()
    }
}

pub fn total(counts: &BTreeMap<String, u64>) -> u64 {
    counts.values().sum()
}

pub fn count(counts: &BTreeMap<String, u64>, class: &str) -> u64 {
    counts.get(class).copied().unwrap_or(0)
}

pub fn row_count(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

/// The test's own camelCase -> snake_case.
fn snake(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            if !out.is_empty() {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn lookup<'a>(obj: &'a Map<String, Value>, column: &str) -> Option<&'a Value> {
    obj.iter().find(|(k, _)| snake(k) == column).map(|(_, v)| v)
}

/// What a column should hold for a Graph value, walking the Arrow type.
fn expect(dt: &DataType, v: Option<&Value>) -> Value {
    let v = match v {
        None | Some(Value::Null) => return Value::Null,
        Some(v) => v,
    };
    match dt {
        DataType::Struct(fields) => match v {
            Value::Object(obj) => Value::Object(
                fields
                    .iter()
                    .map(|f| {
                        (
                            f.name().clone(),
                            expect(f.data_type(), lookup(obj, f.name())),
                        )
                    })
                    .collect(),
            ),
            _ => Value::Null,
        },
        DataType::List(item) => match v {
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|x| expect(item.data_type(), Some(x)))
                    .collect(),
            ),
            _ => Value::Null,
        },
        _ => v.clone(),
    }
}

fn ts_micros(s: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_micros());
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc().timestamp_micros())
}

/// Canonical form for comparison: timestamps as µs, JSON text as parsed JSON.
fn canon(dt: &DataType, v: &Value) -> Value {
    match (dt, v) {
        (_, Value::Null) => Value::Null,
        (DataType::Timestamp(_, _), Value::String(s)) => {
            ts_micros(s).map_or_else(|| v.clone(), Value::from)
        }
        (DataType::Utf8, Value::String(s)) if s.starts_with('{') || s.starts_with('[') => {
            serde_json::from_str(s).unwrap_or_else(|_| v.clone())
        }
        (DataType::Struct(fields), Value::Object(obj)) => Value::Object(
            fields
                .iter()
                .map(|f| {
                    let x = obj.get(f.name()).unwrap_or(&Value::Null);
                    (f.name().clone(), canon(f.data_type(), x))
                })
                .collect(),
        ),
        (DataType::List(item), Value::Array(items)) => {
            Value::Array(items.iter().map(|x| canon(item.data_type(), x)).collect())
        }
        _ => v.clone(),
    }
}

/// One expected row: the Graph object's properties for every column, and the parent ids.
pub fn expected_row(schema: &Schema, graph: &Value, parents: &[(&str, &str)]) -> Value {
    let obj = graph.as_object().expect("graph object");
    let mut row = Map::new();
    for f in schema.fields() {
        let v = match parents.iter().find(|(k, _)| k == f.name()) {
            Some((_, p)) => Value::String(p.to_string()),
            None => expect(f.data_type(), lookup(obj, f.name())),
        };
        row.insert(f.name().clone(), canon(f.data_type(), &v));
    }
    Value::Object(row)
}

/// Query results as canonical JSON rows (explicit nulls).
pub fn actual_rows(batches: &[RecordBatch]) -> Vec<Value> {
    let Some(first) = batches.first() else {
        return Vec::new();
    };
    let schema = first.schema();
    let mut writer: ArrayWriter<Vec<u8>> = WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, JsonArray>(Vec::new());
    for b in batches {
        writer.write(b).expect("write json");
    }
    writer.finish().expect("finish json");
    let buf = writer.into_inner();
    let rows: Vec<Value> = if buf.is_empty() {
        Vec::new()
    } else {
        serde_json::from_slice(&buf).expect("json rows")
    };
    rows.into_iter()
        .map(|r| {
            let obj = r.as_object().expect("row object");
            let mut out = Map::new();
            for f in schema.fields() {
                let v = obj.get(f.name()).unwrap_or(&Value::Null);
                out.insert(f.name().clone(), canon(f.data_type(), v));
            }
            Value::Object(out)
        })
        .collect()
}

fn key_of(row: &Value, key: &[&str]) -> String {
    key.iter()
        .map(|k| row.get(*k).map(|v| v.to_string()).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("|")
}

/// Compares rows as sets keyed by `key`, reporting the first difference column by column.
pub fn assert_rows_eq(actual: Vec<Value>, expected: Vec<Value>, key: &[&str]) {
    let index = |rows: Vec<Value>| -> BTreeMap<String, Value> {
        let mut m = BTreeMap::new();
        for r in rows {
            let k = key_of(&r, key);
            assert!(m.insert(k.clone(), r).is_none(), "duplicate key {k}");
        }
        m
    };
    let (na, ne) = (actual.len(), expected.len());
    let a = index(actual);
    let e = index(expected);
    for (k, erow) in &e {
        let Some(arow) = a.get(k) else {
            panic!("missing row {k} (got {na} rows, expected {ne})");
        };
        if arow != erow {
            for (col, ev) in erow.as_object().unwrap() {
                let av = &arow[col];
                assert_eq!(av, ev, "row {k}, column {col}");
            }
        }
    }
    assert_eq!(
        na,
        ne,
        "row count; extra keys: {:?}",
        a.keys()
            .filter(|k| !e.contains_key(*k))
            .take(5)
            .collect::<Vec<_>>()
    );
}

/// Ground truth of a table from the simulator, as canonical rows of `schema`.
pub fn truth(sim: &Sim, table: &str, schema: &Schema) -> Vec<Value> {
    let mut rows = Vec::new();
    for team in sim.team_ids() {
        match table {
            "teams" => {}
            "channels" => {
                for c in sim.channels(&team) {
                    rows.push(expected_row(schema, &c, &[("team_id", &team)]));
                }
            }
            "members" => {
                for m in sim.members(&team) {
                    rows.push(expected_row(schema, &m, &[("team_id", &team)]));
                }
            }
            "messages" | "message_replies" => {
                for c in sim.channels(&team) {
                    let cid = c["id"].as_str().unwrap().to_string();
                    for m in sim.messages(&team, &cid) {
                        if table == "messages" {
                            rows.push(expected_row(
                                schema,
                                &m,
                                &[("team_id", &team), ("channel_id", &cid)],
                            ));
                        } else {
                            let mid = m["id"].as_str().unwrap().to_string();
                            for r in sim.replies(&team, &cid, &mid) {
                                rows.push(expected_row(
                                    schema,
                                    &r,
                                    &[
                                        ("team_id", &team),
                                        ("channel_id", &cid),
                                        ("parent_message_id", &mid),
                                    ],
                                ));
                            }
                        }
                    }
                }
            }
            other => panic!("unknown table {other}"),
        }
    }
    if table == "teams" {
        for t in sim.teams() {
            rows.push(expected_row(schema, &t, &[]));
        }
    }
    rows
}
