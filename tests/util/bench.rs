//! The command line every bench binary shares, and what benches need from the OS.
//!
//! Convention (read by `benches/measure.sh`):
//! `<bench> --count N [--client weir|tokio|hyper|std] [--mode NAME] [--pin CPU]`; the bench
//! does exactly N operations after its start-up, so that the difference between two counts
//! is the cost of N2 - N1 operations. A bench includes these helpers with
//! `#[path = "../tests/util/mod.rs"] mod util;`.

use std::io;

/// A bench's parsed arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchArgs {
    /// Operations to do after start-up (`--count`, default 10,000).
    pub count: u64,
    /// Which client to drive (`--client`, default `weir`).
    pub client: String,
    /// A bench-specific variant (`--mode`), if given.
    pub mode: Option<String>,
    /// The CPU to pin this process (and the servers it starts) to (`--pin`).
    pub pin: Option<usize>,
}

impl BenchArgs {
    /// Parses `std::env::args()`; exits with a usage message on anything unknown.
    pub fn from_env() -> BenchArgs {
        let args: Vec<String> = std::env::args().skip(1).collect();
        BenchArgs::parse(&args).unwrap_or_else(|message| {
            eprintln!(
                "{message}\nusage: <bench> --count N [--client NAME] [--mode NAME] [--pin CPU]"
            );
            std::process::exit(2)
        })
    }

    /// Parses `args` (without the program name).
    pub fn parse(args: &[String]) -> Result<BenchArgs, String> {
        let mut parsed = BenchArgs {
            count: 10_000,
            client: "weir".into(),
            mode: None,
            pin: None,
        };
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let number = || {
                value
                    .parse()
                    .map_err(|_| format!("{flag}: not a number: {value}"))
            };
            match flag.as_str() {
                "--count" => parsed.count = number()? as u64,
                "--pin" => parsed.pin = Some(number()?),
                "--client" => parsed.client = value.clone(),
                "--mode" => parsed.mode = Some(value.clone()),
                _ => return Err(format!("unknown argument {flag}")),
            }
        }
        Ok(parsed)
    }

    /// Pins this process to `--pin`'s CPU, if given. Call it before starting servers: they
    /// inherit the affinity, which is how client and server share one core.
    pub fn apply_pin(&self) {
        if let Some(cpu) = self.pin {
            pin_to_cpu(cpu).unwrap_or_else(|e| panic!("cannot pin to CPU {cpu}: {e}"));
        }
    }
}

/// Restricts this thread (and threads and processes it starts later) to `cpu`.
pub fn pin_to_cpu(cpu: usize) -> io::Result<()> {
    // SAFETY: an all-zero cpu_set_t is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU_SET writes one bit inside `set`; `cpu` is checked against its capacity.
    unsafe {
        if cpu >= libc::CPU_SETSIZE as usize {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        libc::CPU_SET(cpu, &mut set);
    }
    // SAFETY: pid 0 is the calling thread; `set` is a valid cpu_set_t of the size passed.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// This process's peak resident set size in KiB (`VmHWM` in `/proc/self/status`): unlike
/// `/usr/bin/time`, it never reports a child's.
pub fn peak_rss_kib() -> u64 {
    status_kib("VmHWM:")
}

/// This process's resident set size now, in KiB (`VmRSS` in `/proc/self/status`).
pub fn rss_kib() -> u64 {
    status_kib("VmRSS:")
}

/// A KiB-valued field of `/proc/self/status`.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"));
    line.split_whitespace()
        .nth(1)
        .and_then(|kib| kib.parse().ok())
        .unwrap_or_else(|| panic!("{field} value"))
}
