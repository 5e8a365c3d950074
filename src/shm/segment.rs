//! A shared-memory segment: an anonymous `MAP_SHARED` mapping made by the master before it
//! forks, so every worker sees the same bytes at the same address, and the robust,
//! process-shared mutex at its start that guards everything in it.
//!
//! The lock is a `pthread_mutex_t` with `PTHREAD_PROCESS_SHARED` and `PTHREAD_MUTEX_ROBUST`:
//! when a worker dies holding it (`kill -9` in the middle of an update), the kernel releases
//! it on the process's exit (the robust futex list), and the next process to lock it is told
//! so with `EOWNERDEAD`. That process cannot know how far the dead one got, so the zone's
//! contents are wiped ([`super::Table::wipe`]) before the lock is marked consistent: the
//! counts start again from zero, as in a fresh zone, and nobody waits on a dead owner.
//!
//! All of the crate's shared-memory `unsafe` is in this module and in [`super::table`].

use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

/// Written at the start of an initialised segment.
const MAGIC: u64 = 0x706f_7274_6963_6f5a; // "porticoZ"

/// The start of every segment.
#[repr(C)]
pub(super) struct SegmentHeader {
    magic: u64,
    /// The mapping's length in bytes.
    pub size: u64,
    /// Bumped each time the contents are wiped after a dead lock owner; a worker that holds
    /// a reference into the table (a `limit_conn` count) compares it before using it.
    pub generation: AtomicU64,
    mutex: libc::pthread_mutex_t,
}

/// One mapped zone. Dropping it unmaps this process's view (other processes keep theirs).
pub struct Segment {
    base: NonNull<u8>,
    size: usize,
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment").field("size", &self.size).finish()
    }
}

/// How a lock was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockState {
    /// The usual case.
    Clean,
    /// The previous owner died holding it: the contents were wiped.
    Recovered,
}

impl Segment {
    /// Maps `size` bytes of zeroed shared memory and initialises the header and its lock.
    pub fn map(size: usize) -> io::Result<Segment> {
        if size < std::mem::size_of::<SegmentHeader>() {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        // SAFETY: an anonymous mapping with no address hint; the result is checked.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let Some(base) = NonNull::new(p.cast::<u8>()) else {
            return Err(io::Error::from_raw_os_error(libc::ENOMEM));
        };
        let seg = Segment { base, size };
        seg.init_lock()?;
        let h = seg.header_ptr();
        // SAFETY: the mapping is at least a header long, page-aligned, and not yet shared.
        unsafe {
            (*h).magic = MAGIC;
            (*h).size = size as u64;
        }
        Ok(seg)
    }

    fn init_lock(&self) -> io::Result<()> {
        let h = self.header_ptr();
        // SAFETY: `attr` lives on the stack for the calls; the mutex lies inside the mapping.
        unsafe {
            let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
            let mut rc = libc::pthread_mutexattr_init(&mut attr);
            if rc == 0 {
                rc = libc::pthread_mutexattr_setpshared(&mut attr, libc::PTHREAD_PROCESS_SHARED);
            }
            if rc == 0 {
                rc = libc::pthread_mutexattr_setrobust(&mut attr, libc::PTHREAD_MUTEX_ROBUST);
            }
            if rc == 0 {
                rc = libc::pthread_mutex_init(std::ptr::addr_of_mut!((*h).mutex), &attr);
            }
            libc::pthread_mutexattr_destroy(&mut attr);
            if rc != 0 {
                return Err(io::Error::from_raw_os_error(rc));
            }
        }
        Ok(())
    }

    /// The mapping's length.
    pub fn size(&self) -> usize {
        self.size
    }

    pub(super) fn base(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    pub(super) fn header_ptr(&self) -> *mut SegmentHeader {
        self.base.as_ptr().cast()
    }

    /// The wipe counter (see [`SegmentHeader::generation`]).
    pub fn generation(&self) -> u64 {
        // SAFETY: the header is initialised by `map` and the field is atomic.
        unsafe { (*self.header_ptr()).generation.load(Ordering::Acquire) }
    }

    pub(super) fn bump_generation(&self) {
        // SAFETY: as above.
        unsafe {
            (*self.header_ptr())
                .generation
                .fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Takes the zone's lock; `Err` only when the lock is unusable (`ENOTRECOVERABLE`, which
    /// [`super::Table`] never lets happen, since it marks a recovered lock consistent).
    pub(super) fn lock(&self) -> io::Result<LockState> {
        let h = self.header_ptr();
        // SAFETY: the mutex was initialised by `map`, in memory every process maps.
        let rc = unsafe { libc::pthread_mutex_lock(std::ptr::addr_of_mut!((*h).mutex)) };
        match rc {
            0 => Ok(LockState::Clean),
            libc::EOWNERDEAD => Ok(LockState::Recovered),
            e => Err(io::Error::from_raw_os_error(e)),
        }
    }

    /// Marks a lock taken with [`LockState::Recovered`] usable again (after the wipe).
    pub(super) fn make_consistent(&self) {
        let h = self.header_ptr();
        // SAFETY: called by the owner of a recovered lock.
        unsafe {
            libc::pthread_mutex_consistent(std::ptr::addr_of_mut!((*h).mutex));
        }
    }

    pub(super) fn unlock(&self) {
        let h = self.header_ptr();
        // SAFETY: called by the owner, once per successful `lock`.
        unsafe {
            libc::pthread_mutex_unlock(std::ptr::addr_of_mut!((*h).mutex));
        }
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        // SAFETY: the mapping was made by `map` with this length and is not used after drop.
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), self.size);
        }
    }
}

/// Size of the segment header, rounded up so what follows is 64-byte aligned.
pub(super) const HEADER_SPACE: usize = std::mem::size_of::<SegmentHeader>().div_ceil(64) * 64;

impl Segment {
    /// The segment after its header as 64-bit atomic words, for counters every process
    /// updates without the lock (a status zone): all-zero memory is a valid `AtomicU64`,
    /// and the words start 64-byte aligned.
    pub fn words(&self) -> &[AtomicU64] {
        let count = self.size.saturating_sub(HEADER_SPACE) / 8;
        // SAFETY: the range lies inside the mapping, which lives as long as `self`; atomics
        // make concurrent access from other processes sound; HEADER_SPACE keeps alignment.
        unsafe { std::slice::from_raw_parts(self.base.as_ptr().add(HEADER_SPACE).cast(), count) }
    }
}
