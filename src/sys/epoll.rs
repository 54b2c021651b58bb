//! epoll: one instance per loop, and an events buffer allocated once.
//!
//! # Invariants
//! - [`Events`] never reallocates: its capacity is fixed at construction and `wait` asks the
//!   kernel for at most that many events, then sets its length to the number filled.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

/// Readable (`EPOLLIN`).
pub(crate) const IN: u32 = libc::EPOLLIN as u32;
/// Writable (`EPOLLOUT`).
pub(crate) const OUT: u32 = libc::EPOLLOUT as u32;
/// The peer shut down its write side (`EPOLLRDHUP`).
pub(crate) const RDHUP: u32 = libc::EPOLLRDHUP as u32;
/// Both directions hung up (`EPOLLHUP`).
pub(crate) const HUP: u32 = libc::EPOLLHUP as u32;
/// An error is pending on the fd (`EPOLLERR`).
pub(crate) const ERR: u32 = libc::EPOLLERR as u32;
/// Edge-triggered (`EPOLLET`).
pub(crate) const ET: u32 = libc::EPOLLET as u32;

/// An epoll instance.
#[derive(Debug)]
pub(crate) struct Epoll {
    /// The epoll fd (close-on-exec).
    fd: OwnedFd,
}

impl Epoll {
    /// Creates an epoll instance with `EPOLL_CLOEXEC`.
    pub(crate) fn new() -> io::Result<Epoll> {
        // SAFETY: no pointers; the flag is a valid constant.
        let fd = syscall!(epoll_create1(libc::EPOLL_CLOEXEC))?;
        Ok(Epoll {
            fd: super::owned(fd),
        })
    }

    /// Registers `fd` for `events`, reporting `token` with each event.
    pub(crate) fn add(&self, fd: BorrowedFd<'_>, token: u64, events: u32) -> io::Result<()> {
        let mut event = libc::epoll_event { events, u64: token };
        // SAFETY: both fds are open; `event` is a valid epoll_event for the call.
        syscall!(epoll_ctl(
            self.fd.as_raw_fd(),
            libc::EPOLL_CTL_ADD,
            fd.as_raw_fd(),
            &mut event
        ))?;
        Ok(())
    }

    /// Deregisters `fd`.
    pub(crate) fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        // SAFETY: both fds are open; DEL ignores the event pointer (null allowed since 2.6.9).
        syscall!(epoll_ctl(
            self.fd.as_raw_fd(),
            libc::EPOLL_CTL_DEL,
            fd.as_raw_fd(),
            std::ptr::null_mut()
        ))?;
        Ok(())
    }

    /// Waits up to `timeout_ms` (-1: forever) and fills `events`; returns how many arrived.
    /// An interrupted wait (`EINTR`) returns 0 events, so the caller recomputes its timeout.
    pub(crate) fn wait(&self, events: &mut Events, timeout_ms: i32) -> io::Result<usize> {
        events.buf.clear();
        let cap = events.buf.capacity();
        // SAFETY: `buf` has room for `cap` epoll_events and is not otherwise borrowed;
        // the kernel writes at most `cap` of them.
        let res = syscall!(once epoll_wait(
            self.fd.as_raw_fd(),
            events.buf.as_mut_ptr(),
            cap as libc::c_int,
            timeout_ms
        ));
        let n = match res {
            Ok(n) => n as usize,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => 0,
            Err(err) => return Err(err),
        };
        // SAFETY: `n <= cap`, and the kernel initialised the first `n` entries.
        unsafe { events.buf.set_len(n) };
        Ok(n)
    }
}

/// A buffer for the events one `epoll_wait` returns, allocated once.
pub(crate) struct Events {
    /// The events of the last wait; capacity fixed at construction.
    buf: Vec<libc::epoll_event>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("len", &self.buf.len())
            .finish()
    }
}

impl Events {
    /// A buffer for up to `capacity` events per wait.
    pub(crate) fn with_capacity(capacity: usize) -> Events {
        Events {
            buf: Vec::with_capacity(capacity.max(1)),
        }
    }

    /// The `(token, event flags)` of event `i` of the last wait.
    pub(crate) fn get(&self, i: usize) -> Option<(u64, u32)> {
        self.buf.get(i).map(|e| (e.u64, e.events))
    }

    /// How many events the last wait filled.
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn edge_triggered_readiness_is_reported_with_its_token() {
        let ep = Epoll::new().unwrap();
        let (a, b) = super::super::socket::pair_for_tests().unwrap();
        ep.add(b.as_fd(), 7, IN | OUT | RDHUP | ET).unwrap();
        let mut events = Events::with_capacity(8);
        assert_eq!(ep.wait(&mut events, 0).unwrap(), 1);
        let (token, flags) = events.get(0).unwrap();
        assert_eq!(token, 7);
        assert_ne!(flags & OUT, 0);
        // Edge-triggered: no new edge, no event.
        assert_eq!(ep.wait(&mut events, 0).unwrap(), 0);
        super::super::send(a.as_fd(), b"x").unwrap();
        assert_eq!(ep.wait(&mut events, 0).unwrap(), 1);
        assert_ne!(events.get(0).unwrap().1 & IN, 0);
        assert!(events.get(1).is_none());
        ep.delete(b.as_fd()).unwrap();
        super::super::send(a.as_fd(), b"x").unwrap();
        assert_eq!(ep.wait(&mut events, 0).unwrap(), 0);
    }
}
