//! The embedded loopback server `weir bench` uses when given no URL: a test peer on weir's own
//! runtime (one thread, one loop), answering every request with the same small response.
//!
//! Keep-alive HTTP/1.1: pipelined requests are answered in order with one write per read;
//! request bodies (`Content-Length` only) are skipped; `Connection: close` or HTTP/1.0 closes
//! after the response; a malformed or chunked request gets a 400 and the connection closes.

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::mpsc;
use std::thread;

use bytes::{Buf, BytesMut};
use weir::rt::net::{AsyncStream, TcpListener, TcpStream};

/// The body every response carries.
pub const BODY: &[u8] = b"Hello, world\n";
/// Most headers a request may have.
const MAX_HEADERS: usize = 32;
/// Read buffer growth step.
const READ_CHUNK: usize = 4096;
const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// A running embedded server; it lives as long as the process.
#[derive(Debug)]
pub struct EmbeddedServer {
    /// Where it listens.
    addr: SocketAddr,
}

impl EmbeddedServer {
    /// Starts the server on 127.0.0.1 (an ephemeral port) on its own thread.
    pub fn start() -> io::Result<EmbeddedServer> {
        let (tx, rx) = mpsc::channel();
        thread::Builder::new()
            .name("weir-embedded-server".into())
            .spawn(move || {
                let rt = match weir::rt::Runtime::new() {
                    Ok(rt) => rt,
                    Err(e) => return drop(tx.send(Err(e))),
                };
                rt.block_on(serve_forever(tx));
            })?;
        let addr = rx
            .recv()
            .map_err(|_| io::Error::other("embedded server thread died"))??;
        Ok(EmbeddedServer { addr })
    }

    /// The URL to bench.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

/// Binds, reports the address (or the error) through `ready`, then accepts forever.
async fn serve_forever(ready: mpsc::Sender<io::Result<SocketAddr>>) {
    let bound = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .and_then(|l| l.local_addr().map(|a| (l, a)));
    let listener = match bound {
        Ok((l, addr)) => {
            let _ = ready.send(Ok(addr));
            l
        }
        Err(e) => return drop(ready.send(Err(e))),
    };
    let response: Rc<[u8]> = ok_response().into();
    loop {
        // Accept errors (EMFILE, ECONNABORTED) are transient for a test peer: keep going.
        if let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            weir::rt::spawn(serve_connection(stream, response.clone()));
        }
    }
}

/// The full 200 response.
fn ok_response() -> Vec<u8> {
    let mut r = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n", BODY.len()).into_bytes();
    r.extend_from_slice(b"Content-Type: text/plain\r\n\r\n");
    r.extend_from_slice(BODY);
    r
}

/// What the bytes at the front of the buffer hold.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    /// A whole request of this many bytes; close after answering it when `close`.
    Request { len: usize, close: bool },
    /// Not a whole request yet.
    Partial,
    /// Not HTTP/1.1 we answer.
    Bad,
}

/// Looks at the first request in `buf`.
fn next_request(buf: &[u8]) -> Next {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Next::Partial,
        Err(_) => return Next::Bad,
    };
    let mut close = req.version == Some(0);
    let mut body_len = 0usize;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            match std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
            {
                Some(n) => body_len = n,
                None => return Next::Bad,
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Next::Bad;
        } else if h.name.eq_ignore_ascii_case("connection") {
            close |= h.value.eq_ignore_ascii_case(b"close");
        }
    }
    match head_len.checked_add(body_len) {
        Some(len) if len <= buf.len() => Next::Request { len, close },
        Some(_) => Next::Partial,
        None => Next::Bad,
    }
}

/// Answers the requests on one connection until it closes.
async fn serve_connection(mut stream: TcpStream, response: Rc<[u8]>) {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut out = Vec::with_capacity(response.len());
    loop {
        buf.reserve(READ_CHUNK);
        match stream.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let close = answer_all(&mut buf, &mut out, &response);
        if !out.is_empty() && stream.write_all(&out).await.is_err() {
            return;
        }
        out.clear();
        if close {
            let _ = stream.shutdown(std::net::Shutdown::Write);
            return;
        }
    }
}

/// Appends a response to `out` for each whole request in `buf`; true when the connection
/// must close after writing them.
fn answer_all(buf: &mut BytesMut, out: &mut Vec<u8>, response: &[u8]) -> bool {
    loop {
        match next_request(buf) {
            Next::Request { len, close } => {
                buf.advance(len);
                out.extend_from_slice(response);
                if close {
                    return true;
                }
            }
            Next::Partial => return false,
            Next::Bad => {
                out.extend_from_slice(BAD_REQUEST);
                return true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipelined_requests_get_one_response_each() {
        let mut buf = BytesMut::from(
            &b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\nGET /"[..],
        );
        let mut out = Vec::new();
        assert!(!answer_all(&mut buf, &mut out, b"R"));
        assert_eq!(out, b"RR");
        assert_eq!(&buf[..], b"GET /");
    }

    #[test]
    fn request_body_is_skipped_and_waited_for() {
        let req = b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nab";
        assert_eq!(next_request(req), Next::Partial);
        let full = b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
        assert_eq!(
            next_request(full),
            Next::Request {
                len: full.len(),
                close: false
            }
        );
    }

    #[test]
    fn close_and_http10_close_chunked_is_refused() {
        let close = b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
        assert_eq!(
            next_request(close),
            Next::Request {
                len: close.len(),
                close: true
            }
        );
        let old = b"GET / HTTP/1.0\r\n\r\n";
        assert_eq!(
            next_request(old),
            Next::Request {
                len: old.len(),
                close: true
            }
        );
        assert_eq!(
            next_request(b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Next::Bad
        );
        assert_eq!(next_request(b"\x01\x02 nonsense\r\n\r\n"), Next::Bad);
    }
}
