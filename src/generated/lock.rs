//! Async lock and semaphore: the reference model.
//!
//! Generated from `model/lock.toml` by `model/generate`; do not edit.
//!
//! The semaphore behind `rt::sync::Semaphore` and `Mutex` (a lock is a semaphore of one permit).
//! A task that finds a free permit takes it; otherwise it queues in arrival order. A released
//! permit is handed off to the oldest waiter (which becomes `granted` and is woken) and goes back
//! to the free count only when nobody waits, so a newcomer never overtakes a waiter. Dropping a
//! queued acquire unlinks it; dropping a granted one passes the permit on as a release would.
//! `close` wakes every waiter with an error; permits already held stay valid.
//! Per-task states: `IDLE` (0), `QUEUED` (1), `GRANTED` (2, woken with the permit, not yet polled),
//! `HOLDING` (3). The queue is kept as positions: `pos[t]` is 1 for the oldest waiter.
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
pub const MACHINE: &str = "lock";

/// Model constant `GRANTED`.
pub const GRANTED: i32 = 2;

/// Model constant `HOLDING`.
pub const HOLDING: i32 = 3;

/// Model constant `IDLE`.
pub const IDLE: i32 = 0;

/// Model constant `PAIRS`.
pub const PAIRS: i32 = 16;

/// Model constant `QUEUED`.
pub const QUEUED: i32 = 1;

/// Model constant `TASKS`.
pub const TASKS: i32 = 4;

/// The control states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Acquires succeed or queue.
    Open,
    /// Closed: acquires fail; held and granted permits stay valid and are still released.
    Closed,
}

impl State {
    /// Every state, in declaration order.
    pub const ALL: [State; 2] = [State::Open, State::Closed];
    /// The state's name in the model file.
    pub const fn name(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Closed => "closed",
        }
    }
    /// Whether no transition leaves this state but self-loops.
    pub const fn is_terminal(self) -> bool {
        match self {
            State::Open => false,
            State::Closed => false,
        }
    }
}

/// The model variables (proof-only ghost variables are left out).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Vars {
    /// The semaphore's permits (1 for a lock).
    pub permits: i32,
    /// Free permits. Invariant: `avail > 0` only when nobody is queued.
    pub avail: i32,
    /// Each task's state: IDLE, QUEUED, GRANTED or HOLDING.
    pub st: [i32; TASKS as usize],
    /// Each task's queue position, 1 = oldest; 0 when not queued.
    pub pos: [i32; TASKS as usize],
    /// Queued tasks.
    pub qlen: i32,
}

impl Vars {
    /// The initial values.
    pub const fn new(permits: i32) -> Vars {
        Vars {
            permits: permits,
            avail: permits,
            st: [IDLE; TASKS as usize],
            pos: [0; TASKS as usize],
            qlen: 0,
        }
    }
}

/// The events, with their arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// Task `t` calls `acquire()` and polls it once: it takes a free permit or queues.
    Acquire {
        /// The task. In `0..TASKS`.
        t: i32,
    },
    /// Task `t`, woken with a granted permit, polls its acquire future and holds the permit.
    Poll {
        /// The task. In `0..TASKS`.
        t: i32,
    },
    /// Task `t` drops its permit: handed to the oldest waiter, or back to the free count.
    Release {
        /// The task. In `0..TASKS`.
        t: i32,
    },
    /// Task `t`'s pending acquire future is dropped (queued: unlinked; granted: the permit is passed on).
    Cancel {
        /// The task. In `0..TASKS`.
        t: i32,
    },
    /// The semaphore is closed: queued waiters are woken with an error.
    Close,
}

/// The most arguments any event has.
pub const MAX_ARGS: usize = 1;

