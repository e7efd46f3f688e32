//! Every setting a session starts from, resolved in one place with one precedence, highest
//! first: command-line flags, the selected profile, then the environment (the `AZURE_*`
//! variables azure-identity and the Azure CLI use). What a complete set of credentials is lives
//! in `credentials.rs`; this module only decides where each value comes from.

use std::time::Duration;

use chrono::{DateTime, Utc};

use datafusion_teams::{MessageSource, OnForbidden, TeamsOptions};

use crate::args::Args;
use crate::credentials::{
    self, Connection, ENV_AUTHORITY_HOST, ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_TENANT_ID, Origin,
};
use crate::error::{Result, ShellError};
use crate::profile::{self, Profile};

/// The environment of this process, as [`resolve`] reads it (tests pass their own).
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// What a session connects to and how its Teams tables read.
#[derive(Debug)]
pub struct Settings {
    pub tenant: Tenant,
    pub options: TeamsOptions,
    /// `--allow-partial`: a read that left out refused children still exits 0.
    pub allow_partial: bool,
    /// The demo tenant's clock, pinned by `TEAMS_SQL_DEMO_EPOCH` so its output is the same on
    /// every day; else today's midnight. (Not SOURCE_DATE_EPOCH: packaging shells such as
    /// Nix's set that one to 1980 for builds, which would empty every recent-history query.)
    pub demo_clock: Option<DateTime<Utc>>,
}

/// Seconds since 1970 that pin the demo tenant's clock.
pub const ENV_DEMO_EPOCH: &str = "TEAMS_SQL_DEMO_EPOCH";

#[derive(Debug)]
pub enum Tenant {
    /// `--demo`: the simulated tenant, started when the session connects.
    Demo,
    /// A real tenant, through an app registration (boxed: the demo carries nothing).
    Entra(Box<Connection>),
}

/// Resolves flags, profile and environment into the session's settings, or explains exactly
/// what is missing or wrong (a usage error, exit 2) before any request is made. `env` is
/// injected so tests do not depend on the process environment.
pub fn resolve(args: &Args, env: &dyn Fn(&str) -> Option<String>) -> Result<Settings> {
    // The demo tenant has its own credentials: a profile could only point it elsewhere.
    let profile = if args.demo {
        None
    } else {
        profile::load(args.config.as_deref(), args.profile.as_deref(), env)?
    };
    resolve_with(args, profile.as_ref(), env)
}

