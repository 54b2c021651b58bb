//! The hand-written I/O part of a connection: [`ConnIo`] (transport, config, counters,
//! keep-alive hint, idle time) and [`Transport`] (TCP or Unix behind one [`AsyncStream`]).
//!
//! # Invariants
//! - An idle `ConnIo` holds no read or write buffer, and neither does an active one that
//!   waits with nothing buffered: the request head is encoded into a buffer from the
//!   per-loop free list ([`super::buf`]) that goes back once the head is written; a read
//!   takes one only when the socket is readable ([`ConnIo::poll_read`]) and gives it back when
//!   a read has to wait with no byte buffered, and the exchange's end gives back the rest. So
//!   10,000 requests waiting for slow servers hold no buffer memory.
//! - The one exception: a buffer grown past `read_buffer_size` (a fast download) stays with
//!   its exchange and is freed, not pooled, at the end.
//! - `requests_served` counts exchanges that ended clean (the connection went back to idle).

use std::fmt;
use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::rc::Rc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use bytes::BytesMut;

use super::config::{ConnConfig, KEEP_ALIVE_MARGIN};
use super::wire::{make_room, Deadline};
use super::{CloseReason, ExchangeGuard, Recycler, SendOptions};
use crate::generated::connection::{Event, State};
use crate::http::Origin;
use crate::http::{BodyDecoder, RequestHead};
use crate::rt::net::{AsyncStream, TcpStream, UnixStream};

/// The byte stream under a connection.
#[derive(Debug)]
pub enum Transport {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A Unix-domain stream connection.
    Unix(UnixStream),
}

/// Forwards one `AsyncStream` call to the variant.
macro_rules! forward {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            Transport::Tcp($s) => $call,
            Transport::Unix($s) => $call,
        }
    };
}

impl AsyncStream for Transport {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        forward!(self, s => s.poll_read(cx, buf))
    }
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<io::Result<usize>> {
        forward!(self, s => s.poll_read_buf(cx, buf))
    }
    fn poll_read_buf_at_most(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
        max: usize,
    ) -> Poll<io::Result<usize>> {
        forward!(self, s => s.poll_read_buf_at_most(cx, buf, max))
    }
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        forward!(self, s => s.poll_write(cx, buf))
    }
    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        forward!(self, s => s.poll_write_vectored(cx, bufs))
    }
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        forward!(self, s => s.shutdown(how))
    }
    fn peer_hung_up(&self) -> bool {
        forward!(self, s => s.peer_hung_up())
    }
    fn drop_waiter(&self, write: bool) {
        forward!(self, s => s.drop_waiter(write))
    }
    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        forward!(self, s => s.poll_read_ready(cx))
    }
}

impl Transport {
    /// Applies the socket options of `cfg` (TCP only; Unix takes the buffer sizes).
    pub(crate) fn configure(&self, cfg: &ConnConfig) -> io::Result<()> {
        match self {
            Transport::Tcp(s) => {
                if !cfg.nodelay {
                    s.set_nodelay(false)?;
                }
                if cfg.tcp_keepalive {
                    s.set_keepalive(true)?;
                }
                apply_sizes(
                    cfg,
                    |n| s.set_send_buffer_size(n),
                    |n| s.set_recv_buffer_size(n),
                )
            }
            Transport::Unix(s) => apply_sizes(
                cfg,
                |n| s.set_send_buffer_size(n),
                |n| s.set_recv_buffer_size(n),
            ),
        }
    }

    /// The peer's address (TCP only).
    pub fn peer_addr(&self) -> Option<std::net::SocketAddr> {
        match self {
            Transport::Tcp(s) => s.peer_addr().ok(),
            Transport::Unix(_) => None,
        }
    }

    /// Our local address (TCP only).
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        match self {
            Transport::Tcp(s) => s.local_addr().ok(),
            Transport::Unix(_) => None,
        }
    }

    /// Closes the socket now, reporting `close`'s error.
    pub fn close(self) -> io::Result<()> {
        forward!(self, s => s.close())
    }
}

fn apply_sizes(
    cfg: &ConnConfig,
    send: impl Fn(usize) -> io::Result<()>,
    recv: impl Fn(usize) -> io::Result<()>,
) -> io::Result<()> {
    if let Some(n) = cfg.send_buffer_size {
        send(n)?;
    }
    if let Some(n) = cfg.recv_buffer_size {
        recv(n)?;
    }
    Ok(())
}

