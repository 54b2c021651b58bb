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
        list_items(&self.0)
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
///
/// Fields of a parsed head are byte ranges of the received head (`base`): parsing costs one
/// `Vec` and no reference-count traffic per field. Fields added by hand own their `Bytes`.
#[derive(Clone, Default)]
pub struct HeaderMap {
    /// The received head that `Part::InBase` ranges point into (empty for hand-built maps).
    base: Bytes,
    /// The fields in the order they were added (or received).
    fields: Vec<Field>,
}

/// One field line: name and value.
#[derive(Clone, Debug)]
pub(crate) struct Field {
    /// The name, as on the wire.
    name: Part,
    /// The value, without surrounding whitespace.
    value: Part,
}

/// Where a name or value lives.
#[derive(Clone, Debug)]
enum Part {
    /// `base[start..start + len]` of the map.
    InBase {
        /// Offset in `base`.
        start: u32,
        /// Length.
        len: u32,
    },
    /// Bytes of its own (hand-built fields).
    Own(Bytes),
}

impl Part {
    /// The bytes, given the map's `base` (empty if a range lies outside it: never expected).
    fn bytes<'a>(&'a self, base: &'a Bytes) -> &'a [u8] {
        match self {
            Part::InBase { start, len } => {
                let (start, len) = (*start as usize, *len as usize);
                base.get(start..start + len).unwrap_or(b"")
            }
            Part::Own(bytes) => bytes,
        }
    }
}

impl Field {
    /// A field whose name and value are `(start, len)` ranges of the map's base.
    pub(crate) fn in_base(name: (u32, u32), value: (u32, u32)) -> Field {
        let part = |(start, len)| Part::InBase { start, len };
        Field {
            name: part(name),
            value: part(value),
        }
    }
}

/// A header name inside a [`HeaderMap`] (borrowed; `Copy`).
#[derive(Clone, Copy)]
pub struct HeaderNameRef<'a>(&'a [u8]);

/// A header value inside a [`HeaderMap`] (borrowed; `Copy`).
#[derive(Clone, Copy)]
pub struct HeaderValueRef<'a> {
    /// The value's bytes.
    bytes: &'a [u8],
    /// The map's base, so `to_bytes` can share instead of copy.
    base: &'a Bytes,
}

impl<'a> HeaderNameRef<'a> {
    /// The name as written on the wire (names are tokens, so ASCII).
    pub fn as_str(self) -> &'a str {
        std::str::from_utf8(self.0).unwrap_or("")
    }

    /// The name's bytes as written on the wire.
    pub fn as_bytes(self) -> &'a [u8] {
        self.0
    }

    /// Case-insensitive comparison with `other`.
    pub fn eq_ignore_case(self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other.as_bytes())
    }

    /// An owned copy (for building another map or request).
    pub fn to_owned(self) -> HeaderName {
        HeaderName(Bytes::copy_from_slice(self.0))
    }
}

impl<'a> HeaderValueRef<'a> {
    /// The value's bytes.
    pub fn as_bytes(self) -> &'a [u8] {
        self.bytes
    }

    /// The value as text, when it is UTF-8.
    pub fn to_str(self) -> Option<&'a str> {
        std::str::from_utf8(self.bytes).ok()
    }

    /// The value as shared bytes: a slice of the received head when it came from one (no copy).
    pub fn to_bytes(self) -> Bytes {
        if self.bytes.is_empty() {
            return Bytes::new();
        }
        share(self.base, self.bytes)
    }

    /// An owned value (shares the received head's bytes when it can).
    pub fn to_owned(self) -> HeaderValue {
        HeaderValue(self.to_bytes())
    }

    /// The comma-separated list elements of this value, trimmed, empty ones skipped
    /// (RFC 9110 §5.6.1).
    pub fn list_items(self) -> impl Iterator<Item = &'a [u8]> {
        list_items(self.bytes)
    }
}

/// `part` as a slice of `base` when it lies inside it, else a copy (never a panic).
pub(crate) fn share(base: &Bytes, part: &[u8]) -> Bytes {
    let start = (part.as_ptr() as usize).checked_sub(base.as_ptr() as usize);
    match start {
        Some(start) if start + part.len() <= base.len() && !part.is_empty() => {
            base.slice(start..start + part.len())
        }
        _ => Bytes::copy_from_slice(part),
    }
}

