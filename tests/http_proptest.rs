//! Byte-mutation and split-invariance harness for the sans-IO HTTP layer; CI always runs it.
//!
//! Four properties, 105,000 cases in all (counts set per test with `ProptestConfig`):
//! - `valid_responses_decode_the_same_at_any_split` (15,000): a generated valid response
//!   decodes to its status, body and trailers, identically whole and split at random points.
//! - `mutated_responses_never_panic_hang_or_overbuffer` (40,000): valid responses with random
//!   byte flips, insertions, deletions and truncation; parser + decoder must return a value or
//!   a typed error, make progress on every call, and never ask for more than the limits allow.
//! - `mutated_chunked_bodies_never_panic_hang_or_overbuffer` (30,000): the same for the chunked
//!   decoder alone, plus exact decoding of the unmutated body at random splits.
//! - `encoded_requests_round_trip` (20,000): random requests encode to bytes that httparse (as
//!   a server would) and our decoders read back to the same method, target, headers and body,
//!   with random partial writes through `Buf::chunks_vectored`/`advance`.
//!
//! "No unbounded allocation": the harness's limits are small, and it checks that whenever the
//! parser or a decoder says "need more", the buffer holds less than the matching limit, so a
//! connection's buffer can never grow past the limits waiting for a head, a chunk line or
//! trailers. Runtime in a debug build is printed by `cargo test --test http_proptest`
//! (see LOG.md for measured numbers).

mod util;

use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};
use proptest::prelude::*;
use proptest::sample::Index;
use weir::http::{
    encode_head, Body, BodyDecoder, Decoded, HeaderMap, Limits, Method, ParseStatus, Request,
    RequestContext, RequestFraming, ResponseParser,
};

use util::conn::stream_of;

const PARSER_VALID_CASES: u32 = 15_000;
const PARSER_MUTATED_CASES: u32 = 40_000;
const CHUNKED_CASES: u32 = 30_000;
const ENCODER_CASES: u32 = 20_000;

/// Small limits so the bounds are actually reached by generated inputs.
fn limits() -> Limits {
    Limits {
        max_head_bytes: 2048,
        max_headers: 16,
        max_interim_responses: 2,
        max_chunk_extension_bytes: 24,
        max_trailer_bytes: 256,
    }
}

/// `cases`, or a thousandth of it (at least 16) under valgrind (`.ci/run` sets
/// `WEIR_UNDER_VALGRIND=1`), where each case is ~50x slower.
fn config(cases: u32) -> ProptestConfig {
    let cases = if util::under_valgrind() {
        (cases / 1000).max(16)
    } else {
        cases
    };
    ProptestConfig {
        cases,
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    }
}

// ---------- the driver: what a connection does with the bytes ----------

/// What reading one response produced.
#[derive(Debug, PartialEq)]
struct Outcome {
    interim: Vec<u16>,
    status: u16,
    body: Vec<u8>,
    trailers: Option<Vec<(String, Vec<u8>)>>,
    keep_alive: bool,
    upgrade: Option<Vec<u8>>,
    leftover: Vec<u8>,
}

/// Feeds `input` in pieces whose sizes cycle through `steps`, as reads would deliver it.
struct Feeder<'a> {
    input: &'a [u8],
    fed: usize,
    steps: &'a [usize],
    turn: usize,
}

impl Feeder<'_> {
    fn feed(&mut self, buf: &mut BytesMut) -> bool {
        let step = self.steps[self.turn % self.steps.len()].max(1);
        self.turn += 1;
        let end = (self.fed + step).min(self.input.len());
        buf.extend_from_slice(&self.input[self.fed..end]);
        let progressed = end > self.fed;
        self.fed = end;
        progressed
    }
}

/// Trailer fields as (lowercase name, value) pairs.
type Trailers = Option<Vec<(String, Vec<u8>)>>;

/// A chunked body: (wire bytes, decoded body, trailers).
type ChunkedCase = (Vec<u8>, Vec<u8>, Trailers);

fn trailers_of(map: Option<HeaderMap>) -> Trailers {
    map.map(|m| {
        m.iter()
            .map(|(n, v)| (n.as_str().to_ascii_lowercase(), v.as_bytes().to_vec()))
            .collect()
    })
}

