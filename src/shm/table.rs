//! What lives inside a zone: a fixed-size allocator, a hash index of variable-length keys
//! and an LRU list, all addressed by offsets from the segment's start (a worker may map the
//! segment at another address than the master... it does not, since it inherits the
//! mapping, but offsets keep the layout independent of it and easy to check).
//!
//! The allocator is nginx's slab idea made small: the zone is cut into 4 KiB pages; a page
//! serves one power-of-two size class (32 B to 2 KiB) and its free chunks sit on that class's
//! doubly linked free list; a page whose chunks are all free goes back to the page pool;
//! larger blocks take a run of whole pages. Each entry is one block: a header (hash, chain
//! link, LRU links, key length), the module's fixed-size value `V`, then the key's bytes.
//! The index is a power-of-two array of bucket heads with chaining, keyed by the key's bytes
//! (compared in full) under a per-zone random seed, so clients cannot aim at one chain.
//!
//! Everything is read and written under the zone's lock ([`Guard`]), held for a lookup and an
//! update: no system call, no allocation of the process's own while it is held.

use std::hash::{BuildHasher, Hasher};
use std::io;
use std::marker::PhantomData;

use super::segment::{HEADER_SPACE, LockState, Segment};

mod alloc;

/// Page size of the allocator.
pub const PAGE: usize = 4096;
/// Smallest block (two free-list links must fit).
const MIN_CLASS_SHIFT: u32 = 5;
/// Largest block served from a shared page; bigger ones take whole pages.
const MAX_CLASS_SHIFT: u32 = 11;
const CLASSES: usize = (MAX_CLASS_SHIFT - MIN_CLASS_SHIFT + 1) as usize;
/// Page states in [`PageMeta::class`].
const PAGE_FREE: u8 = 0;
const PAGE_RUN_HEAD: u8 = 0xfe;
const PAGE_RUN_TAIL: u8 = 0xff;
/// Written in the table header once formatted.
const TABLE_MAGIC: u64 = 0x7461_626c_6576_3031; // "tablev01"

/// A value kept in shared memory: plain old data, valid for every bit pattern (all zero
/// included), no pointers.
///
/// # Safety
/// Implement only for `#[repr(C)]` structs of integers.
pub unsafe trait Pod: Copy + 'static {}

/// The zone's bookkeeping, right after the segment header.
#[repr(C)]
struct TableHeader {
    magic: u64,
    /// Which module's table this is (its value layout).
    kind: u64,
    seed: u64,
    value_size: u64,
    pages: u64,
    meta_off: u64,
    pages_off: u64,
    buckets_off: u64,
    bucket_mask: u64,
    class_free: [u64; CLASSES],
    free_page_hint: u64,
    lru_head: u64,
    lru_tail: u64,
    entries: u64,
}

/// One page's state.
#[repr(C)]
#[derive(Clone, Copy)]
struct PageMeta {
    class: u8,
    _pad: u8,
    used: u16,
    run: u32,
}

/// An entry's header; the value follows at [`VALUE_OFF`], the key after it.
#[repr(C)]
struct NodeHead {
    hash: u64,
    chain: u64,
    prev: u64,
    next: u64,
    key_len: u64,
}

const VALUE_OFF: usize = std::mem::size_of::<NodeHead>();

/// A free block's links.
#[repr(C)]
struct FreeLinks {
    next: u64,
    prev: u64,
}

/// An entry, as the offset of its block (valid while the lock that found it is held, or,
/// outside the lock, while [`Segment::generation`] has not moved and the owner keeps it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Node(u64);

impl Node {
    /// The raw offset (to remember an entry across a lock, with the generation).
    pub fn offset(self) -> u64 {
        self.0
    }
    /// An entry remembered by [`Node::offset`].
    pub fn from_offset(off: u64) -> Node {
        Node(off)
    }
}

/// An entry remembered across a release of the lock: it still names the entry only while
/// the zone was not wiped in between (a dead lock owner), which [`Guard::recall`] checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Remembered {
    node: Node,
    generation: u64,
}

/// A typed view of a formatted segment.
pub struct Table<'s, V: Pod> {
    seg: &'s Segment,
    _v: PhantomData<V>,
}

/// The lock held on a table; unlocks when dropped.
pub struct Guard<'s, V: Pod> {
    t: Table<'s, V>,
    state: LockState,
}

fn value_space<V>() -> usize {
    std::mem::size_of::<V>().div_ceil(8) * 8
}

