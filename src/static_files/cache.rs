//! A worker's cache of open static files: descriptors, stat results and, for small files,
//! their bytes. Always on, with two policies:
//!
//! - **Default (no `open_file_cache`).** nginx opens, stats and closes a file for every
//!   request. Portico keeps hot files open instead but checks every use with one `statx` of
//!   the path against what it cached (device, inode, mode, size, mtime and ctime to the
//!   nanosecond): a hit costs that one call instead of open + fstat + close, and a file
//!   that was written, renamed over, removed or chmod'ed is never served stale. Errors are
//!   not cached. Nothing observable differs from nginx.
//! - **`open_file_cache max=N [inactive=T]`.** nginx's semantics: an entry is trusted for
//!   `open_file_cache_valid` (60s) before the path is checked again, a descriptor is kept
//!   once a path was used `open_file_cache_min_uses` times, and errors are remembered with
//!   `open_file_cache_errors on`.
//!
//! Small files also keep their bytes, so their response is one write of head and body.
//! Bytes are kept only once the file's ctime is [`RACY_WINDOW`] in the past: a write in the
//! same clock tick as our read could leave every timestamp unchanged (the "racy clean"
//! problem git solves the same way), while a write after a settled ctime must move it. A
//! file changed more recently is sent from its descriptor, which always reads current bytes.
//!
//! Files up to [`GZIP_FILE_MAX`] bytes also keep their gzip, made once per level from their
//! bytes ([`FileCache::gzipped`]) under the same rule (a settled ctime, one `statx` per
//! use), so a compressed static response costs what a plain one does: nginx compresses the
//! file again for every request.
//!
//! Entries unused for `inactive` are closed by [`FileCache::sweep`] (the worker calls it
//! about once a second) or when room is needed; a full cache drops the least recently used.

use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{Entry, StaticFile, open_error, open_file};
use crate::config::LocSettings;
use crate::config::loc_values::DEFAULT_OPEN_FILE_CACHE_INACTIVE;
use crate::sys::{self, FileStamp};

/// Open files a worker keeps without `open_file_cache` (nginx's own cache is per worker too).
pub const DEFAULT_MAX_ENTRIES: usize = 1024;
/// Files up to this size keep their bytes.
pub const SMALL_FILE: u64 = 16 * 1024;
/// Bytes of small files one worker keeps at most.
pub const CONTENT_BUDGET: usize = 8 * 1024 * 1024;
/// A file whose ctime is more recent than this is not copied into memory.
pub const RACY_WINDOW: Duration = Duration::from_secs(2);
/// Files up to this size keep their gzip (at the level last asked for).
pub const GZIP_FILE_MAX: u64 = 1024 * 1024;
/// Bytes of gzipped copies one worker keeps at most.
pub const GZIP_BUDGET: usize = 8 * 1024 * 1024;

/// How the cache treats one location's files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Most entries.
    pub max: usize,
    /// Unused entries older than this are dropped.
    pub inactive: Duration,
    /// How long a check of a path holds (zero: every use checks).
    pub valid: Duration,
    /// Uses before a descriptor is kept.
    pub min_uses: u64,
    /// Whether lookup errors are remembered.
    pub errors: bool,
    /// Bytes are kept only of files whose ctime is older than this.
    pub racy_window: Duration,
}

impl Policy {
    /// Portico's default: keep files open, check every use.
    pub const STRICT: Policy = Policy {
        max: DEFAULT_MAX_ENTRIES,
        inactive: DEFAULT_OPEN_FILE_CACHE_INACTIVE,
        valid: Duration::ZERO,
        min_uses: 1,
        errors: false,
        racy_window: RACY_WINDOW,
    };

    /// The policy of `loc`: nginx's `open_file_cache` settings when configured.
    pub fn of(loc: &LocSettings) -> Policy {
        match &loc.open_file_cache {
            Some(conf) => Policy {
                max: conf.max.max(1),
                inactive: conf.inactive,
                valid: loc.open_file_cache_valid,
                min_uses: loc.open_file_cache_min_uses,
                errors: loc.open_file_cache_errors,
                racy_window: RACY_WINDOW,
            },
            None => Policy::STRICT,
        }
    }
}

/// `now.saturating_duration_since(since) >= span`, by an addition and a comparison (a
/// subtraction of `Instant`s normalises a `Duration`: twice the instructions, per hit).
fn at_least(now: Instant, since: Instant, span: Duration) -> bool {
    span.is_zero() || since.checked_add(span).is_some_and(|end| now >= end)
}