/// Parses and decodes one response from `input`, checking progress and buffer bounds.
fn drive(
    ctx: RequestContext,
    limits: Limits,
    input: &[u8],
    steps: &[usize],
) -> Result<Outcome, weir::Error> {
    let mut feeder = Feeder {
        input,
        fed: 0,
        steps,
        turn: 0,
    };
    let mut parser = ResponseParser::new(ctx, limits);
    let mut buf = BytesMut::new();
    let budget = 4 * input.len() + 64;
    let mut calls = 0;
    let mut interim = Vec::new();
    let parsed = loop {
        calls += 1;
        assert!(calls < budget, "parser made no progress");
        match parser.parse(&mut buf)? {
            ParseStatus::Partial => {
                assert!(
                    buf.len() < limits.max_head_bytes,
                    "parser waits with {} bytes",
                    buf.len()
                );
                if !feeder.feed(&mut buf) {
                    return Err(parser.eof_error(&buf));
                }
            }
            ParseStatus::Interim(head) => interim.push(head.status()),
            ParseStatus::Complete(parsed) => break parsed,
            ParseStatus::Upgrade { head, leftover } => {
                let mut rest = leftover.to_vec();
                rest.extend_from_slice(&buf);
                rest.extend_from_slice(&input[feeder.fed..]);
                let upgrade = Some(rest);
                let status = head.status();
                let (body, trailers, keep_alive, leftover) = (Vec::new(), None, false, Vec::new());
                return Ok(Outcome {
                    interim,
                    status,
                    body,
                    trailers,
                    keep_alive,
                    upgrade,
                    leftover,
                });
            }
        }
    };
    let mut decoder = parsed.decoder;
    let mut body = Vec::new();
    let trailers = loop {
        calls += 1;
        assert!(calls < 2 * budget, "decoder made no progress");
        match decoder.decode(&mut buf)? {
            Decoded::Data(data) => {
                assert!(!data.is_empty(), "empty Data");
                body.extend_from_slice(&data);
            }
            Decoded::Done { trailers } => break trailers,
            Decoded::NeedMore => {
                assert!(
                    buf.len() < limits.max_trailer_bytes,
                    "decoder waits with {} bytes",
                    buf.len()
                );
                if !feeder.feed(&mut buf) {
                    match decoder.finish_eof()? {
                        Decoded::Done { trailers } => break trailers,
                        other => panic!("finish_eof gave {other:?}"),
                    }
                }
            }
        }
    };
    while feeder.feed(&mut buf) {}
    let (status, keep_alive) = (parsed.head.status(), parsed.keep_alive);
    let (trailers, leftover, upgrade) = (trailers_of(trailers), buf.to_vec(), None);
    Ok(Outcome {
        interim,
        status,
        body,
        trailers,
        keep_alive,
        upgrade,
        leftover,
    })
}

// ---------- generators of valid messages ----------

const TCHARS: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+.^_`|~-";

/// A string of `len` bytes drawn from `alphabet` (cheaper than regex strategies in debug builds).
fn text(alphabet: &'static [u8], len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(alphabet), len)
        .prop_map(|bytes| String::from_utf8(bytes).unwrap_or_default())
}

/// A token for header names and extension methods.
fn token() -> impl Strategy<Value = String> {
    text(TCHARS, 1..12)
}

/// A header value: visible ASCII and inner spaces, no CR/LF/NUL.
fn field_value() -> impl Strategy<Value = String> {
    const VCHARS: &[u8] =
        b"abcdefghijklmnopqrstuvwxyz0123456789 !\"#$%&'()*+,-./:;<=>?@[]^_`{|}~ABCXYZ";
    text(VCHARS, 0..20).prop_map(|v| v.trim_matches(' ').to_owned())
}

/// Names that would change the framing or the keep-alive decision if generated at random.
fn is_reserved(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [
        "content-length",
        "transfer-encoding",
        "connection",
        "host",
        "expect",
        "upgrade",
    ]
    .contains(&lower.as_str())
}

fn extra_headers(max: usize) -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((token(), field_value()), 0..max)
        .prop_map(|h| h.into_iter().filter(|(n, _)| !is_reserved(n)).collect())
}

