//! Bulk transfer: a 1 GiB download and a 1 GiB upload through `weir::client::Client` and
//! through hyper 1.x's client (`conn::http1` on tokio current_thread), with the client
//! process's own peak RSS (issue #4, item 5: each under 16 MiB for weir).
//!
//! ```text
//! transfer --mode download|upload [--size BYTES] [--client weir|hyper|weir-conn]
//!          [--body sized|file|chunked|all] [--pin CPU] [--rounds R] [--clients A,B,..]
//!          [--piece BYTES] [--read-buffer BYTES] [--file-chunk BYTES]
//! ```
//! - `download`: GET of a `--size` body (default 1 GiB, suffixes K/M/G allowed) from nginx on
//!   loopback (sendfile), read chunk by chunk and discarded.
//! - `upload`: POST of a `--size` body to a byte-counting sink (hyper's server in a child
//!   process, reading the body to its end without keeping it), sent as a stream of `Bytes` of
//!   known length (`sized`, Content-Length), as a file (`file`, a sparse temporary file,
//!   Content-Length) and as a stream of unknown length (`chunked`).
//!
//! Without `--client`, the bench is a driver: it starts the server once, then runs every
//! client (weir, hyper; each upload body) `--rounds` times (default 3), each run in a child
//! process of its own (this binary re-executed with `--client`), alternating which client goes
//! first, and prints the table: median MB/s, weir/hyper, and the largest peak RSS. With
//! `--client`, it does one transfer in this process (starting the server itself unless the
//! driver passed `--url`) and prints one `result ...` line: the form for
//! `benches/measure.sh --bench transfer --only dhat,rss -- --mode download --client weir --size {N}`.
//!
//! Diagnostics: `--clients weir,weir-conn,hyper` adds `weir-conn`, one `weir::conn`
//! connection whose `ConnConfig` takes `--read-buffer` (`read_buffer_size`) and
//! `--file-chunk` (`file_chunk_size`, also hyper's file piece), settings the client's builder
//! does not expose; `--piece` sets the generated streams' piece size (default 64 KiB) for
//! both clients.
//!
//! Reported per run: MB/s (wall clock: on a loaded machine mostly the scheduler's share),
//! the client process's CPU time per GiB (user + system, `getrusage`; the steadier figure),
//! for uploads the sink thread's CPU time per GiB (what the client's way of writing costs
//! the peer), peak RSS.
//!
//! Peak RSS is this process's `VmHWM` (`util::bench::peak_rss_kib`): servers always run in
//! another process (nginx; the upload sink is this binary re-executed with `--serve-upload`),
//! so their memory never counts. `base` is `VmRSS` just before the transfer (binary, runtime,
//! client): the peak minus it is what the transfer itself costs.
//!
//! Nothing is trusted: the content is a deterministic pattern (zeros with a patterned 4 KiB
//! mark at the start of every MiB, as the sparse files hold), and whoever receives it (the
//! client for a download, the sink for an upload) checks the byte count, the sum of all bytes
//! and every mark byte at its offset, and the sink reports the framing it saw.

#[path = "../tests/util/mod.rs"]
mod util;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{BufMut, Bytes, BytesMut};
use futures_core::Stream;
use util::nginx::Nginx;

/// Default transfer size: 1 GiB.
const DEFAULT_SIZE: u64 = 1 << 30;
/// The goal from issue #4 for weir's peak RSS, in KiB.
const RSS_GOAL_KIB: u64 = 16 * 1024;
/// A patterned mark starts every this many bytes of content; zeros lie between.
const MARK_EVERY: u64 = 1 << 20;
/// Length of each patterned mark.
const MARK_LEN: u64 = 4096;
/// Piece size of the generated upload streams and of hyper's file body (weir's file body
/// uses its own `ConnConfig::file_chunk_size`, also 64 KiB).
const UPLOAD_PIECE: usize = 64 * 1024;
/// Bytes summed in one `u32` accumulator before widening (255 × 2^16 < 2^32), off x86_64.
const SUM_BLOCK: usize = 1 << 16;
/// The file nginx serves for downloads, in its docroot.
const DOWNLOAD_FILE: &str = "transfer.bin";
/// Where the upload sink listens.
const UPLOAD_PATH: &str = "/sink";

// ----------------------------------------------------------------------------- arguments

/// What to transfer and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Download,
    Upload,
}

/// How an upload body is given to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UploadBody {
    /// A generated stream of `Bytes`, length known (Content-Length).
    Sized,
    /// A sparse temporary file (Content-Length).
    File,
    /// A generated stream, length unknown (chunked).
    Chunked,
}

