//! The keys zone: nginx's `ngx_http_file_cache_node_t` per key in shared memory, so every
//! worker knows how often a key was asked for (`*_cache_min_uses`), whether its file exists,
//! until when it is valid, its size on disk, and whether a request is fetching it right now
//! (the cache lock and `*_cache_use_stale updating`), with an LRU of last use for the
//! manager and for eviction when the zone is full.
//!
//! The zone is a [`crate::shm::Table`] keyed by the key's MD5 (16 bytes, the file's name).
//! One more entry, under a key of another length, holds the cache's totals (its size on
//! disk, whether the loader finished): it is never evicted. Every function takes the zone's
//! lock once and does no system call while it holds it; files are removed after.
//!
//! Nothing is remembered across a release of the lock: each call finds its node again by
//! key, so a node removed meanwhile (eviction, the manager) is simply not found.

use std::io;
use std::rc::Rc;

use crate::shm::{Guard, Pod, Segment, Table};

/// The zone kind's tag (`ZoneKind::ProxyCache`).
// The totals entry's `uses` is the zone's generation counter (see [`Node::generation`]).
const KIND: u64 = 3;
/// The totals entry's key (any length but 16 is safe from MD5 keys). Its node's `fs_size`
/// is the cache's size, `valid_sec` whether the loader finished, `body_start` the watermark
/// (0: none set yet) and `uses` the generation counter.
const TOTALS: &[u8] = b"#cache-totals";
/// LRU entries looked at to make room for a new node (nginx's forced expire: 20).
const EVICT_TRIES: usize = 20;
/// How long a request that refreshes an expired entry keeps it marked as updating at most:
/// nginx keeps the mark until the fill ends (for ever when its worker died); a bound lets
/// another request update after a crash.
pub const UPDATING_BOUND_MS: u64 = 10 * 60 * 1000;

/// One key's state (nginx's `ngx_http_file_cache_node_t`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Node {
    /// Requests for the key since the node was made.
    pub uses: u64,
    /// Until when the stored response is fresh (unix seconds).
    pub valid_sec: i64,
    /// When the key stops being kept (last use + `inactive`, unix seconds).
    pub expire: i64,
    /// Until when the request fetching it holds the lock (monotonic milliseconds).
    pub lock_until: u64,
    /// The file's size on disk in bytes.
    pub fs_size: u64,
    /// Where the body starts in the file.
    pub body_start: u64,
    /// Whether the file exists.
    pub exists: u8,
    /// Whether a request is fetching the key (until `lock_until`).
    pub updating: u8,
    /// An upstream error status an `error_page` intercepted, cached until `valid_sec`
    /// without a file (nginx's `fcn->error`; 0: none).
    pub error: u16,
    /// The file's generation: a new number from the zone's counter when the node is made
    /// and whenever its file changes through the zone (a fill's commit, a revalidation, a
    /// removal), so a worker that remembered the file knows it is unchanged without a
    /// `statx` (nginx has no such number: it opens the file on every hit). In the room
    /// that was the node's padding, so the layout is unchanged.
    pub generation: u32,
}

// SAFETY: a `#[repr(C)]` struct of integers.
unsafe impl Pod for Node {}

/// The monotonic clock in milliseconds, the same in every process of the machine.
pub fn now_ms() -> u64 {
    // SAFETY: a plain `clock_gettime` into a stack value.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64) * 1000 + (ts.tv_nsec as u64) / 1_000_000
}

/// Lays the keys zone out in a freshly mapped segment (the master, before the fork).
pub fn format(seg: &Segment) -> io::Result<()> {
    let t = Table::<Node>::format(seg, KIND)?;
    let mut g = t.lock()?;
    g.insert(TOTALS, Node::default())
        .map(|_| ())
        .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))
}

/// The cache's totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Bytes on disk of the files the zone knows.
    pub size: u64,
    /// Whether the loader has indexed the directory (nginx's `cold` is its opposite).
    pub loaded: bool,
    /// Keys in the zone (nginx's `sh->count`).
    pub keys: u64,
    /// Once the zone ran out of room: the manager removes keys while there are this many
    /// or more (nginx's `sh->watermark`, 7/8 of the keys the zone held then).
    pub watermark: Option<u64>,
}

