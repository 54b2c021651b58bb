//! `Connection<Idle>`: the only state that can send; what a pool asks an idle connection.

use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::state::{Idle, WritingHead};
use super::{writing, Body, Connection, Gen, Recycled, Recycler, Transport};
use crate::error::Result;
use crate::http::{self, encode_head, Origin, Request, RequestEncoder, RequestFraming, Response};

/// Per-request overrides of the connection's [`ConnConfig`](super::ConnConfig).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendOptions {
    /// This request's read timeout (`None`: the config's).
    pub read_timeout: Option<Duration>,
    /// This request's write timeout (`None`: the config's).
    pub write_timeout: Option<Duration>,
    /// When the whole exchange must be over: a wait for body bytes past it fails with
    /// [`Kind::Timeout`](crate::error::Kind::Timeout) in
    /// [`Phase::ReadBody`](crate::error::Phase::ReadBody) and closes the connection. (The
    /// caller bounds the wait for the head itself.) `None`: no deadline, no timer.
    pub deadline: Option<Instant>,
}

impl Connection<Idle> {
    /// Sends `req` and returns the response once its head has arrived; the [`Body`] owns the
    /// connection from then on.
    ///
    /// An invalid request is refused before any byte is written; the connection then goes
    /// back to its recycler (if any) still idle. Any later error closes it.
    pub async fn send(self, req: Request) -> Result<Response<Body>> {
        // Not `send_with(..).await`: a layer that only forwards would keep its own copy of
        // the request in every future in flight.
        let (conn, enc, body) = self.begin(req, SendOptions::default(), false)?;
        writing::exchange(conn, enc, body).await
    }

    /// [`send`](Connection::send) with per-request timeouts.
    pub async fn send_with(self, req: Request, opts: SendOptions) -> Result<Response<Body>> {
        let (conn, enc, body) = self.begin(req, opts, false)?;
        writing::exchange(conn, enc, body).await
    }

    /// [`send_with`](Connection::send_with) for the pool, started now (the caller awaits at
    /// once): returns the rest of the exchange, a future that holds no copy of the request
    /// (its head is in the connection, its body in the writer), or the error of an invalid
    /// request (the connection is then handed back idle).
    ///
    /// `return_request`: a failure before any response byte arrived
    /// ([`Error::is_retry_safe`](crate::Error::is_retry_safe)) carries the request's head back
    /// (`Error::take_request_head`): with a copy of an in-memory body, the caller has the
    /// request again to retry a stale connection, without copying every request in advance.
    pub(crate) fn start(
        self,
        req: Request,
        opts: SendOptions,
        return_request: bool,
    ) -> Result<impl Future<Output = Result<Response<Body>>>> {
        let (conn, enc, body) = self.begin(req, opts, return_request)?;
        Ok(writing::exchange(conn, enc, body))
    }

    /// Encodes the head into a fresh buffer, starts the exchange and moves the head into the
    /// connection (its URL goes into errors); returns the body still to send.
    /// `return_request`: a retry-safe failure carries the head back. An invalid request hands
    /// the still idle connection back.
    fn begin(
        self,
        req: Request,
        opts: SendOptions,
        return_request: bool,
    ) -> Result<(Gen<WritingHead>, RequestEncoder, http::Body)> {
        let mut conn = self.0;
        let m = &mut *conn.inner.m;
        m.buf = super::buf::take(m.cfg.read_buffer_size);
        let enc = match encode_head(&req, &mut m.buf) {
            Ok(enc) => enc,
            Err(err) => {
                conn.inner.release_exchange();
                Connection(conn).hand_back();
                return Err(err.with_url(req.url()));
            }
        };
        let mut conn = super::mark(conn.on_send(enc.framing() != RequestFraming::None));
        conn.inner.begin_exchange(&opts);
        let (head, body) = req.into_parts();
        let m = &mut *conn.inner.m;
        m.return_request = return_request;
        m.req = Some(head);
        Ok((conn, enc, body))
    }

    /// Whether this connection may carry another request: the peer has not hung up (as the
    /// loop last saw, no syscall), the request budget ([`super::ConnConfig::max_requests`]) is
    /// not spent, and the server's `Keep-Alive: timeout` has not nearly passed.
    pub fn is_reusable(&self) -> bool {
        self.0.inner.is_reusable()
    }

    /// Exchanges completed clean on this connection.
    pub fn requests_served(&self) -> u64 {
        self.0.inner.m.requests_served
    }

    /// The server's `Keep-Alive: timeout=N`, when a response carried one.
    pub fn keep_alive_hint(&self) -> Option<Duration> {
        self.0.inner.m.keep_alive_hint
    }

    /// When the connection last became idle (or was connected).
    pub fn idle_since(&self) -> Instant {
        self.0.inner.m.idle_since
    }

    /// Where it is connected.
    pub fn origin(&self) -> &Origin {
        &self.0.inner.m.origin
    }

    /// The server's address (TCP only).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.0.inner.transport.peer_addr()
    }

    /// The socket (for addresses and options).
    pub fn transport(&self) -> &Transport {
        &self.0.inner.transport
    }

    /// Installs (or removes) the recycler that every later exchange reports to.
    pub fn set_recycler(&mut self, recycler: Option<Rc<dyn Recycler>>) {
        self.0.inner.m.recycler = recycler;
    }

    /// The model's view (state and variables), for conformance tests.
    #[doc(hidden)]
    pub fn model(&self) -> crate::generated::connection::Model {
        self.0.model()
    }

    /// Closes the connection now, reporting `close`'s error. No recycler is called.
    pub fn close(self) -> std::io::Result<()> {
        self.0.on_close().into_inner().transport.close()
    }

    /// Closes an idle connection the pool found expired (idle timeout or server hint).
    pub fn expire(self) {
        drop(self.0.on_idle_expired());
    }

    /// Gives an unused idle connection back to its recycler (or drops it without one).
    fn hand_back(self) {
        if let Some(r) = self.0.inner.m.recycler.clone() {
            r.recycle(Recycled::Idle(self));
        }
    }
}

/// Hands a connection that just became idle on: to its recycler (`None` returned), or back to
/// the caller when there is none.
pub(super) fn hand_idle(mut idle: Gen<Idle>) -> Option<Connection<Idle>> {
    match idle.inner.end_exchange_clean() {
        Some(recycler) => {
            recycler.recycle(Recycled::Idle(Connection(idle)));
            None
        }
        None => Some(Connection(idle)),
    }
}
