//! The sans-IO layer against servers we did not write: nginx, Python's `http.server` and
//! hyper. A blocking test-only driver (std `TcpStream`, small reads so heads and chunk lines
//! arrive split) joins our encoder, parser and decoders to a socket, as `conn` will.

mod util;

use std::io::{IoSlice, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use util::conn::stream_of;
use weir::http::{
    encode_head, Body, Decoded, HeaderMap, Limits, ParseStatus, Request, ResponseHead,
    ResponseParser,
};
use weir::Error;

/// One response as the driver read it.
#[derive(Debug)]
struct Exchange {
    head: ResponseHead,
    /// Statuses of interim (1xx) responses before the final one.
    interim: Vec<u16>,
    body: Vec<u8>,
    trailers: Option<HeaderMap>,
    /// keep-alive, framed body fully read, nothing left over.
    reusable: bool,
}

/// A keep-alive connection driven by the sans-IO layer.
struct Client {
    stream: TcpStream,
    read_buf: BytesMut,
    read_size: usize,
}

impl Client {
    fn connect(addr: SocketAddr, read_size: usize) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        // A safety net so a protocol bug fails the test instead of hanging it.
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        Client {
            stream,
            read_buf: BytesMut::with_capacity(16 * 1024),
            read_size,
        }
    }

    /// Sends `req` (its `Bytes` body, or `pieces` for a stream body) and reads the response.
    fn send(&mut self, req: &Request, pieces: &[&[u8]]) -> Result<Exchange, Error> {
        let mut head = BytesMut::new();
        let mut enc = encode_head(req, &mut head)?;
        let first = match req.body() {
            Body::Bytes(bytes) => enc.encode_final(bytes.clone())?,
            _ if pieces.is_empty() => enc.finish()?,
            _ => enc.encode_data(Bytes::copy_from_slice(pieces[0]))?,
        };
        self.write_all(Buf::chain(&head[..], first));
        for piece in pieces.iter().skip(1) {
            let chunk = enc.encode_data(Bytes::copy_from_slice(piece))?;
            self.write_all(chunk);
        }
        if !enc.is_finished() {
            let last = enc.finish()?;
            self.write_all(last);
        }
        self.read_response(ResponseParser::new(enc.context(), Limits::default()))
    }

    /// A plain `GET url`, which must succeed.
    fn get(&mut self, url: &str) -> Exchange {
        let req = Request::get(url).build().unwrap();
        self.send(&req, &[]).unwrap()
    }

    fn write_all(&mut self, mut buf: impl Buf) {
        while buf.has_remaining() {
            let mut slices = [IoSlice::new(&[]); 4];
            let n = buf.chunks_vectored(&mut slices);
            let written = self.stream.write_vectored(&slices[..n]).expect("write");
            buf.advance(written);
        }
    }

    /// Reads up to `read_size` more bytes; false at end of stream.
    fn fill(&mut self) -> bool {
        let mut tmp = vec![0; self.read_size];
        let n = self.stream.read(&mut tmp).expect("read");
        self.read_buf.extend_from_slice(&tmp[..n]);
        n > 0
    }

    fn read_response(&mut self, mut parser: ResponseParser) -> Result<Exchange, Error> {
        let mut interim = Vec::new();
        let parsed = loop {
            match parser.parse(&mut self.read_buf)? {
                ParseStatus::Partial if !self.fill() => {
                    return Err(parser.eof_error(&self.read_buf))
                }
                ParseStatus::Partial => {}
                ParseStatus::Interim(head) => interim.push(head.status()),
                ParseStatus::Complete(parsed) => break parsed,
                ParseStatus::Upgrade { head, .. } => panic!("unexpected upgrade: {head:?}"),
            }
        };
        let mut decoder = parsed.decoder;
        let mut body = Vec::new();
        let trailers = loop {
            match decoder.decode(&mut self.read_buf)? {
                Decoded::Data(data) => body.extend_from_slice(&data),
                Decoded::Done { trailers } => break trailers,
                Decoded::NeedMore if self.fill() => {}
                Decoded::NeedMore => match decoder.finish_eof()? {
                    Decoded::Done { trailers } => break trailers,
                    other => panic!("finish_eof gave {other:?}"),
                },
            }
        };
        let reusable = parsed.keep_alive && self.read_buf.is_empty();
        Ok(Exchange {
            head: parsed.head,
            interim,
            body,
            trailers,
            reusable,
        })
    }

    /// True when the server has closed its side (a read returns end of stream).
    fn server_closed(&mut self) -> bool {
        !self.fill()
    }
}

