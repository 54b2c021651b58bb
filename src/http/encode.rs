//! The request encoder: head into a caller's `BytesMut`, body pieces as [`EncodedChunk`]s.
//!
//! Sans-IO: nothing here writes to a socket. The connection layer does, in this order:
//!
//! 1. `let mut enc = encode_head(&req, &mut head_buf)?;` — every byte of the head is in
//!    `head_buf`; any invalid request was refused before that (nothing written).
//! 2. For each body piece: `let chunk = enc.encode_data(piece)?;` then write
//!    `head_buf.chain(chunk)` (first piece) or `chunk` with `Buf::chunks_vectored`: one
//!    `writev` of up to 4 slices, the body's bytes never copied.
//! 3. `enc.finish()?` gives the closing piece (the chunked last-chunk; empty otherwise) and
//!    checks the announced length was met. `encode_final(piece)` does 2 and 3 in one.
//! 4. If [`RequestEncoder::expects_continue`], hold the body until the parser reports a 100
//!    (or a timer of the connection's choosing fires), then go on with 2.
//!
//! Framing choice (RFC 9112 §6.1–6.2, §7.1):
//! - a user `Transfer-Encoding` whose final coding is `chunked` → chunked;
//!   one that is not chunked-final, or one together with `Content-Length` → error;
//! - a user `Content-Length` → that length (it must equal the body's length if known);
//! - otherwise a body of known length → `Content-Length: n` (0 only for POST/PUT/PATCH with an
//!   empty body); a stream of unknown length → `Transfer-Encoding: chunked`.

use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};

use super::body::Body;
use super::header::HeaderMap;
use super::request::{Method, Request};
use super::url::{Origin, HTTP_DEFAULT_PORT};
use crate::error::{Error, Invalid};

/// The longest chunk-size line we write: 16 hex digits and CRLF.
const CHUNK_SIZE_LINE_MAX: usize = 18;

/// How the request body goes on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestFraming {
    /// No body at all.
    None,
    /// Exactly this many bytes (`Content-Length`).
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
}

/// What the response parser must know about the request it answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// The request was `HEAD`: the response has no body whatever its headers say.
    pub head_request: bool,
    /// The request was `CONNECT`: a 2xx response makes a tunnel.
    pub connect_request: bool,
    /// The request said `Connection: close`: the connection ends after this exchange.
    pub close_requested: bool,
    /// The request said `Expect: 100-continue` and has a body waiting for the 100.
    pub expects_continue: bool,
}

/// Encodes one request's body after [`encode_head`] wrote its head.
#[derive(Debug)]
pub struct RequestEncoder {
    /// How the body is framed.
    framing: RequestFraming,
    /// Bytes still owed under `Length` framing.
    remaining: u64,
    /// `finish` has run: no more data is accepted.
    finished: bool,
    /// What the response parser needs.
    context: RequestContext,
}

/// One body piece ready for a vectored write: chunk-size line, data, trailing CRLF (each may
/// be empty). Implements [`Buf`], so partial writes are handled with `advance`.
#[derive(Clone, Debug)]
pub struct EncodedChunk {
    /// The chunk-size line, in `prefix[prefix_start..prefix_end]`.
    prefix: [u8; CHUNK_SIZE_LINE_MAX],
    /// Start of the unwritten part of the chunk-size line.
    prefix_start: u8,
    /// End of the chunk-size line.
    prefix_end: u8,
    /// The body bytes, shared with the caller (never copied).
    data: Bytes,
    /// What follows the data: CRLF, the last-chunk, both, or nothing.
    suffix: &'static [u8],
}

/// Writes `req`'s head (request line, `Host` if absent, the user's headers, framing headers,
/// blank line) into `dst`, and returns the encoder for its body.
///
/// Nothing is written when the request is invalid.
///
/// # Examples
/// ```
/// use bytes::BytesMut;
/// use weir::http::{encode_head, Request, RequestFraming};
/// let req = Request::post("http://h.test/x").body("hi").build().unwrap();
/// let mut dst = BytesMut::new();
/// let enc = encode_head(&req, &mut dst).unwrap();
/// assert_eq!(&dst[..], b"POST /x HTTP/1.1\r\nHost: h.test\r\nContent-Length: 2\r\n\r\n");
/// assert_eq!(enc.framing(), RequestFraming::Length(2));
/// ```
pub fn encode_head(req: &Request, dst: &mut BytesMut) -> Result<RequestEncoder, Error> {
    let headers = req.headers();
    let framing = choose_framing(req.method(), headers, req.body())?;
    dst.reserve(estimate_head_len(req));
    write_request_line(req, dst);
    if !headers.contains("host") {
        write_host(req.url().origin(), dst);
    }
    for (name, value) in headers {
        write_field(dst, name.as_bytes(), value.as_bytes());
    }
    write_framing_headers(framing, headers, dst);
    dst.extend_from_slice(b"\r\n");
    Ok(RequestEncoder::new(framing, request_context(req, framing)))
}

