//! A slow resolver does not stall the loop: lookups run on helper threads. Its own test
//! binary, because the resolver hook is process-wide.

mod util;

use std::sync::{Condvar, Mutex};

use util::rt::{read_exact, run, spawn_echo_server};
use weir::rt::net::{resolve, set_resolve_hook_for_tests, AsyncStream, TcpStream};
use weir::rt::spawn;

/// Open while the hook may return.
static GATE: (Mutex<bool>, Condvar) = (Mutex::new(false), Condvar::new());

/// The hook: blocks lookups of `localhost` on their helper thread until the test opens the
/// gate (other names pass, so the other test of this binary is unaffected).
fn block_until_released(host: &str) {
    if host != "localhost" {
        return;
    }
    let (lock, cond) = &GATE;
    let mut open = lock.lock().unwrap();
    while !*open {
        open = cond.wait(open).unwrap();
    }
}

fn release() {
    let (lock, cond) = &GATE;
    *lock.lock().unwrap() = true;
    cond.notify_all();
}

/// While a lookup is stuck in the resolver, another task does 200 echo round trips on the
/// same loop; only then is the resolver released, and the lookup completes.
#[test]
fn slow_resolver_does_not_stall_other_tasks() {
    set_resolve_hook_for_tests(Some(block_until_released));
    run(async {
        let lookup = spawn(resolve("localhost", 80));
        let addr = spawn_echo_server();
        let mut s = TcpStream::connect(addr).await.unwrap();
        for i in 0..200u32 {
            s.write_all(&i.to_be_bytes()).await.unwrap();
            let mut back = [0u8; 4];
            read_exact(&mut s, &mut back).await.unwrap();
            assert_eq!(u32::from_be_bytes(back), i);
        }
        assert!(
            !lookup.is_finished(),
            "the lookup is still blocked in its helper thread"
        );
        release();
        let addrs = lookup.await.unwrap().unwrap();
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
    });
    set_resolve_hook_for_tests(None);
}

#[test]
fn literal_addresses_skip_the_resolver_and_bad_names_fail() {
    run(async {
        let v4 = resolve("127.0.0.1", 1).await.unwrap();
        assert_eq!(v4, ["127.0.0.1:1".parse().unwrap()]);
        let v6 = resolve("::1", 2).await.unwrap();
        assert_eq!(v6, ["[::1]:2".parse().unwrap()]);
        assert!(resolve("no-such-host.invalid", 80).await.is_err());
    });
}