/// The I/O part of a connection: what the typestate carries as `inner`.
///
/// Two words and a transport: everything else sits behind one box per connection, so that
/// the typestate transitions and the futures move ~48 bytes, not ~400.
pub struct ConnIo {
    /// The socket.
    pub(crate) transport: Transport,
    /// Settings, counters and the exchange in flight.
    pub(crate) m: Box<Meta>,
}

/// The per-connection state behind [`ConnIo`]'s box.
pub(crate) struct Meta {
    /// Settings, shared by every connection a pool makes to one origin.
    pub(crate) cfg: Rc<ConnConfig>,
    /// Where it is connected (the pool's key).
    pub(crate) origin: Origin,
    /// Exchanges that ended clean on this connection.
    pub(crate) requests_served: u64,
    /// The server's `Keep-Alive: timeout=N`, from the last response that carried one (read
    /// only while idle: an exchange that does not end clean closes the connection).
    pub(crate) keep_alive_hint: Option<Duration>,
    /// When the connection last became idle (or was connected).
    pub(crate) idle_since: Instant,
    /// Where a finished body hands the connection (installed by a pool).
    pub(crate) recycler: Option<Rc<dyn Recycler>>,
    /// Armed while an exchange is in flight on a connection with a recycler.
    pub(crate) exchange: Option<ExchangeGuard>,
    /// The read timeout of the exchange in flight (config, or the request's override).
    pub(crate) read_timeout: Option<Duration>,
    /// The write timeout of the exchange in flight.
    pub(crate) write_timeout: Option<Duration>,
    /// The exchange's buffer (request head, then response bytes); empty and unallocated
    /// while idle and while a read waits with nothing buffered (see the module doc).
    pub(crate) buf: BytesMut,
    /// How the response body is delimited and how far it is decoded.
    pub(crate) decoder: BodyDecoder,
    /// The request in flight (its URL goes into errors).
    pub(crate) req: Option<RequestHead>,
    /// The sender wants the request's head back with a retry-safe failure ([`super::fail`]).
    pub(crate) return_request: bool,
    /// The read timer of the current wait in the body.
    pub(crate) deadline: Deadline,
    /// How much the next body read may pull (grows while reads fill the buffer).
    pub(crate) read_size: usize,
    /// The buffer grew past `read_buffer_size`: free it at the end instead of pooling it.
    pub(crate) grown: bool,
    /// The model state of the exchange in flight, kept for the trace of a cancellation.
    pub(crate) at: State,
}

impl Drop for Meta {
    /// A connection dropped mid-exchange (the request future or a drain task was dropped)
    /// took no closing transition: report the model's `cancel` to the trace. (The recycler
    /// hears `Cancelled` from the exchange guard.)
    fn drop(&mut self) {
        if self.req.is_some() && crate::trace::enabled() {
            crate::trace::record(&crate::trace::Transition {
                machine: crate::generated::connection::MACHINE,
                from: self.at.name(),
                event: Event::Cancel.name(),
                args: &Event::Cancel.arg_values(),
                to: State::Closed.name(),
            });
        }
    }
}

impl fmt::Debug for ConnIo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnIo")
            .field("transport", &self.transport)
            .field("origin", &self.m.origin)
            .field("requests_served", &self.m.requests_served)
            .field("keep_alive_hint", &self.m.keep_alive_hint)
            .field("recycler", &self.m.recycler.is_some())
            .finish_non_exhaustive()
    }
}

impl ConnIo {
    /// A freshly connected transport.
    pub(crate) fn new(transport: Transport, cfg: Rc<ConnConfig>, origin: Origin) -> ConnIo {
        let m = Meta {
            cfg,
            origin,
            requests_served: 0,
            keep_alive_hint: None,
            idle_since: Instant::now(),
            recycler: None,
            exchange: None,
            read_timeout: None,
            write_timeout: None,
            buf: BytesMut::new(),
            decoder: BodyDecoder::empty(),
            req: None,
            return_request: false,
            deadline: Deadline::new(None),
            read_size: 0,
            grown: false,
            at: State::Idle,
        };
        ConnIo {
            transport,
            m: Box::new(m),
        }
    }

    /// Whether an idle connection may carry another request: the peer has not hung up, the
    /// request budget is not spent and the server's keep-alive timeout has not (nearly) passed.
    pub(crate) fn is_reusable(&self) -> bool {
        let m = &self.m;
        let budget = m
            .cfg
            .max_requests
            .map_or(true, |max| m.requests_served < max);
        budget && !self.transport.peer_hung_up() && !self.server_timeout_near()
    }

