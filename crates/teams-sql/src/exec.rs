//! Running statements: parse, plan, intercept what DataFusion cannot run by itself (COPY to
//! Delta, cloud destinations), execute as a stream, print, and summarise on stderr. Scripts
//! stop at the first failing statement and name its line; Ctrl-C cancels the running statement
//! (dropping its stream, which stops its Graph requests) without leaving the REPL.

use std::future::Future;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::datasource::sink::DataSinkExec;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::{ExecutionPlan, execute_stream};
use datafusion::sql::parser::{DFParser, Statement as DFStatement};
use datafusion::sql::sqlparser::dialect::dialect_from_str;
use datafusion_teams::{ReadReport, TeamsHandle};
use futures::StreamExt;

use crate::command::Command;
use crate::copy_delta;
use crate::destinations;
use crate::destinations::staging::StagedCopy;
use crate::error::{Result, ShellError};
use crate::print_format::{Layout, PrintFormat, ResultPrinter, terminal_text};
use crate::progress::{Progress, Rows};
use crate::script;
use crate::shell::{Flow, Shell};
use crate::stats::GraphCounters;

/// How deep `\i` may nest: deeper is a file that includes itself.
const MAX_INCLUDE_DEPTH: usize = 16;

impl Shell {
    /// Runs one statement or `\command` from a script or the REPL.
    pub async fn run(&mut self, stmt: &script::Statement, out: &mut dyn Write) -> Result<Flow> {
        if stmt.is_command() {
            return match stmt.text.parse().map_err(ShellError::Usage)? {
                Command::Quit => Ok(Flow::Quit),
                Command::Include(path) => self.include(&path, out).await,
                cmd => self.run_command(cmd, out).await.map(|()| Flow::Continue),
            };
        }
        let lower = stmt.text.trim().to_ascii_lowercase();
        if lower == "quit" || lower == "exit" {
            return Ok(Flow::Quit);
        }
        cancellable(self.execute_sql(&stmt.text, out)).await?;
        Ok(Flow::Continue)
    }