/// A valid chunked body: (wire bytes, decoded body, trailers).
fn chunked_body() -> impl Strategy<Value = ChunkedCase> {
    let chunk = (
        prop::collection::vec(any::<u8>(), 1..40),
        prop::option::of(text(b"abcxyz=09", 1..8)),
        any::<bool>(),
    );
    let trailers = prop::option::of(prop::collection::vec((token(), field_value()), 1..3));
    (prop::collection::vec(chunk, 0..6), trailers, any::<bool>()).prop_map(
        |(chunks, trailers, ext_on_last)| {
            let mut wire = Vec::new();
            let mut body = Vec::new();
            for (data, ext, upper) in chunks {
                let size = if upper {
                    format!("{:X}", data.len())
                } else {
                    format!("{:x}", data.len())
                };
                wire.extend_from_slice(size.as_bytes());
                if let Some(ext) = ext {
                    wire.extend_from_slice(format!(";{ext}").as_bytes());
                }
                wire.extend_from_slice(b"\r\n");
                wire.extend_from_slice(&data);
                wire.extend_from_slice(b"\r\n");
                body.extend_from_slice(&data);
            }
            wire.extend_from_slice(if ext_on_last { b"0;last\r\n" } else { b"0\r\n" });
            let trailers = trailers.map(|fields| {
                let mut out = Vec::new();
                for (name, value) in fields {
                    wire.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
                    out.push((name.to_ascii_lowercase(), value.into_bytes()));
                }
                out
            });
            wire.extend_from_slice(b"\r\n");
            (wire, body, trailers)
        },
    )
}

/// How a generated response frames its body, with the body.
#[derive(Clone, Debug)]
enum Framing {
    Length(Vec<u8>),
    Chunked(ChunkedCase),
    Close(Vec<u8>),
    NoBodyStatus,
}

fn framing() -> impl Strategy<Value = Framing> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..120).prop_map(Framing::Length),
        chunked_body().prop_map(Framing::Chunked),
        prop::collection::vec(any::<u8>(), 0..120).prop_map(Framing::Close),
        Just(Framing::NoBodyStatus),
    ]
}

/// A valid response: (request context, wire bytes, the outcome decoding must give).
fn valid_response() -> impl Strategy<Value = (RequestContext, Vec<u8>, Outcome)> {
    (
        framing(),
        prop::sample::select(vec![200u16, 201, 301, 404, 500, 599]),
        any::<bool>(),
        prop::option::of(prop::sample::select(vec![
            "close",
            "keep-alive",
            "Keep-Alive, Upgrade",
        ])),
        extra_headers(6),
        0usize..3,
        any::<bool>(),
    )
        .prop_map(
            |(framing, status, http10, connection, headers, n_interim, close_requested)| {
                let ctx = RequestContext {
                    close_requested,
                    ..RequestContext::default()
                };
                let mut wire = Vec::new();
                for _ in 0..n_interim.min(limits().max_interim_responses) {
                    wire.extend_from_slice(b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n");
                }
                let status = if matches!(framing, Framing::NoBodyStatus) {
                    204
                } else {
                    status
                };
                let version = if http10 { "1.0" } else { "1.1" };
                wire.extend_from_slice(
                    format!("HTTP/{version} {status} Reason Phrase\r\n").as_bytes(),
                );
                for (name, value) in &headers {
                    wire.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
                }
                if let Some(value) = connection {
                    wire.extend_from_slice(format!("Connection: {value}\r\n").as_bytes());
                }
                let close_delimited = matches!(framing, Framing::Close(_));
                let (body, trailers) = match framing {
                    Framing::Length(raw_body) => {
                        wire.extend_from_slice(
                            format!("Content-Length: {}\r\n\r\n", raw_body.len()).as_bytes(),
                        );
                        wire.extend_from_slice(&raw_body);
                        (raw_body, None)
                    }
                    Framing::Chunked((chunked_wire, body, trailers)) => {
                        wire.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                        wire.extend_from_slice(&chunked_wire);
                        (body, trailers)
                    }
                    Framing::Close(raw_body) => {
                        wire.extend_from_slice(b"\r\n");
                        wire.extend_from_slice(&raw_body);
                        (raw_body, None)
                    }
                    Framing::NoBodyStatus => {
                        wire.extend_from_slice(b"\r\n");
                        (Vec::new(), None)
                    }
                };
                let says_close = connection.is_some_and(|c| c.contains("close"));
                let says_keep =
                    connection.is_some_and(|c| c.to_ascii_lowercase().contains("keep-alive"));
                let keep_alive =
                    !close_delimited && !close_requested && !says_close && (!http10 || says_keep);
                let interim = vec![103; n_interim.min(limits().max_interim_responses)];
                let outcome = Outcome {
                    interim,
                    status,
                    body,
                    trailers,
                    keep_alive,
                    upgrade: None,
                    leftover: Vec::new(),
                };
                (ctx, wire, outcome)
            },
        )
}

/// Read sizes: a few random step lengths, cycled.
fn steps() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(prop_oneof![1usize..4, 1usize..64, 1usize..4096], 1..6)
}

