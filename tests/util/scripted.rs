//! A raw-socket HTTP peer that follows a script per accepted connection.
//!
//! Connection `i` (in accept order) runs `scripts[i]`; a connection beyond the scripts is
//! closed at once and recorded with an error. Each connection runs on its own thread, so a
//! script that hangs does not stop the others. Every byte read is recorded ([`ConnRecord`]);
//! request heads are recorded before anything is written back, so once the client has seen
//! the answer, the head is there to assert on.
//!
//! Blocking calls use short socket timeouts and re-check a stop flag, so `Drop` never waits
//! for a client: it stops the acceptor (by connecting to it) and joins every thread.
//!
//! Note: closing a socket with unread received bytes makes the kernel send RST, not FIN;
//! read the request (head and body) first when a script means a clean close.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often a blocked read or write re-checks the stop flag.
const STOP_POLL: Duration = Duration::from_millis(20);
/// How long [`ScriptedPeer::wait_done`] waits for a script to finish before failing.
pub const DONE_TIMEOUT: Duration = Duration::from_secs(30);

/// One action of a script.
#[derive(Debug, Clone)]
enum Step {
    /// Read until the end of a request head (CRLFCRLF) and record the head.
    ReadHead,
    /// Read exactly this many bytes (a request body) and record them.
    ReadBody(usize),
    /// Read until the client closes its sending side.
    ReadToEof,
    /// Write `bytes` in pieces of `piece` bytes with `pause` between them.
    Write {
        bytes: Vec<u8>,
        piece: usize,
        pause: Duration,
    },
    /// Sleep.
    Pause(Duration),
    /// Wait until the test calls [`ScriptedPeer::release`].
    WaitRelease,
    /// Close normally (FIN) and end the script.
    Close,
    /// Close with SO_LINGER 0 (RST) and end the script.
    Reset,
    /// Shut down the writing side (FIN) and go on with the script.
    HalfClose,
    /// Keep the connection open, recording anything read, until the client closes or the
    /// peer is dropped; never answer.
    Hang,
}

/// What one connection should do, built step by step. A script that ends without
/// [`Script::close`] or [`Script::reset`] closes normally.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// The steps, in order.
    steps: Vec<Step>,
}

impl Script {
    /// An empty script (accept, then close).
    pub fn new() -> Script {
        Script::default()
    }

    fn then(mut self, step: Step) -> Script {
        self.steps.push(step);
        self
    }

    /// Read a request head (through CRLFCRLF) and record it.
    pub fn read_head(self) -> Script {
        self.then(Step::ReadHead)
    }

    /// Read exactly `len` bytes (a request body) and record them.
    pub fn read_body(self, len: usize) -> Script {
        self.then(Step::ReadBody(len))
    }

    /// Read until the client shuts down its sending side.
    pub fn read_to_eof(self) -> Script {
        self.then(Step::ReadToEof)
    }

    /// Write `bytes` in one write.
    pub fn write(self, bytes: impl AsRef<[u8]>) -> Script {
        let bytes = bytes.as_ref().to_vec();
        let piece = bytes.len().max(1);
        self.then(Step::Write {
            bytes,
            piece,
            pause: Duration::ZERO,
        })
    }

    /// Write `bytes` in pieces of `piece` bytes, pausing `pause` between pieces (so the
    /// client's reads see the split).
    pub fn write_split(self, bytes: impl AsRef<[u8]>, piece: usize, pause: Duration) -> Script {
        let bytes = bytes.as_ref().to_vec();
        self.then(Step::Write {
            bytes,
            piece: piece.max(1),
            pause,
        })
    }

    /// Read a request head, then write `response` (the common case).
    pub fn respond(self, response: impl AsRef<[u8]>) -> Script {
        self.read_head().write(response)
    }

    /// Sleep for `duration`.
    pub fn pause(self, duration: Duration) -> Script {
        self.then(Step::Pause(duration))
    }

