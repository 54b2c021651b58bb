//! The connection against scripted raw-socket peers: every framing and error rule.

mod util;

use std::time::Duration;

use util::conn::{connect, get, roundtrip, until_reports, Collect};
use util::scripted::{Script, ScriptedPeer};
use weir::conn::{CloseReason, ConnConfig};
use weir::error::{Kind, Malformed, Phase};
use weir::http::Request;
use weir::rt::net::AsyncStream;

const OK_HI: &str = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";

fn cfg() -> ConnConfig {
    ConnConfig::default()
}

/// One GET on a fresh connection (with a recording recycler) to a peer running `script`.
fn get_once(
    script: Script,
) -> (
    ScriptedPeer,
    weir::Result<(u16, bytes::Bytes)>,
    Vec<CloseReason>,
) {
    get_once_with(script, cfg())
}

fn get_once_with(
    script: Script,
    cfg: ConnConfig,
) -> (
    ScriptedPeer,
    weir::Result<(u16, bytes::Bytes)>,
    Vec<CloseReason>,
) {
    let peer = ScriptedPeer::start(vec![script]);
    let url = peer.url("/x");
    let (result, closed) = weir::rt::block_on(async {
        let pool = Collect::new();
        let conn = connect(&url, &cfg, Some(pool.clone())).await;
        let result = async {
            let resp = conn.send(get(&url)).await?;
            let status = resp.status();
            Ok((status, resp.into_body().bytes().await?))
        }
        .await;
        (result, pool.closed())
    });
    (peer, result, closed)
}

fn expect_error(
    result: weir::Result<(u16, bytes::Bytes)>,
    kind: Kind,
    phase: Phase,
) -> weir::Error {
    let err = result.expect_err("an error");
    assert_eq!((err.kind(), err.phase()), (kind, phase), "{err}");
    assert!(
        err.url().is_some_and(|u| u.ends_with("/x")),
        "URL in {err:?}"
    );
    err
}

#[test]
fn both_transfer_encoding_and_content_length_is_an_error_and_closes() {
    let resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    let (_peer, result, closed) = get_once(Script::new().respond(resp).hang());
    let kind = Kind::RemoteProtocol(Malformed::TransferEncodingWithContentLength);
    expect_error(result, kind, Phase::ReadHead);
    assert_eq!(closed, vec![CloseReason::Error(kind)]);
}

#[test]
fn different_content_lengths_are_an_error() {
    let resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nhi";
    let (_peer, result, closed) = get_once(Script::new().respond(resp).hang());
    let kind = Kind::RemoteProtocol(Malformed::ConflictingContentLength);
    expect_error(result, kind, Phase::ReadHead);
    assert_eq!(closed.len(), 1);
}

#[test]
fn a_close_before_any_byte_is_retry_safe() {
    let (_peer, result, closed) = get_once(Script::new().read_head().close());
    let err = expect_error(result, Kind::ClosedBeforeResponse, Phase::ReadHead);
    assert!(err.is_retry_safe());
    assert_eq!(closed, vec![CloseReason::Error(Kind::ClosedBeforeResponse)]);
}

#[test]
fn a_reset_before_any_byte_is_retry_safe() {
    let (_peer, result, _) = get_once(Script::new().read_head().reset());
    let err = result.expect_err("reset");
    assert_eq!(err.kind(), Kind::ClosedBeforeResponse, "{err}");
    assert!(err.is_retry_safe());
}

#[test]
fn a_close_mid_head_is_not_retry_safe() {
    let script = Script::new()
        .respond("HTTP/1.1 200 OK\r\nContent-Le")
        .close();
    let (_peer, result, _) = get_once(script);
    let err = expect_error(result, Kind::ClosedMidResponse, Phase::ReadHead);
    assert!(!err.is_retry_safe());
}

#[test]
fn a_close_mid_body_is_body_incomplete() {
    let script = Script::new()
        .respond("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabcd")
        .close();
    let (_peer, result, closed) = get_once(script);
    expect_error(result, Kind::BodyIncomplete, Phase::ReadBody);
    assert_eq!(closed, vec![CloseReason::Error(Kind::BodyIncomplete)]);
}

#[test]
fn a_close_mid_chunked_body_is_body_incomplete() {
    let script = Script::new()
        .respond("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel")
        .close();
    let (_peer, result, _) = get_once(script);
    expect_error(result, Kind::BodyIncomplete, Phase::ReadBody);
}

