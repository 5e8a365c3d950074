//! Log files: open for append, write a line in one `write(2)`, reopen in place (USR1).

use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{Mode, fchmod, fstat};
use nix::unistd::{Uid, dup3, fchown};

use super::OsErr;

/// Permissions of a newly created log file (nginx's `NGX_FILE_DEFAULT_ACCESS`).
const LOG_FILE_MODE: u32 = 0o644;

/// Opens `path` with `O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC`, mode 0644. The error's text is
/// nginx's: `open() "/path" failed (13: Permission denied)`.
pub(super) fn open_append(path: &Path) -> io::Result<OwnedFd> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(LOG_FILE_MODE)
        .open(path)
        .map(OwnedFd::from)
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("open() \"{}\" failed ({})", path.display(), OsErr(&e)),
            )
        })
}

/// Opens `path` anew and puts the new file under `fd`'s number, so every holder of the old
/// number (and the error log's `stderr` redirect) writes to the new file from now on.
pub(super) fn reopen_onto(path: &Path, fd: &mut OwnedFd, owner: Option<u32>) -> io::Result<()> {
    let new = open_append(path)?;
    if let Some(uid) = owner {
        chown_fd(&new, path, uid)?;
    }
    dup3(&new, fd, OFlag::O_CLOEXEC)
        .map_err(|e| errno_error(e, format_args!("dup3() onto \"{}\"", path.display())))
}

/// Gives the file to the worker user as nginx's `ngx_reopen_files` does, making sure that user
/// can still read and write it.
pub(super) fn chown_fd(fd: &OwnedFd, path: &Path, uid: u32) -> io::Result<()> {
    // The owner only, as nginx's ngx_reopen_files (`chown(name, user, -1)`): the group
    // stays what the file was created with (logrotate's `create 0640 www-data adm`).
    fchown(fd, Some(Uid::from_raw(uid)), None)
        .map_err(|e| errno_error(e, format_args!("chown(\"{}\", {uid})", path.display())))?;
    let st =
        fstat(fd).map_err(|e| errno_error(e, format_args!("fstat(\"{}\")", path.display())))?;
    let rw: libc::mode_t = libc::S_IRUSR | libc::S_IWUSR;
    if st.st_mode & rw != rw {
        let mode = Mode::from_bits_truncate((st.st_mode | rw) & 0o7777);
        fchmod(fd, mode)
            .map_err(|e| errno_error(e, format_args!("chmod(\"{}\")", path.display())))?;
    }
    Ok(())
}

/// One `write(2)` of `head` followed by `tail` (a `writev` when `tail` is not empty), so a
/// line from this process is never split around a line from another: with `O_APPEND` each
/// call is one atomic append.
pub(super) fn write_once(fd: impl AsFd, head: &[u8], tail: &[u8]) -> Result<usize, Errno> {
    if tail.is_empty() {
        nix::unistd::write(fd, head)
    } else {
        nix::sys::uio::writev(fd, &[io::IoSlice::new(head), io::IoSlice::new(tail)])
    }
}

/// An `io::Error` reading `what failed (N: text)`, nginx's wording.
fn errno_error(e: Errno, what: std::fmt::Arguments<'_>) -> io::Error {
    let err = io::Error::from_raw_os_error(e as i32);
    io::Error::new(err.kind(), format!("{what} failed ({})", OsErr(&err)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn open_failure_reads_like_nginx() {
        let err = open_append(Path::new("/nonexistent-dir-portico/x.log")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "open() \"/nonexistent-dir-portico/x.log\" failed (2: No such file or directory)"
        );
    }

    #[test]
    fn creates_with_mode_0644_and_appends() {
        let dir = std::env::temp_dir().join(format!("portico-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.log");
        let _ = std::fs::remove_file(&path);
        let fd = open_append(&path).unwrap();
        assert_eq!(write_once(&fd, b"one\n", b""), Ok(4));
        assert_eq!(write_once(&fd, b"two", b"\n"), Ok(4));
        assert_eq!(std::fs::read(&path).unwrap(), b"one\ntwo\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & !0o022, 0o644 & !0o022); // the umask may take bits away, never add
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
