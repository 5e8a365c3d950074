//! Temporary files of a request (its body, its upstream's response): created under a
//! `*_temp_path` directory with nginx's ten-digit names, and unlinked at once, so nothing is
//! left behind by a worker that dies (nginx removes them when the request ends).

use std::fs::File;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Creates `dir/NNNNNNNNNN` (O_EXCL, mode 0600, nginx's ten-digit names) and unlinks it.
pub fn create(dir: &Path) -> io::Result<(File, PathBuf)> {
    create_file(dir, true)
}

/// Creates `dir/NNNNNNNNNN` as [`create`] does, and leaves it in place (a request body
/// kept by `client_body_in_file_only`).
pub fn create_named(dir: &Path) -> io::Result<(File, PathBuf)> {
    create_file(dir, false)
}

fn create_file(dir: &Path, unlink: bool) -> io::Result<(File, PathBuf)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    // One counter per worker process; the pid keeps two workers' names apart.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let base = u64::from(std::process::id()) * 1_000_003;
    for _ in 0..100 {
        let n = (base + NEXT.fetch_add(1, Ordering::Relaxed)) % 10_000_000_000;
        let path = dir.join(format!("{n:010}"));
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(file) => {
                if unlink {
                    let _ = std::fs::remove_file(&path);
                }
                return Ok((file, path));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::from(io::ErrorKind::AlreadyExists))
}
