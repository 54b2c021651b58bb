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
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use futures_core::Stream;

use super::awaiting::{self, read_head, Head};
use super::body::{self, Body};
use super::fail::Abort;
use super::io::ConnIo;
use super::machine::{HeadWritten, WritingBodyInterim};
use super::state::{AwaitingHead, WritingBody, WritingHead};
use super::wire::{self, write_error};
use super::Gen;
use crate::error::{Error, Invalid, Kind, Malformed, Phase, Result};
use crate::http::{
    self, EncodedChunk, Request, RequestEncoder, RequestHead, Response, ResponseParser,
};
use crate::rt::time::timeout;

/// Most slices of one write: the head plus the (up to 4) slices of an encoded chunk.
const MAX_SLICES: usize = 5;

/// Runs one exchange from the encoded head to the response head.
pub(super) async fn exchange(
    mut conn: Gen<WritingHead>,
    mut buf: BytesMut,
    mut enc: RequestEncoder,
    req: Request,
) -> Result<Response<Body>> {
    let (head, body) = req.into_parts();
    let parser = ResponseParser::new(enc.context(), conn.inner.cfg.limits);
    let expect = enc.expects_continue();
    let held = match write_head(&mut conn.inner, &buf, &mut enc, body, expect).await {
        Ok(held) => held,
        Err(err) => return Err(conn.close_on(err).with_url(head.url())),
    };
    buf.clear();
    let mut ex = Outgoing {
        enc,
        buf,
        parser,
        head,
    };
    let awaiting = match conn.on_head_written() {
        HeadWritten::AwaitingHead(c) => c,
        HeadWritten::WritingBody(c) => match held {
            None => c.on_body_written(), // it left with the head
            Some(body) if expect => return continue_then_send(c, body, ex).await,
            Some(body) => send_body(c, body, &mut ex).await?,
        },
    };
    awaiting::receive(awaiting, ex.buf, ex.parser, ex.head, false).await
}

/// What the body-writing states need besides the connection.
struct Outgoing {
    /// The body encoder.
    enc: RequestEncoder,
    /// The read buffer (empty once the head is out).
    buf: BytesMut,
    /// The response parser (the 100-continue wait reads heads already).
    parser: ResponseParser,
    /// The request head, for the URL in errors.
    head: RequestHead,
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
    let limit = io.write_timeout;
    wire::write_all(&mut io.transport, &mut slices[..1 + n], limit)
        .await
        .map_err(write_error)
}

/// Sends the held body; the request is then complete.
async fn send_body(
    mut conn: Gen<WritingBody>,
    body: http::Body,
    ex: &mut Outgoing,
) -> Result<Gen<AwaitingHead>> {
    match write_body(&mut conn.inner, &mut ex.enc, body).await {
        Ok(()) => Ok(conn.on_body_written()),
        Err(err) => Err(conn.close_on(err).with_url(ex.head.url())),
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
    mut ex: Outgoing,
) -> Result<Response<Body>> {
    let deadline = Instant::now() + conn.inner.cfg.expect_continue_wait;
    loop {
        let wait = deadline.saturating_duration_since(Instant::now());
        let head = timeout(
            wait,
            read_head(&mut conn.inner, &mut ex.buf, &mut ex.parser),
        )
        .await;
        match head {
            Err(_elapsed) => break,
            Ok(Ok(Head::Interim(interim))) => match conn.on_interim() {
                WritingBodyInterim::WritingBody(c) if interim.status() == 100 => {
                    conn = c;
                    break;
                }
                WritingBodyInterim::WritingBody(c) => conn = c,
                WritingBodyInterim::Closed(c) => return Err(too_many_interims(c, &ex.head)),
            },
            // The model has no final head in `writing_body`: the request counts as ended
            // here, and `must_close` keeps the connection from reuse (the body was not sent).
            Ok(Ok(Head::Final(parsed))) => {
                let c = conn.on_body_written();
                return Ok(awaiting::respond(c, ex.buf, parsed, ex.head, true));
            }
            Ok(Ok(Head::Upgrade { head, leftover })) => {
                let c = conn.on_body_written().on_upgrade();
                return Ok(body::upgraded(c, ex.buf, head, leftover));
            }
            Ok(Err(err)) => return Err(conn.close_on(err).with_url(ex.head.url())),
        }
    }
    let awaiting = send_body(conn, body, &mut ex).await?;
    awaiting::receive(awaiting, ex.buf, ex.parser, ex.head, false).await
}

/// The model's interim bound ran out: a protocol error.
pub(super) fn too_many_interims(closed: Gen<super::state::Closed>, head: &RequestHead) -> Error {
    let err = Error::new(
        Kind::RemoteProtocol(Malformed::TooManyInterimResponses),
        Phase::ReadHead,
    );
    let mut closed = closed;
    closed
        .inner
        .set_close_reason(super::CloseReason::Error(err.kind()));
    err.with_url(head.url())
}
