//! The syscall layer: the only module that calls libc.
