//! Every framing and error rule of the sans-IO HTTP layer, driven with plain byte slices:
//! the encoder's output, RFC 9112 §6.3 response framing, keep-alive, interim and upgrade
//! responses, limits, and the typed errors.

mod util;

use bytes::{Buf, Bytes, BytesMut};
use weir::error::{HeadLimit, Invalid, Kind, Malformed, Phase};
use weir::http::{
    encode_head, Body, BodyDecoder, Decoded, HeaderMap, Limits, Method, ParseStatus, Request,
    RequestContext, RequestFraming, ResponseParser,
};

use util::conn::stream_of;

/// What a whole exchange read from bytes produced.
#[derive(Debug, PartialEq)]
struct Read {
    status: u16,
    interim: Vec<u16>,
    body: Vec<u8>,
    trailers: Option<HeaderMap>,
    keep_alive: bool,
    close_delimited: bool,
    leftover: Vec<u8>,
}

/// Feeds `input` `step` bytes at a time to a parser then a decoder, as a connection would,
/// calling `finish_eof` when the input runs out.
fn read_with(
    ctx: RequestContext,
    limits: Limits,
    input: &[u8],
    step: usize,
) -> Result<Read, weir::Error> {
    let mut parser = ResponseParser::new(ctx, limits);
    let mut buf = BytesMut::new();
    let mut fed = 0;
    let mut feed = |buf: &mut BytesMut| -> bool {
        let end = (fed + step).min(input.len());
        buf.extend_from_slice(&input[fed..end]);
        let progressed = end > fed;
        fed = end;
        progressed
    };
    let mut interim = Vec::new();
    let parsed = loop {
        match parser.parse(&mut buf)? {
            ParseStatus::Partial if !feed(&mut buf) => return Err(parser.eof_error(&buf)),
            ParseStatus::Partial => {}
            ParseStatus::Interim(head) => interim.push(head.status()),
            ParseStatus::Complete(parsed) => break parsed,
            ParseStatus::Upgrade { head, .. } => panic!("unexpected upgrade {head:?}"),
        }
    };
    let mut decoder = parsed.decoder;
    let close_delimited = decoder.is_close_delimited();
    let mut body = Vec::new();
    let trailers = loop {
        match decoder.decode(&mut buf)? {
            Decoded::Data(data) => body.extend_from_slice(&data),
            Decoded::Done { trailers } => break trailers,
            Decoded::NeedMore if feed(&mut buf) => {}
            Decoded::NeedMore => match decoder.finish_eof()? {
                Decoded::Done { trailers } => break trailers,
                other => panic!("finish_eof gave {other:?}"),
            },
        }
    };
    while feed(&mut buf) {}
    let (status, keep_alive) = (parsed.head.status(), parsed.keep_alive);
    Ok(Read {
        status,
        interim,
        body,
        trailers,
        keep_alive,
        close_delimited,
        leftover: buf.to_vec(),
    })
}

/// Reads `input` at every split size and checks all agree; returns the one-piece result.
fn read(ctx: RequestContext, input: &[u8]) -> Result<Read, weir::Error> {
    let whole = read_with(ctx, Limits::default(), input, input.len().max(1));
    for step in 1..input.len() {
        let split = read_with(ctx, Limits::default(), input, step);
        match (&whole, &split) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "step {step}"),
            (Err(a), Err(b)) => assert_eq!(a.kind(), b.kind(), "step {step}"),
            _ => panic!("step {step}: whole {whole:?} vs split {split:?}"),
        }
    }
    whole
}

fn get() -> RequestContext {
    RequestContext::default()
}

fn kind(result: Result<Read, weir::Error>) -> Kind {
    result.unwrap_err().kind()
}

// ---- encoder ----

fn encode(req: &Request) -> Result<String, weir::Error> {
    let mut dst = BytesMut::new();
    encode_head(req, &mut dst)?;
    Ok(String::from_utf8(dst.to_vec()).unwrap())
}

#[test]
fn encoder_adds_host_when_absent_and_keeps_header_order_and_case() {
    let req = Request::get("http://example.test:8080/a?b=c")
        .header("X-First", "1")
        .header("x-second", "2")
        .build()
        .unwrap();
    let text = encode(&req).unwrap();
    assert_eq!(
        text,
        "GET /a?b=c HTTP/1.1\r\nHost: example.test:8080\r\nX-First: 1\r\nx-second: 2\r\n\r\n"
    );
}

