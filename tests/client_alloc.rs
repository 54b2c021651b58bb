//! Heap per idle pooled connection, counted with a counting global allocator (this binary
//! only; only the client thread's allocations count, not the server's).
//!
//! N connections are made at once (the server delays each response so the requests overlap),
//! their bodies read, so N connections sit idle in the pool. The heap they hold is the live
//! heap with them idle minus the live heap after `close_idle()` closed them: the per-loop
//! buffer free list and the client itself are in both and cancel out.

mod util;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use util::hyper_server::{full, HyperServer};
use weir::client::Client;

struct Counting;

thread_local! {
    /// Whether this thread's allocations are counted.
    static TRACKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn tracked() -> bool {
    TRACKED.try_with(|t| t.get()).unwrap_or(false)
}

static LIVE: AtomicIsize = AtomicIsize::new(0);
static ALLOCS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// One counting test at a time (the harness runs tests on threads, the counters are global).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

// SAFETY: defers every call to `System` unchanged; the counter is a plain atomic.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if tracked() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if tracked() {
            LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        if tracked() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
            LIVE.fetch_add(new as isize - layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The budget of issue #5: at most 1 KiB of heap per idle pooled connection.
const IDLE_HEAP_BUDGET: isize = 1024;

#[test]
fn an_idle_pooled_connection_holds_at_most_1_kib_of_heap() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let n: usize = if util::under_valgrind() { 20 } else { 200 };
    let _ = weir::rt::raise_fd_limit();
    let server = HyperServer::start(|_req| async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        hyper::Response::new(full("idle"))
    });
    let url = server.url("/");
    TRACKED.with(|t| t.set(true));
    let per_connection = weir::rt::block_on(async {
        let client = Client::builder()
            .max_connections_per_host(n)
            .max_idle_per_host(n)
            .build();
        let baseline = LIVE.load(Ordering::Relaxed);
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let (client, url) = (client.clone(), url.clone());
                weir::rt::spawn(async move {
                    let resp = client.get(&url).await.unwrap();
                    resp.into_body().bytes().await.unwrap();
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        weir::rt::yield_now().await; // let finished tasks be freed
        assert_eq!(
            client.pool_stats().total.idle,
            n,
            "{:?}",
            client.pool_stats()
        );
        let with_idle = LIVE.load(Ordering::Relaxed);
        client.close_idle();
        weir::rt::yield_now().await;
        let without = LIVE.load(Ordering::Relaxed);
        let gross = (with_idle - baseline) / n as isize;
        println!("live heap growth per connection incl. the loop's tables and its buffer free list: {gross} bytes");
        (with_idle - without) / n as isize
    });
    TRACKED.with(|t| t.set(false));
    println!("heap per idle pooled connection: {per_connection} bytes (n = {n})");
    assert!(per_connection > 0, "idle connections hold some heap");
    assert!(
        per_connection <= IDLE_HEAP_BUDGET,
        "{per_connection} bytes of heap per idle connection"
    );
    assert_eq!(server.connections(), n);
}

/// Steady state on a reused connection: allocations per request are bounded (and reported).
#[test]
fn a_request_on_a_reused_connection_allocates_a_bounded_amount() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let server = HyperServer::fixed(b"steady");
    let url = server.url("/");
    TRACKED.with(|t| t.set(true));
    let (allocs, live) = weir::rt::block_on(async {
        let client = Client::new();
        let req = weir::http::Request::get(&url).build().unwrap();
        for _ in 0..10 {
            let req = req.try_clone().unwrap();
            client
                .send(req)
                .await
                .unwrap()
                .into_body()
                .bytes()
                .await
                .unwrap();
        }
        let n = 1000;
        let (a0, l0) = (ALLOCS.load(Ordering::Relaxed), LIVE.load(Ordering::Relaxed));
        for _ in 0..n {
            let req = req.try_clone().unwrap();
            client
                .send(req)
                .await
                .unwrap()
                .into_body()
                .bytes()
                .await
                .unwrap();
        }
        let (a1, l1) = (ALLOCS.load(Ordering::Relaxed), LIVE.load(Ordering::Relaxed));
        ((a1 - a0) as f64 / n as f64, l1 - l0)
    });
    TRACKED.with(|t| t.set(false));
    println!(
        "allocations per request on a reused connection (incl. the request copy): {allocs:.2}"
    );
    assert!(
        allocs <= 12.0,
        "{allocs} allocations per request (9 when written)"
    );
    assert!(
        live < 64 * 1024,
        "memory grows by {live} bytes over 1,000 requests"
    );
    assert_eq!(server.connections(), 1);
}
