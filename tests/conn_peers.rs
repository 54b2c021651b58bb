//! The connection against Python's `http.server` (HTTP/1.1) and hyper's server.

mod util;

use std::io::Write;

use bytes::Bytes;
use util::conn::{connect, get, roundtrip, stream_of};
use util::hyper_server::HyperServer;
use util::python::{self, PythonHttpServer};
use weir::conn::ConnConfig;
use weir::http::{Body, Request};

#[test]
fn python_chunked_body_with_trailers() {
    let server = PythonHttpServer::start();
    let url = server.url("/chunked");
    weir::rt::block_on(async {
        let conn = connect(&url, &ConnConfig::default(), None).await;
        let mut body = conn.send(get(&url)).await.expect("GET").into_body();
        let mut chunks = Vec::new();
        while let Some(chunk) = body.next_chunk().await.expect("chunk") {
            chunks.push(chunk);
        }
        assert_eq!(
            chunks.concat(),
            python::CHUNKED_PIECES.concat().into_bytes()
        );
        let trailers = body.trailers().expect("trailers");
        assert_eq!(trailers.get("x-trailer").unwrap().as_bytes(), b"done");
        let conn = body.take_connection().expect("reused after a chunked body");
        let small = server.url("/13b.txt");
        let (status, bytes, _) = roundtrip(conn, get(&small)).await.expect("second GET");
        assert_eq!((status, &bytes[..]), (200, python::SMALL_BODY));
    });
}

#[test]
fn python_close_delimited_body() {
    let server = PythonHttpServer::start();
    let url = server.url("/close");
    weir::rt::block_on(async {
        let conn = connect(&url, &ConnConfig::default(), None).await;
        let (status, bytes, back) = roundtrip(conn, get(&url)).await.expect("GET");
        assert_eq!((status, &bytes[..]), (200, python::CLOSE_BODY));
        assert!(
            back.is_none(),
            "a close-delimited body never gives the connection back"
        );
    });
}

fn echo(server: &PythonHttpServer, body: Body, expected: &[u8]) {
    let url = server.url("/echo");
    weir::rt::block_on(async {
        let conn = connect(&url, &ConnConfig::default(), None).await;
        let req = Request::post(&url).body(body).build().unwrap();
        let (status, bytes, back) = roundtrip(conn, req).await.expect("POST");
        assert_eq!(status, 200);
        assert_eq!(&bytes[..], expected);
        assert!(back.is_some());
    });
}

#[test]
fn python_echoes_bytes() {
    let server = PythonHttpServer::start();
    let data = util::pattern(100_000);
    echo(&server, Body::Bytes(Bytes::from(data.clone())), &data);
}

#[test]
fn python_echoes_a_chunked_stream() {
    let server = PythonHttpServer::start();
    let pieces: Vec<Bytes> = (0..20)
        .map(|i| Bytes::from(vec![b'a' + i as u8; 3000]))
        .collect();
    let expected = pieces.concat();
    echo(&server, Body::stream(stream_of(pieces)), &expected);
}

#[test]
fn python_echoes_a_file() {
    let server = PythonHttpServer::start();
    let dir = util::TempDir::new("conn-echo");
    let path = dir.path().join("f.bin");
    let data = util::pattern(200_000);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(&data)
        .unwrap();
    let cfg_chunk = 7_000; // not a divisor of the length: the last piece is short
    let url = server.url("/echo");
    weir::rt::block_on(async {
        let cfg = ConnConfig {
            file_chunk_size: cfg_chunk,
            ..ConnConfig::default()
        };
        let conn = connect(&url, &cfg, None).await;
        let file = std::fs::File::open(&path).unwrap();
        let req = Request::post(&url)
            .body(Body::file(file, data.len() as u64))
            .build()
            .unwrap();
        let (status, bytes, _) = roundtrip(conn, req).await.expect("POST");
        assert_eq!(status, 200);
        assert!(bytes[..] == data[..]);
    });
}

#[test]
fn hyper_keep_alive_uses_one_connection() {
    let server = HyperServer::fixed(b"from hyper");
    let url = server.url("/");
    weir::rt::block_on(async {
        let mut conn = connect(&url, &ConnConfig::default(), None).await;
        for _ in 0..50 {
            let (status, bytes, back) = roundtrip(conn, get(&url)).await.expect("GET");
            assert_eq!((status, &bytes[..]), (200, &b"from hyper"[..]));
            conn = back.expect("kept alive");
        }
        assert_eq!(conn.requests_served(), 50);
    });
    assert_eq!(server.connections(), 1);
}

#[test]
fn hyper_echoes_a_chunked_stream_as_chunked() {
    let server = HyperServer::start(|req: hyper::Request<hyper::body::Incoming>| async move {
        hyper::Response::new(req.into_body())
    });
    let url = server.url("/echo");
    let pieces: Vec<Bytes> = (0..64).map(|i| Bytes::from(vec![i as u8; 1000])).collect();
    let expected = pieces.concat();
    weir::rt::block_on(async {
        let conn = connect(&url, &ConnConfig::default(), None).await;
        let req = Request::post(&url)
            .body(Body::stream(stream_of(pieces)))
            .build()
            .unwrap();
        let resp = conn.send(req).await.expect("POST");
        assert!(resp
            .headers()
            .contains_token("transfer-encoding", "chunked"));
        let mut body = resp.into_body();
        assert_eq!(body.read_to_end().await.unwrap(), expected);
        assert!(body.take_connection().is_some());
    });
}

#[test]
fn unix_socket_origin() {
    let dir = util::TempDir::new("conn-unix");
    let path = dir.path().join("s.sock");
    let url = weir::http::Url::unix(&path, "/hello").unwrap();
    weir::rt::block_on(async {
        let listener = weir::rt::net::UnixListener::bind(&path).unwrap();
        let server = weir::rt::spawn(async move {
            use weir::rt::net::AsyncStream;
            let mut s = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).await.unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nunix")
                .await
                .unwrap();
            got
        });
        let conn = weir::conn::connect(url.origin(), &ConnConfig::default())
            .await
            .unwrap();
        let req = Request::new(weir::http::Method::Get, url.clone());
        let (status, bytes, _) = roundtrip(conn, req).await.expect("GET over unix");
        assert_eq!((status, &bytes[..]), (200, &b"unix"[..]));
        let head = server.await.unwrap();
        assert!(head.starts_with(b"GET /hello HTTP/1.1\r\n"));
    });
}
