//! Heap per idle pooled connection, counted with a counting global allocator (this binary
//! only; only the client thread's allocations count, not the server's).
//!
//! N connections are made at once (the server delays each response so the requests overlap),
//! their bodies read, so N connections sit idle in the pool. The heap they hold is the live
//! heap with them idle minus the live heap after `close_idle()` closed them: the per-loop
//! buffer free list and the client itself are in both and cancel out.

mod util;

#[global_allocator]
static GLOBAL: util::alloc::Counting = util::alloc::Counting;

use std::cell::RefCell;
use std::time::Duration;

use util::alloc::{allocations, live_bytes, track, SERIAL};
use util::hyper_server::{full, HyperServer};
use weir::client::Client;
use weir::conn::{connect, ConnConfig};
use weir::http::{Body, Request, RequestHead};

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
    track(true);
    let per_connection = weir::rt::block_on(async {
        let client = Client::builder()
            .max_connections_per_host(n)
            .max_idle_per_host(n)
            .build();
        let baseline = live_bytes();
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
        let with_idle = live_bytes();
        client.close_idle();
        weir::rt::yield_now().await;
        let without = live_bytes();
        let gross = (with_idle - baseline) / n as isize;
        println!("live heap growth per connection incl. the loop's tables and its buffer free list: {gross} bytes");
        (with_idle - without) / n as isize
    });
    track(false);
    println!("heap per idle pooled connection: {per_connection} bytes (n = {n})");
    assert!(per_connection > 0, "idle connections hold some heap");
    assert!(
        per_connection <= IDLE_HEAP_BUDGET,
        "{per_connection} bytes of heap per idle connection"
    );
    assert_eq!(server.connections(), n);
}

/// Steady state on a reused connection: the pooled client allocates no more per request than
/// one bare `Connection` does (the stale-connection retry needs no copy of the request: the
/// connection hands it back on failure), and memory does not grow, with and without an idle
/// timeout (the pool's reaper task is spawned once and waits without a timer while nothing
/// is idle: a connection coming back to an empty pool spawns nothing).
#[test]
fn a_request_on_a_reused_pooled_connection_allocates_no_more_than_on_a_bare_one() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let server = HyperServer::fixed(b"steady");
    let head = Request::get(&server.url("/"))
        .build()
        .unwrap()
        .into_parts()
        .0;
    track(true);
    let (bare, pooled, default) = weir::rt::block_on(async {
        let bare = bare_connection(&head).await;
        let client = Client::builder().idle_timeout(None).build();
        let pooled = pooled_client(&head, &client).await;
        let default = pooled_client(&head, &Client::new()).await;
        (bare, pooled, default)
    });
    track(false);
    println!(
        "allocations per request on a reused connection (2 are the test's request): \
         bare connection {:.2}, Client {:.2}, Client with an idle timeout {:.2}",
        bare.0, pooled.0, default.0
    );
    assert!(
        pooled.0 <= bare.0 + 0.05,
        "the client allocates {:.2} per request, a bare connection {:.2}",
        pooled.0,
        bare.0
    );
    assert!(
        default.0 <= bare.0 + 0.05,
        "with an idle timeout: {:.2} per request",
        default.0
    );
    for (what, (_, live)) in [("bare", bare), ("pooled", pooled), ("default", default)] {
        assert!(
            live < 64 * 1024,
            "{what}: memory grows by {live} bytes over 1,000 requests"
        );
    }
    assert_eq!(server.connections(), 3, "one bare, one per client");
}

/// [`per_request`] on one bare `Connection`, taken back from each body.
async fn bare_connection(head: &RequestHead) -> (f64, isize) {
    let origin = head.url().origin().clone();
    let conn = connect(&origin, &ConnConfig::default()).await.unwrap();
    let slot = RefCell::new(Some(conn));
    per_request(head, |req| {
        let idle = slot
            .borrow_mut()
            .take()
            .expect("the previous body gave it back");
        let slot = &slot;
        async move {
            let mut body = idle.send(req).await.unwrap().into_body();
            body.read_to_end().await.unwrap();
            *slot.borrow_mut() = Some(body.take_connection().expect("keep-alive"));
        }
    })
    .await
}

/// [`per_request`] through `client`.
async fn pooled_client(head: &RequestHead, client: &Client) -> (f64, isize) {
    per_request(head, |req| async move {
        let body = client.send(req).await.unwrap().into_body();
        body.bytes().await.unwrap();
    })
    .await
}

/// Allocations per request and live-heap growth over 1,000 requests, each made by `send`
/// from a fresh request whose head is a clone of `head` (2 allocations, the same for every
/// caller), after 10 warm-up requests.
async fn per_request<F, Fut>(head: &RequestHead, mut send: F) -> (f64, isize)
where
    F: FnMut(Request) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..10 {
        send(Request::from_parts(head.clone(), Body::Empty)).await;
    }
    let n = 1000;
    let (a0, l0) = (allocations(), live_bytes());
    for _ in 0..n {
        send(Request::from_parts(head.clone(), Body::Empty)).await;
    }
    let (a1, l1) = (allocations(), live_bytes());
    ((a1 - a0) as f64 / n as f64, l1 - l0)
}
