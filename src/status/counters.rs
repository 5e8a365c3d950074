//! The server-wide counters of connections and requests (nginx's `ngx_stat_*`, which
//! `stub_status` and `$connections_*` show), in a shared segment the master maps once, at
//! start: every worker of every generation counts into it, and a reload does not reset it.
//!
//! Each worker owns one slot (claimed at start by writing its pid) and is the only writer
//! of it, so counting is an uncontended atomic add on the worker's own cache lines. When a
//! worker has exited, the master folds its slot's totals (accepted, handled, requests) into
//! the retired totals and frees the slot; the gauges (active, reading, writing, waiting) of
//! a worker that died with connections open go with it. Readers add the retired totals and
//! every slot up, retrying while a fold is in progress (a sequence counter, odd during it).
//!
//! The layout, in 64-bit words after the segment header: [`HEADER_WORDS`] of header, one
//! record of retired totals, then [`MAX_SLOTS`] worker records of [`SLOT_WORDS`] each.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::shm::Segment;

/// Worker slots: room for the workers of two generations side by side during a reload.
pub const MAX_SLOTS: usize = 512;
/// Words per worker record (two cache lines).
pub const SLOT_WORDS: usize = 16;
const HEADER_WORDS: usize = 16;
const RETIRED: usize = HEADER_WORDS;
const SLOTS: usize = RETIRED + SLOT_WORDS;
/// Where the named blocks of [`super::zones`] start.
pub(super) const BLOCKS_AT: usize = SLOTS + MAX_SLOTS * SLOT_WORDS;
/// Bytes the segment needs (with its own header page).
pub const ZONE_SIZE: usize = 4096 + (BLOCKS_AT + super::zones::BLOCK_SPACE) * 8;

const MAGIC: u64 = 0x7374_6174_7573_3031; // "status01"
// Header words.
const H_MAGIC: usize = 0;
const H_SEQ: usize = 1;
const H_GENERATION: usize = 2;
const H_LOADED_MS: usize = 3;
const H_STARTED_MS: usize = 4;

/// Fields of a worker record (and of the retired totals).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Field {
    /// The owner's pid (0: free).
    Pid = 0,
    /// The configuration generation it runs.
    Generation = 1,
    /// Connections accepted.
    Accepted = 2,
    /// Connections handled (nginx: accepted unless `worker_connections` ran out).
    Handled = 3,
    /// Requests begun.
    Requests = 4,
    /// Client connections open.
    Active = 5,
    /// Connections reading a request head.
    Reading = 6,
    /// Connections with a request past its head (its body, the response).
    Writing = 7,
    /// Idle connections (kept alive, or accepted with nothing received yet).
    Waiting = 8,
    /// When the worker started (Unix milliseconds).
    StartedMs = 9,
    /// TLS handshakes completed (`tls/transport.rs`).
    SslHandshakes = 10,
    /// TLS handshakes that failed (a protocol error, a rejected hello).
    SslHandshakesFailed = 11,
    /// Completed handshakes that resumed a session (cache or ticket).
    SslSessionReuses = 12,
    // Words 13..16 are reserved.
}

/// Fields that only grow: folded into the retired totals when a worker exits.
const TOTALS: [Field; 6] = [
    Field::Accepted,
    Field::Handled,
    Field::Requests,
    Field::SslHandshakes,
    Field::SslHandshakesFailed,
    Field::SslSessionReuses,
];

static WORDS: OnceLock<&'static [AtomicU64]> = OnceLock::new();
/// The word index of this process's slot (`usize::MAX`: none).
static MINE: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Maps and formats the zone and makes it this process's (the master, once, before any
/// worker is forked). The mapping lives as long as the process: workers inherit it.
pub fn install() -> std::io::Result<()> {
    if WORDS.get().is_some() {
        return Ok(());
    }
    let seg: &'static Segment = Box::leak(Box::new(Segment::map(ZONE_SIZE)?));
    let words = seg.words();
    if let Some(w) = words.get(H_MAGIC) {
        w.store(MAGIC, Ordering::Relaxed);
    }
    if let Some(w) = words.get(H_STARTED_MS) {
        w.store(unix_ms(), Ordering::Relaxed);
    }
    let _ = WORDS.set(words);
    Ok(())
}

