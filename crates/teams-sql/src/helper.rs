//! rustyline helper: multi-line input until `;` and completion of SQL keywords, table names and
//! column names (refreshed after every statement, so new external tables complete too). Where
//! only a table can follow (`FROM`, `JOIN`, `\d`), tables are offered first, so `FROM cha<Tab>`
//! completes `channels` rather than stopping at the shared prefix with `channel_id`; after `\i`
//! file names are completed.

use std::borrow::Cow;
use std::sync::{Arc, RwLock};

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

use crate::script;

const KEYWORDS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP",
    "BY",
    "ORDER",
    "LIMIT",
    "OFFSET",
    "HAVING",
    "JOIN",
    "LEFT",
    "RIGHT",
    "INNER",
    "OUTER",
    "FULL",
    "CROSS",
    "ON",
    "USING",
    "AS",
    "AND",
    "OR",
    "NOT",
    "IN",
    "IS",
    "NULL",
    "LIKE",
    "ILIKE",
    "BETWEEN",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "DISTINCT",
    "COUNT",
    "SUM",
    "AVG",
    "MIN",
    "MAX",
    "WITH",
    "UNION",
    "ALL",
    "EXCEPT",
    "INTERSECT",
    "ASC",
    "DESC",
    "NULLS",
    "FIRST",
    "LAST",
    "EXPLAIN",
    "ANALYZE",
    "VERBOSE",
    "COPY",
    "TO",
    "STORED",
    "PARQUET",
    "CSV",
    "JSON",
    "DELTA",
    "OPTIONS",
    "PARTITIONED",
    "CREATE",
    "EXTERNAL",
    "TABLE",
    "VIEW",
    "DROP",
    "SHOW",
    "TABLES",
    "COLUMNS",
    "DESCRIBE",
    "SET",
    "LOCATION",
    "INTERVAL",
    "NOW",
    "CAST",
    "TRUE",
    "FALSE",
    "UNNEST",
    "ARRAY_LENGTH",
    "DATE_TRUNC",
    "TO_TIMESTAMP",
    "COALESCE",
    "OVER",
    "PARTITION",
    "ROW_NUMBER",
    "RANK",
];

/// Table and column names the completer offers besides keywords.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Completions {
    /// Bare names of the default schema's tables and `schema.table` for all.
    pub tables: Vec<String>,
    pub columns: Vec<String>,
}

/// Shared with the REPL, which refreshes it after every statement.
pub type Names = Arc<RwLock<Completions>>;

/// Words after which only a table name can come.
const TABLE_CONTEXT: &[&str] = &["from", "join", "into", "table", "update", "describe", "\\d"];

pub struct ShellHelper {
    names: Names,
    files: FilenameCompleter,
}

fn matching(names: &[String], lower: &str, out: &mut Vec<String>) {
    for n in names {
        if n.to_ascii_lowercase().starts_with(lower) && !out.contains(n) {
            out.push(n.clone());
        }
    }
}

/// True when the word before `start` (ignoring `,` of a `FROM a, b` list) only admits a table.
fn wants_table(line: &str, start: usize) -> bool {
    let before = line[..start].trim_end();
    let before = before.strip_suffix(',').map_or(before, str::trim_end);
    let previous = before
        .rsplit(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    if TABLE_CONTEXT.contains(&previous.as_str()) {
        return true;
    }
    // `FROM a, b<Tab>`: the comma continues the table list when the clause is still FROM.
    if line[..start].trim_end().ends_with(',') {
        let lower = before.to_ascii_lowercase();
        let last_clause = [
            "select", "from", "where", "group", "order", "on", "join", "having",
        ]
        .iter()
        .filter_map(|k| {
            lower
                .match_indices(k)
                .filter(|(i, _)| {
                    let prev = lower[..*i].chars().next_back();
                    let next = lower[i + k.len()..].chars().next();
                    prev.is_none_or(|c| !c.is_alphanumeric() && c != '_')
                        && next.is_none_or(|c| !c.is_alphanumeric() && c != '_')
                })
                .map(|(i, _)| (i, *k))
                .last()
        })
        .max();
        return matches!(last_clause, Some((_, "from")));
    }
    false
}

impl ShellHelper {
    pub fn new(names: Names) -> Self {
        ShellHelper {
            names,
            files: FilenameCompleter::new(),
        }
    }

    fn table_candidates(&self, prefix: &str) -> Vec<String> {
        let lower = prefix.to_ascii_lowercase();
        let mut out = Vec::new();
        if let Ok(names) = self.names.read() {
            matching(&names.tables, &lower, &mut out);
        }
        out.sort();
        out
    }

    fn candidates(&self, prefix: &str) -> Vec<String> {
        let lower = prefix.to_ascii_lowercase();
        let keyword_lowercase = prefix.chars().all(|c| !c.is_ascii_uppercase());
        let mut out: Vec<String> = Vec::new();
        if let Ok(names) = self.names.read() {
            matching(&names.columns, &lower, &mut out);
            matching(&names.tables, &lower, &mut out);
        }
        for k in KEYWORDS {
            if k.to_ascii_lowercase().starts_with(&lower) {
                let k = if keyword_lowercase {
                    k.to_ascii_lowercase()
                } else {
                    k.to_string()
                };
                if !out.contains(&k) {
                    out.push(k);
                }
            }
        }
        out.sort();
        out
    }
}

/// Start of the identifier-ish word that ends at `pos`.
fn word_start(line: &str, pos: usize) -> usize {
    let before = &line[..pos];
    before
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '.'))
        .map(|(i, c)| i + c.len_utf8())
        .unwrap_or(0)
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        if !line.is_char_boundary(pos) {
            return Ok((pos, Vec::new()));
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with("\\i ") || trimmed.starts_with("\\include ") {
            return self.files.complete(line, pos, ctx);
        }
        let mut start = word_start(line, pos);
        let mut prefix = &line[start..pos];
        // `alias.col` and `schema.table`: complete the part after the dot, unless a full
        // dotted name (like `teams.messages`) matches.
        if let Some(dot) = prefix.rfind('.')
            && self.candidates(prefix).is_empty()
        {
            start += dot + 1;
            prefix = &prefix[dot + 1..];
        }
        if prefix.is_empty() {
            return Ok((pos, Vec::new()));
        }
        let mut found = Vec::new();
        if wants_table(line, start) {
            found = self.table_candidates(prefix);
        }
        if found.is_empty() {
            found = self.candidates(prefix);
        }
        let pairs = found
            .into_iter()
            .map(|c| Pair {
                display: c.clone(),
                replacement: c,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Validator for ShellHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        if script::is_complete(ctx.input()) {
            Ok(ValidationResult::Valid(None))
        } else {
            Ok(ValidationResult::Incomplete)
        }
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}

impl Highlighter for ShellHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        Cow::Borrowed(line)
    }
}

