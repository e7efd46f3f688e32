//! rustyline helper: multi-line input until `;` and completion of SQL keywords, table names and
//! column names (refreshed after every statement, so new external tables complete too).

use std::borrow::Cow;
use std::sync::{Arc, RwLock};

use rustyline::completion::{Completer, Pair};
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

/// Names the completer offers besides keywords; shared with the REPL, which refreshes it.
pub type Names = Arc<RwLock<Vec<String>>>;

pub struct ShellHelper {
    names: Names,
}

impl ShellHelper {
    pub fn new(names: Names) -> Self {
        ShellHelper { names }
    }

    fn candidates(&self, prefix: &str) -> Vec<String> {
        let lower = prefix.to_ascii_lowercase();
        let keyword_lowercase = prefix.chars().all(|c| !c.is_ascii_uppercase());
        let mut out: Vec<String> = Vec::new();
        if let Ok(names) = self.names.read() {
            for n in names.iter() {
                if n.to_ascii_lowercase().starts_with(&lower) && !out.contains(n) {
                    out.push(n.clone());
                }
            }
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
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        if !line.is_char_boundary(pos) {
            return Ok((pos, Vec::new()));
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
        let pairs = self
            .candidates(prefix)
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
        ShellHelper::new(Arc::new(RwLock::new(vec![
            "messages".into(),
            "message_replies".into(),
            "members".into(),
            "last_modified_date_time".into(),
        ])))
    }

    #[test]
    fn completes_tables_columns_and_keywords() {
        let h = helper();
        assert_eq!(h.candidates("mess"), vec!["message_replies", "messages"]);
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
