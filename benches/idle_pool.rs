//! Memory of idle pooled connections: 10,000 keep-alive connections parked in one
//! `weir::client::Client`'s pool, then heap (a counting global allocator in this process)
//! and RSS per idle connection.
//!
//! ```text
//! idle_pool [--count N]
//! ```
//! The server is this same binary run as a child process (`--serve`): a weir loop answering
//! every request with a 2-byte body and keeping the connection, so its memory is not counted.
//! The client sends N/2 requests at once (N/2 connections), reads every body to its end (each
//! connection goes back to the pool), measures, then N requests at once (N connections) and
//! measures again: heap and RSS per idle connection are the half-to-full difference, so fixed
//! costs cancel. RSS is given as is and after `malloc_trim(0)` (the fill itself had N requests
//! in flight, each with its buffers: freed memory glibc keeps is not the pool's). Goals: ≤ 1 KiB of heap per idle connection and ≤ 32 MiB
//! RSS in total for 10,000 (hyper-util's pool measured 26 KB heap, 24 KB RSS per connection).

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::BytesMut;
use weir::client::Client;

#[path = "../tests/util/mod.rs"]
mod util;
use weir::http::Request;
use weir::rt::net::{AsyncStream, TcpListener, TcpStream};

/// Counts live heap bytes and allocation calls.
struct Counting;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static PEAK_BYTES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to the system allocator with the caller's arguments
// unchanged; the counters are plain atomics and never affect what is returned.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK_BYTES.fetch_max(live, Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded as is (GlobalAlloc's contract is the caller's).
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size, Ordering::Relaxed);
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

fn main() {
    let argv: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if argv.first().map(String::as_str) == Some("--serve") {
        return serve();
    }
    let count = match argv.as_slice() {
        [] => 10_000,
        [flag, n] if flag == "--count" => n.parse().expect("--count N"),
        _ => {
            eprintln!("usage: idle_pool [--count N]");
            std::process::exit(2)
        }
    };
    let limit = weir::rt::raise_fd_limit().expect("raise fd limit");
    assert!(
        limit > count as u64 + 100,
        "fd limit {limit} too low for {count} connections"
    );
    let (mut server, addr) = start_server();
    let rt = weir::rt::Runtime::new().expect("runtime");
    rt.block_on(measure(addr, count));
    let _ = server.kill();
    let _ = server.wait();
}

/// Resident set size in KiB.
fn rss_kib() -> usize {
    util::bench::rss_kib() as usize
}

/// Live heap bytes, RSS KiB, and RSS KiB after `malloc_trim` gave freed memory back.
#[derive(Debug, Clone, Copy)]
struct Mem {
    heap: usize,
    rss: usize,
    rss_trimmed: usize,
}

fn mem() -> Mem {
    let (heap, rss) = (LIVE_BYTES.load(Ordering::Relaxed), rss_kib());
    // SAFETY: malloc_trim only returns free memory to the OS; it takes no pointer.
    unsafe { libc::malloc_trim(0) };
    Mem {
        heap,
        rss,
        rss_trimmed: rss_kib(),
    }
}

/// `n` requests at once: as many connections, all idle in the pool afterwards.
async fn fill(client: &Client, url: &str, n: usize) {
    let tasks: Vec<_> = (0..n)
        .map(|_| weir::rt::spawn(fetch(client.clone(), url.to_owned())))
        .collect();
    for t in tasks {
        t.await.expect("request task");
    }
}

/// Fills the pool to half, then to full, and reports the difference per connection (so the
/// fixed costs — the loop, the buffer free list, table capacities — cancel out) and the
/// totals.
async fn measure(addr: SocketAddr, count: usize) {
    let client = Client::builder()
        .max_connections(count)
        .max_connections_per_host(count)
        .max_idle_per_host(count)
        .idle_timeout(None)
        .build();
    let url = format!("http://{addr}/");
    fill(&client, &url, 1).await; // one-time set-up of the loop and the client
    let m0 = mem();
    let half = count / 2;
    fill(&client, &url, half).await;
    let idle_half = client.pool_stats().total.idle;
    let m1 = mem();
    fill(&client, &url, count).await;
    let idle = client.pool_stats().total.idle;
    let m2 = mem();
    eprintln!("DEBUG peak heap {} KiB; fetch future {} B; send future {} B", PEAK_BYTES.load(Ordering::Relaxed)/1024, std::mem::size_of_val(&fetch(client.clone(), url.clone())), std::mem::size_of_val(&client.send(Request::get(&url).build().unwrap())));
    let extra = idle.saturating_sub(idle_half).max(1);
    let per = |a: usize, b: usize, n: usize| b.saturating_sub(a) as f64 / n.max(1) as f64;
    println!("idle pooled connections: {idle_half} at half, {idle} at full (asked {count})");
    println!(
        "heap per idle connection: {:.0} B (half -> full difference); {:.0} B (all heap since start / {idle})",
        per(m1.heap, m2.heap, extra),
        per(m0.heap, m2.heap, idle)
    );
    println!(
        "RSS per idle connection: {:.2} KiB trimmed (half -> full difference), {:.2} KiB untrimmed",
        per(m1.rss_trimmed, m2.rss_trimmed, extra),
        per(m1.rss, m2.rss, extra)
    );
    println!(
        "process RSS with {idle} idle connections: {:.1} MiB after malloc_trim, {:.1} MiB before (start {:.1} MiB)",
        m2.rss_trimmed as f64 / 1024.0,
        m2.rss as f64 / 1024.0,
        m0.rss_trimmed as f64 / 1024.0
    );
    let heap_ok = per(m1.heap, m2.heap, extra) <= 1024.0;
    let rss_ok = m2.rss_trimmed <= 32 * 1024 * count / 10_000;
    println!(
        "goals: <= 1 KiB heap per idle connection: {}; <= 32 MiB RSS per 10,000 (trimmed): {}",
        if heap_ok { "met" } else { "NOT met" },
        if rss_ok { "met" } else { "NOT met" }
    );
}

/// One GET, body read to its end (the connection goes back to the pool).
async fn fetch(client: Client, url: String) {
    let req = Request::get(&url).build().expect("request");
    let resp = client.send(req).await.expect("send");
    let (_, body, _) = resp.into_parts();
    assert_eq!(&body.bytes().await.expect("body")[..], b"ok");
}

/// Runs this binary with `--serve` and reads the address it prints.
fn start_server() -> (Child, SocketAddr) {
    let exe = std::env::current_exe().expect("current exe");
    let mut child = Command::new(exe)
        .arg("--serve")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn server");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("server address");
    (child, line.trim().parse().expect("server address"))
}

/// The child: a weir loop answering every request, holding every connection.
fn serve() {
    let _ = weir::rt::raise_fd_limit();
    let rt = weir::rt::Runtime::new().expect("runtime");
    rt.block_on(async {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).expect("bind");
        let mut out = std::io::stdout();
        writeln!(out, "{}", listener.local_addr().expect("addr")).expect("print addr");
        out.flush().expect("flush");
        let response: Rc<[u8]> = RESPONSE.into();
        loop {
            if let Ok((stream, _)) = listener.accept().await {
                weir::rt::spawn(answer(stream, response.clone()));
            }
        }
    })
}

/// Answers each request head on `stream` (requests carry no body here).
async fn answer(mut stream: TcpStream, response: Rc<[u8]>) {
    let mut buf = BytesMut::with_capacity(1024);
    loop {
        buf.reserve(1024);
        match stream.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let _ = buf.split_to(end + 4);
            if stream.write_all(&response).await.is_err() {
                return;
            }
        }
    }
}
