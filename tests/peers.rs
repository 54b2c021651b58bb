//! Tests of the test peers themselves (tests/util), each checked with a plain `std::net`
//! client: if these fail, every test built on the peers is suspect.

mod util;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use util::hyper_server::{full, HyperServer};
use util::nginx::{self, Nginx};
use util::python::{self, PythonHttpServer};
use util::raw::{self, RawConn};
use util::scripted::{Script, ScriptedPeer};

const OK_13: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, weir!\n";

#[test]
fn nginx_serves_small_file_twice_on_one_connection() {
    let _gate = util::fd_gate_shared();
    let server = Nginx::start();
    let before = server.stats();
    let mut conn = RawConn::connect(server.addr()).unwrap();
    for _ in 0..2 {
        let response = conn.get(nginx::SMALL_PATH).unwrap();
        assert_eq!(response.status, 200, "{response:?}");
        assert!(response.status_line.starts_with("HTTP/1.1 "));
        assert_eq!(response.header("content-length"), Some("13"));
        assert_eq!(response.body, nginx::SMALL_BODY);
    }
    let after = server.stats();
    assert_eq!(
        after.accepts - before.accepts,
        2,
        "one kept-alive connection, one for stats"
    );
    assert_eq!(after.requests - before.requests, 3);
    assert_eq!(after.active, 2, "the kept-alive connection is still open");
}

#[test]
fn nginx_sends_chunked_through_ssi() {
    let _gate = util::fd_gate_shared();
    let server = Nginx::start();
    let mut conn = RawConn::connect(server.addr()).unwrap();
    let small = conn.get(nginx::CHUNKED_SMALL_PATH).unwrap();
    assert!(small.chunked(), "{small:?}");
    assert_eq!(small.header("content-length"), None);
    assert_eq!(small.body, nginx::SMALL_BODY);
    let big = conn.get(nginx::CHUNKED_BIG_PATH).unwrap();
    assert!(big.chunks > 1, "1 MiB in {} chunks", big.chunks);
    assert_eq!(big.body, nginx::chunked_text());
}

#[test]
fn nginx_head_and_conditional_requests() {
    let _gate = util::fd_gate_shared();
    let server = Nginx::start();
    let mut conn = RawConn::connect(server.addr()).unwrap();
    let head = conn.request("HEAD", nginx::ONE_MIB_PATH, &[]).unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("1048576"));
    let full = conn.get(nginx::SMALL_PATH).unwrap();
    assert_eq!(
        full.body,
        nginx::SMALL_BODY,
        "HEAD sent no body: the next response parses"
    );
    let etag = format!("If-None-Match: {}", full.header("etag").unwrap());
    let modified = format!(
        "If-Modified-Since: {}",
        full.header("last-modified").unwrap()
    );
    for condition in [etag, modified] {
        let response = conn
            .request("GET", nginx::SMALL_PATH, &[&condition])
            .unwrap();
        assert_eq!(response.status, 304, "{condition}: {response:?}");
        assert!(response.body.is_empty());
    }
    assert_eq!(conn.get(nginx::SMALL_PATH).unwrap().status, 200);
}

#[test]
fn nginx_serves_one_mib_pattern_and_statuses() {
    let _gate = util::fd_gate_shared();
    let server = Nginx::start();
    let mut conn = RawConn::connect(server.addr()).unwrap();
    assert_eq!(
        conn.get(nginx::ONE_MIB_PATH).unwrap().body,
        util::pattern(nginx::ONE_MIB)
    );
    for status in [200, 204, 404] {
        let response = conn.get(&format!("/status/{status}")).unwrap();
        assert_eq!(response.status, status);
    }
    assert_eq!(
        conn.get("/status/301")
            .unwrap()
            .header("location")
            .map(|l| l.ends_with("/13b.txt")),
        Some(true)
    );
    assert_eq!(conn.get("/missing").unwrap().status, 404);
    // nginx closes the connection after a 500: ask last.
    assert_eq!(conn.get("/status/500").unwrap().status, 500);
}

