//! Choosing a server of an upstream group, per worker: nginx's smooth weighted round robin
//! (`ngx_http_upstream_round_robin.c`), `least_conn`, `ip_hash`, `hash KEY [consistent]` and
//! `random` (`balancer/random.rs`),
//! with passive health checks (`max_fails` within `fail_timeout`).
//!
//! Each worker keeps its own counters, as nginx does without a shared zone; with `zone`
//! the counters live in shared memory (`balancer/shared.rs`) and every worker uses them.

use std::net::IpAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::config::proxy_values::{Balance, UpstreamConf};
use crate::shm::Segment;

/// Run-time state of one server.
#[derive(Debug, Clone)]
pub struct Peer {
    /// Configured weight.
    pub weight: i64,
    /// Weight lowered after failures, raised back one per pick.
    pub effective_weight: i64,
    /// The smooth round robin's running counter.
    pub current_weight: i64,
    /// Active connections to it from this worker (requests in flight).
    pub conns: usize,
    /// Failures counted in the current `fail_timeout` window.
    pub fails: u32,
    /// Tries sent to it (counted for the status report with a zone).
    pub requests: u64,
    /// Start of the current failure window.
    pub checked: Option<Instant>,
    /// Time of the last failure.
    pub accessed: Option<Instant>,
    pub(super) max_fails: u32,
    pub(super) fail_timeout: Duration,
    max_conns: usize,
    pub(super) down: bool,
    /// A `backup` server.
    pub backup: bool,
    /// Not failed by the active health check (`health_check`): loaded from the zone.
    pub(super) health_ok: bool,
}

/// Run-time state of one group.
#[derive(Debug, Clone)]
pub struct Group {
    /// Its servers, in configuration order (indexes match `UpstreamConf::servers`).
    pub peers: Vec<Peer>,
    /// The points of the consistent-hash ring: (hash, peer).
    ring: Vec<(u32, usize)>,
    /// `random`'s generator state (0: not seeded yet).
    rng: u64,
    /// The group's records in its upstream zone, if it has one.
    shared: Option<shared::Shared>,
}

/// Why no server could be chosen.
#[derive(Debug, PartialEq, Eq)]
pub struct NoLivePeers;

impl Group {
    /// Fresh counters for a configured group.
    pub fn new(conf: &UpstreamConf) -> Group {
        let peers: Vec<Peer> = conf
            .servers
            .iter()
            .map(|s| Peer {
                weight: i64::from(s.weight),
                effective_weight: i64::from(s.weight),
                current_weight: 0,
                conns: 0,
                fails: 0,
                requests: 0,
                checked: None,
                accessed: None,
                max_fails: s.max_fails,
                fail_timeout: s.fail_timeout,
                max_conns: s.max_conns,
                down: s.down,
                backup: s.backup,
                health_ok: true,
            })
            .collect();
        let mut ring = Vec::new();
        if let Balance::Hash {
            consistent: true, ..
        } = conf.balance
        {
            for (i, s) in conf.servers.iter().enumerate().filter(|(_, s)| !s.backup) {
                let name = s.addr.to_string();
                let mut prev: u32 = 0;
                for _ in 0..160 * s.weight {
                    // nginx's ketama points: crc32 of the name, then the previous point.
                    let mut data = name.as_bytes().to_vec();
                    data.push(0);
                    data.extend_from_slice(&prev.to_le_bytes());
                    prev = crc32(&data);
                    ring.push((prev, i));
                }
            }
            ring.sort_unstable();
        }
        Group {
            peers,
            ring,
            rng: 0,
            shared: None,
        }
    }

    /// Counters of a group in its upstream zone: `first` is the index of its first server's
    /// record in the zone (groups sharing a zone follow each other in configuration order).
    /// `mandatory`: the group's `health_check` keeps a server never checked out.
    pub fn in_shared_zone(
        conf: &UpstreamConf,
        seg: Rc<Segment>,
        first: usize,
        mandatory: bool,
    ) -> Group {
        let mut shared = shared::Shared::new(seg, first);
        shared.mandatory = mandatory;
        Group {
            shared: Some(shared),
            ..Group::new(conf)
        }
    }

    fn usable(&self, i: usize, tried: &[bool], now: Instant) -> bool {
        let p = &self.peers[i];
        if tried.get(i).copied().unwrap_or(false) || p.down || !p.health_ok {
            return false;
        }
        if p.max_fails > 0
            && p.fails >= p.max_fails
            && p.checked
                .is_some_and(|c| now.saturating_duration_since(c) <= p.fail_timeout)
        {
            return false;
        }
        !(p.max_conns > 0 && p.conns >= p.max_conns)
    }