impl UploadBody {
    const ALL: [UploadBody; 3] = [UploadBody::Sized, UploadBody::File, UploadBody::Chunked];

    fn name(self) -> &'static str {
        match self {
            UploadBody::Sized => "sized",
            UploadBody::File => "file",
            UploadBody::Chunked => "chunked",
        }
    }

    fn parse(s: &str) -> Option<UploadBody> {
        UploadBody::ALL.into_iter().find(|b| b.name() == s)
    }

    /// The framing the sink must see.
    fn framing(self) -> &'static str {
        match self {
            UploadBody::Chunked => "chunked",
            _ => "length",
        }
    }
}

/// Parsed command line.
#[derive(Debug, Clone)]
struct Args {
    mode: Mode,
    size: u64,
    client: Option<String>,
    /// `None` = every kind (driver) or `sized` (single run).
    body: Option<UploadBody>,
    pin: Option<usize>,
    rounds: usize,
    /// The server, when the driver started it.
    url: Option<String>,
    /// The file to upload, when the driver made it.
    file: Option<PathBuf>,
    /// Run as the upload sink server.
    serve_upload: bool,
    /// The driver's clients, in table order (`--clients`, default `weir,hyper`).
    clients: Vec<String>,
    /// Piece size of the generated upload streams (`--piece`).
    piece: usize,
    /// `weir-conn` only: `ConnConfig::read_buffer_size` (`--read-buffer`).
    read_buffer: Option<usize>,
    /// `weir-conn` only: `ConnConfig::file_chunk_size` (`--file-chunk`).
    file_chunk: Option<usize>,
}

