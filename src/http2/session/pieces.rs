//! Frames read in pieces as they arrive (nginx's state buffer): the opening of a DATA,
//! HEADERS or CONTINUATION frame, then its content (a header block fragment, body bytes)
//! piece by piece, then its padding; SETTINGS over 16384 bytes a whole parameter at a
//! time; the rest of a long GOAWAY and of unknown frames dropped as it comes. So no frame
//! needs a buffer of its size, whatever SETTINGS_MAX_FRAME_SIZE allows.

use super::{ConnError, Event, Session};
use crate::http2::ErrorCode;
use crate::http2::frame::{self, Header, flag};

/// What a frame read in pieces carries.
#[derive(Clone, Copy)]
pub(super) enum Piece {
    /// A header block fragment (HEADERS, CONTINUATION).
    Block { end_headers: bool },
    /// Request body bytes (dropped when the stream is gone).
    Data { end_stream: bool },
    /// SETTINGS parameters (whole ones at a time).
    Settings,
    /// Bytes to drop.
    Skip,
}

/// A frame whose payload is read as it arrives (nginx's state buffer): its content, then
/// its padding.
#[derive(Clone, Copy)]
pub(super) struct InFrame {
    pub(super) stream: u32,
    pub(super) what: Piece,
    /// Content bytes still to come; `None` once the last piece was taken.
    pub(super) content_left: Option<u32>,
    pub(super) pad_left: u8,
}

