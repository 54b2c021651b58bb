//! Connection pool: the reference model.
//!
//! Generated from `model/pool.toml` by `model/generate`; do not edit.
//!
//! The pool's slot accounting. Per host it counts connections `connecting`, `active` (lent to a
//! request) and `idle`; their sum is capped per host and in total. A checkout takes an idle
//! connection of its host, or opens a new one when under both limits, or queues. As in the
//! real pool (two FIFO semaphores, the host's first, then the total's; a waiter takes a permit
//! when it runs, so `host_granted` and `serve` are steps of the waiter itself) a waiter first queues per
//! host (`pos`, arrival order, read per host), then, holding its host's permit, in the pool-wide
//! queue (`tpos`): a newcomer waits iff a waiter of its own host is still in the host queue, its
//! host's permits are taken, or the total queue is non-empty or the total limit binds; a request
//! for a host with free capacity is never held behind a waiter of another busy host. The head of
//! the total queue is served as soon as capacity appears, closing an idle connection of another
//! host when only the total limit is in the way. Idle connections expire or are evicted when stale (the peer hung up). Cancellation
//! (the request future dropped) is possible at every point and always gives back what it held; a
//! pool timeout ends a wait. Requests are numbered; request `r` wants host `r % HOSTS`.
//! Per-request states: `IDLE` (0), `WAITING` (1), `CONNECTING` (2), `ACTIVE` (3).
//!
//! The transition table and state diagram are in the [model reference](super).
#![allow(
    unused_parens,
    unused_mut,
    unused_variables,
    unused_imports,
    unreachable_patterns,
    clippy::all
)]

use core::fmt;

/// The machine's name in traces.
pub const MACHINE: &str = "pool";

/// Model constant `ACTIVE`.
pub const ACTIVE: i32 = 3;

/// Model constant `CONNECTING`.
pub const CONNECTING: i32 = 2;

/// Model constant `HOSTS`.
pub const HOSTS: i32 = 2;

/// Model constant `IDLE`.
pub const IDLE: i32 = 0;

/// Model constant `PAIRS`.
pub const PAIRS: i32 = 25;

/// Model constant `REQS`.
pub const REQS: i32 = 5;

/// Model constant `WAITING`.
pub const WAITING: i32 = 1;

/// The control states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// The pool serves checkouts.
    Open,
}

impl State {
    /// Every state, in declaration order.
    pub const ALL: [State; 1] = [State::Open];
    /// The state's name in the model file.
    pub const fn name(self) -> &'static str {
        match self {
            State::Open => "open",
        }
    }
    /// Whether no transition leaves this state but self-loops.
    pub const fn is_terminal(self) -> bool {
        match self {
            State::Open => false,
        }
    }
}

/// The model variables (proof-only ghost variables are left out).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Vars {
    /// Limit on connecting + active + idle connections per host.
    pub max_per_host: i32,
    /// Limit on connecting + active + idle connections in total.
    pub max_total: i32,
    /// Each request's state: IDLE, WAITING, CONNECTING or ACTIVE.
    pub st: [i32; REQS as usize],
    /// Each waiter's arrival position among all waiters, 1 = oldest; 0 when not waiting. Per host it is the host queue's order.
    pub pos: [i32; REQS as usize],
    /// Waiting requests.
    pub qlen: i32,
    /// Each waiter's position in the total queue, 1 = head; 0 while it still waits for its host's permit (or is not waiting).
    pub tpos: [i32; REQS as usize],
    /// Waiters holding their host's permit, queued for the total one.
    pub tqlen: i32,
    /// Per host: connections being opened (each owned by one request).
    pub connecting: [i32; HOSTS as usize],
    /// Per host: connections lent to a request.
    pub active: [i32; HOSTS as usize],
    /// Per host: idle connections in the pool.
    pub idle: [i32; HOSTS as usize],
}

impl Vars {
    /// The initial values.
    pub const fn new(max_per_host: i32, max_total: i32) -> Vars {
        Vars {
            max_per_host: max_per_host,
            max_total: max_total,
            st: [IDLE; REQS as usize],
            pos: [0; REQS as usize],
            qlen: 0,
            tpos: [0; REQS as usize],
            tqlen: 0,
            connecting: [0; HOSTS as usize],
            active: [0; HOSTS as usize],
            idle: [0; HOSTS as usize],
        }
    }
}

