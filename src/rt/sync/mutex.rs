//! An async mutex: a [`Semaphore`] with one permit guarding an `UnsafeCell`.
//!
//! # Implementation details
//!
//! Holding the semaphore's only permit *is* the lock; the guard owns that permit and gives it
//! back when dropped. Fairness, cancel-safety and wake-ups are therefore the semaphore's: the
//! lock is handed to waiters strictly in arrival order, a dropped `lock()` future leaves the
//! queue (or passes on a lock it was handed), and waiters are woken outside any internal lock.
//!
//! # Why `unsafe` here
//!
//! The guarded value lives in an `UnsafeCell` because the access right (the permit) is not a
//! Rust borrow. The safe alternative, a `std::sync::Mutex` inside, would make the guard `!Send`
//! (so no task holding it could move between threads) and cost a second atomic round-trip per
//! lock. The two `unsafe` blocks rely on one invariant:
//!
//! # Invariant
//! A `MutexGuard` exists only while it owns the semaphore's single permit, so at most one
//! guard exists at a time, and `data` is only dereferenced through a guard (or through
//! `&mut Mutex`, which excludes guards).

use std::fmt;
use std::ops::{Deref, DerefMut};

use super::semaphore::{Permit, Semaphore, TryAcquireError};
use crate::loom::cell::UnsafeCell;

/// An async mutual-exclusion lock: FIFO-fair, cancel-safe, usable from any thread.
///
/// # Examples
/// ```
/// use weir::rt::block_on;
/// use std::sync::Arc;
/// use weir::rt::sync::Mutex;
///
/// let counter = Arc::new(Mutex::new(0));
/// let workers: Vec<_> = (0..4)
///     .map(|_| {
///         let counter = counter.clone();
///         std::thread::spawn(move || block_on(async { *counter.lock().await += 1 }))
///     })
///     .collect();
/// workers.into_iter().for_each(|w| w.join().unwrap());
/// assert_eq!(*counter.try_lock().unwrap(), 4);
/// ```
///
/// # Thread safety
/// `Mutex<T>` is `Sync` when `T: Send`; its guard is `Send` when `T: Send` and `Sync` only when
/// `T: Sync` too, as for `std::sync::Mutex`. So a guard over a `Cell` cannot be shared:
/// ```compile_fail
/// fn shared<S: Sync>(_: &S) {}
/// let m = weir::rt::sync::Mutex::new(std::cell::Cell::new(0));
/// shared(&m.try_lock().unwrap());
/// ```
/// and a mutex over an `Rc` cannot be shared either:
/// ```compile_fail
/// fn shared<S: Sync>(_: &S) {}
/// shared(&weir::rt::sync::Mutex::new(std::rc::Rc::new(0)));
/// ```
pub struct Mutex<T> {
    /// One permit: whoever holds it may touch `data`.
    semaphore: Semaphore,
    /// The guarded value.
    ///
    /// # Invariant
    /// Accessed only through a `MutexGuard` (which owns the permit) or `&mut self`.
    data: UnsafeCell<T>,
}

// SAFETY: the permit gives one thread at a time access to `data` (see the module invariant), so
// sharing the mutex only ever moves `T` between threads, which `T: Send` allows.
unsafe impl<T: Send> Sync for Mutex<T> {}

/// Exclusive access to a [`Mutex`]'s value; unlocks when dropped.
#[must_use = "dropping the guard unlocks the mutex at once"]
pub struct MutexGuard<'a, T> {
    /// The mutex whose value this guard exposes.
    mutex: &'a Mutex<T>,
    /// The semaphore's only permit, given back on drop.
    _permit: Permit<'a>,
}

// SAFETY: a shared `&MutexGuard` only hands out `&T`, so sharing the guard across threads is
// sharing `&T`, which needs `T: Sync`. (Without this impl the guard would be `Sync` whenever
// `T: Send`, because it holds a `&Mutex<T>`.)
unsafe impl<T: Send + Sync> Sync for MutexGuard<'_, T> {}