fn list_items(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|item| !item.is_empty())
}

impl fmt::Debug for HeaderNameRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for HeaderNameRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for HeaderValueRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_str() {
            Some(s) => fmt::Debug::fmt(s, f),
            None => fmt::Debug::fmt(self.bytes, f),
        }
    }
}

impl PartialEq<[u8]> for HeaderValueRef<'_> {
    fn eq(&self, other: &[u8]) -> bool {
        self.bytes == other
    }
}

impl PartialEq<&str> for HeaderValueRef<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.bytes == other.as_bytes()
    }
}

impl HeaderMap {
    /// An empty map.
    pub fn new() -> HeaderMap {
        HeaderMap::default()
    }

    /// An empty map with room for `n` fields.
    pub fn with_capacity(n: usize) -> HeaderMap {
        HeaderMap {
            base: Bytes::new(),
            fields: Vec::with_capacity(n),
        }
    }

    /// A map of parsed `fields`, ranges of `base` (the parser builds these).
    pub(crate) fn from_parsed(base: Bytes, fields: Vec<Field>) -> HeaderMap {
        HeaderMap { base, fields }
    }

    /// The number of fields (a name given twice counts twice).
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    fn name_of<'a>(&'a self, field: &'a Field) -> HeaderNameRef<'a> {
        HeaderNameRef(field.name.bytes(&self.base))
    }

    fn value_of<'a>(&'a self, field: &'a Field) -> HeaderValueRef<'a> {
        let bytes = field.value.bytes(&self.base);
        let base = match &field.value {
            Part::Own(own) => own,
            Part::InBase { .. } => &self.base,
        };
        HeaderValueRef { bytes, base }
    }

    /// The first value of `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<HeaderValueRef<'_>> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_case(name))
            .map(|(_, v)| v)
    }

    /// Every value of `name` (case-insensitive), in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = HeaderValueRef<'a>> + 'a {
        self.iter()
            .filter(move |(n, _)| n.eq_ignore_case(name))
            .map(|(_, v)| v)
    }

    /// True when `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Whether some value of `name` holds `token` as a comma-separated list element
    /// (case-insensitive), e.g. `contains_token("connection", "close")`.
    pub fn contains_token(&self, name: &str, token: &str) -> bool {
        let eq = |item: &[u8]| item.eq_ignore_ascii_case(token.as_bytes());
        self.get_all(name).any(|v| v.list_items().any(eq))
    }

    /// All fields in order, names with their original case.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            map: self,
            fields: self.fields.iter(),
        }
    }

    /// Adds a field after the existing ones (a repeated name keeps both).
    pub fn append(&mut self, name: HeaderName, value: HeaderValue) {
        self.fields.push(Field {
            name: Part::Own(name.0),
            value: Part::Own(value.0),
        });
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
        let before = self.fields.len();
        let base = &self.base;
        self.fields
            .retain(|field| !field.name.bytes(base).eq_ignore_ascii_case(name.as_bytes()));
        before - self.fields.len()
    }
}

/// The fields of a [`HeaderMap`], in order.
#[derive(Debug)]
pub struct Iter<'a> {
    /// The map (for the base bytes).
    map: &'a HeaderMap,
    /// The fields still to yield.
    fields: std::slice::Iter<'a, Field>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (HeaderNameRef<'a>, HeaderValueRef<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let field = self.fields.next()?;
        Some((self.map.name_of(field), self.map.value_of(field)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.fields.size_hint()
    }
}

impl<'a> IntoIterator for &'a HeaderMap {
    type Item = (HeaderNameRef<'a>, HeaderValueRef<'a>);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Equal when the same fields come in the same order (names case-insensitively).
impl PartialEq for HeaderMap {
    fn eq(&self, other: &HeaderMap) -> bool {
        self.len() == other.len()
            && self.iter().zip(other.iter()).all(|((n1, v1), (n2, v2))| {
                n1.as_bytes().eq_ignore_ascii_case(n2.as_bytes()) && v1.as_bytes() == v2.as_bytes()
            })
    }
}

impl Eq for HeaderMap {}

impl fmt::Debug for HeaderMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
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
