//! A counting semaphore whose waiters are served strictly in arrival order.
//!
//! # Implementation details
//!
//! One mutex guards the whole state: the number of free permits, the queue of waiting acquirers,
//! the set of acquirers that were handed a permit but have not yet seen it, and the closed flag.
//! The queue is a `BTreeMap` from a ticket (a counter taken at arrival) to the waiter's `Waker`,
//! so the oldest waiter is the first key. A waiter is named by its ticket rather than linked
//! into an intrusive list, so the acquire future needs no pinning and no `unsafe`, and
//! cancelling is a map removal.
//!
//! A released permit is *handed off*: if anyone is queued it goes to the oldest waiter (the
//! ticket moves from the queue to the granted set) and that waiter is woken; only when the queue
//! is empty does the permit go back to the free count. The woken future finds its ticket in the
//! granted set on its next poll and returns the permit.
//!
//! # Why it is fair
//!
//! An acquirer takes a free permit only when there are free permits, and there are free permits
//! only when nobody is queued (the hand-off above). So a newcomer, `try_acquire` included, can
//! never take a permit ahead of a queued waiter: it queues behind them. Tickets are issued
//! under the lock, so queue order is arrival order, and a granted permit belongs to its waiter
//! alone. Waiters are therefore served first-in, first-out.
//!
//! # Cancellation
//!
//! Dropping an acquire future that is still queued removes its ticket. Dropping one that was
//! granted a permit but not polled since passes that permit on exactly as if the permit had
//! been dropped: to the next waiter, or back to the free count. A cancelled waiter never strands
//! the queue.
//!
//! # Invariants
//! - `permits > 0` ⇒ the queue is empty.
//! - `closed` ⇒ the queue is empty (close wakes and removes every waiter).
//! - A ticket is in at most one of `queue` and `granted`, and only while its future lives.
//! - Wakers are woken, and replaced wakers dropped, only after the lock is released: waking
//!   may run arbitrary code, which may touch this semaphore again.
//!
//! `tests/loom_sync.rs` checks mutual exclusion, wake-ups, cancellation and FIFO order under
//! loom; `semaphore/conformance.rs` checks every step against the generated lock model
//! (`model/lock.toml`), whose Promela twin spin proves FIFO and permit conservation.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::sync::{Arc, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::loom::sync::{Mutex, MutexGuard};

/// How many wakers one release collects before unlocking to wake them.
const WAKE_BATCH: usize = 16;

/// An async counting semaphore: thread-safe, FIFO-fair and cancel-safe.
///
/// # Examples
/// ```
/// use weir::rt::block_on;
/// use weir::rt::sync::Semaphore;
///
/// let connections = Semaphore::new(2);
/// block_on(async {
///     let a = connections.acquire().await.unwrap();
///     let _b = connections.acquire().await.unwrap();
///     assert_eq!(connections.available_permits(), 0);
///     drop(a);
///     assert_eq!(connections.available_permits(), 1);
/// });
/// ```
pub struct Semaphore {
    /// Everything, under one lock; see the module docs for its invariants.
    state: Mutex<State>,
    /// Test-only sabotage for the loom suite: when set, a cancelled waiter that had been
    /// granted a permit loses it instead of passing it on.
    #[cfg(loom)]
    loses_cancelled_grants: bool,
}

/// The semaphore's state, guarded by its mutex.
struct State {
    /// Free permits.
    ///
    /// # Invariant
    /// Non-zero only while `queue` is empty.
    permits: usize,
    /// Waiting acquirers by ticket; the first key is the oldest.
    queue: BTreeMap<u64, Waker>,
    /// Tickets handed a permit that their future has not yet returned.
    granted: BTreeSet<u64>,
    /// The ticket the next queued acquirer gets.
    next_ticket: u64,
    /// Set by [`Semaphore::close`]; never cleared.
    closed: bool,
}

/// The error of [`Semaphore::acquire`]: the semaphore was closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Closed;

/// The error of [`Semaphore::try_acquire`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryAcquireError {
    /// The semaphore was closed.
    Closed,
    /// No permit is free (or waiters are queued ahead).
    NoPermits,
}

/// Where an acquire future is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Not polled yet.
    Start,
    /// Queued (or granted and not yet seen) under this ticket.
    Queued(u64),
    /// Returned its result; the semaphore holds nothing of it.
    Done,
}

