//! The response head parser (httparse underneath) and the response framing rules.
//!
//! Sans-IO contract: the connection appends what it reads to one `BytesMut` and calls
//! [`ResponseParser::parse`] with it after every read. The parser either leaves the buffer
//! alone and says [`ParseStatus::Partial`] (read more), or splits the head off the front of the
//! buffer (no copy: header values are slices of it) and returns it with the body's
//! [`BodyDecoder`] and the keep-alive verdict. What stays in the buffer is body bytes.
//! On end of stream before a head, [`ResponseParser::eof_error`] says which close it was.
//!
//! # Invariants
//! - The parser never asks for more than [`Limits::max_head_bytes`] buffered bytes: past that
//!   it fails with [`Kind::HeadTooLarge`]. It keeps no buffer of its own.
//! - Re-scanning is incremental: each call looks only at bytes it has not looked at before
//!   (plus 2), so a head arriving one byte per read costs O(n), not O(n²).
//! - Any error means the connection is dirty: close it.

use std::mem::MaybeUninit;

use bytes::{Buf, Bytes, BytesMut};

use super::decode::BodyDecoder;
use super::encode::{chunked_is_final, parse_decimal, RequestContext};
use super::header::{HeaderMap, HeaderName, HeaderValue};
use super::response::{ResponseHead, Version};
use crate::error::{Error, HeadLimit, Kind, Malformed, Phase};

/// Default largest response head (status line, fields, blank line): 64 KiB.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Default most header fields in a response head (and in a trailer section).
pub const MAX_HEADERS: usize = 100;
/// Default most 1xx interim responses before the final one.
pub const MAX_INTERIM_RESPONSES: usize = 16;
/// Default longest chunk extension on one chunk-size line.
pub const MAX_CHUNK_EXTENSION_BYTES: usize = 4 * 1024;
/// Default largest trailer section of a chunked body.
pub const MAX_TRAILER_BYTES: usize = 16 * 1024;

/// The limits that keep a hostile server from making us buffer or loop without bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest response head, in bytes.
    pub max_head_bytes: usize,
    /// Most header fields in a head or trailer section.
    pub max_headers: usize,
    /// Most 1xx interim responses before the final response.
    pub max_interim_responses: usize,
    /// Longest chunk extension on one chunk-size line, in bytes.
    pub max_chunk_extension_bytes: usize,
    /// Largest trailer section, in bytes.
    pub max_trailer_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_head_bytes: MAX_HEAD_BYTES,
            max_headers: MAX_HEADERS,
            max_interim_responses: MAX_INTERIM_RESPONSES,
            max_chunk_extension_bytes: MAX_CHUNK_EXTENSION_BYTES,
            max_trailer_bytes: MAX_TRAILER_BYTES,
        }
    }
}

/// What one call to [`ResponseParser::parse`] found.
#[derive(Debug)]
pub enum ParseStatus {
    /// No complete head yet: read more and call again (the buffer was left as it was).
    Partial,
    /// A 1xx interim response (not 101), consumed from the buffer. A `100` releases a body held
    /// for `Expect: 100-continue`. Call `parse` again for the final response.
    Interim(ResponseHead),
    /// The final response head, consumed from the buffer.
    Complete(ParsedResponse),
    /// 101 Switching Protocols (or a 2xx to CONNECT): HTTP ends here. `leftover` holds the bytes
    /// already read past the head (the buffer is left empty): they belong to the new protocol.
    Upgrade {
        /// The 101 (or 2xx) head.
        head: ResponseHead,
        /// Bytes after the head, already read from the stream.
        leftover: Bytes,
    },
}

/// A final response head with what the connection needs to read its body.
#[derive(Debug)]
pub struct ParsedResponse {
    /// Status line and header fields.
    pub head: ResponseHead,
    /// How the body is delimited.
    pub decoder: BodyDecoder,
    /// True when, once the body is fully read, the connection may be reused
    /// (see [`keep_alive`]).
    pub keep_alive: bool,
    /// How many bytes the head took in the buffer.
    pub head_len: usize,
}

/// Parses the responses to one request: any interim responses, then the final one.
#[derive(Debug)]
pub struct ResponseParser {
    /// What we asked (HEAD? CONNECT? Connection: close?).
    context: RequestContext,
    /// Configured bounds.
    limits: Limits,
    /// Interim responses seen so far.
    interim_seen: usize,
    /// Bytes of the buffer already searched for the end of the head.
    scanned: usize,
    /// Some bytes of a response (interim included) have been consumed.
    received_any: bool,
}

/// The body framing the head announces, before it becomes a decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    CloseDelimited,
    Tunnel,
}

