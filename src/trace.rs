//! The transition trace hook: off by default and free when off.
//!
//! Every generated typestate transition (and the runtime's waiter-slot steps, when it reports
//! them) calls [`enabled`], one relaxed atomic load, and only when a hook is registered builds a
//! [`Transition`] and calls [`record`]. A recorded trace can be replayed against the reference
//! models in [`crate::generated`]: `Event::decode(t.event, t.args)` rebuilds the model event.
//!
//! # Invariants
//! - `ENABLED` is true exactly while a hook is registered (set after storing, cleared before
//!   removing), so a transition that sees `false` may skip everything.
//! - The hook is called outside any of weir's own locks except the hook slot's read lock, so it
//!   may not call [`set_hook`] or [`clear_hook`] itself.
//!
//! # Examples
//! ```
//! use std::sync::{Arc, Mutex};
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let sink = seen.clone();
//! weir::trace::set_hook(move |t: &weir::trace::Transition<'_>| {
//!     sink.lock().unwrap().push(format!("{}: {} --{}--> {}", t.machine, t.from, t.event, t.to));
//! });
//! assert!(weir::trace::enabled());
//! weir::trace::clear_hook();
//! assert!(!weir::trace::enabled());
//! ```

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

/// One model transition as the code took it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition<'a> {
    /// The machine: `connection`, `waiter`, `lock` or `pool`.
    pub machine: &'static str,
    /// The state before, as named in the model file.
    pub from: &'static str,
    /// The event, as named in the model file.
    pub event: &'static str,
    /// The event's arguments as integers (see the generated `Event::arg_values`).
    pub args: &'a [i32],
    /// The state after.
    pub to: &'static str,
}

impl fmt::Display for Transition<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} --{}{:?}--> {}",
            self.machine, self.from, self.event, self.args, self.to
        )
    }
}

type Hook = Arc<dyn Fn(&Transition<'_>) + Send + Sync>;

static ENABLED: AtomicBool = AtomicBool::new(false);
static HOOK: RwLock<Option<Hook>> = RwLock::new(None);

/// Whether a hook is registered: the only cost of tracing when it is off.
#[inline(always)]
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Registers `hook` for every transition from now on (replacing any previous hook).
pub fn set_hook<F>(hook: F)
where
    F: Fn(&Transition<'_>) + Send + Sync + 'static,
{
    let mut slot = HOOK.write().unwrap_or_else(|p| p.into_inner());
    *slot = Some(Arc::new(hook));
    ENABLED.store(true, Ordering::Release);
}

/// Removes the hook; tracing is off again.
pub fn clear_hook() {
    ENABLED.store(false, Ordering::Release);
    let mut slot = HOOK.write().unwrap_or_else(|p| p.into_inner());
    *slot = None;
}

/// Reports `t` to the hook, if one is registered. Callers check [`enabled`] first.
#[cold]
pub fn record(t: &Transition<'_>) {
    let hook = HOOK.read().unwrap_or_else(|p| p.into_inner()).clone();
    if let Some(hook) = hook {
        hook(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// The hook is process-global: tests that set it take turns.
    static SERIAL: Mutex<()> = Mutex::new(());

    #[test]
    fn hook_sees_records_only_while_set() {
        let _turn = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let t = Transition {
            machine: "waiter",
            from: "empty",
            event: "poll",
            args: &[],
            to: "waiting",
        };
        record(&t);
        let me = std::thread::current().id();
        set_hook(move |t: &Transition<'_>| {
            if std::thread::current().id() == me {
                sink.lock().unwrap().push(t.to_string());
            }
        });
        record(&t);
        clear_hook();
        record(&t);
        let seen = seen.lock().unwrap();
        assert!(
            seen.iter()
                .any(|s| s == "waiter: empty --poll[]--> waiting"),
            "{seen:?}"
        );
    }
}
