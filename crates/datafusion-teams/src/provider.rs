//! `TeamsTable`: one of the five tables as a DataFusion `TableProvider`.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{Constraint, Constraints};
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;
use graph_client::GraphClient;

use crate::exec::TeamsScanExec;
use crate::filters;
use crate::handle::RunState;
use crate::options::TeamsOptions;
use crate::plan::ScanPlan;
use crate::schema::Table;

pub struct TeamsTable {
    table: Table,
    schema: SchemaRef,
    constraints: Constraints,
    options: TeamsOptions,
    client: GraphClient,
    state: Arc<RunState>,
}

impl std::fmt::Debug for TeamsTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamsTable")
            .field("table", &self.table)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl TeamsTable {
    pub(crate) fn new(
        table: Table,
        options: TeamsOptions,
        client: GraphClient,
        state: Arc<RunState>,
    ) -> Self {
        let schema = table.schema();
        let key: Vec<usize> = table
            .primary_key()
            .iter()
            .filter_map(|k| schema.index_of(k).ok())
            .collect();
        TeamsTable {
            table,
            schema,
            constraints: Constraints::new_unverified(vec![Constraint::PrimaryKey(key)]),
            options,
            client,
            state,
        }
    }

    pub fn table(&self) -> Table {
        self.table
    }

    pub fn options(&self) -> &TeamsOptions {
        &self.options
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
            .map(|f| filters::classify(self.table, f))
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let schema = match projection {
            Some(p) => Arc::new(self.schema.project(p)?),
            None => Arc::clone(&self.schema),
        };
        let pushdown = filters::pushdown(self.table, filters);
        let plan = ScanPlan::new(self.table, schema, pushdown, self.options.clone(), limit);
        Ok(Arc::new(TeamsScanExec::new(
            plan,
            self.client.clone(),
            Arc::clone(&self.state),
            state.config_options().execution.target_partitions,
        )))
    }
}
