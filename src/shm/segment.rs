//! A shared-memory segment: an anonymous `MAP_SHARED` mapping made by the master before it
//! forks, so every worker sees the same bytes at the same address, and the process-shared
//! lock at its start that guards everything in it.
//!
//! The lock is one 32-bit word, a futex: 0 when free, else the owner's process id (with a
//! "waiters" bit once another process sleeps on it). Taking a free lock is one
//! compare-and-swap and releasing it one swap, with a `futex(2)` call only when someone
//! waits — nginx's `ngx_shmtx_t` idea (the lock holds the owner's pid), at a tenth of a
//! robust `pthread_mutex_t`'s instructions. When a worker dies holding it (`kill -9` in the
//! middle of an update), a waiter notices: it sleeps at most [`OWNER_CHECK_MS`] at a time,
//! and after each such sleep asks the kernel whether the owner still exists (`kill(pid, 0)`);
//! once it does not, the waiter takes the lock over with a compare-and-swap (one waiter
//! wins) and is told so ([`LockState::Recovered`]). That process cannot know how far the
//! dead one got, so the zone's contents are wiped ([`super::Table::lock`]): the counts start
//! again from zero, as in a fresh zone, and nobody waits on a dead owner for long.
//!
//! All of the crate's shared-memory `unsafe` is in this module and in [`super::table`].

use std::io;
use std::ptr::NonNull;
use std::sync::Once;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

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
    /// The lock word (see the module's comment).
    lock: AtomicU32,
}

/// Set in the lock word while a process sleeps waiting for it (the owner's release wakes one).
const WAITERS: u32 = 1 << 31;
/// The owner the master writes into the word of a worker it reaped while that worker held
/// the lock (no process id reaches it: Linux's `pid_max` is at most 2^22).
const DEAD_OWNER: u32 = 1 << 30;
/// Spins on a taken lock before sleeping: critical sections are a few hundred instructions.
const SPINS: u32 = 100;
/// The longest a waiter sleeps before it checks that the owner still lives.
const OWNER_CHECK_MS: i64 = 10;

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
        // The zeroed mapping is a free lock and generation 0.
        let seg = Segment { base, size };
        let h = seg.header_ptr();
        // SAFETY: the mapping is at least a header long, page-aligned, and not yet shared.
        unsafe {
            (*h).magic = MAGIC;
            (*h).size = size as u64;
        }
        Ok(seg)
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

    fn lock_word(&self) -> &AtomicU32 {
        // SAFETY: the header is initialised by `map` (all zero: a free lock) and the field
        // is atomic, so every process may use it at once.
        unsafe { &(*self.header_ptr()).lock }
    }

    /// Takes the zone's lock. `Recovered` when it was taken over from an owner that died
    /// holding it: the caller wipes what the lock guards before using it. Never `Err` today
    /// (the `Result` is the callers' one way to skip a zone they cannot lock).
    pub(super) fn lock(&self) -> io::Result<LockState> {
        let word = self.lock_word();
        let me = own_pid();
        if word
            .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return Ok(LockState::Clean);
        }
        Ok(lock_contended(word, me))
    }

    /// Called by the master for each process it reaps: when that process died holding the
    /// lock, the word says so ([`DEAD_OWNER`]) and a sleeping waiter is woken, so the next
    /// process to lock takes it over as [`LockState::Recovered`] at once. The master does
    /// this before the dead process's id can be given to another process (a pid is free
    /// only once reaped), so a reused pid never passes for a live owner; the waiters' own
    /// check of the owner (`kill(pid, 0)`) remains for zones the master no longer maps.
    /// True when the lock was the dead process's.
    pub fn release_dead_owner(&self, pid: u32) -> bool {
        let word = self.lock_word();
        let mut cur = word.load(Ordering::Relaxed);
        while cur & !WAITERS == pid && pid != 0 {
            match word.compare_exchange(
                cur,
                DEAD_OWNER | (cur & WAITERS),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    if cur & WAITERS != 0 {
                        futex_wake_one(word);
                    }
                    return true;
                }
                Err(now) => cur = now,
            }
        }
        false
    }

    /// Releases the lock taken by [`Segment::lock`], waking one waiter if any sleeps.
    pub(super) fn unlock(&self) {
        let word = self.lock_word();
        if word.swap(0, Ordering::Release) & WAITERS != 0 {
            futex_wake_one(word);
        }
    }
}

