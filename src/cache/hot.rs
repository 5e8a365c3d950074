//! A worker's table of the cache entries it answered lately, so that a hit on one costs no
//! system call instead of nginx's open, fstat, read of the header and close, and the
//! stored head is not parsed again.
//!
//! An entry is remembered by its key's MD5 with what reading its file found: the open
//! file, the stored head (and the protocol's parse of it, once made), the header's
//! `valid_sec`, a small body's bytes, and the keys-zone node's generation when it was read
//! ([`super::keys::Node::generation`]). Every change of a cache file by this server goes
//! through the keys zone and gives the node a new generation: a fill's commit (after its
//! rename), a revalidation's rewrite of the header, a damaged file's removal, the
//! manager's removal (the node goes; the next use makes one with a new number), the
//! loader's indexing. So a use whose node has the remembered generation answers without
//! looking at the file, and one whose node has another forgets the entry and reads the
//! file again. A file changed outside the zone (another server sharing the directory, a
//! hand edit) is caught by one `statx` of the path at most once a second per entry
//! (device, inode, size and mtime unchanged, as nginx's `open_file_cache_valid`
//! revalidates its open files), and on every use when there is no zone to ask; another
//! worker's `inactive` touch changes the mtime too, so that check forgets the entry (at
//! most once a second). A cache file is written once and
//! renamed into place, so a new response is a new inode. The `inactive` touch this table
//! makes is followed by an `fstat` that records the new mtime. Anything else (expired,
//! idle past `inactive`, gone) goes to [`super::entry::find`], which reads the file as
//! nginx does.

use std::any::Any;
use std::collections::HashMap;
use std::ffi::CString;
use std::fs::File;
use std::hash::BuildHasher;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::rc::Rc;
use std::time::Duration;

use super::entry::{Entry, Hit};
use crate::sys::FileStamp;

/// Entries a worker remembers (the least recently used goes first past it).
pub const MAX_ENTRIES: usize = 1024;
/// Bodies at most this long are kept in memory and sent from there.
pub const BODY_MAX: u64 = 32 * 1024;
/// Bytes of bodies a worker keeps in memory.
pub const BODY_BUDGET: usize = 8 * 1024 * 1024;

/// One remembered entry.
struct Hot {
    key: Box<[u8]>,
    path: CString,
    stamp: FileStamp,
    file: File,
    head: Rc<[u8]>,
    body: Option<Rc<[u8]>>,
    body_start: u64,
    valid_sec: i64,
    error_sec: i64,
    saved: Option<Rc<dyn Any>>,
    /// The keys-zone node's generation when the file was read (`None`: no zone).
    generation: Option<u32>,
    /// When (unix seconds) the path was last checked with a `statx`.
    checked: i64,
    /// The table's use counter when last used (for eviction).
    used: u64,
}

/// How often (seconds) a remembered entry whose node says it is unchanged still has its
/// path checked, for changes made outside the keys zone.
pub const CHECK_EVERY_SECS: i64 = 1;

/// The entries one worker answered lately, by MD5 of their key.
#[derive(Default)]
pub struct HotEntries {
    map: HashMap<(usize, [u8; 16]), Hot, crate::fast_hash::FastState>,
    /// Each remembered entry's digest by a hash of its cache and key, so that a hit skips
    /// the key's MD5 (a collision only costs the MD5: the entry's own key is compared).
    digests: HashMap<(usize, u64), [u8; 16], crate::fast_hash::FastState>,
    body_bytes: usize,
    uses: u64,
    /// A buffer for the next request's key (a hit gives it back; a miss keeps it).
    key_buffer: Vec<u8>,
}

impl std::fmt::Debug for HotEntries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HotEntries")
            .field("entries", &self.map.len())
            .field("body_bytes", &self.body_bytes)
            .finish()
    }
}

fn same_file(a: &FileStamp, b: &FileStamp) -> bool {
    a.dev == b.dev && a.ino == b.ino && a.size == b.size && a.mtime == b.mtime
}

impl HotEntries {
    fn key_hash(&self, cache: usize, key: &[u8]) -> u64 {
        self.digests.hasher().hash_one((cache, key))
    }

    /// The MD5 of `key` in the cache numbered `cache` when an entry remembered here has
    /// that key (`None`: the caller computes it).
    pub fn digest_of(&self, cache: usize, key: &[u8]) -> Option<[u8; 16]> {
        let digest = *self.digests.get(&(cache, self.key_hash(cache, key)))?;
        let h = self.map.get(&(cache, digest))?;
        (*h.key == *key).then_some(digest)
    }

