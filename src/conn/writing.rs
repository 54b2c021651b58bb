//! Sending a request: the head (with an in-memory body in the same `writev`), then a held
//! body — bytes after a `100 Continue`, a stream of `Bytes`, or a file read in bounded
//! pieces — and then on to the response (see [`super::awaiting`]).
//!
//! File bodies are read with plain blocking `read(2)` calls between writes: a regular file
//! cannot be polled by epoll (it always reports ready), so a file on a slow disk stalls the
//! loop for the duration of each read of [`ConnConfig::file_chunk_size`](super::ConnConfig)
//! bytes. Page-cache reads are fast; for network file systems prefer a stream body fed by
//! another thread.
//!
//! # Invariants
//! - The head is encoded (and the request validated) before the first byte is written.
//! - Memory is bounded: a stream body holds one piece at a time, a file body one
//!   `file_chunk_size` piece; body bytes are never copied, only framed.
//! - Any error here closes the connection (part of a request may have been written).

use std::fs::File;
use std::future::poll_fn;
use std::io::{IoSlice, Read};
use std::pin::Pin;

use bytes::{Buf, Bytes, BytesMut};
use futures_core::Stream;

use super::awaiting::{self, read_head, Head};
use super::body::{self, Body};
use super::io::ConnIo;
use super::machine::HeadSent;
use super::state::{AwaitingContinue, AwaitingHead, Closed, WritingBody, WritingHead};
use super::wire::{self, write_error};
use super::{CloseReason, Connection};
use crate::error::{Error, Invalid, Phase, Result};
use crate::http::{
    self, EncodedChunk, ParsedResponse, Request, RequestEncoder, RequestHead, Response,
    ResponseParser,
};
use crate::rt::time::timeout;

/// Most slices of one write: the head plus the (up to 4) slices of an encoded chunk.
const MAX_SLICES: usize = 5;

/// Runs one exchange from the encoded head to the response head.
pub(super) async fn exchange(
    mut conn: Connection<WritingHead>,
    mut buf: BytesMut,
    mut enc: RequestEncoder,
    req: Request,
) -> Result<Response<Body>> {
    let (head, body) = req.into_parts();
    let mut parser = ResponseParser::new(enc.context(), conn.inner.cfg.limits);
    let expect = enc.expects_continue();
    let held = match write_head(&mut conn.inner, &buf, &mut enc, body, expect).await {
        Ok(held) => held,
        Err(err) => return Err(close(conn.on_error(), err, &head)),
    };
    buf.clear();
    let awaiting = match conn.on_head_sent(expect, held.is_some()) {
        HeadSent::AwaitingHead(c) => c,
        HeadSent::WritingBody(c) => send_body(c, held, &mut enc, &head).await?,
        HeadSent::AwaitingContinue(c) => {
            match await_continue(c, &mut buf, &mut parser, &head).await? {
                AfterContinue::SendBody(c) => send_body(c, held, &mut enc, &head).await?,
                AfterContinue::Final(c, parsed) => {
                    // The body was never sent: the server may still expect it. Never reuse.
                    return Ok(body::response(c, buf, parsed, head, true));
                }
                AfterContinue::Upgrade(c, resp, leftover) => {
                    return Ok(body::upgraded(c, buf, resp, leftover));
                }
            }
        }
    };
    awaiting::receive(awaiting, buf, parser, head).await
}

/// Marks the closed connection with why, drops it (closing the socket) and returns `err`
/// with the request's URL.
pub(super) fn close(mut closed: Connection<Closed>, err: Error, head: &RequestHead) -> Error {
    closed
        .inner
        .set_close_reason(CloseReason::Error(err.kind()));
    drop(closed);
    err.with_url(head.url())
}

/// Writes the head, with the whole body when it is in memory and not held for a `100`;
/// returns the body still to send.
async fn write_head(
    io: &mut ConnIo,
    head: &[u8],
    enc: &mut RequestEncoder,
    body: http::Body,
    expect: bool,
) -> Result<Option<http::Body>> {
    let last = match body {
        http::Body::Empty if !expect => enc.finish()?,
        http::Body::Bytes(bytes) if !expect => enc.encode_final(bytes)?,
        held => {
            write_chunk(io, head, None).await?;
            return Ok(Some(held));
        }
    };
    write_chunk(io, head, Some(&last)).await?;
    Ok(None)
}

/// Writes `prefix` then `chunk` in one vectored write (repeated until all is written).
async fn write_chunk(io: &mut ConnIo, prefix: &[u8], chunk: Option<&EncodedChunk>) -> Result<()> {
    let mut slices = [IoSlice::new(&[]); MAX_SLICES];
    slices[0] = IoSlice::new(prefix);
    let n = chunk.map_or(0, |c| c.chunks_vectored(&mut slices[1..]));
    let limit = io.cfg.write_timeout;
    wire::write_all(&mut io.transport, &mut slices[..1 + n], limit)
        .await
        .map_err(write_error)
}

