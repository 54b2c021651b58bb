//! Fuzz the response parser and the body decoder it picks, as a connection drives them.
//! Byte 0 chooses the request context (HEAD, CONNECT, close), byte 1 the read size; the rest is
//! what the server sent. Checks: no panic, progress on every call, no "need more" while the
//! buffer already holds a limit's worth of bytes, and the same outcome (statuses, body,
//! keep-alive, or error kind) whether the bytes arrive whole or in reads of the chosen size.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use weir::error::Kind;
use weir::http::{Decoded, Limits, ParseStatus, RequestContext, ResponseParser};

/// Statuses seen (interim ones first), body, keep-alive verdict.
type Outcome = Result<(Vec<u16>, Vec<u8>, bool), Kind>;

fn limits() -> Limits {
    Limits {
        max_head_bytes: 4096,
        max_headers: 32,
        max_trailer_bytes: 1024,
        ..Limits::default()
    }
}

fn run(ctx: RequestContext, input: &[u8], step: usize) -> Outcome {
    let limits = limits();
    let mut parser = ResponseParser::new(ctx, limits);
    let (mut buf, mut fed) = (BytesMut::new(), 0);
    let mut feed = |buf: &mut BytesMut| {
        let end = (fed + step).min(input.len());
        buf.extend_from_slice(&input[fed..end]);
        let more = end > fed;
        fed = end;
        more
    };
    let budget = 4 * input.len() + 64;
    let mut statuses = Vec::new();
    let mut parsed = None;
    for _ in 0..budget {
        match parser.parse(&mut buf).map_err(|e| e.kind())? {
            ParseStatus::Upgrade { head, .. } => {
                return Ok((vec![head.status()], Vec::new(), false))
            }
            ParseStatus::Interim(head) => statuses.push(head.status()),
            ParseStatus::Complete(p) => {
                parsed = Some(p);
                break;
            }
            ParseStatus::Partial => {
                assert!(buf.len() < limits.max_head_bytes);
                if !feed(&mut buf) {
                    return Err(parser.eof_error(&buf).kind());
                }
            }
        }
    }
    let Some(parsed) = parsed else {
        panic!("parser made no progress")
    };
    statuses.push(parsed.head.status());
    let mut decoder = parsed.decoder;
    let mut body = Vec::new();
    for _ in 0..budget {
        match decoder.decode(&mut buf).map_err(|e| e.kind())? {
            Decoded::Done { .. } => return Ok((statuses, body, parsed.keep_alive)),
            Decoded::Data(d) => {
                assert!(!d.is_empty());
                body.extend_from_slice(&d);
            }
            Decoded::NeedMore => {
                assert!(buf.len() < limits.max_trailer_bytes);
                if !feed(&mut buf) {
                    decoder.finish_eof().map_err(|e| e.kind())?;
                    return Ok((statuses, body, parsed.keep_alive));
                }
            }
        }
    }
    panic!("decoder made no progress");
}

fuzz_target!(|data: &[u8]| {
    let [flags, step, input @ ..] = data else {
        return;
    };
    let ctx = RequestContext {
        head_request: flags & 1 != 0,
        connect_request: flags & 2 != 0,
        close_requested: flags & 4 != 0,
        expects_continue: flags & 8 != 0,
    };
    let whole = run(ctx, input, input.len().max(1));
    let split = run(ctx, input, usize::from(*step).max(1));
    assert_eq!(whole, split);
});
