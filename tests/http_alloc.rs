//! Allocation counts of the sans-IO hot path, in steady state (buffers reused as a keep-alive
//! connection reuses them): encode a GET, parse a response head, decode a 13-byte body.
//! Counts, not clocks: the goal is ≤ 1 allocation per request for the whole client, and this
//! layer's share is the header map's one `Vec`.

mod util;

#[global_allocator]
static GLOBAL: util::alloc::Counting = util::alloc::Counting;

use bytes::{Buf, BytesMut};
use util::alloc::{allocations, track, SERIAL};
use weir::http::{encode_head, Decoded, Limits, ParseStatus, Request, ResponseParser};

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\nHello, world!";

/// One request/response exchange over reused buffers; returns the body length.
fn exchange(
    req: &Request,
    write_buf: &mut BytesMut,
    read_buf: &mut BytesMut,
    wire: &mut Vec<u8>,
) -> usize {
    write_buf.clear();
    let mut enc = encode_head(req, write_buf).unwrap();
    let mut out = (&write_buf[..]).chain(enc.finish().unwrap());
    wire.clear();
    while out.has_remaining() {
        let n = out.chunk().len();
        wire.extend_from_slice(out.chunk());
        out.advance(n);
    }
    read_buf.reserve(RESPONSE.len());
    read_buf.extend_from_slice(RESPONSE);
    let mut parser = ResponseParser::new(enc.context(), Limits::default());
    let ParseStatus::Complete(parsed) = parser.parse(read_buf).unwrap() else {
        panic!()
    };
    let mut decoder = parsed.decoder;
    let mut len = 0;
    loop {
        match decoder.decode(read_buf).unwrap() {
            Decoded::Data(d) => len += d.len(),
            Decoded::Done { .. } => return len,
            Decoded::NeedMore => panic!("short"),
        }
    }
}

#[test]
fn steady_state_exchange_allocates_once_for_the_header_map() {
    let _serial = SERIAL.lock().unwrap();
    track(true);
    let req = Request::get("http://127.0.0.1:8080/").build().unwrap();
    let (mut write_buf, mut read_buf) =
        (BytesMut::with_capacity(4096), BytesMut::with_capacity(8192));
    let mut wire = Vec::with_capacity(4096);
    for _ in 0..10 {
        assert_eq!(exchange(&req, &mut write_buf, &mut read_buf, &mut wire), 13);
    }
    let rounds = 1000;
    let before = allocations();
    for _ in 0..rounds {
        exchange(&req, &mut write_buf, &mut read_buf, &mut wire);
    }
    let per_exchange = (allocations() - before) as f64 / rounds as f64;
    println!("allocations per exchange: {per_exchange}");
    assert!(
        per_exchange <= 1.0,
        "{per_exchange} allocations per exchange"
    );
}
