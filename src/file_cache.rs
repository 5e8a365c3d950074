//! A worker's cache of open static files: descriptors, stat results and, for small files,
//! their bytes.
//!
//! nginx opens, stats and closes a file for every request unless `open_file_cache` is set,
//! and then it may serve a file up to `open_file_cache_valid` (60 s) after it changed.
//! Portico always keeps hot files open but checks each request with one `statx` of the path
//! (`valid` = 0): a hit costs that one call instead of open + fstat + close, and a file that
//! was written, replaced by a rename, removed or chmod'ed is never served stale (its inode,
//! size, mtime or ctime moved). With `open_file_cache` configured, `valid` takes its
//! `open_file_cache_valid` and the cache behaves like nginx's.
//!
//! Small files also keep their bytes, so the response is one `writev` of head and body.
//! Bytes are kept only once the file's timestamps are a safe distance in the past: a write
//! in the same clock tick as our read would leave mtime unchanged (the "racy clean" problem
//! git solves the same way), so a file modified less than [`RACY_WINDOW`] ago is sent from
//! its descriptor, which always reads the current bytes.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::sys::{self, FileStamp};

/// Files up to this size keep their bytes in the cache.
pub const SMALL_FILE: u64 = 16 * 1024;
/// Bytes of small files one worker keeps at most.
pub const CONTENT_BUDGET: usize = 8 * 1024 * 1024;
/// Open files one worker keeps by default (nginx's `open_file_cache max=` is per worker too).
pub const DEFAULT_MAX_ENTRIES: usize = 1024;
/// Entries unused this long are closed by [`FileCache::sweep`] (nginx's `inactive` default).
pub const DEFAULT_INACTIVE: Duration = Duration::from_secs(60);
/// A file modified more recently than this is not copied into memory (see the module notes).
pub const RACY_WINDOW: Duration = Duration::from_secs(2);

/// How the cache behaves.
#[derive(Clone, Copy, Debug)]
pub struct CachePolicy {
    /// Most open files.
    pub max_entries: usize,
    /// How long a check of a path holds (zero: every request checks).
    pub valid: Duration,
    /// Unused entries older than this are closed.
    pub inactive: Duration,
    /// Bytes are kept only of files whose ctime is older than this ([`RACY_WINDOW`]).
    pub racy_window: Duration,
}

impl Default for CachePolicy {
    fn default() -> Self {
        CachePolicy {
            max_entries: DEFAULT_MAX_ENTRIES,
            valid: Duration::ZERO,
            inactive: DEFAULT_INACTIVE,
            racy_window: RACY_WINDOW,
        }
    }
}

/// What a path leads to.
pub enum Opened<'a> {
    /// A regular file.
    File {
        /// The open file, shared with the cache (a response may outlive the entry).
        file: Rc<File>,
        /// Its stat results.
        stamp: FileStamp,
        /// Its bytes, when small and settled.
        content: Option<&'a [u8]>,
    },
    /// A directory (never cached).
    Directory,
    /// Something else: a device, a FIFO… (never cached).
    Other,
}

struct Entry {
    file: Rc<File>,
    stamp: FileStamp,
    checked: Instant,
    used: Instant,
    content: Option<Box<[u8]>>,
}

/// One worker's open-file cache.
pub struct FileCache {
    entries: HashMap<Box<[u8]>, Entry>,
    content_bytes: usize,
}

impl Default for FileCache {
    fn default() -> Self {
        Self::new()
    }
}

impl FileCache {
    /// An empty cache.
    pub fn new() -> FileCache {
        FileCache {
            entries: HashMap::new(),
            content_bytes: 0,
        }
    }

