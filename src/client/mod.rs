//! The pooled client.
//!
//! A [`Client`] sends requests over pooled keep-alive connections, one pool per event loop
//! (the client is `!Send`: clone it freely within its thread, build one per thread for
//! thread-per-core, or use [`crate::blocking::Client`] from plain threads).
//!
//! One request's path: wait (FIFO, bounded by the pool timeout) for a slot of its origin and
//! of the pool → take the most recently used live idle connection, or connect (retrying
//! failed connects per [`ClientBuilder::retries`]) → send → the response [`Body`] owns the
//! connection; reading it to its end puts the connection back in the pool, dropping it early
//! drains (bounded) or closes it. The pool's slot comes back in every case, including when the
//! request future is dropped at any await point.
//!
//! A request that fails on a *reused* connection before any response byte arrived
//! ([`Error::is_retry_safe`]) is sent once more on a new connection, when its method is
//! idempotent (GET, HEAD, PUT, DELETE, OPTIONS, TRACE) and its body replayable (empty or in
//! memory); a `POST` or a streamed body is never sent twice. The second attempt sends the
//! request the failed connection handed back with its error, not a copy made in advance: a
//! request that succeeds pays nothing for the retry.
//!
//! An idle pooled connection costs about 700 bytes of heap (no read or write buffer:
//! `tests/client_alloc.rs` counts it) and no timer: one reaper timer runs only while idle
//! connections with an expiry exist.
//!
//! # Thread-per-core
//!
//! A `Client` belongs to the loop of the thread that uses it. To use every core, run one loop
//! per thread, each with its own `Client` and so its own pool: nothing is shared, no lock is
//! taken on the request path, and each connection stays on the epoll instance that made it.
//! Limits then apply per thread (`max_connections_per_host(16)` on 4 threads allows 64
//! connections to a host in all). `examples/thread_per_core.rs` is a complete program:
//! `cargo run --release --example thread_per_core -- [URL] [REQUESTS_PER_THREAD] [THREADS]`.
//! ```no_run
//! let threads: Vec<_> = (0..4)
//!     .map(|_| {
//!         std::thread::spawn(|| {
//!             let rt = weir::rt::Runtime::new()?;
//!             rt.block_on(async {
//!                 let client = weir::client::Client::new(); // this thread's pool
//!                 let body = client.get("http://127.0.0.1:8080/").await?.into_body();
//!                 body.bytes().await?;
//!                 Ok::<_, weir::Error>(())
//!             })?;
//!             Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//!         })
//!     })
//!     .collect();
//! for t in threads {
//!     t.join().unwrap().unwrap();
//! }
//! ```
//! Plain threads that should not run a loop themselves use [`crate::blocking::Client`]: one
//! background loop shared by all of them.
//!
//! # Examples
//! ```no_run
//! weir::rt::block_on(async {
//!     let client = weir::client::Client::new();
//!     let resp = client.get("http://127.0.0.1:8080/").await?;
//!     println!("{}", resp.status());
//!     let text = resp.into_body().text().await?;
//!     println!("{text}");
//!     Ok::<(), weir::Error>(())
//! })?;
//! # Ok::<(), weir::Error>(())
//! ```

mod config;
mod event;
pub(crate) mod pool;
mod pooled;
pub(crate) mod retry;

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

pub use config::{
    ClientBuilder, RequestOptions, CONNECT_TIMEOUT, IDLE_TIMEOUT, MAX_CONNECTIONS,
    MAX_CONNECTIONS_PER_HOST, MAX_IDLE_PER_HOST, MAX_RETRY_BACKOFF, RETRY_BACKOFF,
};
pub use event::{ClientEvent, CloseReason};
pub use pool::{PoolCounts, PoolStats};

pub use crate::conn::Body;

use config::{ClientConfig, Effective};
use pool::{Checkout, Pool};
use pooled::Pooled;

use crate::conn::{state::Idle, ConnConfig, Connection, SendOptions};
use crate::error::{Error, Kind, Phase, Result};
use crate::http::{Origin, Request, Response};
use crate::rt::time::{sleep_until, Sleep};

/// An HTTP/1.1 client with a connection pool. Cheap to clone (an `Rc`); lives on one thread.
///
/// See the [module docs](self) for what a request goes through, and [`ClientBuilder`] for the
/// settings and their defaults.
#[derive(Clone)]
pub struct Client {
    /// Settings and pool, shared by the clones.
    inner: Rc<ClientInner>,
}

