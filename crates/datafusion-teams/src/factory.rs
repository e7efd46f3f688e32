//! `CREATE EXTERNAL TABLE t STORED AS TEAMS LOCATION 'messages' OPTIONS ('message_source'
//! 'export', 'page_size' '50')`: a table with its own options. The Graph client (and so the
//! credentials) is the one given to `register`; SQL text never carries credentials.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider, TableProviderFactory};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::CreateExternalTable;
use graph_client::GraphClient;

use crate::error::TeamsError;
use crate::handle::RunState;
use crate::options::TeamsOptions;
use crate::provider::TeamsTable;
use crate::schema::{TABLE_NAMES, Table};

/// The `STORED AS` name of the factory.
pub const FACTORY_NAME: &str = "TEAMS";

pub struct TeamsTableFactory {
    defaults: TeamsOptions,
    client: GraphClient,
    state: Arc<RunState>,
}

impl std::fmt::Debug for TeamsTableFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamsTableFactory")
            .field("defaults", &self.defaults)
            .finish_non_exhaustive()
    }
}

impl TeamsTableFactory {
    pub(crate) fn new(defaults: TeamsOptions, client: GraphClient, state: Arc<RunState>) -> Self {
        TeamsTableFactory {
            defaults,
            client,
            state,
        }
    }
}

/// The table a `LOCATION` names: `messages`, `teams.messages` or `teams://messages`.
fn table_of(location: &str) -> Result<Table, TeamsError> {
    let name = location
        .trim()
        .trim_start_matches("teams://")
        .trim_end_matches('/');
    let name = name.strip_prefix("teams.").unwrap_or(name);
    name.parse::<Table>().map_err(|_| {
        TeamsError::UnknownTable(format!(
            "LOCATION '{location}' is not a Teams table; use one of {}",
            TABLE_NAMES.join(", ")
        ))
    })
}

#[async_trait]
impl TableProviderFactory for TeamsTableFactory {
    async fn create(
        &self,
        state: &dyn Session,
        cmd: &CreateExternalTable,
    ) -> Result<Arc<dyn TableProvider>> {
        let location = match cmd.locations.as_slice() {
            [one] => one,
            _ => {
                return Err(DataFusionError::Plan(
                    "STORED AS TEAMS takes exactly one LOCATION: the table name".into(),
                ));
            }
        };
        let table = table_of(location)?;
        if !cmd.schema.fields().is_empty() {
            return Err(DataFusionError::Plan(format!(
                "STORED AS TEAMS tables have a fixed schema; drop the column list (see DESCRIBE teams.{table})"
            )));
        }
        // Checked now, so a bad option fails the CREATE rather than every later query; kept as
        // written, so the session's `SET teams.*` still applies to what the table leaves open.
        let mut own: Vec<(String, String)> = cmd
            .options
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // Column names are fixed at creation: a table that does not name them takes the
        // session's `SET teams.column_names`.
        if !own
            .iter()
            .any(|(k, _)| k.rsplit('.').next() == Some("column_names"))
        {
            let session = state.config_options().extensions.get::<TeamsOptions>();
            let names = session.unwrap_or(&self.defaults).column_names;
            own.push(("column_names".to_string(), names.to_string()));
        }
        own.sort();
        let mut options = self.defaults.clone();
        for (k, v) in &own {
            options.set(k, v)?;
        }
        options.check_for(table)?;
        Ok(Arc::new(TeamsTable::new(
            table,
            self.defaults.clone(),
            own,
            self.client.clone(),
            Arc::clone(&self.state),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_name_tables() {
        assert_eq!(table_of("messages").unwrap(), Table::Messages);
        assert_eq!(
            table_of("teams://message_replies").unwrap(),
            Table::MessageReplies
        );
        assert_eq!(table_of("teams.teams").unwrap(), Table::Teams);
        assert!(table_of("s3://bucket/x").is_err());
    }
}
