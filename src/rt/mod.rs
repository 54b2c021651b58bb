//! The event loop: reactor, executor, timers, sync primitives and sockets. No HTTP in here.
//!
//! One [`Runtime`] per thread: an epoll reactor with a waiter table per fd, a FIFO executor
//! whose wakers are `Send + Sync`, timers, and non-blocking TCP and Unix streams.
//!
//! ```
//! use weir::rt::net::{AsyncStream, TcpListener, TcpStream};
//! weir::rt::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
//!     let addr = listener.local_addr()?;
//!     let server = weir::rt::spawn(async move {
//!         let (mut s, _) = listener.accept().await?;
//!         let mut buf = [0u8; 5];
//!         let n = s.read(&mut buf).await?;
//!         s.write_all(&buf[..n]).await
//!     });
//!     let mut c = TcpStream::connect(addr).await?;
//!     c.write_all(b"hello").await?;
//!     let mut buf = [0u8; 5];
//!     let n = c.read(&mut buf).await?;
//!     assert_eq!(&buf[..n], b"hello");
//!     server.await.unwrap()
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```

mod executor;
#[cfg(not(loom))]
pub(crate) mod inject;
#[cfg(loom)] // public only so that tests/loom_inject.rs can model it
#[doc(hidden)]
pub mod inject;
pub mod net;
pub(crate) mod reactor;
mod slab;
pub mod sync;
pub mod time;

pub(crate) use executor::in_runtime;
pub use executor::{
    block_on, loop_stats, spawn, yield_now, JoinError, JoinHandle, LoopStats, Runtime, YieldNow,
};

/// Raises this process's soft open-file limit (`RLIMIT_NOFILE`) to the hard limit and
/// returns the new soft limit. Load generators and tests with many sockets need it.
///
/// # Examples
/// ```
/// let limit = weir::rt::raise_fd_limit()?;
/// assert!(limit > 0);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn raise_fd_limit() -> std::io::Result<u64> {
    crate::sys::raise_fd_limit()
}

/// The identity of this thread's running loop (its core's address, unique while anything
/// registered with it lives). The pool tags idle connections with it: a connection registered
/// with one loop must never be used on another.
///
/// # Panics
/// Outside a running [`Runtime::block_on`].
pub(crate) fn loop_id() -> usize {
    std::rc::Rc::as_ptr(&executor::current("the client")) as usize
}
