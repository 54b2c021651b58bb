//! `weir bench`: a thread-per-core load generator in the manner of wrk and oha.
//!
//! Each thread owns a weir `Runtime` and one `Client`; its share of the connections are
//! tasks on that loop, each sending one request at a time (so a thread's pool never holds
//! more connections than its tasks). The request budget is shared through one atomic counter
//! (`-n`) or a deadline (`-d`); latencies go to a per-thread HDR histogram merged at the end.

pub mod report;
pub mod server;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use weir::http::{Body, Request, RequestHead};
use weir::rt::time::timeout;

use crate::errors::{kind_name, CliError};
use report::{Setup, Stats};
use weir::client::Client;

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOpts {
    /// Target; `None` starts the embedded server.
    pub url: Option<String>,
    /// Connections in total.
    pub connections: usize,
    /// Stop after this many requests…
    pub requests: Option<u64>,
    /// …or after this long.
    pub duration: Duration,
    /// Client threads.
    pub threads: usize,
    /// Per-request time limit.
    pub timeout: Duration,
}

/// How the threads share the budget.
#[derive(Debug)]
struct Budget {
    /// Requests claimed so far.
    claimed: AtomicU64,
    /// Claim limit (`u64::MAX` with a deadline).
    limit: u64,
    /// No request starts after this.
    deadline: Instant,
}

impl Budget {
    /// True when the caller may start one more request.
    fn claim(&self) -> bool {
        Instant::now() < self.deadline && self.claimed.fetch_add(1, Ordering::Relaxed) < self.limit
    }
}

/// Runs the bench; returns the report to print and how many responses completed.
pub fn run(opts: &BenchOpts) -> Result<(String, u64), CliError> {
    let (url, embedded) = match &opts.url {
        Some(u) => (u.clone(), false),
        None => (start_embedded()?, true),
    };
    let head = Request::get(&url).build()?.into_parts().0;
    let _ = weir::rt::raise_fd_limit();
    let connections = opts.connections.max(1);
    let threads = opts.threads.clamp(1, connections);
    let budget = Arc::new(make_budget(opts));
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let (head, budget) = (head.clone(), budget.clone());
            let conns = share(connections, threads, i);
            let per_request = opts.timeout;
            thread::Builder::new()
                .name(format!("weir-bench-{i}"))
                .spawn(move || run_thread(head, conns, budget, per_request))
                .map_err(|e| CliError::new("thread", e))
        })
        .collect::<Result<_, _>>()?;
    let mut total = Stats::new();
    for h in handles {
        let stats = h
            .join()
            .map_err(|_| CliError::new("thread", "a bench thread panicked"))??;
        total.merge(&stats);
    }
    let setup = Setup {
        url,
        embedded,
        threads,
        connections,
    };
    Ok((
        report::render(&setup, &total, started.elapsed()),
        total.ok(),
    ))
}

fn start_embedded() -> Result<String, CliError> {
    let server = server::EmbeddedServer::start().map_err(|e| CliError::new("server", e))?;
    Ok(server.url())
}

fn make_budget(opts: &BenchOpts) -> Budget {
    let (limit, run_for) = match opts.requests {
        Some(n) => (n, Duration::from_secs(86_400)),
        None => (u64::MAX, opts.duration),
    };
    Budget {
        claimed: AtomicU64::new(0),
        limit,
        deadline: Instant::now() + run_for,
    }
}

/// Thread `i`'s share of `total` connections over `threads`.
fn share(total: usize, threads: usize, i: usize) -> usize {
    total / threads + usize::from(i < total % threads)
}

/// One thread: a runtime, a client, `conns` workers.
fn run_thread(
    head: RequestHead,
    conns: usize,
    budget: Arc<Budget>,
    per_request: Duration,
) -> Result<Stats, CliError> {
    let rt = weir::rt::Runtime::new().map_err(|e| CliError::new("runtime", e))?;
    let stats = Rc::new(RefCell::new(Stats::new()));
    rt.block_on(async {
        let client = Client::builder()
            .max_connections(conns)
            .max_connections_per_host(conns)
            .max_idle_per_host(conns)
            .build();
        let workers: Vec<_> = (0..conns)
            .map(|_| {
                let w = Worker {
                    client: client.clone(),
                    head: head.clone(),
                    stats: stats.clone(),
                };
                weir::rt::spawn(w.run(budget.clone(), per_request))
            })
            .collect();
        for w in workers {
            let _ = w.await;
        }
    });
    let stats =
        Rc::try_unwrap(stats).map_err(|_| CliError::new("thread", "worker outlived its loop"))?;
    Ok(stats.into_inner())
}

/// One connection's worth of sequential requests.
struct Worker {
    /// The thread's client (shared pool).
    client: Client,
    /// The request to send, cloned per request (`send` consumes it).
    head: RequestHead,
    /// The thread's results.
    stats: Rc<RefCell<Stats>>,
}

impl Worker {
    async fn run(self, budget: Arc<Budget>, per_request: Duration) {
        while budget.claim() {
            let start = Instant::now();
            match timeout(per_request, self.one()).await {
                Ok(Ok((status, bytes))) => {
                    self.stats
                        .borrow_mut()
                        .record_ok(status, bytes, start.elapsed())
                }
                Ok(Err(e)) => {
                    self.stats.borrow_mut().record_error(kind_name(&e));
                    // Don't spin on a peer that refuses connections.
                    weir::rt::time::sleep(Duration::from_millis(1)).await;
                }
                Err(_) => self.stats.borrow_mut().record_error("timeout"),
            }
        }
    }

    /// One request, its body read to the end: (status, body bytes).
    async fn one(&self) -> weir::Result<(u16, u64)> {
        let req = Request::from_parts(self.head.clone(), Body::Empty);
        let resp = self.client.send(req).await?;
        let status = resp.status();
        let (_, mut body, _) = resp.into_parts();
        let mut n = 0u64;
        while let Some(chunk) = body.next_chunk().await? {
            n += chunk.len() as u64;
        }
        Ok((status, n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up() {
        for (total, threads) in [(64, 2), (7, 3), (1, 1), (5, 5)] {
            let sum: usize = (0..threads).map(|i| share(total, threads, i)).sum();
            assert_eq!(sum, total);
        }
    }

    #[test]
    fn request_budget_is_exact() {
        let opts = BenchOpts {
            url: None,
            connections: 1,
            requests: Some(3),
            duration: Duration::from_secs(1),
            threads: 1,
            timeout: Duration::from_secs(1),
        };
        let b = make_budget(&opts);
        assert_eq!((0..10).filter(|_| b.claim()).count(), 3);
    }

    #[test]
    fn embedded_bench_completes_every_request() {
        let opts = BenchOpts {
            url: None,
            connections: 4,
            requests: Some(200),
            duration: Duration::from_secs(60),
            threads: 2,
            timeout: Duration::from_secs(10),
        };
        let (report, ok) = run(&opts).unwrap();
        assert_eq!(ok, 200);
        assert!(report.contains("200 complete, 0 failed"), "{report}");
    }
}