pub(super) fn words() -> &'static [AtomicU64] {
    WORDS.get().copied().unwrap_or(&[])
}

pub(super) fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Records the generation now in force and when its configuration was loaded (the master,
/// at start and after each reload, before forking its workers).
pub fn set_generation(generation: u64) {
    let w = words();
    if let (Some(g), Some(t)) = (w.get(H_GENERATION), w.get(H_LOADED_MS)) {
        g.store(generation, Ordering::Release);
        t.store(unix_ms(), Ordering::Release);
    }
}

/// Takes a free slot for this process (a worker, at start). Without the zone or a free
/// slot, the worker counts nothing (and says so once).
pub fn claim_slot(pid: u32) {
    let w = words();
    let generation = w.get(H_GENERATION).map_or(0, |g| g.load(Ordering::Acquire));
    let mine = MINE.load(Ordering::Relaxed);
    if mine != usize::MAX {
        // `master_process off` after a reload: the same process, a new generation.
        set(w, mine + Field::Generation as usize, generation);
        return;
    }
    for i in 0..MAX_SLOTS {
        let base = SLOTS + i * SLOT_WORDS;
        let Some(owner) = w.get(base) else { break };
        if owner
            .compare_exchange(0, u64::from(pid), Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            set(w, base + Field::Generation as usize, generation);
            set(w, base + Field::StartedMs as usize, unix_ms());
            MINE.store(base, Ordering::Relaxed);
            return;
        }
    }
    if !w.is_empty() {
        crate::elog!(
            crate::log::LogLevel::Warn,
            "no free slot in the status zone: this worker's connections are not counted"
        );
    }
}

fn set(w: &[AtomicU64], i: usize, v: u64) {
    if let Some(x) = w.get(i) {
        x.store(v, Ordering::Relaxed);
    }
}

/// Adds `delta` (wrapping: `u64::MAX` subtracts one) to this worker's `field`. The hot
/// path: one uncontended atomic add.
#[inline]
pub fn add(field: Field, delta: u64) {
    let base = MINE.load(Ordering::Relaxed);
    if let Some(w) = words().get(base.wrapping_add(field as usize)) {
        w.fetch_add(delta, Ordering::Relaxed);
    }
}

/// Frees the slot of an exited worker, folding its totals into the retired ones (the
/// master, after reaping it).
pub fn retire(pid: i32) {
    let w = words();
    let Some(seq) = w.get(H_SEQ) else { return };
    for i in 0..MAX_SLOTS {
        let base = SLOTS + i * SLOT_WORDS;
        if w.get(base).map(|o| o.load(Ordering::Acquire)) != Some(pid as u64) {
            continue;
        }
        seq.fetch_add(1, Ordering::AcqRel);
        for f in TOTALS {
            let v = w
                .get(base + f as usize)
                .map_or(0, |x| x.swap(0, Ordering::AcqRel));
            if let Some(r) = w.get(RETIRED + f as usize) {
                r.fetch_add(v, Ordering::AcqRel);
            }
        }
        for k in 1..SLOT_WORDS {
            set(w, base + k, 0);
        }
        seq.fetch_add(1, Ordering::AcqRel);
        if let Some(o) = w.get(base) {
            o.store(0, Ordering::Release);
        }
        return;
    }
}

/// One worker's numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkerStats {
    /// Its pid.
    pub pid: u64,
    /// Its configuration generation.
    pub generation: u64,
    /// When it started (Unix milliseconds).
    pub started_ms: u64,
    /// Connections accepted.
    pub accepted: u64,
    /// Connections handled.
    pub handled: u64,
    /// Requests begun.
    pub requests: u64,
    /// Connections open.
    pub active: u64,
    /// Reading a request head.
    pub reading: u64,
    /// Past the head.
    pub writing: u64,
    /// Idle.
    pub waiting: u64,
    /// TLS handshakes completed.
    pub ssl_handshakes: u64,
    /// TLS handshakes failed.
    pub ssl_handshakes_failed: u64,
    /// TLS sessions reused.
    pub ssl_session_reuses: u64,
}

