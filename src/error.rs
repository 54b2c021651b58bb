//! The error type users see.
//!
//! One [`Error`] for the whole crate: a [`Kind`] (flat, `#[non_exhaustive]`), the [`Phase`] of the
//! call in which it happened, the URL when known, and an optional underlying source.
//!
//! # Invariants
//! - Every error the sans-IO layer ([`crate::http`]) returns means "this connection is dirty":
//!   the connection layer must close it, never pool it.
//! - [`Kind::ClosedBeforeResponse`] is only produced when not a single byte of the response
//!   was received, so a retry of an idempotent request is safe.
//!
//! The payload is boxed so that `Result<T, Error>` stays one pointer wide on the hot path.

use std::fmt;
use std::io;

use crate::http::RequestHead;

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error from weir: what went wrong ([`Kind`]), when ([`Phase`]) and for which URL.
pub struct Error {
    inner: Box<Inner>,
}

/// The boxed payload of [`Error`].
struct Inner {
    /// What went wrong.
    kind: Kind,
    /// When it went wrong.
    phase: Phase,
    /// The request's URL, when the layer that saw the error knew it.
    url: Option<Box<str>>,
    /// The underlying error (an `io::Error`, a `httparse::Error`, …).
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    /// The failed request's head, handed back for a retry: only when the sender asked for it
    /// and the failure is retry-safe (crate-internal: taken off before users see the error).
    request_head: Option<Box<RequestHead>>,
}

/// The part of a request's life in which an error happened.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Building or validating the request, before any connection was used.
    Prepare,
    /// Resolving the host and connecting the socket.
    Connect,
    /// Waiting for a connection from the pool.
    Pool,
    /// Writing the request head or body.
    Write,
    /// Reading the response head (status line and headers).
    ReadHead,
    /// Reading the response body.
    ReadBody,
}

/// What went wrong. Flat on purpose: match on the variant you can act on.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Connecting failed (refused, unreachable, name resolution failed).
    Connect,
    /// Connecting took longer than the configured timeout.
    ConnectTimeout,
    /// The peer sent nothing for longer than the read timeout.
    ReadTimeout,
    /// The peer accepted nothing for longer than the write timeout.
    WriteTimeout,
    /// No pooled connection became free in time.
    PoolTimeout,
    /// The whole request (connect, write, read head and body) exceeded its deadline.
    Timeout,
    /// The server sent something that is not valid HTTP/1.1; says what.
    RemoteProtocol(Malformed),
    /// The request itself is invalid; says what. Detected before any byte was written.
    LocalProtocol(Invalid),
    /// The connection closed before any byte of the response arrived: safe to retry an
    /// idempotent request (the typical stale keep-alive connection).
    ClosedBeforeResponse,
    /// The connection closed after part of the response head arrived: not safe to retry blindly.
    ClosedMidResponse,
    /// The response head exceeded a configured limit.
    HeadTooLarge(HeadLimit),
    /// The connection ended before the body's announced length or its last chunk.
    BodyIncomplete,
    /// The URL's scheme is not one weir speaks (only `http` and `http+unix`).
    UnsupportedScheme,
    /// Another I/O error; the source says which.
    Io,
}

/// Which part of the response was malformed ([`Kind::RemoteProtocol`]).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// The status line or a header line did not parse (the source is the `httparse::Error`).
    Head,
    /// The response has both `Transfer-Encoding` and `Content-Length` (RFC 9112 §6.3 rule 3).
    TransferEncodingWithContentLength,
    /// `Content-Length` is not a decimal number, or overflows u64.
    InvalidContentLength,
    /// Several `Content-Length` values that differ.
    ConflictingContentLength,
    /// More interim (1xx) responses than the configured limit.
    TooManyInterimResponses,
    /// A chunk-size line has no hex digits or a stray byte.
    ChunkSize,
    /// A chunk size does not fit in 64 bits.
    ChunkSizeOverflow,
    /// A chunk extension is longer than the configured limit.
    ChunkExtensionTooLong,
    /// The CRLF after a chunk's data or a chunk-size line is missing.
    ChunkDelimiter,
    /// The trailer section is larger than the configured limit.
    TrailersTooLarge,
    /// The trailer section did not parse as header fields.
    Trailers,
    /// A body arrived where none was allowed, or more data than the framing allows.
    UnexpectedBody,
}

