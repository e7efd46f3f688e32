//! Every `teams-sql --demo ...` command and every SQL block shown in the README runs (the
//! README promises that a newcomer can paste them). Commands are taken from fenced
//! `sh`/`bash`/`console` blocks, lines starting with `teams-sql --demo` or
//! `cargo run --release -p teams-sql -- --demo`; ```sql blocks run as scripts with `--demo -f`.
//! Whatever needs a cloud account (s3://, az://, abfss://, gs://) or uses shell pipes and
//! redirects is left out.

mod common;

use std::path::{Path, PathBuf};

use common::{isolated_command, stderr_of};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Splits a command line the way a POSIX shell would for simple quoting.
fn shell_words(line: &str) -> Option<Vec<String>> {
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

/// The teams-sql arguments of each runnable demo command in the README.
fn demo_commands(readme: &str) -> Vec<Vec<String>> {
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
        if ["s3://", "az://", "abfss://", "gs://"]
            .iter()
            .any(|s| rest.contains(s))
        {
            continue;
        }
        let Some(words) = shell_words(rest) else {
            continue;
        };
        if words.first().map(String::as_str) == Some("--demo") && words.len() > 1 {
            out.push(words);
        }
    }
    out
}

/// The contents of every ```sql block that needs no cloud account.
fn sql_blocks(readme: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        let t = line.trim();
        match (&mut current, t.strip_prefix("```")) {
            (None, Some(lang)) if lang.trim() == "sql" => current = Some(String::new()),
            (Some(_), Some(_)) => {
                if let Some(block) = current.take()
                    && !["s3://", "az://", "abfss://", "gs://"]
                        .iter()
                        .any(|s| block.contains(s))
                {
                    out.push(block);
                }
            }
            (Some(block), None) => {
                block.push_str(line);
                block.push('\n');
            }
            _ => {}
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn shell_words_follow_posix_quoting() {
    assert_eq!(
        shell_words(r#"--demo -c "SELECT 'a' AS \"x\"" -f sql/explore.sql # note"#).unwrap(),
        vec![
            "--demo",
            "-c",
            r#"SELECT 'a' AS "x""#,
            "-f",
            "sql/explore.sql"
        ]
    );
    assert_eq!(shell_words("--demo -c 'SELECT 1' > out.csv"), None);
}

#[test]
fn every_demo_command_in_the_readme_runs() {
    let readme = std::fs::read_to_string(repo_root().join("README.md"))
        .expect("README.md at the repository root");
    let commands = demo_commands(&readme);
    assert!(
        !commands.is_empty(),
        "the README shows no `teams-sql --demo ...` command in a sh block"
    );
    for args in commands {
        // A scratch directory with sql/ so relative paths in the README work as written.
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&repo_root().join("sql"), &dir.path().join("sql"));
        let home = tempfile::tempdir().unwrap();
        let out = isolated_command(home.path(), dir.path())
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "README command failed: teams-sql {}\n{}",
            args.join(" "),
            stderr_of(&out)
        );
    }
}

#[test]
fn every_sql_block_in_the_readme_runs() {
    let readme = std::fs::read_to_string(repo_root().join("README.md"))
        .expect("README.md at the repository root");
    for block in sql_blocks(&readme) {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&repo_root().join("sql"), &dir.path().join("sql"));
        let script = dir.path().join("block.sql");
        std::fs::write(&script, &block).unwrap();
        let home = tempfile::tempdir().unwrap();
        let out = isolated_command(home.path(), dir.path())
            .args(["--demo", "--format", "csv", "-f"])
            .arg(&script)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "README SQL block failed:\n{block}\n{}",
            stderr_of(&out)
        );
    }
}
