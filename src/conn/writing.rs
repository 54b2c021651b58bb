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
use std::future::{poll_fn, Future};
use std::io::{IoSlice, Read};
use std::pin::Pin;
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use futures_core::Stream;

use super::awaiting::{self, read_head, Head};
use super::body::{self, Body};
use super::fail::{self, Abort};
use super::io::ConnIo;
use super::machine::{FinalHead, HeadWritten, WritingBodyInterim};
use super::state::{AwaitingHead, Closed, WritingBody, WritingHead};
use super::wire::{self, write_error};
use super::{mark, Gen};
use crate::error::{Error, Invalid, Kind, Malformed, Phase, Result};
use crate::http::{self, EncodedChunk, RequestEncoder, Response, ResponseParser};
use crate::rt::time::timeout;

/// Most slices of one write: the head plus the (up to 4) slices of an encoded chunk.
const MAX_SLICES: usize = 5;

/// Runs one exchange from the encoded head (in the connection's buffer) to the response head.
///
/// Every request in flight carries this future, so it keeps each value once: a plain `fn`
/// around an `async` block (an `async fn` would also store a copy of its borrowed arguments,
/// rust-lang/rust#62958), a held body stays where it came in, the parser is made only once
/// the head is out, and the rarer held-body paths are boxed.
#[allow(clippy::manual_async_fn)] // the `async fn` form stores `conn` and `enc` twice
pub(super) fn exchange(
    mut conn: Gen<WritingHead>,
    mut enc: RequestEncoder,
    mut body: http::Body,
) -> impl Future<Output = Result<Response<Body>>> {
    async move {
        let last = match last_piece(&mut enc, &mut body) {
            Ok(last) => last,
            Err(err) => return Err(conn.close_on(err)),
        };
        if let Err(err) = write_chunk(&mut conn.inner, true, last.as_ref()).await {
            return Err(conn.close_on(err));
        }
        let sent_all = last.is_some();
        conn.inner.release_write_buffer();
        let awaiting = match conn.on_head_written() {
            HeadWritten::AwaitingHead(c) => mark(c),
            HeadWritten::WritingBody(c) if sent_all => mark(c.on_body_written()),
            // Boxed: these rarer paths are larger than the rest of the exchange, and every
            // request in flight would otherwise carry their size.
            HeadWritten::WritingBody(c) => {
                return Box::pin(send_held(mark(c), body, enc)).await;
            }
        };
        let parser = ResponseParser::new(enc.context(), awaiting.inner.m.cfg.limits);
        awaiting::receive(awaiting, parser).await
    }
}

/// The piece that completes the request in the head's write: the whole body, when it is in
/// memory and not held for a `100` (taken out of `body`). `None`: `body` is still to send.
fn last_piece(enc: &mut RequestEncoder, body: &mut http::Body) -> Result<Option<EncodedChunk>> {
    if enc.expects_continue() {
        return Ok(None);
    }
    match std::mem::take(body) {
        http::Body::Empty => enc.finish().map(Some),
        http::Body::Bytes(bytes) => enc.encode_final(bytes).map(Some),
        held => {
            *body = held;
            Ok(None)
        }
    }
}

/// Sends the body the head did not carry (after a `100 Continue` when the request expects
/// one), then reads the response.
async fn send_held(
    conn: Gen<WritingBody>,
    body: http::Body,
    mut enc: RequestEncoder,
) -> Result<Response<Body>> {
    let parser = ResponseParser::new(enc.context(), conn.inner.m.cfg.limits);
    if enc.expects_continue() {
        return continue_then_send(conn, body, enc, parser).await;
    }
    let awaiting = send_body(conn, body, &mut enc).await?;
    awaiting::receive(awaiting, parser).await
}

/// Writes the encoded head (`with_head`) then `chunk` in one vectored write (repeated until
/// all is written).
async fn write_chunk(io: &mut ConnIo, with_head: bool, chunk: Option<&EncodedChunk>) -> Result<()> {
    let ConnIo { transport, m } = io;
    let mut slices = [IoSlice::new(&[]); MAX_SLICES];
    if with_head {
        slices[0] = IoSlice::new(&m.buf);
    }
    let n = chunk.map_or(0, |c| c.chunks_vectored(&mut slices[1..]));
    wire::write_all(transport, &mut slices[..1 + n], m.write_timeout)
        .await
        .map_err(write_error)
}