/// The cache of one worker.
#[derive(Debug, Default)]
pub struct FileCache {
    entries: HashMap<Box<[u8]>, Cached, crate::fast_hash::FastState>,
    /// Bytes held in `Kind::File::content`, bounded by [`CONTENT_BUDGET`].
    content_bytes: usize,
    /// Bytes held in `Kind::File::gzipped`, bounded by [`GZIP_BUDGET`].
    gzip_bytes: usize,
}

#[derive(Debug)]
struct Cached {
    what: Kind,
    /// When the entry was last checked against the file system.
    checked: Instant,
    /// When it was last used.
    used: Instant,
    /// Uses while cached.
    uses: u64,
    /// Unused entries older than this are dropped (the policy's, when cached).
    inactive: Duration,
}

#[derive(Debug)]
enum Kind {
    /// A regular file; `file` is `None` until `min_uses` is reached.
    File {
        file: Option<Rc<std::fs::File>>,
        stamp: FileStamp,
        content: Option<Rc<[u8]>>,
        /// Its gzip at a level.
        gzipped: Option<(u8, Rc<[u8]>)>,
    },
    Directory(FileStamp),
    Error(u16, Option<String>),
}

impl FileCache {
    /// Number of cached paths.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Opens `path` through the cache.
    pub fn open(&mut self, policy: &Policy, loc: &LocSettings, path: &[u8], now: Instant) -> Entry {
        if let Some(entry) = self.hit(policy, path, now) {
            return entry;
        }
        let uses = self.entries.get(path).map_or(1, |c| c.uses);
        self.remove(path);
        let (entry, what) = match open_file(path, loc) {
            Ok((file, stamp)) => {
                let file = Rc::new(file);
                let entry = super::describe(file.clone(), &stamp, path);
                let what = match &entry {
                    Entry::File(_) => Some(Kind::File {
                        file: (uses >= policy.min_uses).then_some(file),
                        stamp,
                        content: None,
                        gzipped: None,
                    }),
                    Entry::Directory => Some(Kind::Directory(stamp)),
                    Entry::Error(s, m) if policy.errors => Some(Kind::Error(*s, m.clone())),
                    Entry::Error(..) => None,
                };
                (entry, what)
            }
            Err(e) => {
                let entry = open_error(loc, path, &e);
                let what = match &entry {
                    Entry::Error(s, m) if policy.errors => Some(Kind::Error(*s, m.clone())),
                    _ => None,
                };
                (entry, what)
            }
        };
        if let Some(what) = what {
            self.insert(policy, path, what, uses, now);
        }
        entry
    }

    /// The gzip at `level` of the file that `path` was just opened as (by [`FileCache::open`]
    /// for this request), kept with its entry: made once by `compress` from the file's
    /// bytes, for a file of at most [`GZIP_FILE_MAX`] bytes whose last change has settled
    /// (its bytes are read whole for it, or taken from the entry). `None`: no such copy
    /// (the caller compresses on the way).
    pub fn gzipped(
        &mut self,
        policy: &Policy,
        path: &[u8],
        level: u8,
        compress: &mut dyn FnMut(&[u8]) -> Option<Vec<u8>>,
    ) -> Option<Rc<[u8]>> {
        let c = self.entries.get_mut(path)?;
        let Kind::File {
            file: Some(file),
            stamp,
            content,
            gzipped,
        } = &mut c.what
        else {
            return None;
        };
        if let Some((l, bytes)) = gzipped.as_ref()
            && *l == level
        {
            return Some(bytes.clone());
        }
        if stamp.size > GZIP_FILE_MAX || !settled(stamp, policy.racy_window) {
            return None;
        }
        let plain = match content {
            Some(bytes) => bytes.clone(),
            None => read_all(file, stamp.size)?,
        };
        let made: Rc<[u8]> = compress(&plain)?.into();
        let old = gzipped.take().map_or(0, |(_, b)| b.len());
        self.gzip_bytes -= old;
        if self.gzip_bytes + made.len() > GZIP_BUDGET {
            // Too much kept already: this response has it, the next makes it again.
            return Some(made);
        }
        self.gzip_bytes += made.len();
        *gzipped = Some((level, made.clone()));
        Some(made)
    }

    /// Closes entries unused for their `inactive` time.
    pub fn sweep(&mut self, now: Instant) {
        let (mut freed, mut freed_gzip) = (0, 0);
        self.entries.retain(|_, c| {
            let keep = now.saturating_duration_since(c.used) < c.inactive;
            if !keep {
                freed += content_len(&c.what);
                freed_gzip += gzip_len(&c.what);
            }
            keep
        });
        self.content_bytes -= freed;
        self.gzip_bytes -= freed_gzip;
    }

