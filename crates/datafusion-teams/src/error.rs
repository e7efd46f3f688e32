//! The crate's error type. Every variant names the table or request it came from; Graph errors
//! keep their own text, which already says which permission to grant or what to retry.

use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;
use graph_client::GraphError;

use crate::schema::Table;

#[derive(Debug, thiserror::Error)]
pub enum TeamsError {
    /// A Graph request failed in a way that fails the query (tenant-level list, throttling that
    /// outlasted the retries, authentication...).
    #[error("reading {table} failed while {doing}: {source}")]
    Graph {
        table: Table,
        doing: String,
        // Boxed: GraphError is large and TeamsError travels in every row-chunk Result.
        #[source]
        source: Box<GraphError>,
    },

    /// A Graph reply that does not fit the table schema.
    #[error(
        "could not turn Graph JSON into rows of {table}: {source}; this is a bug or a Graph change, please report it with the query"
    )]
    Decode {
        table: Table,
        #[source]
        source: ArrowError,
    },

    /// A table option (from the config or `CREATE EXTERNAL TABLE ... OPTIONS`) is invalid.
    #[error("invalid Teams table option '{key}': {message}")]
    Option { key: String, message: String },

    /// `CREATE EXTERNAL TABLE ... STORED AS TEAMS` named a table that does not exist.
    #[error("{0}")]
    UnknownTable(String),
}

impl TeamsError {
    pub fn graph(table: Table, doing: impl Into<String>, source: GraphError) -> Self {
        TeamsError::Graph {
            table,
            doing: doing.into(),
            source: Box::new(source),
        }
    }

    pub fn decode(table: Table, source: ArrowError) -> Self {
        TeamsError::Decode { table, source }
    }

    pub fn option(key: &str, message: impl Into<String>) -> Self {
        TeamsError::Option {
            key: key.to_string(),
            message: message.into(),
        }
    }
}

impl From<TeamsError> for DataFusionError {
    fn from(e: TeamsError) -> Self {
        DataFusionError::External(Box::new(e))
    }
}
