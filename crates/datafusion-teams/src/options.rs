//! Connector configuration: the Graph client plus per-table knobs.

use std::fmt;
use std::str::FromStr;

use graph_client::GraphClient;

use crate::error::TeamsError;

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

impl FromStr for MessageSource {
    type Err = TeamsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(MessageSource::Auto),
            "channel" => Ok(MessageSource::Channel),
            "export" => Ok(MessageSource::Export),
            "delta" => Ok(MessageSource::Delta),
            other => Err(TeamsError::option(
                "message_source",
                format!("'{other}' is not one of auto, channel, export, delta"),
            )),
        }
    }
}

impl fmt::Display for MessageSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MessageSource::Auto => "auto",
            MessageSource::Channel => "channel",
            MessageSource::Export => "export",
            MessageSource::Delta => "delta",
        })
    }
}

/// Per-table options. `register` applies one set to all five tables; `CREATE EXTERNAL TABLE
/// ... OPTIONS (...)` gives a table its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamsOptions {
    /// `$top` for list requests; `None` asks each endpoint for its documented maximum
    /// (50 for messages, 999 for members), which spends the fewest requests. Clamped to the
    /// endpoint's maximum.
    pub page_size: Option<u32>,
    pub message_source: MessageSource,
    /// How many teams are read at the same time (each with up to four channels at once, the
    /// per-team request rate Microsoft allows). A pushed LIMIT of one page or less reads one
    /// parent at a time.
    pub concurrency: usize,
}

impl Default for TeamsOptions {
    fn default() -> Self {
        TeamsOptions {
            page_size: None,
            message_source: MessageSource::Auto,
            concurrency: 8,
        }
    }
}

/// Option keys accepted in SQL.
pub const OPTION_KEYS: [&str; 3] = ["page_size", "message_source", "concurrency"];

impl TeamsOptions {
    /// Applies one `key = value` option (as written in `CREATE EXTERNAL TABLE ... OPTIONS`).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), TeamsError> {
        // DataFusion may prefix options with their namespace; the last segment is ours.
        let key = key.rsplit('.').next().unwrap_or(key).to_ascii_lowercase();
        match key.as_str() {
            "page_size" => {
                let n: u32 = value.trim().parse().map_err(|_| {
                    TeamsError::option("page_size", format!("'{value}' is not a positive integer"))
                })?;
                if n == 0 {
                    return Err(TeamsError::option("page_size", "must be at least 1"));
                }
                self.page_size = Some(n);
            }
            "message_source" => self.message_source = value.parse()?,
            "concurrency" => {
                let n: usize = value.trim().parse().map_err(|_| {
                    TeamsError::option(
                        "concurrency",
                        format!("'{value}' is not a positive integer"),
                    )
                })?;
                if n == 0 || n > 64 {
                    return Err(TeamsError::option(
                        "concurrency",
                        "must be between 1 and 64",
                    ));
                }
                self.concurrency = n;
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
    }
}
