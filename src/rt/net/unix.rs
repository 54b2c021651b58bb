//! Unix-domain stream sockets: the same surface as TCP, addressed by path.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::task::{Context, Poll};

use super::{impl_async_stream, Source, LISTEN_BACKLOG};
use crate::rt::reactor::READ;
use crate::sys::socket::{self, SockAddr};

/// A Unix-domain stream connection on the loop.
///
/// Dropping it (or [`close`](UnixStream::close)) deregisters it and wakes any task waiting on
/// it with an error.
#[derive(Debug)]
pub struct UnixStream {
    /// The registered socket.
    source: Source,
}

impl_async_stream!(UnixStream);

impl UnixStream {
    /// Connects to the socket at `path` without blocking the loop.
    ///
    /// # Panics
    /// Outside a running weir runtime.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        // In a block, as in `TcpStream::open`: the 136-byte address need not live across
        // the wait below.
        let (fd, connected) = {
            let target = SockAddr::from_path(path.as_ref())?;
            let fd = socket::stream_socket(socket::AF_UNIX)?;
            let connected = socket::connect(fd.as_fd(), &target)?;
            (fd, connected)
        };
        let stream = UnixStream::from_fd(fd)?;
        if !connected {
            stream.source.finish_connect().await?;
        }
        Ok(stream)
    }

    fn from_fd(fd: OwnedFd) -> io::Result<UnixStream> {
        Ok(UnixStream {
            source: Source::new(fd)?,
        })
    }

    /// Sets `SO_SNDBUF`.
    pub fn set_send_buffer_size(&self, size: usize) -> io::Result<()> {
        socket::set_send_buffer_size(self.source.fd()?, size)
    }

    /// Sets `SO_RCVBUF`.
    pub fn set_recv_buffer_size(&self, size: usize) -> io::Result<()> {
        socket::set_recv_buffer_size(self.source.fd()?, size)
    }

    /// The path this end is bound to (`None` for the usual unnamed client end).
    pub fn local_addr(&self) -> io::Result<Option<PathBuf>> {
        Ok(socket::local_addr(self.source.fd()?)?.as_path())
    }

    /// The path of the listener this stream connected to (`None` if unnamed).
    pub fn peer_addr(&self) -> io::Result<Option<PathBuf>> {
        Ok(socket::peer_addr(self.source.fd()?)?.as_path())
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

    /// Takes the stream off the loop now: waiting tasks wake with an error, later I/O fails
    /// with `NotConnected`, and the peer sees the connection shut down. The fd is closed when
    /// the stream is dropped.
    pub fn disconnect(&self) -> io::Result<()> {
        self.source.shut_down_and_disconnect()
    }

    /// Deregisters, wakes any waiting task with an error, and closes the socket, reporting
    /// the error `close(2)` returns.
    pub fn close(self) -> io::Result<()> {
        self.source.close()
    }
}

/// A Unix-domain listening socket on the loop.
#[derive(Debug)]
pub struct UnixListener {
    /// The registered socket.
    source: Source,
}

impl UnixListener {
    /// Binds to `path` (which must not exist) and listens.
    ///
    /// # Panics
    /// Outside a running weir runtime.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let local = SockAddr::from_path(path.as_ref())?;
        let fd = socket::stream_socket(socket::AF_UNIX)?;
        socket::bind(fd.as_fd(), &local)?;
        socket::listen(fd.as_fd(), LISTEN_BACKLOG)?;
        Ok(UnixListener {
            source: Source::new(fd)?,
        })
    }

    /// Accepts a connection.
    pub async fn accept(&self) -> io::Result<UnixStream> {
        let (fd, _peer) = self
            .source
            .until(READ, |cx| self.source.poll_accept(cx))
            .await?;
        UnixStream::from_fd(fd)
    }

    /// The path it is bound to.
    pub fn local_addr(&self) -> io::Result<Option<PathBuf>> {
        Ok(socket::local_addr(self.source.fd()?)?.as_path())
    }

    /// Deregisters and closes the socket (the path stays; remove it yourself).
    pub fn close(self) -> io::Result<()> {
        self.source.close()
    }
}
