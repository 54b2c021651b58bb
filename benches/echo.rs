//! Loopback echo ping-pong: weir's loop vs tokio's current-thread runtime as the client,
//! against the same echo server (a separate process, so neither client's counts include it).
//!
//! ```text
//! cargo bench --bench echo                       # table: round trips/s, and (if strace and
//!                                                # valgrind exist) syscalls and instructions
//!                                                # per round trip, by difference of two counts
//! echo --serve 127.0.0.1:0 [--pin CPU]           # just the echo server; prints its address
//! echo --count N --client weir|tokio [--conns C] [--server ADDR] [--pin CPU]
//!                                                # exactly N round trips after start-up
//!                                                # (benches/measure.sh convention)
//! ```
//!
//! Round trips: each of C connections writes a MSG-byte message and reads the echo back,
//! repeatedly; N round trips in total, split evenly. Clients set TCP_NODELAY. With `--pin`,
//! client and server share one core (the figure the README quotes).

#[path = "../tests/util/mod.rs"]
mod util;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Bytes per message.
const MSG: usize = 32;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let pin = opt("--pin").map(|p| p.parse::<usize>().expect("--pin CPU"));
    if let Some(cpu) = pin {
        // The only thread yet: the runtimes and the server started later inherit it.
        util::bench::pin_to_cpu(cpu).unwrap_or_else(|e| panic!("pin to CPU {cpu}: {e}"));
    }
    if let Some(addr) = opt("--serve") {
        serve(&addr);
        return;
    }
    if let Some(count) = opt("--count") {
        let count: usize = count.parse().expect("--count N");
        let conns: usize = opt("--conns").map_or(1, |c| c.parse().expect("--conns C"));
        let client = opt("--client").unwrap_or_else(|| "weir".into());
        let (addr, mut server) = match opt("--server") {
            Some(addr) => (addr.parse().expect("--server ADDR"), None),
            None => {
                let (addr, child) = spawn_server(pin);
                (addr, Some(child))
            }
        };
        let elapsed = run_client(&client, addr, conns, count);
        eprintln!(
            "{client} conns={conns} round_trips={count} secs={:.3} rt_per_s={:.0}",
            elapsed.as_secs_f64(),
            count as f64 / elapsed.as_secs_f64()
        );
        if let Some(child) = server.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        return;
    }
    report(pin);
}

/// Runs `count` round trips with the named client; returns the wall time of the round trips.
fn run_client(client: &str, addr: SocketAddr, conns: usize, count: usize) -> Duration {
    match client {
        "weir" => weir_client(addr, conns, count),
        "tokio" => tokio_client(addr, conns, count),
        other => panic!("unknown --client {other} (weir|tokio)"),
    }
}

