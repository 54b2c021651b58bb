//! One HTTP/1.1 connection over one stream; its lifecycle is the generated typestate.
//!
//! This module only joins the sans-IO framing ([`crate::http`]: encoder, response parser,
//! body decoders) to a stream on the loop ([`crate::rt::net`]). It owns no HTTP rule and no
//! event-loop logic.
//!
//! The states are the model's ([`crate::generated::connection`], whose docs draw the full
//! graph); the path of one exchange:
//!
//! ```text
//!  connect ─▶ Idle ─send─▶ WritingHead ─▶ [WritingBody] ─▶ AwaitingHead ─▶ ReadingBody ─▶ Idle | Closed
//!                                          │ 100-continue:     │ 1xx loop      │ body dropped:
//!                                          │ 1xx, early final  └─▶ Upgraded    └─▶ Draining ─▶ Idle | Closed
//!                                          └─▶ ReadingBody (never reused)
//!  any failure, cancellation or close ─▶ Closed
//! ```
//!
//! Only [`Connection<Idle>`](Connection) can [`send`](Connection::send). The response
//! [`Body`] owns the active connection: reading it to its end gives the connection back as
//! idle — to the [`Recycler`] a pool installed, or via [`Body::take_connection`] — or closes it
//! when the keep-alive rules say so. Dropping a body early drains it within
//! [`ConnConfig::drain_max_bytes`] and [`ConnConfig::drain_timeout`] on a spawned task, then
//! reuses, or else closes.
//!
//! # Examples
//! ```
//! use weir::conn::{connect, ConnConfig};
//! use weir::http::{Request, Url};
//! use weir::rt::net::{AsyncStream, TcpListener};
//! weir::rt::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
//!     let addr = listener.local_addr()?;
//!     weir::rt::spawn(async move {
//!         // A server that answers one request.
//!         let (mut s, _) = listener.accept().await?;
//!         let mut buf = [0u8; 1024];
//!         s.read(&mut buf).await?;
//!         s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello").await
//!     });
//!     let url = format!("http://{addr}/");
//!     let conn = connect(Url::parse(&url)?.origin(), &ConnConfig::default()).await?;
//!     let resp = conn.send(Request::get(&url).build()?).await?;
//!     assert_eq!(resp.status(), 200);
//!     let mut body = resp.into_body();
//!     assert_eq!(&body.read_to_end().await?[..], b"hello");
//!     // The body was read to its end: the connection is idle again.
//!     let conn = body.take_connection().expect("keep-alive");
//!     assert_eq!(conn.requests_served(), 1);
//!     Ok::<(), Box<dyn std::error::Error>>(())
//! })
//! .unwrap();
//! ```
//!
//! # Invariants
//! - A connection is reused only when the response said keep-alive (parser verdict: version,
//!   `Connection` on both sides, framing), its body was decoded to the end, the request body
//!   was fully sent, and no byte is left over in the read buffer. Any error, timeout or
//!   cancellation in the middle of an exchange closes the connection.
//! - Hand-written code changes state only through the generated typestate transitions
//!   ([`crate::generated::connection`]); the public [`Connection`] is a newtype over it so
//!   that users cannot call them.
//! - Idle connections hold no buffer; an exchange borrows one from the per-loop free list
//!   ([`buf`]) and returns it when the body ends.
//! - A connection with a recycler reports every exchange exactly once: [`Recycled::Idle`] when
//!   it ended clean, [`Recycled::Closed`] otherwise (errors, cancellation, upgrade).

use std::fmt;
use std::net::IpAddr;
use std::rc::Rc;

use crate::error::{Error, Kind, Phase, Result};
use crate::generated::connection as machine;
use crate::http::Origin;
use crate::rt::net::{TcpStream, UnixStream};
use crate::rt::time::timeout;

mod awaiting;
mod body;
pub mod buf;
mod config;
mod draining;
mod fail;
mod idle;
mod io;
mod wire;
mod writing;

pub use body::{Body, Upgraded};
pub use config::{
    ConnConfig, CONNECT_TIMEOUT, DRAIN_MAX_BYTES, DRAIN_TIMEOUT, EXPECT_CONTINUE_WAIT,
    FILE_CHUNK_SIZE, KEEP_ALIVE_MARGIN, MAX_READ_BUFFER_SIZE, READ_BUFFER_SIZE,
};
pub use idle::SendOptions;
pub use io::{ConnIo, Transport};
/// The state markers (generated from the model): `Connection<state::Idle>` is the one users
/// hold.
pub use machine::state;
use machine::state::{ConnState, Idle};

/// The generated typestate over our I/O part: what the per-state code moves around.
pub(crate) type Gen<S> = machine::Connection<S, ConnIo>;

/// Notes `S` as the state of the exchange in flight (for the trace of a cancellation): called
/// wherever a connection waits in a state.
pub(crate) fn mark<S: ConnState>(mut conn: Gen<S>) -> Gen<S> {
    conn.inner.m.at = S::STATE;
    conn
}

/// A connection in state `S` (one of [`state`]'s markers). Only `Connection<state::Idle>`
/// exists outside this module: it is what [`connect`] returns and what a [`Recycler`] gets
/// back, and the only thing that can [`send`](Connection::send). The generated transitions
/// stay private.
///
/// Sending needs an idle connection:
/// ```compile_fail,E0599
/// use weir::conn::{state, Connection};
/// async fn f(c: Connection<state::ReadingBody>, r: weir::http::Request) { let _ = c.send(r).await; }
/// ```
/// A pool takes back only idle connections:
/// ```compile_fail,E0308
/// use weir::conn::{state, Connection, Recycled};
/// fn f(c: Connection<state::ReadingBody>) -> Recycled { Recycled::Idle(c) }
/// ```
/// A closed connection can do nothing:
/// ```compile_fail,E0599
/// use weir::conn::{state, Connection};
/// fn f(c: Connection<state::Closed>) -> bool { c.is_reusable() }
/// ```
/// An upgraded one speaks no HTTP:
/// ```compile_fail,E0599
/// use weir::conn::{state, Connection};
/// async fn f(c: Connection<state::Upgraded>, r: weir::http::Request) { let _ = c.send(r).await; }
/// ```
pub struct Connection<S: ConnState>(Gen<S>);