#[test]
fn heavy_nginx_serves_sparse_64_mib_file() {
    let _gate = util::fd_gate_shared();
    let server = Nginx::start();
    let response = raw::get(server.addr(), nginx::BIG_PATH).unwrap();
    assert_eq!(response.body.len(), nginx::BIG_LEN);
    let mismatch = response
        .body
        .iter()
        .enumerate()
        .position(|(i, b)| *b != nginx::big_file_byte(i));
    assert_eq!(mismatch, None);
}

#[test]
fn nginx_upload_location_reads_any_body() {
    let _gate = util::fd_gate_shared();
    let server = Nginx::start();
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    let body = vec![b'x'; 100_000];
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body).unwrap();
    let mut reader = std::io::BufReader::new(stream);
    let response = raw::read_response(&mut reader, false).unwrap();
    assert_eq!(
        (response.status, &response.body[..]),
        (200, &b"received\n"[..])
    );
}

#[test]
fn nginx_close_prefix_and_keepalive_requests_close_the_connection() {
    let _gate = util::fd_gate_shared();
    let server = Nginx::builder().keepalive_requests(3).start();
    let mut conn = RawConn::connect(server.addr()).unwrap();
    let closing = conn.get("/close/13b.txt").unwrap();
    assert_eq!(closing.header("connection"), Some("close"));
    assert_eq!(closing.body, nginx::SMALL_BODY);
    assert_eq!(
        conn.read_to_end().unwrap(),
        b"",
        "nginx closed after Connection: close"
    );

    let mut conn = RawConn::connect(server.addr()).unwrap();
    for n in 1..=3 {
        let response = conn.get(nginx::SMALL_PATH).unwrap();
        let expected = if n == 3 {
            Some("close")
        } else {
            Some("keep-alive")
        };
        assert_eq!(response.header("connection"), expected, "request {n}");
    }
    assert_eq!(
        conn.read_to_end().unwrap(),
        b"",
        "closed after keepalive_requests"
    );
}

#[test]
fn nginx_drop_kills_the_process_and_removes_its_files() {
    let _gate = util::fd_gate_shared();
    let server = Nginx::start();
    let (addr, pid, docroot) = (server.addr(), server.pid(), server.docroot());
    assert!(docroot.join("13b.txt").is_file());
    drop(server);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "nginx {pid} reaped"
    );
    assert!(!docroot.exists(), "temp dir removed");
    assert_eq!(
        TcpStream::connect(addr).unwrap_err().kind(),
        ErrorKind::ConnectionRefused
    );
}

#[test]
fn python_speaks_http11_with_keepalive() {
    let _gate = util::fd_gate_shared();
    let server = PythonHttpServer::start();
    let mut conn = RawConn::connect(server.addr()).unwrap();
    for _ in 0..2 {
        let response = conn.get("/13b.txt").unwrap();
        assert!(
            response.status_line.starts_with("HTTP/1.1 200"),
            "{response:?}"
        );
        assert_eq!(response.body, python::SMALL_BODY);
    }
    std::fs::write(server.root().join("added.txt"), b"added").unwrap();
    assert_eq!(conn.get("/added.txt").unwrap().body, b"added");
}

#[test]
fn python_chunked_with_trailer_and_close_delimited() {
    let _gate = util::fd_gate_shared();
    let server = PythonHttpServer::start();
    let mut conn = RawConn::connect(server.addr()).unwrap();
    let chunked = conn.get("/chunked").unwrap();
    assert_eq!(chunked.chunks, 3);
    assert_eq!(chunked.body, python::CHUNKED_PIECES.concat().as_bytes());
    assert_eq!(chunked.trailer("x-trailer"), Some("done"));
    let close = conn.get("/close").unwrap();
    assert_eq!(close.header("content-length"), None);
    assert_eq!(close.body, python::CLOSE_BODY, "read to EOF");
}

