//! Result printing to any `io::Write`, so that tests can capture exactly what users see.
//!
//! Terminal tables buffer one result (they need every width first); CSV, JSON and NDJSON are
//! written batch by batch, so a large export through a pipe keeps memory bounded.

use std::fmt;
use std::io::{IsTerminal, Write};
use std::str::FromStr;
use std::sync::Arc;

use comfy_table::{Cell, ContentArrangement, Table, presets};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::arrow::{csv, json};

/// Output format, as `--format` and `\format` accept it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PrintFormat {
    /// `table` on a terminal, `csv` otherwise
    Automatic,
    Table,
    Csv,
    /// Tab-separated values (CSV quoting rules with a tab delimiter, as datafusion-cli)
    Tsv,
    Json,
    Ndjson,
}

impl PrintFormat {
    /// Picks the concrete format for a destination; only `Automatic` depends on it.
    pub fn resolve(self, stdout_is_terminal: bool) -> PrintFormat {
        match self {
            PrintFormat::Automatic if stdout_is_terminal => PrintFormat::Table,
            PrintFormat::Automatic => PrintFormat::Csv,
            other => other,
        }
    }

    fn delimiter(self) -> u8 {
        if self == PrintFormat::Tsv {
            b'\t'
        } else {
            b','
        }
    }
}

impl FromStr for PrintFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "automatic" | "auto" => Ok(PrintFormat::Automatic),
            "table" => Ok(PrintFormat::Table),
            "csv" => Ok(PrintFormat::Csv),
            "tsv" => Ok(PrintFormat::Tsv),
            "json" => Ok(PrintFormat::Json),
            "ndjson" => Ok(PrintFormat::Ndjson),
            other => Err(format!(
                "unknown format '{other}': expected table, csv, tsv, json, ndjson or automatic"
            )),
        }
    }
}

impl fmt::Display for PrintFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PrintFormat::Automatic => "automatic",
            PrintFormat::Table => "table",
            PrintFormat::Csv => "csv",
            PrintFormat::Tsv => "tsv",
            PrintFormat::Json => "json",
            PrintFormat::Ndjson => "ndjson",
        })
    }
}

/// Rows a terminal table shows by default.
pub const DEFAULT_MAX_ROWS: usize = 1000;

/// How results and their summaries are shown: set from the flags, changed by `\format`,
/// `\quiet`, `\timing` and `\maxrows`.
#[derive(Debug, Clone)]
pub struct PrintOptions {
    pub format: PrintFormat,
    /// No row counts, timings or Graph request summaries on stderr.
    pub quiet: bool,
    pub timing: bool,
    /// Row limit of terminal tables (0 = no limit).
    pub max_rows: usize,
    pub stdout_tty: bool,
    pub stderr_tty: bool,
}

impl PrintOptions {
    pub fn new(format: PrintFormat) -> Self {
        PrintOptions {
            format,
            quiet: false,
            timing: true,
            max_rows: DEFAULT_MAX_ROWS,
            stdout_tty: std::io::stdout().is_terminal(),
            stderr_tty: std::io::stderr().is_terminal(),
        }
    }

    /// The concrete format of stdout.
    pub fn output_format(&self) -> PrintFormat {
        self.format.resolve(self.stdout_tty)
    }

    /// Prints a whole, small result (a command's answer, a COPY report), never cut.
    pub fn print_batches(
        &self,
        schema: SchemaRef,
        batches: &[RecordBatch],
        out: &mut dyn Write,
    ) -> Result<(), ArrowError> {
        let mut p = ResultPrinter::new(self.output_format(), schema, out);
        for b in batches {
            p.write_batch(b)?;
        }
        p.finish().map(|_| ())
    }
}

/// Longest text cell shown in a terminal table; message bodies can be many KB of HTML and
/// would make every row unreadable. Values without spaces (ids, URLs) and CSV/JSON output are
/// never cut.
const MAX_CELL_CHARS: usize = 80;

fn table_format_options() -> FormatOptions<'static> {
    FormatOptions::default().with_null("NULL")
}

