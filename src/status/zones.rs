//! Named counter blocks in the status zone: one per `status_zone` of a server or a
//! location (requests, responses by class, bytes in and out, a request-time histogram).
//!
//! The master assigns blocks by (kind, name) before it forks, so the workers of every
//! generation add into the block of the same name: a reload keeps the numbers. A block is
//! never freed; when every block is taken, a new name is not counted (and the master logs
//! it). Workers only add; readers copy without a lock.

use std::sync::atomic::{AtomicU64, Ordering};

use super::counters::{BLOCKS_AT, words};

/// Blocks in the zone.
pub const MAX_BLOCKS: usize = 256;
/// Words per block.
const BLOCK_WORDS: usize = 64;
/// Words all blocks take.
pub const BLOCK_SPACE: usize = MAX_BLOCKS * BLOCK_WORDS;
/// Longest name kept (bytes); a longer one is refused at `-t`.
pub const MAX_NAME: usize = 120;

// Block words.
const B_KIND: usize = 0;
const B_NAME_LEN: usize = 1;
const B_NAME: usize = 2; // 15 words of name bytes
const B_REQUESTS: usize = 18;
const B_CLASSES: usize = 19; // 1xx..5xx: five words
const B_RECEIVED: usize = 24;
const B_SENT: usize = 25;
const B_TIME_SUM_MS: usize = 26;
const B_BUCKETS: usize = 27; // one word per bound in BUCKETS_MS, then +Inf

/// Upper bounds of the request-time histogram, in milliseconds (Prometheus' defaults).
pub const BUCKETS_MS: [u64; 11] = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/// What a block counts for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A server's `status_zone`.
    Server = 1,
    /// A location's `status_zone`.
    Location = 2,
    /// A `limit_req_zone`.
    LimitReq = 3,
    /// A `limit_conn_zone`.
    LimitConn = 4,
}

/// The outcomes a limit zone counts (`$limit_req_status` / `$limit_conn_status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `PASSED`
    Passed = 0,
    /// `DELAYED`
    Delayed = 1,
    /// `REJECTED`
    Rejected = 2,
    /// `DELAYED_DRY_RUN`
    DelayedDryRun = 3,
    /// `REJECTED_DRY_RUN`
    RejectedDryRun = 4,
}

/// Counts a request's outcome in the limit zone's block at `base`.
#[inline]
pub fn count_limit(base: usize, outcome: Outcome) {
    if let Some(x) = words().get(base + B_REQUESTS + outcome as usize) {
        x.fetch_add(1, Ordering::Relaxed);
    }
}

/// A limit zone's outcomes: `[passed, delayed, rejected, delayed_dry_run, rejected_dry_run]`.
pub fn snapshot_limits(kind: Kind) -> Vec<(String, [u64; 5])> {
    let w = words();
    let mut out = Vec::new();
    for i in 0..MAX_BLOCKS {
        let base = BLOCKS_AT + i * BLOCK_WORDS;
        let k = w
            .get(base + B_KIND)
            .map_or(0, |x| x.load(Ordering::Acquire));
        if k == 0 {
            break;
        }
        if k == kind as u64 {
            let mut n = [0u64; 5];
            for (j, v) in n.iter_mut().enumerate() {
                *v = load(w, base + B_REQUESTS + j);
            }
            out.push((String::from_utf8_lossy(&name_of(w, base)).into_owned(), n));
        }
    }
    out
}

/// A block's numbers, copied out of the zone.
#[derive(Clone, Debug, Default)]
pub struct BlockStats {
    /// The zone's name.
    pub name: String,
    /// Requests ended.
    pub requests: u64,
    /// Responses by class: 1xx, 2xx, 3xx, 4xx, 5xx.
    pub responses: [u64; 5],
    /// Request bytes received.
    pub received: u64,
    /// Response bytes sent.
    pub sent: u64,
    /// Request time, summed (milliseconds).
    pub time_sum_ms: u64,
    /// Requests per histogram bucket (not cumulative; the last is over every bound).
    pub buckets: [u64; BUCKETS_MS.len() + 1],
}

