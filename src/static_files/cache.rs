//! nginx's `open_file_cache`, per worker: open descriptors and stat results of hot paths.
//!
//! Off unless `open_file_cache max=N` is configured, as in nginx. An entry is trusted for
//! `open_file_cache_valid` (default 60s); after that the next use `stat`s the path and
//! reopens it when the inode, size or mtime changed, so a replaced or edited file is never
//! served stale for longer than nginx would. Entries unused for `inactive` are dropped; a
//! full cache drops the least recently used one. A descriptor is kept only once a path was
//! used `open_file_cache_min_uses` times; errors (missing files) are remembered only with
//! `open_file_cache_errors on`.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::rc::Rc;
use std::time::Instant;

use super::{Entry, OpenFile, StaticFile, open_error, open_file};
use crate::config::{LocSettings, OpenFileCache};

/// The cache of one worker.
#[derive(Debug, Default)]
pub struct FileCache {
    entries: HashMap<Box<[u8]>, Cached>,
    /// When entries unused for `inactive` were last closed.
    swept: Option<Instant>,
}

/// How often unused entries are looked for (nginx expires a few on every lookup; a scan a
/// second does the same work in bulk and keeps a deleted file's descriptor at most
/// `inactive` + 1s).
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Debug)]
struct Cached {
    what: Kind,
    /// When the entry was last checked against the file system.
    checked: Instant,
    /// When it was last used.
    used: Instant,
    /// Uses while cached.
    uses: u64,
}

#[derive(Debug)]
enum Kind {
    /// A regular file; `file` is `None` until `min_uses` is reached.
    File {
        file: Option<Rc<std::fs::File>>,
        size: u64,
        mtime: i64,
        ino: u64,
        dev: u64,
    },
    Directory,
    Error(u16, Option<String>),
}

impl FileCache {
    /// Number of cached paths (for tests and debugging).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Opens `path` through the cache.
    pub fn open(
        &mut self,
        conf: &OpenFileCache,
        loc: &LocSettings,
        path: &[u8],
        now: Instant,
    ) -> Entry {
        if self
            .swept
            .is_none_or(|t| now.saturating_duration_since(t) >= SWEEP_EVERY)
        {
            self.swept = Some(now);
            self.entries
                .retain(|_, c| now.saturating_duration_since(c.used) < conf.inactive);
        }
        if let Some(entry) = self.hit(conf, loc, path, now) {
            return entry;
        }
        let uses = self.entries.get(path).map_or(1, |c| c.uses);
        let (entry, what) = match open_file(path) {
            Ok((file, meta)) => {
                let keep = uses >= loc.open_file_cache_min_uses && meta.is_file();
                let (file, kept) = if keep {
                    let shared = Rc::new(file);
                    (OpenFile::Shared(shared.clone()), Some(shared))
                } else {
                    (OpenFile::Own(file), None)
                };
                let entry = super::describe(file, &meta, path);
                let what = match &entry {
                    Entry::File(f) => Kind::File {
                        file: kept,
                        size: f.size,
                        mtime: f.mtime,
                        ino: meta.ino(),
                        dev: meta.dev(),
                    },
                    Entry::Directory => Kind::Directory,
                    Entry::Error(s, m) => Kind::Error(*s, m.clone()),
                };
                (entry, Some(what))
            }
            Err(e) => {
                let entry = open_error(loc, path, &e);
                let what = match &entry {
                    Entry::Error(s, m) if loc.open_file_cache_errors => {
                        Some(Kind::Error(*s, m.clone()))
                    }
                    _ => None,
                };
                (entry, what)
            }
        };
        match what {
            Some(what) => self.insert(conf, path, what, uses, now),
            None => {
                self.entries.remove(path);
            }
        }
        entry
    }

    /// A usable cached answer for `path`, revalidated by `stat` once it is older than
    /// `open_file_cache_valid`.
    fn hit(
        &mut self,
        conf: &OpenFileCache,
        loc: &LocSettings,
        path: &[u8],
        now: Instant,
    ) -> Option<Entry> {
        let c = self.entries.get_mut(path)?;
        if now.saturating_duration_since(c.used) >= conf.inactive {
            return None;
        }
        c.used = now;
        c.uses += 1;
        if now.saturating_duration_since(c.checked) >= loc.open_file_cache_valid {
            if !still_same(c, path) {
                return None;
            }
            c.checked = now;
        }
        match &c.what {
            Kind::File {
                file: Some(file),
                size,
                mtime,
                ..
            } => Some(Entry::File(StaticFile {
                file: OpenFile::Shared(file.clone()),
                size: *size,
                mtime: *mtime,
            })),
            // Not used often enough yet to keep a descriptor: open again.
            Kind::File { file: None, .. } => None,
            Kind::Directory => Some(Entry::Directory),
            Kind::Error(status, msg) => Some(Entry::Error(*status, msg.clone())),
        }
    }

