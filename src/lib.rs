//! weir: an HTTP/1.1 client core on its own minimal epoll event loop.
//!
//! The layers, bottom up (dependencies point one way):
//!
//! - [`sys`](crate) (private): the only code that calls libc.
//! - [`rt`]: the event loop: reactor, executor, timers, async lock and semaphore, sockets.
//! - [`generated`]: code generated from the formal state model under `model/`; never hand-edited.
//! - [`http`]: sans-IO HTTP/1.1 framing: requests, responses, encoder, parser, body decoders.
//! - [`conn`]: one HTTP/1.1 connection over one stream, its lifecycle held in typestate.
//! - [`client`]: the pooled `Client`; [`blocking`]: the same without async.
#![deny(
    missing_docs,
    missing_debug_implementations,
    clippy::undocumented_unsafe_blocks,
    clippy::missing_safety_doc
)]

mod loom;
mod sys;

pub mod blocking;
pub mod client;
pub mod conn;
pub mod error;
pub mod generated;
pub mod http;
pub mod rt;
pub mod trace;

pub use error::{Error, Result};
