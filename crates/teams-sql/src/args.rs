//! Command-line arguments (clap). Credentials are deliberately not read through clap's `env`
//! support: `settings.rs` resolves flags, profile and environment in one documented order and
//! the secret itself never appears on the command line or in `--help`.

use std::path::PathBuf;

use clap::{ArgMatches, Parser};

use crate::print_format::PrintFormat;

const AFTER_HELP: &str = "\
Sign-in (--auth) follows the azure-identity conventions:
  secret             AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET
  certificate        AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_CERTIFICATE_PATH (PEM with key and
                     certificate, or PFX with AZURE_CLIENT_CERTIFICATE_PASSWORD)
  workload-identity  AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE (Kubernetes)
  managed-identity   IDENTITY_ENDPOINT + IDENTITY_HEADER (App Service, Container Apps, Functions),
                     else IMDS (VMs); AZURE_CLIENT_ID picks a user-assigned identity
  azure-cli          the account of `az login`
  default            the first of these that applies, in that order (DefaultAzureCredential's)
Without --auth (or a profile's auth), the default chain is used. Flags and the profile override the
environment. Secrets are only ever read from environment variables.

Exit codes:
  0  every statement succeeded and read everything it asked for
  1  a statement failed (Graph refused a team or channel under --on-forbidden fail, an error
     after retries, bad SQL...); scripts stop there
  2  bad usage, configuration or missing credentials
  3  every statement succeeded, but at least one read was partial: under --on-forbidden skip,
     Graph refused some teams or channels and they were left out (listed on stderr);
     --allow-partial turns this into 0
  130 cancelled (Ctrl-C)

Examples:
  teams-sql --demo -c \"SELECT display_name, visibility FROM teams\"
  teams-sql --demo -f sql/explore.sql
  teams-sql --format csv -c \"SELECT * FROM channels\" > channels.csv
  echo \"SELECT count(*) FROM members;\" | teams-sql --demo
  teams-sql sync --to lake/    # Delta tables kept equal to the tenant (teams-sql sync --help)";

#[derive(Debug, Parser)]
#[command(
    name = "teams-sql",
    version,
    about = "SQL over live Microsoft Teams data (Microsoft Graph), powered by Apache DataFusion",
    after_help = AFTER_HELP
)]
pub struct Args {
    /// Start a simulated Teams tenant in-process (loopback only) and connect to it
    #[arg(long)]
    pub demo: bool,

    /// Execute the given SQL (repeatable); exits after the last one
    #[arg(short = 'c', long = "command", value_name = "SQL")]
    pub commands: Vec<String>,

    /// Execute the SQL statements in FILE (repeatable); stops at the first failing statement
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Output format; `automatic` prints tables on terminals and CSV on pipes
    #[arg(long, value_enum, default_value_t = PrintFormat::Automatic)]
    pub format: PrintFormat,

    /// Directory (tenant) id of the app registration [default: $AZURE_TENANT_ID]
    #[arg(long, value_name = "GUID")]
    pub tenant_id: Option<String>,

    /// Application (client) id of the app registration [default: $AZURE_CLIENT_ID]
    #[arg(long, value_name = "GUID")]
    pub client_id: Option<String>,

    /// How to sign in: secret, certificate, workload-identity, managed-identity, azure-cli or
    /// default (see below) [default: default]
    #[arg(long, value_name = "METHOD")]
    pub auth: Option<String>,

    /// Name of the environment variable holding the client secret [default: AZURE_CLIENT_SECRET]
    #[arg(long, value_name = "NAME")]
    pub client_secret_env: Option<String>,

    /// National cloud: global, usgov, usgov-dod, china
    #[arg(long, value_name = "CLOUD")]
    pub cloud: Option<String>,

    /// Graph root without the version segment, e.g. https://graph.microsoft.com
    #[arg(long, value_name = "URL")]
    pub graph_endpoint: Option<String>,

    /// Entra ID authority host, e.g. https://login.microsoftonline.com [default: $AZURE_AUTHORITY_HOST]
    #[arg(long, value_name = "URL")]
    pub authority_host: Option<String>,

