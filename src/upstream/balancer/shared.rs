//! An upstream group's counters in a shared zone (`zone NAME [SIZE]`), as nginx's upstream
//! zone module keeps its peers in shared memory: the smooth round robin's weights, active
//! connections (`least_conn`, `max_conns`), failures and their window are one set for all
//! workers, so a server disabled by one worker is disabled for all, and the rotation is the
//! server's, not each worker's.
//!
//! Each pick, acquire and release takes the zone's robust lock, loads the group's records
//! into the worker's [`Peer`]s, runs the same code as without a zone, and stores them back:
//! one algorithm, two places to keep its state. Times are kept as `CLOCK_MONOTONIC`
//! milliseconds (every process reads the same clock); 0 means "never".

use std::rc::Rc;
use std::time::{Duration, Instant};

use super::{Group, Peer};
use crate::config::ZoneKind;
use crate::limits::msec_now;
use crate::shm::{Pod, Segment, Slots};

/// One server's shared record. All zero is a fresh server (what a zone holds after a dead
/// lock owner's wipe), hence the weight kept as its shortfall from the configured one.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SharedPeer {
    /// The smooth round robin's running counter.
    pub current_weight: i64,
    /// Configured weight minus the effective weight (lowered by failures).
    pub weight_shortfall: i64,
    /// Requests in flight to it, all workers together.
    pub conns: u64,
    /// Failures in the current window.
    pub fails: u64,
    /// Start of the current failure window (ms), 0: none.
    pub checked_ms: u64,
    /// Last failure (ms), 0: none.
    pub accessed_ms: u64,
    // The status report's numbers: only ever added to.
    /// Tries sent to it.
    pub requests: u64,
    /// Tries that failed (counted against `max_fails` or not).
    pub failures: u64,
    /// Tries ended, and their time summed (milliseconds): the mean response time.
    pub ended: u64,
    /// See `ended`.
    pub time_sum_ms: u64,
    /// The active health check's state ([`crate::upstream::health::Health`]): an
    /// unhealthy server gets no traffic from any worker. Written by the elected prober
    /// (`upstream/prober.rs`). In a group's control record (the one before its servers'):
    /// the prober's lease, see `balancer/lease.rs`.
    pub health: u64,
    // The health check's numbers for the status report.
    /// Checks made.
    pub checks: u64,
    /// Checks failed.
    pub check_fails: u64,
    /// Times the server became unhealthy.
    pub unhealthy: u64,
    /// Time spent unhealthy or "checking" before this spell (ms).
    pub downtime_ms: u64,
    /// Start of the current unhealthy spell (ms), 0: none.
    pub down_since_ms: u64,
}

// SAFETY: a `repr(C)` struct of integers.
unsafe impl Pod for SharedPeer {}

/// Where a group's records are: the zone and the first record's index.
#[derive(Debug, Clone)]
pub(super) struct Shared {
    pub(super) seg: Rc<Segment>,
    /// The group's first server's record; the record before it is the group's control
    /// record (the prober's lease).
    pub(super) first: usize,
    /// The group's `health_check` is `mandatory`: a server never checked takes no traffic.
    pub(super) mandatory: bool,
}

impl Shared {
    pub(super) fn new(seg: Rc<Segment>, first: usize) -> Shared {
        Shared {
            seg,
            first,
            mandatory: false,
        }
    }
}

/// Lays out an upstream zone for `records` records: per group one control record and one
/// per server (the master, before the fork).
pub fn format_zone(seg: &Segment, records: usize) -> std::io::Result<()> {
    Slots::<SharedPeer>::format(seg, ZoneKind::Upstream.tag(), records).map(|_| ())
}

fn to_ms(t: Option<Instant>, now: Instant, now_ms: u64) -> u64 {
    match t {
        None => 0,
        Some(t) => {
            let ago = now.saturating_duration_since(t).as_millis() as u64;
            now_ms.saturating_sub(ago).max(1)
        }
    }
}

fn from_ms(ms: u64, now: Instant, now_ms: u64) -> Option<Instant> {
    if ms == 0 {
        return None;
    }
    let ago = Duration::from_millis(now_ms.saturating_sub(ms));
    Some(now.checked_sub(ago).unwrap_or(now))
}

