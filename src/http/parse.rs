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
use super::encode::{parse_decimal, RequestContext};
use super::header::{trim_ows, Field, HeaderMap};
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
        let limit = self.limits.max_head_bytes;
        if !self.worth_parsing(buf) && buf.len() < limit {
            return Ok(ParseStatus::Partial);
        }
        let window = &buf[..buf.len().min(limit)];
        let Some(raw) = parse_in_place(window, &self.limits)? else {
            self.scanned = window.len();
            return match buf.len() >= limit {
                true => Err(head_too_large(HeadLimit::Bytes(limit))),
                false => Ok(ParseStatus::Partial),
            };
        };
        self.scanned = 0;
        self.received_any = true;
        let head_len = raw.len;
        let base = buf.split_to(head_len).freeze();
        let reason = base.slice(raw.reason.0 as usize..(raw.reason.0 + raw.reason.1) as usize);
        let headers = HeaderMap::from_parsed(base, raw.fields);
        let head = ResponseHead::new(raw.version, raw.status, reason, headers);
        self.classify(head, &raw.summary, head_len, buf)
    }

    /// The error for an end of stream before a complete head: [`Kind::ClosedBeforeResponse`]
    /// when no byte of a response arrived (`buf` empty, nothing consumed), else
    /// [`Kind::ClosedMidResponse`].
    pub fn eof_error(&self, buf: &BytesMut) -> Error {
        // What httparse makes of the bytes left decides, so the verdict does not depend on
        // how the bytes were split into reads (parse only runs httparse at a blank line).
        let window = &buf[..buf.len().min(self.limits.max_head_bytes)];
        if let (false, Err(err)) = (window.is_empty(), parse_in_place(window, &self.limits)) {
            return err;
        }
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

    /// Whether httparse should run: always on fresh bytes (usually the whole head arrives in
    /// one read), afterwards only once a blank line shows up in bytes not searched before.
    /// (At the size limit and at end of stream httparse runs regardless, to tell a malformed
    /// head from a large or cut one.)
    fn worth_parsing(&mut self, buf: &BytesMut) -> bool {
        if self.scanned == 0 {
            return true;
        }
        let window = &buf[..buf.len().min(self.limits.max_head_bytes)];
        let found = find_blank_line(window, self.scanned.saturating_sub(2)).is_some();
        self.scanned = window.len().max(1);
        found
    }

    /// Interim, upgrade or final: applies the framing rules to a parsed head.
    fn classify(
        &mut self,
        head: ResponseHead,
        summary: &FramingFields,
        head_len: usize,
        buf: &mut BytesMut,
    ) -> Result<ParseStatus, Error> {
        if head.status() == 101 {
            return Ok(upgrade(head, buf));
        }
        if head.is_informational() {
            return self.interim(head);
        }
        let framing = response_framing(&self.context, &head, summary)?;
        let decoder = match framing {
            Framing::Tunnel => return Ok(upgrade(head, buf)),
            Framing::Empty => BodyDecoder::empty(),
            Framing::Length(n) => BodyDecoder::length(n),
            Framing::Chunked => BodyDecoder::chunked(&self.limits),
            Framing::CloseDelimited => BodyDecoder::close_delimited(),
        };
        let reusable = framing != Framing::CloseDelimited;
        let keep_alive = reusable && keep_alive_from(&self.context, head.version(), summary);
        let parsed = ParsedResponse {
            head,
            decoder,
            keep_alive,
            head_len,
        };
        Ok(ParseStatus::Complete(parsed))
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

/// The end of HTTP on this connection: the rest of the buffer belongs to the new protocol.
fn upgrade(head: ResponseHead, buf: &mut BytesMut) -> ParseStatus {
    ParseStatus::Upgrade {
        head,
        leftover: buf.split().freeze(),
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

/// A head httparse found complete in the buffer, as ranges of it (before it is split off).
struct RawHead {
    /// Bytes of the head, blank line included.
    len: usize,
    /// The version.
    version: Version,
    /// The status code.
    status: u16,
    /// The reason phrase, as (start, len).
    reason: (u32, u32),
    /// The fields, as ranges of the head.
    fields: Vec<Field>,
    /// What the framing rules need, gathered in the same pass.
    summary: FramingFields,
}

/// Runs httparse over the buffer; `None` when the head is not complete yet.
fn parse_in_place(buf: &[u8], limits: &Limits) -> Result<Option<RawHead>, Error> {
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
    match config.parse_response_with_uninit_headers(&mut response, buf, slots) {
        Ok(httparse::Status::Partial) => Ok(None),
        Ok(httparse::Status::Complete(n)) if n > limits.max_head_bytes => {
            Err(head_too_large(HeadLimit::Bytes(limits.max_head_bytes)))
        }
        Ok(httparse::Status::Complete(len)) => raw_head(buf, len, &response).map(Some),
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

fn raw_head(
    buf: &[u8],
    len: usize,
    response: &httparse::Response<'_, '_>,
) -> Result<RawHead, Error> {
    let version = match response.version {
        Some(0) => Version::Http10,
        Some(1) => Version::Http11,
        _ => return Err(malformed_head(None)),
    };
    let status = response.code.ok_or_else(|| malformed_head(None))?;
    let reason = span(&buf[..len], response.reason.unwrap_or("").as_bytes());
    let reason = reason.ok_or_else(|| malformed_head(None))?;
    if u32::try_from(len).is_err() {
        return Err(head_too_large(HeadLimit::Bytes(u32::MAX as usize)));
    }
    let base = &buf[..len];
    let mut summary = FramingFields::default();
    let mut fields = Vec::with_capacity(response.headers.len());
    for field in response.headers.iter() {
        let (name, value) = (field.name.as_bytes(), field.value);
        summary.note(name, value);
        let spans = span(base, name).zip(span(base, value));
        let (name, value) = spans.ok_or_else(|| malformed_head(None))?;
        fields.push(Field::in_base(name, value));
    }
    Ok(RawHead {
        len,
        version,
        status,
        reason,
        fields,
        summary,
    })
}

/// `part`'s (start, len) inside `base` (at most u32::MAX long); `None` if it is not inside
/// (never expected). An empty part may point anywhere: it is (0, 0).
#[inline]
fn span(base: &[u8], part: &[u8]) -> Option<(u32, u32)> {
    let start = (part.as_ptr() as usize).wrapping_sub(base.as_ptr() as usize);
    match start.checked_add(part.len()) {
        Some(end) if end <= base.len() => Some((start as u32, part.len() as u32)),
        _ => part.is_empty().then_some((0, 0)),
    }
}

/// The parsed fields as ranges of `base`, which they point into.
pub(crate) fn fields_in(base: &[u8], parsed: &[httparse::Header<'_>]) -> Option<Vec<Field>> {
    u32::try_from(base.len()).ok()?;
    let mut fields = Vec::with_capacity(parsed.len());
    for field in parsed {
        fields.push(Field::in_base(
            span(base, field.name.as_bytes())?,
            span(base, field.value)?,
        ));
    }
    Some(fields)
}

/// The fields that decide framing and persistence, gathered in one pass over the head.
#[derive(Debug, Default)]
struct FramingFields {
    /// A `Transfer-Encoding` field is present.
    transfer_encoding: bool,
    /// The last transfer coding listed is `chunked`.
    chunked_final: bool,
    /// The `Content-Length` verdict so far: `None` when absent.
    content_length: Option<Result<u64, Malformed>>,
    /// `Connection: close` was seen.
    close: bool,
    /// `Connection: keep-alive` was seen.
    keep_alive: bool,
}

impl FramingFields {
    /// Takes one field into account (names compared by length first: most fields cost one
    /// comparison).
    #[inline]
    fn note(&mut self, name: &[u8], value: &[u8]) {
        match name.len() {
            17 if eq_lowercase(name, b"transfer-encoding") => self.transfer_encoding_field(value),
            14 if eq_lowercase(name, b"content-length") => self.content_length_field(value),
            10 if eq_lowercase(name, b"connection") => self.connection_field(value),
            _ => {}
        }
    }

    fn transfer_encoding_field(&mut self, value: &[u8]) {
        self.transfer_encoding = true;
        let last = value
            .rsplit(|&b| b == b',')
            .map(trim_ows)
            .find(|c| !c.is_empty());
        if let Some(coding) = last {
            self.chunked_final = coding.eq_ignore_ascii_case(b"chunked");
        }
    }

    /// Every comma-separated element must be the same decimal number (RFC 9110 §8.6).
    fn content_length_field(&mut self, value: &[u8]) {
        if self.content_length.is_none()
            && !value.is_empty()
            && value.len() <= 19
            && value.iter().all(u8::is_ascii_digit)
        {
            let n = value
                .iter()
                .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
            self.content_length = Some(Ok(n));
            return;
        }
        for item in value.split(|&b| b == b',') {
            let verdict = match (self.content_length, parse_decimal(item)) {
                (Some(Err(e)), _) => Err(e),
                (_, None) => Err(Malformed::InvalidContentLength),
                (Some(Ok(prev)), Some(n)) if prev != n => Err(Malformed::ConflictingContentLength),
                (_, Some(n)) => Ok(n),
            };
            self.content_length = Some(verdict);
        }
    }

    fn connection_field(&mut self, value: &[u8]) {
        if value.eq_ignore_ascii_case(b"keep-alive") {
            self.keep_alive = true;
            return;
        }
        for token in value.split(|&b| b == b',').map(trim_ows) {
            self.close |= token.eq_ignore_ascii_case(b"close");
            self.keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
        }
    }

    fn of(headers: &HeaderMap) -> FramingFields {
        let mut summary = FramingFields::default();
        for (name, value) in headers {
            summary.note(name.as_bytes(), value.as_bytes());
        }
        summary
    }
}

/// Whether the token `name` equals `lower` (lowercase letters and `-`) ignoring case.
/// `b | 0x20` lowercases a letter; among token bytes only the same letter in either case maps to a
/// lowercase letter, and only `-` itself maps to `-` (CR would, but is no token byte).
#[inline]
fn eq_lowercase(name: &[u8], lower: &[u8]) -> bool {
    name.len() == lower.len() && name.iter().zip(lower).all(|(a, b)| a | 0x20 == *b)
}

/// Response framing, RFC 9112 §6.3 — the rules in the RFC's order; the first that applies wins.
fn response_framing(
    ctx: &RequestContext,
    head: &ResponseHead,
    fields: &FramingFields,
) -> Result<Framing, Error> {
    let status = head.status();
    // 1. A response to HEAD, and any 1xx, 204 or 304 response, ends at the blank line: no body.
    if ctx.head_request || head.is_informational() || status == 204 || status == 304 {
        return Ok(Framing::Empty);
    }
    // 2. A 2xx response to CONNECT: the connection becomes a tunnel right after the head.
    if ctx.connect_request && (200..300).contains(&status) {
        return Ok(Framing::Tunnel);
    }
    // 3. Transfer-Encoding together with Content-Length: a smuggling vector. We refuse the
    //    message and the connection is never reused (any error closes it).
    if fields.transfer_encoding && fields.content_length.is_some() {
        return Err(Error::remote(
            Malformed::TransferEncodingWithContentLength,
            Phase::ReadHead,
        ));
    }
    // 4. Transfer-Encoding with chunked as the final coding: chunked. Any other final coding
    //    in a response: read until the server closes.
    if fields.transfer_encoding {
        return Ok(match fields.chunked_final {
            true => Framing::Chunked,
            false => Framing::CloseDelimited,
        });
    }
    // 5. An invalid Content-Length, or several different values: unrecoverable error.
    // 6. A valid Content-Length: exactly that many bytes.
    match fields.content_length {
        Some(Ok(n)) => Ok(Framing::Length(n)),
        Some(Err(malformed)) => Err(Error::remote(malformed, Phase::ReadHead)),
        // 7. (Requests only: no body.)  8. Otherwise a response is delimited by close.
        None => Ok(Framing::CloseDelimited),
    }
}

/// Whether the connection may carry another request once this response's body is read
/// (RFC 9112 §9.3): not if either side said `Connection: close`; HTTP/1.1 persists by default;
/// HTTP/1.0 only with `Connection: keep-alive`. (Body framing is checked by the caller: a
/// close-delimited body is never reusable.)
pub fn keep_alive(ctx: &RequestContext, head: &ResponseHead) -> bool {
    keep_alive_from(ctx, head.version(), &FramingFields::of(head.headers()))
}

fn keep_alive_from(ctx: &RequestContext, version: Version, fields: &FramingFields) -> bool {
    if ctx.close_requested || fields.close {
        return false;
    }
    match version {
        Version::Http11 => true,
        Version::Http10 => fields.keep_alive,
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
    fn parsed_maps_share_bytes_and_can_be_edited() {
        let msg = b"HTTP/1.1 200 OK\r\nX-A: one\r\nx-a: two\r\nContent-Length: 0\r\n\r\n";
        let (resp, _) = complete(msg);
        let headers = resp.head.headers();
        let value = headers.get("X-A").unwrap();
        assert_eq!(
            value.to_bytes().as_ptr(),
            value.as_bytes().as_ptr(),
            "shared, not copied"
        );
        let all: Vec<_> = headers
            .get_all("x-a")
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(all, ["one", "two"]);
        let mut edited = headers.clone();
        assert_eq!(edited.remove("X-a"), 2);
        edited.try_append("Added", "yes").unwrap();
        let names: Vec<_> = edited.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["Content-Length", "Added"]);
        assert_ne!(&edited, headers);
        assert_eq!(&headers.clone(), headers);
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
    fn lowercase_comparison_of_tokens() {
        assert!(eq_lowercase(b"Content-Length", b"content-length"));
        assert!(eq_lowercase(b"CONNECTION", b"connection"));
        assert!(!eq_lowercase(b"Content_Length", b"content-length"));
        assert!(!eq_lowercase(b"Connectio", b"connection"));
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
