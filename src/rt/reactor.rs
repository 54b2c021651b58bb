//! The reactor: one epoll instance per loop and a waiter table of two slots per fd.
//!
//! # Edge-triggered, registered once
//!
//! Each fd is added to epoll exactly once, when its I/O object is created, with
//! `EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET`, and removed once, when it closes. Edge
//! triggering means the kernel reports a direction when it *becomes* ready, not while it
//! *is* ready, so interest never has to change: there is no `epoll_ctl` per read or write,
//! and an fd nobody is waiting on costs nothing after its edge has been recorded. The price
//! is that readiness must be remembered in user space until consumed — which is exactly
//! what the slots below do — and forgotten only when an I/O call proves the direction is
//! drained (`EAGAIN`, or a short read/write: the kernel had no more to give or no more room,
//! so the next change of state is a new edge). Treating a short transfer as drained is what
//! saves the extra `EAGAIN` call per round trip.
//!
//! # The waiter slot machine
//!
//! Each fd has a read slot and a write slot ([`READ`], [`WRITE`]). Their states and
//! transitions are the waiter-slot machine of the formal model (`model/`, CONTRACTS.md §4):
//! `Empty`, `Waiting` (holds a waker), `Ready` (readiness seen, not consumed), `Closed`, plus
//! a sticky `hup` flag; events `Poll`, `Clear`, `Readiness`, `HangUp`, `Close`, `Drop`. The
//! transition function is the generated one; this module only adds the waker that lives in
//! a `Waiting` slot.
//!
//! # Invariants
//! - A slot holds a waker if and only if its state is `Waiting`.
//! - A waker leaves a slot exactly once: woken (by `Readiness`, `HangUp` or `Close`) or
//!   dropped (by `Drop` or replaced by `Poll`). Wakers are woken after the table's borrow is
//!   released, so a waker may call back into the reactor.
//! - A token names a table entry *and* its generation, so an event for a removed fd can
//!   never reach the entry's next occupant.

use std::cell::RefCell;
use std::io;
use std::os::fd::BorrowedFd;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::slab::Slab;
use crate::sys::epoll::{self, Epoll, Events};

use crate::generated::waiter::{self as machine, Illegal};
pub(crate) use machine::{Event, State};

/// `NO_OP[state][event][hup]`: the generated transition leaves the slot as it is, with no
/// effect. Computed from `machine::transition` at compile time, so skipping the call for
/// these is exactly the machine (the hot path meets `Poll` on `Ready` and `Readiness` on
/// `Ready` every round trip).
const NO_OP: [[[bool; 2]; 6]; 4] = {
    let states = [State::Empty, State::Waiting, State::Ready, State::Closed];
    let events = [
        Event::Poll,
        Event::Clear,
        Event::Readiness,
        Event::HangUp,
        Event::Close,
        Event::Drop,
    ];
    let mut table = [[[false; 2]; 6]; 4];
    let mut s = 0;
    while s < 4 {
        let mut e = 0;
        while e < 6 {
            let mut h = 0;
            while h < 2 {
                let hup = h == 1;
                table[s][e][h] = match machine::transition(states[s], events[e], hup) {
                    Ok(step) => {
                        step.state as usize == states[s] as usize
                            && step.hup == hup
                            && !step.store
                            && !step.wake
                            && !step.remove
                    }
                    Err(_) => false,
                };
                h += 1;
            }
            e += 1;
        }
        s += 1;
    }
    table
};

/// Index of the read slot.
pub(crate) const READ: usize = 0;
/// Index of the write slot.
pub(crate) const WRITE: usize = 1;

/// How many events one `epoll_wait` can return.
const EVENTS_CAPACITY: usize = 1024;

/// The interest every fd is registered with, once.
const INTEREST: u32 = epoll::IN | epoll::OUT | epoll::RDHUP | epoll::ET;

