//! The scan node. EXPLAIN shows the pushed filters and the request plan; EXPLAIN ANALYZE the
//! Graph requests, pages, rows, bytes, retries, 429s, throttle wait and skipped children.
//!
//! Execution spawns one producer per partition that pulls row chunks from the sources, decodes
//! them into batches of at most the session's batch size and sends them through a bounded
//! channel (two batches). Memory is therefore a few pages whatever the tenant size, and dropping
//! the output stream aborts the producer, which drops the Graph streams: no request follows.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricsSet, RecordOutput};
use datafusion::physical_plan::stream::RecordBatchReceiverStreamBuilder;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    ReplaceChildrenOptions,
};
use futures::StreamExt;
use graph_client::{ChainScope, EndpointClass, GraphClient};
use tokio::sync::mpsc::Sender;

use crate::decode::decode_rows;
use crate::handle::RunState;
use crate::metrics::ScanMetrics;
use crate::naming;
use crate::plan::ScanPlan;
use crate::scan::Chunk;
use crate::scan::{Scan, Tally};
use crate::sources;

#[derive(Debug)]
pub struct TeamsScanExec {
    plan: Arc<ScanPlan>,
    /// The plan's schema under the table's column names (see `naming`).
    output: SchemaRef,
    /// The plan each output partition runs: the named teams split among partitions, or the
    /// whole plan in one partition when the scan discovers its parents (one discovery serves
    /// every team, so splitting it would list the tenant once per partition).
    partitions: Vec<Arc<ScanPlan>>,
    client: GraphClient,
    state: Arc<RunState>,
    /// Children read and refused by this node's partitions together.
    tally: Arc<Tally>,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl TeamsScanExec {
    pub(crate) fn new(
        plan: ScanPlan,
        output: SchemaRef,
        client: GraphClient,
        state: Arc<RunState>,
        target_partitions: usize,
    ) -> Self {
        let partitions: Vec<Arc<ScanPlan>> = plan
            .split_by_team(target_partitions)
            .into_iter()
            .map(Arc::new)
            .collect();
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&output)),
            // Each partition's producer keeps as many chains open as fill the throttle budget.
            Partitioning::UnknownPartitioning(partitions.len()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        let tally = Arc::new(Tally::new(partitions.len()));
        TeamsScanExec {
            plan: Arc::new(plan),
            output,
            tally,
            partitions,
            client,
            state,
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    /// The request plan (for tests and tools).
    pub fn describe(&self) -> String {
        self.plan.to_string()
    }
}

impl DisplayAs for TeamsScanExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        match t {
            DisplayFormatType::TreeRender => write!(f, "table={}", self.plan.table),
            _ => write!(
                f,
                "TeamsScanExec: {}, partitions={}",
                self.plan,
                self.partitions.len()
            ),
        }
    }
}

impl ExecutionPlan for TeamsScanExec {
    fn name(&self) -> &str {
        "TeamsScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let plan = self.partitions.get(partition).ok_or_else(|| {
            DataFusionError::Internal(format!(
                "TeamsScanExec has {} partitions, asked for {partition}",
                self.partitions.len()
            ))
        })?;
        let (client, stats) = self.client.scoped();
        let mut scan = Scan::new(
            Arc::clone(plan),
            client,
            Arc::clone(&self.state),
            ScanMetrics::new(&self.metrics, partition, stats),
            Arc::clone(&self.tally),
        );
        if let Some(scale) = plan.options.throttle_scale {
            // The budget is the app's in the tenant, so the scale is the client's.
            scan.client.set_throttle_scale(scale.get());
        }
        scan.permits = Arc::new(tokio::sync::Semaphore::new(
            scan.chains(EndpointClass::MessagesList, ChainScope::Channel),
        ));
        let scan = Arc::new(scan);
        let batch_size = context.session_config().batch_size().max(1);
        let output = Arc::clone(&self.output);
        let mut builder = RecordBatchReceiverStreamBuilder::new(Arc::clone(&output), 2);
        let tx = builder.tx();
        builder.spawn(produce(scan, tx, batch_size, output));
        Ok(builder.build())
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

async fn produce(
    scan: Arc<Scan>,
    tx: Sender<Result<RecordBatch>>,
    batch_size: usize,
    output: SchemaRef,
) -> Result<()> {
    let schema: SchemaRef = Arc::clone(&scan.plan.schema);
    let table = scan.plan.table;
    let mut remaining = scan.plan.limit;
    let mut rows = sources::rows(&scan);
    while remaining != Some(0) {
        let Some(chunk) = rows.next().await else {
            break;
        };
        let batches: Vec<RecordBatch> = match chunk.map_err(DataFusionError::from)? {
            Chunk::Values(mut rows) => {
                if let Some(r) = remaining {
                    rows.truncate(r);
                }
                let _timer = scan.metrics.baseline.elapsed_compute().timer();
                rows.chunks(batch_size)
                    .map(|piece| decode_rows(table, &schema, piece))
                    .collect::<Result<_, _>>()?
            }
            Chunk::Batch(batch) => {
                let n = remaining.map_or(batch.num_rows(), |r| r.min(batch.num_rows()));
                (0..n)
                    .step_by(batch_size)
                    .map(|o| batch.slice(o, batch_size.min(n - o)))
                    .collect()
            }
        };
        for batch in batches {
            let n = batch.num_rows();
            let batch = naming::rename(batch, &output)?.record_output(&scan.metrics.baseline);
            scan.state.rows_produced(n);
            if tx.send(Ok(batch)).await.is_err() {
                // The consumer is gone (LIMIT satisfied upstream, query cancelled).
                return Ok(());
            }
            if let Some(r) = remaining.as_mut() {
                *r -= n;
            }
        }
    }
    // Dropping the sources here, before reporting, guarantees no request is still in flight.
    drop(rows);
    scan.metrics.sync();
    scan.metrics.baseline.done();
    if remaining != Some(0) {
        // Read to the end (not stopped by a LIMIT): was anything read at all?
        scan.tally.partition_done(table)?;
        scan.read_to_the_end();
    }
    Ok(())
}
