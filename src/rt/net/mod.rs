//! Non-blocking sockets on the loop: [`TcpStream`], [`TcpListener`], [`UnixStream`],
//! [`UnixListener`], the [`AsyncStream`] trait the HTTP layer is generic over, and
//! [`resolve`].
//!
//! # Invariants
//! - Every socket is registered with the reactor once, at creation, and deregistered once,
//!   by `close` or `Drop`, which also wakes any task waiting on it (it then gets an error).
//! - Every I/O call first asks the fd's waiter slot (`Poll`); a call that would block, or
//!   that was short, clears the slot (`Clear`) — see the reactor's module doc for why a short
//!   transfer is enough under edge triggering.
//! - After `close`/`disconnect`, I/O fails with `NotConnected` without touching the fd.
//! - A socket belongs to the runtime it was created on (it holds an `Rc` to it, so it is
//!   `!Send`); it makes progress only while that runtime's `block_on` runs.
//! - Each direction keeps one waiter: a second task polling the same direction replaces the
//!   first one's waker (the model's `Poll` in `Waiting`), as with `&mut` access there is
//!   only ever one. Every future that can leave a waker in a slot (read, write, accept,
//!   connect) removes it when dropped while pending (the model's `Drop`).

use std::future::Future;
use std::io::{self, IoSlice};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{ready, Context, Poll};

use bytes::BytesMut;

use super::executor::{current, Core};
use super::reactor::{Token, READ, WRITE};
use crate::sys;

mod resolve;
mod tcp;
mod unix;

#[doc(hidden)]
pub use resolve::set_resolve_hook_for_tests;
pub use resolve::{resolve, Resolve};
pub use tcp::{TcpListener, TcpStream};
pub use unix::{UnixListener, UnixStream};

/// Backlog for listening sockets (the kernel caps it at `somaxconn`).
const LISTEN_BACKLOG: i32 = 1024;

/// A byte stream on the loop: what the HTTP connection is generic over.
///
/// The `poll_*` methods follow the usual contract: `Pending` means the task's waker is
/// stored and will be woken when the direction is ready, on hang-up, or on close.
pub trait AsyncStream {
    /// Reads into `buf`; `Ok(0)` is end of stream.
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;
    /// Reads into the spare capacity of `buf` (reserving some if it has none).
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<io::Result<usize>>;
    /// As [`poll_read_buf`](Self::poll_read_buf), but reads at most `max` bytes (at least 1):
    /// the bound holds even when `buf` has more spare capacity than that.
    fn poll_read_buf_at_most(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
        max: usize,
    ) -> Poll<io::Result<usize>>;
    /// Writes some of `buf`.
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;
    /// Writes some of `bufs`, in order, in one call.
    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>>;
    /// Shuts down one or both directions.
    fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()>;
    /// Whether the peer hung up or the socket saw an error, as recorded by the waiter table
    /// (no syscall).
    fn peer_hung_up(&self) -> bool;
    /// Removes the waker a pending read (`write == false`) or write registered; the futures
    /// below call it when dropped while pending. The default does nothing.
    fn drop_waiter(&self, write: bool) {
        let _ = write;
    }
    /// Waits until a read would not block (bytes, end of stream or an error are there),
    /// without reading: `Pending` stores the waker as a read does (remove it with
    /// [`drop_waiter(false)`](Self::drop_waiter) when giving up). No syscall: it asks the
    /// readiness the loop recorded. Lets a caller take a read buffer only once bytes are
    /// there. `Ready` may be spurious (the read then returns `Pending`). The default says
    /// `Ready` at once: try the read.
    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let _ = cx;
        Poll::Ready(Ok(()))
    }

    /// Reads into `buf`; `Ok(0)` is end of stream.
    fn read<'a>(&'a mut self, buf: &'a mut [u8]) -> Read<'a, Self>
    where
        Self: Unpin,
    {
        Read {
            stream: self,
            buf,
            pending: false,
        }
    }
    /// Reads into the spare capacity of `buf`.
    fn read_buf<'a>(&'a mut self, buf: &'a mut BytesMut) -> ReadBuf<'a, Self>
    where
        Self: Unpin,
    {
        ReadBuf {
            stream: self,
            buf,
            pending: false,
        }
    }
    /// Writes some of `buf`.
    fn write<'a>(&'a mut self, buf: &'a [u8]) -> Write<'a, Self>
    where
        Self: Unpin,
    {
        Write {
            stream: self,
            buf,
            pending: false,
        }
    }
    /// Writes all of `buf`.
    fn write_all<'a>(&'a mut self, buf: &'a [u8]) -> WriteAll<'a, Self>
    where
        Self: Unpin,
    {
        WriteAll {
            stream: self,
            buf,
            pending: false,
        }
    }
    /// Writes all of `bufs`, in order, with as few calls as the socket allows. `bufs` is
    /// advanced as it goes.
    fn write_all_vectored<'a, 'b>(
        &'a mut self,
        bufs: &'a mut [IoSlice<'b>],
    ) -> WriteAllVectored<'a, 'b, Self>
    where
        Self: Unpin,
    {
        WriteAllVectored {
            stream: self,
            bufs,
            pending: false,
        }
    }
}