/// What the clones of a client share.
struct ClientInner {
    /// The settings.
    config: ClientConfig,
    /// The connection settings derived from them, shared by every connection.
    conn_config: Rc<ConnConfig>,
    /// The pool.
    pool: Pool<Pooled>,
}

impl Default for Client {
    fn default() -> Client {
        Client::new()
    }
}

impl Client {
    /// A client with the default settings (see [`ClientBuilder`]).
    pub fn new() -> Client {
        ClientBuilder::new().build()
    }

    /// A builder to change the settings.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    pub(crate) fn from_config(config: ClientConfig) -> Client {
        let conn_config = Rc::new(conn_config(&config, None));
        let pool = Pool::new(config.pool.clone(), config.events.clone());
        let inner = ClientInner {
            config,
            conn_config,
            pool,
        };
        Client {
            inner: Rc::new(inner),
        }
    }

    /// Sends `req` and returns the response once its head arrived; read the body from it.
    ///
    /// # Errors
    /// A [`Error`] with the URL and the phase: pool timeout, connect failure or timeout, write
    /// or read failure or timeout, an invalid response.
    ///
    /// # Panics
    /// Outside a running weir loop ([`crate::rt::block_on`]).
    pub fn send(&self, req: Request) -> impl Future<Output = Result<Response<Body>>> + '_ {
        self.send_with(req, RequestOptions::default())
    }

    /// [`send`](Self::send) with per-request timeouts overriding the client's.
    pub fn send_with(
        &self,
        req: Request,
        opts: RequestOptions,
    ) -> impl Future<Output = Result<Response<Body>>> + '_ {
        // Plain functions down to `execute`: an `async fn` that only forwards keeps its own
        // copy of the request in every request future (see `execute`).
        let eff = opts.resolve(&self.inner.config);
        self.execute(req, eff)
    }

    /// `GET url`.
    ///
    /// # Errors
    /// As [`send`](Self::send), and for a URL that does not parse.
    pub async fn get(&self, url: &str) -> Result<Response<Body>> {
        let req = Request::get(url).build()?;
        self.send(req).await
    }

    /// How many connections are connecting, active and idle, and how many requests wait for
    /// one: in total and per origin.
    pub fn pool_stats(&self) -> PoolStats {
        self.inner.pool.stats()
    }

    /// Closes every idle pooled connection now.
    pub fn close_idle(&self) {
        self.inner.pool.clear_idle();
    }

    /// Opens up to `n` new connections to `url`'s origin and parks them idle in the pool,
    /// without sending a request; returns how many it opened.
    ///
    /// It stops early, without waiting or closing anything, once the pool's limits
    /// (`max_connections`, `max_connections_per_host`, `max_idle_per_host`) leave no room or
    /// requests are waiting for a slot, or at the first connect failure. Connections are
    /// opened one after another, with the client's connect timeout (no retries), and reported
    /// as [`ClientEvent::Connected`]; only the origin of `url` counts. Unlike opening them
    /// with `n` requests at once, nothing but the connections is allocated, so a large pool
    /// can be filled without the high-water mark of `n` requests in flight.
    ///
    /// # Errors
    /// A URL that does not parse; the connect error when not even one connection opened.
    ///
    /// # Examples
    /// ```no_run
    /// # weir::rt::block_on(async {
    /// let client = weir::client::Client::new();
    /// let opened = client.preconnect("http://127.0.0.1:8080/", 8).await?;
    /// assert_eq!(client.pool_stats().total.idle, opened);
    /// # Ok::<(), weir::Error>(()) });
    /// ```
    pub async fn preconnect(&self, url: &str, n: usize) -> Result<usize> {
        let origin = crate::http::Url::parse(url)?.origin().clone();
        let eff = RequestOptions::default().resolve(&self.inner.config);
        let mut opened = 0;
        while opened < n && self.has_room_for(&origin) {
            let checkout = self
                .inner
                .pool
                .checkout(&origin, Some(Duration::ZERO), true);
            let Ok(Checkout::Connect(mut lease)) = checkout.await else {
                break; // a slot was not free at once (or the pool handed out an idle one)
            };
            match self.connect(&origin, &eff).await {
                Ok(conn) => {
                    lease.connected();
                    self.emit_connected(&origin, &conn);
                    let Pooled { conn, slot } = Pooled::new(conn, lease);
                    crate::conn::Recycler::recycle(&*slot, crate::conn::Recycled::Idle(conn)); // idle now
                    opened += 1;
                }
                Err(err) => {
                    lease.connect_failed();
                    return if opened == 0 { Err(err) } else { Ok(opened) };
                }
            }
        }
        Ok(opened)
    }

    /// Whether one more idle connection to `origin` fits the pool's limits, with no request
    /// waiting for a slot.
    fn has_room_for(&self, origin: &Origin) -> bool {
        let limits = &self.inner.config.pool;
        let stats = self.inner.pool.stats();
        let host = stats.host(origin);
        stats.total.waiters == 0
            && stats.total.connections() < limits.max_connections
            && host.connections() < limits.max_connections_per_host
            && host.idle < limits.max_idle_per_host
    }

    /// The request loop: obtain a connection, send, retry a stale reused connection once;
    /// all of it bounded by the whole-request timeout, when there is one.
    ///
    /// This future is what every request in flight costs (a crawler keeps thousands), so it
    /// is the only one to own the request: each step borrows it, the connection takes it at
    /// the call that starts the exchange, and each step's future is pinned here, once. (An
    /// `async fn` would store a second copy of its borrowed arguments, rust-lang/rust#62958,
    /// and so would every layer that only forwards.)
    #[allow(clippy::manual_async_fn)] // the `async fn` form doubles the request, see above
    fn execute(
        &self,
        mut req: Request,
        mut eff: Effective,
    ) -> impl Future<Output = Result<Response<Body>>> + '_ {
        async move {
            // The body enforces the same deadline (`None` if it lies beyond what `Instant`
            // holds: no bound then).
            eff.deadline = eff
                .timeout
                .and_then(|limit| Instant::now().checked_add(limit));
            let phase = Cell::new(Phase::Pool);
            let mut fresh = false;
            loop {
                let obtain = self.obtain(req.url().origin(), &eff, fresh, &phase);
                let (conn, reused) = match Within::new(eff.deadline, pin!(obtain)).await {
                    Some(Ok(obtained)) => obtained,
                    Some(Err(err)) => return Err(with_url_if_missing(err, &req)),
                    None => return Err(whole_request_timeout(phase.get()).with_url(req.url())),
                };
                // The connection layer knows whether it is writing or waiting; a whole-request
                // timeout from here on is reported as waiting for the response.
                phase.set(Phase::ReadHead);
                let replay = reused.then(|| retry::replay_body(&req)).flatten();
                // The request moves into the connection: keep its URL for a timeout's error.
                let url = eff.deadline.map(|_| req.url().to_string());
                let exchange = match conn.start(req, send_options(&eff), replay.is_some()) {
                    Ok(exchange) => exchange,
                    Err(invalid) => return Err(invalid),
                };
                let mut error = match Within::new(eff.deadline, pin!(exchange)).await {
                    Some(Ok(resp)) => return Ok(resp),
                    Some(Err(error)) => error,
                    None => return Err(timed_out_waiting(url)),
                };
                match (error.take_request_head(), replay) {
                    (Some(head), Some(body)) => {
                        req = Request::from_parts(head, body);
                        self.emit_retried(req.url().origin(), 2, error.kind());
                        fresh = true;
                    }
                    _ => return Err(error),
                }
            }
        }
    }

    /// A connection for `origin`: a live idle one (unless `fresh`), or a new one, retrying
    /// failed connects. Returns whether it was reused.
    #[allow(clippy::manual_async_fn)] // an `async fn` would store its arguments twice
    fn obtain<'a>(
        &'a self,
        origin: &'a Origin,
        eff: &'a Effective,
        fresh: bool,
        phase: &'a Cell<Phase>,
    ) -> impl Future<Output = Result<(Connection<Idle>, bool)>> + 'a {
        async move {
            let mut failures = 0;
            loop {
                phase.set(Phase::Pool);
                let checkout = self.inner.pool.checkout(origin, eff.pool_timeout, fresh);
                let mut lease = match checkout.await? {
                    Checkout::Reused(pooled, lease) => {
                        self.emit_reused(origin, &pooled);
                        return Ok((pooled.lend(lease), true));
                    }
                    Checkout::Connect(lease) => lease,
                };
                phase.set(Phase::Connect);
                let err = match self.connect(origin, eff).await {
                    Ok(conn) => {
                        lease.connected();
                        self.emit_connected(origin, &conn);
                        return Ok((Pooled::new(conn, lease).conn, false));
                    }
                    Err(err) => err,
                };
                lease.connect_failed();
                if failures >= self.inner.config.retries || !err.is_retry_safe() {
                    return Err(err);
                }
                failures += 1;
                self.emit_retried(origin, failures + 1, err.kind());
                let pause = retry::backoff(self.inner.config.retry_backoff, failures);
                crate::rt::time::sleep(pause).await;
            }
        }
    }

    /// Opens a connection with this request's connect timeout.
    fn connect<'a>(
        &self,
        origin: &'a Origin,
        eff: &Effective,
    ) -> impl Future<Output = Result<Connection<Idle>>> + 'a {
        let cfg = self.conn_config_for(eff);
        crate::conn::connect_with(origin, cfg)
    }

    /// The client's shared connection settings, or a copy with this request's connect timeout.
    fn conn_config_for(&self, eff: &Effective) -> Rc<ConnConfig> {
        let shared = &self.inner.conn_config;
        let same = shared.connect_timeout == eff.connect_timeout;
        if same {
            shared.clone()
        } else {
            Rc::new(conn_config(&self.inner.config, Some(eff)))
        }
    }

    fn emit_connected(&self, origin: &Origin, conn: &Connection<Idle>) {
        let addr = conn.peer_addr();
        self.inner
            .pool
            .emit(&ClientEvent::Connected { origin, addr });
    }

    fn emit_reused(&self, origin: &Origin, pooled: &Pooled) {
        let requests_served = pooled.conn.requests_served();
        let event = ClientEvent::Reused {
            origin,
            requests_served,
        };
        self.inner.pool.emit(&event);
    }

    fn emit_retried(&self, origin: &Origin, attempt: u32, cause: Kind) {
        let event = ClientEvent::Retried {
            origin,
            attempt,
            cause,
        };
        self.inner.pool.emit(&event);
    }
}