    /// A usable cached answer for `path`, checked against the file system once it is older
    /// than the policy's `valid`.
    fn hit(&mut self, policy: &Policy, path: &[u8], now: Instant) -> Option<Entry> {
        let c = self.entries.get_mut(path)?;
        if at_least(now, c.used, c.inactive) {
            return None;
        }
        if at_least(now, c.checked, policy.valid) {
            if !still_same(&c.what, path) {
                return None;
            }
            c.checked = now;
        }
        c.used = now;
        c.uses += 1;
        match &mut c.what {
            Kind::File {
                file: Some(file),
                stamp,
                content,
                ..
            } => {
                if content.is_none()
                    && stamp.size <= SMALL_FILE
                    && self.content_bytes + stamp.size as usize <= CONTENT_BUDGET
                    && settled(stamp, policy.racy_window)
                    && let Some(bytes) = read_all(file, stamp.size)
                {
                    self.content_bytes += bytes.len();
                    *content = Some(bytes);
                }
                Some(Entry::File(StaticFile {
                    file: file.clone(),
                    size: stamp.size,
                    mtime: stamp.mtime.0,
                    content: content.clone(),
                }))
            }
            // Not used often enough yet to keep a descriptor: open again.
            Kind::File { file: None, .. } => None,
            Kind::Directory(_) => Some(Entry::Directory),
            Kind::Error(status, msg) => Some(Entry::Error(*status, msg.clone())),
        }
    }

    fn insert(&mut self, policy: &Policy, path: &[u8], what: Kind, uses: u64, now: Instant) {
        if self.entries.len() >= policy.max {
            self.sweep(now);
            if self.entries.len() >= policy.max
                && let Some(oldest) = self
                    .entries
                    .iter()
                    .min_by_key(|(_, c)| c.used)
                    .map(|(k, _)| k.clone())
            {
                self.remove(&oldest);
            }
        }
        self.entries.insert(
            path.into(),
            Cached {
                what,
                checked: now,
                used: now,
                uses,
                inactive: policy.inactive,
            },
        );
    }

    fn remove(&mut self, path: &[u8]) {
        if let Some(c) = self.entries.remove(path) {
            self.content_bytes -= content_len(&c.what);
            self.gzip_bytes -= gzip_len(&c.what);
        }
    }
}

fn gzip_len(what: &Kind) -> usize {
    match what {
        Kind::File {
            gzipped: Some((_, g)),
            ..
        } => g.len(),
        _ => 0,
    }
}

fn content_len(what: &Kind) -> usize {
    match what {
        Kind::File {
            content: Some(c), ..
        } => c.len(),
        _ => 0,
    }
}

/// Revalidation: does `path` still lead to what the entry describes?
fn still_same(what: &Kind, path: &[u8]) -> bool {
    match (what, sys::stat_path(path)) {
        (Kind::File { stamp, .. } | Kind::Directory(stamp), Ok(now)) => now == *stamp,
        (Kind::Error(..), Err(_)) => true,
        _ => false,
    }
}

/// Whether the file's last change is old enough that a later write must move its ctime
/// (every write and chmod sets ctime to the current, coarse, clock; mtime can be set back
/// by anyone, ctime cannot).
fn settled(stamp: &FileStamp, window: Duration) -> bool {
    let Ok(now) = SystemTime::now().duration_since(UNIX_EPOCH) else {
        return false;
    };
    let (secs, nanos) = stamp.ctime;
    let Ok(secs) = u64::try_from(secs) else {
        return false;
    };
    now > Duration::new(secs, nanos) + window
}

