//! A small URL parser for what weir can reach: `http://host[:port]/target` over TCP and
//! `http+unix://<percent-encoded socket path>/target` over a Unix socket.
//!
//! Any other scheme (`https` included) is [`Kind::UnsupportedScheme`](crate::error::Kind).
//! The fragment (`#…`) is dropped: it never goes on the wire.
//!
//! # Invariants
//! - A [`Url`]'s target is origin-form (`/path?query`) or `*`, and holds only visible ASCII
//!   (0x21..=0x7E), so it can be written on the request line as is.
//! - A TCP host is lowercase, non-empty, with no brackets (an IPv6 literal is stored bare).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Invalid, Kind, Phase};

/// The default port of `http`.
pub const HTTP_DEFAULT_PORT: u16 = 80;

/// Where to connect: the pool keys connections by this.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Origin {
    /// A TCP origin (`http://host:port`).
    Tcp {
        /// Host name or IP literal, lowercase, IPv6 without brackets.
        host: Box<str>,
        /// Port (80 when the URL gave none).
        port: u16,
    },
    /// A Unix domain socket (`http+unix://%2Frun%2Fapp.sock`).
    Unix {
        /// The socket's path.
        path: PathBuf,
    },
}

/// A parsed URL: the origin to connect to and the target for the request line.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Url {
    /// Where to connect.
    origin: Origin,
    /// The request target (origin-form or `*`).
    target: Box<str>,
}

impl Url {
    /// Parses an absolute `http://` or `http+unix://` URL.
    ///
    /// # Examples
    /// ```
    /// let url = weir::http::Url::parse("http://Example.test:8080/a?b=1#frag").unwrap();
    /// assert_eq!(url.target(), "/a?b=1");
    /// assert_eq!(url.host_header(), "example.test:8080");
    /// ```
    pub fn parse(url: &str) -> Result<Url, Error> {
        let (scheme, rest) = url.split_once("://").ok_or_else(bad_url)?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(end);
        let origin = if scheme.eq_ignore_ascii_case("http") {
            parse_tcp_authority(authority)?
        } else if scheme.eq_ignore_ascii_case("http+unix") {
            Origin::Unix {
                path: PathBuf::from(percent_decode(authority)?),
            }
        } else {
            return Err(Error::new(Kind::UnsupportedScheme, Phase::Prepare));
        };
        Ok(Url {
            origin,
            target: normalize_target(target)?,
        })
    }

    /// A URL for a Unix socket at `path` with request target `target`.
    pub fn unix(path: impl AsRef<Path>, target: &str) -> Result<Url, Error> {
        let origin = Origin::Unix {
            path: path.as_ref().to_path_buf(),
        };
        Ok(Url {
            origin,
            target: normalize_target(target)?,
        })
    }

    /// A new URL with the same origin and another target (`/path?query`).
    pub fn with_target(&self, target: &str) -> Result<Url, Error> {
        Ok(Url {
            origin: self.origin.clone(),
            target: normalize_target(target)?,
        })
    }

    /// Where to connect.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The request target, as written on the request line.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The `Host` header value: `host` or `host:port` (port omitted when 80), IPv6 in
    /// brackets; `localhost` for a Unix socket.
    pub fn host_header(&self) -> String {
        match &self.origin {
            Origin::Tcp { host, port } => {
                let host = bracket_ipv6(host);
                match *port {
                    HTTP_DEFAULT_PORT => host,
                    port => format!("{host}:{port}"),
                }
            }
            Origin::Unix { .. } => "localhost".to_owned(),
        }
    }
}

/// `host` with brackets when it is an IPv6 literal.
fn bracket_ipv6(host: &str) -> String {
    match host.contains(':') {
        true => format!("[{host}]"),
        false => host.to_owned(),
    }
}

fn bad_url() -> Error {
    Error::local(Invalid::Url)
}

/// Parses `host[:port]` or `[v6]:port`. Userinfo is refused (it would leak into logs).
fn parse_tcp_authority(authority: &str) -> Result<Origin, Error> {
    if authority.contains('@') {
        return Err(bad_url());
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => split_ipv6(v6)?,
        None => split_host_port(authority)?,
    };
    let port = parse_port(port)?;
    Ok(Origin::Tcp {
        host: host.to_ascii_lowercase().into_boxed_str(),
        port,
    })
}

fn split_ipv6(after_bracket: &str) -> Result<(&str, &str), Error> {
    let (host, rest) = after_bracket.split_once(']').ok_or_else(bad_url)?;
    let valid = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
    let port = match rest {
        "" => "",
        _ => rest.strip_prefix(':').ok_or_else(bad_url)?,
    };
    valid.then_some((host, port)).ok_or_else(bad_url)
}

fn split_host_port(authority: &str) -> Result<(&str, &str), Error> {
    let (host, port) = authority.split_once(':').unwrap_or((authority, ""));
    let is_host_byte = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
    match !host.is_empty() && host.bytes().all(is_host_byte) {
        true => Ok((host, port)),
        false => Err(bad_url()),
    }
}

fn parse_port(port: &str) -> Result<u16, Error> {
    if port.is_empty() {
        return Ok(HTTP_DEFAULT_PORT);
    }
    let digits = port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
    let port = port.parse::<u16>().ok().filter(|_| digits);
    port.filter(|p| *p != 0).ok_or_else(bad_url)
}

