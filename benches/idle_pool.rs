//! Memory of idle pooled connections: 10,000 keep-alive connections parked in one
//! `weir::client::Client`'s pool, then heap (a counting global allocator in this process)
//! and RSS per idle connection, and the process RSS as it is (no `malloc_trim`).
//!
//! ```text
//! idle_pool [--count N] [--fill requests|preconnect]
//! ```
//! Without `--fill` it runs itself once per way of filling the pool, each in a fresh process:
//! - `requests`: N requests at once (N connections), every body read to its end, so each
//!   connection goes back to the pool. While they wait for their responses the requests hold
//!   no read or write buffer (only their futures: ~1 KiB each, plus the connection), and
//!   the allocator keeps that high-water mark mapped once they are gone: the RSS is reported
//!   as is and after `malloc_trim(0)`.
//! - `preconnect`: `Client::preconnect(url, N)`: the connections alone, no request state.
//!
//! The server is this same binary run as a child process (`--serve`): a weir loop answering
//! every request with a 2-byte body and keeping the connection, so its memory is not counted.
//! The pool is filled to N/2, measured, then to N and measured again: heap and RSS per idle
//! connection are the half-to-full difference, so fixed costs cancel. Goals (issue #5): <= 1
//! KiB of heap per idle connection and <= 32 MiB process RSS for 10,000, without trimming
//! (hyper-util's pool measured 26 KB heap, 24 KB RSS per connection).

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::rc::Rc;

use bytes::BytesMut;
use weir::client::Client;

#[path = "../tests/util/mod.rs"]
mod util;

#[global_allocator]
static GLOBAL: util::alloc::Counting = util::alloc::Counting;
use weir::http::Request;
use weir::rt::net::{AsyncStream, TcpListener, TcpStream};

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

fn main() {
    util::alloc::track_all();
    let argv: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if argv.first().map(String::as_str) == Some("--serve") {
        return serve();
    }
    let (count, fill) = match parse(&argv) {
        Ok(parsed) => parsed,
        Err(msg) => {
            eprintln!("{msg}\nusage: idle_pool [--count N] [--fill requests|preconnect]");
            std::process::exit(2)
        }
    };
    let Some(fill) = fill else {
        return run_each_fill(count);
    };
    let limit = weir::rt::raise_fd_limit().expect("raise fd limit");
    assert!(
        limit > count as u64 + 100,
        "fd limit {limit} too low for {count} connections"
    );
    let (mut server, addr) = start_server();
    let rt = weir::rt::Runtime::new().expect("runtime");
    rt.block_on(measure(addr, count, fill));
    let _ = server.kill();
    let _ = server.wait();
}

/// How the pool is filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fill {
    /// N requests at once.
    Requests,
    /// `Client::preconnect`.
    Preconnect,
}

/// `(count, fill)` from the arguments (`fill` `None`: run both, each in its own process).
fn parse(argv: &[String]) -> Result<(usize, Option<Fill>), String> {
    let (mut count, mut fill) = (10_000, None);
    let mut args = argv.iter();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--count" => count = value.parse().map_err(|_| "--count N")?,
            "--fill" if value == "requests" => fill = Some(Fill::Requests),
            "--fill" if value == "preconnect" => fill = Some(Fill::Preconnect),
            _ => return Err(format!("unknown argument {flag} {value}")),
        }
    }
    Ok((count, fill))
}

/// Runs this binary once per fill, each in a fresh process (so one's RSS is not the other's).
fn run_each_fill(count: usize) {
    let exe = std::env::current_exe().expect("current exe");
    for fill in ["preconnect", "requests"] {
        println!("== fill: {fill}");
        let status = Command::new(&exe)
            .args(["--count", &count.to_string(), "--fill", fill])
            .status()
            .expect("run a fill");
        assert!(status.success(), "fill {fill} failed: {status}");
    }
}

/// Resident set size in KiB.
fn rss_kib() -> usize {
    util::bench::rss_kib() as usize
}

/// Live heap bytes and RSS KiB.
#[derive(Debug, Clone, Copy)]
struct Mem {
    heap: usize,
    rss: usize,
}

