//! The immutable request: a [`RequestHead`] (method, URL, headers) and a [`Body`].
//!
//! Nothing mutates a `Request` in place: `with_*` methods consume it and return a new one,
//! and the [`RequestBuilder`] validates everything before a `Request` exists.
//!
//! # Invariants
//! - The method is a token, the URL's target is request-line safe, and every header name and
//!   value has been validated, so encoding a `Request` cannot fail on its content.

use std::fmt;

use bytes::Bytes;

use super::body::Body;
use super::header::{is_token, HeaderMap, HeaderName, HeaderValue};
use super::url::Url;
use crate::error::{Error, Invalid};

/// A request method: the standard ones, or any other token.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`: the response has no body.
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// `OPTIONS`
    Options,
    /// `PATCH`
    Patch,
    /// `CONNECT`: a 2xx response turns the connection into a tunnel.
    Connect,
    /// `TRACE`
    Trace,
    /// Any other token, as given (methods are case-sensitive).
    Extension(Box<str>),
}

impl Method {
    /// Parses a method; anything but a token is [`Invalid::Method`].
    pub fn from_bytes(method: &[u8]) -> Result<Method, Error> {
        Ok(match method {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"OPTIONS" => Method::Options,
            b"PATCH" => Method::Patch,
            b"CONNECT" => Method::Connect,
            b"TRACE" => Method::Trace,
            other if is_token(other) => {
                let text = std::str::from_utf8(other).map_err(|_| Error::local(Invalid::Method))?;
                Method::Extension(text.into())
            }
            _ => return Err(Error::local(Invalid::Method)),
        })
    }

    /// The method as written on the request line.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Patch => "PATCH",
            Method::Connect => "CONNECT",
            Method::Trace => "TRACE",
            Method::Extension(m) => m,
        }
    }

    /// Idempotent methods (RFC 9110 §9.2.2) may be retried after a stale-connection close.
    pub fn is_idempotent(&self) -> bool {
        use Method::*;
        matches!(self, Get | Head | Put | Delete | Options | Trace)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything of a request but its body.
#[derive(Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method.
    method: Method,
    /// Where to connect and what to ask for.
    url: Url,
    /// Header fields, as the user gave them (`Host` and framing are added by the encoder).
    headers: HeaderMap,
}

impl RequestHead {
    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The header fields the user gave.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }
}

impl fmt::Debug for RequestHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {:?}", self.method, self.url, self.headers)
    }
}

/// An HTTP request. Immutable: "changing" one makes a new one.
#[derive(Debug)]
pub struct Request {
    /// Method, URL, headers.
    head: RequestHead,
    /// The body.
    body: Body,
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: Method, url: Url) -> Request {
        let head = RequestHead {
            method,
            url,
            headers: HeaderMap::new(),
        };
        Request {
            head,
            body: Body::Empty,
        }
    }

    /// A builder for a `method` request to `url` (errors surface at [`RequestBuilder::build`]).
    ///
    /// # Examples
    /// ```
    /// use weir::http::{Method, Request};
    /// let req = Request::builder(Method::Post, "http://127.0.0.1:8080/upload")
    ///     .header("Content-Type", "text/plain")
    ///     .body("hello")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(req.url().target(), "/upload");
    /// assert_eq!(req.headers().get("content-type").unwrap().as_bytes(), b"text/plain");
    /// ```
    pub fn builder(method: Method, url: &str) -> RequestBuilder {
        RequestBuilder::new(method, url)
    }

    /// A builder for a `GET` to `url`.
    pub fn get(url: &str) -> RequestBuilder {
        RequestBuilder::new(Method::Get, url)
    }

    /// A builder for a `HEAD` to `url`.
    pub fn head(url: &str) -> RequestBuilder {
        RequestBuilder::new(Method::Head, url)
    }

    /// A builder for a `POST` to `url`.
    pub fn post(url: &str) -> RequestBuilder {
        RequestBuilder::new(Method::Post, url)
    }

    /// A builder for a `PUT` to `url`.
    pub fn put(url: &str) -> RequestBuilder {
        RequestBuilder::new(Method::Put, url)
    }

    /// A builder for a `DELETE` to `url`.
    pub fn delete(url: &str) -> RequestBuilder {
        RequestBuilder::new(Method::Delete, url)
    }

    /// A copy of this request when its body can be copied (empty or in memory); `None` for
    /// stream and file bodies. The client uses this to retry after a stale-connection close.
    pub fn try_clone(&self) -> Option<Request> {
        let body = match &self.body {
            Body::Empty => Body::Empty,
            Body::Bytes(bytes) => Body::Bytes(bytes.clone()),
            Body::Stream { .. } | Body::File { .. } => return None,
        };
        Some(Request {
            head: self.head.clone(),
            body,
        })
    }

    /// Reassembles a request from its parts.
    pub fn from_parts(head: RequestHead, body: Body) -> Request {
        Request { head, body }
    }

    /// Splits into head and body (the connection keeps the head and streams the body).
    pub fn into_parts(self) -> (RequestHead, Body) {
        (self.head, self.body)
    }

    /// Method, URL and headers.
    pub fn request_head(&self) -> &RequestHead {
        &self.head
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.head.method
    }

    /// The URL.
    pub fn url(&self) -> &Url {
        &self.head.url
    }

    /// The header fields the user gave.
    pub fn headers(&self) -> &HeaderMap {
        &self.head.headers
    }

    /// The body.
    pub fn body(&self) -> &Body {
        &self.body
    }

    /// A new request with `name: value` added after the existing fields.
    pub fn with_header(
        mut self,
        name: impl Into<Bytes>,
        value: impl Into<Bytes>,
    ) -> Result<Request, Error> {
        self.head.headers.try_append(name, value)?;
        Ok(self)
    }

    /// A new request with an already validated field added after the existing ones.
    pub fn with_header_appended(mut self, name: HeaderName, value: HeaderValue) -> Request {
        self.head.headers.append(name, value);
        self
    }

    /// A new request where `name` has only `value`.
    pub fn with_header_replaced(mut self, name: HeaderName, value: HeaderValue) -> Request {
        self.head.headers.insert(name, value);
        self
    }

    /// A new request without any `name` field.
    pub fn without_header(mut self, name: &str) -> Request {
        self.head.headers.remove(name);
        self
    }

    /// A new request to another URL (same method, headers and body).
    pub fn with_url(mut self, url: Url) -> Request {
        self.head.url = url;
        self
    }

    /// A new request with another method.
    pub fn with_method(mut self, method: Method) -> Request {
        self.head.method = method;
        self
    }

    /// A new request with another body.
    pub fn with_body(mut self, body: impl Into<Body>) -> Request {
        self.body = body.into();
        self
    }
}

