//! Memory of a large idle pool: opens N keep-alive connections (default 10,000) and reports
//! the process's resident memory (VmRSS) with the N connections idle in the pool, against the
//! RSS before the first connection.
//!
//! ```text
//! cargo run --release --example idle_pool_rss -- [N] [requests|preconnect]
//! ```
//! `requests` (the default) sends N requests at once and reads every response; `preconnect`
//! opens the connections with `Client::preconnect`, without requests. The server is this
//! program re-run as a child process (`--serve N`), so its memory is not counted: it answers
//! nothing until N requests have arrived, so the client really has N requests waiting at
//! once, then answers them all. Waiting requests hold no read or write buffer, only their
//! futures (~1 KiB each); the allocator keeps that high-water mark mapped after they end,
//! so the RSS is given as is (the headline) and after `malloc_trim(0)`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::Duration;

use weir::client::Client;
use weir::rt::net::{AsyncStream, TcpListener, TcpStream};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve") {
        let n = args.get(1).ok_or("--serve N")?.parse()?;
        return serve(n);
    }
    let n: usize = args
        .first()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(10_000);
    let preconnect = match args.get(1).map(String::as_str) {
        None | Some("requests") => false,
        Some("preconnect") => true,
        Some(other) => return Err(format!("unknown fill {other}").into()),
    };
    weir::rt::raise_fd_limit()?;
    let mut child = Command::new(std::env::current_exe()?)
        .args(["--serve", &n.to_string()])
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
    let url = format!("http://{}/", line.trim());
    let result = measure(&url, n, preconnect);
    let _ = child.kill();
    let _ = child.wait();
    let (before, after, trimmed, idle) = result?;
    let per_conn = (after.saturating_sub(before)) * 1024 / idle.max(1) as u64;
    println!("idle pooled connections: {idle}");
    println!(
        "VmRSS before: {before} KiB, with them idle: {after} KiB ({trimmed} KiB after malloc_trim)"
    );
    println!("RSS per idle connection: {per_conn} bytes");
    println!("rss_kib_with_idle={after} rss_kib_trimmed={trimmed} rss_bytes_per_idle_connection={per_conn}");
    Ok(())
}

/// Opens `n` connections (`n` requests at once, or a preconnect); RSS before, RSS with them
/// idle, the same after `malloc_trim`, idle count.
fn measure(url: &str, n: usize, preconnect: bool) -> Result<(u64, u64, u64, usize), BoxError> {
    let rt = weir::rt::Runtime::new()?;
    rt.block_on(async {
        let client = Client::builder()
            .max_connections(n)
            .max_connections_per_host(n)
            .max_idle_per_host(n)
            .connect_timeout(Some(Duration::from_secs(60)))
            .build();
        let before = rss_kib()?;
        match preconnect {
            true => drop(client.preconnect(url, n).await?),
            false => burst(&client, url, n).await?,
        }
        let idle = client.pool_stats().total.idle;
        let after = rss_kib()?;
        // SAFETY: malloc_trim only releases free memory; it has no preconditions.
        unsafe { libc::malloc_trim(0) };
        Ok((before, after, rss_kib()?, idle))
    })
}

/// `n` requests at once, every response read to its end.
async fn burst(client: &Client, url: &str, n: usize) -> Result<(), BoxError> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (client, url) = (client.clone(), url.to_string());
            weir::rt::spawn(async move {
                let body = client.get(&url).await?.into_body();
                body.bytes().await.map(drop)
            })
        })
        .collect();
    for t in tasks {
        t.await.map_err(|e| format!("{e:?}"))??;
    }
    Ok(())
}

/// VmRSS of this process, in KiB.
fn rss_kib() -> Result<u64, BoxError> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"));
    let kib = line
        .and_then(|l| l.split_whitespace().nth(1))
        .ok_or("no VmRSS")?;
    Ok(kib.parse()?)
}

/// The child: accepts connections, holds every request until `n` arrived, then answers all
/// and keeps the connections open (answering further requests at once).
fn serve(n: usize) -> Result<(), BoxError> {
    weir::rt::raise_fd_limit()?;
    weir::rt::block_on(async move {
        let listener = TcpListener::bind(([127, 0, 0, 1], 0).into())?;
        println!("{}", listener.local_addr()?);
        let gate = Rc::new(Gate::new(n));
        loop {
            let (stream, _) = listener.accept().await?;
            drop(weir::rt::spawn(answer(stream, gate.clone())));
        }
    })
}

/// Counts arrived requests and wakes everyone once `n` did.
struct Gate {
    /// Requests still awaited.
    left: std::cell::Cell<usize>,
    /// Tasks waiting for the gate.
    waiting: std::cell::RefCell<Vec<std::task::Waker>>,
}

impl Gate {
    fn new(n: usize) -> Gate {
        Gate {
            left: std::cell::Cell::new(n),
            waiting: std::cell::RefCell::new(Vec::new()),
        }
    }

    async fn arrive_and_wait(&self) {
        self.left.set(self.left.get().saturating_sub(1));
        if self.left.get() == 0 {
            self.waiting.borrow_mut().drain(..).for_each(|w| w.wake());
        }
        std::future::poll_fn(|cx| {
            if self.left.get() == 0 {
                return std::task::Poll::Ready(());
            }
            self.waiting.borrow_mut().push(cx.waker().clone());
            std::task::Poll::Pending
        })
        .await
    }
}

/// Answers each request head with `200 ok` (the first only after the gate opened).
async fn answer(mut stream: TcpStream, gate: Rc<Gate>) -> std::io::Result<()> {
    const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let mut buf = [0u8; 1024];
    let mut seen = Vec::new();
    let mut first = true;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        seen.extend_from_slice(&buf[..n]);
        while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            seen.drain(..end + 4);
            if std::mem::take(&mut first) {
                gate.arrive_and_wait().await;
            }
            stream.write_all(RESPONSE).await?;
        }
    }
}
