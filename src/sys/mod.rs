//! The syscall layer: the only module that calls libc.
//!
//! # Contract
//!
//! - Every libc call goes through [`syscall!`]: a `-1` return becomes
//!   `io::Error::last_os_error()`, and `EINTR` is retried for calls that are restartable
//!   (`syscall!(once ..)` is used for the two that are not: `connect` and `close`).
//! - Every fd this layer creates is non-blocking and close-on-exec, and is handed out as an
//!   [`OwnedFd`], so it is closed exactly once, when its owner drops it.
//! - Functions take `BorrowedFd` (the fd is open for the call) and plain Rust buffers; the
//!   `// SAFETY:` comment at each call names why the pointers and lengths handed to the
//!   kernel are valid for the call.
//! - Writes to sockets use `send`/`sendmsg` with `MSG_NOSIGNAL`: a write to a reset peer is
//!   an `EPIPE` error, never a `SIGPIPE`.

use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

use bytes::BytesMut;

/// Calls `libc::$fn`, turning `-1` into `io::Error::last_os_error()`.
///
/// The plain form retries on `EINTR`; `syscall!(once f(..))` does not (for calls that must
/// not be restarted). Each use carries its own `// SAFETY:` comment for its arguments.
macro_rules! syscall {
    (once $fn:ident ( $($arg:expr),* $(,)? )) => {{
        // SAFETY: the arguments satisfy the call's contract, as the `// SAFETY:` comment at
        // the use site states; the macro only adds the `-1` check.
        let res = unsafe { libc::$fn($($arg),*) };
        if res == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(res)
        }
    }};
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        loop {
            match syscall!(once $fn($($arg),*)) {
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                res => break res,
            }
        }
    }};
}

pub(crate) mod epoll;
pub(crate) mod eventfd;
pub(crate) mod socket;

/// Takes ownership of an fd the kernel just returned.
fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful syscall that creates an fd, so it is
    // open and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Reads into `buf`; `Ok(0)` is end of stream (or an empty `buf`).
pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the whole call.
    let n = syscall!(read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()))?;
    Ok(n as usize)
}

/// Reads into the spare capacity of `buf` (reserving [`READ_BUF_RESERVE`] bytes first when
/// it has none), at most `max` bytes (at least 1), and extends its length by the bytes read.
/// `max` bounds one read even when `reserve` gave the buffer more capacity than asked for.
pub(crate) fn read_buf(fd: BorrowedFd<'_>, buf: &mut BytesMut, max: usize) -> io::Result<usize> {
    if buf.capacity() == buf.len() {
        buf.reserve(READ_BUF_RESERVE);
    }
    let spare = buf.spare_capacity_mut();
    let len = spare.len().min(max.max(1));
    // SAFETY: `spare` is valid for writes of `spare.len() >= len` bytes; the kernel writes
    // bytes, never reads the uninitialised memory.
    let n = syscall!(read(fd.as_raw_fd(), spare.as_mut_ptr().cast(), len))? as usize;
    // SAFETY: the kernel initialised the first `n <= spare.len()` bytes of the spare capacity.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

/// How much [`read_buf`] reserves when the buffer has no spare capacity.
const READ_BUF_RESERVE: usize = 8 * 1024;

/// Sends `buf` on a socket with `MSG_NOSIGNAL`.
pub(crate) fn send(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes for the whole call.
    let n = syscall!(send(
        fd.as_raw_fd(),
        buf.as_ptr().cast(),
        buf.len(),
        libc::MSG_NOSIGNAL
    ))?;
    Ok(n as usize)
}

/// Sends the slices in order on a socket (`sendmsg`, i.e. `writev` with `MSG_NOSIGNAL`).
pub(crate) fn send_vectored(fd: BorrowedFd<'_>, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    let count = bufs.len().min(libc::UIO_MAXIOV as usize);
    // SAFETY: `msghdr` is plain data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    // `IoSlice` is documented to be ABI-compatible with `iovec` on Unix.
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = count as _;
    // SAFETY: `msg` points at `count` valid iovecs borrowed from `bufs` for the whole call,
    // and has no name or control data.
    let n = syscall!(sendmsg(fd.as_raw_fd(), &msg, libc::MSG_NOSIGNAL))?;
    Ok(n as usize)
}

/// Shuts down one or both directions of a socket.
pub(crate) fn shutdown(fd: BorrowedFd<'_>, how: std::net::Shutdown) -> io::Result<()> {
    let how = match how {
        std::net::Shutdown::Read => libc::SHUT_RD,
        std::net::Shutdown::Write => libc::SHUT_WR,
        std::net::Shutdown::Both => libc::SHUT_RDWR,
    };
    // SAFETY: `fd` is open for the call; `how` is a valid constant.
    syscall!(shutdown(fd.as_raw_fd(), how))?;
    Ok(())
}

/// Closes `fd`, reporting the error `close` returns (dropping an `OwnedFd` ignores it).
/// Never retried: after `EINTR` the fd is already closed on Linux.
pub(crate) fn close(fd: OwnedFd) -> io::Result<()> {
    let raw = fd.into_raw_fd();
    // SAFETY: `raw` came from an `OwnedFd` we consumed, so it is open and closed only here.
    syscall!(once close(raw))?;
    Ok(())
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the new soft limit.
pub(crate) fn raise_fd_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for the call.
    syscall!(getrlimit(libc::RLIMIT_NOFILE, &mut lim))?;
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: `lim` is a valid rlimit whose soft limit does not exceed its hard limit.
        syscall!(setrlimit(libc::RLIMIT_NOFILE, &lim))?;
    }
    Ok(lim.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    fn pair() -> (OwnedFd, OwnedFd) {
        socket::pair_for_tests().unwrap()
    }

    #[test]
    fn send_and_read_round_trip() {
        let (a, b) = pair();
        assert_eq!(send(a.as_fd(), b"hello").unwrap(), 5);
        let mut buf = [0u8; 16];
        assert_eq!(read(b.as_fd(), &mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"hello");
    }

    #[test]
    fn read_on_empty_nonblocking_socket_would_block() {
        let (_a, b) = pair();
        let err = read(b.as_fd(), &mut [0u8; 4]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn vectored_send_and_read_buf() {
        let (a, b) = pair();
        let bufs = [IoSlice::new(b"ab"), IoSlice::new(b"cde")];
        assert_eq!(send_vectored(a.as_fd(), &bufs).unwrap(), 5);
        let mut buf = BytesMut::new();
        assert_eq!(
            read_buf(b.as_fd(), &mut buf, 3).unwrap(),
            3,
            "bounded by max"
        );
        assert_eq!(read_buf(b.as_fd(), &mut buf, usize::MAX).unwrap(), 2);
        assert_eq!(&buf[..], b"abcde");
    }

    #[test]
    fn send_to_closed_peer_is_epipe_not_sigpipe() {
        let (a, b) = pair();
        close(b).unwrap();
        let err = send(a.as_fd(), b"x").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EPIPE));
    }

    #[test]
    fn shutdown_write_gives_peer_eof() {
        let (a, b) = pair();
        shutdown(a.as_fd(), std::net::Shutdown::Write).unwrap();
        assert_eq!(read(b.as_fd(), &mut [0u8; 4]).unwrap(), 0);
    }
}