/// The events, with their arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// Request `r` asks the pool for a connection.
    Checkout {
        /// The request. In `0..REQS`.
        r: i32,
    },
    /// Request `r`'s new connection is established; it is lent to `r`.
    Connected {
        /// The request. In `0..REQS`.
        r: i32,
    },
    /// Request `r`'s connect failed; its slot is freed.
    ConnectFailed {
        /// The request. In `0..REQS`.
        r: i32,
    },
    /// Waiter `r`, oldest of its host's queue, gets its host's permit and queues for the total one.
    HostGranted {
        /// The request. In `0..REQS`.
        r: i32,
    },
    /// The head `r` of the total queue is served: an idle connection of its host, or a new one.
    Serve {
        /// The request. In `0..REQS`.
        r: i32,
    },
    /// Request `r` is done and its connection is clean: it goes back idle.
    Checkin {
        /// The request. In `0..REQS`.
        r: i32,
    },
    /// Request `r` is done and its connection is not reusable: it is closed.
    Discard {
        /// The request. In `0..REQS`.
        r: i32,
    },
    /// Request `r`'s future is dropped, whatever it was doing.
    Cancel {
        /// The request. In `0..REQS`.
        r: i32,
    },
    /// Request `r`'s pool timeout fires while it waits.
    Timeout {
        /// The request. In `0..REQS`.
        r: i32,
    },
    /// An idle connection of host `h` reaches its idle timeout and is closed.
    Expire {
        /// The host. In `0..HOSTS`.
        h: i32,
    },
    /// An idle connection of host `h` is found stale (the peer hung up) and is closed.
    Evict {
        /// The host. In `0..HOSTS`.
        h: i32,
    },
}

/// The most arguments any event has.
pub const MAX_ARGS: usize = 1;

impl Event {
    /// The event's name in the model file.
    pub const fn name(&self) -> &'static str {
        match self {
            Event::Checkout { .. } => "checkout",
            Event::Connected { .. } => "connected",
            Event::ConnectFailed { .. } => "connect_failed",
            Event::HostGranted { .. } => "host_granted",
            Event::Serve { .. } => "serve",
            Event::Checkin { .. } => "checkin",
            Event::Discard { .. } => "discard",
            Event::Cancel { .. } => "cancel",
            Event::Timeout { .. } => "timeout",
            Event::Expire { .. } => "expire",
            Event::Evict { .. } => "evict",
        }
    }

    /// The arguments as integers, in declaration order, zero-padded (bools as 0/1, enums by
    /// position): what the trace hook reports.
    pub const fn arg_values(&self) -> [i32; MAX_ARGS] {
        let mut out = [0; MAX_ARGS];
        match *self {
            Event::Checkout { r } => {
                out[0] = r as i32;
            }
            Event::Connected { r } => {
                out[0] = r as i32;
            }
            Event::ConnectFailed { r } => {
                out[0] = r as i32;
            }
            Event::HostGranted { r } => {
                out[0] = r as i32;
            }
            Event::Serve { r } => {
                out[0] = r as i32;
            }
            Event::Checkin { r } => {
                out[0] = r as i32;
            }
            Event::Discard { r } => {
                out[0] = r as i32;
            }
            Event::Cancel { r } => {
                out[0] = r as i32;
            }
            Event::Timeout { r } => {
                out[0] = r as i32;
            }
            Event::Expire { h } => {
                out[0] = h as i32;
            }
            Event::Evict { h } => {
                out[0] = h as i32;
            }
            _ => {}
        }
        out
    }

    /// The inverse of [`Event::name`] and [`Event::arg_values`] (replaying a trace).
    pub fn decode(name: &str, args: &[i32]) -> Option<Event> {
        let arg = |i: usize| args.get(i).copied().unwrap_or(0);
        let e = match name {
            "checkout" => Event::Checkout { r: arg(0) },
            "connected" => Event::Connected { r: arg(0) },
            "connect_failed" => Event::ConnectFailed { r: arg(0) },
            "host_granted" => Event::HostGranted { r: arg(0) },
            "serve" => Event::Serve { r: arg(0) },
            "checkin" => Event::Checkin { r: arg(0) },
            "discard" => Event::Discard { r: arg(0) },
            "cancel" => Event::Cancel { r: arg(0) },
            "timeout" => Event::Timeout { r: arg(0) },
            "expire" => Event::Expire { h: arg(0) },
            "evict" => Event::Evict { h: arg(0) },
            _ => return None,
        };
        Some(e)
    }

    /// Every event with every argument value (int arguments over their declared range).
    pub fn all() -> Vec<Event> {
        let mut out = Vec::new();
        for r in 0..REQS {
            out.push(Event::Checkout { r });
        }
        for r in 0..REQS {
            out.push(Event::Connected { r });
        }
        for r in 0..REQS {
            out.push(Event::ConnectFailed { r });
        }
        for r in 0..REQS {
            out.push(Event::HostGranted { r });
        }
        for r in 0..REQS {
            out.push(Event::Serve { r });
        }
        for r in 0..REQS {
            out.push(Event::Checkin { r });
        }
        for r in 0..REQS {
            out.push(Event::Discard { r });
        }
        for r in 0..REQS {
            out.push(Event::Cancel { r });
        }
        for r in 0..REQS {
            out.push(Event::Timeout { r });
        }
        for h in 0..HOSTS {
            out.push(Event::Expire { h });
        }
        for h in 0..HOSTS {
            out.push(Event::Evict { h });
        }
        out
    }
}

