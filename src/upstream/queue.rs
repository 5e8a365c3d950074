//! `queue N [timeout=T]` (nginx Plus): per worker and per group, the requests that found no
//! server they may use (every one at `max_conns`, failed or unhealthy), first come first
//! served. A waiting request is the upstream machine's `Queued` state; the worker retries
//! the head of each queue at the end of every loop turn (a server another request of this
//! worker released) and on a short tick while any request waits (one released by another
//! worker: the counts are in the zone, with no wake-up across processes). As in nginx
//! Plus, each worker has its own queue of up to N requests.

use std::collections::VecDeque;
use std::time::Duration;

use crate::slab::Key;

/// How often waiting requests are retried when nothing else wakes the worker.
pub const RETRY_TICK: Duration = Duration::from_millis(10);

/// The worker's queues, by group index.
#[derive(Debug, Default)]
pub struct Queues {
    groups: Vec<VecDeque<Key>>,
    waiting: usize,
}

impl Queues {
    /// Requests waiting for `group` in this worker.
    pub fn len(&self, group: usize) -> usize {
        self.groups.get(group).map_or(0, VecDeque::len)
    }

    /// Whether any request waits.
    pub fn any(&self) -> bool {
        self.waiting > 0
    }

    /// The request first in line for `group`.
    pub fn head(&self, group: usize) -> Option<Key> {
        self.groups.get(group)?.front().copied()
    }

    /// Groups with requests waiting.
    pub fn busy_groups(&self) -> impl Iterator<Item = usize> + '_ {
        self.groups
            .iter()
            .enumerate()
            .filter(|(_, q)| !q.is_empty())
            .map(|(g, _)| g)
    }

    /// Puts a request at the end of `group`'s line.
    pub fn push(&mut self, group: usize, key: Key) {
        if self.groups.len() <= group {
            self.groups.resize_with(group + 1, VecDeque::new);
        }
        if let Some(q) = self.groups.get_mut(group) {
            q.push_back(key);
            self.waiting += 1;
        }
    }

    /// Takes a request out of `group`'s line (served, timed out or gone); whether it was
    /// there.
    pub fn remove(&mut self, group: usize, key: Key) -> bool {
        let Some(q) = self.groups.get_mut(group) else {
            return false;
        };
        let Some(at) = q.iter().position(|k| *k == key) else {
            return false;
        };
        q.remove(at);
        self.waiting -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_in_first_out_per_group() {
        let mut q = Queues::default();
        q.push(1, Key(7));
        q.push(1, Key(3));
        q.push(0, Key(5));
        assert_eq!(
            (q.len(1), q.head(1), q.head(0)),
            (2, Some(Key(7)), Some(Key(5)))
        );
        assert!(q.remove(1, Key(7)) && !q.remove(1, Key(7)));
        assert_eq!(q.head(1), Some(Key(3)));
        assert!(q.remove(1, Key(3)) && q.remove(0, Key(5)));
        assert!(!q.any() && q.busy_groups().next().is_none());
    }
}