fn parse_args() -> Args {
    let mut args = Args {
        mode: Mode::Download,
        size: DEFAULT_SIZE,
        client: None,
        body: None,
        pin: None,
        rounds: 3,
        url: None,
        file: None,
        serve_upload: false,
        clients: vec!["weir".into(), "hyper".into()],
        piece: UPLOAD_PIECE,
        read_buffer: None,
        file_chunk: None,
    };
    let argv: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        if flag == "--serve-upload" {
            args.serve_upload = true;
            continue;
        }
        let value = it
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        let number = || parse_size(value).unwrap_or_else(|| usage(&format!("{flag}: {value}")));
        match flag.as_str() {
            "--mode" => {
                args.mode = match value.as_str() {
                    "download" => Mode::Download,
                    "upload" => Mode::Upload,
                    other => usage(&format!("unknown mode {other}")),
                }
            }
            "--size" => args.size = number(),
            "--client" => args.client = Some(value.clone()),
            "--body" if value == "all" => args.body = None,
            "--body" => {
                args.body = Some(
                    UploadBody::parse(value)
                        .unwrap_or_else(|| usage(&format!("unknown body {value}"))),
                )
            }
            "--pin" => args.pin = Some(number() as usize),
            "--rounds" => args.rounds = number().max(1) as usize,
            "--url" => args.url = Some(value.clone()),
            "--file" => args.file = Some(PathBuf::from(value)),
            "--clients" => args.clients = value.split(',').map(String::from).collect(),
            "--piece" => args.piece = number().max(1) as usize,
            "--read-buffer" => args.read_buffer = Some(number() as usize),
            "--file-chunk" => args.file_chunk = Some(number() as usize),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    args
}

/// `123`, `64K`, `64M`, `1G` (powers of two).
fn parse_size(s: &str) -> Option<u64> {
    let (digits, shift) = match s.as_bytes().last()? {
        b'K' | b'k' => (&s[..s.len() - 1], 10),
        b'M' | b'm' => (&s[..s.len() - 1], 20),
        b'G' | b'g' => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "{msg}\nusage: transfer --mode download|upload [--size BYTES] [--client weir|hyper|weir-conn] \
         [--body sized|file|chunked|all] [--pin CPU] [--rounds R] [--clients A,B,..] \
         [--piece BYTES] [--read-buffer BYTES] [--file-chunk BYTES]"
    );
    std::process::exit(2)
}

fn main() {
    let args = parse_args();
    if args.serve_upload {
        return serve_upload();
    }
    if let Some(cpu) = args.pin {
        // Before any server starts: they inherit the affinity, so all share the core.
        util::bench::pin_to_cpu(cpu).unwrap_or_else(|e| panic!("pin to CPU {cpu}: {e}"));
    }
    match args.client.clone() {
        Some(client) => single(&args, &client),
        None => drive(&args),
    }
}

// ------------------------------------------------------------------------------ content

/// Byte `i` of the content: a patterned mark at the start of every MiB, zeros between.
fn content_byte(i: u64) -> u8 {
    if i % MARK_EVERY < MARK_LEN {
        util::pattern_byte(i as usize)
    } else {
        0
    }
}

/// The sum of every byte of a `size`-byte content.
fn expected_sum(size: u64) -> u64 {
    let mut sum = 0;
    for mark in (0..size).step_by(MARK_EVERY as usize) {
        sum += (mark..(mark + MARK_LEN).min(size))
            .map(|i| u64::from(content_byte(i)))
            .sum::<u64>();
    }
    sum
}

/// Turns `piece`, all zeros, into the content starting at `offset` (writes the marks).
fn write_marks(offset: u64, piece: &mut [u8]) {
    for_each_mark(offset, piece.len(), |start, range| {
        for (j, i) in range.clone().enumerate() {
            piece[start + j] = content_byte(i);
        }
    });
}

/// Calls `f(index in the slice, absolute range)` for each mark overlapping
/// `[offset, offset + len)`.
fn for_each_mark(offset: u64, len: usize, mut f: impl FnMut(usize, std::ops::Range<u64>)) {
    let end = offset + len as u64;
    let mut mark = offset - offset % MARK_EVERY;
    while mark < end {
        let (a, b) = (mark.max(offset), (mark + MARK_LEN).min(end));
        if a < b {
            f((a - offset) as usize, a..b);
        }
        mark += MARK_EVERY;
    }
}

/// A sparse file of `size` bytes of content: set the length, write the marks.
fn write_content_file(path: &Path, size: u64) {
    let file = File::create(path).expect("create content file");
    file.set_len(size).expect("size content file");
    for mark in (0..size).step_by(MARK_EVERY as usize) {
        let end = (mark + MARK_LEN).min(size);
        let bytes: Vec<u8> = (mark..end).map(content_byte).collect();
        file.write_all_at(&bytes, mark).expect("write mark");
    }
}

/// Checks received content as it streams past: count, sum and every mark byte.
#[derive(Debug, Default)]
struct Checker {
    /// Bytes seen.
    count: u64,
    /// Sum of the bytes seen.
    sum: u64,
    /// Mark bytes that differed from the pattern.
    bad_marks: u64,
}

impl Checker {
    fn feed(&mut self, data: &[u8]) {
        self.sum += byte_sum(data);
        let mut bad = 0;
        for_each_mark(self.count, data.len(), |start, range| {
            for (j, i) in range.enumerate() {
                bad += u64::from(data[start + j] != content_byte(i));
            }
        });
        self.bad_marks += bad;
        self.count += data.len() as u64;
    }

    /// Panics unless exactly `size` bytes of the right content went past.
    fn verify(&self, size: u64, who: &str) {
        assert_eq!(self.count, size, "{who}: byte count");
        assert_eq!(self.sum, expected_sum(size), "{who}: byte sum");
        assert_eq!(self.bad_marks, 0, "{who}: mark bytes differ");
    }
}

/// Sum of the bytes: `psadbw` against zero on x86_64 (16 bytes per three instructions, so
/// the check costs little next to the transfer), plain otherwise.
fn byte_sum(data: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_add_epi64, _mm_loadu_si128, _mm_sad_epu8, _mm_setzero_si128,
            _mm_storeu_si128,
        };
        let mut blocks = data.chunks_exact(16);
        // SAFETY: SSE2 is part of the x86_64 baseline; every load reads 16 bytes inside
        // `block`, an exact 16-byte chunk; the store writes 16 bytes into `lanes`.
        let wide = unsafe {
            let zero = _mm_setzero_si128();
            let mut acc = zero;
            for block in &mut blocks {
                let v = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
                acc = _mm_add_epi64(acc, _mm_sad_epu8(v, zero));
            }
            let mut lanes = [0u64; 2];
            _mm_storeu_si128(lanes.as_mut_ptr().cast::<__m128i>(), acc);
            lanes[0] + lanes[1]
        };
        wide + plain_sum(blocks.remainder())
    }
    #[cfg(not(target_arch = "x86_64"))]
    plain_sum(data)
}

fn plain_sum(data: &[u8]) -> u64 {
    data.chunks(SUM_BLOCK)
        .map(|block| u64::from(block.iter().map(|&b| u32::from(b)).sum::<u32>()))
        .sum()
}

