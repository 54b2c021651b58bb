//! Waiter slot (per fd, per direction): the reference model.
//!
//! Generated from `model/waiter.toml` by `model/generate`; do not edit.
//!
//! One slot of the reactor's per-fd waiter table. The fd is registered once, edge-triggered,
//! with EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET, so readiness arrives once per edge and must not be
//! lost: a slot remembers readiness seen before any task asked (`ready`) and a task that asked
//! before readiness parks its waker (`waiting`). A hang-up is sticky (`hup`).
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
pub const MACHINE: &str = "waiter";

/// The control states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// No waker stored and readiness not known: the next I/O attempt must be tried.
    Empty,
    /// A task's waker is stored; it is woken exactly once (readiness, hang-up or close) or removed (drop).
    Waiting,
    /// Readiness was seen and not yet consumed by a would-block: go do the I/O.
    Ready,
    /// The fd was closed or deregistered: every poll answers with an error.
    Closed,
}

impl State {
    /// Every state, in declaration order.
    pub const ALL: [State; 4] = [State::Empty, State::Waiting, State::Ready, State::Closed];
    /// The state's name in the model file.
    pub const fn name(self) -> &'static str {
        match self {
            State::Empty => "empty",
            State::Waiting => "waiting",
            State::Ready => "ready",
            State::Closed => "closed",
        }
    }
    /// Whether no transition leaves this state but self-loops.
    pub const fn is_terminal(self) -> bool {
        match self {
            State::Empty => false,
            State::Waiting => false,
            State::Ready => false,
            State::Closed => true,
        }
    }
}

/// The model variables (proof-only ghost variables are left out).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Vars {
    /// The peer hung up or the fd errored (EPOLLHUP/EPOLLERR, or EPOLLRDHUP on the read slot). Sticky.
    pub hup: bool,
}

impl Vars {
    /// The initial values.
    pub const fn new() -> Vars {
        Vars { hup: false }
    }
}

/// The events, with their arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// A task asks before an I/O attempt; registers its waker unless readiness is known.
    Poll,
    /// The I/O returned WouldBlock (or was short, under edge triggering): readiness is consumed.
    Clear,
    /// epoll reported readiness for this direction.
    Readiness,
    /// EPOLLHUP/EPOLLERR (both directions) or EPOLLRDHUP (read direction): sets `hup`, then as readiness.
    HangUp,
    /// The fd is closed or deregistered.
    Close,
    /// The future that registered the waker was dropped.
    Drop,
}

/// The most arguments any event has.
pub const MAX_ARGS: usize = 0;

impl Event {
    /// The event's name in the model file.
    pub const fn name(&self) -> &'static str {
        match self {
            Event::Poll => "poll",
            Event::Clear => "clear",
            Event::Readiness => "readiness",
            Event::HangUp => "hang_up",
            Event::Close => "close",
            Event::Drop => "drop",
        }
    }

    /// The arguments as integers, in declaration order, zero-padded (bools as 0/1, enums by
    /// position): what the trace hook reports.
    pub const fn arg_values(&self) -> [i32; MAX_ARGS] {
        let mut out = [0; MAX_ARGS];
        match *self {
            _ => {}
        }
        out
    }

    /// The inverse of [`Event::name`] and [`Event::arg_values`] (replaying a trace).
    pub fn decode(name: &str, args: &[i32]) -> Option<Event> {
        let arg = |i: usize| args.get(i).copied().unwrap_or(0);
        let e = match name {
            "poll" => Event::Poll,
            "clear" => Event::Clear,
            "readiness" => Event::Readiness,
            "hang_up" => Event::HangUp,
            "close" => Event::Close,
            "drop" => Event::Drop,
            _ => return None,
        };
        Some(e)
    }

    /// Every event with every argument value (int arguments over their declared range).
    pub fn all() -> Vec<Event> {
        let mut out = Vec::new();
        out.push(Event::Poll);
        out.push(Event::Clear);
        out.push(Event::Readiness);
        out.push(Event::HangUp);
        out.push(Event::Close);
        out.push(Event::Drop);
        out
    }
}