impl Semaphore {
    /// A semaphore with `permits` free permits.
    pub fn new(permits: usize) -> Semaphore {
        Semaphore {
            state: Mutex::new(State {
                permits,
                queue: BTreeMap::new(),
                granted: BTreeSet::new(),
                next_ticket: 0,
                closed: false,
            }),
            #[cfg(loom)]
            loses_cancelled_grants: false,
        }
    }

    /// A deliberately broken semaphore for the loom suite's must-fail test: a waiter dropped
    /// after it was granted a permit loses the permit.
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn new_losing_cancelled_grants(permits: usize) -> Semaphore {
        Semaphore {
            loses_cancelled_grants: true,
            ..Semaphore::new(permits)
        }
    }

    /// The number of free permits right now.
    ///
    /// # Examples
    /// ```
    /// let sem = weir::rt::sync::Semaphore::new(3);
    /// let _p = sem.try_acquire().unwrap();
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.lock().permits
    }

    /// Whether [`close`](Semaphore::close) was called.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Waits for a permit, behind everyone already waiting.
    ///
    /// Cancel-safe: dropping the future gives up its place in the queue, and passes on a permit
    /// it was handed but had not yet returned.
    ///
    /// # Errors
    /// [`Closed`] once the semaphore is closed (unless this future had already been granted).
    ///
    /// # Examples
    /// ```
    /// use weir::rt::block_on;
    /// let sem = weir::rt::sync::Semaphore::new(1);
    /// let permit = block_on(sem.acquire()).unwrap();
    /// assert!(sem.try_acquire().is_err());
    /// drop(permit);
    /// assert!(sem.try_acquire().is_ok());
    /// ```
    pub fn acquire(&self) -> Acquire<'_> {
        Acquire {
            semaphore: self,
            stage: Stage::Start,
        }
    }

    /// Like [`acquire`](Semaphore::acquire), for a shared semaphore: the permit keeps the
    /// semaphore alive, so it can move into a spawned task.
    ///
    /// # Errors
    /// [`Closed`] once the semaphore is closed.
    ///
    /// # Examples
    /// ```
    /// use weir::rt::block_on;
    /// use std::sync::Arc;
    /// let sem = Arc::new(weir::rt::sync::Semaphore::new(1));
    /// let permit = block_on(sem.clone().acquire_owned()).unwrap();
    /// let worker = std::thread::spawn(move || drop(permit));
    /// worker.join().unwrap();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn acquire_owned(self: Arc<Self>) -> AcquireOwned {
        AcquireOwned {
            semaphore: self,
            stage: Stage::Start,
        }
    }

    /// Takes a permit if one is free and nobody is queued ahead; never waits.
    ///
    /// # Errors
    /// [`TryAcquireError::Closed`] after [`close`](Semaphore::close);
    /// [`TryAcquireError::NoPermits`] when none is free.
    ///
    /// # Examples
    /// ```
    /// use weir::rt::sync::{Semaphore, TryAcquireError};
    /// let sem = Semaphore::new(1);
    /// let p = sem.try_acquire().unwrap();
    /// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    /// drop(p);
    /// sem.close();
    /// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
    /// ```
    pub fn try_acquire(&self) -> Result<Permit<'_>, TryAcquireError> {
        self.try_take().map(|()| Permit { semaphore: self })
    }

    /// Like [`try_acquire`](Semaphore::try_acquire), returning a permit that owns a handle to
    /// the semaphore.
    ///
    /// # Errors
    /// As [`try_acquire`](Semaphore::try_acquire).
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedPermit, TryAcquireError> {
        self.try_take().map(|()| OwnedPermit {
            semaphore: self,
            held: true,
        })
    }

    /// Adds `n` permits, handing them to queued waiters first, oldest first.
    ///
    /// # Panics
    /// If the number of free permits would overflow `usize`.
    ///
    /// # Examples
    /// ```
    /// let sem = weir::rt::sync::Semaphore::new(0);
    /// sem.add_permits(2);
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    pub fn add_permits(&self, n: usize) {
        self.release(n);
    }

    /// Closes the semaphore: every queued waiter wakes with [`Closed`], and later acquires fail.
    /// Permits already held stay valid and may still be dropped.
    ///
    /// # Examples
    /// ```
    /// use weir::rt::block_on;
    /// use weir::rt::sync::{Closed, Semaphore};
    /// let sem = Semaphore::new(0);
    /// sem.close();
    /// assert_eq!(block_on(sem.acquire()).unwrap_err(), Closed);
    /// ```
    pub fn close(&self) {
        let waiters = {
            let mut state = self.lock();
            state.closed = true;
            mem::take(&mut state.queue)
        };
        waiters.into_values().for_each(Waker::wake);
    }

    /// Takes a free permit without queueing.
    fn try_take(&self) -> Result<(), TryAcquireError> {
        let mut state = self.lock();
        if state.closed {
            return Err(TryAcquireError::Closed);
        }
        match state.permits.checked_sub(1) {
            Some(left) => {
                state.permits = left;
                Ok(())
            }
            None => Err(TryAcquireError::NoPermits),
        }
    }

    /// Hands `n` permits to the queue, oldest first, the rest to the free count; wakes the
    /// receivers in batches, each after unlocking.
    fn release(&self, mut n: usize) {
        while n > 0 {
            let mut wakers: [Option<Waker>; WAKE_BATCH] = Default::default();
            n = self.lock().grant(n, &mut wakers);
            wakers
                .iter_mut()
                .filter_map(Option::take)
                .for_each(Waker::wake);
        }
    }

    /// One poll of an acquire future at `stage`; on `Ready` the stage becomes `Done`.
    fn poll_acquire(&self, stage: &mut Stage, waker: &Waker) -> Poll<Result<(), Closed>> {
        let (poll, replaced) = {
            let mut state = self.lock();
            match *stage {
                Stage::Start => (state.arrive(stage, waker), None),
                Stage::Queued(ticket) => state.recheck(ticket, waker),
                Stage::Done => {
                    drop(state);
                    panic!("an acquire future was polled after it completed")
                }
            }
        };
        drop(replaced);
        if poll.is_ready() {
            *stage = Stage::Done;
        }
        poll
    }

    /// An acquire future at `stage` is being dropped: leave the queue, or pass on the permit it
    /// was granted.
    fn cancel(&self, stage: Stage) {
        let Stage::Queued(ticket) = stage else {
            return;
        };
        let (was_granted, waker) = self.lock().leave(ticket);
        drop(waker);
        if was_granted && self.passes_on_cancelled_grants() {
            // A newcomer can't slip in between: it sees no free permit and queues behind.
            self.release(1);
        }
    }

    #[cfg(not(loom))]
    fn passes_on_cancelled_grants(&self) -> bool {
        true
    }

    #[cfg(loom)]
    fn passes_on_cancelled_grants(&self) -> bool {
        !self.loses_cancelled_grants
    }

    /// Locks the state. Nothing panics while it is held in a way that breaks its invariants
    /// (a panicking waker clone happens before any change), so poison is ignored.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The test-only view of the state: (free permits, queued tickets, granted tickets).
    #[cfg(all(test, not(loom)))]
    fn snapshot(&self) -> (usize, Vec<u64>, Vec<u64>) {
        let state = self.lock();
        let queue = state.queue.keys().copied().collect();
        (
            state.permits,
            queue,
            state.granted.iter().copied().collect(),
        )
    }
}