    /// Smooth weighted round robin among usable peers of one tier (primary or backup),
    /// optionally restricted by `only`.
    fn round_robin(
        &mut self,
        backup: bool,
        tried: &[bool],
        now: Instant,
        only: Option<&dyn Fn(usize) -> bool>,
    ) -> Option<usize> {
        let mut best: Option<usize> = None;
        let mut total = 0i64;
        for i in 0..self.peers.len() {
            if self.peers[i].backup != backup || !self.usable(i, tried, now) {
                continue;
            }
            if let Some(f) = only
                && !f(i)
            {
                continue;
            }
            let p = &mut self.peers[i];
            p.current_weight += p.effective_weight;
            total += p.effective_weight;
            if p.effective_weight < p.weight {
                p.effective_weight += 1;
            }
            let current = p.current_weight;
            if best.is_none_or(|b| current > self.peers[b].current_weight) {
                best = Some(i);
            }
        }
        let b = best?;
        let p = &mut self.peers[b];
        p.current_weight -= total;
        // A new failure window starts when a server is picked after the last one ended.
        if p.checked
            .is_none_or(|c| now.saturating_duration_since(c) > p.fail_timeout)
        {
            p.checked = Some(now);
        }
        Some(b)
    }

    fn single(&self) -> bool {
        self.peers.len() == 1
    }

    /// Picks a server for a request: `tried` marks servers already tried by it, `client` is
    /// the client's address (`ip_hash`), `key` the evaluated `hash` key.
    pub fn pick(
        &mut self,
        balance: &Balance,
        tried: &[bool],
        client: IpAddr,
        key: &[u8],
        now: Instant,
    ) -> Result<usize, NoLivePeers> {
        self.in_zone(now, |g| g.pick_here(balance, tried, client, key, now))
    }

    /// [`Group::pick`] and [`Group::acquire`] in one step: with a zone, under one hold of
    /// its lock, so two workers cannot both see the last free `max_conns` place.
    pub fn pick_and_acquire(
        &mut self,
        balance: &Balance,
        tried: &[bool],
        client: IpAddr,
        key: &[u8],
        now: Instant,
    ) -> Result<usize, NoLivePeers> {
        self.in_zone(now, |g| {
            let i = g.pick_here(balance, tried, client, key, now)?;
            if let Some(p) = g.peers.get_mut(i) {
                p.conns += 1;
                p.requests += 1;
            }
            Ok(i)
        })
    }

    fn pick_here(
        &mut self,
        balance: &Balance,
        tried: &[bool],
        client: IpAddr,
        key: &[u8],
        now: Instant,
    ) -> Result<usize, NoLivePeers> {
        // nginx never marks the only server of a group as failed.
        // It still counts against `max_conns` (ngx_http_upstream_get_round_robin_peer).
        if self.single() {
            let p = &self.peers[0];
            if tried.first().copied().unwrap_or(false)
                || p.down
                || !p.health_ok
                || (p.max_conns > 0 && p.conns >= p.max_conns)
            {
                return Err(NoLivePeers);
            }
            return Ok(0);
        }
        let first = match balance {
            Balance::RoundRobin => None,
            Balance::LeastConn => self.least_conn(tried, now),
            Balance::IpHash => {
                let bytes: Vec<u8> = match client {
                    IpAddr::V4(a) => a.octets()[..3].to_vec(),
                    IpAddr::V6(a) => a.octets().to_vec(),
                };
                self.by_hash(tried, now, |n| {
                    let mut hash: u32 = 89;
                    for _ in 0..=n {
                        for b in &bytes {
                            hash = (hash * 113 + u32::from(*b)) % 6271;
                        }
                    }
                    hash
                })
            }
            Balance::Random { two } => self.random(*two, tried, now),
            // An empty key falls back to round robin, as nginx's hash peers do.
            Balance::Hash { .. } if key.is_empty() => None,
            Balance::Hash { consistent, .. } => {
                if *consistent {
                    self.consistent(tried, now, crc32(key))
                } else {
                    self.by_hash(tried, now, |n| {
                        if n == 0 {
                            crc32(key)
                        } else {
                            let mut data = n.to_string().into_bytes();
                            data.extend_from_slice(key);
                            crc32(&data)
                        }
                    })
                }
            }
        };
        if let Some(i) = first {
            return Ok(i);
        }
        if matches!(balance, Balance::LeastConn) {
            return self.round_robin(true, tried, now, None).ok_or(NoLivePeers);
        }
        self.round_robin(false, tried, now, None)
            .or_else(|| self.round_robin(true, tried, now, None))
            .ok_or(NoLivePeers)
    }