/// What the caller must do besides changing state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Effects {}

impl Effects {
    /// No effect.
    pub const NONE: Effects = Effects {};
}

/// An event the model does not allow in a state (or with these variable values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Illegal {
    /// The state the event arrived in.
    pub state: State,
    /// The refused event.
    pub event: Event,
}

impl fmt::Display for Illegal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pool: event `{}` is illegal in state `{}`",
            self.event.name(),
            self.state.name()
        )
    }
}

impl std::error::Error for Illegal {}

/// The transition function: the next state, variables and effects, or [`Illegal`].
/// Guards of one (state, event) are tried in model-file order.
pub fn next(state: State, v: Vars, event: Event) -> Result<(State, Vars, Effects), Illegal> {
    let mut v = v;
    let mut fx = Effects::NONE;
    let to = match event {
        Event::Checkout { r } => {
            if !(0 <= r && r < REQS) {
                return Err(Illegal { state, event });
            }
            match state {
                State::Open
                    if (((((v.st[(r) as usize] == IDLE)
                        && !(0..REQS).any(|j: i32| {
                            (((v.st[(j) as usize] == WAITING) && (v.tpos[(j) as usize] == 0))
                                && ((j % HOSTS) == (r % HOSTS)))
                        }))
                        && (((v.connecting[(r % HOSTS) as usize]
                            + v.active[(r % HOSTS) as usize])
                            + ((0..REQS)
                                .filter(|&j: &i32| {
                                    (((v.st[(j) as usize] == WAITING)
                                        && (v.tpos[(j) as usize] > 0))
                                        && ((j % HOSTS) == (r % HOSTS)))
                                })
                                .count() as i32))
                            < v.max_per_host))
                        && (v.tqlen == 0))
                        && (v.idle[(r % HOSTS) as usize] > 0)) =>
                {
                    v.idle[(r % HOSTS) as usize] = (v.idle[(r % HOSTS) as usize] - 1);
                    v.active[(r % HOSTS) as usize] = (v.active[(r % HOSTS) as usize] + 1);
                    v.st[(r) as usize] = ACTIVE;
                    State::Open
                }
                State::Open
                    if ((((((v.st[(r) as usize] == IDLE)
                        && !(0..REQS).any(|j: i32| {
                            (((v.st[(j) as usize] == WAITING) && (v.tpos[(j) as usize] == 0))
                                && ((j % HOSTS) == (r % HOSTS)))
                        }))
                        && (((v.connecting[(r % HOSTS) as usize]
                            + v.active[(r % HOSTS) as usize])
                            + ((0..REQS)
                                .filter(|&j: &i32| {
                                    (((v.st[(j) as usize] == WAITING)
                                        && (v.tpos[(j) as usize] > 0))
                                        && ((j % HOSTS) == (r % HOSTS)))
                                })
                                .count() as i32))
                            < v.max_per_host))
                        && (v.tqlen == 0))
                        && (v.idle[(r % HOSTS) as usize] == 0))
                        && ((0..HOSTS)
                            .map(|i: i32| {
                                ((v.connecting[(i) as usize] + v.active[(i) as usize])
                                    + v.idle[(i) as usize])
                            })
                            .sum::<i32>()
                            < v.max_total)) =>
                {
                    v.connecting[(r % HOSTS) as usize] = (v.connecting[(r % HOSTS) as usize] + 1);
                    v.st[(r) as usize] = CONNECTING;
                    State::Open
                }
                State::Open
                    if ((v.st[(r) as usize] == IDLE)
                        && ((0..REQS).any(|j: i32| {
                            (((v.st[(j) as usize] == WAITING) && (v.tpos[(j) as usize] == 0))
                                && ((j % HOSTS) == (r % HOSTS)))
                        }) || (((v.connecting[(r % HOSTS) as usize]
                            + v.active[(r % HOSTS) as usize])
                            + ((0..REQS)
                                .filter(|&j: &i32| {
                                    (((v.st[(j) as usize] == WAITING)
                                        && (v.tpos[(j) as usize] > 0))
                                        && ((j % HOSTS) == (r % HOSTS)))
                                })
                                .count() as i32))
                            >= v.max_per_host))) =>
                {
                    v.qlen = (v.qlen + 1);
                    v.pos[(r) as usize] = v.qlen;
                    v.st[(r) as usize] = WAITING;
                    State::Open
                }
                State::Open
                    if ((((v.st[(r) as usize] == IDLE)
                        && !(0..REQS).any(|j: i32| {
                            (((v.st[(j) as usize] == WAITING) && (v.tpos[(j) as usize] == 0))
                                && ((j % HOSTS) == (r % HOSTS)))
                        }))
                        && (((v.connecting[(r % HOSTS) as usize]
                            + v.active[(r % HOSTS) as usize])
                            + ((0..REQS)
                                .filter(|&j: &i32| {
                                    (((v.st[(j) as usize] == WAITING)
                                        && (v.tpos[(j) as usize] > 0))
                                        && ((j % HOSTS) == (r % HOSTS)))
                                })
                                .count() as i32))
                            < v.max_per_host))
                        && ((v.tqlen > 0)
                            || ((v.idle[(r % HOSTS) as usize] == 0)
                                && ((0..HOSTS)
                                    .map(|i: i32| {
                                        ((v.connecting[(i) as usize] + v.active[(i) as usize])
                                            + v.idle[(i) as usize])
                                    })
                                    .sum::<i32>()
                                    >= v.max_total)))) =>
                {
                    v.qlen = (v.qlen + 1);
                    v.pos[(r) as usize] = v.qlen;
                    v.tqlen = (v.tqlen + 1);
                    v.tpos[(r) as usize] = v.tqlen;
                    v.st[(r) as usize] = WAITING;
                    State::Open
                }
                _ => return Err(Illegal { state, event }),
            }
        }
        Event::Connected { r } => {
            if !(0 <= r && r < REQS) {
                return Err(Illegal { state, event });
            }
            match state {
                State::Open if (v.st[(r) as usize] == CONNECTING) => {
                    v.connecting[(r % HOSTS) as usize] = (v.connecting[(r % HOSTS) as usize] - 1);
                    v.active[(r % HOSTS) as usize] = (v.active[(r % HOSTS) as usize] + 1);
                    v.st[(r) as usize] = ACTIVE;
                    State::Open
                }
                _ => return Err(Illegal { state, event }),
            }
        }
        Event::ConnectFailed { r } => {
            if !(0 <= r && r < REQS) {
                return Err(Illegal { state, event });
            }
            match state {
                State::Open if (v.st[(r) as usize] == CONNECTING) => {
                    v.connecting[(r % HOSTS) as usize] = (v.connecting[(r % HOSTS) as usize] - 1);
                    v.st[(r) as usize] = IDLE;
                    State::Open
                }
                _ => return Err(Illegal { state, event }),
            }
        }
        Event::HostGranted { r } => {
            if !(0 <= r && r < REQS) {
                return Err(Illegal { state, event });
            }
            match state {
                State::Open
                    if ((((v.st[(r) as usize] == WAITING) && (v.tpos[(r) as usize] == 0))
                        && !(0..REQS).any(|j: i32| {
                            ((((v.st[(j) as usize] == WAITING) && (v.tpos[(j) as usize] == 0))
                                && ((j % HOSTS) == (r % HOSTS)))
                                && (v.pos[(j) as usize] < v.pos[(r) as usize]))
                        }))
                        && (((v.connecting[(r % HOSTS) as usize]
                            + v.active[(r % HOSTS) as usize])
                            + ((0..REQS)
                                .filter(|&j: &i32| {
                                    (((v.st[(j) as usize] == WAITING)
                                        && (v.tpos[(j) as usize] > 0))
                                        && ((j % HOSTS) == (r % HOSTS)))
                                })
                                .count() as i32))
                            < v.max_per_host)) =>
                {
                    v.tqlen = (v.tqlen + 1);
                    v.tpos[(r) as usize] = v.tqlen;
                    State::Open
                }
                _ => return Err(Illegal { state, event }),
            }
        }
        Event::Serve { r } => {
            if !(0 <= r && r < REQS) {
                return Err(Illegal { state, event });
            }
            match state {
                State::Open
                    if (((v.st[(r) as usize] == WAITING) && (v.tpos[(r) as usize] == 1))
                        && (v.idle[(r % HOSTS) as usize] > 0)) =>
                {
                    for i in 0..REQS {
                        if (v.pos[(i) as usize] > v.pos[(r) as usize]) {
                            v.pos[(i) as usize] = (v.pos[(i) as usize] - 1);
                        }
                    }
                    v.pos[(r) as usize] = 0;
                    v.qlen = (v.qlen - 1);
                    for i in 0..REQS {
                        if (v.tpos[(i) as usize] > 0) {
                            v.tpos[(i) as usize] = (v.tpos[(i) as usize] - 1);
                        }
                    }
                    v.tqlen = (v.tqlen - 1);
                    v.idle[(r % HOSTS) as usize] = (v.idle[(r % HOSTS) as usize] - 1);
                    v.active[(r % HOSTS) as usize] = (v.active[(r % HOSTS) as usize] + 1);
                    v.st[(r) as usize] = ACTIVE;
                    State::Open
                }
                State::Open
                    if (((((v.st[(r) as usize] == WAITING) && (v.tpos[(r) as usize] == 1))
                        && (v.idle[(r % HOSTS) as usize] == 0))
                        && (((v.connecting[(r % HOSTS) as usize]
                            + v.active[(r % HOSTS) as usize])
                            + v.idle[(r % HOSTS) as usize])
                            < v.max_per_host))
                        && ((0..HOSTS)
                            .map(|i: i32| {
                                ((v.connecting[(i) as usize] + v.active[(i) as usize])
                                    + v.idle[(i) as usize])
                            })
                            .sum::<i32>()
                            < v.max_total)) =>
                {
                    for i in 0..REQS {
                        if (v.pos[(i) as usize] > v.pos[(r) as usize]) {
                            v.pos[(i) as usize] = (v.pos[(i) as usize] - 1);
                        }
                    }
                    v.pos[(r) as usize] = 0;
                    v.qlen = (v.qlen - 1);
                    for i in 0..REQS {
                        if (v.tpos[(i) as usize] > 0) {
                            v.tpos[(i) as usize] = (v.tpos[(i) as usize] - 1);
                        }
                    }
                    v.tqlen = (v.tqlen - 1);
                    v.connecting[(r % HOSTS) as usize] = (v.connecting[(r % HOSTS) as usize] + 1);
                    v.st[(r) as usize] = CONNECTING;
                    State::Open
                }
                State::Open
                    if ((((((v.st[(r) as usize] == WAITING) && (v.tpos[(r) as usize] == 1))
                        && (v.idle[(r % HOSTS) as usize] == 0))
                        && (((v.connecting[(r % HOSTS) as usize]
                            + v.active[(r % HOSTS) as usize])
                            + v.idle[(r % HOSTS) as usize])
                            < v.max_per_host))
                        && ((0..HOSTS)
                            .map(|i: i32| {
                                ((v.connecting[(i) as usize] + v.active[(i) as usize])
                                    + v.idle[(i) as usize])
                            })
                            .sum::<i32>()
                            >= v.max_total))
                        && (v.idle[(1 - (r % HOSTS)) as usize] > 0)) =>
                {
                    for i in 0..REQS {
                        if (v.pos[(i) as usize] > v.pos[(r) as usize]) {
                            v.pos[(i) as usize] = (v.pos[(i) as usize] - 1);
                        }
                    }
                    v.pos[(r) as usize] = 0;
                    v.qlen = (v.qlen - 1);
                    for i in 0..REQS {
                        if (v.tpos[(i) as usize] > 0) {
                            v.tpos[(i) as usize] = (v.tpos[(i) as usize] - 1);
                        }
                    }
                    v.tqlen = (v.tqlen - 1);
                    v.idle[(1 - (r % HOSTS)) as usize] = (v.idle[(1 - (r % HOSTS)) as usize] - 1);
                    v.connecting[(r % HOSTS) as usize] = (v.connecting[(r % HOSTS) as usize] + 1);
                    v.st[(r) as usize] = CONNECTING;
                    State::Open
                }
                _ => return Err(Illegal { state, event }),
            }
        }
        Event::Checkin { r } => {
            if !(0 <= r && r < REQS) {
                return Err(Illegal { state, event });
            }
            match state {
                State::Open if (v.st[(r) as usize] == ACTIVE) => {
                    v.active[(r % HOSTS) as usize] = (v.active[(r % HOSTS) as usize] - 1);
                    v.idle[(r % HOSTS) as usize] = (v.idle[(r % HOSTS) as usize] + 1);
                    v.st[(r) as usize] = IDLE;
                    State::Open
                }
                _ => return Err(Illegal { state, event }),
            }
        }
        Event::Discard { r } => {
            if !(0 <= r && r < REQS) {
                return Err(Illegal { state, event });
            }
            match state {
                State::Open if (v.st[(r) as usize] == ACTIVE) => {
                    v.active[(r % HOSTS) as usize] = (v.active[(r % HOSTS) as usize] - 1);
                    v.st[(r) as usize] = IDLE;
                    State::Open
                }
                _ => return Err(Illegal { state, event }),
            }
        }
        Event::Cancel { r } => {
            if !(0 <= r && r < REQS) {
                return Err(Illegal { state, event });
            }
            match state {
                State::Open if (v.st[(r) as usize] == WAITING) => {
                    for i in 0..REQS {
                        if (v.pos[(i) as usize] > v.pos[(r) as usize]) {
                            v.pos[(i) as usize] = (v.pos[(i) as usize] - 1);
                        }
                    }
                    v.pos[(r) as usize] = 0;
                    v.qlen = (v.qlen - 1);
                    v.st[(r) as usize] = IDLE;
                    if (v.tpos[(r) as usize] > 0) {
                        v.tqlen = (v.tqlen - 1);
                    }
                    for i in 0..REQS {
                        if ((v.tpos[(i) as usize] > v.tpos[(r) as usize])
                            && (v.tpos[(r) as usize] > 0))
                        {
                            v.tpos[(i) as usize] = (v.tpos[(i) as usize] - 1);
                        }
                    }
                    v.tpos[(r) as usize] = 0;
                    State::Open
                }
                State::Open if (v.st[(r) as usize] == CONNECTING) => {
                    v.connecting[(r % HOSTS) as usize] = (v.connecting[(r % HOSTS) as usize] - 1);
                    v.st[(r) as usize] = IDLE;
                    State::Open
                }
                State::Open if (v.st[(r) as usize] == ACTIVE) => {
                    v.active[(r % HOSTS) as usize] = (v.active[(r % HOSTS) as usize] - 1);
                    v.st[(r) as usize] = IDLE;
                    State::Open
                }
                _ => return Err(Illegal { state, event }),
            }
        }
        Event::Timeout { r } => {
            if !(0 <= r && r < REQS) {
                return Err(Illegal { state, event });
            }
            match state {
                State::Open if (v.st[(r) as usize] == WAITING) => {
                    for i in 0..REQS {
                        if (v.pos[(i) as usize] > v.pos[(r) as usize]) {
                            v.pos[(i) as usize] = (v.pos[(i) as usize] - 1);
                        }
                    }
                    v.pos[(r) as usize] = 0;
                    v.qlen = (v.qlen - 1);
                    v.st[(r) as usize] = IDLE;
                    if (v.tpos[(r) as usize] > 0) {
                        v.tqlen = (v.tqlen - 1);
                    }
                    for i in 0..REQS {
                        if ((v.tpos[(i) as usize] > v.tpos[(r) as usize])
                            && (v.tpos[(r) as usize] > 0))
                        {
                            v.tpos[(i) as usize] = (v.tpos[(i) as usize] - 1);
                        }
                    }
                    v.tpos[(r) as usize] = 0;
                    State::Open
                }
                _ => return Err(Illegal { state, event }),
            }
        }
        Event::Expire { h } => {
            if !(0 <= h && h < HOSTS) {
                return Err(Illegal { state, event });
            }
            match state {
                State::Open if (v.idle[(h) as usize] > 0) => {
                    v.idle[(h) as usize] = (v.idle[(h) as usize] - 1);
                    State::Open
                }
                _ => return Err(Illegal { state, event }),
            }
        }
        Event::Evict { h } => {
            if !(0 <= h && h < HOSTS) {
                return Err(Illegal { state, event });
            }
            match state {
                State::Open if (v.idle[(h) as usize] > 0) => {
                    v.idle[(h) as usize] = (v.idle[(h) as usize] - 1);
                    State::Open
                }
                _ => return Err(Illegal { state, event }),
            }
        }
    };
    Ok((to, v, fx))
}

