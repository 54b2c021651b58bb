//! Python's `http.server` in HTTP/1.1 mode, serving a temporary directory.
//!
//! An inline script subclasses `SimpleHTTPRequestHandler` with `protocol_version =
//! "HTTP/1.1"` (keep-alive, `Content-Length` on files) and adds three handlers:
//! - `GET /chunked`: `Transfer-Encoding: chunked`, the chunks of [`CHUNKED_PIECES`], then a
//!   trailer `X-Trailer: done`;
//! - `GET /close`: no length, `Connection: close`, [`CLOSE_BODY`] delimited by closing;
//! - `POST` or `PUT /echo`: answers 200 with the request body (sent with `Content-Length`
//!   or chunked) as its body, with `Content-Length`.
//!
//! The script binds port 0 and prints the port it got, so there is no port race.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::{require_program, stop_child, wait_listening, TempDir};

/// The file served at `/13b.txt` (the same 13 bytes nginx serves).
pub use super::nginx::SMALL_BODY;
/// The chunks `GET /chunked` sends, in order.
pub const CHUNKED_PIECES: [&str; 3] = ["Hello, ", "chunked ", "weir!\n"];
/// The body `GET /close` sends before closing.
pub const CLOSE_BODY: &[u8] = b"close-delimited body\n";

const SCRIPT: &str = r#"
import http.server, socketserver, sys, functools

class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Trailer", "X-Trailer")
            self.end_headers()
            for piece in CHUNKS:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\nX-Trailer: done\r\n\r\n")
        elif self.path == "/close":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(CLOSE_BODY)
            self.close_connection = True
        else:
            super().do_GET()

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_POST(self):
        if self.path != "/echo":
            self.send_error(404)
            return
        body = self.read_body()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_PUT = do_POST

class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

CLOSE_BODY = sys.argv[2].encode()
CHUNKS = [piece.encode() for piece in sys.argv[3:]]
handler = functools.partial(Handler, directory=sys.argv[1])
server = Server(("127.0.0.1", 0), handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

/// A running `python3 -c SCRIPT DIR CLOSE_BODY CHUNK...`; killed, reaped and its directory removed on drop.
#[derive(Debug)]
pub struct PythonHttpServer {
    /// The python process.
    child: Child,
    /// Where it listens.
    addr: SocketAddr,
    /// The served directory (and the server's stderr log).
    dir: TempDir,
}

impl PythonHttpServer {
    /// Starts the server on a port of its choosing; the directory holds `13b.txt`
    /// ([`SMALL_BODY`]); add files under [`PythonHttpServer::root`].
    pub fn start() -> PythonHttpServer {
        let python = require_program("python3", &["/usr/bin/python3"], "python3");
        let dir = TempDir::new("python");
        let root = dir.path().join("www");
        std::fs::create_dir_all(&root).expect("mkdir www");
        std::fs::write(root.join("13b.txt"), SMALL_BODY).expect("write 13b.txt");
        let mut child = spawn(&python, &root, dir.path());
        let port = read_port(&mut child, dir.path());
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if let Err(e) = wait_listening(addr, Some(&mut child)) {
            stop_child(&mut child);
            panic!(
                "python http.server did not start: {e}; {}",
                stderr_log(dir.path())
            );
        }
        PythonHttpServer { child, addr, dir }
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:port` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The served directory: files written here are served at `/<name>`.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("www")
    }
}

/// Starts the script serving `root`, stderr to `dir/stderr.log`, stdout piped for the port.
fn spawn(python: &Path, root: &Path, dir: &Path) -> Child {
    let stderr = File::create(dir.join("stderr.log")).expect("create stderr.log");
    Command::new(python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(root)
        .arg(std::str::from_utf8(CLOSE_BODY).expect("ASCII body"))
        .args(CHUNKED_PIECES)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("spawn python3")
}

/// Reads the port the script printed; panics with its stderr if it printed none.
fn read_port(child: &mut Child, dir: &Path) -> u16 {
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    let _ = BufReader::new(stdout).read_line(&mut line);
    match line.trim().parse() {
        Ok(port) => port,
        Err(_) => {
            stop_child(child);
            panic!(
                "python http.server printed no port ({line:?}): {}",
                stderr_log(dir)
            );
        }
    }
}

fn stderr_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default()
}

impl Drop for PythonHttpServer {
    fn drop(&mut self) {
        stop_child(&mut self.child);
    }
}
