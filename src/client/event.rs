//! What the client reports to an [`on_event`](super::ClientBuilder::on_event) callback.

use std::fmt;
use std::net::SocketAddr;

use crate::error::Kind;
use crate::http::Origin;

/// Something that happened to one of the client's connections.
///
/// Borrowed: the callback sees it for the duration of the call.
#[non_exhaustive]
#[derive(Clone, Copy, Debug)]
pub enum ClientEvent<'a> {
    /// A new connection was established.
    Connected {
        /// Where to.
        origin: &'a Origin,
        /// The peer's address (`None` for Unix sockets).
        addr: Option<SocketAddr>,
    },
    /// A pooled idle connection was taken for a request.
    Reused {
        /// Where to.
        origin: &'a Origin,
        /// How many requests the connection had carried before this one.
        requests_served: u64,
    },
    /// A connection was closed.
    Closed {
        /// Where to.
        origin: &'a Origin,
        /// Why.
        reason: CloseReason,
    },
    /// A request is sent again (after a failed connect, or a stale reused connection).
    Retried {
        /// Where to.
        origin: &'a Origin,
        /// Which attempt comes next (2 for the first retry).
        attempt: u32,
        /// What made the previous attempt fail.
        cause: Kind,
    },
}

/// Why a connection was closed.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// It stayed idle past `idle_timeout` (or the server's `Keep-Alive: timeout` hint).
    IdleTimeout,
    /// The peer closed or reset it while it was idle in the pool.
    PeerClosed,
    /// The exchange left it unusable (either side asked to close, or an error).
    NotReusable,
    /// It carried `max_requests_per_connection` requests.
    MaxRequests,
    /// Its host already had `max_idle_per_host` idle connections.
    IdleLimit,
    /// Closed to make room under `max_connections` for a connection to another host.
    Evicted,
    /// It was registered with another event loop than the one now running the client.
    OtherLoop,
    /// The request failed on it.
    Error,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CloseReason::IdleTimeout => "idle timeout",
            CloseReason::PeerClosed => "closed by peer while idle",
            CloseReason::NotReusable => "not reusable",
            CloseReason::MaxRequests => "max requests per connection reached",
            CloseReason::IdleLimit => "max idle per host reached",
            CloseReason::Evicted => "evicted for another host",
            CloseReason::OtherLoop => "belongs to another event loop",
            CloseReason::Error => "request failed",
        })
    }
}

/// Shows an origin as `host:port` or the socket path.
#[derive(Debug)]
pub(crate) struct ShowOrigin<'a>(pub(crate) &'a Origin);

impl fmt::Display for ShowOrigin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Origin::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Origin::Tcp { host, port } => write!(f, "{host}:{port}"),
            Origin::Unix { path } => write!(f, "unix:{}", path.display()),
        }
    }
}

impl fmt::Display for ClientEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ClientEvent::Connected {
                origin,
                addr: Some(a),
            } => write!(f, "connected to {} ({a})", ShowOrigin(origin)),
            ClientEvent::Connected { origin, addr: None } => {
                write!(f, "connected to {}", ShowOrigin(origin))
            }
            ClientEvent::Reused {
                origin,
                requests_served,
            } => {
                write!(
                    f,
                    "reused connection to {} ({requests_served} requests so far)",
                    ShowOrigin(origin)
                )
            }
            ClientEvent::Closed { origin, reason } => {
                write!(f, "closed connection to {}: {reason}", ShowOrigin(origin))
            }
            ClientEvent::Retried {
                origin,
                attempt,
                cause,
            } => {
                write!(
                    f,
                    "retrying request to {} (attempt {attempt}) after: {cause}",
                    ShowOrigin(origin)
                )
            }
        }
    }
}
