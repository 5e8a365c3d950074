//! The health check's side of a group's zone: the prober's lease (which worker probes the
//! group) and the servers' check results; and the group's queue counters. The control
//! record (the one before the group's servers) holds the lease in `health`, the requests
//! queued now (all workers) in `conns` and the queue's overflows in `failures`.
//!
//! The lease is one 64-bit word of the group's control record, changed only by
//! compare-and-swap (no lock): the owner's pid in the low half, the lease's end in the high
//! half (`CLOCK_MONOTONIC` tenths of a second, the same clock in every process). A worker
//! takes the lease when it is free, ended, or held by a process that no longer exists (a
//! killed prober is replaced at the next election tick, not when its lease runs out); the
//! holder renews it at every tick and gives it up when it shuts down, so after a reload or
//! a graceful stop another worker takes over at its next tick.

use std::sync::atomic::Ordering;

use super::Group;
use super::shared::SharedPeer;
use crate::config::ZoneKind;
use crate::limits::msec_now;
use crate::shm::Slots;
use crate::upstream::health::{Health, HealthState, Transition};

/// The index of `health` (in a control record: the lease) among [`SharedPeer`]'s 64-bit
/// words.
const HEALTH_WORD: usize = std::mem::offset_of!(SharedPeer, health) / 8;

/// How long a lease lasts without renewal: a prober that hangs (rather than dies) is
/// replaced after this.
const LEASE_MS: u64 = 3000;

fn pack(pid: u32, until_ms: u64) -> u64 {
    (until_ms / 100) << 32 | u64::from(pid)
}

fn alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    // ESRCH only: EPERM means a process exists (another user's).
    !matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

/// What one probe found, for [`Group::record_check`].
#[derive(Clone, Copy, Debug)]
pub struct CheckOutcome {
    /// The response passed the tests.
    pub passed: bool,
    /// Its status (0: none).
    pub status: u16,
}

impl Group {
    /// Takes or renews the prober's lease for `pid`; whether this worker is the prober.
    /// A group without a zone has no lease (and no health check: `-t` refuses it).
    pub fn hold_lease(&self, pid: u32) -> bool {
        let Some(shared) = self.shared.as_ref() else {
            return false;
        };
        let Some(control) = shared.first.checked_sub(1) else {
            return false;
        };
        let Some(slots) = Slots::<SharedPeer>::open(&shared.seg, ZoneKind::Upstream.tag()) else {
            return false;
        };
        let Some(word) = slots.word(control, HEALTH_WORD) else {
            return false;
        };
        let now = msec_now();
        let held = word.load(Ordering::Acquire);
        let (owner, until) = (held as u32, (held >> 32) * 100);
        let mine = owner == pid;
        if !mine && held != 0 && until > now && alive(owner) {
            return false;
        }
        word.compare_exchange(
            held,
            pack(pid, now + LEASE_MS),
            Ordering::AcqRel,
            Ordering::Acquire,
        )
        .is_ok()
    }

    /// Gives the lease up if `pid` holds it (a worker shutting down).
    pub fn release_lease(&self, pid: u32) {
        let Some(shared) = self.shared.as_ref() else {
            return;
        };
        let Some(control) = shared.first.checked_sub(1) else {
            return;
        };
        let Some(slots) = Slots::<SharedPeer>::open(&shared.seg, ZoneKind::Upstream.tag()) else {
            return;
        };
        if let Some(word) = slots.word(control, HEALTH_WORD) {
            let held = word.load(Ordering::Acquire);
            if held as u32 == pid {
                let _ = word.compare_exchange(held, 0, Ordering::AcqRel, Ordering::Relaxed);
            }
        }
    }

    /// Counts the group's queue in its control record: `delta` requests entered (or, below
    /// zero, left) a worker's queue, `overflow`: one found the queue full.
    pub fn count_queue(&self, delta: i64, overflow: bool) {
        self.with_control(|r| {
            r.conns = r.conns.saturating_add_signed(delta);
            r.failures += u64::from(overflow);
        });
    }

    /// The group's queue for the status report: requests waiting in all workers, and
    /// those refused because their worker's queue was full.
    pub fn queue_stats(&self) -> Option<(u64, u64)> {
        let mut out = None;
        self.with_control(|r| out = Some((r.conns, r.failures)));
        out
    }

    fn with_control(&self, f: impl FnOnce(&mut SharedPeer)) {
        let Some(shared) = self.shared.as_ref() else {
            return;
        };
        let Some(control) = shared.first.checked_sub(1) else {
            return;
        };
        let Some(slots) = Slots::<SharedPeer>::open(&shared.seg, ZoneKind::Upstream.tag()) else {
            return;
        };
        let Ok(mut guard) = slots.lock() else { return };
        if let Some(r) = guard.records().get_mut(control) {
            f(r);
        }
    }

    /// Counts a probe of server `i` in its shared record with `fails`/`passes` of the
    /// check; returns the change of state to be logged, if any.
    pub fn record_check(
        &mut self,
        i: usize,
        outcome: CheckOutcome,
        fails: u16,
        passes: u16,
    ) -> Option<Transition> {
        let shared = self.shared.clone()?;
        let slots = Slots::<SharedPeer>::open(&shared.seg, ZoneKind::Upstream.tag())?;
        let mut guard = slots.lock().ok()?;
        let r = guard.records().get_mut(shared.first + i)?;
        let mut h = Health::from_word(r.health);
        let first = h.state == HealthState::Unchecked;
        let change = h.record(outcome.passed, outcome.status, fails, passes);
        r.health = h.to_word();
        r.checks += 1;
        r.check_fails += u64::from(!outcome.passed);
        let now = msec_now();
        if change == Some(Transition::Unhealthy) {
            r.unhealthy += 1;
        }
        let out = h.state == HealthState::Unhealthy;
        if out && r.down_since_ms == 0 {
            r.down_since_ms = now.max(1);
        } else if !out && r.down_since_ms != 0 {
            r.downtime_ms += now.saturating_sub(r.down_since_ms);
            r.down_since_ms = 0;
        }
        // A server's first pass is no news for the log: it was taking traffic already, or
        // under `mandatory` was only waiting for this ("checking").
        change.filter(|c| !(first && *c == Transition::Healthy))
    }
}
