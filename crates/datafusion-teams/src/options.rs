//! Connector configuration: the Graph client plus per-table knobs.

use std::any::Any;
use std::fmt;

use datafusion::common::config::{ConfigEntry, ConfigExtension, ExtensionOptions};
use datafusion::error::DataFusionError;

use graph_client::GraphClient;

use crate::error::TeamsError;
use crate::naming::ColumnNames;

/// `FromStr` (case-insensitive; an error names the allowed words) and `Display` of an option
/// whose values are words.
macro_rules! option_words {
    ($ty:ident, $key:literal, { $($word:literal => $variant:ident),+ $(,)? }) => {
        impl std::str::FromStr for $ty {
            type Err = crate::error::TeamsError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($word => Ok($ty::$variant),)+
                    other => Err(crate::error::TeamsError::option(
                        $key,
                        format!("'{other}' is not one of {}", [$($word),+].join(", ")),
                    )),
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(match self {
                    $($ty::$variant => $word,)+
                })
            }
        }
    };
}
pub(crate) use option_words;

/// Where message and reply rows come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MessageSource {
    /// Cheapest documented source for the query: the export API when a
    /// `last_modified_date_time` bound is pushed, channel delta when the export API is refused and
    /// the lower bound is recent, the channel listing otherwise.
    #[default]
    Auto,
    /// `GET .../channels/{id}/messages?$expand=replies`.
    Channel,
    /// `GET /teams/{id}/channels/getAllMessages` with a lastModifiedDateTime range.
    Export,
    /// `GET .../channels/{id}/messages/delta` with `lastModifiedDateTime gt`.
    Delta,
}

option_words!(MessageSource, "message_source", {
    "auto" => Auto,
    "channel" => Channel,
    "export" => Export,
    "delta" => Delta,
});

/// What a scan does when Graph answers 403 for one team, channel or message collection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnForbidden {
    /// Fail the statement, naming the child and the permission or consent it lacks. The
    /// default: an unattended export must not pass a partial read off as the whole.
    #[default]
    Fail,
    /// Leave the child out, report it (grouped by cause) and mark the statement partial. Still
    /// fails when every child the statement needed was refused.
    Skip,
}

option_words!(OnForbidden, "on_forbidden", {
    "fail" => Fail,
    "skip" => Skip,
});

/// The connector's settings. `register` installs them in the session as the DataFusion config
/// extension `teams` (so `SET teams.on_forbidden = 'skip'` and `SHOW ALL` work); every scan
/// reads them from its session when it is planned. `CREATE EXTERNAL TABLE ... STORED AS TEAMS
/// OPTIONS (...)` overrides them for one table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamsOptions {
    /// `$top` for list requests; `None` asks each endpoint for its documented maximum
    /// (50 for messages, 999 for members), which spends the fewest requests. Above an endpoint's
    /// maximum it is clamped, except on the message tables, where Graph's limit of 50 is
    /// documented and a larger value is an error.
    pub page_size: Option<u32>,
    pub message_source: MessageSource,
    /// Most request chains (a team's or a channel's pages) a scan keeps open at once. An upper
    /// bound, not the speed knob: the scan opens as many as the throttle limits and the observed
    /// latency need to fill the tenant budget (`Scan::chains`), up to this. A pushed LIMIT of one
    /// page or less reads one parent at a time.
    pub concurrency: usize,
    /// What a 403 on a team, channel or message collection does to the statement.
    pub on_forbidden: OnForbidden,
    /// Column names of the tables created with these options (fixed when a table is created:
    /// by `register`, or by `CREATE EXTERNAL TABLE`, which also reads `SET teams.column_names`).
    pub column_names: ColumnNames,
    /// Multiplies every documented Graph rate limit (a tenant with negotiated limits, or a
    /// simulator run with `--throttle-scale`). `None` keeps the client's own scale (1 unless
    /// its configuration says otherwise).
    pub throttle_scale: Option<ThrottleScale>,
}

/// A positive, finite rate multiplier; compared by value so options stay `Eq`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ThrottleScale(f64);

impl Eq for ThrottleScale {}