/// Picks the body framing, refusing contradictory user headers.
fn choose_framing(
    method: &Method,
    headers: &HeaderMap,
    body: &Body,
) -> Result<RequestFraming, Error> {
    let user_te = headers.contains("transfer-encoding");
    let user_cl = user_content_length(headers)?;
    match (user_te, user_cl) {
        (true, Some(_)) => Err(Error::local(Invalid::Framing)),
        (true, None) if chunked_is_final(headers) => Ok(RequestFraming::Chunked),
        (true, None) => Err(Error::local(Invalid::Framing)),
        (false, Some(n)) if body.known_len().is_some_and(|len| len != n) => {
            Err(Error::local(Invalid::BodyLength))
        }
        (false, Some(n)) => Ok(RequestFraming::Length(n)),
        (false, None) => Ok(default_framing(method, body)),
    }
}

/// The framing we choose when the user chose none.
fn default_framing(method: &Method, body: &Body) -> RequestFraming {
    match body.known_len() {
        Some(0) if matches!(method, Method::Post | Method::Put | Method::Patch) => {
            RequestFraming::Length(0)
        }
        Some(0) => RequestFraming::None,
        Some(n) => RequestFraming::Length(n),
        None => RequestFraming::Chunked,
    }
}

/// The user's `Content-Length`, if given: every value must be the same decimal number.
fn user_content_length(headers: &HeaderMap) -> Result<Option<u64>, Error> {
    let mut found = None;
    for value in headers.get_all("content-length") {
        let n = parse_decimal(value.as_bytes()).ok_or_else(|| Error::local(Invalid::BodyLength))?;
        if found.is_some_and(|prev| prev != n) {
            return Err(Error::local(Invalid::Framing));
        }
        found = Some(n);
    }
    Ok(found)
}

