//! A single-thread FIFO semaphore whose permits are taken by the waiter when it runs.
//!
//! [`Semaphore`](super::Semaphore) hands a released permit to the oldest waiter at once, from
//! whichever thread releases it; the waiter learns of it when its task next runs. Between the
//! two, other code on the loop may run, so the order in which waiters *observe* their grants
//! can differ from the order in which they were granted. A pool that reports its transitions
//! to a reference model (the connection pool does) needs the two orders to be one.
//! [`LocalSemaphore`] gives that: a release only wakes the oldest waiter, which takes the
//! permit itself when it is polled, and no newcomer may take a free permit while anyone waits.
//!
//! It is `!Send` (an `Rc` per user, `Cell` and `RefCell` inside): it lives on one loop, with
//! the pool that uses it.
//!
//! # Invariants
//! - `used <= limit`; permits are counted, not owned: every [`LocalPermit`] is one unit of
//!   `used`, given back in its `Drop`.
//! - FIFO: only the queue's head may take a permit, and [`LocalSemaphore::try_acquire`]
//!   fails while the queue is non-empty, so no one overtakes a waiter.
//! - No lost wake-up: whenever a permit is free and the queue is non-empty, the head's waker
//!   has been woken since it was last registered (on release, when the head leaves with permits
//!   still free, and when a cancelled head leaves).
//! - A dropped [`LocalAcquire`] leaves the queue; it never holds a permit it did not return.
//! - Wakers are woken after every borrow of the queue is released.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// A FIFO counting semaphore for one thread (`!Send`). A release wakes the oldest waiter,
/// which takes the permit when it runs; no newcomer takes a free permit while anyone waits,
/// so waiters see their grants in the order they were granted (unlike
/// [`Semaphore`](super::Semaphore), which hands a released permit over at once).
pub struct LocalSemaphore {
    /// How many permits exist.
    limit: usize,
    /// How many are held.
    used: Cell<usize>,
    /// Waiters, oldest first.
    queue: RefCell<VecDeque<Rc<Ticket>>>,
}

/// One waiter's place in the queue.
#[derive(Default)]
struct Ticket {
    /// The waker of the task to wake when this ticket may try again.
    waker: RefCell<Option<Waker>>,
}

/// One held permit of a [`LocalSemaphore`]; dropping it gives the permit back.
pub struct LocalPermit {
    /// The semaphore it came from.
    sem: Rc<LocalSemaphore>,
}

/// The future of [`LocalSemaphore::acquire`]: a permit, in arrival order.
pub struct LocalAcquire {
    /// The semaphore.
    sem: Rc<LocalSemaphore>,
    /// Its place in the queue, once queued; `None` before the first poll and after the grant.
    ticket: Option<Rc<Ticket>>,
}

impl LocalSemaphore {
    /// A semaphore with `permits` permits.
    pub fn new(permits: usize) -> LocalSemaphore {
        LocalSemaphore {
            limit: permits,
            used: Cell::new(0),
            queue: RefCell::new(VecDeque::new()),
        }
    }

    /// Permits free now (some may be promised to the head of the queue).
    pub fn available_permits(&self) -> usize {
        self.limit - self.used.get()
    }

    /// How many waiters are queued.
    pub fn waiters(&self) -> usize {
        self.queue.borrow().len()
    }

    /// Whether no permit is held and no one waits.
    pub fn is_unused(&self) -> bool {
        self.used.get() == 0 && self.queue.borrow().is_empty()
    }

    /// A permit now, if one is free and no one is waiting for one.
    pub fn try_acquire(self: &Rc<Self>) -> Option<LocalPermit> {
        if !self.queue.borrow().is_empty() || self.used.get() >= self.limit {
            return None;
        }
        Some(self.grant())
    }

    /// Waits in line for a permit. Cancel-safe: dropping the future leaves the queue.
    pub fn acquire(self: &Rc<Self>) -> LocalAcquire {
        LocalAcquire {
            sem: self.clone(),
            ticket: None,
        }
    }

    /// Counts one more permit held.
    fn grant(self: &Rc<Self>) -> LocalPermit {
        self.used.set(self.used.get() + 1);
        LocalPermit { sem: self.clone() }
    }

    /// Wakes the head of the queue if a permit is free for it.
    fn wake_head(&self) {
        if self.used.get() >= self.limit {
            return;
        }
        let waker = {
            let queue = self.queue.borrow();
            queue.front().and_then(|t| t.waker.borrow_mut().take())
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Removes `ticket` from the queue; wakes the next head if it was the head.
    fn leave(&self, ticket: &Rc<Ticket>) {
        let was_head = {
            let mut queue = self.queue.borrow_mut();
            let at = queue.iter().position(|t| Rc::ptr_eq(t, ticket));
            if let Some(at) = at {
                queue.remove(at);
            }
            at == Some(0)
        };
        if was_head {
            self.wake_head();
        }
    }
}

impl Future for LocalAcquire {
    type Output = LocalPermit;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<LocalPermit> {
        let this = &mut *self;
        let Some(ticket) = this.ticket.clone() else {
            if let Some(permit) = this.sem.try_acquire() {
                return Poll::Ready(permit);
            }
            let ticket = Rc::new(Ticket::default());
            *ticket.waker.borrow_mut() = Some(cx.waker().clone());
            this.sem.queue.borrow_mut().push_back(ticket.clone());
            this.ticket = Some(ticket);
            return Poll::Pending;
        };
        let at_head = this
            .sem
            .queue
            .borrow()
            .front()
            .is_some_and(|t| Rc::ptr_eq(t, &ticket));
        if at_head && this.sem.used.get() < this.sem.limit {
            this.sem.queue.borrow_mut().pop_front();
            this.ticket = None;
            let permit = this.sem.grant();
            this.sem.wake_head(); // more permits may be free for the next in line
            return Poll::Ready(permit);
        }
        let mut waker = ticket.waker.borrow_mut();
        match waker.as_ref() {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => *waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl Drop for LocalAcquire {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            self.sem.leave(&ticket);
        }
    }
}

impl Drop for LocalPermit {
    fn drop(&mut self) {
        self.sem.used.set(self.sem.used.get() - 1);
        self.sem.wake_head();
    }
}

impl fmt::Debug for LocalSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSemaphore")
            .field("limit", &self.limit)
            .field("used", &self.used.get())
            .field("waiters", &self.waiters())
            .finish()
    }
}

impl fmt::Debug for LocalPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalPermit").finish_non_exhaustive()
    }
}

