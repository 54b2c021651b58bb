//! Conformance of [`Semaphore`] to the generated reference model of the lock
//! (`crate::generated::lock`, from `model/lock.toml`).
//!
//! proptest drives the real semaphore and the model with the same event sequences over
//! [`TASKS`] tasks: acquire (create the future and poll it once), poll a granted waiter,
//! release, cancel before the wake (drop a queued future), cancel after the wake (drop a
//! granted one) and close. After every step the real state, read from the semaphore's
//! internals and the tasks' handles, must equal the model's: control state, free permits, each
//! task's state, the queue's order and length. Wake-ups are checked too: a queued task that
//! leaves the queue by anything but its own cancel is woken exactly once, and nobody else is.

use super::*;
use crate::generated::lock::{self, strategy, Event, Model, GRANTED, HOLDING, IDLE, QUEUED, TASKS};
use proptest::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Wake;

/// The number of tasks, as an index bound.
const N: usize = TASKS as usize;

/// What one task holds of the real semaphore.
enum Handle {
    /// Nothing.
    Idle,
    /// An acquire future that returned `Pending` (queued, or granted and not yet polled).
    Waiting(AcquireOwned),
    /// A permit (held only to be dropped by a release).
    Holding(#[allow(dead_code)] OwnedPermit),
}

/// Counts the wakes of one task's waker.
#[derive(Default)]
struct WakeCount(AtomicUsize);

impl Wake for WakeCount {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// The real side: a semaphore and [`TASKS`] tasks using it.
struct Harness {
    semaphore: Arc<Semaphore>,
    /// The model parameter the semaphore was built with.
    permits: i32,
    handles: [Handle; N],
    wakes: [Arc<WakeCount>; N],
}

impl Harness {
    fn new(permits: i32) -> Harness {
        Harness {
            semaphore: Arc::new(Semaphore::new(permits as usize)),
            permits,
            handles: std::array::from_fn(|_| Handle::Idle),
            wakes: std::array::from_fn(|_| Arc::default()),
        }
    }

    fn wake_counts(&self) -> [usize; N] {
        std::array::from_fn(|t| self.wakes[t].0.load(Ordering::SeqCst))
    }

    /// Polls task `t`'s acquire future with its own waker.
    fn poll(&mut self, t: usize, mut fut: AcquireOwned) -> Result<(), TestCaseError> {
        let waker = Waker::from(self.wakes[t].clone());
        self.handles[t] = match Pin::new(&mut fut).poll(&mut Context::from_waker(&waker)) {
            Poll::Pending => Handle::Waiting(fut),
            Poll::Ready(Ok(permit)) => Handle::Holding(permit),
            Poll::Ready(Err(Closed)) => Handle::Idle,
        };
        Ok(())
    }

    /// Whether the real code can take `event` now (the model must agree).
    fn can(&self, event: Event) -> bool {
        let state = self.semaphore.lock();
        match event {
            Event::Acquire { t } => matches!(self.handles[t as usize], Handle::Idle),
            Event::Poll { t } => match &self.handles[t as usize] {
                Handle::Waiting(fut) => ticket(fut).is_some_and(|k| state.granted.contains(&k)),
                _ => false,
            },
            Event::Release { t } => matches!(self.handles[t as usize], Handle::Holding(_)),
            Event::Cancel { t } => matches!(self.handles[t as usize], Handle::Waiting(_)),
            Event::Close => !state.closed,
        }
    }

    /// Drives the real code through `event`, which [`Harness::can`] allowed.
    fn apply(&mut self, event: Event) -> Result<(), TestCaseError> {
        match event {
            Event::Acquire { t } => {
                let fut = self.semaphore.clone().acquire_owned();
                self.poll(t as usize, fut)?;
            }
            Event::Poll { t } => {
                let Handle::Waiting(fut) =
                    mem::replace(&mut self.handles[t as usize], Handle::Idle)
                else {
                    return Err(TestCaseError::fail("poll of a task with no future"));
                };
                self.poll(t as usize, fut)?;
                prop_assert!(matches!(self.handles[t as usize], Handle::Holding(_)));
            }
            Event::Release { t } | Event::Cancel { t } => {
                drop(mem::replace(&mut self.handles[t as usize], Handle::Idle));
            }
            Event::Close => {
                self.semaphore.close();
                self.settle_closed()?;
            }
        }
        Ok(())
    }

