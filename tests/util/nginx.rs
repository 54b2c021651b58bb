//! Stock nginx on loopback with a generated config and docroot.
//!
//! One process (`daemon off; master_process off;`), so `Drop` kills and reaps exactly the
//! process it started, and a bench can pin it with `taskset`. Everything nginx writes (pid,
//! error log, temp paths) stays in its temporary directory. `sendfile on; tcp_nopush on;`
//! as in Debian's stock nginx.conf: a small file's head and body leave in one segment, so a
//! client reads a small response whole (without `tcp_nopush` the body trails the head).
//!
//! Docroot (see the `*_PATH` constants): a 13-byte file, a 1 MiB patterned file, a 64 MiB
//! sparse file (patterned first and last 4 KiB, zeros between), the same small and 1 MiB
//! contents under `/chunked/` served through SSI (so nginx drops the length and sends
//! `Transfer-Encoding: chunked`), `/close/` (same files, `Connection: close`), `/status/N`
//! (an empty response with that status), `/upload` (accepts any body, answers 200) and
//! `/nginx_status` (stub_status counters, read by [`Nginx::stats`]). Static files carry
//! `Last-Modified` and `ETag`, so conditional requests get 304; HEAD works everywhere.

use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::{
    free_port, pattern, pattern_byte, require_program, stop_child, wait_listening, wait_until,
    TempDir,
};

/// The 13-byte file's path on the server.
pub const SMALL_PATH: &str = "/13b.txt";
/// The 13-byte file's contents.
pub const SMALL_BODY: &[u8] = b"Hello, weir!\n";
/// The 1 MiB file's path on the server (contents: [`super::pattern`]`(ONE_MIB)`).
pub const ONE_MIB_PATH: &str = "/1m.bin";
/// Size of the 1 MiB file.
pub const ONE_MIB: usize = 1 << 20;
/// The 64 MiB sparse file's path on the server (contents: [`big_file_byte`]).
pub const BIG_PATH: &str = "/64m.bin";
/// Size of the 64 MiB file.
pub const BIG_LEN: usize = 64 << 20;
/// Path of [`SMALL_BODY`] sent chunked.
pub const CHUNKED_SMALL_PATH: &str = "/chunked/13b.txt";
/// Path of a 1 MiB text body ([`chunked_text`]) sent chunked, in several chunks.
pub const CHUNKED_BIG_PATH: &str = "/chunked/1m.txt";
/// Prefix under which every file is served with `Connection: close`.
pub const CLOSE_PREFIX: &str = "/close";
/// A location that reads and discards any request body, answering 200 `received`.
pub const UPLOAD_PATH: &str = "/upload";

/// How many bytes at each end of the 64 MiB file are patterned.
const BIG_PATTERNED_ENDS: usize = 4096;
/// Launch attempts (a new port each) when the chosen port was taken meanwhile.
const LAUNCH_ATTEMPTS: usize = 5;

/// Byte `i` of the 64 MiB file: [`super::pattern_byte`] in the first and last 4 KiB, zero
/// between.
pub fn big_file_byte(i: usize) -> u8 {
    if !(BIG_PATTERNED_ENDS..BIG_LEN - BIG_PATTERNED_ENDS).contains(&i) {
        pattern_byte(i)
    } else {
        0
    }
}

/// The 1 MiB text served at [`CHUNKED_BIG_PATH`]: numbered lines, cut at exactly 1 MiB.
pub fn chunked_text() -> Vec<u8> {
    let mut text = Vec::with_capacity(ONE_MIB + 64);
    let mut line = 0u32;
    while text.len() < ONE_MIB {
        text.extend_from_slice(format!("{line:08} weir chunked body line\n").as_bytes());
        line += 1;
    }
    text.truncate(ONE_MIB);
    text
}

/// Settings of an [`Nginx`] before it starts.
#[derive(Debug, Clone)]
pub struct NginxBuilder {
    /// `keepalive_requests`: requests per connection before nginx closes it.
    keepalive_requests: u32,
    /// `keepalive_timeout` in seconds (0 disables keep-alive).
    keepalive_timeout_secs: u32,
    /// `sendfile`: on, a small file's head and body leave in two writes (writev + sendfile);
    /// off, in one (what request-cost benches want).
    sendfile: bool,
}

