//! A slab of connections whose keys carry a generation, so that an event or timer for a slot
//! that was closed and reused is recognised as stale and dropped.

/// A key: slot index in the low 32 bits, generation in bits 32..62. The two top bits stay
/// free for the token space: an upstream socket is its client's key with bit 63 set, an
/// idle pooled connection a pool key with bit 62 set (see `crate::upstream::Owner`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(pub usize);

impl Key {
    fn new(slot: usize, generation: u32) -> Key {
        Key(((generation as usize) << 32) | slot)
    }
    fn slot(self) -> usize {
        self.0 & 0xffff_ffff
    }
    fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }
}

struct Slot<T> {
    generation: u32,
    value: Option<T>,
}

/// Generation-tagged slab.
pub struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: Vec<usize>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slab<T> {
    /// Number of live entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no live entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reserves a key for the value built by `make` (which may need its own key).
    pub fn insert_with(&mut self, make: impl FnOnce(Key) -> T) -> Key {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    value: None,
                });
                self.slots.len() - 1
            }
        };
        let s = &mut self.slots[slot];
        s.generation = s.generation.wrapping_add(1) & 0x3fff_ffff;
        let key = Key::new(slot, s.generation);
        s.value = Some(make(key));
        self.len += 1;
        key
    }

    /// The live entry for `key`, or `None` if the key is stale.
    pub fn get(&self, key: Key) -> Option<&T> {
        match self.slots.get(key.slot()) {
            Some(s) if s.generation == key.generation() => s.value.as_ref(),
            _ => None,
        }
    }

    /// The live entry for `key`, or `None` if the key is stale.
    pub fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        match self.slots.get_mut(key.slot()) {
            Some(s) if s.generation == key.generation() => s.value.as_mut(),
            _ => None,
        }
    }

    /// Removes and returns the entry for `key`.
    pub fn remove(&mut self, key: Key) -> Option<T> {
        match self.slots.get_mut(key.slot()) {
            Some(s) if s.generation == key.generation() && s.value.is_some() => {
                self.free.push(key.slot());
                self.len -= 1;
                s.value.take()
            }
            _ => None,
        }
    }

    /// Keys of every live entry.
    pub fn keys(&self) -> Vec<Key> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.value.is_some())
            .map(|(i, s)| Key::new(i, s.generation))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reused_slot_rejects_the_old_key() {
        let mut s = Slab::default();
        let a = s.insert_with(|_| 1);
        assert_eq!(s.remove(a), Some(1));
        let b = s.insert_with(|_| 2);
        assert_ne!(a, b);
        assert!(s.get_mut(a).is_none());
        assert_eq!(s.get_mut(b), Some(&mut 2));
        assert_eq!(s.len(), 1);
    }
}
