//! Fuzz the response parser and the body decoder it picks, as a connection drives them.
//! Byte 0 chooses the request context (HEAD, CONNECT, close), byte 1 the read size; the rest is
//! what the server sent. Checks: no panic, progress on every call, and no "need more" while
//! the buffer already holds a limit's worth of bytes.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use weir::http::{Decoded, Limits, ParseStatus, RequestContext, ResponseParser};

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
    let limits = Limits {
        max_head_bytes: 4096,
        max_headers: 32,
        max_trailer_bytes: 1024,
        ..Limits::default()
    };
    let step = usize::from(*step).max(1);
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
    let mut decoder = None;
    for _ in 0..budget {
        match parser.parse(&mut buf) {
            Err(_) | Ok(ParseStatus::Upgrade { .. }) => return,
            Ok(ParseStatus::Interim(_)) => {}
            Ok(ParseStatus::Complete(parsed)) => {
                decoder = Some(parsed.decoder);
                break;
            }
            Ok(ParseStatus::Partial) => {
                assert!(buf.len() < limits.max_head_bytes);
                if !feed(&mut buf) {
                    return;
                }
            }
        }
    }
    let Some(mut decoder) = decoder else {
        panic!("parser made no progress")
    };
    for _ in 0..budget {
        match decoder.decode(&mut buf) {
            Err(_) | Ok(Decoded::Done { .. }) => return,
            Ok(Decoded::Data(d)) => assert!(!d.is_empty()),
            Ok(Decoded::NeedMore) => {
                assert!(buf.len() < limits.max_trailer_bytes);
                if !feed(&mut buf) {
                    let _ = decoder.finish_eof();
                    return;
                }
            }
        }
    }
    panic!("decoder made no progress");
});