impl State {
    /// First poll: take a free permit, or join the back of the queue.
    fn arrive(&mut self, stage: &mut Stage, waker: &Waker) -> Poll<Result<(), Closed>> {
        if self.closed {
            return Poll::Ready(Err(Closed));
        }
        if let Some(left) = self.permits.checked_sub(1) {
            self.permits = left;
            return Poll::Ready(Ok(()));
        }
        let ticket = self.next_ticket;
        self.queue.insert(ticket, waker.clone());
        self.next_ticket += 1;
        *stage = Stage::Queued(ticket);
        Poll::Pending
    }

    /// A later poll: granted, closed, or still waiting (keeping the newest waker). Returns
    /// the replaced waker, to be dropped after unlocking.
    fn recheck(&mut self, ticket: u64, waker: &Waker) -> (Poll<Result<(), Closed>>, Option<Waker>) {
        if self.granted.remove(&ticket) {
            return (Poll::Ready(Ok(())), None);
        }
        match self.queue.get_mut(&ticket) {
            Some(queued) if queued.will_wake(waker) => (Poll::Pending, None),
            Some(queued) => (Poll::Pending, Some(mem::replace(queued, waker.clone()))),
            // Only `close` removes a ticket the future itself did not.
            None => (Poll::Ready(Err(Closed)), None),
        }
    }

    /// Removes `ticket`; returns whether it had been granted a permit, and its waker to drop
    /// after unlocking.
    fn leave(&mut self, ticket: u64) -> (bool, Option<Waker>) {
        if self.granted.remove(&ticket) {
            return (true, None);
        }
        (false, self.queue.remove(&ticket))
    }

