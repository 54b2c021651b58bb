//! `weir bench` run as a user runs it: with no URL (the embedded server) and against nginx.
//! Counts are checked, never speeds.

mod cmd;
#[path = "../../tests/util/mod.rs"]
mod util;

use std::process::Output;

use cmd::{assert_one_error_line, weir};
use util::nginx::{self, Nginx};

fn report(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{:?}\n{text}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn assert_full_report(text: &str) {
    for needle in [
        "Requests/s:",
        "Transfer/s:",
        "p50",
        "p90",
        "p99 ",
        "p99.9",
        "max",
        "Errors by kind: none",
    ] {
        assert!(text.contains(needle), "{needle:?} missing in\n{text}");
    }
}

#[test]
fn no_url_benches_the_embedded_server_with_the_defaults() {
    let text = report(&weir(&["bench"]));
    assert!(text.contains("(embedded loopback server)"), "{text}");
    assert!(!text.contains(" 0 complete"), "{text}");
    assert!(text.contains(", 0 failed"), "{text}");
    assert_full_report(&text);
}

#[test]
fn request_count_is_exact_on_the_embedded_server() {
    let text = report(&weir(&["bench", "-n", "2000", "-c", "8", "-t", "2"]));
    assert!(text.contains("2000 complete, 0 failed"), "{text}");
    assert!(text.contains("2 threads, 8 connections"), "{text}");
    // 13-byte body each.
    assert!(text.contains("25.39 KiB in total"), "{text}");
}

#[test]
fn nginx_counts_every_request() {
    let nginx = Nginx::start();
    let before = nginx.stats();
    let text = report(&weir(&[
        "bench",
        "-n",
        "3000",
        "-c",
        "16",
        &nginx.url(nginx::SMALL_PATH),
    ]));
    let after = nginx.stats();
    assert!(text.contains("3000 complete, 0 failed"), "{text}");
    assert!(text.contains("    200                      3000"), "{text}");
    assert_full_report(&text);
    // +1: the stats request itself.
    assert_eq!(after.requests - before.requests, 3000 + 1);
    // Keep-alive: at most one connection per bench connection (+1 for stats).
    assert!(
        after.accepts - before.accepts <= 16 + 1,
        "{before:?} {after:?}"
    );
}

#[test]
fn unreachable_target_counts_errors_and_fails() {
    let port = util::free_port();
    let out = weir(&[
        "bench",
        "-n",
        "50",
        "-c",
        "2",
        &format!("http://127.0.0.1:{port}/"),
    ]);
    assert_one_error_line(&out, "bench");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("0 complete, 50 failed"), "{text}");
    assert!(text.contains("connect                  50"), "{text}");
}