/// Drops the fragment, turns "" into "/" and "?q" into "/?q", and checks every byte.
fn normalize_target(target: &str) -> Result<Box<str>, Error> {
    let target = target.split('#').next().unwrap_or("");
    let target = match target.as_bytes().first() {
        None => "/".into(),
        Some(b'?') => format!("/{target}"),
        Some(b'/') => target.to_owned(),
        Some(b'*') if target == "*" => target.to_owned(),
        Some(_) => return Err(Error::local(Invalid::Target)),
    };
    match target.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        true => Ok(target.into_boxed_str()),
        false => Err(Error::local(Invalid::Target)),
    }
}

/// Decodes `%XX` escapes (the socket path in an `http+unix` URL).
fn percent_decode(s: &str) -> Result<String, Error> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b != b'%' {
            out.push(b);
            continue;
        }
        let hex = [
            bytes.next().ok_or_else(bad_url)?,
            bytes.next().ok_or_else(bad_url)?,
        ];
        let hex = std::str::from_utf8(&hex).map_err(|_| bad_url())?;
        out.push(u8::from_str_radix(hex, 16).map_err(|_| bad_url())?);
    }
    match out.is_empty() {
        true => Err(bad_url()),
        false => String::from_utf8(out).map_err(|_| bad_url()),
    }
}

/// Encodes a socket path for display in an `http+unix` URL.
fn percent_encode(path: &Path, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for b in path.as_os_str().as_encoded_bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                write!(f, "{}", *b as char)?
            }
            _ => write!(f, "%{b:02X}")?,
        }
    }
    Ok(())
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Origin::Tcp { host, port } => write!(f, "http://{}:{port}", bracket_ipv6(host))?,
            Origin::Unix { path } => {
                f.write_str("http+unix://")?;
                percent_encode(path, f)?;
            }
        }
        match &*self.target {
            "*" => Ok(()),
            target => f.write_str(target),
        }
    }
}

impl fmt::Debug for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Url({self})")
    }
}

impl std::str::FromStr for Url {
    type Err = Error;
    fn from_str(s: &str) -> Result<Url, Error> {
        Url::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(url: &str) -> (String, u16, String) {
        let url = Url::parse(url).unwrap();
        match url.origin() {
            Origin::Tcp { host, port } => (host.to_string(), *port, url.target().to_owned()),
            Origin::Unix { .. } => panic!("expected tcp"),
        }
    }

    #[test]
    fn http_urls_split_into_origin_and_target() {
        assert_eq!(tcp("http://a.test"), ("a.test".into(), 80, "/".into()));
        assert_eq!(
            tcp("HTTP://A.Test:8080/x/y?q=1#f"),
            ("a.test".into(), 8080, "/x/y?q=1".into())
        );
        assert_eq!(tcp("http://h?q"), ("h".into(), 80, "/?q".into()));
        assert_eq!(tcp("http://[::1]:9/"), ("::1".into(), 9, "/".into()));
        assert_eq!(
            tcp("http://127.0.0.1:/"),
            ("127.0.0.1".into(), 80, "/".into())
        );
    }

    #[test]
    fn host_header_brackets_ipv6_and_omits_port_80() {
        assert_eq!(
            Url::parse("http://[::1]:8080/").unwrap().host_header(),
            "[::1]:8080"
        );
        assert_eq!(Url::parse("http://h:80/").unwrap().host_header(), "h");
    }

    #[test]
    fn unix_origin_is_percent_decoded() {
        let url = Url::parse("http+unix://%2Frun%2Fapp.sock/v1/info").unwrap();
        assert_eq!(
            url.origin(),
            &Origin::Unix {
                path: "/run/app.sock".into()
            }
        );
        assert_eq!(url.target(), "/v1/info");
        assert_eq!(url.to_string(), "http+unix://%2Frun%2Fapp.sock/v1/info");
        assert_eq!(url.host_header(), "localhost");
    }

    #[test]
    fn https_is_an_unsupported_scheme() {
        let err = Url::parse("https://a.test/").unwrap_err();
        assert_eq!(err.kind(), Kind::UnsupportedScheme);
        assert_eq!(
            Url::parse("ftp://a/").unwrap_err().kind(),
            Kind::UnsupportedScheme
        );
    }

    #[test]
    fn malformed_urls_are_typed_errors() {
        let bad_url = Kind::LocalProtocol(Invalid::Url);
        for url in [
            "a.test/",
            "http://",
            "http://u@h/",
            "http://h:99999/",
            "http://h:0/",
            "http://h:x/",
            "http://[::1/",
            "http://[zz]/",
            "http://a b/",
            "http+unix:///x",
        ] {
            assert_eq!(Url::parse(url).unwrap_err().kind(), bad_url, "{url}");
        }
        let bad_target = Kind::LocalProtocol(Invalid::Target);
        for url in ["http://h/a b", "http://h/\r\n", "http://h/é"] {
            assert_eq!(Url::parse(url).unwrap_err().kind(), bad_target, "{url}");
        }
    }

    #[test]
    fn with_target_keeps_origin() {
        let url = Url::parse("http://h:1/a")
            .unwrap()
            .with_target("/b")
            .unwrap();
        assert_eq!(url.to_string(), "http://h:1/b");
        assert!(url.with_target("b").is_err());
    }
}
