//! loom model of the cross-thread wake path: foreign threads push onto the injection queue and
//! write the loop's eventfd when `push` says so; the loop sleeps on the eventfd, then drains.
//!
//! The eventfd is modelled as a counter the loop blocks on (a loom `Mutex` + `Condvar`): `read`
//! sleeps while it is zero, then returns and resets it, as `read(2)` on a non-semaphore eventfd
//! does. A lost wake-up leaves the loop asleep with items queued while every producer has
//! finished: loom reports that as a deadlock, so these tests fail on it.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom \
//!       cargo test --release --test 'loom_*'`
#![cfg(loom)]

use std::collections::VecDeque;

use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;
use weir::rt::inject::Injector;

/// The loop's eventfd: a counter that writers add to and the loop reads-and-resets.
#[derive(Default)]
struct EventFd {
    count: Mutex<u64>,
    readable: Condvar,
}

impl EventFd {
    fn write(&self) {
        *self.count.lock().unwrap() += 1;
        self.readable.notify_one();
    }

    /// Blocks while the counter is zero, then returns its value and resets it.
    fn read(&self) -> u64 {
        let mut count = self.count.lock().unwrap();
        while *count == 0 {
            count = self.readable.wait(count).unwrap();
        }
        std::mem::take(&mut *count)
    }
}

/// The two halves of the wake path that the model needs: push-and-signal, and drain.
trait Queue<T>: Send + Sync + 'static {
    fn push(&self, item: T) -> bool;
    fn drain_into(&self, out: &mut VecDeque<T>);
}

impl<T: Send + 'static> Queue<T> for Injector<T> {
    fn push(&self, item: T) -> bool {
        Injector::push(self, item)
    }
    fn drain_into(&self, out: &mut VecDeque<T>) {
        Injector::drain_into(self, out)
    }
}

/// `producers[i]` items are pushed by producer thread `i`; the model thread is the loop. Asserts
/// every item is drained exactly once, in per-producer order, and that the eventfd never holds
/// more than one write when the loop reads it (one write per drain cycle).
fn wake_path<Q: Queue<(usize, usize)>>(queue: Q, producers: &'static [usize]) {
    let queue = Arc::new(queue);
    let efd = Arc::new(EventFd::default());
    let handles: Vec<_> = producers
        .iter()
        .enumerate()
        .map(|(p, &count)| {
            let (queue, efd) = (queue.clone(), efd.clone());
            thread::spawn(move || {
                for i in 0..count {
                    if queue.push((p, i)) {
                        efd.write();
                    }
                }
            })
        })
        .collect();

    let total: usize = producers.iter().sum();
    let mut next = vec![0; producers.len()];
    let mut out = VecDeque::new();
    let mut drained = 0;
    while drained < total {
        assert_eq!(
            efd.read(),
            1,
            "more than one eventfd write in one drain cycle"
        );
        queue.drain_into(&mut out);
        for (p, i) in out.drain(..) {
            assert_eq!(
                next[p], i,
                "producer {p}'s items out of order or duplicated"
            );
            next[p] += 1;
            drained += 1;
        }
    }
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn two_producers_one_item_each() {
    loom::model(|| wake_path(Injector::new(), &[1, 1]));
}

#[test]
fn one_producer_two_items_races_the_drain() {
    loom::model(|| wake_path(Injector::new(), &[2]));
}

#[test]
fn two_producers_three_items() {
    loom::model(|| wake_path(Injector::new(), &[2, 1]));
}

/// Four threads: the costliest model here (about 2 minutes at 3 preemptions on a loaded 2-core
/// machine), so it is capped at 2 preemptions whatever `LOOM_MAX_PREEMPTIONS` says; the
/// two-thread cases above carry the deeper search.
#[test]
fn three_producers_one_item_each() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(builder.preemption_bound.map_or(2, |bound| bound.min(2)));
    builder.check(|| wake_path(Injector::new(), &[1, 1, 1]));
}

/// A deliberately broken injector: it clears the flag *after* draining, so a push that lands
/// between the drain and the clear sees `true`, does not signal, and its item is stranded.
#[derive(Default)]
struct ClearsFlagLast<T> {
    queue: Mutex<VecDeque<T>>,
    notified: AtomicBool,
}

impl<T: Send + 'static> Queue<T> for ClearsFlagLast<T> {
    fn push(&self, item: T) -> bool {
        self.queue.lock().unwrap().push_back(item);
        !self.notified.swap(true, Ordering::AcqRel)
    }
    fn drain_into(&self, out: &mut VecDeque<T>) {
        out.append(&mut self.queue.lock().unwrap());
        self.notified.store(false, Ordering::Release);
    }
}

/// Proof that the model can fail: loom must find the stranded item (it reports a deadlock, which
/// may abort the process, hence ignored; run it by name with `--ignored`).
#[test]
#[ignore = "deliberately broken; must fail"]
fn broken_injector_is_caught() {
    loom::model(|| {
        wake_path(
            ClearsFlagLast {
                queue: Mutex::new(VecDeque::new()),
                notified: AtomicBool::new(false),
            },
            &[2],
        )
    });
}

