//! The connection against nginx: keep-alive reuse, chunked, HEAD, 304, a 64 MiB file,
//! `Connection: close`, uploads of bytes, streams and files.

mod util;

use std::io::Write;

use bytes::Bytes;
use util::conn::{connect, get, roundtrip, Collect};
use util::nginx::{self, Nginx};
use weir::conn::{CloseReason, ConnConfig};
use weir::http::{Body, Request};

#[test]
fn keep_alive_reuses_one_connection_for_many_requests() {
    let nginx = Nginx::start();
    let before = nginx.stats();
    let url = nginx.url(nginx::SMALL_PATH);
    weir::rt::block_on(async {
        let mut conn = connect(&url, &ConnConfig::default(), None).await;
        for i in 0..20u64 {
            assert_eq!(conn.requests_served(), i);
            let (status, body, back) = roundtrip(conn, get(&url)).await.expect("GET");
            assert_eq!(status, 200);
            assert_eq!(&body[..], nginx::SMALL_BODY);
            conn = back.expect("keep-alive connection comes back idle");
            assert!(conn.is_reusable());
        }
    });
    let after = nginx.stats();
    // Our one connection plus the second stats request.
    assert_eq!(after.accepts - before.accepts, 2);
    assert_eq!(after.requests - before.requests, 21);
}

#[test]
fn the_recycler_gets_the_connection_back_after_each_body() {
    let nginx = Nginx::start();
    let url = nginx.url(nginx::SMALL_PATH);
    let before = nginx.stats();
    weir::rt::block_on(async {
        let pool = Collect::new();
        let mut conn = connect(&url, &ConnConfig::default(), Some(pool.clone())).await;
        for _ in 0..5 {
            let body = conn.send(get(&url)).await.expect("GET").into_body();
            assert_eq!(&body.bytes().await.expect("body")[..], nginx::SMALL_BODY);
            conn = pool.take_idle().expect("handed back idle");
        }
        assert!(pool.closed().is_empty());
        assert_eq!(conn.requests_served(), 5);
    });
    assert_eq!(nginx.stats().accepts - before.accepts, 2);
}

#[test]
fn chunked_bodies_are_decoded_and_the_connection_reused() {
    let nginx = Nginx::start();
    let url = nginx.url(nginx::CHUNKED_BIG_PATH);
    weir::rt::block_on(async {
        let conn = connect(&url, &ConnConfig::default(), None).await;
        let resp = conn.send(get(&url)).await.expect("GET");
        assert_eq!(
            resp.headers().get("transfer-encoding").unwrap().as_bytes(),
            b"chunked"
        );
        let mut body = resp.into_body();
        let bytes = body.read_to_end().await.expect("body");
        assert_eq!(bytes, nginx::chunked_text());
        let conn = body.take_connection().expect("reused after a chunked body");
        let small = nginx.url(nginx::CHUNKED_SMALL_PATH);
        let (_, bytes, back) = roundtrip(conn, get(&small)).await.expect("second GET");
        assert_eq!(&bytes[..], nginx::SMALL_BODY);
        assert!(back.is_some());
    });
}

#[test]
fn head_has_no_body_and_keeps_the_connection() {
    let nginx = Nginx::start();
    let url = nginx.url(nginx::ONE_MIB_PATH);
    weir::rt::block_on(async {
        let conn = connect(&url, &ConnConfig::default(), None).await;
        let head = Request::head(&url).build().unwrap();
        let resp = conn.send(head).await.expect("HEAD");
        assert_eq!(resp.status(), 200);
        let len = resp
            .headers()
            .get("content-length")
            .unwrap()
            .as_bytes()
            .to_vec();
        assert_eq!(len, nginx::ONE_MIB.to_string().into_bytes());
        let mut body = resp.into_body();
        assert!(body.is_end(), "a HEAD response ends with its head");
        assert!(body.next_chunk().await.unwrap().is_none());
        let conn = body.take_connection().expect("reused after HEAD");
        let (_, bytes, _) = roundtrip(conn, get(&url)).await.expect("GET after HEAD");
        assert_eq!(bytes.len(), nginx::ONE_MIB);
    });
}

#[test]
fn not_modified_has_no_body_and_keeps_the_connection() {
    let nginx = Nginx::start();
    let url = nginx.url(nginx::SMALL_PATH);
    weir::rt::block_on(async {
        let conn = connect(&url, &ConnConfig::default(), None).await;
        let resp = conn.send(get(&url)).await.expect("GET");
        let etag = resp
            .headers()
            .get("etag")
            .expect("etag")
            .as_bytes()
            .to_vec();
        let mut body = resp.into_body();
        body.read_to_end().await.unwrap();
        let conn = body.take_connection().unwrap();
        let req = Request::get(&url)
            .header("If-None-Match", etag)
            .build()
            .unwrap();
        let (status, bytes, back) = roundtrip(conn, req).await.expect("conditional GET");
        assert_eq!(status, 304);
        assert!(bytes.is_empty());
        assert!(back.is_some());
    });
}

