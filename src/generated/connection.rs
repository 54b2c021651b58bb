//! HTTP/1.1 connection lifecycle: the reference model and the typestate.
//!
//! Generated from `model/connection.toml` by `model/generate`; do not edit.
//!
//! One HTTP/1.1 connection over one stream: connecting, then idle ⇄ active (writing the head,
//! writing the body, awaiting the head including 1xx interim responses, reading the body) and
//! back to idle only when both the request and the response are complete and neither side asked
//! to close; otherwise closed. A response body dropped early is drained within a bound before
//! reuse (`draining`). 101 Switching Protocols ends the HTTP machine (`upgraded`). Peer close,
//! reset, hang-up, errors and cancellation are events in every live state and all lead to
//! `closed`, as does an explicit `close`.
//!
//! The transition table and state diagram are in the [model reference](super).
//!
//! # Typestate
//!
//! [`Connection<S, T>`](Connection) carries its state `S` as a type: one of the uninhabited markers in
//! [`state`], which nothing can construct. `T` is the hand-written I/O part. Each legal
//! (state, event) of the model is one `on_<event>` method that consumes the connection and
//! returns it in its next state; where the model branches (on its variables or the event's
//! arguments) the method returns an enum of typed next states. Every transition is reported to
//! [`crate::trace`]. The methods are public so that the doctests below exercise them; the
//! only constructor is crate-private, so a `Connection` exists only where weir made one.
//!
//! Every legal transition compiles:
//!
//! ```
//! use weir::generated::connection::{state, Connection, Framing};
//! fn t0<T>(c: Connection<state::Connecting, T>) { let _ = c.on_connected(); }
//! fn t1<T>(c: Connection<state::Connecting, T>) { let _ = c.on_connect_failed(); }
//! fn t2<T>(c: Connection<state::Idle, T>) { let _ = c.on_send(false); }
//! fn t3<T>(c: Connection<state::Idle, T>) { let _ = c.on_idle_expired(); }
//! fn t4<T>(c: Connection<state::WritingHead, T>) { let _ = c.on_head_written(); }
//! fn t5<T>(c: Connection<state::WritingBody, T>) { let _ = c.on_body_written(); }
//! fn t6<T>(c: Connection<state::WritingBody, T>) { let _ = c.on_interim(); }
//! fn t7<T>(c: Connection<state::AwaitingHead, T>) { let _ = c.on_interim(); }
//! fn t8<T>(c: Connection<state::AwaitingHead, T>) { let _ = c.on_final_head(Framing::None, false, false, false, false); }
//! fn t9<T>(c: Connection<state::WritingBody, T>) { let _ = c.on_final_head(Framing::None, false, false, false, false); }
//! fn t10<T>(c: Connection<state::WritingBody, T>) { let _ = c.on_upgrade(); }
//! fn t11<T>(c: Connection<state::AwaitingHead, T>) { let _ = c.on_upgrade(); }
//! fn t12<T>(c: Connection<state::ReadingBody, T>) { let _ = c.on_body_done(); }
//! fn t13<T>(c: Connection<state::ReadingBody, T>) { let _ = c.on_body_dropped(); }
//! fn t14<T>(c: Connection<state::Draining, T>) { let _ = c.on_drain_done(); }
//! fn t15<T>(c: Connection<state::Draining, T>) { let _ = c.on_drain_exceeded(); }
//! fn t16<T>(c: Connection<state::Idle, T>) { let _ = c.on_peer_close(); }
//! fn t17<T>(c: Connection<state::WritingHead, T>) { let _ = c.on_peer_close(); }
//! fn t18<T>(c: Connection<state::WritingBody, T>) { let _ = c.on_peer_close(); }
//! fn t19<T>(c: Connection<state::AwaitingHead, T>) { let _ = c.on_peer_close(); }
//! fn t20<T>(c: Connection<state::ReadingBody, T>) { let _ = c.on_peer_close(); }
//! fn t21<T>(c: Connection<state::Draining, T>) { let _ = c.on_peer_close(); }
//! fn t22<T>(c: Connection<state::Connecting, T>) { let _ = c.on_reset(); }
//! fn t23<T>(c: Connection<state::Idle, T>) { let _ = c.on_reset(); }
//! fn t24<T>(c: Connection<state::WritingHead, T>) { let _ = c.on_reset(); }
//! fn t25<T>(c: Connection<state::WritingBody, T>) { let _ = c.on_reset(); }
//! fn t26<T>(c: Connection<state::AwaitingHead, T>) { let _ = c.on_reset(); }
//! fn t27<T>(c: Connection<state::ReadingBody, T>) { let _ = c.on_reset(); }
//! fn t28<T>(c: Connection<state::Draining, T>) { let _ = c.on_reset(); }
//! fn t29<T>(c: Connection<state::Connecting, T>) { let _ = c.on_hang_up(); }
//! fn t30<T>(c: Connection<state::Idle, T>) { let _ = c.on_hang_up(); }
//! fn t31<T>(c: Connection<state::WritingHead, T>) { let _ = c.on_hang_up(); }
//! fn t32<T>(c: Connection<state::WritingBody, T>) { let _ = c.on_hang_up(); }
//! fn t33<T>(c: Connection<state::AwaitingHead, T>) { let _ = c.on_hang_up(); }
//! fn t34<T>(c: Connection<state::ReadingBody, T>) { let _ = c.on_hang_up(); }
//! fn t35<T>(c: Connection<state::Draining, T>) { let _ = c.on_hang_up(); }
//! fn t36<T>(c: Connection<state::Connecting, T>) { let _ = c.on_error(); }
//! fn t37<T>(c: Connection<state::Idle, T>) { let _ = c.on_error(); }
//! fn t38<T>(c: Connection<state::WritingHead, T>) { let _ = c.on_error(); }
//! fn t39<T>(c: Connection<state::WritingBody, T>) { let _ = c.on_error(); }
//! fn t40<T>(c: Connection<state::AwaitingHead, T>) { let _ = c.on_error(); }
//! fn t41<T>(c: Connection<state::ReadingBody, T>) { let _ = c.on_error(); }
//! fn t42<T>(c: Connection<state::Draining, T>) { let _ = c.on_error(); }
//! fn t43<T>(c: Connection<state::Connecting, T>) { let _ = c.on_cancel(); }
//! fn t44<T>(c: Connection<state::WritingHead, T>) { let _ = c.on_cancel(); }
//! fn t45<T>(c: Connection<state::WritingBody, T>) { let _ = c.on_cancel(); }
//! fn t46<T>(c: Connection<state::AwaitingHead, T>) { let _ = c.on_cancel(); }
//! fn t47<T>(c: Connection<state::ReadingBody, T>) { let _ = c.on_cancel(); }
//! fn t48<T>(c: Connection<state::Draining, T>) { let _ = c.on_cancel(); }
//! fn t49<T>(c: Connection<state::Connecting, T>) { let _ = c.on_close(); }
//! fn t50<T>(c: Connection<state::Idle, T>) { let _ = c.on_close(); }
//! fn t51<T>(c: Connection<state::WritingHead, T>) { let _ = c.on_close(); }
//! fn t52<T>(c: Connection<state::WritingBody, T>) { let _ = c.on_close(); }
//! fn t53<T>(c: Connection<state::AwaitingHead, T>) { let _ = c.on_close(); }
//! fn t54<T>(c: Connection<state::ReadingBody, T>) { let _ = c.on_close(); }
//! fn t55<T>(c: Connection<state::Draining, T>) { let _ = c.on_close(); }
//! ```
//!
//! ## Illegal transitions do not compile
//!
//! Sending on an active connection (writing the request head):
//!
//! ```compile_fail,E0599
//! use weir::generated::connection::{state, Connection, Framing};
//! fn f<T>(c: Connection<state::WritingHead, T>) { let _ = c.on_send(false); }
//! ```
//!
//! Sending on an active connection (writing the request body):
//!
//! ```compile_fail,E0599
//! use weir::generated::connection::{state, Connection, Framing};
//! fn f<T>(c: Connection<state::WritingBody, T>) { let _ = c.on_send(false); }
//! ```
//!
//! Sending a second request while the first awaits its response:
//!
//! ```compile_fail,E0599
//! use weir::generated::connection::{state, Connection, Framing};
//! fn f<T>(c: Connection<state::AwaitingHead, T>) { let _ = c.on_send(false); }
//! ```
//!
//! Sending while the response body is unread:
//!
//! ```compile_fail,E0599
//! use weir::generated::connection::{state, Connection, Framing};
//! fn f<T>(c: Connection<state::ReadingBody, T>) { let _ = c.on_send(false); }
//! ```
//!
//! Sending while the previous body drains:
//!
//! ```compile_fail,E0599
//! use weir::generated::connection::{state, Connection, Framing};
//! fn f<T>(c: Connection<state::Draining, T>) { let _ = c.on_send(false); }
//! ```
//!
//! Sending before the connection is established:
//!
//! ```compile_fail,E0599
//! use weir::generated::connection::{state, Connection, Framing};
//! fn f<T>(c: Connection<state::Connecting, T>) { let _ = c.on_send(false); }
//! ```
//!
//! Returning a connection with an unread body to the pool (which only takes `Connection<Idle, _>`):
//!
//! ```compile_fail,E0308
//! use weir::generated::connection::{state, Connection, Framing};
//! fn expects<T>(c: Connection<state::Idle, T>) { drop(c) }
//! fn f<T>(c: Connection<state::ReadingBody, T>) { expects(c) }
//! ```
//!
//! Returning a draining connection to the pool:
//!
//! ```compile_fail,E0308
//! use weir::generated::connection::{state, Connection, Framing};
//! fn expects<T>(c: Connection<state::Idle, T>) { drop(c) }
//! fn f<T>(c: Connection<state::Draining, T>) { expects(c) }
//! ```
//!
//! Skipping the drain: an unread body cannot be declared drained:
//!
//! ```compile_fail,E0599
//! use weir::generated::connection::{state, Connection, Framing};
//! fn f<T>(c: Connection<state::ReadingBody, T>) { let _ = c.on_drain_done(); }
//! ```
//!
//! Taking a response before the request head is written:
//!
//! ```compile_fail,E0599
//! use weir::generated::connection::{state, Connection, Framing};
//! fn f<T>(c: Connection<state::WritingHead, T>) { let _ = c.on_final_head(Framing::None, false, false, false, false); }
//! ```
//!
//! Using a closed connection: sending:
//!
//! ```compile_fail,E0599
//! use weir::generated::connection::{state, Connection, Framing};
//! fn f<T>(c: Connection<state::Closed, T>) { let _ = c.on_send(false); }
//! ```
//!
//! Using a closed connection: returning it to the pool:
//!
//! ```compile_fail,E0308
//! use weir::generated::connection::{state, Connection, Framing};
//! fn expects<T>(c: Connection<state::Idle, T>) { drop(c) }
//! fn f<T>(c: Connection<state::Closed, T>) { expects(c) }
//! ```
//!
//! Using a closed connection: closing it twice:
//!
//! ```compile_fail,E0599
//! use weir::generated::connection::{state, Connection, Framing};
//! fn f<T>(c: Connection<state::Closed, T>) { let _ = c.on_close(); }
//! ```
//!
//! Using an upgraded connection for HTTP:
//!
//! ```compile_fail,E0599
//! use weir::generated::connection::{state, Connection, Framing};
//! fn f<T>(c: Connection<state::Upgraded, T>) { let _ = c.on_send(false); }
//! ```
//!
#![allow(
    unused_parens,
    unused_mut,
    unused_variables,
    unused_imports,
    unreachable_patterns,
    clippy::all
)]

