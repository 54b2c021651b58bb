//! The error type users see.
