//! The Azure CLI's signed-in account (`az login`): the token comes from
//! `az account get-access-token --resource <graph> [--tenant T] -o json`,
//! read as the azure-identity libraries read it.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::FutureExt;
use futures::future::BoxFuture;
use serde::Deserialize;

use super::token_endpoint::{lifetime, seconds, token_reply_excerpt};
use super::{AccessToken, CredentialError, CredentialInfo, TokenContext, TokenCredential};
use crate::error::{GraphError, excerpt};
use crate::secret::Secret;

/// How long `az` may take: it starts a Python interpreter and may refresh
/// its own token over the network (azure-identity allows 10 s).
const TIMEOUT: Duration = Duration::from_secs(20);
const METHOD: &str = "Azure CLI";

pub(crate) struct AzureCliCredential {
    pub(crate) tenant: Option<String>,
    pub(crate) in_chain: bool,
}

#[derive(Deserialize)]
struct CliToken {
    #[serde(rename = "accessToken")]
    access_token: String,
    /// Unix seconds (Azure CLI 2.54 and later).
    #[serde(default)]
    expires_on: Option<serde_json::Value>,
    /// Local time, "2024-01-01 12:00:00.000000" (older CLIs).
    #[serde(default, rename = "expiresOn")]
    expires_on_local: Option<String>,
}

/// `az` on PATH (`az.cmd` on Windows).
fn find_az() -> Option<PathBuf> {
    let names: &[&str] = if cfg!(windows) {
        &["az.cmd", "az.exe", "az"]
    } else {
        &["az"]
    };
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}

struct Ran {
    success: bool,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Runs `az` with a deadline, off the async threads (tokio's process
/// support is not compiled in, and a blocking wait must not stall them).
fn run(az: &Path, args: &[String]) -> Result<Ran, String> {
    let mut child = Command::new(az)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", az.display()))?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                // Bounded: a token reply is a few KB.
                let _ = p.by_ref().take(1 << 20).read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let started = std::time::Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if started.elapsed() < TIMEOUT => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "az account get-access-token did not finish within {} s",
                    TIMEOUT.as_secs()
                ));
            }
            Err(e) => return Err(format!("waiting for az failed: {e}")),
        }
    };
    Ok(Ran {
        success: status.success(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

/// The token's lifetime from `expires_on` (Unix seconds), else from
/// `expiresOn` (local time), as azure-identity reads them.
fn expiry(t: &CliToken) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    if let Some(on) = seconds(t.expires_on.as_ref()) {
        return lifetime(Some(on - now));
    }
    let local = t.expires_on_local.as_deref().and_then(|s| {
        let naive = chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S%.f").ok()?;
        use chrono::TimeZone;
        chrono::Local
            .from_local_datetime(&naive)
            .earliest()
            .map(|d| d.timestamp() as f64)
    });
    lifetime(local.map(|on| on - now))
}

impl AzureCliCredential {
    fn args(&self, resource: &str) -> Vec<String> {
        let mut a: Vec<String> = [
            "account",
            "get-access-token",
            "--resource",
            resource,
            "-o",
            "json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(t) = &self.tenant {
            a.push("--tenant".into());
            a.push(t.clone());
        }
        a
    }

    async fn fetch(&self, resource: &str) -> Result<AccessToken, CredentialError> {
        let unavailable_or_fatal = |message: String| {
            if self.in_chain {
                CredentialError::Unavailable(message)
            } else {
                CredentialError::Fatal(sign_in(message))
            }
        };
        let Some(az) = find_az() else {
            return Err(unavailable_or_fatal(
                "the Azure CLI (az) is not installed or not on PATH: install it (https://learn.microsoft.com/cli/azure/install-azure-cli) and run az login".into(),
            ));
        };
        let args = self.args(resource);
        let ran = tokio::task::spawn_blocking(move || run(&az, &args))
            .await
            .map_err(|e| CredentialError::Fatal(sign_in(format!("az did not run: {e}"))))?
            .map_err(|e| CredentialError::Fatal(sign_in(e)))?;
        if !ran.success {
            let stderr = String::from_utf8_lossy(&ran.stderr);
            if stderr.contains("az login") || stderr.contains("az account set") {
                let tenant = self
                    .tenant
                    .as_deref()
                    .map(|t| format!(" --tenant {t}"))
                    .unwrap_or_default();
                return Err(unavailable_or_fatal(format!(
                    "the Azure CLI is not signed in{}: run az login{tenant}",
                    self.tenant
                        .as_deref()
                        .map(|t| format!(" to tenant {t}"))
                        .unwrap_or_default()
                )));
            }
            // az prints the token only on success, so stderr holds none.
            return Err(CredentialError::Fatal(sign_in(format!(
                "az account get-access-token failed: {}",
                excerpt(stderr.trim().as_bytes(), &[])
            ))));
        }
        let token: CliToken = serde_json::from_slice(&ran.stdout).map_err(|e| {
            CredentialError::Fatal(GraphError::Decode {
                endpoint: "az account get-access-token",
                reason: e.to_string(),
                excerpt: token_reply_excerpt(&ran.stdout, &[]),
            })
        })?;
        Ok(AccessToken {
            expires_in: expiry(&token),
            token: Secret::new(token.access_token),
        })
    }
}

fn sign_in(message: String) -> GraphError {
    GraphError::SignIn {
        method: METHOD.into(),
        message,
    }
}

impl TokenCredential for AzureCliCredential {
    fn get_token<'a>(
        &'a self,
        scope: &'a str,
        _ctx: &'a TokenContext<'a>,
    ) -> BoxFuture<'a, Result<AccessToken, CredentialError>> {
        self.fetch(super::resource_of(scope)).boxed()
    }

    fn info(&self) -> CredentialInfo {
        CredentialInfo {
            method: METHOD.into(),
            identity: match &self.tenant {
                Some(t) => format!("the account signed in with az login, tenant {t}"),
                None => "the account signed in with az login".into(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_expiry_forms() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let t: CliToken = serde_json::from_str(&format!(
            r#"{{"accessToken":"x","expires_on":{},"expiresOn":"2000-01-01 00:00:00.000000"}}"#,
            now + 1800
        ))
        .unwrap();
        let d = expiry(&t);
        assert!(
            d > Duration::from_secs(1700) && d <= Duration::from_secs(1800),
            "{d:?}"
        );
        let later = chrono::Local::now() + chrono::Duration::seconds(900);
        let t: CliToken = serde_json::from_str(&format!(
            r#"{{"accessToken":"x","expiresOn":"{}"}}"#,
            later.format("%Y-%m-%d %H:%M:%S%.6f")
        ))
        .unwrap();
        let d = expiry(&t);
        assert!(
            d > Duration::from_secs(800) && d <= Duration::from_secs(900),
            "{d:?}"
        );
    }

    #[test]
    fn arguments_name_resource_and_tenant() {
        let c = AzureCliCredential {
            tenant: Some("t1".into()),
            in_chain: false,
        };
        assert_eq!(
            c.args("https://graph.microsoft.us").join(" "),
            "account get-access-token --resource https://graph.microsoft.us -o json --tenant t1"
        );
    }
}
