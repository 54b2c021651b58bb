//! What a bench thread records, how threads' records merge, and the printed report.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::time::Duration;

use hdrhistogram::Histogram;

/// Slowest latency the histogram holds exactly (slower ones are clamped to it).
const MAX_LATENCY_NS: u64 = 60_000_000_000;
/// Significant decimal digits the histogram keeps.
const SIGFIGS: u8 = 3;

/// One thread's (or the merged) results.
#[derive(Debug)]
pub struct Stats {
    /// Latency of each complete response, nanoseconds.
    pub latency: Histogram<u64>,
    /// Body bytes received.
    pub body_bytes: u64,
    /// Complete responses per status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Failed requests per error kind.
    pub errors: BTreeMap<String, u64>,
}

impl Stats {
    /// Empty stats.
    pub fn new() -> Stats {
        // 1 ns .. 60 s at 3 digits: bounds are constants, so this cannot fail.
        let latency = Histogram::new_with_bounds(1, MAX_LATENCY_NS, SIGFIGS)
            .unwrap_or_else(|_| unreachable!("constant histogram bounds are valid"));
        Stats {
            latency,
            body_bytes: 0,
            statuses: BTreeMap::new(),
            errors: BTreeMap::new(),
        }
    }

    /// Records one complete response.
    pub fn record_ok(&mut self, status: u16, body_bytes: u64, took: Duration) {
        let ns = (took.as_nanos() as u64).clamp(1, MAX_LATENCY_NS);
        self.latency.saturating_record(ns);
        self.body_bytes += body_bytes;
        *self.statuses.entry(status).or_default() += 1;
    }

    /// Records one failed request.
    pub fn record_error(&mut self, kind: &str) {
        *self.errors.entry(kind.to_owned()).or_default() += 1;
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Stats) {
        let _ = self.latency.add(&other.latency); // same bounds: cannot fail
        self.body_bytes += other.body_bytes;
        for (k, v) in &other.statuses {
            *self.statuses.entry(*k).or_default() += v;
        }
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
    }

    /// Complete responses.
    pub fn ok(&self) -> u64 {
        self.statuses.values().sum()
    }

    /// Failed requests.
    pub fn failed(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// What was run, for the report's header.
#[derive(Debug)]
pub struct Setup {
    /// The URL benched.
    pub url: String,
    /// True when it is the embedded server.
    pub embedded: bool,
    /// Client threads.
    pub threads: usize,
    /// Connections in total.
    pub connections: usize,
}

/// Formats the report.
pub fn render(setup: &Setup, stats: &Stats, elapsed: Duration) -> String {
    let mut s = String::new();
    let secs = elapsed.as_secs_f64().max(1e-9);
    let what = if setup.embedded {
        " (embedded loopback server)"
    } else {
        ""
    };
    let _ = writeln!(s, "weir bench {}{what}", setup.url);
    let _ = writeln!(
        s,
        "  {} threads, {} connections, {:.2} s",
        setup.threads, setup.connections, secs
    );
    let _ = writeln!(
        s,
        "  Requests:    {} complete, {} failed",
        stats.ok(),
        stats.failed()
    );
    let _ = writeln!(s, "  Requests/s:  {:.1}", stats.ok() as f64 / secs);
    let rate = Bytes(stats.body_bytes as f64 / secs);
    let _ = writeln!(
        s,
        "  Transfer/s:  {rate}/s (body bytes; {} in total)",
        Bytes(stats.body_bytes as f64)
    );
    render_latency(&mut s, &stats.latency);
    render_counts(
        &mut s,
        "Status codes:",
        stats.statuses.iter().map(|(k, v)| (k.to_string(), *v)),
    );
    render_counts(
        &mut s,
        "Errors by kind:",
        stats.errors.iter().map(|(k, v)| (k.clone(), *v)),
    );
    s
}

fn render_latency(s: &mut String, h: &Histogram<u64>) {
    if h.is_empty() {
        let _ = writeln!(s, "  Latency:     no complete response");
        return;
    }
    let _ = writeln!(
        s,
        "  Latency:     mean {}  stdev {}",
        Ns(h.mean()),
        Ns(h.stdev())
    );
    for (label, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)] {
        let _ = writeln!(s, "    {label:<6} {}", Ns(h.value_at_quantile(q) as f64));
    }
    let _ = writeln!(s, "    {:<6} {}", "max", Ns(h.max() as f64));
}

fn render_counts(s: &mut String, title: &str, rows: impl Iterator<Item = (String, u64)>) {
    let rows: Vec<_> = rows.collect();
    if rows.is_empty() {
        let _ = writeln!(s, "  {title} none");
        return;
    }
    let _ = writeln!(s, "  {title}");
    for (k, v) in rows {
        let _ = writeln!(s, "    {k:<24} {v}");
    }
}

/// A duration in nanoseconds, shown in a readable unit.
pub struct Ns(pub f64);

impl fmt::Display for Ns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        if ns < 1e3 {
            write!(f, "{ns:.0}ns")
        } else if ns < 1e6 {
            write!(f, "{:.1}µs", ns / 1e3)
        } else if ns < 1e9 {
            write!(f, "{:.2}ms", ns / 1e6)
        } else {
            write!(f, "{:.2}s", ns / 1e9)
        }
    }
}

/// A byte count in binary units.
pub struct Bytes(pub f64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
        let (mut v, mut i) = (self.0, 0);
        while v >= 1024.0 && i + 1 < UNITS.len() {
            v /= 1024.0;
            i += 1;
        }
        if i == 0 {
            write!(f, "{v:.0} B")
        } else {
            write!(f, "{v:.2} {}", UNITS[i])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_everything() {
        let mut a = Stats::new();
        a.record_ok(200, 13, Duration::from_micros(100));
        a.record_error("connect");
        let mut b = Stats::new();
        b.record_ok(200, 13, Duration::from_micros(300));
        b.record_ok(404, 0, Duration::from_micros(200));
        b.record_error("connect");
        a.merge(&b);
        assert_eq!((a.ok(), a.failed(), a.body_bytes), (3, 2, 26));
        assert_eq!(a.statuses[&200], 2);
        assert_eq!(a.latency.len(), 3);
        assert!(a.latency.max() >= 299_000);
    }

    #[test]
    fn report_names_every_section() {
        let mut st = Stats::new();
        st.record_ok(200, 13, Duration::from_micros(50));
        let setup = Setup {
            url: "http://x/".into(),
            embedded: true,
            threads: 1,
            connections: 2,
        };
        let r = render(&setup, &st, Duration::from_secs(1));
        for needle in [
            "Requests/s:  1.0",
            "Transfer/s:",
            "p50",
            "p90",
            "p99 ",
            "p99.9",
            "max",
            "200",
            "Errors by kind: none",
            "embedded",
        ] {
            assert!(r.contains(needle), "{needle:?} missing in\n{r}");
        }
    }

    #[test]
    fn units() {
        assert_eq!(Ns(1_500.0).to_string(), "1.5µs");
        assert_eq!(Ns(2_500_000.0).to_string(), "2.50ms");
        assert_eq!(Bytes(1536.0).to_string(), "1.50 KiB");
        assert_eq!(Bytes(10.0).to_string(), "10 B");
    }
}