impl Default for NginxBuilder {
    fn default() -> Self {
        NginxBuilder {
            keepalive_requests: 1000,
            keepalive_timeout_secs: 75,
            sendfile: true,
        }
    }
}

impl NginxBuilder {
    /// Requests served on one connection before nginx closes it (nginx's default: 1000;
    /// the soak uses 100).
    pub fn keepalive_requests(mut self, n: u32) -> Self {
        self.keepalive_requests = n;
        self
    }

    /// Seconds an idle keep-alive connection stays open (0: every response closes).
    pub fn keepalive_timeout_secs(mut self, secs: u32) -> Self {
        self.keepalive_timeout_secs = secs;
        self
    }

    /// `sendfile on|off` (default on). Off sends a small response's head and body in one
    /// write, so a client needs one read per response.
    pub fn sendfile(mut self, on: bool) -> Self {
        self.sendfile = on;
        self
    }

    /// Writes the docroot and config, starts nginx and waits until it accepts connections.
    pub fn start(self) -> Nginx {
        let binary = require_program("nginx", &["/usr/sbin/nginx"], "nginx-light");
        let dir = TempDir::new("nginx");
        write_docroot(&dir.path().join("www"));
        for sub in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
            std::fs::create_dir_all(dir.path().join("tmp").join(sub)).expect("mkdir tmp");
        }
        let mut last_error = String::new();
        for _ in 0..LAUNCH_ATTEMPTS {
            let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
            std::fs::write(dir.path().join("nginx.conf"), self.config(dir.path(), addr))
                .expect("write nginx.conf");
            let mut child = spawn(&binary, dir.path());
            match wait_listening(addr, Some(&mut child))
                .and_then(|()| confirm_ours(dir.path(), &mut child))
            {
                Ok(()) => return Nginx { child, addr, dir },
                Err(e) => {
                    stop_child(&mut child);
                    last_error = format!("{e}; error.log:\n{}", error_log(dir.path()));
                    if !last_error.contains("Address already in use") {
                        break;
                    }
                }
            }
        }
        panic!("nginx did not start: {last_error}");
    }

    /// The nginx.conf text for a server in `dir` listening on `addr`.
    fn config(&self, dir: &Path, addr: SocketAddr) -> String {
        let d = dir.display();
        format!(
            r#"daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 8192;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    types {{ text/plain txt; application/octet-stream bin; }}
    default_type application/octet-stream;
    sendfile {sendfile};
    tcp_nopush on;
    gzip off;
    keepalive_requests {kr};
    keepalive_timeout {kt}s;
    server {{
        listen {addr} backlog=4096;
        root {d}/www;
        location / {{ }}
        location /chunked/ {{ ssi on; ssi_types *; }}
        location /close/ {{ alias {d}/www/; keepalive_timeout 0; }}
        location /status/ {{
            location = /status/200 {{ return 200; }}
            location = /status/204 {{ return 204; }}
            location = /status/301 {{ return 301 /13b.txt; }}
            location = /status/404 {{ return 404; }}
            location = /status/500 {{ return 500; }}
        }}
        location = {upload} {{ client_max_body_size 0; return 200 "received\n"; }}
        location = /nginx_status {{ stub_status; }}
    }}
}}
"#,
            kr = self.keepalive_requests,
            kt = self.keepalive_timeout_secs,
            sendfile = if self.sendfile { "on" } else { "off" },
            upload = UPLOAD_PATH,
        )
    }
}

