//! The cross-thread injection queue: how a waker on a foreign thread hands a task to the loop.
//!
//! A foreign thread calls [`Injector::push`]; when it returns `true` the caller writes the loop's
//! eventfd. The loop, after the eventfd fired, calls [`Injector::drain_into`] and runs what it got.
//!
//! # Invariants
//! - `notified` is `true` from the moment a push claims the right to signal until the loop's next
//!   drain begins. Only the push that flips it `false -> true` signals, so there is at most one
//!   eventfd write per drain cycle, however many threads push.
//! - The drain clears `notified` *before* it takes the queue's lock. A push whose item misses
//!   this drain (it locks the queue after the drain did) therefore sees `false` (or a later
//!   push's `true`, whose signal covers both) and signals: no item is left queued with the loop
//!   asleep. `tests/loom_inject.rs` checks this under every interleaving loom explores.
//! - No item is lost or duplicated: the queue is only touched under its mutex.

use std::collections::VecDeque;
use std::fmt;
use std::sync::PoisonError;

use crate::loom::sync::atomic::{AtomicBool, Ordering};
use crate::loom::sync::{Mutex, MutexGuard};

/// A multi-producer queue drained by one event loop, with a coalescing "notified" flag.
pub struct Injector<T> {
    /// Items pushed by any thread and not yet drained, oldest first.
    queue: Mutex<VecDeque<T>>,
    /// Whether a signal (an eventfd write) is owed or in flight for the current drain cycle.
    ///
    /// # Invariant
    /// Set only by the push that then signals; cleared only by the loop at the start of a drain.
    notified: AtomicBool,
}

impl<T> Injector<T> {
    /// An empty injector with no signal owed.
    pub fn new() -> Self {
        Injector {
            queue: Mutex::new(VecDeque::new()),
            notified: AtomicBool::new(false),
        }
    }

    /// Queues `item`; returns `true` when the caller must signal the loop (write the eventfd):
    /// exactly when the notified flag went `false -> true`.
    pub fn push(&self, item: T) -> bool {
        self.lock().push_back(item);
        // Fast path: a signal for this cycle is already owed; the loop will drain our item too.
        if self.notified.load(Ordering::Acquire) {
            return false;
        }
        // Fast path: a signal for this cycle is already owed; the loop will drain our item too.
        !self.notified.swap(true, Ordering::AcqRel)
    }

    /// Loop side, after the eventfd fired: clears the flag first, then moves every queued item
    /// to the back of `out`, oldest first.
    pub fn drain_into(&self, out: &mut VecDeque<T>) {
        // A swap, not a store: every write of `notified` is then a read-modify-write, so the
        // pushes' swaps and this clear are totally ordered in a way loom can check (with a plain
        // store loom explores orders C11 forbids and reports a false stranding).
        self.notified.swap(false, Ordering::AcqRel);
        let mut queue = self.lock();

        if out.is_empty() {
            // O(1), and both buffers keep their capacity for the next cycle.
            std::mem::swap(out, &mut *queue);
        } else {
            out.append(&mut queue);
        }
    }

    /// Whether nothing is queued right now (a racing push may change that at once).
    #[cfg_attr(not(any(test, loom)), allow(dead_code))] // part of the contract; the loop may use it
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Locks the queue. A panic while it was held cannot break the `VecDeque`, so poison is ignored.
    fn lock(&self) -> MutexGuard<'_, VecDeque<T>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T> Default for Injector<T> {
    fn default() -> Self {
        Injector::new()
    }
}

impl<T> fmt::Debug for Injector<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Injector")
            .field("len", &self.lock().len())
            .field("notified", &self.notified.load(Ordering::Relaxed))
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::{Arc, Condvar};
    use std::thread;

    #[test]
    fn only_the_first_push_of_a_cycle_signals() {
        let inj = Injector::new();
        assert!(inj.push(1));
        assert!(!inj.push(2));
        assert!(!inj.push(3));
    }

    #[test]
    fn drain_returns_items_in_push_order_and_rearms_the_signal() {
        let inj = Injector::new();
        inj.push('a');
        inj.push('b');
        let mut out = VecDeque::new();
        inj.drain_into(&mut out);
        assert_eq!(out, ['a', 'b']);
        assert!(inj.is_empty());
        assert!(inj.push('c'), "the first push after a drain must signal");
        inj.drain_into(&mut out);
        assert_eq!(out, ['a', 'b', 'c'], "drain appends after what `out` held");
    }

    #[test]
    fn drain_of_an_empty_queue_still_rearms_the_signal() {
        let inj = Injector::<u8>::new();
        assert!(inj.push(0));
        let mut out = VecDeque::new();
        inj.drain_into(&mut out);
        inj.drain_into(&mut out);
        assert_eq!(out.len(), 1);
        assert!(inj.push(1));
    }

    /// The eventfd, as a counter the loop blocks on: the same shape as the loom model.
    #[derive(Default)]
    struct FakeEventFd {
        count: std::sync::Mutex<u64>,
        cond: Condvar,
    }

    impl FakeEventFd {
        fn write(&self) {
            *self.count.lock().unwrap() += 1;
            self.cond.notify_one();
        }

        fn read(&self) -> u64 {
            let mut count = self.count.lock().unwrap();
            while *count == 0 {
                count = self.cond.wait(count).unwrap();
            }
            std::mem::take(&mut *count)
        }
    }

    #[test]
    fn four_threads_pushing_never_strand_an_item() {
        const THREADS: usize = 4;
        const PER_THREAD: usize = 5_000;
        let inj = Arc::new(Injector::new());
        let efd = Arc::new(FakeEventFd::default());
        let producers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (inj, efd) = (inj.clone(), efd.clone());
                thread::spawn(move || {
                    for i in 0..PER_THREAD {
                        if inj.push((t, i)) {
                            efd.write();
                        }
                    }
                })
            })
            .collect();
        let mut seen = [0usize; THREADS];
        let mut out = VecDeque::new();
        let mut drained = 0;
        while drained < THREADS * PER_THREAD {
            // Coalescing: one write per cycle, so the counter never holds more than one.
            assert_eq!(efd.read(), 1);
            inj.drain_into(&mut out);
            for (t, i) in out.drain(..) {
                assert_eq!(seen[t], i, "each producer's items arrive in order, once");
                seen[t] += 1;
                drained += 1;
            }
        }
        for p in producers {
            p.join().unwrap();
        }
        assert!(inj.is_empty());
    }
}
