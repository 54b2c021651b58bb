//! A minimal blocking HTTP/1.1 client on `std::net`, independent of weir, for checking the
//! peers themselves and for tests that need a second opinion on what a server sent.
//!
//! It frames responses by the usual rules (no body for HEAD, 1xx, 204, 304; chunked; length;
//! else until EOF) and trusts its peer: it is test code, not a parser to fuzz.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};

/// Header or trailer fields in order, names as sent.
pub type Fields = Vec<(String, String)>;

/// One response as read off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponse {
    /// The status line, e.g. `HTTP/1.1 200 OK`.
    pub status_line: String,
    /// The status code.
    pub status: u16,
    /// Header fields in order, names as sent.
    pub headers: Fields,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// Trailer fields of a chunked body.
    pub trailers: Fields,
    /// Number of non-empty chunks the body came in (0 when not chunked).
    pub chunks: usize,
}

impl RawResponse {
    /// The body came chunked.
    pub fn chunked(&self) -> bool {
        self.chunks > 0 || self.header("transfer-encoding").is_some()
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_field(&self.headers, name)
    }

    /// The first trailer named `name` (case-insensitive).
    pub fn trailer(&self, name: &str) -> Option<&str> {
        find_field(&self.trailers, name)
    }
}

fn find_field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// One client connection, kept open across requests.
#[derive(Debug)]
pub struct RawConn {
    /// The connection, buffered for reading.
    reader: BufReader<TcpStream>,
}

impl RawConn {
    /// Connects to `addr`.
    pub fn connect(addr: SocketAddr) -> io::Result<RawConn> {
        let stream = TcpStream::connect(addr)?;
        Ok(RawConn {
            reader: BufReader::new(stream),
        })
    }

    /// Sends `GET path` (keep-alive) and reads the response.
    pub fn get(&mut self, path: &str) -> io::Result<RawResponse> {
        self.request("GET", path, &[])
    }

    /// Sends `method path` with `extra` header lines (`"Name: value"`) and reads the response.
    pub fn request(&mut self, method: &str, path: &str, extra: &[&str]) -> io::Result<RawResponse> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
        for line in extra {
            head.push_str(line);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        self.reader.get_mut().write_all(head.as_bytes())?;
        read_response(&mut self.reader, method == "HEAD")
    }

    /// Reads until the server closes; the bytes it sent after the last response.
    pub fn read_to_end(&mut self) -> io::Result<Vec<u8>> {
        let mut rest = Vec::new();
        self.reader.read_to_end(&mut rest)?;
        Ok(rest)
    }

    /// The underlying stream (for timeouts, shutdown).
    pub fn stream(&self) -> &TcpStream {
        self.reader.get_ref()
    }
}

/// `GET path` on a fresh connection with `Connection: close`.
pub fn get(addr: SocketAddr, path: &str) -> io::Result<RawResponse> {
    RawConn::connect(addr)?.request("GET", path, &["Connection: close"])
}

/// Reads one response; `head_request` says the request was HEAD (no body follows).
pub fn read_response(reader: &mut impl BufRead, head_request: bool) -> io::Result<RawResponse> {
    let status_line = read_line(reader)?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
    let headers = read_fields(reader)?;
    let mut response = RawResponse {
        status_line,
        status,
        headers,
        body: Vec::new(),
        trailers: Vec::new(),
        chunks: 0,
    };
    if head_request || status < 200 || status == 204 || status == 304 {
        return Ok(response);
    }
    let chunked = response
        .header("transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().ends_with("chunked"));
    if chunked {
        (response.body, response.trailers, response.chunks) = read_chunked(reader)?;
    } else if let Some(len) = response.header("content-length") {
        let len: usize = len
            .trim()
            .parse()
            .map_err(|_| invalid(format!("bad length {len:?}")))?;
        response.body = vec![0; len];
        reader.read_exact(&mut response.body)?;
    } else {
        reader.read_to_end(&mut response.body)?;
    }
    Ok(response)
}

fn read_chunked(reader: &mut impl BufRead) -> io::Result<(Vec<u8>, Fields, usize)> {
    let mut body = Vec::new();
    for chunks in 0.. {
        let line = read_line(reader)?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| invalid(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            return Ok((body, read_fields(reader)?, chunks));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        if !read_line(reader)?.is_empty() {
            return Err(invalid("chunk not followed by CRLF".into()));
        }
    }
    unreachable!("a body of usize::MAX chunks")
}

/// Reads `Name: value` lines up to the empty line.
fn read_fields(reader: &mut impl BufRead) -> io::Result<Fields> {
    let mut fields = Vec::new();
    loop {
        let line = read_line(reader)?;
        if line.is_empty() {
            return Ok(fields);
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad field {line:?}")))?;
        fields.push((name.to_string(), value.trim().to_string()));
    }
}

/// One line without its CRLF; EOF before the line ends is an error.
fn read_line(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 || !line.ends_with('\n') {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("EOF in a line ({line:?})"),
        ));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}