    /// Number of remembered entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether none is remembered.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// A fresh entry for `key` (MD5 `digest`) of the cache numbered `cache` from the
    /// table, whose keys-zone node has the generation `generation` now (`None`: no zone;
    /// then the path is checked with a `statx` on every use);
    /// `None` sends the caller to the file (not remembered, changed, expired, or idle past
    /// `inactive`). `now` in unix seconds.
    pub fn hit(
        &mut self,
        cache: usize,
        digest: &[u8; 16],
        key: &[u8],
        now: i64,
        inactive: Duration,
        generation: Option<u32>,
    ) -> Option<Hit> {
        let slot = (cache, *digest);
        let h = self.map.get_mut(&slot)?;
        let unchanged = match (generation, h.generation) {
            // The zone says the file is the one read: its path is looked at once a second
            // for what the zone cannot see.
            (Some(now_gen), Some(read_gen)) if now_gen == read_gen => {
                *h.key == *key
                    && (h.checked == now
                        || match crate::sys::stat_cstr(&h.path) {
                            Ok(s) if same_file(&s, &h.stamp) => {
                                h.checked = now;
                                true
                            }
                            _ => false,
                        })
            }
            // A new generation: the file changed (or the node was made again).
            (Some(_), _) => false,
            (None, _) => {
                *h.key == *key
                    && match crate::sys::stat_cstr(&h.path) {
                        Ok(s) if same_file(&s, &h.stamp) => {
                            h.checked = now;
                            true
                        }
                        _ => false,
                    }
            }
        };
        if !unchanged {
            self.forget(&slot);
            return None;
        }
        let stamp = h.stamp;
        let idle = now.saturating_sub(stamp.mtime.0);
        if h.valid_sec < now || idle < 0 || idle as u64 > inactive.as_secs() {
            return None;
        }
        if idle >= 1 {
            // Used now, for `inactive`; what the touch made of the mtime is read back so
            // the next use still knows the file.
            let _ = h.file.set_modified(std::time::SystemTime::now());
            match crate::sys::stat_fd(h.file.as_raw_fd()) {
                Ok(s) => h.stamp = s,
                Err(_) => {
                    self.forget(&slot);
                    return None;
                }
            }
        }
        self.uses += 1;
        h.used = self.uses;
        let (file, memory) = match &h.body {
            Some(b) => (None, Some(b.clone())),
            None => (Some(h.file.try_clone().ok()?), None),
        };
        Some(Hit {
            file,
            memory,
            head: h.head.clone(),
            body_start: h.body_start,
            len: h.stamp.size,
            valid_sec: h.valid_sec,
            error_sec: h.error_sec,
            stamp: h.stamp,
            digest: *digest,
            cache,
            vary: Vec::new(),
            variant: [0; 16],
            saved: h.saved.clone(),
        })
    }

    /// Remembers the fresh entry `hit` that reading `entry`'s file found, its keys-zone
    /// node's generation being `generation` before the file was read (a file whose stored
    /// length does not match is not remembered, nor one whose response varies: its variant
    /// is the request's to check).
    pub fn remember(&mut self, entry: &Entry, hit: &Hit, generation: Option<u32>) {
        if !hit.vary.is_empty() {
            return;
        }
        let slot = (hit.cache, entry.digest);
        let body_len = hit.len.saturating_sub(hit.body_start);
        if !super::entry::body_length_matches(&hit.head, body_len) {
            return;
        }
        let Ok(path) = CString::new(entry.path.as_os_str().as_bytes()) else {
            return;
        };
        let Some(Ok(file)) = hit.file.as_ref().map(File::try_clone) else {
            return;
        };
        let body = match &hit.memory {
            Some(b) if self.body_bytes + b.len() <= BODY_BUDGET => Some(b.clone()),
            Some(_) => return,
            None => None,
        };
        self.forget(&slot);
        if self.map.len() >= MAX_ENTRIES {
            self.evict();
        }
        self.body_bytes += body.as_ref().map_or(0, |b| b.len());
        self.uses += 1;
        // Only the key's own digest (not a variant's) may stand for the key.
        if entry.digest == super::md5::md5(&[&entry.key]) {
            let hash = self.key_hash(hit.cache, &entry.key);
            self.digests.insert((hit.cache, hash), entry.digest);
        }
        self.map.insert(
            slot,
            Hot {
                key: entry.key.clone().into_boxed_slice(),
                path,
                stamp: hit.stamp,
                file,
                head: hit.head.clone(),
                body,
                body_start: hit.body_start,
                valid_sec: hit.valid_sec,
                error_sec: hit.error_sec,
                saved: None,
                generation,
                checked: 0,
                used: self.uses,
            },
        );
    }

    /// An empty buffer to make a request's key in.
    pub fn take_key_buffer(&mut self) -> Vec<u8> {
        let mut b = std::mem::take(&mut self.key_buffer);
        b.clear();
        b
    }

    /// Gives back the buffer [`HotEntries::take_key_buffer`] gave (the key was not kept).
    pub fn give_key_buffer(&mut self, buffer: Vec<u8>) {
        self.key_buffer = buffer;
    }