    /// `\i FILE`: the file's statements run here, as if typed; the first failing one stops it
    /// and is reported with its own file and line.
    fn include<'a>(
        &'a mut self,
        path: &'a Path,
        out: &'a mut dyn Write,
    ) -> Pin<Box<dyn Future<Output = Result<Flow>> + 'a>> {
        Box::pin(async move {
            if self.include_depth >= MAX_INCLUDE_DEPTH {
                return Err(ShellError::Usage(format!(
                    "\\i {}: files nested more than {MAX_INCLUDE_DEPTH} deep (does a file include itself?)",
                    path.display()
                )));
            }
            let text = std::fs::read_to_string(path).map_err(|source| ShellError::ReadFile {
                path: path.to_path_buf(),
                source,
            })?;
            self.include_depth += 1;
            let result = run_script(self, &text, &path.display().to_string(), out).await;
            self.include_depth -= 1;
            match result {
                Ok(flow) => Ok(flow),
                Err((_, ShellError::Cancelled)) => Err(ShellError::Cancelled),
                Err((at, e)) => Err(ShellError::Included {
                    at,
                    source: Box::new(e),
                }),
            }
        })
    }

    /// Parses and runs SQL text (one or more statements).
    pub async fn execute_sql(&mut self, sql: &str, out: &mut dyn Write) -> Result<()> {
        let dialect_name = self
            .ctx
            .state()
            .config_options()
            .sql_parser
            .dialect
            .to_string();
        let dialect = dialect_from_str(&dialect_name).ok_or_else(|| {
            ShellError::Usage(format!("unsupported SQL dialect '{dialect_name}'"))
        })?;
        let statements = DFParser::parse_sql_with_dialect(sql, dialect.as_ref())?;
        for statement in statements {
            self.execute_statement(statement, out).await?;
        }
        Ok(())
    }

    async fn execute_statement(
        &mut self,
        statement: DFStatement,
        out: &mut dyn Write,
    ) -> Result<()> {
        let started = Instant::now();
        if let Some(t) = &self.teams {
            t.start_statement();
        }
        let before = self.graph_counters();
        let skipped_before = self.teams.as_ref().map_or(0, |t| t.skipped_children());
        // What this statement leaves out is reported on its own.
        if let Some(t) = &self.teams {
            t.take_report();
        }
        let plan = self.ctx.state().statement_to_plan(statement).await?;
        let partial_accepted = match &plan {
            LogicalPlan::Copy(copy) => copy_delta::accepts_partial(copy)?,
            _ => false,
        };
        let mut out = BufWriter::new(out);

        let rows = if let LogicalPlan::Copy(copy) = &plan
            && copy_delta::is_delta(copy)
        {
            // Exports can take minutes on a real tenant: show progress while deltalake pulls
            // the rows (it consumes the stream itself, so only Graph counters are known).
            let progress_ok = self.print.stderr_tty && !self.print.quiet;
            let mut progress = Progress::new(progress_ok);
            let mut ticker = tokio::time::interval(Progress::INTERVAL);
            let copy_fut = copy_delta::copy_to_delta(&self.ctx, copy, self.teams.as_ref());
            tokio::pin!(copy_fut);
            let report = loop {
                tokio::select! {
                    r = &mut copy_fut => break r?,
                    _ = ticker.tick() => {
                        let so_far = self.graph_since(before.as_ref());
                        // deltalake plans and runs its own scan: only the Teams scans' own
                        // count of rows says how far it got.
                        let rows = Rows {
                            read: so_far.as_ref().map(|g| g.rows_produced),
                            ..Rows::default()
                        };
                        progress.update(rows, so_far.as_ref());
                    }
                }
            };
            drop(progress);
            let batch = report.to_batch().map_err(DataFusionError::from)?;
            self.print
                .print_batches(batch.schema(), &[batch], &mut out)
                .map_err(DataFusionError::from)?;
            report.rows_written as usize
        } else {
            // DataFusion's own COPY writes beside the destination and is moved into place only
            // once every row is written (see destinations::staging).
            let (plan, staged) = match plan {
                LogicalPlan::Copy(copy) => {
                    destinations::register_for_copy(&self.ctx, &copy.output_url)?;
                    let staged = StagedCopy::new(&self.ctx, &copy)?;
                    (LogicalPlan::Copy(staged.plan.clone()), Some(staged))
                }
                plan => (plan, None),
            };
            match self.stream_plan(plan, &mut out, before.as_ref()).await {
                Ok(rows) => {
                    if let Some(staged) = staged {
                        staged.commit().await?;
                    }
                    rows
                }
                Err(e) => {
                    if let Some(staged) = staged {
                        staged.staging.abort().await;
                    }
                    return Err(e);
                }
            }
        };
        out.flush()?;
        drop(out);
        let report = self
            .teams
            .as_ref()
            .map(TeamsHandle::take_report)
            .unwrap_or_default();
        let partial = report.is_partial() && !partial_accepted && !self.allow_partial;
        if partial {
            self.partial_statements += 1;
        }
        self.summarise(
            rows,
            started.elapsed(),
            before.as_ref(),
            skipped_before,
            &report,
            partial,
        );
        Ok(())
    }

    /// Executes a plan DataFusion runs by itself, printing its rows as they stream.
    async fn stream_plan(
        &self,
        plan: LogicalPlan,
        out: &mut dyn Write,
        before: Option<&GraphCounters>,
    ) -> Result<usize> {
        {
            // CREATE VIEW and CREATE TABLE AS carry their query's schema but return nothing.
            let is_ddl = matches!(plan, LogicalPlan::Ddl(_)) || plan.schema().fields().is_empty();
            let is_copy = matches!(plan, LogicalPlan::Copy(_));
            let df = self.ctx.execute_logical_plan(plan).await?;
            let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
            // The physical plan is kept so the progress line can read its live row counts.
            let task_ctx = Arc::new(df.task_ctx());
            let physical = df.create_physical_plan().await?;
            let mut stream = execute_stream(Arc::clone(&physical), task_ctx)?;
            let format = self.print.output_format();
            // Progress would garble a table or CSV printed to the same terminal mid-stream;
            // tables are buffered until the end, so only those may share the terminal.
            let progress_ok = self.print.stderr_tty
                && !self.print.quiet
                && (!self.print.stdout_tty || format == PrintFormat::Table);
            let mut progress = Progress::new(progress_ok);
            let mut ticker = tokio::time::interval(Progress::INTERVAL);
            let max_rows = self.print.max_rows;
            let mut printer = (!is_ddl)
                .then(|| ResultPrinter::new(format, schema, out).with_max_table_rows(max_rows));
            let mut rows = 0usize;
            loop {
                tokio::select! {
                    next = stream.next() => match next {
                        Some(batch) => {
                            let batch = batch?;
                            rows += batch.num_rows();
                            if let Some(p) = printer.as_mut() {
                                p.write_batch(&batch).map_err(DataFusionError::from)?;
                            }
                        }
                        None => break,
                    },
                    _ = ticker.tick() => {
                        let so_far = self.graph_since(before);
                        let rows = Rows {
                            out: (!is_copy).then_some(rows as u64),
                            read: rows_read(&physical),
                            written: if is_copy { rows_into_sink(&physical) } else { None },
                        };
                        progress.update(rows, so_far.as_ref());
                    }
                }
            }
            drop(progress);
            if let Some(p) = printer {
                let hidden = p.hidden_rows();
                p.finish().map_err(DataFusionError::from)?;
                if hidden > 0 && !self.print.quiet {
                    eprintln!(
                        "({hidden} more rows not shown: --maxrows N or \\maxrows N, 0 for all; \
                         csv/json/ndjson are never cut)"
                    );
                }
            }
            Ok(rows)
        }
    }

    /// Graph's counters since `before` was taken (at the statement's start).
    fn graph_since(&self, before: Option<&GraphCounters>) -> Option<GraphCounters> {
        Some(self.graph_counters()?.since(before?))
    }

    /// Summary lines go to stderr so that stdout carries only data.
    fn summarise(
        &self,
        rows: usize,
        elapsed: Duration,
        before: Option<&GraphCounters>,
        skipped_before: u64,
        report: &ReadReport,
        partial: bool,
    ) {
        let mut err = std::io::stderr().lock();
        // One line per cause, never one per channel. Notices quote team and channel names,
        // which any Teams user can set.
        for line in report.lines() {
            let line = terminal_text(&line, Layout::KeepNewlines);
            let _ = writeln!(err, "warning: {line}");
        }
        if partial {
            let _ = writeln!(
                err,
                "warning: partial result: {} teams or channels Graph refused were left out \
                 (a script then exits with code 3; --allow-partial accepts partial results)",
                report.refused()
            );
        }
        if self.print.quiet {
            return;
        }
        let rows_line = if rows == 1 {
            "1 row".to_string()
        } else {
            format!("{rows} rows")
        };
        if self.print.timing {
            let _ = writeln!(err, "{rows_line} in {:.3}s", elapsed.as_secs_f64());
        } else {
            let _ = writeln!(err, "{rows_line}");
        }
        if let (Some(d), Some(t)) = (self.graph_since(before), &self.teams) {
            let listed = if d.teams_discovered + d.channels_discovered > 0 {
                format!(
                    "; listed {} teams, {} channels",
                    d.teams_discovered, d.channels_discovered
                )
            } else {
                String::new()
            };
            let _ = writeln!(
                err,
                "graph: {} requests, {} throttled (429), {:.1}s throttle wait, {} children skipped{listed}",
                d.requests,
                d.throttled,
                d.throttle_wait.as_secs_f64(),
                t.skipped_children().saturating_sub(skipped_before)
            );
        }
    }
}

