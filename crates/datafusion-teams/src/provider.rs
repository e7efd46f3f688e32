//! `TeamsTable`: one of the five tables as a DataFusion `TableProvider`.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::config::ConfigOptions;
use datafusion::common::{Constraint, Constraints};
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;
use graph_client::GraphClient;

use crate::error::TeamsError;
use crate::exec::TeamsScanExec;
use crate::filters;
use crate::handle::RunState;
use crate::naming::ColumnNames;
use crate::options::TeamsOptions;
use crate::plan::ScanPlan;
use crate::schema::Table;

pub struct TeamsTable {
    table: Table,
    /// The schema SQL sees, under the table's column names.
    schema: SchemaRef,
    names: ColumnNames,
    constraints: Constraints,
    /// Used when the session has no `teams` settings (a provider moved to another session).
    defaults: TeamsOptions,
    /// `CREATE EXTERNAL TABLE ... OPTIONS`, already validated: they override the session's.
    own: Vec<(String, String)>,
    client: GraphClient,
    state: Arc<RunState>,
}

impl std::fmt::Debug for TeamsTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamsTable")
            .field("table", &self.table)
            .field("defaults", &self.defaults)
            .field("own", &self.own)
            .finish_non_exhaustive()
    }
}

impl TeamsTable {
    pub(crate) fn new(
        table: Table,
        defaults: TeamsOptions,
        own: Vec<(String, String)>,
        client: GraphClient,
        state: Arc<RunState>,
    ) -> Self {
        let mut resolved = defaults.clone();
        for (k, v) in &own {
            // Already validated by whoever gave them.
            let _ = resolved.set(k, v);
        }
        let names = resolved.column_names;
        let schema = table.schema();
        let key: Vec<usize> = table
            .primary_key()
            .iter()
            .filter_map(|k| schema.index_of(k).ok())
            .collect();
        TeamsTable {
            table,
            schema: names.schema(&schema),
            names,
            constraints: Constraints::new_unverified(vec![Constraint::PrimaryKey(key)]),
            defaults,
            own,
            client,
            state,
        }
    }

    pub fn table(&self) -> Table {
        self.table
    }

    /// The options a scan in `session` runs with: the session's `teams` settings (`SET
    /// teams.*`), else the defaults given to `register`, then this table's own options.
    pub fn options(&self, session: &ConfigOptions) -> Result<TeamsOptions, TeamsError> {
        let mut options = session
            .extensions
            .get::<TeamsOptions>()
            .cloned()
            .unwrap_or_else(|| self.defaults.clone());
        for (k, v) in &self.own {
            options.set(k, v)?;
        }
        options.check_for(self.table)?;
        Ok(options)
    }
}

#[async_trait]
impl TableProvider for TeamsTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// The primary key, for merges (message ids repeat across channels, hence the parents).
    fn constraints(&self) -> Option<&Constraints> {
        Some(&self.constraints)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| filters::classify(self.table, &self.names.to_snake(f)))
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // The connector reads under snake_case names; the scan renames its output.
        let snake = self.table.schema();
        let schema = match projection {
            Some(p) => Arc::new(snake.project(p)?),
            None => snake,
        };
        let output = self.names.schema(&schema);
        let filters: Vec<Expr> = filters.iter().map(|f| self.names.to_snake(f)).collect();
        let pushdown = filters::pushdown(self.table, &filters);
        let options = self.options(state.config_options())?;
        let plan = ScanPlan::new(
            self.table,
            schema,
            pushdown,
            options,
            limit,
            &self.state.facts(&self.client),
        );
        Ok(Arc::new(TeamsScanExec::new(
            plan,
            output,
            self.client.clone(),
            Arc::clone(&self.state),
            state.config_options().execution.target_partitions,
        )))
    }
}
