//! Code generated from the formal state model under `model/` by `model/generate`; never edit
//! by hand (`model/generate --check` fails when these files differ from a fresh generation).
//!
//! One module per machine, each with the reference model (`State`, `Vars`, `Event`, `Model::new`,
//! `Model::step`, `Illegal`, and under `cfg(test)` the proptest strategies in `strategy`). The
//! waiter module also has the reactor's hot-path `const fn transition`; the connection module
//! has the typestate `Connection<S, T>`. What every machine shares (walks, reachable states,
//! strategies, model checks) is written once in `support`.
//!
//! The rest of this page is `docs/model.md`.
//!
#![doc = include_str!("../../docs/model.md")]

pub mod connection;
pub mod lock;
pub mod pool;
pub mod support;
pub mod waiter;