    /// Grants up to `wakers.len()` of `n` permits to the oldest waiters, storing their wakers;
    /// once the queue is empty the rest become free. Returns how many are left to hand out.
    fn grant(&mut self, mut n: usize, wakers: &mut [Option<Waker>]) -> usize {
        for slot in wakers {
            if n == 0 {
                return 0;
            }
            let Some((ticket, waker)) = self.queue.pop_first() else {
                break;
            };
            self.granted.insert(ticket);
            *slot = Some(waker);
            n -= 1;
        }
        if !self.queue.is_empty() {
            return n;
        }
        match self.permits.checked_add(n) {
            Some(total) => self.permits = total,
            None => panic!("semaphore permit count overflowed usize"),
        }
        0
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("Semaphore")
            .field("permits", &state.permits)
            .field("queued", &state.queue.len())
            .field("granted", &state.granted.len())
            .field("closed", &state.closed)
            .finish()
    }
}

/// The future of [`Semaphore::acquire`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct Acquire<'a> {
    /// The semaphore it waits on.
    semaphore: &'a Semaphore,
    /// Whether it has queued, and under which ticket.
    stage: Stage,
}

impl<'a> Future for Acquire<'a> {
    type Output = Result<Permit<'a>, Closed>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let semaphore = this.semaphore;
        semaphore
            .poll_acquire(&mut this.stage, cx.waker())
            .map_ok(|()| Permit { semaphore })
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        self.semaphore.cancel(self.stage);
    }
}

/// The future of [`Semaphore::acquire_owned`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct AcquireOwned {
    /// The semaphore it waits on.
    semaphore: Arc<Semaphore>,
    /// Whether it has queued, and under which ticket.
    stage: Stage,
}

impl Future for AcquireOwned {
    type Output = Result<OwnedPermit, Closed>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let semaphore = &this.semaphore;
        semaphore
            .poll_acquire(&mut this.stage, cx.waker())
            .map_ok(|()| OwnedPermit {
                semaphore: semaphore.clone(),
                held: true,
            })
    }
}

impl Drop for AcquireOwned {
    fn drop(&mut self) {
        self.semaphore.cancel(self.stage);
    }
}

/// One permit of a [`Semaphore`], given back when dropped.
#[must_use = "dropping a permit releases it at once"]
#[derive(Debug)]
pub struct Permit<'a> {
    /// The semaphore it came from.
    semaphore: &'a Semaphore,
}

impl Permit<'_> {
    /// Consumes the permit without giving it back: the semaphore has one permit fewer.
    pub fn forget(self) {
        mem::forget(self);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.semaphore.release(1);
    }
}

/// One permit of a shared [`Semaphore`], holding it alive; given back when dropped.
#[must_use = "dropping a permit releases it at once"]
#[derive(Debug)]
pub struct OwnedPermit {
    /// The semaphore it came from.
    semaphore: Arc<Semaphore>,
    /// Whether dropping gives the permit back (`false` after [`forget`](OwnedPermit::forget)).
    held: bool,
}

impl OwnedPermit {
    /// The semaphore this permit belongs to.
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.semaphore
    }

    /// Consumes the permit without giving it back: the semaphore has one permit fewer.
    pub fn forget(mut self) {
        self.held = false;
    }
}

impl Drop for OwnedPermit {
    fn drop(&mut self) {
        if self.held {
            self.semaphore.release(1);
        }
    }
}

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore closed")
    }
}

impl std::error::Error for Closed {}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryAcquireError::Closed => f.write_str("semaphore closed"),
            TryAcquireError::NoPermits => f.write_str("no permits available"),
        }
    }
}

impl std::error::Error for TryAcquireError {}

#[cfg(all(test, not(loom)))]
mod conformance;

