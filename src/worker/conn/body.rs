//! Request bodies nobody reads: consumed and dropped as nginx's discard filter does, from
//! the head buffer first and then from the socket.

use super::*;

impl<'c> Conn<'c> {
    /// Reads and drops request-body bytes. `Err(step)` means the connection must stop here.
    /// Body bytes already in the head buffer are consumed in place; the rest is read into a
    /// stack scratch area and dropped, and bytes past the body's end (a pipelined request)
    /// are appended to the head buffer.
    pub(super) fn discard_body(&mut self, _shared: &mut Shared<'c>) -> Result<(), Step> {
        let Some(a) = self.active.as_mut() else {
            return Err(Step::Close);
        };
        let (Some(reader), Some(req)) = (a.discard.as_mut(), a.req.as_mut()) else {
            return Ok(());
        };
        let body_start = a.start + req.head_len + req.body_in_buf;
        if body_start < a.filled {
            match consume_body(reader, &a.buf[body_start..a.filled]) {
                Ok((used, done)) => {
                    req.body_in_buf += used;
                    req.body_read += used as u64;
                    if done {
                        a.discard = None;
                        return Ok(());
                    }
                }
                Err(_) => {
                    req.keepalive = false;
                    a.discard = None;
                    return Ok(());
                }
            }
        }
        let Some(sock) = self.sock.as_mut() else {
            return Err(Step::Close);
        };
        let mut scratch = [0u8; DISCARD_CHUNK];
        while self.readable {
            match sock.read(&mut scratch) {
                Ok(0) => {
                    req.keepalive = false;
                    a.discard = None;
                    return Ok(());
                }
                Ok(n) => match consume_body(reader, &scratch[..n]) {
                    Ok((used, done)) => {
                        req.body_read += used as u64;
                        if done {
                            a.discard = None;
                            let extra = &scratch[used..n];
                            if a.buf.len() < a.filled + extra.len() {
                                a.buf.resize(a.filled + extra.len(), 0);
                            }
                            a.buf[a.filled..a.filled + extra.len()].copy_from_slice(extra);
                            a.filled += extra.len();
                            return Ok(());
                        }
                    }
                    Err(_) => {
                        req.keepalive = false;
                        a.discard = None;
                        return Ok(());
                    }
                },
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.readable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(Step::Close),
            }
        }
        Ok(())
    }
}

/// Feeds `input` to a body reader; returns (bytes used, body finished).
pub(in crate::worker) fn consume_body(
    reader: &mut BodyReader,
    input: &[u8],
) -> Result<(usize, bool), HttpError> {
    match reader {
        BodyReader::Length(left) => {
            let n = (*left).min(input.len() as u64);
            *left -= n;
            Ok((n as usize, *left == 0))
        }
        BodyReader::Chunked(dec) => {
            let mut used = 0;
            loop {
                match dec.step(&input[used..])? {
                    Chunk::Data { consumed, .. } => used += consumed,
                    Chunk::NeedMore { consumed } => return Ok((used + consumed, false)),
                    Chunk::Done { consumed } => return Ok((used + consumed, true)),
                }
                if used >= input.len() {
                    return Ok((used, false));
                }
            }
        }
    }
}
