//! Access logs whose path holds variables (`access_log /var/log/$host.log`): the worker
//! opens the file the line names (`O_APPEND|O_CREAT`, 0644, as its user), writes the line
//! and closes it, or with `open_log_file_cache` keeps recent files open (nginx's
//! `ngx_http_log_script_write` and its open-file cache).

use std::cell::RefCell;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::file::{open_append, write_once};

/// `open_log_file_cache`'s numbers.
#[derive(Clone, Copy, Debug)]
pub struct Caching {
    /// Most files kept open.
    pub max: usize,
    /// A file unused this long is closed.
    pub inactive: Duration,
    /// Uses within `inactive` before a file is kept open.
    pub min_uses: u64,
    /// A kept file is opened again by name after this long.
    pub valid: Duration,
}

struct Entry {
    path: PathBuf,
    /// `None` until the file was used `min_uses` times.
    fd: Option<OwnedFd>,
    opened: Instant,
    last_used: Instant,
    uses: u64,
}

thread_local! {
    static CACHE: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
}

/// Appends `line` to the file at `path`; the error's text is nginx's
/// (`open() "/x" failed (13: Permission denied)`).
pub fn write_named(path: &Path, line: &[u8], caching: Option<Caching>) -> io::Result<()> {
    let Some(caching) = caching else {
        let fd = open_append(path)?;
        return write_all(&fd, path, line);
    };
    let now = Instant::now();
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        cache.retain(|e| now.duration_since(e.last_used) < caching.inactive);
        let Some(at) = cache.iter().position(|e| e.path == path) else {
            // nginx's ngx_open_cached_file: a file that cannot be opened is not cached (nor
            // does it push another out); one that opens takes the least recently used's
            // place when the cache is full.
            let fd = open_append(path)?;
            if cache.len() >= caching.max
                && let Some(oldest) = (0..cache.len()).min_by_key(|&i| cache[i].last_used)
            {
                cache.swap_remove(oldest);
            }
            let kept = caching.min_uses <= 1;
            let result = write_all(&fd, path, line);
            cache.push(Entry {
                path: path.to_path_buf(),
                fd: kept.then_some(fd),
                opened: now,
                last_used: now,
                uses: 1,
            });
            return result;
        };
        let entry = &mut cache[at];
        entry.uses += 1;
        entry.last_used = now;
        if entry.fd.is_some() && now.duration_since(entry.opened) >= caching.valid {
            entry.fd = None;
        }
        if entry.fd.is_none() {
            let fd = open_append(path)?;
            if entry.uses < caching.min_uses {
                return write_all(&fd, path, line);
            }
            entry.opened = now;
            entry.fd = Some(fd);
        }
        match &entry.fd {
            Some(fd) => write_all(fd, path, line),
            None => Ok(()),
        }
    })
}

fn write_all(fd: &OwnedFd, path: &Path, line: &[u8]) -> io::Result<()> {
    match write_once(fd, line, b"") {
        Ok(n) if n == line.len() => Ok(()),
        Ok(n) => Err(io::Error::other(format!(
            "write() to \"{}\" was incomplete: {n} of {}",
            path.display(),
            line.len()
        ))),
        Err(e) => Err(io::Error::other(format!(
            "write() to \"{}\" failed ({})",
            path.display(),
            super::OsErr(&io::Error::from_raw_os_error(e as i32))
        ))),
    }
}

/// Closes every kept file (at a reopen: the next line opens it by name).
pub fn close_all() {
    CACHE.with(|cache| cache.borrow_mut().clear());
}
