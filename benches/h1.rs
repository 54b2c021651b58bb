//! weir against hyper 1.x (client `conn::http1` on tokio current_thread), both against the
//! same nginx on loopback, in the same run.
//!
//! ```text
//! h1 --client weir|weir-client|weir-raw|hyper|both --mode seq|c64|download --count N [--pin CPU] [--rounds R]
//! ```
//! - `seq`: N sequential GETs of a 13-byte body on one keep-alive connection;
//! - `c64`: N GETs of the 13-byte body spread over 64 concurrent connections;
//! - `download`: N downloads of a 64 MiB file on one keep-alive connection.
//!
//! With `--client weir`, `weir-client` or `hyper` the bench does exactly N operations after
//! start-up (nginx start, connect), so `benches/measure.sh` can difference two counts for
//! instructions, allocations and syscalls per request. `--client both` is the wall-clock
//! mode: R rounds, weir and hyper interleaved, requests/s (and MB/s) per round, medians and
//! the ratio.
//! `--pin CPU` pins this process before nginx starts, so nginx (inheriting the affinity)
//! and the client share that one core.
//!
//! `--client weir` drives `weir::conn` connections (one per task: send, read the body to its
//! end, take the idle connection back); `--client weir-client` the pooled
//! `weir::client::Client`. `--client weir-raw` is a floor for comparison: weir's framing
//! (`weir::http`) on `weir::rt::net::TcpStream` with no connection layer, reusing one head
//! buffer and one read buffer per connection.

#[path = "../tests/util/mod.rs"]
mod util;

use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use util::nginx::{self, Nginx};
use weir::http::{encode_head, Decoded, Limits, ParseStatus, Request, ResponseParser};
use weir::rt::net::{AsyncStream, TcpStream};

/// Connections in `c64` mode.
const CONCURRENCY: usize = 64;
/// Spare capacity kept in a read buffer before each read.
const READ_RESERVE: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Seq,
    C64,
    Download,
}

impl Mode {
    fn path(self) -> &'static str {
        match self {
            Mode::Seq | Mode::C64 => nginx::SMALL_PATH,
            Mode::Download => nginx::BIG_PATH,
        }
    }

    fn connections(self) -> usize {
        match self {
            Mode::C64 => CONCURRENCY,
            _ => 1,
        }
    }

    fn body_len(self) -> usize {
        match self {
            Mode::Download => nginx::BIG_LEN,
            _ => nginx::SMALL_BODY.len(),
        }
    }
}

#[derive(Debug)]
struct Args {
    client: String,
    mode: Mode,
    count: u64,
    pin: Option<usize>,
    rounds: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        client: "weir".into(),
        mode: Mode::Seq,
        count: 10_000,
        pin: None,
        rounds: 5,
    };
    let argv: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        let number = || {
            value
                .parse::<u64>()
                .unwrap_or_else(|_| usage(&format!("{flag}: {value}")))
        };
        match flag.as_str() {
            "--client" => args.client = value.clone(),
            "--mode" => {
                args.mode = match value.as_str() {
                    "seq" => Mode::Seq,
                    "c64" => Mode::C64,
                    "download" => Mode::Download,
                    other => usage(&format!("unknown mode {other}")),
                }
            }
            "--count" => args.count = number(),
            "--pin" => args.pin = Some(number() as usize),
            "--rounds" => args.rounds = number().max(1) as usize,
            other => usage(&format!("unknown argument {other}")),
        }
    }
    args
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "{msg}\nusage: h1 --client weir|weir-client|weir-raw|hyper|both --mode seq|c64|download --count N [--pin CPU] [--rounds R]"
    );
    std::process::exit(2)
}