/// A generated upload body: fresh `UPLOAD_PIECE`-byte allocations of content, so a client
/// that kept pieces would show it in its RSS.
#[derive(Debug)]
struct Generator {
    offset: u64,
    size: u64,
    piece: usize,
}

impl Generator {
    fn new(job: &Job) -> Generator {
        Generator {
            offset: 0,
            size: job.size,
            piece: job.piece,
        }
    }

    fn next_piece(&mut self) -> Option<Bytes> {
        let len = (self.size - self.offset).min(self.piece as u64) as usize;
        if len == 0 {
            return None;
        }
        // malloc + memset (not calloc): every page is really written, so a client that
        // kept pieces would show it in its RSS.
        let mut piece = BytesMut::with_capacity(len);
        piece.put_bytes(0, len);
        write_marks(self.offset, &mut piece);
        self.offset += len as u64;
        Some(piece.freeze())
    }
}

impl Stream for Generator {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.get_mut().next_piece().map(Ok))
    }
}

// ------------------------------------------------------------------------------ servers

/// The server of one mode, alive while this value is.
#[derive(Debug)]
enum Server {
    /// nginx serving the content file.
    Download(Nginx),
    /// This binary with `--serve-upload`.
    Upload { child: Child, url: String },
}

impl Server {
    fn start(mode: Mode, size: u64) -> Server {
        match mode {
            Mode::Download => {
                let nginx = Nginx::builder().sendfile(true).start();
                write_content_file(&nginx.docroot().join(DOWNLOAD_FILE), size);
                Server::Download(nginx)
            }
            Mode::Upload => start_upload_sink(),
        }
    }

