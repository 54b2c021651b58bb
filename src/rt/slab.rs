//! A slab with generation-tagged keys: the reactor's waiter table and the executor's task
//! table.
//!
//! # Invariants
//! - A key is an entry index (low 32 bits) and the entry's generation (high 32 bits).
//! - An entry's generation is bumped each time its value is removed, so a key from before
//!   the removal never reaches the entry's next occupant.
//! - `len` counts the entries holding a value.

/// Values under generation-tagged `u64` keys; freed entries are reused.
#[derive(Debug)]
pub(crate) struct Slab<T> {
    /// `(generation, value)`; `None` while free.
    entries: Vec<(u32, Option<T>)>,
    /// Indices of free entries.
    free: Vec<usize>,
    /// How many entries hold a value.
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            entries: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slab<T> {
    /// The key the next [`insert`](Slab::insert) returns (for a value that must know its key).
    pub(crate) fn next_key(&self) -> u64 {
        match self.free.last() {
            Some(&index) => key(index, self.entries[index].0),
            None => key(self.entries.len(), 0),
        }
    }

    /// Stores `value`; returns its key.
    pub(crate) fn insert(&mut self, value: T) -> u64 {
        let index = self.free.pop().unwrap_or_else(|| {
            self.entries.push((0, None));
            self.entries.len() - 1
        });
        let entry = &mut self.entries[index];
        entry.1 = Some(value);
        self.len += 1;
        key(index, entry.0)
    }

    /// The value under `key`, if it is still there.
    #[inline]
    pub(crate) fn get_mut(&mut self, key: u64) -> Option<&mut T> {
        let (generation, value) = self.entries.get_mut((key & 0xffff_ffff) as usize)?;
        if u64::from(*generation) != key >> 32 {
            return None;
        }
        value.as_mut()
    }

    /// Takes the value under `key` out, freeing its entry.
    pub(crate) fn remove(&mut self, key: u64) -> Option<T> {
        let index = (key & 0xffff_ffff) as usize;
        let (generation, value) = self.entries.get_mut(index)?;
        if u64::from(*generation) != key >> 32 {
            return None;
        }
        let value = value.take()?;
        *generation = generation.wrapping_add(1);
        self.free.push(index);
        self.len -= 1;
        Some(value)
    }

    /// How many values it holds.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

/// The key of entry `index` at `generation`.
fn key(index: usize, generation: u32) -> u64 {
    u64::from(generation) << 32 | index as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_key_never_reaches_the_next_occupant() {
        let mut slab = Slab::default();
        assert_eq!(slab.next_key(), 0);
        let a = slab.insert("a");
        assert_eq!(slab.remove(a), Some("a"));
        let next = slab.next_key();
        let b = slab.insert("b");
        assert_eq!(b, next);
        assert_ne!(b, a);
        assert_eq!(a & 0xffff_ffff, b & 0xffff_ffff, "the entry is reused");
        assert!(slab.get_mut(a).is_none());
        assert!(slab.remove(a).is_none());
        assert_eq!(slab.get_mut(b), Some(&mut "b"));
        assert_eq!(slab.len(), 1);
    }
}
