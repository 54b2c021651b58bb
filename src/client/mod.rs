//! The pooled client.
