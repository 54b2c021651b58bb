//! [`ClientBuilder`] and [`RequestOptions`]: the client's settings and their defaults.

use std::fmt;
use std::net::IpAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::event::ClientEvent;
use super::pool::{EventSink, PoolConfig};
use super::Client;
use crate::conn::ConnConfig;
use crate::http::Limits;

/// Default most connections (connecting + active + idle) across all origins.
pub const MAX_CONNECTIONS: usize = 1024;
/// Default most connections (connecting + active + idle) to one origin.
pub const MAX_CONNECTIONS_PER_HOST: usize = 64;
/// Default most idle connections kept per origin.
pub const MAX_IDLE_PER_HOST: usize = 64;
/// Default longest idle time of a pooled connection (hyper's default too).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Default connect timeout (resolution and handshake).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default first pause before retrying a failed connect; it doubles per retry.
pub const RETRY_BACKOFF: Duration = Duration::from_millis(50);
pub use super::retry::MAX_RETRY_BACKOFF;

/// Everything a [`Client`] was built with.
#[derive(Clone)]
pub(crate) struct ClientConfig {
    /// Pool limits.
    pub(crate) pool: PoolConfig,
    /// Longest wait for a pool slot; `None` waits as long as it takes.
    pub(crate) pool_timeout: Option<Duration>,
    /// Bound on connecting.
    pub(crate) connect_timeout: Option<Duration>,
    /// Bound on each wait for response bytes.
    pub(crate) read_timeout: Option<Duration>,
    /// Bound on each wait for the socket to take request bytes.
    pub(crate) write_timeout: Option<Duration>,
    /// Bound on the whole request, from checkout to the response head.
    pub(crate) timeout: Option<Duration>,
    /// How many times a failed connect is retried.
    pub(crate) retries: u32,
    /// The first pause before a connect retry (doubles each time).
    pub(crate) retry_backoff: Duration,
    /// `TCP_NODELAY`.
    pub(crate) nodelay: bool,
    /// `SO_KEEPALIVE`.
    pub(crate) tcp_keepalive: bool,
    /// The local address to bind before connecting.
    pub(crate) local_address: Option<IpAddr>,
    /// `SO_SNDBUF`.
    pub(crate) send_buffer_size: Option<usize>,
    /// `SO_RCVBUF`.
    pub(crate) recv_buffer_size: Option<usize>,
    /// Response parser limits.
    pub(crate) limits: Limits,
    /// The connection settings the builder has no field of its own for (buffer and piece
    /// sizes, drain bounds, the `100-continue` wait): the base of every connection's config.
    pub(crate) conn: ConnConfig,
    /// The event callback.
    pub(crate) events: Option<EventSink>,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            pool: PoolConfig {
                max_connections: MAX_CONNECTIONS,
                max_connections_per_host: MAX_CONNECTIONS_PER_HOST,
                max_idle_per_host: MAX_IDLE_PER_HOST,
                idle_timeout: Some(IDLE_TIMEOUT),
                max_requests_per_connection: None,
            },
            pool_timeout: None,
            connect_timeout: Some(CONNECT_TIMEOUT),
            read_timeout: None,
            write_timeout: None,
            timeout: None,
            retries: 0,
            retry_backoff: RETRY_BACKOFF,
            nodelay: true,
            tcp_keepalive: false,
            local_address: None,
            send_buffer_size: None,
            recv_buffer_size: None,
            limits: Limits::default(),
            conn: ConnConfig::default(),
            events: None,
        }
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("pool", &self.pool)
            .field("pool_timeout", &self.pool_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("write_timeout", &self.write_timeout)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("events", &self.events.is_some())
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`]. Every setting has a documented default; `Client::new()` uses them all.
///
/// | setting | default |
/// |---|---|
/// | [`max_connections`](Self::max_connections) | [`MAX_CONNECTIONS`] (1024) |
/// | [`max_connections_per_host`](Self::max_connections_per_host) | [`MAX_CONNECTIONS_PER_HOST`] (64) |
/// | [`max_idle_per_host`](Self::max_idle_per_host) | [`MAX_IDLE_PER_HOST`] (64) |
/// | [`idle_timeout`](Self::idle_timeout) | [`IDLE_TIMEOUT`] (90 s), shortened by a server's `Keep-Alive: timeout` |
/// | [`pool_timeout`](Self::pool_timeout) | none (wait for a slot as long as it takes) |
/// | [`connect_timeout`](Self::connect_timeout) | [`CONNECT_TIMEOUT`] (30 s) |
/// | [`read_timeout`](Self::read_timeout), [`write_timeout`](Self::write_timeout) | none |
/// | [`timeout`](Self::timeout) (whole request, through the end of the body) | none |
/// | [`retries`](Self::retries) (failed connects) | 0, backoff [`RETRY_BACKOFF`] doubling |
/// | [`max_requests_per_connection`](Self::max_requests_per_connection) | unlimited |
/// | [`nodelay`](Self::nodelay) | on |
/// | [`tcp_keepalive`](Self::tcp_keepalive) | off |
/// | local address, socket buffer sizes | the OS's |
/// | [`read_buffer_size`](Self::read_buffer_size) / [`max_read_buffer_size`](Self::max_read_buffer_size) | 16 KiB / 256 KiB ([`crate::conn::READ_BUFFER_SIZE`], [`crate::conn::MAX_READ_BUFFER_SIZE`]) |
/// | [`file_chunk_size`](Self::file_chunk_size) | [`crate::conn::FILE_CHUNK_SIZE`] |
/// | [`drain_max_bytes`](Self::drain_max_bytes) / [`drain_timeout`](Self::drain_timeout) (a body dropped early) | [`crate::conn::DRAIN_MAX_BYTES`] / [`crate::conn::DRAIN_TIMEOUT`] |
/// | [`expect_continue_wait`](Self::expect_continue_wait) | [`crate::conn::EXPECT_CONTINUE_WAIT`] |
///
/// A request that fails on a reused connection before any response byte arrived is always
/// retried once on a new connection when it is idempotent and its body can be replayed.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// let client = weir::client::Client::builder()
///     .max_connections_per_host(8)
///     .idle_timeout(Some(Duration::from_secs(30)))
///     .on_event(|e| eprintln!("{e}"))
///     .build();
/// # drop(client);
/// ```
#[derive(Debug, Default)]
pub struct ClientBuilder {
    /// The settings so far.
    config: ClientConfig,
}

impl ClientBuilder {
    /// A builder with the defaults.
    pub fn new() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// Most connections (connecting + active + idle) across all origins (at least 1).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.config.pool.max_connections = n.max(1);
        self
    }

    /// Most connections (connecting + active + idle) to one origin (at least 1).
    pub fn max_connections_per_host(mut self, n: usize) -> Self {
        self.config.pool.max_connections_per_host = n.max(1);
        self
    }

    /// Most idle connections kept per origin; 0 disables pooling.
    pub fn max_idle_per_host(mut self, n: usize) -> Self {
        self.config.pool.max_idle_per_host = n;
        self
    }

    /// Longest idle time of a pooled connection; `None` keeps them until the server closes.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.pool.idle_timeout = timeout;
        self
    }

    /// Longest wait for a free connection slot (error kind `PoolTimeout`).
    pub fn pool_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.pool_timeout = timeout;
        self
    }

    /// Bound on resolving and connecting (error kind `ConnectTimeout`).
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// Bound on each wait for response bytes (error kind `ReadTimeout`).
    pub fn read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.read_timeout = timeout;
        self
    }

    /// Bound on each wait for the socket to accept request bytes (error kind `WriteTimeout`).
    pub fn write_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.write_timeout = timeout;
        self
    }

    /// Bound on a whole request, from asking the pool to the end of the response body (a
    /// deadline for the whole exchange, as in reqwest and ureq).
    ///
    /// Until the response head arrives, running out is reported as the timeout of the phase it
    /// cut (`PoolTimeout`, `ConnectTimeout`, `ReadTimeout`). Once the head is there the
    /// deadline still holds for reading the body: a body read still waiting when it passes
    /// fails with [`Kind::Timeout`](crate::error::Kind::Timeout) in
    /// [`Phase::ReadBody`](crate::error::Phase::ReadBody), and that connection is closed, never
    /// reused. A body not read at all holds nothing: the deadline is checked only while a read
    /// waits. `None` (the default): no deadline, no timer.
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.timeout = timeout;
        self
    }

    /// How many times a failed connect is retried (any method: nothing was sent).
    pub fn retries(mut self, n: u32) -> Self {
        self.config.retries = n;
        self
    }

    /// The first pause before a connect retry; it doubles each retry, up to [`MAX_RETRY_BACKOFF`].
    pub fn retry_backoff(mut self, backoff: Duration) -> Self {
        self.config.retry_backoff = backoff;
        self
    }

    /// Retire a connection after it carried `n` requests; `None` for no limit.
    pub fn max_requests_per_connection(mut self, n: Option<u64>) -> Self {
        self.config.pool.max_requests_per_connection = n.map(|n| n.max(1));
        self
    }

    /// `TCP_NODELAY` on new connections.
    pub fn nodelay(mut self, on: bool) -> Self {
        self.config.nodelay = on;
        self
    }

    /// `SO_KEEPALIVE` on new connections.
    pub fn tcp_keepalive(mut self, on: bool) -> Self {
        self.config.tcp_keepalive = on;
        self
    }

    /// Bind new TCP connections to this local address before connecting.
    ///
    /// The kernel picks the port. Only resolved addresses of the same family (IPv4/IPv6) are
    /// tried; when the host has none, the connect fails with
    /// [`Kind::Connect`](crate::error::Kind::Connect). Unix-socket origins ignore it.
    /// `None` (default) lets the kernel choose.
    pub fn local_address(mut self, addr: Option<IpAddr>) -> Self {
        self.config.local_address = addr;
        self
    }

    /// `SO_SNDBUF` of new connections.
    pub fn send_buffer_size(mut self, size: Option<usize>) -> Self {
        self.config.send_buffer_size = size;
        self
    }

    /// `SO_RCVBUF` of new connections.
    pub fn recv_buffer_size(mut self, size: Option<usize>) -> Self {
        self.config.recv_buffer_size = size;
        self
    }

    /// Response parser limits (head size, header count, …).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.config.limits = limits;
        self
    }

    /// Bytes a read may pull from the socket at first (body reads grow up to
    /// [`max_read_buffer_size`](Self::max_read_buffer_size)).
    pub fn read_buffer_size(mut self, size: usize) -> Self {
        self.config.conn.read_buffer_size = size.max(1);
        self
    }

    /// The most a single body read may pull from the socket.
    pub fn max_read_buffer_size(mut self, size: usize) -> Self {
        self.config.conn.max_read_buffer_size = size.max(1);
        self
    }

    /// Piece size when uploading a file body (its memory bound).
    pub fn file_chunk_size(mut self, size: usize) -> Self {
        self.config.conn.file_chunk_size = size.max(1);
        self
    }

    /// Most unread body bytes discarded to keep a connection whose body was dropped early;
    /// beyond that it is closed (0: always close).
    pub fn drain_max_bytes(mut self, bytes: u64) -> Self {
        self.config.conn.drain_max_bytes = bytes;
        self
    }

    /// Longest time spent discarding a dropped body before closing instead.
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.config.conn.drain_timeout = timeout;
        self
    }

    /// How long a body held by `Expect: 100-continue` waits for the `100` before it is sent.
    pub fn expect_continue_wait(mut self, wait: Duration) -> Self {
        self.config.conn.expect_continue_wait = wait;
        self
    }

    /// Calls `f` for every connection event: connected, reused, closed (with the reason),
    /// retried. Runs on the loop thread; keep it short.
    pub fn on_event(mut self, f: impl Fn(&ClientEvent<'_>) + 'static) -> Self {
        self.config.events = Some(Rc::new(f));
        self
    }

    /// The client.
    pub fn build(self) -> Client {
        Client::from_config(self.config)
    }
}