fn header<'a>(exchange: &'a Exchange, name: &str) -> &'a [u8] {
    exchange
        .head
        .headers()
        .get(name)
        .map(|v| v.as_bytes())
        .unwrap_or(b"")
}

// ---------- nginx ----------

use util::nginx::{self, Nginx};

#[test]
fn nginx_keep_alive_serves_several_requests_on_one_connection() {
    let server = Nginx::start();
    let mut client = Client::connect(server.addr(), 7);
    for _ in 0..3 {
        let got = client.get(&server.url(nginx::SMALL_PATH));
        assert_eq!((got.head.status(), &got.body[..]), (200, nginx::SMALL_BODY));
        assert!(got.reusable && got.interim.is_empty());
    }
}

#[test]
fn nginx_chunked_body_decodes() {
    let server = Nginx::start();
    let mut client = Client::connect(server.addr(), 4096);
    let got = client.get(&server.url(nginx::CHUNKED_BIG_PATH));
    assert!(header(&got, "transfer-encoding").eq_ignore_ascii_case(b"chunked"));
    assert_eq!(got.body, nginx::chunked_text());
    assert!(got.reusable);
    assert_eq!(
        client.get(&server.url(nginx::CHUNKED_SMALL_PATH)).body,
        nginx::SMALL_BODY
    );
}

#[test]
fn nginx_head_has_no_body_and_the_connection_goes_on() {
    let server = Nginx::start();
    let mut client = Client::connect(server.addr(), 64);
    let req = Request::head(&server.url(nginx::ONE_MIB_PATH))
        .build()
        .unwrap();
    let got = client.send(&req, &[]).unwrap();
    assert_eq!(
        header(&got, "content-length"),
        nginx::ONE_MIB.to_string().as_bytes()
    );
    assert!(got.body.is_empty() && got.reusable);
    assert_eq!(
        client.get(&server.url(nginx::SMALL_PATH)).body,
        nginx::SMALL_BODY
    );
}

#[test]
fn nginx_304_has_no_body_and_the_connection_goes_on() {
    let server = Nginx::start();
    let mut client = Client::connect(server.addr(), 64);
    let first = client.get(&server.url(nginx::SMALL_PATH));
    let etag = first.head.headers().get("etag").expect("etag").to_bytes();
    let req = Request::get(&server.url(nginx::SMALL_PATH))
        .header("If-None-Match", etag)
        .build()
        .unwrap();
    let got = client.send(&req, &[]).unwrap();
    assert_eq!(got.head.status(), 304);
    assert!(got.body.is_empty() && got.reusable);
    assert_eq!(
        client.get(&server.url(nginx::SMALL_PATH)).body,
        nginx::SMALL_BODY
    );
}

#[test]
fn nginx_connection_close_is_not_reusable() {
    let server = Nginx::start();
    let mut client = Client::connect(server.addr(), 64);
    let path = format!("{}{}", nginx::CLOSE_PREFIX, nginx::SMALL_PATH);
    let got = client.get(&server.url(&path));
    assert_eq!(got.body, nginx::SMALL_BODY);
    assert!(!got.reusable);
    assert!(client.server_closed());
}

#[test]
fn nginx_large_file_decodes_by_length() {
    let server = Nginx::start();
    let mut client = Client::connect(server.addr(), 64 * 1024);
    let got = client.get(&server.url(nginx::ONE_MIB_PATH));
    assert_eq!(got.body, util::pattern(nginx::ONE_MIB));
    assert!(got.reusable);
}

#[test]
fn nginx_accepts_uploads_by_length_and_chunked() {
    let server = Nginx::start();
    let mut client = Client::connect(server.addr(), 64);
    let req = Request::post(&server.url(nginx::UPLOAD_PATH))
        .body(vec![7u8; 100_000])
        .build()
        .unwrap();
    assert_eq!(client.send(&req, &[]).unwrap().head.status(), 200);
    let req = Request::post(&server.url(nginx::UPLOAD_PATH))
        .body(Body::stream(stream_of([])))
        .build()
        .unwrap();
    let got = client.send(&req, &[b"part one, ", b"part two"]).unwrap();
    assert_eq!(got.head.status(), 200);
    assert!(got.reusable);
}

