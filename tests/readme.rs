//! Every `teams-sql --demo ...` command and every SQL block shown in the README runs (the
//! README promises that a newcomer can paste them). Commands are taken from fenced
//! `sh`/`bash`/`console` blocks, lines starting with `teams-sql --demo` or
//! `cargo run --release -p teams-sql -- --demo`; ```sql blocks run as scripts with `--demo -f`.
//! Whatever uses shell pipes and redirects is left out, and so is whatever needs a cloud account
//! (s3://, az://, abfss://, gs://): tests/cloud.rs runs those against loopback emulators.

mod common;

use std::path::Path;

use common::readme::{demo_commands, needs_cloud, readme, repo_root, shell_words};
use common::{isolated_command, stderr_of};

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
                    && !needs_cloud(&block)
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
    let commands: Vec<Vec<String>> = demo_commands(&readme())
        .into_iter()
        .filter(|args| !args.iter().any(|a| needs_cloud(a)))
        .collect();
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
    for block in sql_blocks(&readme()) {
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

/// The lines between a ```LANG fence and its closing fence, for every such block.
fn fenced_blocks(text: &str, lang: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in text.lines() {
        match (&mut current, line.trim().strip_prefix("```")) {
            (None, Some(l)) if l.trim() == lang => current = Some(Vec::new()),
            (Some(_), Some(_)) => out.extend(current.take().map(|b| b.join("\n"))),
            (Some(block), None) => block.push(line),
            _ => {}
        }
    }
    out
}

/// The README's embedding program is not compiled where it stands; the same text is the
/// `no_run` doctest on `register_in_schema`, which `cargo test` compiles against the crate.
#[test]
fn the_readme_embedding_program_is_the_compiled_doctest() {
    let readme = readme();
    let programs = fenced_blocks(&readme, "rust");
    assert_eq!(programs.len(), 1, "one Rust program in the README");
    let source =
        std::fs::read_to_string(repo_root().join("crates/datafusion-teams/src/embed.rs")).unwrap();
    let doc: String = source
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("///"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    let doctests = fenced_blocks(&doc, "no_run");
    assert!(
        doctests.contains(&programs[0]),
        "the README's Rust block differs from the doctest in crates/datafusion-teams/src/embed.rs"
    );
}