#[test]
fn a_close_delimited_body_is_read_to_eof_and_not_reused() {
    let script = Script::new()
        .respond("HTTP/1.1 200 OK\r\n\r\nuntil the end")
        .close();
    let (_peer, result, closed) = get_once(script);
    assert_eq!(&result.unwrap().1[..], b"until the end");
    assert_eq!(closed, vec![CloseReason::NotKeepAlive]);
}

#[test]
fn leftover_bytes_after_the_body_close_the_connection() {
    let script = Script::new().respond(format!("{OK_HI}EXTRA")).hang();
    let (_peer, result, closed) = get_once(script);
    assert_eq!(&result.unwrap().1[..], b"hi");
    assert_eq!(closed, vec![CloseReason::LeftoverBytes]);
}

#[test]
fn http10_without_keep_alive_closes_and_with_it_is_reused() {
    let script = Script::new()
        .respond("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi")
        .hang();
    let (_peer, result, closed) = get_once(script);
    assert_eq!(&result.unwrap().1[..], b"hi");
    assert_eq!(closed, vec![CloseReason::NotKeepAlive]);

    let ka = "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi";
    let peer = ScriptedPeer::start(vec![Script::new().respond(ka).respond(ka)]);
    let url = peer.url("/x");
    weir::rt::block_on(async {
        let conn = connect(&url, &cfg(), None).await;
        let (_, _, back) = roundtrip(conn, get(&url)).await.unwrap();
        let (_, body, back) = roundtrip(back.expect("kept alive"), get(&url))
            .await
            .unwrap();
        assert_eq!(&body[..], b"hi");
        assert!(back.is_some());
    });
    assert_eq!(peer.connections(), 1);
}

#[test]
fn interim_responses_are_skipped_and_the_connection_reused() {
    let early = format!(
        "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n{OK_HI}"
    );
    let peer = ScriptedPeer::start(vec![Script::new().respond(&early).respond(OK_HI)]);
    let url = peer.url("/x");
    weir::rt::block_on(async {
        let conn = connect(&url, &cfg(), None).await;
        let (status, body, back) = roundtrip(conn, get(&url)).await.unwrap();
        assert_eq!((status, &body[..]), (200, &b"hi"[..]));
        let (_, body, _) = roundtrip(back.expect("reused"), get(&url)).await.unwrap();
        assert_eq!(&body[..], b"hi");
    });
    assert_eq!(peer.connections(), 1);
}

#[test]
fn too_many_interim_responses_are_an_error() {
    let many = "HTTP/1.1 102 Processing\r\n\r\n".repeat(20);
    let (_peer, result, _) = get_once(Script::new().respond(many).hang());
    let err = result.expect_err("too many 1xx");
    assert_eq!(
        err.kind(),
        Kind::RemoteProtocol(Malformed::TooManyInterimResponses)
    );
}

fn post_expecting_continue(url: &str) -> Request {
    Request::post(url)
        .header("Expect", "100-continue")
        .body("hello")
        .build()
        .unwrap()
}

#[test]
fn expect_continue_sends_the_body_after_the_100() {
    let script = Script::new()
        .read_head()
        .write("HTTP/1.1 100 Continue\r\n\r\n")
        .read_body(5)
        .write(OK_HI)
        .hang();
    let peer = ScriptedPeer::start(vec![script]);
    let url = peer.url("/x");
    let cfg = ConnConfig {
        expect_continue_wait: Duration::from_secs(3600), // only the 100 can release the body
        ..cfg()
    };
    weir::rt::block_on(async {
        let conn = connect(&url, &cfg, None).await;
        let (status, body, back) = roundtrip(conn, post_expecting_continue(&url))
            .await
            .unwrap();
        assert_eq!((status, &body[..]), (200, &b"hi"[..]));
        assert!(back.is_some());
    });
    assert_eq!(peer.record(0).bodies, vec![b"hello".to_vec()]);
}

#[test]
fn expect_continue_sends_the_body_when_no_100_comes() {
    let script = Script::new().read_head().read_body(5).write(OK_HI).hang();
    let peer = ScriptedPeer::start(vec![script]);
    let url = peer.url("/x");
    let cfg = ConnConfig {
        expect_continue_wait: Duration::from_millis(20),
        ..cfg()
    };
    weir::rt::block_on(async {
        let conn = connect(&url, &cfg, None).await;
        let (status, _, _) = roundtrip(conn, post_expecting_continue(&url))
            .await
            .unwrap();
        assert_eq!(status, 200);
    });
    assert_eq!(peer.record(0).bodies, vec![b"hello".to_vec()]);
}

