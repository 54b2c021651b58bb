//! The client the command drives, shaped like `weir::client::Client` (CONTRACTS.md §6).
//!
//! Until the library's pooled `Client` lands this is a small stand-in built on weir's own
//! pieces: `weir::http` (sans-IO encoder, parser, body decoders) joined to
//! `weir::rt::net` streams, with a per-origin LIFO list of idle connections. The rest of the
//! command only uses the surface below (`Client::builder().on_event(..).build()`,
//! `Client::send`, `Body::next_chunk`), so switching to the library's client is local to
//! this file.
//!
//! Invariants: a connection is returned to the idle list only when its response was read to
//! the end, both sides allow keep-alive and no byte is left over in its read buffer; any
//! error closes it. A request that fails on a reused connection before any response byte
//! arrived is retried once on a fresh connection when its method is idempotent and its body
//! can be replayed.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::io::Read as _;
use std::net::SocketAddr;
use std::rc::Rc;

use bytes::{BufMut, Bytes, BytesMut};
use weir::error::{Kind, Phase};
use weir::http::{
    encode_head, Body as ReqBody, BodyDecoder, Decoded, Limits, Origin, ParseStatus, Request,
    RequestEncoder, Response, ResponseHead, ResponseParser,
};
use weir::rt::net::{AsyncStream, TcpStream, UnixStream};
use weir::{Error, Result};

/// Bytes reserved in a read buffer before each read.
const READ_CHUNK: usize = 64 * 1024;
/// Piece size when streaming a file request body.
const FILE_CHUNK: usize = 64 * 1024;

/// A connection event, reported to the `on_event` callback.
#[derive(Debug, Clone)]
pub enum ClientEvent {
    /// A new connection was opened.
    Connected {
        /// Where to.
        origin: Origin,
        /// The peer address, when known.
        addr: Option<SocketAddr>,
    },
    /// An idle pooled connection was taken for a request.
    Reused {
        /// Where to.
        origin: Origin,
    },
    /// A connection was closed.
    Closed {
        /// Where to.
        origin: Origin,
        /// Why.
        reason: &'static str,
    },
    /// A request was sent again on a fresh connection.
    Retried {
        /// Where to.
        origin: Origin,
        /// The error that caused the retry.
        error: String,
    },
}

/// Shows an origin as `host:port` or the socket path.
pub struct ShowOrigin<'a>(pub &'a Origin);

impl fmt::Display for ShowOrigin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Origin::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Origin::Tcp { host, port } => write!(f, "{host}:{port}"),
            Origin::Unix { path } => write!(f, "unix:{}", path.display()),
            #[allow(unreachable_patterns)]
            _ => f.write_str("?"),
        }
    }
}

type EventFn = Rc<dyn Fn(&ClientEvent)>;

/// Builds a [`Client`].
#[derive(Default)]
pub struct ClientBuilder {
    /// Connection event callback.
    on_event: Option<EventFn>,
}

impl ClientBuilder {
    /// Calls `f` for every connection event.
    pub fn on_event(mut self, f: impl Fn(&ClientEvent) + 'static) -> ClientBuilder {
        self.on_event = Some(Rc::new(f));
        self
    }

    /// The client.
    pub fn build(self) -> Client {
        let inner = Inner {
            idle: RefCell::default(),
            on_event: self.on_event,
        };
        Client {
            inner: Rc::new(inner),
        }
    }
}

/// A per-thread HTTP/1.1 client with a keep-alive pool. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    /// Shared with every body in flight (they give connections back).
    inner: Rc<Inner>,
}

/// The pool and the event hook.
struct Inner {
    /// Idle connections per origin, most recently used last.
    idle: RefCell<HashMap<Origin, Vec<Conn>>>,
    /// Event callback.
    on_event: Option<EventFn>,
}

impl Inner {
    fn emit(&self, event: ClientEvent) {
        if let Some(f) = &self.on_event {
            f(&event);
        }
    }

    /// The most recently used idle connection to `origin` whose peer has not hung up.
    fn checkout(&self, origin: &Origin) -> Option<Conn> {
        loop {
            let conn = self.idle.borrow_mut().get_mut(origin)?.pop()?;
            if !conn.stream.peer_hung_up() {
                return Some(conn);
            }
            let reason = "peer closed the idle connection";
            self.emit(ClientEvent::Closed {
                origin: origin.clone(),
                reason,
            });
        }
    }

    fn checkin(&self, origin: Origin, conn: Conn) {
        self.idle.borrow_mut().entry(origin).or_default().push(conn);
    }
}

