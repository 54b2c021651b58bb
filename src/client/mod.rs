//! The pooled client.

mod event;
pub(crate) mod pool;

pub use event::{ClientEvent, CloseReason};
pub use pool::{PoolCounts, PoolStats};
