//! Bounded memory: a 1 GiB download and a 1 GiB file upload through one connection keep the
//! process's peak RSS under 16 MiB. Alone in its binary so that no other test's memory
//! counts. Peak RSS is a count (`VmHWM`), not a clock.

mod util;

use util::bench::peak_rss_kib;
use util::conn::{connect, get, roundtrip};
use util::nginx::{self, Nginx};
use weir::conn::ConnConfig;
use weir::http::{Body, Request};

const GIB: u64 = 1 << 30;
const LIMIT_KIB: u64 = 16 * 1024;

#[test]
fn heavy_one_gib_down_and_up_in_bounded_memory() {
    if util::under_valgrind() {
        return; // valgrind's own memory would count
    }
    let nginx = Nginx::start();
    let big = nginx.url(nginx::BIG_PATH);
    let upload = nginx.url(nginx::UPLOAD_PATH);
    let dir = util::TempDir::new("conn-rss");
    let path = dir.path().join("sparse-1g");
    std::fs::File::create(&path).unwrap().set_len(GIB).unwrap(); // sparse: zeros, no disk
    weir::rt::block_on(async {
        let mut conn = connect(&big, &ConnConfig::default(), None).await;
        let mut total = 0u64;
        while total < GIB {
            let mut body = conn.send(get(&big)).await.expect("GET").into_body();
            while let Some(chunk) = body.next_chunk().await.expect("chunk") {
                total += chunk.len() as u64;
            }
            conn = body.take_connection().expect("kept alive");
        }
        assert_eq!(total, GIB);
        let file = std::fs::File::open(&path).unwrap();
        let req = Request::post(&upload)
            .body(Body::file(file, GIB))
            .build()
            .unwrap();
        let (status, _, _) = roundtrip(conn, req).await.expect("1 GiB upload");
        assert_eq!(status, 200);
    });
    let peak = peak_rss_kib();
    assert!(peak < LIMIT_KIB, "peak RSS {peak} KiB");
    eprintln!("peak RSS after 1 GiB down + 1 GiB up: {peak} KiB");
}