/// Measures without trimming: a `malloc_trim` here would lower the later figures too.
fn mem() -> Mem {
    Mem {
        heap: util::alloc::live_bytes().max(0) as usize,
        rss: rss_kib(),
    }
}

/// RSS KiB after `malloc_trim(0)` gave the allocator's free memory back (call last).
fn rss_trimmed() -> usize {
    // SAFETY: malloc_trim only returns free memory to the OS; it takes no pointer.
    unsafe { libc::malloc_trim(0) };
    rss_kib()
}

/// Fills the pool up to `target` idle connections: `target` requests at once (idle ones
/// are reused, the rest connect), or a preconnect of the missing ones.
async fn fill(client: &Client, url: &str, target: usize, how: Fill) {
    match how {
        Fill::Requests => fill_with_requests(client, url, target).await,
        Fill::Preconnect => {
            let missing = target.saturating_sub(client.pool_stats().total.idle);
            let opened = client.preconnect(url, missing).await.expect("preconnect");
            assert_eq!(opened, missing, "preconnect opened {opened} of {missing}");
        }
    }
}

/// `n` requests at once: as many connections, all idle in the pool afterwards.
async fn fill_with_requests(client: &Client, url: &str, n: usize) {
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
async fn measure(addr: SocketAddr, count: usize, how: Fill) {
    let client = Client::builder()
        .max_connections(count)
        .max_connections_per_host(count)
        .max_idle_per_host(count)
        .idle_timeout(None)
        .build();
    let url = format!("http://{addr}/");
    fill_with_requests(&client, &url, 1).await; // one-time set-up of the loop and the client
    let m0 = mem();
    let half = count / 2;
    fill(&client, &url, half, how).await;
    let idle_half = client.pool_stats().total.idle;
    let m1 = mem();
    let peak_half = util::alloc::peak_bytes().max(0) as usize;
    fill(&client, &url, count, how).await;
    let idle = client.pool_stats().total.idle;
    let m2 = mem();
    let peak = (util::alloc::peak_bytes().max(0) as usize).max(peak_half);
    report(count, (idle_half, idle), (m0, m1, m2), peak, rss_trimmed());
}

/// Prints the figures and whether the goals are met.
fn report(
    count: usize,
    (idle_half, idle): (usize, usize),
    (m0, m1, m2): (Mem, Mem, Mem),
    peak: usize,
    trimmed: usize,
) {
    let extra = idle.saturating_sub(idle_half).max(1);
    let per = |a: usize, b: usize, n: usize| b.saturating_sub(a) as f64 / n.max(1) as f64;
    let mib = |kib: usize| kib as f64 / 1024.0;
    println!("idle pooled connections: {idle_half} at half, {idle} at full (asked {count})");
    println!(
        "heap per idle connection: {:.0} B (half -> full difference); {:.0} B (all heap since start / {idle})",
        per(m1.heap, m2.heap, extra),
        per(m0.heap, m2.heap, idle)
    );
    println!(
        "RSS per idle connection: {:.2} KiB (half -> full difference)",
        per(m1.rss, m2.rss, extra)
    );
    println!(
        "process RSS with {idle} idle connections: {:.1} MiB (no malloc_trim); {:.1} MiB after malloc_trim; start {:.1} MiB",
        mib(m2.rss),
        mib(trimmed),
        mib(m0.rss)
    );
    println!("peak live heap while filling: {:.1} MiB", mib(peak / 1024));
    let heap_ok = per(m1.heap, m2.heap, extra) <= 1024.0;
    let rss_ok = m2.rss <= 32 * 1024 * count / 10_000;
    let met = |ok| if ok { "met" } else { "NOT met" };
    println!(
        "goals: <= 1 KiB heap per idle connection: {}; <= 32 MiB RSS per 10,000 (no trim): {}",
        met(heap_ok),
        met(rss_ok)
    );
    println!(
        "rss_kib={} rss_trimmed_kib={} heap_per_idle_b={:.0} peak_heap_kib={}",
        m2.rss,
        trimmed,
        per(m1.heap, m2.heap, extra),
        peak / 1024
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