/// Which part of the request was invalid ([`Kind::LocalProtocol`]).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// The method is not a token (RFC 9110 §9.1).
    Method,
    /// The URL did not parse.
    Url,
    /// The request target contains a byte that may not appear on the request line.
    Target,
    /// A header name is empty or not a token (e.g. contains CR, LF, NUL, space or `:`).
    HeaderName,
    /// A header value contains CR, LF or NUL.
    HeaderValue,
    /// More (or fewer) body bytes were sent than the declared `Content-Length`.
    BodyLength,
    /// The request carries both `Transfer-Encoding` and `Content-Length`.
    Framing,
}

/// The limit a response head exceeded ([`Kind::HeadTooLarge`]).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadLimit {
    /// The head exceeded this many bytes.
    Bytes(usize),
    /// The head had more than this many header fields.
    Headers(usize),
}

impl Error {
    /// A new error of `kind` in `phase`, without URL or source.
    pub fn new(kind: Kind, phase: Phase) -> Error {
        let inner = Inner {
            kind,
            phase,
            url: None,
            source: None,
            request_head: None,
        };
        Error {
            inner: Box::new(inner),
        }
    }

    /// An I/O error in `phase`, keeping `err` as the source.
    pub fn io(err: io::Error, phase: Phase) -> Error {
        Error::new(Kind::Io, phase).with_source(err)
    }

    /// The same error with `source` attached.
    pub fn with_source<E>(mut self, source: E) -> Error
    where
        E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    {
        self.inner.source = Some(source.into());
        self
    }

    /// The same error with the request's URL attached (the connection layer does this).
    pub fn with_url(mut self, url: impl fmt::Display) -> Error {
        self.inner.url = Some(url.to_string().into_boxed_str());
        self
    }

    /// The same error with a different phase.
    pub fn with_phase(mut self, phase: Phase) -> Error {
        self.inner.phase = phase;
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> Kind {
        self.inner.kind
    }

    /// When it went wrong.
    pub fn phase(&self) -> Phase {
        self.inner.phase
    }

    /// The request's URL, when known.
    pub fn url(&self) -> Option<&str> {
        self.inner.url.as_deref()
    }

    /// True for timeouts of any kind.
    pub fn is_timeout(&self) -> bool {
        use Kind::*;
        matches!(
            self.kind(),
            ConnectTimeout | ReadTimeout | WriteTimeout | PoolTimeout | Timeout
        )
    }

    /// True when the request surely did not reach the server's application, so retrying an
    /// idempotent request is safe: failed connects and closes before any response byte.
    pub fn is_retry_safe(&self) -> bool {
        matches!(
            self.kind(),
            Kind::Connect | Kind::ConnectTimeout | Kind::ClosedBeforeResponse
        )
    }

    /// The same error carrying the failed request's head back (the connection layer does this).
    pub(crate) fn with_request_head(mut self, head: RequestHead) -> Error {
        self.inner.request_head = Some(Box::new(head));
        self
    }

    /// Takes off the request head handed back, if any.
    pub(crate) fn take_request_head(&mut self) -> Option<RequestHead> {
        self.inner.request_head.take().map(|h| *h)
    }

    pub(crate) fn remote(malformed: Malformed, phase: Phase) -> Error {
        Error::new(Kind::RemoteProtocol(malformed), phase)
    }

    pub(crate) fn local(invalid: Invalid) -> Error {
        Error::new(Kind::LocalProtocol(invalid), Phase::Prepare)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::Connect => f.write_str("connect failed"),
            Kind::ConnectTimeout => f.write_str("connect timed out"),
            Kind::ReadTimeout => f.write_str("read timed out"),
            Kind::WriteTimeout => f.write_str("write timed out"),
            Kind::PoolTimeout => f.write_str("timed out waiting for a pooled connection"),
            Kind::Timeout => f.write_str("request deadline exceeded"),
            Kind::RemoteProtocol(m) => write!(f, "invalid response: {m}"),
            Kind::LocalProtocol(i) => write!(f, "invalid request: {i}"),
            Kind::ClosedBeforeResponse => {
                f.write_str("connection closed before any byte of the response")
            }
            Kind::ClosedMidResponse => {
                f.write_str("connection closed in the middle of the response head")
            }
            Kind::HeadTooLarge(HeadLimit::Bytes(n)) => {
                write!(f, "response head larger than {n} bytes")
            }
            Kind::HeadTooLarge(HeadLimit::Headers(n)) => {
                write!(f, "response has more than {n} headers")
            }
            Kind::BodyIncomplete => {
                f.write_str("connection closed before the end of the response body")
            }
            Kind::UnsupportedScheme => {
                f.write_str("unsupported URL scheme (weir speaks http and http+unix)")
            }
            Kind::Io => f.write_str("I/O error"),
        }
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Malformed::*;
        f.write_str(match self {
            Head => "malformed status line or header",
            TransferEncodingWithContentLength => "both Transfer-Encoding and Content-Length",
            InvalidContentLength => "invalid Content-Length",
            ConflictingContentLength => "several different Content-Length values",
            TooManyInterimResponses => "too many 1xx interim responses",
            ChunkSize => "malformed chunk-size line",
            ChunkSizeOverflow => "chunk size overflows 64 bits",
            ChunkExtensionTooLong => "chunk extension too long",
            ChunkDelimiter => "missing CRLF in chunked body",
            TrailersTooLarge => "trailer section too large",
            Trailers => "malformed trailer section",
            UnexpectedBody => "unexpected body bytes",
        })
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Invalid::*;
        f.write_str(match self {
            Method => "method is not a token",
            Url => "URL does not parse",
            Target => "request target contains a forbidden byte",
            HeaderName => "header name is not a token",
            HeaderValue => "header value contains CR, LF or NUL",
            BodyLength => "body length differs from Content-Length",
            Framing => "both Transfer-Encoding and Content-Length",
        })
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Prepare => "preparing the request",
            Phase::Connect => "connecting",
            Phase::Pool => "waiting for a connection",
            Phase::Write => "writing the request",
            Phase::ReadHead => "reading the response head",
            Phase::ReadBody => "reading the response body",
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} while {}", self.inner.kind, self.inner.phase)?;
        if let Some(url) = &self.inner.url {
            write!(f, " ({url})")?;
        }
        if let Some(source) = &self.inner.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind)
            .field("phase", &self.inner.phase);
        d.field("url", &self.inner.url)
            .field("source", &self.inner.source)
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        let source = self.inner.source.as_ref()?;
        Some(&**source as &(dyn std::error::Error + 'static))
    }
}

