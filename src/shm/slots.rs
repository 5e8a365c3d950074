//! A fixed array of plain records in a segment, for state whose shape the configuration
//! fixes (an upstream zone's peers: one record per server, in configuration order): no
//! index and no allocator, record `i` is at a known offset.
//!
//! Records are read and written under the segment's robust lock ([`SlotsGuard`]); a lock
//! taken over from a dead owner zeroes every record first (all-zero is each user's fresh
//! state), as [`super::Table`] wipes its entries.

use std::io;
use std::marker::PhantomData;

use super::segment::{HEADER_SPACE, LockState, Segment};
use super::table::Pod;

/// Written in the array's header once formatted.
const SLOTS_MAGIC: u64 = 0x736c_6f74_7376_3031; // "slotsv01"

#[repr(C)]
struct SlotsHeader {
    magic: u64,
    kind: u64,
    record_size: u64,
    count: u64,
}

/// Offset of record 0 (64-byte aligned, after the segment and array headers).
const RECORDS_OFF: usize = (HEADER_SPACE + std::mem::size_of::<SlotsHeader>()).div_ceil(64) * 64;

/// A typed view of a segment formatted as an array of `T`.
pub struct Slots<'s, T: Pod> {
    seg: &'s Segment,
    _t: PhantomData<T>,
}

/// The lock held on an array; unlocks when dropped.
pub struct SlotsGuard<'s, T: Pod> {
    slots: Slots<'s, T>,
    state: LockState,
}

impl<'s, T: Pod> Slots<'s, T> {
    /// The bytes a segment needs for `count` records.
    pub fn space(count: usize) -> usize {
        RECORDS_OFF + count * std::mem::size_of::<T>()
    }

    /// Lays out `count` zeroed records of `kind` in a freshly mapped segment (the master,
    /// before the fork). Fails when they do not fit.
    pub fn format(seg: &'s Segment, kind: u64, count: usize) -> io::Result<Slots<'s, T>> {
        if Self::space(count) > seg.size() {
            return Err(io::Error::from_raw_os_error(libc::ENOMEM));
        }
        let s = Slots {
            seg,
            _t: PhantomData,
        };
        // SAFETY: header and records lie inside the segment (checked above), which is not
        // shared with another process yet.
        unsafe {
            std::ptr::write(
                s.header(),
                SlotsHeader {
                    magic: SLOTS_MAGIC,
                    kind,
                    record_size: std::mem::size_of::<T>() as u64,
                    count: count as u64,
                },
            );
        }
        s.zero();
        Ok(s)
    }

    /// The array of `kind` in `seg`, if it was formatted for `T`.
    pub fn open(seg: &'s Segment, kind: u64) -> Option<Slots<'s, T>> {
        if seg.size() < RECORDS_OFF {
            return None;
        }
        let s = Slots {
            seg,
            _t: PhantomData,
        };
        // SAFETY: the header lies inside the segment (checked above); read-only here.
        let ok = unsafe {
            let h = &*s.header();
            h.magic == SLOTS_MAGIC
                && h.kind == kind
                && h.record_size == std::mem::size_of::<T>() as u64
                && Self::space(h.count as usize) <= seg.size()
        };
        ok.then_some(s)
    }

    /// How many records the array has.
    pub fn count(&self) -> usize {
        // SAFETY: a formatted array's header; `count` is never written after `format`.
        unsafe { (*self.header()).count as usize }
    }

    /// Takes the segment's lock. A lock whose owner died is recovered: the records are
    /// zeroed first and [`SlotsGuard::recovered`] says so.
    pub fn lock(&self) -> io::Result<SlotsGuard<'s, T>> {
        let state = self.seg.lock()?;
        let slots = Slots {
            seg: self.seg,
            _t: PhantomData,
        };
        if state == LockState::Recovered {
            slots.zero();
            self.seg.bump_generation();
        }
        Ok(SlotsGuard { slots, state })
    }

    /// The 64-bit word `word` of record `index`, for a compare-and-swap without the lock
    /// (an upstream zone's prober lease); `None` outside the array or when `T` is not made
    /// of 64-bit words.
    pub fn word(&self, index: usize, word: usize) -> Option<&'s std::sync::atomic::AtomicU64> {
        let size = std::mem::size_of::<T>();
        if !size.is_multiple_of(8) || index >= self.count() || (word + 1) * 8 > size {
            return None;
        }
        // SAFETY: inside the records (checked above and by `format`/`open`), 8-aligned
        // (record 0 is 64-aligned and records are a multiple of 8 bytes); the mapping
        // lives as long as the segment; every process touches this word only atomically
        // (the lock's wipe after a dead owner aside, which only ends a lease).
        unsafe {
            let p = self.seg.base().add(RECORDS_OFF + index * size + word * 8);
            Some(std::sync::atomic::AtomicU64::from_ptr(p.cast()))
        }
    }

    fn header(&self) -> *mut SlotsHeader {
        // SAFETY: HEADER_SPACE is inside every segment that passed `format`/`open`.
        unsafe { self.seg.base().add(HEADER_SPACE).cast() }
    }

    fn zero(&self) {
        // SAFETY: the records' range was checked by `format`/`open`; the caller holds the
        // lock or the segment is not shared yet.
        unsafe {
            std::ptr::write_bytes(
                self.seg.base().add(RECORDS_OFF),
                0,
                self.count() * std::mem::size_of::<T>(),
            );
        }
    }
}

impl<T: Pod> SlotsGuard<'_, T> {
    /// Whether this lock was taken over from a dead owner (the records were zeroed).
    pub fn recovered(&self) -> bool {
        self.state == LockState::Recovered
    }

    /// The records, for reading and writing while the lock is held.
    pub fn records(&mut self) -> &mut [T] {
        let count = self.slots.count();
        // SAFETY: the lock is held and the guard borrowed mutably, so no one else reads or
        // writes the records; `T` is valid for every bit pattern (`Pod`); the range and
        // the 64-byte alignment of record 0 were checked by `format`/`open`.
        unsafe {
            std::slice::from_raw_parts_mut(self.slots.seg.base().add(RECORDS_OFF).cast(), count)
        }
    }
}

impl<T: Pod> Drop for SlotsGuard<'_, T> {
    fn drop(&mut self) {
        self.slots.seg.unlock();
    }
}
