//! Timeouts (per client and per request) and connect retries, against scripted peers that hang
//! or refuse. Assertions are on error kinds, phases and counts, never on durations.

mod util;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use util::rt::run;
use util::scripted::{Script, ScriptedPeer};
use weir::client::{Client, ClientEvent, CloseReason, PoolCounts, RequestOptions};
use weir::error::{Kind, Phase};
use weir::http::Request;

const SHORT: Duration = Duration::from_millis(50);

#[test]
fn per_request_read_timeout_overrides_the_clients() {
    let peer = ScriptedPeer::start(vec![Script::new().read_head().hang()]);
    let url = peer.url("/slow");
    let client = Client::new(); // no read timeout by default
    run(async {
        let req = Request::get(&url).build().unwrap();
        let opts = RequestOptions::new().read_timeout(SHORT);
        let Err(err) = client.send_with(req, opts).await else {
            panic!("the peer never answers");
        };
        assert_eq!(err.kind(), Kind::ReadTimeout, "{err}");
        assert_eq!(err.url(), Some(url.as_str()));
        let stats = client.pool_stats().total;
        assert_eq!(
            stats,
            PoolCounts::default(),
            "the timed-out connection was closed"
        );
    });
}

#[test]
fn whole_request_timeout_reports_the_phase_it_cut() {
    // The first request leaves an idle connection; the second reuses it (no connect to time
    // out in), and the peer never answers it.
    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let peer = ScriptedPeer::start(vec![Script::new().respond(ok).read_head().hang()]);
    let url = peer.url("/");
    let client = Client::builder()
        .timeout(Some(Duration::from_secs(30)))
        .build();
    run(async {
        let first = client.get(&url).await.unwrap();
        first.into_body().bytes().await.unwrap();
        let req = Request::get(&url).build().unwrap();
        let Err(err) = client
            .send_with(req, RequestOptions::new().timeout(SHORT))
            .await
        else {
            panic!("the peer never answers");
        };
        assert!(err.is_timeout(), "{err}");
        assert_eq!(err.kind(), Kind::ReadTimeout);
        assert_eq!(err.phase(), Phase::ReadHead);
        assert_eq!(err.url(), Some(url.as_str()));
        assert_eq!(client.pool_stats().total, PoolCounts::default());
    });
}

#[test]
fn connect_failures_are_retried_with_backoff_then_reported() {
    let port = util::free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let retried = Rc::new(RefCell::new(Vec::new()));
    let sink = retried.clone();
    let client = Client::builder()
        .retries(2)
        .retry_backoff(Duration::from_millis(1))
        .on_event(move |e| {
            if let ClientEvent::Retried { attempt, cause, .. } = e {
                sink.borrow_mut().push((*attempt, *cause));
            }
        })
        .build();
    run(async {
        let Err(err) = client.get(&url).await else {
            panic!("nothing listens on port {port}");
        };
        assert_eq!(err.kind(), Kind::Connect);
        assert_eq!(err.phase(), Phase::Connect);
        assert_eq!(client.pool_stats(), Default::default());
    });
    assert_eq!(*retried.borrow(), [(2, Kind::Connect), (3, Kind::Connect)]);
}

#[test]
fn a_post_failing_on_a_fresh_connection_is_not_retried_either() {
    let peer = ScriptedPeer::start(vec![Script::new().read_head().read_body(3).close()]);
    let url = peer.url("/");
    let client = Client::builder().retries(3).build();
    run(async {
        let post = Request::post(&url).body("abc").build().unwrap();
        let Err(err) = client.send(post).await else {
            panic!("the peer closes without answering");
        };
        assert!(
            matches!(err.kind(), Kind::ClosedBeforeResponse | Kind::Io),
            "{err}"
        );
    });
    assert_eq!(peer.connections(), 1);
}

