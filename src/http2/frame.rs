//! HTTP/2 frames (RFC 9113 section 4 and 6): the 9-byte header, each type's payload checked
//! as the RFC requires (lengths, stream 0 or not, padding), and the encoders for what a
//! server sends. Nothing here allocates or keeps state.

use super::ErrorCode;

/// Bytes of a frame header.
pub const HEADER_LEN: usize = 9;
/// The connection preface a client sends first (3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// SETTINGS_MAX_FRAME_SIZE's initial (and smallest) value.
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;
/// SETTINGS_MAX_FRAME_SIZE's largest value (4.2), what nginx announces it takes.
pub const MAX_FRAME_SIZE: u32 = (1 << 24) - 1;
/// The largest flow-control window (6.9.1).
pub const MAX_WINDOW: u32 = (1 << 31) - 1;

/// Frame types.
pub mod kind {
    /// DATA
    pub const DATA: u8 = 0;
    /// HEADERS
    pub const HEADERS: u8 = 1;
    /// PRIORITY
    pub const PRIORITY: u8 = 2;
    /// RST_STREAM
    pub const RST_STREAM: u8 = 3;
    /// SETTINGS
    pub const SETTINGS: u8 = 4;
    /// PUSH_PROMISE
    pub const PUSH_PROMISE: u8 = 5;
    /// PING
    pub const PING: u8 = 6;
    /// GOAWAY
    pub const GOAWAY: u8 = 7;
    /// WINDOW_UPDATE
    pub const WINDOW_UPDATE: u8 = 8;
    /// CONTINUATION
    pub const CONTINUATION: u8 = 9;
}

/// Flags.
pub mod flag {
    /// END_STREAM (DATA, HEADERS)
    pub const END_STREAM: u8 = 0x1;
    /// ACK (SETTINGS, PING)
    pub const ACK: u8 = 0x1;
    /// END_HEADERS (HEADERS, CONTINUATION)
    pub const END_HEADERS: u8 = 0x4;
    /// PADDED (DATA, HEADERS)
    pub const PADDED: u8 = 0x8;
    /// PRIORITY (HEADERS)
    pub const PRIORITY: u8 = 0x20;
}

/// SETTINGS identifiers (6.5.2).
pub mod setting {
    /// SETTINGS_HEADER_TABLE_SIZE
    pub const HEADER_TABLE_SIZE: u16 = 1;
    /// SETTINGS_ENABLE_PUSH
    pub const ENABLE_PUSH: u16 = 2;
    /// SETTINGS_MAX_CONCURRENT_STREAMS
    pub const MAX_CONCURRENT_STREAMS: u16 = 3;
    /// SETTINGS_INITIAL_WINDOW_SIZE
    pub const INITIAL_WINDOW_SIZE: u16 = 4;
    /// SETTINGS_MAX_FRAME_SIZE
    pub const MAX_FRAME_SIZE: u16 = 5;
    /// SETTINGS_MAX_HEADER_LIST_SIZE
    pub const MAX_HEADER_LIST_SIZE: u16 = 6;
}

/// A frame's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Payload length.
    pub len: u32,
    /// Type.
    pub kind: u8,
    /// Flags.
    pub flags: u8,
    /// Stream identifier (reserved bit cleared).
    pub stream: u32,
}

impl Header {
    /// Parses a header from the first 9 bytes of `b`, if there are 9.
    pub fn parse(b: &[u8]) -> Option<Header> {
        let h: &[u8; HEADER_LEN] = b.get(..HEADER_LEN)?.try_into().ok()?;
        Some(Header {
            len: u32::from_be_bytes([0, h[0], h[1], h[2]]),
            kind: h[3],
            flags: h[4],
            stream: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & MAX_WINDOW,
        })
    }

    /// Whether flag `f` is set.
    pub fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }
}