use core::fmt;

/// The machine's name in traces.
pub const MACHINE: &str = "connection";

/// Model constant `MAX_INTERIM`.
pub const MAX_INTERIM: i32 = 3;

/// How the response body is delimited (RFC 9112 §6.3): none (HEAD, 1xx, 204, 304), Content-Length, chunked, or read to EOF.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Framing {
    /// `none`
    None,
    /// `length`
    Length,
    /// `chunked`
    Chunked,
    /// `close_delimited`
    CloseDelimited,
}

impl Framing {
    /// Every value, in declaration order.
    pub const ALL: [Framing; 4] = [
        Framing::None,
        Framing::Length,
        Framing::Chunked,
        Framing::CloseDelimited,
    ];
}

/// The control states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// The stream is being connected.
    Connecting,
    /// Connected, no exchange in flight, clean: the only state that may send a request (and the only one the pool holds).
    Idle,
    /// The request head is being written.
    WritingHead,
    /// The request body is being written (or, with Expect: 100-continue, about to be).
    WritingBody,
    /// The request is written; waiting for the response head (1xx interim responses are skipped).
    AwaitingHead,
    /// The final response head arrived; its body is being read (the body owns the connection).
    ReadingBody,
    /// The body was dropped before its end; the rest is read and discarded within a size and time bound.
    Draining,
    /// 101 Switching Protocols: the raw stream belongs to the caller; the HTTP machine ends.
    Upgraded,
    /// Closed: never reused.
    Closed,
}

impl State {
    /// Every state, in declaration order.
    pub const ALL: [State; 9] = [
        State::Connecting,
        State::Idle,
        State::WritingHead,
        State::WritingBody,
        State::AwaitingHead,
        State::ReadingBody,
        State::Draining,
        State::Upgraded,
        State::Closed,
    ];
    /// The state's name in the model file.
    pub const fn name(self) -> &'static str {
        match self {
            State::Connecting => "connecting",
            State::Idle => "idle",
            State::WritingHead => "writing_head",
            State::WritingBody => "writing_body",
            State::AwaitingHead => "awaiting_head",
            State::ReadingBody => "reading_body",
            State::Draining => "draining",
            State::Upgraded => "upgraded",
            State::Closed => "closed",
        }
    }
    /// Whether no transition leaves this state but self-loops.
    pub const fn is_terminal(self) -> bool {
        match self {
            State::Connecting => false,
            State::Idle => false,
            State::WritingHead => false,
            State::WritingBody => false,
            State::AwaitingHead => false,
            State::ReadingBody => false,
            State::Draining => false,
            State::Upgraded => true,
            State::Closed => true,
        }
    }
}

