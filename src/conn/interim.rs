//! Interim connection typestate, shaped like the generator's output (`Connection<S, T>`,
//! uninhabited state markers, one `on_<event>` per legal transition, enums for branches).
//! It is replaced by `crate::generated::connection` as soon as the model lands; the I/O code
//! calls only these transitions, so the swap is one `use` line in `conn/mod.rs`.

#![allow(dead_code)]

use core::marker::PhantomData;

/// The state markers: uninhabited, so nothing can construct them.
pub mod state {
    /// Connecting to the origin.
    #[derive(Debug)]
    pub enum Connecting {}
    /// Connected, no exchange in flight.
    #[derive(Debug)]
    pub enum Idle {}
    /// Writing the request head.
    #[derive(Debug)]
    pub enum WritingHead {}
    /// Head sent with `Expect: 100-continue`; the body waits for a 100 or a timer.
    #[derive(Debug)]
    pub enum AwaitingContinue {}
    /// Writing the request body.
    #[derive(Debug)]
    pub enum WritingBody {}
    /// Request sent; reading the response head (1xx included).
    #[derive(Debug)]
    pub enum AwaitingHead {}
    /// Reading the response body.
    #[derive(Debug)]
    pub enum ReadingBody {}
    /// The body was dropped unread: discarding the rest, bounded.
    #[derive(Debug)]
    pub enum Draining {}
    /// 101 Switching Protocols: HTTP is over, the transport belongs to the caller.
    #[derive(Debug)]
    pub enum Upgraded {}
    /// Closed; never reused.
    #[derive(Debug)]
    pub enum Closed {}
}

use state::*;

/// A connection whose lifecycle state is the type `S`; `T` is the I/O part.
#[derive(Debug)]
pub struct Connection<S, T> {
    /// The hand-written I/O part.
    pub(crate) inner: T,
    /// `fn() -> S`: the marker is never stored.
    _state: PhantomData<fn() -> S>,
}

fn retag<N, T>(inner: T) -> Connection<N, T> {
    Connection {
        inner,
        _state: PhantomData,
    }
}

impl<T> Connection<Connecting, T> {
    /// A new connection in `connecting`.
    pub(crate) fn new(inner: T) -> Self {
        retag(inner)
    }
    /// `connecting --connected--> idle`
    pub fn on_connected(self) -> Connection<Idle, T> {
        retag(self.inner)
    }
}

impl<T> Connection<Idle, T> {
    /// `idle --send--> writing_head`
    pub fn on_send(self) -> Connection<WritingHead, T> {
        retag(self.inner)
    }
    /// `idle --close--> closed`
    pub fn on_close(self) -> Connection<Closed, T> {
        retag(self.inner)
    }
}

/// The typed outcomes of `writing_head --head_sent-->`.
#[derive(Debug)]
pub enum HeadSent<T> {
    /// Now `writing_body`.
    WritingBody(Connection<WritingBody, T>),
    /// Now `awaiting_continue`.
    AwaitingContinue(Connection<AwaitingContinue, T>),
    /// Now `awaiting_head`.
    AwaitingHead(Connection<AwaitingHead, T>),
}

impl<T> Connection<WritingHead, T> {
    /// `writing_head --head_sent--> writing_body | awaiting_continue | awaiting_head`
    pub fn on_head_sent(self, expect_continue: bool, has_body: bool) -> HeadSent<T> {
        match (has_body, expect_continue) {
            (false, _) => HeadSent::AwaitingHead(retag(self.inner)),
            (true, true) => HeadSent::AwaitingContinue(retag(self.inner)),
            (true, false) => HeadSent::WritingBody(retag(self.inner)),
        }
    }
    /// `writing_head --error--> closed`
    pub fn on_error(self) -> Connection<Closed, T> {
        retag(self.inner)
    }
}

impl<T> Connection<AwaitingContinue, T> {
    /// `awaiting_continue --continue--> writing_body`
    pub fn on_continue(self) -> Connection<WritingBody, T> {
        retag(self.inner)
    }
    /// `awaiting_continue --final_head--> reading_body` (must close: the body was not sent)
    pub fn on_final_head(self) -> Connection<ReadingBody, T> {
        retag(self.inner)
    }
    /// `awaiting_continue --upgrade--> upgraded`
    pub fn on_upgrade(self) -> Connection<Upgraded, T> {
        retag(self.inner)
    }
    /// `awaiting_continue --error--> closed`
    pub fn on_error(self) -> Connection<Closed, T> {
        retag(self.inner)
    }
}

impl<T> Connection<WritingBody, T> {
    /// `writing_body --body_sent--> awaiting_head`
    pub fn on_body_sent(self) -> Connection<AwaitingHead, T> {
        retag(self.inner)
    }
    /// `writing_body --error--> closed`
    pub fn on_error(self) -> Connection<Closed, T> {
        retag(self.inner)
    }
}

impl<T> Connection<AwaitingHead, T> {
    /// `awaiting_head --interim--> awaiting_head`
    pub fn on_interim(self) -> Connection<AwaitingHead, T> {
        retag(self.inner)
    }
    /// `awaiting_head --final_head--> reading_body`
    pub fn on_final_head(self, keep_alive: bool) -> Connection<ReadingBody, T> {
        let _ = keep_alive;
        retag(self.inner)
    }
    /// `awaiting_head --upgrade--> upgraded`
    pub fn on_upgrade(self) -> Connection<Upgraded, T> {
        retag(self.inner)
    }
    /// `awaiting_head --error--> closed`
    pub fn on_error(self) -> Connection<Closed, T> {
        retag(self.inner)
    }
}

/// The typed outcomes of `reading_body --body_end-->` and `draining --drained-->`.
#[derive(Debug)]
pub enum BodyEnd<T> {
    /// Now `idle`.
    Idle(Connection<Idle, T>),
    /// Now `closed`.
    Closed(Connection<Closed, T>),
}

impl<T> Connection<ReadingBody, T> {
    /// `reading_body --body_end--> idle | closed`
    pub fn on_body_end(self, clean: bool) -> BodyEnd<T> {
        match clean {
            true => BodyEnd::Idle(retag(self.inner)),
            false => BodyEnd::Closed(retag(self.inner)),
        }
    }
    /// `reading_body --body_dropped--> draining`
    pub fn on_body_dropped(self) -> Connection<Draining, T> {
        retag(self.inner)
    }
    /// `reading_body --error--> closed`
    pub fn on_error(self) -> Connection<Closed, T> {
        retag(self.inner)
    }
}

impl<T> Connection<Draining, T> {
    /// `draining --drained--> idle | closed`
    pub fn on_drained(self, clean: bool) -> BodyEnd<T> {
        match clean {
            true => BodyEnd::Idle(retag(self.inner)),
            false => BodyEnd::Closed(retag(self.inner)),
        }
    }
    /// `draining --error--> closed`
    pub fn on_error(self) -> Connection<Closed, T> {
        retag(self.inner)
    }
}

impl<T> Connection<Upgraded, T> {
    /// The I/O part, out of the finished machine.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T> Connection<Closed, T> {
    /// The I/O part, out of the finished machine.
    pub fn into_inner(self) -> T {
        self.inner
    }
}