/// Starts nginx with the config in `dir`; its stderr goes to `dir/stderr.log`.
fn spawn(binary: &Path, dir: &Path) -> Child {
    let stderr = File::create(dir.join("stderr.log")).expect("create stderr.log");
    Command::new(binary)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-e")
        .arg(dir.join("error.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawn nginx")
}

/// Waits until nginx wrote its pid file, which it does only after binding its port: what
/// answered the ready check is then this nginx, not another process that took the port.
fn confirm_ours(dir: &Path, child: &mut Child) -> io::Result<()> {
    let expected = child.id().to_string();
    let pid_file = dir.join("nginx.pid");
    let written = || std::fs::read_to_string(&pid_file).is_ok_and(|pid| pid.trim() == expected);
    wait_until(written, Some(child), "its pid file")
}

/// Both of nginx's logs, for failure messages.
fn error_log(dir: &Path) -> String {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    format!("{}{}", read("stderr.log"), read("error.log"))
}

/// Writes the docroot's files (see the module doc).
fn write_docroot(www: &Path) {
    std::fs::create_dir_all(www.join("chunked")).expect("mkdir docroot");
    std::fs::write(www.join("13b.txt"), SMALL_BODY).expect("write 13b.txt");
    std::fs::write(www.join("1m.bin"), pattern(ONE_MIB)).expect("write 1m.bin");
    write_big_file(&www.join("64m.bin"));
    std::fs::write(www.join("chunked/13b.txt"), SMALL_BODY).expect("write chunked/13b.txt");
    std::fs::write(www.join("chunked/1m.txt"), chunked_text()).expect("write chunked/1m.txt");
}

/// Creates the 64 MiB file sparsely: set its length, then write the patterned ends.
fn write_big_file(path: &Path) {
    let file = File::create(path).expect("create 64m.bin");
    file.set_len(BIG_LEN as u64).expect("size 64m.bin");
    let head: Vec<u8> = (0..BIG_PATTERNED_ENDS).map(big_file_byte).collect();
    let tail_start = BIG_LEN - BIG_PATTERNED_ENDS;
    let tail: Vec<u8> = (tail_start..BIG_LEN).map(big_file_byte).collect();
    file.write_all_at(&head, 0).expect("write 64m.bin head");
    file.write_all_at(&tail, tail_start as u64)
        .expect("write 64m.bin tail");
}

/// nginx's stub_status counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NginxStats {
    /// Open client connections, including the one that asked.
    pub active: u64,
    /// Connections accepted since start.
    pub accepts: u64,
    /// Requests served since start, including this one.
    pub requests: u64,
}

/// A running nginx; killed, reaped and its directory removed on drop.
#[derive(Debug)]
pub struct Nginx {
    /// The nginx process.
    child: Child,
    /// Where it listens.
    addr: SocketAddr,
    /// Config, docroot and logs.
    dir: TempDir,
}

impl Nginx {
    /// Starts nginx with the default settings (keep-alive on, 1000 requests per connection).
    pub fn start() -> Nginx {
        NginxBuilder::default().start()
    }

    /// Settings to change before starting.
    pub fn builder() -> NginxBuilder {
        NginxBuilder::default()
    }

    /// The listening address (127.0.0.1:port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:port` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The process id (for `taskset`, `/proc/PID/status`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The docroot on disk.
    pub fn docroot(&self) -> PathBuf {
        self.dir.path().join("www")
    }

    /// nginx's error log so far.
    pub fn error_log(&self) -> String {
        error_log(self.dir.path())
    }

    /// Reads the stub_status counters over a fresh connection (which they include).
    pub fn stats(&self) -> NginxStats {
        let reply = super::raw::get(self.addr, "/nginx_status").expect("GET /nginx_status");
        let text = String::from_utf8_lossy(&reply.body);
        parse_stats(&text).unwrap_or_else(|| panic!("unexpected stub_status reply: {reply:?}"))
    }
}

/// Parses a stub_status body: "Active connections: A", then "accepts handled requests"
/// followed by the three numbers.
fn parse_stats(body: &str) -> Option<NginxStats> {
    let active = body
        .split("Active connections:")
        .nth(1)?
        .split_whitespace()
        .next()?;
    let counters = body.split("requests").nth(1)?;
    let mut numbers = counters.split_whitespace().map(|n| n.parse::<u64>().ok());
    let (accepts, _handled, requests) = (numbers.next()??, numbers.next()??, numbers.next()??);
    Some(NginxStats {
        active: active.parse().ok()?,
        accepts,
        requests,
    })
}

impl Drop for Nginx {
    fn drop(&mut self) {
        stop_child(&mut self.child);
    }
}
