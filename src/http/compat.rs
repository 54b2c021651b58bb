//! Conversions to and from the `http` crate's types (feature `http`, on by default).
//!
//! `http` lowercases header names, so names coming from it are lowercase; names going to it lose
//! their case. Our header values may hold bytes `http` refuses (other control characters), so
//! the conversions that go to `http` are `TryFrom` too. Trailers are not carried by
//! `http::Response` and are dropped when converting to it.

use bytes::Bytes;

use super::body::Body;
use super::header::{HeaderMap, HeaderName, HeaderValue};
use super::request::{Method, Request};
use super::response::{Response, ResponseHead, Version};
use super::url::Url;
use crate::error::{Error, Invalid};

impl TryFrom<&http::HeaderMap> for HeaderMap {
    type Error = Error;
    fn try_from(src: &http::HeaderMap) -> Result<HeaderMap, Error> {
        let mut map = HeaderMap::with_capacity(src.len());
        for (name, value) in src {
            let name = HeaderName::from_bytes(Bytes::copy_from_slice(name.as_str().as_bytes()))?;
            map.append(
                name,
                HeaderValue::from_bytes(Bytes::copy_from_slice(value.as_bytes()))?,
            );
        }
        Ok(map)
    }
}

impl TryFrom<http::HeaderMap> for HeaderMap {
    type Error = Error;
    fn try_from(src: http::HeaderMap) -> Result<HeaderMap, Error> {
        HeaderMap::try_from(&src)
    }
}

impl TryFrom<&HeaderMap> for http::HeaderMap {
    type Error = Error;
    fn try_from(src: &HeaderMap) -> Result<http::HeaderMap, Error> {
        let mut map = http::HeaderMap::with_capacity(src.len());
        for (name, value) in src {
            let name = http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| Error::local(Invalid::HeaderName).with_source(e))?;
            let value = http::HeaderValue::from_maybe_shared(value.to_bytes())
                .map_err(|e| Error::local(Invalid::HeaderValue).with_source(e))?;
            map.append(name, value);
        }
        Ok(map)
    }
}

impl TryFrom<HeaderMap> for http::HeaderMap {
    type Error = Error;
    fn try_from(src: HeaderMap) -> Result<http::HeaderMap, Error> {
        http::HeaderMap::try_from(&src)
    }
}

impl TryFrom<&http::Method> for Method {
    type Error = Error;
    fn try_from(src: &http::Method) -> Result<Method, Error> {
        Method::from_bytes(src.as_str().as_bytes())
    }
}

impl TryFrom<&Method> for http::Method {
    type Error = Error;
    fn try_from(src: &Method) -> Result<http::Method, Error> {
        http::Method::from_bytes(src.as_str().as_bytes())
            .map_err(|e| Error::local(Invalid::Method).with_source(e))
    }
}

/// From an `http::Request` whose URI is absolute (`http://host/path`).
impl<B: Into<Body>> TryFrom<http::Request<B>> for Request {
    type Error = Error;
    fn try_from(src: http::Request<B>) -> Result<Request, Error> {
        let (parts, body) = src.into_parts();
        let url = Url::parse(&parts.uri.to_string())?;
        let mut req = Request::new(Method::try_from(&parts.method)?, url).with_body(body);
        for (name, value) in &parts.headers {
            let name = Bytes::copy_from_slice(name.as_str().as_bytes());
            req = req.with_header(name, Bytes::copy_from_slice(value.as_bytes()))?;
        }
        Ok(req)
    }
}

impl TryFrom<Request> for http::Request<Body> {
    type Error = Error;
    fn try_from(src: Request) -> Result<http::Request<Body>, Error> {
        let (head, body) = src.into_parts();
        let mut out = http::Request::new(body);
        *out.method_mut() = http::Method::try_from(head.method())?;
        *out.uri_mut() = head
            .url()
            .to_string()
            .parse()
            .map_err(|e| Error::local(Invalid::Url).with_source(e))?;
        *out.headers_mut() = http::HeaderMap::try_from(head.headers())?;
        Ok(out)
    }
}

impl<B> TryFrom<http::Response<B>> for Response<B> {
    type Error = Error;
    fn try_from(src: http::Response<B>) -> Result<Response<B>, Error> {
        let (parts, body) = src.into_parts();
        let version = match parts.version {
            http::Version::HTTP_10 | http::Version::HTTP_09 => Version::Http10,
            _ => Version::Http11,
        };
        let reason = Bytes::from_static(parts.status.canonical_reason().unwrap_or("").as_bytes());
        let headers = HeaderMap::try_from(&parts.headers)?;
        let head = ResponseHead::new(version, parts.status.as_u16(), reason, headers);
        Ok(Response::new(head, body))
    }
}

impl<B> TryFrom<Response<B>> for http::Response<B> {
    type Error = Error;
    fn try_from(src: Response<B>) -> Result<http::Response<B>, Error> {
        let (head, body, _trailers) = src.into_parts();
        let mut out = http::Response::new(body);
        *out.status_mut() = http::StatusCode::from_u16(head.status()).map_err(|e| {
            Error::remote(crate::error::Malformed::Head, crate::error::Phase::ReadHead)
                .with_source(e)
        })?;
        *out.version_mut() = match head.version() {
            Version::Http10 => http::Version::HTTP_10,
            Version::Http11 => http::Version::HTTP_11,
        };
        *out.headers_mut() = http::HeaderMap::try_from(head.headers())?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let src = http::Request::post("http://h.test:81/p?q")
            .header("X-A", "1")
            .body("hi")
            .unwrap();
        let req = Request::try_from(src).unwrap();
        assert_eq!((req.method(), req.url().target()), (&Method::Post, "/p?q"));
        assert_eq!(req.headers().get("x-a").unwrap().as_bytes(), b"1");
        let back = http::Request::try_from(req).unwrap();
        assert_eq!(back.uri(), "http://h.test:81/p?q");
        assert_eq!(back.headers()["x-a"], "1");
    }

    #[test]
    fn relative_uris_are_refused() {
        let src = http::Request::get("/only/path").body(Body::Empty).unwrap();
        assert!(Request::try_from(src).is_err());
    }

    #[test]
    fn responses_round_trip() {
        let src = http::Response::builder()
            .status(404)
            .header("A", "b")
            .body(())
            .unwrap();
        let resp = Response::try_from(src).unwrap();
        assert_eq!((resp.status(), resp.reason()), (404, "Not Found"));
        let back = http::Response::try_from(resp).unwrap();
        assert_eq!(back.status(), 404);
        assert_eq!(back.headers()["a"], "b");
    }

    #[test]
    fn control_bytes_http_refuses_are_errors() {
        let mut map = HeaderMap::new();
        map.try_append("A", &b"\x01"[..]).unwrap();
        assert!(http::HeaderMap::try_from(&map).is_err());
    }
}
