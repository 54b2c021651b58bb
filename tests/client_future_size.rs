//! Pins the size of a request in flight: the futures of `Client::send` and
//! `Connection::send`, which every request waiting for its response keeps allocated (a
//! crawler with 10,000 requests in flight holds 10,000 of them; `benches/idle_pool.rs`, fill
//! `requests`, shows their high-water mark in the process RSS).
//!
//! rustc stores in an `async fn`'s future a copy of each argument it borrows, beside the
//! copies the futures it awaits hold (rust-lang/rust#62958), so an innocent-looking extra
//! layer that forwards a `Request` (168 bytes) or a larger sub-future silently adds hundreds
//! of bytes per request. The bounds are the sizes measured when the layers were flattened
//! (`Client::send` 880 B, was 3272; `Connection::send` 688 B, was 1776; the same in debug
//! and release builds: the layout comes from MIR) plus about 10% of slack. A failure here
//! means a change made every request in flight bigger: look at
//! `cargo +nightly rustc --lib --release -- -Zprint-type-sizes` for the layer that grew.

use std::mem::size_of_val;

use weir::client::Client;
use weir::conn::{connect, ConnConfig};
use weir::http::{Request, Url};

/// Bound on `Client::send`'s future, in bytes.
const CLIENT_SEND_MAX: usize = 968;
/// Bound on `Connection::send`'s future, in bytes.
const CONN_SEND_MAX: usize = 760;

#[test]
fn a_client_request_future_stays_small() {
    let client = Client::new();
    let req = Request::get("http://127.0.0.1:1/").build().unwrap();
    let fut = client.send(req);
    let size = size_of_val(&fut);
    println!("Client::send future: {size} bytes");
    assert!(
        size <= CLIENT_SEND_MAX,
        "Client::send's future grew to {size} bytes (bound {})",
        CLIENT_SEND_MAX
    );
}

#[test]
fn a_connection_request_future_stays_small() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    weir::rt::block_on(async {
        let origin = Url::parse(&url).unwrap().origin().clone();
        let conn = connect(&origin, &ConnConfig::default()).await.unwrap();
        let fut = conn.send(Request::get(&url).build().unwrap());
        let size = size_of_val(&fut);
        println!("Connection::send future: {size} bytes");
        assert!(
            size <= CONN_SEND_MAX,
            "Connection::send's future grew to {size} bytes (bound {})",
            CONN_SEND_MAX
        );
    });
}