/// Sends the held body, then waits for the response.
async fn send_body(
    mut conn: Connection<WritingBody>,
    body: Option<http::Body>,
    enc: &mut RequestEncoder,
    head: &RequestHead,
) -> Result<Connection<AwaitingHead>> {
    let body = body.unwrap_or_default();
    match write_body(&mut conn.inner, enc, body).await {
        Ok(()) => Ok(conn.on_body_sent()),
        Err(err) => Err(close(conn.on_error(), err, head)),
    }
}

/// Writes a whole body (the head is already out).
async fn write_body(io: &mut ConnIo, enc: &mut RequestEncoder, body: http::Body) -> Result<()> {
    match body {
        http::Body::Bytes(bytes) => write_chunk(io, &[], Some(&enc.encode_final(bytes)?)).await,
        http::Body::Stream { stream, .. } => write_stream(io, enc, stream).await,
        http::Body::File { file, len } => write_file(io, enc, file, len).await,
        _ => write_chunk(io, &[], Some(&enc.finish()?)).await,
    }
}

/// Pumps a stream body, one piece in memory at a time.
async fn write_stream(
    io: &mut ConnIo,
    enc: &mut RequestEncoder,
    mut stream: Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>,
) -> Result<()> {
    loop {
        match poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
            Some(Ok(piece)) if piece.is_empty() => {}
            Some(Ok(piece)) => write_chunk(io, &[], Some(&enc.encode_data(piece)?)).await?,
            Some(Err(err)) => return Err(Error::io(err, Phase::Write)),
            None => return write_chunk(io, &[], Some(&enc.finish()?)).await,
        }
    }
}

/// Uploads `len` bytes of `file` in pieces of `file_chunk_size`, reusing one piece buffer.
async fn write_file(
    io: &mut ConnIo,
    enc: &mut RequestEncoder,
    mut file: File,
    len: u64,
) -> Result<()> {
    let size = io.cfg.file_chunk_size.max(1);
    let mut piece = BytesMut::new();
    let mut remaining = len;
    while remaining > 0 {
        let data = read_piece(&mut file, &mut piece, size, remaining)?;
        remaining -= data.len() as u64;
        let chunk = match remaining {
            0 => enc.encode_final(data)?,
            _ => enc.encode_data(data)?,
        };
        write_chunk(io, &[], Some(&chunk)).await?;
    }
    match len {
        0 => write_chunk(io, &[], Some(&enc.finish()?)).await,
        _ => Ok(()),
    }
}

/// Reads the next piece of a file body; the file ending early is a body-length error.
fn read_piece(file: &mut File, piece: &mut BytesMut, size: usize, remaining: u64) -> Result<Bytes> {
    let want = usize::try_from(remaining).map_or(size, |r| r.min(size));
    piece.clear();
    piece.reserve(want); // reclaims the previous piece's memory once it has been written
    piece.resize(want, 0);
    let n = loop {
        match file.read(&mut piece[..]) {
            Ok(n) => break n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(e, Phase::Write)),
        }
    };
    if n == 0 {
        return Err(Error::new(
            crate::error::Kind::LocalProtocol(Invalid::BodyLength),
            Phase::Write,
        ));
    }
    piece.truncate(n);
    Ok(piece.split().freeze())
}

/// Where waiting for `100 Continue` led.
enum AfterContinue {
    /// A `100` arrived, or the wait ran out: send the body.
    SendBody(Connection<WritingBody>),
    /// The final response came first (the body stays unsent).
    Final(Connection<super::state::ReadingBody>, ParsedResponse),
    /// 101 came first.
    Upgrade(
        Connection<super::state::Upgraded>,
        http::ResponseHead,
        Bytes,
    ),
}

/// Waits up to `expect_continue_wait` for a `100 Continue` (other 1xx are skipped).
async fn await_continue(
    mut conn: Connection<AwaitingContinue>,
    buf: &mut BytesMut,
    parser: &mut ResponseParser,
    head: &RequestHead,
) -> Result<AfterContinue> {
    let wait = conn.inner.cfg.expect_continue_wait;
    match timeout(wait, wait_for_100(&mut conn.inner, buf, parser)).await {
        Err(_) | Ok(Ok(None)) => Ok(AfterContinue::SendBody(conn.on_continue())),
        Ok(Ok(Some(Head::Final(parsed)))) => Ok(AfterContinue::Final(conn.on_final_head(), parsed)),
        Ok(Ok(Some(Head::Upgrade {
            head: resp,
            leftover,
        }))) => Ok(AfterContinue::Upgrade(conn.on_upgrade(), resp, leftover)),
        Ok(Ok(Some(Head::Interim(_)))) => Ok(AfterContinue::SendBody(conn.on_continue())),
        Ok(Err(err)) => Err(close(conn.on_error(), err, head)),
    }
}

/// Reads heads until a `100` (→ `None`) or a final/upgrade head.
async fn wait_for_100(
    io: &mut ConnIo,
    buf: &mut BytesMut,
    parser: &mut ResponseParser,
) -> Result<Option<Head>> {
    loop {
        match read_head(io, buf, parser).await? {
            Head::Interim(h) if h.status() == 100 => return Ok(None),
            Head::Interim(_) => {}
            other => return Ok(Some(other)),
        }
    }
}