#[test]
fn a_final_response_before_the_100_skips_the_body_and_closes() {
    let refusal = "HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n";
    let peer = ScriptedPeer::start(vec![Script::new().respond(refusal).read_to_eof()]);
    let url = peer.url("/x");
    let cfg = ConnConfig {
        expect_continue_wait: Duration::from_secs(3600),
        ..cfg()
    };
    weir::rt::block_on(async {
        let pool = Collect::new();
        let conn = connect(&url, &cfg, Some(pool.clone())).await;
        let resp = conn.send(post_expecting_continue(&url)).await.unwrap();
        assert_eq!(resp.status(), 417);
        assert_eq!(pool.closed(), vec![CloseReason::NotKeepAlive]);
    });
    let record = peer.wait_done(0);
    assert!(record.saw_eof);
    let head_len = record.heads[0].len();
    assert_eq!(record.received.len(), head_len, "the body was never sent");
}

#[test]
fn upgrade_hands_out_the_transport_with_the_leftover_bytes() {
    let switching =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: upgrade\r\n\r\nEARLY";
    let script = Script::new().respond(switching).read_body(4).write("pong");
    let peer = ScriptedPeer::start(vec![script]);
    let url = peer.url("/x");
    weir::rt::block_on(async {
        let pool = Collect::new();
        let conn = connect(&url, &cfg(), Some(pool.clone())).await;
        let req = Request::get(&url)
            .header("Upgrade", "echo")
            .header("Connection", "upgrade")
            .build()
            .unwrap();
        let resp = conn.send(req).await.unwrap();
        assert_eq!(resp.status(), 101);
        let (mut transport, leftover) = resp
            .into_body()
            .into_upgraded()
            .expect("upgraded")
            .into_parts();
        assert_eq!(&leftover[..], b"EARLY");
        assert_eq!(pool.closed(), vec![CloseReason::Upgraded]);
        transport.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        let mut got = 0;
        while got < 4 {
            got += transport.read(&mut buf[got..]).await.unwrap();
        }
        assert_eq!(&buf, b"pong");
    });
    assert_eq!(peer.wait_done(0).bodies, vec![b"ping".to_vec()]);
}

#[test]
fn a_dropped_body_is_drained_and_the_connection_reused() {
    let body = "x".repeat(10_000);
    let resp = "HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n";
    let script = Script::new()
        .read_head()
        .write(resp)
        .write_split(&body, 1000, Duration::from_millis(1))
        .respond(OK_HI);
    let peer = ScriptedPeer::start(vec![script]);
    let url = peer.url("/x");
    weir::rt::block_on(async {
        let pool = Collect::new();
        let conn = connect(&url, &cfg(), Some(pool.clone())).await;
        let resp = conn.send(get(&url)).await.unwrap();
        drop(resp); // unread
        until_reports(&pool, 1).await;
        let conn = pool.take_idle().expect("drained and handed back");
        let body = conn
            .send(get(&url))
            .await
            .unwrap()
            .into_body()
            .bytes()
            .await
            .unwrap();
        assert_eq!(&body[..], b"hi");
    });
    assert_eq!(peer.connections(), 1);
}

#[test]
fn a_dropped_body_too_big_to_drain_closes() {
    let resp = "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nabc";
    let (peer, closed) = {
        let peer = ScriptedPeer::start(vec![Script::new().respond(resp).hang()]);
        let url = peer.url("/x");
        let closed = weir::rt::block_on(async {
            let pool = Collect::new();
            let conn = connect(&url, &cfg(), Some(pool.clone())).await;
            drop(conn.send(get(&url)).await.unwrap());
            pool.closed()
        });
        (peer, closed)
    };
    assert_eq!(closed, vec![CloseReason::BodyDropped]);
    assert!(peer.wait_done(0).saw_eof);
}

#[test]
fn a_hanging_peer_is_a_read_timeout_in_the_head() {
    let cfg = ConnConfig {
        read_timeout: Some(Duration::from_millis(50)),
        ..cfg()
    };
    let (_peer, result, closed) = get_once_with(Script::new().read_head().hang(), cfg);
    expect_error(result, Kind::ReadTimeout, Phase::ReadHead);
    assert_eq!(closed, vec![CloseReason::Error(Kind::ReadTimeout)]);
}

#[test]
fn a_hanging_peer_is_a_read_timeout_in_the_body() {
    let cfg = ConnConfig {
        read_timeout: Some(Duration::from_millis(50)),
        ..cfg()
    };
    let script = Script::new()
        .respond("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab")
        .hang();
    let (_peer, result, _) = get_once_with(script, cfg);
    expect_error(result, Kind::ReadTimeout, Phase::ReadBody);
}