    /// Keeps the protocol's parse of the entry's stored head, for its next hits.
    pub fn save_head(&mut self, hit: (usize, [u8; 16]), saved: Rc<dyn Any>) {
        if let Some(h) = self.map.get_mut(&hit) {
            h.saved = Some(saved);
        }
    }

    /// Forgets the entry `(cache, digest)` (its file changed or went).
    pub fn forget(&mut self, slot: &(usize, [u8; 16])) {
        if let Some(h) = self.map.remove(slot) {
            self.body_bytes -= h.body.as_ref().map_or(0, |b| b.len());
            let by_key = (slot.0, self.key_hash(slot.0, &h.key));
            if self.digests.get(&by_key) == Some(&slot.1) {
                self.digests.remove(&by_key);
            }
        }
    }

    /// Drops the least recently used entry (a scan, on a miss with the table full).
    fn evict(&mut self) {
        if let Some(oldest) = self.map.iter().min_by_key(|(_, h)| h.used).map(|(d, _)| *d) {
            self.forget(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::entry::{Found, find};
    use crate::cache::fill::Fill;
    use crate::cache::header::Header;
    use crate::cache::path_conf::parse;
    use std::path::Path;

    #[test]
    fn a_remembered_entry_answers_until_its_file_changes() {
        let dir = std::env::temp_dir().join(format!("portico-hot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let args = vec![dir.display().to_string(), "keys_zone=z:1m".into()];
        let conf = parse("proxy_cache_path", &args, Path::new("/")).unwrap();
        let entry = Entry::new(b"http://a/x".to_vec(), &conf);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
        let store = |body: &[u8]| {
            let header = Header {
                valid_sec: now + 60,
                ..Header::default()
            };
            let mut fill = Fill::begin(&entry, header, head, &dir).unwrap();
            assert!(fill.body(body).is_none());
            fill.commit().unwrap();
        };
        store(b"hello");
        let inactive = Duration::from_secs(600);
        let mut hot = HotEntries::default();
        assert!(
            hot.hit(0, &entry.digest, &entry.key, now, inactive, None)
                .is_none()
        );
        let Found::Fresh(hit) = find(&entry, now, inactive, 4096, true).0 else {
            panic!("not found");
        };
        assert_eq!(hit.memory.as_deref(), Some(&b"hello"[..]));
        hot.remember(&entry, &hit, None);
        assert_eq!(hot.digest_of(0, &entry.key), Some(entry.digest));
        assert_eq!(hot.digest_of(1, &entry.key), None);
        assert_eq!(hot.digest_of(0, b"http://a/y"), None);
        let again = hot
            .hit(0, &entry.digest, &entry.key, now, inactive, None)
            .unwrap();
        assert_eq!(again.memory.as_deref(), Some(&b"hello"[..]));
        assert_eq!(&*again.head, &head[..]);
        // Another cache, another key with the same digest, an expired entry: not this one.
        assert!(
            hot.hit(1, &entry.digest, &entry.key, now, inactive, None)
                .is_none()
        );
        assert!(
            hot.hit(0, &entry.digest, b"other", now, inactive, None)
                .is_none()
        );
        hot.remember(&entry, &hit, None);
        assert!(
            hot.hit(0, &entry.digest, &entry.key, now + 61, inactive, None)
                .is_none()
        );
        // A new file renamed onto the entry (another worker's fill).
        store(b"world");
        assert!(
            hot.hit(0, &entry.digest, &entry.key, now, inactive, None)
                .is_none()
        );
        assert!(hot.is_empty());
        assert_eq!(hot.digest_of(0, &entry.key), None);
        assert!(hot.digests.is_empty());

        // With a keys zone: the node's generation stands for the file.
        let Found::Fresh(hit) = find(&entry, now, inactive, 4096, true).0 else {
            panic!("not found");
        };
        hot.remember(&entry, &hit, Some(7));
        let gen_hit = |hot: &mut HotEntries, now, generation| {
            hot.hit(
                0,
                &entry.digest,
                &entry.key,
                now,
                inactive,
                Some(generation),
            )
        };
        assert!(gen_hit(&mut hot, now, 7).is_some());
        // Within the second, no statx: the same generation answers.
        assert!(gen_hit(&mut hot, now, 7).is_some());
        // Another generation: the file changed through the zone.
        assert!(gen_hit(&mut hot, now, 8).is_none());
        assert!(hot.is_empty());
        hot.remember(&entry, &hit, Some(8));
        assert!(gen_hit(&mut hot, now, 8).is_some());
        // Replaced behind the zone's back: seen by the next second's statx.
        store(b"again");
        assert!(gen_hit(&mut hot, now + 1, 8).is_none());
        assert!(hot.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