impl<'s, V: Pod> Table<'s, V> {
    /// Lays out an empty table of `kind` in a freshly mapped segment (the master, before the
    /// fork). Fails when the segment cannot hold a header, the index and one page.
    pub fn format(seg: &'s Segment, kind: u64) -> io::Result<Table<'s, V>> {
        let size = seg.size();
        let th_end = HEADER_SPACE + std::mem::size_of::<TableHeader>();
        let buckets = (size / 256).max(64).next_power_of_two();
        let buckets_off = th_end.div_ceil(8) * 8;
        let meta_off = buckets_off + buckets * 8;
        // Pages start on a page boundary; each also costs a PageMeta.
        let meta_size = std::mem::size_of::<PageMeta>();
        let mut pages = size.saturating_sub(meta_off) / (PAGE + meta_size);
        let mut pages_off = (meta_off + pages * meta_size).div_ceil(PAGE) * PAGE;
        while pages > 0 && pages_off + pages * PAGE > size {
            pages -= 1;
            pages_off = (meta_off + pages * meta_size).div_ceil(PAGE) * PAGE;
        }
        if pages == 0 {
            return Err(io::Error::from_raw_os_error(libc::ENOMEM));
        }
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let t = Table {
            seg,
            _v: PhantomData,
        };
        // SAFETY: the header lies inside the segment (checked by the layout above) and the
        // segment is not shared with any other process yet.
        unsafe {
            let th = t.th();
            std::ptr::write(
                th,
                TableHeader {
                    magic: TABLE_MAGIC,
                    kind,
                    seed,
                    value_size: value_space::<V>() as u64,
                    pages: pages as u64,
                    meta_off: meta_off as u64,
                    pages_off: pages_off as u64,
                    buckets_off: buckets_off as u64,
                    bucket_mask: (buckets - 1) as u64,
                    class_free: [0; CLASSES],
                    free_page_hint: 0,
                    lru_head: 0,
                    lru_tail: 0,
                    entries: 0,
                },
            );
        }
        t.clear();
        Ok(t)
    }

    /// The table of `kind` in `seg`, if it was formatted for it.
    pub fn open(seg: &'s Segment, kind: u64) -> Option<Table<'s, V>> {
        let t = Table {
            seg,
            _v: PhantomData,
        };
        if seg.size() < HEADER_SPACE + std::mem::size_of::<TableHeader>() {
            return None;
        }
        // SAFETY: the header lies inside the segment (checked above); read-only here.
        let ok = unsafe {
            let th = &*t.th();
            th.magic == TABLE_MAGIC && th.kind == kind && th.value_size == value_space::<V>() as u64
        };
        ok.then_some(t)
    }

    /// Pages the allocator manages (what the zone can hold).
    pub fn pages(&self) -> usize {
        // SAFETY: a formatted table's header.
        unsafe { (*self.th()).pages as usize }
    }

    /// Takes the zone's lock. A lock whose owner died is recovered: the table is wiped first
    /// and [`Guard::recovered`] says so.
    pub fn lock(&self) -> io::Result<Guard<'s, V>> {
        let state = self.seg.lock()?;
        let t = Table {
            seg: self.seg,
            _v: PhantomData,
        };
        if state == LockState::Recovered {
            t.clear();
            self.seg.bump_generation();
        }
        Ok(Guard { t, state })
    }

    fn th(&self) -> *mut TableHeader {
        // SAFETY: HEADER_SPACE is inside every segment that passed `format`/`open`.
        unsafe { self.seg.base().add(HEADER_SPACE).cast() }
    }

    /// Empties the index, the LRU list and the allocator (the caller holds the lock, or the
    /// segment is not shared yet).
    fn clear(&self) {
        // SAFETY: every range written is inside the layout computed by `format`.
        unsafe {
            let th = &mut *self.th();
            let buckets = (th.bucket_mask + 1) as usize;
            std::ptr::write_bytes(self.seg.base().add(th.buckets_off as usize), 0, buckets * 8);
            std::ptr::write_bytes(
                self.seg.base().add(th.meta_off as usize),
                0,
                th.pages as usize * std::mem::size_of::<PageMeta>(),
            );
            th.class_free = [0; CLASSES];
            th.free_page_hint = 0;
            th.lru_head = 0;
            th.lru_tail = 0;
            th.entries = 0;
        }
    }
}

impl<V: Pod> Drop for Guard<'_, V> {
    fn drop(&mut self) {
        self.t.seg.unlock();
    }
}

