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

use super::body::{closed_after_body, idle_after_body, poll_piece, Piece};
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
pub(super) fn start(conn: Gen<ReadingBody>) {
    let mut conn = match conn.on_body_dropped() {
        BodyDropped::Draining(c) => super::mark(c),
        BodyDropped::Closed(closed) => return closed_after_body(closed),
    };
    let mut budget = conn.inner.m.cfg.drain_max_bytes;
    if !worth_draining(&conn.inner) {
        return exceeded(conn);
    }
    match drain_buffered(&mut conn.inner, &mut budget) {
        Ok(Some(true)) => return done(conn),
        Ok(Some(false)) => return exceeded(conn),
        Ok(None) => {}
        Err(err) => return drop(conn.close_on(err)),
    }
    if !crate::rt::in_runtime() {
        return exceeded(conn);
    }
    drop(crate::rt::spawn(drain(conn, budget)));
}

/// Whether a drain could give the connection back at all.
fn worth_draining(io: &ConnIo) -> bool {
    let max = io.m.cfg.drain_max_bytes;
    let fits = io.m.decoder.remaining_len().map_or(max > 0, |n| n <= max);
    io.m.exchange.is_some() && fits
}

/// Discards what is buffered: `Some(true)` at the end of the body, `Some(false)` past the
/// budget, `None` when more must be read.
fn drain_buffered(io: &mut ConnIo, budget: &mut u64) -> Result<Option<bool>> {
    let m = &mut *io.m;
    loop {
        match m.decoder.decode(&mut m.buf)? {
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
async fn drain(mut conn: Gen<Draining>, mut budget: u64) {
    let wait = super::wire::clamp(conn.inner.m.cfg.drain_timeout);
    conn.inner.m.deadline = Deadline::new(None); // the whole drain is bounded instead
    let reading = poll_fn(|cx| poll_drain(&mut conn.inner, &mut budget, cx));
    match timeout(wait, reading).await {
        Ok(Ok(true)) => done(conn),
        Ok(Ok(false)) | Err(_) => exceeded(conn),
        Ok(Err(err)) => drop(conn.close_on(err)),
    }
}

fn poll_drain(io: &mut ConnIo, budget: &mut u64, cx: &mut Context<'_>) -> Poll<Result<bool>> {
    loop {
        match ready!(poll_piece(io, cx))? {
            Piece::Data(data) if spend(budget, &data) => {}
            Piece::Data(_) => return Poll::Ready(Ok(false)),
            Piece::End(_) => return Poll::Ready(Ok(true)),
        }
    }
}

/// The body's end was reached while draining: reuse (unless bytes were left over).
fn done(conn: Gen<Draining>) {
    // A recycler was checked before draining: `idle_after_body` hands the connection to it.
    drop(idle_after_body(conn.on_drain_done()));
}

/// A bound was hit: close.
fn exceeded(conn: Gen<Draining>) {
    let mut closed = conn.on_drain_exceeded();
    closed.inner.close_exchange(CloseReason::BodyDropped);
}