fn main() {
    let args = parse_args();
    if let Some(cpu) = args.pin {
        // The only thread yet: nginx and the runtimes started later inherit the affinity.
        util::bench::pin_to_cpu(cpu).unwrap_or_else(|e| panic!("pin to CPU {cpu}: {e}"));
    }
    let _ = weir::rt::raise_fd_limit();
    // sendfile off for the small body: head and body in one write, as most servers answer.
    let sendfile = args.mode == Mode::Download;
    let nginx = Nginx::builder()
        .keepalive_requests(1_000_000_000)
        .sendfile(sendfile)
        .start();
    let addr = nginx.addr();
    match args.client.as_str() {
        "weir" => report_one("weir", &args, run_weir_conn(addr, args.mode, args.count)),
        "weir-raw" => report_one("weir-raw", &args, run_weir(addr, args.mode, args.count)),
        "weir-client" => report_one(
            "weir-client",
            &args,
            run_weir_client(addr, args.mode, args.count),
        ),
        "hyper" => report_one("hyper", &args, run_hyper(addr, args.mode, args.count)),
        "both" => interleaved(addr, &args),
        other => usage(&format!("unknown client {other}")),
    }
}

/// What one run did.
#[derive(Debug, Clone, Copy)]
struct Run {
    requests: u64,
    body_bytes: u64,
    elapsed: Duration,
    /// On-CPU time of the client thread (less sensitive to other load than `elapsed`).
    cpu: Duration,
}

/// On-CPU time of the calling thread so far, from /proc/thread-self/schedstat.
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let ns = stat
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(ns)
}

impl Run {
    fn per_sec(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn mb_per_sec(&self) -> f64 {
        self.body_bytes as f64 / 1e6 / self.elapsed.as_secs_f64()
    }

    fn cpu_us_per_request(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.requests as f64
    }
}

fn report_one(name: &str, args: &Args, run: Run) {
    let expected = args.count * args.mode.body_len() as u64;
    assert_eq!(run.body_bytes, expected, "{name}: body bytes");
    println!(
        "{name} {:?}: {} requests in {:.3} s: {:.0} req/s, {:.1} MB/s, client CPU {:.2} µs/request",
        args.mode,
        run.requests,
        run.elapsed.as_secs_f64(),
        run.per_sec(),
        run.mb_per_sec(),
        run.cpu_us_per_request()
    );
}

/// Rounds of weir (conn), weir (Client) and hyper, interleaved; prints each round and the
/// medians of requests/s, MB/s and the client thread's CPU time per request, each against
/// hyper's.
fn interleaved(addr: SocketAddr, args: &Args) {
    type Runner = fn(SocketAddr, Mode, u64) -> Run;
    let clients: [(&str, Runner); 3] = [
        ("weir", run_weir_conn),
        ("weir-client", run_weir_client),
        ("hyper", run_hyper),
    ];
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); clients.len()];
    for round in 0..args.rounds {
        let mut line = format!("round {round}:");
        for (i, (name, run)) in clients.iter().enumerate() {
            let r = run(addr, args.mode, args.count);
            line += &format!(
                " {name} {:.0} req/s {:.1} MB/s {:.2} cpu-µs/req |",
                r.per_sec(),
                r.mb_per_sec(),
                r.cpu_us_per_request()
            );
            runs[i].push(r);
        }
        println!("{}", line.trim_end_matches(" |"));
    }
    let hyper_rps = median(&runs[2], Run::per_sec);
    let mut line = format!(
        "median {:?} (count {}, pin {:?}):",
        args.mode, args.count, args.pin
    );
    let hyper_cpu = median(&runs[2], Run::cpu_us_per_request);
    for (i, (name, _)) in clients.iter().enumerate() {
        let (rps, mb) = (
            median(&runs[i], Run::per_sec),
            median(&runs[i], Run::mb_per_sec),
        );
        let cpu = median(&runs[i], Run::cpu_us_per_request);
        line += &format!(
            " {name} {rps:.0} req/s ({:.3}x hyper) {mb:.1} MB/s, client CPU {cpu:.2} µs/req ({:.3}x hyper's);",
            rps / hyper_rps,
            cpu / hyper_cpu
        );
    }
    println!("{line}");
}

