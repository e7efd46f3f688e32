//! `teams-sql`: an SQL shell over live Microsoft Teams data.
//!
//! It connects to a tenant through Microsoft Graph with an Entra ID app registration (or to a
//! simulated tenant with `--demo`), exposes teams, channels, members, messages and replies as
//! tables of Apache DataFusion, and exports query results with `COPY` to Parquet, CSV, JSON and
//! Delta Lake. It behaves like datafusion-cli: `-c`, `-f`, SQL on stdin or a REPL.

mod args;
mod command;
mod copy_delta;
mod credentials;
mod demo;
mod destinations;
mod error;
mod exec;
mod helper;
mod history;
mod logging;
mod print_format;
mod profile;
mod progress;
mod repl;
mod script;
mod session;
mod spool;
mod stats;

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use clap::Parser;

use crate::args::Args;
use crate::error::{Result, ShellError};
use crate::exec::{Flow, Shell, run_script};

fn main() -> ExitCode {
    let args = Args::parse();
    logging::init(args.verbose);
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
        Ok(0) => ExitCode::SUCCESS,
        Ok(n) => {
            eprintln!(
                "{n} statement{} read partially: Graph refused some teams or channels and they \
                 were left out (see the warnings above); exit code {PARTIAL_EXIT_CODE}",
                if n == 1 { "" } else { "s" }
            );
            ExitCode::from(PARTIAL_EXIT_CODE)
        }
        // Already reported with the failing statement's location.
        Err(e @ ShellError::ScriptFailed) => ExitCode::from(e.exit_code()),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Exit code of a run whose statements all succeeded but at least one read partially (under
/// `--on-forbidden skip`, without `--allow-partial`).
const PARTIAL_EXIT_CODE: u8 = 3;

/// Runs the session; returns how many statements read partially without the user accepting it.
async fn run(args: Args) -> Result<usize> {
    let mut shell = Shell::connect(&args).await?;
    let mut stdout = std::io::stdout();

    if !args.commands.is_empty() || !args.files.is_empty() {
        for (i, sql) in args.commands.iter().enumerate() {
            let source = format!("-c #{}", i + 1);
            if script_step(&mut shell, sql, &source, &mut stdout).await? == Flow::Quit {
                return Ok(shell.partial_statements);
            }
        }
        for path in &args.files {
            let text = std::fs::read_to_string(path).map_err(|source| ShellError::ReadFile {
                path: path.clone(),
                source,
            })?;
            let source = path.display().to_string();
            if script_step(&mut shell, &text, &source, &mut stdout).await? == Flow::Quit {
                return Ok(shell.partial_statements);
            }
        }
        return Ok(shell.partial_statements);
    }

    if !std::io::stdin().is_terminal() {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|source| ShellError::ReadFile {
                path: "<stdin>".into(),
                source,
            })?;
        script_step(&mut shell, &text, "<stdin>", &mut stdout).await?;
        return Ok(shell.partial_statements);
    }

    // Interactively, each partial statement was already flagged where it ran.
    repl::run(&mut shell).await.map(|()| 0)
}

/// Runs one script; on failure prints where it failed and turns the error into the exit code.
async fn script_step(
    shell: &mut Shell,
    text: &str,
    source: &str,
    out: &mut std::io::Stdout,
) -> Result<Flow> {
    match run_script(shell, text, source, out).await {
        Ok(flow) => Ok(flow),
        Err((at, ShellError::Cancelled)) => {
            eprintln!("cancelled at {at}");
            Err(ShellError::Cancelled)
        }
        Err((at, e)) => {
            eprintln!("error at {at}: {e}");
            Err(ShellError::ScriptFailed)
        }
    }
}
