//! Backslash commands of the REPL (and of scripts): their grammar, testable without a session,
//! and what they do. Catalog questions (`\d`) are answered by `catalog.rs`. The names follow datafusion-cli (`\d`, `\h`,
//! `\i`, `\quiet`, `\pset format`) and psql where datafusion-cli has none (`\timing`, `\conn`).

use std::io::Write;
use std::path::PathBuf;
use std::str::FromStr;

use datafusion::arrow::array::RecordBatch;
use datafusion::error::DataFusionError;

use crate::catalog;
use crate::error::Result;
use crate::functions;
use crate::print_format::PrintFormat;
use crate::shell::Shell;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Quit,
    ListTables,
    Describe(String),
    /// `\h`: every SQL function with a one-line description.
    ListFunctions,
    /// `\h NAME`: one function's documentation.
    FunctionHelp(String),
    /// `\i FILE`: runs the statements of FILE as if typed here.
    Include(PathBuf),
    /// `None` shows the current setting.
    Quiet(Option<bool>),
    /// `None` toggles.
    Timing(Option<bool>),
    /// `None` shows the current format.
    Format(Option<PrintFormat>),
    /// `None` shows the current limit.
    MaxRows(Option<usize>),
    Conn,
}

pub const HELP: &str = "\
Commands:
  \\?                   this help
  \\q                   quit (also Ctrl-D, `quit`, `exit`)
  \\d                   list tables
  \\d TABLE             columns, types, primary key and pushdown columns of TABLE
  \\h                   list SQL functions
  \\h FUNCTION          documentation of FUNCTION (syntax, arguments, example)
  \\i FILE              run the statements in FILE
  \\quiet [on|off]      show or set quiet mode (no row counts, timings or Graph summaries)
  \\timing [on|off]     show or hide elapsed time after each statement
  \\pset format FORMAT  set the output format: table, csv, tsv, json, ndjson, automatic
  \\format [FORMAT]     the same, shorter; without FORMAT shows the current one
  \\maxrows [N]         show or set how many rows a table shows (0 = all)
  \\conn                tenant, app identity and the Graph and sign-in endpoints (never the secret)
SQL statements end with `;` and may span lines. Ctrl-C cancels a running query.
SELECT * FROM 'file.parquet' (or .csv, .json, a directory, an s3:// az:// gs:// URL) reads files.
COPY (query) TO 'path' STORED AS PARQUET | CSV | JSON | DELTA [OPTIONS (...)] exports results.";

fn on_off(name: &str, v: &str) -> std::result::Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "on" | "true" | "t" | "yes" | "y" => Ok(true),
        "off" | "false" | "f" | "no" | "n" => Ok(false),
        _ => Err(format!("\\{name}: expected on or off, got '{v}'")),
    }
}

fn format_arg(f: &str) -> std::result::Result<Command, String> {
    f.parse().map(|f| Command::Format(Some(f)))
}

impl FromStr for Command {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let s = s.trim().trim_end_matches(';').trim();
        let body = s.strip_prefix('\\').unwrap_or(s);
        let (name, rest) = match body.split_once(char::is_whitespace) {
            Some((n, r)) => (n, r.trim()),
            None => (body, ""),
        };
        // `\i` takes the rest of the line as one path, spaces included.
        if name == "i" || name == "include" {
            return if rest.is_empty() {
                Err("\\i: expected a file name".to_string())
            } else {
                Ok(Command::Include(PathBuf::from(rest)))
            };
        }
        let args: Vec<&str> = rest.split_whitespace().collect();
        match (name, args.as_slice()) {
            ("?" | "help", []) => Ok(Command::Help),
            ("q" | "quit", []) => Ok(Command::Quit),
            ("d", []) => Ok(Command::ListTables),
            ("d", [t]) => Ok(Command::Describe(t.to_string())),
            ("h", []) => Ok(Command::ListFunctions),
            ("h", [f]) => Ok(Command::FunctionHelp(f.to_string())),
            ("quiet", []) => Ok(Command::Quiet(None)),
            ("quiet", [v]) => on_off(name, v).map(|q| Command::Quiet(Some(q))),
            ("timing", []) => Ok(Command::Timing(None)),
            ("timing", [v]) => on_off(name, v).map(|t| Command::Timing(Some(t))),
            ("format" | "pset", []) => Ok(Command::Format(None)),
            ("pset", ["format"]) => Ok(Command::Format(None)),
            ("pset", ["format", f]) => format_arg(f),
            ("pset", [_, _, ..]) => Err(format!(
                "\\pset {rest}: only `\\pset format FORMAT` is supported"
            )),
            ("format" | "pset", [f]) => format_arg(f),
            ("maxrows", []) => Ok(Command::MaxRows(None)),
            ("maxrows", [n]) => n
                .parse()
                .map(|n| Command::MaxRows(Some(n)))
                .map_err(|_| format!("\\maxrows: expected a number, got '{n}'")),
            ("conn" | "conninfo", []) => Ok(Command::Conn),
            (
                "?" | "help" | "q" | "quit" | "d" | "h" | "quiet" | "timing" | "format" | "maxrows"
                | "conn" | "conninfo",
                _,
            ) => Err(format!("\\{name}: too many arguments (see \\?)")),
            _ => Err(format!("unknown command '\\{body}' (\\? lists commands)")),
        }
    }
}

