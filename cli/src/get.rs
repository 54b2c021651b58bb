//! `weir get`: fetch URLs in order through one client, reusing connections.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use weir::http::{Body, Method, Request, RequestBuilder, Response};

use crate::errors::CliError;
use crate::progress::Progress;
use std::fmt;

use weir::client::{Client, ClientEvent};
use weir::http::Origin;

/// What to fetch and how to show it.
#[derive(Debug, Clone, Default)]
pub struct GetOpts {
    /// `-X`: the method (default GET, or POST with `-d`).
    pub method: Option<String>,
    /// `-H 'Name: value'`, in order.
    pub headers: Vec<String>,
    /// `-d DATA` or `-d @FILE`.
    pub data: Option<String>,
    /// `-i`: status line and headers before the body.
    pub include: bool,
    /// `-o FILE`: bodies go here instead of stdout.
    pub output: Option<PathBuf>,
    /// `-v`: connection events on stderr.
    pub verbose: bool,
    /// The URLs, fetched in order.
    pub urls: Vec<String>,
}

/// Runs `weir get`: every response read to its end, or the first error.
pub fn run(opts: &GetOpts) -> Result<(), CliError> {
    let rt = weir::rt::Runtime::new().map_err(|e| CliError::new("runtime", e))?;
    let mut out = open_output(opts)?;
    let show_progress = opts.output.is_some() && std::io::stderr().is_terminal();
    rt.block_on(async {
        let client = make_client(opts.verbose);
        for url in &opts.urls {
            let req = build_request(opts, url)?;
            let resp = client.send(req).await?;
            write_response(resp, opts.include, &mut *out, show_progress).await?;
        }
        out.flush().map_err(|e| CliError::new("output", e))
    })
}

fn open_output(opts: &GetOpts) -> Result<Box<dyn Write>, CliError> {
    match &opts.output {
        Some(path) => {
            let f = File::create(path)
                .map_err(|e| CliError::new("output", format!("{}: {e}", path.display())))?;
            Ok(Box::new(f))
        }
        None => Ok(Box::new(std::io::stdout().lock())),
    }
}

fn make_client(verbose: bool) -> Client {
    let builder = Client::builder();
    if verbose {
        builder.on_event(print_event).build()
    } else {
        builder.build()
    }
}

/// One line on stderr per connection event.
fn print_event(event: &ClientEvent<'_>) {
    match *event {
        ClientEvent::Connected {
            origin,
            addr: Some(addr),
        } => {
            eprintln!("* connected to {} ({addr})", ShowOrigin(origin))
        }
        ClientEvent::Connected { origin, addr: None } => {
            eprintln!("* connected to {}", ShowOrigin(origin))
        }
        ClientEvent::Reused {
            origin,
            requests_served,
        } => eprintln!(
            "* reused connection to {} ({requests_served} requests served)",
            ShowOrigin(origin)
        ),
        ClientEvent::Closed { origin, reason } => {
            eprintln!("* closed connection to {}: {reason}", ShowOrigin(origin))
        }
        ClientEvent::Retried {
            origin,
            attempt,
            cause,
        } => eprintln!(
            "* retried (attempt {attempt}) on a new connection to {} after: {cause}",
            ShowOrigin(origin)
        ),
        ref other => eprintln!("* {other:?}"),
    }
}

/// Shows an origin as `host:port` or `unix:<path>`.
struct ShowOrigin<'a>(&'a Origin);

impl fmt::Display for ShowOrigin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Origin::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Origin::Tcp { host, port } => write!(f, "{host}:{port}"),
            Origin::Unix { path } => write!(f, "unix:{}", path.display()),
        }
    }
}