/// The slow path of [`Segment::lock`]: spin a little, then sleep on the word, checking after
/// each timed-out sleep whether the owner still exists; a lock the master marked as a dead
/// process's ([`Segment::release_dead_owner`]) is taken over at once.
#[cold]
fn lock_contended(word: &AtomicU32, me: u32) -> LockState {
    for _ in 0..SPINS {
        std::hint::spin_loop();
        let cur = word.load(Ordering::Relaxed);
        if cur == 0
            && word
                .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        {
            return LockState::Clean;
        }
        if cur & WAITERS != 0 || cur == DEAD_OWNER {
            break;
        }
    }
    loop {
        let cur = word.load(Ordering::Relaxed);
        if cur & !WAITERS == DEAD_OWNER {
            // The master reaped the owner while it held the lock.
            if word
                .compare_exchange(
                    cur,
                    me | (cur & WAITERS),
                    Ordering::Acquire,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                return LockState::Recovered;
            }
            continue;
        }
        if cur == 0 {
            // Others may sleep too: keep the bit so our release wakes the next one.
            if word
                .compare_exchange(0, me | WAITERS, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return LockState::Clean;
            }
            continue;
        }
        let waited = cur | WAITERS;
        if cur != waited
            && word
                .compare_exchange(cur, waited, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            continue;
        }
        if futex_wait(word, waited, OWNER_CHECK_MS)
            && !process_exists(waited & !WAITERS)
            && word
                .compare_exchange(waited, me | WAITERS, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        {
            return LockState::Recovered;
        }
    }
}

/// Sleeps while `word` holds `value`, at most `timeout_ms`; true when the time ran out.
fn futex_wait(word: &AtomicU32, value: u32, timeout_ms: i64) -> bool {
    let ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: timeout_ms * 1_000_000,
    };
    // SAFETY: FUTEX_WAIT on an aligned u32 inside a mapping every process keeps for the
    // call's duration; `ts` lives on the stack for the call. A shared (not PRIVATE) futex,
    // since the waiters are other processes.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            value,
            &ts as *const libc::timespec,
            std::ptr::null::<u32>(),
            0,
        )
    };
    rc == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::ETIMEDOUT)
}

fn futex_wake_one(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE on an aligned u32 of the shared mapping; no memory is written.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, 1);
    }
}

/// Whether process `pid` still exists (a zombie not yet reaped still does: its lock is
/// taken over once its parent reaps it).
fn process_exists(pid: u32) -> bool {
    // SAFETY: signal 0 sends nothing, it only checks that the process exists.
    let rc = unsafe { libc::kill(pid as libc::pid_t, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// This process's id, as the lock word records its owner: read once, and forgotten in a
/// child of `fork`, whose id differs (`pthread_atfork`), so the lock path makes no system call.
static OWN_PID: AtomicU32 = AtomicU32::new(0);

fn own_pid() -> u32 {
    match OWN_PID.load(Ordering::Relaxed) {
        0 => cache_own_pid(),
        pid => pid,
    }
}

#[cold]
fn cache_own_pid() -> u32 {
    static AT_FORK: Once = Once::new();
    AT_FORK.call_once(|| {
        // SAFETY: registers a handler that only stores to an atomic, safe in a forked child.
        unsafe {
            libc::pthread_atfork(None, None, Some(forget_own_pid));
        }
    });
    let pid = std::process::id();
    OWN_PID.store(pid, Ordering::Relaxed);
    pid
}

extern "C" fn forget_own_pid() {
    OWN_PID.store(0, Ordering::Relaxed);
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
