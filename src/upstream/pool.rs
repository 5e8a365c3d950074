//! The per-worker cache of idle upstream connections (nginx's `keepalive` module, on by
//! default here).
//!
//! Per group, a LIFO stack bounded by `keepalive`: the most recently used connection is
//! reused first, and the least recently used ones over the bound are closed. An idle
//! connection stays registered as it was (see [`super::Owner`]): data or EOF on it means the
//! upstream closed it (or misbehaves), so it is closed at once and never reused.
//! [`Pool::expire`], run once per loop iteration, closes connections idle past
//! `keepalive_timeout` and those over the bound.
//!
//! One deviation from nginx, which closes a connection over the bound the moment it is
//! released: here it is closed once it has been idle for [`EXCESS_GRACE`] and is still over
//! the bound. Under load, responses come in bursts that release many connections together,
//! and the next requests of those clients come a moment later; closing at once made them
//! connect anew. With `keepalive 32` and 100 busy clients, nginx opened a new upstream
//! connection for about half of its requests (Portico, closing at once, for about a
//! third); with the grace, almost none. The bound still holds for any connection idle
//! longer than that.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::stream::PeerStream;
use crate::slab::{Key, Slab};

/// How long a connection over its group's `keepalive` bound may stay idle (see the module's
/// notes): long enough for a client's next request after a burst of responses, short
/// against any upstream's idle timeout.
pub const EXCESS_GRACE: Duration = Duration::from_millis(10);

/// A group's limits on its idle connections: `keepalive` and `keepalive_timeout` (the
/// default caches nothing).
#[derive(Clone, Copy, Debug, Default)]
pub struct Bound {
    /// How many may stay cached (0: none).
    pub max: usize,
    /// How long each may stay idle.
    pub timeout: Duration,
}

/// What a cached connection has done so far: `keepalive_requests` and `keepalive_time`
/// are checked against it when it is released.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    /// Requests it carried.
    pub requests: u64,
    /// When it was connected.
    pub opened: Instant,
}

/// An idle connection waiting for reuse.
struct Idle {
    /// The socket, with its TLS session for an `https://` upstream.
    sock: PeerStream,
    group: usize,
    peer: usize,
    usage: Usage,
    /// When it was cached.
    since: Instant,
}

/// Idle upstream connections of one worker.
#[derive(Default)]
pub struct Pool {
    idle: Slab<Idle>,
    /// Per group: keys, oldest first.
    stacks: Vec<VecDeque<Key>>,
    /// Per group: its limits, as the last `put` gave them.
    bounds: Vec<Bound>,
}

impl Pool {
    /// Caches `sock` (to `peer` of `group`, with its `usage` so far) at `now`,
    /// in a stack bounded by `bound` (see [`Pool::expire`]). Returns the pool key the socket's
    /// events must now go to (`None`: not cached, closed).
    pub fn put(
        &mut self,
        sock: PeerStream,
        group: usize,
        peer: usize,
        usage: Usage,
        bound: Bound,
        now: Instant,
    ) -> Option<Key> {
        if bound.max == 0 {
            return None;
        }
        if self.stacks.len() <= group {
            self.stacks.resize_with(group + 1, VecDeque::new);
            self.bounds.resize(group + 1, Bound::default());
        }
        self.bounds[group] = bound;
        let key = self.idle.insert_with(|_| Idle {
            sock,
            group,
            peer,
            usage,
            since: now,
        });
        self.stacks[group].push_back(key);
        Some(key)
    }