/// The model variables (proof-only ghost variables are left out).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Vars {
    /// The request in flight has a body.
    pub has_body: bool,
    /// The keep-alive rules allow reuse once the response body is done (decided at the final head).
    pub reuse: bool,
    /// 1xx interim responses seen in this exchange.
    pub interims: i32,
}

impl Vars {
    /// The initial values.
    pub const fn new() -> Vars {
        Vars {
            has_body: false,
            reuse: false,
            interims: 0,
        }
    }
}

/// The events, with their arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// The stream connected.
    Connected,
    /// Connecting failed or timed out.
    ConnectFailed,
    /// Start an exchange with a request.
    Send {
        /// The request has a body.
        body: bool,
    },
    /// The request head was fully written.
    HeadWritten,
    /// The request body was fully written.
    BodyWritten,
    /// A 1xx interim response head (not 101) arrived.
    Interim,
    /// The final response head arrived.
    FinalHead {
        /// The response body's framing.
        framing: Framing,
        /// The request said `Connection: close`.
        req_close: bool,
        /// The response said `Connection: close`.
        resp_close: bool,
        /// The response is HTTP/1.0.
        http10: bool,
        /// The response said `Connection: keep-alive` (matters for HTTP/1.0).
        keep_alive: bool,
    },
    /// A 101 Switching Protocols response arrived.
    Upgrade,
    /// The response body was read to its end (for a close-delimited body: EOF).
    BodyDone,
    /// The response body was dropped before its end.
    BodyDropped,
    /// Draining reached the body's end within the bound.
    DrainDone,
    /// Draining hit its size or time bound.
    DrainExceeded,
    /// The idle timeout (or the server's Keep-Alive hint) expired.
    IdleExpired,
    /// The peer closed (EOF) where the protocol did not expect it.
    PeerClose,
    /// The peer reset the connection.
    Reset,
    /// The reactor saw a hang-up on the socket.
    HangUp,
    /// An I/O, protocol or timeout error.
    Error,
    /// The request future was dropped mid-exchange.
    Cancel,
    /// The owner closes the connection.
    Close,
}

/// The most arguments any event has.
pub const MAX_ARGS: usize = 5;

impl Event {
    /// The event's name in the model file.
    pub const fn name(&self) -> &'static str {
        match self {
            Event::Connected => "connected",
            Event::ConnectFailed => "connect_failed",
            Event::Send { .. } => "send",
            Event::HeadWritten => "head_written",
            Event::BodyWritten => "body_written",
            Event::Interim => "interim",
            Event::FinalHead { .. } => "final_head",
            Event::Upgrade => "upgrade",
            Event::BodyDone => "body_done",
            Event::BodyDropped => "body_dropped",
            Event::DrainDone => "drain_done",
            Event::DrainExceeded => "drain_exceeded",
            Event::IdleExpired => "idle_expired",
            Event::PeerClose => "peer_close",
            Event::Reset => "reset",
            Event::HangUp => "hang_up",
            Event::Error => "error",
            Event::Cancel => "cancel",
            Event::Close => "close",
        }
    }

    /// The arguments as integers, in declaration order, zero-padded (bools as 0/1, enums by
    /// position): what the trace hook reports.
    pub const fn arg_values(&self) -> [i32; MAX_ARGS] {
        let mut out = [0; MAX_ARGS];
        match *self {
            Event::Send { body } => {
                out[0] = body as i32;
            }
            Event::FinalHead {
                framing,
                req_close,
                resp_close,
                http10,
                keep_alive,
            } => {
                out[0] = framing as i32;
                out[1] = req_close as i32;
                out[2] = resp_close as i32;
                out[3] = http10 as i32;
                out[4] = keep_alive as i32;
            }
            _ => {}
        }
        out
    }

    /// The inverse of [`Event::name`] and [`Event::arg_values`] (replaying a trace).
    pub fn decode(name: &str, args: &[i32]) -> Option<Event> {
        let arg = |i: usize| args.get(i).copied().unwrap_or(0);
        let e = match name {
            "connected" => Event::Connected,
            "connect_failed" => Event::ConnectFailed,
            "send" => Event::Send { body: arg(0) != 0 },
            "head_written" => Event::HeadWritten,
            "body_written" => Event::BodyWritten,
            "interim" => Event::Interim,
            "final_head" => Event::FinalHead {
                framing: *Framing::ALL.get(arg(0) as usize)?,
                req_close: arg(1) != 0,
                resp_close: arg(2) != 0,
                http10: arg(3) != 0,
                keep_alive: arg(4) != 0,
            },
            "upgrade" => Event::Upgrade,
            "body_done" => Event::BodyDone,
            "body_dropped" => Event::BodyDropped,
            "drain_done" => Event::DrainDone,
            "drain_exceeded" => Event::DrainExceeded,
            "idle_expired" => Event::IdleExpired,
            "peer_close" => Event::PeerClose,
            "reset" => Event::Reset,
            "hang_up" => Event::HangUp,
            "error" => Event::Error,
            "cancel" => Event::Cancel,
            "close" => Event::Close,
            _ => return None,
        };
        Some(e)
    }

    /// Every event with every argument value (int arguments over their declared range).
    pub fn all() -> Vec<Event> {
        let mut out = Vec::new();
        out.push(Event::Connected);
        out.push(Event::ConnectFailed);
        for body in [false, true] {
            out.push(Event::Send { body });
        }
        out.push(Event::HeadWritten);
        out.push(Event::BodyWritten);
        out.push(Event::Interim);
        for framing in Framing::ALL {
            for req_close in [false, true] {
                for resp_close in [false, true] {
                    for http10 in [false, true] {
                        for keep_alive in [false, true] {
                            out.push(Event::FinalHead {
                                framing,
                                req_close,
                                resp_close,
                                http10,
                                keep_alive,
                            });
                        }
                    }
                }
            }
        }
        out.push(Event::Upgrade);
        out.push(Event::BodyDone);
        out.push(Event::BodyDropped);
        out.push(Event::DrainDone);
        out.push(Event::DrainExceeded);
        out.push(Event::IdleExpired);
        out.push(Event::PeerClose);
        out.push(Event::Reset);
        out.push(Event::HangUp);
        out.push(Event::Error);
        out.push(Event::Cancel);
        out.push(Event::Close);
        out
    }
}

/// What the caller must do besides changing state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Effects {}

impl Effects {
    /// No effect.
    pub const NONE: Effects = Effects {};
}

/// An event the model does not allow in a state (or with these variable values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Illegal {
    /// The state the event arrived in.
    pub state: State,
    /// The refused event.
    pub event: Event,
}

impl fmt::Display for Illegal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "connection: event `{}` is illegal in state `{}`",
            self.event.name(),
            self.state.name()
        )
    }
}

impl std::error::Error for Illegal {}