impl<S: ConnState> fmt::Debug for Connection<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What happened to a connection at the end of an exchange.
#[derive(Debug)]
pub enum Recycled {
    /// The exchange ended clean: the connection may carry another request.
    Idle(Connection<Idle>),
    /// The connection was closed (it is gone); why.
    Closed(CloseReason),
}

/// Why a connection was closed instead of reused.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// Either side asked to close, HTTP/1.0 without keep-alive, or a close-delimited body.
    NotKeepAlive,
    /// The server sent bytes after the end of the response.
    LeftoverBytes,
    /// The body was dropped unread and could not be drained within the bounds.
    BodyDropped,
    /// The exchange failed with this kind of error.
    Error(Kind),
    /// The request or body future was dropped mid-exchange.
    Cancelled,
    /// 101 Switching Protocols: the transport left HTTP.
    Upgraded,
}

/// Receives every connection at the end of an exchange (a pool installs one with
/// [`Connection::set_recycler`]). Called exactly once per exchange, possibly from a `Drop`:
/// it must not panic and must not block.
///
/// A connection holds an `Rc` to its recycler: a recycler that keeps idle connections must not
/// be kept alive by them (hold the pool through a `Weak`, or remove the recycler from the
/// connections it stores), or the cycle leaks them, sockets included.
pub trait Recycler {
    /// Takes back the connection, or learns that it closed.
    fn recycle(&self, outcome: Recycled);
}

/// Reports an exchange's end to the recycler exactly once: `Closed(reason)` when dropped
/// armed (error, cancellation, …), nothing when disarmed for an idle hand-back.
pub(crate) struct ExchangeGuard {
    /// The recycler to tell; `None` once disarmed.
    recycler: Option<Rc<dyn Recycler>>,
    /// What to report if dropped armed.
    pub(crate) reason: CloseReason,
}

impl fmt::Debug for ExchangeGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeGuard")
            .field("reason", &self.reason)
            .finish()
    }
}

impl ExchangeGuard {
    fn arm(recycler: Rc<dyn Recycler>) -> ExchangeGuard {
        ExchangeGuard {
            recycler: Some(recycler),
            reason: CloseReason::Cancelled,
        }
    }

    /// The recycler, without reporting anything.
    fn disarm(mut self) -> Option<Rc<dyn Recycler>> {
        self.recycler.take()
    }
}

impl Drop for ExchangeGuard {
    fn drop(&mut self) {
        if let Some(r) = self.recycler.take() {
            r.recycle(Recycled::Closed(self.reason));
        }
    }
}

/// Connects to `origin` (TCP by host name or address, or a Unix socket path).
///
/// Errors are [`Phase::Connect`]: [`Kind::Connect`] (with the OS error as source) or
/// [`Kind::ConnectTimeout`], carrying the origin as URL.
///
/// # Examples
/// ```no_run
/// # weir::rt::block_on(async {
/// let url = weir::http::Url::parse("http://127.0.0.1:8080/").unwrap();
/// let conn = weir::conn::connect(url.origin(), &Default::default()).await?;
/// assert!(conn.is_reusable());
/// # Ok::<(), weir::Error>(()) });
/// ```
pub async fn connect(origin: &Origin, cfg: &ConnConfig) -> Result<Connection<Idle>> {
    connect_with(origin, Rc::new(cfg.clone())).await
}

/// [`connect`] with a shared config (a pool shares one per origin: no copy per connection).
pub async fn connect_with(origin: &Origin, cfg: Rc<ConnConfig>) -> Result<Connection<Idle>> {
    // `open` is made in each branch: passed to a helper that may wrap it in a timeout, it
    // would be stored twice in every connecting request's future.
    let opened = match cfg.connect_timeout {
        None => Ok(open(origin, cfg.local_address).await),
        Some(limit) => timeout(wire::clamp(limit), open(origin, cfg.local_address)).await,
    };
    let fail = |kind| Error::new(kind, Phase::Connect).with_url(origin_url(origin));
    let transport = opened
        .map_err(|_| fail(Kind::ConnectTimeout))?
        .map_err(|e| fail(Kind::Connect).with_source(e))?;
    transport
        .configure(&cfg)
        .map_err(|e| fail(Kind::Connect).with_source(e))?;
    let io = ConnIo::new(transport, cfg, origin.clone());
    Ok(Connection(machine::Connection::new(io).on_connected()))
}

/// Opens the transport; `local` binds a TCP connection first (Unix origins ignore it).
async fn open(origin: &Origin, local: Option<IpAddr>) -> std::io::Result<Transport> {
    match origin {
        Origin::Tcp { host, port } => match local {
            Some(local) => TcpStream::connect_host_from(local, host, *port).await,
            None => TcpStream::connect_host(host, *port).await,
        }
        .map(Transport::Tcp),
        Origin::Unix { path } => UnixStream::connect(path).await.map(Transport::Unix),
    }
}

/// The origin as a URL for error messages.
fn origin_url(origin: &Origin) -> String {
    match origin {
        Origin::Tcp { host, port } if host.contains(':') => format!("http://[{host}]:{port}"),
        Origin::Tcp { host, port } => format!("http://{host}:{port}"),
        Origin::Unix { path } => format!("http+unix://{}", path.display()),
    }
}
