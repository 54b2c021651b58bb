//! eventfd: how another thread wakes a loop blocked in `epoll_wait`.
//!
//! # Invariant
//! The fd is non-blocking: `notify` never blocks (a saturated counter is already a pending
//! wake-up) and `drain` never blocks (an empty counter is nothing to drain).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// A non-blocking, close-on-exec eventfd.
#[derive(Debug)]
pub(crate) struct EventFd {
    /// The eventfd.
    fd: OwnedFd,
}

impl EventFd {
    /// Creates an eventfd with counter 0.
    pub(crate) fn new() -> io::Result<EventFd> {
        // SAFETY: no pointers; the flags are valid constants.
        let fd = syscall!(eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK))?;
        Ok(EventFd {
            fd: super::owned(fd),
        })
    }

    /// Adds 1 to the counter, making the fd readable. Safe to call from any thread.
    pub(crate) fn notify(&self) -> io::Result<()> {
        let one: u64 = 1;
        // SAFETY: `one` is 8 readable bytes for the call, the size eventfd requires.
        match syscall!(write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8)) {
            Ok(_) => Ok(()),
            // The counter is saturated: a wake-up is already pending.
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Resets the counter to 0 so the next `notify` is a new edge.
    pub(crate) fn drain(&self) -> io::Result<()> {
        let mut count: u64 = 0;
        // SAFETY: `count` is 8 writable bytes for the call, the size eventfd requires.
        match syscall!(read(
            self.fd.as_raw_fd(),
            (&mut count as *mut u64).cast(),
            8
        )) {
            Ok(_) => Ok(()),
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(err) => Err(err),
        }
    }
}

impl AsFd for EventFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_then_drain_then_empty() {
        let efd = EventFd::new().unwrap();
        efd.notify().unwrap();
        efd.notify().unwrap();
        efd.drain().unwrap();
        let mut buf = [0u8; 8];
        let err = super::super::read(efd.as_fd(), &mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        efd.drain().unwrap();
    }
}
