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

    /// Graph refused one child (403) and `teams.on_forbidden` is `fail`.
    #[error(
        "Graph refused {child} while reading {table} ({cause}); fix: {fix}; Graph said: {detail}. To read the rest and leave out what Graph refuses, SET teams.on_forbidden = 'skip' (teams-sql: --on-forbidden skip; a STORED AS TEAMS table: OPTIONS ('on_forbidden' 'skip')); the statement is then reported as partial"
    )]
    Forbidden {
        table: Table,
        child: String,
        cause: String,
        fix: String,
        detail: String,
    },

    /// Under `on_forbidden = 'skip'`, every child the statement needed was refused: an empty
    /// result made of refusals only is not an answer.
    #[error(
        "nothing of {table} could be read: Graph refused all {count} {unit} the statement needed ({cause}), e.g. {examples}; fix: {fix}"
    )]
    AllRefused {
        table: Table,
        count: u64,
        unit: &'static str,
        cause: String,
        examples: String,
        fix: String,
    },

    /// A setting (`SET teams.*`, the connector configuration or `CREATE EXTERNAL TABLE ...
    /// OPTIONS`) is invalid.
    #[error("invalid Teams option '{key}': {message}")]
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