/// The reference model: a control state and the variables.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Model {
    /// The control state.
    pub state: State,
    /// The model variables.
    pub vars: Vars,
}

impl Model {
    /// The initial model for parameters `max_per_host`, `max_total`.
    pub const fn new(max_per_host: i32, max_total: i32) -> Self {
        Model {
            state: State::Open,
            vars: Vars::new(max_per_host, max_total),
        }
    }

    /// Applies `event`: the next model, or [`Illegal`] (self is unchanged).
    pub fn step(&self, event: Event) -> Result<Model, Illegal> {
        self.step_effects(event).map(|(m, _)| m)
    }

    /// Like [`Model::step`], also returning the effects.
    pub fn step_effects(&self, event: Event) -> Result<(Model, Effects), Illegal> {
        let (state, vars, fx) = next(self.state, self.vars, event)?;
        Ok((Model { state, vars }, fx))
    }

    /// Applies `event` in place; on [`Illegal`] nothing changes.
    pub fn apply(&mut self, event: Event) -> Result<Effects, Illegal> {
        let (m, fx) = self.step_effects(event)?;
        *self = m;
        Ok(fx)
    }

    /// Whether `event` is allowed now.
    pub fn allows(&self, event: Event) -> bool {
        next(self.state, self.vars, event).is_ok()
    }