impl ResponseParser {
    /// A parser for the response to a request described by `context`.
    pub fn new(context: RequestContext, limits: Limits) -> ResponseParser {
        ResponseParser {
            context,
            limits,
            interim_seen: 0,
            scanned: 0,
            received_any: false,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Parses from the front of `buf`; see the module doc for the contract.
    ///
    /// # Examples
    /// ```
    /// use bytes::BytesMut;
    /// use weir::http::{Limits, ParseStatus, RequestContext, ResponseParser};
    /// let mut parser = ResponseParser::new(RequestContext::default(), Limits::default());
    /// let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Le"[..]);
    /// assert!(matches!(parser.parse(&mut buf).unwrap(), ParseStatus::Partial));
    /// buf.extend_from_slice(b"ngth: 2\r\n\r\nhi");
    /// let ParseStatus::Complete(resp) = parser.parse(&mut buf).unwrap() else { panic!() };
    /// assert_eq!(resp.head.status(), 200);
    /// assert!(resp.keep_alive);
    /// assert_eq!(&buf[..], b"hi");
    /// ```
    pub fn parse(&mut self, buf: &mut BytesMut) -> Result<ParseStatus, Error> {
        self.skip_leading_empty_lines(buf);
        let Some(end) = self.find_head_end(buf)? else {
            return Ok(ParseStatus::Partial);
        };
        self.scanned = 0;
        self.received_any = true;
        let head = buf.split_to(end).freeze();
        let parsed = parse_head(&head, &self.limits)?;
        self.classify(parsed, end, buf)
    }

    /// The error for an end of stream before a complete head: [`Kind::ClosedBeforeResponse`]
    /// when no byte of a response arrived (`buf` empty, nothing consumed), else
    /// [`Kind::ClosedMidResponse`].
    pub fn eof_error(&self, buf: &BytesMut) -> Error {
        let kind = match self.received_any || !buf.is_empty() {
            true => Kind::ClosedMidResponse,
            false => Kind::ClosedBeforeResponse,
        };
        Error::new(kind, Phase::ReadHead)
    }

    /// Blank lines before a status line are ignored (RFC 9112 §2.2): some servers send an
    /// extra CRLF after a body.
    fn skip_leading_empty_lines(&mut self, buf: &mut BytesMut) {
        while let Some(n) = match &buf[..] {
            [b'\r', b'\n', ..] => Some(2),
            [b'\n', ..] => Some(1),
            _ => None,
        } {
            buf.advance(n);
            self.scanned = 0;
        }
    }

    /// The length of the head (up to and including its blank line), once it is all in `buf`.
    fn find_head_end(&mut self, buf: &BytesMut) -> Result<Option<usize>, Error> {
        let limit = self.limits.max_head_bytes;
        let window = &buf[..buf.len().min(limit)];
        let from = self.scanned.saturating_sub(2);
        let found = find_blank_line(window, from);
        self.scanned = window.len();
        match found {
            Some(end) => Ok(Some(end)),
            None if buf.len() >= limit => Err(head_too_large(HeadLimit::Bytes(limit))),
            None => Ok(None),
        }
    }

    /// Interim, upgrade or final: applies the framing rules to a parsed head.
    fn classify(
        &mut self,
        head: ResponseHead,
        head_len: usize,
        buf: &mut BytesMut,
    ) -> Result<ParseStatus, Error> {
        let status = head.status();
        if status == 101 {
            return Ok(ParseStatus::Upgrade {
                head,
                leftover: buf.split().freeze(),
            });
        }
        if head.is_informational() {
            return self.interim(head);
        }
        let framing = response_framing(&self.context, &head)?;
        if framing == Framing::Tunnel {
            return Ok(ParseStatus::Upgrade {
                head,
                leftover: buf.split().freeze(),
            });
        }
        let reusable = framing != Framing::CloseDelimited;
        let keep_alive = reusable && keep_alive(&self.context, &head);
        let decoder = match framing {
            Framing::Empty | Framing::Tunnel => BodyDecoder::empty(),
            Framing::Length(n) => BodyDecoder::length(n),
            Framing::Chunked => BodyDecoder::chunked(&self.limits),
            Framing::CloseDelimited => BodyDecoder::close_delimited(),
        };
        Ok(ParseStatus::Complete(ParsedResponse {
            head,
            decoder,
            keep_alive,
            head_len,
        }))
    }

    fn interim(&mut self, head: ResponseHead) -> Result<ParseStatus, Error> {
        self.interim_seen += 1;
        match self.interim_seen > self.limits.max_interim_responses {
            true => Err(Error::remote(
                Malformed::TooManyInterimResponses,
                Phase::ReadHead,
            )),
            false => Ok(ParseStatus::Interim(head)),
        }
    }
}

fn head_too_large(limit: HeadLimit) -> Error {
    Error::new(Kind::HeadTooLarge(limit), Phase::ReadHead)
}

/// The index just past the first empty line (`\n\r\n` or `\n\n`) at or after `from`.
fn find_blank_line(buf: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(offset) = buf.get(at..)?.iter().position(|&b| b == b'\n') {
        let nl = at + offset;
        match buf.get(nl + 1..nl + 3) {
            Some([b'\n', _]) => return Some(nl + 2),
            Some([b'\r', b'\n']) => return Some(nl + 3),
            None if buf.get(nl + 1) == Some(&b'\n') => return Some(nl + 2),
            _ => at = nl + 1,
        }
    }
    None
}

/// Runs httparse over a complete head (`head` ends with its blank line).
fn parse_head(head: &Bytes, limits: &Limits) -> Result<ResponseHead, Error> {
    let mut stack = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut heap;
    let slots: &mut [MaybeUninit<httparse::Header<'_>>] = match limits.max_headers <= MAX_HEADERS {
        true => &mut stack[..limits.max_headers],
        false => {
            heap = vec![MaybeUninit::uninit(); limits.max_headers];
            &mut heap
        }
    };
    let mut response = httparse::Response::new(&mut []);
    let config = httparse::ParserConfig::default();
    match config.parse_response_with_uninit_headers(&mut response, head, slots) {
        Ok(httparse::Status::Complete(n)) if n == head.len() => head_from(head, &response),
        Ok(_) => Err(malformed_head(None)),
        Err(httparse::Error::TooManyHeaders) => {
            Err(head_too_large(HeadLimit::Headers(limits.max_headers)))
        }
        Err(err) => Err(malformed_head(Some(err))),
    }
}

fn malformed_head(source: Option<httparse::Error>) -> Error {
    let err = Error::remote(Malformed::Head, Phase::ReadHead);
    match source {
        Some(source) => err.with_source(source),
        None => err,
    }
}

fn head_from(head: &Bytes, response: &httparse::Response<'_, '_>) -> Result<ResponseHead, Error> {
    let version = match response.version {
        Some(0) => Version::Http10,
        Some(1) => Version::Http11,
        _ => return Err(malformed_head(None)),
    };
    let status = response.code.ok_or_else(|| malformed_head(None))?;
    let reason = share(head, response.reason.unwrap_or("").as_bytes());
    Ok(ResponseHead::new(
        version,
        status,
        reason,
        header_map_from(head, response.headers),
    ))
}

/// A map whose names and values are slices of `base` (which the fields point into).
pub(crate) fn header_map_from(base: &Bytes, fields: &[httparse::Header<'_>]) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(fields.len());
    for field in fields {
        let name = HeaderName::from_parsed(share(base, field.name.as_bytes()));
        map.append(name, HeaderValue::from_parsed(share(base, field.value)));
    }
    map
}

/// `part` as a slice of `base` without copying; copies if `part` is not inside `base`
/// (never expected, but never a panic either).
fn share(base: &Bytes, part: &[u8]) -> Bytes {
    let start = (part.as_ptr() as usize).checked_sub(base.as_ptr() as usize);
    match start {
        Some(start) if start + part.len() <= base.len() && !part.is_empty() => {
            base.slice(start..start + part.len())
        }
        _ => Bytes::copy_from_slice(part),
    }
}

/// Response framing, RFC 9112 §6.3 — the rules in the RFC's order; the first that applies wins.
fn response_framing(ctx: &RequestContext, head: &ResponseHead) -> Result<Framing, Error> {
    let status = head.status();
    let headers = head.headers();
    // 1. A response to HEAD, and any 1xx, 204 or 304 response, ends at the blank line: no body.
    if ctx.head_request || head.is_informational() || status == 204 || status == 304 {
        return Ok(Framing::Empty);
    }
    // 2. A 2xx response to CONNECT: the connection becomes a tunnel right after the head.
    if ctx.connect_request && (200..300).contains(&status) {
        return Ok(Framing::Tunnel);
    }
    let has_te = headers.contains("transfer-encoding");
    let has_cl = headers.contains("content-length");
    // 3. Transfer-Encoding together with Content-Length: a smuggling vector. We refuse the
    //    message and the connection is never reused (any error closes it).
    if has_te && has_cl {
        return Err(Error::remote(
            Malformed::TransferEncodingWithContentLength,
            Phase::ReadHead,
        ));
    }
    // 4. Transfer-Encoding with chunked as the final coding: chunked. Any other final coding
    //    in a response: read until the server closes.
    if has_te {
        return Ok(match chunked_is_final(headers) {
            true => Framing::Chunked,
            false => Framing::CloseDelimited,
        });
    }
    // 5. An invalid Content-Length, or several different values: unrecoverable error.
    // 6. A valid Content-Length: exactly that many bytes.
    if has_cl {
        return content_length(headers).map(Framing::Length);
    }
    // 7. (Requests only: no body.)  8. Otherwise a response is delimited by close.
    Ok(Framing::CloseDelimited)
}

/// The single `Content-Length` value; repeated identical values (also as a list) are one.
fn content_length(headers: &HeaderMap) -> Result<u64, Error> {
    let mut found: Option<u64> = None;
    for item in headers
        .get_all("content-length")
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
    {
        let n = parse_decimal(item)
            .ok_or_else(|| Error::remote(Malformed::InvalidContentLength, Phase::ReadHead))?;
        if found.is_some_and(|prev| prev != n) {
            return Err(Error::remote(
                Malformed::ConflictingContentLength,
                Phase::ReadHead,
            ));
        }
        found = Some(n);
    }
    found.ok_or_else(|| Error::remote(Malformed::InvalidContentLength, Phase::ReadHead))
}

/// Whether the connection may carry another request once this response's body is read
/// (RFC 9112 §9.3): not if either side said `Connection: close`; HTTP/1.1 persists by default;
/// HTTP/1.0 only with `Connection: keep-alive`. (Body framing is checked by the caller: a
/// close-delimited body is never reusable.)
pub fn keep_alive(ctx: &RequestContext, head: &ResponseHead) -> bool {
    let headers = head.headers();
    if ctx.close_requested || headers.contains_token("connection", "close") {
        return false;
    }
    match head.version() {
        Version::Http11 => true,
        Version::Http10 => headers.contains_token("connection", "keep-alive"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser() -> ResponseParser {
        ResponseParser::new(RequestContext::default(), Limits::default())
    }

    fn complete(input: &[u8]) -> (ParsedResponse, BytesMut) {
        let mut buf = BytesMut::from(input);
        match parser().parse(&mut buf).unwrap() {
            ParseStatus::Complete(resp) => (resp, buf),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn partial_until_the_blank_line_at_every_split() {
        let msg = b"HTTP/1.1 200 OK\r\nA: 1\r\nContent-Length: 0\r\n\r\n";
        let mut p = parser();
        let mut buf = BytesMut::new();
        for (i, b) in msg.iter().enumerate() {
            buf.extend_from_slice(&[*b]);
            let status = p.parse(&mut buf).unwrap();
            assert_eq!(
                matches!(status, ParseStatus::Complete(_)),
                i == msg.len() - 1,
                "at {i}"
            );
        }
    }

    #[test]
    fn header_values_share_the_read_buffer() {
        let (resp, _) = complete(b"HTTP/1.1 200 OK\r\nX-Name: value\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(
            resp.head.headers().get("x-name").unwrap().as_bytes(),
            b"value"
        );
        assert_eq!(resp.head.reason(), "OK");
        assert_eq!(resp.head_len, 53);
    }

    #[test]
    fn bare_lf_heads_parse() {
        let (resp, buf) = complete(b"HTTP/1.1 204 No Content\nA: b\n\nrest");
        assert_eq!(resp.head.status(), 204);
        assert_eq!(&buf[..], b"rest");
    }

    #[test]
    fn leading_blank_lines_are_skipped() {
        let (resp, _) = complete(b"\r\n\nHTTP/1.1 204 No Content\r\n\r\n");
        assert_eq!(resp.head.status(), 204);
    }

    #[test]
    fn blank_line_search() {
        assert_eq!(find_blank_line(b"a\r\n\r\n", 0), Some(5));
        assert_eq!(find_blank_line(b"a\n\n", 0), Some(3));
        assert_eq!(find_blank_line(b"a\r\n\r", 0), None);
        assert_eq!(find_blank_line(b"a\r\nb\r\n", 0), None);
    }

    #[test]
    fn eof_errors_tell_before_from_mid() {
        let p = parser();
        assert_eq!(
            p.eof_error(&BytesMut::new()).kind(),
            Kind::ClosedBeforeResponse
        );
        assert_eq!(
            p.eof_error(&BytesMut::from(&b"HTTP/1."[..])).kind(),
            Kind::ClosedMidResponse
        );
    }

    #[test]
    fn too_many_headers() {
        let limits = Limits {
            max_headers: 2,
            ..Limits::default()
        };
        let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"[..]);
        let err = ResponseParser::new(RequestContext::default(), limits)
            .parse(&mut buf)
            .unwrap_err();
        assert_eq!(err.kind(), Kind::HeadTooLarge(HeadLimit::Headers(2)));
    }

    #[test]
    fn more_headers_than_the_stack_array() {
        let limits = Limits {
            max_headers: 150,
            ..Limits::default()
        };
        let mut msg = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..120 {
            msg.extend_from_slice(format!("H{i}: {i}\r\n").as_bytes());
        }
        msg.extend_from_slice(b"Content-Length: 0\r\n\r\n");
        let mut buf = BytesMut::from(&msg[..]);
        let ParseStatus::Complete(resp) = ResponseParser::new(RequestContext::default(), limits)
            .parse(&mut buf)
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(resp.head.headers().len(), 121);
    }
}