/// Writes one body piece.
async fn write_piece(io: &mut ConnIo, chunk: &EncodedChunk) -> Result<()> {
    write_chunk(io, false, Some(chunk)).await
}

/// Sends the held body; the request is then complete.
async fn send_body(
    mut conn: Gen<WritingBody>,
    body: http::Body,
    enc: &mut RequestEncoder,
) -> Result<Gen<AwaitingHead>> {
    match write_body(&mut conn.inner, enc, body).await {
        Ok(()) => Ok(mark(conn.on_body_written())),
        Err(err) => Err(conn.close_on(err)),
    }
}

/// Writes a whole body (the head is already out).
async fn write_body(io: &mut ConnIo, enc: &mut RequestEncoder, body: http::Body) -> Result<()> {
    match body {
        http::Body::Bytes(bytes) => write_piece(io, &enc.encode_final(bytes)?).await,
        http::Body::Stream { stream, .. } => write_stream(io, enc, stream).await,
        http::Body::File { file, len } => write_file(io, enc, file, len).await,
        _ => write_piece(io, &enc.finish()?).await,
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
            Some(Ok(piece)) => write_piece(io, &enc.encode_data(piece)?).await?,
            Some(Err(err)) => return Err(Error::io(err, Phase::Write)),
            None => return write_piece(io, &enc.finish()?).await,
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
    let size = io.m.cfg.file_chunk_size.max(1);
    let mut piece = BytesMut::new();
    let mut remaining = len;
    while remaining > 0 {
        let data = read_piece(&mut file, &mut piece, size, remaining)?;
        remaining -= data.len() as u64;
        let chunk = match remaining {
            0 => enc.encode_final(data)?,
            _ => enc.encode_data(data)?,
        };
        write_piece(io, &chunk).await?;
    }
    match len {
        0 => write_piece(io, &enc.finish()?).await,
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
            Kind::LocalProtocol(Invalid::BodyLength),
            Phase::Write,
        ));
    }
    piece.truncate(n);
    Ok(piece.split().freeze())
}

/// `Expect: 100-continue`: waits up to `expect_continue_wait` for a `100` (other 1xx are
/// skipped), then sends the body and reads the response. A final response (or a 101) that
/// comes first is returned without sending the body, and the connection is not reused.
async fn continue_then_send(
    mut conn: Gen<WritingBody>,
    body: http::Body,
    mut enc: RequestEncoder,
    mut parser: ResponseParser,
) -> Result<Response<Body>> {
    let deadline = Instant::now() + wire::clamp(conn.inner.m.cfg.expect_continue_wait);
    loop {
        let wait = deadline.saturating_duration_since(Instant::now());
        match timeout(wait, read_head(&mut conn.inner, &mut parser)).await {
            Err(_elapsed) => break,
            Ok(Ok(Head::Interim(interim))) => match conn.on_interim() {
                WritingBodyInterim::WritingBody(c) if interim.status() == 100 => {
                    conn = c;
                    break;
                }
                WritingBodyInterim::WritingBody(c) => conn = c,
                WritingBodyInterim::Closed(c) => return Err(too_many_interims(c)),
            },
            // An early final response: the body stays unsent and the model never reuses the
            // connection (a body-less response reads as an empty body).
            Ok(Ok(Head::Final(parsed))) => {
                let (head, a) = awaiting::prepare_final(&mut conn.inner, parsed);
                let next = conn.on_final_head(
                    a.framing,
                    a.req_close,
                    a.resp_close,
                    a.http10,
                    a.keep_alive,
                );
                return Ok(body::response(FinalHead::ReadingBody(next), head));
            }
            Ok(Ok(Head::Upgrade { head, leftover })) => {
                return Ok(body::upgraded(conn.on_upgrade(), head, leftover));
            }
            Ok(Err(err)) => return Err(conn.close_on(err)),
        }
    }
    let awaiting = send_body(conn, body, &mut enc).await?;
    awaiting::receive(awaiting, parser).await
}

/// The model's interim bound ran out: a protocol error.
pub(super) fn too_many_interims(closed: Gen<Closed>) -> Error {
    let err = Error::new(
        Kind::RemoteProtocol(Malformed::TooManyInterimResponses),
        Phase::ReadHead,
    );
    let err = closed.inner.with_url(err);
    fail::closed_by(closed, err)
}
