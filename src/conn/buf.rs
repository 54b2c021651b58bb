//! The per-loop (thread-local) free list of read/write buffers.
//!
//! Idle connections hold no buffer, nor do requests waiting for their response: an exchange
//! takes one here to encode its request head and gives it back once written, takes one again
//! when response bytes are ready to read, and gives it back when it ends (or when a read has
//! to wait with nothing buffered). So ten thousand idle pooled connections, or ten thousand
//! requests waiting on slow servers, cost no buffer memory, and the steady state of one busy
//! connection allocates no buffer at all.
//!
//! # Invariants
//! - At most [`MAX_FREE_BUFFERS`] buffers wait here per thread.
//! - A buffer handed out is empty. Its allocation may still be shared with `Bytes` a user
//!   holds (response heads and body chunks are split off it without copying); `reserve`
//!   reclaims it in place when the user has let go, and allocates afresh otherwise.

use std::cell::RefCell;

use bytes::BytesMut;

/// Most buffers kept per thread.
pub const MAX_FREE_BUFFERS: usize = 64;

thread_local! {
    static FREE: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer with room for at least `size` bytes.
pub(crate) fn take(size: usize) -> BytesMut {
    let recycled = FREE.try_with(|free| free.borrow_mut().pop()).ok().flatten();
    let mut buf = recycled.unwrap_or_default();
    buf.reserve(size);
    buf
}

/// Gives `buf` back (its contents are discarded). A buffer with no room left (none was
/// taken, or it was split to its end) is dropped: it would only be reallocated.
pub(crate) fn give(mut buf: BytesMut) {
    if buf.capacity() == 0 {
        return;
    }
    buf.clear();
    let _ = FREE.try_with(|free| {
        let mut free = free.borrow_mut();
        if free.len() < MAX_FREE_BUFFERS {
            free.push(buf);
        }
    });
}

/// How many buffers wait in this thread's free list (for tests).
#[doc(hidden)]
pub fn free_buffers() -> usize {
    FREE.try_with(|free| free.borrow().len()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_buffer_is_reused_without_allocating() {
        let mut buf = take(1024);
        buf.extend_from_slice(b"abc");
        let ptr = buf.as_ptr();
        give(buf);
        let again = take(1024);
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), ptr);
        assert!(again.capacity() >= 1024);
    }

    #[test]
    fn a_buffer_shared_with_user_bytes_is_replaced_not_overwritten() {
        let mut buf = take(64);
        buf.extend_from_slice(b"hello");
        let held = buf.split().freeze();
        give(buf);
        let mut again = take(64);
        again.extend_from_slice(b"world");
        assert_eq!(&held[..], b"hello");
    }

    #[test]
    fn a_buffer_without_room_is_not_kept() {
        let before = free_buffers();
        give(BytesMut::new());
        let mut full = BytesMut::with_capacity(8);
        full.extend_from_slice(b"12345678");
        let _held = full.split();
        give(full);
        assert_eq!(free_buffers(), before);
    }

    #[test]
    fn the_free_list_is_bounded() {
        let bufs: Vec<_> = (0..MAX_FREE_BUFFERS + 5).map(|_| take(16)).collect();
        bufs.into_iter().for_each(give);
        assert_eq!(free_buffers(), MAX_FREE_BUFFERS);
    }
}