impl ThrottleScale {
    pub fn new(scale: f64) -> Option<Self> {
        (scale.is_finite() && scale > 0.0).then_some(ThrottleScale(scale))
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

impl Default for TeamsOptions {
    fn default() -> Self {
        TeamsOptions {
            page_size: None,
            message_source: MessageSource::Auto,
            concurrency: MAX_CONCURRENCY,
            on_forbidden: OnForbidden::Fail,
            throttle_scale: None,
            column_names: ColumnNames::Snake,
        }
    }
}

/// Option keys accepted in SQL (`SET teams.KEY`, `CREATE EXTERNAL TABLE ... OPTIONS`).
pub const OPTION_KEYS: [&str; 6] = [
    "on_forbidden",
    "message_source",
    "concurrency",
    "page_size",
    "throttle_scale",
    "column_names",
];

/// Largest `$top` any Teams list endpoint documents (members, teams).
pub const MAX_PAGE_SIZE: u32 = 999;
/// Most request chains open at once, and the default bound. The largest documented tenant
/// budget (getAllMessages, 200/s, at 4/s per team) needs 50 chains, but only while every chain
/// has pages left: a team's chain is sequential (each page's link is in the last one), so teams
/// whose chains start late end late, and the tenant budget idles at the end of a read once
/// fewer than 50 remain. With every team of a 100-team tenant open from the start (each at
/// 2/s), all end together (budget bench: wall / lower bound 1.21 at 64, see the README). Pages
/// held in memory stay a few tens of megabytes.
pub const MAX_CONCURRENCY: usize = 128;

impl TeamsOptions {
    /// Applies one `key = value` option (as written in `CREATE EXTERNAL TABLE ... OPTIONS` or
    /// `SET teams.key = value`).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), TeamsError> {
        // DataFusion may prefix options with their namespace; the last segment is ours.
        let key = key.rsplit('.').next().unwrap_or(key).to_ascii_lowercase();
        match key.as_str() {
            "page_size" => {
                let v = value.trim();
                if v.is_empty() || v.eq_ignore_ascii_case("auto") {
                    self.page_size = None;
                    return Ok(());
                }
                let n = v
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=MAX_PAGE_SIZE).contains(n));
                let Some(n) = n else {
                    return Err(TeamsError::option(
                        "page_size",
                        format!(
                            "'{value}' is not allowed: use 'auto' (each endpoint's maximum) or 1-{MAX_PAGE_SIZE} (at most 50 for messages and message_replies)"
                        ),
                    ));
                };
                self.page_size = Some(n);
            }
            "message_source" => self.message_source = value.parse()?,
            "on_forbidden" => self.on_forbidden = value.parse()?,
            "column_names" => self.column_names = value.parse()?,
            "concurrency" => {
                let n = value
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_CONCURRENCY).contains(n));
                let Some(n) = n else {
                    return Err(TeamsError::option(
                        "concurrency",
                        format!("'{value}' is not allowed: use 1-{MAX_CONCURRENCY}"),
                    ));
                };
                self.concurrency = n;
            }
            "throttle_scale" => {
                let v = value.trim();
                if v.is_empty() || v.eq_ignore_ascii_case("auto") {
                    self.throttle_scale = None;
                    return Ok(());
                }
                let Some(s) = v.parse::<f64>().ok().and_then(ThrottleScale::new) else {
                    return Err(TeamsError::option(
                        "throttle_scale",
                        format!(
                            "'{value}' is not allowed: use a positive number (2.5 = every documented rate limit 2.5 times higher)"
                        ),
                    ));
                };
                self.throttle_scale = Some(s);
            }
            k if k.contains("secret")
                || k.contains("client_id")
                || k.contains("tenant")
                || k.contains("password")
                || k.contains("token") =>
            {
                return Err(TeamsError::option(
                    k,
                    "credentials are never accepted in SQL; they come from the connector configuration or the AZURE_* environment variables",
                ));
            }
            other => {
                return Err(TeamsError::option(
                    other,
                    format!("unknown option; expected one of {}", OPTION_KEYS.join(", ")),
                ));
            }
        }
        Ok(())
    }

    /// Whether these options fit `table`: Graph refuses `$top` above 50 on the message
    /// endpoints, and silently reading 50 when 51 was asked for would hide a typo.
    pub fn check_for(&self, table: crate::schema::Table) -> Result<(), TeamsError> {
        let max = crate::plan::MESSAGES_MAX_TOP;
        match self.page_size {
            Some(n) if table.is_message_table() && n > max => Err(TeamsError::option(
                "page_size",
                format!(
                    "{n} is above the {max} rows per page Graph allows for {table}: use 1-{max} or 'auto'"
                ),
            )),
            _ => Ok(()),
        }
    }

    fn entries(&self) -> [(&'static str, Option<String>, &'static str); 6] {
        [
            (
                "on_forbidden",
                Some(self.on_forbidden.to_string()),
                "What a 403 on a team, channel or message collection does: 'fail' the statement (default) or 'skip' the child, report it and mark the statement partial",
            ),
            (
                "message_source",
                Some(self.message_source.to_string()),
                "Where message rows come from: auto, channel, export, delta",
            ),
            (
                "concurrency",
                Some(self.concurrency.to_string()),
                "Most team or channel page chains read at once (1-128); the scan opens as many as fill the throttle budget, up to this",
            ),
            (
                "page_size",
                self.page_size.map(|n| n.to_string()),
                "$top of list requests: NULL/'auto' for each endpoint's maximum, else 1-999 (at most 50 for messages)",
            ),
            (
                "throttle_scale",
                self.throttle_scale.map(|s| s.get().to_string()),
                "Multiplies every documented Graph rate limit (negotiated limits, a scaled simulator); NULL keeps the client's own (1)",
            ),
            (
                "column_names",
                Some(self.column_names.to_string()),
                "Column names of tables created from now on: 'snake' (display_name, default) or 'graph' (Graph's displayName; parent ids keep team_id, channel_id, parent_message_id)",
            ),
        ]
    }
}