#[test]
fn python_echoes_length_and_chunked_bodies() {
    let _gate = util::fd_gate_shared();
    let server = PythonHttpServer::start();
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        .unwrap();
    stream
        .write_all(b"PUT /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        .unwrap();
    stream
        .write_all(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        .unwrap();
    let mut reader = std::io::BufReader::new(stream);
    assert_eq!(
        raw::read_response(&mut reader, false).unwrap().body,
        b"hello"
    );
    assert_eq!(
        raw::read_response(&mut reader, false).unwrap().body,
        b"abcde"
    );
}

#[test]
fn hyper_answers_with_the_handler_and_counts_connections() {
    let _gate = util::fd_gate_shared();
    let server = HyperServer::start(
        |request: hyper::Request<hyper::body::Incoming>| async move {
            let text = format!("{} {}", request.method(), request.uri().path());
            hyper::Response::new(full(text))
        },
    );
    let mut conn = RawConn::connect(server.addr()).unwrap();
    assert_eq!(conn.get("/a").unwrap().body, b"GET /a");
    assert_eq!(
        conn.request("DELETE", "/b", &[]).unwrap().body,
        b"DELETE /b"
    );
    assert_eq!(server.connections(), 1, "keep-alive");
    assert_eq!(raw::get(server.addr(), "/c").unwrap().status, 200);
    assert_eq!(server.connections(), 2);
    let addr = server.addr();
    drop(server);
    assert_eq!(
        TcpStream::connect(addr).unwrap_err().kind(),
        ErrorKind::ConnectionRefused
    );
}

#[test]
fn hyper_fixed_server_answers_http11() {
    let _gate = util::fd_gate_shared();
    let server = HyperServer::fixed(b"fixed");
    let response = raw::get(server.addr(), "/").unwrap();
    assert!(response.status_line.starts_with("HTTP/1.1 200"));
    assert_eq!(response.body, b"fixed");
}

#[test]
fn scripted_peer_records_heads_and_writes_in_pieces() {
    let _gate = util::fd_gate_shared();
    let script = Script::new()
        .read_head()
        .write_split(OK_13, 1, Duration::from_millis(1))
        .read_head()
        .write(OK_13);
    let peer = ScriptedPeer::start(vec![script]);
    let mut conn = RawConn::connect(peer.addr()).unwrap();
    assert_eq!(conn.get("/one").unwrap().body, b"Hello, weir!\n");
    assert_eq!(
        conn.request("GET", "/two", &["X-A: b"]).unwrap().status,
        200
    );
    let record = peer.wait_done(0);
    assert_eq!(
        record.heads_text(),
        [
            "GET /one HTTP/1.1\r\nHost: localhost\r\n\r\n",
            "GET /two HTTP/1.1\r\nHost: localhost\r\nX-A: b\r\n\r\n"
        ]
    );
    assert_eq!(record.error, None);
    assert_eq!(
        conn.read_to_end().unwrap(),
        b"",
        "closed at the end of the script"
    );
}

#[test]
fn scripted_peer_reads_bodies_and_pipelined_requests() {
    let _gate = util::fd_gate_shared();
    let peer = ScriptedPeer::start(vec![Script::new().read_head().read_body(3).read_head()]);
    let mut stream = TcpStream::connect(peer.addr()).unwrap();
    stream
        .write_all(b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n")
        .unwrap();
    let record = peer.wait_done(0);
    assert_eq!(record.bodies, [b"abc".to_vec()]);
    assert_eq!(record.heads.len(), 2);
    assert_eq!(record.error, None);
}

#[test]
fn scripted_peer_resets() {
    let _gate = util::fd_gate_shared();
    let peer = ScriptedPeer::start(vec![Script::new().read_head().reset()]);
    let mut stream = TcpStream::connect(peer.addr()).unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let mut buf = [0u8; 16];
    let error = stream.read(&mut buf).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConnectionReset);
}

#[test]
fn scripted_peer_half_closes_then_keeps_reading() {
    let _gate = util::fd_gate_shared();
    let peer = ScriptedPeer::start(vec![Script::new().write(b"bye").half_close().read_to_eof()]);
    let mut stream = TcpStream::connect(peer.addr()).unwrap();
    let mut got = Vec::new();
    stream.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"bye");
    stream.write_all(b"still open").unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let record = peer.wait_done(0);
    assert_eq!(
        (record.received.as_slice(), record.saw_eof),
        (&b"still open"[..], true)
    );
}

#[test]
fn scripted_peer_hangs_until_dropped() {
    let _gate = util::fd_gate_shared();
    let peer = ScriptedPeer::start(vec![Script::new().hang()]);
    let mut stream = TcpStream::connect(peer.addr()).unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    peer.wait_for(0, |record| !record.received.is_empty());
    drop(peer);
    let mut buf = [0u8; 16];
    assert_eq!(
        stream.read(&mut buf).unwrap(),
        0,
        "the hung connection closes only on drop"
    );
}

#[test]
fn scripted_peer_waits_for_release() {
    let _gate = util::fd_gate_shared();
    let script = Script::new().write(b"A").wait_release().write(b"B");
    let peer = ScriptedPeer::start(vec![script.clone()]);
    let mut stream = TcpStream::connect(peer.addr()).unwrap();
    let mut buf = [0u8; 1];
    stream.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"A");
    stream.set_nonblocking(true).unwrap();
    let early = stream.read(&mut buf).map_err(|e| e.kind());
    assert_eq!(early, Err(ErrorKind::WouldBlock), "B before the release");
    stream.set_nonblocking(false).unwrap();
    peer.release();
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, b"B");
    assert_eq!(peer.wait_done(0).error, None);
    // Never released: dropping the peer still ends the script.
    let waiting = ScriptedPeer::start(vec![script]);
    let _stream = TcpStream::connect(waiting.addr()).unwrap();
    waiting.wait_for(0, |_| true);
    drop(waiting);
}