    /// Wait until the test calls [`ScriptedPeer::release`] (a point the client must reach
    /// first, ordered without a clock).
    pub fn wait_release(self) -> Script {
        self.then(Step::WaitRelease)
    }

    /// Close normally (FIN); the script ends.
    pub fn close(self) -> Script {
        self.then(Step::Close)
    }

    /// Close with an RST (SO_LINGER 0); the script ends.
    pub fn reset(self) -> Script {
        self.then(Step::Reset)
    }

    /// Shut down the writing side (the client reads EOF) and continue.
    pub fn half_close(self) -> Script {
        self.then(Step::HalfClose)
    }

    /// Keep the connection open and never answer, until the client closes or the peer is
    /// dropped.
    pub fn hang(self) -> Script {
        self.then(Step::Hang)
    }
}

/// What happened on one accepted connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnRecord {
    /// Request heads read, each through its CRLFCRLF.
    pub heads: Vec<Vec<u8>>,
    /// Bodies read by `read_body` steps.
    pub bodies: Vec<Vec<u8>>,
    /// Every byte read on this connection, in order.
    pub received: Vec<u8>,
    /// The client closed its sending side (a read returned 0).
    pub saw_eof: bool,
    /// The step that could not complete (e.g. EOF before a whole head), if any.
    pub error: Option<String>,
    /// The script has ended.
    pub done: bool,
}

impl ConnRecord {
    /// The request heads as text (lossy), for assertions and messages.
    pub fn heads_text(&self) -> Vec<String> {
        self.heads
            .iter()
            .map(|h| String::from_utf8_lossy(h).into_owned())
            .collect()
    }
}