/// Writes one query result; call `write_batch` for each batch and `finish` once.
pub struct ResultPrinter<'a> {
    format: PrintFormat,
    schema: SchemaRef,
    out: &'a mut dyn Write,
    buffered: Vec<RecordBatch>,
    buffered_rows: usize,
    /// Terminal tables keep at most this many rows (0 = all): a table must be held in memory
    /// until its widths are known, and nobody reads a million-row table on a screen.
    max_table_rows: usize,
    json: Option<json::ArrayWriter<Vec<u8>>>,
    csv_header_written: bool,
    rows: usize,
}

impl<'a> ResultPrinter<'a> {
    /// `format` must be resolved (not `Automatic`); `Automatic` is treated as `table`.
    pub fn new(format: PrintFormat, schema: SchemaRef, out: &'a mut dyn Write) -> Self {
        Self {
            format,
            schema,
            out,
            buffered: Vec::new(),
            buffered_rows: 0,
            max_table_rows: 0,
            json: None,
            csv_header_written: false,
            rows: 0,
        }
    }

    pub fn with_max_table_rows(mut self, max: usize) -> Self {
        self.max_table_rows = max;
        self
    }

    /// Rows counted but not shown because of the table row limit.
    pub fn hidden_rows(&self) -> usize {
        match self.format {
            PrintFormat::Automatic | PrintFormat::Table => {
                self.rows - self.buffered_rows.min(self.rows)
            }
            // Streamed formats write every row.
            PrintFormat::Csv | PrintFormat::Tsv | PrintFormat::Json | PrintFormat::Ndjson => 0,
        }
    }

