//! A keyed hash for the worker's per-request map lookups (the open-file cache by path, MIME
//! types by extension, the hot cache entries), where std's SipHash cost 150–300
//! instructions a lookup.
//!
//! Each 8-byte word is mixed by a folded 64×64→128-bit multiply (the high and low halves
//! xored), the construction of foldhash and wyhash; the state starts from a key drawn once
//! per thread from std's random keys, so which paths collide cannot be worked out offline.
//! Not a cryptographic MAC: the maps it serves are bounded (`open_file_cache max`, the
//! config's `types`, the hot entries), so even a crafted collision costs a longer probe,
//! never unbounded growth.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

/// The high and low halves of `a × b` xored together.
#[inline]
fn folded_multiply(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// A [`std::hash::BuildHasher`] keyed once per map from std's random keys.
#[derive(Clone, Debug)]
pub struct FastState {
    key: u64,
}

impl Default for FastState {
    /// The thread's key, drawn once: a map taken out of its place with `mem::take` on the
    /// request path builds one of these each time.
    fn default() -> FastState {
        thread_local! {
            static KEY: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
        }
        let mut key = KEY.get();
        if key == 0 {
            key = RandomState::new().hash_one(0x0070_6f72_7469_636f_u64) | 1;
            KEY.set(key);
        }
        FastState { key }
    }
}

impl BuildHasher for FastState {
    type Hasher = FastHasher;

    #[inline]
    fn build_hasher(&self) -> FastHasher {
        FastHasher { state: self.key }
    }
}

/// The hasher [`FastState`] builds.
#[derive(Clone, Debug)]
pub struct FastHasher {
    state: u64,
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut state = self.state;
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            state = folded_multiply(state ^ u64::from_le_bytes(w), MULTIPLIER);
        }
        let rest = words.remainder();
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        // The length keeps "ab" and "ab\0" apart.
        state = folded_multiply(
            state ^ u64::from_le_bytes(w),
            MULTIPLIER ^ bytes.len() as u64,
        );
        self.state = state;
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.state = folded_multiply(self.state ^ n, MULTIPLIER);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_hash_equal_and_near_keys_apart() {
        let s = FastState::default();
        let h = |b: &[u8]| s.hash_one(b);
        assert_eq!(h(b"/var/www/index.html"), h(b"/var/www/index.html"));
        assert_ne!(h(b"/var/www/index.html"), h(b"/var/www/index.htm"));
        assert_ne!(h(b"ab"), h(b"ab\0"));
        assert_ne!(h(b""), h(b"\0"));
        let mut seen = std::collections::HashSet::new();
        for i in 0..10_000u32 {
            seen.insert(h(format!("/srv/f{i}.html").as_bytes()) >> 57);
        }
        // The top 7 bits (hashbrown's tag) take every value.
        assert_eq!(seen.len(), 128);
    }

    #[test]
    fn maps_work_with_it() {
        let mut m: std::collections::HashMap<String, u32, FastState> = Default::default();
        m.insert("html".into(), 1);
        m.insert("css".into(), 2);
        assert_eq!(m.get("html"), Some(&1));
        assert_eq!(m.get("css"), Some(&2));
        assert_eq!(m.get("js"), None);
    }
}