#[test]
fn encoder_frames_bodies_by_length_or_chunked() {
    let req = Request::post("http://h/")
        .body(Bytes::from_static(b"12345"))
        .build()
        .unwrap();
    assert!(encode(&req).unwrap().contains("\r\nContent-Length: 5\r\n"));
    let file = tempfile();
    let req = Request::put("http://h/")
        .body(Body::file(file, 3))
        .build()
        .unwrap();
    assert!(encode(&req).unwrap().contains("\r\nContent-Length: 3\r\n"));
    let req = Request::post("http://h/")
        .body(Body::stream(stream_of([])))
        .build()
        .unwrap();
    assert!(encode(&req)
        .unwrap()
        .contains("\r\nTransfer-Encoding: chunked\r\n"));
    let req = Request::post("http://h/")
        .body(Body::sized_stream(stream_of([]), 9))
        .build()
        .unwrap();
    assert!(encode(&req).unwrap().contains("\r\nContent-Length: 9\r\n"));
    let req = Request::get("http://h/").build().unwrap();
    let text = encode(&req).unwrap();
    assert!(!text.contains("Content-Length") && !text.contains("Transfer-Encoding"));
}

#[test]
fn invalid_requests_are_typed_errors_before_any_byte() {
    let cases: [(Result<Request, weir::Error>, Invalid); 5] = [
        (
            Request::get("http://h/").header("Bad\r\nName", "v").build(),
            Invalid::HeaderName,
        ),
        (
            Request::get("http://h/")
                .header("X", "v\r\nInjected: 1")
                .build(),
            Invalid::HeaderValue,
        ),
        (
            Request::get("http://h/").header("X", "nul\0").build(),
            Invalid::HeaderValue,
        ),
        (Request::get("http://h/a b").build(), Invalid::Target),
        (
            Method::from_bytes(b"GE\nT").map(|m| Request::new(m, "http://h/".parse().unwrap())),
            Invalid::Method,
        ),
    ];
    for (result, invalid) in cases {
        let err = result.unwrap_err();
        assert_eq!(err.kind(), Kind::LocalProtocol(invalid));
        assert_eq!(err.phase(), Phase::Prepare);
    }
}

#[test]
fn https_is_unsupported() {
    assert_eq!(
        Request::get("https://h/").build().unwrap_err().kind(),
        Kind::UnsupportedScheme
    );
}

#[test]
fn chunked_request_round_trips_through_the_response_decoder() {
    let req = Request::post("http://h/")
        .body(Body::stream(stream_of([])))
        .build()
        .unwrap();
    let mut head = BytesMut::new();
    let mut enc = encode_head(&req, &mut head).unwrap();
    assert_eq!(enc.framing(), RequestFraming::Chunked);
    let mut wire = BytesMut::new();
    for piece in [&b"hello "[..], b"", b"chunked world"] {
        let mut chunk = enc.encode_data(Bytes::copy_from_slice(piece)).unwrap();
        wire.extend_from_slice(&chunk.copy_to_bytes(chunk.remaining()));
    }
    let mut last = enc.finish().unwrap();
    wire.extend_from_slice(&last.copy_to_bytes(last.remaining()));
    let mut dec = BodyDecoder::chunked(&Limits::default());
    let mut body = Vec::new();
    while let Decoded::Data(d) = dec.decode(&mut wire).unwrap() {
        body.extend_from_slice(&d);
    }
    assert_eq!(body, b"hello chunked world");
    assert!(dec.is_done());
}

// ---- RFC 9112 §6.3 rule 1: no body for HEAD, 1xx, 204, 304 ----

