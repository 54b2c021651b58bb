//! The response [`Body`]: it owns the active connection while the body is read.
//!
//! Reading is pulled by the consumer: each [`Body::next_chunk`] decodes what is buffered and
//! reads at most one read buffer ([`ConnConfig::read_buffer_size`](super::ConnConfig)) more,
//! so memory stays bounded whatever the body's size. Chunks are split off the read buffer,
//! never copied. A body waiting for bytes with none buffered holds no read buffer (see
//! [`ConnIo::poll_read`]).
//!
//! At the end of the body the exchange ends: the connection goes back as idle (to its
//! recycler, or kept for [`Body::take_connection`]) when the response allowed keep-alive and
//! no byte is left over, and is closed otherwise. Dropping a body before its end starts a
//! bounded drain ([`super::draining`]).
//!
//! # Invariants
//! - `State::Reading` holds the only handle to the connection; leaving it (end, error, drop)
//!   goes through exactly one typestate transition.
//! - The fast path (`Content-Length` body already buffered with the head, or no body) ends
//!   the exchange before the response is even returned.

use std::fmt;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;

use super::fail::Abort;
use super::idle::hand_idle;
use super::io::ConnIo;
use super::machine::{BodyDone, FinalHead};
use super::state::{Closed, Idle, ReadingBody, Upgraded as UpgradedState};
use super::wire::{read_error, IoFail};
use super::{draining, CloseReason, Connection, Gen, Transport};
use crate::error::{Error, Kind, Phase, Result};
use crate::http::{Decoded, HeaderMap, Response, ResponseHead};

/// The body's end was reached and the model said `idle`: hand the connection on, unless the
/// server sent bytes past the response (then it is an error and the connection closes).
pub(super) fn idle_after_body(mut idle: Gen<Idle>) -> Option<Connection<Idle>> {
    if idle.inner.release_exchange() {
        let mut closed = idle.on_error();
        closed.inner.set_close_reason(CloseReason::LeftoverBytes);
        return None;
    }
    hand_idle(idle)
}

/// The model said `closed` at the body's end (keep-alive rules): close, saying so.
pub(super) fn closed_after_body(mut closed: Gen<Closed>) {
    closed.inner.close_exchange(CloseReason::NotKeepAlive);
}

/// One step of body decoding.
#[derive(Debug)]
pub(super) enum Piece {
    /// Body bytes.
    Data(Bytes),
    /// The end, with a chunked body's trailers.
    End(Option<HeaderMap>),
}

/// Decodes the next piece, reading from the socket when the buffer has no complete piece.
pub(super) fn poll_piece(io: &mut ConnIo, cx: &mut Context<'_>) -> Poll<Result<Piece>> {
    loop {
        let m = &mut *io.m;
        match m.decoder.decode(&mut m.buf) {
            Ok(Decoded::Data(data)) => return Poll::Ready(Ok(Piece::Data(data))),
            Ok(Decoded::Done { trailers }) => return Poll::Ready(Ok(Piece::End(trailers))),
            Ok(Decoded::NeedMore) => {}
            Err(err) => return Poll::Ready(Err(err)),
        }
        // `reserve` may give more capacity than asked for: one read takes at most `read_size`,
        // so a body chunk never exceeds `max_read_buffer_size`.
        let read_size = m.read_size;
        let read = io.poll_read(cx, read_size);
        let m = &mut *io.m;
        match read {
            Poll::Ready(Ok((0, _))) => {
                return Poll::Ready(m.decoder.finish_eof().map(|_| Piece::End(None)));
            }
            Poll::Ready(Ok((n, room))) => {
                m.deadline.reset();
                if n == room && m.read_size < m.cfg.max_read_buffer_size {
                    m.read_size = (m.read_size * 2).min(m.cfg.max_read_buffer_size);
                    m.grown = true;
                }
            }
            Poll::Ready(Err(e)) => {
                let incomplete = || Error::new(Kind::BodyIncomplete, Phase::ReadBody);
                return Poll::Ready(Err(read_error(IoFail::Io(e), Phase::ReadBody, incomplete)));
            }
            Poll::Pending => {
                return match m.deadline.poll_expired(cx) {
                    Some(expired) => Poll::Ready(Err(Error::new(expired.kind(), Phase::ReadBody))),
                    None => Poll::Pending,
                };
            }
        }
    }
}

/// A response body. Read it with [`next_chunk`](Body::next_chunk), as a
/// [`Stream`](futures_core::Stream), or whole with [`bytes`](Body::bytes) /
/// [`text`](Body::text).
pub struct Body {
    /// Where the body is.
    state: State,
}

/// The body's states.
enum State {
    /// Reading: the body owns the connection (its buffer and decoder are in the connection).
    Reading(Gen<ReadingBody>),
    /// The end was reached (the connection went back or closed).
    Done {
        /// The last chunk, decoded before the end was noticed (fast path), not yet handed out.
        pending: Option<Bytes>,
        /// A chunked body's trailers.
        trailers: Option<HeaderMap>,
        /// The idle connection when no recycler took it.
        idle: Option<Connection<Idle>>,
    },
    /// An error ended the body (the connection was closed).
    Failed,
    /// 101: no body; the transport is here until taken.
    Upgraded(Option<Upgraded>),
}

