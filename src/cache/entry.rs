//! A request's cache entry: its key, the file the key names, and what reading that file
//! found (a fresh entry to answer with, an expired one, or none usable). A file that fails
//! a check is logged with nginx's words, removed, and the request goes upstream, so a
//! damaged entry is never served.
//!
//! The file is the index: a worker opens the path the key names, reads the header and
//! checks it, as nginx's `ngx_http_file_cache_open` does after its keys-zone lookup. An
//! entry not used for `inactive` is removed here when met (nginx's manager removes it in
//! the background): a hit sets the file's mtime to now, at most once a second.

use std::any::Any;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use super::header::{Header, Unusable};
use super::md5;
use super::path_conf::CachePath;

/// A key and its file.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The key's bytes (the `KEY:` line).
    pub key: Vec<u8>,
    /// CRC32 of the key.
    pub crc32: u32,
    /// MD5 of the key (the file's name).
    pub digest: [u8; 16],
    /// The file.
    pub path: PathBuf,
}

impl Entry {
    /// The entry for `key` in the cache `conf` describes.
    pub fn new(key: Vec<u8>, conf: &CachePath) -> Entry {
        let digest = md5::md5(&[&key]);
        Entry::with_digest(key, digest, conf)
    }

    /// The entry for `key` whose MD5 `digest` is known already.
    pub fn with_digest(key: Vec<u8>, digest: [u8; 16], conf: &CachePath) -> Entry {
        let path = conf.entry(&md5::hex(&digest));
        Entry {
            crc32: md5::crc32(&[&key]),
            digest,
            key,
            path,
        }
    }
}

/// A fresh entry: its body (in memory or in its open file) and what the response head
/// needs.
pub struct Hit {
    /// The file, open for reading (the body is served from it unless `memory` has it).
    pub file: Option<File>,
    /// The whole body, for a small entry.
    pub memory: Option<Rc<[u8]>>,
    /// The upstream's response head as stored.
    pub head: Rc<[u8]>,
    /// Where the body starts in the file.
    pub body_start: u64,
    /// The file's length (the body ends there).
    pub len: u64,
    /// The header's `valid_sec`.
    pub valid_sec: i64,
    /// The header's `error_sec` (`stale-if-error`).
    pub error_sec: i64,
    /// The file as it was read (for [`super::hot::HotEntries`]).
    pub stamp: crate::sys::FileStamp,
    /// MD5 of the key.
    pub digest: [u8; 16],
    /// The cache's number (its place in the configuration; set by the caller).
    pub cache: usize,
    /// The header's Vary value (empty: the response does not vary).
    pub vary: Vec<u8>,
    /// The header's variant (see [`super::vary`]).
    pub variant: [u8; 16],
    /// The protocol's parse of `head`, kept from an earlier hit (see
    /// [`super::hot::HotEntries::save_head`]).
    pub saved: Option<Rc<dyn Any>>,
}

impl std::fmt::Debug for Hit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hit")
            .field("body_start", &self.body_start)
            .field("len", &self.len)
            .field("in_memory", &self.memory.is_some())
            .finish()
    }
}

/// An expired entry, kept open while the response is fetched again.
#[derive(Debug)]
pub struct Stale {
    /// The entry.
    pub hit: Hit,
    /// Its `stale-if-error` time is not over: it answers any failure.
    pub if_error: bool,
    /// Its `stale-while-revalidate` time is not over: it answers while another request
    /// updates it.
    pub if_updating: bool,
}

/// What the cache has for a request.
#[derive(Debug)]
pub enum Found {
    /// A fresh entry (`HIT`).
    Fresh(Hit),
    /// An entry whose time is over (`EXPIRED`): the response is fetched again, and the
    /// entry may still answer if that fails (`*_cache_use_stale`, `stale-if-error`).
    Expired(Stale),
    /// No usable entry (`MISS`).
    Missing,
}

/// Why an entry was not used, for the error log (`cache file "PATH" WORDS`).
#[derive(Debug)]
pub struct Damaged {
    /// The file.
    pub path: PathBuf,
    /// What was wrong.
    pub what: Unusable,
}