// ---------- Python http.server ----------

use util::python::{self, PythonHttpServer};

#[test]
fn python_chunked_with_trailer() {
    let server = PythonHttpServer::start();
    let mut client = Client::connect(server.addr(), 5);
    let got = client.get(&server.url("/chunked"));
    assert_eq!(got.body, python::CHUNKED_PIECES.concat().as_bytes());
    let trailers = got.trailers.expect("trailers");
    assert_eq!(trailers.get("x-trailer").unwrap().as_bytes(), b"done");
    assert!(got.reusable);
}

#[test]
fn python_close_delimited_body_reads_to_eof() {
    let server = PythonHttpServer::start();
    let mut client = Client::connect(server.addr(), 3);
    let got = client.get(&server.url("/close"));
    assert_eq!(got.body, python::CLOSE_BODY);
    assert!(!got.reusable);
}

#[test]
fn python_echoes_length_and_chunked_uploads() {
    let server = PythonHttpServer::start();
    let mut client = Client::connect(server.addr(), 11);
    let req = Request::post(&server.url("/echo"))
        .body("by length")
        .build()
        .unwrap();
    assert_eq!(client.send(&req, &[]).unwrap().body, b"by length");
    let req = Request::put(&server.url("/echo"))
        .body(Body::stream(stream_of([])))
        .build()
        .unwrap();
    let got = client.send(&req, &[b"chunked ", b"", b"upload"]).unwrap();
    assert_eq!(got.body, b"chunked upload");
    assert!(got.reusable);
}

#[test]
fn python_sends_100_continue_before_the_body() {
    let server = PythonHttpServer::start();
    let mut client = Client::connect(server.addr(), 64);
    let req = Request::post(&server.url("/echo"))
        .header("Expect", "100-continue")
        .body("held")
        .build()
        .unwrap();
    let mut head = BytesMut::new();
    let mut enc = encode_head(&req, &mut head).unwrap();
    assert!(enc.expects_continue());
    client.write_all(&head[..]);
    let mut parser = ResponseParser::new(enc.context(), Limits::default());
    let interim = loop {
        match parser.parse(&mut client.read_buf).unwrap() {
            ParseStatus::Partial => assert!(client.fill(), "closed before 100"),
            ParseStatus::Interim(head) => break head,
            other => panic!("expected 100 Continue, got {other:?}"),
        }
    };
    assert_eq!(interim.status(), 100);
    let body = enc.encode_final(Bytes::from_static(b"held")).unwrap();
    client.write_all(body);
    let got = client.read_response(parser).unwrap();
    assert_eq!((got.head.status(), &got.body[..]), (200, &b"held"[..]));
}

// ---------- hyper ----------

use util::hyper_server::{full, HyperServer};

#[test]
fn hyper_fixed_body_over_keep_alive() {
    let server = HyperServer::fixed(b"from hyper");
    let mut client = Client::connect(server.addr(), 2);
    for _ in 0..3 {
        let got = client.get(&server.url("/"));
        assert_eq!(got.body, b"from hyper");
        assert!(got.reusable);
    }
    assert_eq!(server.connections(), 1);
}

#[test]
fn hyper_reads_our_chunked_upload() {
    let server = HyperServer::start(|req: hyper::Request<hyper::body::Incoming>| async move {
        use http_body_util::BodyExt;
        let chunked = req.headers().get("transfer-encoding").is_some();
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let mut answer = format!("chunked={chunked} ").into_bytes();
        answer.extend_from_slice(&body);
        hyper::Response::new(full(answer))
    });
    let mut client = Client::connect(server.addr(), 16);
    let req = Request::post(&server.url("/"))
        .body(Body::stream(stream_of([])))
        .build()
        .unwrap();
    let got = client.send(&req, &[b"one ", b"two ", b"three"]).unwrap();
    assert_eq!(got.body, b"chunked=true one two three");
}
