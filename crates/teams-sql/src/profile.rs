//! Named connection profiles from an optional TOML file, for people who work with several
//! tenants. A profile never holds the secret itself, only the name of the environment variable
//! that does, so the file can be shared and committed.
//!
//! ```toml
//! [profiles.contoso]
//! tenant_id = "6f1c7a52-3b9e-4d2a-8c41-5e0b9d7f2a13"
//! client_id = "0c8e5b7d-1f24-4a6b-9e3c-7d2a5f8b1e60"
//! client_secret_env = "CONTOSO_TEAMS_SECRET"
//! auth = "secret"          # or certificate, workload-identity, managed-identity, azure-cli, default
//! cloud = "global"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Result, ShellError};

/// One `[profiles.NAME]` table.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub client_secret_env: Option<String>,
    /// The sign-in method, as `--auth`.
    pub auth: Option<String>,
    /// The certificate for `auth = "certificate"` (over `AZURE_CLIENT_CERTIFICATE_PATH`).
    pub client_certificate_path: Option<String>,
    /// The federated token for `auth = "workload-identity"` (over `AZURE_FEDERATED_TOKEN_FILE`).
    pub federated_token_file: Option<String>,
    pub cloud: Option<String>,
    pub graph_endpoint: Option<String>,
    pub authority_host: Option<String>,
    /// Accept an authority host that is not Microsoft's (see `--allow-custom-authority`).
    pub allow_custom_authority: Option<bool>,
    /// Seconds; see `--request-timeout`.
    pub request_timeout: Option<f64>,
    /// See `--max-pages`.
    pub max_pages: Option<u64>,
    pub message_source: Option<String>,
    pub concurrency: Option<usize>,
    /// See `--throttle-scale`.
    pub throttle_scale: Option<f64>,
    /// `fail` or `skip`, as `--on-forbidden`.
    pub on_forbidden: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

/// Where the config file is looked for when `--config` is not given.
pub fn default_config_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(p) = env("TEAMS_SQL_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    dirs::config_dir().map(|d| d.join("teams-sql").join("config.toml"))
}

/// Loads the profile to use: the one named by `--profile`, else `[profiles.default]` when the
/// file has one. An explicitly named file or profile that does not exist is an error; a missing
/// default file is not.
pub fn load(
    explicit_path: Option<&Path>,
    name: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<(String, Profile)>> {
    let (path, must_exist) = match explicit_path {
        Some(p) => (p.to_path_buf(), true),
        None => match default_config_path(env) {
            Some(p) => (p, name.is_some()),
            None => return Ok(None),
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => return Ok(None),
        // A config file that cannot be read is a problem with how teams-sql was started (exit 2).
        Err(e) => {
            return Err(ShellError::Config {
                path,
                message: format!("cannot read it: {e}"),
            });
        }
    };
    let file = parse(&text).map_err(|message| ShellError::Config {
        path: path.clone(),
        message,
    })?;
    match name {
        Some(name) => match file.profiles.get(name) {
            Some(p) => Ok(Some((name.to_string(), p.clone()))),
            None => Err(ShellError::Config {
                path,
                message: format!(
                    "no profile [profiles.{name}]; profiles in this file: {}",
                    list_or_none(file.profiles.keys())
                ),
            }),
        },
        None => Ok(file
            .profiles
            .get("default")
            .map(|p| ("default".to_string(), p.clone()))),
    }
}

fn list_or_none<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<&str> = names.map(String::as_str).collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

/// Parses the file. Error messages never quote the file's text, in case someone pasted a
/// secret into it: they name the line and the problem only.
fn parse(text: &str) -> std::result::Result<ConfigFile, String> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
        match line {
            Some(line) => format!("line {line}: {}", e.message()),
            None => e.message().to_string(),
        }
    })?;
    if let Some(toml::Value::Table(profiles)) = table.get("profiles") {
        for (name, profile) in profiles {
            if let toml::Value::Table(keys) = profile {
                for key in keys.keys() {
                    let k = key.to_ascii_lowercase();
                    if k != "client_secret_env" && (k.contains("secret") || k.contains("password"))
                    {
                        return Err(format!(
                            "[profiles.{name}] has `{key}`: secrets are not read from the config \
                             file; put the secret in an environment variable and name that \
                             variable with `client_secret_env = \"NAME\"`"
                        ));
                    }
                }
            }
        }
    }
    ConfigFile::deserialize(toml::Value::Table(table)).map_err(|e| e.message().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn parses_profiles() {
        let file = parse(
            r#"
            [profiles.contoso]
            tenant_id = "t"
            client_id = "c"
            client_secret_env = "CONTOSO_SECRET"
            cloud = "usgov"
            "#,
        )
        .unwrap();
        let p = &file.profiles["contoso"];
        assert_eq!(p.tenant_id.as_deref(), Some("t"));
        assert_eq!(p.client_secret_env.as_deref(), Some("CONTOSO_SECRET"));
        assert_eq!(p.cloud.as_deref(), Some("usgov"));
    }

    #[test]
    fn refuses_a_secret_in_the_file_without_echoing_it() {
        let err = parse("[profiles.x]\nclient_secret = \"hunter2~abc\"\n").unwrap_err();
        assert!(err.contains("client_secret_env"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn syntax_errors_name_the_line_not_the_text() {
        let err = parse("[profiles.x]\ntenant_id = \"abc\nother = 1\n").unwrap_err();
        assert!(err.starts_with("line "), "{err}");
        assert!(!err.contains("abc"), "{err}");
    }

    #[test]
    fn unknown_keys_are_errors() {
        assert!(parse("[profiles.x]\ntenant = \"t\"\n").is_err());
    }

    #[test]
    fn a_missing_explicit_file_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(Some(&dir.path().join("nope.toml")), None, &no_env).unwrap_err();
        assert_eq!(err.exit_code(), 2, "{err}");
        assert!(err.to_string().contains("nope.toml"), "{err}");
    }

    #[test]
    fn named_profile_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[profiles.a]\ntenant_id = \"t\"\n").unwrap();
        let err = load(Some(&path), Some("b"), &no_env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("profiles in this file: a"), "{err}");
        let (name, p) = load(Some(&path), Some("a"), &no_env).unwrap().unwrap();
        assert_eq!((name.as_str(), p.tenant_id.as_deref()), ("a", Some("t")));
        assert_eq!(load(Some(&path), None, &no_env).unwrap(), None);
    }
}
