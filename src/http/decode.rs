//! Response body decoders: one enum, one variant per framing (RFC 9112 §6.3), fed from the
//! connection's read buffer.
//!
//! Sans-IO contract: [`BodyDecoder::decode`] takes the read buffer (`&mut BytesMut`), consumes
//! what it understands and returns [`Decoded::Data`] (a `Bytes` split off the buffer, no copy),
//! [`Decoded::NeedMore`] (read more and call again), or [`Decoded::Done`] (the body is over; any
//! bytes still in the buffer are *leftover*: a well-behaved server sent none, so the connection
//! layer must not reuse a connection with leftover bytes). On end of stream call
//! [`BodyDecoder::finish_eof`]: only a close-delimited body may end that way.
//!
//! # Invariants
//! - Memory is bounded: the decoder holds no buffer of its own; it never waits for more than
//!   [`Limits::max_trailer_bytes`] bytes in the caller's buffer before erroring.
//! - Decoding any split of a message equals decoding it whole (the chunked decoder keeps its
//!   position in [`ChunkedState`], never in the buffer).
//! - After an error the decoder's state is unspecified: the connection is dirty, close it.

use bytes::{Buf, Bytes, BytesMut};

use super::header::HeaderMap;
use super::parse::{fields_in, Limits};
use crate::error::{Error, Kind, Malformed, Phase};

/// The most hex digits (leading zeros included) a chunk-size may have.
pub const MAX_CHUNK_SIZE_DIGITS: u8 = 32;

/// What one call to [`BodyDecoder::decode`] produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// Some body bytes (never empty).
    Data(Bytes),
    /// The buffer holds no complete piece: read more, then call again.
    NeedMore,
    /// The body is over; trailers are `Some` when a chunked body carried any.
    Done {
        /// Trailer fields of a chunked body.
        trailers: Option<HeaderMap>,
    },
}

/// How the response body is delimited, and how far decoding has got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyDecoder {
    /// No body (HEAD, 1xx, 204, 304, `Content-Length: 0`).
    Empty,
    /// `Content-Length` framing: this many bytes still to come.
    Length {
        /// Bytes still expected.
        remaining: u64,
    },
    /// Chunked transfer coding.
    Chunked(ChunkedDecoder),
    /// Read to end of stream; the connection cannot be reused.
    CloseDelimited {
        /// End of stream was seen.
        ended: bool,
    },
}

/// The chunked decoder: a state and the numbers the state needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkedDecoder {
    /// Where in the chunked grammar we are.
    state: ChunkedState,
    /// The chunk size being read (Size), or the data bytes left in this chunk (Data).
    size: u64,
    /// Hex digits seen in this chunk-size.
    digits: u8,
    /// Bytes of chunk extension seen on this chunk-size line.
    extension_len: usize,
    /// Bytes of the trailer section already searched for its end (so a trailer arriving a
    /// byte per read costs O(n), not O(n²)).
    trailer_scanned: usize,
    /// The longest chunk extension we accept.
    max_extension: usize,
    /// The largest trailer section we accept.
    max_trailer: usize,
    /// The most trailer fields we accept.
    max_trailer_fields: usize,
}

/// The positions in the chunked grammar (RFC 9112 §7.1):
/// `chunk-size [ BWS ] [ ; ext ] CRLF data CRLF … 0 CRLF [ trailers ] CRLF`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkedState {
    /// Reading hex digits of a chunk-size.
    Size,
    /// After the digits: spaces or tabs before `;` or CR.
    SizeWhitespace,
    /// Inside a chunk extension, up to CR.
    Extension,
    /// After the size line's CR, expecting LF.
    SizeLf,
    /// Inside a chunk's data.
    Data,
    /// After a chunk's data, expecting CR.
    DataCr,
    /// After a chunk's data and CR, expecting LF.
    DataLf,
    /// After the last-chunk line: either the final CRLF or trailer fields.
    Trailers,
    /// After the final CR (no trailers), expecting LF.
    EndLf,
    /// The body is over.
    End,
}

/// The outcome of one state function.
enum Step {
    /// Go on in this state.
    Next(ChunkedState),
    /// Hand these body bytes out (then go on in the state already set).
    Data(Bytes),
    /// The buffer is exhausted mid-state.
    NeedMore,
    /// The body is over, with these trailers.
    Done(Option<HeaderMap>),
}

fn malformed(what: Malformed) -> Error {
    Error::remote(what, Phase::ReadBody)
}

