//! The request body, read by the connection (nginx's `ngx_http_request_body.c`): from the
//! head buffer first, then from the socket, in one of three ways —
//!
//! - dropped, for a handler that does not use it (the discard filter);
//! - stored whole before the request goes upstream (`*_request_buffering on`): in memory up
//!   to `client_body_buffer_size`, then in a temporary file;
//! - streamed to the upstream as it arrives (`*_request_buffering off`), as framed.
//!
//! Bytes past the body's end (a pipelined request) go back to the head buffer.

use super::*;
use crate::upstream::body_buffer::StoredBody;

/// How the rest of a request body is framed.
pub enum BodyReader {
    /// Bytes still to come.
    Length(u64),
    /// A chunked body being decoded.
    Chunked(ChunkedDecoder),
}

/// Where the body's bytes go.
pub enum Sink {
    /// Nowhere: read and dropped.
    Discard,
    /// Kept whole for the upstream.
    Store(Box<StoredBody>),
    /// To the upstream's request window, as they come.
    Stream,
}

/// A request body being read.
pub struct ClientBody {
    /// Its framing.
    pub framing: BodyReader,
    /// Where it goes.
    pub sink: Sink,
}

impl ClientBody {
    /// The body of `head`, if it has one, going to `sink`.
    pub fn of(head: &RequestHead, sink: Sink) -> Option<ClientBody> {
        let framing = match head.content_length {
            Some(len) if len > 0 => BodyReader::Length(len),
            Some(_) => return None,
            None if head.chunked => BodyReader::Chunked(ChunkedDecoder::default()),
            None => return None,
        };
        Some(ClientBody { framing, sink })
    }

    /// [`ClientBody::of`], where `open` says the request's HTTP/2 stream has not ended:
    /// then a `content-length: 0` body is read too, up to the stream's end (nginx reads an
    /// HTTP/2 body until END_STREAM).
    pub fn of_stream(head: &RequestHead, sink: Sink, open: bool) -> Option<ClientBody> {
        if open && head.content_length == Some(0) {
            return Some(ClientBody {
                framing: BodyReader::Length(0),
                sink,
            });
        }
        ClientBody::of(head, sink)
    }
}

/// Why a stored body could not be kept.
pub(super) enum StoreError {
    /// The temporary file could not be written (500).
    File(io::Error, std::path::PathBuf),
    /// A chunked body grew past `client_max_body_size` (413): bytes kept, bytes arriving.
    TooLarge { had: u64, more: u64 },
}

/// How a turn of body reading ended.
pub(super) enum BodyTurn {
    /// The whole body is read.
    Done,
    /// More is to come; the socket has nothing now (or the sink is full).
    Wait,
    /// The client closed its side before the end.
    ClientClosed,
    /// The socket failed.
    Failed,
    /// The client's framing is broken.
    BadFraming,
    /// A stored body could not be kept.
    Store(StoreError),
    /// An HTTP/2 stream's body does not match its `content-length` (the log line's
    /// words): answered 400, as nginx's `ngx_http_v2_filter_request_body`.
    Mismatch(String),
}

impl<'c> Conn<'c> {
    /// Reads and drops request-body bytes. `Err(step)` means the connection must stop here.
    /// Body bytes already in the head buffer are consumed in place; the rest is read into a
    /// stack scratch area and dropped, and bytes past the body's end (a pipelined request)
    /// are appended to the head buffer.
    pub(super) fn discard_body(&mut self, now: Instant) -> Result<(), Step> {
        let Some(a) = self.active.as_mut() else {
            return Err(Step::Close);
        };
        if !matches!(
            a.body,
            Some(ClientBody {
                sink: Sink::Discard,
                ..
            })
        ) {
            return Ok(());
        }
        match self.read_body(now, |_, _| Ok(()), usize::MAX) {
            BodyTurn::Done | BodyTurn::Wait => {}
            BodyTurn::Failed => return Err(Step::Close),
            BodyTurn::ClientClosed
            | BodyTurn::BadFraming
            | BodyTurn::Store(_)
            | BodyTurn::Mismatch(_) => {
                if let Some(a) = self.active.as_mut() {
                    a.body = None;
                    if let Some(r) = a.req.as_mut() {
                        r.body = BodyRead::Abandoned;
                    }
                }
            }
        }
        Ok(())
    }

    /// Feeds the body's bytes, as they arrive, to `take(bytes, framed)` (see
    /// [`read_into`]).
    pub(super) fn read_body(
        &mut self,
        now: Instant,
        take: impl FnMut(&[u8], &[u8]) -> Result<(), StoreError>,
        room: usize,
    ) -> BodyTurn {
        let Some(a) = self.active.as_deref_mut() else {
            return BodyTurn::Failed;
        };
        let Active {
            buf,
            start,
            filled,
            body,
            req,
            ..
        } = a;
        let Some(req) = req.as_mut() else {
            return BodyTurn::Done;
        };
        read_into(
            &mut self.client,
            &mut self.client_progress,
            now,
            BodyBuf {
                buf,
                start: *start,
                filled,
                body,
                req,
            },
            take,
            room,
        )
    }
}

/// The parts of a connection's request state a body read works on.
pub(super) struct BodyBuf<'a, 'c> {
    /// The head buffer (body bytes that came with the head are in it).
    pub buf: &'a mut Vec<u8>,
    /// Where the request starts in it.
    pub start: usize,
    /// Where its received bytes end.
    pub filled: &'a mut usize,
    /// The body's reader; dropped when the body ends.
    pub body: &'a mut Option<ClientBody>,
    /// The request.
    pub req: &'a mut Req<'c>,
}

