//! No fd leaks: a runtime, a listener, many connections (closed, dropped, reset, refused)
//! and the runtime itself leave `/proc/self/fd` as they found it. Its own test binary so
//! nothing else opens fds meanwhile.

mod util;

use std::time::Duration;

use util::rt::{read_exact, spawn_echo_server};
use weir::rt::net::{AsyncStream, TcpStream};
use weir::rt::{spawn, Runtime};

#[test]
fn runtime_and_sockets_leave_no_fd_behind() {
    let _gate = util::fd_gate_exclusive();
    // Warm up process-wide lazies (resolver threads hold no fds, but std may cache some).
    weir::rt::block_on(async {});
    let before = util::open_fds();
    {
        let rt = Runtime::new().unwrap();
        rt.block_on(async {
            let addr = spawn_echo_server();
            let mut tasks = Vec::new();
            for i in 0..50 {
                tasks.push(spawn(async move {
                    let mut s = TcpStream::connect(addr).await.unwrap();
                    s.write_all(b"abc").await.unwrap();
                    let mut b = [0u8; 3];
                    read_exact(&mut s, &mut b).await.unwrap();
                    match i % 3 {
                        0 => s.close().unwrap(),
                        1 => s.set_linger(Some(Duration::ZERO)).unwrap(),
                        _ => {}
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            let refused = {
                let (l, a) = util::rt::listener();
                drop(l);
                a
            };
            assert!(TcpStream::connect(refused).await.is_err());
            // A task left waiting forever: dropped with the runtime.
            let (c, _s) = util::rt::tcp_pair().await;
            spawn(async move {
                let mut c = c;
                let _ = c.read(&mut [0u8; 1]).await;
            });
            weir::rt::yield_now().await;
        });
        assert!(
            util::open_fds() > before,
            "the runtime holds its epoll and eventfd"
        );
    }
    assert_eq!(util::open_fds(), before, "fds leaked");
}