impl Shell {
    /// Runs one backslash command; its answer goes to `out`, settings changes to stderr.
    pub async fn run_command(&mut self, cmd: Command, out: &mut dyn Write) -> Result<()> {
        match cmd {
            // They steer the script being run, so the script runner (exec.rs) takes them.
            Command::Quit | Command::Include(_) => {}
            Command::Help => writeln!(out, "{}", HELP)?,
            Command::Timing(v) => {
                self.print.timing = v.unwrap_or(!self.print.timing);
                eprintln!("timing is {}", if self.print.timing { "on" } else { "off" });
            }
            Command::MaxRows(None) => eprintln!("table row limit is {}", self.print.max_rows),
            Command::MaxRows(Some(n)) => {
                self.print.max_rows = n;
                eprintln!("table row limit is {n}");
            }
            Command::Quiet(None) => {
                eprintln!(
                    "quiet mode is {}",
                    if self.print.quiet { "on" } else { "off" }
                )
            }
            Command::Quiet(Some(q)) => {
                self.print.quiet = q;
                eprintln!("quiet mode is {}", if q { "on" } else { "off" });
            }
            Command::ListFunctions => self.print(functions::list(&self.ctx.state())?, out)?,
            Command::FunctionHelp(name) => {
                write!(out, "{}", functions::help(&self.ctx.state(), &name)?)?;
            }
            Command::Format(None) => eprintln!("output format is {}", self.print.format),
            Command::Format(Some(f)) => {
                self.print.format = f;
                eprintln!("output format is {}", self.print.format);
            }
            Command::Conn => match self.connection() {
                None => writeln!(out, "not connected to a tenant")?,
                Some(c) => {
                    for (k, v) in c.describe() {
                        writeln!(out, "{k:>15}: {v}")?;
                    }
                }
            },
            Command::ListTables => self.print(catalog::list_tables(&self.ctx).await?, out)?,
            Command::Describe(name) => {
                self.print(catalog::describe(&self.ctx, &name).await?, out)?
            }
        }
        out.flush()?;
        Ok(())
    }

    fn print(&self, batch: RecordBatch, out: &mut dyn Write) -> Result<()> {
        self.print
            .print_batches(batch.schema(), &[batch], out)
            .map_err(DataFusionError::from)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands() {
        assert_eq!("\\?".parse(), Ok(Command::Help));
        assert_eq!("\\q".parse(), Ok(Command::Quit));
        assert_eq!("\\d".parse(), Ok(Command::ListTables));
        assert_eq!(
            "\\d  messages ".parse(),
            Ok(Command::Describe("messages".into()))
        );
        assert_eq!("\\timing off".parse(), Ok(Command::Timing(Some(false))));
        assert_eq!("\\timing".parse(), Ok(Command::Timing(None)));
        assert_eq!(
            "\\format ndjson".parse(),
            Ok(Command::Format(Some(PrintFormat::Ndjson)))
        );
        assert_eq!("\\conn".parse(), Ok(Command::Conn));
        assert_eq!("\\maxrows 0".parse(), Ok(Command::MaxRows(Some(0))));
        assert!("\\maxrows x".parse::<Command>().is_err());
        assert!("\\format xml".parse::<Command>().is_err());
        assert!("\\x".parse::<Command>().is_err());
        assert!("\\d a b".parse::<Command>().is_err());
    }

    #[test]
    fn parses_datafusion_cli_spellings() {
        assert_eq!("\\h".parse(), Ok(Command::ListFunctions));
        assert_eq!(
            "\\h date_trunc".parse(),
            Ok(Command::FunctionHelp("date_trunc".into()))
        );
        assert_eq!(
            "\\i my scripts/a.sql".parse(),
            Ok(Command::Include("my scripts/a.sql".into()))
        );
        assert!("\\i".parse::<Command>().is_err());
        assert_eq!("\\quiet".parse(), Ok(Command::Quiet(None)));
        assert_eq!("\\quiet true".parse(), Ok(Command::Quiet(Some(true))));
        assert_eq!("\\quiet off".parse(), Ok(Command::Quiet(Some(false))));
        assert_eq!(
            "\\pset format tsv".parse(),
            Ok(Command::Format(Some(PrintFormat::Tsv)))
        );
        assert_eq!(
            "\\pset csv".parse(),
            Ok(Command::Format(Some(PrintFormat::Csv)))
        );
        assert_eq!("\\pset".parse(), Ok(Command::Format(None)));
        assert!("\\pset border 2".parse::<Command>().is_err());
    }
}