/// What [`Zone::forced_expire`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forced {
    /// It removed the least recently used key that no request is fetching.
    Removed,
    /// Every key it looked at is being fetched (nginx then waits 1 s).
    Busy,
    /// The zone has no key (nginx then waits 10 s).
    Empty,
}

/// What a request learns of its key before it looks at the file.
#[derive(Clone, Copy, Debug, Default)]
pub struct Probe {
    /// Requests for the key so far, this one included.
    pub uses: u64,
    /// Whether the zone knows the file exists.
    pub exists: bool,
    /// Whether the loader finished (a file the zone does not know may still be on disk
    /// until then); only asked for a key without a file (`true` for one with a file, whose
    /// hit has no use for it).
    pub loaded: bool,
    /// A cached intercepted error status, still valid: the request is finalized with it.
    pub error: Option<u16>,
    /// The node's [`Node::generation`].
    pub generation: u32,
}

/// A zone the master mapped for a cache.
pub struct Zone<'s> {
    table: Table<'s, Node>,
}

/// The zone has no room for another key, even after evicting one (nginx's "could not
/// allocate node").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoRoom;

/// Keys whose files must be removed (evicted under the lock; removed after it).
pub type Evicted = Vec<[u8; 16]>;

impl<'s> Zone<'s> {
    /// The keys zone in `seg`, if it was formatted as one.
    pub fn open(seg: &'s Segment) -> Option<Zone<'s>> {
        Table::open(seg, KIND).map(|table| Zone { table })
    }

    fn lock(&self) -> Option<Guard<'s, Node>> {
        let mut g = self.table.lock().ok()?;
        if g.recovered() && g.find(TOTALS).is_none() {
            // The zone was wiped after a dead lock owner: its totals start again, the
            // generation counter from the clock, so that a node made again does not take
            // a number a worker remembers for the wiped one.
            g.insert(
                TOTALS,
                Node {
                    uses: now_ms().wrapping_mul(1 << 12),
                    ..Node::default()
                },
            );
        }
        Some(g)
    }

    /// nginx's `ngx_http_file_cache_exists`: finds or makes the key's node, counts this use
    /// (unless `count` is false: a waiter's second look) and moves it to the LRU's head;
    /// `evicted` gets the keys removed to make room.
    pub fn exists(
        &self,
        key: &[u8; 16],
        now: i64,
        inactive: i64,
        count: bool,
        evicted: &mut Evicted,
    ) -> Result<Probe, NoRoom> {
        let mut g = self.lock().ok_or(NoRoom)?;
        let node = match g.find(key) {
            Some(n) => n,
            None => {
                let fresh = Node {
                    uses: 0,
                    generation: next_generation(&mut g),
                    ..Node::default()
                };
                match g.insert(key, fresh) {
                    Some(n) => n,
                    None => {
                        set_watermark(&mut g);
                        evict(&mut g, evicted);
                        g.insert(key, fresh).ok_or(NoRoom)?
                    }
                }
            }
        };
        g.touch(node);
        let v = g.value(node);
        // A node made for a waiter's second look still counts its request once.
        if count || v.uses == 0 {
            v.uses = v.uses.saturating_add(1);
        }
        v.expire = now.saturating_add(inactive);
        // A cached error answers until its time is over; then the node starts again
        // (nginx's `renew`).
        let mut error = None;
        if v.error != 0 {
            if v.valid_sec < now {
                v.error = 0;
                v.exists = 0;
                v.valid_sec = 0;
                v.body_start = 0;
            } else {
                error = Some(v.error);
            }
        }
        let probe = Probe {
            uses: v.uses,
            exists: v.exists != 0,
            loaded: true,
            error,
            generation: v.generation,
        };
        // The totals are looked up only for a key without a file (a hit needs not).
        Ok(if probe.exists {
            probe
        } else {
            Probe {
                loaded: totals_of(&mut g).loaded,
                ..probe
            }
        })
    }

    /// nginx's `ngx_http_file_cache_lock`: takes the key's lock unless another request
    /// holds it and its `lock_age` is not over. `Some(stamp)`: this request fetches.
    pub fn try_lock(&self, key: &[u8; 16], now_ms: u64, age_ms: u64) -> Option<u64> {
        let mut g = self.lock()?;
        let Some(node) = g.find(key) else {
            // Evicted meanwhile: nobody else can hold it.
            return Some(0);
        };
        let v = g.value(node);
        if v.updating != 0 && v.lock_until > now_ms {
            return None;
        }
        v.updating = 1;
        v.lock_until = now_ms + age_ms.max(1);
        Some(v.lock_until)
    }

