//! The request's bytes on their way upstream: the head the protocol built, then the body —
//! either read whole before connecting ([`StoredBody`], `*_request_buffering on`) and sent
//! from its start on every try, or streamed through a bounded window as the connection
//! reads it from the client. Up to [`REPLAY_LIMIT`] bytes of a streamed request are kept, so
//! a failed try can be replayed on another server.

use std::io::{self, Write};

use super::body_buffer::StoredBody;
use super::protocol::Records;

/// Request bytes kept for a replay on another connection; a longer streamed request that
/// fails after its start was sent cannot be retried.
pub const REPLAY_LIMIT: usize = 64 * 1024;
/// Most streamed request-body bytes waiting for the upstream.
pub const BODY_WINDOW: usize = 64 * 1024;

/// The request towards the upstream.
#[derive(Default)]
pub struct RequestOut {
    /// The head, then (streamed) body bytes not yet sent or kept for a replay.
    out: Vec<u8>,
    /// How much of `out` the current try has written.
    out_pos: usize,
    /// A body read whole before connecting: sent after `out`, from its start on each try.
    stored: Option<Box<StoredBody>>,
    /// How much of `stored` the current try has written.
    stored_pos: u64,
    /// How a stored body is cut into the protocol's records (`None`: sent as it is).
    records: Option<Records>,
    /// The stored body's record framing being written: bytes and how far they went.
    frame: [u8; 16],
    frame_len: usize,
    frame_pos: usize,
    /// Where the current record's content ends in the stored body, and its length.
    record_end: u64,
    record_len: Option<usize>,
    /// The framing after the last record went (or is in `frame`).
    records_closed: bool,
    /// The whole body is in `out` or `stored` (nothing more comes from the client).
    body_done: bool,
    /// Every byte of the request is still here: a try can start it over.
    replayable: bool,
    /// A stored body already framed into `out` behind the head (see
    /// [`RequestOut::start`]), kept for `$request_body` and an error page.
    inline_body: Option<Box<StoredBody>>,
}

/// What went wrong writing the request.
pub enum SendError {
    /// The socket's error (`writev() failed`).
    Socket(io::Error),
    /// The stored body's file could not be read (ours).
    Stored(io::Error),
}

impl RequestOut {
    /// The buffer of the last request, emptied, for the next head to be built in.
    pub fn take_buffer(&mut self) -> Vec<u8> {
        let mut b = std::mem::take(&mut self.out);
        b.clear();
        b
    }

    /// Takes back a buffer [`RequestOut::take_buffer`] gave out (emptied).
    pub fn give_buffer(&mut self, mut buffer: Vec<u8>) {
        buffer.clear();
        self.out = buffer;
        self.out_pos = 0;
    }

    /// A request of `head` (built in [`RequestOut::take_buffer`]'s buffer) and a body that
    /// is `stored` whole, or streamed later (`body_done` false), or absent.
    /// `records`: how the protocol cuts a stored body (FastCGI's STDIN records).
    pub fn start(
        &mut self,
        head: Vec<u8>,
        stored: Option<Box<StoredBody>>,
        body_done: bool,
        records: Option<Records>,
    ) {
        self.out = head;
        self.out_pos = 0;
        self.body_done = body_done || stored.is_some();
        self.replayable = true;
        self.inline_body = None;
        self.stored = stored;
        self.records = records.filter(|_| self.stored.is_some());
        self.rewind();
        self.inline_records();
    }

    /// A small body in memory cut into records goes into `out` behind the head, so the
    /// whole request leaves in one write, as nginx sends its request chain (an upstream
    /// that reads once sees all of it); it stays replayable there.
    fn inline_records(&mut self) {
        let (Some(records), Some(stored)) = (self.records, self.stored.as_deref()) else {
            return;
        };
        let Some(body) = stored.in_memory() else {
            return;
        };
        let pieces = body.len().div_ceil(records.max.max(1)) + 1;
        if self.out.len() + body.len() + pieces * 16 > REPLAY_LIMIT {
            return;
        }
        let mut frame = [0u8; 16];
        let mut prev = None;
        for piece in body.chunks(records.max.max(1)) {
            let n = (records.before)(prev, piece.len(), &mut frame);
            self.out.extend_from_slice(&frame[..n]);
            self.out.extend_from_slice(piece);
            prev = Some(piece.len());
        }
        let n = (records.end)(prev, &mut frame);
        self.out.extend_from_slice(&frame[..n]);
        self.records = None;
        self.inline_body = self.stored.take();
    }

