//! A request body read whole before the upstream is chosen (`proxy_request_buffering on`,
//! nginx's default): kept in memory up to `client_body_buffer_size`, and beyond that in a
//! temporary file under `client_body_temp_path`, as `ngx_http_read_client_request_body`
//! does. It is then sent upstream with its length, and sent again from the start when
//! `proxy_next_upstream` tries another server.
//!
//! The file is unlinked as soon as it is created (nginx removes it when the request ends):
//! nothing is left behind by a worker that dies. Writes and reads are blocking, as nginx's.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::config::writer::BodyInFile;
use crate::config::{Config, LocSettings};

/// Bytes read from the file per upstream write.
const FILE_CHUNK: usize = 64 * 1024;

/// The body, in memory or in its file.
#[derive(Default)]
pub struct StoredBody {
    mem: Vec<u8>,
    file: Option<File>,
    /// The file's name (`$request_body_file`).
    path: Option<PathBuf>,
    /// `client_body_in_file_only`: the body goes to a named file from its first byte,
    /// kept (`on`) or removed with the body (`clean`).
    file_only: BodyInFile,
    len: u64,
    /// Bytes of the file at `chunk_at`, for the upstream writes.
    chunk: Vec<u8>,
    chunk_at: u64,
}

impl Drop for StoredBody {
    fn drop(&mut self) {
        if self.file_only == BodyInFile::Clean
            && let Some(path) = &self.path
        {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl StoredBody {
    /// An empty body stored as `client_body_in_file_only` says.
    pub fn new(file_only: BodyInFile) -> StoredBody {
        let mut body = StoredBody::default();
        body.file_only = file_only;
        body
    }

    /// The name of the body's temporary file, once it has one (`$request_body_file`). A
    /// file made only because the body outgrew `client_body_buffer_size` is already
    /// unlinked: the name is what it had.
    pub fn file_path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The body is kept in a file however small (`client_body_in_file_only`).
    pub fn file_only(&self) -> bool {
        self.file_only != BodyInFile::Off
    }

    /// The body's length so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Nothing stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The whole body when it is in memory (`$request_body`); `None` once it moved to its
    /// temporary file, as nginx's variable has no value then.
    pub fn in_memory(&self) -> Option<&[u8]> {
        self.file.is_none().then_some(&self.mem[..])
    }

    /// A second handle on the same body for another request that sends it (a mirror
    /// subrequest, as nginx's subrequests share `r->request_body`): the bytes in memory
    /// are copied, a file is shared through a duplicated descriptor and stays this body's
    /// to remove.
    pub fn share(&self) -> io::Result<StoredBody> {
        Ok(StoredBody {
            mem: self.mem.clone(),
            file: self.file.as_ref().map(File::try_clone).transpose()?,
            path: self.path.clone(),
            file_only: BodyInFile::Off,
            len: self.len,
            chunk: Vec::new(),
            chunk_at: 0,
        })
    }

    /// Appends `data`. Past `limit` bytes in memory, everything moves to a new temporary
    /// file under `dir`; its path is returned then (for nginx's warn line).
    pub fn append(&mut self, data: &[u8], limit: usize, dir: &Path) -> io::Result<Option<PathBuf>> {
        let mut spilled = None;
        if let Some(file) = &self.file {
            file.write_all_at(data, self.len)?;
        } else if self.mem.len() + data.len() <= limit && !self.file_only() {
            self.mem.extend_from_slice(data);
        } else {
            let (file, path) = if self.file_only() {
                super::temp_file::create_named(dir)?
            } else {
                super::temp_file::create(dir)?
            };
            file.write_all_at(&self.mem, 0)?;
            file.write_all_at(data, self.mem.len() as u64)?;
            self.mem = Vec::new();
            self.file = Some(file);
            self.path = Some(path.clone());
            spilled = Some(path);
        }
        self.len += data.len() as u64;
        Ok(spilled)
    }

    /// The bytes from `pos` on that are at hand (a window of the file, read when needed).
    pub fn bytes_at(&mut self, pos: u64) -> io::Result<&[u8]> {
        let Some(file) = &self.file else {
            let from = (pos as usize).min(self.mem.len());
            return Ok(&self.mem[from..]);
        };
        let cached = self.chunk_at..self.chunk_at + self.chunk.len() as u64;
        if !cached.contains(&pos) {
            let want = (self.len.saturating_sub(pos) as usize).min(FILE_CHUNK);
            self.chunk.resize(want, 0);
            file.read_exact_at(&mut self.chunk, pos)?;
            self.chunk_at = pos;
        }
        let from = (pos - self.chunk_at) as usize;
        Ok(&self.chunk[from..])
    }
}

/// nginx's `ngx_create_paths`: every `client_body_temp_path`, `proxy_temp_path`,
/// `fastcgi_temp_path`, `uwsgi_temp_path` and `scgi_temp_path` of the configuration is
/// created (mode 0700) at startup and reload, and given to the workers' user when the
/// master runs as root. Errors are returned as nginx's `[emerg]` text.
pub fn create_temp_paths(config: &Config, user: Option<(u32, u32)>) -> Result<(), String> {
    let Some(http) = &config.http else {
        return Ok(());
    };
    let mut paths: Vec<&Path> = Vec::new();
    for server in &http.servers {
        let mut locs: Vec<&LocSettings> = vec![&server.loc];
        let mut stack: Vec<&crate::config::LocationConf> = server.locations.iter().collect();
        while let Some(l) = stack.pop() {
            locs.push(&l.loc);
            stack.extend(l.nested.iter());
        }
        for loc in locs {
            let cgi = [&loc.fastcgi, &loc.uwsgi, &loc.scgi]
                .into_iter()
                .filter_map(|c| c.temp_path.as_ref());
            for p in [&loc.client_body_temp_path, &loc.proxy_temp_path]
                .into_iter()
                .chain(cgi)
            {
                if !paths.contains(&p.as_path()) {
                    paths.push(p);
                }
            }
        }
    }
    // ---- cache (issue 19) ----: each cache's directory, as nginx's ngx_create_paths.
    for c in &http.caches {
        if !paths.contains(&c.path.dir.as_path()) {
            paths.push(&c.path.dir);
        }
    }
    for path in paths {
        use std::os::unix::fs::DirBuilderExt;
        if let Err(e) = std::fs::DirBuilder::new().mode(0o700).create(path)
            && e.kind() != io::ErrorKind::AlreadyExists
        {
            return Err(format!(
                "mkdir() \"{}\" failed ({})",
                path.display(),
                crate::sys::errno_text(&e)
            ));
        }
        if let Some((uid, _)) = user {
            use std::os::unix::fs::MetadataExt;
            let owned = std::fs::metadata(path).is_ok_and(|m| m.uid() == uid);
            if !owned && let Err(e) = std::os::unix::fs::chown(path, Some(uid), None) {
                return Err(format!(
                    "chown(\"{}\", {uid}) failed ({})",
                    path.display(),
                    crate::sys::errno_text(&e)
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_body_stays_in_memory_large_one_spills_and_reads_back() {
        let dir = std::env::temp_dir().join(format!("portico-body-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let mut body = StoredBody::default();
        assert_eq!(body.append(b"hello ", 16, &dir).expect("append"), None);
        let spilled = body.append(&[b'x'; 100_000], 16, &dir).expect("append");
        let path = spilled.expect("spilled to a file");
        assert!(!path.exists(), "the file is unlinked at once");
        body.append(b"end", 16, &dir).expect("append");
        assert_eq!(body.len(), 100_009);
        let mut all = Vec::new();
        while (all.len() as u64) < body.len() {
            let got = body.bytes_at(all.len() as u64).expect("read").to_vec();
            assert!(!got.is_empty());
            all.extend_from_slice(&got);
        }
        assert!(all.starts_with(b"hello xx"));
        assert!(all.ends_with(b"xxend"));
        let _ = std::fs::remove_dir(&dir);
    }
}
