//! The work of the cache manager and the cache loader processes (nginx's
//! `ngx_http_file_cache_manager` and `ngx_http_file_cache_loader`); the processes
//! themselves (fork, signals, respawn) are the master's (`master/cache_helper.rs`).
//!
//! - The loader walks the cache directory once (when the zone was not loaded already: a
//!   reload keeps a loaded zone) and indexes every file named as an entry (32 hex digits):
//!   its size on disk, used "now". It works in bursts of at most `loader_files` files and
//!   `loader_threshold` of time, `loader_sleep` apart, then its process exits. Until it is
//!   done a request still looks at the file of a key the zone does not know (nginx's `cold`
//!   zone).
//! - The manager removes the keys not used for `inactive` (their files too), and the least
//!   recently used while the cache is above `max_size`, the file system has less than
//!   `min_free` free or the keys zone holds as many keys as its watermark (7/8 of what it
//!   held when it last ran out of room): at most `manager_files` keys and `manager_threshold` of time a burst,
//!   `manager_sleep` between busy bursts.

use std::fs::ReadDir;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::keys::{Forced, Node, Pass, Zone};
use super::md5;
use super::path_conf::CachePath;
use crate::shm::Segment;

/// Longest pause of an idle manager (nginx's `ngx_http_file_cache_expire` waits at most
/// 10 s between looks).
const IDLE_PAUSE: Duration = Duration::from_secs(10);
/// The manager's pause when every key it could remove is being fetched (nginx's
/// `ngx_http_file_cache_forced_expire` returns 1 s).
const BUSY_PAUSE: Duration = Duration::from_secs(1);

/// What a [`Duty`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// The cache manager's work, for as long as the process lives.
    Manage,
    /// The cache loader's work: one walk of each cache, then done.
    Load,
}

/// One cache's manager or loader.
struct CacheDuty {
    /// Index in `HttpConf::caches`.
    cache: usize,
    /// Directories left to walk (loader; `None`: not started).
    loading: Option<Walk>,
    /// When the next burst is due (`None`: nothing more to do).
    next: Option<Instant>,
}

/// The loader's place in the directory tree.
struct Walk {
    dirs: Vec<PathBuf>,
    current: Option<ReadDir>,
}

/// The manager's or the loader's work on every cache of a configuration.
pub struct Duty {
    task: Task,
    caches: Vec<CacheDuty>,
}

/// A cache as the duty sees it: its settings and its zone's mapping.
pub struct CacheRef<'a> {
    /// `*_cache_path`
    pub path: &'a CachePath,
    /// The keys zone (`None` under `-t`).
    pub segment: Option<&'a Segment>,
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Duty {
    /// The `task` for `count` caches, whose first burst is due at `first`.
    pub fn new(task: Task, count: usize, first: Instant) -> Duty {
        Duty {
            task,
            caches: (0..count)
                .map(|cache| CacheDuty {
                    cache,
                    loading: None,
                    next: Some(first),
                })
                .collect(),
        }
    }

    /// When the next burst is due (`None`: the loader is done).
    pub fn next_at(&self) -> Option<Instant> {
        self.caches.iter().filter_map(|c| c.next).min()
    }

    /// Runs the bursts due at `now`; `cache(i)` gives cache `i`.
    pub fn turn<'a>(&mut self, now: Instant, cache: impl Fn(usize) -> Option<CacheRef<'a>>) {
        for c in &mut self.caches {
            if c.next.is_none_or(|at| at > now) {
                continue;
            }
            let zone = cache(c.cache).and_then(|r| Some((r.path, Zone::open(r.segment?)?)));
            let Some((path, zone)) = zone else {
                c.next = None;
                continue;
            };
            c.next = match self.task {
                Task::Manage => Some(now + manage(&zone, path)),
                Task::Load => {
                    if c.loading.is_none() {
                        if zone.totals().loaded {
                            c.next = None;
                            continue;
                        }
                        c.loading = Some(Walk {
                            dirs: vec![path.dir.clone()],
                            current: None,
                        });
                    }
                    let more = c
                        .loading
                        .as_mut()
                        .is_some_and(|walk| load(walk, &zone, path));
                    match more {
                        true => Some(now + path.loader.sleep),
                        false => {
                            c.loading = None;
                            zone.set_loaded();
                            let bsize = nix::sys::statvfs::statvfs(path.dir.as_path())
                                .map_or(4096, |s| s.block_size());
                            crate::elog!(
                                crate::log::LogLevel::Notice,
                                "http file cache: {} {:.3}M, bsize: {bsize}",
                                path.dir.display(),
                                zone.totals().size as f64 / (1024.0 * 1024.0)
                            );
                            None
                        }
                    }
                }
            };
        }
    }
}