    pub fn write_batch(&mut self, batch: &RecordBatch) -> Result<(), ArrowError> {
        self.rows += batch.num_rows();
        match self.format {
            PrintFormat::Automatic | PrintFormat::Table => {
                let room = if self.max_table_rows == 0 {
                    batch.num_rows()
                } else {
                    self.max_table_rows.saturating_sub(self.buffered_rows)
                };
                let take = room.min(batch.num_rows());
                if take > 0 {
                    self.buffered.push(batch.slice(0, take));
                    self.buffered_rows += take;
                }
            }
            PrintFormat::Csv | PrintFormat::Tsv => {
                let flat = nested_columns_as_json(batch)?;
                let mut writer = csv::WriterBuilder::new()
                    .with_header(!self.csv_header_written)
                    .with_delimiter(self.format.delimiter())
                    .build(&mut *self.out);
                writer.write(&flat)?;
                self.csv_header_written = true;
            }
            PrintFormat::Json => {
                // The JSON array writer keeps state between batches ("[" once, "," between
                // rows); it writes into a buffer that is flushed to `out` after each batch.
                let writer = self.json.get_or_insert_with(|| {
                    json::WriterBuilder::new()
                        .with_explicit_nulls(true)
                        .build::<_, json::writer::JsonArray>(Vec::new())
                });
                writer.write(batch)?;
                let buf = std::mem::take(writer.get_mut());
                self.out.write_all(&buf)?;
            }
            PrintFormat::Ndjson => {
                let mut writer = json::WriterBuilder::new()
                    .with_explicit_nulls(true)
                    .build::<_, json::writer::LineDelimited>(&mut *self.out);
                writer.write(batch)?;
                writer.finish()?;
            }
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<usize, ArrowError> {
        match self.format {
            PrintFormat::Automatic | PrintFormat::Table => {
                let table = render_table(&self.schema, &self.buffered)?;
                writeln!(self.out, "{table}")?;
            }
            PrintFormat::Csv | PrintFormat::Tsv => {
                if !self.csv_header_written {
                    // An empty result still tells a pipe which columns it would have had.
                    let empty = RecordBatch::new_empty(Arc::clone(&self.schema));
                    let flat = nested_columns_as_json(&empty)?;
                    csv::WriterBuilder::new()
                        .with_header(true)
                        .with_delimiter(self.format.delimiter())
                        .build(&mut *self.out)
                        .write(&flat)?;
                }
            }
            PrintFormat::Json => {
                let mut writer = self.json.take().unwrap_or_else(|| {
                    json::WriterBuilder::new().build::<_, json::writer::JsonArray>(Vec::new())
                });
                writer.finish()?;
                self.out.write_all(writer.get_ref())?;
                writeln!(self.out)?;
            }
            PrintFormat::Ndjson => {}
        }
        self.out.flush()?;
        Ok(self.rows)
    }
}

/// Renders batches as an aligned table; nested values appear as `{field: value}` and
/// `[a, b]`, long values are cut with an ellipsis.
pub fn render_table(schema: &Schema, batches: &[RecordBatch]) -> Result<String, ArrowError> {
    let mut table = Table::new();
    table
        .load_preset(presets::ASCII_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    table.set_header(
        schema
            .fields()
            .iter()
            .map(|f| Cell::new(terminal_text(f.name(), Layout::OneLine))),
    );
    // An EXPLAIN plan is read line by line: cutting or flattening it would hide the very
    // scan details (pushed filters, request plan, metrics) people run EXPLAIN for.
    let whole_cells = is_explain(schema);
    let options = table_format_options();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            let mut cells = Vec::with_capacity(formatters.len());
            for (f, col) in formatters.iter().zip(batch.columns()) {
                let text = if is_nested(col.data_type()) {
                    nested_text(col, row, &options)?
                } else {
                    f.value(row).to_string()
                };
                cells.push(Cell::new(if whole_cells {
                    terminal_text(&text, Layout::KeepNewlines)
                } else {
                    truncate_cell(&text)
                }));
            }
            table.add_row(cells);
        }
    }
    Ok(table.to_string())
}

/// Nested values for people: struct fields that are NULL are left out, so a Graph identity
/// set reads `{user: {id: .., display_name: Megan}}` rather than a wall of NULLs.
fn nested_text(
    col: &ArrayRef,
    row: usize,
    options: &FormatOptions<'_>,
) -> Result<String, ArrowError> {
    if col.is_null(row) {
        return Ok("NULL".to_string());
    }
    match col.data_type() {
        DataType::Struct(_) => {
            let s = col.as_struct();
            let mut parts = Vec::new();
            for (field, child) in s.fields().iter().zip(s.columns()) {
                if !child.is_null(row) {
                    parts.push(format!(
                        "{}: {}",
                        field.name(),
                        nested_text(child, row, options)?
                    ));
                }
            }
            Ok(format!("{{{}}}", parts.join(", ")))
        }
        DataType::List(_) => list_text(&col.as_list::<i32>().value(row), options),
        DataType::LargeList(_) => list_text(&col.as_list::<i64>().value(row), options),
        _ => Ok(ArrayFormatter::try_new(col.as_ref(), options)?
            .value(row)
            .to_string()),
    }
}

fn list_text(values: &ArrayRef, options: &FormatOptions<'_>) -> Result<String, ArrowError> {
    let items = (0..values.len())
        .map(|i| nested_text(values, i, options))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(format!("[{}]", items.join(", ")))
}

/// DataFusion's EXPLAIN and EXPLAIN ANALYZE results have exactly these two columns.
fn is_explain(schema: &Schema) -> bool {
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    names == ["plan_type", "plan"]
}

fn truncate_cell(s: &str) -> String {
    let visible = terminal_text(s, Layout::OneLine);
    // Identifiers and URLs (no whitespace) stay whole: people copy them into the next query.
    if !s.chars().any(char::is_whitespace) || visible.chars().count() <= MAX_CELL_CHARS {
        return visible;
    }
    // Cut between characters of the original text, so that an escape such as `\x1b` is
    // never shown half.
    let mut cut = String::new();
    let mut shown = 0;
    for c in s.chars() {
        let mut one = String::new();
        push_visible(&mut one, c, Layout::OneLine);
        let n = one.chars().count();
        if shown + n > MAX_CELL_CHARS - 1 {
            break;
        }
        shown += n;
        cut.push_str(&one);
    }
    cut.push('…');
    cut
}

/// How line breaks of a value are laid out in a terminal table.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Newlines, carriage returns and tabs become spaces: one table row per result row.
    OneLine,
    /// Newlines stay (EXPLAIN plans and messages are read line by line); tabs and carriage
    /// returns become spaces.
    KeepNewlines,
}