impl Helper for ShellHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn helper() -> ShellHelper {
        ShellHelper::new(Arc::new(RwLock::new(Completions {
            tables: vec![
                "messages".into(),
                "message_replies".into(),
                "members".into(),
                "channels".into(),
                "teams.channels".into(),
            ],
            columns: vec![
                "last_modified_date_time".into(),
                "channel_id".into(),
                "membership_type".into(),
            ],
        })))
    }

    fn complete(h: &ShellHelper, line: &str) -> Vec<String> {
        let history = rustyline::history::DefaultHistory::new();
        let ctx = Context::new(&history);
        let (_, pairs) = h.complete(line, line.len(), &ctx).unwrap();
        pairs.into_iter().map(|p| p.replacement).collect()
    }

    #[test]
    fn tables_come_first_where_only_a_table_fits() {
        let h = helper();
        assert_eq!(complete(&h, "SELECT * FROM cha"), vec!["channels"]);
        assert_eq!(
            complete(&h, "select * from teams t join cha"),
            vec!["channels"]
        );
        assert_eq!(
            complete(&h, "SELECT * FROM messages, cha"),
            vec!["channels"]
        );
        assert_eq!(complete(&h, "\\d mem"), vec!["members"]);
        // Elsewhere columns, tables and keywords all fit.
        assert_eq!(complete(&h, "SELECT cha"), vec!["channel_id", "channels"]);
        assert_eq!(
            complete(&h, "SELECT a, cha"),
            vec!["channel_id", "channels"]
        );
        assert_eq!(
            complete(&h, "SELECT * FROM t WHERE a = 1 AND mem"),
            vec!["members", "membership_type"]
        );
        // No table matches: fall back to everything rather than offer nothing.
        assert_eq!(
            complete(&h, "SELECT * FROM last"),
            vec!["last", "last_modified_date_time"]
        );
    }

    #[test]
    fn completes_tables_columns_and_keywords() {
        let h = helper();
        assert_eq!(h.candidates("mess"), vec!["message_replies", "messages"]);
        assert_eq!(h.candidates("teams.ch"), vec!["teams.channels"]);
        assert_eq!(h.candidates("last_m"), vec!["last_modified_date_time"]);
        assert_eq!(h.candidates("SEL"), vec!["SELECT"]);
        assert_eq!(h.candidates("sel"), vec!["select"]);
    }

    #[test]
    fn completes_after_a_qualifier() {
        let h = helper();
        let history = rustyline::history::DefaultHistory::new();
        let ctx = Context::new(&history);
        let line = "SELECT m.last_mo";
        let (start, pairs) = h.complete(line, line.len(), &ctx).unwrap();
        assert_eq!(start, "SELECT m.".len());
        assert_eq!(pairs[0].replacement, "last_modified_date_time");
    }

    #[test]
    fn word_boundaries() {
        assert_eq!(word_start("SELECT * FROM mes", 17), 14);
        assert_eq!(word_start("mes", 3), 0);
        assert_eq!(word_start("x(teams.mes", 11), 2);
    }
}