/// What the caller must do besides changing state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Effects {
    /// Store the polling task's waker in the slot (replacing any previous one, which is dropped).
    pub store: bool,
    /// Take the stored waker out of the slot and wake it (after releasing any lock).
    pub wake: bool,
    /// Take the stored waker out of the slot and drop it without waking.
    pub remove: bool,
}

impl Effects {
    /// No effect.
    pub const NONE: Effects = Effects {
        store: false,
        wake: false,
        remove: false,
    };
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
            "waiter: event `{}` is illegal in state `{}`",
            self.event.name(),
            self.state.name()
        )
    }
}

impl std::error::Error for Illegal {}

/// The transition function: the next state, variables and effects, or [`Illegal`].
/// Guards of one (state, event) are tried in model-file order.
pub const fn next(state: State, v: Vars, event: Event) -> Result<(State, Vars, Effects), Illegal> {
    let mut v = v;
    let mut fx = Effects::NONE;
    let to = match event {
        Event::Poll => match state {
            State::Empty => {
                fx.store = true;
                State::Waiting
            }
            State::Waiting => {
                fx.store = true;
                State::Waiting
            }
            State::Ready => State::Ready,
            State::Closed => State::Closed,
            _ => return Err(Illegal { state, event }),
        },
        Event::Clear => match state {
            State::Ready if !(v.hup) => State::Empty,
            State::Ready if v.hup => State::Ready,
            State::Empty => State::Empty,
            State::Closed => State::Closed,
            _ => return Err(Illegal { state, event }),
        },
        Event::Readiness => match state {
            State::Empty => State::Ready,
            State::Waiting => {
                fx.wake = true;
                State::Ready
            }
            State::Ready => State::Ready,
            State::Closed => State::Closed,
            _ => return Err(Illegal { state, event }),
        },
        Event::HangUp => match state {
            State::Empty => {
                v.hup = true;
                State::Ready
            }
            State::Waiting => {
                v.hup = true;
                fx.wake = true;
                State::Ready
            }
            State::Ready => {
                v.hup = true;
                State::Ready
            }
            State::Closed => {
                v.hup = true;
                State::Closed
            }
            _ => return Err(Illegal { state, event }),
        },
        Event::Close => match state {
            State::Empty | State::Ready | State::Closed => State::Closed,
            State::Waiting => {
                fx.wake = true;
                State::Closed
            }
            _ => return Err(Illegal { state, event }),
        },
        Event::Drop => match state {
            State::Waiting => {
                fx.remove = true;
                State::Empty
            }
            state @ (State::Empty | State::Ready | State::Closed) => state,
            _ => return Err(Illegal { state, event }),
        },
    };
    Ok((to, v, fx))
}

/// One hot-path step: the next state, the variables (flattened) and the effects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Step {
    /// The next state.
    pub state: State,
    /// The next `hup`.
    pub hup: bool,
    /// Store the polling task's waker in the slot (replacing any previous one, which is dropped).
    pub store: bool,
    /// Take the stored waker out of the slot and wake it (after releasing any lock).
    pub wake: bool,
    /// Take the stored waker out of the slot and drop it without waking.
    pub remove: bool,
}

/// The hot-path transition: a `const fn`, no allocation, one match. Same table as [`next`].
pub const fn transition(state: State, event: Event, hup: bool) -> Result<Step, Illegal> {
    match next(state, Vars { hup }, event) {
        Ok((state, v, fx)) => Ok(Step {
            state,
            hup: v.hup,
            store: fx.store,
            wake: fx.wake,
            remove: fx.remove,
        }),
        Err(e) => Err(e),
    }
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
    /// The initial model.
    pub const fn new() -> Self {
        Model {
            state: State::Empty,
            vars: Vars::new(),
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
        Ok(())
    }
}

impl Default for Model {
    /// The initial model with the parameters the proofs use.
    fn default() -> Self {
        Model::new()
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
        assert_eq!(checks::reachable_count(Model::default()), 6);
    }
}
