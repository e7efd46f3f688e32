//! `\h` and `\h NAME`: SQL function help from the documentation DataFusion ships with each
//! function (the text of its online SQL reference), so it always matches the engine linked in.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::execution::SessionState;
use datafusion::logical_expr::Documentation;

use crate::error::{Result, ShellError};

struct Function<'a> {
    kind: &'static str,
    /// The function's own name (a key may be an alias).
    name: &'a str,
    doc: Option<&'a Documentation>,
}

/// Every function by the name it is called with, aliases included.
fn all(state: &SessionState) -> BTreeMap<String, Function<'_>> {
    let scalar = state
        .scalar_functions()
        .iter()
        .map(|(k, f)| (k, "scalar", f.name(), f.documentation()));
    let higher_order = state
        .higher_order_functions()
        .iter()
        .map(|(k, f)| (k, "scalar", f.name(), f.documentation()));
    let aggregate = state
        .aggregate_functions()
        .iter()
        .map(|(k, f)| (k, "aggregate", f.name(), f.documentation()));
    let window = state
        .window_functions()
        .iter()
        .map(|(k, f)| (k, "window", f.name(), f.documentation()));
    let table = state
        .table_functions()
        .keys()
        .map(|k| (k, "table", k.as_str(), None));
    scalar
        .chain(higher_order)
        .chain(aggregate)
        .chain(window)
        .chain(table)
        .map(|(key, kind, name, doc)| (key.to_ascii_lowercase(), Function { kind, name, doc }))
        .collect()
}

fn first_sentence(text: &str) -> String {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    match line.find(". ") {
        Some(i) => line[..=i].to_string(),
        None => line.trim().to_string(),
    }
}

/// `\h`: one row per name (aliases say what they stand for).
pub fn list(state: &SessionState) -> Result<RecordBatch> {
    let functions = all(state);
    let mut names = Vec::with_capacity(functions.len());
    let mut kinds = Vec::with_capacity(functions.len());
    let mut descriptions = Vec::with_capacity(functions.len());
    for (key, f) in &functions {
        names.push(key.clone());
        kinds.push(f.kind);
        descriptions.push(if !f.name.eq_ignore_ascii_case(key) {
            Some(format!("alias of {}", f.name))
        } else {
            f.doc.map(|d| first_sentence(&d.description))
        });
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("function", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("description", DataType::Utf8, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(names)),
        Arc::new(StringArray::from(kinds)),
        Arc::new(StringArray::from(descriptions)),
    ];
    RecordBatch::try_new(schema, columns).map_err(|e| ShellError::DataFusion(e.into()))
}

/// `\h NAME`: description, syntax, arguments and example of one function.
pub fn help(state: &SessionState, name: &str) -> Result<String> {
    let functions = all(state);
    let key = name.to_ascii_lowercase();
    let Some(f) = functions.get(&key) else {
        let similar: Vec<&str> = functions
            .keys()
            .filter(|k| k.contains(&key) || (k.len() > 2 && key.contains(k.as_str())))
            .map(String::as_str)
            .take(8)
            .collect();
        let hint = if similar.is_empty() {
            "\\h lists every function".to_string()
        } else {
            format!(
                "did you mean {}? \\h lists every function",
                similar.join(", ")
            )
        };
        return Err(ShellError::Usage(format!(
            "unknown function '{name}' ({hint})"
        )));
    };
    let mut out = String::new();
    let alias = if f.name.eq_ignore_ascii_case(&key) {
        String::new()
    } else {
        format!(", alias of {}", f.name)
    };
    let _ = writeln!(out, "{key} ({} function{alias})", f.kind);
    let Some(doc) = f.doc else {
        let _ = writeln!(out, "\nNo documentation ships with this function.");
        return Ok(out);
    };
    let _ = writeln!(out, "\n{}", doc.description.trim());
    let _ = writeln!(out, "\nSyntax:\n  {}", doc.syntax_example.trim());
    if let Some(args) = &doc.arguments {
        let _ = writeln!(out, "\nArguments:");
        for (arg, text) in args {
            // The docs are markdown with their own indentation: re-indent under the argument.
            let lines: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            let _ = writeln!(out, "  {arg}: {}", lines.join("\n    "));
        }
    }
    if let Some(alternatives) = &doc.alternative_syntax {
        let _ = writeln!(out, "\nAlternative syntax:");
        for a in alternatives {
            let _ = writeln!(out, "  {}", a.trim());
        }
    }
    if let Some(example) = &doc.sql_example {
        let example = example
            .trim()
            .trim_start_matches("```sql")
            .trim_end_matches("```")
            .trim();
        let _ = writeln!(out, "\nExample:\n{example}");
    }
    if let Some(related) = &doc.related_udfs {
        let _ = writeln!(out, "\nRelated: {}", related.join(", "));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    #[test]
    fn documents_scalar_aggregate_and_window_functions() {
        let state = SessionContext::new().state();
        let text = help(&state, "DATE_TRUNC").unwrap();
        assert!(text.starts_with("date_trunc (scalar function)"), "{text}");
        assert!(text.contains("Syntax:"), "{text}");
        assert!(text.contains("precision"), "{text}");
        assert!(
            help(&state, "count")
                .unwrap()
                .contains("aggregate function")
        );
        assert!(
            help(&state, "row_number")
                .unwrap()
                .contains("window function")
        );
        let err = help(&state, "date_trun").unwrap_err().to_string();
        assert!(err.contains("unknown function 'date_trun'"), "{err}");
        let batch = list(&state).unwrap();
        assert!(batch.num_rows() > 100, "{}", batch.num_rows());
    }
}
