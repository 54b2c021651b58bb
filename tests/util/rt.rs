//! Helpers for the runtime's own tests (`tests/rt_*.rs`): loopback echo peers on the weir
//! loop, connected pairs, a bounded-time guard, and a cross-thread one-shot.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use weir::rt::net::{AsyncStream, TcpListener, TcpStream};
use weir::rt::time::timeout;

/// Generous bound on any single runtime test: a hang becomes a failure, not a stuck CI.
pub const TEST_DEADLINE: Duration = Duration::from_secs(60);

/// Runs `fut` on a new runtime, failing the test if it takes longer than [`TEST_DEADLINE`].
pub fn run<F: Future>(fut: F) -> F::Output {
    weir::rt::block_on(async move {
        match timeout(TEST_DEADLINE, fut).await {
            Ok(out) => out,
            Err(_) => panic!("test did not finish within {TEST_DEADLINE:?} (hang)"),
        }
    })
}

/// A loopback listener on an ephemeral port and its address.
pub fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    (listener, addr)
}

/// Echoes everything read back until EOF.
pub async fn echo<S: AsyncStream + Unpin>(mut stream: S) -> io::Result<u64> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut total = 0;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        stream.write_all(&buf[..n]).await?;
        total += n as u64;
    }
}

/// Spawns an acceptor that spawns an [`echo`] task per connection; returns the address.
pub fn spawn_echo_server() -> SocketAddr {
    let (listener, addr) = listener();
    weir::rt::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            weir::rt::spawn(echo(stream));
        }
    });
    addr
}

/// A connected loopback pair: (client, server side).
pub async fn tcp_pair() -> (TcpStream, TcpStream) {
    let (listener, addr) = listener();
    let client = TcpStream::connect(addr).await.expect("connect");
    let (server, _) = listener.accept().await.expect("accept");
    (client, server)
}

/// Reads exactly `buf.len()` bytes or fails with `UnexpectedEof`.
pub async fn read_exact<S: AsyncStream + Unpin>(
    stream: &mut S,
    mut buf: &mut [u8],
) -> io::Result<()> {
    while !buf.is_empty() {
        let n = stream.read(buf).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
    }
    Ok(())
}

/// A one-shot value sent from any thread to a task on the loop (exercises the Send waker).
#[derive(Debug)]
pub struct Oneshot<T> {
    /// The value and the receiver's waker.
    inner: Arc<Mutex<(Option<T>, Option<Waker>)>>,
}

impl<T> Clone for Oneshot<T> {
    fn clone(&self) -> Self {
        Oneshot {
            inner: self.inner.clone(),
        }
    }
}

impl<T> Default for Oneshot<T> {
    fn default() -> Self {
        Oneshot {
            inner: Arc::new(Mutex::new((None, None))),
        }
    }
}

impl<T> Oneshot<T> {
    /// Stores `value` and wakes the receiver (outside the lock).
    pub fn send(&self, value: T) {
        let waker = {
            let mut g = self.inner.lock().unwrap();
            g.0 = Some(value);
            g.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Future for Oneshot<T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut g = self.inner.lock().unwrap();
        match g.0.take() {
            Some(v) => Poll::Ready(v),
            None => {
                g.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
