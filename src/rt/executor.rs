//! The executor: one loop per thread, a FIFO ready queue, `block_on` and `spawn`.
//!
//! # How a turn goes
//! 1. Run every task that was ready when the turn began, in FIFO order (a task woken while
//!    it runs goes to the back and waits for the next turn, so one busy task cannot starve
//!    I/O).
//! 2. Ask the reactor for events: without blocking if work is ready, else until the nearest
//!    timer deadline (or forever). No busy polling.
//! 3. If the loop's eventfd fired, drain the cross-thread injection queue into the ready
//!    queue; fire expired timers.
//!
//! # Wakers
//! A task's waker is an `Arc<Header>` (`Send + Sync`, built once per task). Waking sets the
//! header's `scheduled` flag; only the wake that flips it enqueues the task, so a task is in
//! the queues at most once. On the loop's own thread the task goes straight onto the local
//! FIFO; from any other thread it goes through [`Injector`] and the eventfd is written once
//! per drain cycle.
//!
//! # Invariants
//! - `CURRENT` is set exactly while a `block_on` runs on this thread; a second `block_on`
//!   inside it panics (a nested loop would starve the outer one).
//! - A task's future is taken out of the task table while it is polled, so the table is never
//!   borrowed across user code; futures are dropped outside any borrow.
//! - Steady state allocates nothing: the queues keep their capacity, the waker is built once
//!   per task, and polling moves the boxed future out and back in.
//!
//! A spawned task's wrapper (`Finish`) projects its pin onto the user's future with one
//! `unsafe` block, as [`Timeout`](super::time::Timeout) does: no safe form exists without a
//! pin-projection crate, and the `async` block it replaces doubled every task's size.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

use super::reactor::Reactor;
use super::slab::Slab;
use super::time::Timers;
use crate::sys::eventfd::EventFd;

use super::inject::Injector;

/// The ready-queue name of the `block_on` future (never a task-table token).
const MAIN: u64 = u64::MAX;

thread_local! {
    /// The loop running on this thread, if any.
    static CURRENT: RefCell<Option<Rc<Core>>> = const { RefCell::new(None) };
}

/// What other threads can reach: the injection queue and the eventfd that wakes the loop.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Tasks woken from other threads.
    injector: Injector<u64>,
    /// Written once per drain cycle to wake `epoll_wait`.
    eventfd: EventFd,
}

/// A task's waker: its token, its scheduling flags and the loop it belongs to.
#[derive(Debug)]
struct Header {
    /// Task-table token, or [`MAIN`].
    token: u64,
    /// Set while the task sits in a ready queue (or the injector).
    scheduled: AtomicBool,
    /// Set by `JoinHandle::abort`; the loop then drops the future instead of polling it.
    aborted: AtomicBool,
    /// The loop this task runs on.
    shared: Arc<Shared>,
}

impl Wake for Header {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        if !push_local(&self.shared, self.token) && self.shared.injector.push(self.token) {
            // A failed eventfd write leaves nothing to do; it cannot fail on a valid eventfd.
            let _ = self.shared.eventfd.notify();
        }
    }
}

/// Pushes `token` onto the local FIFO if this thread is running the loop `shared` belongs to.
fn push_local(shared: &Arc<Shared>, token: u64) -> bool {
    CURRENT
        .try_with(|current| match &*current.borrow() {
            Some(core) if Arc::ptr_eq(&core.shared, shared) => {
                core.ready.borrow_mut().push_back(token);
                true
            }
            _ => false,
        })
        .unwrap_or(false)
}

/// A spawned task.
struct Task {
    /// The future; `None` while it is being polled.
    future: Option<Pin<Box<dyn Future<Output = ()>>>>,
    /// Built once at spawn; taken out (with the future) while the task is polled.
    waker: Option<Waker>,
    /// Shared with the waker and the `JoinHandle`.
    header: Arc<Header>,
}

/// The task table: tokens are its keys.
type Tasks = Slab<Task>;

/// One thread's loop: reactor, timers, tasks and queues.
pub(crate) struct Core {
    /// The epoll instance and waiter table.
    pub(crate) reactor: Reactor,
    /// Pending timers.
    pub(crate) timers: RefCell<Timers>,
    /// Reachable from other threads.
    shared: Arc<Shared>,
    /// Tokens of tasks ready to run, FIFO.
    ready: RefCell<VecDeque<u64>>,
    /// Reused buffer the injector drains into.
    injected: RefCell<VecDeque<u64>>,
    /// Spawned tasks.
    tasks: RefCell<Tasks>,
    /// How many times the loop has waited on epoll.
    turns: Cell<u64>,
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core")
            .field("tasks", &self.tasks.borrow().len())
            .field("ready", &self.ready.borrow().len())
            .finish_non_exhaustive()
    }
}

