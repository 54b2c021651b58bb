//! TCP streams and listeners.
//!
//! A connect is non-blocking: `connect(2)` returns `EINPROGRESS`, the socket is registered,
//! and the connect completes when the write slot turns ready; `SO_ERROR` then says whether it
//! succeeded. The socket is registered *after* `connect(2)` because epoll reports an
//! unconnected TCP socket as hung up.

use std::io::{self, IoSlice};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::OwnedFd;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;

use super::{impl_async_stream, resolve, Source, LISTEN_BACKLOG};
use crate::rt::reactor::READ;
use crate::sys::socket::{self, SockAddr};

/// A TCP connection on the loop. `TCP_NODELAY` is on by default.
///
/// Dropping it (or [`close`](TcpStream::close)) deregisters it and wakes any task waiting on
/// it with an error.
#[derive(Debug)]
pub struct TcpStream {
    /// The registered socket.
    source: Source,
}

impl_async_stream!(TcpStream);

impl TcpStream {
    /// Connects to `addr` without blocking the loop.
    ///
    /// # Panics
    /// Outside a running weir runtime.
    pub async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
        TcpStream::open(None, addr).await
    }

    /// Connects to `addr` from the local IP of `local` (bind before connect; its port is
    /// normally 0 so the kernel picks one). The families must match, else `InvalidInput`.
    ///
    /// # Panics
    /// Outside a running weir runtime.
    pub async fn connect_from(local: SocketAddr, addr: SocketAddr) -> io::Result<TcpStream> {
        if local.is_ipv4() != addr.is_ipv4() {
            return Err(family_mismatch(local.ip(), &addr.to_string()));
        }
        TcpStream::open(Some(local), addr).await
    }

    /// Creates the socket, binds it to `local` when given, and connects without blocking.
    async fn open(local: Option<SocketAddr>, addr: SocketAddr) -> io::Result<TcpStream> {
        // In a block: the 136-byte address must not live across the wait below, where every
        // connecting request's future would carry it.
        let (fd, connected) = {
            let target = SockAddr::from_inet(addr);
            let fd = socket::stream_socket(target.family())?;
            if let Some(local) = local {
                socket::bind(std::os::fd::AsFd::as_fd(&fd), &SockAddr::from_inet(local))?;
            }
            let connected = socket::connect(std::os::fd::AsFd::as_fd(&fd), &target)?;
            (fd, connected)
        };
        let stream = TcpStream::from_fd(fd)?;
        if !connected {
            stream.source.finish_connect().await?;
        }
        Ok(stream)
    }

    /// Resolves `host` (on the resolver threads, see [`resolve`](super::resolve)) and
    /// connects to each address in turn, IPv6 and IPv4 as the resolver orders them; returns
    /// the first connection or the last error.
    pub async fn connect_host(host: &str, port: u16) -> io::Result<TcpStream> {
        let addrs = resolve(host, port).await?;
        TcpStream::connect_any(&addrs).await
    }

    /// [`connect_host`](TcpStream::connect_host) from the local IP `local` (port chosen by
    /// the kernel): tries in turn each resolved address of the same family as `local`,
    /// skipping the others; if none has that family, an `InvalidInput` error says so.
    pub async fn connect_host_from(local: IpAddr, host: &str, port: u16) -> io::Result<TcpStream> {
        let addrs = resolve(host, port).await?;
        let same_family = addrs.iter().filter(|a| a.is_ipv4() == local.is_ipv4());
        let mut last = None;
        for &addr in same_family {
            match TcpStream::open(Some(SocketAddr::new(local, 0)), addr).await {
                Ok(stream) => return Ok(stream),
                Err(err) => last = Some(err),
            }
        }
        Err(last.unwrap_or_else(|| family_mismatch(local, host)))
    }

    /// Connects to each address in turn; returns the first connection or the last error.
    pub async fn connect_any(addrs: &[SocketAddr]) -> io::Result<TcpStream> {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address to connect to");
        for &addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => return Ok(stream),
                Err(err) => last = err,
            }
        }
        Err(last)
    }

    /// Registers a connected (or connecting) socket, with `TCP_NODELAY` on.
    fn from_fd(fd: OwnedFd) -> io::Result<TcpStream> {
        socket::set_nodelay(std::os::fd::AsFd::as_fd(&fd), true)?;
        Ok(TcpStream {
            source: Source::new(fd)?,
        })
    }

    /// Sets `TCP_NODELAY`.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        socket::set_nodelay(self.source.fd()?, on)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        socket::nodelay(self.source.fd()?)
    }

    /// Sets `SO_KEEPALIVE`.
    pub fn set_keepalive(&self, on: bool) -> io::Result<()> {
        socket::set_keepalive(self.source.fd()?, on)
    }

    /// Sets `SO_SNDBUF` (the kernel doubles it and applies a minimum).
    pub fn set_send_buffer_size(&self, size: usize) -> io::Result<()> {
        socket::set_send_buffer_size(self.source.fd()?, size)
    }

    /// Sets `SO_RCVBUF` (the kernel doubles it and applies a minimum).
    pub fn set_recv_buffer_size(&self, size: usize) -> io::Result<()> {
        socket::set_recv_buffer_size(self.source.fd()?, size)
    }

    /// The effective `SO_SNDBUF`.
    pub fn send_buffer_size(&self) -> io::Result<usize> {
        socket::send_buffer_size(self.source.fd()?)
    }

    /// The effective `SO_RCVBUF`.
    pub fn recv_buffer_size(&self) -> io::Result<usize> {
        socket::recv_buffer_size(self.source.fd()?)
    }

    /// Sets `SO_LINGER`; `Some(Duration::ZERO)` makes close send a reset (RST).
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        socket::set_linger(self.source.fd()?, linger)
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        inet(socket::local_addr(self.source.fd()?)?)
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        inet(socket::peer_addr(self.source.fd()?)?)
    }

    /// Reads into `buf` through a shared reference (several tasks may hold an `Rc` to the
    /// stream; each direction keeps only the latest waiter).
    pub fn poll_read_shared(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.source.poll_read(cx, buf)
    }

    /// Reads into `buf` through a shared reference.
    pub async fn read_shared(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.source
            .until(READ, |cx| self.source.poll_read(cx, buf))
            .await
    }

    /// Writes through a shared reference.
    pub fn poll_write_shared(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.source.poll_write(cx, buf)
    }

    /// Reads into `buf`'s spare capacity through a shared reference.
    pub fn poll_read_buf_shared(
        &self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<io::Result<usize>> {
        self.source.poll_read_buf(cx, buf, usize::MAX)
    }

    /// Writes `bufs` in one call through a shared reference.
    pub fn poll_write_vectored_shared(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.source.poll_write_vectored(cx, bufs)
    }

    /// Takes the stream off the loop now, through a shared reference: every task waiting on
    /// it wakes with an error, later I/O fails with `NotConnected`, and the peer sees the
    /// connection shut down. The fd is closed when the stream is dropped.
    pub fn disconnect(&self) -> io::Result<()> {
        self.source.shut_down_and_disconnect()
    }

    /// Deregisters, wakes any waiting task with an error, and closes the socket, reporting
    /// the error `close(2)` returns (which `Drop` must ignore).
    pub fn close(self) -> io::Result<()> {
        self.source.close()
    }
}

