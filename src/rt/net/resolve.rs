//! Name resolution off the loop: `getaddrinfo` on a bounded set of helper threads.
//!
//! `getaddrinfo` blocks, so [`resolve`] hands the name to one of [`RESOLVER_THREADS`] helper
//! threads (started on first use) and waits; the helper stores the answer and wakes the task
//! through its `Send` waker, i.e. the loop's cross-thread wake path. Literal IP addresses
//! skip the threads.
//!
//! # Invariants
//! - At most [`RESOLVER_THREADS`] threads ever run `getaddrinfo` for the process.
//! - A reply's waker is taken under its lock and woken after the lock is released.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};

/// How many helper threads resolve names.
pub const RESOLVER_THREADS: usize = 4;

/// Test hook: called on the helper thread with the host name before each lookup.
static HOOK: Mutex<Option<fn(&str)>> = Mutex::new(None);

/// Makes every later lookup on the resolver threads call `hook(host)` first, on the helper
/// thread (tests make it sleep or block to show a slow resolver does not stall the loop).
#[doc(hidden)]
pub fn set_resolve_hook_for_tests(hook: Option<fn(&str)>) {
    *HOOK.lock().unwrap_or_else(PoisonError::into_inner) = hook;
}

/// Where a helper thread leaves its answer.
#[derive(Debug, Default)]
struct Reply {
    /// The answer, once there is one.
    result: Mutex<Option<io::Result<Vec<SocketAddr>>>>,
    /// The waiting task's waker.
    waker: Mutex<Option<Waker>>,
}

/// One lookup for a helper thread.
#[derive(Debug)]
struct Job {
    /// Host name.
    host: String,
    /// Port to attach to each address.
    port: u16,
    /// Where the answer goes.
    reply: Arc<Reply>,
}

/// The job queue the helpers share.
fn queue() -> &'static Mutex<Sender<Job>> {
    static QUEUE: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
    QUEUE.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..RESOLVER_THREADS {
            let rx = rx.clone();
            // A failed spawn leaves fewer helpers; at least one is needed, checked on submit.
            let _ = std::thread::Builder::new()
                .name(format!("weir-resolve-{i}"))
                .spawn(move || helper(&rx));
        }
        Mutex::new(tx)
    })
}

/// A helper thread: takes jobs until the queue closes (never, it is static).
fn helper(rx: &Mutex<Receiver<Job>>) {
    loop {
        let job = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(job) = job else { return };
        let hook = *HOOK.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(hook) = hook {
            hook(&job.host);
        }
        let result = (job.host.as_str(), job.port)
            .to_socket_addrs()
            .map(|addrs| addrs.collect::<Vec<_>>());
        *job.reply
            .result
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(result);
        let waker = job
            .reply
            .waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// Resolves `host` to socket addresses with `port`, without blocking the loop.
///
/// Literal IPv4/IPv6 addresses (IPv6 with or without brackets) are returned at once.
///
/// # Examples
/// ```
/// weir::rt::block_on(async {
///     let addrs = weir::rt::net::resolve("localhost", 80).await.unwrap();
///     assert!(addrs.iter().all(|a| a.ip().is_loopback()));
///     let lit = weir::rt::net::resolve("[::1]", 8080).await.unwrap();
///     assert_eq!(lit, vec!["[::1]:8080".parse().unwrap()]);
/// });
/// ```
pub fn resolve(host: &str, port: u16) -> Resolve {
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let state = match literal.parse::<IpAddr>() {
        Ok(ip) => ResolveState::Literal(Some(SocketAddr::new(ip, port))),
        Err(_) => ResolveState::Start(host.to_owned(), port),
    };
    Resolve { state }
}

/// The future of [`resolve`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Resolve {
    /// Where the lookup is.
    state: ResolveState,
}

/// The stages of a lookup.
#[derive(Debug)]
enum ResolveState {
    /// A literal address; `None` once returned.
    Literal(Option<SocketAddr>),
    /// Not yet handed to a helper.
    Start(String, u16),
    /// Waiting for the helper's reply.
    Waiting(Arc<Reply>),
}

impl Future for Resolve {
    type Output = io::Result<Vec<SocketAddr>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let ResolveState::Start(host, port) = &mut self.state {
            let reply = Arc::new(Reply::default());
            *reply.waker.lock().unwrap_or_else(PoisonError::into_inner) = Some(cx.waker().clone());
            let job = Job {
                host: std::mem::take(host),
                port: *port,
                reply: reply.clone(),
            };
            let sent = queue()
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .send(job);
            if sent.is_err() {
                return Poll::Ready(Err(io::Error::other("resolver threads are gone")));
            }
            self.state = ResolveState::Waiting(reply);
            return Poll::Pending;
        }
        match &mut self.state {
            ResolveState::Literal(addr) => Poll::Ready(Ok(addr.take().into_iter().collect())),
            ResolveState::Waiting(reply) => poll_reply(reply, cx),
            ResolveState::Start(..) => Poll::Pending, // handled above
        }
    }
}

/// Takes the reply if it is there; otherwise stores the waker (then checks again, since the
/// helper may have answered in between).
fn poll_reply(reply: &Reply, cx: &Context<'_>) -> Poll<io::Result<Vec<SocketAddr>>> {
    let take = || {
        reply
            .result
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    };
    if let Some(result) = take() {
        return Poll::Ready(result);
    }
    *reply.waker.lock().unwrap_or_else(PoisonError::into_inner) = Some(cx.waker().clone());
    match take() {
        Some(result) => Poll::Ready(result),
        None => Poll::Pending,
    }
}