/// The running loop of this thread.
///
/// # Panics
/// Outside a running [`Runtime::block_on`], with a message naming `what`.
pub(crate) fn current(what: &str) -> Rc<Core> {
    CURRENT.with(|c| c.borrow().clone()).unwrap_or_else(|| {
        panic!("weir: {what} must be called inside a running weir runtime (Runtime::block_on)")
    })
}

/// A single-threaded event loop: epoll reactor, timers and a FIFO executor.
///
/// One per thread; it is `!Send` because tasks and I/O objects hold `Rc`s to it.
///
/// # Examples
/// ```
/// let rt = weir::rt::Runtime::new()?;
/// let answer = rt.block_on(async {
///     let task = weir::rt::spawn(async { 40 + 2 });
///     task.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Runtime {
    /// The loop state, shared with the I/O objects and timers created on it.
    core: Rc<Core>,
    /// `!Send` (and `!Sync`): the core is full of `Rc` and `RefCell`.
    _not_send: PhantomData<Rc<()>>,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime").field("core", &self.core).finish()
    }
}

impl Runtime {
    /// Creates a loop: an epoll instance and a wake-up eventfd.
    pub fn new() -> io::Result<Runtime> {
        let reactor = Reactor::new()?;
        let shared = Arc::new(Shared {
            injector: Injector::new(),
            eventfd: EventFd::new()?,
        });
        reactor.register_waker_fd(std::os::fd::AsFd::as_fd(&shared.eventfd))?;
        let core = Rc::new(Core {
            reactor,
            timers: RefCell::new(Timers::default()),
            shared,
            ready: RefCell::new(VecDeque::with_capacity(64)),
            injected: RefCell::new(VecDeque::with_capacity(64)),
            tasks: RefCell::new(Tasks::default()),
            turns: Cell::new(0),
        });
        Ok(Runtime {
            core,
            _not_send: PhantomData,
        })
    }

    /// Runs `future` to completion on this thread, running spawned tasks, I/O and timers
    /// meanwhile. Tasks still pending when it returns stay in the runtime (a later
    /// `block_on` resumes them) until the runtime is dropped.
    ///
    /// # Panics
    /// If called while a weir loop is already running on this thread (nested `block_on`),
    /// or if `epoll_wait` fails (only possible if the epoll fd was closed behind our back).
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _enter = Enter::new(&self.core);
        let mut future = std::pin::pin!(future);
        let main = Arc::new(Header {
            token: MAIN,
            scheduled: AtomicBool::new(true),
            aborted: AtomicBool::new(false),
            shared: self.core.shared.clone(),
        });
        let waker = Waker::from(main.clone());
        let mut cx = Context::from_waker(&waker);
        self.core.ready.borrow_mut().push_back(MAIN);
        loop {
            let batch = self.core.ready.borrow().len();
            for _ in 0..batch {
                let Some(token) = self.core.pop_ready() else {
                    break;
                };
                if token != MAIN {
                    self.core.run_task(token);
                    continue;
                }
                main.scheduled.swap(false, Ordering::AcqRel);
                if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                    return out;
                }
            }
            self.core.park();
        }
    }
}

/// Sets `CURRENT` for the duration of a `block_on`; unsets it on exit and on unwind.
struct Enter {
    /// The core it was set to.
    core: Rc<Core>,
}

impl Enter {
    fn new(core: &Rc<Core>) -> Enter {
        CURRENT.with(|c| {
            let mut c = c.borrow_mut();
            if c.is_some() {
                panic!(
                    "weir: block_on called inside a running weir runtime (nested block_on); \
                     use spawn(..) or .await instead"
                );
            }
            *c = Some(core.clone());
        });
        Enter { core: core.clone() }
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        // The ready queue may name MAIN; it belongs to this block_on only.
        self.core.ready.borrow_mut().retain(|&t| t != MAIN);
        let _ = CURRENT.try_with(|c| c.borrow_mut().take());
    }
}

impl Core {
    fn pop_ready(&self) -> Option<u64> {
        self.ready.borrow_mut().pop_front()
    }

    /// Polls one task (or drops it if aborted); removes it when done.
    fn run_task(&self, token: u64) {
        let taken = {
            let mut tasks = self.tasks.borrow_mut();
            let Some(task) = tasks.get_mut(token) else {
                return; // finished or aborted since it was queued
            };
            task.header.scheduled.swap(false, Ordering::AcqRel);
            let aborted = task.header.aborted.load(Ordering::Acquire);
            (task.future.take(), task.waker.take(), aborted)
        };
        let (Some(mut future), Some(waker), aborted) = taken else {
            return; // polled re-entrantly: cannot happen, the table is never borrowed in poll
        };
        let done = aborted
            || future
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_ready();
        if done {
            let task = self.tasks.borrow_mut().remove(token);
            drop((future, waker, task));
        } else if let Some(task) = self.tasks.borrow_mut().get_mut(token) {
            task.future = Some(future);
            task.waker = Some(waker);
        }
    }

