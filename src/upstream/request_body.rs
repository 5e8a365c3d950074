//! The request's bytes on their way upstream: the head the protocol built, then the body —
//! either read whole before connecting ([`StoredBody`], `*_request_buffering on`) and sent
//! from its start on every try, or streamed through a bounded window as the connection
//! reads it from the client. Up to [`REPLAY_LIMIT`] bytes of a streamed request are kept, so
//! a failed try can be replayed on another server.

use std::io::{self, Write};
use std::os::fd::AsRawFd;

use mio::net::TcpStream;

use super::body_buffer::StoredBody;

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
    /// The whole body is in `out` or `stored` (nothing more comes from the client).
    body_done: bool,
    /// Every byte of the request is still here: a try can start it over.
    replayable: bool,
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

    /// A request of `head` (built in [`RequestOut::take_buffer`]'s buffer) and a body that
    /// is `stored` whole, or streamed later (`body_done` false), or absent.
    pub fn start(&mut self, head: Vec<u8>, stored: Option<Box<StoredBody>>, body_done: bool) {
        self.out = head;
        self.out_pos = 0;
        self.stored = stored;
        self.stored_pos = 0;
        self.body_done = body_done || self.stored.is_some();
        self.replayable = true;
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

    /// Whether the whole body was handed over.
    pub fn body_done(&self) -> bool {
        self.body_done
    }

    /// Bytes not yet written by the current try.
    pub fn pending(&self) -> bool {
        self.out_pos < self.out.len()
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
    }

    /// Writes what it can; the bytes written. `writable` is cleared when the socket would
    /// block.
    pub fn write_to(
        &mut self,
        sock: &mut TcpStream,
        writable: &mut bool,
    ) -> Result<usize, SendError> {
        let mut progress = 0;
        // The head and the start of a stored body in one writev, as nginx sends its
        // request chain: an upstream that reads once sees both.
        if self.out_pos < self.out.len()
            && *writable
            && self.stored_pos == 0
            && let Some(stored) = self.stored.as_mut()
            && !stored.is_empty()
        {
            let body = match stored.bytes_at(0) {
                Ok(d) => d,
                Err(e) => return Err(SendError::Stored(e)),
            };
            let head = &self.out[self.out_pos..];
            match crate::sys::writev2(sock.as_raw_fd(), head, body) {
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
        // A stored body follows the head.
        while self.out_pos >= self.out.len() && *writable {
            let Some(stored) = self.stored.as_mut() else {
                break;
            };
            if self.stored_pos >= stored.len() {
                break;
            }
            let data = match stored.bytes_at(self.stored_pos) {
                Ok(d) if !d.is_empty() => d,
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
        self.stored.as_deref()
    }

    /// Takes the stored body (for an error page's request, as nginx keeps
    /// `r->request_body`).
    pub fn take_stored(&mut self) -> Option<Box<StoredBody>> {
        self.stored.take()
    }

    /// Takes what the client sent that is still unsent (after a 101 the tunnel carries it).
    pub fn take_unsent(&mut self) -> Vec<u8> {
        let mut rest = std::mem::take(&mut self.out);
        rest.drain(..self.out_pos.min(rest.len()));
        self.out_pos = 0;
        rest
    }
}
