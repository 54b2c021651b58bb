//! The blocking client: the async [`crate::client::Client`] on a loop of its own, on a
//! background thread.
//!
//! # Design
//!
//! A [`Client`] is a handle (`Send + Sync`, cheap to clone) to one loop thread running one
//! async client and its pool. A call queues a job on a mutex-guarded queue and wakes the loop's
//! dispatcher task through its `Waker` (weir's wakers are `Send`: a wake from another thread
//! goes through the loop's injection queue and its eventfd). The dispatcher spawns one task per
//! job; the calling thread blocks on a one-slot reply channel until the response head arrives.
//!
//! The response body streams back through a bounded channel: the loop task pushes chunks while
//! fewer than [`BODY_CHANNEL_BYTES`] are queued and otherwise waits (its waker is woken when
//! the reader takes a chunk), so a slow reader holds at most that much in memory and the loop
//! stops reading the socket meanwhile (TCP backpressure reaches the server). Dropping the
//! [`Body`] early tells the loop task, which drops the async body (the connection is drained
//! within bounds and reused, or closed).
//!
//! Dropping the last handle closes the queue, stops the loop and joins its thread. Bodies still
//! being read then end with an error: their connections belonged to that loop.
//!
//! # Invariants
//! - Every queued job gets exactly one reply, or its reply channel is dropped (the caller then
//!   sees an error): no caller blocks forever on a loop that stopped.
//! - The body channel never holds more than [`BODY_CHANNEL_BYTES`] plus one chunk.
//! - No lock is held while a waker is woken.
//!
//! # Examples
//! ```no_run
//! let client = weir::blocking::Client::new();
//! let resp = client.get("http://127.0.0.1:8080/")?;
//! println!("{}", resp.status());
//! let text = resp.into_body().text()?;
//! # Ok::<(), weir::Error>(())
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};
use std::thread::{self, JoinHandle, ThreadId};

use bytes::{Bytes, BytesMut};

use crate::client::{self, ClientBuilder, PoolStats, RequestOptions};
use crate::error::{Error, Kind, Phase, Result};
use crate::http::{HeaderMap, Request, Response};

/// Most body bytes queued between the loop and a reader (beyond one chunk in flight).
pub const BODY_CHANNEL_BYTES: usize = 256 * 1024;

/// A blocking HTTP/1.1 client: `Send + Sync`, usable from many threads at once; clones share
/// one background loop and one pool.
#[derive(Clone)]
pub struct Client {
    /// The loop and its queue.
    handle: Arc<Handle>,
}

/// Owns the loop thread: dropping it stops and joins the loop.
struct Handle {
    /// The job queue shared with the loop.
    shared: Arc<Shared>,
    /// The loop thread.
    thread: Option<JoinHandle<()>>,
    /// Its id (a drop on the loop thread itself must not join it).
    thread_id: ThreadId,
}

/// The queue between callers and the loop's dispatcher.
#[derive(Default)]
struct Shared {
    /// Jobs, the dispatcher's waker, and whether the client is closed.
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    /// Jobs not yet taken by the dispatcher.
    jobs: VecDeque<Job>,
    /// The dispatcher's waker, while it waits.
    waker: Option<Waker>,
    /// Set when the last handle is dropped: the dispatcher stops.
    closed: bool,
}

/// One call into the loop.
#[allow(clippy::large_enum_variant)] // `Stats` is rare; boxing the request would allocate per call
enum Job {
    /// Send a request; reply with the response head and a streaming body.
    Send {
        /// The request.
        req: Request,
        /// Its timeouts.
        opts: RequestOptions,
        /// Where the response goes.
        reply: mpsc::SyncSender<Result<Response<Body>>>,
    },
    /// Report the pool's counts.
    Stats(mpsc::SyncSender<PoolStats>),
}

impl Default for Client {
    fn default() -> Client {
        Client::new()
    }
}

impl Client {
    /// A client with the default settings, on a new loop thread.
    ///
    /// # Panics
    /// If the thread or its event loop cannot be created (out of threads or file descriptors);
    /// [`with_builder`](Self::with_builder) returns that error instead.
    pub fn new() -> Client {
        match Client::with_builder(ClientBuilder::new) {
            Ok(client) => client,
            Err(err) => panic!("weir: cannot start the blocking client's loop thread: {err}"),
        }
    }