#[test]
fn a_peer_that_stops_reading_is_a_write_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/x", listener.local_addr().unwrap());
    let cfg = ConnConfig {
        write_timeout: Some(Duration::from_millis(50)),
        send_buffer_size: Some(4096),
        ..cfg()
    };
    // Far more than the socket buffers on both sides hold.
    let body = bytes::Bytes::from(vec![b'x'; 32 << 20]);
    let (err, closed) = weir::rt::block_on(async {
        let pool = Collect::new();
        let conn = connect(&url, &cfg, Some(pool.clone())).await;
        let (_never_read, _) = listener.accept().unwrap();
        let req = Request::post(&url).body(body).build().unwrap();
        let err = conn.send(req).await.expect_err("the peer never reads");
        (err, pool.closed())
    });
    assert_eq!(
        (err.kind(), err.phase()),
        (Kind::WriteTimeout, Phase::Write)
    );
    assert_eq!(closed, vec![CloseReason::Error(Kind::WriteTimeout)]);
}

#[test]
fn a_stale_keep_alive_connection_fails_retry_safe() {
    let peer = ScriptedPeer::start(vec![Script::new().respond(OK_HI).close()]);
    let url = peer.url("/x");
    weir::rt::block_on(async {
        let conn = connect(&url, &cfg(), None).await;
        let (_, _, back) = roundtrip(conn, get(&url)).await.unwrap();
        let conn = back.expect("looked reusable");
        // Let the loop see the FIN.
        peer.wait_done(0);
        let err = conn.send(get(&url)).await.expect_err("stale");
        assert!(err.is_retry_safe(), "{err}");
    });
}

#[test]
fn heads_split_at_every_byte_still_parse() {
    let resp = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello";
    let script = Script::new()
        .read_head()
        .write_split(resp, 1, Duration::from_millis(1))
        .hang();
    let (_peer, result, closed) = get_once(script);
    assert_eq!(&result.unwrap().1[..], b"hello");
    assert!(closed.is_empty());
}

#[test]
fn the_request_head_is_what_the_encoder_wrote() {
    let (peer, result, _) = get_once(Script::new().respond(OK_HI).hang());
    result.unwrap();
    let head = String::from_utf8(peer.record(0).heads[0].clone()).unwrap();
    let host = format!("Host: {}", peer.addr());
    assert!(head.starts_with("GET /x HTTP/1.1\r\n"), "{head}");
    assert!(head.contains(&host), "{head}");
}

#[test]
fn huge_timeouts_mean_never_and_do_not_overflow() {
    let cfg = ConnConfig {
        connect_timeout: Some(Duration::MAX),
        read_timeout: Some(Duration::MAX),
        write_timeout: Some(Duration::MAX),
        expect_continue_wait: Duration::MAX,
        drain_timeout: Duration::MAX,
        ..cfg()
    };
    let script = Script::new()
        .read_head()
        .write("HTTP/1.1 100 Continue\r\n\r\n")
        .read_body(5)
        .write_split(OK_HI, 3, Duration::from_millis(1))
        .hang();
    let peer = ScriptedPeer::start(vec![script]);
    let url = peer.url("/x");
    weir::rt::block_on(async {
        let conn = connect(&url, &cfg, None).await;
        let (status, body, _) = roundtrip(conn, post_expecting_continue(&url))
            .await
            .unwrap();
        assert_eq!((status, &body[..]), (200, &b"hi"[..]));
    });
}

/// A body that arrives in the same segment as the head comes out in chunks no larger than
/// `max_read_buffer_size`, even when that is below the head read's minimum room (2 KiB).
#[test]
fn body_bytes_read_with_the_head_respect_the_chunk_limit() {
    let body = "x".repeat(3000);
    let script = Script::new().respond(format!(
        "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n{body}"
    ));
    let peer = ScriptedPeer::start(vec![script]);
    let url = peer.url("/x");
    let cfg = ConnConfig {
        read_buffer_size: 256,
        max_read_buffer_size: 512,
        ..cfg()
    };
    let chunks = weir::rt::block_on(async {
        let conn = connect(&url, &cfg, None).await;
        let mut body = conn.send(get(&url)).await.expect("response").into_body();
        let mut chunks = Vec::new();
        while let Some(chunk) = body.next_chunk().await.expect("chunk") {
            chunks.push(chunk.len());
        }
        chunks
    });
    assert_eq!(chunks.iter().sum::<usize>(), 3000);
    assert!(chunks.iter().all(|&n| n <= 512), "chunk sizes {chunks:?}");
}
