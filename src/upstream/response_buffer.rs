//! The response between the upstream and the client's writer: the head is parsed at the
//! start of the memory buffer, then the body flows through it.
//!
//! With buffering on, memory holds up to `*_buffer_size` + `*_buffers`; when it is full and
//! the client is not taking bytes, the body goes on into an unlinked temporary file under
//! `*_temp_path`, at most `*_temp_file_write_size` at a time and `*_max_temp_file_size` in
//! all, as nginx's event pipe does; past that, reading the upstream stops (back-pressure).
//! As in nginx, the oldest `*_busy_buffers_size` bytes stay in memory for the writer (they
//! are "busy" being sent); the bytes after them go to the file. The order the client gets
//! is therefore: memory before the file (`front`), the file, memory after it (`back`):
//!
//! ```text
//!   mem: [ sent | front: start..split | back: split..end | free ]     file: [ sent | unsent ]
//!   client order: front, file unsent, back
//! ```
//!
//! A cache hit whose body the worker holds in memory ([`crate::cache::hot`]) lends that
//! body instead ([`ResponseBuffer::adopt_held`]): it is sent from the shared bytes after
//! the head, never copied into the buffer.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::http::source::Ready;

/// A part of a multipart body from a file: its bytes in memory (a part's head, or the
/// closing boundary), then the file's bytes `start..end`.
pub type FilePart = (Vec<u8>, u64, u64);

/// The body's temporary file.
struct TempFile {
    file: File,
    /// Bytes written to it (its size).
    written: u64,
    /// Bytes of it the client has.
    sent: u64,
}

/// A body held outside the buffer (a cache entry's, shared with the worker's table).
struct Held {
    bytes: Rc<[u8]>,
    /// Bytes of it the client has.
    sent: usize,
    /// Where the body the client gets ends.
    end: usize,
}

/// The response buffer of one upstream request.
#[derive(Default)]
pub struct ResponseBuffer {
    /// The memory; grows up to `cap` as the response needs it.
    mem: Vec<u8>,
    /// First byte the client has not had (head bytes before the body starts).
    start: usize,
    /// End of the bytes that go before the file's unsent bytes.
    split: usize,
    /// End of the bytes received.
    end: usize,
    /// Most bytes `mem` may hold.
    cap: usize,
    file: Option<TempFile>,
    /// The parts still to send after the file's bytes being sent, last first: each one's
    /// bytes in memory (a multipart head, or the closing boundary) and the file's bytes
    /// `start..end` after them (several ranges of a cache entry served from its file).
    parts: Vec<FilePart>,
    /// A body sent after the file's bytes, from shared memory.
    held: Option<Held>,
}

/// How a spill to the temporary file went.
pub enum Spill {
    /// Bytes moved to the file: there is room to read again.
    Moved,
    /// Nothing may move (no room left under the limit, or nothing to move).
    Full,
    /// A new file was created (its path, for nginx's warn line); bytes moved.
    Created(PathBuf),
}

impl ResponseBuffer {
    /// A buffer over `mem` (a spare one, reused), holding at most `cap` bytes.
    pub fn start(&mut self, mem: Vec<u8>, cap: usize) {
        self.mem = mem;
        self.cap = cap.max(1);
        self.clear();
    }

    /// Changes how many bytes memory may hold (buffering turned on or off by the head).
    pub fn set_cap(&mut self, cap: usize) {
        self.cap = cap.max(1);
    }

    /// Forgets everything (a retry starts over); a temporary file is closed.
    pub fn clear(&mut self) {
        self.start = 0;
        self.split = 0;
        self.end = 0;
        self.file = None;
        self.parts.clear();
        self.held = None;
    }

    /// Gives the memory back (for the worker's spares).
    pub fn take_memory(&mut self) -> Vec<u8> {
        self.clear();
        std::mem::take(&mut self.mem)
    }

    /// The bytes received so far that have not been handed on (the head while it is read).
    pub fn unread(&self) -> &[u8] {
        &self.mem[self.start..self.end]
    }