/// How the loop clears a task's `scheduled` flag before polling it.
#[derive(Clone, Copy)]
enum Clear {
    /// `swap(false, AcqRel)`: a read-modify-write, so it reads a racing wake's `true` and
    /// synchronises with it.
    Swap,
    /// `store(false, Release)`: reads nothing, so a wake that lands just before it is neither
    /// re-queued nor guaranteed visible to the poll that follows (store-load reordering).
    Store,
}

/// The whole cross-thread wake of one task, as the executor does it: each foreign thread
/// publishes its readiness flag (`Release`), then wakes the task: `scheduled.swap(true)`, and
/// only if that flipped it, push the task onto the injector and write the eventfd if told to.
/// The loop clears `scheduled` before each poll; the poll completes once it sees every flag.
/// A lost wake-up leaves the loop asleep: loom reports a deadlock.
fn task_wake(clear: Clear, wakers: usize) {
    let scheduled = Arc::new(AtomicBool::new(true)); // spawned: already queued locally
    let flags: Arc<Vec<AtomicBool>> =
        Arc::new((0..wakers).map(|_| AtomicBool::new(false)).collect());
    let injector = Arc::new(Injector::new());
    let efd = Arc::new(EventFd::default());
    let threads: Vec<_> = (0..wakers)
        .map(|i| {
            let (scheduled, flags) = (scheduled.clone(), flags.clone());
            let (injector, efd) = (injector.clone(), efd.clone());
            thread::spawn(move || {
                flags[i].store(true, Ordering::Release);
                if !scheduled.swap(true, Ordering::AcqRel) && injector.push(()) {
                    efd.write();
                }
            })
        })
        .collect();

    let mut ready = VecDeque::from([()]);
    loop {
        if ready.pop_front().is_some() {
            match clear {
                Clear::Swap => drop(scheduled.swap(false, Ordering::AcqRel)),
                Clear::Store => scheduled.store(false, Ordering::Release),
            }
            if flags.iter().all(|f| f.load(Ordering::Acquire)) {
                break;
            }
            continue;
        }
        efd.read();
        injector.drain_into(&mut ready);
    }
    threads.into_iter().for_each(|t| t.join().unwrap());
}

#[test]
fn task_woken_from_another_thread_is_polled_again() {
    loom::model(|| task_wake(Clear::Swap, 1));
}

#[test]
fn task_woken_from_two_threads_is_polled_again() {
    loom::model(|| task_wake(Clear::Swap, 2));
}

/// Proof that the task-level model can fail, and a finding about the executor: clearing
/// `scheduled` with a plain store loses a wake-up that races the clear.
#[test]
#[ignore = "deliberately broken; must fail"]
fn clearing_scheduled_with_a_store_loses_wakeups() {
    loom::model(|| task_wake(Clear::Store, 1));
}

/// A task's waker as the executor builds it: the `scheduled` flag, then the injector and the
/// eventfd of the loop the task lives on.
struct TaskWaker {
    scheduled: AtomicBool,
    injector: Injector<()>,
    efd: EventFd,
}

impl std::task::Wake for TaskWaker {
    fn wake(self: std::sync::Arc<Self>) {
        if !self.scheduled.swap(true, Ordering::AcqRel) && self.injector.push(()) {
            self.efd.write();
        }
    }
}

/// The async lock's hand-off to a task on another loop: a foreign thread drops the permit,
/// which grants it to the task queued on the modelled loop and wakes it through the injector.
/// The task must be polled again and get the permit, with either way of clearing `scheduled`
/// (the semaphore's mutex orders the grant before the poll that reads it).
fn lock_wakes_a_task_on_another_loop(clear: Clear) {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};
    use weir::rt::sync::Semaphore;

    let sem = std::sync::Arc::new(Semaphore::new(1));
    let held = sem.clone().try_acquire_owned().unwrap();
    let task = std::sync::Arc::new(TaskWaker {
        scheduled: AtomicBool::new(true),
        injector: Injector::new(),
        efd: EventFd::default(),
    });
    let releaser = thread::spawn(move || drop(held));
    let waker = Waker::from(task.clone());
    let mut acquire = sem.clone().acquire_owned();
    let mut ready = VecDeque::from([()]);
    loop {
        if ready.pop_front().is_some() {
            match clear {
                Clear::Swap => drop(task.scheduled.swap(false, Ordering::AcqRel)),
                Clear::Store => task.scheduled.store(false, Ordering::Release),
            }
            let poll = Pin::new(&mut acquire).poll(&mut Context::from_waker(&waker));
            if let Poll::Ready(permit) = poll {
                drop(permit.unwrap());
                break;
            }
            continue;
        }
        task.efd.read();
        task.injector.drain_into(&mut ready);
    }
    releaser.join().unwrap();
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn lock_hand_off_wakes_a_task_on_another_loop() {
    loom::model(|| lock_wakes_a_task_on_another_loop(Clear::Swap));
}

#[test]
fn lock_hand_off_is_safe_even_with_a_store_clear() {
    loom::model(|| lock_wakes_a_task_on_another_loop(Clear::Store));
}