/// A consistent copy of the zone, taken without any lock.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// The generation in force.
    pub generation: u64,
    /// When its configuration was loaded (Unix milliseconds).
    pub loaded_ms: u64,
    /// When the master started (Unix milliseconds).
    pub started_ms: u64,
    /// The whole server's numbers (retired workers' totals included).
    pub total: WorkerStats,
    /// The live workers, in slot order.
    pub workers: Vec<WorkerStats>,
}

fn read_record(w: &[AtomicU64], base: usize) -> WorkerStats {
    let g = |f: Field| {
        w.get(base + f as usize)
            .map_or(0, |x| x.load(Ordering::Acquire))
    };
    WorkerStats {
        pid: g(Field::Pid),
        generation: g(Field::Generation),
        started_ms: g(Field::StartedMs),
        accepted: g(Field::Accepted),
        handled: g(Field::Handled),
        requests: g(Field::Requests),
        active: g(Field::Active),
        reading: g(Field::Reading),
        writing: g(Field::Writing),
        waiting: g(Field::Waiting),
        ssl_handshakes: g(Field::SslHandshakes),
        ssl_handshakes_failed: g(Field::SslHandshakesFailed),
        ssl_session_reuses: g(Field::SslSessionReuses),
    }
}

/// Reads the zone (the status handlers): copies every record, retrying (a bounded number of
/// times) while the master folds an exited worker's slot, so no request is counted twice.
pub fn snapshot() -> Snapshot {
    let w = words();
    let mut snap = Snapshot::default();
    for _ in 0..1000 {
        let before = w.get(H_SEQ).map_or(0, |s| s.load(Ordering::Acquire));
        if before % 2 == 1 {
            std::hint::spin_loop();
            continue;
        }
        snap.workers.clear();
        let mut total = read_record(w, RETIRED);
        for i in 0..MAX_SLOTS {
            let base = SLOTS + i * SLOT_WORDS;
            if w.get(base).is_none_or(|o| o.load(Ordering::Acquire) == 0) {
                continue;
            }
            let r = read_record(w, base);
            total.accepted += r.accepted;
            total.handled += r.handled;
            total.requests += r.requests;
            total.ssl_handshakes += r.ssl_handshakes;
            total.ssl_handshakes_failed += r.ssl_handshakes_failed;
            total.ssl_session_reuses += r.ssl_session_reuses;
            total.active = total.active.wrapping_add(r.active);
            total.reading = total.reading.wrapping_add(r.reading);
            total.writing = total.writing.wrapping_add(r.writing);
            total.waiting = total.waiting.wrapping_add(r.waiting);
            snap.workers.push(r);
        }
        snap.total = total;
        if w.get(H_SEQ).map_or(0, |s| s.load(Ordering::Acquire)) == before {
            break;
        }
    }
    let h = |i: usize| w.get(i).map_or(0, |x| x.load(Ordering::Acquire));
    snap.generation = h(H_GENERATION);
    snap.loaded_ms = h(H_LOADED_MS);
    snap.started_ms = h(H_STARTED_MS);
    snap
}

/// One gauge of the whole server (`$connections_active` and friends): the sum over the
/// live workers' slots.
pub fn gauge(field: Field) -> u64 {
    let w = words();
    let mut sum = 0u64;
    for i in 0..MAX_SLOTS {
        let base = SLOTS + i * SLOT_WORDS;
        if w.get(base).is_none_or(|o| o.load(Ordering::Relaxed) == 0) {
            continue;
        }
        sum = sum.wrapping_add(
            w.get(base + field as usize)
                .map_or(0, |x| x.load(Ordering::Relaxed)),
        );
    }
    sum
}
