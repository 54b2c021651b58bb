//! The sans-IO HTTP layer alone: N steady-state exchanges (encode a GET head, parse an nginx-like
//! response head, decode its 13-byte body), buffers reused as on a keep-alive connection. No
//! sockets, so this is the protocol layer's share of the per-request budget.
//!
//! `benches/measure.sh --only callgrind,dhat --bench http_sansio` → instructions and allocations
//! per exchange (difference of two counts). `cargo bench --bench http_sansio` prints a rate.

use std::hint::black_box;
use std::time::Instant;

use bytes::{Buf, BytesMut};
use weir::http::{encode_head, Decoded, Limits, ParseStatus, Request, ResponseParser};

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Thu, 26 Nov 2026 13:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nLast-Modified: Thu, 26 Nov 2026 12:00:00 GMT\r\nConnection: keep-alive\r\nETag: \"6925e8c0-d\"\r\nAccept-Ranges: bytes\r\n\r\nHello, weir!\n";

fn exchange(req: &Request, write_buf: &mut BytesMut, read_buf: &mut BytesMut) -> usize {
    write_buf.clear();
    let mut enc = encode_head(req, write_buf).expect("encode");
    let mut out = Buf::chain(&write_buf[..], enc.finish().expect("finish"));
    let mut written = 0;
    while out.has_remaining() {
        let n = out.chunk().len();
        written += black_box(out.chunk()).len();
        out.advance(n);
    }
    read_buf.reserve(RESPONSE.len());
    read_buf.extend_from_slice(black_box(RESPONSE));
    let mut parser = ResponseParser::new(enc.context(), Limits::default());
    let ParseStatus::Complete(parsed) = parser.parse(read_buf).expect("parse") else {
        panic!("partial");
    };
    let mut decoder = parsed.decoder;
    let mut body = 0;
    loop {
        match decoder.decode(read_buf).expect("decode") {
            Decoded::Data(d) => body += d.len(),
            Decoded::Done { .. } => return written + body,
            Decoded::NeedMore => panic!("short body"),
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut count: u64 = 1_000_000;
    while let Some(arg) = args.next() {
        if arg == "--count" {
            count = args.next().and_then(|n| n.parse().ok()).expect("--count N");
        }
    }
    let req = Request::get("http://127.0.0.1:8080/13b.txt")
        .build()
        .expect("request");
    let mut write_buf = BytesMut::with_capacity(4096);
    let mut read_buf = BytesMut::with_capacity(16 * 1024);
    let start = Instant::now();
    let mut total = 0;
    for _ in 0..count {
        total += exchange(&req, &mut write_buf, &mut read_buf);
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{count} exchanges, {:.0} exchanges/s ({total} bytes)",
        count as f64 / secs
    );
}