/// The connection settings of `config`, with a request's timeouts when given.
fn conn_config(config: &ClientConfig, eff: Option<&Effective>) -> ConnConfig {
    let (connect, read, write) = match eff {
        Some(e) => (e.connect_timeout, e.read_timeout, e.write_timeout),
        None => (
            config.connect_timeout,
            config.read_timeout,
            config.write_timeout,
        ),
    };
    ConnConfig {
        limits: config.limits,
        connect_timeout: connect,
        read_timeout: read,
        write_timeout: write,
        max_requests: config.pool.max_requests_per_connection,
        nodelay: config.nodelay,
        tcp_keepalive: config.tcp_keepalive,
        send_buffer_size: config.send_buffer_size,
        recv_buffer_size: config.recv_buffer_size,
        local_address: config.local_address,
        ..config.conn.clone()
    }
}

/// This request's read and write timeouts and deadline, for the connection.
fn send_options(eff: &Effective) -> SendOptions {
    SendOptions {
        read_timeout: eff.read_timeout,
        write_timeout: eff.write_timeout,
        deadline: eff.deadline,
    }
}

/// The error of a whole-request timeout: the timeout kind of the phase it interrupted.
fn whole_request_timeout(phase: Phase) -> Error {
    let kind = match phase {
        Phase::Pool => Kind::PoolTimeout,
        Phase::Connect => Kind::ConnectTimeout,
        _ => Kind::ReadTimeout,
    };
    Error::new(kind, phase)
}

