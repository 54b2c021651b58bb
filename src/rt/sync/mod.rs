//! Async lock and semaphore: thread-safe, FIFO-fair, cancel-safe.