    /// How long another request still holds the key's lock (`None`: it does not).
    pub fn held_for(&self, key: &[u8; 16], now_ms: u64) -> Option<u64> {
        let mut g = self.lock()?;
        let node = g.find(key)?;
        let v = g.value(node);
        (v.updating != 0 && v.lock_until > now_ms).then(|| v.lock_until - now_ms)
    }

    /// A fresh file was found on disk: the node learns what the loader would have told it.
    pub fn found(&self, key: &[u8; 16], valid_sec: i64, body_start: u64, fs_size: u64) {
        let Some(mut g) = self.lock() else {
            return;
        };
        let Some(node) = g.find(key) else {
            return;
        };
        let v = g.value(node);
        let was = if v.exists != 0 { v.fs_size } else { 0 };
        v.exists = 1;
        v.valid_sec = valid_sec;
        v.body_start = body_start;
        v.fs_size = fs_size;
        add_size(&mut g, was, fs_size);
    }

    /// The file is gone (removed as damaged or idle): the node forgets it.
    pub fn gone(&self, key: &[u8; 16]) {
        let Some(mut g) = self.lock() else {
            return;
        };
        if let Some(node) = g.find(key) {
            let generation = next_generation(&mut g);
            let v = g.value(node);
            let was = if v.exists != 0 { v.fs_size } else { 0 };
            v.exists = 0;
            v.fs_size = 0;
            v.generation = generation;
            add_size(&mut g, was, 0);
        }
    }

    /// The cache's totals.
    pub fn totals(&self) -> Totals {
        match self.lock() {
            Some(mut g) => totals_of(&mut g),
            None => Totals::default(),
        }
    }

    /// Marks the loader's work done (or not, for a zone a reload keeps: it stays loaded).
    pub fn set_loaded(&self) {
        if let Some(mut g) = self.lock()
            && let Some(t) = g.find(TOTALS)
        {
            g.value(t).valid_sec = 1;
        }
    }

    /// The loader met a file: its node is made (or refreshed) as existing, unused.
    /// `false` when the zone is full.
    pub fn index(&self, key: &[u8; 16], n: Node) -> bool {
        let Some(mut g) = self.lock() else {
            return false;
        };
        if let Some(node) = g.find(key) {
            let generation = next_generation(&mut g);
            let v = g.value(node);
            if v.exists == 0 {
                v.generation = generation;
                v.exists = 1;
                v.fs_size = n.fs_size;
                v.valid_sec = n.valid_sec;
                v.body_start = n.body_start;
                v.expire = v.expire.max(n.expire);
                add_size(&mut g, 0, n.fs_size);
            }
            return true;
        }
        let n = Node {
            generation: next_generation(&mut g),
            ..n
        };
        if g.insert(key, n).is_none() {
            set_watermark(&mut g);
            return false;
        }
        add_size(&mut g, 0, n.fs_size);
        true
    }

    /// The manager's pass over the LRU's tail (nginx's `ngx_http_file_cache_expire`):
    /// removes up to `files` nodes whose `inactive` is over, never one being fetched. `out`
    /// gets the keys whose files must go.
    pub fn expire(&self, now: i64, files: usize, out: &mut Evicted) -> Pass {
        let Some(mut g) = self.lock() else {
            return Pass::Done(None);
        };
        let mut node = g.oldest();
        let mut looked = 0;
        while let Some(n) = node {
            if looked >= files {
                return Pass::Stopped;
            }
            looked += 1;
            let newer = g.newer(n);
            let Ok(key) = <[u8; 16]>::try_from(g.key(n)) else {
                node = newer;
                continue;
            };
            let v = *g.value(n);
            if v.updating != 0 {
                node = newer;
                continue;
            }
            if v.expire > now {
                // The tail is the least recently used: nothing newer has expired.
                return Pass::Done(Some(v.expire - now));
            }
            if v.exists != 0 {
                add_size(&mut g, v.fs_size, 0);
                out.push(key);
            }
            g.remove(n);
            node = newer;
        }
        Pass::Done(None)
    }

