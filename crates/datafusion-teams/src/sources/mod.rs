//! One module per table family: each turns the scan's plan into a stream of row chunks.

mod channels;
mod members;
pub(crate) mod messages;
mod teams;

use std::sync::Arc;

use futures::stream::{self, StreamExt};

use crate::access::Read;
use crate::scan::{Chunk, RowStream, Scan, ValueStream};
use crate::schema::Table;

/// The rows of the scanned table.
pub(crate) fn rows(scan: &Arc<Scan>) -> RowStream {
    if scan.plan.access.read == Read::Nothing {
        return stream::empty().boxed();
    }
    match scan.plan.table {
        Table::Teams => values(teams::rows(scan)),
        Table::Channels => values(channels::rows(scan)),
        Table::Members => values(members::rows(scan)),
        Table::Messages | Table::MessageReplies => messages::rows(scan),
    }
}

/// A stream of JSON rows (the tables other than messages) as chunks.
fn values(rows: ValueStream) -> RowStream {
    rows.map(|r| r.map(Chunk::Values)).boxed()
}
