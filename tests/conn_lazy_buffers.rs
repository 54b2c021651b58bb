//! Requests in flight hold no read buffer while they wait (issue #5, "Memory"): a connection
//! takes its read buffer from the per-loop free list only once response bytes are ready, and
//! gives the request head's buffer back as soon as the head is written.
//!
//! A raw-socket peer on its own thread holds its answers until every request has arrived (or
//! until every body has started), so N requests really wait at once; while they do, the test
//! counts the live heap blocks at least as large as the client's read buffer (this binary has
//! a counting global allocator; only the loop thread's allocations count). The read buffer is
//! set to an unusual 48 KiB so that no other allocation of the test is that large. With a
//! buffer held per waiting request there would be N such blocks; there must be at most the
//! one the free list keeps.

mod util;

#[global_allocator]
static GLOBAL: util::alloc::Counting = util::alloc::Counting;

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::JoinHandle;
use std::time::Duration;

use util::alloc::{big_blocks, count_blocks_of_at_least, track, SERIAL};
use util::rt::Oneshot;
use weir::client::Client;
use weir::rt::net::AsyncStream;

/// The client's read buffer size in this binary: larger than anything else it allocates.
const BUFFER: usize = 48 * 1024;

/// How many requests wait at once.
fn in_flight() -> usize {
    if util::under_valgrind() {
        16
    } else {
        100
    }
}

/// A peer on its own thread: accepts `n` connections, reads one request head from each,
/// writes `first` to each, tells `arrived`, waits for `go`, writes `second` to each, then
/// holds the connections until the client closes them.
struct GatedPeer {
    /// Where it listens.
    addr: SocketAddr,
    /// Fires once every request head arrived and `first` was written.
    arrived: Oneshot<()>,
    /// Lets it write `second`.
    go: mpsc::Sender<()>,
    /// The peer thread.
    thread: Option<JoinHandle<()>>,
}

impl GatedPeer {
    fn start(n: usize, first: &'static [u8], second: &'static [u8]) -> GatedPeer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let arrived = Oneshot::default();
        let (go, gate) = mpsc::channel();
        let signal = arrived.clone();
        let thread = std::thread::spawn(move || {
            let mut conns: Vec<TcpStream> = (0..n).map(|_| accept_head(&listener)).collect();
            conns
                .iter_mut()
                .for_each(|c| c.write_all(first).expect("first"));
            signal.send(());
            if gate.recv().is_err() {
                return;
            }
            conns
                .iter_mut()
                .for_each(|c| c.write_all(second).expect("second"));
            for mut c in conns {
                let _ = c.read(&mut [0u8; 64]); // until the client closes it
            }
        });
        GatedPeer {
            addr,
            arrived,
            go,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

impl Drop for GatedPeer {
    fn drop(&mut self) {
        let _ = self.go.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Accepts one connection and reads its request head (requests here have no body).
fn accept_head(listener: &TcpListener) -> TcpStream {
    let (mut conn, _) = listener.accept().expect("accept");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            conn.read(&mut byte).expect("read head"),
            1,
            "head cut short"
        );
        head.push(byte[0]);
    }
    conn
}

fn client(n: usize) -> Client {
    Client::builder()
        .max_connections(n)
        .max_connections_per_host(n)
        .max_idle_per_host(n)
        .read_buffer_size(BUFFER)
        .build()
}

/// Runs `f` on a loop whose allocations are counted.
fn counted<T>(f: impl std::future::Future<Output = T>) -> T {
    let _ = weir::rt::raise_fd_limit();
    track(true);
    let out = util::rt::run(f);
    track(false);
    out
}

#[test]
fn requests_waiting_for_their_response_hold_no_read_buffer() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    count_blocks_of_at_least(BUFFER);
    let n = in_flight();
    let peer = GatedPeer::start(n, b"", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    let (waiting_big, waiting_free, idle) = counted(async {
        let client = client(n);
        let before = big_blocks();
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let (client, url) = (client.clone(), peer.url());
                weir::rt::spawn(async move {
                    let body = client.get(&url).await.expect("response").into_body();
                    assert_eq!(&body.bytes().await.expect("body")[..], b"ok");
                })
            })
            .collect();
        peer.arrived.clone().await;
        // Every request is written and waits for its head now.
        let waiting_big = big_blocks() - before;
        let waiting_free = weir::conn::buf::free_buffers();
        peer.go.send(()).expect("peer alive");
        for t in tasks {
            t.await.expect("request task");
        }
        (waiting_big, waiting_free, client.pool_stats().total.idle)
    });
    println!(
        "{n} requests waiting: {waiting_big} read buffers alive, {waiting_free} in the free list"
    );
    assert!(
        waiting_big <= 1,
        "{waiting_big} read-buffer-sized blocks alive while {n} requests waited (one each before the fix)"
    );
    assert_eq!(
        waiting_big as usize, waiting_free,
        "every buffer alive waits in the free list, none is held by a waiting request"
    );
    assert_eq!(idle, n, "every connection went back to the pool");
}

