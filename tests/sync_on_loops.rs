//! The async lock and semaphore on real event loops: tasks on several threads' loops contend,
//! so every hand-off to a task on another loop goes through its injector and eventfd.
#![cfg(not(loom))]

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use weir::rt::sync::{Mutex, Semaphore};
use weir::rt::{block_on, spawn, time, yield_now};

#[test]
fn tasks_on_four_loops_share_one_mutex_without_losing_updates() {
    const LOOPS: u64 = 4;
    const TASKS: u64 = 8;
    const ROUNDS: u64 = 200;
    let counter = Arc::new(Mutex::new(0u64));
    let loops: Vec<_> = (0..LOOPS)
        .map(|_| {
            let counter = counter.clone();
            thread::spawn(move || {
                block_on(async move {
                    let tasks: Vec<_> = (0..TASKS)
                        .map(|_| spawn(add_rounds(counter.clone(), ROUNDS)))
                        .collect();
                    for task in tasks {
                        task.await.unwrap();
                    }
                })
            })
        })
        .collect();
    for l in loops {
        l.join().unwrap();
    }
    assert_eq!(*counter.try_lock().unwrap(), LOOPS * TASKS * ROUNDS);
}

/// Increments in two steps with a yield between, so the lock is held across a suspension and
/// the other tasks queue behind it.
async fn add_rounds(counter: Arc<Mutex<u64>>, rounds: u64) {
    for _ in 0..rounds {
        let mut guard = counter.lock().await;
        let seen = *guard;
        yield_now().await;
        *guard = seen + 1;
    }
}

#[test]
fn waiters_get_the_permit_in_arrival_order() {
    let order = block_on(async {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.clone().try_acquire_owned().unwrap();
        let order = Rc::new(RefCell::new(Vec::new()));
        let tasks: Vec<_> = (0..10)
            .map(|i| {
                let (sem, order) = (sem.clone(), order.clone());
                spawn(async move {
                    let _permit = sem.acquire().await.unwrap();
                    order.borrow_mut().push(i);
                    yield_now().await;
                })
            })
            .collect();
        // Let every task queue, then release from another thread.
        yield_now().await;
        thread::spawn(move || drop(held)).join().unwrap();
        for task in tasks {
            task.await.unwrap();
        }
        order.take()
    });
    assert_eq!(order, (0..10).collect::<Vec<_>>());
}

#[test]
fn a_lock_abandoned_by_timeout_does_not_strand_the_next_waiter() {
    block_on(async {
        let mutex = Rc::new(Mutex::new(()));
        let guard = mutex.try_lock().unwrap();
        let timed_out = time::timeout(Duration::from_millis(5), mutex.lock()).await;
        assert!(timed_out.is_err(), "the lock was held throughout");
        let next = {
            let mutex = mutex.clone();
            spawn(async move { drop(mutex.lock().await) })
        };
        yield_now().await;
        drop(guard);
        next.await.unwrap();
        assert!(mutex.try_lock().is_ok());
    });
}
