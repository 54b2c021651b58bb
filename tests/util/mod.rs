//! Shared helpers for the integration tests: real peers on loopback and small checks.
//!
//! Every test binary that needs them says `mod util;`. The peers are programs and servers we
//! did not write, started on 127.0.0.1 on a free port, ready-checked by polling a connect
//! (bounded retries; a peer that never listens is a test failure with its log, not a hang),
//! and stopped in `Drop` (kill + wait, temporary directories removed):
//!
//! - [`nginx::Nginx`]: stock nginx with a generated config and docroot (keep-alive, chunked,
//!   HEAD, 304, 13 B / 1 MiB / 64 MiB files, `Connection: close`, request counters).
//! - [`python::PythonHttpServer`]: Python's `http.server` in HTTP/1.1 mode (plus chunked,
//!   close-delimited and echo handlers).
//! - [`hyper_server::HyperServer`]: hyper 1.x on a tokio current-thread runtime with a handler
//!   closure.
//! - [`scripted::ScriptedPeer`]: a raw-socket peer following a script per accepted connection
//!   (read the request head, write bytes in pieces, wait for the test's release, close, reset,
//!   half-close, hang), recording what it received.
//!
//! A missing external program (nginx, python3) fails the test with a message saying what to
//! install: `.ci/run` installs them, so a skip would only hide a broken CI.
//!
//! Heavy tests (1,000 connections, 64 MiB bodies, 100,000-case fuzzing) put `heavy_` in
//! their name: `.ci/run` skips them under valgrind with `--skip heavy_` and sets
//! `WEIR_UNDER_VALGRIND=1` (see [`under_valgrind`]) for tests that want to scale down.
#![allow(dead_code)]

pub mod alloc;
pub mod bench;
pub mod conn;
pub mod hyper_server;
pub mod nginx;
pub mod python;
pub mod raw;
pub mod rt;
pub mod scripted;

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

/// How long a launched peer may take to start listening before the test fails.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The pause between two connect attempts while waiting for a peer.
const READY_POLL: Duration = Duration::from_millis(10);

/// Number of open file descriptors of this process (entries of `/proc/self/fd`, less the one
/// the directory listing itself holds).
///
/// Tests running in parallel threads of the same binary open descriptors too: an fd-leak test
/// takes [`fd_gate_exclusive`] and the other tests of its binary [`fd_gate_shared`] (or it
/// lives in a test binary of its own).
///
/// Only descriptors below the soft `RLIMIT_NOFILE` count: valgrind reports a lowered limit to
/// the program and keeps its own descriptors above it, opening some for a moment (which made
/// a before/after count differ by one under `.ci/run`'s memcheck).
pub fn open_fds() -> usize {
    let limit = fd_limit();
    let entries = std::fs::read_dir("/proc/self/fd").expect("read /proc/self/fd");
    let fds = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u64>().ok());
    fds.filter(|&fd| fd < limit).count().saturating_sub(1)
}

/// The soft `RLIMIT_NOFILE` as this program sees it (no limit if it cannot be read).
fn fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for the call.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    if rc == 0 {
        lim.rlim_cur
    } else {
        u64::MAX
    }
}

/// Orders tests of one binary around descriptor counting: see [`fd_gate_shared`].
static FD_GATE: RwLock<()> = RwLock::new(());

/// Taken by a test that opens descriptors, in a binary that also has fd-counting tests, so
/// that it never runs while one of those counts.
pub fn fd_gate_shared() -> RwLockReadGuard<'static, ()> {
    FD_GATE
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Taken by a test that counts descriptors ([`open_fds`] before and after): no test holding
/// [`fd_gate_shared`] runs meanwhile.
pub fn fd_gate_exclusive() -> RwLockWriteGuard<'static, ()> {
    FD_GATE
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// True when `.ci/run` runs this binary under valgrind (`WEIR_UNDER_VALGRIND=1`): tests may
/// use smaller counts there. Heavy tests are skipped by name (`heavy_`) instead.
pub fn under_valgrind() -> bool {
    std::env::var_os("WEIR_UNDER_VALGRIND").is_some_and(|v| v == "1")
}

/// A loopback port that was free a moment ago (bound to port 0 and released).
///
/// Another process may take it before the caller binds it: launchers that must pass a port
/// to a program (nginx) retry on "address in use".
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

/// Polls `connect(addr)` until it succeeds, `child` (when given) exits, or [`READY_TIMEOUT`]
/// passes. The error says which, so the launcher can show the peer's log.
pub fn wait_listening(addr: SocketAddr, child: Option<&mut Child>) -> io::Result<()> {
    let listening = || TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok();
    wait_until(listening, child, &format!("a listener on {addr}"))
}

/// Polls `ready` every [`READY_POLL`] until it holds, `child` (when given) exits, or
/// [`READY_TIMEOUT`] passes; `awaited` names what was waited for in the error.
pub fn wait_until(
    mut ready: impl FnMut() -> bool,
    mut child: Option<&mut Child>,
    awaited: &str,
) -> io::Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if ready() {
            return Ok(());
        }
        if let Some(child) = child.as_deref_mut() {
            if let Some(status) = child.try_wait()? {
                return Err(io::Error::other(format!(
                    "exited with {status} while waiting for {awaited}"
                )));
            }
        }
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("waited {READY_TIMEOUT:?} for {awaited} in vain"),
            ));
        }
        std::thread::sleep(READY_POLL);
    }
}

/// Path of an external program: the first of `candidates` that exists, else `name` found on
/// `PATH`. Panics with an install hint when there is none (never skips: CI must run it).
pub fn require_program(name: &str, candidates: &[&str], package: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let found = candidates
        .iter()
        .map(PathBuf::from)
        .chain(on_path)
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!(
            "{name} is not installed: these tests need it (apt-get install {package}; .ci/run \
             installs it)"
        )
    })
}

/// Kills and reaps a child; a child that already exited is fine.
pub fn stop_child(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A temporary directory removed (recursively) on drop.
#[derive(Debug)]
pub struct TempDir {
    /// The directory's path.
    path: PathBuf,
}

impl TempDir {
    /// Creates a fresh directory under the system temp dir, named after `prefix`, this
    /// process and a counter.
    pub fn new(prefix: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("weir-{prefix}-{}-{n}", std::process::id());
        let path = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// `len` bytes of a fixed, position-dependent pattern (not all zeros, not periodic at any
/// power of two), used for generated files so that a misplaced or dropped range shows.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(pattern_byte).collect()
}

/// Byte `i` of [`pattern`].
pub fn pattern_byte(i: usize) -> u8 {
    let block = (i / 251) as u32;
    ((i % 251) as u32 ^ block.wrapping_mul(7)) as u8
}
