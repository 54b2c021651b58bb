//! Generated from `model/` by `model/generate`. Never edit by hand.
