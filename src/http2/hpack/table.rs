//! The decoder's dynamic table (RFC 7541 2.3.2, 4): newest entry first, evicted oldest
//! first once the entries' size (name + value + 32 each) passes the maximum.

use std::collections::VecDeque;

/// The dynamic table; its memory is bounded by the size the peer may use (ours to set).
pub struct DynamicTable {
    /// Each entry: name and value back to back, and the name's length.
    entries: VecDeque<(Box<[u8]>, usize)>,
    size: usize,
    max_size: usize,
}

impl DynamicTable {
    /// An empty table of at most `max_size`.
    pub fn new(max_size: usize) -> DynamicTable {
        DynamicTable {
            entries: VecDeque::new(),
            size: 0,
            max_size,
        }
    }

    /// Entry `index` (0: newest).
    pub fn get(&self, index: usize) -> Option<(&[u8], &[u8])> {
        self.entries.get(index).map(|(b, n)| b.split_at(*n))
    }

    /// Adds an entry, evicting as needed; an entry larger than the table empties it (4.4).
    pub fn insert(&mut self, name: &[u8], value: &[u8]) {
        let size = name.len() + value.len() + 32;
        self.evict_to(self.max_size.saturating_sub(size));
        if size > self.max_size {
            return;
        }
        let mut entry = Vec::with_capacity(name.len() + value.len());
        entry.extend_from_slice(name);
        entry.extend_from_slice(value);
        self.entries
            .push_front((entry.into_boxed_slice(), name.len()));
        self.size += size;
    }

    /// A size update from the peer (already checked against our setting).
    pub fn set_max_size(&mut self, max: usize) {
        self.max_size = max;
        self.evict_to(max);
    }

    fn evict_to(&mut self, target: usize) {
        while self.size > target {
            match self.entries.pop_back() {
                Some((b, _)) => self.size -= b.len() + 32,
                None => {
                    self.size = 0;
                    break;
                }
            }
        }
    }

    /// The table's current size.
    pub fn size(&self) -> usize {
        self.size
    }
}
