//! Storing a response: the header and the upstream's head are written to a temporary file
//! when the head is accepted, the body is appended as it is read, and the file is renamed
//! to the entry's name when the body is complete. A response that ends early (the upstream
//! broke off, the client went away) leaves no entry: the temporary file is removed. A
//! directory that cannot be written is logged once per fill and the response goes on.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::entry::Entry;
use super::header::{self, Header};

/// A response on its way into the cache.
#[derive(Debug)]
pub struct Fill {
    file: File,
    temp: PathBuf,
    target: PathBuf,
    written: u64,
    body_start: u64,
    failed: bool,
    /// The body comes chunk-framed (passed through to the client so): the entry keeps
    /// only the data, as nginx's does.
    chunks: Option<crate::http::chunked::ChunkedDecoder>,
    /// The request's claim on its key in the keys zone, with the entry's validity: told
    /// of the new file on commit, released otherwise.
    ticket: Option<(super::keys::Ticket, i64)>,
}

impl Fill {
    /// Starts the entry: `header` (its offsets are filled in here), the key and the
    /// upstream's `head`, in a temporary file under `temp_dir`.
    pub fn begin(
        entry: &Entry,
        mut header: Header,
        head: &[u8],
        temp_dir: &Path,
    ) -> io::Result<Fill> {
        let header_start = header::header_start(entry.key.len());
        let body_start = header_start + head.len();
        header.crc32 = entry.crc32;
        header.header_start = u16::try_from(header_start)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        header.body_start =
            u16::try_from(body_start).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let mut bytes = Vec::with_capacity(body_start);
        header.write(&entry.key, &mut bytes);
        bytes.extend_from_slice(head);
        let (file, temp) = crate::upstream::temp_file::create_named(temp_dir)?;
        let mut fill = Fill {
            file,
            temp,
            target: entry.path.clone(),
            written: 0,
            body_start: body_start as u64,
            failed: false,
            chunks: None,
            ticket: None,
        };
        fill.write(&bytes)?;
        Ok(fill)
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all_at(bytes, self.written)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// The keys zone is told of the entry when it is complete (`valid_sec`: its validity).
    pub fn hold(&mut self, ticket: super::keys::Ticket, valid_sec: i64) {
        self.ticket = Some((ticket, valid_sec));
    }

    /// The body bytes [`Fill::body`] gets carry HTTP/1.1 chunk framing.
    pub fn dechunk(&mut self) {
        self.chunks = Some(crate::http::chunked::ChunkedDecoder::new());
    }

    /// Appends body bytes; a failed write ends the fill (the error, once, for the log).
    pub fn body(&mut self, bytes: &[u8]) -> Option<io::Error> {
        if self.failed || bytes.is_empty() {
            return None;
        }
        let result = match self.chunks.take() {
            None => self.write(bytes),
            Some(mut decoder) => {
                let r = self.write_chunks(&mut decoder, bytes);
                self.chunks = Some(decoder);
                r
            }
        };
        let e = result.err()?;
        self.failed = true;
        Some(e)
    }

    fn write_chunks(
        &mut self,
        decoder: &mut crate::http::chunked::ChunkedDecoder,
        mut bytes: &[u8],
    ) -> io::Result<()> {
        use crate::http::chunked::Chunk;
        // The machine checked the framing already; a step that refuses ends the entry.
        let invalid = || io::Error::from(io::ErrorKind::InvalidData);
        while !bytes.is_empty() {
            match decoder.step(bytes).map_err(|_| invalid())? {
                Chunk::Data {
                    start,
                    end,
                    consumed,
                } => {
                    let data = bytes.get(start..end).ok_or_else(invalid)?;
                    self.write(data)?;
                    bytes = bytes.get(consumed..).ok_or_else(invalid)?;
                }
                Chunk::NeedMore { consumed } => {
                    bytes = bytes.get(consumed..).ok_or_else(invalid)?;
                    if consumed == 0 {
                        break;
                    }
                }
                Chunk::Done { .. } => break,
            }
        }
        Ok(())
    }

    /// The body is complete: the entry takes its name (level directories made as needed,
    /// mode 0700 as nginx's). An earlier failed write leaves no entry.
    pub fn commit(mut self) -> io::Result<()> {
        if self.failed {
            return Ok(());
        }
        let renamed = match std::fs::rename(&self.temp, &self.target) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(dir) = self.target.parent() {
                    create_levels(dir)?;
                }
                std::fs::rename(&self.temp, &self.target)
            }
            r => r,
        };
        renamed?;
        self.temp.clear();
        if let Some((ticket, valid_sec)) = self.ticket.take() {
            use std::os::unix::fs::MetadataExt;
            let fs_size = self
                .file
                .metadata()
                .map_or(self.written, |m| m.blocks() * 512);
            ticket.filled(valid_sec, self.body_start, fs_size);
        }
        Ok(())
    }
}

impl Drop for Fill {
    fn drop(&mut self) {
        if !self.temp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

fn create_levels(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::entry::{Found, find};
    use crate::cache::path_conf::parse;
    use std::time::Duration;

    #[test]
    fn a_filled_entry_is_found_and_a_damaged_one_is_not() {
        let dir = std::env::temp_dir().join(format!("portico-fill-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let args = vec![
            dir.display().to_string(),
            "levels=1:2".into(),
            "keys_zone=z:1m".into(),
        ];
        let conf = parse("proxy_cache_path", &args, Path::new("/")).unwrap();
        let entry = Entry::new(b"http://a/x".to_vec(), &conf);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
        let header = Header {
            valid_sec: now + 60,
            ..Header::default()
        };
        let mut fill = Fill::begin(&entry, header, head, &dir).unwrap();
        assert!(fill.body(b"hel").is_none());
        assert!(fill.body(b"lo").is_none());
        fill.commit().unwrap();
        let inactive = Duration::from_secs(600);
        let Found::Fresh(hit) = find(&entry, now, inactive, 4096, true).0 else {
            panic!("not found");
        };
        assert_eq!(&*hit.head, &head[..]);
        assert_eq!(hit.len - hit.body_start, 5);
        assert!(matches!(
            find(&entry, now + 61, inactive, 4096, true).0,
            Found::Expired(_)
        ));
        // Cut short: detected, removed.
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&entry.path)
            .unwrap();
        f.set_len(hit.len - 1).unwrap();
        let (found, damaged) = find(&entry, now, inactive, 4096, true);
        assert!(matches!(found, Found::Missing) && damaged.is_some());
        assert!(!entry.path.exists());
        // A fill dropped before its end leaves nothing.
        let fill = Fill::begin(&entry, Header::default(), head, &dir).unwrap();
        drop(fill);
        assert!(
            std::fs::read_dir(&dir)
                .unwrap()
                .all(|e| e.unwrap().path().is_dir())
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
