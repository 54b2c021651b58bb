//! The `weir` command (being written).
fn main() {}
