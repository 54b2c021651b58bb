//! A one-line progress bar on stderr for downloads to a file (only when stderr is a terminal).

use std::io::Write;
use std::time::{Duration, Instant};

use crate::bench::report::Bytes;

/// Redraw at most this often.
const REDRAW_EVERY: Duration = Duration::from_millis(100);
/// Width of the bar in cells.
const BAR_CELLS: usize = 30;

/// Download progress; draws nothing when disabled.
#[derive(Debug)]
pub struct Progress {
    /// Draw at all.
    enabled: bool,
    /// Expected size, when the response said.
    total: Option<u64>,
    /// Bytes so far.
    done: u64,
    /// When the download started.
    started: Instant,
    /// Last redraw.
    drawn: Option<Instant>,
}

impl Progress {
    /// A bar for a download of `total` bytes (if known).
    pub fn new(enabled: bool, total: Option<u64>) -> Progress {
        Progress {
            enabled,
            total,
            done: 0,
            started: Instant::now(),
            drawn: None,
        }
    }

    /// `n` more bytes arrived.
    pub fn advance(&mut self, n: usize) {
        self.done += n as u64;
        let now = Instant::now();
        if self.enabled && self.drawn.is_none_or(|t| now - t >= REDRAW_EVERY) {
            self.drawn = Some(now);
            self.draw();
        }
    }

    /// Draws the final state and ends the line.
    pub fn finish(&mut self) {
        if self.enabled {
            self.draw();
            eprintln!();
        }
    }

    fn draw(&self) {
        let line = self.line();
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{line}\x1b[K");
        let _ = err.flush();
    }

    /// The text of the bar.
    fn line(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = Bytes(self.done as f64 / secs);
        match self.total {
            Some(total) if total > 0 => {
                let frac = (self.done as f64 / total as f64).min(1.0);
                let full = (frac * BAR_CELLS as f64) as usize;
                let bar = format!("{}{}", "#".repeat(full), " ".repeat(BAR_CELLS - full));
                let (done, total) = (Bytes(self.done as f64), Bytes(total as f64));
                format!("[{bar}] {:>3.0}% {done} / {total}  {rate}/s", frac * 100.0)
            }
            _ => format!("{}  {rate}/s", Bytes(self.done as f64)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_shows_fraction_and_sizes() {
        let mut p = Progress::new(false, Some(2048));
        p.advance(1024);
        let line = p.line();
        assert!(
            line.starts_with(&format!("[{}{}]", "#".repeat(15), " ".repeat(15))),
            "{line}"
        );
        assert!(line.contains(" 50% 1.00 KiB / 2.00 KiB"), "{line}");
        let unknown = Progress::new(false, None).line();
        assert!(unknown.starts_with("0 B"), "{unknown}");
    }
}