    /// Number of open files held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Opens `path` (or finds it open and unchanged). Errors are those of `statx`/`open`,
    /// for the caller's 403/404/500 and its log line.
    pub fn open(
        &mut self,
        path: &[u8],
        now: Instant,
        policy: &CachePolicy,
    ) -> io::Result<Opened<'_>> {
        if policy.max_entries == 0 {
            return open_uncached(path);
        }
        let fresh = match self.entries.get_mut(path) {
            Some(e) if now.saturating_duration_since(e.checked) < policy.valid => true,
            Some(e) => match sys::stat_path(path) {
                Ok(stamp) if stamp == e.stamp => {
                    e.checked = now;
                    true
                }
                Ok(_) => false,
                Err(err) => {
                    self.remove(path);
                    return Err(err);
                }
            },
            None => false,
        };
        if !fresh {
            self.remove(path);
            let file = open_file(path)?;
            let stamp = sys::stat_fd(file.as_raw_fd())?;
            if !stamp.is_file() {
                return Ok(if stamp.is_dir() {
                    Opened::Directory
                } else {
                    Opened::Other
                });
            }
            if self.entries.len() >= policy.max_entries {
                self.evict(now, policy);
            }
            self.entries.insert(
                path.into(),
                Entry {
                    file: Rc::new(file),
                    stamp,
                    checked: now,
                    used: now,
                    content: None,
                },
            );
        }
        let Some(e) = self.entries.get_mut(path) else {
            return open_uncached(path);
        };
        e.used = now;
        if e.content.is_none()
            && e.stamp.size <= SMALL_FILE
            && self.content_bytes + e.stamp.size as usize <= CONTENT_BUDGET
            && settled(&e.stamp, policy.racy_window)
            && let Some(bytes) = read_all(&e.file, e.stamp.size)
        {
            self.content_bytes += bytes.len();
            e.content = Some(bytes);
        }
        Ok(Opened::File {
            file: Rc::clone(&e.file),
            stamp: e.stamp,
            content: e.content.as_deref(),
        })
    }

    /// Closes entries unused for `policy.inactive` (call about once a second).
    pub fn sweep(&mut self, now: Instant, policy: &CachePolicy) {
        let mut freed = 0;
        self.entries.retain(|_, e| {
            let keep = now.saturating_duration_since(e.used) < policy.inactive;
            if !keep {
                freed += e.content.as_ref().map_or(0, |c| c.len());
            }
            keep
        });
        self.content_bytes -= freed;
    }

    fn remove(&mut self, path: &[u8]) {
        if let Some(e) = self.entries.remove(path) {
            self.content_bytes -= e.content.map_or(0, |c| c.len());
        }
    }

    /// Makes room for one entry: drops the inactive ones, else the least recently used.
    fn evict(&mut self, now: Instant, policy: &CachePolicy) {
        self.sweep(now, policy);
        if self.entries.len() < policy.max_entries {
            return;
        }
        let oldest = self
            .entries
            .iter()
            .min_by_key(|(_, e)| e.used)
            .map(|(k, _)| k.clone());
        if let Some(k) = oldest {
            self.remove(&k);
        }
    }
}

fn open_file(path: &[u8]) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(std::ffi::OsStr::from_bytes(path))
}

fn open_uncached(path: &[u8]) -> io::Result<Opened<'static>> {
    let file = open_file(path)?;
    let stamp = sys::stat_fd(file.as_raw_fd())?;
    Ok(if stamp.is_file() {
        Opened::File {
            file: Rc::new(file),
            stamp,
            content: None,
        }
    } else if stamp.is_dir() {
        Opened::Directory
    } else {
        Opened::Other
    })
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