impl Event {
    /// The event's name in the model file.
    pub const fn name(&self) -> &'static str {
        match self {
            Event::Acquire { .. } => "acquire",
            Event::Poll { .. } => "poll",
            Event::Release { .. } => "release",
            Event::Cancel { .. } => "cancel",
            Event::Close => "close",
        }
    }

    /// The arguments as integers, in declaration order, zero-padded (bools as 0/1, enums by
    /// position): what the trace hook reports.
    pub const fn arg_values(&self) -> [i32; MAX_ARGS] {
        let mut out = [0; MAX_ARGS];
        match *self {
            Event::Acquire { t } => {
                out[0] = t as i32;
            }
            Event::Poll { t } => {
                out[0] = t as i32;
            }
            Event::Release { t } => {
                out[0] = t as i32;
            }
            Event::Cancel { t } => {
                out[0] = t as i32;
            }
            _ => {}
        }
        out
    }

    /// The inverse of [`Event::name`] and [`Event::arg_values`] (replaying a trace).
    pub fn decode(name: &str, args: &[i32]) -> Option<Event> {
        let arg = |i: usize| args.get(i).copied().unwrap_or(0);
        let e = match name {
            "acquire" => Event::Acquire { t: arg(0) },
            "poll" => Event::Poll { t: arg(0) },
            "release" => Event::Release { t: arg(0) },
            "cancel" => Event::Cancel { t: arg(0) },
            "close" => Event::Close,
            _ => return None,
        };
        Some(e)
    }

    /// Every event with every argument value (int arguments over their declared range).
    pub fn all() -> Vec<Event> {
        let mut out = Vec::new();
        for t in 0..TASKS {
            out.push(Event::Acquire { t });
        }
        for t in 0..TASKS {
            out.push(Event::Poll { t });
        }
        for t in 0..TASKS {
            out.push(Event::Release { t });
        }
        for t in 0..TASKS {
            out.push(Event::Cancel { t });
        }
        out.push(Event::Close);
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
            "lock: event `{}` is illegal in state `{}`",
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
        Event::Acquire { t } => {
            if !(0 <= t && t < TASKS) {
                return Err(Illegal { state, event });
            }
            match state {
                State::Open if ((v.st[(t) as usize] == IDLE) && (v.avail > 0)) => {
                    v.avail = (v.avail - 1);
                    v.st[(t) as usize] = HOLDING;
                    State::Open
                }
                State::Open if ((v.st[(t) as usize] == IDLE) && (v.avail == 0)) => {
                    v.qlen = (v.qlen + 1);
                    v.pos[(t) as usize] = v.qlen;
                    v.st[(t) as usize] = QUEUED;
                    State::Open
                }
                State::Closed if (v.st[(t) as usize] == IDLE) => State::Closed,
                _ => return Err(Illegal { state, event }),
            }
        }
        Event::Poll { t } => {
            if !(0 <= t && t < TASKS) {
                return Err(Illegal { state, event });
            }
            match state {
                state @ (State::Open | State::Closed) if (v.st[(t) as usize] == GRANTED) => {
                    v.st[(t) as usize] = HOLDING;
                    state
                }
                _ => return Err(Illegal { state, event }),
            }
        }
        Event::Release { t } => {
            if !(0 <= t && t < TASKS) {
                return Err(Illegal { state, event });
            }
            match state {
                state @ (State::Open | State::Closed)
                    if ((v.st[(t) as usize] == HOLDING) && (v.qlen > 0)) =>
                {
                    for i in 0..TASKS {
                        if (v.pos[(i) as usize] == 1) {
                            v.st[(i) as usize] = GRANTED;
                        }
                    }
                    for i in 0..TASKS {
                        if (v.pos[(i) as usize] > 0) {
                            v.pos[(i) as usize] = (v.pos[(i) as usize] - 1);
                        }
                    }
                    v.qlen = (v.qlen - 1);
                    v.st[(t) as usize] = IDLE;
                    state
                }
                state @ (State::Open | State::Closed)
                    if ((v.st[(t) as usize] == HOLDING) && (v.qlen == 0)) =>
                {
                    v.avail = (v.avail + 1);
                    v.st[(t) as usize] = IDLE;
                    state
                }
                _ => return Err(Illegal { state, event }),
            }
        }
        Event::Cancel { t } => {
            if !(0 <= t && t < TASKS) {
                return Err(Illegal { state, event });
            }
            match state {
                state @ (State::Open | State::Closed) if (v.st[(t) as usize] == QUEUED) => {
                    for i in 0..TASKS {
                        if (v.pos[(i) as usize] > v.pos[(t) as usize]) {
                            v.pos[(i) as usize] = (v.pos[(i) as usize] - 1);
                        }
                    }
                    v.pos[(t) as usize] = 0;
                    v.qlen = (v.qlen - 1);
                    v.st[(t) as usize] = IDLE;
                    state
                }
                state @ (State::Open | State::Closed)
                    if ((v.st[(t) as usize] == GRANTED) && (v.qlen > 0)) =>
                {
                    for i in 0..TASKS {
                        if (v.pos[(i) as usize] == 1) {
                            v.st[(i) as usize] = GRANTED;
                        }
                    }
                    for i in 0..TASKS {
                        if (v.pos[(i) as usize] > 0) {
                            v.pos[(i) as usize] = (v.pos[(i) as usize] - 1);
                        }
                    }
                    v.qlen = (v.qlen - 1);
                    v.st[(t) as usize] = IDLE;
                    state
                }
                state @ (State::Open | State::Closed)
                    if ((v.st[(t) as usize] == GRANTED) && (v.qlen == 0)) =>
                {
                    v.avail = (v.avail + 1);
                    v.st[(t) as usize] = IDLE;
                    state
                }
                _ => return Err(Illegal { state, event }),
            }
        }
        Event::Close => match state {
            State::Open => {
                for i in 0..TASKS {
                    if (v.st[(i) as usize] == QUEUED) {
                        v.st[(i) as usize] = IDLE;
                    }
                }
                for i in 0..TASKS {
                    v.pos[(i) as usize] = 0;
                }
                v.qlen = 0;
                State::Closed
            }
            _ => return Err(Illegal { state, event }),
        },
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
    /// The initial model for parameters `permits`.
    pub const fn new(permits: i32) -> Self {
        Model {
            state: State::Open,
            vars: Vars::new(permits),
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
        if !(((0..TASKS)
            .filter(|&i: &i32| (v.st[(i) as usize] == HOLDING))
            .count() as i32)
            <= v.permits)
        {
            return Err("mutual_exclusion");
        }
        if !((v.avail
            + ((0..TASKS)
                .filter(|&i: &i32| {
                    ((v.st[(i) as usize] == GRANTED) || (v.st[(i) as usize] == HOLDING))
                })
                .count() as i32))
            == v.permits)
        {
            return Err("permits_conserved");
        }
        if !((v.qlen == 0) || (v.avail == 0)) {
            return Err("no_stranded_queue");
        }
        if !((v.qlen
            == ((0..TASKS)
                .filter(|&i: &i32| (v.st[(i) as usize] == QUEUED))
                .count() as i32))
            && (0..TASKS).all(|i: i32| {
                ((((v.st[(i) as usize] == QUEUED) == (v.pos[(i) as usize] > 0))
                    && (v.pos[(i) as usize] <= v.qlen))
                    && (0..TASKS).all(|j: i32| {
                        (((i == j) || (v.pos[(i) as usize] == 0))
                            || (v.pos[(i) as usize] != v.pos[(j) as usize]))
                    }))
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
        Model::new(1)
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
        assert_eq!(checks::reachable_count(Model::default()), 138);
    }
}
