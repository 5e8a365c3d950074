//! Static files: open a mapped path and describe it for the response (size, mtime), through
//! the per-worker [`cache::FileCache`]; find a directory's `index` file; list a directory
//! for `autoindex`. The body is sent by the connection with `sendfile(2)` (or `pread` when
//! `sendfile off`); only small files the cache holds in memory go out with the head in one
//! write.

pub mod autoindex;
pub mod cache;

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::rc::Rc;
use std::time::Instant;

use crate::config::{DisableSymlinks, LocSettings};
use crate::sys::FileStamp;
use crate::vars::VarSource;
pub use cache::FileCache;

/// An opened regular file, ready to be sent.
#[derive(Debug)]
pub struct StaticFile {
    /// The open file, shared with the worker's [`FileCache`] (a response may outlive the
    /// cache entry).
    pub file: Rc<File>,
    /// Its size in bytes.
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Its bytes, when the cache holds them (small files that have settled).
    pub content: Option<Rc<[u8]>>,
}

/// What a path is.
#[derive(Debug)]
pub enum Entry {
    /// A regular file.
    File(StaticFile),
    /// A directory (requested without its trailing slash: 301 to `uri/`).
    Directory,
    /// An error status (403, 404, 500) and, when nginx logs it, the error-log message.
    Error(u16, Option<String>),
}

/// Opens `path` for `loc` through the worker's cache (see [`cache`] for its two policies).
pub fn open(cache: &mut FileCache, loc: &LocSettings, path: &[u8], now: Instant) -> Entry {
    cache.open(&cache::Policy::of(loc), loc, path, now)
}

fn describe(file: Rc<File>, stamp: &FileStamp, path: &[u8]) -> Entry {
    if stamp.is_dir() {
        return Entry::Directory;
    }
    if !stamp.is_file() {
        return Entry::Error(
            404,
            Some(format!("\"{}\" is not a regular file", show(path))),
        );
    }
    Entry::File(StaticFile {
        file,
        size: stamp.size,
        mtime: stamp.mtime.0,
        content: None,
    })
}

/// What the `index` files of a directory give.
#[derive(Debug)]
pub enum IndexLookup {
    /// This `index` name exists (or is a URI of its own): internally redirect to the URI
    /// plus it.
    Found(Vec<u8>),
    /// The directory exists but holds none of them (autoindex, or 403).
    NoIndex,
    /// The directory itself is missing (404) or unreadable.
    Error(u16, Option<String>),
}

/// nginx's index module: the first `index` name that exists under `dir` (a path ending in
/// `/`), names with variables evaluated by `src`. A name starting with `/` is a URI of its
/// own and is not tested (only the last name may be written so; one made by variables may
/// come out so anywhere).
pub fn find_index(loc: &LocSettings, dir: &[u8], src: &dyn VarSource) -> IndexLookup {
    let mut path = Vec::with_capacity(dir.len() + 16);
    let mut evaluated = Vec::new();
    for index in &loc.index {
        let name = match index.is_literal() {
            Some(name) => name,
            None => {
                evaluated.clear();
                index.eval(src, &mut evaluated);
                &evaluated
            }
        };
        if name.starts_with(b"/") {
            return IndexLookup::Found(name.to_vec());
        }
        path.clear();
        path.extend_from_slice(dir);
        path.extend_from_slice(name);
        // nginx's ngx_http_index_error: a missing name tries the next one; a path that
        // cannot exist is 404, one we may not read 403.
        match std::fs::metadata(OsStr::from_bytes(&path)) {
            Ok(_) => return IndexLookup::Found(name.to_vec()),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENOTDIR) | Some(libc::ENAMETOOLONG)
                ) =>
            {
                let msg = format!(
                    "\"{}\" is not found ({})",
                    show(&path),
                    crate::sys::errno_text(&e)
                );
                return IndexLookup::Error(404, loc.log_not_found.then_some(msg));
            }
            Err(e) if is_access(&e) => {
                let msg = format!(
                    "\"{}\" is forbidden ({})",
                    show(&path),
                    crate::sys::errno_text(&e)
                );
                return IndexLookup::Error(403, Some(msg));
            }
            Err(e) => {
                let msg = format!(
                    "stat() \"{}\" failed ({})",
                    show(&path),
                    crate::sys::errno_text(&e)
                );
                return IndexLookup::Error(500, Some(msg));
            }
        }
    }
    match std::fs::metadata(OsStr::from_bytes(dir)) {
        Ok(m) if m.is_dir() => IndexLookup::NoIndex,
        _ => {
            path.clear();
            path.extend_from_slice(dir);
            if let Some(first) = loc.index.first() {
                first.eval(src, &mut path);
            }
            let msg = format!(
                "\"{}\" is not found (2: No such file or directory)",
                show(&path)
            );
            IndexLookup::Error(404, loc.log_not_found.then_some(msg))
        }
    }
}

fn is_access(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::EPERM))
}

