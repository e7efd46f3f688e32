//! The runnable parts of README.md, as a user would paste them: used by tests/readme.rs (which
//! runs those needing no cloud account) and tests/cloud.rs (which runs the rest against
//! loopback emulators).

use std::path::PathBuf;

/// URL schemes whose commands need an object store.
pub const CLOUD_SCHEMES: [&str; 4] = ["s3://", "az://", "abfss://", "gs://"];

pub fn needs_cloud(text: &str) -> bool {
    CLOUD_SCHEMES.iter().any(|s| text.contains(s))
}

pub fn readme() -> String {
    std::fs::read_to_string(repo_root().join("README.md"))
        .expect("README.md at the repository root")
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Splits a command line the way a POSIX shell would for simple quoting.
pub fn shell_words(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    cur.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                cur.push(n);
                            }
                        }
                        _ => cur.push(c),
                    }
                }
            }
            '|' | '>' | '<' | ';' | '&' | '$' | '`' => return None,
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '#' if !in_word => break,
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Some(words)
}

/// The teams-sql arguments of each runnable demo command in the README, cloud ones included.
pub fn demo_commands(readme: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut in_shell_block = false;
    for line in readme.lines() {
        let t = line.trim();
        if let Some(lang) = t.strip_prefix("```") {
            in_shell_block =
                !in_shell_block && matches!(lang.trim(), "sh" | "bash" | "console" | "shell");
            continue;
        }
        if !in_shell_block {
            continue;
        }
        let t = t.trim_start_matches("$ ");
        let rest = if let Some(r) = t.strip_prefix("teams-sql ") {
            r
        } else if let Some(r) = t
            .strip_prefix("cargo run -p teams-sql -- ")
            .or_else(|| t.strip_prefix("cargo run --release -p teams-sql -- "))
        {
            r
        } else {
            continue;
        };
        let Some(words) = shell_words(rest) else {
            continue;
        };
        if words.first().map(String::as_str) == Some("--demo") && words.len() > 1 {
            out.push(words);
        }
    }
    out
}