/// A frame's fault: the whole connection's or one stream's (5.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// A connection error: GOAWAY and close.
    Connection(ErrorCode, &'static str),
    /// A stream error: RST_STREAM on that stream only.
    Stream(u32, ErrorCode, &'static str),
}

/// A stream dependency (5.3, deprecated by RFC 9113: parsed, checked, not used).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Priority {
    /// The stream depended on.
    pub depends_on: u32,
    /// Exclusive flag.
    pub exclusive: bool,
    /// Weight minus one.
    pub weight: u8,
}

/// A decoded frame; slices borrow the received bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// DATA: `flow_len` (the whole payload, padding included) counts against the windows.
    Data {
        stream: u32,
        end_stream: bool,
        data: &'a [u8],
        flow_len: u32,
    },
    /// HEADERS (the first fragment of a header block).
    Headers {
        stream: u32,
        end_stream: bool,
        end_headers: bool,
        priority: Option<Priority>,
        fragment: &'a [u8],
    },
    /// PRIORITY
    Priority { stream: u32, priority: Priority },
    /// RST_STREAM
    RstStream { stream: u32, code: u32 },
    /// SETTINGS: `params` is a whole number of 6-byte (id, value) pairs.
    Settings { ack: bool, params: &'a [u8] },
    /// PING
    Ping { ack: bool, data: [u8; 8] },
    /// GOAWAY
    GoAway { last_stream: u32, code: u32 },
    /// WINDOW_UPDATE
    WindowUpdate { stream: u32, increment: u32 },
    /// CONTINUATION
    Continuation {
        stream: u32,
        end_headers: bool,
        fragment: &'a [u8],
    },
    /// A type this endpoint does not know: ignored (5.5).
    Unknown,
}

/// What precedes and follows the content (data, or a header block fragment) of a DATA,
/// HEADERS or CONTINUATION frame: enough to read the content in pieces as it arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opening {
    /// Bytes before the content: the pad length, the priority.
    pub prefix: usize,
    /// Bytes of content.
    pub content: usize,
    /// Padding bytes after the content.
    pub pad: u8,
    /// The HEADERS frame's priority block.
    pub priority: Option<Priority>,
}

/// Reads the opening of a DATA, HEADERS or CONTINUATION frame from the start of its
/// payload (`payload` may be a part of it), checked as the RFC requires (6.1, 6.2, 6.10);
/// `None` when more of the payload is needed (at most 6 bytes).
pub fn opening(h: &Header, payload: &[u8]) -> Result<Option<Opening>, FrameError> {
    use ErrorCode::{FrameSize, Protocol};
    use FrameError::Connection as Conn;
    let (what, padded, priority) = match h.kind {
        kind::DATA => ("DATA on stream 0", h.has(flag::PADDED), false),
        kind::HEADERS => (
            "HEADERS on stream 0",
            h.has(flag::PADDED),
            h.has(flag::PRIORITY),
        ),
        _ => ("CONTINUATION on stream 0", false, false),
    };
    if h.stream == 0 {
        return Err(Conn(Protocol, what));
    }
    let len = h.len as usize;
    // What follows the frame is not its own.
    let payload = payload.get(..len).unwrap_or(payload);
    let pad_len = usize::from(padded);
    let prefix = pad_len + if priority { 5 } else { 0 };
    if payload.len() < prefix.min(len) {
        return Ok(None);
    }
    let pad = if padded {
        *payload
            .first()
            .ok_or(Conn(Protocol, "padded frame without a pad length"))?
    } else {
        0
    };
    let mut content = (len - pad_len)
        .checked_sub(usize::from(pad))
        .ok_or(Conn(Protocol, "padding longer than the frame"))?;
    let mut prio = None;
    if priority {
        content = content
            .checked_sub(5)
            .ok_or(Conn(FrameSize, "HEADERS too short for its priority"))?;
        prio = payload.get(pad_len..prefix).map(self::priority);
    }
    Ok(Some(Opening {
        prefix,
        content,
        pad,
        priority: prio,
    }))
}