    /// Accept an https:// authority host that is not one of Microsoft's sign-in hosts (the
    /// client secret is sent there)
    #[arg(long)]
    pub allow_custom_authority: bool,

    /// Total deadline of one Graph or sign-in request (connect, headers, body), retried like a
    /// 504 when missed [default: 100]
    #[arg(long, value_name = "SECONDS")]
    pub request_timeout: Option<f64>,

    /// Most pages one Graph listing may take before it stops with an error [default: 100000]
    #[arg(long, value_name = "N")]
    pub max_pages: Option<u64>,

    /// Named profile from the config file (see --config)
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    /// TOML config file with named profiles [default: $TEAMS_SQL_CONFIG, else <config dir>/teams-sql/config.toml]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Where message tables read from: auto, channel, export, delta
    #[arg(long, value_name = "SOURCE")]
    pub message_source: Option<String>,

    /// Most team or channel page chains a query reads at once (an upper bound: queries open as
    /// many as fill Microsoft's throttle budget) [default: 64]
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,

    /// Multiplies every documented Graph rate limit: a tenant with negotiated limits, or a
    /// simulator run with `teams-graph-sim --throttle-scale` (same as SET teams.throttle_scale)
    /// [default: 1]
    #[arg(long, value_name = "X")]
    pub throttle_scale: Option<f64>,

    /// What a 403 on a team, channel or message collection does: `fail` the statement (default)
    /// or `skip` it, report it on stderr and exit 3 at the end (same as SET teams.on_forbidden)
    #[arg(long, value_name = "fail|skip")]
    pub on_forbidden: Option<String>,

    /// Accept partial reads: skip what Graph refuses (implies --on-forbidden skip unless given)
    /// and exit 0 rather than 3 when something was left out
    #[arg(long)]
    pub allow_partial: bool,

    /// Most rows a `table` result shows (0 = all); csv/json/ndjson are never cut
    #[arg(long, value_name = "N", default_value_t = crate::print_format::DEFAULT_MAX_ROWS)]
    pub maxrows: usize,

    /// Print only data: no row counts, timings or Graph request summaries on stderr
    #[arg(short, long)]
    pub quiet: bool,

    /// Log one line per Graph request on stderr (method, path, status, page, time, throttle
    /// wait); the same as RUST_LOG=teams_sql=debug,graph_client=debug
    #[arg(short, long)]
    pub verbose: bool,
}

/// One `-c` or `-f` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Command(String),
    File(PathBuf),
}

/// `-c` and `-f` arguments in the order they were given (clap keeps each kind in its own list,
/// with the position of every value on the command line).
pub fn inputs_in_order(args: &Args, matches: &ArgMatches) -> Vec<Input> {
    let positions = |id: &str| -> Vec<usize> {
        matches
            .indices_of(id)
            .map(|i| i.collect())
            .unwrap_or_default()
    };
    let mut inputs: Vec<(usize, Input)> = positions("commands")
        .into_iter()
        .zip(args.commands.iter().cloned().map(Input::Command))
        .chain(
            positions("files")
                .into_iter()
                .zip(args.files.iter().cloned().map(Input::File)),
        )
        .collect();
    inputs.sort_by_key(|(position, _)| *position);
    inputs.into_iter().map(|(_, input)| input).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches};

    #[test]
    fn c_and_f_keep_their_command_line_order() {
        let matches = Args::command()
            .try_get_matches_from([
                "teams-sql",
                "-f",
                "a.sql",
                "-c",
                "SELECT 1",
                "--file=b.sql",
                "-c",
                "SELECT 2",
            ])
            .unwrap();
        let args = Args::from_arg_matches(&matches).unwrap();
        assert_eq!(
            inputs_in_order(&args, &matches),
            vec![
                Input::File("a.sql".into()),
                Input::Command("SELECT 1".into()),
                Input::File("b.sql".into()),
                Input::Command("SELECT 2".into()),
            ]
        );
    }
}
