//! The interactive loop: rustyline with history, completion and multi-line input.

use std::io::Write;
use std::sync::{Arc, RwLock};

use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{Config, Editor};

use crate::catalog;
use crate::error::{Result, ShellError};
use crate::exec::run_script;
use crate::helper::{Names, ShellHelper};
use crate::history;
use crate::print_format::{Layout, terminal_text};
use crate::shell::{Flow, Shell};

const PROMPT: &str = "teams-sql> ";

pub async fn run(shell: &mut Shell) -> Result<()> {
    let config = Config::builder()
        .auto_add_history(false)
        .max_history_size(10_000)?
        .build();
    // Completion is a convenience: without the names, keywords still complete.
    let names = catalog::completion_names(&shell.ctx)
        .await
        .unwrap_or_default();
    let names: Names = Arc::new(RwLock::new(names));
    let mut rl: Editor<ShellHelper, FileHistory> = Editor::with_config(config)?;
    rl.set_helper(Some(ShellHelper::new(Arc::clone(&names))));

    let history_path = history::history_path();
    if let Some(path) = &history_path {
        match history::prepare(path) {
            Ok(()) => {
                // A missing or empty file is normal on first start.
                let _ = rl.load_history(path);
            }
            Err(e) => eprintln!("warning: history disabled ({}: {e})", path.display()),
        }
    }

    match shell.connection() {
        Some(c) => eprintln!(
            "teams-sql {} · tenant {} · \\? for help, \\q to quit",
            env!("CARGO_PKG_VERSION"),
            c.tenant_id
        ),
        None => eprintln!("teams-sql {} (no tenant)", env!("CARGO_PKG_VERSION")),
    }

    let mut stdout = std::io::stdout();
    loop {
        match rl.readline(PROMPT) {
            Ok(input) => {
                if input.trim().is_empty() {
                    continue;
                }
                // Marker words catch secrets in general; the live client secret is checked as
                // well, since it is a random string that matches no marker.
                if !history::may_contain_secret(&input) && !shell.holds_secret(&input) {
                    let _ = rl.add_history_entry(input.trim_end());
                }
                if run_input(shell, &input, &mut stdout).await == Flow::Quit {
                    break;
                }
                if let (Ok(fresh), Ok(mut n)) =
                    (catalog::completion_names(&shell.ctx).await, names.write())
                {
                    *n = fresh;
                }
            }
            Err(ReadlineError::Interrupted) => {
                // Ctrl-C at the prompt discards the line being typed, as in psql.
                eprintln!("^C");
            }
            Err(ReadlineError::Eof) => {
                eprintln!("\\q");
                break;
            }
            Err(e) => {
                save(&mut rl, history_path.as_deref());
                return Err(ShellError::Readline(e));
            }
        }
    }
    save(&mut rl, history_path.as_deref());
    Ok(())
}

/// Runs every statement of one REPL entry, up to the first that fails; errors are printed and
/// the REPL goes on.
async fn run_input(shell: &mut Shell, input: &str, out: &mut dyn Write) -> Flow {
    match run_script(shell, input, "input", out).await {
        Ok(flow) => flow,
        Err((_, ShellError::Cancelled)) => {
            eprintln!("^C query cancelled");
            Flow::Continue
        }
        Err((_, e)) => {
            // Errors can quote data (a value that failed to cast, a team name).
            eprintln!(
                "error: {}",
                terminal_text(&e.to_string(), Layout::KeepNewlines)
            );
            Flow::Continue
        }
    }
}

fn save(rl: &mut Editor<ShellHelper, FileHistory>, path: Option<&std::path::Path>) {
    if let Some(path) = path {
        if let Err(e) = rl.save_history(path) {
            eprintln!("warning: cannot save history to {}: {e}", path.display());
        }
        let _ = history::restrict(path);
    }
}
