//! REPL history: kept in the user's data directory, readable by the user only, and never
//! holding a statement that looks like it carries a secret (people paste SAS tokens and
//! passwords into `OPTIONS (...)` or `SET` more often than they think).

use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// Words that make a line too risky to keep. Matched case-insensitively anywhere in the line.
const SECRET_MARKERS: &[&str] = &[
    "secret",
    "password",
    "passwd",
    "token",
    "credential",
    "access_key",
    "accesskey",
    "account_key",
    "api_key",
    "apikey",
    "private_key",
    "authorization",
    "bearer ",
    "sig=",
    "sas_key",
    "connection_string",
];

/// True when the line should not be written to the history file.
pub fn may_contain_secret(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    SECRET_MARKERS.iter().any(|m| lower.contains(m))
}

/// `$TEAMS_SQL_HISTORY` when set (empty disables history), else `<data dir>/teams-sql/history`
/// (`$XDG_DATA_HOME` or `~/.local/share` on Linux).
pub fn history_path() -> Option<PathBuf> {
    match std::env::var_os("TEAMS_SQL_HISTORY") {
        Some(p) if p.is_empty() => None,
        Some(p) => Some(PathBuf::from(p)),
        None => dirs::data_dir().map(|d| d.join("teams-sql").join("history")),
    }
}

/// Creates the directory (0700) and the file (0600) before rustyline touches it, so the history
/// is never readable by others, not even for the moment between create and chmod.
pub fn prepare(path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let mut opts = OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?;
    restrict(path)
}

/// Re-applies 0600 (a file created by an older version or copied in may be wider).
pub fn restrict(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.exists() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_recognised() {
        for line in [
            "SET client_secret = 'x'",
            "COPY t TO 's3://b/x' OPTIONS ('aws.secret_access_key' 'k')",
            "select 'my password'",
            "OPTIONS ('azure.sas_key' 'sv=2020&sig=abc')",
            "select token from t",
        ] {
            assert!(may_contain_secret(line), "{line}");
        }
        assert!(!may_contain_secret("SELECT display_name FROM teams"));
    }

    #[cfg(unix)]
    #[test]
    fn file_and_directory_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a").join("b").join("history");
        prepare(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dmode = fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dmode, 0o700);
    }
}
