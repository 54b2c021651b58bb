//! The blocking client: the async client on a background loop.
