//! The connection pool: per-origin stacks of idle connections and the slot accounting that
//! keeps connection counts under their limits.
//!
//! # Design
//!
//! A *slot* is the right to have one connection connecting or carrying a request. Slots are
//! permits of two FIFO [`LocalSemaphore`]s: one per origin (`max_connections_per_host`) and
//! one for the whole pool (`max_connections`); a checkout takes the host's permit first, then
//! the total one, so waiters queue in arrival order on both: FIFO per host, and a request for a
//! host with free permits is not held behind a waiter of a busy host (model/pool.toml,
//! `host_granted` is the step between the two queues). A waiter takes its permit when it runs
//! (a release only wakes it), so the pool's transitions happen, and are traced, in the order
//! the model's queues allow: a permit handed off at release but seen later could be overtaken
//! in the trace by a newcomer's free permit. A [`Lease`] owns the two permits and
//! the connection's place in the counts; its `Drop` gives all of it back, so a checkout
//! cancelled at any await point, a failed connect and a dropped body all release their slot.
//!
//! Idle connections hold no permit: checking a connection in pushes it on its origin's idle
//! stack and then releases the lease's permits, which wakes the oldest waiter, who takes the
//! idle connection. A lease always takes an idle connection of its origin before it may
//! connect, and before connecting it closes the least recently used idle connection of another
//! origin if the pool is full, so the number of connections (connecting + active + idle) stays
//! under both limits even though idle ones hold no permit.
//!
//! Stale connections are found without syscalls: idle sockets stay registered with the loop,
//! so [`Poolable::is_reusable`] sees a FIN or RST that already arrived. Expiry needs no
//! periodic wake-up: one reaper task sleeps until the earliest expiry while idle connections
//! with an expiry exist, and exits when none is left; checkout also checks expiry itself.
//!
//! # Invariants
//! - Per origin and in total: `connecting + active + idle <= max_connections[_per_host]`.
//! - `connecting + active` of an origin equals the live leases of that origin, each holding one
//!   host permit and one total permit.
//! - An idle stack holds only idle connections, most recently used at the back; a connection is
//!   in at most one stack or one lease, never both, so no connection serves two requests.
//! - An origin's entry is removed only when nothing refers to its semaphore (no lease, no
//!   waiter, no idle connection), so a new entry never doubles an origin's limit.
//! - No `RefCell` borrow is held while a connection is dropped or an event callback runs.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use super::event::{ClientEvent, CloseReason};
use crate::conn::KEEP_ALIVE_MARGIN;
use crate::error::{Error, Kind, Phase, Result};
use crate::http::Origin;
use crate::rt::sync::{LocalAcquire, LocalPermit, LocalSemaphore};
use crate::rt::JoinHandle;

/// How much later than the earliest expiry the reaper may wake, so that connections expiring
/// close together are closed in one wake-up. Checkout never hands out an expired connection.
const REAP_SLACK: Duration = Duration::from_millis(100);

/// What the pool needs to know about a connection.
pub(crate) trait Poolable: 'static {
    /// Whether it can carry another request (the peer has not hung up, nobody asked to close).
    fn is_reusable(&self) -> bool;
    /// How many requests it has carried.
    fn requests_served(&self) -> u64;
    /// The server's `Keep-Alive: timeout=N`, if it sent one.
    fn keep_alive_hint(&self) -> Option<Duration>;
    /// When it last became idle (the connection stamps it as an exchange ends, so check-in
    /// reads no clock of its own).
    fn idle_since(&self) -> Instant;
    /// Closes the connection because the pool no longer wants it.
    fn retire(self, reason: CloseReason)
    where
        Self: Sized,
    {
        let _ = reason;
    }
}

/// The pool's limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PoolConfig {
    /// Connections (connecting + active + idle) across all origins.
    pub(crate) max_connections: usize,
    /// Connections (connecting + active + idle) per origin.
    pub(crate) max_connections_per_host: usize,
    /// Idle connections kept per origin.
    pub(crate) max_idle_per_host: usize,
    /// How long a connection may stay idle; `None` for no limit.
    pub(crate) idle_timeout: Option<Duration>,
    /// Requests one connection may carry; `None` for no limit.
    pub(crate) max_requests_per_connection: Option<u64>,
}

/// Counts of connections in each stage, and of waiting checkouts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolCounts {
    /// Connections being established.
    pub connecting: usize,
    /// Connections carrying a request (until its response body is finished or dropped).
    pub active: usize,
    /// Connections idle in the pool.
    pub idle: usize,
    /// Requests waiting for a free slot.
    pub waiters: usize,
}

impl PoolCounts {
    /// `connecting + active + idle`: the connections that count against the limits.
    pub fn connections(&self) -> usize {
        self.connecting + self.active + self.idle
    }
}

/// A snapshot of the pool: totals and per-origin counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Sums over all origins.
    pub total: PoolCounts,
    /// Per origin, in no particular order; origins with nothing going on are left out.
    pub hosts: Vec<(Origin, PoolCounts)>,
}

impl PoolStats {
    /// The counts of one origin (all zero when it has none).
    pub fn host(&self, origin: &Origin) -> PoolCounts {
        let found = self.hosts.iter().find(|(o, _)| o == origin);
        found.map(|(_, c)| *c).unwrap_or_default()
    }
}

/// The stage a leased connection is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Being established.
    Connecting,
    /// Carrying a request.
    Active,
}

