//! Baseline: the least a client can do per request. Sequential `GET /13b.txt` to nginx over
//! one keep-alive connection with blocking `std::net`: one write of a fixed request, reads
//! until the 13-byte body has arrived (one read when the response comes whole). No parser,
//! no allocation per request. It bounds what any client can reach on this machine, and
//! shows `benches/measure.sh` at work:
//!
//! ```sh
//! benches/measure.sh --bench baseline_std -- --pin 0
//! ```
//!
//! Arguments: `--count N` requests after start-up, `--pin CPU` (client and nginx on one core).

#[path = "../tests/util/mod.rs"]
mod util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use util::bench::BenchArgs;
use util::nginx::{self, Nginx};

const REQUEST: &[u8] = b"GET /13b.txt HTTP/1.1\r\nHost: localhost\r\n\r\n";

fn main() {
    let args = BenchArgs::from_env();
    args.apply_pin();
    let server = Nginx::builder().keepalive_requests(u32::MAX).start();
    let mut stream = TcpStream::connect(server.addr()).expect("connect to nginx");
    stream.set_nodelay(true).expect("nodelay");
    let mut buf = [0u8; 4096];
    let start = Instant::now();
    for _ in 0..args.count {
        stream.write_all(REQUEST).expect("write request");
        read_response(&mut stream, &mut buf);
    }
    let elapsed = start.elapsed();
    let rate = args.count as f64 / elapsed.as_secs_f64();
    println!(
        "client=std requests={} requests_per_sec={rate:.0}",
        args.count
    );
}

/// Reads until the buffer ends with the 13-byte body (a response of known shape).
fn read_response(stream: &mut TcpStream, buf: &mut [u8]) {
    let mut filled = 0;
    while filled < nginx::SMALL_BODY.len() || !buf[..filled].ends_with(nginx::SMALL_BODY) {
        let n = stream.read(&mut buf[filled..]).expect("read response");
        assert!(n > 0, "nginx closed the connection");
        filled += n;
    }
}