impl ExtensionOptions for TeamsOptions {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, value: &str) -> datafusion::error::Result<()> {
        // `SET teams.key` arrives here without the prefix; a nested key is no key of ours.
        if key.contains('.') {
            return Err(DataFusionError::Configuration(
                TeamsError::option(
                    key,
                    format!("unknown option; expected one of {}", OPTION_KEYS.join(", ")),
                )
                .to_string(),
            ));
        }
        TeamsOptions::set(self, key, value)
            .map_err(|e| DataFusionError::Configuration(e.to_string()))
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        // Listed under their full names so `SHOW ALL` and `SHOW teams.on_forbidden` find them.
        TeamsOptions::entries(self)
            .into_iter()
            .map(|(key, value, description)| ConfigEntry {
                key: format!("{}.{key}", Self::PREFIX),
                value,
                description,
            })
            .collect()
    }
}

impl ConfigExtension for TeamsOptions {
    const PREFIX: &'static str = "teams";
}

/// What `register` needs: an authenticated Graph client and the default table options.
#[derive(Clone)]
pub struct TeamsConfig {
    pub client: GraphClient,
    pub options: TeamsOptions,
}

impl TeamsConfig {
    pub fn new(client: GraphClient) -> Self {
        TeamsConfig {
            client,
            options: TeamsOptions::default(),
        }
    }

    pub fn with_options(mut self, options: TeamsOptions) -> Self {
        self.options = options;
        self
    }
}

impl fmt::Debug for TeamsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The client holds credentials: show only that one is there.
        f.debug_struct("TeamsConfig")
            .field("client", &"GraphClient")
            .field("options", &self.options)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_and_reject() {
        let mut o = TeamsOptions::default();
        o.set("page_size", "50").unwrap();
        o.set("format.message_source", "EXPORT").unwrap();
        o.set("concurrency", "4").unwrap();
        assert_eq!(o.page_size, Some(50));
        assert_eq!(o.message_source, MessageSource::Export);
        assert_eq!(o.concurrency, 4);
        assert!(o.set("page_size", "0").is_err());
        assert!(o.set("message_source", "email").is_err());
        let err = o.set("client_secret", "x").unwrap_err().to_string();
        assert!(err.contains("never accepted"), "{err}");
        assert!(!err.contains(": x"), "{err}");
        assert!(o.set("colour", "blue").is_err());
        o.set("on_forbidden", "SKIP").unwrap();
        assert_eq!(o.on_forbidden, OnForbidden::Skip);
        let err = o.set("on_forbidden", "maybe").unwrap_err().to_string();
        assert!(err.contains("fail, skip"), "{err}");
        assert!(
            o.set("concurrency", "0")
                .unwrap_err()
                .to_string()
                .contains("1-128")
        );
        assert!(o.set("page_size", "1000").is_err());
        o.set("page_size", "51").unwrap();
        let err = o
            .check_for(crate::schema::Table::Messages)
            .unwrap_err()
            .to_string();
        assert!(err.contains("1-50"), "{err}");
        assert!(o.check_for(crate::schema::Table::Members).is_ok());
        o.set("page_size", "auto").unwrap();
        assert_eq!(o.page_size, None);
        o.set("throttle_scale", "2.5").unwrap();
        assert_eq!(o.throttle_scale.map(ThrottleScale::get), Some(2.5));
        for bad in ["0", "-1", "fast", "inf"] {
            let err = o.set("throttle_scale", bad).unwrap_err().to_string();
            assert!(err.contains("positive number"), "{err}");
        }
        o.set("throttle_scale", "auto").unwrap();
        assert_eq!(o.throttle_scale, None);
    }
}