/// Parses a non-empty run of ASCII digits (after trimming OWS) as u64; `None` on overflow.
pub(crate) fn parse_decimal(bytes: &[u8]) -> Option<u64> {
    let bytes = super::header::trim_ows(bytes);
    if bytes.is_empty() {
        return None;
    }
    bytes.iter().try_fold(0u64, |acc, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        acc.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// Whether the last coding of the (possibly several) `Transfer-Encoding` fields is `chunked`.
pub(crate) fn chunked_is_final(headers: &HeaderMap) -> bool {
    let last = headers
        .get_all("transfer-encoding")
        .flat_map(|v| v.list_items())
        .last();
    last.is_some_and(|coding| coding.eq_ignore_ascii_case(b"chunked"))
}

fn request_context(req: &Request, framing: RequestFraming) -> RequestContext {
    let headers = req.headers();
    RequestContext {
        head_request: *req.method() == Method::Head,
        connect_request: *req.method() == Method::Connect,
        close_requested: headers.contains_token("connection", "close"),
        expects_continue: framing != RequestFraming::None
            && framing != RequestFraming::Length(0)
            && headers.contains_token("expect", "100-continue"),
    }
}

/// A close upper bound of the head's size, so `dst` grows once.
fn estimate_head_len(req: &Request) -> usize {
    let fields: usize = req
        .headers()
        .iter()
        .map(|(n, v)| n.as_bytes().len() + v.as_bytes().len() + 4)
        .sum();
    // request line extras + Host + framing header + final CRLF
    req.method().as_str().len() + req.url().target().len() + fields + 128
}

fn write_request_line(req: &Request, dst: &mut BytesMut) {
    dst.extend_from_slice(req.method().as_str().as_bytes());
    dst.extend_from_slice(b" ");
    match req.method() {
        // RFC 9112 §3.2.3: CONNECT uses the authority-form `host:port`.
        Method::Connect => write_authority(req.url().origin(), dst, true),
        _ => dst.extend_from_slice(req.url().target().as_bytes()),
    }
    dst.extend_from_slice(b" HTTP/1.1\r\n");
}

fn write_host(origin: &Origin, dst: &mut BytesMut) {
    dst.extend_from_slice(b"Host: ");
    write_authority(origin, dst, false);
    dst.extend_from_slice(b"\r\n");
}

/// `host[:port]`, IPv6 bracketed; the port is omitted when it is 80 unless `always_port`.
fn write_authority(origin: &Origin, dst: &mut BytesMut, always_port: bool) {
    let Origin::Tcp { host, port } = origin else {
        dst.extend_from_slice(b"localhost");
        return;
    };
    let v6 = host.contains(':');
    if v6 {
        dst.extend_from_slice(b"[");
    }
    dst.extend_from_slice(host.as_bytes());
    if v6 {
        dst.extend_from_slice(b"]");
    }
    if always_port || *port != HTTP_DEFAULT_PORT {
        dst.extend_from_slice(b":");
        write_decimal(u64::from(*port), dst);
    }
}

fn write_field(dst: &mut BytesMut, name: &[u8], value: &[u8]) {
    dst.extend_from_slice(name);
    dst.extend_from_slice(b": ");
    dst.extend_from_slice(value);
    dst.extend_from_slice(b"\r\n");
}

/// Adds `Content-Length` or `Transfer-Encoding` unless the user gave one.
fn write_framing_headers(framing: RequestFraming, headers: &HeaderMap, dst: &mut BytesMut) {
    let user_framed = headers.contains("content-length") || headers.contains("transfer-encoding");
    match framing {
        _ if user_framed => {}
        RequestFraming::None => {}
        RequestFraming::Length(n) => {
            dst.extend_from_slice(b"Content-Length: ");
            write_decimal(n, dst);
            dst.extend_from_slice(b"\r\n");
        }
        RequestFraming::Chunked => dst.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
    }
}

/// Writes `n` in decimal without allocating.
fn write_decimal(mut n: u64, dst: &mut BytesMut) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    dst.extend_from_slice(&digits[at..]);
}

impl RequestEncoder {
    fn new(framing: RequestFraming, context: RequestContext) -> RequestEncoder {
        let remaining = match framing {
            RequestFraming::Length(n) => n,
            _ => 0,
        };
        RequestEncoder {
            framing,
            remaining,
            finished: false,
            context,
        }
    }

    /// How the body is framed.
    pub fn framing(&self) -> RequestFraming {
        self.framing
    }

    /// True when the body must wait for a `100 Continue` (or the connection's timer).
    pub fn expects_continue(&self) -> bool {
        self.context.expects_continue
    }

    /// What the response parser must know about this request.
    pub fn context(&self) -> RequestContext {
        self.context
    }

    /// True once the whole body (and the last-chunk) has been encoded.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Frames one body piece. An empty piece gives an empty chunk (never a last-chunk).
    ///
    /// More bytes than `Content-Length`, or data after `finish`, is [`Invalid::BodyLength`].
    pub fn encode_data(&mut self, data: Bytes) -> Result<EncodedChunk, Error> {
        self.frame(data, false)
    }

    /// Frames the last body piece and closes the body (one piece for a small body).
    pub fn encode_final(&mut self, data: Bytes) -> Result<EncodedChunk, Error> {
        self.frame(data, true)
    }

    /// Closes the body: the chunked last-chunk, or an empty piece. Under `Length` framing,
    /// fewer bytes than announced is [`Invalid::BodyLength`].
    pub fn finish(&mut self) -> Result<EncodedChunk, Error> {
        self.frame(Bytes::new(), true)
    }

    fn frame(&mut self, data: Bytes, last: bool) -> Result<EncodedChunk, Error> {
        if self.finished && (last || !data.is_empty()) {
            return Err(Error::local(Invalid::BodyLength).with_phase(crate::error::Phase::Write));
        }
        let chunk = match self.framing {
            RequestFraming::Chunked => EncodedChunk::chunked(data, last),
            _ => self.frame_length(data, last)?,
        };
        self.finished |= last;
        Ok(chunk)
    }

    fn frame_length(&mut self, data: Bytes, last: bool) -> Result<EncodedChunk, Error> {
        let len = data.len() as u64;
        let too_long = len > self.remaining;
        let too_short = last && len != self.remaining;
        if too_long || too_short {
            return Err(Error::local(Invalid::BodyLength).with_phase(crate::error::Phase::Write));
        }
        self.remaining -= len;
        Ok(EncodedChunk::raw(data))
    }
}

impl EncodedChunk {
    /// Data sent as is (`Content-Length` framing).
    fn raw(data: Bytes) -> EncodedChunk {
        let prefix = [0; CHUNK_SIZE_LINE_MAX];
        EncodedChunk {
            prefix,
            prefix_start: 0,
            prefix_end: 0,
            data,
            suffix: b"",
        }
    }

    /// `size CRLF data CRLF`, then the last-chunk `0 CRLF CRLF` when `last`.
    fn chunked(data: Bytes, last: bool) -> EncodedChunk {
        let mut chunk = EncodedChunk::raw(data);
        let suffix: &'static [u8] = match (chunk.data.is_empty(), last) {
            (true, false) => b"",
            (true, true) => b"0\r\n\r\n",
            (false, false) => b"\r\n",
            (false, true) => b"\r\n0\r\n\r\n",
        };
        if !chunk.data.is_empty() {
            chunk.prefix_end = write_chunk_size(chunk.data.len() as u64, &mut chunk.prefix);
        }
        chunk.suffix = suffix;
        chunk
    }

    /// The body bytes of this piece (without framing).
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    fn prefix(&self) -> &[u8] {
        &self.prefix[usize::from(self.prefix_start)..usize::from(self.prefix_end)]
    }
}

