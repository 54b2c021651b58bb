//! A pooled connection and the recycler that brings it back to the pool.
//!
//! Each connection the client makes gets one [`Slot`] for life, installed as its
//! [`Recycler`]. While the connection carries a request, the slot holds that request's
//! [`Lease`]; when the exchange ends, the connection layer calls the slot exactly once, and the
//! slot hands the connection back to the pool (idle) or releases the lease (closed). If the
//! connection is dropped without any call (a send future dropped before its first poll), the
//! slot is dropped with it and so is the lease: the pool slot comes back either way.
//!
//! # Invariants
//! - A slot holds a lease exactly while its connection is out of the pool.
//! - The connection and its slot never form a cycle with the pool: the pool holds idle
//!   connections, whose slots hold no lease.

use std::cell::RefCell;
use std::fmt;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use super::event::CloseReason;
use super::pool::{Lease, Poolable};
use crate::conn::state::Idle;
use crate::conn::{self, Connection, Recycled, Recycler};

/// An idle connection as the pool keeps it: the connection and its slot.
pub(crate) struct Pooled {
    /// The connection.
    pub(crate) conn: Connection<Idle>,
    /// Its recycler (also installed in `conn`).
    pub(crate) slot: Rc<Slot>,
}

/// The recycler of one connection; holds the lease of the request it carries.
pub(crate) struct Slot {
    /// Itself, to rebuild a [`Pooled`] when the connection comes back.
    me: Weak<Slot>,
    /// The lease while the connection is out of the pool.
    lease: RefCell<Option<Lease<Pooled>>>,
}

impl Pooled {
    /// Wraps a new connection, installing its slot holding `lease`.
    pub(crate) fn new(mut conn: Connection<Idle>, lease: Lease<Pooled>) -> Pooled {
        let slot = Rc::new_cyclic(|me| Slot {
            me: me.clone(),
            lease: RefCell::new(Some(lease)),
        });
        conn.set_recycler(Some(slot.clone()));
        Pooled { conn, slot }
    }

    /// Takes the connection out for a request under `lease`.
    pub(crate) fn lend(self, lease: Lease<Pooled>) -> Connection<Idle> {
        let old = self.slot.lease.replace(Some(lease));
        drop(old); // none: an idle connection's slot holds no lease
        self.conn
    }
}

impl Recycler for Slot {
    fn recycle(&self, outcome: Recycled) {
        let lease = self.lease.borrow_mut().take();
        let Some(lease) = lease else { return };
        match outcome {
            Recycled::Idle(conn) => match self.me.upgrade() {
                Some(slot) => lease.checkin(Pooled { conn, slot }),
                None => lease.closed(CloseReason::NotReusable),
            },
            Recycled::Closed(reason) => lease.closed(close_reason(reason)),
        }
    }
}

/// The connection layer's reason, as the client reports it.
fn close_reason(reason: conn::CloseReason) -> CloseReason {
    match reason {
        conn::CloseReason::Error(_) | conn::CloseReason::Cancelled => CloseReason::Error,
        _ => CloseReason::NotReusable,
    }
}

impl Poolable for Pooled {
    fn is_reusable(&self) -> bool {
        self.conn.is_reusable()
    }

    fn requests_served(&self) -> u64 {
        self.conn.requests_served()
    }

    fn keep_alive_hint(&self) -> Option<Duration> {
        self.conn.keep_alive_hint()
    }

    fn idle_since(&self) -> Instant {
        self.conn.idle_since()
    }

    fn retire(self, reason: CloseReason) {
        match reason {
            CloseReason::IdleTimeout => self.conn.expire(),
            _ => drop(self.conn),
        }
    }
}

impl fmt::Debug for Pooled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pooled").field("conn", &self.conn).finish()
    }
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let leased = self.lease.try_borrow().map(|l| l.is_some()).unwrap_or(true);
        f.debug_struct("Slot").field("leased", &leased).finish()
    }
}