// ---------- mutations ----------

#[derive(Clone, Debug)]
enum Mutation {
    Flip(Index, u8),
    Set(Index, u8),
    Insert(Index, u8),
    Delete(Index),
    Duplicate(Index, Index),
    Truncate(Index),
}

/// Bytes that matter to the grammar, so mutations hit interesting spots more often.
fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        any::<u8>(),
        prop::sample::select(b"\r\n:; \t0123456789abcdefF,\0\x7f\xff".to_vec())
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 0u8..8).prop_map(|(i, bit)| Mutation::Flip(i, 1 << bit)),
        (any::<Index>(), interesting_byte()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<Index>(), interesting_byte()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<Index>().prop_map(Mutation::Delete),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::Duplicate(a, b)),
        any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        if bytes.is_empty() {
            break;
        }
        let len = bytes.len();
        match m {
            Mutation::Flip(i, bit) => bytes[i.index(len)] ^= bit,
            Mutation::Set(i, b) => bytes[i.index(len)] = *b,
            Mutation::Insert(i, b) => bytes.insert(i.index(len + 1), *b),
            Mutation::Delete(i) => {
                bytes.remove(i.index(len));
            }
            Mutation::Duplicate(a, b) => {
                let (start, end) = (
                    a.index(len).min(b.index(len)),
                    a.index(len).max(b.index(len)),
                );
                let span = bytes[start..end.min(start + 64)].to_vec();
                bytes.splice(end..end, span);
            }
            Mutation::Truncate(i) => bytes.truncate(i.index(len)),
        }
    }
    bytes
}

// ---------- chunked decoder alone ----------

/// Decodes a chunked body fed by `steps`; checks progress and the trailer bound.
fn drive_chunked(
    limits: Limits,
    input: &[u8],
    steps: &[usize],
) -> Result<(Vec<u8>, Trailers, Vec<u8>), weir::Error> {
    let mut feeder = Feeder {
        input,
        fed: 0,
        steps,
        turn: 0,
    };
    let mut decoder = BodyDecoder::chunked(&limits);
    let mut buf = BytesMut::new();
    let mut body = Vec::new();
    let budget = 4 * input.len() + 64;
    for _ in 0..budget {
        match decoder.decode(&mut buf)? {
            Decoded::Data(data) => body.extend_from_slice(&data),
            Decoded::Done { trailers } => {
                while feeder.feed(&mut buf) {}
                return Ok((body, trailers_of(trailers), buf.to_vec()));
            }
            Decoded::NeedMore => {
                assert!(
                    buf.len() < limits.max_trailer_bytes,
                    "decoder waits with {} bytes",
                    buf.len()
                );
                if !feeder.feed(&mut buf) {
                    decoder.finish_eof()?;
                    panic!("finish_eof accepted an unfinished chunked body");
                }
            }
        }
    }
    panic!("chunked decoder made no progress");
}

// ---------- encoder round trip ----------

#[derive(Clone, Debug)]
enum ReqBody {
    None,
    Bytes(Vec<u8>),
    Chunked(Vec<Vec<u8>>),
}