/// One direction of one fd.
#[derive(Debug)]
pub(crate) struct Slot {
    /// The machine state.
    state: State,
    /// Sticky hang-up/error flag of the model.
    hup: bool,
    /// # Invariant
    /// `Some` exactly when `state == Waiting`.
    waker: Option<Waker>,
}

impl Default for Slot {
    fn default() -> Slot {
        Slot {
            state: State::Empty,
            hup: false,
            waker: None,
        }
    }
}

impl Slot {
    /// Applies `event` through the generated transition; returns the waker the caller must
    /// wake (after releasing any borrow), or the illegal event (state unchanged).
    #[inline]
    pub(crate) fn apply(
        &mut self,
        event: Event,
        cx: Option<&Context<'_>>,
    ) -> Result<Option<Waker>, Illegal> {
        if NO_OP[self.state as usize][event as usize][self.hup as usize] {
            if crate::trace::enabled() {
                self.trace(event, self.state);
            }
            return Ok(None);
        }
        let step = machine::transition(self.state, event, self.hup)?;
        if crate::trace::enabled() {
            self.trace(event, step.state);
        }
        self.state = step.state;
        self.hup = step.hup;
        if step.store {
            if let Some(cx) = cx {
                self.store_waker(cx.waker());
            }
        }
        if step.remove {
            self.waker = None;
        }
        Ok(if step.wake { self.waker.take() } else { None })
    }

    #[cold]
    fn trace(&self, event: Event, to: State) {
        crate::trace::record(&crate::trace::Transition {
            machine: machine::MACHINE,
            from: self.state.name(),
            event: event.name(),
            args: &event.arg_values(),
            to: to.name(),
        });
    }

    #[inline]
    fn store_waker(&mut self, waker: &Waker) {
        match &self.waker {
            Some(old) if old.will_wake(waker) => {}
            _ => self.waker = Some(waker.clone()),
        }
    }

    /// The machine state.
    pub(crate) fn state(&self) -> State {
        self.state
    }

    /// The sticky hang-up flag.
    pub(crate) fn hup(&self) -> bool {
        self.hup
    }

    /// Whether a waker is stored (for tests of the invariant).
    #[cfg(test)]
    fn has_waker(&self) -> bool {
        self.waker.is_some()
    }
}

/// A registered fd's name in the table: its [`Slab`] key (entry index and generation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token(u64);

/// The epoll data of the loop's own wake-up eventfd (never a table token: index `u32::MAX`
/// is never allocated).
pub(crate) const WAKE_TOKEN: u64 = 0xffff_ffff;

/// The waiter table: the read and write slots of each registered fd.
type Table = Slab<[Slot; 2]>;

/// One loop's epoll instance and waiter table.
#[derive(Debug)]
pub(crate) struct Reactor {
    /// The epoll instance.
    epoll: Epoll,
    /// Filled by each `epoll_wait`; allocated once.
    events: RefCell<Events>,
    /// The waiter table. Borrowed only briefly, never while waking.
    table: RefCell<Table>,
}

/// What one turn of the reactor saw.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Turn {
    /// Whether the loop's wake-up eventfd fired.
    pub(crate) woken_from_outside: bool,
}

impl Reactor {
    /// A new reactor with its own epoll instance.
    pub(crate) fn new() -> io::Result<Reactor> {
        Ok(Reactor {
            epoll: Epoll::new()?,
            events: RefCell::new(Events::with_capacity(EVENTS_CAPACITY)),
            table: RefCell::new(Table::default()),
        })
    }

    /// Registers the loop's wake-up eventfd (level semantics are not needed: it is drained
    /// on every wake-up, so each notify is a new edge).
    pub(crate) fn register_waker_fd(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        self.epoll.add(fd, WAKE_TOKEN, epoll::IN | epoll::ET)
    }

