//! The blocking client against nginx from many threads: shared pool, streaming bodies through
//! `std::io::Read`, chunked bodies with `text()`, errors, and a clean shutdown.

mod util;

use std::io::Read;
use std::sync::Arc;

use util::hyper_server::HyperServer;
use util::nginx::{self, Nginx};
use weir::blocking::Client;

#[test]
fn eight_threads_share_one_pool() {
    let server = Nginx::start();
    let before = server.stats();
    let client = Arc::new(
        Client::with_builder(|| weir::client::Client::builder().max_connections_per_host(4))
            .unwrap(),
    );
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (client, url) = (client.clone(), server.url(nginx::SMALL_PATH));
            std::thread::spawn(move || {
                for _ in 0..25 {
                    let resp = client.get(&url).unwrap();
                    assert_eq!(resp.status(), 200);
                    assert_eq!(resp.into_body().bytes().unwrap(), nginx::SMALL_BODY);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let stats = client.pool_stats().total;
    assert_eq!(
        stats.connecting + stats.active + stats.waiters,
        0,
        "{stats:?}"
    );
    assert!(stats.idle <= 4, "{stats:?}");
    let after = server.stats();
    assert_eq!(
        after.requests - before.requests - 1,
        200,
        "every request reached nginx once"
    );
    // The stats request itself is one more connection.
    let accepted = after.accepts - before.accepts - 1;
    assert!(
        accepted <= 4,
        "at most 4 connections for 200 requests, got {accepted}"
    );
}

#[test]
fn a_megabyte_streams_through_read() {
    let server = Nginx::start();
    let client = Client::new();
    let resp = client.get(&server.url(nginx::ONE_MIB_PATH)).unwrap();
    let mut body = resp.into_body();
    let mut got = Vec::new();
    let mut buf = [0u8; 7000]; // odd size: reads straddle chunks
    loop {
        let n = body.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, util::pattern(nginx::ONE_MIB));
    // The connection went back to the pool once the body was read.
    assert_eq!(client.pool_stats().total.idle, 1);
}

#[test]
fn chunked_body_as_text_and_a_dropped_body_frees_its_slot() {
    let server = Nginx::start();
    let client =
        Client::with_builder(|| weir::client::Client::builder().max_connections_per_host(1))
            .unwrap();
    let text = client
        .get(&server.url(nginx::CHUNKED_BIG_PATH))
        .unwrap()
        .into_body()
        .text()
        .unwrap();
    assert_eq!(text.as_bytes(), nginx::chunked_text());
    let unread = client.get(&server.url(nginx::ONE_MIB_PATH)).unwrap();
    drop(unread); // closed or drained: the single slot must come back
    let again = client.get(&server.url(nginx::SMALL_PATH)).unwrap();
    assert_eq!(again.into_body().bytes().unwrap(), nginx::SMALL_BODY);
}

#[test]
fn errors_come_back_to_the_caller_and_drop_joins_the_loop() {
    let server = HyperServer::fixed(b"x");
    let url = server.url("/");
    let marker = Arc::new(());
    let held = marker.clone();
    let client = Client::with_builder(move || {
        weir::client::Client::builder().on_event(move |_| drop(held.clone()))
    })
    .unwrap();
    let Err(err) = client.get("http://127.0.0.1:1/") else {
        panic!("port 1 must refuse");
    };
    assert_eq!(err.kind(), weir::error::Kind::Connect);
    assert_eq!(client.get(&url).unwrap().into_body().bytes().unwrap(), "x");
    assert_eq!(
        Arc::strong_count(&marker),
        2,
        "the loop's client holds the callback"
    );
    drop(client);
    assert_eq!(
        Arc::strong_count(&marker),
        1,
        "loop stopped and joined: its client is gone"
    );
}

#[test]
fn per_request_timeouts_and_stats_through_the_blocking_client() {
    use util::scripted::{Script, ScriptedPeer};
    let peer = ScriptedPeer::start(vec![Script::new().read_head().hang()]);
    let client = Client::new();
    let req = weir::http::Request::get(&peer.url("/")).build().unwrap();
    let opts =
        weir::client::RequestOptions::new().read_timeout(std::time::Duration::from_millis(50));
    let Err(err) = client.send_with(req, opts) else {
        panic!("the peer never answers");
    };
    assert_eq!(err.kind(), weir::error::Kind::ReadTimeout);
    assert_eq!(client.pool_stats(), weir::client::PoolStats::default());
}