fn median(runs: &[Run], f: fn(&Run) -> f64) -> f64 {
    let mut v: Vec<f64> = runs.iter().map(f).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Requests for connection `i` of `conns` when `count` are shared out.
fn share(count: u64, conns: usize, i: usize) -> u64 {
    count / conns as u64 + u64::from((i as u64) < count % conns as u64)
}

/// The measured part of a run: starts one task per connection in `conns` with its share of
/// `count` requests (`start(connection, n)`), waits for them all and sums the body bytes
/// they return.
async fn timed<C, T, E>(count: u64, conns: Vec<C>, mut start: impl FnMut(C, u64) -> T) -> Run
where
    T: Future<Output = Result<u64, E>>,
    E: std::fmt::Debug,
{
    let n = conns.len();
    let (began, cpu0) = (Instant::now(), thread_cpu());
    let tasks: Vec<T> = conns
        .into_iter()
        .enumerate()
        .map(|(i, conn)| start(conn, share(count, n, i)))
        .collect();
    let mut body_bytes = 0;
    for t in tasks {
        body_bytes += t.await.expect("client task");
    }
    Run {
        requests: count,
        body_bytes,
        elapsed: began.elapsed(),
        cpu: thread_cpu() - cpu0,
    }
}

// ------------------------------------------------------------------------- weir (conn)

fn run_weir_conn(addr: SocketAddr, mode: Mode, count: u64) -> Run {
    use weir::conn::{connect, ConnConfig};
    let rt = weir::rt::Runtime::new().expect("weir runtime");
    rt.block_on(async move {
        let url = format!("http://{addr}{}", mode.path());
        let head = Request::get(&url).build().expect("request").into_parts().0;
        let cfg = ConnConfig::default();
        let mut conns = Vec::new();
        for _ in 0..mode.connections() {
            conns.push(connect(head.url().origin(), &cfg).await.expect("connect"));
        }
        timed(count, conns, |conn, n| {
            weir::rt::spawn(conn_run(conn, head.clone(), n))
        })
        .await
    })
}

/// `n` requests on one `weir::conn` connection, each body read to its end, which hands the
/// idle connection back.
async fn conn_run(
    mut conn: weir::conn::Connection<weir::conn::state::Idle>,
    head: weir::http::RequestHead,
    n: u64,
) -> u64 {
    let mut total = 0;
    for _ in 0..n {
        let req = Request::from_parts(head.clone(), weir::http::Body::Empty);
        let resp = conn.send(req).await.expect("send");
        assert_eq!(resp.status(), 200);
        let (_, mut body, _) = resp.into_parts();
        while let Some(chunk) = body.next_chunk().await.expect("body") {
            total += chunk.len() as u64;
        }
        conn = body.take_connection().expect("connection reusable");
    }
    total
}

// ------------------------------------------------------------------ weir-client (pooled)

fn run_weir_client(addr: SocketAddr, mode: Mode, count: u64) -> Run {
    let rt = weir::rt::Runtime::new().expect("weir runtime");
    rt.block_on(async move {
        let conns = mode.connections();
        let client = weir::client::Client::builder()
            .max_connections_per_host(conns)
            .max_idle_per_host(conns)
            .build();
        let url = format!("http://{addr}{}", mode.path());
        let head = Request::get(&url).build().expect("request").into_parts().0;
        // Open the connections first, as the other clients do: one request on each.
        let warm: Vec<_> = (0..conns)
            .map(|_| weir::rt::spawn(client_run(client.clone(), head.clone(), 1)))
            .collect();
        for t in warm {
            t.await.expect("warm-up");
        }
        timed(count, vec![(); conns], |(), n| {
            weir::rt::spawn(client_run(client.clone(), head.clone(), n))
        })
        .await
    })
}

/// `n` requests through the pooled client, each body read to its end.
async fn client_run(client: weir::client::Client, head: weir::http::RequestHead, n: u64) -> u64 {
    let mut total = 0;
    for _ in 0..n {
        let req = Request::from_parts(head.clone(), weir::http::Body::Empty);
        let resp = client.send(req).await.expect("send");
        assert_eq!(resp.status(), 200);
        let (_, mut body, _) = resp.into_parts();
        while let Some(chunk) = body.next_chunk().await.expect("body") {
            total += chunk.len() as u64;
        }
    }
    total
}

// ------------------------------------------------------- weir-raw (framing + runtime only)

fn run_weir(addr: SocketAddr, mode: Mode, count: u64) -> Run {
    let rt = weir::rt::Runtime::new().expect("weir runtime");
    rt.block_on(async move {
        let url = format!("http://{addr}{}", mode.path());
        let req = Rc::new(Request::get(&url).build().expect("request"));
        let mut conns = Vec::new();
        for _ in 0..mode.connections() {
            conns.push(WeirConn::connect(addr).await);
        }
        timed(count, conns, |conn, n| {
            weir::rt::spawn(conn.run(req.clone(), n))
        })
        .await
    })
}

/// One keep-alive connection with its reused buffers.
struct WeirConn {
    stream: TcpStream,
    head: BytesMut,
    buf: BytesMut,
}

impl WeirConn {
    async fn connect(addr: SocketAddr) -> WeirConn {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        WeirConn {
            stream,
            head: BytesMut::with_capacity(256),
            buf: BytesMut::new(),
        }
    }

    /// `n` requests; returns the body bytes received.
    async fn run(mut self, req: Rc<Request>, n: u64) -> u64 {
        let mut total = 0;
        for _ in 0..n {
            total += self.get(&req).await;
        }
        total
    }

    async fn get(&mut self, req: &Request) -> u64 {
        self.head.clear();
        let mut enc = encode_head(req, &mut self.head).expect("encode");
        enc.finish().expect("finish");
        self.stream.write_all(&self.head).await.expect("write");
        let mut parser = ResponseParser::new(enc.context(), Limits::default());
        let mut parsed = loop {
            match parser.parse(&mut self.buf).expect("parse") {
                ParseStatus::Complete(p) => break p,
                ParseStatus::Partial => self.fill().await,
                other => panic!("unexpected {other:?}"),
            }
        };
        assert!(parsed.keep_alive);
        let mut body = 0;
        loop {
            match parsed.decoder.decode(&mut self.buf).expect("decode") {
                Decoded::Data(b) => body += b.len() as u64,
                Decoded::NeedMore => self.fill().await,
                Decoded::Done { .. } => return body,
            }
        }
    }

    async fn fill(&mut self) {
        self.buf.reserve(READ_RESERVE);
        let n = self.stream.read_buf(&mut self.buf).await.expect("read");
        assert!(n > 0, "nginx closed the connection");
    }
}

// --------------------------------------------------------------------------------- hyper

fn run_hyper(addr: SocketAddr, mode: Mode, count: u64) -> Run {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    rt.block_on(async move {
        let mut senders = Vec::new();
        for _ in 0..mode.connections() {
            senders.push(hyper_connect(addr).await);
        }
        timed(count, senders, |s, n| {
            tokio::spawn(hyper_run(s, addr, mode, n))
        })
        .await
    })
}

type Sender = hyper::client::conn::http1::SendRequest<http_body_util::Empty<bytes::Bytes>>;

async fn hyper_connect(addr: SocketAddr) -> Sender {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let io = hyper_util::rt::TokioIo::new(stream);
    let (sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .expect("handshake");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender
}

async fn hyper_run(mut sender: Sender, addr: SocketAddr, mode: Mode, n: u64) -> u64 {
    use http_body_util::BodyExt;
    let host = addr.to_string();
    let mut total = 0;
    for _ in 0..n {
        let req = hyper::Request::get(mode.path())
            .header(hyper::header::HOST, &host)
            .body(http_body_util::Empty::new())
            .expect("request");
        let resp = sender.send_request(req).await.expect("send");
        assert_eq!(resp.status(), 200);
        let mut body = resp.into_body();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.expect("frame").into_data() {
                total += data.len() as u64;
            }
        }
    }
    total
}
