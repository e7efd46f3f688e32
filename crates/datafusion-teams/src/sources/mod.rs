//! One module per table family: each turns the scan's plan into a stream of row chunks.

mod channels;
mod members;
pub(crate) mod messages;
mod teams;

use std::sync::Arc;

use futures::stream::{self, StreamExt};

use crate::access::Read;
use crate::scan::{RowStream, Scan};
use crate::schema::Table;

/// The rows of the scanned table.
pub(crate) fn rows(scan: &Arc<Scan>) -> RowStream {
    if scan.plan.access.read == Read::Nothing {
        return stream::empty().boxed();
    }
    match scan.plan.table {
        Table::Teams => teams::rows(scan),
        Table::Channels => channels::rows(scan),
        Table::Members => members::rows(scan),
        Table::Messages | Table::MessageReplies => messages::rows(scan),
    }
}