impl BodyDecoder {
    /// No body.
    pub fn empty() -> BodyDecoder {
        BodyDecoder::Empty
    }

    /// `Content-Length: len` (a zero length is [`BodyDecoder::Empty`]).
    pub fn length(len: u64) -> BodyDecoder {
        match len {
            0 => BodyDecoder::Empty,
            remaining => BodyDecoder::Length { remaining },
        }
    }

    /// `Transfer-Encoding: chunked`, bounded by `limits`.
    pub fn chunked(limits: &Limits) -> BodyDecoder {
        BodyDecoder::Chunked(ChunkedDecoder::new(limits))
    }

    /// Delimited by the server closing the connection.
    pub fn close_delimited() -> BodyDecoder {
        BodyDecoder::CloseDelimited { ended: false }
    }

    /// True for a close-delimited body (its connection is never reused).
    pub fn is_close_delimited(&self) -> bool {
        matches!(self, BodyDecoder::CloseDelimited { .. })
    }

    /// True once the whole body has been decoded.
    pub fn is_done(&self) -> bool {
        match self {
            BodyDecoder::Empty => true,
            BodyDecoder::Length { remaining } => *remaining == 0,
            BodyDecoder::Chunked(c) => c.state == ChunkedState::End,
            BodyDecoder::CloseDelimited { ended } => *ended,
        }
    }

    /// Bytes still expected, when the framing says (for size hints).
    pub fn remaining_len(&self) -> Option<u64> {
        match self {
            BodyDecoder::Empty => Some(0),
            BodyDecoder::Length { remaining } => Some(*remaining),
            _ => None,
        }
    }

    /// Decodes from the front of `buf`; see the module doc for the contract.
    ///
    /// # Examples
    /// ```
    /// use bytes::BytesMut;
    /// use weir::http::{BodyDecoder, Decoded, Limits};
    /// let mut dec = BodyDecoder::chunked(&Limits::default());
    /// let mut buf = BytesMut::from(&b"5\r\nhello\r\n0\r\n\r\n"[..]);
    /// assert_eq!(dec.decode(&mut buf).unwrap(), Decoded::Data("hello".into()));
    /// assert_eq!(dec.decode(&mut buf).unwrap(), Decoded::Done { trailers: None });
    /// ```
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, Error> {
        match self {
            BodyDecoder::Empty => Ok(Decoded::Done { trailers: None }),
            BodyDecoder::Length { remaining } => Ok(decode_length(remaining, buf)),
            BodyDecoder::Chunked(chunked) => chunked.decode(buf),
            BodyDecoder::CloseDelimited { ended } => Ok(decode_until_close(*ended, buf)),
        }
    }

    /// The stream ended. A close-delimited body ends well ([`Decoded::Done`]); a finished
    /// body too; anything else is [`Kind::BodyIncomplete`].
    pub fn finish_eof(&mut self) -> Result<Decoded, Error> {
        if let BodyDecoder::CloseDelimited { ended } = self {
            *ended = true;
        }
        match self.is_done() {
            true => Ok(Decoded::Done { trailers: None }),
            false => Err(Error::new(Kind::BodyIncomplete, Phase::ReadBody)),
        }
    }
}

fn decode_length(remaining: &mut u64, buf: &mut BytesMut) -> Decoded {
    if *remaining == 0 {
        return Decoded::Done { trailers: None };
    }
    let take = usize::try_from(*remaining)
        .unwrap_or(usize::MAX)
        .min(buf.len());
    if take == 0 {
        return Decoded::NeedMore;
    }
    *remaining -= take as u64;
    Decoded::Data(buf.split_to(take).freeze())
}

fn decode_until_close(ended: bool, buf: &mut BytesMut) -> Decoded {
    match (buf.is_empty(), ended) {
        (false, _) => Decoded::Data(buf.split().freeze()),
        (true, true) => Decoded::Done { trailers: None },
        (true, false) => Decoded::NeedMore,
    }
}

impl ChunkedDecoder {
    /// A decoder at the start of a chunked body.
    pub fn new(limits: &Limits) -> ChunkedDecoder {
        ChunkedDecoder {
            state: ChunkedState::Size,
            size: 0,
            digits: 0,
            extension_len: 0,
            trailer_scanned: 0,
            max_extension: limits.max_chunk_extension_bytes,
            max_trailer: limits.max_trailer_bytes,
            max_trailer_fields: limits.max_headers,
        }
    }

