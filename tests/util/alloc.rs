//! A counting global allocator, for the binaries that measure heap use (allocations per
//! operation, live bytes, peak, buffer-sized blocks). A binary opts in with
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: util::alloc::Counting = util::alloc::Counting;
//! ```
//!
//! and counts on the threads that call [`track`]`(true)` (so the test harness's own threads
//! do not count), or on every thread after [`track_all`]. Without the attribute nothing here
//! counts. Tests that count take [`SERIAL`] first: the counters are process-wide.
//!
//! # Invariants
//! - Every call is forwarded to [`System`] unchanged; the counters never change what is
//!   returned.
//! - The counting path allocates nothing (const thread-local, atomics only), so it cannot
//!   recurse into the allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};
use std::sync::Mutex;

/// The counting allocator.
pub struct Counting;

/// One counting test at a time.
pub static SERIAL: Mutex<()> = Mutex::new(());

thread_local! {
    /// Whether this thread's allocations are counted.
    static TRACKED: Cell<bool> = const { Cell::new(false) };
}

/// Count on every thread.
static TRACK_ALL: AtomicBool = AtomicBool::new(false);
/// Allocation calls (`alloc` and `realloc`).
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
/// Live bytes.
static LIVE: AtomicIsize = AtomicIsize::new(0);
/// The most live bytes seen.
static PEAK: AtomicIsize = AtomicIsize::new(0);
/// Live blocks of at least `BIG_MIN` bytes.
static BIG: AtomicIsize = AtomicIsize::new(0);
/// The size from which a block counts as big (never, by default).
static BIG_MIN: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Starts or stops counting this thread's allocations.
pub fn track(on: bool) {
    TRACKED.with(|t| t.set(on));
}

/// Counts every thread's allocations from now on.
pub fn track_all() {
    TRACK_ALL.store(true, Ordering::Relaxed);
}

/// Counts live blocks of at least `size` bytes in [`big_blocks`].
pub fn count_blocks_of_at_least(size: usize) {
    BIG_MIN.store(size, Ordering::Relaxed);
}

/// Allocation calls counted so far.
pub fn allocations() -> usize {
    ALLOCATIONS.load(Ordering::Relaxed)
}

/// Live bytes counted (allocated minus freed by counted threads).
pub fn live_bytes() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// The most live bytes seen.
pub fn peak_bytes() -> isize {
    PEAK.load(Ordering::Relaxed)
}

/// Live blocks of at least the [`count_blocks_of_at_least`] size.
pub fn big_blocks() -> isize {
    BIG.load(Ordering::Relaxed)
}

fn counted() -> bool {
    TRACK_ALL.load(Ordering::Relaxed) || TRACKED.try_with(Cell::get).unwrap_or(false)
}

/// Records a block of `size` bytes appearing (`sign` 1) or going (`sign` -1).
fn record(size: usize, sign: isize) {
    let live = LIVE.fetch_add(sign * size as isize, Ordering::Relaxed) + sign * size as isize;
    PEAK.fetch_max(live, Ordering::Relaxed);
    if size >= BIG_MIN.load(Ordering::Relaxed) {
        BIG.fetch_add(sign, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// counters are plain atomics and never affect what is returned.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counted() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            record(layout.size(), 1);
        }
        // SAFETY: forwarded as is (GlobalAlloc's contract is the caller's).
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if counted() {
            record(layout.size(), -1);
        }
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if counted() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            record(layout.size(), -1);
            record(new_size, 1);
        }
        // SAFETY: forwarded as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