/// The content of a whole DATA, HEADERS or CONTINUATION frame.
fn whole<'a>(h: &Header, payload: &'a [u8]) -> Result<(Opening, &'a [u8]), FrameError> {
    let o = opening(h, payload)?.ok_or(FrameError::Connection(
        ErrorCode::FrameSize,
        "frame shorter than its length",
    ))?;
    let content = payload
        .get(o.prefix..o.prefix + o.content)
        .ok_or(FrameError::Connection(
            ErrorCode::FrameSize,
            "frame shorter than its length",
        ))?;
    Ok((o, content))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => 0,
    }
}

/// A priority block; a stream depending on itself is the caller's stream error (HEADERS
/// must still have its block decoded).
fn priority(b: &[u8]) -> Priority {
    let raw = u32_at(b, 0);
    Priority {
        depends_on: raw & MAX_WINDOW,
        exclusive: raw & !MAX_WINDOW != 0,
        weight: b.get(4).copied().unwrap_or(0),
    }
}

/// Decodes a frame whose payload (`h.len` bytes) is `payload`.
pub fn decode<'a>(h: &Header, payload: &'a [u8]) -> Result<Frame<'a>, FrameError> {
    use ErrorCode::{FrameSize, Protocol};
    use FrameError::Connection as Conn;
    let stream = h.stream;
    let on_zero = |what| {
        if stream == 0 {
            Err(Conn(Protocol, what))
        } else {
            Ok(())
        }
    };
    let not_zero = |what| {
        if stream != 0 {
            Err(Conn(Protocol, what))
        } else {
            Ok(())
        }
    };
    Ok(match h.kind {
        kind::DATA => Frame::Data {
            stream,
            end_stream: h.has(flag::END_STREAM),
            data: whole(h, payload)?.1,
            flow_len: h.len,
        },
        kind::HEADERS => {
            let (o, fragment) = whole(h, payload)?;
            Frame::Headers {
                stream,
                end_stream: h.has(flag::END_STREAM),
                end_headers: h.has(flag::END_HEADERS),
                priority: o.priority,
                fragment,
            }
        }
        kind::PRIORITY => {
            on_zero("PRIORITY on stream 0")?;
            if payload.len() != 5 {
                return Err(FrameError::Stream(
                    stream,
                    FrameSize,
                    "PRIORITY of bad length",
                ));
            }
            let priority = priority(payload);
            if priority.depends_on == stream {
                // nginx: a connection error (RFC 7540 allows a stream error).
                return Err(Conn(
                    Protocol,
                    "client sent PRIORITY frame with incorrect dependency",
                ));
            }
            Frame::Priority { stream, priority }
        }
        kind::RST_STREAM => {
            on_zero("RST_STREAM on stream 0")?;
            if payload.len() != 4 {
                return Err(Conn(FrameSize, "RST_STREAM of bad length"));
            }
            Frame::RstStream {
                stream,
                code: u32_at(payload, 0),
            }
        }
        kind::SETTINGS => {
            not_zero("SETTINGS on a stream")?;
            let ack = h.has(flag::ACK);
            if (ack && !payload.is_empty()) || !payload.len().is_multiple_of(6) {
                return Err(Conn(FrameSize, "SETTINGS of bad length"));
            }
            Frame::Settings {
                ack,
                params: payload,
            }
        }
        kind::PUSH_PROMISE => return Err(Conn(Protocol, "PUSH_PROMISE from a client")),
        kind::PING => {
            not_zero("PING on a stream")?;
            let data: [u8; 8] = payload
                .try_into()
                .map_err(|_| Conn(FrameSize, "PING of bad length"))?;
            Frame::Ping {
                ack: h.has(flag::ACK),
                data,
            }
        }
        kind::GOAWAY => {
            not_zero("GOAWAY on a stream")?;
            if payload.len() < 8 {
                return Err(Conn(FrameSize, "GOAWAY too short"));
            }
            Frame::GoAway {
                last_stream: u32_at(payload, 0) & MAX_WINDOW,
                code: u32_at(payload, 4),
            }
        }
        kind::WINDOW_UPDATE => {
            if payload.len() != 4 {
                return Err(Conn(FrameSize, "WINDOW_UPDATE of bad length"));
            }
            let increment = u32_at(payload, 0) & MAX_WINDOW;
            if increment == 0 {
                return Err(if stream == 0 {
                    Conn(Protocol, "WINDOW_UPDATE of 0")
                } else {
                    FrameError::Stream(stream, Protocol, "WINDOW_UPDATE of 0")
                });
            }
            Frame::WindowUpdate { stream, increment }
        }
        kind::CONTINUATION => Frame::Continuation {
            stream,
            end_headers: h.has(flag::END_HEADERS),
            fragment: whole(h, payload)?.1,
        },
        _ => Frame::Unknown,
    })
}