    /// Waits for I/O, timers or cross-thread wakes, then queues what became ready.
    fn park(&self) {
        let deadline = self.timers.borrow().next_deadline();
        let timeout = if !self.ready.borrow().is_empty() {
            Some(std::time::Duration::ZERO)
        } else {
            deadline.map(|d| d.saturating_duration_since(Instant::now()))
        };
        self.turns.set(self.turns.get() + 1);
        let turn = match self.reactor.turn(timeout) {
            Ok(turn) => turn,
            Err(err) => panic!("weir: epoll_wait failed: {err}"),
        };
        if turn.woken_from_outside {
            self.drain_injector();
        }
        // No timers, no clock read.
        if deadline.is_some() || self.timers.borrow().len() > 0 {
            super::time::fire_expired(&self.timers, Instant::now());
        }
    }

    /// Moves tasks woken from other threads onto the ready queue.
    fn drain_injector(&self) {
        let _ = self.shared.eventfd.drain();
        let mut injected = self.injected.borrow_mut();
        self.shared.injector.drain_into(&mut injected);
        self.ready.borrow_mut().extend(injected.drain(..));
    }

    /// Adds a task and queues its first poll.
    fn spawn_boxed(&self, future: Pin<Box<dyn Future<Output = ()>>>) -> Arc<Header> {
        let mut tasks = self.tasks.borrow_mut();
        let header = Arc::new(Header {
            token: tasks.next_key(),
            scheduled: AtomicBool::new(true),
            aborted: AtomicBool::new(false),
            shared: self.shared.clone(),
        });
        let token = tasks.insert(Task {
            future: Some(future),
            waker: Some(Waker::from(header.clone())),
            header: header.clone(),
        });
        self.ready.borrow_mut().push_back(token);
        header
    }

    /// Drops every task (outside the table's borrow), breaking `Rc` cycles through it.
    fn drop_all_tasks(&self) {
        loop {
            let tasks = std::mem::take(&mut *self.tasks.borrow_mut());
            if tasks.len() == 0 {
                break;
            }
            drop(tasks);
        }
        self.ready.borrow_mut().clear();
    }

    /// How many spawned tasks have not finished.
    pub(crate) fn task_count(&self) -> usize {
        self.tasks.borrow().len()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.core.drop_all_tasks();
    }
}

/// Spawns `future` onto this thread's running loop; it runs concurrently with the caller.
///
/// The future need not be `Send`. Awaiting the returned [`JoinHandle`] gives its output;
/// dropping the handle detaches the task. A panic inside the task is not caught: it unwinds
/// out of the `block_on` that polled it (one thread, one loop).
///
/// # Panics
/// Outside a running [`Runtime::block_on`].
///
/// # Examples
/// ```
/// weir::rt::block_on(async {
///     let shared = std::rc::Rc::new(5); // !Send is fine
///     let s = shared.clone();
///     let task = weir::rt::spawn(async move { *s * 2 });
///     assert_eq!(task.await.unwrap(), 10);
/// });
/// ```
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let core = current("spawn");
    let cell = Rc::new(JoinCell::<F::Output>::default());
    let guard = CancelOnDrop(cell.clone());
    let header = core.spawn_boxed(Box::pin(Finish {
        future: Some(future),
        guard,
    }));
    JoinHandle { cell, header }
}

/// A spawned task's future: runs the user's future, then records its output.
///
/// Written by hand rather than as an `async move` block: such a block keeps the captured
/// future and the one it awaits in two separate slots, which doubled the size of every task
/// (8 KiB instead of 4 KiB per in-flight `Client::send`).
struct Finish<F: Future> {
    /// The user's future (structurally pinned); `None` once it has completed.
    future: Option<F>,
    /// Receives the output; reports the task cancelled if dropped first.
    guard: CancelOnDrop<F::Output>,
}

impl<F: Future> Future for Finish<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `future` is structurally pinned: it is never moved out of `self` (it is only
        // dropped in place, by `Pin::set`), `Finish` has no `Drop` and no `Unpin` impl beyond
        // the auto one (which requires `F: Unpin`). `guard` is only used by shared reference.
        let (mut future, guard) = unsafe {
            let this = self.get_unchecked_mut();
            (Pin::new_unchecked(&mut this.future), &this.guard)
        };
        let Some(running) = future.as_mut().as_pin_mut() else {
            return Poll::Ready(());
        };
        let Poll::Ready(out) = running.poll(cx) else {
            return Poll::Pending;
        };
        future.set(None); // dropped before anyone hears of the output, as an `async` block does
        guard.0.finish(Ok(out));
        Poll::Ready(())
    }
}

