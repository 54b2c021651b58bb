//! Header fields: names compared case-insensitively but written with their original case,
//! several values per name, kept in insertion order.
//!
//! # Invariants
//! - A [`HeaderName`] is a non-empty RFC 9110 token (so it holds no CR, LF, NUL, space or `:`).
//! - A [`HeaderValue`] holds no CR, LF or NUL. Leading and trailing whitespace is kept as given.
//! - Both are [`Bytes`]: a parsed response's fields are slices of the received head, not copies.

use std::fmt;

use bytes::Bytes;

use crate::error::{Error, Invalid};

/// Whether `b` is an RFC 9110 `tchar`, the bytes a token (method, header name) may hold.
pub(crate) const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' |
        b'^' | b'_' | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// Whether `bytes` is a non-empty token.
pub(crate) fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|&b| is_tchar(b))
}

/// A header field name: a token, case-insensitive, written as given.
#[derive(Clone)]
pub struct HeaderName(Bytes);

/// A header field value: any bytes but CR, LF and NUL.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HeaderValue(Bytes);

impl HeaderName {
    /// Validates `name` (a non-empty token), keeping its case for the wire.
    pub fn from_bytes(name: impl Into<Bytes>) -> Result<HeaderName, Error> {
        let name = name.into();
        match is_token(&name) {
            true => Ok(HeaderName(name)),
            false => Err(Error::local(Invalid::HeaderName)),
        }
    }

    /// A name from a literal.
    ///
    /// # Panics
    /// When `name` is not a token (at compile time in a `const`). Meant for literals only.
    pub const fn from_static(name: &'static str) -> HeaderName {
        let bytes = name.as_bytes();
        let mut i = 0;
        assert!(!bytes.is_empty(), "empty header name");
        while i < bytes.len() {
            assert!(is_tchar(bytes[i]), "header name is not a token");
            i += 1;
        }
        HeaderName(Bytes::from_static(bytes))
    }

    /// Trusts `name` to be valid: used for fields httparse has already checked.
    pub(crate) fn from_parsed(name: Bytes) -> HeaderName {
        HeaderName(name)
    }

    /// The name as written on the wire.
    pub fn as_str(&self) -> &str {
        // Tokens are ASCII, so this never fails for a validated name.
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The name's bytes as written on the wire.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Case-insensitive comparison with `other`.
    pub fn eq_ignore_case(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other.as_bytes())
    }
}

impl PartialEq for HeaderName {
    fn eq(&self, other: &HeaderName) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl Eq for HeaderName {}

impl fmt::Debug for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl HeaderValue {
    /// Validates `value`: CR, LF and NUL are rejected.
    pub fn from_bytes(value: impl Into<Bytes>) -> Result<HeaderValue, Error> {
        let value = value.into();
        match value.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0)) {
            true => Err(Error::local(Invalid::HeaderValue)),
            false => Ok(HeaderValue(value)),
        }
    }

    /// A value from a literal.
    ///
    /// # Panics
    /// When `value` holds CR, LF or NUL (at compile time in a `const`). Meant for literals only.
    pub const fn from_static(value: &'static str) -> HeaderValue {
        let bytes = value.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            assert!(
                !matches!(bytes[i], b'\r' | b'\n' | 0),
                "CR, LF or NUL in header value"
            );
            i += 1;
        }
        HeaderValue(Bytes::from_static(bytes))
    }

    /// Trusts `value` to be valid: used for fields httparse has already checked.
    pub(crate) fn from_parsed(value: Bytes) -> HeaderValue {
        HeaderValue(value)
    }

    /// The value's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The value as text, when it is UTF-8.
    pub fn to_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// The value as shared bytes (no copy).
    pub fn to_bytes(&self) -> Bytes {
        self.0.clone()
    }

    /// The comma-separated list elements of this value, trimmed, empty ones skipped
    /// (RFC 9110 §5.6.1).
    pub fn list_items(&self) -> impl Iterator<Item = &[u8]> {
        self.0
            .split(|&b| b == b',')
            .map(trim_ows)
            .filter(|item| !item.is_empty())
    }
}

impl fmt::Debug for HeaderValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_str() {
            Some(s) => fmt::Debug::fmt(s, f),
            None => fmt::Debug::fmt(&self.0, f),
        }
    }
}