/// The event callback.
pub(crate) type EventSink = Rc<dyn Fn(&ClientEvent<'_>)>;

/// A pool of connections of type `C`. Cheap to clone (an `Rc`); one per event loop.
pub(crate) struct Pool<C> {
    /// The shared state.
    inner: Rc<Inner<C>>,
}

impl<C> Clone for Pool<C> {
    fn clone(&self) -> Self {
        Pool {
            inner: self.inner.clone(),
        }
    }
}

/// The pool's state.
struct Inner<C> {
    /// The limits.
    config: PoolConfig,
    /// The `max_connections` slots.
    total_permits: Rc<LocalSemaphore>,
    /// Per-origin entries.
    hosts: RefCell<HashMap<Origin, Rc<Host<C>>>>,
    /// Sums of every host's counts.
    totals: Cell<PoolCounts>,
    /// The reaper task, once an idle connection had an expiry.
    reaper: RefCell<Option<Reaper>>,
    /// The loop the idle connections are registered with.
    loop_id: Cell<Option<usize>>,
    /// Where events go.
    events: Option<EventSink>,
    /// The next checkout's number (names requests in traces).
    next_serial: Cell<u64>,
}

/// One origin's entry.
struct Host<C> {
    /// The origin.
    origin: Origin,
    /// The `max_connections_per_host` slots.
    permits: Rc<LocalSemaphore>,
    /// Idle connections, most recently used at the back.
    idle: RefCell<VecDeque<IdleConn<C>>>,
    /// This origin's counts.
    counts: Cell<PoolCounts>,
}

/// An idle connection and when it expires.
struct IdleConn<C> {
    /// The connection.
    conn: C,
    /// When it went idle.
    since: Instant,
    /// When it must no longer be used (`None`: never expires).
    expires: Option<Instant>,
}

/// What a checkout yields.
pub(crate) enum Checkout<C: Poolable> {
    /// An idle connection, with its lease (stage: active).
    Reused(C, Lease<C>),
    /// No idle connection: the lease (stage: connecting) allows opening a new one.
    Connect(Lease<C>),
}

/// A slot held by one connection that is connecting or active: its two permits and its place
/// in the counts. Dropping it gives the slot back (the connection closed or was never made).
pub(crate) struct Lease<C: Poolable> {
    /// The pool.
    pool: Rc<Inner<C>>,
    /// The origin's entry.
    host: Rc<Host<C>>,
    /// Connecting or active.
    stage: Stage,
    /// The origin's permit then the pool's; `None` only during `Drop`.
    permits: Option<(LocalPermit, LocalPermit)>,
    /// The checkout's number, for traces.
    serial: u64,
    /// Whether its end was reported (connect failed, checked in, closed); a lease dropped
    /// unsettled was cancelled.
    settled: bool,
}

/// How a checkout got its permits.
#[derive(Clone, Copy, Debug)]
struct Grant {
    /// Never reuse an idle connection: connect.
    fresh: bool,
    /// It queued before getting them.
    waited: bool,
    /// The checkout's number.
    serial: u64,
}

/// Reports a pool transition to [`crate::trace`] (one relaxed load when tracing is off).
/// Request events carry `[request, host]`, host events `[host]`; a host is named by its port.
fn trace_event(event: &'static str, args: &[i32]) {
    #[cfg(test)]
    tests::TEST_LOG.with(|log| log.borrow_mut().push((event, args.to_vec())));
    if crate::trace::enabled() {
        crate::trace::record(&crate::trace::Transition {
            machine: "pool",
            from: "open",
            event,
            args,
            to: "open",
        });
    }
}

impl<C: Poolable> Pool<C> {
    /// An empty pool with these limits, sending events to `events`.
    pub(crate) fn new(config: PoolConfig, events: Option<EventSink>) -> Pool<C> {
        let total_permits = Rc::new(LocalSemaphore::new(config.max_connections.max(1)));
        let inner = Inner {
            config,
            total_permits,
            hosts: RefCell::new(HashMap::new()),
            totals: Cell::new(PoolCounts::default()),
            reaper: RefCell::new(None),
            loop_id: Cell::new(None),
            events,
            next_serial: Cell::new(0),
        };
        Pool {
            inner: Rc::new(inner),
        }
    }

    /// Waits (FIFO, at most `timeout`) for a slot for `origin`, then hands out the most
    /// recently used live idle connection, or a lease to connect.
    ///
    /// Cancel-safe: dropping the future at any point leaves no waiter and no slot behind.
    ///
    /// # Panics
    /// Outside a running weir loop.
    /// With `fresh`, idle connections are not reused: the lease is always to connect (one idle
    /// connection of the origin is closed if the origin is at its limit).
    pub(crate) async fn checkout(
        &self,
        origin: &Origin,
        timeout: Option<Duration>,
        fresh: bool,
    ) -> Result<Checkout<C>> {
        self.inner.forget_other_loops();
        let host = self.inner.host(origin);
        let serial = self.inner.next_serial();
        let deadline = timeout.map(|t| Instant::now() + t);
        let (permits, waited) = self.inner.acquire(&host, serial, deadline).await?;
        Ok(self.inner.lease(
            host,
            permits,
            Grant {
                fresh,
                waited,
                serial,
            },
        ))
    }

    /// The current counts.
    pub(crate) fn stats(&self) -> PoolStats {
        let hosts = self.inner.hosts.borrow();
        let per_host = hosts.values().map(|h| (h.origin.clone(), h.counts.get()));
        PoolStats {
            total: self.inner.totals.get(),
            hosts: per_host.collect(),
        }
    }

    /// Closes every idle connection now.
    pub(crate) fn clear_idle(&self) {
        self.inner.close_all_idle(CloseReason::IdleTimeout);
    }

    /// Sends `event` to the callback, if any.
    pub(crate) fn emit(&self, event: &ClientEvent<'_>) {
        self.inner.emit(event);
    }
}

impl<C: Poolable> Inner<C> {
    /// The entry of `origin`, created if missing.
    fn host(&self, origin: &Origin) -> Rc<Host<C>> {
        if let Some(host) = self.hosts.borrow().get(origin) {
            return host.clone();
        }
        let host = Rc::new(Host {
            origin: origin.clone(),
            permits: Rc::new(LocalSemaphore::new(
                self.config.max_connections_per_host.max(1),
            )),
            idle: RefCell::new(VecDeque::new()),
            counts: Cell::new(PoolCounts::default()),
        });
        self.hosts.borrow_mut().insert(origin.clone(), host.clone());
        host
    }

    /// Takes the origin's permit, then the pool's, waiting in line for each (until `deadline`);
    /// counted as a waiter only while queued. Also returns whether it had to wait.
    async fn acquire(
        self: &Rc<Self>,
        host: &Rc<Host<C>>,
        serial: u64,
        deadline: Option<Instant>,
    ) -> Result<((LocalPermit, LocalPermit), bool)> {
        let mut waiting = None;
        let host_permit = match host.permits.try_acquire() {
            Some(p) => p,
            None => {
                let w = waiting.insert(Waiting::new(self, host, serial));
                let permit = w.wait(host.permits.acquire(), deadline).await?;
                // The model's `host_granted`: now queued (if at all) on the total permits.
                trace_event("host_granted", &[serial as i32, host.trace_id()]);
                permit
            }
        };
        let total_permit = match self.total_permits.try_acquire() {
            Some(p) => p,
            None => {
                let w = waiting.get_or_insert_with(|| Waiting::new(self, host, serial));
                w.wait(self.total_permits.acquire(), deadline).await?
            }
        };
        let waited = waiting.map(Waiting::granted).is_some();
        Ok(((host_permit, total_permit), waited))
    }

    fn next_serial(&self) -> u64 {
        let n = self.next_serial.get();
        self.next_serial.set(n.wrapping_add(1));
        n
    }

    /// With both permits in hand: the freshest live idle connection, or a lease to connect.
    fn lease(
        self: &Rc<Self>,
        host: Rc<Host<C>>,
        permits: (LocalPermit, LocalPermit),
        grant: Grant,
    ) -> Checkout<C> {
        let now = Instant::now();
        // The model calls a checkout that had to queue, then got its slot, `serve`.
        let event = if grant.waited { "serve" } else { "checkout" };
        if grant.fresh {
            self.make_room_on_host(&host);
        } else if let Some(conn) = self.take_idle(&host, now) {
            let lease = self.new_lease(host, Stage::Active, permits, grant.serial);
            lease.trace(event);
            return Checkout::Reused(conn, lease);
        }
        let evicted = self.make_room();
        let lease = self.new_lease(host, Stage::Connecting, permits, grant.serial);
        if evicted && !grant.waited {
            // The model queues a checkout that finds the pool full, then serves it by closing
            // another host's idle connection; here both happen at once.
            lease.trace("checkout");
            lease.trace("serve");
        } else {
            lease.trace(event);
        }
        Checkout::Connect(lease)
    }

    /// Pops the freshest live idle connection of `host`, closing dead or expired ones on the way.
    fn take_idle(&self, host: &Host<C>, now: Instant) -> Option<C> {
        loop {
            let popped = host.idle.borrow_mut().pop_back();
            let idle = popped?;
            self.count(host, |c| c.idle -= 1);
            match self.idle_verdict(&idle, now) {
                None => return Some(idle.conn),
                Some(reason) => self.close_idle(host, idle.conn, reason),
            }
        }
    }

    /// Why an idle connection must not be used, or `None` if it may.
    fn idle_verdict(&self, idle: &IdleConn<C>, now: Instant) -> Option<CloseReason> {
        if idle.expires.is_some_and(|e| e <= now) {
            return Some(CloseReason::IdleTimeout);
        }
        if !idle.conn.is_reusable() {
            return Some(CloseReason::PeerClosed);
        }
        None
    }

    /// Closes the least recently used idle connections of `host` while it is at its limit.
    fn make_room_on_host(&self, host: &Host<C>) {
        while host.counts.get().connections() >= self.config.max_connections_per_host {
            let popped = host.idle.borrow_mut().pop_front();
            let Some(idle) = popped else { return };
            self.count(host, |c| c.idle -= 1);
            self.close_idle(host, idle.conn, CloseReason::Evicted);
        }
    }

    /// Closes the least recently used idle connection of any origin while the pool is full;
    /// whether it closed any.
    fn make_room(&self) -> bool {
        let mut evicted = false;
        while self.totals.get().connections() >= self.config.max_connections {
            let Some(host) = self.oldest_idle_host() else {
                break;
            };
            let popped = host.idle.borrow_mut().pop_front();
            if let Some(idle) = popped {
                self.count(&host, |c| c.idle -= 1);
                self.close(&host.origin, idle.conn, CloseReason::Evicted);
                evicted = true;
            }
            self.forget_if_unused(&host);
        }
        evicted
    }

    /// The origin whose least recently used idle connection is the oldest.
    fn oldest_idle_host(&self) -> Option<Rc<Host<C>>> {
        let hosts = self.hosts.borrow();
        let oldest = hosts
            .values()
            .filter_map(|h| h.idle.borrow().front().map(|i| (i.since, h)))
            .min_by_key(|(since, _)| *since);
        oldest.map(|(_, h)| h.clone())
    }

    fn new_lease(
        self: &Rc<Self>,
        host: Rc<Host<C>>,
        stage: Stage,
        permits: (LocalPermit, LocalPermit),
        serial: u64,
    ) -> Lease<C> {
        self.count(&host, |c| *c.stage_mut(stage) += 1);
        Lease {
            pool: self.clone(),
            host,
            stage,
            permits: Some(permits),
            serial,
            settled: false,
        }
    }

    /// Applies `f` to the counts of `host` and to the totals.
    fn count(&self, host: &Host<C>, f: impl Fn(&mut PoolCounts)) {
        let mut c = host.counts.get();
        f(&mut c);
        host.counts.set(c);
        let mut t = self.totals.get();
        f(&mut t);
        self.totals.set(t);
    }

    /// Puts a connection whose exchange finished cleanly back on its idle stack, or closes it
    /// (the model's `checkin` or `discard` of request `serial`).
    fn checkin(self: &Rc<Self>, host: &Rc<Host<C>>, conn: C, serial: u64) {
        let since = conn.idle_since();
        let args = [serial as i32, host.trace_id()];
        let expiry = self.expiry(&conn, since);
        let reason = match (self.checkin_verdict(&conn), expiry) {
            (Some(reason), _) => Some(reason),
            (None, None) => Some(CloseReason::IdleTimeout),
            (None, Some(_)) if self.config.max_idle_per_host == 0 => Some(CloseReason::IdleLimit),
            (None, Some(_)) => None,
        };
        if let Some(reason) = reason {
            trace_event("discard", &args);
            return self.close(&host.origin, conn, reason);
        }
        let expires = expiry.flatten();
        trace_event("checkin", &args);
        let evicted = self.push_idle(host, conn, since, expires);
        if let Some(old) = evicted {
            self.close_idle(host, old, CloseReason::IdleLimit);
        }
        if let Some(expires) = expires {
            self.arm_reaper(expires);
        }
    }

    /// Why a returned connection must be closed, or `None` if it may go idle.
    fn checkin_verdict(&self, conn: &C) -> Option<CloseReason> {
        let max = self.config.max_requests_per_connection;
        if max.is_some_and(|max| conn.requests_served() >= max) {
            return Some(CloseReason::MaxRequests);
        }
        if !conn.is_reusable() {
            return Some(CloseReason::NotReusable);
        }
        None
    }

    /// When an idle connection, idle since `since`, expires: `Some(None)` never, `None` at once
    /// (the server's keep-alive hint leaves no time).
    fn expiry(&self, conn: &C, since: Instant) -> Option<Option<Instant>> {
        let hint = conn
            .keep_alive_hint()
            .map(|h| h.saturating_sub(KEEP_ALIVE_MARGIN));
        let life = match (self.config.idle_timeout, hint) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match life {
            Some(d) if d.is_zero() => None,
            Some(d) => Some(Some(since + d)),
            None => Some(None),
        }
    }

    /// Pushes onto the idle stack; returns the least recently used one if over the limit.
    fn push_idle(
        &self,
        host: &Host<C>,
        conn: C,
        since: Instant,
        expires: Option<Instant>,
    ) -> Option<C> {
        let mut idle = host.idle.borrow_mut();
        idle.push_back(IdleConn {
            conn,
            since,
            expires,
        });
        let evicted = if idle.len() > self.config.max_idle_per_host {
            idle.pop_front().map(|i| i.conn)
        } else {
            None
        };
        drop(idle);
        if evicted.is_none() {
            self.count(host, |c| c.idle += 1);
        }
        evicted
    }

    /// Makes sure the reaper sweeps by `expires` (plus slack): moves its deadline earlier and
    /// wakes it if it waits for a later one or for none, or spawns it the first time.
    fn arm_reaper(self: &Rc<Self>, expires: Instant) {
        if !crate::rt::in_runtime() {
            return; // a check-in from a drop outside the loop: checkout still checks expiry
        }
        let wake = expires + REAP_SLACK;
        let mut reaper = self.reaper.borrow_mut();
        if let Some(r) = reaper.as_mut().filter(|r| !r.task.is_finished()) {
            if r.at.is_some_and(|at| at <= wake) {
                return; // the common case: already due to sweep before this one expires
            }
            r.at = Some(wake);
            let waker = r.waker.take();
            drop(reaper);
            if let Some(waker) = waker {
                waker.wake();
            }
            return;
        }
        let task = crate::rt::spawn(reap(Rc::downgrade(self)));
        let old = reaper.replace(Reaper {
            task,
            at: Some(wake),
            waker: None,
        });
        drop(reaper);
        drop(old);
    }

    /// Closes expired and dead idle connections; returns when the reaper should wake next
    /// (`None`: no idle connection expires, the reaper waits without a timer).
    fn sweep(&self, now: Instant) -> Option<Instant> {
        let hosts: Vec<Rc<Host<C>>> = self.hosts.borrow().values().cloned().collect();
        let mut next: Option<Instant> = None;
        for host in hosts {
            let dead = self.sweep_host(&host, now);
            for (conn, reason) in dead {
                self.close_idle(&host, conn, reason);
            }
            let earliest = host.idle.borrow().iter().filter_map(|i| i.expires).min();
            next = match (next, earliest) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            self.forget_if_unused(&host);
        }
        next
    }

    /// Removes the idle connections of `host` that expired or died.
    fn sweep_host(&self, host: &Host<C>, now: Instant) -> Vec<(C, CloseReason)> {
        let mut dead = Vec::new();
        let mut idle = host.idle.borrow_mut();
        let mut i = 0;
        while i < idle.len() {
            match self.idle_verdict(&idle[i], now) {
                None => i += 1,
                Some(reason) => {
                    if let Some(gone) = idle.remove(i) {
                        dead.push((gone.conn, reason));
                    }
                }
            }
        }
        drop(idle);
        let n = dead.len();
        self.count(host, |c| c.idle -= n);
        dead
    }

    /// Drops `conn` and reports why.
    fn close(&self, origin: &Origin, conn: C, reason: CloseReason) {
        conn.retire(reason);
        self.emit(&ClientEvent::Closed { origin, reason });
    }

    /// Closes an idle connection already taken off its stack, reporting the model event:
    /// `evict` when found dead, `expire` otherwise.
    fn close_idle(&self, host: &Host<C>, conn: C, reason: CloseReason) {
        let event = match reason {
            CloseReason::PeerClosed => "evict",
            _ => "expire",
        };
        trace_event(event, &[host.trace_id()]);
        self.close(&host.origin, conn, reason);
    }

    fn emit(&self, event: &ClientEvent<'_>) {
        if let Some(sink) = &self.events {
            sink(event);
        }
    }

    /// Closes every idle connection.
    fn close_all_idle(&self, reason: CloseReason) {
        let hosts: Vec<Rc<Host<C>>> = self.hosts.borrow().values().cloned().collect();
        for host in hosts {
            let idle = std::mem::take(&mut *host.idle.borrow_mut());
            self.count(&host, |c| c.idle -= idle.len());
            for i in idle {
                self.close_idle(&host, i.conn, reason);
            }
            self.forget_if_unused(&host);
        }
    }

    /// On a loop other than the one the idle connections belong to, closes them all: their
    /// sockets are registered with a loop that is not running.
    fn forget_other_loops(&self) {
        let now = crate::rt::loop_id();
        match self.loop_id.get() {
            Some(id) if id == now => {}
            None => self.loop_id.set(Some(now)),
            Some(_) => {
                self.loop_id.set(Some(now));
                let reaper = self.reaper.borrow_mut().take();
                if let Some(reaper) = reaper {
                    reaper.task.abort();
                }
                self.close_all_idle(CloseReason::OtherLoop);
            }
        }
    }

    /// Removes the entry of `host` when nothing refers to its slots any more.
    fn forget_if_unused(&self, host: &Host<C>) {
        let counts = host.counts.get();
        let unused = counts == PoolCounts::default()
            && host.idle.borrow().is_empty()
            && host.permits.is_unused();
        if unused {
            self.hosts.borrow_mut().remove(&host.origin);
        }
    }
}

impl<C> Host<C> {
    /// The host's name in traces: its port (0 for Unix sockets).
    fn trace_id(&self) -> i32 {
        match &self.origin {
            Origin::Tcp { port, .. } => i32::from(*port),
            Origin::Unix { .. } => 0,
        }
    }
}

impl<C> Drop for Inner<C> {
    fn drop(&mut self) {
        if let Some(reaper) = self.reaper.get_mut().take() {
            reaper.task.abort();
        }
    }
}

/// The reaper task and what it waits for. It is spawned once per pool and loop, and waits
/// without a timer while no idle connection expires, so a busy pool whose connections are
/// checked out and in all the time neither spawns a task nor arms a timer per request.
struct Reaper {
    /// The task.
    task: JoinHandle<()>,
    /// When it must next sweep; `None` while no idle connection expires.
    at: Option<Instant>,
    /// Its waker while it waits, woken when `at` moves earlier.
    waker: Option<Waker>,
}

/// The reaper: sleeps until its deadline, closes what expired, sets the next deadline (none
/// when no idle connection expires). Holds the pool weakly, so it never keeps a dropped
/// client alive; the pool aborts it when dropped.
async fn reap<C: Poolable>(pool: Weak<Inner<C>>) {
    while until_sweep(&pool).await {
        let Some(inner) = pool.upgrade() else { return };
        let next = inner.sweep(Instant::now());
        let mut reaper = inner.reaper.borrow_mut();
        if let Some(r) = reaper.as_mut() {
            r.at = next.map(|n| n + REAP_SLACK);
        }
    }
}

/// Waits until the reaper's deadline, following it when [`Inner::arm_reaper`] moves it; with
/// no deadline, waits with no timer at all. `false` when the pool is gone.
async fn until_sweep<C: Poolable>(pool: &Weak<Inner<C>>) -> bool {
    let mut sleep: Option<crate::rt::time::Sleep> = None;
    std::future::poll_fn(|cx| {
        let Some(inner) = pool.upgrade() else {
            return Poll::Ready(false);
        };
        let mut reaper = inner.reaper.borrow_mut();
        let Some(r) = reaper.as_mut() else {
            return Poll::Ready(false);
        };
        match r.at {
            None => sleep = None,
            Some(at) => {
                if sleep.as_ref().map(|s| s.deadline()) != Some(at) {
                    sleep = Some(crate::rt::time::sleep_until(at));
                }
                if let Some(s) = sleep.as_mut() {
                    if Pin::new(s).poll(cx).is_ready() {
                        return Poll::Ready(true);
                    }
                }
            }
        }
        match &r.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => r.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    })
    .await
}

impl PoolCounts {
    fn stage_mut(&mut self, stage: Stage) -> &mut usize {
        match stage {
            Stage::Connecting => &mut self.connecting,
            Stage::Active => &mut self.active,
        }
    }
}

/// Counts one checkout as waiting while it is queued on a semaphore; `Drop` uncounts it and,
/// unless it was granted or timed out, reports the cancellation.
struct Waiting<C: Poolable> {
    /// The pool.
    pool: Rc<Inner<C>>,
    /// The origin's entry.
    host: Rc<Host<C>>,
    /// The checkout's number.
    serial: u64,
    /// Whether the wait ended with permits or a timeout (so `Drop` is no cancellation).
    settled: Cell<bool>,
}

impl<C: Poolable> Waiting<C> {
    fn new(pool: &Rc<Inner<C>>, host: &Rc<Host<C>>, serial: u64) -> Waiting<C> {
        pool.count(host, |c| c.waiters += 1);
        trace_event("checkout", &[serial as i32, host.trace_id()]);
        Waiting {
            pool: pool.clone(),
            host: host.clone(),
            serial,
            settled: Cell::new(false),
        }
    }

    /// Awaits one permit, until `deadline`.
    async fn wait(&self, acquire: LocalAcquire, deadline: Option<Instant>) -> Result<LocalPermit> {
        let Some(deadline) = deadline else {
            return Ok(acquire.await);
        };
        let left = deadline.saturating_duration_since(Instant::now());
        match crate::rt::time::timeout(left, acquire).await {
            Ok(permit) => Ok(permit),
            Err(_) => {
                self.settled.set(true);
                trace_event("timeout", &[self.serial as i32, self.host.trace_id()]);
                Err(Error::new(Kind::PoolTimeout, Phase::Pool))
            }
        }
    }

    /// The wait is over: the checkout has its permits.
    fn granted(self) {
        self.settled.set(true);
    }
}

impl<C: Poolable> Drop for Waiting<C> {
    fn drop(&mut self) {
        if !self.settled.get() {
            trace_event("cancel", &[self.serial as i32, self.host.trace_id()]);
        }
        self.pool.count(&self.host, |c| c.waiters -= 1);
        self.pool.forget_if_unused(&self.host);
    }
}

impl<C: Poolable> Lease<C> {
    /// The connection is established: connecting becomes active.
    pub(crate) fn connected(&mut self) {
        if self.stage == Stage::Connecting {
            self.pool.count(&self.host, |c| {
                c.connecting -= 1;
                c.active += 1;
            });
            self.stage = Stage::Active;
            self.trace("connected");
        }
    }

    /// The connect failed: the slot is released.
    pub(crate) fn connect_failed(mut self) {
        self.settled = true;
        self.trace("connect_failed");
    }

    /// The exchange finished cleanly: the connection goes idle (or is closed if it must not),
    /// and the slot is released to the next waiter.
    pub(crate) fn checkin(mut self, conn: C) {
        self.settled = true;
        self.pool.checkin(&self.host, conn, self.serial);
        drop(self); // the slot goes to the next waiter only now, with the connection idle
    }

    /// Reports that the connection closed, for `reason`; the slot is released.
    pub(crate) fn closed(mut self, reason: CloseReason) {
        self.settled = true;
        self.trace("discard");
        let pool = self.pool.clone();
        let host = self.host.clone();
        drop(self);
        pool.emit(&ClientEvent::Closed {
            origin: &host.origin,
            reason,
        });
    }

    /// Reports `event` of this request to the trace hook.
    fn trace(&self, event: &'static str) {
        trace_event(event, &[self.serial as i32, self.host.trace_id()]);
    }
}

impl<C: Poolable> Drop for Lease<C> {
    fn drop(&mut self) {
        if !self.settled {
            self.trace("cancel");
        }
        let stage = self.stage;
        self.pool.count(&self.host, |c| *c.stage_mut(stage) -= 1);
        drop(self.permits.take());
        self.pool.forget_if_unused(&self.host);
    }
}

impl<C> fmt::Debug for Pool<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("config", &self.inner.config)
            .field("totals", &self.inner.totals.get())
            .finish_non_exhaustive()
    }
}