impl Session {
    /// The opening of a DATA, HEADERS or CONTINUATION frame (as nginx, its content is
    /// then read in pieces as it arrives, so a frame of any size costs no buffer of its
    /// size: a header block is bounded by the header limits, a body by the windows).
    pub(super) fn frame_start<'a>(
        &mut self,
        h: &Header,
        payload: &'a [u8],
    ) -> Result<(usize, Option<Event<'a>>), ConnError> {
        let o = match frame::opening(h, payload) {
            Ok(Some(o)) => o,
            Ok(None) => return Ok((0, None)),
            Err(e) => return self.frame_error(e).map(|_| (0, None)),
        };
        let used = frame::HEADER_LEN + o.prefix;
        self.count(used, 0)?;
        let stream = h.stream;
        let what = match h.kind {
            frame::kind::DATA => {
                let end_stream = h.has(flag::END_STREAM);
                let event = self.data_start(stream, end_stream, o.content, h.len)?;
                if event.is_some() {
                    // Reset: the rest of the frame is dropped.
                    self.in_frame = (o.content + usize::from(o.pad) > 0).then_some(InFrame {
                        stream,
                        what: Piece::Skip,
                        content_left: Some(o.content as u32).filter(|&c| c > 0),
                        pad_left: o.pad,
                    });
                    return Ok((used, event));
                }
                Piece::Data { end_stream }
            }
            frame::kind::HEADERS => {
                if o.priority.is_some_and(|p| p.depends_on == stream) {
                    // As nginx: a connection error, before the stream counts.
                    return Err(self.conn_error(
                        ErrorCode::Protocol,
                        "client sent HEADERS frame with incorrect dependency",
                    ));
                }
                self.headers(stream, h.has(flag::END_STREAM))?;
                if let Some(b) = self.block.as_mut() {
                    b.priority = o
                        .priority
                        .map(|p| (p.depends_on, u16::from(p.weight) + 1, p.exclusive));
                }
                self.block_bytes.clear();
                self.block_len = 0;
                self.fields.clear();
                Piece::Block {
                    end_headers: h.has(flag::END_HEADERS),
                }
            }
            _ => {
                if self.block.is_none() {
                    return Err(
                        self.conn_error(ErrorCode::Protocol, "client sent unexpected CONTINUATION")
                    );
                }
                Piece::Block {
                    end_headers: h.has(flag::END_HEADERS),
                }
            }
        };
        self.in_frame = Some(InFrame {
            stream,
            what,
            content_left: Some(o.content as u32),
            pad_left: o.pad,
        });
        let rest = payload.get(o.prefix..).unwrap_or_default();
        let (n, event) = self.frame_rest(rest)?;
        Ok((used + n, event))
    }

    /// A control or unknown frame over 16384 bytes: SETTINGS is read in pieces, GOAWAY's
    /// first 8 bytes are read and the rest dropped, the fixed-size ones are refused as
    /// [`frame::decode`] refuses a bad length, an unknown type is dropped (5.5).
    pub(super) fn big_frame<'a>(
        &mut self,
        h: &Header,
        payload: &'a [u8],
    ) -> Result<(usize, Option<Event<'a>>), ConnError> {
        let mut used = frame::HEADER_LEN;
        let mut event = None;
        let (what, left) = match h.kind {
            frame::kind::SETTINGS => {
                if h.stream != 0 {
                    return Err(self.conn_error(ErrorCode::Protocol, "SETTINGS on a stream"));
                }
                if h.has(flag::ACK) || !h.len.is_multiple_of(6) {
                    return Err(self.conn_error(ErrorCode::FrameSize, "SETTINGS of bad length"));
                }
                (Piece::Settings, h.len)
            }
            frame::kind::GOAWAY => {
                let Some(start) = payload.get(..8) else {
                    return Ok((0, None));
                };
                match frame::decode(h, start) {
                    Ok(f) => event = self.frame(f)?,
                    Err(e) => event = self.frame_error(e)?,
                }
                used += 8;
                (Piece::Skip, h.len - 8)
            }
            _ => {
                match frame::decode(h, &[]) {
                    Ok(_) => {}
                    Err(e) => event = self.frame_error(e)?,
                }
                (Piece::Skip, h.len)
            }
        };
        self.count(used, 0)?;
        self.in_frame = Some(InFrame {
            stream: h.stream,
            what,
            content_left: Some(left),
            pad_left: 0,
        });
        if event.is_some() {
            return Ok((used, event));
        }
        let (n, event) =
            self.frame_rest(payload.get(used - frame::HEADER_LEN..).unwrap_or_default())?;
        Ok((used + n, event))
    }

    /// The next piece of the frame in progress: its content, then its padding.
    pub(super) fn frame_rest<'a>(
        &mut self,
        input: &'a [u8],
    ) -> Result<(usize, Option<Event<'a>>), ConnError> {
        let Some(mut f) = self.in_frame else {
            return Ok((0, None));
        };
        let mut used = 0;
        if let Some(left) = f.content_left {
            let left = left as usize;
            let mut n = left.min(input.len());
            if matches!(f.what, Piece::Settings) {
                // Whole parameters only.
                n -= n % 6;
            }
            if n == 0 && left > 0 {
                return Ok((0, None));
            }
            let last = n == left;
            f.content_left = (!last).then_some((left - n) as u32);
            self.in_frame = (!last || f.pad_left > 0).then_some(f);
            let counted = match f.what {
                Piece::Block { .. } | Piece::Data { .. } => n,
                Piece::Settings | Piece::Skip => 0,
            };
            self.count(n, counted)?;
            let bytes = &input[..n];
            let event = match f.what {
                Piece::Block { end_headers } => self.fragment(bytes, last && end_headers)?,
                Piece::Data { end_stream } => self.data_piece(f.stream, bytes, last && end_stream),
                Piece::Settings => self.settings(bytes, last)?,
                Piece::Skip => None,
            };
            if event.is_some() || !last || f.pad_left == 0 {
                return Ok((n, event));
            }
            used = n;
        }
        // The padding, dropped.
        let n = usize::from(f.pad_left).min(input.len() - used);
        f.pad_left -= n as u8;
        self.in_frame = (f.pad_left > 0).then_some(f);
        self.count(n, 0)?;
        Ok((used + n, None))
    }

    /// A piece of a DATA frame's content for its stream, counted against the request's
    /// `content-length`: the piece that goes past it, or the end that leaves it short, is
    /// nginx's 400 (`ngx_http_v2_filter_request_body`), and what follows is dropped.
    fn data_piece<'a>(&mut self, id: u32, bytes: &'a [u8], end_stream: bool) -> Option<Event<'a>> {
        let s = self.streams.iter_mut().find(|s| s.id == id)?;
        if s.skip_data {
            return None;
        }
        let received = s.received + bytes.len() as u64;
        s.received = received;
        if let Some(declared) = s.declared
            && (received > declared || (end_stream && received < declared))
        {
            s.skip_data = true;
            return Some(Event::BodyMismatch {
                stream: id,
                received,
                declared,
            });
        }
        (end_stream || !bytes.is_empty()).then_some(Event::Data {
            stream: id,
            data: bytes,
            end_stream,
        })
    }
}
