//! The pooled client.

mod event;
// Used by the Client, which lands with the connection layer (src/conn).
#[allow(dead_code)]
pub(crate) mod pool;
#[allow(dead_code)]
pub(crate) mod retry;

pub use event::{ClientEvent, CloseReason};
pub use pool::{PoolCounts, PoolStats};
