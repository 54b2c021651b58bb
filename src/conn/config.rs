//! [`ConnConfig`]: what one connection may do and for how long, with documented defaults.

use std::net::IpAddr;
use std::time::Duration;

use crate::http::Limits;

/// Default connect timeout (resolution + TCP handshake, or the Unix connect).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default wait for a `100 Continue` before sending a body held by `Expect: 100-continue`.
pub const EXPECT_CONTINUE_WAIT: Duration = Duration::from_secs(1);
/// Default most unread body bytes discarded to save a connection whose body was dropped.
pub const DRAIN_MAX_BYTES: u64 = 64 * 1024;
/// Default longest time spent discarding a dropped body before closing instead.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);
/// Default read-buffer size: how much one read may pull from the socket.
pub const READ_BUFFER_SIZE: usize = 16 * 1024;
/// Default largest read while a body keeps filling the buffer (reads grow from
/// [`READ_BUFFER_SIZE`] by doubling).
pub const MAX_READ_BUFFER_SIZE: usize = 256 * 1024;
/// Default piece size when uploading a file body.
pub const FILE_CHUNK_SIZE: usize = 64 * 1024;
/// A server's `Keep-Alive: timeout=N` is trusted only up to this margin before it: a
/// connection idle for `N - margin` is no longer reused (the server may be closing it).
pub const KEEP_ALIVE_MARGIN: Duration = Duration::from_secs(1);

/// Settings of one connection. `Default` gives the documented defaults.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// let cfg = weir::conn::ConnConfig {
///     read_timeout: Some(Duration::from_secs(5)),
///     ..Default::default()
/// };
/// assert_eq!(cfg.connect_timeout, Some(weir::conn::CONNECT_TIMEOUT));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnConfig {
    /// Parser limits (head size, header count, interim responses, chunk extensions, trailers).
    pub limits: Limits,
    /// Bound on connecting; `None` waits as long as the OS does. Default [`CONNECT_TIMEOUT`].
    pub connect_timeout: Option<Duration>,
    /// Longest wait for any response bytes (per read, reset by progress); `None` (default)
    /// never times out and costs no timer.
    pub read_timeout: Option<Duration>,
    /// Longest wait for the socket to accept request bytes (per write, reset by progress);
    /// `None` (default) never times out.
    pub write_timeout: Option<Duration>,
    /// How long a body held by `Expect: 100-continue` waits for the `100` before it is sent
    /// anyway. Default [`EXPECT_CONTINUE_WAIT`].
    pub expect_continue_wait: Duration,
    /// Most unread body bytes discarded after a body is dropped early, to reuse the
    /// connection; beyond that it is closed. `0` always closes. Default [`DRAIN_MAX_BYTES`].
    pub drain_max_bytes: u64,
    /// Longest time spent draining a dropped body. Default [`DRAIN_TIMEOUT`].
    pub drain_timeout: Duration,
    /// Most requests on one connection; `None` (default) is unbounded.
    pub max_requests: Option<u64>,
    /// `TCP_NODELAY` (default on: a request is one write, Nagle only delays it).
    pub nodelay: bool,
    /// `SO_KEEPALIVE` (default off).
    pub tcp_keepalive: bool,
    /// `SO_SNDBUF`, when set.
    pub send_buffer_size: Option<usize>,
    /// `SO_RCVBUF`, when set.
    pub recv_buffer_size: Option<usize>,
    /// Bytes one read may pull from the socket at first. Default [`READ_BUFFER_SIZE`].
    pub read_buffer_size: usize,
    /// Reads of a body that keep filling the buffer double up to this size (a large download
    /// then costs few syscalls); the grown buffer is freed when the exchange ends. It bounds
    /// the size of a body chunk. Default [`MAX_READ_BUFFER_SIZE`].
    pub max_read_buffer_size: usize,
    /// Piece size for file uploads (memory bound of an upload). Default [`FILE_CHUNK_SIZE`].
    pub file_chunk_size: usize,
    /// Local IP to bind TCP connections to before connecting (the kernel picks the port);
    /// only resolved addresses of its family are tried, and if there are none the connect
    /// fails with `Kind::Connect`. `None` (default) lets the kernel choose. Ignored for Unix
    /// origins.
    pub local_address: Option<IpAddr>,
}

impl Default for ConnConfig {
    fn default() -> ConnConfig {
        ConnConfig {
            limits: Limits::default(),
            connect_timeout: Some(CONNECT_TIMEOUT),
            read_timeout: None,
            write_timeout: None,
            expect_continue_wait: EXPECT_CONTINUE_WAIT,
            drain_max_bytes: DRAIN_MAX_BYTES,
            drain_timeout: DRAIN_TIMEOUT,
            max_requests: None,
            nodelay: true,
            tcp_keepalive: false,
            send_buffer_size: None,
            recv_buffer_size: None,
            read_buffer_size: READ_BUFFER_SIZE,
            max_read_buffer_size: MAX_READ_BUFFER_SIZE,
            file_chunk_size: FILE_CHUNK_SIZE,
            local_address: None,
        }
    }
}