fn weir_client(addr: SocketAddr, conns: usize, count: usize) -> Duration {
    use weir::rt::net::{AsyncStream, TcpStream};
    weir::rt::block_on(async move {
        let mut streams = Vec::new();
        for _ in 0..conns {
            streams.push(TcpStream::connect(addr).await.expect("connect"));
        }
        let start = Instant::now();
        let tasks: Vec<_> = streams
            .into_iter()
            .enumerate()
            .map(|(i, mut s)| {
                let n = share(count, conns, i);
                weir::rt::spawn(async move {
                    let msg = [7u8; MSG];
                    let mut buf = [0u8; 4096];
                    for _ in 0..n {
                        s.write_all(&msg).await.expect("write");
                        let mut got = 0;
                        while got < MSG {
                            let r = s.read(&mut buf).await.expect("read");
                            assert!(r > 0, "server closed");
                            got += r;
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
        start.elapsed()
    })
}

fn tokio_client(addr: SocketAddr, conns: usize, count: usize) -> Duration {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("tokio runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let mut streams = Vec::new();
        for _ in 0..conns {
            let s = tokio::net::TcpStream::connect(addr).await.expect("connect");
            s.set_nodelay(true).expect("nodelay");
            streams.push(s);
        }
        let start = Instant::now();
        let tasks: Vec<_> = streams
            .into_iter()
            .enumerate()
            .map(|(i, mut s)| {
                let n = share(count, conns, i);
                tokio::task::spawn_local(async move {
                    let msg = [7u8; MSG];
                    let mut buf = [0u8; 4096];
                    for _ in 0..n {
                        s.write_all(&msg).await.expect("write");
                        let mut got = 0;
                        while got < MSG {
                            let r = s.read(&mut buf).await.expect("read");
                            assert!(r > 0, "server closed");
                            got += r;
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
        start.elapsed()
    })
}

/// Connection `i`'s share of `count` round trips.
fn share(count: usize, conns: usize, i: usize) -> usize {
    count / conns + usize::from(i < count % conns)
}

/// The echo server: a thread per connection, blocking reads and writes (plain, and the same
/// for both clients). Prints its address on stdout.
fn serve(addr: &str) {
    let listener = TcpListener::bind(addr).expect("bind");
    println!("{}", listener.local_addr().expect("local_addr"));
    io::stdout().flush().expect("flush");
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        let _ = conn.set_nodelay(true);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if conn.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
}

/// Starts `--serve` as a child process; returns its address.
fn spawn_server(pin: Option<usize>) -> (SocketAddr, Child) {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.args(["--serve", "127.0.0.1:0"]).stdout(Stdio::piped());
    if let Some(cpu) = pin {
        cmd.args(["--pin", &cpu.to_string()]);
    }
    let mut child = cmd.spawn().expect("spawn server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("server address");
    (line.trim().parse().expect("server address"), child)
}

/// The default run: rates for both clients at 1 and 64 connections, then counts.
fn report(pin: Option<usize>) {
    let pin = pin.or(Some(0));
    let (addr, mut server) = spawn_server(pin);
    println!(
        "echo ping-pong, {MSG}-byte messages, client and server pinned to CPU {}",
        pin.unwrap_or(0)
    );
    println!();
    println!("rates: median of {ROUNDS} alternating runs; weir/tokio: median of per-round ratios");
    println!(
        "counts: (count at {N2} - count at {N1}) / {}, client process only",
        N2 - N1
    );
    println!();
    println!("| conns | weir rt/s | tokio rt/s | weir/tokio | weir syscalls/rt | tokio syscalls/rt | weir instr/rt | tokio instr/rt |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for conns in [1, 64] {
        // Short runs, alternating which client goes first, paired by round: a shared
        // machine's load drifts, and a ratio of neighbours in time is what survives it.
        let count = if conns == 1 { 20_000 } else { 40_000 };
        let mut rates = [Vec::new(), Vec::new()];
        let mut ratios = Vec::new();
        for round in 0..ROUNDS {
            let mut pair = [0f64; 2];
            for k in [round % 2, 1 - round % 2] {
                let t = run_client(["weir", "tokio"][k], addr, conns, count);
                pair[k] = count as f64 / t.as_secs_f64();
                rates[k].push(pair[k]);
            }
            ratios.push(pair[0] / pair[1]);
        }
        let best = [median(&mut rates[0]), median(&mut rates[1])];
        let ratio = median(&mut ratios);
        let cpu = pin.unwrap_or(0);
        let sys: Vec<String> = ["weir", "tokio"]
            .iter()
            .map(|c| syscalls_per_rt(c, conns, addr, cpu))
            .collect();
        let ins: Vec<String> = ["weir", "tokio"]
            .iter()
            .map(|c| instructions_per_rt(c, conns, addr, cpu))
            .collect();
        println!(
            "| {conns} | {:.0} | {:.0} | {:.2}x | {} | {} | {} | {} |",
            best[0], best[1], ratio, sys[0], sys[1], ins[0], ins[1]
        );
    }
    let _ = server.kill();
    let _ = server.wait();
}

/// Paired rate rounds per row of the table.
const ROUNDS: usize = 15;

/// The median (sorts `v`).
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Counts for N1 and N2 round trips, by difference.
const N1: usize = 2_000;
const N2: usize = 12_000;

/// `strace -c -f` syscalls per round trip (client process only: the server is external).
fn syscalls_per_rt(client: &str, conns: usize, addr: SocketAddr, cpu: usize) -> String {
    let count = |n: usize| -> Option<f64> {
        let out = tool_run(
            &["strace", "-c", "-f", "-o", "/dev/stderr"],
            client,
            conns,
            addr,
            cpu,
            n,
        )?;
        out.lines()
            .find(|l| l.trim_end().ends_with("total"))
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|c| c.parse().ok())
    };
    per_rt(count(N1), count(N2))
}

/// callgrind user-space instructions per round trip (client process only).
fn instructions_per_rt(client: &str, conns: usize, addr: SocketAddr, cpu: usize) -> String {
    let count = |n: usize| -> Option<f64> {
        let out = tool_run(
            &[
                "valgrind",
                "--tool=callgrind",
                "--callgrind-out-file=/dev/null",
            ],
            client,
            conns,
            addr,
            cpu,
            n,
        )?;
        out.lines()
            .find(|l| l.contains("Collected :"))
            .and_then(|l| l.split(':').nth(1))
            .and_then(|c| c.trim().parse().ok())
    };
    per_rt(count(N1), count(N2))
}

fn per_rt(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => format!("{:.2}", (b - a) / (N2 - N1) as f64),
        _ => "n/a".into(),
    }
}

/// Runs this bench in `--count` mode under `tool`; returns its stderr.
fn tool_run(
    tool: &[&str],
    client: &str,
    conns: usize,
    addr: SocketAddr,
    cpu: usize,
    n: usize,
) -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let out = Command::new(tool[0])
        .args(&tool[1..])
        .arg(exe)
        .args([
            "--count",
            &n.to_string(),
            "--client",
            client,
            "--conns",
            &conns.to_string(),
        ])
        .args(["--server", &addr.to_string(), "--pin", &cpu.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stderr).into_owned())
}