    /// The head, for a protocol that fixes it up once the body's length is known.
    pub fn head_mut(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    /// Room for streamed body bytes.
    pub fn room(&self) -> usize {
        if self.body_done {
            return 0;
        }
        BODY_WINDOW.saturating_sub(self.out.len() - self.out_pos)
    }

    /// Appends streamed body bytes (framed as the upstream gets them); `done`: the last.
    pub fn push(&mut self, bytes: &[u8], done: bool) {
        self.out.extend_from_slice(bytes);
        self.body_done |= done;
    }

    /// Appends what `frame` writes (a protocol framing streamed body bytes).
    pub fn push_with(&mut self, frame: impl FnOnce(&mut Vec<u8>)) {
        frame(&mut self.out);
    }

    /// Whether the whole body was handed over.
    pub fn body_done(&self) -> bool {
        self.body_done
    }

    /// Bytes not yet written by the current try.
    pub fn pending(&self) -> bool {
        self.out_pos < self.out.len()
            || self.frame_pos < self.frame_len
            || (self.records.is_some() && !self.records_closed)
            || self
                .stored
                .as_ref()
                .is_some_and(|s| self.stored_pos < s.len())
    }

    /// The whole request (head and body) went upstream.
    pub fn sent(&self) -> bool {
        self.body_done && !self.pending()
    }

    /// Nothing of the request was written yet by this try.
    pub fn untouched(&self) -> bool {
        self.out_pos == 0 && self.stored_pos == 0
    }

    /// Whether a failed try may start the request over.
    pub fn replayable(&self) -> bool {
        self.replayable
    }

    /// Starts the request over for a new try.
    pub fn rewind(&mut self) {
        self.out_pos = 0;
        self.stored_pos = 0;
        self.frame_len = 0;
        self.frame_pos = 0;
        self.record_end = 0;
        self.record_len = None;
        self.records_closed = false;
    }

    /// With records: loads the framing due at the stored body's position into `frame`
    /// (before the next record, or after the last); false when there is none to write.
    fn next_frame(&mut self) -> bool {
        let (Some(records), Some(stored)) = (self.records, self.stored.as_ref()) else {
            return false;
        };
        if self.frame_pos < self.frame_len || self.stored_pos < self.record_end {
            return false;
        }
        if self.stored_pos >= stored.len() {
            if self.records_closed {
                return false;
            }
            self.frame_len = (records.end)(self.record_len, &mut self.frame);
            self.frame_pos = 0;
            self.records_closed = true;
            return true;
        }
        let len = (stored.len() - self.stored_pos).min(records.max as u64) as usize;
        self.frame_len = (records.before)(self.record_len, len, &mut self.frame);
        self.frame_pos = 0;
        self.record_end = self.stored_pos + len as u64;
        self.record_len = Some(len);
        true
    }

    /// Writes what it can; the bytes written. `writable` is cleared when the socket would
    /// block.
    pub fn write_to(
        &mut self,
        sock: &mut super::stream::PeerStream,
        writable: &mut bool,
    ) -> Result<usize, SendError> {
        let mut progress = 0;
        // The head and the start of a stored body in one writev, as nginx sends its
        // request chain: an upstream that reads once sees both. (A body cut into records
        // goes after the head, record by record.)
        if self.out_pos < self.out.len()
            && *writable
            && self.stored_pos == 0
            && self.records.is_none()
            && let Some(stored) = self.stored.as_mut()
            && !stored.is_empty()
        {
            let body = match stored.bytes_at(0) {
                Ok(d) => d,
                Err(e) => return Err(SendError::Stored(e)),
            };
            let head = &self.out[self.out_pos..];
            match sock.write2(head, body) {
                Ok(n) => {
                    let from_head = n.min(head.len());
                    self.out_pos += from_head;
                    self.stored_pos += (n - from_head) as u64;
                    progress += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => *writable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(SendError::Socket(e)),
            }
        }
        while self.out_pos < self.out.len() && *writable {
            match sock.write(&self.out[self.out_pos..]) {
                Ok(n) => {
                    self.out_pos += n;
                    progress += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => *writable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(SendError::Socket(e)),
            }
        }
        // A stored body follows the head (in the protocol's records, if it has them).
        while self.out_pos >= self.out.len() && *writable {
            self.next_frame();
            if self.frame_pos < self.frame_len {
                match sock.write(&self.frame[self.frame_pos..self.frame_len]) {
                    Ok(n) => {
                        self.frame_pos += n;
                        progress += n;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => *writable = false,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(SendError::Socket(e)),
                }
                continue;
            }
            let Some(stored) = self.stored.as_mut() else {
                break;
            };
            if self.stored_pos >= stored.len() {
                break;
            }
            let limit = if self.records.is_some() {
                (self.record_end - self.stored_pos) as usize
            } else {
                usize::MAX
            };
            let data = match stored.bytes_at(self.stored_pos) {
                Ok(d) if !d.is_empty() => &d[..d.len().min(limit)],
                Ok(_) => break,
                Err(e) => return Err(SendError::Stored(e)),
            };
            match sock.write(data) {
                Ok(n) => {
                    self.stored_pos += n as u64;
                    progress += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => *writable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(SendError::Socket(e)),
            }
        }
        if self.out_pos == self.out.len() && self.out.len() > REPLAY_LIMIT {
            // Too long to keep for a replay.
            self.out.clear();
            self.out_pos = 0;
            self.replayable = false;
        }
        Ok(progress)
    }

    /// The body stored whole, if any (`$request_body`).
    pub fn stored(&self) -> Option<&StoredBody> {
        self.stored.as_deref().or(self.inline_body.as_deref())
    }

    /// Takes the stored body (for an error page's request, as nginx keeps
    /// `r->request_body`).
    pub fn take_stored(&mut self) -> Option<Box<StoredBody>> {
        self.stored.take().or_else(|| self.inline_body.take())
    }

    /// Takes what the client sent that is still unsent (after a 101 the tunnel carries it).
    pub fn take_unsent(&mut self) -> Vec<u8> {
        let mut rest = std::mem::take(&mut self.out);
        rest.drain(..self.out_pos.min(rest.len()));
        self.out_pos = 0;
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::writer::BodyInFile;

    #[test]
    fn a_small_body_in_records_leaves_with_the_head_in_one_buffer() {
        let mut body = StoredBody::new(BodyInFile::Off);
        let dir = std::env::temp_dir();
        assert!(body.append(b"foobar", 1 << 20, &dir).is_ok());
        let mut req = RequestOut::default();
        let records = crate::cgi::packet::STDIN_RECORDS;
        req.start(b"HEAD".to_vec(), Some(Box::new(body)), true, Some(records));
        // The head, one STDIN record of 6 bytes (padded to 8) and the empty one that ends
        // the body, all in `out`: one write sends the whole request.
        let mut want = b"HEAD".to_vec();
        let mut frame = [0u8; 16];
        let n = (records.before)(None, 6, &mut frame);
        want.extend_from_slice(&frame[..n]);
        want.extend_from_slice(b"foobar");
        let n = (records.end)(Some(6), &mut frame);
        want.extend_from_slice(&frame[..n]);
        assert_eq!(req.out, want);
        assert!(req.pending() && req.body_done() && req.replayable());
        assert_eq!(
            req.stored().and_then(|b| b.in_memory()),
            Some(&b"foobar"[..])
        );
    }
}
