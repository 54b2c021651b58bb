//! hyper 1.x's HTTP/1.1 server on a background thread, with a handler closure.
//!
//! The thread runs a tokio current-thread runtime and a `LocalSet` (so handler futures need
//! not be `Send`); each accepted connection is served by `hyper::server::conn::http1` with
//! keep-alive on. `Drop` signals the accept loop, then joins the thread; dropping the runtime
//! closes every connection.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

/// The error type a handler's response body may fail with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A whole body from bytes (`Content-Length` framing).
pub fn full(bytes: impl Into<Bytes>) -> Full<Bytes> {
    Full::new(bytes.into())
}

/// A running hyper server; stopped and joined on drop.
#[derive(Debug)]
pub struct HyperServer {
    /// Where it listens.
    addr: SocketAddr,
    /// Connections accepted so far.
    connections: Arc<AtomicUsize>,
    /// Dropping or sending stops the accept loop.
    shutdown: Option<oneshot::Sender<()>>,
    /// The server thread.
    thread: Option<JoinHandle<()>>,
}

impl HyperServer {
    /// Starts a server on 127.0.0.1 (a free port) answering every request with
    /// `handler(request).await`.
    pub fn start<F, Fut, B>(handler: F) -> HyperServer
    where
        F: Fn(Request<Incoming>) -> Fut + Send + 'static,
        Fut: Future<Output = Response<B>> + 'static,
        B: Body<Data = Bytes> + 'static,
        B::Error: Into<BoxError>,
    {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind hyper server");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let addr = listener.local_addr().expect("local_addr");
        let connections = Arc::new(AtomicUsize::new(0));
        let (shutdown, stopped) = oneshot::channel();
        let counter = connections.clone();
        let thread = std::thread::Builder::new()
            .name("hyper-server".into())
            .spawn(move || serve(listener, handler, stopped, counter))
            .expect("spawn hyper server thread");
        HyperServer {
            addr,
            connections,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// A server answering every request with 200 and `body`.
    pub fn fixed(body: &'static [u8]) -> HyperServer {
        HyperServer::start(move |_request| async move { Response::new(full(body)) })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:port` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Connections accepted so far (a pool test's reuse check).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// The server thread: accept until `stopped` fires, one local task per connection.
fn serve<F, Fut, B>(
    listener: std::net::TcpListener,
    handler: F,
    stopped: oneshot::Receiver<()>,
    connections: Arc<AtomicUsize>,
) where
    F: Fn(Request<Incoming>) -> Fut + 'static,
    Fut: Future<Output = Response<B>> + 'static,
    B: Body<Data = Bytes> + 'static,
    B::Error: Into<BoxError>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let local = tokio::task::LocalSet::new();
    let handler = Rc::new(handler);
    local.block_on(&runtime, async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        let accept_loop = async {
            while let Ok((stream, _)) = listener.accept().await {
                connections.fetch_add(1, Ordering::SeqCst);
                let handler = handler.clone();
                let service = service_fn(move |request| {
                    let response = handler(request);
                    async move { Ok::<_, Infallible>(response.await) }
                });
                tokio::task::spawn_local(async move {
                    let connection = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service);
                    // A client that breaks the connection is what many tests do: not an error.
                    let _ = connection.await;
                });
            }
        };
        tokio::select! {
            _ = stopped => {}
            _ = accept_loop => {}
        }
    });
}

impl Drop for HyperServer {
    fn drop(&mut self) {
        drop(self.shutdown.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
