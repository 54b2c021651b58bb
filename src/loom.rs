//! The `std`/`loom` facade: sync code imports its atomics, mutexes, `Arc` and `UnsafeCell` from
//! here so that `RUSTFLAGS="--cfg loom"` swaps in loom's checked versions.
//!
//! # Invariants
//! - Code whose interleavings loom must explore (the injection queue, the semaphore, the async
//!   mutex) takes every shared-memory primitive from this module, never from `std::sync`.
//! - Both halves expose the same surface. `cell::UnsafeCell` offers only loom's closure-based
//!   `with`/`with_mut` so that the same code compiles under both.
#![allow(unused_imports, dead_code)]

#[cfg(not(loom))]
pub(crate) mod sync {
    //! `std::sync`, re-exported.
    pub(crate) use std::sync::{Arc, Mutex, MutexGuard};

    pub(crate) mod atomic {
        //! `std::sync::atomic`, re-exported.
        pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
    }
}

#[cfg(loom)]
pub(crate) mod sync {
    //! `loom::sync`, re-exported.
    pub(crate) use loom::sync::{Arc, Mutex, MutexGuard};

    pub(crate) mod atomic {
        //! `loom::sync::atomic`, re-exported.
        pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
    }
}

#[cfg(not(loom))]
pub(crate) mod cell {
    //! A `std::cell::UnsafeCell` with loom's closure-based access API.

    /// `std::cell::UnsafeCell` behind loom's `with`/`with_mut` API.
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T: ?Sized>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        /// Wraps `value`.
        pub(crate) const fn new(value: T) -> UnsafeCell<T> {
            UnsafeCell(std::cell::UnsafeCell::new(value))
        }

        /// Unwraps the value.
        pub(crate) fn into_inner(self) -> T {
            self.0.into_inner()
        }
    }

    impl<T: ?Sized> UnsafeCell<T> {
        /// Calls `f` with a shared raw pointer to the value.
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Calls `f` with a mutable raw pointer to the value.
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }

        /// A mutable reference through exclusive access; needs no synchronisation.
        pub(crate) fn get_mut(&mut self) -> &mut T {
            self.0.get_mut()
        }
    }
}

#[cfg(loom)]
pub(crate) mod cell {
    //! `loom::cell::UnsafeCell`, with the one method std has that loom spells differently.

    /// loom's access-tracking `UnsafeCell`.
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T>(loom::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        /// Wraps `value`.
        pub(crate) fn new(value: T) -> UnsafeCell<T> {
            UnsafeCell(loom::cell::UnsafeCell::new(value))
        }

        /// Unwraps the value.
        pub(crate) fn into_inner(self) -> T {
            self.0.into_inner()
        }

        /// Calls `f` with a shared raw pointer to the value (loom checks the access).
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            self.0.with(f)
        }

        /// Calls `f` with a mutable raw pointer to the value (loom checks the access).
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            self.0.with_mut(f)
        }

        /// A mutable reference through exclusive access.
        pub(crate) fn get_mut(&mut self) -> &mut T {
            // SAFETY: `&mut self` proves no other access to the cell exists.
            self.0.with_mut(|ptr| unsafe { &mut *ptr })
        }
    }
}