/// Looks `entry` up: `now` in unix seconds, `inactive` from `*_cache_path`,
/// `max_body_start` where a body may start at the latest (`*_buffer_size`, which holds the
/// header and the head in nginx), `with_body` when the body will be served (its length is
/// then checked). A damaged file is removed and returned beside `Missing` for the caller
/// to log.
pub fn find(
    entry: &Entry,
    now: i64,
    inactive: Duration,
    max_body_start: usize,
    with_body: bool,
) -> (Found, Option<Damaged>) {
    match open(entry, now, inactive, max_body_start, with_body) {
        Ok(found) => (found, None),
        Err(Some(what)) => {
            let _ = std::fs::remove_file(&entry.path);
            let damaged = Damaged {
                path: entry.path.clone(),
                what,
            };
            (Found::Missing, Some(damaged))
        }
        Err(None) => (Found::Missing, None),
    }
}

fn open(
    entry: &Entry,
    now: i64,
    inactive: Duration,
    max_body_start: usize,
    with_body: bool,
) -> Result<Found, Option<Unusable>> {
    let file = File::open(&entry.path).map_err(|_| None)?;
    let mut stamp = crate::sys::stat_fd(file.as_raw_fd()).map_err(|_| None)?;
    let len = stamp.size;
    let used = SystemTime::UNIX_EPOCH + Duration::from_secs(stamp.mtime.0.max(0) as u64);
    let now_time = SystemTime::UNIX_EPOCH + Duration::from_secs(now.max(0) as u64);
    let idle = now_time.duration_since(used).unwrap_or_default();
    if idle > inactive {
        // Not used for `inactive`: gone, as the manager would have removed it.
        let _ = std::fs::remove_file(&entry.path);
        return Err(None);
    }
    // A small entry is read whole (its body is then sent from memory); a bigger one up to
    // where its body may start at the latest.
    let whole = len <= (max_body_start as u64).saturating_add(super::hot::BODY_MAX);
    let mut buf = vec![0u8; if whole { len as usize } else { max_body_start }];
    let n = read_at(&file, &mut buf, 0).map_err(|_| None)?;
    buf.truncate(n);
    let h = Header::read(&buf, &entry.key, entry.crc32, max_body_start).map_err(Some)?;
    let body_start = usize::from(h.body_start);
    if body_start > buf.len() {
        return Err(Some(Unusable::TooSmall));
    }
    let head: Rc<[u8]> = buf[usize::from(h.header_start)..body_start].into();
    // An entry without a body is a HEAD's response (nginx stores it so, and answers a GET
    // from it with its head alone); a body of another length is a damaged file.
    let body = len - body_start as u64;
    if with_body && body != 0 && !body_length_matches(&head, body) {
        return Err(Some(Unusable::TooSmall));
    }
    if idle >= Duration::from_secs(1) {
        touch(&file);
        stamp = crate::sys::stat_fd(file.as_raw_fd()).map_err(|_| None)?;
    }
    let memory = (whole && n as u64 == len).then(|| buf[body_start..].into());
    let hit = Hit {
        file: Some(file),
        memory,
        head,
        body_start: body_start as u64,
        len,
        valid_sec: h.valid_sec,
        error_sec: h.error_sec,
        stamp,
        digest: entry.digest,
        cache: 0,
        vary: h.vary,
        variant: h.variant,
        saved: None,
    };
    if h.valid_sec < now {
        let if_error = h.valid_sec.saturating_add(h.error_sec) >= now;
        let if_updating = h.valid_sec.saturating_add(h.updating_sec) >= now;
        return Ok(Found::Expired(Stale {
            hit,
            if_error,
            if_updating,
        }));
    }
    Ok(Found::Fresh(hit))
}

/// A stored `Content-Length` must be the body's length: a file cut short (or grown) by
/// someone else is not served.
pub fn body_length_matches(head: &[u8], body: u64) -> bool {
    let declared = super::freshness::fields(head)
        .find(|(n, _)| n.eq_ignore_ascii_case(b"content-length"))
        .and_then(|(_, v)| std::str::from_utf8(v).ok()?.trim().parse::<u64>().ok());
    declared.is_none_or(|n| n == body)
}

fn read_at(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match crate::sys::pread(file.as_raw_fd(), &mut buf[done..], at + done as u64)? {
            0 => break,
            n => done += n,
        }
    }
    Ok(done)
}

/// Marks the entry used now (its mtime), for `inactive`.
fn touch(file: &File) {
    let _ = file.set_modified(SystemTime::now());
}
