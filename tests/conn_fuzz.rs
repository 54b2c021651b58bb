//! A whole connection fed random and mutated server bytes over loopback: whatever the
//! server sends, the client returns a response or a typed error — no panic, no hang (a read
//! timeout bounds a server that goes quiet), no invented bytes, no chunk beyond the read
//! buffer.

mod util;

use std::time::Duration;

use proptest::prelude::*;
use weir::conn::ConnConfig;
use weir::rt::net::{AsyncStream, TcpStream};

/// Valid responses the mutations start from.
const SEEDS: &[&str] = &[
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n",
    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Hints\r\nLink: <a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
    "HTTP/1.1 204 No Content\r\n\r\n",
    "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc",
    "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close",
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\nrest",
    "HTTP/1.1 304 Not Modified\r\nETag: \"a\"\r\n\r\n",
];

#[derive(Clone, Debug)]
enum Edit {
    Flip(u16, u8),
    Insert(u16, u8),
    Delete(u16),
    Duplicate(u16, u16),
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for edit in edits {
        let at = |p: u16, len: usize| p as usize % (len + 1);
        match *edit {
            Edit::Flip(p, b) if !bytes.is_empty() => {
                let i = p as usize % bytes.len();
                bytes[i] ^= b | 1;
            }
            Edit::Insert(p, b) => bytes.insert(at(p, bytes.len()), b),
            Edit::Delete(p) if !bytes.is_empty() => {
                let i = p as usize % bytes.len();
                bytes.remove(i);
            }
            Edit::Duplicate(p, n) => {
                let i = at(p, bytes.len());
                let end = (i + n as usize % 64).min(bytes.len());
                let copy = bytes[i..end].to_vec();
                bytes.splice(i..i, copy);
            }
            _ => {}
        }
    }
    bytes
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<u16>(), any::<u8>()).prop_map(|(p, b)| Edit::Flip(p, b)),
        (any::<u16>(), any::<u8>()).prop_map(|(p, b)| Edit::Insert(p, b)),
        any::<u16>().prop_map(Edit::Delete),
        (any::<u16>(), any::<u16>()).prop_map(|(p, n)| Edit::Duplicate(p, n)),
    ]
}

/// What the server sends: mutated seeds (repeated for keep-alive), or plain random bytes.
fn server_bytes() -> impl Strategy<Value = Vec<u8>> {
    let mutated = (
        prop::collection::vec(0..SEEDS.len(), 1..4),
        prop::collection::vec(edit(), 0..6),
    )
        .prop_map(|(seeds, edits)| {
            let joined: Vec<u8> = seeds.iter().flat_map(|&i| SEEDS[i].bytes()).collect();
            apply(joined, &edits)
        });
    prop_oneof![
        4 => mutated,
        1 => prop::collection::vec(any::<u8>(), 0..400),
        1 => prop::collection::vec(prop::sample::select(b"HTTP/1.01 20\r\n:;aA-zZ".to_vec()), 0..300),
    ]
}

/// The server: reads a request head, writes `bytes` in `piece`-sized writes, then closes or
/// goes quiet.
async fn serve(mut s: TcpStream, bytes: Vec<u8>, piece: usize, hang: bool) {
    let mut buf = [0u8; 2048];
    let mut seen = Vec::new();
    while util::scripted::find(&seen, b"\r\n\r\n").is_none() {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    for part in bytes.chunks(piece.max(1)) {
        if s.write_all(part).await.is_err() {
            return;
        }
        weir::rt::yield_now().await;
    }
    if hang {
        let _ = s.read(&mut buf).await; // until the client closes
    }
}

fn run(bytes: Vec<u8>, piece: usize, hang: bool) -> Result<(), TestCaseError> {
    let total = bytes.len();
    weir::rt::block_on(async move {
        let (listener, addr) = util::rt::listener();
        let server = weir::rt::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            serve(s, bytes, piece, hang).await;
        });
        let cfg = ConnConfig {
            read_timeout: Some(Duration::from_millis(20)),
            expect_continue_wait: Duration::from_millis(5),
            ..ConnConfig::default()
        };
        let url = format!("http://{addr}/f");
        let mut conn = Some(util::conn::connect(&url, &cfg, None).await);
        let mut delivered = 0usize;
        // A server that says keep-alive gets up to 3 requests; later ones see what is left.
        for _ in 0..3 {
            let Some(c) = conn.take() else { break };
            let Ok(resp) = c.send(util::conn::get(&url)).await else {
                break;
            };
            let mut body = resp.into_body();
            while let Ok(Some(chunk)) = body.next_chunk().await {
                prop_assert!(chunk.len() <= cfg.max_read_buffer_size.max(64 * 1024));
                delivered += chunk.len();
            }
            conn = body.take_connection();
        }
        prop_assert!(
            delivered <= total,
            "{} body bytes out of {} sent",
            delivered,
            total
        );
        drop(conn);
        server.abort();
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn any_server_bytes_end_in_a_response_or_an_error(
        bytes in server_bytes(),
        piece in 1usize..200,
        hang in prop::bool::weighted(0.05),
    ) {
        run(bytes, piece, hang)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    #[test]
    fn heavy_any_server_bytes_end_in_a_response_or_an_error(
        bytes in server_bytes(),
        piece in 1usize..200,
    ) {
        run(bytes, piece, false)?;
    }
}