/// State shared by the test, the acceptor and the connection threads.
#[derive(Debug, Default)]
struct Shared {
    /// Set by `Drop`: every thread stops at its next check.
    stop: AtomicBool,
    /// One record per accepted connection, in accept order.
    records: Mutex<Vec<ConnRecord>>,
    /// Signalled whenever a record changes or the test releases the scripts.
    changed: Condvar,
    /// Set by [`ScriptedPeer::release`]: `wait_release` steps go on.
    released: AtomicBool,
    /// Connection threads, joined on drop.
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    fn update(&self, index: usize, change: impl FnOnce(&mut ConnRecord)) {
        let mut records = self.records.lock().unwrap();
        change(&mut records[index]);
        self.changed.notify_all();
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// A listening scripted peer; see the module doc.
#[derive(Debug)]
pub struct ScriptedPeer {
    /// Where it listens.
    addr: SocketAddr,
    /// Records and the stop flag.
    shared: Arc<Shared>,
    /// The accept loop.
    acceptor: Option<JoinHandle<()>>,
}

impl ScriptedPeer {
    /// Listens on 127.0.0.1 (a free port); connection `i` follows `scripts[i]`.
    pub fn start(scripts: Vec<Script>) -> ScriptedPeer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind scripted peer");
        let addr = listener.local_addr().expect("local_addr");
        let shared = Arc::new(Shared::default());
        let acceptor_shared = shared.clone();
        let acceptor = std::thread::Builder::new()
            .name("scripted-accept".into())
            .spawn(move || accept_loop(listener, scripts, acceptor_shared))
            .expect("spawn acceptor");
        ScriptedPeer {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// Listens and runs the same `script` on each of the first `connections` connections.
    pub fn repeat(script: Script, connections: usize) -> ScriptedPeer {
        ScriptedPeer::start(vec![script; connections])
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:port` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Lets every script waiting in (or later reaching) a `wait_release` step go on.
    pub fn release(&self) {
        let _records = self.shared.records.lock().unwrap();
        self.shared.released.store(true, Ordering::SeqCst);
        self.shared.changed.notify_all();
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.records.lock().unwrap().len()
    }

    /// A snapshot of connection `index`'s record (panics if it was never accepted).
    pub fn record(&self, index: usize) -> ConnRecord {
        let records = self.shared.records.lock().unwrap();
        records.get(index).cloned().unwrap_or_else(|| {
            panic!(
                "connection {index} was never accepted ({} were)",
                records.len()
            )
        })
    }

    /// Every request head read so far, across connections in accept order.
    pub fn heads(&self) -> Vec<Vec<u8>> {
        let records = self.shared.records.lock().unwrap();
        records.iter().flat_map(|r| r.heads.clone()).collect()
    }

    /// Waits until connection `index` was accepted and its script ended, then returns its
    /// record. Panics after [`DONE_TIMEOUT`] (a bound, not a timing assertion).
    pub fn wait_done(&self, index: usize) -> ConnRecord {
        self.wait_for(index, |record| record.done)
    }

    /// Waits until connection `index` was accepted and its record satisfies `condition`
    /// (e.g. some bytes were received), then returns the record. Panics after
    /// [`DONE_TIMEOUT`].
    pub fn wait_for(&self, index: usize, condition: impl Fn(&ConnRecord) -> bool) -> ConnRecord {
        let deadline = Instant::now() + DONE_TIMEOUT;
        let mut records = self.shared.records.lock().unwrap();
        loop {
            if let Some(record) = records.get(index).filter(|r| condition(r)) {
                return record.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "scripted connection {index}: condition not met: {records:?}"
            );
            records = self.shared.changed.wait_timeout(records, left).unwrap().0;
        }
    }
}

impl Drop for ScriptedPeer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept; the acceptor sees the flag and returns.
        let _ = TcpStream::connect(self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let threads = std::mem::take(&mut *self.shared.threads.lock().unwrap());
        for thread in threads {
            let _ = thread.join();
        }
    }
}

fn accept_loop(listener: TcpListener, scripts: Vec<Script>, shared: Arc<Shared>) {
    let mut scripts = scripts.into_iter();
    for stream in listener.incoming() {
        if shared.stopped() {
            return;
        }
        let Ok(stream) = stream else { continue };
        let index = {
            let mut records = shared.records.lock().unwrap();
            records.push(ConnRecord::default());
            shared.changed.notify_all();
            records.len() - 1
        };
        let Some(script) = scripts.next() else {
            shared.update(index, |r| {
                r.error = Some("unscripted connection: closed at once".into());
                r.done = true;
            });
            continue;
        };
        let conn_shared = shared.clone();
        let thread = std::thread::spawn(move || run_script(stream, script, index, conn_shared));
        shared.threads.lock().unwrap().push(thread);
    }
}

/// Runs one connection's script, recording into `shared.records[index]`.
fn run_script(stream: TcpStream, script: Script, index: usize, shared: Arc<Shared>) {
    let mut conn = Conn {
        stream,
        buffered: Vec::new(),
        index,
        shared,
    };
    let _ = conn.stream.set_read_timeout(Some(STOP_POLL));
    let _ = conn.stream.set_write_timeout(Some(STOP_POLL));
    let mut error = None;
    for step in script.steps {
        match conn.step(step) {
            Ok(Flow::Continue) => {}
            Ok(Flow::Closed) => break,
            Err(e) => {
                error = Some(e.to_string());
                break;
            }
        }
    }
    conn.shared.update(index, |r| {
        r.error = error;
        r.done = true;
    });
}

/// Whether a script goes on after a step.
enum Flow {
    /// Run the next step.
    Continue,
    /// The connection is closed: the script ends.
    Closed,
}

/// One connection being scripted.
struct Conn {
    /// The accepted socket.
    stream: TcpStream,
    /// Bytes read but not yet consumed by a step (pipelined requests).
    buffered: Vec<u8>,
    /// This connection's record index.
    index: usize,
    /// Records and the stop flag.
    shared: Arc<Shared>,
}

impl Conn {
    fn step(&mut self, step: Step) -> io::Result<Flow> {
        match step {
            Step::ReadHead => self.read_head().map(|_| Flow::Continue),
            Step::ReadBody(len) => self.read_body(len).map(|_| Flow::Continue),
            Step::ReadToEof => self.read_to_eof().map(|_| Flow::Continue),
            Step::Write {
                bytes,
                piece,
                pause,
            } => self.write(&bytes, piece, pause),
            Step::Pause(duration) => {
                std::thread::sleep(duration);
                Ok(Flow::Continue)
            }
            Step::WaitRelease => self.wait_release().map(|_| Flow::Continue),
            Step::Close => Ok(Flow::Closed),
            Step::Reset => self.reset().map(|_| Flow::Closed),
            Step::HalfClose => self
                .stream
                .shutdown(Shutdown::Write)
                .map(|_| Flow::Continue),
            Step::Hang => self.read_to_eof().map(|_| Flow::Closed),
        }
    }

    /// Reads once more into `buffered`; `Ok(false)` on EOF. Errors when the peer is stopping.
    fn fill(&mut self) -> io::Result<bool> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if self.shared.stopped() {
                return Err(io::Error::other("scripted peer dropped"));
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    self.shared.update(self.index, |r| r.saw_eof = true);
                    return Ok(false);
                }
                Ok(n) => {
                    self.buffered.extend_from_slice(&chunk[..n]);
                    self.shared
                        .update(self.index, |r| r.received.extend_from_slice(&chunk[..n]));
                    return Ok(true);
                }
                Err(e) if is_timeout(&e) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn read_head(&mut self) -> io::Result<()> {
        loop {
            if let Some(end) = find(&self.buffered, b"\r\n\r\n") {
                let head: Vec<u8> = self.buffered.drain(..end + 4).collect();
                self.shared.update(self.index, |r| r.heads.push(head));
                return Ok(());
            }
            if !self.fill()? {
                let got = String::from_utf8_lossy(&self.buffered).into_owned();
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("EOF before a whole request head (got {got:?})"),
                ));
            }
        }
    }

    fn read_body(&mut self, len: usize) -> io::Result<()> {
        while self.buffered.len() < len {
            if !self.fill()? {
                let msg = format!("EOF after {} of {len} body bytes", self.buffered.len());
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, msg));
            }
        }
        let body: Vec<u8> = self.buffered.drain(..len).collect();
        self.shared.update(self.index, |r| r.bodies.push(body));
        Ok(())
    }

    /// Waits for [`ScriptedPeer::release`]; errors when the peer is stopping.
    fn wait_release(&mut self) -> io::Result<()> {
        let mut records = self.shared.records.lock().unwrap();
        while !self.shared.released.load(Ordering::SeqCst) {
            if self.shared.stopped() {
                return Err(io::Error::other("scripted peer dropped"));
            }
            records = self
                .shared
                .changed
                .wait_timeout(records, STOP_POLL)
                .unwrap()
                .0;
        }
        Ok(())
    }

    fn read_to_eof(&mut self) -> io::Result<()> {
        while self.fill()? {}
        Ok(())
    }

    fn write(&mut self, bytes: &[u8], piece: usize, pause: Duration) -> io::Result<Flow> {
        for (i, chunk) in bytes.chunks(piece).enumerate() {
            if i > 0 && !pause.is_zero() {
                std::thread::sleep(pause);
            }
            self.write_all(chunk)?;
        }
        Ok(Flow::Continue)
    }

    /// `write_all` that re-checks the stop flag while the client does not read.
    fn write_all(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            if self.shared.stopped() {
                return Err(io::Error::other("scripted peer dropped"));
            }
            match self.stream.write(bytes) {
                Ok(n) => bytes = &bytes[n..],
                Err(e) if is_timeout(&e) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Sets SO_LINGER to zero so the close (when the stream drops) sends RST.
    fn reset(&mut self) -> io::Result<()> {
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: the fd is this open socket's; `linger` is a valid `struct linger` that
        // outlives the call, and the length passed is its size.
        let rc = unsafe {
            libc::setsockopt(
                self.stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Position of the first `needle` in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
