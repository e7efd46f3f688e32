//! Backslash commands of the REPL (and of scripts), parsed separately from their execution so
//! the grammar is testable without a session.

use std::str::FromStr;

use crate::print_format::PrintFormat;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Quit,
    ListTables,
    Describe(String),
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
  \\?               this help
  \\q               quit (also Ctrl-D, `quit`, `exit`)
  \\d               list tables
  \\d TABLE         columns, types, primary key and pushdown columns of TABLE
  \\timing [on|off] show or hide elapsed time after each statement
  \\format [FORMAT] show or set the output format: table, csv, json, ndjson, automatic
  \\maxrows [N]     show or set how many rows a table shows (0 = all)
  \\conn            tenant, cloud and app identity of this session (never the secret)
SQL statements end with `;` and may span lines. Ctrl-C cancels a running query.
COPY (query) TO 'path' STORED AS PARQUET | CSV | JSON | DELTA [OPTIONS (...)] exports results.";

impl FromStr for Command {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().trim_end_matches(';').trim();
        let body = s.strip_prefix('\\').unwrap_or(s);
        let mut words = body.split_whitespace();
        let name = words.next().unwrap_or_default();
        let arg = words.next();
        let extra = words.next();
        if extra.is_some() {
            return Err(format!("\\{name}: too many arguments (see \\?)"));
        }
        match (name, arg) {
            ("?" | "h" | "help", None) => Ok(Command::Help),
            ("q" | "quit", None) => Ok(Command::Quit),
            ("d", None) => Ok(Command::ListTables),
            ("d", Some(t)) => Ok(Command::Describe(t.to_string())),
            ("timing", None) => Ok(Command::Timing(None)),
            ("timing", Some(v)) => match v.to_ascii_lowercase().as_str() {
                "on" => Ok(Command::Timing(Some(true))),
                "off" => Ok(Command::Timing(Some(false))),
                _ => Err(format!("\\timing: expected on or off, got '{v}'")),
            },
            ("format" | "pset", None) => Ok(Command::Format(None)),
            ("format" | "pset", Some(f)) => f.parse().map(|f| Command::Format(Some(f))),
            ("maxrows", None) => Ok(Command::MaxRows(None)),
            ("maxrows", Some(n)) => n
                .parse()
                .map(|n| Command::MaxRows(Some(n)))
                .map_err(|_| format!("\\maxrows: expected a number, got '{n}'")),
            ("conn" | "conninfo", None) => Ok(Command::Conn),
            _ => Err(format!("unknown command '\\{body}' (\\? lists commands)")),
        }
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
    }
}