/// Opens `path` as `loc` allows (following symbolic links, or with `disable_symlinks` not)
/// and stats the open file once.
fn open_file(path: &[u8], loc: &LocSettings) -> io::Result<(File, FileStamp)> {
    let root_len = loc.root.as_os_str().len();
    let file = match loc.disable_symlinks {
        DisableSymlinks::Off => std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(OsStr::from_bytes(path))?,
        DisableSymlinks::On => open_no_symlinks(path, 0)?,
        DisableSymlinks::FromDocumentRoot => open_no_symlinks(path, root_len)?,
    };
    let stamp = crate::sys::stat_fd(file.as_raw_fd())?;
    read_ahead(&file, stamp.size, path, loc.read_ahead);
    Ok((file, stamp))
}

/// nginx's `NGX_MIN_READ_AHEAD`: smaller files are not worth the advice.
const MIN_READ_AHEAD: u64 = 128 * 1024;

/// `read_ahead SIZE` (not 0) on Linux: nginx's `ngx_read_ahead`, which tells the kernel the
/// file will be read sequentially (`posix_fadvise(POSIX_FADV_SEQUENTIAL)`, which doubles its
/// read-ahead window; the size itself is not used on Linux, as in nginx), for files over
/// 128 KiB, once per open.
fn read_ahead(file: &File, size: u64, path: &[u8], read_ahead: u64) {
    if read_ahead == 0 || size <= MIN_READ_AHEAD {
        return;
    }
    // SAFETY: the descriptor is open for the call's duration.
    let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_SEQUENTIAL) };
    if rc != 0 {
        crate::elog!(
            crate::log::LogLevel::Alert,
            "posix_fadvise(POSIX_FADV_SEQUENTIAL) \"{}\" failed ({})",
            String::from_utf8_lossy(path),
            crate::log::OsErr(&std::io::Error::from_raw_os_error(rc))
        );
    }
}

/// nginx's `ngx_open_file_wrapper` under `disable_symlinks on`: the path is opened one
/// component at a time with `openat(O_NOFOLLOW)`, so a symbolic link anywhere after the first
/// `trusted` bytes fails: `ELOOP` for the file itself (403), `ENOTDIR` for a directory (404),
/// as in nginx. Checking each component on the way, rather than resolving the path and
/// comparing, leaves no window for a link swapped in between the check and the open.
fn open_no_symlinks(path: &[u8], trusted: usize) -> io::Result<File> {
    use std::ffi::CString;
    let invalid = |_| io::Error::from_raw_os_error(libc::ENOENT);
    let trusted = trusted.min(path.len());
    let (start, rest): (&[u8], &[u8]) = match (trusted, path.first()) {
        (0, Some(b'/')) => (b"/", &path[1..]),
        (0, _) => (b".", path),
        (n, _) => (&path[..n], &path[n..]),
    };
    let mut dir = crate::sys::openat(
        None,
        &CString::new(start).map_err(invalid)?,
        libc::O_PATH | libc::O_DIRECTORY,
    )?;
    let mut parts = rest
        .split(|&b| b == b'/')
        .filter(|p| !p.is_empty())
        .peekable();
    while let Some(part) = parts.next() {
        let name = CString::new(part).map_err(invalid)?;
        if parts.peek().is_none() {
            let fd = crate::sys::openat(
                Some(dir.as_raw_fd()),
                &name,
                libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOFOLLOW,
            )?;
            return Ok(File::from(fd));
        }
        dir = crate::sys::openat(
            Some(dir.as_raw_fd()),
            &name,
            libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
        )?;
    }
    // The path is the trusted part itself.
    crate::sys::openat(
        Some(dir.as_raw_fd()),
        c".",
        libc::O_RDONLY | libc::O_NONBLOCK,
    )
    .map(File::from)
}

fn open_error(loc: &LocSettings, path: &[u8], e: &io::Error) -> Entry {
    // nginx names the call it made: `openat()` when it walked the path for disable_symlinks.
    let call = match loc.disable_symlinks {
        DisableSymlinks::Off => "open()",
        _ => "openat()",
    };
    let msg = format!(
        "{call} \"{}\" failed ({})",
        show(path),
        crate::sys::errno_text(e)
    );
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) | Some(libc::ENAMETOOLONG) => {
            Entry::Error(404, loc.log_not_found.then_some(msg))
        }
        Some(libc::ELOOP) | Some(libc::EMLINK) => Entry::Error(403, Some(msg)),
        _ if is_access(e) => Entry::Error(403, Some(msg)),
        _ => Entry::Error(500, Some(msg)),
    }
}

fn show(path: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(path)
}

/// `Content-Type` for a URI: its extension (after the last `.` of the last segment,
/// lowercased) looked up in `types`, else `default_type`.
pub fn content_type<'a>(loc: &'a LocSettings, path: &[u8]) -> &'a str {
    let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
    let Some(dot) = memchr::memrchr(b'.', name) else {
        return &loc.default_type;
    };
    let ext = &name[dot + 1..];
    let mut lower = [0u8; 32];
    if ext.is_empty() || ext.len() > lower.len() {
        return &loc.default_type;
    }
    for (d, s) in lower.iter_mut().zip(ext) {
        *d = s.to_ascii_lowercase();
    }
    match std::str::from_utf8(&lower[..ext.len()]) {
        Ok(e) => loc.types.get(e).map_or(&loc.default_type, |t| t.as_str()),
        Err(_) => &loc.default_type,
    }
}