fn request_parts() -> impl Strategy<Value = (Method, String, Vec<(String, String)>, ReqBody)> {
    let method = prop_oneof![
        Just(Method::Get),
        Just(Method::Post),
        Just(Method::Put),
        Just(Method::Delete),
        Just(Method::Patch),
        Just(Method::Options),
        text(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", 3..10)
            .prop_map(|m| Method::from_bytes(m.as_bytes()).unwrap()),
    ];
    let target = text(b"abcXYZ0189._~!$&'()*+,;=:@%/-?", 0..30).prop_map(|t| format!("/{t}"));
    let body = prop_oneof![
        Just(ReqBody::None),
        prop::collection::vec(any::<u8>(), 0..200).prop_map(ReqBody::Bytes),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..50), 0..6)
            .prop_map(ReqBody::Chunked),
    ];
    (method, target, extra_headers(8), body)
}

/// Drains `buf` as a socket would: vectored "writes" that accept a random number of bytes.
fn write_out(mut buf: impl Buf, accept: &[usize], out: &mut Vec<u8>) {
    let mut turn = 0;
    while buf.has_remaining() {
        let mut slices = [IoSlice::new(&[]); 4];
        let n = buf.chunks_vectored(&mut slices);
        assert!(n > 0, "has_remaining but no slices");
        let available: usize = slices[..n].iter().map(|s| s.len()).sum();
        let take = accept[turn % accept.len()].clamp(1, available);
        turn += 1;
        let mut left = take;
        for slice in &slices[..n] {
            let part = left.min(slice.len());
            out.extend_from_slice(&slice[..part]);
            left -= part;
        }
        buf.advance(take);
    }
}

fn encode_and_read_back(
    method: Method,
    target: &str,
    headers: &[(String, String)],
    body: &ReqBody,
    accept: &[usize],
) -> Result<(), TestCaseError> {
    let mut builder = Request::builder(method.clone(), &format!("http://h.test:8080{target}"));
    for (name, value) in headers {
        builder = builder.header(name.clone(), value.clone());
    }
    let (req_body, pieces) = match body {
        ReqBody::None => (Body::Empty, vec![]),
        ReqBody::Bytes(b) => (Body::from(b.clone()), vec![b.clone()]),
        ReqBody::Chunked(p) => (Body::stream(stream_of([])), p.clone()),
    };
    let req = builder.body(req_body).build().map_err(fail)?;
    let mut head = BytesMut::new();
    let mut enc = encode_head(&req, &mut head).map_err(fail)?;
    let mut wire = Vec::new();
    let mut first = Some(head.freeze());
    for (i, piece) in pieces.iter().enumerate() {
        let data = Bytes::copy_from_slice(piece);
        let chunk = match i + 1 == pieces.len() {
            true => enc.encode_final(data),
            false => enc.encode_data(data),
        }
        .map_err(fail)?;
        match first.take() {
            Some(head) => write_out(head.chain(chunk), accept, &mut wire),
            None => write_out(chunk, accept, &mut wire),
        }
    }
    if let Some(head) = first.take() {
        write_out(head, accept, &mut wire);
    }
    if !enc.is_finished() {
        write_out(enc.finish().map_err(fail)?, accept, &mut wire);
    }
    check_as_server(
        &method,
        target,
        headers,
        &pieces.concat(),
        enc.framing(),
        &wire,
    )
}

