//! The runtime's sockets on real loopback connections: echo at scale, back-pressure, EOF,
//! reset, close while waiting, Unix sockets, vectored writes.

mod util;

use std::cell::Cell;
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use bytes::BytesMut;
use util::rt::{read_exact, run, spawn_echo_server, tcp_pair};
use weir::rt::net::{AsyncStream, TcpStream, UnixListener, UnixStream};
use weir::rt::spawn;

/// 1,000 client connections and their 1,000 server sides, all on one loop, each echoing
/// several messages whose bytes are checked.
#[test]
fn heavy_thousand_concurrent_connections_echo_on_one_loop() {
    const CONNS: usize = 1000;
    const ROUNDS: usize = 5;
    let _gate = util::fd_gate_shared();
    weir::rt::raise_fd_limit().unwrap();
    run(async {
        let addr = spawn_echo_server();
        let done = Rc::new(Cell::new(0usize));
        let clients: Vec<_> = (0..CONNS)
            .map(|i| {
                let done = done.clone();
                spawn(async move {
                    let mut s = TcpStream::connect(addr).await?;
                    for round in 0..ROUNDS {
                        let msg = util::pattern(100 + (i * 7 + round) % 900);
                        s.write_all(&msg).await?;
                        let mut back = vec![0u8; msg.len()];
                        read_exact(&mut s, &mut back).await?;
                        assert_eq!(back, msg, "connection {i} round {round}");
                    }
                    done.set(done.get() + 1);
                    io::Result::Ok(())
                })
            })
            .collect();
        for c in clients {
            c.await.unwrap().unwrap();
        }
        assert_eq!(done.get(), CONNS);
        // 1,000 client sockets were dropped; their server sides see EOF and finish.
        let stats = weir::rt::loop_stats();
        assert!(stats.registered_fds <= CONNS + 1, "{stats:?}");
    });
}

/// 64 MiB in 1 MiB writes through a 64 KiB send buffer to a reader that pauses: partial
/// writes and EPOLLOUT carry the whole stream, in order. (A 4 KiB buffer works too but
/// loopback TCP with a buffer below its 64 KiB MSS waits on delayed ACKs: ~10 s per 1 MiB.)
#[test]
fn heavy_64_mib_write_to_slow_reader_completes() {
    const TOTAL: usize = 64 << 20;
    let _gate = util::fd_gate_shared();
    run(async {
        let (mut client, mut server) = tcp_pair().await;
        client.set_send_buffer_size(64 * 1024).unwrap();
        let writer = spawn(async move {
            let chunk = util::pattern(1 << 20);
            let mut short_writes = 0usize;
            for _ in 0..TOTAL / chunk.len() {
                let mut rest = &chunk[..];
                while !rest.is_empty() {
                    let n = client.write(rest).await?;
                    short_writes += usize::from(n < rest.len());
                    rest = &rest[n..];
                }
            }
            client.shutdown(std::net::Shutdown::Write)?;
            io::Result::Ok(short_writes)
        });
        let expected = util::pattern(1 << 20);
        let mut buf = vec![0u8; 64 * 1024];
        let mut received = 0usize;
        loop {
            let n = server.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            let mut at = received % expected.len();
            let mut rest = &buf[..n];
            while !rest.is_empty() {
                let take = rest.len().min(expected.len() - at);
                assert!(
                    rest[..take] == expected[at..at + take],
                    "bytes from {received}"
                );
                rest = &rest[take..];
                at = (at + take) % expected.len();
            }
            received += n;
            if received % (4 << 20) < n {
                weir::rt::time::sleep(Duration::from_millis(2)).await; // the slow part
            }
        }
        assert_eq!(received, TOTAL);
        let short_writes = writer.await.unwrap().unwrap();
        assert!(
            short_writes >= 64,
            "the send buffer filled up: {short_writes} short writes"
        );
    });
}

#[test]
fn peer_close_gives_eof_and_marks_hang_up() {
    let _gate = util::fd_gate_shared();
    run(async {
        let (mut client, mut server) = tcp_pair().await;
        server.write_all(b"last words").await.unwrap();
        drop(server);
        let mut buf = [0u8; 32];
        let n = client.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"last words");
        assert_eq!(client.read(&mut buf).await.unwrap(), 0);
        assert_eq!(client.read(&mut buf).await.unwrap(), 0, "EOF is sticky");
        assert!(client.peer_hung_up());
    });
}