    fn insert(&mut self, conf: &OpenFileCache, path: &[u8], what: Kind, uses: u64, now: Instant) {
        if !self.entries.contains_key(path) && self.entries.len() >= conf.max.max(1) {
            self.entries
                .retain(|_, c| now.saturating_duration_since(c.used) < conf.inactive);
            if self.entries.len() >= conf.max.max(1)
                && let Some(oldest) = self
                    .entries
                    .iter()
                    .min_by_key(|(_, c)| c.used)
                    .map(|(k, _)| k.clone())
            {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(
            path.into(),
            Cached {
                what,
                checked: now,
                used: now,
                uses,
            },
        );
    }
}

/// Revalidation: does `path` still name what the entry describes?
fn still_same(c: &Cached, path: &[u8]) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let meta = std::fs::metadata(std::ffi::OsStr::from_bytes(path));
    match (&c.what, meta) {
        (
            Kind::File {
                size,
                mtime,
                ino,
                dev,
                ..
            },
            Ok(m),
        ) => {
            m.is_file()
                && m.len() == *size
                && m.mtime() == *mtime
                && m.ino() == *ino
                && m.dev() == *dev
        }
        (Kind::Directory, Ok(m)) => m.is_dir(),
        (Kind::Error(..), Err(_)) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testutil::{http, load_ok, temp_dir};
    use std::os::unix::ffi::OsStrExt;
    use std::time::Duration;

    fn settings(directives: &str) -> LocSettings {
        let c = load_ok(&http(&format!("server {{ {directives} }}")));
        (*c.http.expect("http").servers[0].loc).clone()
    }

    fn size_of(e: Entry) -> Option<u64> {
        match e {
            Entry::File(f) => Some(f.size),
            _ => None,
        }
    }

    #[test]
    fn min_uses_errors_and_eviction() {
        let dir = temp_dir();
        let path = |name: &str| dir.join(name).as_os_str().as_bytes().to_vec();
        for name in ["a", "b", "c"] {
            std::fs::write(dir.join(name), name).expect("write");
        }
        let loc = settings(
            "open_file_cache max=2 inactive=20s; open_file_cache_min_uses 2; \
             open_file_cache_valid 30s; open_file_cache_errors on;",
        );
        let conf = loc.open_file_cache.expect("configured");
        let mut cache = FileCache::default();
        let t0 = Instant::now();
        assert_eq!(size_of(cache.open(&conf, &loc, &path("a"), t0)), Some(1));
        // Used once: remembered, but no descriptor kept yet.
        assert!(matches!(
            cache.entries.get(&path("a")[..]).map(|c| &c.what),
            Some(Kind::File { file: None, .. })
        ));
        assert_eq!(size_of(cache.open(&conf, &loc, &path("a"), t0)), Some(1));
        assert!(matches!(
            cache.entries.get(&path("a")[..]).map(|c| &c.what),
            Some(Kind::File { file: Some(_), .. })
        ));
        // Errors are cached with open_file_cache_errors: a file created later stays 404
        // until the entry is revalidated.
        assert!(matches!(
            cache.open(&conf, &loc, &path("new"), t0),
            Entry::Error(404, _)
        ));
        std::fs::write(dir.join("new"), "n").expect("write");
        assert!(matches!(
            cache.open(&conf, &loc, &path("new"), t0),
            Entry::Error(404, _)
        ));
        let later = t0 + Duration::from_secs(31);
        assert_eq!(
            size_of(cache.open(&conf, &loc, &path("new"), later)),
            Some(1)
        );
        // Entries unused for `inactive` (20s) were closed by the sweep.
        assert!(!cache.entries.contains_key(&path("a")[..]));
        // max=2: a third path pushes out the least recently used one.
        let t = later + Duration::from_secs(1);
        cache.open(&conf, &loc, &path("b"), t);
        cache.open(&conf, &loc, &path("c"), t + Duration::from_millis(10));
        assert_eq!(cache.len(), 2);
        assert!(!cache.entries.contains_key(&path("new")[..]));
        assert!(cache.entries.contains_key(&path("c")[..]));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