    fn least_conn(&mut self, tried: &[bool], now: Instant) -> Option<usize> {
        let mut best: Option<usize> = None;
        for i in 0..self.peers.len() {
            if self.peers[i].backup || !self.usable(i, tried, now) {
                continue;
            }
            let p = &self.peers[i];
            if best.is_none_or(|b| {
                let q = &self.peers[b];
                (p.conns as i64) * q.weight < (q.conns as i64) * p.weight
            }) {
                best = Some(i);
            }
        }
        let b = best?;
        let (conns, weight) = (self.peers[b].conns as i64, self.peers[b].weight);
        let peers = self.peers.clone();
        let tie = move |i: usize| (peers[i].conns as i64) * weight == conns * peers[i].weight;
        self.round_robin(false, tried, now, Some(&tie))
    }

    /// nginx's hash walk: weight-proportional slot from `hash(n)`, rehashing up to 20 times
    /// when the slot's server is unusable; `None` falls back to round robin.
    fn by_hash(
        &mut self,
        tried: &[bool],
        now: Instant,
        hash: impl Fn(u32) -> u32,
    ) -> Option<usize> {
        let total: i64 = self
            .peers
            .iter()
            .filter(|p| !p.backup)
            .map(|p| p.weight)
            .sum();
        if total <= 0 {
            return None;
        }
        for n in 0..20 {
            let mut w = i64::from(hash(n)) % total;
            let mut chosen = None;
            for (i, p) in self.peers.iter().enumerate().filter(|(_, p)| !p.backup) {
                w -= p.weight;
                if w < 0 {
                    chosen = Some(i);
                    break;
                }
            }
            if let Some(i) = chosen
                && self.usable(i, tried, now)
            {
                return Some(i);
            }
        }
        None
    }

    fn consistent(&mut self, tried: &[bool], now: Instant, hash: u32) -> Option<usize> {
        if self.ring.is_empty() {
            return None;
        }
        let start = self.ring.partition_point(|(h, _)| *h < hash);
        (0..self.ring.len())
            .map(|k| self.ring[(start + k) % self.ring.len()].1)
            .find(|&i| self.usable(i, tried, now))
    }

    /// A request starts using server `i`.
    pub fn acquire(&mut self, i: usize, now: Instant) {
        self.in_zone(now, |g| {
            if let Some(p) = g.peers.get_mut(i) {
                p.conns += 1;
                p.requests += 1;
            }
        });
    }

    /// A request stops using server `i`; `failed` counts a failure against it
    /// (`ngx_http_upstream_free_round_robin_peer`). Returns true when this failure disables
    /// the server for `fail_timeout` (nginx then warns "upstream server temporarily
    /// disabled"). The only server of a group is never counted.
    pub fn release(&mut self, i: usize, failed: bool, now: Instant) -> bool {
        self.in_zone(now, |g| g.release_here(i, failed, now))
    }

    /// [`Group::release`] of a try that took `took`: with a zone, the try is also counted
    /// for the status report (ended, failed, time).
    pub fn release_try(&mut self, i: usize, failed: bool, now: Instant, took: Duration) -> bool {
        let disabled = self.release(i, failed, now);
        self.count_try(i, failed, took.as_millis() as u64);
        disabled
    }

    fn release_here(&mut self, i: usize, failed: bool, now: Instant) -> bool {
        let single = self.single();
        let Some(p) = self.peers.get_mut(i) else {
            return false;
        };
        p.conns = p.conns.saturating_sub(1);
        if single {
            return false;
        }
        if failed {
            p.fails += 1;
            p.accessed = Some(now);
            p.checked = Some(now);
            if p.max_fails > 0 {
                p.effective_weight -= p.weight / i64::from(p.max_fails);
                if p.effective_weight < 0 {
                    p.effective_weight = 0;
                }
                return p.fails >= p.max_fails;
            }
        } else if p.accessed.is_some_and(|a| p.checked.is_some_and(|c| a < c)) {
            // Picked again after its failure window and answered: the server is back.
            p.fails = 0;
        }
        false
    }
}

/// CRC-32 (IEEE), as `ngx_crc32_long`.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc: u32 = 0xffff_ffff;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xedb8_8320 & mask);
        }
    }
    !crc
}

mod health_zone;
mod random;
mod shared;

pub use health_zone::CheckOutcome;
pub use shared::{PeerStats, SharedPeer, format_zone};

#[cfg(test)]
mod tests;
