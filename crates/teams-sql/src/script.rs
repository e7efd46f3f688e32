//! Splitting SQL text into statements, with the line each starts on, so that scripts can report
//! where they failed and the REPL knows when input is complete. Quotes and comments are
//! respected: a `;` inside `'...'`, `"..."`, `-- ...` or `/* ... */` ends nothing.
//! A line starting with `\` (outside any statement) is a shell command such as `\d`.

/// One statement or shell command of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The SQL (without the terminating `;`) or the whole `\command` line.
    pub text: String,
    /// 1-based line of the statement's first significant character.
    pub line: usize,
}

impl Statement {
    pub fn is_command(&self) -> bool {
        self.text.starts_with('\\')
    }
}

#[derive(Clone, Copy, PartialEq)]
enum State {
    Normal,
    Single,
    Double,
    LineComment,
    BlockComment(usize),
}

/// Result of splitting: complete statements, and the unterminated rest (if it holds anything
/// other than whitespace and comments).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Split {
    pub statements: Vec<Statement>,
    pub rest: Option<Statement>,
    /// The rest ends inside a quote or block comment, so it cannot be complete yet.
    pub rest_in_literal: bool,
}

pub fn split(text: &str) -> Split {
    let mut out = Split::default();
    let mut state = State::Normal;
    let mut current = String::new();
    // Line of the first significant character of `current`, once seen.
    let mut first_line: Option<usize> = None;
    let mut line = 1usize;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match state {
            State::Normal => {
                if c == '\\' && first_line.is_none() {
                    // A shell command runs to the end of its line.
                    let start = i;
                    while i < chars.len() && chars[i] != '\n' {
                        i += 1;
                    }
                    let cmd: String = chars[start..i].iter().collect();
                    out.statements.push(Statement {
                        text: cmd.trim_end().trim_end_matches(';').to_string(),
                        line,
                    });
                    current.clear();
                    continue;
                }
                match c {
                    ';' => {
                        if let Some(l) = first_line.take() {
                            out.statements.push(Statement {
                                text: current.trim().to_string(),
                                line: l,
                            });
                        }
                        current.clear();
                        i += 1;
                        continue;
                    }
                    '-' if next == Some('-') => state = State::LineComment,
                    '/' if next == Some('*') => {
                        state = State::BlockComment(1);
                        current.push_str("/*");
                        i += 2;
                        continue;
                    }
                    '\'' => {
                        state = State::Single;
                        first_line.get_or_insert(line);
                    }
                    '"' => {
                        state = State::Double;
                        first_line.get_or_insert(line);
                    }
                    c if !c.is_whitespace() => {
                        first_line.get_or_insert(line);
                    }
                    _ => {}
                }
            }
            State::Single => {
                if c == '\'' {
                    if next == Some('\'') {
                        current.push_str("''");
                        i += 2;
                        continue;
                    }
                    state = State::Normal;
                }
            }
            State::Double => {
                if c == '"' {
                    state = State::Normal;
                }
            }
            State::LineComment => {
                if c == '\n' {
                    state = State::Normal;
                }
            }
            State::BlockComment(depth) => {
                if c == '*' && next == Some('/') {
                    current.push_str("*/");
                    i += 2;
                    state = if depth == 1 {
                        State::Normal
                    } else {
                        State::BlockComment(depth - 1)
                    };
                    continue;
                }
                if c == '/' && next == Some('*') {
                    current.push_str("/*");
                    i += 2;
                    state = State::BlockComment(depth + 1);
                    continue;
                }
            }
        }
        if c == '\n' {
            line += 1;
        }
        current.push(c);
        i += 1;
    }
    out.rest_in_literal = matches!(
        state,
        State::Single | State::Double | State::BlockComment(_)
    );
    if let Some(l) = first_line {
        out.rest = Some(Statement {
            text: current.trim().to_string(),
            line: l,
        });
    }
    out
}

/// True when the REPL should run the input now rather than ask for another line.
pub fn is_complete(input: &str) -> bool {
    let trimmed = input.trim();
    if trimmed.is_empty() || trimmed.starts_with('\\') {
        return true;
    }
    let lower = trimmed.to_ascii_lowercase();
    if lower == "quit" || lower == "exit" {
        return true;
    }
    let s = split(input);
    s.rest.is_none() && !s.rest_in_literal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &Split) -> Vec<(&str, usize)> {
        s.statements
            .iter()
            .map(|s| (s.text.as_str(), s.line))
            .collect()
    }

    #[test]
    fn statements_and_their_lines() {
        let s = split("-- header\nSELECT 1;\n\nSELECT\n  2;\nSELECT 3");
        // Leading comments stay in the text (the SQL parser skips them); the line does not count them.
        assert_eq!(
            texts(&s),
            vec![("-- header\nSELECT 1", 2), ("SELECT\n  2", 4)]
        );
        assert_eq!(
            s.rest.as_ref().map(|r| (r.text.as_str(), r.line)),
            Some(("SELECT 3", 6))
        );
    }

    #[test]
    fn semicolons_in_quotes_and_comments_do_not_split() {
        let s = split("SELECT 'a;b', \"c;d\" -- e;f\n/* g; /* h; */ i; */ FROM t;");
        assert_eq!(s.statements.len(), 1);
        assert!(s.statements[0].text.ends_with("FROM t"));
        assert_eq!(s.rest, None);
        let s = split("SELECT 'it''s; fine';");
        assert_eq!(texts(&s), vec![("SELECT 'it''s; fine'", 1)]);
    }

    #[test]
    fn comments_only_are_not_statements() {
        let s = split("-- nothing\n/* at all */\n;\n");
        assert!(s.statements.is_empty());
        assert_eq!(s.rest, None);
    }

    #[test]
    fn backslash_commands_are_their_own_statements() {
        let s = split("\\d messages\nSELECT 1;\n\\timing\n");
        assert_eq!(
            texts(&s),
            vec![("\\d messages", 1), ("SELECT 1", 2), ("\\timing", 3)]
        );
        assert!(s.statements[0].is_command());
    }

    #[test]
    fn completeness_for_the_repl() {
        assert!(!is_complete("SELECT 1"));
        assert!(!is_complete("SELECT ';"));
        assert!(is_complete("SELECT 1;"));
        assert!(is_complete("SELECT 1; -- done"));
        assert!(is_complete("\\d"));
        assert!(is_complete("quit"));
        assert!(is_complete("   "));
    }
}
