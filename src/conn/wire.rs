//! The two I/O primitives every state uses: read some bytes into the exchange buffer, and
//! write a list of slices completely; each wait bounded by a [`Deadline`] (a timer exists
//! only when a limit is configured and the call actually has to wait).

use std::future::{poll_fn, Future};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::BytesMut;

use crate::error::{Error, Kind, Phase};
use crate::rt::net::AsyncStream;
use crate::rt::time::{sleep_until, Sleep};

use super::io::{ConnIo, Transport};

/// Below this much spare room a read first reserves a whole read buffer.
pub(crate) const MIN_READ_ROOM: usize = 2 * 1024;

/// Why an I/O call failed.
#[derive(Debug)]
pub(crate) enum IoFail {
    /// The OS said so.
    Io(io::Error),
    /// The configured timeout passed without progress.
    TimedOut,
}

/// The longest timeout honoured: longer ones (up to `Duration::MAX`) mean "practically
/// never" and are cut to this, so that `Instant + timeout` cannot overflow.
pub(crate) const MAX_TIMEOUT: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `d`, at most [`MAX_TIMEOUT`].
pub(crate) fn clamp(d: Duration) -> Duration {
    d.min(MAX_TIMEOUT)
}

/// Makes sure `buf` has room for a useful read.
pub(crate) fn make_room(buf: &mut BytesMut, read_size: usize) {
    if buf.capacity() - buf.len() < MIN_READ_ROOM {
        buf.reserve(read_size.max(MIN_READ_ROOM));
    }
}

/// Reads once into the exchange buffer (taken only once the socket is readable, see
/// [`ConnIo::poll_read`]), waiting at most `limit`; `Ok(0)` is end of stream.
pub(crate) fn read_some(io: &mut ConnIo, limit: Option<Duration>) -> ReadSome<'_> {
    ReadSome {
        io,
        pending: false,
        deadline: Deadline::new(limit),
    }
}

/// The future of [`read_some`]: removes its read waiter when dropped while waiting (a timeout
/// or a cancelled request), like the stream futures of [`crate::rt::net`].
pub(crate) struct ReadSome<'a> {
    /// The connection read from.
    io: &'a mut ConnIo,
    /// Whether the last poll returned `Pending` (its waker is in the read slot).
    pending: bool,
    /// The bound on the wait.
    deadline: Deadline,
}

impl Future for ReadSome<'_> {
    type Output = Result<usize, IoFail>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<usize, IoFail>> {
        let this = self.get_mut();
        let poll = this.io.poll_read(cx, usize::MAX);
        this.pending = poll.is_pending();
        match poll {
            Poll::Ready(read) => Poll::Ready(read.map(|(n, _room)| n).map_err(IoFail::Io)),
            Poll::Pending => this.deadline.poll_timed_out(cx),
        }
    }
}

impl Drop for ReadSome<'_> {
    fn drop(&mut self) {
        if self.pending {
            self.io.transport.drop_waiter(false);
        }
    }
}

/// Writes every byte of `slices` (advancing them), each wait for the socket bounded by
/// `limit` (progress starts a fresh one).
pub(crate) fn write_all<'a>(
    t: &'a mut Transport,
    mut slices: &'a mut [IoSlice<'a>],
    limit: Option<Duration>,
) -> impl Future<Output = Result<(), IoFail>> + 'a {
    IoSlice::advance_slices(&mut slices, 0);
    let mut deadline = Deadline::new(limit);
    poll_fn(move |cx| loop {
        if slices.is_empty() {
            return Poll::Ready(Ok(()));
        }
        match t.poll_write_vectored(cx, slices) {
            Poll::Ready(Ok(0)) => {
                return Poll::Ready(Err(IoFail::Io(io::ErrorKind::WriteZero.into())))
            }
            Poll::Ready(Ok(n)) => {
                IoSlice::advance_slices(&mut slices, n);
                deadline.reset();
            }
            Poll::Ready(Err(e)) => return Poll::Ready(Err(IoFail::Io(e))),
            Poll::Pending => return deadline.poll_timed_out(cx),
        }
    })
}

/// Whether an I/O error means the peer closed the connection.
pub(crate) fn is_peer_close(err: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        err.kind(),
        ConnectionReset | BrokenPipe | ConnectionAborted | UnexpectedEof | NotConnected
    )
}