/// The transition function: the next state, variables and effects, or [`Illegal`].
/// Guards of one (state, event) are tried in model-file order.
pub fn next(state: State, v: Vars, event: Event) -> Result<(State, Vars, Effects), Illegal> {
    let mut v = v;
    let mut fx = Effects::NONE;
    let to = match event {
        Event::Connected => match state {
            State::Connecting => State::Idle,
            _ => return Err(Illegal { state, event }),
        },
        Event::ConnectFailed => match state {
            State::Connecting => State::Closed,
            _ => return Err(Illegal { state, event }),
        },
        Event::Send { body } => match state {
            State::Idle => {
                v.has_body = body;
                v.reuse = false;
                v.interims = 0;
                State::WritingHead
            }
            _ => return Err(Illegal { state, event }),
        },
        Event::HeadWritten => match state {
            State::WritingHead if v.has_body => State::WritingBody,
            State::WritingHead if !(v.has_body) => State::AwaitingHead,
            _ => return Err(Illegal { state, event }),
        },
        Event::BodyWritten => match state {
            State::WritingBody => State::AwaitingHead,
            _ => return Err(Illegal { state, event }),
        },
        Event::Interim => match state {
            state @ (State::WritingBody | State::AwaitingHead) if (v.interims < MAX_INTERIM) => {
                v.interims = (v.interims + 1);
                state
            }
            State::WritingBody | State::AwaitingHead if (v.interims >= MAX_INTERIM) => {
                State::Closed
            }
            _ => return Err(Illegal { state, event }),
        },
        Event::FinalHead {
            framing,
            req_close,
            resp_close,
            http10,
            keep_alive,
        } => match state {
            State::AwaitingHead
                if ((((framing == Framing::None) && !(req_close)) && !(resp_close))
                    && (!(http10) || keep_alive)) =>
            {
                v.reuse = true;
                State::Idle
            }
            State::AwaitingHead
                if ((framing == Framing::None)
                    && ((req_close || resp_close) || (http10 && !(keep_alive)))) =>
            {
                State::Closed
            }
            State::AwaitingHead if (framing != Framing::None) => {
                v.reuse = (((!(req_close) && !(resp_close)) && (!(http10) || keep_alive))
                    && (framing != Framing::CloseDelimited));
                State::ReadingBody
            }
            State::WritingBody => {
                v.reuse = false;
                State::ReadingBody
            }
            _ => return Err(Illegal { state, event }),
        },
        Event::Upgrade => match state {
            State::WritingBody | State::AwaitingHead => State::Upgraded,
            _ => return Err(Illegal { state, event }),
        },
        Event::BodyDone => match state {
            State::ReadingBody if v.reuse => State::Idle,
            State::ReadingBody if !(v.reuse) => State::Closed,
            _ => return Err(Illegal { state, event }),
        },
        Event::BodyDropped => match state {
            State::ReadingBody if v.reuse => State::Draining,
            State::ReadingBody if !(v.reuse) => State::Closed,
            _ => return Err(Illegal { state, event }),
        },
        Event::DrainDone => match state {
            State::Draining => State::Idle,
            _ => return Err(Illegal { state, event }),
        },
        Event::DrainExceeded => match state {
            State::Draining => State::Closed,
            _ => return Err(Illegal { state, event }),
        },
        Event::IdleExpired => match state {
            State::Idle => State::Closed,
            _ => return Err(Illegal { state, event }),
        },
        Event::PeerClose => match state {
            State::Idle
            | State::WritingHead
            | State::WritingBody
            | State::AwaitingHead
            | State::ReadingBody
            | State::Draining => State::Closed,
            _ => return Err(Illegal { state, event }),
        },
        Event::Reset => match state {
            State::Connecting
            | State::Idle
            | State::WritingHead
            | State::WritingBody
            | State::AwaitingHead
            | State::ReadingBody
            | State::Draining => State::Closed,
            _ => return Err(Illegal { state, event }),
        },
        Event::HangUp => match state {
            State::Connecting
            | State::Idle
            | State::WritingHead
            | State::WritingBody
            | State::AwaitingHead
            | State::ReadingBody
            | State::Draining => State::Closed,
            _ => return Err(Illegal { state, event }),
        },
        Event::Error => match state {
            State::Connecting
            | State::Idle
            | State::WritingHead
            | State::WritingBody
            | State::AwaitingHead
            | State::ReadingBody
            | State::Draining => State::Closed,
            _ => return Err(Illegal { state, event }),
        },
        Event::Cancel => match state {
            State::Connecting
            | State::WritingHead
            | State::WritingBody
            | State::AwaitingHead
            | State::ReadingBody
            | State::Draining => State::Closed,
            _ => return Err(Illegal { state, event }),
        },
        Event::Close => match state {
            State::Connecting
            | State::Idle
            | State::WritingHead
            | State::WritingBody
            | State::AwaitingHead
            | State::ReadingBody
            | State::Draining => State::Closed,
            _ => return Err(Illegal { state, event }),
        },
    };
    Ok((to, v, fx))
}

/// The reference model: a control state and the variables.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Model {
    /// The control state.
    pub state: State,
    /// The model variables.
    pub vars: Vars,
}

impl Model {
    /// The initial model.
    pub const fn new() -> Self {
        Model {
            state: State::Connecting,
            vars: Vars::new(),
        }
    }

    /// Applies `event`: the next model, or [`Illegal`] (self is unchanged).
    pub fn step(&self, event: Event) -> Result<Model, Illegal> {
        self.step_effects(event).map(|(m, _)| m)
    }

    /// Like [`Model::step`], also returning the effects.
    pub fn step_effects(&self, event: Event) -> Result<(Model, Effects), Illegal> {
        let (state, vars, fx) = next(self.state, self.vars, event)?;
        Ok((Model { state, vars }, fx))
    }

    /// Applies `event` in place; on [`Illegal`] nothing changes.
    pub fn apply(&mut self, event: Event) -> Result<Effects, Illegal> {
        let (m, fx) = self.step_effects(event)?;
        *self = m;
        Ok(fx)
    }

    /// Whether `event` is allowed now.
    pub fn allows(&self, event: Event) -> bool {
        next(self.state, self.vars, event).is_ok()
    }

    /// Checks the model's invariants that do not involve proof-only ghost variables; the name of
    /// the first one violated.
    pub fn check(&self) -> Result<(), &'static str> {
        let state = self.state;
        let v = self.vars;
        if !(v.interims <= MAX_INTERIM) {
            return Err("interims_bounded");
        }
        Ok(())
    }
}

impl Default for Model {
    /// The initial model with the parameters the proofs use.
    fn default() -> Self {
        Model::new()
    }
}

impl super::support::Reference for Model {
    type Event = Event;
    type Illegal = Illegal;
    fn events() -> Vec<Event> {
        Event::all()
    }
    fn apply(&mut self, event: Event) -> Result<(), Illegal> {
        Model::apply(self, event).map(|_| ())
    }
    fn allows(&self, event: Event) -> bool {
        Model::allows(self, event)
    }
    fn check(&self) -> Result<(), &'static str> {
        Model::check(self)
    }
}

/// proptest strategies of events, for conformance tests of the real code against [`Model`].
#[cfg(test)]
#[allow(dead_code)]
pub(crate) mod strategy {
    use super::super::support::strategy as any_machine;
    use super::{Event, Model};
    use proptest::strategy::Strategy;