#[test]
fn idle_peer_close_is_seen_without_a_read() {
    let _gate = util::fd_gate_shared();
    run(async {
        let (client, server) = tcp_pair().await;
        assert!(!client.peer_hung_up());
        drop(server);
        // Let the loop take the RDHUP edge (bounded: the test deadline fails a hang).
        while !client.peer_hung_up() {
            weir::rt::time::sleep(Duration::from_millis(1)).await;
        }
    });
}

#[test]
fn peer_reset_gives_an_error() {
    let _gate = util::fd_gate_shared();
    run(async {
        let (mut client, server) = tcp_pair().await;
        server.set_linger(Some(Duration::ZERO)).unwrap();
        server.close().unwrap();
        let mut buf = [0u8; 8];
        let err = client.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
        assert!(client.peer_hung_up());
    });
}

#[test]
fn write_to_reset_peer_is_an_error_not_a_signal() {
    let _gate = util::fd_gate_shared();
    run(async {
        let (mut client, server) = tcp_pair().await;
        server.set_linger(Some(Duration::ZERO)).unwrap();
        drop(server);
        let chunk = vec![0u8; 64 * 1024];
        let err = loop {
            if let Err(err) = client.write_all(&chunk).await {
                break err;
            }
        };
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
            ),
            "{err}"
        );
    });
}

/// A task blocked reading a shared stream is woken with an error when another task takes the
/// stream off the loop; it does not hang.
#[test]
fn disconnect_while_another_task_waits_wakes_it_with_an_error() {
    let _gate = util::fd_gate_shared();
    run(async {
        let (client, _server) = tcp_pair().await;
        let client = Rc::new(client);
        let reader = {
            let client = client.clone();
            spawn(async move {
                let mut buf = [0u8; 8];
                client.read_shared(&mut buf).await
            })
        };
        weir::rt::yield_now().await; // the reader is now waiting in its slot
        assert!(!reader.is_finished());
        client.disconnect().unwrap();
        let err = reader.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotConnected);
        let mut buf = [0u8; 1];
        assert!(
            client.read_shared(&mut buf).await.is_err(),
            "later I/O fails too"
        );
    });
}

/// Dropping a stream inside a task that another task's read borrows is impossible, so the
/// Drop path is checked through its effect: the fd leaves the loop's table.
#[test]
fn drop_and_close_deregister() {
    let _gate = util::fd_gate_shared();
    run(async {
        let base = weir::rt::loop_stats().registered_fds;
        let (a, b) = tcp_pair().await;
        assert_eq!(weir::rt::loop_stats().registered_fds, base + 2);
        drop(a);
        b.close().unwrap();
        assert_eq!(weir::rt::loop_stats().registered_fds, base);
    });
}

#[test]
fn connect_refused_is_an_error() {
    let _gate = util::fd_gate_shared();
    run(async {
        let addr = {
            let (l, addr) = util::rt::listener();
            l.close().unwrap();
            addr
        };
        let err = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    });
}

/// The first address refuses; the second (a listening echo server) is used.
#[test]
fn connect_any_tries_each_address_in_turn() {
    let _gate = util::fd_gate_shared();
    run(async {
        let refused = {
            let (l, addr) = util::rt::listener();
            l.close().unwrap();
            addr
        };
        let good = spawn_echo_server();
        let mut s = TcpStream::connect_any(&[refused, good]).await.unwrap();
        assert_eq!(s.peer_addr().unwrap(), good);
        s.write_all(b"2nd").await.unwrap();
        let mut buf = [0u8; 3];
        read_exact(&mut s, &mut buf).await.unwrap();
        assert_eq!(&buf, b"2nd");
        let err = TcpStream::connect_any(&[refused]).await.unwrap_err();
        assert_eq!(
            err.kind(),
            io::ErrorKind::ConnectionRefused,
            "the last error is returned"
        );
        assert!(TcpStream::connect_any(&[]).await.is_err());
    });
}

#[test]
fn connect_host_resolves_localhost() {
    let _gate = util::fd_gate_shared();
    run(async {
        let addr = spawn_echo_server();
        let mut s = TcpStream::connect_host("localhost", addr.port())
            .await
            .unwrap();
        assert!(s.nodelay().unwrap(), "TCP_NODELAY on by default");
        s.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        read_exact(&mut s, &mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
    });
}

#[test]
fn ipv6_loopback_echo() {
    let _gate = util::fd_gate_shared();
    run(async {
        let Ok(listener) = weir::rt::net::TcpListener::bind("[::1]:0".parse().unwrap()) else {
            eprintln!("no IPv6 loopback here; skipping");
            return;
        };
        let addr = listener.local_addr().unwrap();
        spawn(async move { util::rt::echo(listener.accept().await?.0).await });
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"six").await.unwrap();
        let mut buf = [0u8; 3];
        read_exact(&mut s, &mut buf).await.unwrap();
        assert_eq!(&buf, b"six");
        assert!(s.peer_addr().unwrap().is_ipv6());
    });
}

