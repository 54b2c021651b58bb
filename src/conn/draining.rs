//! Draining: a body dropped before its end is read and discarded — at most
//! [`ConnConfig::drain_max_bytes`](super::ConnConfig) bytes, for at most
//! [`ConnConfig::drain_timeout`](super::ConnConfig) — so that its connection can be reused;
//! past either bound it is closed (`drain_exceeded`).
//!
//! What is already buffered is drained at once, without I/O. The rest runs on a task
//! spawned on the loop (`Drop` cannot wait). A connection without a recycler is not drained:
//! nobody could take it back.
//!
//! # Invariants
//! - A drain ends in exactly one transition: `drain_done`, `drain_exceeded`, or a failure.
//! - Draining never holds more than one read buffer, and never outlives its bounds.

use std::future::poll_fn;
use std::task::{ready, Context, Poll};

use super::body::{closed_after_body, idle_after_body, poll_piece, Exchange, Piece};
use super::fail::Abort;
use super::io::ConnIo;
use super::machine::BodyDropped;
use super::state::{Draining, ReadingBody};
use super::wire::Deadline;
use super::{CloseReason, Gen};
use crate::error::Result;
use crate::http::Decoded;
use crate::rt::time::timeout;

/// Starts draining the rest of a dropped body (or closes at once when that cannot pay off).
pub(super) fn start(conn: Gen<ReadingBody>, mut ex: Exchange) {
    let conn = match conn.on_body_dropped() {
        BodyDropped::Draining(c) => c,
        BodyDropped::Closed(closed) => return closed_after_body(closed, ex),
    };
    let mut budget = conn.inner.cfg.drain_max_bytes;
    if !worth_draining(&conn.inner, &ex) {
        return exceeded(conn, ex);
    }
    match drain_buffered(&mut ex, &mut budget) {
        Ok(Some(true)) => return done(conn, ex),
        Ok(Some(false)) => return exceeded(conn, ex),
        Ok(None) => {}
        Err(err) => return failed(conn, ex, err),
    }
    if !crate::rt::in_runtime() {
        return exceeded(conn, ex);
    }
    drop(crate::rt::spawn(drain(conn, ex, budget)));
}

/// Whether a drain could give the connection back at all.
fn worth_draining(io: &ConnIo, ex: &Exchange) -> bool {
    let max = io.cfg.drain_max_bytes;
    let fits = ex.decoder.remaining_len().map_or(max > 0, |n| n <= max);
    io.exchange.is_some() && fits
}

/// Discards what is buffered: `Some(true)` at the end of the body, `Some(false)` past the
/// budget, `None` when more must be read.
fn drain_buffered(ex: &mut Exchange, budget: &mut u64) -> Result<Option<bool>> {
    loop {
        match ex.decoder.decode(&mut ex.buf)? {
            Decoded::Data(data) if spend(budget, &data) => {}
            Decoded::Data(_) => return Ok(Some(false)),
            Decoded::Done { .. } => return Ok(Some(true)),
            Decoded::NeedMore => return Ok(None),
        }
    }
}

/// Takes `data`'s length from the budget; false when it does not fit.
fn spend(budget: &mut u64, data: &[u8]) -> bool {
    match budget.checked_sub(data.len() as u64) {
        Some(left) => {
            *budget = left;
            true
        }
        None => false,
    }
}

/// The spawned part: reads and discards until the end, the budget or the timeout.
async fn drain(mut conn: Gen<Draining>, mut ex: Exchange, mut budget: u64) {
    let wait = conn.inner.cfg.drain_timeout;
    let mut deadline = Deadline::new(None);
    let reading =
        poll_fn(|cx| poll_drain(&mut conn.inner, &mut ex, &mut deadline, &mut budget, cx));
    match timeout(wait, reading).await {
        Ok(Ok(true)) => done(conn, ex),
        Ok(Ok(false)) | Err(_) => exceeded(conn, ex),
        Ok(Err(err)) => failed(conn, ex, err),
    }
}

fn poll_drain(
    io: &mut ConnIo,
    ex: &mut Exchange,
    deadline: &mut Deadline,
    budget: &mut u64,
    cx: &mut Context<'_>,
) -> Poll<Result<bool>> {
    loop {
        match ready!(poll_piece(io, ex, deadline, cx))? {
            Piece::Data(data) if spend(budget, &data) => {}
            Piece::Data(_) => return Poll::Ready(Ok(false)),
            Piece::End(_) => return Poll::Ready(Ok(true)),
        }
    }
}

/// The body's end was reached while draining: reuse (unless bytes were left over).
fn done(conn: Gen<Draining>, ex: Exchange) {
    // A recycler was checked before draining: `idle_after_body` hands the connection to it.
    drop(idle_after_body(conn.on_drain_done(), ex));
}

/// A bound was hit: close.
fn exceeded(conn: Gen<Draining>, ex: Exchange) {
    ex.release();
    let mut closed = conn.on_drain_exceeded();
    closed.inner.set_close_reason(CloseReason::BodyDropped);
}

/// Reading failed while draining: close.
fn failed(conn: Gen<Draining>, ex: Exchange, err: crate::Error) {
    ex.release();
    drop(conn.close_on(err));
}
