//! Timers: [`sleep`], [`sleep_until`], [`timeout`].
//!
//! Pending timers live in an ordered map keyed by `(deadline, id)`, so the loop's
//! `epoll_wait` timeout is the first key and firing is popping from the front. A timer is
//! inserted only when its future first returns `Pending` and removed when the future is
//! dropped, so cancelled timers leave nothing behind (a million created and dropped
//! timeouts leave the map empty).
//!
//! # Invariants
//! - An entry's waker is the one of the last poll of its `Sleep`.
//! - An entry exists only while its `Sleep` is alive and its deadline has not fired.
//!
//! [`Timeout`] projects its pin onto the wrapped future with one `unsafe` block: no safe form
//! exists without boxing the future or adding a pin-projection dependency.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::executor::{current, Core};

/// A timer's key in the map: deadline, then creation order for equal deadlines.
type Key = (Instant, u64);

/// The loop's pending timers.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    /// Pending timers in deadline order.
    map: BTreeMap<Key, Waker>,
    /// The next id (ties between equal deadlines fire in creation order).
    next_id: u64,
}

impl Timers {
    /// The nearest deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.map.first_key_value().map(|(k, _)| k.0)
    }

    /// How many timers are pending.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    fn insert(&mut self, deadline: Instant, waker: Waker) -> Key {
        let key = (deadline, self.next_id);
        self.next_id += 1;
        self.map.insert(key, waker);
        key
    }

    fn pop_expired(&mut self, now: Instant) -> Option<Waker> {
        let first = self.map.first_key_value()?.0 .0;
        if first > now {
            return None;
        }
        self.map.pop_first().map(|(_, w)| w)
    }
}

/// Wakes every timer whose deadline is at or before `now`, in deadline order, each outside
/// the map's borrow.
pub(crate) fn fire_expired(timers: &RefCell<Timers>, now: Instant) {
    loop {
        let waker = timers.borrow_mut().pop_expired(now);
        match waker {
            Some(waker) => waker.wake(),
            None => break,
        }
    }
}

/// Waits until `duration` has passed.
///
/// # Panics
/// When polled outside a running weir runtime.
///
/// # Examples
/// ```
/// use std::time::{Duration, Instant};
/// weir::rt::block_on(async {
///     let start = Instant::now();
///     weir::rt::time::sleep(Duration::from_millis(5)).await;
///     assert!(start.elapsed() >= Duration::from_millis(5));
/// });
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(Instant::now() + duration)
}

/// Waits until `deadline`.
///
/// # Examples
/// ```
/// use std::time::{Duration, Instant};
/// weir::rt::block_on(weir::rt::time::sleep_until(Instant::now() + Duration::from_millis(1)));
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        registered: None,
    }
}

/// The future of [`sleep`] and [`sleep_until`].
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    /// When it completes.
    deadline: Instant,
    /// The loop and key of its map entry, once it has returned `Pending`.
    registered: Option<(Rc<Core>, Key)>,
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl Sleep {
    /// When this sleep completes.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    fn unregister(&mut self) {
        if let Some((core, key)) = self.registered.take() {
            let removed = core.timers.borrow_mut().map.remove(&key);
            drop(removed); // the waker is dropped outside the borrow
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            self.unregister();
            return Poll::Ready(());
        }
        match &self.registered {
            Some((core, key)) => {
                let mut timers = core.timers.borrow_mut();
                match timers.map.get_mut(key) {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    Some(w) => *w = cx.waker().clone(),
                    // Fired just now (the clock moved between pop and poll); re-arm.
                    None => {
                        timers.map.insert(*key, cx.waker().clone());
                    }
                }
            }
            None => {
                let core = current("sleep");
                let key = core
                    .timers
                    .borrow_mut()
                    .insert(self.deadline, cx.waker().clone());
                self.registered = Some((core, key));
            }
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.unregister();
    }
}

/// The error of a [`timeout`] whose deadline passed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(e: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, e)
    }
}

/// Runs `future`, giving up with [`Elapsed`] after `duration`. Dropping the future drops
/// its timer.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use weir::rt::time::{sleep, timeout};
/// weir::rt::block_on(async {
///     assert_eq!(timeout(Duration::from_secs(5), async { 7 }).await, Ok(7));
///     let slow = sleep(Duration::from_secs(60));
///     assert!(timeout(Duration::from_millis(1), slow).await.is_err());
/// });
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep(duration),
    }
}

/// The future of [`timeout`].
#[must_use = "futures do nothing unless awaited"]
pub struct Timeout<F> {
    /// The wrapped future (structurally pinned).
    future: F,
    /// The deadline (`Unpin`).
    sleep: Sleep,
}

impl<F> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("sleep", &self.sleep)
            .finish()
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is structurally pinned: it is never moved out of `self`, `Timeout`
        // has no `Drop` that moves it and no `Unpin` impl beyond the auto one (which requires
        // `F: Unpin`). `sleep` is `Unpin` and handed out as a plain `&mut`.
        let (future, sleep) = unsafe {
            let this = self.get_unchecked_mut();
            (Pin::new_unchecked(&mut this.future), &mut this.sleep)
        };
        if let Poll::Ready(out) = future.poll(cx) {
            sleep.unregister();
            return Poll::Ready(Ok(out));
        }
        Pin::new(sleep).poll(cx).map(|()| Err(Elapsed(())))
    }
}

/// How many timers the current loop holds (for tests of timer cleanup).
///
/// # Panics
/// Outside a running weir runtime.
#[doc(hidden)]
pub fn pending_timers() -> usize {
    current("pending_timers").timers.borrow().len()
}
