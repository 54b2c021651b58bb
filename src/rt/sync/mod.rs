//! Async lock and semaphore: thread-safe, FIFO-fair, cancel-safe.
//!
//! [`Semaphore`] is the primitive: a mutex-guarded count of free permits and a ticket-ordered
//! queue of waiters to which released permits are handed off directly. [`Mutex`] is a
//! one-permit semaphore guarding a value. Both may be shared across threads and woken from
//! any thread; neither needs the event loop. See each module for the fairness argument and
//! invariants; `tests/loom_sync.rs` checks them under loom.
//!
//! [`LocalSemaphore`] is the single-thread variant the connection pool queues on: a release
//! only wakes the oldest waiter, which takes the permit when it runs, so the order waiters see
//! their grants is the order they were granted.

mod local;
mod mutex;
mod semaphore;

pub use local::{LocalAcquire, LocalPermit, LocalSemaphore};
pub use mutex::{Mutex, MutexGuard, WouldBlock};
pub use semaphore::{
    Acquire, AcquireOwned, Closed, OwnedPermit, Permit, Semaphore, TryAcquireError,
};
