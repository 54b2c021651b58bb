//! The event loop: reactor, executor, timers, sync primitives and sockets. No HTTP in here.

#[cfg(not(loom))]
pub(crate) mod inject;
#[cfg(loom)] // public only so that tests/loom_inject.rs can model it
#[doc(hidden)]
pub mod inject;
pub mod sync;
