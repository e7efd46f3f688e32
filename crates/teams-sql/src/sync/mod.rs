//! `teams-sql sync --to <DIR|URL>`: keeps one Delta table per SQL table equal to the tenant,
//! incrementally and exactly once (README "Keeping a lake in sync").
//!
//! - `args`: the command line (its own options plus the shell's connection flags);
//! - `cursor`: where each table's cursor lives in the Delta log (app transactions);
//! - `lake`: opening and creating the tables, and the one commit per batch (COPY's merge);
//! - `rows`: where a team's message rows go while read (local, or Parquet files of a first load);
//! - `run`: the order of a run, the one Graph pass for both message tables, deletions;
//! - `summary`: the line per table on stderr.

mod args;
mod cursor;
mod lake;
mod rows;
mod run;
mod summary;

use std::process::ExitCode;

use clap::Parser;

use crate::error::{Result, ShellError};
use crate::print_format::PrintOptions;
use crate::shell::Shell;

pub use args::SyncArgs;

/// True when the command line asks for `teams-sql sync`.
pub fn requested() -> bool {
    std::env::args_os().nth(1).is_some_and(|a| a == "sync")
}

/// Exit code when every table committed but something Graph refused was left out (as for
/// queries: `--allow-partial` makes it 0).
const PARTIAL_EXIT_CODE: u8 = 3;

pub fn main() -> ExitCode {
    let args = SyncArgs::parse_from(std::env::args_os().skip(1));
    crate::logging::init(args.shell.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {}", crate::terminal_safe(&e));
            ExitCode::from(e.exit_code())
        }
    }
}

async fn run(args: SyncArgs) -> Result<u8> {
    args.check()?;
    let tables = args.tables()?;
    let start = args.start()?;
    let lookback = args.lookback()?;
    let reconcile_every = args.reconcile_every()?;
    if let Some(p) = &args.partition_by
        && !tables.iter().any(|t| t.schema().field_with_name(p).is_ok())
    {
        return Err(ShellError::Usage(format!(
            "--partition-by '{p}' is not a column of any table synced"
        )));
    }
    let settings = crate::settings::resolve(&args.shell, &crate::settings::process_env)?;
    let options = settings.options.clone();
    let shell = Shell::connect(settings, PrintOptions::new(args.shell.format)).await?;
    let (Some(handle), Some(connection)) = (shell.teams(), shell.connection()) else {
        return Err(ShellError::Usage(
            "sync needs a tenant to connect to".into(),
        ));
    };
    let lake = lake::Lake::new(shell.ctx.clone(), &args.to)?;
    lake.remove_stale().await;
    let mut sync = run::Run::new(
        lake,
        handle.clone(),
        options,
        connection.tenant_id.clone(),
        tables.clone(),
        args.teams.clone(),
        start,
        args.full,
        args.partition_by.clone(),
        lookback,
    );
    sync.reconcile_every = reconcile_every;
    if let Some(n) = args.batch_rows {
        sync.batch_rows = n;
    }
    let outcome = sync.run().await;
    let mut failed = outcome.is_err();
    for t in &tables {
        let s = sync.summaries.entry(*t).or_default();
        failed |= s.error.is_some();
        if !args.shell.quiet || s.error.is_some() {
            eprintln!("{}", crate::terminal_safe(&s.line(*t)));
        }
    }
    if let Err(e) = outcome {
        eprintln!("error: {}", crate::terminal_safe(&e));
    }
    Ok(if failed {
        1
    } else if sync.partial && !args.shell.allow_partial {
        eprintln!(
            "sync left out teams or channels Graph refused (see the warnings above); their rows \
             were kept as they were; exit code {PARTIAL_EXIT_CODE}"
        );
        PARTIAL_EXIT_CODE
    } else {
        0
    })
}