/// The error of a whole-request timeout while waiting for the response of the request to
/// `url`.
fn timed_out_waiting(url: Option<String>) -> Error {
    let err = whole_request_timeout(Phase::ReadHead);
    match url {
        Some(url) => err.with_url(url),
        None => err,
    }
}

/// A step of a request, given up (`None`) at the whole-request deadline when there is one.
///
/// The step's future is pinned by the caller and only borrowed here, so it is stored once (in
/// the request's future) whether or not a deadline applies, and this needs no `unsafe`; the
/// timer is made only if the step has to wait.
struct Within<'a, F> {
    /// The step.
    step: Pin<&'a mut F>,
    /// The deadline, then its timer once the step returned `Pending`.
    until: Option<Instant>,
    /// The timer (`None` until the first wait, or without a deadline).
    sleep: Option<Sleep>,
}

impl<'a, F: Future> Within<'a, F> {
    fn new(until: Option<Instant>, step: Pin<&'a mut F>) -> Within<'a, F> {
        Within {
            step,
            until,
            sleep: None,
        }
    }
}

impl<F: Future> Future for Within<'_, F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<F::Output>> {
        let this = &mut *self;
        if let Poll::Ready(out) = this.step.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        let Some(until) = this.until else {
            return Poll::Pending;
        };
        let sleep = this.sleep.get_or_insert_with(|| sleep_until(until));
        Pin::new(sleep).poll(cx).map(|()| None)
    }
}

/// Attaches the request's URL to errors from the pool (which knows only the origin).
fn with_url_if_missing(err: Error, req: &Request) -> Error {
    match err.url() {
        Some(_) => err,
        None => err.with_url(req.url()),
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .field("pool", &self.inner.pool)
            .finish()
    }
}
