//! The `weir` command: `weir get` fetches URLs, `weir bench` generates load.
//!
//! Errors end the command with exactly one line on stderr, `error: <kind>: <detail>`, and a
//! non-zero exit status (1 for a failed request, 2 for bad usage).

mod bench;
mod errors;
mod get;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use errors::CliError;

/// An HTTP/1.1 client and load generator on the weir library.
#[derive(Debug, Parser)]
#[command(name = "weir", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fetch URLs in order over one client (connections are reused); bodies go to stdout.
    Get(GetArgs),
    /// Load-test a URL (or, with no URL, an embedded loopback server) and print a report.
    Bench(BenchArgs),
}

#[derive(Debug, clap::Args)]
struct GetArgs {
    /// Request method (default GET, or POST with -d).
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    method: Option<String>,
    /// Extra request header, 'Name: value' (repeatable).
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    headers: Vec<String>,
    /// Request body: DATA as given, or @FILE to send a file.
    #[arg(short = 'd', long = "data", value_name = "DATA")]
    data: Option<String>,
    /// Print the status line and headers before the body.
    #[arg(short = 'i', long = "include")]
    include: bool,
    /// Write the bodies (all of them, in order) to FILE instead of stdout; a progress bar
    /// shows on stderr when it is a terminal.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Print connection events (connected, reused, closed, retried) to stderr.
    #[arg(short = 'v', long = "verbose")]
    verbose: bool,
    /// URLs to fetch, in order.
    #[arg(required = true, value_name = "URL")]
    urls: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct BenchArgs {
    /// URL to load; without one an embedded loopback server is started and benched.
    #[arg(value_name = "URL")]
    url: Option<String>,
    /// Connections in total, spread over the threads.
    #[arg(short = 'c', long = "connections", default_value_t = 32)]
    connections: usize,
    /// Stop after this many requests.
    #[arg(short = 'n', long = "requests", conflicts_with = "duration")]
    requests: Option<u64>,
    /// Stop starting requests after this long (e.g. 3s, 500ms, 1m) [default: 3s].
    #[arg(short = 'd', long = "duration", value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Client threads, each with its own loop and client [default: one per core, half
    /// of them when the embedded server shares the machine].
    #[arg(short = 't', long = "threads")]
    threads: Option<usize>,
    /// Time limit for each request.
    #[arg(long = "timeout", value_parser = parse_duration, default_value = "10s")]
    timeout: Duration,
}

/// `3s`, `500ms`, `2m`, or a plain number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(
        s.find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len()),
    );
    let v: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 3s or 500ms"))?;
    let secs = match unit {
        "" | "s" => v,
        "ms" => v / 1e3,
        "us" | "µs" => v / 1e6,
        "m" => v * 60.0,
        "h" => v * 3600.0,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {s:?} (use ms, s, m or h)"
            ))
        }
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"))
}

/// clap's multi-line message folded into one line, without its usage block.
fn usage_detail(msg: &str) -> String {
    let lines = msg
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:"));
    let text: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
    format!(
        "{} (see weir --help)",
        text.join(" ").trim_start_matches("error: ")
    )
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Get(a) => get::run(&get::GetOpts {
            method: a.method,
            headers: a.headers,
            data: a.data,
            include: a.include,
            output: a.output,
            verbose: a.verbose,
            urls: a.urls,
        }),
        Command::Bench(a) => {
            let default_threads = if a.url.is_none() {
                (cores() / 2).max(1)
            } else {
                cores()
            };
            let opts = bench::BenchOpts {
                url: a.url,
                connections: a.connections,
                requests: a.requests,
                duration: a.duration.unwrap_or(Duration::from_secs(3)),
                threads: a.threads.unwrap_or(default_threads),
                timeout: a.timeout,
            };
            let (report, completed) = bench::run(&opts)?;
            print!("{report}");
            match completed {
                0 => Err(CliError::new(
                    "bench",
                    "no request completed (see the errors above)",
                )),
                _ => Ok(()),
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print(); // --help, --version
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{}", CliError::new("usage", usage_detail(&e.to_string())));
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(if e.kind == "usage" { 2 } else { 1 })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_error_is_one_line() {
        let e = Cli::try_parse_from(["weir", "get"]).unwrap_err();
        let line = usage_detail(&e.to_string());
        assert!(line.contains("<URL>") && !line.contains('\n'), "{line}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("3x").is_err());
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn n_and_d_conflict() {
        assert!(Cli::try_parse_from(["weir", "bench", "-n", "5", "-d", "1s"]).is_err());
        assert!(Cli::try_parse_from(["weir", "get"]).is_err());
        let cli =
            Cli::try_parse_from(["weir", "get", "-H", "A: b", "-H", "C: d", "-i", "http://x/"])
                .unwrap();
        let Command::Get(g) = cli.command else {
            panic!("not get")
        };
        assert_eq!(g.headers.len(), 2);
        assert!(g.include);
    }
}