/// Declares a future over an `AsyncStream` that removes its waker when dropped pending.
macro_rules! stream_future {
    ($(#[$doc:meta])* $name:ident<$($lt:lifetime),*> { $($field:ident: $ty:ty),* }, write = $write:expr) => {
        $(#[$doc])*
        #[must_use = "futures do nothing unless awaited"]
        pub struct $name<$($lt,)* S: AsyncStream + ?Sized> {
            /// The stream.
            stream: &'a mut S,
            $(
                /// The buffer(s).
                $field: $ty,
            )*
            /// Whether the last poll returned `Pending` (its waker is in the slot).
            pending: bool,
        }

        impl<$($lt,)* S: AsyncStream + ?Sized> std::fmt::Debug for $name<$($lt,)* S> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).field("pending", &self.pending).finish()
            }
        }

        impl<$($lt,)* S: AsyncStream + ?Sized> Drop for $name<$($lt,)* S> {
            fn drop(&mut self) {
                if self.pending {
                    self.stream.drop_waiter($write);
                }
            }
        }
    };
}

stream_future!(
    /// The future of [`AsyncStream::read`].
    Read<'a> { buf: &'a mut [u8] }, write = false
);
stream_future!(
    /// The future of [`AsyncStream::read_buf`].
    ReadBuf<'a> { buf: &'a mut BytesMut }, write = false
);
stream_future!(
    /// The future of [`AsyncStream::write`].
    Write<'a> { buf: &'a [u8] }, write = true
);
stream_future!(
    /// The future of [`AsyncStream::write_all`].
    WriteAll<'a> { buf: &'a [u8] }, write = true
);
stream_future!(
    /// The future of [`AsyncStream::write_all_vectored`].
    WriteAllVectored<'a, 'b> { bufs: &'a mut [IoSlice<'b>] }, write = true
);

/// Records whether `poll` left a waker behind.
fn track<T>(pending: &mut bool, poll: Poll<T>) -> Poll<T> {
    *pending = poll.is_pending();
    poll
}

impl<S: AsyncStream + Unpin + ?Sized> Future for Read<'_, S> {
    type Output = io::Result<usize>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let poll = this.stream.poll_read(cx, this.buf);
        track(&mut this.pending, poll)
    }
}

impl<S: AsyncStream + Unpin + ?Sized> Future for ReadBuf<'_, S> {
    type Output = io::Result<usize>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let poll = this.stream.poll_read_buf(cx, this.buf);
        track(&mut this.pending, poll)
    }
}

impl<S: AsyncStream + Unpin + ?Sized> Future for Write<'_, S> {
    type Output = io::Result<usize>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let poll = this.stream.poll_write(cx, this.buf);
        track(&mut this.pending, poll)
    }
}

impl<S: AsyncStream + Unpin + ?Sized> Future for WriteAll<'_, S> {
    type Output = io::Result<()>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let poll = poll_write_all(&mut *this.stream, cx, &mut this.buf);
        track(&mut this.pending, poll)
    }
}

fn poll_write_all<S: AsyncStream + ?Sized>(
    stream: &mut S,
    cx: &mut Context<'_>,
    buf: &mut &[u8],
) -> Poll<io::Result<()>> {
    while !buf.is_empty() {
        let n = ready!(stream.poll_write(cx, buf))?;
        if n == 0 {
            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
        }
        *buf = &buf[n..];
    }
    Poll::Ready(Ok(()))
}

impl<S: AsyncStream + Unpin + ?Sized> Future for WriteAllVectored<'_, '_, S> {
    type Output = io::Result<()>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let poll = poll_write_all_vectored(&mut *this.stream, cx, &mut this.bufs);
        track(&mut this.pending, poll)
    }
}