/// Writes `n` as uppercase-free hex plus CRLF into `out`; returns the length written.
fn write_chunk_size(n: u64, out: &mut [u8; CHUNK_SIZE_LINE_MAX]) -> u8 {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digits = (16 - n.leading_zeros() as usize / 4).max(1);
    for (i, slot) in out[..digits].iter_mut().enumerate() {
        let shift = 4 * (digits - 1 - i);
        *slot = HEX[((n >> shift) & 0xf) as usize];
    }
    out[digits..digits + 2].copy_from_slice(b"\r\n");
    (digits + 2) as u8
}

impl Buf for EncodedChunk {
    fn remaining(&self) -> usize {
        self.prefix().len() + self.data.len() + self.suffix.len()
    }

    fn chunk(&self) -> &[u8] {
        [self.prefix(), &self.data[..], self.suffix]
            .into_iter()
            .find(|s| !s.is_empty())
            .unwrap_or(b"")
    }

    fn advance(&mut self, mut cnt: usize) {
        let from_prefix = cnt.min(self.prefix().len());
        self.prefix_start += from_prefix as u8;
        cnt -= from_prefix;
        let from_data = cnt.min(self.data.len());
        self.data.advance(from_data);
        cnt -= from_data;
        let from_suffix = cnt.min(self.suffix.len());
        self.suffix = &self.suffix[from_suffix..];
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let parts = [self.prefix(), &self.data[..], self.suffix];
        let mut n = 0;
        for part in parts.into_iter().filter(|p| !p.is_empty()) {
            let Some(slot) = dst.get_mut(n) else { break };
            *slot = IoSlice::new(part);
            n += 1;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;
    use crate::http::body::tests::EmptyStream;

    fn head(req: &Request) -> (String, RequestEncoder) {
        let mut dst = BytesMut::new();
        let enc = encode_head(req, &mut dst).unwrap();
        (String::from_utf8(dst.to_vec()).unwrap(), enc)
    }

    fn all(mut chunk: EncodedChunk) -> Vec<u8> {
        chunk.copy_to_bytes(chunk.remaining()).to_vec()
    }

    #[test]
    fn get_has_host_and_no_framing_headers() {
        let req = Request::get("http://[::1]:8080/a?b")
            .header("X-Id", "7")
            .build()
            .unwrap();
        let (text, enc) = head(&req);
        assert_eq!(
            text,
            "GET /a?b HTTP/1.1\r\nHost: [::1]:8080\r\nX-Id: 7\r\n\r\n"
        );
        assert_eq!(enc.framing(), RequestFraming::None);
    }

    #[test]
    fn user_host_is_kept_with_its_case() {
        let req = Request::get("http://h/")
            .header("HOST", "other")
            .build()
            .unwrap();
        assert_eq!(head(&req).0, "GET / HTTP/1.1\r\nHOST: other\r\n\r\n");
    }

    #[test]
    fn empty_post_sends_zero_length() {
        let req = Request::post("http://h/").build().unwrap();
        assert!(head(&req).0.contains("Content-Length: 0\r\n"));
    }

    #[test]
    fn unknown_length_stream_is_chunked() {
        let body = Body::stream(EmptyStream);
        let req = Request::post("http://h/").body(body).build().unwrap();
        let (text, mut enc) = head(&req);
        assert!(text.ends_with("Transfer-Encoding: chunked\r\n\r\n"));
        assert_eq!(
            all(enc
                .encode_data(Bytes::from_static(b"hello world, 17b"))
                .unwrap()),
            b"10\r\nhello world, 17b\r\n"
        );
        assert!(all(enc.encode_data(Bytes::new()).unwrap()).is_empty());
        assert_eq!(
            all(enc.encode_final(Bytes::from_static(b"x")).unwrap()),
            b"1\r\nx\r\n0\r\n\r\n"
        );
        assert!(enc.is_finished());
        assert!(enc.encode_data(Bytes::from_static(b"late")).is_err());
    }

    #[test]
    fn length_framing_checks_the_count() {
        let req = Request::put("http://h/").body("abc").build().unwrap();
        let (_, mut enc) = head(&req);
        assert_eq!(
            enc.encode_data(Bytes::from_static(b"ab"))
                .unwrap()
                .remaining(),
            2
        );
        let err = enc.encode_data(Bytes::from_static(b"cd")).unwrap_err();
        assert_eq!(err.kind(), Kind::LocalProtocol(Invalid::BodyLength));
        assert!(enc.finish().is_err(), "one byte still owed");
        assert_eq!(
            all(enc.encode_final(Bytes::from_static(b"c")).unwrap()),
            b"c"
        );
    }

    #[test]
    fn contradictory_user_framing_is_refused_before_writing() {
        let req = Request::post("http://h/")
            .header("Content-Length", "3")
            .header("Transfer-Encoding", "chunked")
            .build()
            .unwrap();
        let mut dst = BytesMut::new();
        assert_eq!(
            encode_head(&req, &mut dst).unwrap_err().kind(),
            Kind::LocalProtocol(Invalid::Framing)
        );
        assert!(dst.is_empty());
        let req = Request::post("http://h/")
            .header("Content-Length", "9")
            .body("abc")
            .build()
            .unwrap();
        assert_eq!(
            encode_head(&req, &mut dst).unwrap_err().kind(),
            Kind::LocalProtocol(Invalid::BodyLength)
        );
        let req = Request::post("http://h/")
            .header("Transfer-Encoding", "chunked, gzip")
            .build()
            .unwrap();
        assert!(encode_head(&req, &mut dst).is_err());
        assert!(dst.is_empty());
    }

    #[test]
    fn expect_continue_and_close_reach_the_context() {
        let req = Request::post("http://h/")
            .header("Expect", "100-continue")
            .header("Connection", "close")
            .body("x")
            .build()
            .unwrap();
        let ctx = head(&req).1.context();
        assert!(ctx.expects_continue && ctx.close_requested && !ctx.head_request);
        let req = Request::head("http://h/")
            .header("Expect", "100-continue")
            .build()
            .unwrap();
        let ctx = head(&req).1.context();
        assert!(!ctx.expects_continue && ctx.head_request);
    }

    #[test]
    fn connect_uses_authority_form() {
        let req = Request::builder(Method::Connect, "http://h.test/")
            .build()
            .unwrap();
        assert!(head(&req).0.starts_with("CONNECT h.test:80 HTTP/1.1\r\n"));
    }

    #[test]
    fn head_and_body_form_one_vectored_write() {
        let req = Request::post("http://h/").body("hi").build().unwrap();
        let mut dst = BytesMut::new();
        let mut enc = encode_head(&req, &mut dst).unwrap();
        let out = dst
            .freeze()
            .chain(enc.encode_final(Bytes::from_static(b"hi")).unwrap());
        let mut slices = [IoSlice::new(&[]); 4];
        assert_eq!(out.chunks_vectored(&mut slices), 2);
    }

    #[test]
    fn partial_writes_advance_across_pieces() {
        let mut chunk = EncodedChunk::chunked(Bytes::from_static(b"abc"), true);
        let mut seen = Vec::new();
        while chunk.has_remaining() {
            seen.push(chunk.chunk()[0]);
            chunk.advance(1);
        }
        assert_eq!(seen, b"3\r\nabc\r\n0\r\n\r\n");
    }

    #[test]
    fn chunk_sizes_are_hex() {
        let mut out = [0; CHUNK_SIZE_LINE_MAX];
        for (n, text) in [
            (1u64, "1\r\n"),
            (255, "ff\r\n"),
            (4096, "1000\r\n"),
            (u64::MAX, "ffffffffffffffff\r\n"),
        ] {
            let len = write_chunk_size(n, &mut out);
            assert_eq!(&out[..usize::from(len)], text.as_bytes());
        }
    }

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal(b" 42 "), Some(42));
        assert_eq!(parse_decimal(b"18446744073709551616"), None);
        assert_eq!(parse_decimal(b"-1"), None);
        assert_eq!(parse_decimal(b""), None);
        let mut dst = BytesMut::new();
        write_decimal(u64::MAX, &mut dst);
        assert_eq!(&dst[..], b"18446744073709551615");
    }
}