#[test]
fn heavy_a_64_mib_file_arrives_byte_exact_in_bounded_chunks() {
    let nginx = Nginx::start();
    let url = nginx.url(nginx::BIG_PATH);
    weir::rt::block_on(async {
        let cfg = ConnConfig::default();
        let conn = connect(&url, &cfg, None).await;
        let mut body = conn.send(get(&url)).await.expect("GET").into_body();
        let (mut at, mut largest) = (0usize, 0usize);
        while let Some(chunk) = body.next_chunk().await.expect("chunk") {
            largest = largest.max(chunk.len());
            for (i, b) in chunk.iter().enumerate() {
                assert_eq!(*b, nginx::big_file_byte(at + i), "byte {}", at + i);
            }
            at += chunk.len();
        }
        assert_eq!(at, nginx::BIG_LEN);
        assert!(
            largest <= cfg.max_read_buffer_size,
            "chunk of {largest} bytes"
        );
        assert!(body.take_connection().is_some());
    });
}

#[test]
fn connection_close_from_the_server_closes() {
    let nginx = Nginx::start();
    let url = nginx.url(&format!("{}{}", nginx::CLOSE_PREFIX, nginx::SMALL_PATH));
    weir::rt::block_on(async {
        let pool = Collect::new();
        let conn = connect(&url, &ConnConfig::default(), Some(pool.clone())).await;
        let resp = conn.send(get(&url)).await.expect("GET");
        assert!(resp.headers().contains_token("connection", "close"));
        assert_eq!(
            &resp.into_body().bytes().await.unwrap()[..],
            nginx::SMALL_BODY
        );
        assert_eq!(pool.closed(), vec![CloseReason::NotKeepAlive]);
        assert!(pool.take_idle().is_none());
    });
}

#[test]
fn connection_close_from_the_request_closes() {
    let nginx = Nginx::start();
    let url = nginx.url(nginx::SMALL_PATH);
    weir::rt::block_on(async {
        let conn = connect(&url, &ConnConfig::default(), None).await;
        let req = Request::get(&url)
            .header("Connection", "close")
            .build()
            .unwrap();
        let (status, bytes, back) = roundtrip(conn, req).await.expect("GET");
        assert_eq!((status, &bytes[..]), (200, nginx::SMALL_BODY));
        assert!(back.is_none());
    });
}

fn upload(nginx: &Nginx, body: Body) {
    let url = nginx.url(nginx::UPLOAD_PATH);
    weir::rt::block_on(async {
        let conn = connect(&url, &ConnConfig::default(), None).await;
        let req = Request::post(&url).body(body).build().unwrap();
        let (status, bytes, back) = roundtrip(conn, req).await.expect("POST");
        assert_eq!((status, &bytes[..]), (200, &b"received\n"[..]));
        let conn = back.expect("reused after an upload");
        let small = nginx.url(nginx::SMALL_PATH);
        let (_, bytes, _) = roundtrip(conn, get(&small)).await.expect("GET after POST");
        assert_eq!(&bytes[..], nginx::SMALL_BODY);
    });
}

#[test]
fn uploads_bytes() {
    let nginx = Nginx::start();
    upload(&nginx, Body::Bytes(Bytes::from(util::pattern(300_000))));
}

#[test]
fn uploads_a_chunked_stream() {
    let nginx = Nginx::start();
    upload(&nginx, Body::stream(pieces(50, 10_000)));
}

#[test]
fn uploads_a_sized_stream() {
    let nginx = Nginx::start();
    upload(&nginx, Body::sized_stream(pieces(50, 10_000), 500_000));
}

#[test]
fn uploads_a_file() {
    let nginx = Nginx::start();
    let dir = util::TempDir::new("conn-upload");
    let path = dir.path().join("up.bin");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(&util::pattern(1 << 20))
        .unwrap();
    let file = std::fs::File::open(&path).unwrap();
    upload(&nginx, Body::file(file, 1 << 20));
}

/// `n` pieces of `size` bytes as a stream.
fn pieces(n: usize, size: usize) -> impl futures_core::Stream<Item = std::io::Result<Bytes>> {
    util::conn::stream_of((0..n).map(move |i| Bytes::from(vec![b'a' + (i % 26) as u8; size])))
}
