//! The pooled client against real peers: reuse, stale-connection eviction, limits and FIFO
//! waiters, pool timeout, per-host limits, retirement after N requests, the Keep-Alive hint.
//! No timing assertions: counts of connections and requests the peers saw.

mod util;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use util::conn::stream_of;
use util::hyper_server::{full, HyperServer};
use util::rt::run;
use util::scripted::{Script, ScriptedPeer};
use weir::client::{Client, ClientEvent, PoolCounts};
use weir::error::Kind;
use weir::http::{Origin, Request, Url};

fn origin_of(url: &str) -> Origin {
    Url::parse(url).unwrap().origin().clone()
}

/// A client that records the close reasons and reuse events it reports.
fn recording_client(
    build: impl FnOnce(weir::client::ClientBuilder) -> weir::client::ClientBuilder,
) -> (Client, Rc<RefCell<Vec<String>>>) {
    let events = Rc::new(RefCell::new(Vec::new()));
    let sink = events.clone();
    let builder = Client::builder().on_event(move |e| {
        let tag = match e {
            ClientEvent::Connected { .. } => "connected".to_string(),
            ClientEvent::Reused { .. } => "reused".to_string(),
            ClientEvent::Closed { reason, .. } => format!("closed:{reason:?}"),
            ClientEvent::Retried { cause, .. } => format!("retried:{cause:?}"),
            _ => "other".to_string(),
        };
        sink.borrow_mut().push(tag);
    });
    (build(builder).build(), events)
}

