//! `Connection<Idle>`: the only state that can send; what a pool asks an idle connection.

use std::rc::Rc;
use std::time::{Duration, Instant};

use super::state::Idle;
use super::{writing, Body, Connection, Recycled, Recycler, Transport};
use crate::error::Result;
use crate::http::{encode_head, Origin, Request, Response};

impl Connection<Idle> {
    /// Sends `req` and returns the response once its head has arrived; the [`Body`] owns the
    /// connection from then on.
    ///
    /// An invalid request is refused before any byte is written; the connection then goes
    /// back to its recycler (if any) still idle. Any later error closes it.
    pub async fn send(self, req: Request) -> Result<Response<Body>> {
        let mut buf = super::buf::take(self.inner.cfg.read_buffer_size);
        let enc = match encode_head(&req, &mut buf) {
            Ok(enc) => enc,
            Err(err) => {
                super::buf::give(buf);
                let err = err.with_url(req.url());
                self.hand_back();
                return Err(err);
            }
        };
        let mut conn = self.on_send();
        conn.inner.begin_exchange();
        writing::exchange(conn, buf, enc, req).await
    }

    /// Whether this connection may carry another request: the peer has not hung up (as the
    /// loop last saw, no syscall), the request budget ([`super::ConnConfig::max_requests`]) is
    /// not spent, and the server's `Keep-Alive: timeout` has not nearly passed.
    pub fn is_reusable(&self) -> bool {
        self.inner.is_reusable()
    }

    /// Exchanges completed clean on this connection.
    pub fn requests_served(&self) -> u64 {
        self.inner.requests_served
    }

    /// The server's `Keep-Alive: timeout=N`, when a response carried one.
    pub fn keep_alive_hint(&self) -> Option<Duration> {
        self.inner.keep_alive_hint
    }

    /// When the connection last became idle (or was connected).
    pub fn idle_since(&self) -> Instant {
        self.inner.idle_since
    }

    /// Where it is connected.
    pub fn origin(&self) -> &Origin {
        &self.inner.origin
    }

    /// The socket (for addresses and options).
    pub fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    /// Installs (or removes) the recycler every later exchange reports to.
    pub fn set_recycler(&mut self, recycler: Option<Rc<dyn Recycler>>) {
        self.inner.recycler = recycler;
    }

    /// Closes the connection now, reporting `close`'s error. No recycler is called.
    pub fn close(self) -> std::io::Result<()> {
        self.on_close().into_inner().transport.close()
    }

    /// Gives an unused idle connection back to its recycler (or drops it without one).
    fn hand_back(self) {
        if let Some(r) = self.inner.recycler.clone() {
            r.recycle(Recycled::Idle(self));
        }
    }
}