    /// Checks the model's invariants that do not involve proof-only ghost variables; the name of
    /// the first one violated.
    pub fn check(&self) -> Result<(), &'static str> {
        let state = self.state;
        let v = self.vars;
        if !((0..HOSTS).all(|h: i32| {
            (((v.connecting[(h) as usize] + v.active[(h) as usize]) + v.idle[(h) as usize])
                <= v.max_per_host)
        }) && ((0..HOSTS)
            .map(|h: i32| {
                ((v.connecting[(h) as usize] + v.active[(h) as usize]) + v.idle[(h) as usize])
            })
            .sum::<i32>()
            <= v.max_total))
        {
            return Err("within_limits");
        }
        if !(0..HOSTS).all(|h: i32| {
            ((v.connecting[(h) as usize]
                == ((0..REQS)
                    .filter(|&r: &i32| ((v.st[(r) as usize] == CONNECTING) && ((r % HOSTS) == h)))
                    .count() as i32))
                && (v.active[(h) as usize]
                    == ((0..REQS)
                        .filter(|&r: &i32| ((v.st[(r) as usize] == ACTIVE) && ((r % HOSTS) == h)))
                        .count() as i32)))
        }) {
            return Err("no_leaked_slot");
        }
        if !(((((v.qlen
            == ((0..REQS)
                .filter(|&r: &i32| (v.st[(r) as usize] == WAITING))
                .count() as i32))
            && (0..REQS).all(|r: i32| {
                (((v.st[(r) as usize] == WAITING) == (v.pos[(r) as usize] > 0))
                    && (v.pos[(r) as usize] <= v.qlen))
            }))
            && (v.tqlen
                == ((0..REQS)
                    .filter(|&r: &i32| (v.tpos[(r) as usize] > 0))
                    .count() as i32)))
            && (0..REQS).all(|r: i32| {
                (((v.tpos[(r) as usize] == 0) || (v.st[(r) as usize] == WAITING))
                    && (v.tpos[(r) as usize] <= v.tqlen))
            }))
            && (0..HOSTS).all(|h: i32| {
                (((v.connecting[(h) as usize] + v.active[(h) as usize])
                    + ((0..REQS)
                        .filter(|&r: &i32| ((v.tpos[(r) as usize] > 0) && ((r % HOSTS) == h)))
                        .count() as i32))
                    <= v.max_per_host)
            }))
        {
            return Err("queue_consistent");
        }
        Ok(())
    }
}

