//! A cache file's header, byte for byte as nginx 1.22 on x86-64 writes it
//! (`ngx_http_file_cache_header_t`, then `"\nKEY: "`, the key and `"\n"`), so a cache
//! directory moves between nginx and Portico both ways. The upstream's response head
//! follows at `header_start`, its body at `body_start`.
//!
//! ```text
//!   0 version u64 (5)   8 valid_sec   16 updating_sec   24 error_sec   32 last_modified
//!  40 date             48 crc32 u32  52 valid_msec u16 54 header_start 56 body_start u16
//!  58 etag_len u8      59 etag[128] 187 vary_len u8    188 vary[128]   316 variant[16]
//! 336 "\nKEY: " key "\n"   header_start: "HTTP/1.1 200 OK\r\n..."   body_start: body
//! ```
//!
//! Reading checks what nginx's `ngx_http_file_cache_read` checks, with its log lines: a
//! file shorter than its header, another version, another key (CRC32, length or bytes: an
//! MD5 collision or a file moved by hand), a body that starts past what a header may hold.

/// `NGX_HTTP_CACHE_VERSION` in nginx 1.22.
pub const VERSION: u64 = 5;
/// `sizeof(ngx_http_file_cache_header_t)` on a 64-bit Linux.
pub const SIZE: usize = 336;
/// What precedes the key (`ngx_http_file_cache_key`, no NUL).
pub const KEY_PREFIX: &[u8] = b"\nKEY: ";
/// `NGX_HTTP_CACHE_ETAG_LEN`: a longer ETag is not kept (no revalidation with it).
pub const ETAG_LEN: usize = 128;
/// `NGX_HTTP_CACHE_VARY_LEN`: a longer Vary is not cached at all.
pub const VARY_LEN: usize = 128;

/// The fixed part of a cache file's header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// Until when (unix seconds) the response is fresh.
    pub valid_sec: i64,
    /// `stale-while-revalidate`: seconds after `valid_sec` it may be served while updating.
    pub updating_sec: i64,
    /// `stale-if-error`: seconds after `valid_sec` it may be served on an upstream error.
    pub error_sec: i64,
    /// The response's Last-Modified (unix seconds, -1 when none).
    pub last_modified: i64,
    /// When it was stored (unix seconds; the Age of a hit counts from here in later nginx).
    pub date: i64,
    /// CRC32 of the key.
    pub crc32: u32,
    /// Milliseconds part of `valid_sec` (nginx always writes 0).
    pub valid_msec: u16,
    /// Offset of the upstream's response head.
    pub header_start: u16,
    /// Offset of the body.
    pub body_start: u16,
    /// The response's ETag (empty when none or longer than [`ETAG_LEN`]).
    pub etag: Vec<u8>,
    /// The response's Vary value (empty when none).
    pub vary: Vec<u8>,
    /// MD5 of the request headers Vary names (zeros when no Vary).
    pub variant: [u8; 16],
}

/// Why a cache file is not used (nginx's log line names the file after "cache file").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    /// Shorter than its header and key (`crit`: "is too small").
    TooSmall,
    /// Another format (`info`: "version mismatch"); replaced, not an error.
    Version,
    /// Another key (`crit`: "has md5 collision").
    Collision,
    /// The body starts past the buffer the head may take (`crit`: "has too long header").
    TooLongHeader,
    /// `crit`: "has incorrect vary length".
    VaryLength,
}

impl Unusable {
    /// nginx's words after `cache file "PATH"`.
    pub fn words(self) -> &'static str {
        match self {
            Self::TooSmall => "is too small",
            Self::Version => "version mismatch",
            Self::Collision => "has md5 collision",
            Self::TooLongHeader => "has too long header",
            Self::VaryLength => "has incorrect vary length",
        }
    }

    /// Whether nginx logs it at `crit` (else `info`).
    pub fn is_critical(self) -> bool {
        !matches!(self, Self::Version)
    }
}

/// Where the response head starts for a key of `key_len` bytes.
pub fn header_start(key_len: usize) -> usize {
    SIZE + KEY_PREFIX.len() + key_len + 1
}

impl Header {
    /// Appends the header, the key line and nothing else to `out` (the response head is
    /// written after it, at [`header_start`]).
    pub fn write(&self, key: &[u8], out: &mut Vec<u8>) {
        let at = out.len();
        out.resize(at + SIZE, 0);
        let h = &mut out[at..];
        h[0..8].copy_from_slice(&VERSION.to_le_bytes());
        h[8..16].copy_from_slice(&self.valid_sec.to_le_bytes());
        h[16..24].copy_from_slice(&self.updating_sec.to_le_bytes());
        h[24..32].copy_from_slice(&self.error_sec.to_le_bytes());
        h[32..40].copy_from_slice(&self.last_modified.to_le_bytes());
        h[40..48].copy_from_slice(&self.date.to_le_bytes());
        h[48..52].copy_from_slice(&self.crc32.to_le_bytes());
        h[52..54].copy_from_slice(&self.valid_msec.to_le_bytes());
        h[54..56].copy_from_slice(&self.header_start.to_le_bytes());
        h[56..58].copy_from_slice(&self.body_start.to_le_bytes());
        if self.etag.len() <= ETAG_LEN {
            h[58] = self.etag.len() as u8;
            h[59..59 + self.etag.len()].copy_from_slice(&self.etag);
        }
        let vary = &self.vary[..self.vary.len().min(VARY_LEN)];
        h[187] = vary.len() as u8;
        h[188..188 + vary.len()].copy_from_slice(vary);
        h[316..332].copy_from_slice(&self.variant);
        out.extend_from_slice(KEY_PREFIX);
        out.extend_from_slice(key);
        out.push(b'\n');
    }