impl<C: Poolable> fmt::Debug for Lease<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease")
            .field("origin", &self.host.origin)
            .field("stage", &self.stage)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::Poll;

    thread_local! {
        /// This thread's pool transitions (the conformance test replays them).
        pub(super) static TEST_LOG: RefCell<Vec<(&'static str, Vec<i32>)>> =
            const { RefCell::new(Vec::new()) };
    }

    /// A connection stand-in: an id, a liveness flag the test can flip, a request count.
    #[derive(Debug)]
    struct Fake {
        id: u32,
        alive: Rc<Cell<bool>>,
        served: u64,
        hint: Option<Duration>,
        since: Instant,
    }

    impl Poolable for Fake {
        fn is_reusable(&self) -> bool {
            self.alive.get()
        }
        fn requests_served(&self) -> u64 {
            self.served
        }
        fn keep_alive_hint(&self) -> Option<Duration> {
            self.hint
        }
        fn idle_since(&self) -> Instant {
            self.since
        }
    }

    fn fake(id: u32) -> Fake {
        Fake {
            id,
            alive: Rc::new(Cell::new(true)),
            served: 1,
            hint: None,
            since: Instant::now(),
        }
    }

    fn config(total: usize, per_host: usize) -> PoolConfig {
        PoolConfig {
            max_connections: total,
            max_connections_per_host: per_host,
            max_idle_per_host: 8,
            idle_timeout: Some(Duration::from_secs(90)),
            max_requests_per_connection: None,
        }
    }

    fn origin(port: u16) -> Origin {
        Origin::Tcp {
            host: "127.0.0.1".into(),
            port,
        }
    }

    /// A pool that records the close reasons it reports.
    fn pool(cfg: PoolConfig) -> (Pool<Fake>, Rc<RefCell<Vec<CloseReason>>>) {
        let closed = Rc::new(RefCell::new(Vec::new()));
        let sink = closed.clone();
        let events: EventSink = Rc::new(move |e: &ClientEvent<'_>| {
            if let ClientEvent::Closed { reason, .. } = e {
                sink.borrow_mut().push(*reason);
            }
        });
        (Pool::new(cfg, Some(events)), closed)
    }

    /// Polls `fut` once with the current task's waker.
    async fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
        std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *fut).poll(cx))).await
    }

    async fn connect(pool: &Pool<Fake>, o: &Origin) -> Lease<Fake> {
        match pool.checkout(o, None, false).await {
            Ok(Checkout::Connect(mut lease)) => {
                lease.connected();
                lease
            }
            Ok(Checkout::Reused(c, _)) => panic!("expected a new connection, got reused {c:?}"),
            Err(e) => panic!("checkout failed: {e}"),
        }
    }

    async fn reuse(pool: &Pool<Fake>, o: &Origin) -> (Fake, Lease<Fake>) {
        match pool.checkout(o, None, false).await {
            Ok(Checkout::Reused(c, lease)) => (c, lease),
            Ok(Checkout::Connect(_)) => panic!("expected a reused connection"),
            Err(e) => panic!("checkout failed: {e}"),
        }
    }

    #[test]
    fn reuses_the_most_recently_used_idle_connection() {
        crate::rt::block_on(async {
            let (pool, _) = pool(config(10, 10));
            let o = origin(1);
            let (a, b) = (connect(&pool, &o).await, connect(&pool, &o).await);
            a.checkin(fake(1));
            b.checkin(fake(2));
            assert_eq!(pool.stats().host(&o).idle, 2);
            let (c, lease) = reuse(&pool, &o).await;
            assert_eq!(c.id, 2, "most recently used first");
            assert_eq!(
                pool.stats().total,
                PoolCounts {
                    active: 1,
                    idle: 1,
                    ..Default::default()
                }
            );
            lease.checkin(c);
            assert_eq!(
                pool.stats().total,
                PoolCounts {
                    idle: 2,
                    ..Default::default()
                }
            );
        });
    }

    #[test]
    fn waiters_are_served_in_arrival_order_and_counted() {
        crate::rt::block_on(async {
            let (pool, _) = pool(config(10, 1));
            let o = origin(1);
            let held = connect(&pool, &o).await;
            let mut first = Box::pin(pool.checkout(&o, None, false));
            let mut second = Box::pin(pool.checkout(&o, None, false));
            assert!(poll_once(&mut first).await.is_pending());
            assert!(poll_once(&mut second).await.is_pending());
            assert_eq!(pool.stats().host(&o).waiters, 2);
            held.checkin(fake(7));
            assert!(
                poll_once(&mut second).await.is_pending(),
                "second must not overtake"
            );
            let Poll::Ready(Ok(Checkout::Reused(c, lease))) = poll_once(&mut first).await else {
                panic!("first waiter should get the checked-in connection");
            };
            assert_eq!(c.id, 7);
            assert_eq!(pool.stats().host(&o).waiters, 1);
            drop(c);
            lease.closed(CloseReason::Error);
            let Poll::Ready(Ok(Checkout::Connect(_))) = poll_once(&mut second).await else {
                panic!("second waiter should get a slot to connect");
            };
        });
    }

    #[test]
    fn cancelled_waiter_leaves_no_trace_and_passes_its_grant_on() {
        crate::rt::block_on(async {
            let (pool, _) = pool(config(10, 1));
            let o = origin(1);
            let held = connect(&pool, &o).await;
            let mut first = Box::pin(pool.checkout(&o, None, false));
            let mut second = Box::pin(pool.checkout(&o, None, false));
            assert!(poll_once(&mut first).await.is_pending());
            assert!(poll_once(&mut second).await.is_pending());
            drop(held); // grants the permit to `first`
            drop(first); // cancelled after the grant: the permit moves on to `second`
            assert_eq!(pool.stats().host(&o).waiters, 1);
            assert!(matches!(
                poll_once(&mut second).await,
                Poll::Ready(Ok(Checkout::Connect(_)))
            ));
            drop(second);
            assert_eq!(
                pool.stats(),
                PoolStats::default(),
                "entry forgotten once unused"
            );
        });
    }

    #[test]
    fn pool_timeout_fails_the_checkout_and_uncounts_the_waiter() {
        crate::rt::block_on(async {
            let (pool, _) = pool(config(10, 1));
            let o = origin(1);
            let _held = connect(&pool, &o).await;
            let err = pool
                .checkout(&o, Some(Duration::from_millis(20)), false)
                .await
                .err();
            assert_eq!(err.map(|e| e.kind()), Some(Kind::PoolTimeout));
            assert_eq!(
                pool.stats().host(&o),
                PoolCounts {
                    active: 1,
                    ..Default::default()
                }
            );
        });
    }

    #[test]
    fn total_limit_waits_across_hosts() {
        crate::rt::block_on(async {
            let (pool, _) = pool(config(1, 1));
            let (a, b) = (origin(1), origin(2));
            let held = connect(&pool, &a).await;
            let mut other = Box::pin(pool.checkout(&b, None, false));
            assert!(poll_once(&mut other).await.is_pending());
            assert_eq!(pool.stats().total.waiters, 1);
            drop(held);
            assert!(matches!(
                poll_once(&mut other).await,
                Poll::Ready(Ok(Checkout::Connect(_)))
            ));
        });
    }

    #[test]
    fn full_pool_evicts_another_hosts_idle_connection_before_connecting() {
        crate::rt::block_on(async {
            let (pool, closed) = pool(config(1, 1));
            let (a, b) = (origin(1), origin(2));
            connect(&pool, &a).await.checkin(fake(1));
            let lease = connect(&pool, &b).await;
            assert_eq!(*closed.borrow(), [CloseReason::Evicted]);
            assert_eq!(
                pool.stats().total,
                PoolCounts {
                    active: 1,
                    ..Default::default()
                }
            );
            drop(lease);
        });
    }

    #[test]
    fn dead_idle_connection_is_evicted_at_checkout() {
        crate::rt::block_on(async {
            let (pool, closed) = pool(config(10, 10));
            let o = origin(1);
            let conn = fake(1);
            let alive = conn.alive.clone();
            connect(&pool, &o).await.checkin(conn);
            alive.set(false); // the peer's FIN arrived while idle
            let _lease = connect(&pool, &o).await;
            assert_eq!(*closed.borrow(), [CloseReason::PeerClosed]);
        });
    }

    #[test]
    fn idle_limit_closes_the_least_recently_used() {
        crate::rt::block_on(async {
            let (pool, closed) = pool(PoolConfig {
                max_idle_per_host: 1,
                ..config(10, 10)
            });
            let o = origin(1);
            let (a, b) = (connect(&pool, &o).await, connect(&pool, &o).await);
            a.checkin(fake(1));
            b.checkin(fake(2));
            assert_eq!(*closed.borrow(), [CloseReason::IdleLimit]);
            let (c, _lease) = reuse(&pool, &o).await;
            assert_eq!(c.id, 2);
        });
    }

    #[test]
    fn max_requests_retires_the_connection() {
        crate::rt::block_on(async {
            let cfg = PoolConfig {
                max_requests_per_connection: Some(2),
                ..config(10, 10)
            };
            let (pool, closed) = pool(cfg);
            let o = origin(1);
            connect(&pool, &o).await.checkin(Fake {
                served: 2,
                ..fake(1)
            });
            assert_eq!(*closed.borrow(), [CloseReason::MaxRequests]);
            assert_eq!(pool.stats(), PoolStats::default());
        });
    }

    #[test]
    fn keep_alive_hint_shortens_idle_life() {
        let (pool, _) = pool(config(10, 10));
        let now = Instant::now();
        let hinted = Fake {
            hint: Some(Duration::from_secs(5)),
            ..fake(1)
        };
        let expected = now + Duration::from_secs(5) - KEEP_ALIVE_MARGIN;
        assert_eq!(pool.inner.expiry(&hinted, now), Some(Some(expected)));
        let longer = Fake {
            hint: Some(Duration::from_secs(500)),
            ..fake(1)
        };
        assert_eq!(
            pool.inner.expiry(&longer, now),
            Some(Some(now + Duration::from_secs(90)))
        );
        let none_left = Fake {
            hint: Some(KEEP_ALIVE_MARGIN),
            ..fake(1)
        };
        assert_eq!(pool.inner.expiry(&none_left, now), None);
    }

    #[test]
    fn reaper_closes_expired_connections_then_waits_without_a_timer() {
        crate::rt::block_on(async {
            let cfg = PoolConfig {
                idle_timeout: Some(Duration::from_millis(10)),
                ..config(10, 10)
            };
            let (pool, closed) = pool(cfg);
            let o = origin(1);
            connect(&pool, &o).await.checkin(fake(1));
            assert_eq!(
                crate::rt::time::pending_timers(),
                0,
                "reaper not yet polled"
            );
            crate::rt::yield_now().await;
            assert_eq!(
                crate::rt::time::pending_timers(),
                1,
                "one timer while idle exist"
            );
            while pool.stats().total.idle > 0 {
                crate::rt::time::sleep(Duration::from_millis(20)).await;
            }
            assert_eq!(*closed.borrow(), [CloseReason::IdleTimeout]);
            crate::rt::yield_now().await;
            assert_eq!(
                crate::rt::time::pending_timers(),
                0,
                "no timer while the pool is empty"
            );
            let parked = pool.inner.reaper.borrow().as_ref().map(|r| r.at);
            assert_eq!(parked, Some(None), "the reaper waits for no deadline");
            // A check-in arms the same task again: no new task, one timer.
            connect(&pool, &o).await.checkin(fake(2));
            crate::rt::yield_now().await;
            assert_eq!(crate::rt::time::pending_timers(), 1);
            assert!(pool
                .inner
                .reaper
                .borrow()
                .as_ref()
                .is_some_and(|r| r.at.is_some()));
            while pool.stats().total.idle > 0 {
                crate::rt::time::sleep(Duration::from_millis(20)).await;
            }
            assert_eq!(closed.borrow().len(), 2, "expired again");
        });
    }

    #[test]
    fn checking_connections_out_and_in_spawns_the_reaper_once() {
        crate::rt::block_on(async {
            let (pool, _) = pool(config(10, 10));
            let o = origin(1);
            connect(&pool, &o).await.checkin(fake(1));
            let reaper_alive = || {
                let reaper = pool.inner.reaper.borrow();
                reaper.as_ref().is_some_and(|r| !r.task.is_finished())
            };
            for _ in 0..100 {
                let (conn, lease) = reuse(&pool, &o).await;
                crate::rt::yield_now().await; // the reaper runs while nothing is idle
                assert!(reaper_alive(), "the reaper waits, it does not end");
                lease.checkin(conn);
                crate::rt::yield_now().await;
                assert_eq!(crate::rt::loop_stats().tasks, 1, "one reaper task");
            }
        });
    }

    mod conformance {
        //! Random operation sequences on two origins (slots 0..3 on the model's host 0, slots
        //! 3..5 on host 1, so waits happen on both and across them) drive the real pool (fake connections,
        //! futures polled by hand in start order, as the FIFO executor would) and the generated
        //! reference model with the transitions the pool reports; after every operation each
        //! step must be legal, the model's invariants hold, and its counts equal the pool's.
        use super::*;
        use crate::generated::pool::{Event, Model, IDLE, WAITING};
        use proptest::prelude::*;
        use std::sync::Arc;
        use std::task::{Context, Wake, Waker};

        struct Noop;
        impl Wake for Noop {
            fn wake(self: Arc<Self>) {}
        }

        type Pending<'a> = Pin<Box<dyn Future<Output = Result<Checkout<Fake>>> + 'a>>;

        /// What one of the test's request slots holds.
        enum Slot<'a> {
            Empty,
            Waiting(u64, Pending<'a>),
            Connecting(Lease<Fake>),
            Active(Fake, Lease<Fake>),
        }

        #[derive(Clone, Copy, Debug)]
        enum Op {
            Start(usize),
            PollAll,
            PollOne(usize),
            Cancel(usize),
            ConnectOk(usize),
            ConnectFail(usize),
            Checkin(usize),
            Discard(usize),
            KillConn(usize),
        }

        fn op() -> impl Strategy<Value = Op> {
            (0..9u8, 0..SLOTS).prop_map(|(k, i)| match k {
                0 => Op::Start(i),
                1 => Op::PollAll,
                8 => Op::PollOne(i),
                2 => Op::Cancel(i),
                3 => Op::ConnectOk(i),
                4 => Op::ConnectFail(i),
                5 => Op::Checkin(i),
                6 => Op::Discard(i),
                _ => Op::KillConn(i),
            })
        }

        /// The test's request slots: 3 on host 0 (port 1), 2 on host 1 (port 2), as the model's
        /// `REQS = 5` requests (request `r` wants host `r % 2`).
        const SLOTS: usize = 5;

        /// The origin of slot `i`.
        fn slot_origin(i: usize) -> Origin {
            origin(if i < 3 { 1 } else { 2 })
        }

        /// Feeds the logged transitions to the model; real serial → model request 0, 2, 4 on
        /// port 1 and 1, 3 on port 2; a port names the model's host `port - 1`.
        fn replay(model: &mut Model, map: &mut HashMap<i32, i32>) {
            let log = TEST_LOG.with(|l| std::mem::take(&mut *l.borrow_mut()));
            for (event, args) in log {
                let arg = if matches!(event, "expire" | "evict") {
                    args[0] - 1
                } else if let Some(r) = map.get(&args[0]) {
                    *r
                } else {
                    let used: Vec<i32> = map.values().copied().collect();
                    let candidates: &[i32] = if args[1] == 1 { &[0, 2, 4] } else { &[1, 3] };
                    let r = candidates
                        .iter()
                        .copied()
                        .find(|r| !used.contains(r))
                        .expect("≤ 3 requests per host");
                    map.insert(args[0], r);
                    r
                };
                let e = Event::decode(event, &[arg]).expect("known event");
                if let Err(illegal) = model.apply(e) {
                    panic!(
                        "{event}{args:?} as {e:?} illegal: {illegal:?}, vars {:?}",
                        model.vars
                    );
                }
                if let Err(broken) = model.check() {
                    panic!("invariant {broken} broken after {e:?}: {:?}", model.vars);
                }
                map.retain(|_, r| model.vars.st[*r as usize] != IDLE);
            }
        }

        fn run_ops(ops: Vec<Op>, per_host: usize, total: usize) {
            crate::rt::block_on(async {
                TEST_LOG.with(|l| l.borrow_mut().clear());
                let (pool, _) = pool(config(total, per_host));
                let waker = Waker::from(Arc::new(Noop));
                let mut model = Model::new(per_host as i32, total as i32);
                let mut map = HashMap::new();
                let origins: Vec<Origin> = (0..SLOTS).map(slot_origin).collect();
                let mut slots: Vec<Slot<'_>> = (0..SLOTS).map(|_| Slot::Empty).collect();
                let mut conns: Vec<Rc<Cell<bool>>> = Vec::new();
                let mut started = 0u64;
                for op in ops {
                    match op {
                        Op::Start(i) if matches!(slots[i], Slot::Empty) => {
                            slots[i] = Slot::Waiting(
                                started,
                                Box::pin(pool.checkout(&origins[i], None, false)),
                            );
                            started += 1;
                            poll_in_order(&mut slots, &waker);
                        }
                        Op::PollAll => poll_in_order(&mut slots, &waker),
                        Op::PollOne(i) => poll_slot(&mut slots, i, &waker),
                        Op::Cancel(i) => slots[i] = Slot::Empty,
                        Op::ConnectOk(i) => {
                            if let Slot::Connecting(mut lease) =
                                std::mem::replace(&mut slots[i], Slot::Empty)
                            {
                                lease.connected();
                                let conn = fake(conns.len() as u32);
                                conns.push(conn.alive.clone());
                                slots[i] = Slot::Active(conn, lease);
                            } else {
                                continue;
                            }
                        }
                        Op::ConnectFail(i) => match std::mem::replace(&mut slots[i], Slot::Empty) {
                            Slot::Connecting(lease) => lease.connect_failed(),
                            other => slots[i] = other,
                        },
                        Op::Checkin(i) => match std::mem::replace(&mut slots[i], Slot::Empty) {
                            Slot::Active(conn, lease) => lease.checkin(conn),
                            other => slots[i] = other,
                        },
                        Op::Discard(i) => match std::mem::replace(&mut slots[i], Slot::Empty) {
                            Slot::Active(conn, lease) => {
                                drop(conn);
                                lease.closed(CloseReason::Error);
                            }
                            other => slots[i] = other,
                        },
                        Op::KillConn(i) => {
                            if let Some(alive) = conns.get(i) {
                                alive.set(false);
                            }
                        }
                        Op::Start(_) => {}
                    }
                    replay(&mut model, &mut map);
                    let stats = pool.stats();
                    let v = model.vars;
                    for (h, port) in [(0, 1), (1, 2)] {
                        let real = stats.host(&origin(port));
                        let modelled = (
                            v.connecting[h] as usize,
                            v.active[h] as usize,
                            v.idle[h] as usize,
                            (0..SLOTS)
                                .filter(|&r| r % 2 == h && v.st[r] == WAITING)
                                .count(),
                        );
                        assert_eq!(
                            modelled,
                            (real.connecting, real.active, real.idle, real.waiters),
                            "host {h} after {op:?}"
                        );
                    }
                    assert_eq!(v.qlen as usize, stats.total.waiters, "after {op:?}");
                }
                drop(slots);
                replay(&mut model, &mut map);
                assert_eq!(pool.stats().total.connecting + pool.stats().total.active, 0);
            });
        }

        /// Polls every waiting checkout once, oldest first (a FIFO executor's order).
        fn poll_in_order(slots: &mut [Slot<'_>], waker: &Waker) {
            let mut order: Vec<(u64, usize)> = slots
                .iter()
                .enumerate()
                .filter_map(|(i, s)| match s {
                    Slot::Waiting(n, _) => Some((*n, i)),
                    _ => None,
                })
                .collect();
            order.sort();
            for (_, i) in order {
                poll_slot(slots, i, waker);
            }
        }

        /// Polls slot `i` once if it is a waiting checkout (in any order: an executor may run
        /// a woken waiter late, after newcomers).
        fn poll_slot(slots: &mut [Slot<'_>], i: usize, waker: &Waker) {
            let Slot::Waiting(_, fut) = &mut slots[i] else {
                return;
            };
            let Poll::Ready(out) = fut.as_mut().poll(&mut Context::from_waker(waker)) else {
                return;
            };
            slots[i] = match out.expect("no timeout configured") {
                Checkout::Reused(conn, lease) => Slot::Active(conn, lease),
                Checkout::Connect(lease) => Slot::Connecting(lease),
            };
        }

        /// The case the two-origin widening found while the pool queued on handing-off
        /// semaphores: two releases before the woken waiters ran let a host waiter take a free
        /// total permit, and report it, ahead of an older total waiter that already held one.
        #[test]
        fn a_later_waiter_never_reports_its_slot_before_an_older_one() {
            use Op::*;
            let ops = vec![
                Start(0),
                Start(3),
                Start(2),
                Start(1),
                Start(4),
                Cancel(0),
                Cancel(2),
                Start(0),
                Start(0),
            ];
            run_ops(ops, 2, 3);
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn pool_conforms_to_the_reference_model(ops in proptest::collection::vec(op(), 1..60)) {
                run_ops(ops, 2, 3);
            }

            #[test]
            fn pool_conforms_when_the_total_limit_binds(ops in proptest::collection::vec(op(), 1..60)) {
                run_ops(ops, 2, 2);
            }

            #[test]
            fn pool_conforms_with_one_slot_per_host(ops in proptest::collection::vec(op(), 1..60)) {
                run_ops(ops, 1, 1);
            }
        }
    }
}