    /// Starts an exchange: takes a buffer, sets the timeouts, and arms the recycler guard if
    /// a recycler is installed.
    pub(crate) fn begin_exchange(&mut self, opts: &SendOptions) {
        let m = &mut *self.m;
        m.read_timeout = opts.read_timeout.or(m.cfg.read_timeout);
        m.write_timeout = opts.write_timeout.or(m.cfg.write_timeout);
        m.deadline = Deadline::capped(m.read_timeout, opts.deadline);
        m.read_size = m.cfg.read_buffer_size;
        if let Some(r) = &m.recycler {
            m.exchange = Some(ExchangeGuard::arm(r.clone()));
        }
    }

    /// The request head is written: its buffer goes back to the free list, so that a request
    /// waiting for its response holds none.
    pub(crate) fn release_write_buffer(&mut self) {
        super::buf::give(std::mem::take(&mut self.m.buf));
    }

    /// One read of at most `max` bytes into the exchange buffer; `(n, room)`: the bytes read
    /// (`0`: end of stream) and how many the buffer had room for.
    ///
    /// Without a buffer it first waits for readability (no syscall: the loop's recorded
    /// readiness), then takes one from the free list; a read that has to wait with nothing
    /// buffered gives it back (unless it grew). In the common case — the socket turned
    /// readable — this is the same single `read` as reading straight away.
    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        max: usize,
    ) -> Poll<io::Result<(usize, usize)>> {
        let ConnIo { transport, m } = self;
        if m.buf.capacity() == 0 && !m.grown {
            ready!(transport.poll_read_ready(cx))?;
            m.buf = super::buf::take(m.read_size);
        }
        make_room(&mut m.buf, m.read_size);
        let room = (m.buf.capacity() - m.buf.len()).min(max);
        match transport.poll_read_buf_at_most(cx, &mut m.buf, max) {
            Poll::Ready(read) => Poll::Ready(read.map(|n| (n, room))),
            Poll::Pending => {
                if m.buf.is_empty() && !m.grown {
                    super::buf::give(std::mem::take(&mut m.buf));
                }
                Poll::Pending
            }
        }
    }

    /// The request in flight's URL, for errors.
    pub(crate) fn url(&self) -> Option<&crate::http::Url> {
        self.m.req.as_ref().map(RequestHead::url)
    }

    /// Attaches the URL of the request in flight to `err`.
    pub(crate) fn with_url(&self, err: crate::Error) -> crate::Error {
        match self.url() {
            Some(url) => err.with_url(url),
            None => err,
        }
    }

    /// Sets what the recycler hears if this exchange ends with the connection dropped.
    pub(crate) fn set_close_reason(&mut self, reason: CloseReason) {
        if let Some(guard) = &mut self.m.exchange {
            guard.reason = reason;
        }
    }

    /// Ends an exchange that closes the connection: [`release_exchange`](Self::release_exchange)
    /// and what the recycler hears.
    pub(crate) fn close_exchange(&mut self, reason: CloseReason) {
        self.release_exchange();
        self.set_close_reason(reason);
    }

    /// Ends the exchange's buffer use: gives the buffer back to the free list and forgets the
    /// request. Returns whether bytes were left over after the response.
    pub(crate) fn release_exchange(&mut self) -> bool {
        let m = &mut *self.m;
        let leftover = !m.buf.is_empty();
        let buf = std::mem::take(&mut m.buf);
        match std::mem::replace(&mut m.grown, false) {
            true => drop(buf),
            false => super::buf::give(buf),
        }
        m.req = None;
        m.deadline.reset();
        leftover
    }

    /// The exchange ended clean: counts it and returns the recycler to hand the idle
    /// connection to (`None`: the caller keeps it).
    pub(crate) fn end_exchange_clean(&mut self) -> Option<Rc<dyn Recycler>> {
        let m = &mut *self.m;
        m.requests_served += 1;
        m.idle_since = Instant::now();
        m.exchange.take().and_then(ExchangeGuard::disarm)
    }

    fn server_timeout_near(&self) -> bool {
        let m = &self.m;
        m.keep_alive_hint
            .is_some_and(|hint| m.idle_since.elapsed() + KEEP_ALIVE_MARGIN >= hint)
    }
}