    fn url(&self) -> String {
        match self {
            Server::Download(nginx) => nginx.url(&format!("/{DOWNLOAD_FILE}")),
            Server::Upload { url, .. } => url.clone(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Server::Upload { child, .. } = self {
            util::stop_child(child);
        }
    }
}

/// Starts `--serve-upload` in a child process; reads its address from its first line.
fn start_upload_sink() -> Server {
    let exe = std::env::current_exe().expect("current_exe");
    let mut child = Command::new(exe)
        .arg("--serve-upload")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn upload sink");
    let stdout = child.stdout.take().expect("sink stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read sink address");
    let addr = line
        .trim()
        .strip_prefix("listening ")
        .unwrap_or_else(|| panic!("upload sink said {line:?}"))
        .to_string();
    let url = format!("http://{addr}{UPLOAD_PATH}");
    Server::Upload { child, url }
}

/// The upload sink: hyper's server reading each body to its end through a [`Checker`]
/// (nothing kept), answering `count sum bad_marks framing`. Runs until stdin closes.
fn serve_upload() {
    use http_body_util::BodyExt;
    let server = util::hyper_server::HyperServer::start(
        |req: hyper::Request<hyper::body::Incoming>| async move {
            let chunked = req.headers().contains_key(hyper::header::TRANSFER_ENCODING);
            let cpu = thread_cpu_secs(); // the server thread: what receiving this body cost
            let mut body = req.into_body();
            let mut checker = Checker::default();
            let mut failed = None;
            while let Some(frame) = body.frame().await {
                match frame {
                    Ok(frame) => {
                        if let Some(data) = frame.data_ref() {
                            checker.feed(data);
                        }
                    }
                    Err(e) => {
                        failed = Some(e.to_string());
                        break;
                    }
                }
            }
            let framing = if chunked { "chunked" } else { "length" };
            let text = match failed {
                None => format!(
                    "{} {} {} {framing} {:.6}",
                    checker.count,
                    checker.sum,
                    checker.bad_marks,
                    thread_cpu_secs() - cpu
                ),
                Some(e) => format!("error {e}"),
            };
            hyper::Response::new(util::hyper_server::full(text))
        },
    );
    println!("listening {}", server.addr());
    io::stdout().flush().expect("flush");
    // The parent holds our stdin: its end (or death) stops the sink.
    let _ = io::stdin().read_to_end(&mut Vec::new());
}

/// Checks the sink's answer for an upload of `size` bytes as `body`; returns the CPU seconds
/// the sink's thread spent receiving it.
fn verify_sink_answer(answer: &str, size: u64, body: UploadBody, who: &str) -> f64 {
    let fields: Vec<&str> = answer.split_whitespace().collect();
    assert_eq!(fields.len(), 5, "{who}: sink answered {answer:?}");
    let number = |i: usize| -> u64 { fields[i].parse().expect("sink number") };
    assert_eq!(number(0), size, "{who}: bytes the sink counted");
    assert_eq!(number(1), expected_sum(size), "{who}: byte sum at the sink");
    assert_eq!(number(2), 0, "{who}: mark bytes differ at the sink");
    assert_eq!(fields[3], body.framing(), "{who}: request framing");
    fields[4].parse().expect("sink cpu")
}

// ------------------------------------------------------------------------- single run

/// What one transfer measured.
#[derive(Debug, Clone, Copy)]
struct Outcome {
    secs: f64,
    /// CPU time (user + system, all threads of this process) the transfer took.
    cpu_secs: f64,
    /// `VmRSS` just before the transfer, KiB.
    base_rss_kib: u64,
    /// Uploads: CPU seconds the sink's server thread spent receiving the body (what this
    /// client's way of writing costs the peer).
    sink_cpu_secs: f64,
}

/// One transfer in this process; prints the `result` line.
fn single(args: &Args, client: &str) {
    let body = args.body.unwrap_or(UploadBody::Sized);
    let server = args
        .url
        .is_none()
        .then(|| Server::start(args.mode, args.size));
    let url = args
        .url
        .clone()
        .unwrap_or_else(|| server.as_ref().expect("server").url());
    let temp = util::TempDir::new("transfer");
    let file = match (&args.file, args.mode, body) {
        (Some(path), ..) => path.clone(),
        (None, Mode::Upload, UploadBody::File) => {
            let path = temp.path().join("upload.bin");
            write_content_file(&path, args.size);
            path
        }
        _ => PathBuf::new(),
    };
    let job = Job {
        mode: args.mode,
        size: args.size,
        body,
        url,
        file,
        piece: args.piece,
        read_buffer: args.read_buffer,
        file_chunk: args.file_chunk,
    };
    let outcome = match client {
        "weir" => weir_client::run(&job, false),
        "weir-conn" => weir_client::run(&job, true),
        "hyper" => hyper_client::run(&job),
        other => usage(&format!("unknown client {other}")),
    };
    let body_name = match args.mode {
        Mode::Download => "-",
        Mode::Upload => body.name(),
    };
    println!(
        "result mode={:?} client={client} body={body_name} bytes={} secs={:.4} mb_s={:.1} cpu_ms_per_gib={:.0} sink_cpu_ms_per_gib={:.0} base_rss_kib={} peak_rss_kib={}",
        args.mode,
        args.size,
        outcome.secs,
        args.size as f64 / 1e6 / outcome.secs,
        per_gib_ms(outcome.cpu_secs, args.size),
        per_gib_ms(outcome.sink_cpu_secs, args.size),
        outcome.base_rss_kib,
        util::bench::peak_rss_kib(),
    );
    drop(server);
}

/// `secs` for `size` bytes, as milliseconds per GiB.
fn per_gib_ms(secs: f64, size: u64) -> f64 {
    secs * 1e3 * (1u64 << 30) as f64 / size as f64
}

/// One transfer to do.
#[derive(Debug, Clone)]
struct Job {
    mode: Mode,
    size: u64,
    body: UploadBody,
    url: String,
    /// The content file (file uploads).
    file: PathBuf,
    /// Piece size of generated upload streams.
    piece: usize,
    /// `weir-conn`: `ConnConfig::read_buffer_size`.
    read_buffer: Option<usize>,
    /// `weir-conn` (and hyper's file body): the file piece size.
    file_chunk: Option<usize>,
}

/// CPU time (user + system) of every thread of this process so far, in seconds.
fn cpu_secs() -> f64 {
    rusage_secs(libc::RUSAGE_SELF)
}

/// CPU time (user + system) of the calling thread so far, in seconds.
fn thread_cpu_secs() -> f64 {
    rusage_secs(libc::RUSAGE_THREAD)
}

fn rusage_secs(who: libc::c_int) -> f64 {
    // SAFETY: an all-zero rusage is a valid value for getrusage to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid `who` with a valid pointer to a rusage; it only writes that struct.
    let rc = unsafe { libc::getrusage(who, &mut usage) };
    assert_eq!(rc, 0, "getrusage: {}", io::Error::last_os_error());
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

mod weir_client {
    //! The weir side: `weir::client::Client` on weir's runtime, or (`weir-conn`, a
    //! diagnostic) one `weir::conn` connection with `--read-buffer` / `--file-chunk` applied
    //! to its `ConnConfig`, which the client's builder does not expose.

    use super::*;
    use weir::conn::{connect, ConnConfig};
    use weir::http::{Body, Request, Response};

    pub(super) fn run(job: &Job, conn_only: bool) -> Outcome {
        let rt = weir::rt::Runtime::new().expect("weir runtime");
        rt.block_on(async {
            let client = weir::client::Client::new();
            let base_rss_kib = util::bench::rss_kib();
            let (start, cpu) = (Instant::now(), cpu_secs());
            let req = request(job);
            let resp = match conn_only {
                false => client.send(req).await.expect("weir: send"),
                true => send_on_conn(job, req).await,
            };
            let sink_cpu_secs = match job.mode {
                Mode::Download => download(resp, job).await,
                Mode::Upload => check_upload(resp, job).await,
            };
            Outcome {
                secs: start.elapsed().as_secs_f64(),
                cpu_secs: cpu_secs() - cpu,
                base_rss_kib,
                sink_cpu_secs,
            }
        })
    }

    /// `weir-conn`: connect one connection with the configured sizes and send on it.
    async fn send_on_conn(job: &Job, req: Request) -> Response<weir::conn::Body> {
        let mut cfg = ConnConfig::default();
        if let Some(n) = job.read_buffer {
            cfg.read_buffer_size = n;
        }
        if let Some(n) = job.file_chunk {
            cfg.file_chunk_size = n;
        }
        let conn = connect(req.url().origin(), &cfg)
            .await
            .expect("weir-conn: connect");
        conn.send(req).await.expect("weir-conn: send")
    }

    fn request(job: &Job) -> Request {
        let builder = match job.mode {
            Mode::Download => Request::get(&job.url),
            Mode::Upload => Request::post(&job.url).body(upload_body(job)),
        };
        builder.build().expect("weir: request")
    }

    fn upload_body(job: &Job) -> Body {
        match job.body {
            UploadBody::Sized => Body::sized_stream(Generator::new(job), job.size),
            UploadBody::Chunked => Body::stream(Generator::new(job)),
            UploadBody::File => Body::file(File::open(&job.file).expect("open"), job.size),
        }
    }

    async fn download(resp: Response<weir::conn::Body>, job: &Job) -> f64 {
        assert_eq!(resp.status(), 200, "weir: status");
        let (_, mut body, _) = resp.into_parts();
        let mut checker = Checker::default();
        while let Some(chunk) = body.next_chunk().await.expect("weir: body") {
            checker.feed(&chunk);
        }
        checker.verify(job.size, "weir download");
        0.0
    }

    async fn check_upload(resp: Response<weir::conn::Body>, job: &Job) -> f64 {
        assert_eq!(resp.status(), 200, "weir: status");
        let (_, body, _) = resp.into_parts();
        let answer = body.text().await.expect("weir: answer");
        verify_sink_answer(&answer, job.size, job.body, "weir upload")
    }
}

mod hyper_client {
    //! The hyper side: `hyper::client::conn::http1` on tokio current_thread.

    use super::*;
    use http_body_util::combinators::UnsyncBoxBody;
    use http_body_util::{BodyExt, Empty};
    use hyper::body::{Frame, SizeHint};

    type ReqBody = UnsyncBoxBody<Bytes, io::Error>;

    pub(super) fn run(job: &Job) -> Outcome {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio");
        rt.block_on(async {
            let base_rss_kib = util::bench::rss_kib();
            let (start, cpu) = (Instant::now(), cpu_secs());
            let (status, mut body) = send(job).await;
            assert_eq!(status, 200, "hyper: status");
            let mut checker = Checker::default();
            let mut answer = Vec::new();
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame.expect("hyper: body").into_data() {
                    match job.mode {
                        Mode::Download => checker.feed(&data),
                        Mode::Upload => answer.extend_from_slice(&data),
                    }
                }
            }
            let sink_cpu_secs = match job.mode {
                Mode::Download => {
                    checker.verify(job.size, "hyper download");
                    0.0
                }
                Mode::Upload => verify_sink_answer(
                    &String::from_utf8_lossy(&answer),
                    job.size,
                    job.body,
                    "hyper upload",
                ),
            };
            Outcome {
                secs: start.elapsed().as_secs_f64(),
                cpu_secs: cpu_secs() - cpu,
                base_rss_kib,
                sink_cpu_secs,
            }
        })
    }

    /// Connects, sends the request, returns the response's status and body.
    async fn send(job: &Job) -> (u16, hyper::body::Incoming) {
        let url: hyper::Uri = job.url.parse().expect("uri");
        let authority = url.authority().expect("authority").to_string();
        let stream = tokio::net::TcpStream::connect(&authority)
            .await
            .expect("hyper: connect");
        stream.set_nodelay(true).expect("nodelay");
        let io = hyper_util::rt::TokioIo::new(stream);
        let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, ReqBody>(io)
            .await
            .expect("hyper: handshake");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let (method, body) = match job.mode {
            Mode::Download => ("GET", empty()),
            Mode::Upload => ("POST", upload_body(job)),
        };
        let req = hyper::Request::builder()
            .method(method)
            .uri(url.path())
            .header(hyper::header::HOST, &authority)
            .body(body)
            .expect("hyper: request");
        let resp = sender.send_request(req).await.expect("hyper: send");
        (resp.status().as_u16(), resp.into_body())
    }

    fn empty() -> ReqBody {
        Empty::new().map_err(|never| match never {}).boxed_unsync()
    }

    fn upload_body(job: &Job) -> ReqBody {
        match job.body {
            UploadBody::Sized | UploadBody::Chunked => GenBody {
                gen: Generator::new(job),
                sized: job.body == UploadBody::Sized,
            }
            .boxed_unsync(),
            UploadBody::File => FileBody {
                file: File::open(&job.file).expect("open"),
                remaining: job.size,
                piece: BytesMut::new(),
                piece_size: job.file_chunk.unwrap_or(UPLOAD_PIECE).max(1),
            }
            .boxed_unsync(),
        }
    }

    /// The generated stream as a hyper body, with or without its exact length.
    struct GenBody {
        gen: Generator,
        sized: bool,
    }

    impl hyper::body::Body for GenBody {
        type Data = Bytes;
        type Error = io::Error;

        fn poll_frame(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
            Poll::Ready(self.get_mut().gen.next_piece().map(|b| Ok(Frame::data(b))))
        }

        fn is_end_stream(&self) -> bool {
            self.gen.offset == self.gen.size
        }

        fn size_hint(&self) -> SizeHint {
            match self.sized {
                true => SizeHint::with_exact(self.gen.size - self.gen.offset),
                false => SizeHint::default(),
            }
        }
    }

    /// A file read in `piece_size` pieces (`--file-chunk`, default `UPLOAD_PIECE`, as weir's
    /// default) with blocking reads, as weir's file body does, reusing one piece buffer.
    struct FileBody {
        file: File,
        remaining: u64,
        piece: BytesMut,
        piece_size: usize,
    }

    impl hyper::body::Body for FileBody {
        type Data = Bytes;
        type Error = io::Error;

        fn poll_frame(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
            let this = self.get_mut();
            if this.remaining == 0 {
                return Poll::Ready(None);
            }
            let want = this.remaining.min(this.piece_size as u64) as usize;
            this.piece.clear();
            this.piece.reserve(want);
            this.piece.resize(want, 0);
            let n = match this.file.read(&mut this.piece[..]) {
                Ok(0) => return Poll::Ready(Some(Err(io::ErrorKind::UnexpectedEof.into()))),
                Ok(n) => n,
                Err(e) => return Poll::Ready(Some(Err(e))),
            };
            this.piece.truncate(n);
            this.remaining -= n as u64;
            Poll::Ready(Some(Ok(Frame::data(this.piece.split().freeze()))))
        }

        fn is_end_stream(&self) -> bool {
            self.remaining == 0
        }

        fn size_hint(&self) -> SizeHint {
            SizeHint::with_exact(self.remaining)
        }
    }
}

// ------------------------------------------------------------------------------- driver

/// One `result` line.
#[derive(Debug, Clone, Copy)]
struct Sample {
    mb_s: f64,
    cpu_ms_per_gib: f64,
    sink_cpu_ms_per_gib: f64,
    base_rss_kib: u64,
    peak_rss_kib: u64,
}

/// Starts the server once, runs every (body, client) `rounds` times in child processes,
/// prints the table.
fn drive(args: &Args) {
    let server = Server::start(args.mode, args.size);
    let url = server.url();
    let temp = util::TempDir::new("transfer");
    let file = temp.path().join("upload.bin");
    let bodies: Vec<Option<UploadBody>> = match (args.mode, args.body) {
        (Mode::Download, _) => vec![None],
        (Mode::Upload, Some(b)) => vec![Some(b)],
        (Mode::Upload, None) => UploadBody::ALL.into_iter().map(Some).collect(),
    };
    if bodies.contains(&Some(UploadBody::File)) {
        write_content_file(&file, args.size);
    }
    println!(
        "transfer {:?}: {} bytes, {} rounds, pin {:?}, server {}",
        args.mode, args.size, args.rounds, args.pin, url
    );
    let mut rows = Vec::new();
    for body in bodies {
        let n = args.clients.len();
        let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); n];
        for round in 0..args.rounds {
            // Rotate who goes first, so that no client always meets the same machine state.
            for k in 0..n {
                let i = (k + round) % n;
                let s = run_child(args, &args.clients[i], body, &url, &file);
                samples[i].push(s);
            }
        }
        rows.push((body, samples));
    }
    print_table(args, &rows);
}

