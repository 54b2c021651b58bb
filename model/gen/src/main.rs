//! The model generator (being written; see model/README.md).
fn main() {}