    /// Registers `fd` once, edge-triggered for both directions; returns its token.
    pub(crate) fn register(&self, fd: BorrowedFd<'_>) -> io::Result<Token> {
        let token = Token(self.table.borrow_mut().insert(Default::default()));
        if let Err(err) = self.epoll.add(fd, token.0, INTEREST) {
            self.table.borrow_mut().remove(token.0);
            return Err(err);
        }
        Ok(token)
    }

    /// Applies `event` to one slot and wakes what it releases. An unknown token acts like a
    /// `Closed` slot.
    fn apply(&self, token: Token, dir: usize, event: Event, cx: Option<&Context<'_>>) -> State {
        let (state, waker) = {
            let mut table = self.table.borrow_mut();
            let Some(slots) = table.get_mut(token.0) else {
                return State::Closed;
            };
            let slot = &mut slots[dir];
            let waker = slot.apply(event, cx);
            debug_assert!(
                waker.is_ok(),
                "illegal waiter event {event:?} in {:?}",
                slot.state
            );
            (slot.state, waker.ok().flatten())
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        state
    }

    /// `Poll`: `Ready(Ok)` when the direction is ready (go do I/O), `Ready(Err)` when the fd
    /// is closed, `Pending` with the task's waker stored otherwise.
    pub(crate) fn poll_ready(
        &self,
        token: Token,
        dir: usize,
        cx: &Context<'_>,
    ) -> Poll<io::Result<()>> {
        match self.apply(token, dir, Event::Poll, Some(cx)) {
            State::Ready => Poll::Ready(Ok(())),
            State::Closed => Poll::Ready(Err(closed_error())),
            State::Empty | State::Waiting => Poll::Pending,
        }
    }

    /// `Clear`: the I/O would block or was short. Returns whether the slot is still `Ready`
    /// (hang-up is sticky).
    pub(crate) fn clear(&self, token: Token, dir: usize) -> bool {
        self.apply(token, dir, Event::Clear, None) == State::Ready
    }

    /// `Drop`: the future waiting on this direction was dropped; removes its waker.
    pub(crate) fn drop_waiter(&self, token: Token, dir: usize) {
        self.apply(token, dir, Event::Drop, None);
    }

    /// `Close` on both directions: wakes any waiter (it then sees an error) and deregisters
    /// `fd` from epoll. The table entry stays (`Closed`) until [`Reactor::remove`].
    pub(crate) fn close(&self, token: Token, fd: BorrowedFd<'_>) -> io::Result<()> {
        let was_open = self
            .slot_state(token, READ)
            .is_some_and(|s| s != State::Closed);
        self.apply(token, READ, Event::Close, None);
        self.apply(token, WRITE, Event::Close, None);
        if was_open {
            self.epoll.delete(fd)?;
        }
        Ok(())
    }

    /// Frees the table entry of a closed fd.
    pub(crate) fn remove(&self, token: Token) {
        self.table.borrow_mut().remove(token.0);
    }

    /// Whether epoll reported hang-up or error on either direction: no syscall.
    pub(crate) fn peer_hung_up(&self, token: Token) -> bool {
        let mut table = self.table.borrow_mut();
        table
            .get_mut(token.0)
            .is_some_and(|s| s[READ].hup() || s[WRITE].hup())
    }

    /// The state of one slot, `None` for an unknown token.
    pub(crate) fn slot_state(&self, token: Token, dir: usize) -> Option<State> {
        let mut table = self.table.borrow_mut();
        table.get_mut(token.0).map(|s| s[dir].state())
    }

    /// How many fds are registered (table entries in use).
    pub(crate) fn registered(&self) -> usize {
        self.table.borrow().len()
    }

    /// Waits for events (`None`: no timeout) and applies them to the table, waking waiters.
    pub(crate) fn turn(&self, timeout: Option<Duration>) -> io::Result<Turn> {
        let mut events = self.events.borrow_mut();
        self.epoll.wait(&mut events, timeout_ms(timeout))?;
        let mut turn = Turn::default();
        for i in 0..events.len() {
            let Some((data, flags)) = events.get(i) else {
                break;
            };
            if data == WAKE_TOKEN {
                turn.woken_from_outside = true;
            } else {
                self.dispatch(Token(data), flags);
            }
        }
        Ok(turn)
    }

    /// Applies one epoll event to both slots of its fd.
    fn dispatch(&self, token: Token, flags: u32) {
        let read = if flags & (epoll::HUP | epoll::ERR | epoll::RDHUP) != 0 {
            Some(Event::HangUp)
        } else {
            (flags & epoll::IN != 0).then_some(Event::Readiness)
        };
        let write = if flags & (epoll::HUP | epoll::ERR) != 0 {
            Some(Event::HangUp)
        } else {
            (flags & epoll::OUT != 0).then_some(Event::Readiness)
        };
        // One borrow for both slots; wake after it is released.
        let (read_waker, write_waker) = {
            let mut table = self.table.borrow_mut();
            let Some(slots) = table.get_mut(token.0) else {
                return;
            };
            let mut fire = |dir: usize, event: Option<Event>| {
                event.and_then(|e| slots[dir].apply(e, None).ok().flatten())
            };
            (fire(READ, read), fire(WRITE, write))
        };
        if let Some(waker) = read_waker {
            waker.wake();
        }
        if let Some(waker) = write_waker {
            waker.wake();
        }
    }
}

/// The error a task sees on a closed or deregistered fd.
pub(crate) fn closed_error() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the socket was closed")
}