/// The error of [`Mutex::try_lock`]: someone holds the lock or is queued for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WouldBlock;

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`.
    pub fn new(value: T) -> Mutex<T> {
        Mutex {
            semaphore: Semaphore::new(1),
            data: UnsafeCell::new(value),
        }
    }

    /// Waits for the lock, behind everyone already waiting. Cancel-safe.
    ///
    /// # Examples
    /// ```
    /// use weir::rt::block_on;
    /// let names = weir::rt::sync::Mutex::new(Vec::new());
    /// block_on(async {
    ///     names.lock().await.push("a");
    ///     assert_eq!(*names.lock().await, ["a"]);
    /// });
    /// ```
    pub async fn lock(&self) -> MutexGuard<'_, T> {
        match self.semaphore.acquire().await {
            Ok(permit) => self.guard(permit),
            // The mutex owns its semaphore and never closes it.
            Err(_closed) => unreachable!("a mutex's semaphore is never closed"),
        }
    }

    /// Takes the lock if it is free and nobody is queued for it; never waits.
    ///
    /// # Errors
    /// [`WouldBlock`] when the lock is held or waited for.
    ///
    /// # Examples
    /// ```
    /// let m = weir::rt::sync::Mutex::new(1);
    /// let guard = m.try_lock().unwrap();
    /// assert!(m.try_lock().is_err());
    /// drop(guard);
    /// assert_eq!(*m.try_lock().unwrap(), 1);
    /// ```
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, WouldBlock> {
        match self.semaphore.try_acquire() {
            Ok(permit) => Ok(self.guard(permit)),
            Err(TryAcquireError::NoPermits | TryAcquireError::Closed) => Err(WouldBlock),
        }
    }

    /// The value, through exclusive access (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// Consumes the mutex, returning the value.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }

    /// Wraps the semaphore's permit into a guard.
    fn guard<'a>(&'a self, permit: Permit<'a>) -> MutexGuard<'a, T> {
        MutexGuard {
            mutex: self,
            _permit: permit,
        }
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this guard owns the only permit (module invariant), so no `&mut T` exists;
        // the returned borrow ends before the guard, and so before the permit is given back.
        self.mutex.data.with(|value| unsafe { &*value })
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` excludes any other borrow through this guard.
        self.mutex.data.with_mut(|value| unsafe { &mut *value })
    }
}

impl<T: fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(guard) => out.field("data", &*guard),
            Err(WouldBlock) => out.field("data", &format_args!("<locked>")),
        };
        out.finish()
    }
}

impl<T: fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl fmt::Display for WouldBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the lock is held or waited for")
    }
}

impl std::error::Error for WouldBlock {}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::super::semaphore::tests::block_on;
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    struct Noop;

    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }

    #[test]
    fn try_lock_fails_while_held_and_guard_gives_access() {
        let m = Mutex::new(String::from("a"));
        let mut g = m.try_lock().unwrap();
        g.push('b');
        assert_eq!(m.try_lock().unwrap_err(), WouldBlock);
        assert_eq!(format!("{m:?}"), r#"Mutex { data: <locked> }"#);
        drop(g);
        assert_eq!(format!("{m:?}"), r#"Mutex { data: "ab" }"#);
        assert_eq!(m.into_inner(), "ab");
    }

    #[test]
    fn dropping_a_queued_lock_future_does_not_block_others() {
        let m = Mutex::new(0);
        let held = m.try_lock().unwrap();
        {
            let mut cancelled = pin!(m.lock());
            let waker = Waker::from(Arc::new(Noop));
            assert!(cancelled
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending());
        }
        drop(held);
        assert!(m.try_lock().is_ok(), "the cancelled waiter left the queue");
    }

    #[test]
    fn the_lock_is_handed_to_the_queued_waiter() {
        let m = Mutex::new(0);
        let held = m.try_lock().unwrap();
        let mut waiting = pin!(m.lock());
        let waker = Waker::from(Arc::new(Noop));
        let mut cx = Context::from_waker(&waker);
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        drop(held);
        assert!(m.try_lock().is_err(), "the lock belongs to the waiter now");
        let Poll::Ready(mut g) = waiting.as_mut().poll(&mut cx) else {
            panic!("the waiter was handed the lock")
        };
        *g += 1;
    }

    #[test]
    fn threads_incrementing_through_the_lock_lose_no_update() {
        let m = Arc::new(Mutex::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for _ in 0..5_000 {
                        block_on(async {
                            let mut g = m.lock().await;
                            // A read-modify-write in two steps: torn without exclusion.
                            let v = *g;
                            std::hint::black_box(());
                            *g = v + 1;
                        });
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*m.try_lock().unwrap(), 20_000);
    }

    #[test]
    fn the_types_are_send_and_sync_and_so_is_the_lock_future() {
        fn send_sync<T: Send + Sync>(_: &T) {}
        let m = Mutex::new(0u8);
        send_sync(&m);
        send_sync(&m.lock());
        send_sync(&m.try_lock().unwrap());
        let sem = Arc::new(Semaphore::new(1));
        send_sync(&sem.acquire());
        send_sync(&sem.try_acquire().unwrap());
        send_sync(&sem.clone().acquire_owned());
        send_sync(&sem.clone().try_acquire_owned().unwrap());
    }

    #[test]
    fn get_mut_needs_no_lock() {
        let mut m = Mutex::new(1);
        *m.get_mut() = 2;
        assert_eq!(*m.try_lock().unwrap(), 2);
    }
}
