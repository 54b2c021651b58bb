//! Awaiting the response head: read until the parser has a head, skip (bounded) 1xx interim
//! responses, and hand out either a [`Body`] that owns the connection or, for
//! `101 Switching Protocols`, the transport with the bytes already read past the head.
//!
//! # Invariants
//! - The parser only ever sees the buffer after a read that returned bytes, and leaves it
//!   untouched when it needs more: a cancelled read loses nothing.
//! - Waiting for the head holds no read buffer until response bytes are ready
//!   ([`ConnIo::poll_read`]).
//! - End of stream before a head is [`Kind::ClosedBeforeResponse`](crate::error::Kind) only
//!   when not one response byte arrived (the parser's verdict), else `ClosedMidResponse`.

use std::future::Future;

use bytes::Bytes;

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
    BodyDecoder, ParseStatus, ParsedResponse, Response, ResponseHead, ResponseParser, Version,
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
pub(super) async fn read_head(io: &mut ConnIo, parser: &mut ResponseParser) -> Result<Head> {
    loop {
        let m = &mut *io.m;
        if !m.buf.is_empty() {
            match parser.parse(&mut m.buf)? {
                ParseStatus::Partial => {}
                ParseStatus::Interim(head) => return Ok(Head::Interim(head)),
                ParseStatus::Complete(parsed) => return Ok(Head::Final(parsed)),
                ParseStatus::Upgrade { head, leftover } => {
                    return Ok(Head::Upgrade { head, leftover })
                }
            }
        }
        let limit = io.m.read_timeout;
        match wire::read_some(io, limit).await {
            Ok(0) => return Err(parser.eof_error(&io.m.buf)),
            Ok(_) => {}
            Err(fail) => {
                return Err(read_error(fail, Phase::ReadHead, || {
                    parser.eof_error(&io.m.buf)
                }));
            }
        }
    }
}

/// Reads the response head (skipping interim responses) and builds the response.
///
/// This is where a request in flight waits: a plain `fn` around an `async` block, which
/// stores `conn` and `parser` once (an `async fn` would store a second copy,
/// rust-lang/rust#62958).
#[allow(clippy::manual_async_fn)] // see above
pub(super) fn receive(
    mut conn: Gen<AwaitingHead>,
    mut parser: ResponseParser,
) -> impl Future<Output = Result<Response<Body>>> {
    async move {
        loop {
            match read_head(&mut conn.inner, &mut parser).await {
                Ok(Head::Interim(_)) => match conn.on_interim() {
                    AwaitingHeadInterim::AwaitingHead(c) => conn = c,
                    AwaitingHeadInterim::Closed(c) => return Err(too_many_interims(c)),
                },
                Ok(Head::Final(parsed)) => return Ok(respond(conn, parsed)),
                Ok(Head::Upgrade { head, leftover }) => {
                    return Ok(body::upgraded(conn.on_upgrade(), head, leftover));
                }
                Err(err) => return Err(conn.close_on(err)),
            }
        }
    }
}

/// Takes the final head's transition (the model decides reuse from the same facts the
/// parser did) and builds the response around the body.
fn respond(mut conn: Gen<AwaitingHead>, parsed: ParsedResponse) -> Response<Body> {
    let (head, a) = prepare_final(&mut conn.inner, parsed);
    let next = conn.on_final_head(a.framing, a.req_close, a.resp_close, a.http10, a.keep_alive);
    body::response(next, head)
}

/// The final head's facts, as the model's `final_head` event takes them.
#[derive(Clone, Copy, Debug)]
pub(super) struct FinalArgs {
    /// The body's framing.
    pub(super) framing: Framing,
    /// The request said `Connection: close`.
    pub(super) req_close: bool,
    /// The response said `Connection: close`.
    pub(super) resp_close: bool,
    /// The response is HTTP/1.0.
    pub(super) http10: bool,
    /// The response said `Connection: keep-alive` (reported for HTTP/1.0 only, where it
    /// matters).
    pub(super) keep_alive: bool,
}

/// Moves the body decoder and the server's keep-alive hint into the connection and returns
/// the head with the model's arguments. They come from the parser's keep-alive verdict when
/// it allows reuse (no `close` on either side; HTTP/1.0 only with `keep-alive`), else from
/// the headers.
pub(super) fn prepare_final(io: &mut ConnIo, parsed: ParsedResponse) -> (ResponseHead, FinalArgs) {
    let ParsedResponse {
        head,
        decoder,
        keep_alive,
        ..
    } = parsed;
    let framing = match &decoder {
        BodyDecoder::Empty => Framing::None,
        BodyDecoder::Length { .. } => Framing::Length,
        BodyDecoder::Chunked(_) => Framing::Chunked,
        BodyDecoder::CloseDelimited { .. } => Framing::CloseDelimited,
    };
    let http10 = head.version() == Version::Http10;
    let (req_close, resp_close, ka) = match keep_alive {
        true => (false, false, http10),
        false => close_args(io, &head, http10),
    };
    io.m.decoder = decoder;
    if let Some(hint) = body::keep_alive_timeout(&head) {
        io.m.keep_alive_hint = Some(hint);
    }
    let args = FinalArgs {
        framing,
        req_close,
        resp_close,
        http10,
        keep_alive: ka,
    };
    (head, args)
}

/// `(req_close, resp_close, keep_alive)` read from the headers.
fn close_args(io: &ConnIo, head: &ResponseHead, http10: bool) -> (bool, bool, bool) {
    let req_close =
        io.m.req
            .as_ref()
            .is_some_and(|r| r.headers().contains_token("connection", "close"));
    let headers = head.headers();
    (
        req_close,
        headers.contains_token("connection", "close"),
        http10 && headers.contains_token("connection", "keep-alive"),
    )
}
