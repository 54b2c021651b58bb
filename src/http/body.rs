//! The request body as a value. Reading from a stream or a file is the connection's job:
//! this module only says what the body is and how long it is.

use std::fmt;
use std::fs::File;
use std::io;
use std::pin::Pin;

use bytes::Bytes;
use futures_core::Stream;

/// An async stream of body pieces (`Send`, so requests can cross to a background loop).
pub type BodyStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send + 'static>>;

/// A request body.
#[non_exhaustive]
#[derive(Default)]
pub enum Body {
    #[default]
    /// No body (no `Content-Length` is sent for methods that do not expect one).
    Empty,
    /// A body in memory: sent with `Content-Length`, written with the head when small.
    Bytes(Bytes),
    /// A stream of pieces: `Content-Length` when `len` is known, chunked otherwise.
    Stream {
        /// The pieces.
        stream: BodyStream,
        /// The total length, when known in advance.
        len: Option<u64>,
    },
    /// A file read from its current position: `len` bytes, sent with `Content-Length`.
    File {
        /// The open file.
        file: File,
        /// How many bytes to send.
        len: u64,
    },
}

impl Body {
    /// The body's length when known before sending (`Some(0)` for [`Body::Empty`]).
    pub fn known_len(&self) -> Option<u64> {
        match self {
            Body::Empty => Some(0),
            Body::Bytes(b) => Some(b.len() as u64),
            Body::Stream { len, .. } => *len,
            Body::File { len, .. } => Some(*len),
        }
    }

    /// True for [`Body::Empty`].
    pub fn is_empty(&self) -> bool {
        matches!(self, Body::Empty)
    }

    /// A stream body of unknown length (sent chunked).
    pub fn stream<S>(stream: S) -> Body
    where
        S: Stream<Item = io::Result<Bytes>> + Send + 'static,
    {
        Body::Stream {
            stream: Box::pin(stream),
            len: None,
        }
    }

    /// A stream body of known length (sent with `Content-Length`).
    pub fn sized_stream<S>(stream: S, len: u64) -> Body
    where
        S: Stream<Item = io::Result<Bytes>> + Send + 'static,
    {
        Body::Stream {
            stream: Box::pin(stream),
            len: Some(len),
        }
    }

    /// A body that is the rest of `file` from its current position, `len` bytes long.
    pub fn file(file: File, len: u64) -> Body {
        Body::File { file, len }
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Body {
        Body::Bytes(b)
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Body {
        Body::Bytes(v.into())
    }
}

impl From<String> for Body {
    fn from(s: String) -> Body {
        Body::Bytes(s.into())
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Body {
        Body::Bytes(Bytes::from_static(s.as_bytes()))
    }
}

impl From<&'static [u8]> for Body {
    fn from(s: &'static [u8]) -> Body {
        Body::Bytes(Bytes::from_static(s))
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Empty => f.write_str("Empty"),
            Body::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Body::Stream { len, .. } => write!(f, "Stream(len: {len:?})"),
            Body::File { len, .. } => write!(f, "File({len} bytes)"),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A stream that ends at once: a stream body for tests that never poll it.
    pub(in crate::http) struct EmptyStream;

    impl Stream for EmptyStream {
        type Item = io::Result<Bytes>;
        fn poll_next(
            self: Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(None)
        }
    }

    #[test]
    fn known_lengths() {
        assert_eq!(Body::Empty.known_len(), Some(0));
        assert_eq!(Body::from("abc").known_len(), Some(3));
        assert_eq!(Body::stream(EmptyStream).known_len(), None);
        assert_eq!(Body::sized_stream(EmptyStream, 7).known_len(), Some(7));
    }
}