/// Reads exactly `size` bytes from the start of `file`.
fn read_all(file: &std::fs::File, size: u64) -> Option<Rc<[u8]>> {
    let mut buf = vec![0u8; size as usize];
    let mut got = 0;
    while got < buf.len() {
        match sys::pread(file.as_raw_fd(), &mut buf[got..], got as u64) {
            Ok(0) => return None,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(buf.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Path, PathBuf};

    /// The tests cannot back-date ctime: they shrink the racy window and sleep past it
    /// where a file must count as settled.
    const WINDOW: Duration = Duration::from_millis(30);

    fn strict() -> Policy {
        Policy {
            racy_window: WINDOW,
            ..Policy::STRICT
        }
    }

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("portico-fc-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    }

    fn settle() {
        std::thread::sleep(WINDOW * 2);
    }

    /// The bytes a request would send, and whether they came from memory.
    fn fetch(c: &mut FileCache, policy: &Policy, p: &Path, now: Instant) -> (Vec<u8>, bool) {
        let loc = crate::config::LocRaw::default().finish();
        match c.open(policy, &loc, p.as_os_str().as_bytes(), now) {
            Entry::File(f) => match f.content {
                Some(bytes) => (bytes.to_vec(), true),
                None => {
                    let mut v = vec![0; f.size as usize];
                    let n = sys::pread(f.file.as_raw_fd(), &mut v, 0).expect("pread");
                    v.truncate(n);
                    (v, false)
                }
            },
            other => panic!("not a file: {other:?}"),
        }
    }

    #[test]
    fn hits_come_from_memory_and_a_rewrite_is_seen_at_once() {
        let d = dir("rewrite");
        let p = d.join("a.html");
        std::fs::write(&p, b"one").expect("write");
        settle();
        let mut c = FileCache::default();
        let now = Instant::now();
        assert_eq!(fetch(&mut c, &strict(), &p, now), (b"one".to_vec(), false));
        assert_eq!(fetch(&mut c, &strict(), &p, now), (b"one".to_vec(), true));
        // Rewritten with the same size: ctime and mtime move, the next use sees it.
        std::fs::write(&p, b"two").expect("write");
        assert_eq!(fetch(&mut c, &strict(), &p, now), (b"two".to_vec(), false));
        // Just written: served from the descriptor until it settles.
        assert_eq!(fetch(&mut c, &strict(), &p, now), (b"two".to_vec(), false));
        settle();
        assert_eq!(fetch(&mut c, &strict(), &p, now), (b"two".to_vec(), true));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn a_rename_over_the_path_is_seen_and_a_removal_is_not_cached() {
        let d = dir("rename");
        let p = d.join("a.html");
        std::fs::write(&p, b"old").expect("write");
        let mut c = FileCache::default();
        let now = Instant::now();
        assert_eq!(fetch(&mut c, &strict(), &p, now).0, b"old");
        let tmp = d.join("a.tmp");
        std::fs::write(&tmp, b"new").expect("write");
        std::fs::rename(&tmp, &p).expect("rename");
        assert_eq!(fetch(&mut c, &strict(), &p, now).0, b"new");
        std::fs::remove_file(&p).expect("rm");
        let loc = crate::config::LocRaw::default().finish();
        let got = c.open(&strict(), &loc, p.as_os_str().as_bytes(), now);
        assert!(matches!(got, Entry::Error(404, _)), "{got:?}");
        assert!(c.is_empty(), "errors are not cached by default");
    }

    #[test]
    fn with_open_file_cache_valid_a_change_waits_for_the_period() {
        let d = dir("valid");
        let p = d.join("a.html");
        std::fs::write(&p, b"one").expect("write");
        let policy = Policy {
            valid: Duration::from_secs(60),
            ..strict()
        };
        let mut c = FileCache::default();
        let now = Instant::now();
        assert_eq!(fetch(&mut c, &policy, &p, now).0, b"one");
        std::fs::write(&p, b"twotwo").expect("write");
        let size = |c: &mut FileCache, at| {
            let loc = crate::config::LocRaw::default().finish();
            match c.open(&policy, &loc, p.as_os_str().as_bytes(), at) {
                Entry::File(f) => f.size,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            size(&mut c, now + Duration::from_secs(1)),
            3,
            "nginx's semantics"
        );
        assert_eq!(size(&mut c, now + Duration::from_secs(61)), 6);
    }

    #[test]
    fn bounded_by_max_and_swept_when_inactive() {
        let d = dir("bounds");
        let policy = Policy { max: 3, ..strict() };
        let mut c = FileCache::default();
        let start = Instant::now();
        for i in 0..5u64 {
            let p = d.join(format!("{i}.txt"));
            std::fs::write(&p, b"x").expect("write");
            let _ = fetch(&mut c, &policy, &p, start + Duration::from_secs(i));
            assert!(c.len() <= 3);
        }
        c.sweep(start + Duration::from_secs(4) + policy.inactive);
        assert!(c.is_empty());
        assert_eq!(c.content_bytes, 0);
    }

    #[test]
    fn directories_are_checked_too() {
        let d = dir("dirs");
        let sub = d.join("sub");
        std::fs::create_dir(&sub).expect("mkdir");
        let mut c = FileCache::default();
        let loc = crate::config::LocRaw::default().finish();
        let now = Instant::now();
        let path = sub.as_os_str().as_bytes();
        assert!(matches!(
            c.open(&strict(), &loc, path, now),
            Entry::Directory
        ));
        std::fs::remove_dir(&sub).expect("rmdir");
        std::fs::write(&sub, b"now a file").expect("write");
        assert!(matches!(c.open(&strict(), &loc, path, now), Entry::File(_)));
    }
}
