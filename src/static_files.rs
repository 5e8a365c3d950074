//! Static files: map a normalised URI to a file under `root`, open it once, and describe it
//! for the response (size, mtime, type). The body itself is sent by the connection with
//! `sendfile(2)` (or `pread` when `sendfile off`), never read whole into memory.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

use crate::config::{DisableSymlinks, LocSettings};

/// An opened regular file, ready to be sent.
#[derive(Debug)]
pub struct StaticFile<'a> {
    /// The open file.
    pub file: File,
    /// Its size in bytes.
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// `Content-Type`, from `types` by extension, else `default_type`.
    pub content_type: &'a str,
}

/// What a URI maps to.
#[derive(Debug)]
pub enum Lookup<'a> {
    /// A regular file.
    File(StaticFile<'a>),
    /// A directory requested without its trailing slash: 301 to `uri/`.
    DirectoryRedirect,
    /// An error status (403, 404, 500) and, when nginx logs it, the error-log message.
    Error(u16, Option<String>),
}

/// Resolves `uri` (already normalised: starts with `/`, no `.`/`..` segments, no NUL) under
/// `loc.root`. `path` is a reusable buffer that holds the file's path afterwards.
pub fn lookup<'a>(loc: &'a LocSettings, uri: &[u8], path: &mut Vec<u8>) -> Lookup<'a> {
    path.clear();
    path.extend_from_slice(loc.root.as_os_str().as_bytes());
    path.extend_from_slice(uri);
    if uri.ends_with(b"/") {
        return lookup_index(loc, path);
    }
    let root_len = loc.root.as_os_str().len();
    match open_file(path, loc.disable_symlinks, root_len) {
        Ok((file, meta)) => {
            if meta.is_dir() {
                return Lookup::DirectoryRedirect;
            }
            if !meta.is_file() {
                return Lookup::Error(
                    404,
                    Some(format!("\"{}\" is not a regular file", show(path))),
                );
            }
            let content_type = content_type(loc, uri);
            Lookup::File(StaticFile {
                file,
                size: meta.len(),
                mtime: meta.mtime(),
                content_type,
            })
        }
        Err(e) => open_error(loc, path, &e),
    }
}

/// A URI ending in `/`: the first `index` file that exists. (nginx does an internal redirect
/// to it; the routing issue makes that re-run location matching.)
fn lookup_index<'a>(loc: &'a LocSettings, path: &mut Vec<u8>) -> Lookup<'a> {
    let dir_len = path.len();
    let root_len = loc.root.as_os_str().len();
    for index in &loc.index {
        path.truncate(dir_len);
        path.extend_from_slice(index.as_bytes());
        match open_file(path, loc.disable_symlinks, root_len) {
            Ok((file, meta)) if meta.is_file() => {
                let content_type = content_type(loc, index.as_bytes());
                return Lookup::File(StaticFile {
                    file,
                    size: meta.len(),
                    mtime: meta.mtime(),
                    content_type,
                });
            }
            Ok(_) => continue,
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR)) => {
                continue;
            }
            Err(e) => return open_error(loc, path, &e),
        }
    }
    path.truncate(dir_len);
    match std::fs::metadata(OsStr::from_bytes(path)) {
        Ok(m) if m.is_dir() => Lookup::Error(
            403,
            Some(format!(
                "directory index of \"{}\" is forbidden",
                show(path)
            )),
        ),
        Ok(_) | Err(_) => {
            if let Some(first) = loc.index.first() {
                path.extend_from_slice(first.as_bytes());
            }
            let msg = format!(
                "\"{}\" is not found (2: No such file or directory)",
                show(path)
            );
            Lookup::Error(404, loc.log_not_found.then_some(msg))
        }
    }
}

fn open_file(
    path: &[u8],
    symlinks: DisableSymlinks,
    root_len: usize,
) -> io::Result<(File, std::fs::Metadata)> {
    let file = match symlinks {
        DisableSymlinks::Off => std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(OsStr::from_bytes(path))?,
        DisableSymlinks::On => open_no_symlinks(path, 0)?,
        DisableSymlinks::FromDocumentRoot => open_no_symlinks(path, root_len)?,
    };
    let meta = file.metadata()?;
    Ok((file, meta))
}

/// nginx's `ngx_open_file_wrapper` under `disable_symlinks on`: the path is opened one
/// component at a time with `openat(O_NOFOLLOW)`, so a symbolic link anywhere after the first
/// `trusted` bytes fails: `ELOOP` for the file itself (403), `ENOTDIR` for a directory (404),
/// as in nginx. Checking each component on the way, rather than resolving the path and
/// comparing, leaves no window for a link swapped in between the check and the open.
fn open_no_symlinks(path: &[u8], trusted: usize) -> io::Result<File> {
    use std::ffi::CString;
    use std::os::fd::AsRawFd;
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

fn open_error<'a>(loc: &LocSettings, path: &[u8], e: &io::Error) -> Lookup<'a> {
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
            Lookup::Error(404, loc.log_not_found.then_some(msg))
        }
        Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::ELOOP) | Some(libc::EMLINK) => {
            Lookup::Error(403, Some(msg))
        }
        _ => Lookup::Error(500, Some(msg)),
    }
}

fn show(path: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(path)
}

/// `Content-Type` for a path: its extension (after the last `.` of the last segment,
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
