//! Diagnostics on stderr through `tracing`: `--verbose` turns on the request log (one line per
//! Graph request, from graph-client) and the shell's own debug lines; otherwise `RUST_LOG`
//! decides, as in datafusion-cli. Without either, nothing is installed and nothing is printed.
//!
//! Only `target=level` directives are understood (`tracing_subscriber::filter::Targets`), not
//! the span and field filters of `EnvFilter`: that needs the `env-filter` feature and the regex
//! machinery behind it, a build cost for a syntax nobody needs to see one line per request.

use std::io::IsTerminal;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

/// What `--verbose` means.
pub const VERBOSE: &str = "teams_sql=debug,graph_client=debug";

pub fn init(verbose: bool) {
    let directives = if verbose {
        VERBOSE.to_string()
    } else {
        match std::env::var("RUST_LOG") {
            Ok(v) if !v.trim().is_empty() => v,
            _ => return,
        }
    };
    let targets: Targets = match directives.parse() {
        Ok(t) => t,
        Err(e) => {
            eprintln!(
                "warning: RUST_LOG is not a list of target=level directives ({e}); logging stays off"
            );
            return;
        }
    };
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .with_filter(targets);
    // Fails only if a subscriber is already installed, which nothing else in the shell does.
    let _ = tracing_subscriber::registry().with(layer).try_init();
}