/// Appends a frame header.
pub fn put_header(out: &mut Vec<u8>, len: usize, kind: u8, flags: u8, stream: u32) {
    let l = (len as u32).to_be_bytes();
    out.extend_from_slice(&[l[1], l[2], l[3], kind, flags]);
    out.extend_from_slice(&(stream & MAX_WINDOW).to_be_bytes());
}

/// Appends a SETTINGS frame with `params`.
pub fn put_settings(out: &mut Vec<u8>, params: &[(u16, u32)]) {
    put_header(out, params.len() * 6, kind::SETTINGS, 0, 0);
    for (id, value) in params {
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&value.to_be_bytes());
    }
}

/// Appends a WINDOW_UPDATE.
pub fn put_window_update(out: &mut Vec<u8>, stream: u32, increment: u32) {
    put_header(out, 4, kind::WINDOW_UPDATE, 0, stream);
    out.extend_from_slice(&(increment & MAX_WINDOW).to_be_bytes());
}

/// Appends an RST_STREAM.
pub fn put_rst(out: &mut Vec<u8>, stream: u32, code: ErrorCode) {
    put_header(out, 4, kind::RST_STREAM, 0, stream);
    out.extend_from_slice(&(code as u32).to_be_bytes());
}

/// Appends a GOAWAY.
pub fn put_goaway(out: &mut Vec<u8>, last_stream: u32, code: ErrorCode) {
    put_header(out, 8, kind::GOAWAY, 0, 0);
    out.extend_from_slice(&(last_stream & MAX_WINDOW).to_be_bytes());
    out.extend_from_slice(&(code as u32).to_be_bytes());
}