/// The error of a local address whose family no target address has.
fn family_mismatch(local: IpAddr, target: &str) -> io::Error {
    let family = if local.is_ipv4() { "IPv4" } else { "IPv6" };
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("local address {local} is {family} but {target} has no {family} address"),
    )
}

/// Converts a kernel address that must be IPv4 or IPv6.
fn inet(addr: SockAddr) -> io::Result<SocketAddr> {
    addr.as_inet()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an IP address"))
}

/// A TCP listening socket on the loop.
#[derive(Debug)]
pub struct TcpListener {
    /// The registered socket.
    source: Source,
}

impl TcpListener {
    /// Binds to `addr` (with `SO_REUSEADDR`) and listens.
    ///
    /// # Panics
    /// Outside a running weir runtime.
    pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
        let local = SockAddr::from_inet(addr);
        let fd = socket::stream_socket(local.family())?;
        let borrowed = std::os::fd::AsFd::as_fd(&fd);
        socket::set_reuseaddr(borrowed, true)?;
        socket::bind(borrowed, &local)?;
        socket::listen(borrowed, LISTEN_BACKLOG)?;
        Ok(TcpListener {
            source: Source::new(fd)?,
        })
    }

    /// Accepts a connection (`TCP_NODELAY` on) and its peer's address.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (fd, peer) = self
            .source
            .until(READ, |cx| self.source.poll_accept(cx))
            .await?;
        Ok((TcpStream::from_fd(fd)?, inet(peer)?))
    }

    /// The address it is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        inet(socket::local_addr(self.source.fd()?)?)
    }

    /// Deregisters and closes the socket, reporting `close(2)`'s error.
    pub fn close(self) -> io::Result<()> {
        self.source.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rt::reactor::State;
    use std::future::Future;
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }

    fn read_state(source: &Source) -> Option<State> {
        source.core.reactor.slot_state(source.token, READ)
    }

    #[test]
    fn dropped_pending_accept_removes_its_waker() {
        crate::rt::block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let waker = Waker::from(Arc::new(Noop));
            let mut cx = Context::from_waker(&waker);
            let mut accept = Box::pin(listener.accept());
            assert!(accept.as_mut().poll(&mut cx).is_pending());
            assert_eq!(read_state(&listener.source), Some(State::Waiting));
            drop(accept);
            assert_eq!(read_state(&listener.source), Some(State::Empty));
        });
    }
}
