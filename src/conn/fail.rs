//! Leaving an active state on a failure: which model event an error is (`peer_close`,
//! `reset` or `error`), and one `abort` per active state that takes it.

use std::io;

use super::io::Meta;
use super::state::{AwaitingHead, Closed, Draining, Idle, ReadingBody, WritingBody, WritingHead};
use super::{CloseReason, Gen};
use crate::error::{Error, Kind};

/// The model event a failure is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Failure {
    /// End of stream where the protocol did not expect it.
    PeerClose,
    /// The peer reset the connection.
    Reset,
    /// Any other I/O, protocol or timeout error.
    Error,
}

impl Failure {
    /// Classifies `err`.
    pub(super) fn of(err: &Error) -> Failure {
        let reset = std::error::Error::source(err)
            .and_then(|s| s.downcast_ref::<io::Error>())
            .is_some_and(|e| e.kind() == io::ErrorKind::ConnectionReset);
        match err.kind() {
            _ if reset => Failure::Reset,
            Kind::ClosedBeforeResponse | Kind::ClosedMidResponse | Kind::BodyIncomplete => {
                Failure::PeerClose
            }
            _ => Failure::Error,
        }
    }
}

/// A state that a failure closes.
pub(super) trait Abort: Sized {
    /// Takes the failure's transition to `closed`.
    fn abort(self, failure: Failure) -> Gen<Closed>;

    /// The I/O part.
    fn io(&self) -> &super::ConnIo;

    /// Closes on `err`, telling the recycler why; returns `err` with the request's URL (and
    /// its head, when the sender asked for it back and `err` is retry-safe).
    fn close_on(self, err: Error) -> Error {
        let err = self.io().with_url(err);
        let closed = self.abort(Failure::of(&err));
        closed_by(closed, err)
    }
}

/// Ends the exchange of a connection that `err` (with its URL) closed; returns `err`, with
/// the request's head when the sender asked for it back and `err` is retry-safe.
pub(super) fn closed_by(mut closed: Gen<Closed>, err: Error) -> Error {
    let err = hand_back_request(&mut closed.inner.m, err);
    closed.inner.close_exchange(CloseReason::Error(err.kind()));
    err
}

/// Moves the request's head into `err` when the sender asked for it back and `err` says no
/// response byte arrived ([`Error::is_retry_safe`]): the server never began to answer.
fn hand_back_request(m: &mut Meta, err: Error) -> Error {
    if !(m.return_request && err.is_retry_safe()) {
        return err;
    }
    match m.req.take() {
        Some(head) => err.with_request_head(head),
        None => err,
    }
}

macro_rules! abort_from {
    ($($state:ty),*) => {$(
        impl Abort for Gen<$state> {
            fn io(&self) -> &super::ConnIo {
                &self.inner
            }

            fn abort(self, failure: Failure) -> Gen<Closed> {
                match failure {
                    Failure::PeerClose => self.on_peer_close(),
                    Failure::Reset => self.on_reset(),
                    Failure::Error => self.on_error(),
                }
            }
        }
    )*};
}

abort_from!(
    Idle,
    WritingHead,
    WritingBody,
    AwaitingHead,
    ReadingBody,
    Draining
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Phase;

    #[test]
    fn failures_are_classified_as_the_model_names_them() {
        let eof = Error::new(Kind::ClosedBeforeResponse, Phase::ReadHead);
        assert_eq!(Failure::of(&eof), Failure::PeerClose);
        let short = Error::new(Kind::BodyIncomplete, Phase::ReadBody);
        assert_eq!(Failure::of(&short), Failure::PeerClose);
        let reset = Error::new(Kind::ClosedBeforeResponse, Phase::ReadHead)
            .with_source(io::Error::from(io::ErrorKind::ConnectionReset));
        assert_eq!(Failure::of(&reset), Failure::Reset);
        let timeout = Error::new(Kind::ReadTimeout, Phase::ReadBody);
        assert_eq!(Failure::of(&timeout), Failure::Error);
    }
}