    /// Where in the grammar the decoder is.
    pub fn state(&self) -> ChunkedState {
        self.state
    }

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, Error> {
        loop {
            match self.step(buf)? {
                Step::Next(state) => self.state = state,
                Step::Data(data) => return Ok(Decoded::Data(data)),
                Step::NeedMore => return Ok(Decoded::NeedMore),
                Step::Done(trailers) => {
                    self.state = ChunkedState::End;
                    return Ok(Decoded::Done { trailers });
                }
            }
        }
    }

    fn step(&mut self, buf: &mut BytesMut) -> Result<Step, Error> {
        use ChunkedState::*;
        if self.state == End {
            return Ok(Step::Done(None));
        }
        if self.state == Trailers {
            return self.read_trailers(buf);
        }
        if self.state == Data {
            return Ok(self.read_data(buf));
        }
        let Some(&byte) = buf.first() else {
            return Ok(Step::NeedMore);
        };
        buf.advance(1);
        match self.state {
            Size => self.read_size(byte),
            SizeWhitespace => read_size_whitespace(byte),
            Extension => self.read_extension(byte),
            SizeLf => self.read_size_lf(byte),
            DataCr => expect(byte, b'\r', DataLf),
            DataLf => expect(byte, b'\n', Size),
            EndLf => expect(byte, b'\n', End).map(|_| Step::Done(None)),
            Data | Trailers | End => Ok(Step::NeedMore),
        }
    }

    fn read_size(&mut self, byte: u8) -> Result<Step, Error> {
        let Some(digit) = (byte as char).to_digit(16) else {
            return self.end_of_size(byte);
        };
        self.digits += 1;
        if self.digits > MAX_CHUNK_SIZE_DIGITS {
            return Err(malformed(Malformed::ChunkSize));
        }
        let shifted = self
            .size
            .checked_mul(16)
            .and_then(|s| s.checked_add(u64::from(digit)));
        self.size = shifted.ok_or_else(|| malformed(Malformed::ChunkSizeOverflow))?;
        Ok(Step::Next(ChunkedState::Size))
    }

    /// A non-digit after the digits: BWS, `;` or CR (at least one digit is required).
    fn end_of_size(&mut self, byte: u8) -> Result<Step, Error> {
        if self.digits == 0 {
            return Err(malformed(Malformed::ChunkSize));
        }
        read_size_whitespace(byte)
    }

    fn read_extension(&mut self, byte: u8) -> Result<Step, Error> {
        match byte {
            b'\r' => Ok(Step::Next(ChunkedState::SizeLf)),
            // A bare LF or NUL in an extension smells of request smuggling: refuse.
            b'\n' | 0 => Err(malformed(Malformed::ChunkSize)),
            _ => {
                self.extension_len += 1;
                match self.extension_len > self.max_extension {
                    true => Err(malformed(Malformed::ChunkExtensionTooLong)),
                    false => Ok(Step::Next(ChunkedState::Extension)),
                }
            }
        }
    }

    fn read_size_lf(&mut self, byte: u8) -> Result<Step, Error> {
        if byte != b'\n' {
            return Err(malformed(Malformed::ChunkDelimiter));
        }
        let next = match self.size {
            0 => ChunkedState::Trailers,
            _ => ChunkedState::Data,
        };
        self.digits = 0;
        self.extension_len = 0;
        Ok(Step::Next(next))
    }

    fn read_data(&mut self, buf: &mut BytesMut) -> Step {
        let take = usize::try_from(self.size)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        if take == 0 {
            return Step::NeedMore;
        }
        self.size -= take as u64;
        if self.size == 0 {
            self.state = ChunkedState::DataCr;
        }
        Step::Data(buf.split_to(take).freeze())
    }

    /// After the last-chunk: CRLF alone ends the body; otherwise field lines up to CRLF CRLF.
    fn read_trailers(&mut self, buf: &mut BytesMut) -> Result<Step, Error> {
        match buf.first() {
            None => return Ok(Step::NeedMore),
            Some(b'\r') => {
                buf.advance(1);
                return Ok(Step::Next(ChunkedState::EndLf));
            }
            Some(_) => {}
        }
        let window = &buf[..buf.len().min(self.max_trailer)];
        let from = self.trailer_scanned.saturating_sub(3);
        let found = window[from..].windows(4).position(|w| w == b"\r\n\r\n");
        self.trailer_scanned = window.len();
        let Some(end) = found.map(|at| from + at + 4) else {
            return match buf.len() >= self.max_trailer {
                true => Err(malformed(Malformed::TrailersTooLarge)),
                false => Ok(Step::NeedMore),
            };
        };
        let section = buf.split_to(end).freeze();
        let trailers = parse_trailers(section, self.max_trailer_fields)?;
        Ok(Step::Done(Some(trailers)))
    }
}

