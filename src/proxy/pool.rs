//! The per-worker cache of idle upstream connections (nginx's `keepalive` module, on by
//! default here).
//!
//! Per group, a LIFO stack bounded by `keepalive`: the most recently used connection is
//! reused first, and when the stack is full the least recently used one is closed. An idle
//! connection stays registered as it was (see [`super::Owner`]): data or EOF on it means the
//! upstream closed it (or misbehaves), so it is closed at once and never reused.
//! `keepalive_timeout` is enforced by [`Pool::expire`], run once per loop iteration.

use std::collections::VecDeque;
use std::time::Instant;

use mio::net::TcpStream;

use crate::worker::slab::{Key, Slab};

/// An idle connection waiting for reuse.
struct Idle {
    sock: TcpStream,
    group: usize,
    peer: usize,
    requests: u64,
    expires: Instant,
}

/// Idle upstream connections of one worker.
#[derive(Default)]
pub struct Pool {
    idle: Slab<Idle>,
    /// Per group: keys, oldest first.
    stacks: Vec<VecDeque<Key>>,
}

impl Pool {
    /// Caches `sock` (to `peer` of `group`, used for `requests` requests so far); closes the
    /// least recently used connection of the group if there are more than `max`. Returns the
    /// pool key the socket's events must now go to (`None`: not cached, closed).
    pub fn put(
        &mut self,
        sock: TcpStream,
        group: usize,
        peer: usize,
        requests: u64,
        max: usize,
        expires: Instant,
    ) -> Option<Key> {
        if max == 0 {
            return None;
        }
        if self.stacks.len() <= group {
            self.stacks.resize_with(group + 1, VecDeque::new);
        }
        let key = self.idle.insert_with(|_| Idle {
            sock,
            group,
            peer,
            requests,
            expires,
        });
        let stack = &mut self.stacks[group];
        stack.push_back(key);
        while stack.len() > max {
            if let Some(old) = stack.pop_front() {
                self.idle.remove(old);
            }
        }
        self.idle.get_mut(key).map(|_| key)
    }

    /// The most recently cached live connection to `peer` of `group`, with its request count.
    pub fn take(&mut self, group: usize, peer: usize) -> Option<(TcpStream, u64)> {
        let stack = self.stacks.get_mut(group)?;
        let pos = stack.iter().rposition(|&k| {
            self.idle
                .get_mut(k)
                .is_some_and(|e| e.peer == peer && e.group == group)
        })?;
        let key = stack.remove(pos)?;
        self.idle.remove(key).map(|e| (e.sock, e.requests))
    }

    /// An event on the idle connection `key`: the upstream closed it or sent stray bytes.
    /// Close it.
    pub fn on_event(&mut self, key: Key) {
        if let Some(e) = self.idle.remove(key)
            && let Some(stack) = self.stacks.get_mut(e.group)
        {
            stack.retain(|&k| k != key);
        }
    }

    /// Closes connections idle past their group's `keepalive_timeout`.
    pub fn expire(&mut self, now: Instant) {
        for stack in &mut self.stacks {
            while let Some(&k) = stack.front() {
                match self.idle.get_mut(k) {
                    Some(e) if e.expires > now => break,
                    _ => {
                        stack.pop_front();
                        self.idle.remove(k);
                    }
                }
            }
        }
    }

    /// The earliest expiry, for the poll timeout.
    pub fn next_expiry(&mut self) -> Option<Instant> {
        let mut earliest: Option<Instant> = None;
        for stack in &self.stacks {
            if let Some(&k) = stack.front()
                && let Some(e) = self.idle.get_mut(k)
            {
                earliest = Some(earliest.map_or(e.expires, |x| x.min(e.expires)));
            }
        }
        earliest
    }

    /// Number of cached connections.
    pub fn len(&self) -> usize {
        self.idle.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.idle.is_empty()
    }
}