#[cfg(all(test, not(loom)))]
pub(super) mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::task::Wake;

    /// A waker that counts its wakes.
    #[derive(Default)]
    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting() -> (Arc<CountingWaker>, Waker) {
        let count = Arc::new(CountingWaker::default());
        (count.clone(), Waker::from(count))
    }

    fn poll<F: Future + Unpin>(fut: &mut F, waker: &Waker) -> Poll<F::Output> {
        Pin::new(fut).poll(&mut Context::from_waker(waker))
    }

    fn woken(w: &CountingWaker) -> usize {
        w.0.load(Ordering::SeqCst)
    }

    #[test]
    fn try_acquire_counts_down_and_permits_come_back() {
        let sem = Semaphore::new(2);
        let a = sem.try_acquire().unwrap();
        let b = sem.try_acquire().unwrap();
        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
        drop(a);
        assert_eq!(sem.available_permits(), 1);
        b.forget();
        assert_eq!(
            sem.available_permits(),
            1,
            "a forgotten permit is not returned"
        );
    }

    #[test]
    fn waiters_are_granted_in_arrival_order() {
        let sem = Semaphore::new(1);
        let held = sem.try_acquire().unwrap();
        let (wa, a_waker) = counting();
        let (wb, b_waker) = counting();
        let mut a = sem.acquire();
        let mut b = sem.acquire();
        assert!(poll(&mut a, &a_waker).is_pending());
        assert!(poll(&mut b, &b_waker).is_pending());
        drop(held);
        assert_eq!((woken(&wa), woken(&wb)), (1, 0), "only the oldest is woken");
        assert_eq!(sem.snapshot(), (0, vec![1], vec![0]));
        let Poll::Ready(Ok(pa)) = poll(&mut a, &a_waker) else {
            panic!("a was granted")
        };
        assert!(poll(&mut b, &b_waker).is_pending());
        drop(pa);
        assert_eq!(woken(&wb), 1);
        assert!(matches!(poll(&mut b, &b_waker), Poll::Ready(Ok(_))));
        assert_eq!(
            sem.available_permits(),
            1,
            "b's permit came back when it was dropped"
        );
    }

    #[test]
    fn a_newcomer_cannot_barge_past_the_queue() {
        let sem = Semaphore::new(1);
        let held = sem.try_acquire().unwrap();
        let (_w, waker) = counting();
        let mut queued = sem.acquire();
        assert!(poll(&mut queued, &waker).is_pending());
        drop(held);
        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
        let mut late = sem.acquire();
        assert!(poll(&mut late, &waker).is_pending());
        assert!(poll(&mut queued, &waker).is_ready());
    }

    #[test]
    fn cancel_before_wake_leaves_the_queue() {
        let sem = Semaphore::new(1);
        let held = sem.try_acquire().unwrap();
        let (wa, a_waker) = counting();
        let (wb, b_waker) = counting();
        let mut a = sem.acquire();
        let mut b = sem.acquire();
        assert!(poll(&mut a, &a_waker).is_pending());
        assert!(poll(&mut b, &b_waker).is_pending());
        drop(a);
        assert_eq!(sem.snapshot(), (0, vec![1], vec![]));
        drop(held);
        assert_eq!((woken(&wa), woken(&wb)), (0, 1));
        assert!(poll(&mut b, &b_waker).is_ready());
    }

    #[test]
    fn cancel_after_wake_passes_the_permit_on() {
        let sem = Semaphore::new(1);
        let held = sem.try_acquire().unwrap();
        let (_wa, a_waker) = counting();
        let (wb, b_waker) = counting();
        let mut a = sem.acquire();
        let mut b = sem.acquire();
        assert!(poll(&mut a, &a_waker).is_pending());
        assert!(poll(&mut b, &b_waker).is_pending());
        drop(held);
        drop(a); // granted, never polled again
        assert_eq!(woken(&wb), 1);
        assert_eq!(sem.snapshot(), (0, vec![], vec![1]));
        assert!(poll(&mut b, &b_waker).is_ready());
    }

    #[test]
    fn cancel_after_wake_with_nobody_waiting_frees_the_permit() {
        let sem = Semaphore::new(1);
        let held = sem.try_acquire().unwrap();
        let (_w, waker) = counting();
        let mut a = sem.acquire();
        assert!(poll(&mut a, &waker).is_pending());
        drop(held);
        drop(a);
        assert_eq!(sem.snapshot(), (1, vec![], vec![]));
    }

    #[test]
    fn the_newest_waker_is_the_one_woken() {
        let sem = Semaphore::new(0);
        let (old, old_waker) = counting();
        let (new, new_waker) = counting();
        let mut a = sem.acquire();
        assert!(poll(&mut a, &old_waker).is_pending());
        assert!(poll(&mut a, &new_waker).is_pending());
        sem.add_permits(1);
        assert_eq!((woken(&old), woken(&new)), (0, 1));
    }

    #[test]
    fn add_permits_beyond_one_batch_wakes_every_waiter() {
        let sem = Semaphore::new(0);
        let (w, waker) = counting();
        let n = WAKE_BATCH * 2 + 3;
        let mut futs: Vec<_> = (0..n).map(|_| sem.acquire()).collect();
        for f in &mut futs {
            assert!(poll(f, &waker).is_pending());
        }
        sem.add_permits(n + 2);
        assert_eq!(woken(&w), n);
        assert_eq!(sem.available_permits(), 2);
        for f in &mut futs {
            assert!(matches!(poll(f, &waker), Poll::Ready(Ok(_))));
        }
    }

    #[test]
    fn close_wakes_waiters_with_an_error_but_keeps_grants() {
        let sem = Semaphore::new(1);
        let held = sem.try_acquire().unwrap();
        let (w, waker) = counting();
        let mut granted = sem.acquire();
        let mut waiting = sem.acquire();
        assert!(poll(&mut granted, &waker).is_pending());
        assert!(poll(&mut waiting, &waker).is_pending());
        drop(held);
        sem.close();
        assert_eq!(woken(&w), 2);
        assert!(matches!(poll(&mut granted, &waker), Poll::Ready(Ok(_))));
        assert!(matches!(
            poll(&mut waiting, &waker),
            Poll::Ready(Err(Closed))
        ));
        assert!(matches!(
            poll(&mut sem.acquire(), &waker),
            Poll::Ready(Err(Closed))
        ));
        assert!(sem.is_closed());
    }

    #[test]
    fn owned_permits_release_on_drop_and_forget() {
        let sem = Arc::new(Semaphore::new(2));
        let a = sem.clone().try_acquire_owned().unwrap();
        let (_w, waker) = counting();
        let mut b_fut = sem.clone().acquire_owned();
        let Poll::Ready(Ok(b)) = poll(&mut b_fut, &waker) else {
            panic!("a permit was free")
        };
        assert!(Arc::ptr_eq(b.semaphore(), &sem));
        drop((a, b_fut));
        b.forget();
        assert_eq!(sem.available_permits(), 1);
        assert_eq!(
            Arc::strong_count(&sem),
            1,
            "permits and futures release their Arc"
        );
    }

    /// Checks, from inside wake and drop, that the semaphore's lock is free.
    struct LockProbe {
        semaphore: Arc<Semaphore>,
        saw_locked: Arc<AtomicBool>,
    }

    impl LockProbe {
        fn check(&self) {
            if self.semaphore.state.try_lock().is_err() {
                self.saw_locked.store(true, Ordering::SeqCst);
            }
        }
    }

    impl Wake for LockProbe {
        fn wake(self: Arc<Self>) {
            self.check();
        }
    }

    impl Drop for LockProbe {
        fn drop(&mut self) {
            self.check();
        }
    }

    #[test]
    fn wakers_are_woken_and_dropped_outside_the_lock() {
        let sem = Arc::new(Semaphore::new(0));
        let saw_locked = Arc::new(AtomicBool::new(false));
        let probe = || {
            Waker::from(Arc::new(LockProbe {
                semaphore: sem.clone(),
                saw_locked: saw_locked.clone(),
            }))
        };
        let mut replaced = sem.acquire();
        assert!(poll(&mut replaced, &probe()).is_pending());
        assert!(poll(&mut replaced, &probe()).is_pending()); // drops the first probe
        let mut cancelled = sem.acquire();
        assert!(poll(&mut cancelled, &probe()).is_pending());
        drop(cancelled); // drops its probe
        sem.add_permits(1); // wakes `replaced`'s probe
        let mut closed = sem.acquire();
        assert!(poll(&mut closed, &probe()).is_pending());
        sem.close(); // wakes `closed`'s probe
        assert!(poll(&mut replaced, &probe()).is_ready());
        assert!(!saw_locked.load(Ordering::SeqCst));
    }

    #[test]
    fn threads_never_exceed_the_permits() {
        const PERMITS: usize = 3;
        let sem = Arc::new(Semaphore::new(PERMITS));
        let inside = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let (sem, inside) = (sem.clone(), inside.clone());
                std::thread::spawn(move || {
                    for _ in 0..2_000 {
                        let _p = block_on(sem.acquire()).unwrap();
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        assert!(now <= PERMITS, "{now} holders of {PERMITS} permits");
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(sem.available_permits(), PERMITS);
    }

    /// A minimal executor for one future on this thread (the runtime's is not needed here).
    pub(crate) fn block_on<F: Future>(fut: F) -> F::Output {
        struct Unpark(std::thread::Thread);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut fut = std::pin::pin!(fut);
        loop {
            if let Poll::Ready(out) = fut.as_mut().poll(&mut Context::from_waker(&waker)) {
                return out;
            }
            std::thread::park();
        }
    }
}