    /// A client whose async client is built by `make` on the loop thread (so its
    /// [`on_event`](ClientBuilder::on_event) callback need not be `Send`).
    ///
    /// # Errors
    /// When the thread or its event loop cannot be created.
    ///
    /// # Examples
    /// ```
    /// let client = weir::blocking::Client::with_builder(|| {
    ///     weir::client::Client::builder().max_connections_per_host(4)
    /// })?;
    /// # drop(client);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_builder<F>(make: F) -> io::Result<Client>
    where
        F: FnOnce() -> ClientBuilder + Send + 'static,
    {
        let shared = Arc::new(Shared::default());
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let loop_shared = shared.clone();
        let thread = thread::Builder::new()
            .name("weir-blocking".into())
            .spawn(move || run_loop(loop_shared, make, ready_tx))?;
        let thread_id = thread.thread().id();
        let handle = Handle {
            shared,
            thread: Some(thread),
            thread_id,
        };
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Client {
                handle: Arc::new(handle),
            }),
            Ok(Err(err)) => Err(err),
            Err(_) => Err(io::Error::other("the loop thread exited while starting")),
        }
    }

    /// Sends `req`; returns once the response head arrived. Read the body from the response.
    ///
    /// # Errors
    /// As [`crate::client::Client::send`].
    pub fn send(&self, req: Request) -> Result<Response<Body>> {
        self.send_with(req, RequestOptions::default())
    }

    /// [`send`](Self::send) with per-request timeouts.
    pub fn send_with(&self, req: Request, opts: RequestOptions) -> Result<Response<Body>> {
        let url = req.url().to_string();
        let (reply, answer) = mpsc::sync_channel(1);
        self.submit(Job::Send { req, opts, reply })
            .map_err(|e| e.with_url(&url))?;
        answer
            .recv()
            .unwrap_or_else(|_| Err(loop_gone().with_url(url)))
    }

    /// `GET url`.
    ///
    /// # Errors
    /// As [`send`](Self::send), and for a URL that does not parse.
    pub fn get(&self, url: &str) -> Result<Response<Body>> {
        self.send(Request::get(url).build()?)
    }

    /// The pool's counts (all zero if the loop has stopped).
    pub fn pool_stats(&self) -> PoolStats {
        let (reply, answer) = mpsc::sync_channel(1);
        if self.submit(Job::Stats(reply)).is_err() {
            return PoolStats::default();
        }
        answer.recv().unwrap_or_default()
    }

    /// Queues `job` and wakes the dispatcher.
    fn submit(&self, job: Job) -> Result<()> {
        let waker = {
            let mut queue = lock(&self.handle.shared.queue);
            if queue.closed {
                return Err(loop_gone());
            }
            queue.jobs.push_back(job);
            queue.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let waker = {
            let mut queue = lock(&self.shared.queue);
            queue.closed = true;
            queue.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        if thread::current().id() == self.thread_id {
            return; // dropped on the loop thread itself: it exits on its own
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The loop thread: a runtime, the async client, and the dispatcher.
fn run_loop<F>(shared: Arc<Shared>, make: F, ready: mpsc::SyncSender<io::Result<()>>)
where
    F: FnOnce() -> ClientBuilder,
{
    let rt = match crate::rt::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            let _ = ready.send(Err(err));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    rt.block_on(async move {
        let client = make().build();
        while let Some(jobs) = next_jobs(&shared).await {
            for job in jobs {
                dispatch(&client, job);
            }
        }
    });
    drop(rt); // drops the tasks still running: their bodies end with an error
}

/// Waits for queued jobs; `None` once the client is closed.
async fn next_jobs(shared: &Shared) -> Option<VecDeque<Job>> {
    poll_fn(|cx| {
        let mut queue = lock(&shared.queue);
        if !queue.jobs.is_empty() {
            return Poll::Ready(Some(std::mem::take(&mut queue.jobs)));
        }
        if queue.closed {
            return Poll::Ready(None);
        }
        let old = queue.waker.replace(cx.waker().clone());
        drop(queue);
        drop(old);
        Poll::Pending
    })
    .await
}

/// Runs one job: stats at once, a request on a task of its own.
fn dispatch(client: &client::Client, job: Job) {
    match job {
        Job::Stats(reply) => {
            let _ = reply.try_send(client.pool_stats());
        }
        Job::Send { req, opts, reply } => {
            let client = client.clone();
            drop(crate::rt::spawn(serve(client, req, opts, reply)));
        }
    }
}

/// Sends the request, replies with the head, then pumps the body into the channel.
async fn serve(
    client: client::Client,
    req: Request,
    opts: RequestOptions,
    reply: mpsc::SyncSender<Result<Response<Body>>>,
) {
    let resp = match client.send_with(req, opts).await {
        Ok(resp) => resp,
        Err(err) => {
            let _ = reply.try_send(Err(err));
            return;
        }
    };
    let (head, body, _) = resp.into_parts();
    let chan = Arc::new(Chan::default());
    let receiver = Body::new(chan.clone());
    if reply.try_send(Ok(Response::new(head, receiver))).is_err() {
        return; // the caller is gone
    }
    pump(body, Sender { chan }).await;
}

/// Moves body chunks into the channel until the end, an error, or the reader leaving.
async fn pump(mut body: client::Body, tx: Sender) {
    loop {
        if !tx.reserve().await {
            return; // the reader dropped the body: dropping ours drains or closes
        }
        match body.next_chunk().await {
            Ok(Some(chunk)) => tx.push(chunk),
            Ok(None) => return tx.end(Ok(body.trailers().cloned())),
            Err(err) => return tx.end(Err(err)),
        }
    }
}

/// The bounded channel of one body.
#[derive(Default)]
struct Chan {
    /// The queued chunks and the ends' states.
    state: Mutex<ChanState>,
    /// Signalled when a chunk, the end, or the sender's drop arrives.
    changed: Condvar,
}

#[derive(Default)]
struct ChanState {
    /// Chunks not yet read.
    chunks: VecDeque<Bytes>,
    /// Their total length.
    queued: usize,
    /// How the body ended, once it did (the error is handed out once).
    end: Option<Result<Option<HeaderMap>>>,
    /// The sender was dropped (the loop stopped, or the body ended).
    sender_gone: bool,
    /// The reader dropped the body.
    receiver_gone: bool,
    /// The loop task waiting for room.
    sender_waker: Option<Waker>,
}

/// The loop's end of a body channel.
struct Sender {
    /// The channel.
    chan: Arc<Chan>,
}

impl Sender {
    /// Waits until there is room; `false` when the reader is gone.
    fn reserve(&self) -> impl Future<Output = bool> + '_ {
        poll_fn(move |cx| {
            let mut st = lock(&self.chan.state);
            if st.receiver_gone {
                return Poll::Ready(false);
            }
            if st.queued < BODY_CHANNEL_BYTES {
                return Poll::Ready(true);
            }
            let old = st.sender_waker.replace(cx.waker().clone());
            drop(st);
            drop(old);
            Poll::Pending
        })
    }

    fn push(&self, chunk: Bytes) {
        let mut st = lock(&self.chan.state);
        st.queued += chunk.len();
        st.chunks.push_back(chunk);
        drop(st);
        self.chan.changed.notify_all();
    }

    fn end(&self, end: Result<Option<HeaderMap>>) {
        lock(&self.chan.state).end = Some(end);
        self.chan.changed.notify_all();
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        lock(&self.chan.state).sender_gone = true;
        self.chan.changed.notify_all();
    }
}

/// A response body read from a blocking client: [`std::io::Read`], or chunk by chunk, or whole.
pub struct Body {
    /// The channel from the loop.
    chan: Arc<Chan>,
    /// The unread rest of the chunk being read through `Read`.
    current: Bytes,
    /// Trailers, once the end was reached.
    trailers: Option<HeaderMap>,
    /// The end was reached (or an error was returned).
    finished: bool,
}

impl Body {
    fn new(chan: Arc<Chan>) -> Body {
        Body {
            chan,
            current: Bytes::new(),
            trailers: None,
            finished: false,
        }
    }

    /// The next chunk, blocking until it arrives; `None` at the end.
    ///
    /// # Errors
    /// The body failed (connection closed early, timeout, invalid framing), or the client
    /// was dropped while the body was being read.
    pub fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        if !self.current.is_empty() {
            return Ok(Some(std::mem::take(&mut self.current)));
        }
        if self.finished {
            return Ok(None);
        }
        let (next, waker) = self.wait_next();
        if let Some(waker) = waker {
            waker.wake();
        }
        match next {
            Next::Chunk(chunk) => Ok(Some(chunk)),
            Next::End(Ok(trailers)) => {
                self.finished = true;
                self.trailers = trailers;
                Ok(None)
            }
            Next::End(Err(err)) => {
                self.finished = true;
                Err(err)
            }
        }
    }

    /// Blocks until a chunk or the end; returns the sender's waker to wake when room was made.
    fn wait_next(&self) -> (Next, Option<Waker>) {
        let mut st = lock(&self.chan.state);
        loop {
            if let Some(chunk) = st.chunks.pop_front() {
                st.queued -= chunk.len();
                return (Next::Chunk(chunk), st.sender_waker.take());
            }
            if let Some(end) = st.end.take() {
                return (Next::End(end), None);
            }
            if st.sender_gone {
                return (
                    Next::End(Err(loop_gone().with_phase(Phase::ReadBody))),
                    None,
                );
            }
            st = self
                .chan
                .changed
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The whole (rest of the) body.
    ///
    /// # Errors
    /// As [`next_chunk`](Self::next_chunk).
    pub fn bytes(mut self) -> Result<Bytes> {
        let mut all = BytesMut::new();
        while let Some(chunk) = self.next_chunk()? {
            if all.is_empty() && self.finished_after_this() {
                return Ok(chunk);
            }
            all.extend_from_slice(&chunk);
        }
        Ok(all.freeze())
    }

    /// True when the body already ended, so a single chunk is the whole rest (no copy).
    fn finished_after_this(&self) -> bool {
        let st = lock(&self.chan.state);
        st.chunks.is_empty() && matches!(st.end, Some(Ok(_)))
    }

    /// The whole body as text (invalid UTF-8 replaced, as the async body does).
    ///
    /// # Errors
    /// As [`next_chunk`](Self::next_chunk).
    pub fn text(self) -> Result<String> {
        let bytes = self.bytes()?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// A chunked body's trailers, once the end was reached.
    pub fn trailers(&self) -> Option<&HeaderMap> {
        self.trailers.as_ref()
    }
}

/// What a reader gets next.
enum Next {
    /// A chunk.
    Chunk(Bytes),
    /// The end: trailers, or the error that ended the body.
    End(Result<Option<HeaderMap>>),
}

impl io::Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.current.is_empty() {
            match self.next_chunk().map_err(io::Error::from)? {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        let waker = {
            let mut st = lock(&self.chan.state);
            st.receiver_gone = true;
            st.chunks.clear();
            st.queued = 0;
            st.sender_waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The error when the loop thread is gone (the client was dropped, or its loop failed).
fn loop_gone() -> Error {
    let source = io::Error::other("the blocking client's loop has stopped");
    Error::new(Kind::Io, Phase::Prepare).with_source(source)
}

/// Locks `m`, ignoring poisoning (no code here panics while holding these locks).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::Client").finish_non_exhaustive()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::Body")
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn client_is_send_and_sync_and_body_is_send() {
        assert_send_sync::<Client>();
        fn assert_send<T: Send>() {}
        assert_send::<Body>();
        assert_send::<Response<Body>>();
    }

    #[test]
    fn body_channel_bounds_memory_and_ends_cleanly() {
        let chan = Arc::new(Chan::default());
        let mut body = Body::new(chan.clone());
        let tx = Sender { chan };
        let producer = std::thread::spawn(move || {
            crate::rt::block_on(async move {
                for i in 0..64u8 {
                    assert!(tx.reserve().await);
                    let queued = lock(&tx.chan.state).queued;
                    assert!(queued < BODY_CHANNEL_BYTES, "bounded: {queued}");
                    tx.push(Bytes::from(vec![i; 16 * 1024]));
                }
                tx.end(Ok(None));
            })
        });
        let mut total = 0;
        let mut n = 0u8;
        while let Some(chunk) = body.next_chunk().unwrap() {
            assert!(chunk.iter().all(|&b| b == n));
            n += 1;
            total += chunk.len();
        }
        producer.join().unwrap();
        assert_eq!(total, 64 * 16 * 1024);
        assert!(body.next_chunk().unwrap().is_none());
    }

    #[test]
    fn dropped_reader_releases_the_waiting_sender() {
        let chan = Arc::new(Chan::default());
        let body = Body::new(chan.clone());
        let tx = Sender { chan };
        let producer = std::thread::spawn(move || {
            crate::rt::block_on(async move {
                let mut pushed = 0;
                while tx.reserve().await {
                    tx.push(Bytes::from(vec![0; 64 * 1024]));
                    pushed += 1;
                }
                pushed
            })
        });
        while lock(&body.chan.state).sender_waker.is_none() {
            std::thread::yield_now();
        }
        drop(body);
        let pushed = producer.join().unwrap();
        assert_eq!(pushed, BODY_CHANNEL_BYTES / (64 * 1024));
    }

    #[test]
    fn dropping_the_client_joins_its_thread() {
        let client = Client::new();
        let stats = client.pool_stats();
        assert_eq!(stats, PoolStats::default());
        let clone = client.clone();
        drop(client);
        let err = clone.get("http://127.0.0.1:1/").err();
        let kind = err.map(|e| e.kind());
        assert_eq!(
            kind,
            Some(Kind::Connect),
            "refused by the port, not by a stopped loop"
        );
        // The loop thread holds a share of the queue until it returns: joined, it has.
        let queue = Arc::downgrade(&clone.handle.shared);
        drop(clone);
        assert_eq!(
            queue.strong_count(),
            0,
            "the last drop joined the loop thread"
        );
    }
}
