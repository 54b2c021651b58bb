//! Thread-per-core: N threads, each with its own event loop (`Runtime`) and its own `Client`
//! (and so its own pool). Nothing is shared between the threads, so there are no locks on the
//! request path; each thread's connections live on its own epoll instance.
//!
//! ```text
//! cargo run --release --example thread_per_core -- [URL] [REQUESTS_PER_THREAD] [THREADS]
//! ```
//! With no URL it starts a tiny keep-alive HTTP/1.1 server on 127.0.0.1 (its own weir loop on
//! its own thread) and fetches from it. Prints each thread's count and the pool it ended with.

use std::time::{Duration, Instant};

use weir::client::{Client, PoolStats};
use weir::rt::net::{AsyncStream, TcpListener, TcpStream};
use weir::rt::Runtime;

/// Requests in flight per thread.
const LANES: usize = 16;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let url = match args.next() {
        Some(url) => url,
        None => format!("http://{}/", start_embedded_server()?),
    };
    let per_thread: usize = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(10_000);
    let threads: usize = match args.next() {
        Some(n) => n.parse()?,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|i| {
            let url = url.clone();
            std::thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || worker(&url, per_thread))
        })
        .collect::<Result<_, _>>()?;
    let mut total = 0;
    for (i, w) in workers.into_iter().enumerate() {
        let (done, pool) = w.join().map_err(|_| "worker panicked")??;
        println!(
            "thread {i}: {done} responses, pool at the end: {:?}",
            pool.total
        );
        total += done;
    }
    let secs = start.elapsed().as_secs_f64();
    let rate = total as f64 / secs;
    println!("{total} responses in {secs:.2} s ({rate:.0}/s) on {threads} threads");
    Ok(())
}

/// One thread: its own loop and client; `n` requests, [`LANES`] in flight at a time.
fn worker(url: &str, n: usize) -> Result<(usize, PoolStats), BoxError> {
    let rt = Runtime::new()?;
    rt.block_on(async {
        let client = Client::builder().max_connections_per_host(LANES).build();
        let lanes: Vec<_> = (0..LANES)
            .map(|lane| {
                let (client, url) = (client.clone(), url.to_string());
                let share = n / LANES + usize::from(lane < n % LANES);
                weir::rt::spawn(async move {
                    for _ in 0..share {
                        client.get(&url).await?.into_body().bytes().await?;
                    }
                    Ok::<usize, weir::Error>(share)
                })
            })
            .collect();
        let mut done = 0;
        for lane in lanes {
            done += lane.await.map_err(|e| format!("{e:?}"))??;
        }
        Ok((done, client.pool_stats()))
    })
}

/// Starts a minimal keep-alive server (a fixed 2-byte answer) on its own loop thread.
fn start_embedded_server() -> std::io::Result<std::net::SocketAddr> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        weir::rt::block_on(async move {
            let listener = match TcpListener::bind(([127, 0, 0, 1], 0).into()) {
                Ok(l) => l,
                Err(e) => return drop(tx.send(Err(e))),
            };
            let _ = tx.send(listener.local_addr());
            while let Ok((stream, _)) = listener.accept().await {
                drop(weir::rt::spawn(serve(stream)));
            }
        })
    });
    rx.recv_timeout(Duration::from_secs(5))
        .map_err(|_| std::io::Error::other("embedded server did not start"))?
}

/// Answers every request head on `stream` with `200 ok` until the client closes.
async fn serve(mut stream: TcpStream) -> std::io::Result<()> {
    const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let mut buf = vec![0u8; 16 * 1024];
    let mut filled = 0;
    loop {
        let n = stream.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
        while let Some(end) = find(&buf[..filled], b"\r\n\r\n") {
            stream.write_all(RESPONSE).await?;
            buf.copy_within(end + 4..filled, 0);
            filled -= end + 4;
        }
        if filled == buf.len() {
            return Ok(()); // a head larger than the buffer: not for this toy server
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
