//! `random [two [least_conn]]` (`ngx_http_upstream_random_module.c`): a server drawn with
//! probability proportional to its weight; with `two`, two different servers are drawn
//! and the one with fewer active connections for its weight is taken. After 20 draws that
//! hit unusable servers, nginx falls back to round robin, and so does this.

use std::time::Instant;

use super::Group;

/// Draws per pick before falling back to round robin (nginx's `rp->tries > 20`).
const MAX_DRAWS: usize = 20;

impl Group {
    /// One random pick among usable primary servers; `None` to fall back to round robin.
    pub(super) fn random(&mut self, two: bool, tried: &[bool], now: Instant) -> Option<usize> {
        let total: i64 = self.peers.iter().map(|p| p.weight).sum();
        if total <= 0 {
            return None;
        }
        let mut first: Option<usize> = None;
        for _ in 0..=MAX_DRAWS {
            let i = self.draw(total);
            if Some(i) == first || !self.usable(i, tried, now) {
                continue;
            }
            let chosen = match first {
                None if two => {
                    first = Some(i);
                    continue;
                }
                None => i,
                Some(prev) => {
                    // The second draw loses to the first when it is busier for its weight.
                    let (p, q) = (&self.peers[i], &self.peers[prev]);
                    if (p.conns as i64) * q.weight > (q.conns as i64) * p.weight {
                        prev
                    } else {
                        i
                    }
                }
            };
            let p = &mut self.peers[chosen];
            if p.checked
                .is_none_or(|c| now.saturating_duration_since(c) > p.fail_timeout)
            {
                p.checked = Some(now);
            }
            return Some(chosen);
        }
        None
    }

    /// A server index drawn by weight (nginx's binary search over cumulative weights).
    fn draw(&mut self, total: i64) -> usize {
        let x = (self.next_random() % total as u64) as i64;
        let mut acc = 0;
        for (i, p) in self.peers.iter().enumerate() {
            acc += p.weight;
            if x < acc {
                return i;
            }
        }
        self.peers.len().saturating_sub(1)
    }

    /// The worker's own generator (xorshift64*), seeded on first use from the process id
    /// and the clock so that workers draw differently.
    fn next_random(&mut self) -> u64 {
        if self.rng == 0 {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            self.rng = (nanos ^ (u64::from(std::process::id()) << 32)) | 1;
        }
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}
