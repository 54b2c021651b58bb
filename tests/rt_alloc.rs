//! Allocation counts, with a counting global allocator (this binary only): steady-state
//! echo round trips allocate nothing per poll; a million created-and-dropped timeouts leave
//! memory flat.

mod util;

#[global_allocator]
static GLOBAL: util::alloc::Counting = util::alloc::Counting;

use std::future::Future;
use std::task::Poll;
use std::time::Duration;

use util::alloc::{allocations, live_bytes, track, SERIAL};
use util::rt::{read_exact, tcp_pair};
use weir::rt::net::AsyncStream;
use weir::rt::spawn;

/// Echo ping-pong between two tasks on one loop: after a warm-up, 10,000 round trips (each
/// several polls, wakes, epoll turns and syscalls) allocate nothing.
#[test]
fn steady_state_round_trips_allocate_nothing() {
    let _serial = SERIAL.lock().unwrap();
    track(true);
    weir::rt::block_on(async {
        let (mut client, mut server) = tcp_pair().await;
        let echo = spawn(async move {
            let mut buf = [0u8; 64];
            loop {
                let n = server.read(&mut buf).await.unwrap();
                if n == 0 {
                    return;
                }
                server.write_all(&buf[..n]).await.unwrap();
            }
        });
        let mut round_trip = async |i: u32| {
            client.write_all(&i.to_le_bytes()).await.unwrap();
            let mut b = [0u8; 4];
            read_exact(&mut client, &mut b).await.unwrap();
            assert_eq!(u32::from_le_bytes(b), i);
        };
        for i in 0..1000 {
            round_trip(i).await;
        }
        let before = allocations();
        for i in 0..10_000 {
            round_trip(i).await;
        }
        let allocs = allocations() - before;
        assert_eq!(allocs, 0, "{allocs} allocations in 10,000 round trips");
        drop(client);
        echo.await.unwrap();
    });
}

/// A million timeouts, each polled (so its timer is registered) and dropped: the timer map
/// ends empty and live heap bytes end where they started.
#[test]
fn a_million_cancelled_timeouts_leave_memory_flat() {
    let _serial = SERIAL.lock().unwrap();
    track(true);
    weir::rt::block_on(async {
        let timers = weir::rt::loop_stats().timers;
        let live_before = live_bytes();
        let mut peak = 0;
        // Under valgrind (CI's memcheck pass) a million takes minutes; 50,000 still shows flatness.
        let count = if util::under_valgrind() {
            50_000
        } else {
            1_000_000u32
        };
        for i in 0..count {
            let mut t = std::pin::pin!(weir::rt::time::timeout(
                Duration::from_secs(60 + u64::from(i % 7)),
                std::future::pending::<()>()
            ));
            let polled = std::future::poll_fn(|cx| Poll::Ready(t.as_mut().poll(cx))).await;
            assert!(polled.is_pending());
            peak = peak.max(weir::rt::time::pending_timers());
        }
        assert_eq!(peak, timers + 1, "one timer at a time");
        assert_eq!(weir::rt::loop_stats().timers, timers);
        let grown = live_bytes() - live_before;
        assert!(grown <= 4096, "live heap grew by {grown} bytes");
    });
}