/// Appends a header block as HEADERS and as many CONTINUATIONs as `max_frame` requires.
pub fn put_headers(
    out: &mut Vec<u8>,
    stream: u32,
    block: &[u8],
    end_stream: bool,
    max_frame: usize,
) {
    let max_frame = max_frame.max(1);
    let mut chunks = block.chunks(max_frame).peekable();
    let mut kind = kind::HEADERS;
    let mut flags = if end_stream { flag::END_STREAM } else { 0 };
    if chunks.peek().is_none() {
        put_header(out, 0, kind, flags | flag::END_HEADERS, stream);
        return;
    }
    while let Some(chunk) = chunks.next() {
        if chunks.peek().is_none() {
            flags |= flag::END_HEADERS;
        }
        put_header(out, chunk.len(), kind, flags, stream);
        out.extend_from_slice(chunk);
        kind = kind::CONTINUATION;
        flags = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Result<Frame<'_>, FrameError> {
        let mut b = Vec::new();
        put_header(&mut b, payload.len(), kind, flags, stream);
        let h = Header::parse(&b).unwrap();
        assert_eq!(h.len as usize, payload.len());
        decode(&h, payload)
    }

    #[test]
    fn padding_is_stripped_and_checked() {
        let f = frame(kind::DATA, flag::PADDED | flag::END_STREAM, 1, b"\x02abcXX").unwrap();
        assert_eq!(
            f,
            Frame::Data {
                stream: 1,
                end_stream: true,
                data: b"abc",
                flow_len: 6
            }
        );
        assert!(matches!(
            frame(kind::DATA, flag::PADDED, 1, b"\x05ab"),
            Err(FrameError::Connection(ErrorCode::Protocol, _))
        ));
        assert!(frame(kind::DATA, flag::PADDED, 1, b"").is_err());
        // Read in pieces: an empty padded frame does not take the next frame's first byte
        // for its pad length.
        let mut b = Vec::new();
        put_header(&mut b, 0, kind::HEADERS, flag::PADDED, 1);
        let h = Header::parse(&b).unwrap();
        assert!(matches!(
            opening(&h, b"\x00\x00\x01"),
            Err(FrameError::Connection(ErrorCode::Protocol, _))
        ));
        let f = frame(
            kind::HEADERS,
            flag::PADDED | flag::PRIORITY,
            3,
            b"\x01\x00\x00\x00\x01\x0f\x82P",
        );
        assert!(matches!(
            f,
            Ok(Frame::Headers {
                fragment: b"\x82",
                ..
            })
        ));
    }

    #[test]
    fn rfc_checks() {
        use ErrorCode::*;
        let conn = |r: Result<Frame<'_>, FrameError>| match r {
            Err(FrameError::Connection(c, _)) => Some(c),
            _ => None,
        };
        assert_eq!(conn(frame(kind::DATA, 0, 0, b"")), Some(Protocol));
        assert_eq!(conn(frame(kind::SETTINGS, 0, 1, b"")), Some(Protocol));
        assert_eq!(conn(frame(kind::SETTINGS, 0, 0, b"12345")), Some(FrameSize));
        assert_eq!(
            conn(frame(kind::SETTINGS, flag::ACK, 0, b"123456")),
            Some(FrameSize)
        );
        assert_eq!(conn(frame(kind::PING, 0, 0, b"1234567")), Some(FrameSize));
        assert_eq!(conn(frame(kind::PING, 0, 1, b"12345678")), Some(Protocol));
        assert_eq!(conn(frame(kind::RST_STREAM, 0, 1, b"123")), Some(FrameSize));
        assert_eq!(
            conn(frame(kind::WINDOW_UPDATE, 0, 0, b"\0\0\0\0")),
            Some(Protocol)
        );
        assert_eq!(
            conn(frame(kind::PUSH_PROMISE, 0, 1, b"\0\0\0\x02")),
            Some(Protocol)
        );
        assert_eq!(conn(frame(kind::GOAWAY, 0, 0, b"1234")), Some(FrameSize));
        assert!(matches!(
            frame(kind::WINDOW_UPDATE, 0, 5, b"\0\0\0\0"),
            Err(FrameError::Stream(5, Protocol, _))
        ));
        // A stream that depends on itself: nginx's connection error.
        assert_eq!(
            conn(frame(kind::PRIORITY, 0, 5, b"\0\0\0\x05\x10")),
            Some(Protocol)
        );
        assert_eq!(frame(0xfa, 0, 0, b"whatever"), Ok(Frame::Unknown));
    }

    #[test]
    fn headers_split_into_continuations() {
        let mut out = Vec::new();
        put_headers(&mut out, 1, &[7u8; 10], true, 4);
        // HEADERS(4) CONT(4) CONT(2, END_HEADERS).
        assert_eq!(out.len(), 3 * HEADER_LEN + 10);
        let h = Header::parse(&out).unwrap();
        assert_eq!(
            (h.kind, h.flags, h.len),
            (kind::HEADERS, flag::END_STREAM, 4)
        );
        let last = Header::parse(&out[2 * HEADER_LEN + 8..]).unwrap();
        assert_eq!(
            (last.kind, last.flags),
            (kind::CONTINUATION, flag::END_HEADERS)
        );
    }
}