/// `bytes` without leading and trailing spaces and tabs (RFC 9110 OWS).
pub(crate) fn trim_ows(bytes: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !is_ows(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// Ordered header fields; a name may appear several times.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HeaderMap {
    /// The fields in the order they were added (or received).
    entries: Vec<(HeaderName, HeaderValue)>,
}

impl HeaderMap {
    /// An empty map.
    pub fn new() -> HeaderMap {
        HeaderMap {
            entries: Vec::new(),
        }
    }

    /// An empty map with room for `n` fields.
    pub fn with_capacity(n: usize) -> HeaderMap {
        HeaderMap {
            entries: Vec::with_capacity(n),
        }
    }

    /// The number of fields (a name given twice counts twice).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first value of `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&HeaderValue> {
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_case(name))
            .map(|(_, v)| v)
    }

    /// Every value of `name` (case-insensitive), in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a HeaderValue> + 'a {
        self.entries
            .iter()
            .filter(move |(n, _)| n.eq_ignore_case(name))
            .map(|(_, v)| v)
    }

    /// True when `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.iter().any(|(n, _)| n.eq_ignore_case(name))
    }

    /// Whether some value of `name` holds `token` as a comma-separated list element
    /// (case-insensitive), e.g. `contains_token("connection", "close")`.
    pub fn contains_token(&self, name: &str, token: &str) -> bool {
        let eq = |item: &[u8]| item.eq_ignore_ascii_case(token.as_bytes());
        self.get_all(name).any(|v| v.list_items().any(eq))
    }

    /// All fields in order, names with their original case.
    pub fn iter(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.entries.iter().map(|(n, v)| (n, v))
    }

    /// Adds a field after the existing ones (a repeated name keeps both).
    pub fn append(&mut self, name: HeaderName, value: HeaderValue) {
        self.entries.push((name, value));
    }

    /// Validates and adds a field.
    pub fn try_append(
        &mut self,
        name: impl Into<Bytes>,
        value: impl Into<Bytes>,
    ) -> Result<(), Error> {
        let name = HeaderName::from_bytes(name)?;
        self.append(name, HeaderValue::from_bytes(value)?);
        Ok(())
    }

    /// Removes every field named `name`, then adds `name: value`.
    pub fn insert(&mut self, name: HeaderName, value: HeaderValue) {
        self.remove(name.as_str());
        self.append(name, value);
    }

    /// Removes every field named `name` (case-insensitive); returns how many were removed.
    pub fn remove(&mut self, name: &str) -> usize {
        let before = self.entries.len();
        self.entries.retain(|(n, _)| !n.eq_ignore_case(name));
        before - self.entries.len()
    }
}

impl fmt::Debug for HeaderMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for &'a HeaderMap {
    type Item = (&'a HeaderName, &'a HeaderValue);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (HeaderName, HeaderValue)>,
        fn(&'a (HeaderName, HeaderValue)) -> (&'a HeaderName, &'a HeaderValue),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(n, v)| (n, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_case_insensitively_and_keep_case() {
        let mut map = HeaderMap::new();
        map.try_append("X-Trace-ID", "1").unwrap();
        map.try_append("x-trace-id", "2").unwrap();
        assert_eq!(map.get("X-TRACE-id").unwrap().as_bytes(), b"1");
        let values: Vec<_> = map.get_all("x-trace-id").map(|v| v.as_bytes()).collect();
        assert_eq!(values, [b"1", b"2"]);
        assert_eq!(map.iter().next().unwrap().0.as_str(), "X-Trace-ID");
    }

    #[test]
    fn cr_lf_nul_and_bad_names_are_typed_errors() {
        use crate::error::Kind;
        for value in ["a\rb", "a\nb", "a\0b"] {
            let err = HeaderValue::from_bytes(value).unwrap_err();
            assert_eq!(err.kind(), Kind::LocalProtocol(Invalid::HeaderValue));
        }
        for name in ["", "a b", "a:b", "a\r", "a\n", "a\0", "é"] {
            let err = HeaderName::from_bytes(name).unwrap_err();
            assert_eq!(err.kind(), Kind::LocalProtocol(Invalid::HeaderName));
        }
    }

    #[test]
    #[should_panic(expected = "CR, LF or NUL")]
    fn static_values_with_crlf_panic() {
        let _ = HeaderValue::from_static("bad\r\n");
    }

    #[test]
    fn tokens_in_lists() {
        let mut map = HeaderMap::new();
        map.try_append("Connection", "Upgrade ,  Close").unwrap();
        assert!(map.contains_token("connection", "close"));
        assert!(!map.contains_token("connection", "keep-alive"));
    }

    #[test]
    fn insert_replaces_and_remove_counts() {
        let mut map = HeaderMap::new();
        map.try_append("A", "1").unwrap();
        map.try_append("a", "2").unwrap();
        map.insert(HeaderName::from_static("A"), HeaderValue::from_static("3"));
        assert_eq!(map.len(), 1);
        assert_eq!(map.remove("a"), 1);
        assert!(map.is_empty());
    }

    #[test]
    fn trim_ows_handles_all_space() {
        assert_eq!(trim_ows(b"  \t "), b"");
        assert_eq!(trim_ows(b" a b\t"), b"a b");
    }
}