fn poll_write_all_vectored<S: AsyncStream + ?Sized>(
    stream: &mut S,
    cx: &mut Context<'_>,
    bufs: &mut &mut [IoSlice<'_>],
) -> Poll<io::Result<()>> {
    IoSlice::advance_slices(bufs, 0); // skip leading empty slices
    while !bufs.is_empty() {
        let n = ready!(stream.poll_write_vectored(cx, bufs))?;
        if n == 0 {
            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
        }
        IoSlice::advance_slices(bufs, n);
    }
    Poll::Ready(Ok(()))
}

/// A socket registered with the current loop: the fd, the loop, and its waiter-table token.
///
/// # Invariant
/// `fd` is `Some` until `close`; while it is `Some` and the slots are not `Closed`, the fd is
/// in the loop's epoll set under `token`.
#[derive(Debug)]
pub(crate) struct Source {
    /// The socket; taken by `close`.
    fd: Option<OwnedFd>,
    /// The loop it is registered with.
    core: Rc<Core>,
    /// Its waiter-table entry.
    token: Token,
}

impl Source {
    /// Registers `fd` with the current loop.
    ///
    /// # Panics
    /// Outside a running weir runtime.
    pub(crate) fn new(fd: OwnedFd) -> io::Result<Source> {
        let core = current("creating a socket");
        let token = core.reactor.register(fd.as_fd())?;
        Ok(Source {
            fd: Some(fd),
            core,
            token,
        })
    }

    /// The fd, or `NotConnected` after `close`.
    pub(crate) fn fd(&self) -> io::Result<BorrowedFd<'_>> {
        self.fd
            .as_ref()
            .map(|fd| fd.as_fd())
            .ok_or_else(super::reactor::closed_error)
    }

    /// Polls `poll` to completion; if the future is dropped while pending, the waker it left
    /// in `dir`'s slot is removed (the model's `Drop`), so no stale waker stays behind.
    pub(crate) async fn until<R>(
        &self,
        dir: usize,
        mut poll: impl FnMut(&Context<'_>) -> Poll<io::Result<R>>,
    ) -> io::Result<R> {
        let mut guard = WaiterGuard {
            source: self,
            dir,
            pending: false,
        };
        std::future::poll_fn(|cx| {
            let result = poll(cx);
            guard.pending = result.is_pending();
            result
        })
        .await
    }

    /// Finishes a non-blocking `connect(2)` that did not complete at once: waits for the
    /// write slot to turn ready, then `SO_ERROR` says whether the connection succeeded.
    pub(crate) fn finish_connect(&self) -> impl Future<Output = io::Result<()>> + '_ {
        self.until(WRITE, move |cx| {
            ready!(self.poll_ready(WRITE, cx))?;
            Poll::Ready(match sys::socket::take_error(self.fd()?)? {
                Some(err) => Err(err),
                None => Ok(()),
            })
        })
    }

    /// Waits for `dir` to be ready (without doing I/O): used by connect and
    /// [`AsyncStream::poll_read_ready`].
    pub(crate) fn poll_ready(&self, dir: usize, cx: &Context<'_>) -> Poll<io::Result<()>> {
        self.core.reactor.poll_ready(self.token, dir, cx)
    }

    /// Runs `op` when `dir` is ready; `WouldBlock` clears readiness and waits, and so does a
    /// result `short` calls short.
    pub(crate) fn poll_io<R>(
        &self,
        dir: usize,
        cx: &Context<'_>,
        mut op: impl FnMut(BorrowedFd<'_>) -> io::Result<R>,
        short: impl Fn(&R) -> bool,
    ) -> Poll<io::Result<R>> {
        let reactor = &self.core.reactor;
        let mut retried = false;
        loop {
            ready!(reactor.poll_ready(self.token, dir, cx))?;
            match op(self.fd()?) {
                Ok(r) => {
                    if short(&r) {
                        reactor.clear(self.token, dir);
                    }
                    return Poll::Ready(Ok(r));
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    // Hang-up is sticky: a slot still `Ready` after clearing would spin.
                    if reactor.clear(self.token, dir) && std::mem::replace(&mut retried, true) {
                        return Poll::Ready(Err(err));
                    }
                }
                Err(err) => return Poll::Ready(Err(err)),
            }
        }
    }

    pub(crate) fn poll_read(&self, cx: &Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let len = buf.len();
        self.poll_io(READ, cx, |fd| sys::read(fd, buf), |&n| n < len)
    }

    pub(crate) fn poll_read_buf(
        &self,
        cx: &Context<'_>,
        buf: &mut BytesMut,
        max: usize,
    ) -> Poll<io::Result<usize>> {
        // Short when the read could have taken more: it stopped below `max` with spare room
        // left (the reserve is `sys::read_buf`'s, so the room is measured after the read).
        let short = std::cell::Cell::new(false);
        self.poll_io(
            READ,
            cx,
            |fd| {
                let n = sys::read_buf(fd, buf, max)?;
                short.set(n < max.max(1) && buf.len() < buf.capacity());
                Ok(n)
            },
            |_| short.get(),
        )
    }

    pub(crate) fn poll_write(&self, cx: &Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_io(WRITE, cx, |fd| sys::send(fd, buf), |&n| n < buf.len())
    }

    pub(crate) fn poll_write_vectored(
        &self,
        cx: &Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        self.poll_io(WRITE, cx, |fd| sys::send_vectored(fd, bufs), |&n| n < total)
    }

    /// Polls `accept` on a listening socket.
    pub(crate) fn poll_accept(
        &self,
        cx: &Context<'_>,
    ) -> Poll<io::Result<(OwnedFd, sys::socket::SockAddr)>> {
        self.poll_io(READ, cx, sys::socket::accept, |_| false)
    }

    pub(crate) fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        sys::shutdown(self.fd()?, how)
    }

    pub(crate) fn peer_hung_up(&self) -> bool {
        self.core.reactor.peer_hung_up(self.token)
    }

    pub(crate) fn drop_waiter(&self, dir: usize) {
        self.core.reactor.drop_waiter(self.token, dir);
    }

    /// Shuts the socket down (the peer sees it), then deregisters it and wakes waiters with
    /// an error; the fd stays open until drop. A peer already gone is not an error.
    pub(crate) fn shut_down_and_disconnect(&self) -> io::Result<()> {
        // Shut down first, while the fd is still valid.
        let shut = sys::shutdown(self.fd()?, std::net::Shutdown::Both);
        self.disconnect()?;
        match shut {
            Err(err) if err.kind() != io::ErrorKind::NotConnected => Err(err),
            _ => Ok(()),
        }
    }

    /// Deregisters now and wakes waiters with an error; the fd stays open until drop.
    pub(crate) fn disconnect(&self) -> io::Result<()> {
        match &self.fd {
            Some(fd) => self.core.reactor.close(self.token, fd.as_fd()),
            None => Ok(()),
        }
    }

    /// Deregisters, wakes waiters with an error, and closes the fd, reporting close's error.
    pub(crate) fn close(mut self) -> io::Result<()> {
        self.disconnect()?;
        self.core.reactor.remove(self.token);
        match self.fd.take() {
            Some(fd) => sys::close(fd),
            None => Ok(()),
        }
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        // Errors here mean the fd was already gone from epoll; nothing more to undo.
        let _ = self.disconnect();
        self.core.reactor.remove(self.token);
    }
}