fn load(w: &[AtomicU64], i: usize) -> u64 {
    w.get(i).map_or(0, |x| x.load(Ordering::Relaxed))
}

fn name_of(w: &[AtomicU64], base: usize) -> Vec<u8> {
    let len = (load(w, base + B_NAME_LEN) as usize).min(MAX_NAME);
    let mut bytes = Vec::with_capacity(len);
    for k in 0..len.div_ceil(8) {
        bytes.extend_from_slice(&load(w, base + B_NAME + k).to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

/// The block of (`kind`, `name`), assigned if new (the master, before forking; `None`
/// when the zone is missing or full).
pub fn assign(kind: Kind, name: &str) -> Option<usize> {
    let w = words();
    let name = name.as_bytes().get(..name.len().min(MAX_NAME))?;
    for i in 0..MAX_BLOCKS {
        let base = BLOCKS_AT + i * BLOCK_WORDS;
        let k = load(w, base + B_KIND);
        if k == kind as u64 && name_of(w, base) == name {
            return Some(base);
        }
        if k == 0 {
            for (j, chunk) in name.chunks(8).enumerate() {
                let mut word = [0u8; 8];
                word[..chunk.len()].copy_from_slice(chunk);
                w.get(base + B_NAME + j)?
                    .store(u64::from_le_bytes(word), Ordering::Relaxed);
            }
            w.get(base + B_NAME_LEN)?
                .store(name.len() as u64, Ordering::Relaxed);
            w.get(base + B_KIND)?.store(kind as u64, Ordering::Release);
            return Some(base);
        }
    }
    None
}

/// Counts one ended request into the block at `base` (the hot path: a few uncontended
/// or lightly contended atomic adds, no allocation).
#[inline]
pub fn count(base: usize, status: u16, received: u64, sent: u64, time_ms: u64) {
    let w = words();
    let add = |i: usize, v: u64| {
        if let Some(x) = w.get(base + i) {
            x.fetch_add(v, Ordering::Relaxed);
        }
    };
    add(B_REQUESTS, 1);
    if (100..600).contains(&status) {
        add(B_CLASSES + usize::from(status / 100 - 1), 1);
    }
    add(B_RECEIVED, received);
    add(B_SENT, sent);
    add(B_TIME_SUM_MS, time_ms);
    let bucket = BUCKETS_MS
        .iter()
        .position(|&b| time_ms <= b)
        .unwrap_or(BUCKETS_MS.len());
    add(B_BUCKETS + bucket, 1);
}

/// Copies every assigned block of `kind`, in assignment order.
pub fn snapshot(kind: Kind) -> Vec<BlockStats> {
    let w = words();
    let mut out = Vec::new();
    for i in 0..MAX_BLOCKS {
        let base = BLOCKS_AT + i * BLOCK_WORDS;
        let k = w
            .get(base + B_KIND)
            .map_or(0, |x| x.load(Ordering::Acquire));
        if k == 0 {
            break;
        }
        if k != kind as u64 {
            continue;
        }
        let mut b = BlockStats {
            name: String::from_utf8_lossy(&name_of(w, base)).into_owned(),
            requests: load(w, base + B_REQUESTS),
            received: load(w, base + B_RECEIVED),
            sent: load(w, base + B_SENT),
            time_sum_ms: load(w, base + B_TIME_SUM_MS),
            ..BlockStats::default()
        };
        for (c, slot) in b.responses.iter_mut().enumerate() {
            *slot = load(w, base + B_CLASSES + c);
        }
        for (c, slot) in b.buckets.iter_mut().enumerate() {
            *slot = load(w, base + B_BUCKETS + c);
        }
        out.push(b);
    }
    out
}