    /// Reads the header at the start of `file` (at least [`header_start`] bytes of it) and
    /// checks it belongs to `key` (whose CRC32 is `crc32`); `max_body_start` is the most a
    /// head may take (`*_buffer_size` plus the header, nginx's `c->body_start`).
    pub fn read(
        file: &[u8],
        key: &[u8],
        crc32: u32,
        max_body_start: usize,
    ) -> Result<Header, Unusable> {
        let start = header_start(key.len());
        if file.len() < start {
            return Err(Unusable::TooSmall);
        }
        let u64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&file[i..i + 8]);
            u64::from_le_bytes(b)
        };
        let i64_at = |i: usize| u64_at(i) as i64;
        let u16_at = |i: usize| u16::from_le_bytes([file[i], file[i + 1]]);
        if u64_at(0) != VERSION {
            return Err(Unusable::Version);
        }
        let stored_crc = u32::from_le_bytes([file[48], file[49], file[50], file[51]]);
        let header_start = u16_at(54);
        if stored_crc != crc32 || usize::from(header_start) != start {
            return Err(Unusable::Collision);
        }
        if &file[SIZE + KEY_PREFIX.len()..start - 1] != key {
            return Err(Unusable::Collision);
        }
        let body_start = u16_at(56);
        if usize::from(body_start) > max_body_start || body_start < header_start {
            return Err(Unusable::TooLongHeader);
        }
        let vary_len = usize::from(file[187]);
        if vary_len > VARY_LEN {
            return Err(Unusable::VaryLength);
        }
        let etag_len = usize::from(file[58]).min(ETAG_LEN);
        let mut variant = [0u8; 16];
        variant.copy_from_slice(&file[316..332]);
        Ok(Header {
            valid_sec: i64_at(8),
            updating_sec: i64_at(16),
            error_sec: i64_at(24),
            last_modified: i64_at(32),
            date: i64_at(40),
            crc32: stored_crc,
            valid_msec: u16_at(52),
            header_start,
            body_start,
            etag: file[59..59 + etag_len].to_vec(),
            vary: file[188..188 + vary_len].to_vec(),
            variant,
        })
    }
}

/// Rewrites the times in the header of the cache file at `path` in place (nginx's
/// `ngx_http_file_cache_update_header` after a revalidation): `valid_sec`, the
/// `stale-while-revalidate`/`stale-if-error` times when given, and `date`.
pub fn refresh(
    path: &std::path::Path,
    valid_sec: i64,
    updating_error: Option<(i64, i64)>,
    date: i64,
) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    let mut version = [0u8; 8];
    file.read_exact_at(&mut version, 0)?;
    if u64::from_le_bytes(version) != VERSION {
        return Ok(());
    }
    file.write_all_at(&valid_sec.to_le_bytes(), 8)?;
    if let Some((updating, error)) = updating_error {
        file.write_all_at(&updating.to_le_bytes(), 16)?;
        file.write_all_at(&error.to_le_bytes(), 24)?;
    }
    file.write_all_at(&date.to_le_bytes(), 40)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::md5::crc32;

    fn sample(key: &[u8]) -> (Header, Vec<u8>) {
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
        let start = header_start(key.len());
        let h = Header {
            valid_sec: 1_700_000_600,
            last_modified: -1,
            date: 1_700_000_000,
            crc32: crc32(&[key]),
            header_start: start as u16,
            body_start: (start + head.len()) as u16,
            etag: b"\"abc\"".to_vec(),
            ..Header::default()
        };
        let mut file = Vec::new();
        h.write(key, &mut file);
        assert_eq!(file.len(), start);
        file.extend_from_slice(head);
        file.extend_from_slice(b"ok");
        (h, file)
    }

    #[test]
    fn a_written_header_reads_back() {
        let key = b"httplocalhost/x";
        let (h, file) = sample(key);
        assert_eq!(&file[SIZE..SIZE + 6], b"\nKEY: ");
        assert_eq!(Header::read(&file, key, crc32(&[key]), 4096), Ok(h));
    }

    #[test]
    fn refresh_rewrites_the_times_in_place() {
        let key = b"httplocalhost/x";
        let (h, file) = sample(key);
        let path = std::env::temp_dir().join(format!("portico-refresh-{}", std::process::id()));
        std::fs::write(&path, &file).unwrap();
        refresh(&path, 1_800_000_000, Some((5, 7)), 1_799_999_000).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        let read = Header::read(&bytes, key, crc32(&[key]), 4096).unwrap();
        let want = Header {
            valid_sec: 1_800_000_000,
            updating_sec: 5,
            error_sec: 7,
            date: 1_799_999_000,
            ..h
        };
        assert_eq!(read, want);
        assert_eq!(bytes.len(), file.len());
    }

    #[test]
    fn damage_is_detected() {
        let key = b"httplocalhost/x";
        let crc = crc32(&[key]);
        let (_, file) = sample(key);
        assert_eq!(
            Header::read(&file[..100], key, crc, 4096),
            Err(Unusable::TooSmall)
        );
        let mut other = file.clone();
        other[0] = 4;
        assert_eq!(Header::read(&other, key, crc, 4096), Err(Unusable::Version));
        let wrong = b"httplocalhost/y";
        assert_eq!(
            Header::read(&file, wrong, crc32(&[wrong]), 4096),
            Err(Unusable::Collision)
        );
        // Same CRC and length but other bytes (a forged collision) is still caught.
        let mut forged = file.clone();
        forged[SIZE + 6] ^= 1;
        assert_eq!(
            Header::read(&forged, key, crc, 4096),
            Err(Unusable::Collision)
        );
        assert_eq!(
            Header::read(&file, key, crc, 300),
            Err(Unusable::TooLongHeader)
        );
    }
}