/// After the chunk-size digits: more BWS, `;` (extension) or CR.
fn read_size_whitespace(byte: u8) -> Result<Step, Error> {
    match byte {
        b' ' | b'\t' => Ok(Step::Next(ChunkedState::SizeWhitespace)),
        b';' => Ok(Step::Next(ChunkedState::Extension)),
        b'\r' => Ok(Step::Next(ChunkedState::SizeLf)),
        _ => Err(malformed(Malformed::ChunkSize)),
    }
}

fn expect(byte: u8, wanted: u8, next: ChunkedState) -> Result<Step, Error> {
    match byte == wanted {
        true => Ok(Step::Next(next)),
        false => Err(malformed(Malformed::ChunkDelimiter)),
    }
}

/// Parses the trailer section (`field-line CRLF … CRLF`) into a map sharing `section`'s bytes.
fn parse_trailers(section: Bytes, max_fields: usize) -> Result<HeaderMap, Error> {
    let mut slots = vec![httparse::EMPTY_HEADER; max_fields];
    match httparse::parse_headers(&section, &mut slots) {
        Ok(httparse::Status::Complete((_, fields))) => {
            let fields =
                fields_in(&section, fields).ok_or_else(|| malformed(Malformed::Trailers))?;
            Ok(HeaderMap::from_parsed(section.clone(), fields))
        }
        Err(httparse::Error::TooManyHeaders) => Err(malformed(Malformed::TrailersTooLarge)),
        Ok(httparse::Status::Partial) | Err(_) => Err(malformed(Malformed::Trailers)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Body, trailers and leftover bytes of one decoding run.
    type Run = Result<(Vec<u8>, Option<HeaderMap>, Vec<u8>), Error>;

    /// Decodes `input` fed in pieces of `step` bytes; returns body, trailers, leftover.
    fn run(dec: &mut BodyDecoder, input: &[u8], step: usize) -> Run {
        let mut buf = BytesMut::new();
        let mut body = Vec::new();
        let mut fed = 0;
        loop {
            match dec.decode(&mut buf)? {
                Decoded::Data(d) => body.extend_from_slice(&d),
                Decoded::Done { trailers } => return Ok((body, trailers, buf.to_vec())),
                Decoded::NeedMore if fed < input.len() => {
                    let end = (fed + step).min(input.len());
                    buf.extend_from_slice(&input[fed..end]);
                    fed = end;
                }
                Decoded::NeedMore => match dec.finish_eof()? {
                    Decoded::Done { trailers } => return Ok((body, trailers, buf.to_vec())),
                    other => panic!("finish_eof gave {other:?}"),
                },
            }
        }
    }

    fn chunked() -> BodyDecoder {
        BodyDecoder::chunked(&Limits::default())
    }

    fn kind(result: Run) -> Kind {
        result.unwrap_err().kind()
    }

    #[test]
    fn length_yields_exactly_and_leaves_the_rest() {
        for step in [1, 3, 100] {
            let (body, _, rest) = run(&mut BodyDecoder::length(5), b"helloEXTRA", step).unwrap();
            assert_eq!(body, b"hello");
            assert!(b"EXTRA".starts_with(&rest));
        }
    }

    #[test]
    fn length_short_at_eof_is_incomplete() {
        assert_eq!(
            kind(run(&mut BodyDecoder::length(5), b"hel", 2)),
            Kind::BodyIncomplete
        );
    }

    #[test]
    fn close_delimited_ends_at_eof() {
        let (body, _, _) = run(&mut BodyDecoder::close_delimited(), b"all of it", 4).unwrap();
        assert_eq!(body, b"all of it");
    }

    #[test]
    fn empty_is_done_at_once() {
        let mut buf = BytesMut::from(&b"x"[..]);
        assert_eq!(
            BodyDecoder::empty().decode(&mut buf).unwrap(),
            Decoded::Done { trailers: None }
        );
        assert_eq!(&buf[..], b"x");
    }

    #[test]
    fn chunked_any_split() {
        let msg = b"5;name=val\r\nhello\r\n6 \r\n world\r\nA\r\n0123456789\r\n0\r\n\r\nNEXT";
        for step in 1..msg.len() {
            let (body, trailers, rest) = run(&mut chunked(), msg, step).unwrap();
            assert_eq!(body, b"hello world0123456789", "step {step}");
            assert!(trailers.is_none());
            assert!(b"NEXT".starts_with(&rest));
        }
    }

    #[test]
    fn chunked_trailers_are_returned() {
        let msg = b"3\r\nabc\r\n0\r\nX-Sum: 42\r\nX-More: a b\r\n\r\n";
        for step in [1, 7, 64] {
            let (body, trailers, _) = run(&mut chunked(), msg, step).unwrap();
            let trailers = trailers.unwrap();
            assert_eq!(body, b"abc");
            assert_eq!(trailers.get("x-sum").unwrap().as_bytes(), b"42");
            assert_eq!(trailers.get("x-more").unwrap().as_bytes(), b"a b");
        }
    }

    #[test]
    fn chunk_size_overflow_is_rejected() {
        let err = kind(run(&mut chunked(), b"10000000000000000\r\n", 64));
        assert_eq!(err, Kind::RemoteProtocol(Malformed::ChunkSizeOverflow));
        let ok_max = run(&mut chunked(), b"ffffffffffffffff\r\nab", 64);
        assert_eq!(kind(ok_max), Kind::BodyIncomplete);
    }

    #[test]
    fn bad_size_lines_are_rejected() {
        for bad in [
            &b"\r\n"[..],
            b"x\r\n",
            b"5\n",
            b"5 x\r\n",
            b";ext\r\n",
            b"5;a\nb\r\n",
        ] {
            let err = kind(run(&mut chunked(), bad, 64));
            assert!(
                matches!(err, Kind::RemoteProtocol(_)),
                "{bad:?} gave {err:?}"
            );
        }
        let many_zeros = [b'0'; 40];
        assert_eq!(
            kind(run(&mut chunked(), &many_zeros, 64)),
            Kind::RemoteProtocol(Malformed::ChunkSize)
        );
    }

    #[test]
    fn missing_crlf_after_data_is_rejected() {
        let err = kind(run(&mut chunked(), b"3\r\nabcX\r\n0\r\n\r\n", 64));
        assert_eq!(err, Kind::RemoteProtocol(Malformed::ChunkDelimiter));
    }

    #[test]
    fn extensions_are_bounded() {
        let limits = Limits {
            max_chunk_extension_bytes: 8,
            ..Limits::default()
        };
        let mut dec = BodyDecoder::chunked(&limits);
        let err = kind(run(&mut dec, b"1;aaaaaaaaaaaaaaaa\r\nx\r\n0\r\n\r\n", 64));
        assert_eq!(err, Kind::RemoteProtocol(Malformed::ChunkExtensionTooLong));
        let mut dec = BodyDecoder::chunked(&limits);
        assert!(run(&mut dec, b"1;aaaaaaaa\r\nx\r\n0\r\n\r\n", 64).is_ok());
    }

    #[test]
    fn trailers_are_bounded() {
        let limits = Limits {
            max_trailer_bytes: 32,
            ..Limits::default()
        };
        let mut msg = b"0\r\n".to_vec();
        msg.extend(std::iter::repeat_n(b'a', 100));
        let err = kind(run(&mut BodyDecoder::chunked(&limits), &msg, 7));
        assert_eq!(err, Kind::RemoteProtocol(Malformed::TrailersTooLarge));
        let err = kind(run(&mut chunked(), b"0\r\nno colon\r\n\r\n", 64));
        assert_eq!(err, Kind::RemoteProtocol(Malformed::Trailers));
    }

    #[test]
    fn chunked_cut_short_is_incomplete() {
        for cut in [&b"5\r\nhel"[..], b"5\r\nhello\r\n", b"0\r\n", b"0\r\n\r"] {
            assert_eq!(
                kind(run(&mut chunked(), cut, 64)),
                Kind::BodyIncomplete,
                "{cut:?}"
            );
        }
    }

    #[test]
    fn data_is_split_off_without_copy() {
        let mut buf = BytesMut::from(&b"4\r\nabcd\r\n"[..]);
        let data_ptr = buf[3..].as_ptr();
        let Decoded::Data(data) = chunked().decode(&mut buf).unwrap() else {
            panic!()
        };
        assert_eq!(data.as_ptr(), data_ptr);
    }
}