/// [`resolve`] with the profile already loaded.
fn resolve_with(
    args: &Args,
    profile: Option<&(String, Profile)>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings> {
    let layers = Layers {
        args,
        profile: profile.map(|(_, p)| p),
        env,
    };
    let tenant = if args.demo {
        Tenant::Demo
    } else {
        let origin = match profile {
            Some((name, _)) => Origin::Profile(name.clone()),
            None => Origin::Environment,
        };
        let connection = layers.connection(origin)?;
        // A bad URL, authority host or limit is reported before the options are looked at.
        connection.graph_config()?;
        Tenant::Entra(Box::new(connection))
    };
    let options = layers.teams_options()?;
    let demo_clock = if args.demo {
        layers.demo_clock()?
    } else {
        None
    };
    Ok(Settings {
        tenant,
        options,
        allow_partial: args.allow_partial,
        demo_clock,
    })
}

/// The places a setting can come from, in the order they win.
struct Layers<'a> {
    args: &'a Args,
    profile: Option<&'a Profile>,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Layers<'_> {
    /// The flag when given, else the profile's value. This and [`Layers::or_env`] are the
    /// precedence; every setting goes through them.
    fn pick<T: Clone>(
        &self,
        flag: &Option<T>,
        in_profile: fn(&Profile) -> &Option<T>,
    ) -> Option<T> {
        flag.clone()
            .or_else(|| self.profile.and_then(|p| in_profile(p).clone()))
    }

    /// [`Layers::pick`], then the environment variable `var` (blank counts as unset).
    fn or_env(
        &self,
        flag: &Option<String>,
        in_profile: fn(&Profile) -> &Option<String>,
        var: &str,
    ) -> Option<String> {
        self.pick(flag, in_profile)
            .or_else(|| (self.env)(var).filter(|v| !v.trim().is_empty()))
    }

    fn connection(&self, origin: Origin) -> Result<Connection> {
        let args = self.args;
        let tenant_id = self.or_env(&args.tenant_id, |p| &p.tenant_id, ENV_TENANT_ID);
        let client_id = self.or_env(&args.client_id, |p| &p.client_id, ENV_CLIENT_ID);
        // The secret's variable can be renamed, never the secret given: it is read from there.
        let secret_env = self
            .pick(&args.client_secret_env, |p| &p.client_secret_env)
            .unwrap_or_else(|| ENV_CLIENT_SECRET.to_string());
        let secret = credentials::secret_from(self.env, &secret_env);
        let (tenant_id, client_id, secret) =
            credentials::app_credentials(tenant_id, client_id, secret, &secret_env)?;

        let cloud_name = self
            .pick(&args.cloud, |p| &p.cloud)
            .unwrap_or_else(|| "global".to_string());
        credentials::parse_cloud(&cloud_name)?;
        let request_timeout = match self.pick(&args.request_timeout, |p| &p.request_timeout) {
            Some(secs) if secs.is_finite() && secs > 0.0 && secs <= 86_400.0 => {
                Some(Duration::from_secs_f64(secs))
            }
            Some(secs) => {
                return Err(ShellError::Usage(format!(
                    "request timeout {secs} s: give a number of seconds above 0 and at most 86400"
                )));
            }
            None => None,
        };
        Ok(Connection {
            tenant_id,
            client_id,
            secret,
            secret_env: credentials::shown_env_name(&secret_env),
            cloud_name,
            graph_endpoint: self.pick(&args.graph_endpoint, |p| &p.graph_endpoint),
            authority_host: self.or_env(
                &args.authority_host,
                |p| &p.authority_host,
                ENV_AUTHORITY_HOST,
            ),
            // A flag can only switch it on; off is the default, not a choice that overrides.
            allow_custom_authority: self
                .pick(&args.allow_custom_authority.then_some(true), |p| {
                    &p.allow_custom_authority
                })
                .unwrap_or(false),
            request_timeout,
            max_pages: self.pick(&args.max_pages, |p| &p.max_pages),
            origin,
        })
    }

    fn demo_clock(&self) -> Result<Option<DateTime<Utc>>> {
        let Some(text) = (self.env)(ENV_DEMO_EPOCH).filter(|v| !v.trim().is_empty()) else {
            return Ok(None);
        };
        text.trim()
            .parse::<i64>()
            .ok()
            .and_then(|secs| DateTime::from_timestamp(secs, 0))
            .map(Some)
            .ok_or_else(|| {
                ShellError::Usage(format!(
                    "{ENV_DEMO_EPOCH} '{text}': expected whole seconds since 1970-01-01 UTC"
                ))
            })
    }

    /// The connector options the shell sets: the defaults, except what flags or the profile say.
    fn teams_options(&self) -> Result<TeamsOptions> {
        let args = self.args;
        let mut options = TeamsOptions::default();
        if let Some(src) = self.pick(&args.message_source, |p| &p.message_source) {
            options.message_source = src.parse::<MessageSource>().map_err(|_| {
                ShellError::Usage(format!(
                    "unknown message source '{src}': expected auto, channel, export or delta"
                ))
            })?;
        }
        if let Some(n) = self.pick(&args.concurrency, |p| &p.concurrency) {
            if n == 0 {
                return Err(ShellError::Usage("--concurrency must be at least 1".into()));
            }
            options.concurrency = n;
        }
        match self
            .pick(&args.on_forbidden, |p| &p.on_forbidden)
            .as_deref()
        {
            Some(v) => {
                options.on_forbidden = v.parse::<OnForbidden>().map_err(|_| {
                    ShellError::Usage(format!(
                        "--on-forbidden '{v}' is not allowed: use fail or skip"
                    ))
                })?;
            }
            // Accepting partial reads only means something if refused children are skipped.
            None if args.allow_partial => options.on_forbidden = OnForbidden::Skip,
            None => {}
        }
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| map.get(k).cloned()
    }

    /// A complete app registration in the environment.
    fn app_env() -> impl Fn(&str) -> Option<String> {
        env_of(&[
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s3cr3t-value"),
        ])
    }

    fn args(extra: &[&str]) -> Args {
        let mut v = vec!["teams-sql"];
        v.extend_from_slice(extra);
        Args::parse_from(v)
    }

    /// The connection `resolve` settles on, given the profile it would have loaded.
    fn resolve(
        args: &Args,
        profile: Option<&(String, Profile)>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Connection> {
        match resolve_with(args, profile, env)?.tenant {
            Tenant::Entra(c) => Ok(*c),
            Tenant::Demo => panic!("no --demo given"),
        }
    }

    #[test]
    fn missing_credentials_name_each_variable_and_the_readme() {
        let env = env_of(&[("AZURE_CLIENT_ID", "c")]);
        let err = resolve(&args(&[]), None, &env).unwrap_err().to_string();
        assert!(err.contains("AZURE_TENANT_ID"), "{err}");
        assert!(err.contains("AZURE_CLIENT_SECRET"), "{err}");
        assert!(!err.contains("AZURE_CLIENT_ID (or"), "{err}");
        assert!(err.contains("Azure app registration"), "{err}");
        assert!(err.contains("ChannelMessage.Read.All"), "{err}");
    }

    #[test]
    fn flags_override_profile_override_environment() {
        let env = env_of(&[
            ("AZURE_TENANT_ID", "env-t"),
            ("AZURE_CLIENT_ID", "env-c"),
            ("MY_SECRET", "s3cr3t-value"),
            ("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.us"),
        ]);
        let profile = (
            "p".to_string(),
            Profile {
                client_id: Some("prof-c".into()),
                client_secret_env: Some("MY_SECRET".into()),
                cloud: Some("usgov".into()),
                ..Profile::default()
            },
        );
        let c = resolve(&args(&["--tenant-id", "flag-t"]), Some(&profile), &env).unwrap();
        assert_eq!(c.tenant_id, "flag-t");
        assert_eq!(c.client_id, "prof-c");
        assert_eq!(c.cloud_name, "usgov");
        assert_eq!(
            c.authority_host.as_deref(),
            Some("https://login.microsoftonline.us")
        );
        assert_eq!(c.origin, Origin::Profile("p".into()));
        let shown = format!("{c:?} {:?}", c.describe());
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
        assert!(shown.contains("MY_SECRET"), "{shown}");
    }

    #[test]
    fn secret_from_named_variable_missing_is_reported_by_that_name() {
        let env = env_of(&[("AZURE_TENANT_ID", "t"), ("AZURE_CLIENT_ID", "c")]);
        let err = resolve(&args(&["--client-secret-env", "TEAMS_SECRET"]), None, &env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("TEAMS_SECRET"), "{err}");
    }

    #[test]
    fn a_secret_given_as_the_variable_name_is_never_echoed() {
        let env = env_of(&[("AZURE_TENANT_ID", "t"), ("AZURE_CLIENT_ID", "c")]);
        for pasted in ["Ab8Q~x.yZ_12-abcdEFGH", "abc8qxyz12abcdefgh1234", "a=b", ""] {
            let err = resolve(&args(&["--client-secret-env", pasted]), None, &env)
                .unwrap_err()
                .to_string();
            assert!(pasted.is_empty() || !err.contains(pasted), "{err}");
            assert!(err.contains("client_secret_env"), "{err}");
        }
    }

    #[test]
    fn bad_endpoints_and_authorities_are_usage_errors() {
        let env = app_env();
        for flags in [
            &["--graph-endpoint", "http://graph.example.com"][..],
            &["--graph-endpoint", "https://[bad"][..],
            &["--authority-host", "https://login.microsoftonline.co"][..],
            &["--max-pages", "0"][..],
            &["--request-timeout", "0"][..],
        ] {
            let err = resolve(&args(flags), None, &env)
                .and_then(|c| c.graph_config())
                .unwrap_err();
            assert_eq!(err.exit_code(), 2, "{flags:?}: {err}");
        }
        let c = resolve(
            &args(&[
                "--authority-host",
                "https://idp.example",
                "--allow-custom-authority",
                "--request-timeout",
                "2.5",
                "--max-pages",
                "9",
            ]),
            None,
            &env,
        )
        .unwrap();
        let cfg = c.graph_config().unwrap();
        assert_eq!(cfg.request_timeout, Duration::from_millis(2500));
        assert_eq!(cfg.max_pages, 9);
    }

    #[test]
    fn unknown_cloud_is_rejected() {
        let env = app_env();
        assert!(resolve(&args(&["--cloud", "mars"]), None, &env).is_err());
    }

    #[test]
    fn connector_options_take_the_same_precedence() {
        let env = app_env();
        let profile = (
            "p".to_string(),
            Profile {
                concurrency: Some(3),
                message_source: Some("export".into()),
                on_forbidden: Some("skip".into()),
                ..Profile::default()
            },
        );
        let from_profile = resolve_with(&args(&[]), Some(&profile), &env)
            .unwrap()
            .options;
        assert_eq!(from_profile.concurrency, 3);
        assert_eq!(from_profile.message_source, MessageSource::Export);
        assert_eq!(from_profile.on_forbidden, OnForbidden::Skip);
        let flags = args(&["--concurrency", "5", "--on-forbidden", "fail"]);
        let from_flags = resolve_with(&flags, Some(&profile), &env).unwrap().options;
        assert_eq!(from_flags.concurrency, 5);
        assert_eq!(from_flags.on_forbidden, OnForbidden::Fail);
        // --allow-partial skips refused children unless told otherwise.
        let partial = resolve_with(&args(&["--allow-partial"]), None, &env)
            .unwrap()
            .options;
        assert_eq!(partial.on_forbidden, OnForbidden::Skip);
    }

    #[test]
    fn an_epoch_in_the_environment_pins_the_demo_clock() {
        let env = env_of(&[("TEAMS_SQL_DEMO_EPOCH", "1767225600")]);
        let settings = super::resolve(&args(&["--demo"]), &env).unwrap();
        assert_eq!(
            settings.demo_clock.map(|c| c.to_rfc3339()).as_deref(),
            Some("2026-01-01T00:00:00+00:00")
        );
        let env = env_of(&[("TEAMS_SQL_DEMO_EPOCH", "yesterday")]);
        let err = super::resolve(&args(&["--demo"]), &env).unwrap_err();
        assert_eq!(err.exit_code(), 2, "{err}");
    }

    #[test]
    fn the_demo_needs_no_credentials() {
        let settings = super::resolve(&args(&["--demo"]), &|_: &str| None).unwrap();
        assert!(matches!(settings.tenant, Tenant::Demo));
    }
}
