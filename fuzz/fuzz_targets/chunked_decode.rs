//! Fuzz the chunked body decoder alone: decoding the input whole and split into reads of the
//! size given by byte 0 must agree (same body, same trailers, same error kind), never panic,
//! and always make progress.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use weir::http::{BodyDecoder, Decoded, Limits};

type Run = Result<(Vec<u8>, Option<Vec<(Vec<u8>, Vec<u8>)>>), weir::error::Kind>;

fn run(input: &[u8], step: usize) -> Run {
    let limits = Limits {
        max_chunk_extension_bytes: 64,
        max_trailer_bytes: 512,
        max_headers: 8,
        ..Limits::default()
    };
    let mut decoder = BodyDecoder::chunked(&limits);
    let (mut buf, mut fed, mut body) = (BytesMut::new(), 0, Vec::new());
    for _ in 0..4 * input.len() + 64 {
        match decoder.decode(&mut buf).map_err(|e| e.kind())? {
            Decoded::Data(d) => body.extend_from_slice(&d),
            Decoded::Done { trailers } => {
                let pairs = trailers.map(|t| {
                    t.iter()
                        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
                        .collect()
                });
                return Ok((body, pairs));
            }
            Decoded::NeedMore => {
                assert!(buf.len() < limits.max_trailer_bytes);
                let end = (fed + step).min(input.len());
                if end == fed {
                    decoder.finish_eof().map_err(|e| e.kind())?;
                    panic!("finish_eof accepted an unfinished chunked body");
                }
                buf.extend_from_slice(&input[fed..end]);
                fed = end;
            }
        }
    }
    panic!("chunked decoder made no progress");
}

fuzz_target!(|data: &[u8]| {
    let [step, input @ ..] = data else { return };
    let whole = run(input, input.len().max(1));
    let split = run(input, usize::from(*step).max(1));
    assert_eq!(whole, split);
});
