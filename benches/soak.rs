//! Soak: 1,000,000 requests over 64 connections through one `weir::client::Client` against
//! nginx set to close every connection after 100 requests (`keepalive_requests 100`), so the
//! pool replaces ~10,000 connections on the way.
//!
//! ```text
//! soak [--count N] [--connections C] [--every K]
//! ```
//! Prints, every K responses: responses, failures, open fds, RSS and pool connections.
//! Passes (exit 0) when no request failed, the fd count after closing the pool equals the
//! count before the first request, and RSS at the end is within 1 MiB of RSS after the
//! first K responses (the warm-up); otherwise exits 1 saying which.

#[path = "../tests/util/mod.rs"]
mod util;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Instant;

use util::nginx::{self, Nginx};
use weir::client::Client;
use weir::http::Request;

/// RSS growth from warm-up to end still called flat (allocator noise).
const RSS_SLACK_KIB: u64 = 1024;

struct Args {
    /// Requests in total.
    count: u64,
    /// Connections (workers, and the pool's per-host limit).
    connections: usize,
    /// Print a sample every this many responses.
    every: u64,
}

fn parse_args() -> Args {
    let mut a = Args {
        count: 1_000_000,
        connections: 64,
        every: 100_000,
    };
    let argv: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    for pair in argv.chunks(2) {
        let value = pair.get(1).and_then(|v| v.parse::<u64>().ok());
        match (pair[0].as_str(), value) {
            ("--count", Some(v)) => a.count = v,
            ("--connections", Some(v)) => a.connections = v as usize,
            ("--every", Some(v)) => a.every = v.max(1),
            _ => {
                eprintln!("usage: soak [--count N] [--connections C] [--every K]");
                std::process::exit(2);
            }
        }
    }
    a
}

/// Shared by the workers of the one loop.
#[derive(Default)]
struct Progress {
    /// Requests started.
    claimed: Cell<u64>,
    /// Complete, checked responses.
    done: Cell<u64>,
    /// Failed requests.
    failed: Cell<u64>,
    /// Failed requests per error kind.
    errors: RefCell<BTreeMap<String, u64>>,
}

/// One sample of the figures that must stay flat.
#[derive(Debug, Clone, Copy)]
struct Sample {
    /// Open file descriptors of this process.
    fds: usize,
    /// Resident set size.
    rss_kib: u64,
}

fn sample() -> Sample {
    Sample {
        fds: util::open_fds(),
        rss_kib: util::bench::rss_kib(),
    }
}

fn main() {
    let args = parse_args();
    let _ = weir::rt::raise_fd_limit();
    let nginx = Nginx::builder()
        .keepalive_requests(100)
        .sendfile(false)
        .start();
    let url = nginx.url(nginx::SMALL_PATH);
    let rt = weir::rt::Runtime::new().expect("runtime");
    let before = sample();
    let started = Instant::now();
    let (warm, end, progress) = rt.block_on(soak(&args, &url, &nginx));
    let secs = started.elapsed().as_secs_f64();
    let done = progress.done.get();
    println!(
        "soak: {done} responses, {} failed, {:.1} s ({:.0} req/s); fds {} before, {} after warm-up, {} after closing the pool; RSS {} KiB after warm-up, {} KiB at the end",
        progress.failed.get(),
        secs,
        done as f64 / secs,
        before.fds,
        warm.fds,
        end.fds,
        warm.rss_kib,
        end.rss_kib
    );
    let mut ok = true;
    if progress.failed.get() > 0 || done != args.count {
        println!(
            "FAIL: failed requests by kind: {:?}",
            progress.errors.borrow()
        );
        ok = false;
    }
    if end.fds != before.fds {
        println!(
            "FAIL: {} fds before the first request, {} after closing the pool",
            before.fds, end.fds
        );
        ok = false;
    }
    if end.rss_kib > warm.rss_kib + RSS_SLACK_KIB {
        println!("FAIL: RSS grew by {} KiB", end.rss_kib - warm.rss_kib);
        ok = false;
    }
    std::process::exit(if ok { 0 } else { 1 });
}

/// Runs the workers; returns the samples after warm-up (the first report) and at the end.
async fn soak(args: &Args, url: &str, nginx: &Nginx) -> (Sample, Sample, Rc<Progress>) {
    let client = Client::builder()
        .max_connections_per_host(args.connections)
        .max_idle_per_host(args.connections)
        .build();
    let progress = Rc::new(Progress::default());
    let warm = Rc::new(Cell::new(None));
    let workers: Vec<_> = (0..args.connections)
        .map(|_| {
            let w = Worker {
                client: client.clone(),
                url: url.to_owned(),
                progress: progress.clone(),
                count: args.count,
                every: args.every,
                warm: warm.clone(),
            };
            weir::rt::spawn(w.run())
        })
        .collect();
    for w in workers {
        w.await.expect("worker");
    }
    let pool = client.pool_stats().total;
    println!("end: pool {pool:?}; nginx {:?}", nginx.stats());
    // Every socket is the pool's now: closing the idle ones must bring fds back to the
    // count before the first request.
    client.close_idle();
    drop(client);
    weir::rt::yield_now().await;
    let end = sample();
    (warm.get().unwrap_or(end), end, progress)
}

struct Worker {
    /// The one client (one pool) all workers share.
    client: Client,
    /// The 13-byte file.
    url: String,
    /// Shared counters.
    progress: Rc<Progress>,
    /// Requests in total (all workers).
    count: u64,
    /// Sample interval.
    every: u64,
    /// The first sample (after warm-up).
    warm: Rc<Cell<Option<Sample>>>,
}

impl Worker {
    async fn run(self) {
        let p = &self.progress;
        while p.claimed.get() < self.count {
            p.claimed.set(p.claimed.get() + 1);
            match self.one().await {
                Ok(()) => p.done.set(p.done.get() + 1),
                Err(kind) => {
                    p.failed.set(p.failed.get() + 1);
                    *p.errors.borrow_mut().entry(kind).or_default() += 1;
                }
            }
            let finished = p.done.get() + p.failed.get();
            if finished % self.every == 0 {
                self.report(finished);
            }
        }
    }

    fn report(&self, finished: u64) {
        let s = sample();
        if self.warm.get().is_none() {
            self.warm.set(Some(s));
        }
        let pool = self.client.pool_stats().total;
        println!(
            "{finished:>9} done, {} failed: fds {}, RSS {} KiB, pool {} connections ({} idle)",
            self.progress.failed.get(),
            s.fds,
            s.rss_kib,
            pool.connections(),
            pool.idle
        );
    }

    /// One GET, body checked; the error kind on failure.
    async fn one(&self) -> Result<(), String> {
        let req = Request::get(&self.url).build().map_err(|e| e.to_string())?;
        let resp = self
            .client
            .send(req)
            .await
            .map_err(|e| format!("{:?}", e.kind()))?;
        if resp.status() != 200 {
            return Err(format!("status {}", resp.status()));
        }
        let (_, body, _) = resp.into_parts();
        let bytes = body.bytes().await.map_err(|e| format!("{:?}", e.kind()))?;
        if bytes[..] != *nginx::SMALL_BODY {
            return Err("wrong body".into());
        }
        Ok(())
    }
}
