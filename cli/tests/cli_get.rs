//! `weir get` run as a user runs it: the built binary against nginx, Python's http.server and
//! scripted raw-socket peers. Bodies are compared byte for byte; failures must exit non-zero
//! with exactly one `error: <kind>: <detail>` line on stderr.

mod cmd;
#[path = "../../tests/util/mod.rs"]
mod util;

use std::process::Command;

use cmd::{assert_one_error_line, stderr, weir};
use util::nginx::{self, Nginx};
use util::python::PythonHttpServer;
use util::scripted::{Script, ScriptedPeer};

#[test]
fn small_body_bytes_are_exact() {
    let nginx = Nginx::start();
    let out = weir(&["get", &nginx.url(nginx::SMALL_PATH)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout, nginx::SMALL_BODY);
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
}

#[test]
fn one_mib_and_chunked_bodies_are_exact() {
    let nginx = Nginx::start();
    let out = weir(&["get", &nginx.url(nginx::ONE_MIB_PATH)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout, util::pattern(nginx::ONE_MIB));
    let out = weir(&["get", &nginx.url(nginx::CHUNKED_BIG_PATH)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout, nginx::chunked_text());
}

#[test]
fn several_urls_go_in_order_over_one_connection() {
    let nginx = Nginx::start();
    let (small, big) = (nginx.url(nginx::SMALL_PATH), nginx.url(nginx::ONE_MIB_PATH));
    let out = weir(&["get", "-v", &small, &big, &small]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut expected = nginx::SMALL_BODY.to_vec();
    expected.extend(util::pattern(nginx::ONE_MIB));
    expected.extend(nginx::SMALL_BODY);
    assert_eq!(out.stdout, expected);
    let err = stderr(&out);
    assert_eq!(err.matches("* connected").count(), 1, "{err}");
    assert_eq!(err.matches("* reused").count(), 2, "{err}");
}

#[test]
fn include_prints_status_line_and_headers_first() {
    let nginx = Nginx::start();
    let out = weir(&["get", "-i", &nginx.url(nginx::SMALL_PATH)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text:?}");
    let (head, body) = text
        .split_once("\r\n\r\n")
        .expect("blank line after the head");
    assert!(head.lines().any(|l| l == "Content-Length: 13"), "{head:?}");
    assert!(
        head.lines().any(|l| l.starts_with("Server: nginx")),
        "{head:?}"
    );
    assert_eq!(body.as_bytes(), nginx::SMALL_BODY);
}

#[test]
fn output_file_gets_the_body_and_stdout_stays_empty() {
    let nginx = Nginx::start();
    let dir = util::TempDir::new("weir-cli-o");
    let path = dir.path().join("1m.bin");
    let out = weir(&[
        "get",
        "-o",
        path.to_str().unwrap(),
        &nginx.url(nginx::ONE_MIB_PATH),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    // stderr is a pipe here, not a terminal: no progress bar.
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
    assert_eq!(std::fs::read(&path).unwrap(), util::pattern(nginx::ONE_MIB));
}

#[test]
fn data_from_a_file_is_posted() {
    let py = PythonHttpServer::start();
    let dir = util::TempDir::new("weir-cli-d");
    let path = dir.path().join("upload.bin");
    let payload = util::pattern(300_000);
    std::fs::write(&path, &payload).unwrap();
    let arg = format!("@{}", path.display());
    let out = weir(&["get", "-d", &arg, &py.url("/echo")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout, payload);
    let out = weir(&["get", "-X", "PUT", "-d", "inline data", &py.url("/echo")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout, b"inline data");
}

#[test]
fn method_and_headers_reach_the_peer() {
    let peer = ScriptedPeer::start(vec![
        Script::new().respond("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    ]);
    let out = weir(&[
        "get",
        "-X",
        "DELETE",
        "-H",
        "X-Test: yes",
        "-H",
        "Accept:  */*",
        &peer.url("/thing"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout, b"ok");
    let head = String::from_utf8(peer.wait_done(0).heads[0].clone()).unwrap();
    assert!(head.starts_with("DELETE /thing HTTP/1.1\r\n"), "{head:?}");
    assert!(head.contains("\r\nX-Test: yes\r\n"), "{head:?}");
    assert!(head.contains("\r\nAccept: */*\r\n"), "{head:?}");
}

#[test]
fn error_status_is_still_success() {
    let nginx = Nginx::start();
    let out = weir(&["get", "-i", &nginx.url("/status/404")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.starts_with(b"HTTP/1.1 404 "));
}

#[test]
fn refused_connection_is_one_error_line() {
    let port = util::free_port();
    let out = weir(&["get", &format!("http://127.0.0.1:{port}/")]);
    let err = assert_one_error_line(&out, "connect");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn truncated_body_is_one_error_line() {
    let peer = ScriptedPeer::start(vec![Script::new()
        .respond("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
        .close()]);
    let out = weir(&["get", &peer.url("/t")]);
    assert_one_error_line(&out, "body-incomplete");
    assert_eq!(
        out.stdout, b"short",
        "the bytes that did arrive are written"
    );
}

#[test]
fn a_later_failure_stops_after_earlier_bodies() {
    let nginx = Nginx::start();
    let port = util::free_port();
    let out = weir(&[
        "get",
        &nginx.url(nginx::SMALL_PATH),
        &format!("http://127.0.0.1:{port}/"),
    ]);
    assert_one_error_line(&out, "connect");
    assert_eq!(out.stdout, nginx::SMALL_BODY);
}

#[test]
fn usage_errors_are_one_line_with_status_2() {
    for args in [
        &["get"][..],
        &["get", "-H", "no colon", "http://127.0.0.1:9/"],
        &["frobnicate"],
    ] {
        let out = weir(args);
        assert_one_error_line(&out, "usage");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    let out = weir(&["get", "ftp://x/"]);
    assert_one_error_line(&out, "unsupported-scheme");
    let out = weir(&["get", "-d", "@/nonexistent/weir", "http://127.0.0.1:9/"]);
    assert_one_error_line(&out, "file");
}

#[test]
fn progress_bar_shows_when_stderr_is_a_terminal() {
    let nginx = Nginx::start();
    let dir = util::TempDir::new("weir-cli-tty");
    let path = dir.path().join("1m.bin");
    // `script` runs the command on a pseudo-terminal: stderr is a tty there.
    let cmd = format!(
        "'{}' get -o '{}' '{}'",
        env!("CARGO_BIN_EXE_weir"),
        path.display(),
        nginx.url(nginx::ONE_MIB_PATH)
    );
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .expect("run script (util-linux)");
    let tty = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{tty}");
    assert!(tty.contains("100% 1.00 MiB / 1.00 MiB"), "{tty:?}");
    assert_eq!(std::fs::read(&path).unwrap(), util::pattern(nginx::ONE_MIB));
}

#[test]
fn head_and_204_complete_without_a_body() {
    let nginx = Nginx::start();
    let head_url = nginx.url(nginx::ONE_MIB_PATH);
    let out = weir(&[
        "get",
        "-X",
        "HEAD",
        "-i",
        &head_url,
        &nginx.url("/status/204"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let heads: Vec<&str> = text.split("\r\n\r\n").collect();
    assert_eq!(heads.len(), 3, "two heads, nothing after them: {text:?}");
    assert!(heads[0].contains("Content-Length: 1048576"), "{text:?}");
    assert!(heads[1].starts_with("HTTP/1.1 204 "), "{text:?}");
    assert_eq!(heads[2], "");
}

#[test]
fn verbose_reports_a_retry_after_a_stale_connection() {
    let ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    // Connection 0 answers once, then closes on the second request without a byte of
    // response: the GET is retried once on connection 1.
    let peer = ScriptedPeer::start(vec![
        Script::new().respond(ok).read_head().close(),
        Script::new().respond(ok),
    ]);
    let url = peer.url("/r");
    let out = weir(&["get", "-v", &url, &url]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_eq!(out.stdout, b"okok");
    assert_eq!(err.matches("* connected").count(), 2, "{err}");
    assert!(err.contains("* reused connection"), "{err}");
    assert!(err.contains("* retried"), "{err}");
    assert_eq!(peer.connections(), 2);
}