impl Default for Model {
    /// The initial model with the parameters the proofs use.
    fn default() -> Self {
        Model::new(2, 3)
    }
}

impl super::support::Reference for Model {
    type Event = Event;
    type Illegal = Illegal;
    fn events() -> Vec<Event> {
        Event::all()
    }
    fn apply(&mut self, event: Event) -> Result<(), Illegal> {
        Model::apply(self, event).map(|_| ())
    }
    fn allows(&self, event: Event) -> bool {
        Model::allows(self, event)
    }
    fn check(&self) -> Result<(), &'static str> {
        Model::check(self)
    }
}

/// proptest strategies of events, for conformance tests of the real code against [`Model`].
#[cfg(test)]
#[allow(dead_code)]
pub(crate) mod strategy {
    use super::super::support::strategy as any_machine;
    use super::{Event, Model};
    use proptest::strategy::Strategy;

    /// Up to `max_len` arbitrary events (the real code must refuse what the model refuses).
    pub(crate) fn events(max_len: usize) -> impl Strategy<Value = Vec<Event>> {
        any_machine::events::<Model>(max_len)
    }

    /// Up to `max_len` events, each legal when it comes, starting from `start`. Shrinks well: the
    /// choices shrink toward the first enabled event and the run toward shorter.
    pub(crate) fn legal_run(start: Model, max_len: usize) -> impl Strategy<Value = Vec<Event>> {
        any_machine::legal_run(start, max_len)
    }
}

#[cfg(test)]
mod tests {
    use super::super::support::checks;
    use super::*;

    #[test]
    fn legal_runs_keep_the_invariants() {
        checks::legal_runs_keep_the_invariants(Model::default());
    }

    #[test]
    fn illegal_events_change_nothing() {
        checks::illegal_events_change_nothing(Model::default());
    }

    #[test]
    fn events_round_trip_through_trace_encoding() {
        for e in Event::all() {
            assert_eq!(Event::decode(e.name(), &e.arg_values()), Some(e));
        }
    }

    /// Every state reachable from the default model, by breadth-first search: the count the model
    /// file states (proofs/README.md compares it with spin's state count).
    #[test]
    fn reachable_states() {
        assert_eq!(checks::reachable_count(Model::default()), 29746);
    }
}