#[test]
fn scripted_peer_closes_unscripted_connections() {
    let _gate = util::fd_gate_shared();
    let peer = ScriptedPeer::repeat(Script::new().write(b"x"), 2);
    for _ in 0..3 {
        let mut stream = TcpStream::connect(peer.addr()).unwrap();
        let mut got = Vec::new();
        stream.read_to_end(&mut got).unwrap();
    }
    assert_eq!(peer.wait_done(1).error, None);
    assert!(peer.wait_done(2).error.unwrap().contains("unscripted"));
    assert_eq!(peer.connections(), 3);
}

#[test]
fn open_fds_counts_this_process_descriptors() {
    let _gate = util::fd_gate_exclusive();
    let before = util::open_fds();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    assert_eq!(util::open_fds(), before + 2);
    drop((listener, stream));
    assert_eq!(util::open_fds(), before);
}

#[test]
fn peers_leave_no_descriptor_behind() {
    let _gate = util::fd_gate_exclusive();
    let before = util::open_fds();
    drop(Nginx::start());
    drop(PythonHttpServer::start());
    drop(HyperServer::fixed(b""));
    let peer = ScriptedPeer::start(vec![Script::new().hang()]);
    let stream = TcpStream::connect(peer.addr()).unwrap();
    drop(peer);
    drop(stream);
    assert_eq!(util::open_fds(), before);
}

#[test]
fn bench_args_follow_the_convention() {
    use util::bench::BenchArgs;
    let strings = |args: &[&str]| args.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let args = strings(&[
        "--count", "5", "--client", "hyper", "--mode", "c64", "--pin", "1",
    ]);
    let parsed = BenchArgs::parse(&args).unwrap();
    assert_eq!((parsed.count, parsed.client.as_str()), (5, "hyper"));
    assert_eq!((parsed.mode.as_deref(), parsed.pin), (Some("c64"), Some(1)));
    assert_eq!(BenchArgs::parse(&[]).unwrap().count, 10_000);
    assert!(BenchArgs::parse(&strings(&["--count"])).is_err());
    assert!(BenchArgs::parse(&strings(&["--count", "x"])).is_err());
    assert!(BenchArgs::parse(&strings(&["--what", "1"])).is_err());
}

#[test]
fn pinning_restricts_the_thread_to_one_cpu() {
    std::thread::spawn(|| {
        util::bench::pin_to_cpu(0).unwrap();
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        let allowed = status
            .lines()
            .find(|l| l.starts_with("Cpus_allowed_list:"))
            .unwrap();
        assert_eq!(allowed.split_whitespace().nth(1), Some("0"));
    })
    .join()
    .unwrap();
    assert!(util::bench::peak_rss_kib() > 0);
}