/// Reads `wire` back as a server: httparse for the head, our decoders for the body.
fn check_as_server(
    method: &Method,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
    framing: RequestFraming,
    wire: &[u8],
) -> Result<(), TestCaseError> {
    let mut slots = [httparse::EMPTY_HEADER; 32];
    let mut parsed = httparse::Request::new(&mut slots);
    let httparse::Status::Complete(head_len) = parsed.parse(wire).map_err(fail)? else {
        return Err(TestCaseError::fail("incomplete head"));
    };
    prop_assert_eq!(parsed.method, Some(method.as_str()));
    prop_assert_eq!(parsed.path, Some(target));
    let got: Vec<(String, String)> = parsed
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .filter(|(n, _)| {
            !["host", "content-length", "transfer-encoding"]
                .contains(&n.to_ascii_lowercase().as_str())
        })
        .collect();
    prop_assert_eq!(&got, headers);
    let host = parsed
        .headers
        .iter()
        .find(|h| h.name == "Host")
        .map(|h| h.value);
    prop_assert_eq!(host, Some(&b"h.test:8080"[..]));
    let mut rest = BytesMut::from(&wire[head_len..]);
    let mut decoder = match framing {
        RequestFraming::None => BodyDecoder::empty(),
        RequestFraming::Length(n) => BodyDecoder::length(n),
        RequestFraming::Chunked => BodyDecoder::chunked(&Limits::default()),
    };
    let mut decoded = Vec::new();
    loop {
        match decoder.decode(&mut rest).map_err(fail)? {
            Decoded::Data(d) => decoded.extend_from_slice(&d),
            Decoded::Done { .. } => break,
            Decoded::NeedMore => return Err(TestCaseError::fail("body cut short")),
        }
    }
    prop_assert_eq!(&decoded[..], body);
    prop_assert!(rest.is_empty(), "bytes after the body");
    Ok(())
}

/// An error as a failed case (the property cannot go on).
fn fail(e: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

/// Input fed whole and fed split must agree: the same outcome, or errors of the same kind.
fn same_verdict<T: PartialEq + std::fmt::Debug>(
    whole: &Result<T, weir::Error>,
    split: &Result<T, weir::Error>,
) -> Result<(), TestCaseError> {
    match (whole, split) {
        (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
        (Err(a), Err(b)) => prop_assert_eq!(a.kind(), b.kind()),
        _ => prop_assert!(false, "whole {:?} vs split {:?}", whole, split),
    }
    Ok(())
}

// ---------- the properties ----------

proptest! {
    #![proptest_config(config(PARSER_VALID_CASES))]
    #[test]
    fn valid_responses_decode_the_same_at_any_split((ctx, wire, expected) in valid_response(), steps in steps()) {
        let whole = drive(ctx, limits(), &wire, &[wire.len()]).map_err(fail)?;
        prop_assert_eq!(&whole, &expected);
        let split = drive(ctx, limits(), &wire, &steps).map_err(fail)?;
        prop_assert_eq!(&split, &whole);
    }
}

proptest! {
    #![proptest_config(config(PARSER_MUTATED_CASES))]
    #[test]
    fn mutated_responses_never_panic_hang_or_overbuffer(
        (ctx, wire, _) in valid_response(),
        mutations in prop::collection::vec(mutation(), 1..5),
        steps in steps(),
    ) {
        let wire = mutate(wire, &mutations);
        let whole = drive(ctx, limits(), &wire, &[wire.len().max(1)]);
        let split = drive(ctx, limits(), &wire, &steps);
        same_verdict(&whole, &split)?;
    }
}

proptest! {
    #![proptest_config(config(CHUNKED_CASES))]
    #[test]
    fn mutated_chunked_bodies_never_panic_hang_or_overbuffer(
        (wire, body, trailers) in chunked_body(),
        mutations in prop::collection::vec(mutation(), 0..4),
        steps in steps(),
    ) {
        let limits = limits();
        let exact = drive_chunked(limits, &wire, &steps).map_err(fail)?;
        prop_assert_eq!(exact, (body, trailers, Vec::new()));
        let mutated = mutate(wire, &mutations);
        let whole = drive_chunked(limits, &mutated, &[mutated.len().max(1)]);
        let split = drive_chunked(limits, &mutated, &steps);
        same_verdict(&whole, &split)?;
    }
}

proptest! {
    #![proptest_config(config(ENCODER_CASES))]
    #[test]
    fn encoded_requests_round_trip(
        (method, target, headers, body) in request_parts(),
        accept in prop::collection::vec(1usize..300, 1..5),
    ) {
        encode_and_read_back(method, &target, &headers, &body, &accept)?;
    }
}

proptest! {
    #![proptest_config(config(2_000))]
    #[test]
    fn header_values_with_cr_lf_nul_are_refused(value in prop::collection::vec(any::<u8>(), 0..20)) {
        let result = Request::get("http://h/").header("X", value.clone()).build();
        let forbidden = value.iter().any(|b| matches!(b, b'\r' | b'\n' | 0));
        prop_assert_eq!(result.is_err(), forbidden);
    }
}