    /// Up to `max_len` arbitrary events (the real code must refuse what the model refuses).
    pub(crate) fn events(max_len: usize) -> impl Strategy<Value = Vec<Event>> {
        any_machine::events::<Model>(max_len)
    }

    /// Up to `max_len` events, each legal when it comes, starting from `start`. Shrinks well: the
    /// choices shrink toward the first enabled event and the run toward shorter.
    pub(crate) fn legal_run(start: Model, max_len: usize) -> impl Strategy<Value = Vec<Event>> {
        any_machine::legal_run(start, max_len)
    }
}

/// The state markers: uninhabited types, one per model state; nothing can construct them.
pub mod state {
    mod sealed {
        pub trait Sealed {}
    }

    /// Implemented by the markers in this module only (sealed).
    pub trait ConnState: sealed::Sealed {
        /// The model state this marker stands for.
        const STATE: super::State;
    }

    /// `connecting`: The stream is being connected.
    #[derive(Debug)]
    pub enum Connecting {}
    impl sealed::Sealed for Connecting {}
    impl ConnState for Connecting {
        const STATE: super::State = super::State::Connecting;
    }

    /// `idle`: Connected, no exchange in flight, clean: the only state that may send a request (and the only one the pool holds).
    #[derive(Debug)]
    pub enum Idle {}
    impl sealed::Sealed for Idle {}
    impl ConnState for Idle {
        const STATE: super::State = super::State::Idle;
    }

    /// `writing_head`: The request head is being written.
    #[derive(Debug)]
    pub enum WritingHead {}
    impl sealed::Sealed for WritingHead {}
    impl ConnState for WritingHead {
        const STATE: super::State = super::State::WritingHead;
    }

    /// `writing_body`: The request body is being written (or, with Expect: 100-continue, about to be).
    #[derive(Debug)]
    pub enum WritingBody {}
    impl sealed::Sealed for WritingBody {}
    impl ConnState for WritingBody {
        const STATE: super::State = super::State::WritingBody;
    }

    /// `awaiting_head`: The request is written; waiting for the response head (1xx interim responses are skipped).
    #[derive(Debug)]
    pub enum AwaitingHead {}
    impl sealed::Sealed for AwaitingHead {}
    impl ConnState for AwaitingHead {
        const STATE: super::State = super::State::AwaitingHead;
    }

    /// `reading_body`: The final response head arrived; its body is being read (the body owns the connection).
    #[derive(Debug)]
    pub enum ReadingBody {}
    impl sealed::Sealed for ReadingBody {}
    impl ConnState for ReadingBody {
        const STATE: super::State = super::State::ReadingBody;
    }

    /// `draining`: The body was dropped before its end; the rest is read and discarded within a size and time bound.
    #[derive(Debug)]
    pub enum Draining {}
    impl sealed::Sealed for Draining {}
    impl ConnState for Draining {
        const STATE: super::State = super::State::Draining;
    }

    /// `upgraded`: 101 Switching Protocols: the raw stream belongs to the caller; the HTTP machine ends.
    #[derive(Debug)]
    pub enum Upgraded {}
    impl sealed::Sealed for Upgraded {}
    impl ConnState for Upgraded {
        const STATE: super::State = super::State::Upgraded;
    }

    /// `closed`: Closed: never reused.
    #[derive(Debug)]
    pub enum Closed {}
    impl sealed::Sealed for Closed {}
    impl ConnState for Closed {
        const STATE: super::State = super::State::Closed;
    }
}

use core::marker::PhantomData;

/// A connection whose lifecycle state is the type `S` (see the module docs); `T` is the I/O part.
pub struct Connection<S, T> {
    /// The hand-written I/O part.
    pub(crate) inner: T,
    /// The model variables, carried so that branching transitions decide as the model does.
    vars: Vars,
    /// `fn() -> S`: the marker is never stored and does not affect `Send`/`Sync`.
    _state: PhantomData<fn() -> S>,
}

impl<S: state::ConnState, T: fmt::Debug> fmt::Debug for Connection<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("state", &S::STATE)
            .field("vars", &self.vars)
            .field("inner", &self.inner)
            .finish()
    }
}

impl<S: state::ConnState, T> Connection<S, T> {
    /// The model variables.
    pub fn vars(&self) -> &Vars {
        &self.vars
    }

    /// The reference model's view of this connection (conformance tests compare it).
    pub fn model(&self) -> Model {
        Model {
            state: S::STATE,
            vars: self.vars,
        }
    }
}

fn retag<N, T>(inner: T, vars: Vars) -> Connection<N, T> {
    Connection {
        inner,
        vars,
        _state: PhantomData,
    }
}

#[inline]
fn traced(from: State, event: Event, to: State) {
    if crate::trace::enabled() {
        crate::trace::record(&crate::trace::Transition {
            machine: MACHINE,
            from: from.name(),
            event: event.name(),
            args: &event.arg_values(),
            to: to.name(),
        });
    }
}

impl<T> Connection<state::Connecting, T> {
    /// A new connection in the initial state `connecting`, over `inner`.
    #[allow(dead_code)]
    pub(crate) fn new(inner: T) -> Self {
        retag(inner, Vars::new())
    }
}