/// Runs `future` to completion on a new [`Runtime`] for this thread.
///
/// # Panics
/// If the runtime cannot be created (no fds left), or as [`Runtime::block_on`].
///
/// # Examples
/// ```
/// let n = weir::rt::block_on(async { 1 + 1 });
/// assert_eq!(n, 2);
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    match Runtime::new() {
        Ok(rt) => rt.block_on(future),
        Err(err) => panic!("weir: cannot create a runtime: {err}"),
    }
}

/// Why a task produced no output.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoinError {
    /// The task was aborted, or its runtime was dropped before it finished.
    Cancelled,
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the task was cancelled before it finished")
    }
}

impl std::error::Error for JoinError {}

/// Shared between a task and its `JoinHandle`.
struct JoinCell<T> {
    /// The output, until the handle takes it.
    result: RefCell<Option<Result<T, JoinError>>>,
    /// Whether the task finished (completed or cancelled).
    finished: Cell<bool>,
    /// The task awaiting the handle.
    waker: RefCell<Option<Waker>>,
}

impl<T> Default for JoinCell<T> {
    fn default() -> Self {
        JoinCell {
            result: RefCell::new(None),
            finished: Cell::new(false),
            waker: RefCell::new(None),
        }
    }
}

impl<T> JoinCell<T> {
    /// Records the outcome once and wakes the awaiting task (outside the borrow).
    fn finish(&self, result: Result<T, JoinError>) {
        if self.finished.replace(true) {
            return;
        }
        *self.result.borrow_mut() = Some(result);
        let waker = self.waker.borrow_mut().take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// Lives inside the task's future: dropping the future unfinished marks it cancelled.
struct CancelOnDrop<T>(Rc<JoinCell<T>>);

impl<T> Drop for CancelOnDrop<T> {
    fn drop(&mut self) {
        self.0.finish(Err(JoinError::Cancelled));
    }
}

/// An owned permission to await a spawned task's output.
///
/// Awaiting it gives `Ok(output)`, or `Err(JoinError::Cancelled)` if the task was aborted.
/// Dropping it detaches the task: it keeps running.
pub struct JoinHandle<T> {
    /// The task's outcome.
    cell: Rc<JoinCell<T>>,
    /// The task's header, to abort it.
    header: Arc<Header>,
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.cell.finished.get())
            .finish()
    }
}

impl<T> JoinHandle<T> {
    /// Cancels the task: its future is dropped at the loop's next turn (not polled again),
    /// and awaiting this handle gives `Err(JoinError::Cancelled)`. No effect once finished.
    pub fn abort(&self) {
        if !self.cell.finished.get() {
            self.header.aborted.store(true, Ordering::Release);
            self.header.wake_by_ref();
        }
    }

    /// Whether the task has finished (completed or cancelled).
    pub fn is_finished(&self) -> bool {
        self.cell.finished.get()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(result) = self.cell.result.borrow_mut().take() {
            return Poll::Ready(result);
        }
        if self.cell.finished.get() {
            panic!("weir: JoinHandle polled after it returned its output");
        }
        let mut waker = self.cell.waker.borrow_mut();
        match &*waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => *waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

/// Yields once: the current task goes to the back of the ready queue.
///
/// # Examples
/// ```
/// weir::rt::block_on(weir::rt::yield_now());
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future [`yield_now`] returns.
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    /// Whether it has yielded once.
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Counts describing the running loop; tests use them to show nothing leaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoopStats {
    /// Sockets registered with the reactor.
    pub registered_fds: usize,
    /// Spawned tasks not yet finished.
    pub tasks: usize,
    /// Pending timers.
    pub timers: usize,
    /// How many times the loop has waited on epoll (`epoll_wait` calls).
    pub turns: u64,
}

/// The running loop's [`LoopStats`].
///
/// # Panics
/// Outside a running weir runtime.
///
/// # Examples
/// ```
/// weir::rt::block_on(async {
///     assert_eq!(weir::rt::loop_stats().tasks, 0);
/// });
/// ```
pub fn loop_stats() -> LoopStats {
    let core = current("loop_stats");
    let timers = core.timers.borrow().len();
    LoopStats {
        registered_fds: core.reactor.registered(),
        tasks: core.task_count(),
        timers,
        turns: core.turns.get(),
    }
}

/// Whether a `block_on` is running on this thread, i.e. [`spawn`] would not panic (the
/// connection layer asks before spawning a drain from a `Drop`).
pub(crate) fn in_runtime() -> bool {
    CURRENT
        .try_with(|c| c.try_borrow().map(|c| c.is_some()).unwrap_or(false))
        .unwrap_or(false)
}