impl Client {
    /// A client with default settings.
    #[allow(dead_code)]
    pub fn new() -> Client {
        ClientBuilder::default().build()
    }

    /// A builder.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// Sends `req` and returns the response once its head has arrived.
    pub async fn send(&self, req: Request) -> Result<Response<Body>> {
        let origin = req.url().origin().clone();
        let (conn, reused) = match self.inner.checkout(&origin) {
            Some(conn) => {
                self.inner.emit(ClientEvent::Reused {
                    origin: origin.clone(),
                });
                (conn, true)
            }
            None => (self.connect(&req).await?, false),
        };
        match exchange(conn, &req).await {
            Ok(done) => Ok(self.response(done, origin)),
            Err(e) if reused && can_retry(&req, &e) => {
                let retried = ClientEvent::Retried {
                    origin: origin.clone(),
                    error: e.to_string(),
                };
                self.inner.emit(retried);
                let conn = self.connect(&req).await?;
                Ok(self.response(exchange(conn, &req).await?, origin))
            }
            Err(e) => {
                let reason = "request failed";
                self.inner.emit(ClientEvent::Closed { origin, reason });
                Err(e)
            }
        }
    }

    async fn connect(&self, req: &Request) -> Result<Conn> {
        let origin = req.url().origin();
        let conn = Conn::connect(origin).await.map_err(|e| {
            Error::new(Kind::Connect, Phase::Connect)
                .with_url(req.url())
                .with_source(e)
        })?;
        let addr = conn.stream.peer_addr();
        self.inner.emit(ClientEvent::Connected {
            origin: origin.clone(),
            addr,
        });
        Ok(conn)
    }

    fn response(&self, done: Exchanged, origin: Origin) -> Response<Body> {
        let body = Body {
            conn: Some(done.conn),
            decoder: done.decoder,
            keep_alive: done.keep_alive,
            client: self.inner.clone(),
            origin,
            url: done.url,
        };
        Response::new(done.head, body)
    }
}

/// True when `err` on a reused connection may be retried: nothing of a response arrived,
/// the method is idempotent and the body can be sent again.
fn can_retry(req: &Request, err: &Error) -> bool {
    let replayable = matches!(req.body(), ReqBody::Empty | ReqBody::Bytes(_));
    err.is_retry_safe() && req.method().is_idempotent() && replayable
}

/// A response head and the connection its body is on.
struct Exchanged {
    head: ResponseHead,
    conn: Conn,
    decoder: BodyDecoder,
    keep_alive: bool,
    url: String,
}

/// Writes `req` on `conn` and reads the final response head.
async fn exchange(mut conn: Conn, req: &Request) -> Result<Exchanged> {
    let url = req.url().to_string();
    let mut head = BytesMut::with_capacity(256);
    let mut enc = encode_head(req, &mut head).map_err(|e| e.with_url(&url))?;
    write_request(&mut conn, req, &mut enc, head)
        .await
        .map_err(|e| e.with_url(&url))?;
    let mut parser = ResponseParser::new(enc.context(), Limits::default());
    loop {
        match parser.parse(&mut conn.buf).map_err(|e| e.with_url(&url))? {
            ParseStatus::Partial => {
                if conn
                    .fill()
                    .await
                    .map_err(|e| io_err(e, Phase::ReadHead, &url))?
                    == 0
                {
                    return Err(parser.eof_error(&conn.buf).with_url(&url));
                }
            }
            ParseStatus::Interim(_) => {}
            ParseStatus::Complete(p) => {
                let (decoder, keep_alive) = (p.decoder, p.keep_alive);
                return Ok(Exchanged {
                    head: p.head,
                    conn,
                    decoder,
                    keep_alive,
                    url,
                });
            }
            ParseStatus::Upgrade { head, leftover } => {
                conn.buf = BytesMut::from(&leftover[..]);
                let decoder = BodyDecoder::close_delimited();
                return Ok(Exchanged {
                    head,
                    conn,
                    decoder,
                    keep_alive: false,
                    url,
                });
            }
        }
    }
}

fn io_err(e: std::io::Error, phase: Phase, url: &str) -> Error {
    Error::io(e, phase).with_url(url)
}