impl<T> Connection<state::Upgraded, T> {
    /// The I/O part, out of the finished machine.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T> Connection<state::Closed, T> {
    /// The I/O part, out of the finished machine.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T> Connection<state::Connecting, T> {
    /// `connecting --connected--> idle`: The stream connected.
    ///
    /// - to `idle`.
    pub fn on_connected(self) -> Connection<state::Idle, T> {
        let state = State::Connecting;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::Connected, State::Idle);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::Connecting, T> {
    /// `connecting --connect_failed--> closed`: Connecting failed or timed out.
    ///
    /// - to `closed`.
    pub fn on_connect_failed(self) -> Connection<state::Closed, T> {
        let state = State::Connecting;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::ConnectFailed, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::Idle, T> {
    /// `idle --send--> writing_head`: Start an exchange with a request.
    ///
    /// - to `writing_head`.
    pub fn on_send(self, body: bool) -> Connection<state::WritingHead, T> {
        let state = State::Idle;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            v.has_body = body;
            v.reuse = false;
            v.interims = 0;
            traced(state, Event::Send { body }, State::WritingHead);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::Idle, T> {
    /// `idle --idle_expired--> closed`: The idle timeout (or the server's Keep-Alive hint) expired.
    ///
    /// - to `closed`.
    pub fn on_idle_expired(self) -> Connection<state::Closed, T> {
        let state = State::Idle;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::IdleExpired, State::Closed);
            retag(inner, v)
        }
    }
}

/// The typed outcomes of `writing_head --head_written-->`.
#[derive(Debug)]
pub enum HeadWritten<T> {
    /// Now `writing_body`.
    WritingBody(Connection<state::WritingBody, T>),
    /// Now `awaiting_head`.
    AwaitingHead(Connection<state::AwaitingHead, T>),
}

impl<T> Connection<state::WritingHead, T> {
    /// `writing_head --head_written--> writing_body | awaiting_head`: The request head was fully written.
    ///
    /// - to `writing_body` when `has_body`.
    ///
    /// - to `awaiting_head` when `!has_body`.
    pub fn on_head_written(self) -> HeadWritten<T> {
        let state = State::WritingHead;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        if v.has_body {
            traced(state, Event::HeadWritten, State::WritingBody);
            return HeadWritten::WritingBody(retag(inner, v));
        }
        // The generator checked the guards are exhaustive: here `!has_body` holds.
        {
            traced(state, Event::HeadWritten, State::AwaitingHead);
            HeadWritten::AwaitingHead(retag(inner, v))
        }
    }
}

impl<T> Connection<state::WritingBody, T> {
    /// `writing_body --body_written--> awaiting_head`: The request body was fully written.
    ///
    /// - to `awaiting_head`.
    pub fn on_body_written(self) -> Connection<state::AwaitingHead, T> {
        let state = State::WritingBody;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::BodyWritten, State::AwaitingHead);
            retag(inner, v)
        }
    }
}

/// The typed outcomes of `writing_body --interim-->`.
#[derive(Debug)]
pub enum WritingBodyInterim<T> {
    /// Now `writing_body`.
    WritingBody(Connection<state::WritingBody, T>),
    /// Now `closed`.
    Closed(Connection<state::Closed, T>),
}

impl<T> Connection<state::WritingBody, T> {
    /// `writing_body --interim--> writing_body | closed`: A 1xx interim response head (not 101) arrived.
    ///
    /// - to `writing_body` when `interims < MAX_INTERIM`.
    ///
    /// - to `closed` when `interims >= MAX_INTERIM`. Too many interim responses: a protocol error.
    pub fn on_interim(self) -> WritingBodyInterim<T> {
        let state = State::WritingBody;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        if (v.interims < MAX_INTERIM) {
            v.interims = (v.interims + 1);
            traced(state, Event::Interim, State::WritingBody);
            return WritingBodyInterim::WritingBody(retag(inner, v));
        }
        // The generator checked the guards are exhaustive: here `interims >= MAX_INTERIM` holds.
        {
            traced(state, Event::Interim, State::Closed);
            WritingBodyInterim::Closed(retag(inner, v))
        }
    }
}

/// The typed outcomes of `awaiting_head --interim-->`.
#[derive(Debug)]
pub enum AwaitingHeadInterim<T> {
    /// Now `awaiting_head`.
    AwaitingHead(Connection<state::AwaitingHead, T>),
    /// Now `closed`.
    Closed(Connection<state::Closed, T>),
}

impl<T> Connection<state::AwaitingHead, T> {
    /// `awaiting_head --interim--> awaiting_head | closed`: A 1xx interim response head (not 101) arrived.
    ///
    /// - to `awaiting_head` when `interims < MAX_INTERIM`.
    ///
    /// - to `closed` when `interims >= MAX_INTERIM`. Too many interim responses: a protocol error.
    pub fn on_interim(self) -> AwaitingHeadInterim<T> {
        let state = State::AwaitingHead;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        if (v.interims < MAX_INTERIM) {
            v.interims = (v.interims + 1);
            traced(state, Event::Interim, State::AwaitingHead);
            return AwaitingHeadInterim::AwaitingHead(retag(inner, v));
        }
        // The generator checked the guards are exhaustive: here `interims >= MAX_INTERIM` holds.
        {
            traced(state, Event::Interim, State::Closed);
            AwaitingHeadInterim::Closed(retag(inner, v))
        }
    }
}

/// The typed outcomes of `awaiting_head --final_head-->`.
#[derive(Debug)]
pub enum FinalHead<T> {
    /// Now `idle`.
    Idle(Connection<state::Idle, T>),
    /// Now `closed`.
    Closed(Connection<state::Closed, T>),
    /// Now `reading_body`.
    ReadingBody(Connection<state::ReadingBody, T>),
}

impl<T> Connection<state::AwaitingHead, T> {
    /// `awaiting_head --final_head--> idle | closed | reading_body`: The final response head arrived.
    ///
    /// - to `idle` when `framing == none && !req_close && !resp_close && (!http10 || keep_alive)`. No body (HEAD, 204, 304) and keep-alive: the exchange is complete.
    ///
    /// - to `closed` when `framing == none && (req_close || resp_close || (http10 && !keep_alive))`.
    ///
    /// - to `reading_body` when `framing != none`.
    pub fn on_final_head(
        self,
        framing: Framing,
        req_close: bool,
        resp_close: bool,
        http10: bool,
        keep_alive: bool,
    ) -> FinalHead<T> {
        let state = State::AwaitingHead;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        if ((((framing == Framing::None) && !(req_close)) && !(resp_close))
            && (!(http10) || keep_alive))
        {
            v.reuse = true;
            traced(
                state,
                Event::FinalHead {
                    framing,
                    req_close,
                    resp_close,
                    http10,
                    keep_alive,
                },
                State::Idle,
            );
            return FinalHead::Idle(retag(inner, v));
        }
        if ((framing == Framing::None) && ((req_close || resp_close) || (http10 && !(keep_alive))))
        {
            traced(
                state,
                Event::FinalHead {
                    framing,
                    req_close,
                    resp_close,
                    http10,
                    keep_alive,
                },
                State::Closed,
            );
            return FinalHead::Closed(retag(inner, v));
        }
        // The generator checked the guards are exhaustive: here `framing != none` holds.
        {
            v.reuse = (((!(req_close) && !(resp_close)) && (!(http10) || keep_alive))
                && (framing != Framing::CloseDelimited));
            traced(
                state,
                Event::FinalHead {
                    framing,
                    req_close,
                    resp_close,
                    http10,
                    keep_alive,
                },
                State::ReadingBody,
            );
            FinalHead::ReadingBody(retag(inner, v))
        }
    }
}

impl<T> Connection<state::WritingBody, T> {
    /// `writing_body --final_head--> reading_body`: The final response head arrived.
    ///
    /// - to `reading_body`. An early final response (e.g. 413, or no 100 Continue) before the request body was sent: the request is incomplete, so the connection is never reused (a body-less response is read as an empty body).
    pub fn on_final_head(
        self,
        framing: Framing,
        req_close: bool,
        resp_close: bool,
        http10: bool,
        keep_alive: bool,
    ) -> Connection<state::ReadingBody, T> {
        let state = State::WritingBody;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            v.reuse = false;
            traced(
                state,
                Event::FinalHead {
                    framing,
                    req_close,
                    resp_close,
                    http10,
                    keep_alive,
                },
                State::ReadingBody,
            );
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::WritingBody, T> {
    /// `writing_body --upgrade--> upgraded`: A 101 Switching Protocols response arrived.
    ///
    /// - to `upgraded`.
    pub fn on_upgrade(self) -> Connection<state::Upgraded, T> {
        let state = State::WritingBody;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::Upgrade, State::Upgraded);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::AwaitingHead, T> {
    /// `awaiting_head --upgrade--> upgraded`: A 101 Switching Protocols response arrived.
    ///
    /// - to `upgraded`.
    pub fn on_upgrade(self) -> Connection<state::Upgraded, T> {
        let state = State::AwaitingHead;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::Upgrade, State::Upgraded);
            retag(inner, v)
        }
    }
}

/// The typed outcomes of `reading_body --body_done-->`.
#[derive(Debug)]
pub enum BodyDone<T> {
    /// Now `idle`.
    Idle(Connection<state::Idle, T>),
    /// Now `closed`.
    Closed(Connection<state::Closed, T>),
}

impl<T> Connection<state::ReadingBody, T> {
    /// `reading_body --body_done--> idle | closed`: The response body was read to its end (for a close-delimited body: EOF).
    ///
    /// - to `idle` when `reuse`.
    ///
    /// - to `closed` when `!reuse`.
    pub fn on_body_done(self) -> BodyDone<T> {
        let state = State::ReadingBody;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        if v.reuse {
            traced(state, Event::BodyDone, State::Idle);
            return BodyDone::Idle(retag(inner, v));
        }
        // The generator checked the guards are exhaustive: here `!reuse` holds.
        {
            traced(state, Event::BodyDone, State::Closed);
            BodyDone::Closed(retag(inner, v))
        }
    }
}

/// The typed outcomes of `reading_body --body_dropped-->`.
#[derive(Debug)]
pub enum BodyDropped<T> {
    /// Now `draining`.
    Draining(Connection<state::Draining, T>),
    /// Now `closed`.
    Closed(Connection<state::Closed, T>),
}

impl<T> Connection<state::ReadingBody, T> {
    /// `reading_body --body_dropped--> draining | closed`: The response body was dropped before its end.
    ///
    /// - to `draining` when `reuse`.
    ///
    /// - to `closed` when `!reuse`. Not reusable anyway: close at once instead of draining.
    pub fn on_body_dropped(self) -> BodyDropped<T> {
        let state = State::ReadingBody;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        if v.reuse {
            traced(state, Event::BodyDropped, State::Draining);
            return BodyDropped::Draining(retag(inner, v));
        }
        // The generator checked the guards are exhaustive: here `!reuse` holds.
        {
            traced(state, Event::BodyDropped, State::Closed);
            BodyDropped::Closed(retag(inner, v))
        }
    }
}

impl<T> Connection<state::Draining, T> {
    /// `draining --drain_done--> idle`: Draining reached the body's end within the bound.
    ///
    /// - to `idle`.
    pub fn on_drain_done(self) -> Connection<state::Idle, T> {
        let state = State::Draining;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::DrainDone, State::Idle);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::Draining, T> {
    /// `draining --drain_exceeded--> closed`: Draining hit its size or time bound.
    ///
    /// - to `closed`.
    pub fn on_drain_exceeded(self) -> Connection<state::Closed, T> {
        let state = State::Draining;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::DrainExceeded, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::Idle, T> {
    /// `idle --peer_close--> closed`: The peer closed (EOF) where the protocol did not expect it.
    ///
    /// - to `closed`.
    pub fn on_peer_close(self) -> Connection<state::Closed, T> {
        let state = State::Idle;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::PeerClose, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::WritingHead, T> {
    /// `writing_head --peer_close--> closed`: The peer closed (EOF) where the protocol did not expect it.
    ///
    /// - to `closed`.
    pub fn on_peer_close(self) -> Connection<state::Closed, T> {
        let state = State::WritingHead;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::PeerClose, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::WritingBody, T> {
    /// `writing_body --peer_close--> closed`: The peer closed (EOF) where the protocol did not expect it.
    ///
    /// - to `closed`.
    pub fn on_peer_close(self) -> Connection<state::Closed, T> {
        let state = State::WritingBody;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::PeerClose, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::AwaitingHead, T> {
    /// `awaiting_head --peer_close--> closed`: The peer closed (EOF) where the protocol did not expect it.
    ///
    /// - to `closed`.
    pub fn on_peer_close(self) -> Connection<state::Closed, T> {
        let state = State::AwaitingHead;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::PeerClose, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::ReadingBody, T> {
    /// `reading_body --peer_close--> closed`: The peer closed (EOF) where the protocol did not expect it.
    ///
    /// - to `closed`.
    pub fn on_peer_close(self) -> Connection<state::Closed, T> {
        let state = State::ReadingBody;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::PeerClose, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::Draining, T> {
    /// `draining --peer_close--> closed`: The peer closed (EOF) where the protocol did not expect it.
    ///
    /// - to `closed`.
    pub fn on_peer_close(self) -> Connection<state::Closed, T> {
        let state = State::Draining;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::PeerClose, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::Connecting, T> {
    /// `connecting --reset--> closed`: The peer reset the connection.
    ///
    /// - to `closed`.
    pub fn on_reset(self) -> Connection<state::Closed, T> {
        let state = State::Connecting;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::Reset, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::Idle, T> {
    /// `idle --reset--> closed`: The peer reset the connection.
    ///
    /// - to `closed`.
    pub fn on_reset(self) -> Connection<state::Closed, T> {
        let state = State::Idle;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::Reset, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::WritingHead, T> {
    /// `writing_head --reset--> closed`: The peer reset the connection.
    ///
    /// - to `closed`.
    pub fn on_reset(self) -> Connection<state::Closed, T> {
        let state = State::WritingHead;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::Reset, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::WritingBody, T> {
    /// `writing_body --reset--> closed`: The peer reset the connection.
    ///
    /// - to `closed`.
    pub fn on_reset(self) -> Connection<state::Closed, T> {
        let state = State::WritingBody;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::Reset, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::AwaitingHead, T> {
    /// `awaiting_head --reset--> closed`: The peer reset the connection.
    ///
    /// - to `closed`.
    pub fn on_reset(self) -> Connection<state::Closed, T> {
        let state = State::AwaitingHead;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::Reset, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::ReadingBody, T> {
    /// `reading_body --reset--> closed`: The peer reset the connection.
    ///
    /// - to `closed`.
    pub fn on_reset(self) -> Connection<state::Closed, T> {
        let state = State::ReadingBody;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::Reset, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::Draining, T> {
    /// `draining --reset--> closed`: The peer reset the connection.
    ///
    /// - to `closed`.
    pub fn on_reset(self) -> Connection<state::Closed, T> {
        let state = State::Draining;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::Reset, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::Connecting, T> {
    /// `connecting --hang_up--> closed`: The reactor saw a hang-up on the socket.
    ///
    /// - to `closed`.
    pub fn on_hang_up(self) -> Connection<state::Closed, T> {
        let state = State::Connecting;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::HangUp, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::Idle, T> {
    /// `idle --hang_up--> closed`: The reactor saw a hang-up on the socket.
    ///
    /// - to `closed`.
    pub fn on_hang_up(self) -> Connection<state::Closed, T> {
        let state = State::Idle;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::HangUp, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::WritingHead, T> {
    /// `writing_head --hang_up--> closed`: The reactor saw a hang-up on the socket.
    ///
    /// - to `closed`.
    pub fn on_hang_up(self) -> Connection<state::Closed, T> {
        let state = State::WritingHead;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::HangUp, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::WritingBody, T> {
    /// `writing_body --hang_up--> closed`: The reactor saw a hang-up on the socket.
    ///
    /// - to `closed`.
    pub fn on_hang_up(self) -> Connection<state::Closed, T> {
        let state = State::WritingBody;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::HangUp, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::AwaitingHead, T> {
    /// `awaiting_head --hang_up--> closed`: The reactor saw a hang-up on the socket.
    ///
    /// - to `closed`.
    pub fn on_hang_up(self) -> Connection<state::Closed, T> {
        let state = State::AwaitingHead;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::HangUp, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::ReadingBody, T> {
    /// `reading_body --hang_up--> closed`: The reactor saw a hang-up on the socket.
    ///
    /// - to `closed`.
    pub fn on_hang_up(self) -> Connection<state::Closed, T> {
        let state = State::ReadingBody;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::HangUp, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::Draining, T> {
    /// `draining --hang_up--> closed`: The reactor saw a hang-up on the socket.
    ///
    /// - to `closed`.
    pub fn on_hang_up(self) -> Connection<state::Closed, T> {
        let state = State::Draining;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::HangUp, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::Connecting, T> {
    /// `connecting --error--> closed`: An I/O, protocol or timeout error.
    ///
    /// - to `closed`.
    pub fn on_error(self) -> Connection<state::Closed, T> {
        let state = State::Connecting;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::Error, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::Idle, T> {
    /// `idle --error--> closed`: An I/O, protocol or timeout error.
    ///
    /// - to `closed`.
    pub fn on_error(self) -> Connection<state::Closed, T> {
        let state = State::Idle;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::Error, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::WritingHead, T> {
    /// `writing_head --error--> closed`: An I/O, protocol or timeout error.
    ///
    /// - to `closed`.
    pub fn on_error(self) -> Connection<state::Closed, T> {
        let state = State::WritingHead;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::Error, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::WritingBody, T> {
    /// `writing_body --error--> closed`: An I/O, protocol or timeout error.
    ///
    /// - to `closed`.
    pub fn on_error(self) -> Connection<state::Closed, T> {
        let state = State::WritingBody;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::Error, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::AwaitingHead, T> {
    /// `awaiting_head --error--> closed`: An I/O, protocol or timeout error.
    ///
    /// - to `closed`.
    pub fn on_error(self) -> Connection<state::Closed, T> {
        let state = State::AwaitingHead;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::Error, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::ReadingBody, T> {
    /// `reading_body --error--> closed`: An I/O, protocol or timeout error.
    ///
    /// - to `closed`.
    pub fn on_error(self) -> Connection<state::Closed, T> {
        let state = State::ReadingBody;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::Error, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::Draining, T> {
    /// `draining --error--> closed`: An I/O, protocol or timeout error.
    ///
    /// - to `closed`.
    pub fn on_error(self) -> Connection<state::Closed, T> {
        let state = State::Draining;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::Error, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::Connecting, T> {
    /// `connecting --cancel--> closed`: The request future was dropped mid-exchange.
    ///
    /// - to `closed`. A request cancelled mid-exchange leaves the connection dirty.
    pub fn on_cancel(self) -> Connection<state::Closed, T> {
        let state = State::Connecting;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::Cancel, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::WritingHead, T> {
    /// `writing_head --cancel--> closed`: The request future was dropped mid-exchange.
    ///
    /// - to `closed`. A request cancelled mid-exchange leaves the connection dirty.
    pub fn on_cancel(self) -> Connection<state::Closed, T> {
        let state = State::WritingHead;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::Cancel, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::WritingBody, T> {
    /// `writing_body --cancel--> closed`: The request future was dropped mid-exchange.
    ///
    /// - to `closed`. A request cancelled mid-exchange leaves the connection dirty.
    pub fn on_cancel(self) -> Connection<state::Closed, T> {
        let state = State::WritingBody;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::Cancel, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::AwaitingHead, T> {
    /// `awaiting_head --cancel--> closed`: The request future was dropped mid-exchange.
    ///
    /// - to `closed`. A request cancelled mid-exchange leaves the connection dirty.
    pub fn on_cancel(self) -> Connection<state::Closed, T> {
        let state = State::AwaitingHead;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::Cancel, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::ReadingBody, T> {
    /// `reading_body --cancel--> closed`: The request future was dropped mid-exchange.
    ///
    /// - to `closed`. A request cancelled mid-exchange leaves the connection dirty.
    pub fn on_cancel(self) -> Connection<state::Closed, T> {
        let state = State::ReadingBody;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::Cancel, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::Draining, T> {
    /// `draining --cancel--> closed`: The request future was dropped mid-exchange.
    ///
    /// - to `closed`. A request cancelled mid-exchange leaves the connection dirty.
    pub fn on_cancel(self) -> Connection<state::Closed, T> {
        let state = State::Draining;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::Cancel, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::Connecting, T> {
    /// `connecting --close--> closed`: The owner closes the connection.
    ///
    /// - to `closed`.
    pub fn on_close(self) -> Connection<state::Closed, T> {
        let state = State::Connecting;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::Close, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::Idle, T> {
    /// `idle --close--> closed`: The owner closes the connection.
    ///
    /// - to `closed`.
    pub fn on_close(self) -> Connection<state::Closed, T> {
        let state = State::Idle;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::Close, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::WritingHead, T> {
    /// `writing_head --close--> closed`: The owner closes the connection.
    ///
    /// - to `closed`.
    pub fn on_close(self) -> Connection<state::Closed, T> {
        let state = State::WritingHead;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::Close, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::WritingBody, T> {
    /// `writing_body --close--> closed`: The owner closes the connection.
    ///
    /// - to `closed`.
    pub fn on_close(self) -> Connection<state::Closed, T> {
        let state = State::WritingBody;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::Close, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::AwaitingHead, T> {
    /// `awaiting_head --close--> closed`: The owner closes the connection.
    ///
    /// - to `closed`.
    pub fn on_close(self) -> Connection<state::Closed, T> {
        let state = State::AwaitingHead;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::Close, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::ReadingBody, T> {
    /// `reading_body --close--> closed`: The owner closes the connection.
    ///
    /// - to `closed`.
    pub fn on_close(self) -> Connection<state::Closed, T> {
        let state = State::ReadingBody;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::Close, State::Closed);
            retag(inner, v)
        }
    }
}

impl<T> Connection<state::Draining, T> {
    /// `draining --close--> closed`: The owner closes the connection.
    ///
    /// - to `closed`.
    pub fn on_close(self) -> Connection<state::Closed, T> {
        let state = State::Draining;
        let Connection { inner, vars, .. } = self;
        let mut v = vars;
        {
            traced(state, Event::Close, State::Closed);
            retag(inner, v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::support::checks;
    use super::*;

    #[test]
    fn legal_runs_keep_the_invariants() {
        checks::legal_runs_keep_the_invariants(Model::default());
    }

    #[test]
    fn illegal_events_change_nothing() {
        checks::illegal_events_change_nothing(Model::default());
    }

    #[test]
    fn events_round_trip_through_trace_encoding() {
        for e in Event::all() {
            assert_eq!(Event::decode(e.name(), &e.arg_values()), Some(e));
        }
    }

    /// Every state reachable from the default model, by breadth-first search: the count the model
    /// file states (proofs/README.md compares it with spin's state count).
    #[test]
    fn reachable_states() {
        assert_eq!(checks::reachable_count(Model::default()), 72);
    }
}