/// Rows the plan's scans (its leaves) have produced so far, from their live metrics; `None`
/// when no scan reports any.
fn rows_read(plan: &Arc<dyn ExecutionPlan>) -> Option<u64> {
    let children = plan.children();
    if children.is_empty() {
        return plan
            .metrics()
            .and_then(|m| m.output_rows())
            .map(|n| n as u64);
    }
    children
        .into_iter()
        .filter_map(rows_read)
        .reduce(|a, b| a + b)
}

/// Rows a COPY has handed to its file writer so far: what left the writer's input.
fn rows_into_sink(plan: &Arc<dyn ExecutionPlan>) -> Option<u64> {
    if let Some(sink) = plan.downcast_ref::<DataSinkExec>() {
        let input = sink.input();
        return input
            .metrics()
            .and_then(|m| m.output_rows())
            .map(|n| n as u64)
            .or_else(|| rows_read(input));
    }
    plan.children().into_iter().find_map(rows_into_sink)
}

/// Runs `f` unless Ctrl-C arrives first; dropping `f` cancels the query and its Graph requests.
pub async fn cancellable<T>(f: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::select! {
        r = f => r,
        _ = ctrl_c() => Err(ShellError::Cancelled),
    }
}

async fn ctrl_c() {
    // If the handler cannot be installed, never report a Ctrl-C rather than cancel at once.
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Runs a whole script (a `-c` argument, a `-f` file or stdin). Stops at the first failing
/// statement and returns its error with where it was.
pub async fn run_script(
    shell: &mut Shell,
    text: &str,
    source: &str,
    out: &mut dyn Write,
) -> std::result::Result<Flow, (String, ShellError)> {
    let split = script::split(text);
    let all = split.statements.into_iter().chain(split.rest);
    for stmt in all {
        match shell.run(&stmt, out).await {
            Ok(Flow::Quit) => return Ok(Flow::Quit),
            Ok(Flow::Continue) => {}
            Err(e) => return Err((format!("{source}, line {}", stmt.line), e)),
        }
    }
    Ok(Flow::Continue)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An offline shell printing csv and no summaries: what the tests compare.
    fn quiet_shell() -> Shell {
        let mut shell = Shell::offline(PrintFormat::Csv);
        shell.print.quiet = true;
        shell
    }

    /// Where a test's Delta table goes; it is removed with the returned directory.
    fn table_dir() -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t").display().to_string();
        (dir, path)
    }

    /// The error a script fails with.
    async fn run_err(shell: &mut Shell, sql: &str) -> String {
        let mut out = Vec::new();
        run_script(shell, sql, "t", &mut out)
            .await
            .unwrap_err()
            .1
            .to_string()
    }

    async fn run_to_string(shell: &mut Shell, sql: &str) -> String {
        let mut out = Vec::new();
        run_script(shell, sql, "test", &mut out)
            .await
            .map_err(|(w, e)| format!("{w}: {e}"))
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[tokio::test]
    async fn csv_output_of_a_query() {
        let mut shell = quiet_shell();
        let text = run_to_string(
            &mut shell,
            "SELECT 1 AS a, 'x' AS b UNION ALL SELECT 2, 'y' ORDER BY a;",
        )
        .await;
        assert_eq!(text, "a,b\n1,x\n2,y\n");
    }

    #[tokio::test]
    async fn failing_statement_reports_its_line() {
        let mut shell = quiet_shell();
        let mut out = Vec::new();
        let err = run_script(
            &mut shell,
            "SELECT 1;\n\n-- comment\nSELECT nope FROM nowhere;\nSELECT 3;",
            "f.sql",
            &mut out,
        )
        .await
        .unwrap_err();
        assert_eq!(err.0, "f.sql, line 4");
        assert_eq!(String::from_utf8(out).unwrap(), "Int64(1)\n1\n");
    }

    #[tokio::test]
    async fn copy_to_delta_append_overwrite_merge() {
        let (_dir, p) = table_dir();
        let mut shell = quiet_shell();
        let src = "SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS v(id, name)";
        run_to_string(
            &mut shell,
            &format!("COPY ({src}) TO '{p}' STORED AS DELTA;"),
        )
        .await;
        run_to_string(
            &mut shell,
            &format!("COPY ({src}) TO '{p}' STORED AS DELTA OPTIONS ('mode' 'append');"),
        )
        .await;
        run_to_string(
            &mut shell,
            &format!("CREATE EXTERNAL TABLE d STORED AS DELTA LOCATION '{p}';"),
        )
        .await;
        let n = run_to_string(&mut shell, "SELECT count(*) AS n FROM d;").await;
        assert_eq!(n, "n\n4\n");

        run_to_string(
            &mut shell,
            &format!("COPY ({src}) TO '{p}' STORED AS DELTA OPTIONS ('mode' 'overwrite');"),
        )
        .await;
        let merge = format!(
            "COPY (SELECT * FROM (VALUES (2, 'B'), (3, 'c')) AS v(id, name)) TO '{p}' STORED AS DELTA OPTIONS ('mode' 'merge', 'merge_keys' 'id');"
        );
        let first = run_to_string(&mut shell, &merge).await;
        assert!(first.contains(",merge,2,1,1,"), "{first}");
        let second = run_to_string(&mut shell, &merge).await;
        assert!(second.contains(",merge,0,0,0,"), "{second}");
        // Same columns in another order append by name, not by position.
        run_to_string(
            &mut shell,
            &format!("COPY (SELECT 'z' AS name, 9 AS id) TO '{p}' STORED AS DELTA;"),
        )
        .await;
        run_to_string(&mut shell, "DROP TABLE d;").await;
        run_to_string(
            &mut shell,
            &format!("CREATE EXTERNAL TABLE d STORED AS DELTA LOCATION '{p}';"),
        )
        .await;
        let rows = run_to_string(&mut shell, "SELECT id, name FROM d ORDER BY id;").await;
        assert_eq!(rows, "id,name\n1,a\n2,B\n3,c\n9,z\n");
    }

    #[tokio::test]
    async fn delta_schema_mismatch_is_an_error() {
        let (_dir, p) = table_dir();
        let mut shell = quiet_shell();
        run_to_string(
            &mut shell,
            &format!("COPY (SELECT 1 AS id) TO '{p}' STORED AS DELTA;"),
        )
        .await;
        let err = run_err(
            &mut shell,
            &format!("COPY (SELECT 'x' AS id, 2 AS extra) TO '{p}' STORED AS DELTA;"),
        )
        .await;
        assert!(err.contains("'extra' is not in the table"), "{err}");
        assert!(err.contains("column 'id' is"), "{err}");
    }

    #[tokio::test]
    async fn merge_without_keys_on_a_computed_query_is_explained() {
        let (_dir, p) = table_dir();
        let mut shell = quiet_shell();
        let err = run_err(
            &mut shell,
            &format!("COPY (SELECT 1 AS id) TO '{p}' STORED AS DELTA OPTIONS ('mode' 'merge');"),
        )
        .await;
        assert!(err.contains("merge_keys"), "{err}");
    }

    #[tokio::test]
    async fn merge_keys_default_to_any_declared_primary_key() {
        let (_dir, p) = table_dir();
        let mut shell = quiet_shell();
        run_to_string(
            &mut shell,
            "CREATE TABLE src (id INT PRIMARY KEY, name VARCHAR); \
             INSERT INTO src VALUES (1, 'a'), (2, 'b');",
        )
        .await;
        let merge = format!(
            "COPY (SELECT id, name FROM src WHERE id > 0) TO '{p}' STORED AS DELTA \
             OPTIONS ('mode' 'merge');"
        );
        let first = run_to_string(&mut shell, &merge).await;
        assert!(first.contains(",merge,2,"), "{first}");
        let second = run_to_string(&mut shell, &merge).await;
        assert!(second.contains(",merge,0,0,0,"), "{second}");
    }
}