/// Per-request overrides of the client's timeouts. Unset fields keep the client's setting.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// let opts = weir::client::RequestOptions::new()
///     .timeout(Duration::from_secs(2))
///     .read_timeout(Duration::from_millis(500));
/// # drop(opts);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestOptions {
    /// Overrides [`ClientBuilder::connect_timeout`].
    pub(crate) connect_timeout: Option<Duration>,
    /// Overrides [`ClientBuilder::read_timeout`].
    pub(crate) read_timeout: Option<Duration>,
    /// Overrides [`ClientBuilder::write_timeout`].
    pub(crate) write_timeout: Option<Duration>,
    /// Overrides [`ClientBuilder::pool_timeout`].
    pub(crate) pool_timeout: Option<Duration>,
    /// Overrides [`ClientBuilder::timeout`].
    pub(crate) timeout: Option<Duration>,
}

impl RequestOptions {
    /// No overrides.
    pub fn new() -> RequestOptions {
        RequestOptions::default()
    }

    /// Bound on connecting, for this request.
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = Some(t);
        self
    }

    /// Bound on each wait for response bytes, for this request.
    pub fn read_timeout(mut self, t: Duration) -> Self {
        self.read_timeout = Some(t);
        self
    }

    /// Bound on each wait to write request bytes, for this request.
    pub fn write_timeout(mut self, t: Duration) -> Self {
        self.write_timeout = Some(t);
        self
    }

    /// Longest wait for a pool slot, for this request.
    pub fn pool_timeout(mut self, t: Duration) -> Self {
        self.pool_timeout = Some(t);
        self
    }

    /// Bound on this whole request, up to the end of its response body; overrides
    /// [`ClientBuilder::timeout`], which describes how running out is reported (in the body:
    /// [`Kind::Timeout`](crate::error::Kind::Timeout), [`Phase::ReadBody`](crate::error::Phase::ReadBody),
    /// connection closed).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    /// These overrides on top of the client's settings.
    pub(crate) fn resolve(&self, cfg: &ClientConfig) -> Effective {
        Effective {
            connect_timeout: self.connect_timeout.or(cfg.connect_timeout),
            read_timeout: self.read_timeout.or(cfg.read_timeout),
            write_timeout: self.write_timeout.or(cfg.write_timeout),
            pool_timeout: self.pool_timeout.or(cfg.pool_timeout),
            timeout: self.timeout.or(cfg.timeout),
            deadline: None,
        }
    }
}

/// The timeouts one request runs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Effective {
    /// Bound on connecting.
    pub(crate) connect_timeout: Option<Duration>,
    /// Bound on each read wait.
    pub(crate) read_timeout: Option<Duration>,
    /// Bound on each write wait.
    pub(crate) write_timeout: Option<Duration>,
    /// Bound on the pool wait.
    pub(crate) pool_timeout: Option<Duration>,
    /// Bound on the whole request.
    pub(crate) timeout: Option<Duration>,
    /// When the whole request must be over (`timeout` from the start of `send`); the body
    /// enforces it too.
    pub(crate) deadline: Option<Instant>,
}