    /// nginx's `ngx_http_file_cache_forced_expire`, for the manager while the cache is
    /// above `max_size`, the disk below `min_free` or the zone at its watermark: removes
    /// the least recently used key that no request is fetching; `out` gets it when it had
    /// a file.
    pub fn forced_expire(&self, out: &mut Evicted) -> Forced {
        match self.lock() {
            Some(mut g) => evict(&mut g, out),
            None => Forced::Busy,
        }
    }
}

/// How a manager's pass over the keys zone ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// It looked at as many keys as it was allowed: there may be more to do.
    Stopped,
    /// Nothing more to remove; `Some(s)`: the least recently used key's `inactive` ends in
    /// `s` seconds (`None`: no key left that could go).
    Done(Option<i64>),
}

fn totals_of(g: &mut Guard<'_, Node>) -> Totals {
    match g.find(TOTALS) {
        Some(t) => {
            let v = g.value(t);
            let (size, loaded, watermark) = (v.fs_size, v.valid_sec != 0, v.body_start);
            Totals {
                size,
                loaded,
                keys: keys_in(g),
                watermark: (watermark != 0).then_some(watermark),
            }
        }
        None => Totals::default(),
    }
}

/// The next number of the zone's generation counter (the totals entry's `uses`).
fn next_generation(g: &mut Guard<'_, Node>) -> u32 {
    match g.find(TOTALS) {
        Some(t) => {
            let v = g.value(t);
            v.uses = v.uses.wrapping_add(1);
            v.uses as u32
        }
        None => 0,
    }
}

fn add_size(g: &mut Guard<'_, Node>, was: u64, now: u64) {
    if let Some(t) = g.find(TOTALS) {
        let v = g.value(t);
        v.fs_size = v.fs_size.saturating_sub(was).saturating_add(now);
    }
}

/// Keys in the zone, the totals entry left out.
fn keys_in(g: &Guard<'_, Node>) -> u64 {
    (g.len() as u64).saturating_sub(1)
}

/// nginx's `ngx_http_file_cache_set_watermark`: the zone just ran out of room with
/// `count` keys; the manager will remove keys until fewer than 7/8 of them are left.
fn set_watermark(g: &mut Guard<'_, Node>) {
    let count = keys_in(g);
    if let Some(t) = g.find(TOTALS) {
        g.value(t).body_start = count - count / 8;
    }
}

/// nginx's `ngx_http_file_cache_forced_expire`: the least recently used node that no
/// request is fetching, among the last [`EVICT_TRIES`], goes.
fn evict(g: &mut Guard<'_, Node>, evicted: &mut Evicted) -> Forced {
    let mut node = g.oldest();
    let mut keys = 0;
    for _ in 0..EVICT_TRIES {
        let Some(n) = node else {
            break;
        };
        let newer = g.newer(n);
        if let Ok(key) = <[u8; 16]>::try_from(g.key(n)) {
            keys += 1;
            let v = *g.value(n);
            if v.updating == 0 {
                if v.exists != 0 {
                    add_size(g, v.fs_size, 0);
                    evicted.push(key);
                }
                g.remove(n);
                return Forced::Removed;
            }
        }
        node = newer;
    }
    match keys {
        0 => Forced::Empty,
        _ => Forced::Busy,
    }
}

/// A request's claim on its key while it may fill the entry: it releases the lock (and
/// forgets a node that never got a file, as `ngx_http_file_cache_free`) when dropped,
/// unless [`Ticket::filled`] recorded the new file first.
pub struct Ticket {
    seg: Rc<Segment>,
    key: [u8; 16],
    /// The lock's deadline this request set (`None`: it holds no lock).
    stamp: Option<u64>,
    min_uses: u64,
    done: bool,
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticket")
            .field("stamp", &self.stamp)
            .finish_non_exhaustive()
    }
}

impl Ticket {
    /// A claim on `key` in the zone `seg` (`stamp`: the lock this request took).
    pub fn new(seg: Rc<Segment>, key: [u8; 16], stamp: Option<u64>, min_uses: u64) -> Ticket {
        Ticket {
            seg,
            key,
            stamp,
            min_uses,
            done: false,
        }
    }

    /// Whether this request holds the key's lock (it fetches for the others).
    pub fn locked(&self) -> bool {
        self.stamp.is_some()
    }

