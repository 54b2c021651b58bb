//! When a request may be sent again, and how long to wait before a connect retry.
//!
//! Two different retries, with different rules:
//! - A failed *connect* sent nothing: any request may be retried, up to `retries` times, with a
//!   doubling pause.
//! - A request that failed on a *reused* connection before any response byte arrived
//!   ([`Error::is_retry_safe`](crate::Error::is_retry_safe)) most likely met a connection the server had just closed
//!   (hyper #2136). It is retried once on a new connection, but only when sending it twice
//!   cannot do harm: its method is idempotent (RFC 9110 §9.2.2) and its body can be replayed
//!   (empty or in memory). A `POST`, or a streamed body, is never sent twice.
//!
//! The request for the second attempt is not a copy: the connection keeps the head it sent
//! until the response head and hands it back with a retry-safe failure (the crate-internal
//! `Connection::start`), and the client keeps a share of the in-memory body ([`replay_body`]),
//! so a request that succeeds costs nothing extra.

use std::time::Duration;

use crate::http::{Body, Request};

/// The longest pause between connect retries, whatever the doubling says.
pub const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(2);

/// A second handle on `req`'s body when `req` may be sent twice after a stale-connection
/// failure: an idempotent method and a body that can be replayed (none, or in memory: a
/// share of the same `Bytes`, no copy). `None` for anything else.
pub(crate) fn replay_body(req: &Request) -> Option<Body> {
    if !req.method().is_idempotent() {
        return None;
    }
    match req.body() {
        Body::Empty => Some(Body::Empty),
        Body::Bytes(bytes) => Some(Body::Bytes(bytes.clone())),
        Body::Stream { .. } | Body::File { .. } => None,
    }
}

/// The pause before connect retry number `retry` (1 for the first): `base`, doubling, capped.
pub(crate) fn backoff(base: Duration, retry: u32) -> Duration {
    let factor = 1u32
        .checked_shl(retry.saturating_sub(1))
        .unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(MAX_RETRY_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_idempotent_requests_with_replayable_bodies_are_replayed() {
        let get = Request::get("http://a.test/").build().unwrap();
        assert!(matches!(replay_body(&get), Some(Body::Empty)));
        let put = Request::put("http://a.test/").body("x").build().unwrap();
        assert!(matches!(replay_body(&put), Some(Body::Bytes(b)) if b == "x"));
        let post = Request::post("http://a.test/").build().unwrap();
        assert!(replay_body(&post).is_none());
        let stream = futures_stream_of_one();
        let streamed = Request::put("http://a.test/").body(stream).build().unwrap();
        assert!(replay_body(&streamed).is_none());
    }

    fn futures_stream_of_one() -> Body {
        struct One(Option<bytes::Bytes>);
        impl futures_core::Stream for One {
            type Item = std::io::Result<bytes::Bytes>;
            fn poll_next(
                mut self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Option<Self::Item>> {
                std::task::Poll::Ready(self.0.take().map(Ok))
            }
        }
        Body::stream(One(Some(bytes::Bytes::from_static(b"x"))))
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let base = Duration::from_millis(50);
        assert_eq!(backoff(base, 1), base);
        assert_eq!(backoff(base, 3), base * 4);
        assert_eq!(backoff(base, 40), MAX_RETRY_BACKOFF);
    }
}
