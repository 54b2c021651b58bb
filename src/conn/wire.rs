//! The two I/O primitives every state uses: read some bytes into the exchange buffer, and
//! write a list of slices completely; each bounded by an optional per-call timeout (a timer
//! exists only when one is configured and the call actually has to wait).

use std::future::{poll_fn, Future};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::BytesMut;

use crate::error::{Error, Kind, Phase};
use crate::rt::net::AsyncStream;
use crate::rt::time::{sleep, Elapsed, Sleep};

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

impl From<Elapsed> for IoFail {
    fn from(_: Elapsed) -> IoFail {
        IoFail::TimedOut
    }
}

/// The longest timeout honoured: longer ones (up to `Duration::MAX`) mean "practically
/// never" and are cut to this, so that `Instant + timeout` cannot overflow.
pub(crate) const MAX_TIMEOUT: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `d`, at most [`MAX_TIMEOUT`].
pub(crate) fn clamp(d: Duration) -> Duration {
    d.min(MAX_TIMEOUT)
}

/// `f`, bounded by `limit` when there is one (the timer starts now).
///
/// A plain future rather than an `async fn` choosing between `f` and `timeout(f)`: that one
/// stored `f` twice, in every request future waiting on a read or a write.
pub(crate) fn bounded<F>(limit: Option<Duration>, f: F) -> Bounded<F> {
    Bounded {
        f,
        sleep: limit.map(|d| sleep(clamp(d))),
    }
}

/// The future of [`bounded`]: an I/O call that fails with [`IoFail::TimedOut`] once its
/// timer (if any) fires first. Dropping it drops the call's future and the timer.
pub(crate) struct Bounded<F> {
    /// The I/O call (`Unpin`: it only borrows the connection).
    f: F,
    /// The timer; `None` without a limit.
    sleep: Option<Sleep>,
}

impl<T, F: Future<Output = io::Result<T>> + Unpin> Future for Bounded<F> {
    type Output = Result<T, IoFail>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, IoFail>> {
        let this = &mut *self;
        if let Poll::Ready(out) = Pin::new(&mut this.f).poll(cx) {
            return Poll::Ready(out.map_err(IoFail::Io));
        }
        match &mut this.sleep {
            Some(sleep) => Pin::new(sleep).poll(cx).map(|()| Err(IoFail::TimedOut)),
            None => Poll::Pending,
        }
    }
}

/// Makes sure `buf` has room for a useful read.
pub(crate) fn make_room(buf: &mut BytesMut, read_size: usize) {
    if buf.capacity() - buf.len() < MIN_READ_ROOM {
        buf.reserve(read_size.max(MIN_READ_ROOM));
    }
}

/// Reads once into the exchange buffer (taken only once the socket is readable, see
/// [`ConnIo::poll_read`]), bounded by `limit`; `Ok(0)` is end of stream.
pub(crate) fn read_some(io: &mut ConnIo, limit: Option<Duration>) -> Bounded<ReadSome<'_>> {
    bounded(limit, ReadSome { io, pending: false })
}

/// The future of [`read_some`]: removes its read waiter when dropped while waiting (a timeout
/// or a cancelled request), like the stream futures of [`crate::rt::net`].
pub(crate) struct ReadSome<'a> {
    /// The connection read from.
    io: &'a mut ConnIo,
    /// Whether the last poll returned `Pending` (its waker is in the read slot).
    pending: bool,
}

impl Future for ReadSome<'_> {
    type Output = io::Result<usize>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = this.io.poll_read(cx, usize::MAX);
        this.pending = poll.is_pending();
        poll.map(|read| read.map(|(n, _room)| n))
    }
}

impl Drop for ReadSome<'_> {
    fn drop(&mut self) {
        if self.pending {
            self.io.transport.drop_waiter(false);
        }
    }
}

/// Writes every byte of `slices` (advancing them), each write call bounded by `limit`.
pub(crate) async fn write_all(
    t: &mut Transport,
    mut slices: &mut [IoSlice<'_>],
    limit: Option<Duration>,
) -> Result<(), IoFail> {
    IoSlice::advance_slices(&mut slices, 0);
    while !slices.is_empty() {
        let write = poll_fn(|cx| t.poll_write_vectored(cx, slices));
        let n = bounded(limit, write).await?;
        if n == 0 {
            return Err(IoFail::Io(io::ErrorKind::WriteZero.into()));
        }
        IoSlice::advance_slices(&mut slices, n);
    }
    Ok(())
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

/// A per-wait read deadline: a timer exists only while a read is actually waiting and a
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
    sleep: Option<crate::rt::time::Sleep>,
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
    pub(crate) fn poll_expired(&mut self, cx: &mut std::task::Context<'_>) -> Option<Expired> {
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
            crate::rt::time::sleep_until(at)
        });
        if std::pin::Pin::new(&mut *sleep).poll(cx).is_pending() {
            return None;
        }
        match until {
            Some(until) if sleep.deadline() >= until => Some(Expired::Request),
            _ => Some(Expired::Read),
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