#[test]
fn head_response_has_no_body_whatever_its_headers_say() {
    let ctx = RequestContext {
        head_request: true,
        ..get()
    };
    let r = read(ctx, b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n").unwrap();
    assert!(r.body.is_empty() && r.keep_alive);
    let r = read(
        ctx,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    .unwrap();
    assert!(r.body.is_empty() && r.keep_alive);
}

#[test]
fn no_body_for_204_and_304() {
    for status in [204, 304] {
        let msg = format!("HTTP/1.1 {status} X\r\nContent-Length: 10\r\n\r\n");
        let r = read(get(), msg.as_bytes()).unwrap();
        assert_eq!((r.status, r.body.len(), r.keep_alive), (status, 0, true));
    }
}

#[test]
fn interim_responses_are_surfaced_then_the_final_one_read() {
    let msg = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let r = read(get(), msg).unwrap();
    assert_eq!(
        (r.interim, r.status, r.body),
        (vec![100, 103], 200, b"ok".to_vec())
    );
}

#[test]
fn interim_responses_are_bounded() {
    let limits = Limits {
        max_interim_responses: 3,
        ..Limits::default()
    };
    let msg = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(4);
    let err = read_with(get(), limits, &msg, msg.len()).unwrap_err();
    assert_eq!(
        err.kind(),
        Kind::RemoteProtocol(Malformed::TooManyInterimResponses)
    );
    let ok = [
        &b"HTTP/1.1 100 Continue\r\n\r\n".repeat(3)[..],
        b"HTTP/1.1 204 No\r\n\r\n",
    ]
    .concat();
    assert!(read_with(get(), limits, &ok, 7).is_ok());
}

#[test]
fn switching_protocols_hands_over_leftover_bytes() {
    let mut parser = ResponseParser::new(get(), Limits::default());
    let mut buf = BytesMut::from(
        &b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"[..],
    );
    let ParseStatus::Upgrade { head, leftover } = parser.parse(&mut buf).unwrap() else {
        panic!()
    };
    assert_eq!(head.status(), 101);
    assert_eq!(&leftover[..], b"\x81\x05hello");
    assert!(buf.is_empty());
}

#[test]
fn connect_2xx_is_a_tunnel() {
    let ctx = RequestContext {
        connect_request: true,
        ..get()
    };
    let mut parser = ResponseParser::new(ctx, Limits::default());
    let mut buf = BytesMut::from(&b"HTTP/1.1 200 Connection established\r\n\r\nTLS..."[..]);
    let ParseStatus::Upgrade { leftover, .. } = parser.parse(&mut buf).unwrap() else {
        panic!()
    };
    assert_eq!(&leftover[..], b"TLS...");
}

// ---- rules 3 and 4: Transfer-Encoding ----

#[test]
fn chunked_final_coding_is_chunked() {
    let msg = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n4\r\nabcd\r\n0\r\nX-T: 1\r\n\r\n";
    let r = read(get(), msg).unwrap();
    assert_eq!(r.body, b"abcd");
    assert_eq!(r.trailers.unwrap().get("x-t").unwrap().as_bytes(), b"1");
    assert!(r.keep_alive && !r.close_delimited);
}

#[test]
fn chunked_split_over_several_fields_is_still_final() {
    let msg = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    assert!(read(get(), msg).unwrap().keep_alive);
}

#[test]
fn non_chunked_final_coding_reads_until_close() {
    let msg = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nraw bytes";
    let r = read(get(), msg).unwrap();
    assert_eq!(r.body, b"raw bytes");
    assert!(r.close_delimited && !r.keep_alive);
}

#[test]
fn transfer_encoding_with_content_length_is_an_error() {
    let msg = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    assert_eq!(
        kind(read(get(), msg)),
        Kind::RemoteProtocol(Malformed::TransferEncodingWithContentLength)
    );
}

// ---- rules 5 and 6: Content-Length ----

#[test]
fn content_length_delimits_and_leaves_extra_bytes() {
    let r = read(
        get(),
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA",
    )
    .unwrap();
    assert_eq!((r.body, r.leftover), (b"hello".to_vec(), b"EXTRA".to_vec()));
}

#[test]
fn identical_repeated_content_lengths_are_one() {
    let r = read(
        get(),
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2, 2\r\n\r\nok",
    )
    .unwrap();
    assert_eq!(r.body, b"ok");
}

#[test]
fn different_content_lengths_are_an_error() {
    let msg = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc";
    assert_eq!(
        kind(read(get(), msg)),
        Kind::RemoteProtocol(Malformed::ConflictingContentLength)
    );
    let msg = b"HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nabc";
    assert_eq!(
        kind(read(get(), msg)),
        Kind::RemoteProtocol(Malformed::ConflictingContentLength)
    );
}

#[test]
fn invalid_content_lengths_are_an_error() {
    for value in ["-1", "abc", "1.5", "", "0x10", "99999999999999999999", "+5"] {
        let msg = format!("HTTP/1.1 200 OK\r\nContent-Length: {value}\r\n\r\n");
        assert_eq!(
            kind(read(get(), msg.as_bytes())),
            Kind::RemoteProtocol(Malformed::InvalidContentLength),
            "{value}"
        );
    }
}

#[test]
fn short_content_length_body_is_incomplete() {
    let err = read(get(), b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort").unwrap_err();
    assert_eq!(
        (err.kind(), err.phase()),
        (Kind::BodyIncomplete, Phase::ReadBody)
    );
}

// ---- rule 8: close-delimited ----

#[test]
fn no_framing_reads_until_close_and_is_not_reusable() {
    let r = read(get(), b"HTTP/1.1 200 OK\r\n\r\nuntil the end").unwrap();
    assert_eq!(r.body, b"until the end");
    assert!(r.close_delimited && !r.keep_alive);
}

// ---- keep-alive ----

#[test]
fn keep_alive_rules() {
    let cases: [(&[u8], bool, bool); 6] = [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, true),
        (
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            false,
            false,
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true, false),
        (
            b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
            false,
            false,
        ),
        (
            b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n",
            false,
            true,
        ),
        (
            b"HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n",
            false,
            false,
        ),
    ];
    for (msg, close_requested, expected) in cases {
        let ctx = RequestContext {
            close_requested,
            ..get()
        };
        assert_eq!(
            read(ctx, msg).unwrap().keep_alive,
            expected,
            "{}",
            String::from_utf8_lossy(msg)
        );
    }
}

// ---- chunked body errors ----

#[test]
fn chunked_errors_are_typed() {
    let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    let cases: [(&[u8], Kind); 5] = [
        (b"zz\r\n", Kind::RemoteProtocol(Malformed::ChunkSize)),
        (
            b"fffffffffffffffff\r\n",
            Kind::RemoteProtocol(Malformed::ChunkSizeOverflow),
        ),
        (
            b"2\r\nabc\r\n",
            Kind::RemoteProtocol(Malformed::ChunkDelimiter),
        ),
        (b"2\r\nab\r\n", Kind::BodyIncomplete),
        (
            b"0\r\nbad trailer\r\n\r\n",
            Kind::RemoteProtocol(Malformed::Trailers),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(
            kind(read(get(), &[&head[..], body].concat())),
            expected,
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn chunk_extensions_are_bounded() {
    let mut msg = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;".to_vec();
    msg.extend(std::iter::repeat_n(
        b'x',
        weir::http::MAX_CHUNK_EXTENSION_BYTES + 1,
    ));
    let err = read_with(get(), Limits::default(), &msg, 1000).unwrap_err();
    assert_eq!(
        err.kind(),
        Kind::RemoteProtocol(Malformed::ChunkExtensionTooLong)
    );
}

// ---- head errors and limits ----

#[test]
fn head_larger_than_the_limit_is_refused_without_waiting_for_more() {
    let mut msg = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
    msg.extend(std::iter::repeat_n(b'a', weir::http::MAX_HEAD_BYTES));
    let err = read_with(get(), Limits::default(), &msg, 4096).unwrap_err();
    assert_eq!(
        err.kind(),
        Kind::HeadTooLarge(HeadLimit::Bytes(weir::http::MAX_HEAD_BYTES))
    );
}

#[test]
fn more_than_max_headers_is_refused() {
    let mut msg = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..=weir::http::MAX_HEADERS {
        msg.extend_from_slice(format!("H{i}: v\r\n").as_bytes());
    }
    msg.extend_from_slice(b"\r\n");
    let err = read_with(get(), Limits::default(), &msg, msg.len()).unwrap_err();
    assert_eq!(
        err.kind(),
        Kind::HeadTooLarge(HeadLimit::Headers(weir::http::MAX_HEADERS))
    );
}

#[test]
fn malformed_heads_say_so() {
    for msg in [
        &b"HTTP/1.1 2000 OK\r\n\r\n"[..],
        b"HTTP/2.0 200 OK\r\n\r\n",
        b"garbage\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n",
    ] {
        let err = read_with(get(), Limits::default(), msg, msg.len()).unwrap_err();
        assert_eq!(
            err.kind(),
            Kind::RemoteProtocol(Malformed::Head),
            "{}",
            String::from_utf8_lossy(msg)
        );
        assert_eq!(err.phase(), Phase::ReadHead);
    }
}

#[test]
fn closes_before_and_during_the_head_are_told_apart() {
    let err = read_with(get(), Limits::default(), b"", 1).unwrap_err();
    assert_eq!(err.kind(), Kind::ClosedBeforeResponse);
    assert!(err.is_retry_safe());
    let err = read_with(get(), Limits::default(), b"HTTP/1.1 200", 5).unwrap_err();
    assert_eq!(err.kind(), Kind::ClosedMidResponse);
    assert!(!err.is_retry_safe());
    let err = read_with(
        get(),
        Limits::default(),
        b"HTTP/1.1 100 Continue\r\n\r\n",
        5,
    )
    .unwrap_err();
    assert_eq!(err.kind(), Kind::ClosedMidResponse);
}

#[test]
fn expect_continue_is_visible_to_the_connection() {
    let req = Request::post("http://h/")
        .header("Expect", "100-continue")
        .body("data")
        .build()
        .unwrap();
    let mut head = BytesMut::new();
    let enc = encode_head(&req, &mut head).unwrap();
    assert!(enc.expects_continue());
    let mut parser = ResponseParser::new(enc.context(), Limits::default());
    let mut buf = BytesMut::from(&b"HTTP/1.1 100 Continue\r\n\r\n"[..]);
    let ParseStatus::Interim(head) = parser.parse(&mut buf).unwrap() else {
        panic!()
    };
    assert_eq!(head.status(), 100);
}

// ---- helpers ----

fn tempfile() -> std::fs::File {
    let path = std::env::temp_dir().join(format!("weir-http-framing-{}", std::process::id()));
    std::fs::write(&path, b"abc").unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    file
}