    /// Where [`ResponseBuffer::unread`] starts in the buffer.
    pub fn unread_start(&self) -> usize {
        self.start
    }

    /// The head's bytes are done with (`len` of them, from the start): the body follows.
    pub fn skip(&mut self, len: usize) {
        self.start = (self.start + len).min(self.end);
        self.split = self.end;
    }

    /// Room to read into, at most `limit` bytes buffered (`None`: full). Space the client
    /// took is reclaimed first; the memory grows as the response needs it.
    pub fn room(&mut self, limit: usize) -> Option<&mut [u8]> {
        let limit = limit.min(self.cap);
        if self.start == self.end && !self.file_pending() {
            self.start = 0;
            self.split = 0;
            self.end = 0;
        }
        if self.end >= limit && self.start > 0 {
            // Move what is left to the front.
            self.mem.copy_within(self.start..self.end, 0);
            self.split -= self.start;
            self.end -= self.start;
            self.start = 0;
        }
        if self.end >= limit {
            return None;
        }
        if self.end >= self.mem.len() {
            // (`clamp` would panic on a limit under 1 KiB.)
            let grown = self.mem.len().saturating_mul(2).max(1024).min(limit);
            self.mem.resize(grown, 0);
        }
        let to = self.mem.len().min(limit);
        Some(&mut self.mem[self.end..to])
    }

    /// `n` bytes were read into [`ResponseBuffer::room`]; returns where they start.
    pub fn filled(&mut self, n: usize) -> usize {
        let from = self.end;
        self.end += n;
        if !self.file_pending() {
            self.split = self.end;
        }
        from
    }

    /// The buffer, for a protocol to frame the bytes from an offset [`filled`] returned.
    ///
    /// [`filled`]: ResponseBuffer::filled
    pub fn bytes_mut(&mut self) -> (&mut [u8], usize) {
        let end = self.end;
        (&mut self.mem[..end], end)
    }

    /// The framed body now ends at `end` (framing removed or surplus dropped).
    pub fn truncate(&mut self, end: usize) {
        self.end = end.max(self.start);
        if !self.file_pending() || self.split > self.end {
            self.split = self.end;
        }
    }

    /// Whether the client has had everything buffered.
    pub fn drained(&self) -> bool {
        self.start == self.end && !self.file_pending() && self.held_rest().is_none()
    }

    /// Bytes in memory and in the file that the client has not had.
    pub fn buffered(&self) -> u64 {
        let parts: u64 = self
            .parts
            .iter()
            .map(|(bytes, start, end)| bytes.len() as u64 + (end - start))
            .sum();
        (self.end - self.start) as u64
            + self.file.as_ref().map_or(0, |f| f.written - f.sent)
            + parts
            + self.held_rest().map_or(0, |b| b.len() as u64)
    }

    /// The held body's bytes the client has not had (`None`: none left, or none held).
    fn held_rest(&self) -> Option<&[u8]> {
        let h = self.held.as_ref()?;
        h.bytes.get(h.sent..h.end).filter(|b| !b.is_empty())
    }

    fn file_pending(&self) -> bool {
        self.file.as_ref().is_some_and(|f| f.sent < f.written)
    }