/// Writes the head and the body: bytes bodies leave with the head in one write, files in
/// pieces.
async fn write_request(
    conn: &mut Conn,
    req: &Request,
    enc: &mut RequestEncoder,
    mut out: BytesMut,
) -> Result<()> {
    let werr = |e| Error::io(e, Phase::Write);
    match req.body() {
        ReqBody::Empty => out.put(enc.finish()?),
        ReqBody::Bytes(b) => out.put(enc.encode_final(b.clone())?),
        ReqBody::File { file, .. } => {
            conn.stream.write_all(&out).await.map_err(werr)?;
            out.clear();
            let mut piece = vec![0u8; FILE_CHUNK];
            loop {
                let n = (&*file)
                    .read(&mut piece)
                    .map_err(|e| Error::io(e, Phase::Write))?;
                if n == 0 {
                    break;
                }
                let chunk = enc.encode_data(Bytes::copy_from_slice(&piece[..n]))?;
                let mut tmp = BytesMut::new();
                tmp.put(chunk);
                conn.stream.write_all(&tmp).await.map_err(werr)?;
            }
            out.put(enc.finish()?);
        }
        _ => {
            return Err(Error::new(
                Kind::LocalProtocol(weir::error::Invalid::Framing),
                Phase::Write,
            ))
        }
    }
    conn.stream.write_all(&out).await.map_err(werr)
}

/// A response body; reading it to the end gives its connection back to the pool.
pub struct Body {
    /// The connection, until the body ends.
    conn: Option<Conn>,
    /// Body framing and progress.
    decoder: BodyDecoder,
    /// Both sides allow reuse once the body is read.
    keep_alive: bool,
    /// Where the connection goes back to.
    client: Rc<Inner>,
    /// The pool key.
    origin: Origin,
    /// For error context.
    url: String,
}

impl Body {
    /// The next piece of the body, or `None` at its end.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        loop {
            let Some(conn) = self.conn.as_mut() else {
                return Ok(None);
            };
            match self
                .decoder
                .decode(&mut conn.buf)
                .map_err(|e| e.with_url(&self.url))?
            {
                Decoded::Data(b) => return Ok(Some(b)),
                Decoded::Done { .. } => return Ok(self.end()),
                Decoded::NeedMore => {}
            }
            let n = conn
                .fill()
                .await
                .map_err(|e| io_err(e, Phase::ReadBody, &self.url))?;
            if n == 0 {
                self.decoder
                    .finish_eof()
                    .map_err(|e| e.with_url(&self.url))?;
                self.keep_alive = false;
                return Ok(self.end());
            }
        }
    }

    /// Gives the connection back or closes it.
    fn end(&mut self) -> Option<Bytes> {
        let conn = self.conn.take()?;
        let origin = self.origin.clone();
        if self.keep_alive && conn.buf.is_empty() {
            self.client.checkin(origin, conn);
        } else {
            let reason = "not reusable (close or close-delimited)";
            self.client.emit(ClientEvent::Closed { origin, reason });
        }
        None
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        if self.conn.take().is_some() {
            let reason = "body dropped before its end";
            self.client.emit(ClientEvent::Closed {
                origin: self.origin.clone(),
                reason,
            });
        }
    }
}

/// One connection and its read buffer.
struct Conn {
    stream: Stream,
    buf: BytesMut,
}

impl Conn {
    async fn connect(origin: &Origin) -> std::io::Result<Conn> {
        let stream = match origin {
            Origin::Tcp { host, port } => {
                let s = TcpStream::connect_host(host, *port).await?;
                s.set_nodelay(true)?;
                Stream::Tcp(s)
            }
            Origin::Unix { path } => Stream::Unix(UnixStream::connect(path).await?),
            #[allow(unreachable_patterns)]
            _ => return Err(std::io::ErrorKind::Unsupported.into()),
        };
        Ok(Conn {
            stream,
            buf: BytesMut::new(),
        })
    }

    /// Reads more bytes into the buffer; 0 at end of stream.
    async fn fill(&mut self) -> std::io::Result<usize> {
        self.buf.reserve(READ_CHUNK);
        match &mut self.stream {
            Stream::Tcp(s) => s.read_buf(&mut self.buf).await,
            Stream::Unix(s) => s.read_buf(&mut self.buf).await,
        }
    }
}

/// TCP or Unix.
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    async fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => s.write_all(buf).await,
            Stream::Unix(s) => s.write_all(buf).await,
        }
    }

    fn peer_hung_up(&self) -> bool {
        match self {
            Stream::Tcp(s) => s.peer_hung_up(),
            Stream::Unix(s) => s.peer_hung_up(),
        }
    }

    fn peer_addr(&self) -> Option<SocketAddr> {
        match self {
            Stream::Tcp(s) => s.peer_addr().ok(),
            Stream::Unix(_) => None,
        }
    }
}