/// The transport of a `101 Switching Protocols` response, with the bytes the server sent
/// after the head that were already read.
#[derive(Debug)]
pub struct Upgraded {
    /// The stream, now speaking the new protocol.
    transport: Transport,
    /// Bytes of the new protocol already read.
    leftover: Bytes,
}

impl Upgraded {
    /// The stream and the bytes already read from it.
    pub fn into_parts(self) -> (Transport, Bytes) {
        (self.transport, self.leftover)
    }
}

/// Builds the response around the final head's outcome; ends the exchange at once when
/// there is no body or the whole body is already buffered.
pub(super) fn response(next: FinalHead<ConnIo>, head: ResponseHead) -> Response<Body> {
    let state = match next {
        FinalHead::ReadingBody(conn) => State::Reading(conn),
        FinalHead::Idle(idle) => done(None, None, idle_after_body(idle)),
        FinalHead::Closed(closed) => {
            closed_after_body(closed);
            done(None, None, None)
        }
    };
    let mut body = Body { state };
    body.finish_if_buffered();
    Response::new(head, body)
}

fn done(
    pending: Option<Bytes>,
    trailers: Option<HeaderMap>,
    idle: Option<Connection<Idle>>,
) -> State {
    State::Done {
        pending,
        trailers,
        idle,
    }
}

/// The response of a `101`: the transport leaves HTTP (the recycler hears `Upgraded`).
pub(super) fn upgraded(
    conn: Gen<UpgradedState>,
    head: ResponseHead,
    leftover: Bytes,
) -> Response<Body> {
    let mut io = conn.into_inner();
    io.close_exchange(CloseReason::Upgraded);
    let ConnIo { transport, m } = io;
    drop(m); // reports `Upgraded` to the recycler, if any
    let up = Upgraded {
        transport,
        leftover,
    };
    Response::new(
        head,
        Body {
            state: State::Upgraded(Some(up)),
        },
    )
}

/// `Keep-Alive: timeout=N` (RFC 2068 §19.7.1.1, still sent by nginx and Apache).
pub(super) fn keep_alive_timeout(head: &ResponseHead) -> Option<Duration> {
    let value = head.headers().get("keep-alive")?;
    value.list_items().find_map(|item| {
        let (name, secs) = item.split_at(item.iter().position(|&b| b == b'=')?);
        let secs = std::str::from_utf8(&secs[1..]).ok()?.trim().parse().ok()?;
        name.trim_ascii()
            .eq_ignore_ascii_case(b"timeout")
            .then(|| Duration::from_secs(secs))
    })
}

/// Ends the exchange after the body's end: idle (handed to the recycler, or returned) or
/// closed.
pub(super) fn end(conn: Gen<ReadingBody>) -> Option<Connection<Idle>> {
    match conn.on_body_done() {
        BodyDone::Idle(idle) => idle_after_body(idle),
        BodyDone::Closed(closed) => {
            closed_after_body(closed);
            None
        }
    }
}