/// Text as it may be written to a terminal: values come from any Teams user, and an ESC, OSC
/// or BEL sequence in a team name or message would otherwise drive the operator's terminal
/// (set its title, plant hyperlinks, clear the screen, answer back). Control characters are
/// shown escaped instead: C0 and DEL as `\x1b`, C1 and the bidirectional overrides (which
/// reorder what is shown around them) as `\u{9b}`. Backslashes are left as they are, so a
/// value can spell what looks like an escape; csv/tsv/json/ndjson keep every value exact.
pub fn terminal_text(s: &str, layout: Layout) -> String {
    if !s.chars().any(needs_escape) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push_visible(&mut out, c, layout);
    }
    out
}

fn needs_escape(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// Unicode's explicit directional formatting characters (the "Trojan Source" set).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
}

fn push_visible(out: &mut String, c: char, layout: Layout) {
    use std::fmt::Write as _;
    match c {
        '\n' if layout == Layout::KeepNewlines => out.push('\n'),
        '\n' | '\r' | '\t' => out.push(' '),
        c if (c as u32) < 0x80 && c.is_control() => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if needs_escape(c) => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

fn is_nested(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Struct(_)
            | DataType::List(_)
            | DataType::LargeList(_)
            | DataType::FixedSizeList(_, _)
            | DataType::ListView(_)
            | DataType::LargeListView(_)
            | DataType::Map(_, _)
            | DataType::Union(_, _)
    )
}

/// CSV has no nested values: struct and list columns are written as JSON text instead,
/// which spreadsheet users and `jq` alike can still take apart.
pub fn nested_columns_as_json(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let schema = batch.schema();
    if !schema.fields().iter().any(|f| is_nested(f.data_type())) {
        return Ok(batch.clone());
    }
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if is_nested(field.data_type()) {
            fields.push(Field::new(field.name(), DataType::Utf8, true));
            columns.push(Arc::new(column_as_json(field, column)?));
        } else {
            fields.push(field.as_ref().clone());
            columns.push(Arc::clone(column));
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

fn column_as_json(field: &Field, column: &ArrayRef) -> Result<StringArray, ArrowError> {
    let one = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new(
            "v",
            field.data_type().clone(),
            true,
        )])),
        vec![Arc::clone(column)],
    )?;
    let mut writer = json::LineDelimitedWriter::new(Vec::new());
    writer.write(&one)?;
    writer.finish()?;
    let text = writer.into_inner();
    let text = String::from_utf8(text).map_err(|e| ArrowError::ExternalError(Box::new(e)))?;
    let mut values = Vec::with_capacity(column.len());
    for line in text.lines() {
        let row: serde_json::Value =
            serde_json::from_str(line).map_err(|e| ArrowError::ExternalError(Box::new(e)))?;
        values.push(row.get("v").map(|v| v.to_string()));
    }
    if values.len() != column.len() {
        return Err(ArrowError::ComputeError(format!(
            "JSON encoding of column {} gave {} rows for {}",
            field.name(),
            values.len(),
            column.len()
        )));
    }
    Ok(StringArray::from(values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, ListBuilder, StringBuilder};

    fn sample() -> RecordBatch {
        let mut roles = ListBuilder::new(StringBuilder::new());
        roles.values().append_value("owner");
        roles.append(true);
        roles.append(false);
        let schema = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, true),
            Field::new("n", DataType::Int64, true),
            Field::new(
                "roles",
                DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
                true,
            ),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec![Some("a,b"), None])),
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(roles.finish()),
            ],
        )
        .unwrap()
    }

    fn print(format: PrintFormat, batch: &RecordBatch) -> String {
        let mut out = Vec::new();
        let mut p = ResultPrinter::new(format, batch.schema(), &mut out);
        p.write_batch(batch).unwrap();
        assert_eq!(p.finish().unwrap(), batch.num_rows());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_quotes_and_writes_lists_as_json() {
        let text = print(PrintFormat::Csv, &sample());
        assert_eq!(text, "name,n,roles\n\"a,b\",1,\"[\"\"owner\"\"]\"\n,2,\n");
    }

    #[test]
    fn json_is_one_array_with_explicit_nulls() {
        let text = print(PrintFormat::Json, &sample());
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v,
            serde_json::json!([
                {"name": "a,b", "n": 1, "roles": ["owner"]},
                {"name": null, "n": 2, "roles": null}
            ])
        );
    }

    #[test]
    fn json_of_two_batches_is_one_array() {
        let b = sample();
        let mut out = Vec::new();
        let mut p = ResultPrinter::new(PrintFormat::Json, b.schema(), &mut out);
        p.write_batch(&b).unwrap();
        p.write_batch(&b).unwrap();
        p.finish().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v.as_array().map(|a| a.len()), Some(4));
    }

    #[test]
    fn ndjson_is_one_object_per_line() {
        let text = print(PrintFormat::Ndjson, &sample());
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], r#"{"name":"a,b","n":1,"roles":["owner"]}"#);
    }

    #[test]
    fn table_shows_nulls_and_lists_readably() {
        let text = print(PrintFormat::Table, &sample());
        assert!(text.contains("| name | n | roles   |"), "{text}");
        assert!(text.contains("[owner]"), "{text}");
        assert!(text.contains("NULL"), "{text}");
    }

    #[test]
    fn empty_results_keep_their_shape() {
        let empty = RecordBatch::new_empty(sample().schema());
        assert_eq!(print(PrintFormat::Csv, &empty), "name,n,roles\n");
        assert_eq!(print(PrintFormat::Json, &empty).trim(), "[]");
        assert_eq!(print(PrintFormat::Ndjson, &empty), "");
    }

    #[test]
    fn table_leaves_null_struct_fields_out() {
        use datafusion::arrow::array::StructArray;
        let user = StructArray::from(vec![
            (
                Arc::new(Field::new("id", DataType::Utf8, true)),
                Arc::new(StringArray::from(vec![Some("u1")])) as ArrayRef,
            ),
            (
                Arc::new(Field::new("display_name", DataType::Utf8, true)),
                Arc::new(StringArray::from(vec![None::<&str>])) as ArrayRef,
            ),
        ]);
        let batch = RecordBatch::try_from_iter(vec![("from", Arc::new(user) as ArrayRef)]).unwrap();
        let text = print(PrintFormat::Table, &batch);
        assert!(text.contains("{id: u1}"), "{text}");
    }

    #[test]
    fn tables_keep_only_the_row_limit_but_count_everything() {
        let b = sample();
        let mut out = Vec::new();
        let mut p =
            ResultPrinter::new(PrintFormat::Table, b.schema(), &mut out).with_max_table_rows(3);
        p.write_batch(&b).unwrap();
        p.write_batch(&b).unwrap();
        assert_eq!(p.hidden_rows(), 1);
        assert_eq!(p.finish().unwrap(), 4);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("a,b").count(), 2, "{text}");
    }

    #[test]
    fn streamed_formats_hide_nothing_whatever_the_row_limit() {
        let b = sample();
        for format in [PrintFormat::Csv, PrintFormat::Json, PrintFormat::Ndjson] {
            let mut out = Vec::new();
            let mut p = ResultPrinter::new(format, b.schema(), &mut out).with_max_table_rows(1);
            p.write_batch(&b).unwrap();
            p.write_batch(&b).unwrap();
            assert_eq!(p.hidden_rows(), 0, "{format}");
            assert_eq!(p.finish().unwrap(), 2 * b.num_rows(), "{format}");
        }
    }

    #[test]
    fn explain_plans_keep_every_line_whole() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("plan_type", DataType::Utf8, false),
            Field::new("plan", DataType::Utf8, false),
        ]));
        let plan = format!(
            "GlobalLimitExec: fetch=10\n  TeamsScanExec: {}",
            "x ".repeat(60)
        );
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(StringArray::from(vec!["physical_plan"])),
                Arc::new(StringArray::from(vec![plan.clone()])),
            ],
        )
        .unwrap();
        let text = render_table(&schema, &[batch]).unwrap();
        assert!(text.contains("GlobalLimitExec: fetch=10"), "{text}");
        assert!(
            text.contains(plan.lines().nth(1).unwrap().trim_end()),
            "{text}"
        );
        assert!(!text.contains('…'), "{text}");
    }

    #[test]
    fn long_cells_are_cut_in_tables_only() {
        let long = "x ".repeat(100);
        assert_eq!(truncate_cell(&long).chars().count(), MAX_CELL_CHARS);
        let id = "M".repeat(120);
        assert_eq!(truncate_cell(&id), id);
        assert_eq!(truncate_cell("a\nb"), "a b");
    }

    #[test]
    fn control_characters_are_shown_escaped_in_tables() {
        let hostile = "Sales\u{1b}]0;owned\u{7}\u{1b}[2J\u{9b}31m\u{202e}gnp.exe\u{7f}";
        assert_eq!(
            terminal_text(hostile, Layout::OneLine),
            "Sales\\x1b]0;owned\\x07\\x1b[2J\\u{9b}31m\\u{202e}gnp.exe\\x7f"
        );
        assert_eq!(terminal_text("a\tb\r\nc", Layout::OneLine), "a b  c");
        assert_eq!(terminal_text("a\tb\nc", Layout::KeepNewlines), "a b\nc");
        assert_eq!(
            terminal_text("plain ü 😀 \\x1b", Layout::OneLine),
            "plain ü 😀 \\x1b"
        );

        let schema = Arc::new(Schema::new(vec![Field::new(
            "n\u{7}",
            DataType::Utf8,
            true,
        )]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(StringArray::from(vec![
                hostile,
                &"\u{1b}[31m red ".repeat(20),
            ]))],
        )
        .unwrap();
        let text = render_table(&schema, &[batch]).unwrap();
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
        assert!(text.contains("n\\x07"), "{text}");
        assert!(text.contains("Sales\\x1b]0;owned\\x07"), "{text}");
        // Cut long cells between escapes, never inside one.
        assert!(text.contains("\\x1b[31m red …"), "{text}");
    }

    #[test]
    fn streamed_formats_keep_control_characters_exact() {
        let value = "a\u{1b}]0;t\u{7}\tb";
        let batch = RecordBatch::try_from_iter(vec![(
            "v",
            Arc::new(StringArray::from(vec![value])) as ArrayRef,
        )])
        .unwrap();
        assert_eq!(print(PrintFormat::Csv, &batch), format!("v\n{value}\n"));
        assert_eq!(print(PrintFormat::Tsv, &batch), format!("v\n\"{value}\"\n"));
        let json: serde_json::Value =
            serde_json::from_str(&print(PrintFormat::Json, &batch)).unwrap();
        assert_eq!(json[0]["v"], value);
        let json_text = print(PrintFormat::Ndjson, &batch);
        assert!(!json_text.contains('\u{1b}'), "{json_text:?}");
        let row: serde_json::Value = serde_json::from_str(json_text.trim()).unwrap();
        assert_eq!(row["v"], value);
    }

    #[test]
    fn tsv_separates_with_tabs() {
        assert_eq!(
            print(PrintFormat::Tsv, &sample()),
            "name\tn\troles\na,b\t1\t\"[\"\"owner\"\"]\"\n\t2\t\n"
        );
        assert_eq!("tsv".parse::<PrintFormat>(), Ok(PrintFormat::Tsv));
    }

    #[test]
    fn automatic_depends_on_terminal() {
        assert_eq!(PrintFormat::Automatic.resolve(true), PrintFormat::Table);
        assert_eq!(PrintFormat::Automatic.resolve(false), PrintFormat::Csv);
        assert_eq!(PrintFormat::Json.resolve(true), PrintFormat::Json);
        assert_eq!("NDJSON".parse::<PrintFormat>(), Ok(PrintFormat::Ndjson));
    }
}
