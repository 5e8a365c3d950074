//! Chunked framing of an upstream body by the writer (nginx's chunked filter): a gateway
//! response of unknown length goes to an HTTP/1.1 client in chunks, one per piece the
//! source has ready, the size line queued in the output buffer ahead of the piece so that
//! both leave in the same `writev`, and the last chunk after the body's end. An upstream
//! that stopped short gets no last chunk: the client sees the body cut.

use crate::http::source::Ready;

/// The writer's chunk state for the current response.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Chunks {
    /// The body is framed in chunks.
    on: bool,
    /// Bytes of the open chunk still to send (0: none is open).
    left: u64,
    /// The last chunk was queued.
    finished: bool,
}

impl Chunks {
    /// The state of a response framed in chunks (`on`) or not.
    pub fn framing(on: bool) -> Chunks {
        Chunks {
            on,
            ..Chunks::default()
        }
    }

    /// What the writer may send of `ready`: at most the open chunk's rest. A chunk opens
    /// on the piece at hand (its size line queued in `out`); at the body's end the last
    /// chunk is queued unless the upstream `broke` off.
    pub fn limit<'a>(&mut self, ready: Ready<'a>, out: &mut Vec<u8>, broke: bool) -> Ready<'a> {
        if !self.on {
            return ready;
        }
        match ready {
            Ready::Bytes(b) if !b.is_empty() => {
                self.open(b.len() as u64, out);
                Ready::Bytes(&b[..b.len().min(self.left as usize)])
            }
            Ready::File {
                fd,
                pos,
                len,
                sendfile,
            } if len > 0 => {
                self.open(len, out);
                Ready::File {
                    fd,
                    pos,
                    len: len.min(self.left),
                    sendfile,
                }
            }
            Ready::End if !self.finished => {
                self.finished = true;
                if !broke {
                    out.extend_from_slice(b"0\r\n\r\n");
                }
                Ready::End
            }
            other => other,
        }
    }

    fn open(&mut self, len: u64, out: &mut Vec<u8>) {
        if self.left > 0 {
            return;
        }
        self.left = len;
        let mut digits = [0u8; 16];
        let mut i = digits.len();
        let mut n = len;
        loop {
            i -= 1;
            digits[i] = b"0123456789abcdef"[(n & 0xf) as usize];
            n >>= 4;
            if n == 0 {
                break;
            }
        }
        out.extend_from_slice(&digits[i..]);
        out.extend_from_slice(b"\r\n");
    }

    /// What goes after a last piece of `n` bytes (the upstream has nothing more): the
    /// open chunk's CRLF and the last chunk, as [`Chunks::sent`] and [`Chunks::limit`]
    /// would queue them; `None` when the piece does not close the chunk.
    pub fn tail_after_last(&self, n: usize) -> Option<&'static [u8]> {
        (self.on && !self.finished && n > 0 && self.left == n as u64).then_some(b"\r\n0\r\n\r\n")
    }

    /// `n` body bytes went: the chunk closes (CRLF queued in `out`) when they were its last.
    pub fn sent(&mut self, n: usize, out: &mut Vec<u8>) {
        if !self.on || self.left == 0 {
            return;
        }
        self.left = self.left.saturating_sub(n as u64);
        if self.left == 0 {
            out.extend_from_slice(b"\r\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_after_a_last_piece_is_what_sent_and_the_end_queue() {
        let mut c = Chunks::framing(true);
        let mut out = Vec::new();
        c.limit(Ready::Bytes(b"hello"), &mut out, false);
        assert_eq!(c.tail_after_last(4), None);
        let tail = c.tail_after_last(5).unwrap();
        out.clear();
        c.sent(5, &mut out);
        assert_eq!(c.limit(Ready::End, &mut out, false), Ready::End);
        assert_eq!(out, tail);
        assert_eq!(c.tail_after_last(5), None);
        assert_eq!(Chunks::framing(false).tail_after_last(5), None);
    }

    #[test]
    fn pieces_become_chunks_and_the_end_a_last_chunk() {
        let mut c = Chunks::framing(true);
        let mut out = Vec::new();
        assert_eq!(
            c.limit(Ready::Bytes(b"hello"), &mut out, false),
            Ready::Bytes(b"hello")
        );
        assert_eq!(out, b"5\r\n");
        // More arrived before the chunk went: the chunk stays at its size.
        assert_eq!(
            c.limit(Ready::Bytes(b"hello world"), &mut out, false),
            Ready::Bytes(b"hello")
        );
        c.sent(3, &mut out);
        assert_eq!(
            c.limit(Ready::Bytes(b"lo world"), &mut out, false),
            Ready::Bytes(b"lo")
        );
        c.sent(2, &mut out);
        assert_eq!(out, b"5\r\n\r\n");
        out.clear();
        c.limit(Ready::Bytes(&[0u8; 300]), &mut out, false);
        assert_eq!(out, b"12c\r\n");
        c.sent(300, &mut out);
        out.clear();
        assert_eq!(c.limit(Ready::End, &mut out, false), Ready::End);
        assert_eq!(out, b"0\r\n\r\n");
        out.clear();
        c.limit(Ready::End, &mut out, false);
        assert!(out.is_empty(), "the last chunk once");
        let mut broken = Chunks::framing(true);
        broken.limit(Ready::End, &mut out, true);
        assert!(out.is_empty());
        let mut off = Chunks::default();
        assert_eq!(
            off.limit(Ready::Bytes(b"x"), &mut out, false),
            Ready::Bytes(b"x")
        );
        assert!(out.is_empty());
    }
}