impl fmt::Debug for LocalAcquire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalAcquire")
            .field("queued", &self.ticket.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    /// A waker that counts its wake-ups.
    #[derive(Default)]
    struct Counting(AtomicUsize);
    impl Wake for Counting {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn waker() -> (Arc<Counting>, Waker) {
        let count = Arc::new(Counting::default());
        (count.clone(), Waker::from(count))
    }

    fn poll(fut: &mut LocalAcquire, waker: &Waker) -> Poll<LocalPermit> {
        Pin::new(fut).poll(&mut Context::from_waker(waker))
    }

    /// A semaphore of `limit` permits, all held, with two waiters queued behind them.
    struct TwoWaiting {
        sem: Rc<LocalSemaphore>,
        held: Vec<LocalPermit>,
        first: LocalAcquire,
        first_wakes: Arc<Counting>,
        first_waker: Waker,
        second: LocalAcquire,
        second_wakes: Arc<Counting>,
        second_waker: Waker,
    }

    fn two_waiting(limit: usize) -> TwoWaiting {
        let sem = Rc::new(LocalSemaphore::new(limit));
        let held = (0..limit)
            .map(|_| sem.try_acquire().expect("free"))
            .collect();
        let ((first_wakes, first_waker), (second_wakes, second_waker)) = (waker(), waker());
        let (mut first, mut second) = (sem.acquire(), sem.acquire());
        assert!(poll(&mut first, &first_waker).is_pending());
        assert!(poll(&mut second, &second_waker).is_pending());
        TwoWaiting {
            sem,
            held,
            first,
            first_wakes,
            first_waker,
            second,
            second_wakes,
            second_waker,
        }
    }

    fn wakes(count: &Counting) -> usize {
        count.0.load(Ordering::Relaxed)
    }

    #[test]
    fn a_released_permit_goes_to_the_oldest_waiter_when_it_runs_not_before() {
        let mut q = two_waiting(1);
        q.held.clear();
        assert_eq!(wakes(&q.first_wakes), 1, "head woken");
        assert_eq!(
            q.sem.available_permits(),
            1,
            "not handed off: taken at poll"
        );
        assert!(
            q.sem.try_acquire().is_none(),
            "no barging while someone waits"
        );
        assert!(poll(&mut q.second, &q.second_waker).is_pending(), "FIFO");
        assert!(poll(&mut q.first, &q.first_waker).is_ready());
        assert_eq!(q.sem.waiters(), 1);
    }

    #[test]
    fn a_cancelled_head_wakes_the_next_waiter() {
        let TwoWaiting {
            sem,
            mut held,
            first,
            mut second,
            second_wakes,
            second_waker,
            ..
        } = two_waiting(1);
        held.clear(); // wakes `first`
        drop(first); // which is cancelled before it runs
        assert_eq!(wakes(&second_wakes), 1);
        let permit = poll(&mut second, &second_waker);
        assert!(permit.is_ready());
        assert!(!sem.is_unused(), "the permit is held");
        drop(permit);
        assert!(sem.is_unused());
    }

    #[test]
    fn a_head_leaving_with_permits_to_spare_wakes_the_next() {
        let mut q = two_waiting(2);
        q.held.clear(); // two permits free; only the head is woken
        assert_eq!(wakes(&q.second_wakes), 0);
        let _first = poll(&mut q.first, &q.first_waker);
        assert_eq!(wakes(&q.second_wakes), 1, "next woken");
        assert!(poll(&mut q.second, &q.second_waker).is_ready());
    }

    #[test]
    fn a_non_head_waiter_leaves_without_waking_anyone() {
        let TwoWaiting {
            sem,
            held,
            first,
            first_wakes,
            second,
            ..
        } = two_waiting(1);
        drop(second);
        assert_eq!(wakes(&first_wakes), 0);
        assert_eq!(sem.waiters(), 1);
        drop(first);
        drop(held);
        assert!(sem.is_unused());
    }

    #[test]
    fn an_unpolled_acquire_takes_a_free_permit_at_once() {
        let sem = Rc::new(LocalSemaphore::new(1));
        let (_, w) = waker();
        let mut fut = sem.acquire();
        let Poll::Ready(permit) = poll(&mut fut, &w) else {
            panic!("free permit");
        };
        assert_eq!(sem.available_permits(), 0);
        drop(permit);
        assert_eq!(sem.available_permits(), 1);
    }
}