#[test]
fn vectored_write_all_and_read_buf() {
    let _gate = util::fd_gate_shared();
    run(async {
        let (mut client, mut server) = tcp_pair().await;
        let big = util::pattern(300_000);
        let sent = big.clone();
        let writer = spawn(async move {
            let mut bufs = [
                IoSlice::new(b""),
                IoSlice::new(b"head:"),
                IoSlice::new(&sent),
                IoSlice::new(b":tail"),
            ];
            client.write_all_vectored(&mut bufs).await?;
            client.shutdown(std::net::Shutdown::Write)?;
            io::Result::Ok(client)
        });
        let mut got = BytesMut::with_capacity(1024);
        while server.read_buf(&mut got).await.unwrap() > 0 {}
        assert_eq!(&got[..5], b"head:");
        assert_eq!(&got[5..5 + big.len()], &big[..]);
        assert_eq!(&got[5 + big.len()..], b":tail");
        writer.await.unwrap().unwrap();
    });
}

#[test]
fn unix_stream_echo_and_eof() {
    let _gate = util::fd_gate_shared();
    let dir = util::TempDir::new("weir-rt-unix");
    let path = dir.path().join("echo.sock");
    run(async {
        let listener = UnixListener::bind(&path).unwrap();
        assert_eq!(
            listener.local_addr().unwrap().as_deref(),
            Some(path.as_path())
        );
        spawn(async move { util::rt::echo(listener.accept().await?).await });
        let mut s = UnixStream::connect(&path).await.unwrap();
        assert_eq!(s.peer_addr().unwrap().as_deref(), Some(path.as_path()));
        assert_eq!(s.local_addr().unwrap(), None);
        let msg = util::pattern(200_000);
        let (mut r, w) = (vec![0u8; msg.len()], msg.clone());
        s.write_all(&w).await.unwrap();
        read_exact(&mut s, &mut r).await.unwrap();
        assert_eq!(r, msg);
        s.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(s.read(&mut [0u8; 4]).await.unwrap(), 0);
        s.close().unwrap();
    });
}

/// A read dropped while pending takes its waker out of the slot: readiness that arrives
/// afterwards wakes nobody (a stale waker would be woken), and a later read gets the data.
#[test]
fn dropped_read_future_leaves_no_waker_and_data_still_arrives() {
    struct CountWakes(AtomicUsize);
    impl Wake for CountWakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let _gate = util::fd_gate_shared();
    run(async {
        let (mut client, mut server) = tcp_pair().await;
        let mut buf = [0u8; 4];
        let wakes = Arc::new(CountWakes(AtomicUsize::new(0)));
        let waker = Waker::from(wakes.clone());
        let mut read = client.read(&mut buf);
        let polled = Pin::new(&mut read).poll(&mut Context::from_waker(&waker));
        assert!(polled.is_pending());
        drop(read);
        server.write_all(b"late").await.unwrap();
        // One loop turn: epoll reports the bytes and the reactor applies the readiness.
        weir::rt::yield_now().await;
        assert_eq!(wakes.0.load(Ordering::SeqCst), 0, "a stale waker was woken");
        read_exact(&mut client, &mut buf).await.unwrap();
        assert_eq!(&buf, b"late");
    });
}

/// Bind before connect: the peer sees the chosen local IP (Linux routes all of 127/8 to lo).
#[test]
fn connect_from_binds_the_local_ip_the_peer_sees() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap();
    let local: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    let (by_addr, by_host) = run(async move {
        let by_addr = TcpStream::connect_from((local, 0).into(), target)
            .await
            .unwrap();
        let by_host = TcpStream::connect_host_from(local, "127.0.0.1", target.port())
            .await
            .unwrap();
        (by_addr, by_host)
    });
    for stream in [by_addr, by_host] {
        let (_accepted, peer) = listener.accept().unwrap();
        assert_eq!(peer.ip(), local);
        assert_eq!(stream.local_addr().unwrap(), peer);
    }
}

/// A local address of the other family than every target address is an error, and nothing
/// reaches the listener.
#[test]
fn connect_from_a_mismatched_family_fails_without_connecting() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap();
    let v6: std::net::IpAddr = "::1".parse().unwrap();
    run(async move {
        let err = TcpStream::connect_from((v6, 0).into(), target)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
        let err = TcpStream::connect_host_from(v6, "127.0.0.1", target.port())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
    });
    listener.set_nonblocking(true).unwrap();
    let err = listener.accept().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
}
