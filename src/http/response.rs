//! The immutable response: a [`ResponseHead`] (version, status, reason, headers), a body of
//! the connection's choosing, and trailers when a chunked body carried some.

use std::fmt;

use bytes::Bytes;

use super::header::HeaderMap;

/// The protocol version of a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// HTTP/1.0: connections close after the response unless it says `keep-alive`.
    Http10,
    /// HTTP/1.1: connections persist unless either side says `close`.
    Http11,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        })
    }
}

/// The status line and header fields of a response.
#[derive(Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The version the server spoke.
    version: Version,
    /// The status code (100..=999, as httparse accepts three digits).
    status: u16,
    /// The reason phrase (may be empty).
    reason: Bytes,
    /// The header fields in received order, names in received case.
    headers: HeaderMap,
}

impl ResponseHead {
    /// A head from its parts (the parser, tests and `http` conversions build these).
    pub fn new(version: Version, status: u16, reason: Bytes, headers: HeaderMap) -> ResponseHead {
        ResponseHead {
            version,
            status,
            reason,
            headers,
        }
    }

    /// The version the server spoke.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase; empty when it is not UTF-8.
    pub fn reason(&self) -> &str {
        std::str::from_utf8(&self.reason).unwrap_or("")
    }

    /// The reason phrase's bytes.
    pub fn reason_bytes(&self) -> &[u8] {
        &self.reason
    }

    /// The header fields.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// True for 1xx.
    pub fn is_informational(&self) -> bool {
        (100..200).contains(&self.status)
    }
}

impl fmt::Debug for ResponseHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {:?} {:?}",
            self.version,
            self.status,
            self.reason(),
            self.headers
        )
    }
}

/// An HTTP response with a body of type `B` (collected `Bytes` by default; the connection
/// uses its streaming body type).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response<B = Bytes> {
    /// Status line and headers.
    head: ResponseHead,
    /// The body.
    body: B,
    /// Trailer fields of a chunked body, when it carried any.
    trailers: Option<HeaderMap>,
}

impl<B> Response<B> {
    /// A response with `head` and `body` and no trailers.
    pub fn new(head: ResponseHead, body: B) -> Response<B> {
        Response {
            head,
            body,
            trailers: None,
        }
    }

    /// The same response with `trailers`.
    pub fn with_trailers(self, trailers: Option<HeaderMap>) -> Response<B> {
        Response { trailers, ..self }
    }

    /// The same response with its body transformed (e.g. collected).
    pub fn map_body<C>(self, f: impl FnOnce(B) -> C) -> Response<C> {
        Response {
            head: self.head,
            body: f(self.body),
            trailers: self.trailers,
        }
    }

    /// Status line and headers.
    pub fn head(&self) -> &ResponseHead {
        &self.head
    }

    /// The version.
    pub fn version(&self) -> Version {
        self.head.version
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.head.status
    }

    /// The reason phrase.
    pub fn reason(&self) -> &str {
        self.head.reason()
    }

    /// The header fields.
    pub fn headers(&self) -> &HeaderMap {
        &self.head.headers
    }

    /// The body.
    pub fn body(&self) -> &B {
        &self.body
    }

    /// The trailer fields, when the body carried any.
    pub fn trailers(&self) -> Option<&HeaderMap> {
        self.trailers.as_ref()
    }

    /// Head, body and trailers.
    pub fn into_parts(self) -> (ResponseHead, B, Option<HeaderMap>) {
        (self.head, self.body, self.trailers)
    }

    /// The body, dropping the rest.
    pub fn into_body(self) -> B {
        self.body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_round_trip() {
        let mut headers = HeaderMap::new();
        headers.try_append("A", "1").unwrap();
        let head = ResponseHead::new(Version::Http11, 200, Bytes::from_static(b"OK"), headers);
        let resp =
            Response::new(head, Bytes::from_static(b"hi")).with_trailers(Some(HeaderMap::new()));
        assert_eq!(
            (resp.status(), resp.reason(), resp.version()),
            (200, "OK", Version::Http11)
        );
        let resp = resp.map_body(|b| b.len());
        assert_eq!(*resp.body(), 2);
        assert!(resp.trailers().unwrap().is_empty());
        assert!(!resp.head().is_informational());
    }
}