/// One loader iteration: up to `loader_files` files, `loader_threshold` of time. `true`
/// while there is more to walk.
fn load(walk: &mut Walk, zone: &Zone<'_>, path: &CachePath) -> bool {
    let started = Instant::now();
    let now = unix_now();
    let inactive = path.inactive.as_secs() as i64;
    let mut files = 0;
    loop {
        if files >= path.loader.files.max(1) || started.elapsed() >= path.loader.threshold {
            return true;
        }
        let Some(dir) = walk.current.as_mut() else {
            let Some(next) = walk.dirs.pop() else {
                return false;
            };
            walk.current = std::fs::read_dir(&next).ok();
            continue;
        };
        let Some(item) = dir.next() else {
            walk.current = None;
            continue;
        };
        let Ok(item) = item else {
            continue;
        };
        let Ok(meta) = item.metadata() else {
            continue;
        };
        if meta.is_dir() {
            walk.dirs.push(item.path());
            continue;
        }
        let Some(key) = item.file_name().to_str().and_then(key_of_name) else {
            continue;
        };
        files += 1;
        let node = Node {
            uses: 1,
            expire: now.saturating_add(inactive),
            fs_size: meta.blocks() * 512,
            exists: 1,
            ..Node::default()
        };
        if !zone.index(&key, node) {
            return false;
        }
    }
}

/// The MD5 an entry's file name spells (32 lower-case hex digits), or `None`.
fn key_of_name(name: &str) -> Option<[u8; 16]> {
    let b = name.as_bytes();
    if b.len() != 32 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut key = [0u8; 16];
    for (i, k) in key.iter_mut().enumerate() {
        *k = digit(b[2 * i])? << 4 | digit(b[2 * i + 1])?;
    }
    Some(key)
}

/// One manager burst, as nginx's `ngx_http_file_cache_manager`: every key not used for
/// `inactive` goes, then the least recently used ones, one at a time, while the cache is
/// over `max_size`, the disk under `min_free` or the zone at its watermark, at most `manager_files` of them and
/// `manager_threshold` of time. Returns the pause before the next burst: `manager_sleep`
/// after a full burst, else until the next key's `inactive` ends (at most 10 s).
fn manage(zone: &Zone<'_>, path: &CachePath) -> Duration {
    let started = Instant::now();
    let mut gone = Vec::new();
    let mut next = match zone.expire(unix_now(), usize::MAX, &mut gone) {
        Pass::Done(Some(secs)) => Duration::from_secs(secs.clamp(1, 10) as u64),
        _ => IDLE_PAUSE,
    };
    remove_files(path, &mut gone);
    let mut files = 0;
    while over_limits(zone, path) {
        match zone.forced_expire(&mut gone) {
            Forced::Removed => remove_files(path, &mut gone),
            Forced::Busy => {
                next = BUSY_PAUSE;
                break;
            }
            Forced::Empty => {
                next = IDLE_PAUSE;
                break;
            }
        }
        files += 1;
        if files >= path.manager.files.max(1) || started.elapsed() >= path.manager.threshold {
            next = path.manager.sleep;
            break;
        }
    }
    next
}

fn remove_files(path: &CachePath, gone: &mut Vec<[u8; 16]>) {
    for key in gone.drain(..) {
        let _ = std::fs::remove_file(path.entry(&md5::hex(&key)));
    }
}

/// Whether a key must go: the cache is at `max_size` or above, the zone holds as many keys
/// as its watermark, or the file system has `min_free` or less free (nginx's test).
fn over_limits(zone: &Zone<'_>, path: &CachePath) -> bool {
    let totals = zone.totals();
    if path.max_size.is_some_and(|max| totals.size >= max)
        || totals.watermark.is_some_and(|mark| totals.keys >= mark)
    {
        return true;
    }
    path.min_free > 0 && free_space(&path.dir) <= path.min_free
}

fn free_space(dir: &std::path::Path) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return u64::MAX;
    };
    // SAFETY: a zeroed statvfs filled by the call; the path is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return u64::MAX;
    }
    (st.f_bavail as u64).saturating_mul(st.f_frsize as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_give_their_keys() {
        let k = key_of_name("b7f54b2df7773722d382f4809d65029c").unwrap();
        assert_eq!(&md5::hex(&k), b"b7f54b2df7773722d382f4809d65029c");
        assert!(key_of_name("b7f54b2df7773722d382f4809d65029").is_none());
        assert!(key_of_name("B7F54B2DF7773722D382F4809D65029C").is_none());
        assert!(key_of_name("0000000001.tmp").is_none());
    }
}