impl From<Error> for io::Error {
    fn from(err: Error) -> io::Error {
        let kind = match err.kind() {
            _ if err.is_timeout() => io::ErrorKind::TimedOut,
            Kind::ClosedBeforeResponse | Kind::ClosedMidResponse | Kind::BodyIncomplete => {
                io::ErrorKind::UnexpectedEof
            }
            Kind::LocalProtocol(_) | Kind::UnsupportedScheme => io::ErrorKind::InvalidInput,
            Kind::RemoteProtocol(_) | Kind::HeadTooLarge(_) => io::ErrorKind::InvalidData,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_kind_phase_url_and_source() {
        let err = Error::io(
            io::Error::new(io::ErrorKind::BrokenPipe, "pipe"),
            Phase::Write,
        )
        .with_url("http://example.test/x");
        let text = err.to_string();
        assert_eq!(
            text,
            "I/O error while writing the request (http://example.test/x): pipe"
        );
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn retry_safety_distinguishes_closes() {
        assert!(Error::new(Kind::ClosedBeforeResponse, Phase::ReadHead).is_retry_safe());
        assert!(!Error::new(Kind::ClosedMidResponse, Phase::ReadHead).is_retry_safe());
        assert!(!Error::new(Kind::BodyIncomplete, Phase::ReadBody).is_retry_safe());
    }

    #[test]
    fn remote_protocol_says_what_was_malformed() {
        let err = Error::remote(Malformed::ConflictingContentLength, Phase::ReadHead);
        assert!(err.to_string().contains("several different Content-Length"));
        assert_eq!(
            err.kind(),
            Kind::RemoteProtocol(Malformed::ConflictingContentLength)
        );
    }

    #[test]
    fn every_timeout_is_a_timeout() {
        for kind in [
            Kind::ConnectTimeout,
            Kind::ReadTimeout,
            Kind::WriteTimeout,
            Kind::PoolTimeout,
            Kind::Timeout,
        ] {
            let err = Error::new(kind, Phase::ReadBody);
            assert!(err.is_timeout());
            assert_eq!(io::Error::from(err).kind(), io::ErrorKind::TimedOut);
        }
        assert!(!Error::new(Kind::Io, Phase::ReadBody).is_timeout());
    }

    #[test]
    fn error_is_one_pointer_wide() {
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }
}
