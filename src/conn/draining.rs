//! Draining: a body dropped before its end is read and discarded — at most
//! [`ConnConfig::drain_max_bytes`](super::ConnConfig) bytes, for at most
//! [`ConnConfig::drain_timeout`](super::ConnConfig) — so that its connection can be reused;
//! past either bound it is closed.
//!
//! What is already buffered is drained at once, without I/O. The rest runs on a task
//! spawned on the loop (`Drop` cannot wait). A connection without a recycler is closed at
//! once: nobody could take it back.
//!
//! # Invariants
//! - A drain ends in exactly one transition: `drained(clean)` or `error`.
//! - Draining never holds more than one read buffer, and never outlives its bounds.

use std::future::poll_fn;
use std::task::{ready, Context, Poll};

use super::body::{after_end, poll_piece, Exchange, Piece};
use super::io::ConnIo;
use super::state::{Draining, ReadingBody};
use super::wire::Deadline;
use super::{buf, CloseReason, Connection};
use crate::rt::time::timeout;

/// Starts draining the rest of a dropped body.
pub(super) fn start(conn: Connection<ReadingBody>, mut ex: Exchange) {
    let conn = conn.on_body_dropped();
    let mut budget = conn.inner.cfg.drain_max_bytes;
    if !worth_draining(&conn.inner, &ex) {
        return close(conn);
    }
    match drain_buffered(&mut ex, &mut budget) {
        Some(true) => return finish(conn, ex),
        Some(false) => return close(conn),
        None => {}
    }
    if !crate::rt::in_runtime() {
        return close(conn);
    }
    drop(crate::rt::spawn(drain(conn, ex, budget)));
}

/// Whether a drain could give the connection back at all.
fn worth_draining(io: &ConnIo, ex: &Exchange) -> bool {
    let max = io.cfg.drain_max_bytes;
    let fits = ex.decoder.remaining_len().map_or(true, |n| n <= max);
    io.exchange.is_some() && ex.keep_alive && fits && !ex.decoder.is_close_delimited()
}

/// Discards what is buffered: `Some(true)` at the end of the body, `Some(false)` on an error
/// or past the budget, `None` when more must be read.
fn drain_buffered(ex: &mut Exchange, budget: &mut u64) -> Option<bool> {
    loop {
        match ex.decoder.decode(&mut ex.buf) {
            Ok(crate::http::Decoded::Data(data)) if spend(budget, &data) => {}
            Ok(crate::http::Decoded::Data(_)) | Err(_) => return Some(false),
            Ok(crate::http::Decoded::Done { .. }) => return Some(true),
            Ok(crate::http::Decoded::NeedMore) => return None,
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
async fn drain(mut conn: Connection<Draining>, mut ex: Exchange, mut budget: u64) {
    let wait = conn.inner.cfg.drain_timeout;
    let mut deadline = Deadline::new(None);
    let reading =
        poll_fn(|cx| poll_drain(&mut conn.inner, &mut ex, &mut deadline, &mut budget, cx));
    match timeout(wait, reading).await {
        Ok(true) => finish(conn, ex),
        _ => close(conn),
    }
}

fn poll_drain(
    io: &mut ConnIo,
    ex: &mut Exchange,
    deadline: &mut Deadline,
    budget: &mut u64,
    cx: &mut Context<'_>,
) -> Poll<bool> {
    loop {
        match ready!(poll_piece(io, ex, deadline, cx)) {
            Ok(Piece::Data(data)) if spend(budget, &data) => {}
            Ok(Piece::Data(_)) | Err(_) => return Poll::Ready(false),
            Ok(Piece::End(_)) => return Poll::Ready(true),
        }
    }
}

/// The body's end was reached while draining: reuse when clean.
fn finish(conn: Connection<Draining>, ex: Exchange) {
    let reason = ex.close_reason();
    let Exchange { buf: b, hint, .. } = ex;
    buf::give(b);
    // With a recycler (checked before draining) `after_end` hands the connection on.
    drop(after_end(conn.on_drained(reason.is_none()), hint, reason));
}

/// Gives up: closes the connection.
fn close(conn: Connection<Draining>) {
    let mut closed = conn.on_error();
    closed.inner.set_close_reason(CloseReason::BodyDropped);
}
