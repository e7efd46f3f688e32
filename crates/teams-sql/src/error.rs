//! The shell's error type: every variant says what went wrong and what the user can do about it.

use std::path::PathBuf;

use datafusion::error::DataFusionError;

/// Errors surfaced to the user by the shell (the message is what gets printed).
#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    #[error("{0}")]
    Credentials(String),

    #[error("config file {path}: {message}")]
    Config { path: PathBuf, message: String },

    #[error("cannot read {path}: {source}")]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{}", datafusion_message(.0))]
    DataFusion(#[from] DataFusionError),

    #[error("Delta: {0}")]
    Delta(#[from] deltalake::DeltaTableError),

    #[error("COPY ... STORED AS DELTA: {0}")]
    DeltaCopy(String),

    #[error("{0}")]
    Destination(String),

    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),

    #[error("Microsoft Graph client: {0}")]
    Graph(#[from] graph_client::GraphError),

    #[error("simulated tenant for --demo: {0}")]
    Demo(String),

    #[error("{0}")]
    Usage(String),

    /// `teams-sql sync` could not bring a table up to date.
    #[error("sync: {0}")]
    Sync(String),

    #[error("line editor: {0}")]
    Readline(#[from] rustyline::error::ReadlineError),

    #[error("query cancelled")]
    Cancelled,

    /// A statement of a file run with `\i` failed; `at` is its file and line.
    #[error("{at}: {source}")]
    Included {
        at: String,
        #[source]
        source: Box<ShellError>,
    },

    /// A script statement failed; its error was already printed with its location.
    #[error("script stopped at the first failing statement")]
    ScriptFailed,
}

pub type Result<T, E = ShellError> = std::result::Result<T, E>;

impl ShellError {
    /// Process exit code: 2 for problems with how teams-sql was started, 130 (as for SIGINT)
    /// for a cancelled script, 1 for a failing statement.
    pub fn exit_code(&self) -> u8 {
        match self {
            ShellError::Credentials(_)
            | ShellError::Config { .. }
            | ShellError::Usage(_)
            | ShellError::Demo(_) => 2,
            ShellError::Cancelled => 130,
            _ => 1,
        }
    }
}

/// DataFusion wraps errors from table providers (Graph sign-in, permissions, throttling) as
/// "External error: ..."; users should read the connector's own message first.
fn datafusion_message(e: &DataFusionError) -> String {
    match e.find_root() {
        DataFusionError::External(inner) => inner.to_string(),
        _ => e.to_string(),
    }
}