/// Feeds the body's bytes, as they arrive, to `take(bytes, framed)`: `bytes` are the body's
/// data (framing removed), `framed` the same bytes as the client sent them. At most `room`
/// framed bytes are read in this turn. The head buffer's bytes come first, then the
/// socket's; `progress` is set when the socket gives any.
pub(super) fn read_into(
    client: &mut Client,
    progress: &mut Instant,
    now: Instant,
    b: BodyBuf<'_, '_>,
    mut take: impl FnMut(&[u8], &[u8]) -> Result<(), StoreError>,
    mut room: usize,
) -> BodyTurn {
    let BodyBuf {
        buf,
        start,
        filled,
        body: slot,
        req,
    } = b;
    let Some(body) = slot.as_mut() else {
        return BodyTurn::Done;
    };
    if matches!(body.framing, BodyReader::Length(0)) {
        // All the declared bytes came over HTTP/2: the body ends with the stream.
        if client.awaits_body_end() {
            // As a read that would block: the stream's next event makes it readable.
            client.readable = false;
            return BodyTurn::Wait;
        }
        if let Some(why) = client.body_rejected() {
            return BodyTurn::Mismatch(why);
        }
        *slot = None;
        req.body = BodyRead::Complete;
        return BodyTurn::Done;
    }
    // Bytes that came with the head (or after it) first.
    let body_start = start + req.head_len + req.body_in_buf;
    if body_start < *filled && room > 0 {
        let end = (*filled).min(body_start.saturating_add(room));
        match feed(&mut body.framing, &buf[body_start..end], &mut take) {
            Ok((used, done)) => {
                req.body_in_buf += used;
                req.body_read += used as u64;
                room -= used;
                if done && client.awaits_body_end() {
                    client.readable = false;
                    return BodyTurn::Wait;
                }
                if done {
                    *slot = None;
                    req.body = BodyRead::Complete;
                    return BodyTurn::Done;
                }
            }
            Err(e) => return e,
        }
    }
    let mut scratch = [0u8; DISCARD_CHUNK];
    loop {
        if room == 0 || !client.readable {
            return BodyTurn::Wait;
        }
        let want = match body.framing {
            BodyReader::Length(n) => (n as usize).min(room).min(DISCARD_CHUNK),
            BodyReader::Chunked(_) => room.min(DISCARD_CHUNK),
        };
        let n = match client.read(&mut scratch[..want]) {
            Ok(0) => return BodyTurn::ClientClosed,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return BodyTurn::Wait,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => {
                return match client.body_rejected() {
                    Some(why) => BodyTurn::Mismatch(why),
                    None => BodyTurn::Failed,
                };
            }
        };
        *progress = now;
        let (used, done) = match feed(&mut body.framing, &scratch[..n], &mut take) {
            Ok(r) => r,
            Err(e) => return e,
        };
        req.body_read += used as u64;
        room = room.saturating_sub(used);
        if done && client.awaits_body_end() {
            // Nothing past the declared length is in a stream's pipe (the session held
            // it back): the reader stays, to see the stream's end or its fault.
            client.readable = false;
            return BodyTurn::Wait;
        }
        if done {
            // Past the body's end: the next pipelined request, back to the head buffer.
            let extra = &scratch[used..n];
            if buf.len() < *filled + extra.len() {
                buf.resize(*filled + extra.len(), 0);
            }
            buf[*filled..*filled + extra.len()].copy_from_slice(extra);
            *filled += extra.len();
            *slot = None;
            req.body = BodyRead::Complete;
            return BodyTurn::Done;
        }
    }
}

/// Feeds `input` to the body's framing; the body's bytes go to `take`. Returns (bytes of
/// `input` that belong to the body, the body ended).
fn feed(
    framing: &mut BodyReader,
    input: &[u8],
    take: &mut impl FnMut(&[u8], &[u8]) -> Result<(), StoreError>,
) -> Result<(usize, bool), BodyTurn> {
    match framing {
        BodyReader::Length(left) => {
            let n = (*left).min(input.len() as u64) as usize;
            take(&input[..n], &input[..n]).map_err(BodyTurn::Store)?;
            *left -= n as u64;
            Ok((n, *left == 0))
        }
        BodyReader::Chunked(dec) => {
            let mut used = 0;
            let mut framed_from = 0;
            loop {
                let step = dec.step(&input[used..]).map_err(|_| BodyTurn::BadFraming)?;
                match step {
                    Chunk::Data {
                        start,
                        end,
                        consumed,
                    } => {
                        let framed = &input[framed_from..used + consumed];
                        take(&input[used + start..used + end], framed).map_err(BodyTurn::Store)?;
                        framed_from = used + consumed;
                        used += consumed;
                    }
                    Chunk::NeedMore { consumed } => {
                        used += consumed;
                        take(&[], &input[framed_from..used]).map_err(BodyTurn::Store)?;
                        return Ok((used, false));
                    }
                    Chunk::Done { consumed } => {
                        used += consumed;
                        take(&[], &input[framed_from..used]).map_err(BodyTurn::Store)?;
                        return Ok((used, true));
                    }
                }
                if used >= input.len() {
                    take(&[], &input[framed_from..used]).map_err(BodyTurn::Store)?;
                    return Ok((used, false));
                }
            }
        }
    }
}

/// Feeds `input` to a body's framing, dropping the data; returns (bytes used, body
/// finished). For checking the body bytes that came with the head.
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
