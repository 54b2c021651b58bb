//! Awaiting the response head: read until the parser has a head, skip (bounded) 1xx interim
//! responses, and hand out either a [`Body`] that owns the connection or, for
//! `101 Switching Protocols`, the transport with the bytes already read past the head.
//!
//! # Invariants
//! - The parser only ever sees the buffer after a read that returned bytes, and leaves it
//!   untouched when it needs more: a cancelled read loses nothing.
//! - End of stream before a head is [`Kind::ClosedBeforeResponse`](crate::error::Kind) only
//!   when not one response byte arrived (the parser's verdict), else `ClosedMidResponse`.

use bytes::{Bytes, BytesMut};

use super::body::{self, Body};
use super::fail::Abort;
use super::io::ConnIo;
use super::machine::{AwaitingHeadInterim, Framing};
use super::state::AwaitingHead;
use super::wire::{self, read_error};
use super::writing::too_many_interims;
use super::Gen;
use crate::error::{Phase, Result};
use crate::http::{
    BodyDecoder, ParseStatus, ParsedResponse, RequestHead, Response, ResponseHead, ResponseParser,
    Version,
};

/// One head off the wire.
#[derive(Debug)]
pub(super) enum Head {
    /// A 1xx other than 101.
    Interim(ResponseHead),
    /// The final response head, with its body decoder.
    Final(ParsedResponse),
    /// 101 (or 2xx to CONNECT): the rest of the stream is not HTTP.
    Upgrade {
        /// The head.
        head: ResponseHead,
        /// Bytes already read past the head.
        leftover: Bytes,
    },
}

/// Reads until the parser yields a head.
pub(super) async fn read_head(
    io: &mut ConnIo,
    buf: &mut BytesMut,
    parser: &mut ResponseParser,
) -> Result<Head> {
    loop {
        if !buf.is_empty() {
            match parser.parse(buf)? {
                ParseStatus::Partial => {}
                ParseStatus::Interim(head) => return Ok(Head::Interim(head)),
                ParseStatus::Complete(parsed) => return Ok(Head::Final(parsed)),
                ParseStatus::Upgrade { head, leftover } => {
                    return Ok(Head::Upgrade { head, leftover })
                }
            }
        }
        let (size, limit) = (io.cfg.read_buffer_size, io.read_timeout);
        let read = wire::read_some(&mut io.transport, buf, size, limit).await;
        match read {
            Ok(0) => return Err(parser.eof_error(buf)),
            Ok(_) => {}
            Err(fail) => return Err(read_error(fail, Phase::ReadHead, || parser.eof_error(buf))),
        }
    }
}

/// Reads the response head (skipping interim responses) and builds the response.
pub(super) async fn receive(
    mut conn: Gen<AwaitingHead>,
    mut buf: BytesMut,
    mut parser: ResponseParser,
    req: RequestHead,
    must_close: bool,
) -> Result<Response<Body>> {
    loop {
        match read_head(&mut conn.inner, &mut buf, &mut parser).await {
            Ok(Head::Interim(_)) => match conn.on_interim() {
                AwaitingHeadInterim::AwaitingHead(c) => conn = c,
                AwaitingHeadInterim::Closed(c) => return Err(too_many_interims(c, &req)),
            },
            Ok(Head::Final(parsed)) => return Ok(respond(conn, buf, parsed, req, must_close)),
            Ok(Head::Upgrade { head, leftover }) => {
                return Ok(body::upgraded(conn.on_upgrade(), buf, head, leftover));
            }
            Err(err) => return Err(conn.close_on(err).with_url(req.url())),
        }
    }
}

/// Takes the final head's transition (the model decides reuse from the same facts the
/// parser did) and builds the response around the body.
pub(super) fn respond(
    conn: Gen<AwaitingHead>,
    buf: BytesMut,
    parsed: ParsedResponse,
    req: RequestHead,
    must_close: bool,
) -> Response<Body> {
    let head = &parsed.head;
    let framing = match &parsed.decoder {
        BodyDecoder::Empty => Framing::None,
        BodyDecoder::Length { .. } => Framing::Length,
        BodyDecoder::Chunked(_) => Framing::Chunked,
        BodyDecoder::CloseDelimited { .. } => Framing::CloseDelimited,
    };
    let req_close = must_close || req.headers().contains_token("connection", "close");
    let resp_close = head.headers().contains_token("connection", "close");
    let http10 = head.version() == Version::Http10;
    let keep_alive = http10 && head.headers().contains_token("connection", "keep-alive");
    let next = conn.on_final_head(framing, req_close, resp_close, http10, keep_alive);
    body::response(next, buf, parsed, req)
}
