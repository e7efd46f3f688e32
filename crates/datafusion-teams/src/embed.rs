//! For engines that place the tables themselves: each table provider, the `STORED AS` factory
//! and a whole schema, built from one [`TeamsHandle`] and registered under the engine's own
//! names, and [`register_in_schema`], which adds the five tables to a catalog and schema the
//! engine already has without replacing anything in it.
//!
//! Everything built from one handle shares its notices and what the run learned about the tenant
//! (export API refused, delta unsupported), as the tables of [`crate::register`] do.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{
    CatalogProvider, MemoryCatalogProvider, MemorySchemaProvider, SchemaProvider, TableProvider,
};
use datafusion::error::{DataFusionError, Result};
use datafusion::prelude::SessionContext;
use graph_client::GraphClient;

use crate::factory::TeamsTableFactory;
use crate::handle::TeamsHandle;
use crate::options::{TeamsConfig, TeamsOptions};
use crate::provider::TeamsTable;
use crate::schema::Table;

impl TeamsHandle {
    /// A handle of its own, for building tables, factories and schemas one by one (what
    /// [`crate::register`] does in one call).
    pub fn new(client: GraphClient) -> Self {
        TeamsHandle {
            client,
            state: Arc::default(),
        }
    }

    /// One table as a `TableProvider`, to register under any name:
    /// `ctx.register_table("chat", Arc::new(handle.table(Table::Messages, options)))`.
    pub fn table(&self, table: Table, options: TeamsOptions) -> TeamsTable {
        TeamsTable::new(
            table,
            options,
            Vec::new(),
            self.client.clone(),
            Arc::clone(&self.state),
        )
    }

    /// The `CREATE EXTERNAL TABLE ... STORED AS <name>` factory, `options` being the defaults a
    /// statement's `OPTIONS` override. DataFusion upper-cases the `STORED AS` word before looking
    /// the factory up, so register it under an upper-case name:
    /// `state.table_factories_mut().insert("MSTEAMS".into(), Arc::new(factory))`.
    pub fn table_factory(&self, options: TeamsOptions) -> TeamsTableFactory {
        TeamsTableFactory::new(options, self.client.clone(), Arc::clone(&self.state))
    }

    /// The five tables as one schema, for `CatalogProvider::register_schema` under any name.
    pub fn schema_provider(&self, options: TeamsOptions) -> TeamsSchemaProvider {
        TeamsSchemaProvider {
            tables: Table::ALL.map(|table| Arc::new(self.table(table, options.clone()))),
        }
    }
}

/// The five tables (`teams`, `channels`, `members`, `messages`, `message_replies`) as a
/// read-only schema. To mix them with tables of your own in one schema, use
/// [`register_in_schema`] instead.
#[derive(Debug)]
pub struct TeamsSchemaProvider {
    tables: [Arc<TeamsTable>; 5],
}

impl TeamsSchemaProvider {
    fn get(&self, name: &str) -> Option<&Arc<TeamsTable>> {
        self.tables.iter().find(|t| t.table().name() == name)
    }
}