    /// After a close, the woken waiters poll (as their tasks would) and see `Closed`.
    fn settle_closed(&mut self) -> Result<(), TestCaseError> {
        for t in 0..N {
            let orphaned = match &self.handles[t] {
                Handle::Waiting(fut) => {
                    let state = self.semaphore.lock();
                    ticket(fut).is_some_and(|k| {
                        !state.queue.contains_key(&k) && !state.granted.contains(&k)
                    })
                }
                _ => false,
            };
            if orphaned {
                let Handle::Waiting(fut) = mem::replace(&mut self.handles[t], Handle::Idle) else {
                    unreachable!()
                };
                self.poll(t, fut)?;
                prop_assert!(
                    matches!(self.handles[t], Handle::Idle),
                    "a closed waiter got a permit"
                );
            }
        }
        Ok(())
    }

    /// The real state in the model's terms.
    fn observe(&self) -> Model {
        let state = self.semaphore.lock();
        let queue: Vec<u64> = state.queue.keys().copied().collect();
        let mut vars = lock::Vars::new(self.permits);
        vars.avail = state.permits as i32;
        vars.qlen = queue.len() as i32;
        for (t, handle) in self.handles.iter().enumerate() {
            let (st, pos) = match handle {
                Handle::Idle => (IDLE, 0),
                Handle::Holding(_) => (HOLDING, 0),
                Handle::Waiting(fut) => match ticket(fut) {
                    Some(k) if state.granted.contains(&k) => (GRANTED, 0),
                    Some(k) => match queue.iter().position(|&q| q == k) {
                        Some(i) => (QUEUED, i as i32 + 1),
                        None => (-1, 0), // neither queued nor granted: a bug
                    },
                    None => (-1, 0),
                },
            };
            vars.st[t] = st;
            vars.pos[t] = pos;
        }
        let control = if state.closed {
            lock::State::Closed
        } else {
            lock::State::Open
        };
        Model {
            state: control,
            vars,
        }
    }
}

/// The ticket of a pending acquire future.
fn ticket(fut: &AcquireOwned) -> Option<u64> {
    match fut.stage {
        Stage::Queued(k) => Some(k),
        _ => None,
    }
}

/// Which tasks the model says were woken by the step `before -> after`: those that left the
/// queue by anything other than their own cancel.
fn expected_wakes(before: &Model, after: &Model, event: Event) -> [usize; N] {
    std::array::from_fn(|t| {
        let left_queue = before.vars.st[t] == QUEUED && after.vars.st[t] != QUEUED;
        let own_cancel = event == Event::Cancel { t: t as i32 };
        usize::from(left_queue && !own_cancel)
    })
}

/// Runs `events` through both sides; events the model refuses must be impossible for the real
/// code too, and are skipped.
fn conforms(permits: i32, events: Vec<Event>) -> Result<(), TestCaseError> {
    let mut model = Model::new(permits);
    let mut real = Harness::new(permits);
    for event in events {
        prop_assert_eq!(
            real.can(event),
            model.allows(event),
            "{:?} in {:?}",
            event,
            model
        );
        if !model.allows(event) {
            continue;
        }
        let before = model.clone();
        let wakes_before = real.wake_counts();
        model
            .apply(event)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        real.apply(event)?;
        prop_assert_eq!(real.observe(), model.clone(), "after {:?}", event);
        let wakes_after = real.wake_counts();
        let woken: [usize; N] = std::array::from_fn(|t| wakes_after[t] - wakes_before[t]);
        prop_assert_eq!(
            woken,
            expected_wakes(&before, &model, event),
            "wakes after {:?}",
            event
        );
    }
    Ok(())
}

/// 2,000 cases per property unless `PROPTEST_CASES` says otherwise (CI's valgrind pass does).
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok());
    ProptestConfig::with_cases(cases.unwrap_or(2_000))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_lock_conforms_on_legal_runs(run in strategy::legal_run(Model::new(1), 60)) {
        conforms(1, run)?;
    }

    #[test]
    fn a_two_permit_semaphore_conforms_on_legal_runs(run in strategy::legal_run(Model::new(2), 60)) {
        conforms(2, run)?;
    }

    #[test]
    fn the_real_code_refuses_what_the_model_refuses(run in strategy::events(60)) {
        conforms(1, run)?;
    }
}

/// The cases the issue names, spelled out: cancel before the wake and after it.
#[test]
fn cancel_before_and_after_the_wake() {
    let (a, b, c) = (0, 1, 2);
    let run = vec![
        Event::Acquire { t: a },
        Event::Acquire { t: b },
        Event::Acquire { t: c },
        Event::Cancel { t: b },  // before its wake: unlinked
        Event::Release { t: a }, // c is granted
        Event::Cancel { t: c },  // after its wake: the permit goes back
        Event::Acquire { t: b },
        Event::Acquire { t: a },
        Event::Release { t: b }, // a is granted
        Event::Poll { t: a },
        Event::Acquire { t: c },
        Event::Close,
        Event::Release { t: a },
    ];
    conforms(1, run).unwrap();
}