/// The request for `url` with the method, headers and body the options give.
fn build_request(opts: &GetOpts, url: &str) -> Result<Request, CliError> {
    let method = match (&opts.method, &opts.data) {
        (Some(m), _) => Method::from_bytes(m.as_bytes())
            .map_err(|_| CliError::new("usage", format!("invalid method {m:?}")))?,
        (None, Some(_)) => Method::Post,
        (None, None) => Method::Get,
    };
    let mut builder = Request::builder(method, url);
    for h in &opts.headers {
        builder = add_header(builder, h)?;
    }
    if let Some(data) = &opts.data {
        builder = builder.body(read_data(data)?);
    }
    Ok(builder.build()?)
}

/// `Name: value` → a header on the builder.
fn add_header(builder: RequestBuilder, line: &str) -> Result<RequestBuilder, CliError> {
    let (name, value) = line
        .split_once(':')
        .ok_or_else(|| CliError::new("usage", format!("header {line:?} is not 'Name: value'")))?;
    Ok(builder.header(name.trim().to_owned(), value.trim().to_owned()))
}

/// `-d DATA` is sent as is; `-d @FILE` streams the file.
fn read_data(data: &str) -> Result<Body, CliError> {
    let Some(path) = data.strip_prefix('@') else {
        return Ok(Body::from(data.to_owned()));
    };
    let file_err = |e| CliError::new("file", format!("{path}: {e}"));
    let file = File::open(path).map_err(file_err)?;
    let len = file.metadata().map_err(file_err)?.len();
    Ok(Body::file(file, len))
}

/// Writes the head (with `-i`) and streams the body to `out`.
async fn write_response(
    resp: Response<weir::client::Body>,
    include: bool,
    out: &mut dyn Write,
    show_progress: bool,
) -> Result<(), CliError> {
    let out_err = |e| CliError::new("output", e);
    if include {
        out.write_all(&head_text(&resp)).map_err(out_err)?;
    }
    let total = resp
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str()?.parse().ok());
    let mut progress = Progress::new(show_progress, total);
    let (_, mut body, _) = resp.into_parts();
    while let Some(chunk) = body.next_chunk().await? {
        out.write_all(&chunk).map_err(out_err)?;
        progress.advance(chunk.len());
    }
    progress.finish();
    Ok(())
}

/// Status line, header fields and the blank line, as they came (CRLF line ends).
fn head_text<B>(resp: &Response<B>) -> Vec<u8> {
    let mut text =
        format!("{} {} {}\r\n", resp.version(), resp.status(), resp.reason()).into_bytes();
    for (name, value) in resp.headers().iter() {
        text.extend_from_slice(name.as_bytes());
        text.extend_from_slice(b": ");
        text.extend_from_slice(value.as_bytes());
        text.extend_from_slice(b"\r\n");
    }
    text.extend_from_slice(b"\r\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> GetOpts {
        GetOpts {
            urls: vec!["http://h.test/x".into()],
            ..GetOpts::default()
        }
    }

    #[test]
    fn data_makes_a_post_and_x_overrides() {
        let mut o = opts();
        o.data = Some("abc".into());
        let req = build_request(&o, "http://h.test/x").unwrap();
        assert_eq!(req.method(), &Method::Post);
        assert_eq!(req.body().known_len(), Some(3));
        o.method = Some("PUT".into());
        assert_eq!(
            build_request(&o, "http://h.test/x").unwrap().method(),
            &Method::Put
        );
    }

    #[test]
    fn headers_are_split_at_the_first_colon() {
        let mut o = opts();
        o.headers = vec!["X-A:  b:c ".into()];
        let req = build_request(&o, "http://h.test/x").unwrap();
        assert_eq!(req.headers().get("x-a").unwrap().as_bytes(), b"b:c");
        o.headers = vec!["nocolon".into()];
        assert_eq!(
            build_request(&o, "http://h.test/x").unwrap_err().kind,
            "usage"
        );
    }

    #[test]
    fn missing_data_file_is_a_file_error() {
        let mut o = opts();
        o.data = Some("@/nonexistent/weir-test".into());
        assert_eq!(
            build_request(&o, "http://h.test/x").unwrap_err().kind,
            "file"
        );
    }
}