/// Builds a [`Request`], keeping the first error until [`build`](RequestBuilder::build).
#[derive(Debug)]
pub struct RequestBuilder {
    /// The request so far, or the first error.
    inner: Result<Request, Error>,
}

impl RequestBuilder {
    /// A builder for a `method` request to `url`.
    pub fn new(method: Method, url: &str) -> RequestBuilder {
        RequestBuilder {
            inner: Url::parse(url).map(|url| Request::new(method, url)),
        }
    }

    /// Adds a header field (after any others of the same name).
    pub fn header(self, name: impl Into<Bytes>, value: impl Into<Bytes>) -> RequestBuilder {
        RequestBuilder {
            inner: self.inner.and_then(|r| r.with_header(name, value)),
        }
    }

    /// Sets the body.
    pub fn body(self, body: impl Into<Body>) -> RequestBuilder {
        RequestBuilder {
            inner: self.inner.map(|r| r.with_body(body)),
        }
    }

    /// The request, or the first error met while building it.
    pub fn build(self) -> Result<Request, Error> {
        self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;

    #[test]
    fn methods_must_be_tokens() {
        assert_eq!(Method::from_bytes(b"GET").unwrap(), Method::Get);
        assert_eq!(Method::from_bytes(b"PURGE").unwrap().as_str(), "PURGE");
        for bad in [&b""[..], b"GE T", b"GET\r\n", b"G\0"] {
            let err = Method::from_bytes(bad).unwrap_err();
            assert_eq!(err.kind(), Kind::LocalProtocol(Invalid::Method));
        }
    }

    #[test]
    fn builder_keeps_first_error() {
        let err = Request::get("http://h/")
            .header("a\r\nb", "v")
            .header("ok", "v")
            .build();
        assert_eq!(
            err.unwrap_err().kind(),
            Kind::LocalProtocol(Invalid::HeaderName)
        );
        let err = Request::get("https://h/").header("a", "v").build();
        assert_eq!(err.unwrap_err().kind(), Kind::UnsupportedScheme);
    }

    #[test]
    fn changes_make_new_requests() {
        let req = Request::get("http://h/a").build().unwrap();
        let req = req
            .with_header("X-A", "1")
            .unwrap()
            .with_url(Url::parse("http://g/b").unwrap());
        assert_eq!(req.url().to_string(), "http://g:80/b");
        assert_eq!(req.headers().get("x-a").unwrap().as_bytes(), b"1");
        let copy = req.try_clone().unwrap();
        assert_eq!(copy.request_head(), req.request_head());
        let req = req.without_header("x-a").with_method(Method::Head);
        assert!(req.headers().is_empty());
        assert_eq!(req.method(), &Method::Head);
    }
}