/// Runs one transfer in a child process and parses its `result` line.
fn run_child(
    args: &Args,
    client: &str,
    body: Option<UploadBody>,
    url: &str,
    file: &Path,
) -> Sample {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.args(["--mode", mode_name(args.mode), "--client", client]);
    cmd.args(["--size", &args.size.to_string(), "--url", url]);
    cmd.args(["--piece", &args.piece.to_string()]);
    if let Some(n) = args.read_buffer {
        cmd.args(["--read-buffer", &n.to_string()]);
    }
    if let Some(n) = args.file_chunk {
        cmd.args(["--file-chunk", &n.to_string()]);
    }
    if let Some(b) = body {
        cmd.args(["--body", b.name()]);
        cmd.arg("--file").arg(file);
    }
    let out = cmd.output().expect("run child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{client} {body:?} failed: {}\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("result "))
        .unwrap_or_else(|| panic!("no result line from {client}: {stdout}"));
    println!("  {line}");
    let field = |key: &str| -> f64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{key} in {line}"))
    };
    Sample {
        mb_s: field("mb_s"),
        cpu_ms_per_gib: field("cpu_ms_per_gib"),
        sink_cpu_ms_per_gib: field("sink_cpu_ms_per_gib"),
        base_rss_kib: field("base_rss_kib") as u64,
        peak_rss_kib: field("peak_rss_kib") as u64,
    }
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Download => "download",
        Mode::Upload => "upload",
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

type Row = (Option<UploadBody>, Vec<Vec<Sample>>);

fn print_table(args: &Args, rows: &[Row]) {
    println!(
        "\n| mode | body | client | MB/s (median of {}) | vs hyper | client CPU ms/GiB (median) | vs hyper | sink CPU ms/GiB (median) | peak RSS (max) | RSS before transfer |",
        args.rounds
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let hyper = args.clients.iter().position(|c| c == "hyper");
    let mut misses = Vec::new();
    for (body, samples) in rows {
        let body_name = body.map_or("-", UploadBody::name);
        // Per client: the median of one figure over its rounds.
        let medians_of = |figure: fn(&Sample) -> f64| -> Vec<f64> {
            samples
                .iter()
                .map(|s| median(&s.iter().map(figure).collect::<Vec<_>>()))
                .collect()
        };
        let medians = medians_of(|x| x.mb_s);
        let cpu = medians_of(|x| x.cpu_ms_per_gib);
        let sink_cpu = medians_of(|x| x.sink_cpu_ms_per_gib);
        for (i, client) in args.clients.iter().enumerate() {
            let peak = samples[i].iter().map(|s| s.peak_rss_kib).max().unwrap_or(0);
            let base = samples[i].iter().map(|s| s.base_rss_kib).max().unwrap_or(0);
            let (ratio, cpu_ratio) = match hyper {
                Some(h) if h != i => (
                    format!("{:.3}", medians[i] / medians[h]),
                    format!("{:.3}", cpu[i] / cpu[h]),
                ),
                _ => Default::default(),
            };
            println!(
                "| {} | {body_name} | {client} | {:.1} | {ratio} | {:.0} | {cpu_ratio} | {:.0} | {:.1} MiB | {:.1} MiB |",
                mode_name(args.mode),
                medians[i],
                cpu[i],
                sink_cpu[i],
                peak as f64 / 1024.0,
                base as f64 / 1024.0
            );
            if !client.starts_with("weir") {
                continue;
            }
            if peak >= RSS_GOAL_KIB {
                misses.push(format!(
                    "{body_name}: {client} peak RSS {peak} KiB >= 16 MiB"
                ));
            }
            if let Some(h) = hyper.filter(|&h| medians[i] < medians[h]) {
                misses.push(format!(
                    "{body_name}: {client} {:.1} MB/s < hyper {:.1} MB/s",
                    medians[i], medians[h]
                ));
            }
        }
    }
    match misses.is_empty() {
        true => println!("\ngoals met: weir peak RSS < 16 MiB and MB/s >= hyper's"),
        false => println!("\nMISSED: {}", misses.join("; ")),
    }
}