/// The user's error for a failed write: a peer close before any response byte is
/// [`Kind::ClosedBeforeResponse`] (retry-safe), a timeout [`Kind::WriteTimeout`].
pub(crate) fn write_error(fail: IoFail) -> Error {
    match fail {
        IoFail::TimedOut => Error::new(Kind::WriteTimeout, Phase::Write),
        IoFail::Io(e) if is_peer_close(&e) => {
            Error::new(Kind::ClosedBeforeResponse, Phase::Write).with_source(e)
        }
        IoFail::Io(e) => Error::io(e, Phase::Write),
    }
}

/// The user's error for a failed read in `phase`; `closed` is the error a peer close means
/// at this point (the parser's or the decoder's verdict).
pub(crate) fn read_error(fail: IoFail, phase: Phase, closed: impl FnOnce() -> Error) -> Error {
    match fail {
        IoFail::TimedOut => Error::new(Kind::ReadTimeout, phase),
        IoFail::Io(e) if is_peer_close(&e) => closed().with_source(e),
        IoFail::Io(e) => Error::io(e, phase),
    }
}

/// A per-wait deadline: a timer exists only while a read or write is actually waiting and a
/// limit is configured; progress drops it. A whole-request deadline (`until`), when set, caps
/// every wait: the timer runs to the earlier of `now + limit` and `until`. With neither set no
/// timer is made and no clock is read.
#[derive(Debug, Default)]
pub(crate) struct Deadline {
    /// The per-wait limit; `None` never expires.
    limit: Option<Duration>,
    /// The whole request's deadline; `None`: only `limit` applies.
    until: Option<Instant>,
    /// The running timer of the current wait.
    sleep: Option<Sleep>,
}

/// Which bound a waiting read ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expired {
    /// The per-wait read timeout.
    Read,
    /// The whole request's deadline.
    Request,
}

impl Expired {
    /// The error kind users see for it.
    pub(crate) fn kind(self) -> Kind {
        match self {
            Expired::Read => Kind::ReadTimeout,
            Expired::Request => Kind::Timeout,
        }
    }
}

impl Deadline {
    /// A deadline of `limit` per wait.
    pub(crate) fn new(limit: Option<Duration>) -> Deadline {
        Deadline::capped(limit, None)
    }

    /// A deadline of `limit` per wait, never later than `until`.
    pub(crate) fn capped(limit: Option<Duration>, until: Option<Instant>) -> Deadline {
        Deadline {
            limit,
            until,
            sleep: None,
        }
    }

    /// The last read made progress: the next wait starts a fresh timer.
    pub(crate) fn reset(&mut self) {
        self.sleep = None;
    }

    /// Called when a read returned `Pending`: starts the timer if needed and says which bound
    /// has run out, if one has (its waker is registered otherwise).
    pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>) -> Option<Expired> {
        let (limit, until) = (self.limit, self.until);
        if limit.is_none() && until.is_none() {
            return None;
        }
        let sleep = self.sleep.get_or_insert_with(|| {
            let per_wait = limit.map(|l| Instant::now() + clamp(l));
            let at = match (per_wait, until) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b).unwrap_or_else(Instant::now),
            };
            sleep_until(at)
        });
        if Pin::new(&mut *sleep).poll(cx).is_pending() {
            return None;
        }
        match until {
            Some(until) if sleep.deadline() >= until => Some(Expired::Request),
            _ => Some(Expired::Read),
        }
    }

    /// [`poll_expired`](Self::poll_expired) for an I/O call that returned `Pending`.
    fn poll_timed_out<T>(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, IoFail>> {
        match self.poll_expired(cx) {
            Some(_) => Poll::Ready(Err(IoFail::TimedOut)),
            None => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Polls `d` until a bound runs out.
    fn expiry(mut d: Deadline) -> Expired {
        crate::rt::block_on(poll_fn(|cx| match d.poll_expired(cx) {
            Some(e) => std::task::Poll::Ready(e),
            None => std::task::Poll::Pending,
        }))
    }

    #[test]
    fn the_earlier_bound_decides_which_timeout_it_is() {
        let far = Instant::now() + Duration::from_secs(3600);
        let near = Instant::now() + Duration::from_millis(1);
        let per_wait = Deadline::capped(Some(Duration::from_millis(1)), Some(far));
        assert_eq!(expiry(per_wait), Expired::Read);
        let whole = Deadline::capped(Some(Duration::from_secs(3600)), Some(near));
        assert_eq!(expiry(whole), Expired::Request);
        assert_eq!(expiry(Deadline::capped(None, Some(near))), Expired::Request);
    }

    #[test]
    fn no_bound_makes_no_timer() {
        let mut d = Deadline::new(None);
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        assert_eq!(d.poll_expired(&mut cx), None);
        assert!(d.sleep.is_none());
    }
}
