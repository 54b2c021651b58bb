//! `Client::preconnect`: idle connections opened without a request, against a hyper server,
//! within the pool's limits, then reused by requests.

mod util;

use std::cell::RefCell;
use std::rc::Rc;

use util::hyper_server::HyperServer;
use weir::client::{Client, ClientBuilder, ClientEvent};
use weir::error::Kind;

/// What the client reported: "connected" and "reused", in order.
type Events = Rc<RefCell<Vec<&'static str>>>;

fn recording(builder: ClientBuilder) -> (Client, Events) {
    let events: Events = Rc::default();
    let sink = events.clone();
    let client = builder
        .on_event(move |e| {
            let name = match e {
                ClientEvent::Connected { .. } => "connected",
                ClientEvent::Reused { .. } => "reused",
                _ => "other",
            };
            sink.borrow_mut().push(name);
        })
        .build();
    (client, events)
}

fn count(events: &Events, name: &str) -> usize {
    events.borrow().iter().filter(|e| **e == name).count()
}

#[test]
fn preconnected_connections_wait_idle_and_carry_the_next_requests() {
    let server = HyperServer::fixed(b"pre");
    let url = server.url("/");
    let (client, events) = recording(Client::builder());
    util::rt::run(async {
        assert_eq!(client.preconnect(&url, 5).await.expect("preconnect"), 5);
        let stats = client.pool_stats().total;
        assert_eq!((stats.idle, stats.active, stats.connecting), (5, 0, 0));
        assert_eq!(count(&events, "connected"), 5);
        // Five requests at once: each takes one of the idle connections, none connects.
        let tasks: Vec<_> = (0..5)
            .map(|_| {
                let (client, url) = (client.clone(), url.clone());
                weir::rt::spawn(async move {
                    let body = client.get(&url).await.expect("response").into_body();
                    assert_eq!(&body.bytes().await.expect("body")[..], b"pre");
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
    });
    assert_eq!(count(&events, "connected"), 5, "no request connected anew");
    assert_eq!(count(&events, "reused"), 5);
    assert_eq!(server.connections(), 5);
    assert_eq!(client.pool_stats().total.idle, 5);
}

#[test]
fn preconnect_stops_at_the_pool_limits() {
    let server = HyperServer::fixed(b"pre");
    let url = server.url("/");
    let idle_limited = Client::builder().max_idle_per_host(3).build();
    let host_limited = Client::builder().max_connections_per_host(2).build();
    let total_limited = Client::builder().max_connections(4).build();
    util::rt::run(async {
        assert_eq!(idle_limited.preconnect(&url, 10).await.unwrap(), 3);
        assert_eq!(idle_limited.preconnect(&url, 10).await.unwrap(), 0);
        assert_eq!(host_limited.preconnect(&url, 10).await.unwrap(), 2);
        assert_eq!(total_limited.preconnect(&url, 10).await.unwrap(), 4);
        assert_eq!(total_limited.preconnect(&url, 0).await.unwrap(), 0);
    });
    assert_eq!(idle_limited.pool_stats().total.idle, 3);
    assert_eq!(host_limited.pool_stats().total.idle, 2);
    assert_eq!(total_limited.pool_stats().total.idle, 4);
}

#[test]
fn preconnect_to_a_closed_port_fails_and_leaves_the_pool_empty() {
    let url = format!("http://127.0.0.1:{}/", util::free_port());
    let client = Client::new();
    let err = util::rt::run(client.preconnect(&url, 3)).expect_err("nothing listens");
    assert_eq!(err.kind(), Kind::Connect, "{err}");
    let stats = client.pool_stats().total;
    assert_eq!(stats.connections(), 0, "{stats:?}");
    assert!(util::rt::run(client.preconnect("not a url", 1)).is_err());
}