/// Reads exactly `size` bytes (the file may not have changed size under us).
fn read_all(file: &File, size: u64) -> Option<Box<[u8]>> {
    let mut buf = vec![0u8; size as usize];
    let mut got = 0;
    while got < buf.len() {
        match sys::pread(file.as_raw_fd(), &mut buf[got..], got as u64) {
            Ok(0) => return None,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(buf.into_boxed_slice())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("portico-fc-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    }

    /// The tests cannot back-date ctime: they shrink the racy window instead, and sleep
    /// past it where a file must count as settled.
    const WINDOW: Duration = Duration::from_millis(30);

    fn policy() -> CachePolicy {
        CachePolicy {
            racy_window: WINDOW,
            ..CachePolicy::default()
        }
    }

    fn old(_path: &std::path::Path) {
        std::thread::sleep(WINDOW * 2);
    }

    fn bytes_of(c: &mut FileCache, p: &std::path::Path, now: Instant) -> (Vec<u8>, bool) {
        match c.open(p.as_os_str().as_bytes(), now, &policy()) {
            Ok(Opened::File {
                file,
                stamp,
                content,
            }) => {
                let from_memory = content.is_some();
                let bytes = match content {
                    Some(b) => b.to_vec(),
                    None => {
                        let mut v = vec![0; stamp.size as usize];
                        let n = sys::pread(file.as_raw_fd(), &mut v, 0).expect("pread");
                        v.truncate(n);
                        v
                    }
                };
                (bytes, from_memory)
            }
            Ok(_) => panic!("not a file"),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn a_hit_serves_memory_and_a_rewrite_is_seen_at_once() {
        let d = dir("rewrite");
        let p = d.join("a.html");
        std::fs::write(&p, b"one").expect("write");
        old(&p);
        let mut c = FileCache::new();
        let now = Instant::now();
        assert_eq!(bytes_of(&mut c, &p, now), (b"one".to_vec(), true));
        assert_eq!(bytes_of(&mut c, &p, now), (b"one".to_vec(), true));
        // Same size, rewritten: mtime and ctime move, the next request sees it.
        std::fs::write(&p, b"two").expect("write");
        let (bytes, from_memory) = bytes_of(&mut c, &p, now);
        assert_eq!(bytes, b"two");
        assert!(
            !from_memory,
            "a just-written file is read from its descriptor"
        );
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn a_rename_onto_the_path_is_seen_and_a_removal_is_an_error() {
        let d = dir("rename");
        let p = d.join("a.html");
        std::fs::write(&p, b"old").expect("write");
        old(&p);
        let mut c = FileCache::new();
        let now = Instant::now();
        assert_eq!(bytes_of(&mut c, &p, now).0, b"old");
        let tmp = d.join("a.tmp");
        std::fs::write(&tmp, b"new").expect("write");
        old(&tmp);
        std::fs::rename(&tmp, &p).expect("rename");
        assert_eq!(bytes_of(&mut c, &p, now).0, b"new");
        std::fs::remove_file(&p).expect("rm");
        let policy = CachePolicy::default();
        let err = c
            .open(p.as_os_str().as_bytes(), now, &policy)
            .err()
            .expect("removed");
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
        assert!(c.is_empty());
    }

    #[test]
    fn chmod_is_seen() {
        let d = dir("chmod");
        let p = d.join("a.html");
        std::fs::write(&p, b"x").expect("write");
        let mut c = FileCache::new();
        let now = Instant::now();
        let _ = bytes_of(&mut c, &p, now);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).expect("chmod");
        let policy = CachePolicy::default();
        // root may still open it; what matters is that the entry was re-checked.
        match c.open(p.as_os_str().as_bytes(), now, &policy) {
            Ok(Opened::File { stamp, .. }) => assert_eq!(stamp.mode & 0o777, 0),
            Ok(_) => panic!("not a file"),
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EACCES)),
        }
    }

    #[test]
    fn directories_are_reported_and_not_cached() {
        let d = dir("dirs");
        let mut c = FileCache::new();
        let policy = CachePolicy::default();
        let got = c.open(d.as_os_str().as_bytes(), Instant::now(), &policy);
        assert!(matches!(got, Ok(Opened::Directory)));
        assert!(c.is_empty());
    }

    #[test]
    fn bounded_by_max_entries_and_swept_when_inactive() {
        let d = dir("bounds");
        let policy = CachePolicy {
            max_entries: 3,
            ..CachePolicy::default()
        };
        let mut c = FileCache::new();
        let start = Instant::now();
        for i in 0..5u64 {
            let p = d.join(format!("{i}.txt"));
            std::fs::write(&p, b"x").expect("write");
            let now = start + Duration::from_secs(i);
            assert!(c.open(p.as_os_str().as_bytes(), now, &policy).is_ok());
            assert!(c.len() <= 3);
        }
        c.sweep(start + Duration::from_secs(4) + DEFAULT_INACTIVE, &policy);
        assert!(c.is_empty());
        assert_eq!(c.content_bytes, 0);
    }

    #[test]
    fn with_a_validity_period_a_change_is_seen_only_after_it() {
        let d = dir("valid");
        let p = d.join("a.html");
        std::fs::write(&p, b"one").expect("write");
        old(&p);
        let policy = CachePolicy {
            valid: Duration::from_secs(60),
            ..CachePolicy::default()
        };
        let mut c = FileCache::new();
        let now = Instant::now();
        let path = p.as_os_str().as_bytes();
        assert!(c.open(path, now, &policy).is_ok());
        std::fs::write(&p, b"twotwo").expect("write");
        let size = |c: &mut FileCache, at| match c.open(path, at, &policy) {
            Ok(Opened::File { stamp, .. }) => stamp.size,
            _ => panic!("not a file"),
        };
        assert_eq!(
            size(&mut c, now + Duration::from_secs(1)),
            3,
            "nginx's semantics"
        );
        assert_eq!(size(&mut c, now + Duration::from_secs(61)), 6);
    }
}