#[test]
fn sequential_requests_reuse_one_connection() {
    let server = HyperServer::fixed(b"hello");
    let url = server.url("/");
    let (client, events) = recording_client(|b| b);
    run(async {
        for _ in 0..5 {
            let resp = client.get(&url).await.unwrap();
            assert_eq!(resp.status(), 200);
            assert_eq!(resp.into_body().bytes().await.unwrap(), "hello");
        }
        let stats = client.pool_stats();
        assert_eq!(
            stats.total,
            PoolCounts {
                idle: 1,
                ..Default::default()
            }
        );
    });
    assert_eq!(server.connections(), 1, "one connection for five requests");
    let events = events.borrow();
    assert_eq!(
        events.iter().filter(|e| *e == "connected").count(),
        1,
        "{events:?}"
    );
    assert_eq!(
        events.iter().filter(|e| *e == "reused").count(),
        4,
        "{events:?}"
    );
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/// GETs `url` and reads the body; panics on any failure.
async fn get_ok(client: &Client, url: &str) -> Bytes {
    let resp = client.get(url).await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.into_body().bytes().await.unwrap()
}

/// Lets the loop take an epoll turn, so a FIN/RST that already arrived is seen.
async fn let_loop_turn() {
    weir::rt::time::sleep(Duration::from_millis(5)).await;
}

fn peer_close_of_idle_connection_evicts_it_before_checkout(close: Script) {
    let peer = ScriptedPeer::start(vec![close, Script::new().respond(OK)]);
    let url = peer.url("/");
    let (client, events) = recording_client(|b| b);
    run(async {
        get_ok(&client, &url).await;
        assert_eq!(client.pool_stats().total.idle, 1);
        peer.release();
        peer.wait_done(0);
        let_loop_turn().await;
        get_ok(&client, &url).await;
    });
    let events = events.borrow();
    assert_eq!(
        events[..3],
        ["connected", "closed:PeerClosed", "connected"],
        "no failed request, no retry: {events:?}"
    );
    assert!(
        !events.iter().any(|e| e.starts_with("retried")),
        "{events:?}"
    );
    assert_eq!(peer.record(1).heads.len(), 1);
}

#[test]
fn fin_of_an_idle_connection_evicts_it_before_checkout() {
    // The FIN comes only once the client has put the connection back.
    let script = Script::new().respond(OK).wait_release().close();
    peer_close_of_idle_connection_evicts_it_before_checkout(script);
}

#[test]
fn rst_of_an_idle_connection_evicts_it_before_checkout() {
    let script = Script::new().respond(OK).wait_release().reset();
    peer_close_of_idle_connection_evicts_it_before_checkout(script);
}

#[test]
fn stale_reused_connection_retries_get_but_never_post() {
    // Connection 0 answers once, then reads the next request and closes without answering.
    let stale = Script::new().respond(OK).read_head().close();
    let peer = ScriptedPeer::start(vec![stale.clone(), Script::new().respond(OK)]);
    let url = peer.url("/");
    let (client, events) = recording_client(|b| b);
    run(async {
        get_ok(&client, &url).await;
        get_ok(&client, &url).await; // fails on the reused connection, retried on a new one
    });
    assert_eq!(peer.record(0).heads.len(), 2);
    assert_eq!(peer.record(1).heads.len(), 1, "the GET was sent again");
    assert!(events
        .borrow()
        .contains(&"retried:ClosedBeforeResponse".to_string()));

    let peer = ScriptedPeer::start(vec![
        Script::new().respond(OK).read_head().read_body(4).close(),
        Script::new().respond(OK),
    ]);
    let url = peer.url("/");
    let (client, events) = recording_client(|b| b);
    let err = run(async {
        get_ok(&client, &url).await;
        let post = Request::post(&url).body("data").build().unwrap();
        client.send(post).await.err()
    });
    let err = err.expect("the POST must fail, not be retried");
    assert!(err.url().is_some(), "{err}");
    let posts: usize = (0..peer.connections())
        .map(|i| {
            peer.record(i)
                .heads
                .iter()
                .filter(|h| h.starts_with(b"POST"))
                .count()
        })
        .sum();
    assert_eq!(posts, 1, "a POST is never sent twice");
    assert_eq!(peer.connections(), 1, "no new connection for a retry");
    assert!(
        !events.borrow().iter().any(|e| e.starts_with("retried")),
        "{:?}",
        events.borrow()
    );
}

/// A read timeout, so that a broken retry (a server waiting for a body that never comes) fails
/// the test instead of hanging it. Never reached when the code is right.
fn no_hang(b: weir::client::ClientBuilder) -> weir::client::ClientBuilder {
    b.read_timeout(Some(Duration::from_secs(10)))
}

/// A `PUT` with headers and an in-memory body: what a retry must send again, byte for byte.
fn put_with_headers_and_body(url: &str, body: &[u8]) -> weir::http::RequestBuilder {
    Request::put(url)
        .header("X-Trace", "7f3a")
        .header("X-Multi", "one")
        .header("X-Multi", "two")
        .header("Content-Type", "application/octet-stream")
        .body(body.to_vec()) // a Vec-backed `Bytes`, shared rather than copied by the retry
}

/// The retry sends the request the stale connection swallowed, unchanged: the server of the
/// new connection records the same head and the same body bytes.
#[test]
fn a_retried_put_arrives_byte_identical_with_its_headers_and_body() {
    let body: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let stale = Script::new()
        .respond(OK)
        .read_head()
        .read_body(body.len())
        .close();
    let fresh = Script::new().read_head().read_body(body.len()).write(OK);
    let peer = ScriptedPeer::start(vec![stale, fresh]);
    let url = peer.url("/put");
    let (client, events) = recording_client(no_hang);
    let text = run(async {
        get_ok(&client, &url).await;
        let put = put_with_headers_and_body(&url, &body).build().unwrap();
        let resp = client.send(put).await.expect("retried on a new connection");
        resp.into_body().text().await.unwrap()
    });
    assert_eq!(text, "ok");
    let (first, second) = (peer.record(0), peer.record(1));
    assert_eq!(first.heads.len(), 2);
    assert!(first.heads[1].starts_with(b"PUT /put HTTP/1.1\r\n"));
    assert_eq!(
        second.heads_text(),
        [String::from_utf8_lossy(&first.heads[1])]
    );
    assert_eq!(first.bodies, std::slice::from_ref(&body));
    assert_eq!(second.bodies, [body]);
    let retried = events
        .borrow()
        .iter()
        .filter(|e| e.starts_with("retried"))
        .count();
    assert_eq!(retried, 1, "{:?}", events.borrow());
}

/// Once a response byte arrived the server may have acted: even a `GET` on a reused
/// connection is then not sent again (the connection hands nothing back).
#[test]
fn a_get_whose_response_began_is_not_retried() {
    let stale = Script::new()
        .respond(OK)
        .read_head()
        .write(b"HTTP/1.1 200 OK\r\nContent-Le")
        .close();
    let peer = ScriptedPeer::start(vec![stale, Script::new().respond(OK)]);
    let url = peer.url("/");
    let (client, events) = recording_client(no_hang);
    let err = run(async {
        get_ok(&client, &url).await;
        client.get(&url).await.err()
    });
    let err = err.expect("the GET must fail, not be retried");
    assert_eq!(err.kind(), Kind::ClosedMidResponse, "{err}");
    assert_eq!(err.url(), Some(url.as_str()));
    assert_eq!(peer.connections(), 1, "no new connection for a retry");
    assert!(
        !events.borrow().iter().any(|e| e.starts_with("retried")),
        "{:?}",
        events.borrow()
    );
}

/// `Expect: 100-continue` holds the body back until the server says `100`: a stale
/// connection that closes on the head alone leaves the body unsent, and the retry sends
/// head and body on the new connection.
#[test]
fn a_put_held_for_100_continue_is_retried_with_its_body() {
    let body = b"held back".to_vec();
    let stale = Script::new().respond(OK).read_head().close();
    let fresh = Script::new()
        .read_head()
        .write(b"HTTP/1.1 100 Continue\r\n\r\n")
        .read_body(body.len())
        .write(OK);
    let peer = ScriptedPeer::start(vec![stale, fresh]);
    let url = peer.url("/");
    let (client, events) = recording_client(no_hang);
    run(async {
        get_ok(&client, &url).await;
        let put = put_with_headers_and_body(&url, &body)
            .header("Expect", "100-continue")
            .build()
            .unwrap();
        let resp = client.send(put).await.expect("retried on a new connection");
        assert_eq!(resp.into_body().bytes().await.unwrap(), "ok");
    });
    let (first, second) = (peer.record(0), peer.record(1));
    assert_eq!(second.heads, first.heads[1..]);
    assert!(first.bodies.is_empty());
    assert_eq!(second.bodies, [body]);
    assert!(events
        .borrow()
        .contains(&"retried:ClosedBeforeResponse".to_string()));
}

/// A streamed or file body is consumed as it is sent: an idempotent `PUT` with one fails on
/// a stale connection (retry-safe by itself) and is not sent again.
#[test]
fn a_put_with_a_stream_or_file_body_is_never_sent_twice() {
    let dir = util::TempDir::new("retry");
    let path = dir.path().join("body.bin");
    std::fs::write(&path, b"data").unwrap();
    let bodies: [Box<dyn Fn() -> weir::http::Body>; 2] = [
        Box::new(|| weir::http::Body::sized_stream(stream_of([Bytes::from_static(b"data")]), 4)),
        Box::new(|| weir::http::Body::file(std::fs::File::open(&path).unwrap(), 4)),
    ];
    for make_body in bodies {
        let stale = Script::new().respond(OK).read_head().read_body(4).close();
        let peer = ScriptedPeer::start(vec![stale, Script::new().respond(OK)]);
        let url = peer.url("/");
        let (client, events) = recording_client(no_hang);
        let err = run(async {
            get_ok(&client, &url).await;
            let put = Request::put(&url).body(make_body()).build().unwrap();
            client.send(put).await.err()
        });
        let err = err.expect("the PUT must fail, not be retried");
        assert_eq!(err.kind(), Kind::ClosedBeforeResponse, "{err}");
        assert!(err.is_retry_safe());
        assert_eq!(peer.record(0).bodies, [b"data".to_vec()]);
        assert_eq!(peer.connections(), 1, "no new connection for a retry");
        assert!(
            !events.borrow().iter().any(|e| e.starts_with("retried")),
            "{:?}",
            events.borrow()
        );
    }
}

#[test]
fn waiters_are_served_first_in_first_out() {
    let server = HyperServer::fixed(b"x");
    let url = server.url("/");
    let client = Client::builder().max_connections_per_host(1).build();
    let order = Rc::new(RefCell::new(Vec::new()));
    run(async {
        let tasks: Vec<_> = (0..5)
            .map(|i| {
                let (client, url, order) = (client.clone(), url.clone(), order.clone());
                weir::rt::spawn(async move {
                    let resp = client.get(&url).await.unwrap();
                    order.borrow_mut().push(i);
                    resp.into_body().bytes().await.unwrap();
                })
            })
            .collect();
        weir::rt::yield_now().await;
        let waiting = client.pool_stats().total;
        assert_eq!(waiting.waiters, 4, "{waiting:?}");
        assert!(waiting.connections() <= 1);
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert_eq!(*order.borrow(), [0, 1, 2, 3, 4]);
    assert_eq!(server.connections(), 1);
}

#[test]
fn pool_timeout_when_every_slot_is_busy() {
    // The body announces 10 bytes and sends 2: the connection stays active while it is held.
    let stuck = Script::new()
        .respond(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok")
        .hang();
    let peer = ScriptedPeer::start(vec![stuck]);
    let url = peer.url("/");
    let client = Client::builder().max_connections_per_host(1).build();
    run(async {
        let held = client.get(&url).await.unwrap();
        let opts = weir::client::RequestOptions::new().pool_timeout(Duration::from_millis(30));
        let req = Request::get(&url).build().unwrap();
        let Err(err) = client.send_with(req, opts).await else {
            panic!("expected a pool timeout");
        };
        assert_eq!(err.kind(), Kind::PoolTimeout);
        assert_eq!(err.url(), Some(url.as_str()));
        let stats = client.pool_stats().total;
        assert_eq!(
            stats,
            PoolCounts {
                active: 1,
                ..Default::default()
            }
        );
        drop(held); // drained (bounded) or closed: either way the slot comes back
        while client.pool_stats().total.active > 0 {
            weir::rt::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(client.pool_stats().total.connections(), 0);
    });
}

#[test]
fn per_host_limits_hold_with_two_servers() {
    let (a, b) = (HyperServer::fixed(b"a"), HyperServer::fixed(b"b"));
    let client = Client::builder()
        .max_connections_per_host(2)
        .max_connections(3)
        .build();
    run(async {
        let mut tasks = Vec::new();
        for i in 0..12 {
            let url = if i % 2 == 0 { a.url("/") } else { b.url("/") };
            let client = client.clone();
            tasks.push(weir::rt::spawn(async move {
                let resp = client.get(&url).await.unwrap();
                let now = client.pool_stats();
                for (_, c) in &now.hosts {
                    assert!(c.connections() <= 2, "per host: {c:?}");
                }
                assert!(now.total.connections() <= 3, "total: {:?}", now.total);
                resp.into_body().bytes().await.unwrap();
            }));
        }
        weir::rt::yield_now().await; // every task asked once: 3 slots taken, 9 waiting
        let first = client.pool_stats().total;
        assert_eq!((first.connecting, first.waiters), (3, 9), "{first:?}");
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert!(
        a.connections() >= 1 && b.connections() >= 1,
        "both servers were used"
    );
}

#[test]
fn full_pool_evicts_an_idle_connection_of_another_host() {
    let (a, b) = (HyperServer::fixed(b"a"), HyperServer::fixed(b"b"));
    let (client, events) = recording_client(|b| b.max_connections(1));
    run(async {
        get_ok(&client, &a.url("/")).await;
        get_ok(&client, &b.url("/")).await;
        assert_eq!(client.pool_stats().total.connections(), 1);
        assert_eq!(client.pool_stats().host(&origin_of(&b.url("/"))).idle, 1);
    });
    assert!(
        events.borrow().contains(&"closed:Evicted".to_string()),
        "{:?}",
        events.borrow()
    );
}

#[test]
fn max_requests_per_connection_retires_connections() {
    let server = HyperServer::fixed(b"x");
    let url = server.url("/");
    let (client, events) = recording_client(|b| b.max_requests_per_connection(Some(3)));
    run(async {
        for _ in 0..7 {
            get_ok(&client, &url).await;
        }
    });
    assert_eq!(server.connections(), 3, "3 + 3 + 1 requests");
    let retired = events
        .borrow()
        .iter()
        .filter(|e| *e == "closed:MaxRequests")
        .count();
    assert_eq!(retired, 2);
}

#[test]
fn keep_alive_hint_shortens_the_idle_life() {
    let server = HyperServer::start(|_req| async {
        let mut resp = hyper::Response::new(full("x"));
        resp.headers_mut().insert(
            "keep-alive",
            hyper::header::HeaderValue::from_static("timeout=2"),
        );
        resp
    });
    let url = server.url("/");
    let (client, events) = recording_client(|b| b.idle_timeout(Some(Duration::from_secs(600))));
    run(async {
        get_ok(&client, &url).await;
        assert_eq!(client.pool_stats().total.idle, 1);
        // The hint (2 s less the safety margin) expires long before the 600 s idle timeout.
        while client.pool_stats().total.idle > 0 {
            weir::rt::time::sleep(Duration::from_millis(100)).await;
        }
        get_ok(&client, &url).await;
    });
    assert_eq!(server.connections(), 2);
    assert!(events.borrow().contains(&"closed:IdleTimeout".to_string()));
}

#[test]
fn unix_socket_origins_are_pooled_too() {
    use std::cell::Cell;
    use weir::rt::net::{AsyncStream, UnixListener, UnixStream};

    /// Answers each request head with `ok` until the client closes.
    async fn answer(mut s: UnixStream) {
        let mut seen = Vec::new();
        let mut buf = [0u8; 1024];
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                return;
            }
            seen.extend_from_slice(&buf[..n]);
            while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                seen.drain(..end + 4);
                if s.write_all(OK).await.is_err() {
                    return;
                }
            }
        }
    }

    let dir = util::TempDir::new("client-unix");
    let path = dir.path().join("http.sock");
    let url = Url::unix(&path, "/").unwrap().to_string();
    let accepted = Rc::new(Cell::new(0));
    let (client, events) = recording_client(|b| b);
    run(async {
        let listener = UnixListener::bind(&path).unwrap();
        let count = accepted.clone();
        let _server = weir::rt::spawn(async move {
            while let Ok(s) = listener.accept().await {
                count.set(count.get() + 1);
                drop(weir::rt::spawn(answer(s)));
            }
        });
        for _ in 0..3 {
            get_ok(&client, &url).await;
        }
        let origin = Origin::Unix { path: path.clone() };
        assert_eq!(client.pool_stats().host(&origin).idle, 1);
    });
    assert_eq!(accepted.get(), 1, "one Unix connection for three requests");
    assert_eq!(events.borrow().iter().filter(|e| *e == "reused").count(), 2);
}

#[test]
fn nginx_closing_after_n_requests_and_when_idle_fails_no_request() {
    use util::nginx::{self, Nginx};
    let server = Nginx::builder()
        .keepalive_requests(5)
        .keepalive_timeout_secs(1)
        .start();
    let url = server.url(nginx::SMALL_PATH);
    let (client, events) = recording_client(|b| b);
    let before = server.stats();
    let mut stats_calls = 0;
    run(async {
        for _ in 0..52 {
            assert_eq!(get_ok(&client, &url).await, nginx::SMALL_BODY);
        }
        assert_eq!(
            client.pool_stats().total.idle,
            1,
            "the 11th connection, 2 requests in"
        );
        // nginx closes the idle connection after its 1 s keepalive_timeout; the pool must
        // notice the FIN and connect anew without a failed request.
        loop {
            stats_calls += 1;
            if server.stats().active == 1 {
                break; // only the stats request's own connection is open
            }
            weir::rt::time::sleep(Duration::from_millis(100)).await;
        }
        let_loop_turn().await;
        assert_eq!(get_ok(&client, &url).await, nginx::SMALL_BODY);
    });
    let after = server.stats();
    let (requests, accepts) = (
        after.requests - before.requests,
        after.accepts - before.accepts,
    );
    // Every stats call is one request on one connection of its own.
    assert_eq!(
        requests - 1 - stats_calls,
        53,
        "each request reached nginx once"
    );
    assert_eq!(
        accepts - 1 - stats_calls,
        12,
        "10 connections of 5, 1 of 2, then 1"
    );
    let events = events.borrow();
    assert!(
        !events.iter().any(|e| e.starts_with("retried")),
        "{events:?}"
    );
    assert!(
        events.contains(&"closed:PeerClosed".to_string()),
        "{events:?}"
    );
}

#[test]
fn drain_max_bytes_zero_closes_a_dropped_body_at_once() {
    // Head and 2 of 10 body bytes, then silence: draining would wait for the rest.
    let partial = Script::new()
        .respond(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok")
        .hang();
    let peer = ScriptedPeer::start(vec![partial.clone(), partial]);
    let url = peer.url("/");
    run(async {
        let draining = Client::new();
        drop(draining.get(&url).await.unwrap());
        let_loop_turn().await;
        assert_eq!(
            draining.pool_stats().total.active,
            1,
            "still draining (default bounds)"
        );

        let closing = Client::builder().drain_max_bytes(0).build();
        drop(closing.get(&url).await.unwrap());
        let_loop_turn().await;
        assert_eq!(
            closing.pool_stats().total,
            PoolCounts::default(),
            "closed, not drained"
        );
    });
}