    /// The entry's file was renamed into place: nginx's `ngx_http_file_cache_update`.
    pub fn filled(mut self, valid_sec: i64, body_start: u64, fs_size: u64) {
        self.done = true;
        let Some(zone) = Zone::open(&self.seg) else {
            return;
        };
        let Some(mut g) = zone.lock() else {
            return;
        };
        let Some(node) = g.find(&self.key) else {
            // Evicted while it was fetched: it is known again.
            drop(g);
            zone.index(
                &self.key,
                Node {
                    uses: 1,
                    valid_sec,
                    body_start,
                    fs_size,
                    exists: 1,
                    ..Node::default()
                },
            );
            return;
        };
        let generation = next_generation(&mut g);
        let v = g.value(node);
        let was = if v.exists != 0 { v.fs_size } else { 0 };
        v.generation = generation;
        v.exists = 1;
        v.valid_sec = valid_sec;
        v.body_start = body_start;
        v.fs_size = fs_size;
        v.updating = 0;
        // A stored response replaces a cached error (nginx's ticket #827).
        v.error = 0;
        add_size(&mut g, was, fs_size);
    }

    /// The upstream's error `status` was intercepted for an `error_page`: the node keeps
    /// it, valid until `valid_sec`, without a file (nginx's `ngx_http_file_cache_free`
    /// with `c->error`); the lock goes.
    pub fn errored(mut self, status: u16, valid_sec: i64) {
        self.done = true;
        self.release(|g, node| {
            let generation = next_generation(g);
            let v = g.value(node);
            v.error = status;
            v.valid_sec = valid_sec;
            v.generation = generation;
        });
    }

