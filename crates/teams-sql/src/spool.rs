//! Reading a query to its end before a Delta commit depends on it. Under
//! `teams.on_forbidden = 'skip'` what a read leaves out is only known once it is done, and the
//! commit must know it: an `overwrite` refuses a partial read, `append` and `merge` record what
//! was left out in the commit. The rows go to an Arrow IPC file in a private temporary
//! directory (streamed, so memory stays bounded) and the write reads them from there.

use std::io::BufWriter;

use datafusion::arrow::ipc::writer::FileWriter;
use datafusion::datasource::file_format::options::ArrowReadOptions;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{DataFrame, SessionContext};
use datafusion_teams::ReadReport;
use futures::StreamExt;

use crate::error::{Result, ShellError};

/// The spooled rows and a plan that reads them; the file goes when this is dropped.
pub struct Spool {
    _dir: tempfile::TempDir,
    pub plan: LogicalPlan,
}

fn io_error(e: std::io::Error) -> ShellError {
    ShellError::Destination(format!(
        "cannot spool the query's rows to a local temporary file before the Delta commit: {e}"
    ))
}

/// Runs `input` to the end into a temporary Arrow IPC file.
pub async fn spool(ctx: &SessionContext, input: LogicalPlan) -> Result<Spool> {
    let dir = tempfile::Builder::new()
        .prefix("teams-sql-spool-")
        .tempdir()
        .map_err(io_error)?;
    let path = dir.path().join("rows.arrow");
    let mut stream = DataFrame::new(ctx.state(), input).execute_stream().await?;
    let file = std::fs::File::create(&path).map_err(io_error)?;
    let mut writer = FileWriter::try_new(BufWriter::new(file), &stream.schema())
        .map_err(datafusion::error::DataFusionError::from)?;
    while let Some(batch) = stream.next().await {
        writer
            .write(&batch?)
            .map_err(datafusion::error::DataFusionError::from)?;
    }
    writer
        .finish()
        .map_err(datafusion::error::DataFusionError::from)?;
    let path = path
        .to_str()
        .ok_or_else(|| io_error(std::io::Error::other("temporary path is not UTF-8")))?
        .to_string();
    let plan = ctx
        .read_arrow(path, ArrowReadOptions::default())
        .await?
        .into_unoptimized_plan();
    Ok(Spool { _dir: dir, plan })
}

/// What a read left out, as Delta commit metadata (`commitInfo`), so that history tools show
/// which teams and channels a version lacks and why.
pub fn commit_metadata(report: &ReadReport) -> Vec<(String, serde_json::Value)> {
    let groups: Vec<serde_json::Value> = report
        .skipped
        .iter()
        .map(|g| {
            serde_json::json!({
                "cause": g.cause,
                "refused": g.refused,
                "count": g.count,
                "examples": g.examples,
            })
        })
        .collect();
    vec![(
        "teams_sql".to_string(),
        serde_json::json!({
            "partial": report.is_partial(),
            "refused": report.refused(),
            "skipped": groups,
        }),
    )]
}
