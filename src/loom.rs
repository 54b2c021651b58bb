//! The `std`/`loom` facade: sync code imports its atomics, mutexes and `Arc` from here so that
//! `RUSTFLAGS="--cfg loom"` swaps in loom's checked versions.