#[test]
fn bodies_waiting_for_more_bytes_hold_no_read_buffer() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    count_blocks_of_at_least(BUFFER);
    let n = in_flight();
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello";
    let peer = GatedPeer::start(n, head, b"world");
    let (waiting_big, idle) = counted(async {
        let client = client(n);
        let started = Rc::new(Cell::new(0));
        let all_started = Oneshot::default();
        let before = big_blocks();
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let (client, url) = (client.clone(), peer.url());
                let (started, all_started) = (started.clone(), all_started.clone());
                weir::rt::spawn(async move {
                    let mut body = client.get(&url).await.expect("response").into_body();
                    let first = body.next_chunk().await.expect("first chunk");
                    assert_eq!(first.as_deref(), Some(&b"hello"[..]));
                    drop(first);
                    started.set(started.get() + 1);
                    if started.get() == n {
                        all_started.send(());
                    }
                    assert_eq!(&body.read_to_end().await.expect("rest")[..], b"world");
                })
            })
            .collect();
        all_started.await;
        // Every body has half its bytes and waits for the rest now.
        let waiting_big = big_blocks() - before;
        peer.go.send(()).expect("peer alive");
        for t in tasks {
            t.await.expect("request task");
        }
        (waiting_big, client.pool_stats().total.idle)
    });
    println!("{n} bodies waiting: {waiting_big} read buffers alive");
    assert!(
        waiting_big <= 1,
        "{waiting_big} read-buffer-sized blocks alive while {n} bodies waited (one each before the fix)"
    );
    assert_eq!(idle, n, "every connection went back to the pool");
}

/// `poll_read_ready` waits for bytes without reading them, and stores the waker like a read.
#[test]
fn read_readiness_is_reported_without_consuming_bytes() {
    util::rt::run(async {
        let (mut client, mut server) = util::rt::tcp_pair().await;
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(
            client.poll_read_ready(&mut cx).is_pending(),
            "nothing sent yet"
        );
        server.write_all(b"ping").await.expect("write");
        while !flag.0.load(Ordering::Relaxed) {
            weir::rt::time::sleep(Duration::from_millis(1)).await; // until the loop sees it
        }
        assert!(matches!(
            client.poll_read_ready(&mut cx),
            Poll::Ready(Ok(()))
        ));
        let mut buf = [0u8; 8];
        let n = client.read(&mut buf).await.expect("read");
        assert_eq!(&buf[..n], b"ping", "readiness consumed nothing");
        drop(server);
        std::future::poll_fn(|cx| client.poll_read_ready(cx))
            .await
            .expect("end of stream is readable");
        assert_eq!(client.read(&mut buf).await.expect("eof"), 0);
    });
}

/// A waker that raises a flag.
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }
}