/// A std listener thread that answers one request with a fixed `200` and reports the peer
/// address it accepted.
fn one_shot_http_peer() -> (String, std::sync::mpsc::Receiver<std::net::SocketAddr>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut sock, peer) = listener.accept().unwrap();
        tx.send(peer).unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.ends_with(b"\r\n\r\n") {
            let n = sock.read(&mut buf).unwrap();
            assert!(n > 0, "the client closed before sending its request");
            head.extend_from_slice(&buf[..n]);
        }
        sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            .unwrap();
    });
    (url, rx)
}

#[test]
fn local_address_is_the_source_ip_the_server_sees() {
    let (url, peer_addr) = one_shot_http_peer();
    let local: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    let client = Client::builder().local_address(Some(local)).build();
    run(async {
        let resp = client.get(&url).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(&resp.into_body().bytes().await.unwrap()[..], b"ok");
    });
    assert_eq!(peer_addr.recv().unwrap().ip(), local);
}

#[test]
fn a_local_address_of_the_wrong_family_fails_to_connect() {
    let peer = ScriptedPeer::start(vec![]);
    let url = peer.url("/");
    let client = Client::builder()
        .local_address(Some("::1".parse().unwrap()))
        .build();
    run(async {
        let Err(err) = client.get(&url).await else {
            panic!("an IPv6 local address cannot reach an IPv4-only host");
        };
        assert_eq!(err.kind(), Kind::Connect);
        // Connect errors name the origin.
        assert_eq!(err.url(), Some(url.trim_end_matches('/')));
        let source = std::error::Error::source(&err).expect("the io error");
        assert!(source.to_string().contains("no IPv6 address"), "{source}");
        assert_eq!(client.pool_stats(), Default::default());
    });
    assert_eq!(peer.connections(), 0);
}

#[test]
fn whole_request_timeout_also_bounds_reading_the_body() {
    // The head and 10 of 100 body bytes arrive, then the peer goes silent.
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789";
    let peer = ScriptedPeer::start(vec![Script::new().respond(head).hang()]);
    let url = peer.url("/stall");
    let closed = Rc::new(RefCell::new(Vec::new()));
    let sink = closed.clone();
    let client = Client::builder()
        .timeout(Some(Duration::from_millis(200)))
        .on_event(move |e| {
            if let ClientEvent::Closed { reason, .. } = e {
                sink.borrow_mut().push(*reason);
            }
        })
        .build();
    run(async {
        let resp = client.get(&url).await.expect("the head arrives in time");
        let Err(err) = resp.into_body().bytes().await else {
            panic!("the body never completes");
        };
        assert!(err.is_timeout(), "{err}");
        assert_eq!(err.kind(), Kind::Timeout, "{err}");
        assert_eq!(err.phase(), Phase::ReadBody);
        assert_eq!(err.url(), Some(url.as_str()));
        let stats = client.pool_stats().total;
        assert_eq!(stats.active, 0, "the slot was released");
        assert_eq!(stats, PoolCounts::default(), "the connection was closed");
    });
    assert_eq!(*closed.borrow(), [CloseReason::Error]);
    assert_eq!(peer.connections(), 1);
}

#[test]
fn a_body_done_before_the_whole_request_deadline_is_unaffected_and_reused() {
    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    let script = Script::new().respond(ok).respond(ok);
    let peer = ScriptedPeer::start(vec![script.hang()]);
    let url = peer.url("/");
    let client = Client::builder()
        .timeout(Some(Duration::from_secs(30)))
        .build();
    run(async {
        let first = client.get(&url).await.unwrap().into_body();
        assert_eq!(&first.bytes().await.unwrap()[..], b"hello");
        let req = Request::get(&url).build().unwrap();
        let opts = RequestOptions::new().timeout(Duration::from_secs(30));
        let second = client.send_with(req, opts).await.unwrap().into_body();
        assert_eq!(&second.bytes().await.unwrap()[..], b"hello");
        let stats = client.pool_stats().total;
        assert_eq!((stats.active, stats.idle), (0, 1), "kept for reuse");
    });
    assert_eq!(peer.connections(), 1, "both requests on one connection");
}
