//! A connected shell: the DataFusion session, the tenant it reads and how it prints. What runs
//! statements is `exec.rs`; what answers `\commands` is `command.rs`.

use datafusion::prelude::SessionContext;
use datafusion_teams::{TeamsConfig, TeamsHandle};

use crate::credentials::Connection;
use crate::demo::{self, DemoTenant};
use crate::error::Result;
use crate::print_format::{PrintFormat, PrintOptions};
use crate::session;
use crate::settings::{Settings, Tenant};
use crate::stats::GraphCounters;

/// What the caller should do after a statement or command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
}

pub struct Shell {
    pub ctx: SessionContext,
    pub(crate) teams: Option<TeamsHandle>,
    connection: Option<Connection>,
    pub print: PrintOptions,
    /// `--allow-partial`: statements that left out refused children do not change the exit code.
    pub allow_partial: bool,
    /// Statements whose read was partial and not accepted (see `--allow-partial`).
    pub partial_statements: usize,
    /// Files `\i` is running now, outermost first.
    pub(crate) include_depth: usize,
    _demo: Option<DemoTenant>,
}

impl Shell {
    /// A shell with no tenant attached (used by unit tests and as a building block).
    pub fn offline(format: PrintFormat) -> Self {
        Shell {
            ctx: session::new_context(),
            teams: None,
            connection: None,
            print: PrintOptions::new(format),
            allow_partial: false,
            partial_statements: 0,
            include_depth: 0,
            _demo: None,
        }
    }

    /// Starts the demo tenant if asked for and registers the Teams tables.
    pub async fn connect(settings: Settings, print: PrintOptions) -> Result<Self> {
        let Settings {
            tenant,
            options,
            allow_partial,
            demo_clock,
        } = settings;
        let (demo, connection) = match tenant {
            Tenant::Demo => {
                let (tenant, conn) = demo::start(demo_clock).await?;
                (Some(tenant), conn)
            }
            Tenant::Entra(conn) => (None, *conn),
        };
        let client = connection.client()?;
        if let Some(scale) = options.throttle_scale {
            // Requests outside scans (catalog browsing) are paced by it too.
            client.set_throttle_scale(scale.get());
        }
        let mut shell = Shell::offline(print.format);
        shell.print = print;
        shell.allow_partial = allow_partial;
        let handle =
            datafusion_teams::register(&shell.ctx, TeamsConfig { client, options }).await?;
        shell.teams = Some(handle);
        shell.connection = Some(connection);
        shell._demo = demo;
        Ok(shell)
    }

    /// The Teams tables' handle (`None` offline): `teams-sql sync` reads through it.
    pub fn teams(&self) -> Option<&TeamsHandle> {
        self.teams.as_ref()
    }

    pub fn connection(&self) -> Option<&Connection> {
        self.connection.as_ref()
    }

    /// True when `text` holds the client secret this shell signs in with.
    pub fn holds_secret(&self, text: &str) -> bool {
        self.connection
            .as_ref()
            .is_some_and(|c| c.secret_appears_in(text))
    }

    pub(crate) fn graph_counters(&self) -> Option<GraphCounters> {
        self.teams
            .as_ref()
            .map(|t| GraphCounters::from_snapshot(&t.client().stats()).with_scans(t))
    }
}