#[async_trait]
impl SchemaProvider for TeamsSchemaProvider {
    fn table_names(&self) -> Vec<String> {
        self.tables
            .iter()
            .map(|t| t.table().name().to_string())
            .collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        Ok(self
            .get(name)
            .map(|t| Arc::clone(t) as Arc<dyn TableProvider>))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// Adds the five tables to schema `schema` of catalog `catalog`, creating the catalog or the
/// schema (in memory) if the session has none by that name, and keeping every table already
/// there. If one of the five names is taken in that schema, nothing is added and the error
/// names the taken tables: an engine's own table is never replaced.
///
/// The program the README's "Embedding" section shows (tests/readme.rs keeps the two equal; the
/// runnable version against a simulated tenant is `examples/embed.rs`):
///
/// ```no_run
/// use std::sync::Arc;
///
/// use datafusion::prelude::SessionContext;
/// use datafusion_teams::{Table, TeamsConfig, TeamsOptions, register_in_schema};
/// use graph_client::{GraphClient, GraphConfig};
///
/// #[tokio::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     // AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET: credentials never go through SQL.
///     let client = GraphClient::new(GraphConfig::from_env()?)?;
///     let ctx = SessionContext::new(); // your engine's session, with its own catalogs and tables
///
///     // The five tables into a catalog and schema of yours, created if missing. Tables already
///     // there stay; a name they share with the five is an error, never a replacement.
///     let handle = register_in_schema(&ctx, "lake", "crm", TeamsConfig::new(client))?;
///     // One table under a name of yours, and `STORED AS MSTEAMS` for tables with own options.
///     let chat = handle.table(Table::Messages, TeamsOptions::default());
///     ctx.register_table("chat", Arc::new(chat))?;
///     let factory = handle.table_factory(TeamsOptions::default());
///     ctx.state_ref().write().table_factories_mut().insert("MSTEAMS".into(), Arc::new(factory));
///
///     let sql = "SELECT team_id, count(*) AS posts FROM lake.crm.messages GROUP BY team_id";
///     ctx.sql(sql).await?.show().await?;
///     for notice in handle.take_notices() {
///         eprintln!("{notice}"); // teams or channels Graph refused (403/404), source fallbacks
///     }
///     Ok(())
/// }
/// ```
pub fn register_in_schema(
    ctx: &SessionContext,
    catalog: &str,
    schema: &str,
    config: TeamsConfig,
) -> Result<TeamsHandle> {
    let catalog_provider = match ctx.catalog(catalog) {
        Some(existing) => existing,
        None => {
            let created: Arc<dyn CatalogProvider> = Arc::new(MemoryCatalogProvider::new());
            ctx.register_catalog(catalog, Arc::clone(&created));
            created
        }
    };
    let schema_provider = match catalog_provider.schema(schema) {
        Some(existing) => existing,
        None => {
            let created: Arc<dyn SchemaProvider> = Arc::new(MemorySchemaProvider::new());
            catalog_provider.register_schema(schema, Arc::clone(&created))?;
            created
        }
    };
    let handle = TeamsHandle::new(config.client);
    // `SET teams.*` needs the settings in the session, as `register` puts them there; an
    // engine that installed them already keeps its values.
    {
        let state = ctx.state_ref();
        let mut state = state.write();
        let extensions = &mut state.config_mut().options_mut().extensions;
        if extensions.get::<TeamsOptions>().is_none() {
            extensions.insert(config.options.clone());
        }
    }
    add_tables(
        schema_provider.as_ref(),
        &format!("{catalog}.{schema}"),
        &handle,
        &config.options,
    )?;
    Ok(handle)
}

/// All five or none: checked first, and undone if the schema refuses one half-way.
fn add_tables(
    schema: &dyn SchemaProvider,
    schema_name: &str,
    handle: &TeamsHandle,
    options: &TeamsOptions,
) -> Result<()> {
    let taken: Vec<&str> = Table::ALL
        .iter()
        .map(|t| t.name())
        .filter(|name| schema.table_exist(name))
        .collect();
    if !taken.is_empty() {
        return Err(DataFusionError::Plan(format!(
            "{schema_name} already has tables named {}; install the Teams tables into another \
             schema, or register them one by one under other names with TeamsHandle::table",
            taken.join(", ")
        )));
    }
    let mut added = Vec::new();
    for table in Table::ALL {
        let provider = Arc::new(handle.table(table, options.clone()));
        if let Err(e) = schema.register_table(table.name().to_string(), provider) {
            for name in added {
                let _ = schema.deregister_table(name);
            }
            return Err(e.context(format!(
                "adding the Teams table {} to {schema_name}",
                table.name()
            )));
        }
        added.push(table.name());
    }
    Ok(())
}
