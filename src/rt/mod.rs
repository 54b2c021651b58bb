//! The event loop: reactor, executor, timers, sync primitives and sockets. No HTTP in here.

pub mod sync;
