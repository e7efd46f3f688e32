//! `teams-sql`: an SQL shell over live Microsoft Teams data.
//!
//! It connects to a tenant through Microsoft Graph with an Entra ID app registration (or to a
//! simulated tenant with `--demo`), exposes teams, channels, members, messages and replies as
//! tables of Apache DataFusion, and exports query results with `COPY` to Parquet, CSV, JSON and
//! Delta Lake. It behaves like datafusion-cli: `-c`, `-f`, SQL on stdin or a REPL.

mod args;
mod catalog;
mod command;
mod copy_delta;
mod credentials;
mod demo;
mod destinations;
mod error;
mod exec;
mod functions;
mod helper;
mod history;
mod logging;
mod print_format;
mod profile;
mod progress;
mod repl;
mod script;
mod session;
mod settings;
mod shell;
mod spool;
mod stats;
mod sync;
mod url_tables;

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use crate::args::{Args, Input};
use crate::error::{Result, ShellError};
use crate::exec::run_script;
use crate::print_format::PrintOptions;
use crate::shell::{Flow, Shell};

// As datafusion-cli does: see the dependency's note in Cargo.toml.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    if sync::requested() {
        return sync::main();
    }
    let matches = Args::command().get_matches();
    let args = match Args::from_arg_matches(&matches) {
        Ok(args) => args,
        Err(e) => e.exit(),
    };
    logging::init(args.verbose);
    let inputs = args::inputs_in_order(&args, &matches);
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
    match runtime.block_on(run(args, inputs)) {
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
            eprintln!("error: {}", terminal_safe(&e));
            ExitCode::from(e.exit_code())
        }
    }
}

/// Exit code of a run whose statements all succeeded but at least one read partially (under
/// `--on-forbidden skip`, without `--allow-partial`).
const PARTIAL_EXIT_CODE: u8 = 3;

/// Errors can quote data (a value that failed to cast, a team name), which any Teams user
/// can fill with terminal control sequences.
fn terminal_safe(e: &dyn std::fmt::Display) -> String {
    print_format::terminal_text(&e.to_string(), print_format::Layout::KeepNewlines)
}

/// Runs the session; returns how many statements read partially without the user accepting it.
async fn run(args: Args, inputs: Vec<Input>) -> Result<usize> {
    let settings = settings::resolve(&args, &settings::process_env)?;
    let print = PrintOptions {
        quiet: args.quiet,
        max_rows: args.maxrows,
        ..PrintOptions::new(args.format)
    };
    let mut shell = Shell::connect(settings, print).await?;
    let mut stdout = std::io::stdout();

    if !inputs.is_empty() {
        // In the order given on the command line: `-f setup.sql -c "SELECT ..."` sets up first.
        let mut commands = 0;
        for input in &inputs {
            let (text, source) = match input {
                Input::Command(sql) => {
                    commands += 1;
                    (sql.clone(), format!("-c #{commands}"))
                }
                Input::File(path) => (
                    std::fs::read_to_string(path).map_err(|source| ShellError::ReadFile {
                        path: path.clone(),
                        source,
                    })?,
                    path.display().to_string(),
                ),
            };
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
            eprintln!("error at {at}: {}", terminal_safe(&e));
            Err(ShellError::ScriptFailed)
        }
    }
}
