//! The executor and timers: spawn/join/abort/detach, nesting, cross-thread wakes, timer
//! order and cleanup.

mod util;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use util::rt::{run, Oneshot};
use weir::rt::time::{sleep, sleep_until, timeout};
use weir::rt::{spawn, yield_now, JoinError, Runtime};

#[test]
fn spawned_tasks_run_in_fifo_order() {
    let order = run(async {
        let order = Rc::new(RefCell::new(Vec::new()));
        let handles: Vec<_> = (0..5)
            .map(|i| {
                let order = order.clone();
                spawn(async move { order.borrow_mut().push(i) })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        Rc::try_unwrap(order).unwrap().into_inner()
    });
    assert_eq!(order, [0, 1, 2, 3, 4]);
}

/// Aborting a task drops its future (its drop side effect is seen) and its handle reports
/// `Cancelled`; the task is gone from the loop.
#[test]
fn abort_drops_the_future_and_reports_cancelled() {
    struct SetOnDrop(Rc<Cell<bool>>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    // Not `run`: its own deadline timer would be counted.
    weir::rt::block_on(async {
        let timers_before = weir::rt::loop_stats().timers;
        let dropped = Rc::new(Cell::new(false));
        let guard = SetOnDrop(dropped.clone());
        let task = spawn(async move {
            let _guard = guard;
            sleep(Duration::from_secs(3600)).await;
            "never"
        });
        yield_now().await;
        assert!(!task.is_finished());
        task.abort();
        assert_eq!(task.await, Err(JoinError::Cancelled));
        assert!(dropped.get());
        let stats = weir::rt::loop_stats();
        assert_eq!(stats.tasks, 0, "{stats:?}");
        assert_eq!(
            stats.timers, timers_before,
            "the aborted task's timer was removed"
        );
    });
}

#[test]
fn dropping_the_handle_detaches_the_task() {
    run(async {
        let tx = Rc::new(Cell::new(0));
        let t = tx.clone();
        drop(spawn(async move {
            sleep(Duration::from_millis(1)).await;
            t.set(42);
        }));
        while tx.get() != 42 {
            yield_now().await;
            sleep(Duration::from_millis(1)).await;
        }
    });
}

#[test]
fn abort_after_completion_keeps_the_output() {
    run(async {
        let task = spawn(async { 7 });
        while !task.is_finished() {
            yield_now().await;
        }
        task.abort();
        assert_eq!(task.await, Ok(7));
    });
}

#[test]
#[should_panic(expected = "nested block_on")]
fn nested_block_on_panics() {
    weir::rt::block_on(async {
        weir::rt::block_on(async {});
    });
}

#[test]
fn runtime_is_reusable_and_keeps_pending_tasks() {
    let rt = Runtime::new().unwrap();
    let hit = Rc::new(Cell::new(false));
    let h = hit.clone();
    // The handle is returned unawaited on purpose: the task outlives this block_on.
    #[allow(clippy::async_yields_async)]
    let task = rt.block_on(async move {
        spawn(async move {
            yield_now().await;
            h.set(true);
        })
    });
    rt.block_on(async {
        task.await.unwrap();
    });
    assert!(hit.get());
}

#[test]
fn dropping_the_runtime_cancels_its_tasks() {
    let rt = Runtime::new().unwrap();
    #[allow(clippy::async_yields_async)]
    let task = rt.block_on(async { spawn(sleep(Duration::from_secs(3600))) });
    drop(rt);
    let rt2 = Runtime::new().unwrap();
    assert_eq!(rt2.block_on(task), Err(JoinError::Cancelled));
}

/// A value sent from another thread wakes the task through the injector and the eventfd.
#[test]
fn cross_thread_wake_reaches_the_loop() {
    let got = run(async {
        let shot = Oneshot::default();
        let sender = shot.clone();
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            sender.send(99u32);
        });
        let v = shot.await;
        thread.join().unwrap();
        v
    });
    assert_eq!(got, 99);
}

/// Four threads each wake 2,000 one-shots; every task on the loop gets its value.
#[test]
fn many_cross_thread_wakes_none_lost() {
    const THREADS: usize = 4;
    const PER: usize = 2000;
    let woken = run(async {
        let count = Rc::new(Cell::new(0usize));
        let mut shots = Vec::new();
        let mut tasks = Vec::new();
        for _ in 0..THREADS * PER {
            let shot = Oneshot::<usize>::default();
            shots.push(shot.clone());
            let count = count.clone();
            tasks.push(spawn(async move {
                shot.await;
                count.set(count.get() + 1);
            }));
        }
        yield_now().await; // every task is now waiting
        let threads: Vec<_> = shots
            .chunks(PER)
            .map(|c| c.to_vec())
            .map(|chunk| std::thread::spawn(move || chunk.iter().for_each(|s| s.send(1))))
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        for t in threads {
            t.join().unwrap();
        }
        count.get()
    });
    assert_eq!(woken, THREADS * PER);
}

/// A waker may be woken from a thread after the task finished: harmless.
#[test]
fn late_foreign_wake_of_a_finished_task_is_ignored() {
    let waker = run(async {
        let w = std::future::poll_fn(|cx| std::task::Poll::Ready(cx.waker().clone())).await;
        spawn(async {}).await.unwrap();
        w
    });
    std::thread::spawn(move || waker.wake()).join().unwrap();
}

/// Timers created out of order fire in deadline order (ties in creation order). The order is
/// only meaningful if every timer was registered before its deadline, so a scenario in which
/// the machine was too slow for that (valgrind) is rerun with a larger margin: no clock
/// threshold decides the verdict.
#[test]
fn timers_fire_in_deadline_order() {
    let order = [5, 50, 500, 5000]
        .into_iter()
        .find_map(|margin_ms| run(deadline_scenario(Duration::from_millis(margin_ms))))
        .expect("some margin let every timer register before its deadline");
    assert_eq!(order, ["z", "a", "b1", "b2", "c", "d"]);
}

/// The labels in firing order, or `None` if some task first ran after its deadline.
async fn deadline_scenario(margin: Duration) -> Option<Vec<&'static str>> {
    let order = Rc::new(RefCell::new(Vec::new()));
    let late = Rc::new(Cell::new(false));
    let base = Instant::now() + margin;
    let mut tasks = Vec::new();
    // Created out of order; two share a deadline (creation order breaks the tie).
    for (label, ms) in [
        ("c", 30),
        ("a", 10),
        ("d", 40),
        ("b1", 20),
        ("b2", 20),
        ("z", 0),
    ] {
        let (order, late) = (order.clone(), late.clone());
        tasks.push(spawn(async move {
            let deadline = base + Duration::from_millis(ms);
            if Instant::now() >= deadline {
                late.set(true);
            }
            sleep_until(deadline).await;
            order.borrow_mut().push(label);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let order = Rc::try_unwrap(order).unwrap().into_inner();
    (!late.get()).then_some(order)
}

#[test]
fn sleep_waits_at_least_its_duration() {
    run(async {
        let start = Instant::now();
        sleep(Duration::from_millis(15)).await;
        assert!(start.elapsed() >= Duration::from_millis(15));
    });
}

#[test]
fn timeout_gives_output_or_elapsed() {
    // Not `run`: its own deadline timer would be counted.
    weir::rt::block_on(async {
        let before = weir::rt::loop_stats().timers; // the test harness's own deadline
        assert_eq!(timeout(Duration::from_secs(10), async { 1 }).await, Ok(1));
        let slow = timeout(Duration::from_millis(1), sleep(Duration::from_secs(3600))).await;
        assert!(slow.is_err());
        assert_eq!(weir::rt::loop_stats().timers, before);
    });
}

#[test]
fn cancelled_timers_are_removed_from_the_loop() {
    run(async {
        let before = weir::rt::loop_stats().timers;
        for _ in 0..10_000 {
            let mut t = Box::pin(timeout(
                Duration::from_secs(60),
                std::future::pending::<()>(),
            ));
            let polled =
                std::future::poll_fn(|cx| std::task::Poll::Ready(t.as_mut().poll(cx))).await;
            assert!(polled.is_pending());
            assert_eq!(weir::rt::time::pending_timers(), before + 1);
        }
        assert_eq!(weir::rt::loop_stats().timers, before);
    });
}

/// An idle loop blocks in epoll_wait until the timer's deadline: a 200 ms sleep takes a
/// handful of loop turns, not thousands (a count of `epoll_wait` calls, not a clock).
#[test]
fn idle_loop_does_not_busy_poll() {
    let turns = run(async {
        let start = weir::rt::loop_stats().turns;
        sleep(Duration::from_millis(200)).await;
        weir::rt::loop_stats().turns - start
    });
    assert!(turns <= 4, "{turns} loop turns for one sleep");
}

use std::future::Future;