    /// The most recently cached live connection to `peer` of `group` that can serve a
    /// request for `tls` (a group can serve `http://` and `https://` locations, and TLS
    /// ones verified differently: see [`PeerStream::serves`]), with its usage.
    pub fn take(
        &mut self,
        group: usize,
        peer: usize,
        tls: Option<&super::TlsTarget>,
    ) -> Option<(PeerStream, Usage)> {
        let stack = self.stacks.get_mut(group)?;
        let pos = stack.iter().rposition(|&k| {
            self.idle
                .get_mut(k)
                .is_some_and(|e| e.peer == peer && e.group == group && e.sock.serves(tls))
        })?;
        let key = stack.remove(pos)?;
        self.idle.remove(key).map(|e| (e.sock, e.usage))
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

    /// Closes connections idle past their group's `keepalive_timeout`, and the least
    /// recently used ones over the group's bound that have been idle for [`EXCESS_GRACE`].
    pub fn expire(&mut self, now: Instant) {
        for (stack, bound) in self.stacks.iter_mut().zip(&self.bounds) {
            while let Some(&k) = stack.front() {
                let close = self.idle.get_mut(k).is_none_or(|e| {
                    e.since + bound.timeout <= now
                        || (stack.len() > bound.max && e.since + EXCESS_GRACE <= now)
                });
                if !close {
                    break;
                }
                stack.pop_front();
                self.idle.remove(k);
            }
        }
    }

    /// When [`Pool::expire`] next has something to close, for the poll timeout.
    pub fn next_expiry(&mut self) -> Option<Instant> {
        let mut earliest: Option<Instant> = None;
        for (stack, bound) in self.stacks.iter().zip(&self.bounds) {
            if let Some(&k) = stack.front()
                && let Some(e) = self.idle.get_mut(k)
            {
                let at = e.since
                    + if stack.len() > bound.max {
                        bound.timeout.min(EXCESS_GRACE)
                    } else {
                        bound.timeout
                    };
                earliest = Some(earliest.map_or(at, |x| x.min(at)));
            }
        }
        earliest
    }

    /// Closes every cached connection (a graceful stop: an idle upstream connection has
    /// no request to finish, and one to this very server would keep it from exiting).
    pub fn close_all(&mut self) {
        self.idle = Slab::default();
        self.stacks.clear();
        self.bounds.clear();
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

#[cfg(test)]
mod tests {
    use super::*;
    use mio::net::TcpStream;
    use std::io::Read;
    use std::net::TcpListener;

    /// `n` connected client sockets, with the accepted ends (to watch for EOF).
    fn sockets(n: usize) -> (Vec<PeerStream>, Vec<std::net::TcpStream>) {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        let clients = (0..n)
            .map(|_| {
                PeerStream::plain(TcpStream::from_std(
                    std::net::TcpStream::connect(addr).expect("connect"),
                ))
            })
            .collect();
        let servers = (0..n).map(|_| l.accept().expect("accept").0).collect();
        (clients, servers)
    }

    fn closed(s: &mut std::net::TcpStream) -> bool {
        s.set_nonblocking(true).expect("nonblocking");
        let mut b = [0u8; 1];
        matches!(s.read(&mut b), Ok(0))
    }

    const LONG: Duration = Duration::from_secs(60);

    fn used(requests: u64) -> Usage {
        Usage {
            requests,
            opened: Instant::now(),
        }
    }

    fn bound(max: usize, timeout: Duration) -> Bound {
        Bound { max, timeout }
    }

    #[test]
    fn reuses_the_most_recent_connection_of_the_peer() {
        let (socks, _ends) = sockets(3);
        let mut pool = Pool::default();
        let t0 = Instant::now();
        for (i, s) in socks.into_iter().enumerate() {
            let peer = usize::from(i == 1);
            assert!(
                pool.put(s, 0, peer, used(i as u64), bound(8, LONG), t0)
                    .is_some()
            );
        }
        assert_eq!(pool.take(0, 0, None).map(|(_, u)| u.requests), Some(2));
        assert_eq!(pool.take(0, 1, None).map(|(_, u)| u.requests), Some(1));
        assert_eq!(pool.take(0, 0, None).map(|(_, u)| u.requests), Some(0));
        assert!(pool.take(0, 0, None).is_none() && pool.take(1, 0, None).is_none());
        assert!(pool.is_empty());
    }

    #[test]
    fn excess_over_the_bound_closes_after_the_grace_oldest_first() {
        let (socks, mut ends) = sockets(5);
        let mut pool = Pool::default();
        let t0 = Instant::now();
        for (i, s) in socks.into_iter().enumerate() {
            pool.put(s, 0, 0, used(i as u64), bound(2, LONG), t0);
        }
        // Within the grace nothing closes, and the poll is told when it ends.
        pool.expire(t0 + EXCESS_GRACE / 2);
        assert_eq!(pool.len(), 5);
        assert_eq!(pool.next_expiry(), Some(t0 + EXCESS_GRACE));
        // A request in the meantime takes the newest.
        let taken = pool.take(0, 0, None);
        assert_eq!(taken.as_ref().map(|(_, u)| u.requests), Some(4));
        pool.expire(t0 + EXCESS_GRACE);
        assert_eq!(pool.len(), 2);
        assert_eq!(pool.next_expiry(), Some(t0 + LONG));
        // The two least recently used went; the bound is kept from then on.
        std::thread::sleep(Duration::from_millis(50));
        let gone: Vec<bool> = ends.iter_mut().map(closed).collect();
        assert_eq!(gone, [true, true, false, false, false]);
        assert_eq!(pool.take(0, 0, None).map(|(_, u)| u.requests), Some(3));
        assert_eq!(pool.take(0, 0, None).map(|(_, u)| u.requests), Some(2));
    }

    #[test]
    fn idle_timeout_and_upstream_close() {
        let (socks, _ends) = sockets(3);
        let mut pool = Pool::default();
        let t0 = Instant::now();
        let mut keys = Vec::new();
        for (i, s) in socks.into_iter().enumerate() {
            let at = t0 + Duration::from_secs(i as u64);
            keys.extend(pool.put(s, 0, 0, used(0), bound(8, Duration::from_secs(5)), at));
        }
        assert_eq!(pool.next_expiry(), Some(t0 + Duration::from_secs(5)));
        pool.expire(t0 + Duration::from_secs(6));
        assert_eq!(pool.len(), 1, "the first two idled past keepalive_timeout");
        pool.on_event(keys[2]);
        assert!(pool.is_empty() && pool.next_expiry().is_none());
        // `keepalive` of 0 caches nothing.
        let (mut socks, _ends) = sockets(1);
        let s = socks.remove(0);
        assert!(pool.put(s, 0, 0, used(0), bound(0, LONG), t0).is_none());
    }
}
