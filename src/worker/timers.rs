//! Every deadline of a worker in one binary heap with lazy cancellation.
//!
//! A connection keeps its current deadline itself; the heap may hold older entries for it.
//! When an entry pops, the owner compares it with its current deadline: an earlier entry is
//! stale, a later current deadline is re-armed. So moving a deadline later (every keep-alive
//! request does) costs nothing. A closed connection's entry, though, stays until its deadline:
//! under connection churn that is rate × `client_header_timeout` entries (a 2-minute soak saw
//! 2 MB per worker), so the worker sweeps the stale ones out with [`Timers::retain`] once they
//! outnumber the live connections.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use crate::slab::Key;

/// The timer heap.
#[derive(Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Instant, Key)>>,
}

impl Timers {
    /// Adds a deadline for `key`.
    pub fn push(&mut self, at: Instant, key: Key) {
        self.heap.push(Reverse((at, key)));
    }

    /// Entries in the heap, current and stale.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Keeps only the entries `keep` accepts; O(entries).
    pub fn retain(&mut self, mut keep: impl FnMut(Instant, Key) -> bool) {
        let mut entries = std::mem::take(&mut self.heap).into_vec();
        entries.retain(|Reverse((at, key))| keep(*at, *key));
        self.heap = BinaryHeap::from(entries);
    }

    /// Time until the nearest deadline (the poll timeout), capped at `max`.
    pub fn next_timeout(&self, now: Instant, max: Duration) -> Duration {
        self.heap.peek().map_or(max, |Reverse((at, _))| {
            at.saturating_duration_since(now).min(max)
        })
    }

    /// Pops one entry that is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, Key)> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_deadline_order_and_only_when_due() {
        let mut t = Timers::default();
        let now = Instant::now();
        t.push(now + Duration::from_secs(2), Key(2));
        t.push(now + Duration::from_secs(1), Key(1));
        assert_eq!(
            t.next_timeout(now, Duration::from_secs(60)),
            Duration::from_secs(1)
        );
        assert!(t.pop_due(now).is_none());
        let later = now + Duration::from_secs(3);
        assert_eq!(t.pop_due(later).map(|e| e.1), Some(Key(1)));
        assert_eq!(t.pop_due(later).map(|e| e.1), Some(Key(2)));
        assert!(t.pop_due(later).is_none());
    }

    #[test]
    fn retain_drops_the_refused_entries_and_keeps_the_order() {
        let mut t = Timers::default();
        let now = Instant::now();
        for i in 0..10u64 {
            t.push(now + Duration::from_secs(10 - i), Key(i as usize));
        }
        t.retain(|_, key| key.0 % 2 == 0);
        assert_eq!(t.len(), 5);
        let order: Vec<usize> = std::iter::from_fn(|| t.pop_due(now + Duration::from_secs(60)))
            .map(|(_, k)| k.0)
            .collect();
        assert_eq!(order, vec![8, 6, 4, 2, 0]);
    }
}