    /// Under the zone's lock: lets go of the key's lock if this request holds it, then
    /// hands the key's node to `then` (nothing when the zone or the node is gone).
    fn release(&self, then: impl FnOnce(&mut Guard<'_, Node>, crate::shm::Node)) {
        let Some(zone) = Zone::open(&self.seg) else {
            return;
        };
        let Some(mut g) = zone.lock() else {
            return;
        };
        let Some(node) = g.find(&self.key) else {
            return;
        };
        let v = g.value(node);
        if self.stamp.is_some_and(|s| s == v.lock_until) {
            v.updating = 0;
        }
        then(&mut g, node);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let min_uses = self.min_uses;
        self.release(|g, node| {
            let v = g.value(node);
            if v.exists == 0 && v.updating == 0 && min_uses <= 1 {
                g.remove(node);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone_seg(size: usize) -> Segment {
        let seg = Segment::map(size).unwrap();
        format(&seg).unwrap();
        seg
    }

    #[test]
    fn uses_are_counted_and_the_lock_is_held_once() {
        let seg = Rc::new(zone_seg(1 << 20));
        let z = Zone::open(&seg).unwrap();
        let k = [7u8; 16];
        let mut ev = Vec::new();
        assert_eq!(z.exists(&k, 100, 600, true, &mut ev).unwrap().uses, 1);
        assert_eq!(z.exists(&k, 100, 600, true, &mut ev).unwrap().uses, 2);
        let stamp = z.try_lock(&k, 1000, 5000).unwrap();
        assert!(z.try_lock(&k, 1001, 5000).is_none());
        assert_eq!(z.held_for(&k, 2000), Some(4000));
        // The lock's age over: another may take it.
        assert!(z.try_lock(&k, 7000, 5000).is_some());
        let t = Ticket::new(Rc::clone(&seg), k, Some(stamp), 1);
        drop(t);
        // Not its stamp any more: the newer holder keeps the lock.
        assert!(z.held_for(&k, 7001).is_some());
        let t = Ticket::new(Rc::clone(&seg), k, Some(12000), 1);
        let before = z.exists(&k, 100, 600, true, &mut ev).unwrap().generation;
        t.filled(200, 300, 4096);
        assert!(z.held_for(&k, 7002).is_none());
        let probe = z.exists(&k, 100, 600, true, &mut ev).unwrap();
        assert!(probe.exists);
        // A commit is a new generation; a use is not.
        assert_ne!(probe.generation, before);
        let g = probe.generation;
        assert_eq!(z.exists(&k, 100, 600, true, &mut ev).unwrap().generation, g);
        z.found(&k, 200, 300, 4096);
        assert_eq!(z.exists(&k, 100, 600, true, &mut ev).unwrap().generation, g);
        assert_eq!(z.totals().size, 4096);
        z.gone(&k);
        assert_ne!(z.exists(&k, 100, 600, true, &mut ev).unwrap().generation, g);
    }

    #[test]
    fn a_dropped_ticket_forgets_a_key_without_file() {
        let seg = Rc::new(zone_seg(1 << 20));
        let z = Zone::open(&seg).unwrap();
        let k = [1u8; 16];
        let mut ev = Vec::new();
        z.exists(&k, 0, 600, true, &mut ev).unwrap();
        let stamp = z.try_lock(&k, 10, 5000);
        drop(Ticket::new(Rc::clone(&seg), k, stamp, 1));
        assert_eq!(z.exists(&k, 0, 600, true, &mut ev).unwrap().uses, 1);
        // min_uses 2: the count is kept.
        drop(Ticket::new(Rc::clone(&seg), k, None, 2));
        assert_eq!(z.exists(&k, 0, 600, true, &mut ev).unwrap().uses, 2);
    }

    #[test]
    fn a_full_zone_evicts_its_least_recently_used_key() {
        let seg = zone_seg(2 * 4096 + 64 * 1024);
        let z = Zone::open(&seg).unwrap();
        let mut ev = Vec::new();
        let mut made = 0u32;
        while ev.is_empty() && made < 100_000 {
            let mut k = [0u8; 16];
            k[..4].copy_from_slice(&made.to_le_bytes());
            let s = z.try_lock(&k, 0, 0);
            assert!(s.is_some());
            z.exists(&k, 0, 600, true, &mut ev).unwrap();
            z.found(&k, 10, 100, 512);
            made += 1;
        }
        assert!(made > 10 && made < 100_000);
        let mut first = [0u8; 16];
        first[..4].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(ev, vec![first]);
    }

    #[test]
    fn the_manager_removes_idle_keys_from_the_tail() {
        let seg = zone_seg(1 << 20);
        let z = Zone::open(&seg).unwrap();
        let mut ev = Vec::new();
        for i in 0..5u8 {
            z.exists(&[i; 16], i64::from(i), 10, true, &mut ev).unwrap();
            z.found(&[i; 16], 100, 10, 1000);
        }
        let mut out = Vec::new();
        // Keys 0..=2 expire at 10..=12.
        // Key 3 is the next to expire, at 13.
        assert_eq!(z.expire(12, 100, &mut out), Pass::Done(Some(1)));
        assert_eq!(out, vec![[0; 16], [1; 16], [2; 16]]);
        assert_eq!(z.totals().size, 2000);
        out.clear();
        assert_eq!(z.forced_expire(&mut out), Forced::Removed);
        assert_eq!(out, vec![[3; 16]]);
        out.clear();
        assert_eq!(z.expire(0, 0, &mut out), Pass::Stopped);
        assert_eq!(z.expire(100, 100, &mut out), Pass::Done(None));
        assert_eq!(out, vec![[4; 16]]);
        assert_eq!(z.forced_expire(&mut out), Forced::Empty);
    }

    #[test]
    fn a_full_zone_sets_the_watermark_at_seven_eighths() {
        let seg = zone_seg(2 * 4096 + 64 * 1024);
        let z = Zone::open(&seg).unwrap();
        assert_eq!(z.totals().watermark, None);
        let mut ev = Vec::new();
        let mut made = 0u32;
        while z.totals().watermark.is_none() && made < 100_000 {
            let mut k = [0u8; 16];
            k[..4].copy_from_slice(&made.to_le_bytes());
            z.exists(&k, 0, 600, true, &mut ev).unwrap();
            made += 1;
        }
        // One key went to make room for the last: the zone held `made - 1` keys then.
        let t = z.totals();
        let full = u64::from(made - 1);
        assert_eq!(t.keys, full);
        assert_eq!(t.watermark, Some(full - full / 8));
        // A key being fetched is passed over.
        let mut oldest = [0u8; 16];
        oldest[..4].copy_from_slice(&1u32.to_le_bytes());
        z.try_lock(&oldest, 0, 60_000).unwrap();
        assert_eq!(z.forced_expire(&mut ev), Forced::Removed);
        assert_eq!(z.totals().keys, full - 1);
        assert!(z.held_for(&oldest, 1).is_some());
    }
}