impl Body {
    /// The next chunk of the body; `None` at its end (and ever after).
    ///
    /// Errors carry [`Phase::ReadBody`] and the URL: [`Kind::BodyIncomplete`] when the
    /// connection closed early, [`Kind::ReadTimeout`], [`Kind::Timeout`] when the request's
    /// deadline ([`SendOptions::deadline`](super::SendOptions::deadline)) passed, [`Kind::RemoteProtocol`] for a bad
    /// chunked encoding. After an error the body is over and the connection closed.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        std::future::poll_fn(|cx| self.poll_chunk(cx)).await
    }

    /// Polls for the next chunk (what `next_chunk` and the `Stream` impl run).
    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Bytes>>> {
        let State::Reading(conn) = &mut self.state else {
            return Poll::Ready(Ok(self.take_pending()));
        };
        match ready!(poll_piece(&mut conn.inner, cx)) {
            Ok(Piece::Data(data)) => {
                if conn.inner.m.decoder.is_done() {
                    self.finish(None, None);
                }
                Poll::Ready(Ok(Some(data)))
            }
            Ok(Piece::End(trailers)) => {
                self.finish(None, trailers);
                Poll::Ready(Ok(None))
            }
            Err(err) => Poll::Ready(Err(self.fail(err))),
        }
    }

    /// The whole body (one chunk is returned as is; several are joined in one allocation).
    pub async fn bytes(mut self) -> Result<Bytes> {
        self.read_to_end().await
    }

    /// The whole body as text; invalid UTF-8 is replaced with U+FFFD.
    pub async fn text(mut self) -> Result<String> {
        let bytes = self.read_to_end().await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Reads the rest of the body, leaving the body at its end (so that
    /// [`take_connection`](Body::take_connection) and [`trailers`](Body::trailers) work).
    pub async fn read_to_end(&mut self) -> Result<Bytes> {
        let Some(first) = self.next_chunk().await? else {
            return Ok(Bytes::new());
        };
        let Some(second) = self.next_chunk().await? else {
            return Ok(first);
        };
        let hint = self.remaining_hint().unwrap_or(0);
        let mut all = BytesMut::with_capacity(first.len() + second.len() + hint);
        all.extend_from_slice(&first);
        all.extend_from_slice(&second);
        while let Some(chunk) = self.next_chunk().await? {
            all.extend_from_slice(&chunk);
        }
        Ok(all.freeze())
    }

    /// A chunked body's trailers, once the end was reached.
    pub fn trailers(&self) -> Option<&HeaderMap> {
        match &self.state {
            State::Done { trailers, .. } => trailers.as_ref(),
            _ => None,
        }
    }

    /// True once the end of the body was reached (or it failed, or it was an upgrade).
    pub fn is_end(&self) -> bool {
        !matches!(self.state, State::Reading(_))
            && !matches!(
                &self.state,
                State::Done {
                    pending: Some(_),
                    ..
                }
            )
    }

    /// The idle connection, after the end of a body on a connection without a recycler
    /// (standalone use). `None` before the end, when it was closed, or when a recycler took it.
    pub fn take_connection(&mut self) -> Option<Connection<Idle>> {
        match &mut self.state {
            State::Done { idle, .. } => idle.take(),
            _ => None,
        }
    }

    /// The transport of a `101 Switching Protocols` response.
    pub fn into_upgraded(mut self) -> Option<Upgraded> {
        match &mut self.state {
            State::Upgraded(up) => up.take(),
            _ => None,
        }
    }

    /// Body bytes still expected, when the framing says.
    fn remaining_hint(&self) -> Option<usize> {
        match &self.state {
            State::Reading(conn) => conn.inner.m.decoder.remaining_len().map(|n| n as usize),
            _ => Some(0),
        }
    }

    fn take_pending(&mut self) -> Option<Bytes> {
        match &mut self.state {
            State::Done { pending, .. } => pending.take(),
            _ => None,
        }
    }

    /// Fast path: no body, or a `Content-Length` body wholly buffered with the head.
    fn finish_if_buffered(&mut self) {
        let State::Reading(conn) = &mut self.state else {
            return;
        };
        let m = &mut *conn.inner.m;
        let buffered = m.buf.len() as u64;
        if !m.decoder.remaining_len().is_some_and(|n| n <= buffered) {
            return;
        }
        match m.decoder.decode(&mut m.buf) {
            Ok(Decoded::Data(data)) => self.finish(Some(data), None),
            Ok(Decoded::Done { trailers }) => self.finish(None, trailers),
            // Unreachable for `Empty` and a buffered `Length`; the next read will see it.
            Ok(Decoded::NeedMore) | Err(_) => {}
        }
    }

    /// The end of the body: ends the exchange.
    fn finish(&mut self, pending: Option<Bytes>, trailers: Option<HeaderMap>) {
        if let State::Reading(conn) = std::mem::replace(&mut self.state, State::Failed) {
            self.state = done(pending, trailers, end(conn));
        }
    }

    /// An error ends the body and closes the connection; returns it with the URL.
    fn fail(&mut self, err: Error) -> Error {
        match std::mem::replace(&mut self.state, State::Failed) {
            State::Reading(conn) => conn.close_on(err),
            _ => err,
        }
    }
}

impl Stream for Body {
    type Item = Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_chunk(cx).map(Result::transpose)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self.remaining_hint() {
            Some(n) => (n, Some(n)),
            None => (0, None),
        }
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        if let State::Reading(conn) = std::mem::replace(&mut self.state, State::Failed) {
            draining::start(conn);
        }
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Reading(_) => "reading",
            State::Done { .. } => "done",
            State::Failed => "failed",
            State::Upgraded(_) => "upgraded",
        };
        f.debug_struct("Body").field("state", &state).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{HeaderMap, Version};

    fn head_with(name: &'static str, value: &'static str) -> ResponseHead {
        let mut headers = HeaderMap::new();
        headers.try_append(name, value).unwrap();
        ResponseHead::new(Version::Http11, 200, Bytes::from_static(b"OK"), headers)
    }

    #[test]
    fn the_keep_alive_timeout_is_read_from_its_header() {
        let t = |v| keep_alive_timeout(&head_with("Keep-Alive", v));
        assert_eq!(t("timeout=5, max=100"), Some(Duration::from_secs(5)));
        assert_eq!(t("max=100, Timeout = 7"), Some(Duration::from_secs(7)));
        assert_eq!(t("max=100"), None);
        assert_eq!(t("timeout=soon"), None);
        assert_eq!(keep_alive_timeout(&head_with("X-Other", "timeout=5")), None);
    }
}