/// Milliseconds for `epoll_wait`, rounded up so a near deadline does not spin at 0.
fn timeout_ms(timeout: Option<Duration>) -> i32 {
    match timeout {
        None => -1,
        Some(d) => {
            let ms = d.as_nanos().div_ceil(1_000_000);
            ms.min(i32::MAX as u128) as i32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting() -> (Arc<Count>, Waker) {
        let c = Arc::new(Count(AtomicUsize::new(0)));
        (c.clone(), Waker::from(c))
    }

    #[test]
    fn readiness_before_poll_is_not_lost() {
        let (count, waker) = counting();
        let cx = Context::from_waker(&waker);
        let mut slot = Slot::default();
        assert!(slot.apply(Event::Readiness, None).unwrap().is_none());
        slot.apply(Event::Poll, Some(&cx)).unwrap();
        assert_eq!(slot.state(), State::Ready);
        assert!(!slot.has_waker());
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn waiting_slot_is_woken_once_by_readiness() {
        let (count, waker) = counting();
        let cx = Context::from_waker(&waker);
        let mut slot = Slot::default();
        slot.apply(Event::Poll, Some(&cx)).unwrap();
        assert!(slot.has_waker());
        slot.apply(Event::Readiness, None).unwrap().unwrap().wake();
        assert!(slot.apply(Event::Readiness, None).unwrap().is_none());
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn hang_up_is_sticky_across_clear() {
        let mut slot = Slot::default();
        slot.apply(Event::HangUp, None).unwrap();
        slot.apply(Event::Clear, None).unwrap();
        assert_eq!(slot.state(), State::Ready);
        assert!(slot.hup());
    }

    #[test]
    fn drop_removes_waker_without_waking() {
        let (count, waker) = counting();
        let cx = Context::from_waker(&waker);
        let mut slot = Slot::default();
        slot.apply(Event::Poll, Some(&cx)).unwrap();
        assert!(slot.apply(Event::Drop, None).unwrap().is_none());
        assert!(!slot.has_waker());
        assert_eq!(slot.state(), State::Empty);
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn clear_while_waiting_is_illegal() {
        let (_count, waker) = counting();
        let cx = Context::from_waker(&waker);
        let mut slot = Slot::default();
        slot.apply(Event::Poll, Some(&cx)).unwrap();
        assert!(slot.apply(Event::Clear, None).is_err());
        assert_eq!(slot.state(), State::Waiting);
    }

    #[test]
    fn timeout_rounds_up() {
        assert_eq!(timeout_ms(Some(Duration::from_micros(10))), 1);
        assert_eq!(timeout_ms(Some(Duration::ZERO)), 0);
        assert_eq!(timeout_ms(None), -1);
    }

    /// Conformance: the real slot and the generated reference model, driven by the same
    /// random event sequences (illegal ones included), agree after every step on state,
    /// `hup`, whether a waker is woken, and the slot's waker invariant.
    mod conformance {
        use super::*;
        use crate::generated::waiter::{strategy, Model};
        use proptest::prelude::*;

        fn check(events: Vec<Event>) -> Result<(), TestCaseError> {
            let (count, waker) = counting();
            let cx = Context::from_waker(&waker);
            let mut model = Model::new();
            let mut slot = Slot::default();
            let mut woken = 0;
            for event in events {
                let expected = model.apply(event);
                let got = slot.apply(event, Some(&cx));
                prop_assert_eq!(expected.is_ok(), got.is_ok(), "{:?}", event);
                if let (Ok(fx), Ok(waker)) = (expected, got) {
                    prop_assert_eq!(fx.wake, waker.is_some(), "{:?}", event);
                    if let Some(waker) = waker {
                        waker.wake();
                        woken += 1;
                    }
                }
                prop_assert_eq!(slot.state(), model.state);
                prop_assert_eq!(slot.hup(), model.vars.hup);
                prop_assert_eq!(slot.has_waker(), slot.state() == State::Waiting);
                prop_assert_eq!(count.0.load(Ordering::SeqCst), woken);
            }
            Ok(())
        }

        proptest! {
            #[test]
            fn slot_conforms_on_any_event_sequence(events in strategy::events(64)) {
                check(events)?;
            }

            #[test]
            fn slot_conforms_on_legal_runs(events in strategy::legal_run(Model::new(), 64)) {
                check(events)?;
            }
        }

        /// The whole table path for the read slot of a real registered socket: `Poll` through
        /// `poll_ready`, `Clear` through `clear`, `Readiness`/`HangUp` through `dispatch` of
        /// epoll flags, `Close` through `close`, `Drop` through `drop_waiter`.
        fn check_table(events: Vec<Event>) -> Result<(), TestCaseError> {
            use std::os::fd::AsFd;
            let reactor = Reactor::new().unwrap();
            let (_peer, fd) = crate::sys::socket::pair_for_tests().unwrap();
            let token = reactor.register(fd.as_fd()).unwrap();
            let (count, waker) = counting();
            let cx = Context::from_waker(&waker);
            let mut model = Model::new();
            let mut woken = 0;
            for event in events {
                let fx = model.apply(event).unwrap();
                match event {
                    Event::Poll => {
                        let _ = reactor.poll_ready(token, READ, &cx);
                    }
                    Event::Clear => {
                        reactor.clear(token, READ);
                    }
                    Event::Readiness => reactor.dispatch(token, epoll::IN),
                    Event::HangUp => reactor.dispatch(token, epoll::IN | epoll::RDHUP),
                    Event::Close => reactor.close(token, fd.as_fd()).unwrap(),
                    Event::Drop => reactor.drop_waiter(token, READ),
                }
                woken += usize::from(fx.wake);
                prop_assert_eq!(reactor.slot_state(token, READ), Some(model.state));
                prop_assert_eq!(reactor.peer_hung_up(token), model.vars.hup);
                prop_assert_eq!(count.0.load(Ordering::SeqCst), woken, "{:?}", event);
            }
            reactor.remove(token);
            prop_assert_eq!(reactor.registered(), 0);
            Ok(())
        }

        proptest! {
            #[test]
            fn waiter_table_conforms_on_legal_runs(
                events in strategy::legal_run(Model::new(), 64)
            ) {
                check_table(events)?;
            }
        }
    }
}