/// Removes a pending waiter's waker when the waiting future is dropped.
struct WaiterGuard<'a> {
    /// The socket waited on.
    source: &'a Source,
    /// The direction waited on.
    dir: usize,
    /// Whether the last poll left a waker in the slot.
    pending: bool,
}

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        if self.pending {
            self.source.drop_waiter(self.dir);
        }
    }
}

/// Implements `AsyncStream` by delegating to the type's `source` field.
macro_rules! impl_async_stream {
    ($ty:ty) => {
        impl $crate::rt::net::AsyncStream for $ty {
            fn poll_read(
                &mut self,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.source.poll_read(cx, buf)
            }
            fn poll_read_buf(
                &mut self,
                cx: &mut std::task::Context<'_>,
                buf: &mut bytes::BytesMut,
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.source.poll_read_buf(cx, buf, usize::MAX)
            }
            fn poll_read_buf_at_most(
                &mut self,
                cx: &mut std::task::Context<'_>,
                buf: &mut bytes::BytesMut,
                max: usize,
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.source.poll_read_buf(cx, buf, max)
            }
            fn poll_write(
                &mut self,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.source.poll_write(cx, buf)
            }
            fn poll_write_vectored(
                &mut self,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.source.poll_write_vectored(cx, bufs)
            }
            fn shutdown(&self, how: std::net::Shutdown) -> std::io::Result<()> {
                self.source.shutdown(how)
            }
            fn peer_hung_up(&self) -> bool {
                self.source.peer_hung_up()
            }
            fn poll_read_ready(
                &mut self,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                self.source.poll_ready($crate::rt::reactor::READ, cx)
            }
            fn drop_waiter(&self, write: bool) {
                let dir = if write {
                    $crate::rt::reactor::WRITE
                } else {
                    $crate::rt::reactor::READ
                };
                self.source.drop_waiter(dir)
            }
        }
    };
}
pub(crate) use impl_async_stream;