fn load(p: &mut Peer, r: &SharedPeer, now: Instant, now_ms: u64, mandatory: bool) {
    p.current_weight = r.current_weight;
    p.effective_weight = (p.weight - r.weight_shortfall).max(0);
    p.conns = r.conns as usize;
    p.fails = u32::try_from(r.fails).unwrap_or(u32::MAX);
    p.checked = from_ms(r.checked_ms, now, now_ms);
    p.accessed = from_ms(r.accessed_ms, now, now_ms);
    p.requests = r.requests;
    // Written only by the health checker; the balancer reads it and never stores it.
    p.health_ok = crate::upstream::health::Health::from_word(r.health).takes_traffic(mandatory);
}

fn store(p: &Peer, r: &mut SharedPeer, now: Instant, now_ms: u64) {
    r.current_weight = p.current_weight;
    r.weight_shortfall = p.weight - p.effective_weight;
    r.conns = p.conns as u64;
    r.fails = u64::from(p.fails);
    r.checked_ms = to_ms(p.checked, now, now_ms);
    r.accessed_ms = to_ms(p.accessed, now, now_ms);
    r.requests = p.requests;
}

/// One server's numbers for the status report.
#[derive(Clone, Debug)]
pub struct PeerStats {
    /// Its index in the group.
    pub index: usize,
    /// `down` in the configuration.
    pub down: bool,
    /// Disabled for now by `max_fails` within `fail_timeout`.
    pub unavailable: bool,
    /// The group's health check is `mandatory` (a server never checked is "checking").
    pub mandatory: bool,
    /// The shared record.
    pub record: SharedPeer,
}

impl Group {
    /// The group's numbers, copied under the zone's lock (released before the caller
    /// renders anything); `None` for a group without a zone.
    pub fn shared_stats(&mut self, now: Instant) -> Option<Vec<PeerStats>> {
        let shared = self.shared.clone()?;
        let slots = Slots::<SharedPeer>::open(&shared.seg, ZoneKind::Upstream.tag())?;
        let n = self.peers.len();
        let records: Vec<SharedPeer> = {
            let mut guard = slots.lock().ok()?;
            guard
                .records()
                .get(shared.first..shared.first + n)?
                .to_vec()
        };
        let now_ms = msec_now();
        Some(
            records
                .into_iter()
                .enumerate()
                .map(|(index, record)| {
                    let mut p = self.peers[index].clone();
                    load(&mut p, &record, now, now_ms, shared.mandatory);
                    let unavailable = self.peers.len() > 1
                        && p.max_fails > 0
                        && p.fails >= p.max_fails
                        && p.checked
                            .is_some_and(|c| now.saturating_duration_since(c) <= p.fail_timeout);
                    PeerStats {
                        index,
                        down: p.down,
                        unavailable,
                        mandatory: shared.mandatory,
                        record,
                    }
                })
                .collect(),
        )
    }

    /// Counts a try's end in the shared record of server `i` (the status report's
    /// numbers); nothing without a zone.
    pub(super) fn count_try(&mut self, i: usize, failed: bool, took_ms: u64) {
        let Some(shared) = self.shared.clone() else {
            return;
        };
        let Some(slots) = Slots::<SharedPeer>::open(&shared.seg, ZoneKind::Upstream.tag()) else {
            return;
        };
        let Ok(mut guard) = slots.lock() else { return };
        if let Some(r) = guard.records().get_mut(shared.first + i) {
            r.failures += u64::from(failed);
            r.ended += 1;
            r.time_sum_ms += took_ms;
        }
    }

    /// Runs `f` on the group's state: with a zone, under its lock with the shared records
    /// loaded before and stored after; without one (or a zone that cannot be used), on the
    /// worker's own counters.
    pub(super) fn in_zone<R>(&mut self, now: Instant, f: impl FnOnce(&mut Group) -> R) -> R {
        let Some(shared) = self.shared.clone() else {
            return f(self);
        };
        let Some(slots) = Slots::<SharedPeer>::open(&shared.seg, ZoneKind::Upstream.tag()) else {
            return f(self);
        };
        let Ok(mut guard) = slots.lock() else {
            return f(self);
        };
        let n = self.peers.len();
        let Some(records) = guard.records().get_mut(shared.first..shared.first + n) else {
            return f(self);
        };
        let now_ms = msec_now();
        for (p, r) in self.peers.iter_mut().zip(records.iter()) {
            load(p, r, now, now_ms, shared.mandatory);
        }
        let out = f(self);
        for (p, r) in self.peers.iter().zip(records.iter_mut()) {
            store(p, r, now, now_ms);
        }
        out
    }
}