impl<V: Pod> Guard<'_, V> {
    /// Whether this lock was taken over from a dead owner (the table was wiped).
    pub fn recovered(&self) -> bool {
        self.state == LockState::Recovered
    }

    fn th(&self) -> &TableHeader {
        // SAFETY: the lock is held, so no other process writes the header.
        unsafe { &*self.t.th() }
    }

    fn th_mut(&mut self) -> &mut TableHeader {
        // SAFETY: the lock is held and the guard is borrowed mutably.
        unsafe { &mut *self.t.th() }
    }

    fn at<T>(&self, off: u64) -> *mut T {
        debug_assert!(off as usize + std::mem::size_of::<T>() <= self.t.seg.size());
        // SAFETY: offsets come from this table's own allocator, inside the segment.
        unsafe { self.t.seg.base().add(off as usize).cast() }
    }

    fn hash(&self, key: &[u8]) -> u64 {
        keyed_hash(self.th().seed, key)
    }

    fn key_of(&self, node: u64) -> &[u8] {
        let head: *mut NodeHead = self.at(node);
        let value_size = self.th().value_size as usize;
        // SAFETY: the key was written right after the value by `insert`.
        unsafe {
            let len = (*head).key_len as usize;
            std::slice::from_raw_parts(self.at::<u8>(node + (VALUE_OFF + value_size) as u64), len)
        }
    }

    fn bucket(&self, hash: u64) -> *mut u64 {
        let th = self.th();
        self.at(th.buckets_off + (hash & th.bucket_mask) * 8)
    }

    /// Remembers `node` for after the lock is released.
    pub fn remember(&self, node: Node) -> Remembered {
        Remembered {
            node,
            generation: self.t.seg.generation(),
        }
    }

    /// The entry remembered by [`Guard::remember`], unless the zone was wiped since (its
    /// offset may then hold anything).
    pub fn recall(&self, r: Remembered) -> Option<Node> {
        (!self.recovered() && self.t.seg.generation() == r.generation).then_some(r.node)
    }

    /// Entries in the table.
    pub fn len(&self) -> usize {
        self.th().entries as usize
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entry for `key` (inlined: it is most of a `limit_req` check).
    #[inline(always)]
    pub fn find(&self, key: &[u8]) -> Option<Node> {
        let hash = self.hash(key);
        // SAFETY: bucket and chain offsets were written by `insert`/`remove` under the lock.
        let mut off = unsafe { *self.bucket(hash) };
        let mut guard = self.len() + 1;
        while off != 0 && guard > 0 {
            guard -= 1;
            let head: *mut NodeHead = self.at(off);
            // SAFETY: `off` is a live entry of this table.
            let (h, next) = unsafe { ((*head).hash, (*head).chain) };
            if h == hash && same_key(self.key_of(off), key) {
                return Some(Node(off));
            }
            off = next;
        }
        None
    }

    /// The value of an entry.
    pub fn value(&mut self, node: Node) -> &mut V {
        // SAFETY: the value was written by `insert`; the guard is borrowed mutably for as
        // long as the reference lives, so it is the only one.
        unsafe { &mut *self.at::<V>(node.0 + VALUE_OFF as u64) }
    }

    /// Adds an entry (most recently used); `None` when the zone has no room for it.
    pub fn insert(&mut self, key: &[u8], value: V) -> Option<Node> {
        let value_size = self.th().value_size as usize;
        let off = self.alloc(VALUE_OFF + value_size + key.len())?;
        let hash = self.hash(key);
        let bucket = self.bucket(hash);
        // SAFETY: `off` is a fresh block of the size asked for.
        unsafe {
            std::ptr::write(
                self.at::<NodeHead>(off),
                NodeHead {
                    hash,
                    chain: *bucket,
                    prev: 0,
                    next: 0,
                    key_len: key.len() as u64,
                },
            );
            std::ptr::write(self.at::<V>(off + VALUE_OFF as u64), value);
            std::ptr::copy_nonoverlapping(
                key.as_ptr(),
                self.at::<u8>(off + (VALUE_OFF + value_size) as u64),
                key.len(),
            );
            *bucket = off;
        }
        self.lru_push_front(off);
        self.th_mut().entries += 1;
        Some(Node(off))
    }

    /// Removes an entry and frees its block.
    pub fn remove(&mut self, node: Node) {
        let off = node.0;
        let head: *mut NodeHead = self.at(off);
        // SAFETY: `off` is a live entry; the chain is walked under the lock.
        unsafe {
            let mut link = self.bucket((*head).hash);
            while *link != 0 && *link != off {
                link = std::ptr::addr_of_mut!((*self.at::<NodeHead>(*link)).chain);
            }
            if *link == off {
                *link = (*head).chain;
            }
        }
        self.lru_unlink(off);
        self.th_mut().entries = self.th().entries.saturating_sub(1);
        self.free(off);
    }

    /// Makes an entry the most recently used.
    pub fn touch(&mut self, node: Node) {
        if self.th().lru_head != node.0 {
            self.lru_unlink(node.0);
            self.lru_push_front(node.0);
        }
    }

    /// The key of an entry.
    pub fn key(&self, node: Node) -> &[u8] {
        self.key_of(node.0)
    }

    /// The entry used just after `node` (towards the most recently used), for a walk from
    /// [`Guard::oldest`].
    pub fn newer(&self, node: Node) -> Option<Node> {
        // SAFETY: `node` is a live entry of this table.
        let prev = unsafe { (*self.at::<NodeHead>(node.0)).prev };
        (prev != 0).then_some(Node(prev))
    }

    /// The least recently used entry.
    pub fn oldest(&self) -> Option<Node> {
        let tail = self.th().lru_tail;
        (tail != 0).then_some(Node(tail))
    }

    fn lru_push_front(&mut self, off: u64) {
        let old = self.th().lru_head;
        // SAFETY: live entries.
        unsafe {
            let head = self.at::<NodeHead>(off);
            (*head).prev = 0;
            (*head).next = old;
            if old != 0 {
                (*self.at::<NodeHead>(old)).prev = off;
            }
        }
        let th = self.th_mut();
        th.lru_head = off;
        if th.lru_tail == 0 {
            th.lru_tail = off;
        }
    }

    fn lru_unlink(&mut self, off: u64) {
        // SAFETY: live entries.
        let (prev, next) = unsafe {
            let head = self.at::<NodeHead>(off);
            ((*head).prev, (*head).next)
        };
        // SAFETY: as above.
        unsafe {
            if prev != 0 {
                (*self.at::<NodeHead>(prev)).next = next;
            } else {
                self.th_mut().lru_head = next;
            }
            if next != 0 {
                (*self.at::<NodeHead>(next)).prev = prev;
            } else {
                self.th_mut().lru_tail = prev;
            }
        }
    }
}