    /// What the writer may send next, in the client's order.
    pub fn ready(&self, sendfile: bool) -> Ready<'_> {
        if self.start < self.split {
            return Ready::Bytes(&self.mem[self.start..self.split]);
        }
        if let Some(f) = self.file.as_ref().filter(|f| f.sent < f.written) {
            return Ready::File {
                fd: f.file.as_raw_fd(),
                pos: f.sent,
                len: f.written - f.sent,
                sendfile,
            };
        }
        if let Some(body) = self.held_rest() {
            return Ready::Bytes(body);
        }
        if self.start < self.end {
            return Ready::Bytes(&self.mem[self.start..self.end]);
        }
        Ready::Pending
    }

    /// The writer sent `n` bytes of what [`ResponseBuffer::ready`] offered.
    pub fn consume(&mut self, n: usize) {
        if self.start < self.split {
            self.start = (self.start + n).min(self.split);
            return;
        }
        if let Some(f) = self.file.as_mut().filter(|f| f.sent < f.written) {
            f.sent = (f.sent + n as u64).min(f.written);
            if f.sent == f.written {
                // The file is drained: what follows in memory is next.
                self.split = self.end;
                if self.start == self.end
                    && let Some((bytes, start, end)) = self.parts.pop()
                {
                    // The next part: its head from memory, then its bytes from the file.
                    if self.mem.len() < bytes.len() {
                        self.mem.resize(bytes.len(), 0);
                    }
                    self.mem[..bytes.len()].copy_from_slice(&bytes);
                    self.start = 0;
                    self.end = bytes.len();
                    self.split = self.end;
                    f.sent = start;
                    f.written = end;
                }
            }
            return;
        }
        if self.held_rest().is_some()
            && let Some(h) = self.held.as_mut()
        {
            h.sent = (h.sent + n).min(h.end);
            return;
        }
        self.start = (self.start + n).min(self.end);
        self.split = self.split.max(self.start);
    }

    /// Takes `bytes` as the whole body, after what memory holds (a cache entry's body the
    /// worker keeps in memory): sent from there, not copied.
    pub fn adopt_held(&mut self, bytes: Rc<[u8]>) {
        self.split = self.end;
        let end = bytes.len();
        self.held = Some(Held {
            bytes,
            sent: 0,
            end,
        });
    }

    /// The body after the first `head_len` unread bytes: the held one, or what memory
    /// holds after the head.
    pub fn body_after(&self, head_len: usize) -> Option<&[u8]> {
        match &self.held {
            Some(h) => h.bytes.get(h.sent..h.end),
            None => self.unread().get(head_len..),
        }
    }

    /// Takes `file`'s bytes `from..to` as the whole body, after what memory holds (a cache
    /// entry's body, served from its file).
    pub fn adopt_file(&mut self, file: File, from: u64, to: u64) {
        self.split = self.end;
        self.file = Some(TempFile {
            file,
            written: to,
            sent: from,
        });
    }

    /// Narrows an adopted file's body to its bytes `start..end` (counted from the body's
    /// first byte).
    pub fn narrow_file(&mut self, start: u64, end: u64) {
        if let Some(f) = self.file.as_mut() {
            let first = f.sent;
            f.written = f.written.min(first.saturating_add(end));
            f.sent = first.saturating_add(start).min(f.written);
        }
    }

    /// The length of an adopted file's body (`None`: no file).
    pub fn file_len(&self) -> Option<u64> {
        self.file.as_ref().map(|f| f.written - f.sent)
    }

    /// Makes an adopted file's body several parts (nginx's multipart ranges): each part's
    /// bytes in memory (`parts[i].0`, after the first `head_len` unread bytes for the first
    /// one) followed by the file body's bytes `parts[i].1..parts[i].2` (counted from the
    /// body's first byte); `trailer` comes last.
    pub fn split_file(&mut self, head_len: usize, parts: Vec<FilePart>, trailer: Vec<u8>) {
        let Some(first) = self.file.as_ref().map(|f| f.sent) else {
            return;
        };
        let mut pending: Vec<FilePart> = parts
            .into_iter()
            .map(|(bytes, start, end)| (bytes, first + start, first + end.max(start)))
            .collect();
        pending.push((trailer, 0, 0));
        pending.reverse();
        let Some((bytes, start, end)) = pending.pop() else {
            return;
        };
        self.replace_after(head_len, &bytes);
        if let Some(f) = self.file.as_mut() {
            f.sent = start;
            f.written = end;
        }
        self.parts = pending;
    }

    /// Narrows a body held in memory after a head of `head_len` bytes to its bytes
    /// `start..end` (a range of a cached response).
    pub fn narrow_mem(&mut self, head_len: usize, start: u64, end: u64) {
        if let Some(h) = self.held.as_mut() {
            let first = h.sent;
            h.end = h.end.min(first.saturating_add(end as usize));
            h.sent = first.saturating_add(start as usize).min(h.end);
            return;
        }
        let body_len = self.end.saturating_sub(head_len) as u64;
        let end = end.min(body_len) as usize;
        let start = (start as usize).min(end);
        let from = self.start + head_len;
        self.mem.copy_within(from + start..from + end, from);
        self.end = from + (end - start);
        self.split = self.split.min(self.end);
    }

    /// Replaces what follows the first `head_len` unread bytes with `bytes` (in memory).
    pub fn replace_after(&mut self, head_len: usize, bytes: &[u8]) {
        self.held = None;
        let from = (self.start + head_len).min(self.end);
        let end = from + bytes.len();
        if self.mem.len() < end {
            self.mem.resize(end, 0);
        }
        self.mem[from..end].copy_from_slice(bytes);
        self.end = end;
        self.split = end;
        self.cap = self.cap.max(end);
    }

    /// Whether a file holds part of the body.
    pub fn has_file(&self) -> bool {
        self.file.is_some()
    }

    /// Moves body bytes to the temporary file to make room for reading: at most
    /// `write_size` bytes, the file staying within `max` bytes, the first `busy` bytes of
    /// memory kept for the writer. The file is created under `dir` on first use.
    pub fn spill(
        &mut self,
        busy: usize,
        write_size: usize,
        max: u64,
        dir: &Path,
    ) -> io::Result<Spill> {
        if !self.file_pending() {
            // Everything in memory is in order: the oldest `busy` bytes stay, as nginx's
            // busy buffers, and the rest may go to the file.
            self.split = self.end.min(self.start + busy);
        }
        let written = self.file.as_ref().map_or(0, |f| f.written);
        let n = (self.end - self.split)
            .min(write_size)
            .min(max.saturating_sub(written) as usize);
        if n == 0 {
            return Ok(Spill::Full);
        }
        let mut created = None;
        if self.file.is_none() {
            let (file, path) = super::temp_file::create(dir)?;
            self.file = Some(TempFile {
                file,
                written: 0,
                sent: 0,
            });
            created = Some(path);
        }
        let Some(f) = self.file.as_mut() else {
            return Ok(Spill::Full);
        };
        f.file
            .write_all_at(&self.mem[self.split..self.split + n], f.written)?;
        f.written += n as u64;
        self.mem.copy_within(self.split + n..self.end, self.split);
        self.end -= n;
        Ok(match created {
            Some(path) => Spill::Created(path),
            None => Spill::Moved,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drains the buffer as a writer would, reading file ranges back.
    fn drain(b: &mut ResponseBuffer) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let (n, bytes) = match b.ready(false) {
                Ready::Bytes(bytes) => (bytes.len(), bytes.to_vec()),
                Ready::File { fd, pos, len, .. } => {
                    let mut v = vec![0u8; len as usize];
                    let n = crate::sys::pread(fd, &mut v, pos).expect("pread");
                    v.truncate(n);
                    (n, v)
                }
                Ready::Pending | Ready::End => return out,
            };
            out.extend_from_slice(&bytes);
            b.consume(n);
        }
    }

    /// Reads as much of `data` as there is room for.
    fn read(b: &mut ResponseBuffer, data: &[u8]) -> usize {
        let mut fed = 0;
        while fed < data.len() {
            let Some(room) = b.room(usize::MAX) else {
                break;
            };
            let n = room.len().min(data.len() - fed);
            room[..n].copy_from_slice(&data[fed..fed + n]);
            b.filled(n);
            fed += n;
        }
        fed
    }

    #[test]
    fn bytes_keep_their_order_through_the_file() {
        let dir = std::env::temp_dir().join(format!("portico-resp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let mut b = ResponseBuffer::default();
        b.start(Vec::new(), 4096);
        let data: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        let mut fed = 0;
        let mut out = Vec::new();
        let mut created = 0;
        while fed < data.len() {
            if b.room(usize::MAX).is_none() {
                match b.spill(1024, 1500, 1 << 20, &dir).expect("spill") {
                    Spill::Created(path) => {
                        assert!(!path.exists(), "unlinked at once");
                        created += 1;
                    }
                    Spill::Moved => {}
                    Spill::Full => unreachable!(),
                }
                // A slow client takes a little now and then.
                if let Ready::Bytes(bytes) = b.ready(false) {
                    let n = bytes.len().min(100);
                    out.extend_from_slice(&bytes[..n]);
                    b.consume(n);
                }
                continue;
            }
            fed += read(&mut b, &data[fed..]);
        }
        out.extend(drain(&mut b));
        assert_eq!(created, 1);
        assert_eq!(out, data);
        let _ = std::fs::remove_dir(&dir);
    }

    #[test]
    fn a_file_body_goes_out_as_parts() {
        let path = std::env::temp_dir().join(format!("portico-parts-{}", std::process::id()));
        // A 5-byte head before the body, as an entry's header.
        std::fs::write(&path, b"HEAD:0123456789").expect("write");
        let file = File::open(&path).expect("open");
        let _ = std::fs::remove_file(&path);
        let mut b = ResponseBuffer::default();
        b.start(Vec::new(), 4096);
        read(&mut b, b"H\r\n");
        b.adopt_file(file, 5, 15);
        assert_eq!(b.file_len(), Some(10));
        let parts = vec![(b"<a>".to_vec(), 0, 2), (b"<b>".to_vec(), 7, 10)];
        b.split_file(3, parts, b"<end>".to_vec());
        assert_eq!(b.buffered(), 3 + 3 + 2 + 3 + 3 + 5);
        assert_eq!(drain(&mut b), b"H\r\n<a>01<b>789<end>");
        assert!(b.drained());
    }

    #[test]
    fn a_held_body_follows_the_head_uncopied() {
        let body: Rc<[u8]> = Rc::from(&b"0123456789"[..]);
        let mut b = ResponseBuffer::default();
        b.start(Vec::new(), 64);
        read(&mut b, b"HEAD\r\n");
        b.adopt_held(body.clone());
        assert_eq!(b.body_after(6), Some(&b"0123456789"[..]));
        assert_eq!(b.buffered(), 16);
        b.skip(6);
        // A range of it: bytes 2..7.
        b.narrow_mem(0, 2, 7);
        assert_eq!(b.buffered(), 5);
        match b.ready(false) {
            Ready::Bytes(bytes) => assert!(std::ptr::eq(bytes.as_ptr(), body[2..].as_ptr())),
            _ => panic!("held bytes are ready"),
        }
        b.consume(2);
        assert!(!b.drained());
        assert_eq!(drain(&mut b), b"456");
        assert!(b.drained());
        // Replaced (multipart ranges): the new bytes go into memory instead.
        b.adopt_held(body);
        b.replace_after(0, b"xy");
        assert_eq!(drain(&mut b), b"xy");
        b.clear();
        assert!(b.drained() && b.body_after(0) == Some(&[][..]));
    }

    #[test]
    fn spilling_stops_at_the_limit() {
        let dir = std::env::temp_dir();
        let mut b = ResponseBuffer::default();
        b.start(Vec::new(), 2048);
        read(&mut b, &[1u8; 2048]);
        assert!(matches!(
            b.spill(0, 4096, 1000, &dir),
            Ok(Spill::Created(_))
        ));
        assert_eq!(b.buffered(), 2048);
        read(&mut b, &[2u8; 1000]);
        assert!(matches!(b.spill(0, 4096, 1000, &dir), Ok(Spill::Full)));
        let out = drain(&mut b);
        assert_eq!(out.len(), 3048);
        assert!(out[..2048].iter().all(|&x| x == 1) && out[2048..].iter().all(|&x| x == 2));
    }
}