/// Whether two keys are equal, without a `memcmp` call for the lengths
/// `$binary_remote_addr` has (4 and 16 bytes).
#[inline]
fn same_key(a: &[u8], b: &[u8]) -> bool {
    if let (Ok(x), Ok(y)) = (<&[u8; 16]>::try_from(a), <&[u8; 16]>::try_from(b)) {
        return x == y;
    }
    if let (Ok(x), Ok(y)) = (<&[u8; 4]>::try_from(a), <&[u8; 4]>::try_from(b)) {
        return x == y;
    }
    a == b
}

/// The chain hash of a key under the zone's random seed: a folded 64×64→128-bit multiply
/// per 8 bytes (the construction of foldhash and ahash's fallback), about a tenth of
/// SipHash's cost on the short keys zones hold (`$binary_remote_addr` is 4 or 16 bytes),
/// and like it unpredictable without the seed, so clients cannot aim at one chain.
#[inline]
fn keyed_hash(seed: u64, key: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    fn fold(a: u64, b: u64) -> u64 {
        let p = u128::from(a) * u128::from(b);
        (p as u64) ^ ((p >> 64) as u64)
    }
    let inner = seed.rotate_left(32) ^ K;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(K);
    let mut words = key.chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        h = fold(h ^ u64::from_le_bytes(b), inner);
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        // The remainder as a little-endian word, zero-padded (an IPv4 key: one 4-byte load).
        let (mut v, mut shift, mut tail) = (0u64, 0u32, rest);
        if let Some((four, after)) = rest.split_first_chunk::<4>() {
            v = u64::from(u32::from_le_bytes(*four));
            (shift, tail) = (32, after);
        }
        for &b in tail {
            v |= u64::from(b) << shift;
            shift += 8;
        }
        h = fold(h ^ v, inner);
    }
    fold(h, K ^ seed)
}

#[cfg(test)]
mod tests;
