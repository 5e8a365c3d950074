//! One HTTP/2 connection's protocol state: the preface, streams and their states, both
//! levels of flow control, SETTINGS/PING/GOAWAY, header blocks across CONTINUATIONs, and
//! the flood defences. Transport-free: bytes in ([`Session::receive`]), one [`Event`] at a
//! time out, bytes to send in [`Session::pending`].
//!
//! Streams are answered in plain fair round-robin by the caller: RFC 9113 deprecates the
//! priority tree and PRIORITY frames are parsed, checked and otherwise ignored.
//!
//! Defences (each bounded per connection):
//! - rapid reset (CVE-2023-44487): at most twice `max_concurrent_streams` new streams per
//!   read event ([`Session::new_read`]), more are refused (nginx 1.25.3's rule), and at
//!   most `max_requests` streams per connection;
//! - CONTINUATION flood, HPACK bomb, huge HEADERS frame: a header block is bounded as sent
//!   and as decoded (`large_client_header_buffers`) while it arrives, a whole
//!   representation decoded at a time (at most one waits undecoded); past that the
//!   connection ends with ENHANCE_YOUR_CALM;
//! - SETTINGS/PING/empty-frame floods: nginx's rule, total frame bytes over eight times the
//!   payload bytes (headers and data) plus 1 MiB is a flood; and the answers a client makes
//!   us queue (ACKs, resets) are bounded while it does not read them;
//! - memory: we announce SETTINGS_MAX_FRAME_SIZE 2^24-1 as nginx, and read DATA, HEADERS
//!   and CONTINUATION payloads in pieces as they arrive, so no frame needs a buffer of its
//!   size; the peer cannot send more body than the stream windows we open
//!   (`http2_body_preread_size` each, or wide open for a body the request stores as it
//!   comes, see [`Session::open_window`]), nor more streams than we allow.

use super::ErrorCode;
use super::frame::{self, Frame, FrameError, Header, flag, setting};
use super::hpack::{self, Decoder, HeaderList};
use super::validate::{self, RequestHead};
use pieces::InFrame;

/// A connection's limits (from nginx's directives).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `http2_max_concurrent_streams` (128).
    pub max_concurrent_streams: u32,
    /// `http2_body_preread_size` (64k): each stream's receive window.
    pub initial_window: u32,
    /// `large_client_header_buffers` (4 8k): the header-size limits.
    pub header: hpack::Limits,
    /// `http2_chunk_size` (8k): the most body bytes per DATA frame.
    pub chunk_size: usize,
    /// `keepalive_requests` (1000): streams per connection, then GOAWAY.
    pub max_requests: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_concurrent_streams: 128,
            initial_window: 65_536,
            header: hpack::Limits {
                field: 8192,
                list: 4 * 8192,
            },
            chunk_size: 8192,
            max_requests: 1000,
        }
    }
}

/// What a received frame means to the caller.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A new request; its head is [`Session::request`]'s until the next `receive`.
    Request { stream: u32, end_stream: bool },
    /// Request body bytes; `end_stream`: the body is complete. Give the bytes back with
    /// [`Session::consumed`] as they are used: that reopens the stream's window.
    Data {
        stream: u32,
        data: &'a [u8],
        end_stream: bool,
    },
    /// The request's trailers (the body is complete); in [`Session::request`]'s list.
    Trailers { stream: u32 },
    /// A stream the caller knows was reset (by the peer, or by us for a stream error).
    Reset { stream: u32, code: ErrorCode },
    /// The request body's length differs from its `content-length`: `received` bytes,
    /// more than `declared`, or fewer when the stream ended. The DATA frame that showed it
    /// is not delivered, nor is any later one; as nginx, the request is to be answered 400
    /// on its stream.
    BodyMismatch {
        stream: u32,
        received: u64,
        declared: u64,
    },
    /// A new stream whose request is malformed (the log words): it is open, and is to be
    /// answered with 400 as nginx 1.24+ answers it (RFC 9113 8.1.1 allows a response
    /// before the stream closes); its fields never become a request.
    Malformed { stream: u32, why: &'static str },
    /// Send windows grew: blocked streams may send again.
    WindowOpened,
}

/// A connection error: GOAWAY is queued, nothing more is read; flush and close.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnError {
    /// The GOAWAY's code.
    pub code: ErrorCode,
    /// Why, in the words of the log line.
    pub why: &'static str,
}

/// Bytes of queued answers (ACKs, resets) a client may leave unread before it is a flood.
const MAX_UNREAD_CONTROL: usize = 256 * 1024;

struct Stream {
    id: u32,
    /// END_STREAM received.
    recv_closed: bool,
    send_window: i64,
    recv_window: i64,
    /// Body bytes used since the last WINDOW_UPDATE.
    consumed: u32,
    /// `content-length`, and the body bytes received.
    declared: Option<u64>,
    received: u64,
    /// The body's length was found wrong: its DATA is dropped (nginx's `skip_data`).
    skip_data: bool,
    /// The request reads its body whole as it comes: the receive window is kept wide
    /// open (nginx's `no_flow_control`), see [`Session::open_window`].
    whole: bool,
}

enum Phase {
    Preface,
    Frames,
    Closed,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BlockFor {
    New,
    Trailers,
    /// Decoded for HPACK's sake only (after our GOAWAY).
    Ignore,
    /// Decoded, then the stream is reset with this code.
    Refuse(ErrorCode),
}

struct Block {
    stream: u32,
    end_stream: bool,
    what: BlockFor,
    /// The HEADERS frame's priority: (depends on, weight 1-256, exclusive).
    priority: Option<(u32, u16, bool)>,
}

/// One connection's HTTP/2 state.
pub struct Session {
    limits: Limits,
    phase: Phase,
    out: Vec<u8>,
    out_pos: usize,
    peer_max_frame: usize,
    peer_initial_window: i64,
    send_window: i64,
    recv_window: i64,
    streams: Vec<Stream>,
    last_stream: u32,
    goaway_sent: bool,
    requests: u64,
    block: Option<Block>,
    /// The header block's bytes not yet decoded (at most one representation's).
    block_bytes: Vec<u8>,
    /// Bytes of the header block so far, as sent.
    block_len: u32,
    /// The frame whose payload is being read in pieces.
    in_frame: Option<InFrame>,
    fields: HeaderList,
    head: RequestHead,
    decoder: Decoder,
    total_bytes: u64,
    payload_bytes: u64,
    new_streams: u32,
    /// A stream whose header block outlived `client_header_timeout` and was reset: the
    /// rest of its block is decoded for HPACK's sake only.
    header_timed_out: u32,
    /// The client acknowledged our SETTINGS (our initial window applies from then on).
    settings_acked: bool,
    /// RFC 7540 priorities, as nginx follows them.
    tree: super::priority::Tree,
}

impl Session {
    /// A server session; our SETTINGS and the connection window's opening are queued.
    pub fn new(limits: Limits) -> Session {
        let mut out = Vec::with_capacity(64);
        frame::put_settings(
            &mut out,
            &[
                (
                    setting::MAX_CONCURRENT_STREAMS,
                    limits.max_concurrent_streams,
                ),
                (setting::INITIAL_WINDOW_SIZE, limits.initial_window),
                // As nginx: any frame size; what a frame holds is bounded elsewhere
                // (header limits, windows), and payloads are read in pieces.
                (setting::MAX_FRAME_SIZE, frame::MAX_FRAME_SIZE),
            ],
        );
        // As nginx: the connection window is opened wide, streams' windows do the
        // back-pressure.
        frame::put_window_update(&mut out, 0, frame::MAX_WINDOW - 65_535);
        Session {
            limits,
            phase: Phase::Preface,
            out,
            out_pos: 0,
            peer_max_frame: frame::DEFAULT_MAX_FRAME_SIZE as usize,
            peer_initial_window: 65_535,
            send_window: 65_535,
            recv_window: i64::from(frame::MAX_WINDOW),
            streams: Vec::new(),
            last_stream: 0,
            goaway_sent: false,
            requests: 0,
            block: None,
            block_bytes: Vec::new(),
            block_len: 0,
            in_frame: None,
            fields: HeaderList::default(),
            head: RequestHead::default(),
            decoder: Decoder::new(4096),
            total_bytes: 0,
            payload_bytes: 0,
            new_streams: 0,
            header_timed_out: 0,
            settings_acked: false,
            tree: super::priority::Tree::default(),
        }
    }

    /// Bytes the caller's read buffer must hold for the session to make progress: a whole
    /// control frame of up to 16384 bytes (larger ones, and DATA, HEADERS and
    /// CONTINUATION of any size, are read in pieces as they arrive).
    pub const MIN_READ_BUFFER: usize = frame::HEADER_LEN + frame::DEFAULT_MAX_FRAME_SIZE as usize;

    /// A new read event begins (the rapid-reset budget is per read event).
    pub fn new_read(&mut self) {
        self.new_streams = 0;
    }

    /// The bytes to write.
    pub fn pending(&self) -> &[u8] {
        self.out.get(self.out_pos..).unwrap_or_default()
    }

    /// `n` bytes of [`Session::pending`] were written.
    pub fn advance(&mut self, n: usize) {
        self.out_pos = (self.out_pos + n).min(self.out.len());
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        }
    }

    /// Hands back the buffers a busy connection grew (header block, decoded fields, sent
    /// bytes) once no stream is open and nothing waits to be written: an idle HTTP/2
    /// connection keeps only its state and the client's HPACK table (at most 4 KB).
    pub fn idle_trim(&mut self) {
        if self.streams.is_empty()
            && self.block.is_none()
            && self.in_frame.is_none()
            && self.pending().is_empty()
        {
            self.block_bytes = Vec::new();
            self.fields = HeaderList::default();
            self.out = Vec::new();
            self.out_pos = 0;
        }
    }

    /// The head and fields of the request (or trailers) the last event announced.
    pub fn request(&self) -> (&RequestHead, &HeaderList) {
        (&self.head, &self.fields)
    }

    /// Bytes of the header block (HEADERS and CONTINUATION payloads, HPACK-encoded) of
    /// the request the last event announced: nginx's `$request_length` counts them.
    pub fn block_len(&self) -> usize {
        self.block_len as usize
    }

    /// Streams not yet closed.
    pub fn open_streams(&self) -> usize {
        self.streams.len()
    }

    /// Whether the connection is done: GOAWAY sent (or a connection error) and no stream
    /// left.
    pub fn finished(&self) -> bool {
        matches!(self.phase, Phase::Closed) || (self.goaway_sent && self.streams.is_empty())
    }

    /// The new stream whose header block is in progress (its HEADERS frame read in part, or
    /// its CONTINUATION awaited), `input` being the unread bytes: what
    /// `client_header_timeout` times, as nginx times a stream's headers.
    pub fn header_in_progress(&self, input: &[u8]) -> Option<u32> {
        if let Some(b) = &self.block {
            return (b.what == BlockFor::New).then_some(b.stream);
        }
        if !matches!(self.phase, Phase::Frames) || self.in_frame.is_some() {
            return None;
        }
        let h = Header::parse(input)?;
        let partial = input.len() < frame::HEADER_LEN + h.len as usize;
        (partial && h.kind == frame::kind::HEADERS && h.stream > self.last_stream)
            .then_some(h.stream)
    }

    /// `stream`'s header block took longer than `client_header_timeout`: it is reset with
    /// PROTOCOL_ERROR (nginx's timed-out stream) and its block, when it comes, is decoded
    /// for the HPACK table only.
    pub fn header_timeout(&mut self, stream: u32) {
        frame::put_rst(&mut self.out, stream, ErrorCode::Protocol);
        match self.block.as_mut() {
            Some(b) if b.stream == stream => b.what = BlockFor::Ignore,
            _ => self.header_timed_out = stream,
        }
    }

    /// Whether a frame was read in part (its payload, or a header block awaiting its
    /// CONTINUATION): the connection is not idle.
    pub fn mid_frame(&self) -> bool {
        self.in_frame.is_some() || self.block.is_some()
    }

    /// Whether nothing was received yet but (part of) the preface.
    pub fn before_preface(&self) -> bool {
        matches!(self.phase, Phase::Preface)
    }

    /// The highest stream id the client opened.
    pub fn last_stream(&self) -> u32 {
        self.last_stream
    }

    fn find(&mut self, id: u32) -> Option<&mut Stream> {
        self.streams.iter_mut().find(|s| s.id == id)
    }

    fn remove(&mut self, id: u32) {
        self.streams.retain(|s| s.id != id);
        self.tree.close(id);
    }

    /// Where `stream` stands in the priority tree: (rank, relative weight). Output goes
    /// lower rank first, then heavier, as nginx queues it.
    pub fn standing(&self, stream: u32) -> (u32, f64) {
        self.tree.standing(stream)
    }

    fn conn_error(&mut self, code: ErrorCode, why: &'static str) -> ConnError {
        if !matches!(self.phase, Phase::Closed) {
            frame::put_goaway(&mut self.out, self.last_stream, code);
            self.phase = Phase::Closed;
        }
        self.streams.clear();
        ConnError { code, why }
    }

    /// Resets `id` for a stream error; the caller hears of it if it knew the stream.
    fn stream_error(&mut self, id: u32, code: ErrorCode) -> Option<Event<'static>> {
        frame::put_rst(&mut self.out, id, code);
        let known = self.streams.iter().any(|s| s.id == id);
        self.remove(id);
        known.then_some(Event::Reset { stream: id, code })
    }

    /// Graceful stop (reload, QUIT, `keepalive_requests` reached): GOAWAY with the last
    /// stream id; streams in flight finish, new ones are ignored.
    pub fn goaway(&mut self) {
        if !self.goaway_sent && !matches!(self.phase, Phase::Closed) {
            frame::put_goaway(&mut self.out, self.last_stream, ErrorCode::NoError);
            self.goaway_sent = true;
        }
    }

    /// Ends the connection now with `code` (timeouts, our own failures).
    pub fn abort(&mut self, code: ErrorCode) {
        let _ = self.conn_error(code, "");
    }

    /// Reads what it can from `input`: how many bytes it used, and the event they made
    /// (none: more input is needed, or the frames needed no answer from the caller; call
    /// again while it uses bytes).
    pub fn receive<'a>(
        &mut self,
        input: &'a [u8],
    ) -> Result<(usize, Option<Event<'a>>), ConnError> {
        let r = self.receive_frames(input)?;
        if self.pending().len() > MAX_UNREAD_CONTROL + self.limits.chunk_size * 4 {
            return Err(self.conn_error(ErrorCode::EnhanceYourCalm, "http2 flood detected"));
        }
        Ok(r)
    }

    fn receive_frames<'a>(
        &mut self,
        input: &'a [u8],
    ) -> Result<(usize, Option<Event<'a>>), ConnError> {
        match self.phase {
            Phase::Closed => return Ok((0, None)),
            Phase::Preface => {
                let n = input.len().min(frame::PREFACE.len());
                if input[..n] != frame::PREFACE[..n] {
                    return Err(self.conn_error(ErrorCode::Protocol, "client sent invalid preface"));
                }
                if n < frame::PREFACE.len() {
                    return Ok((0, None));
                }
                self.phase = Phase::Frames;
                return Ok((n, None));
            }
            Phase::Frames => {}
        }
        if self.in_frame.is_some() {
            return self.frame_rest(input);
        }
        let Some(h) = Header::parse(input) else {
            return Ok((0, None));
        };
        if h.kind == frame::kind::PUSH_PROMISE {
            // As nginx: refused on its frame header, its payload need not come.
            return Err(self.conn_error(ErrorCode::Protocol, "client sent PUSH_PROMISE frame"));
        }
        if self
            .block
            .as_ref()
            .is_some_and(|b| h.kind != frame::kind::CONTINUATION || h.stream != b.stream)
        {
            return Err(self.conn_error(
                ErrorCode::Protocol,
                "client sent a frame inside a header block",
            ));
        }
        let payload = &input[frame::HEADER_LEN..];
        match h.kind {
            frame::kind::DATA | frame::kind::HEADERS | frame::kind::CONTINUATION => {
                return self.frame_start(&h, payload);
            }
            _ if h.len > frame::DEFAULT_MAX_FRAME_SIZE => return self.big_frame(&h, payload),
            _ => {}
        }
        let size = frame::HEADER_LEN + h.len as usize;
        let Some(payload) = payload.get(..h.len as usize) else {
            return Ok((0, None));
        };
        self.count(size, 0)?;
        let event = match frame::decode(&h, payload) {
            Ok(f) => self.frame(f)?,
            Err(e) => self.frame_error(e)?,
        };
        Ok((size, event))
    }

    /// Counts received bytes (`payload`: of headers and data) for the flood rule.
    fn count(&mut self, total: usize, payload: usize) -> Result<(), ConnError> {
        self.total_bytes += total as u64;
        self.payload_bytes += payload as u64;
        if self.total_bytes / 8 > self.payload_bytes + 1_048_576 {
            return Err(self.conn_error(ErrorCode::EnhanceYourCalm, "http2 flood detected"));
        }
        Ok(())
    }

    fn frame_error(&mut self, e: FrameError) -> Result<Option<Event<'static>>, ConnError> {
        match e {
            FrameError::Connection(code, why) => Err(self.conn_error(code, why)),
            FrameError::Stream(id, code, _) => Ok(self.stream_error(id, code)),
        }
    }

    fn frame<'a>(&mut self, f: Frame<'a>) -> Result<Option<Event<'a>>, ConnError> {
        match f {
            // Read in pieces by `frame_start`, never decoded whole.
            Frame::Data { .. } | Frame::Headers { .. } | Frame::Continuation { .. } => Ok(None),
            Frame::Priority { stream, priority } => {
                self.tree.prioritize(
                    stream,
                    priority.depends_on,
                    u16::from(priority.weight) + 1,
                    priority.exclusive,
                );
                Ok(None)
            }
            Frame::Unknown => Ok(None),
            Frame::RstStream { stream, code } => {
                if stream > self.last_stream {
                    return Err(self.conn_error(
                        ErrorCode::Protocol,
                        "client sent RST_STREAM for an idle stream",
                    ));
                }
                let known = self.streams.iter().any(|s| s.id == stream);
                self.remove(stream);
                Ok(known.then_some(Event::Reset {
                    stream,
                    code: ErrorCode::from_u32(code),
                }))
            }
            Frame::Settings { ack, params } => {
                if ack {
                    self.settings_acked = true;
                    return Ok(None);
                }
                self.settings(params, true)
            }
            Frame::Ping { ack, data } => {
                if !ack {
                    frame::put_header(&mut self.out, 8, frame::kind::PING, flag::ACK, 0);
                    self.out.extend_from_slice(&data);
                }
                Ok(None)
            }
            Frame::GoAway { .. } => {
                // The client will open no more streams; those in flight finish.
                Ok(None)
            }
            Frame::WindowUpdate { stream, increment } => self.window_update(stream, increment),
        }
    }

    /// A DATA frame's windows and stream state, from its header: `content` bytes of data
    /// in `flow_len` (padding included). `Some`: the stream was reset for it.
    fn data_start(
        &mut self,
        id: u32,
        end_stream: bool,
        content: usize,
        flow_len: u32,
    ) -> Result<Option<Event<'static>>, ConnError> {
        self.recv_window -= i64::from(flow_len);
        if self.recv_window < 0 {
            return Err(self.conn_error(
                ErrorCode::FlowControl,
                "client violated connection flow control",
            ));
        }
        if self.recv_window < i64::from(frame::MAX_WINDOW / 2) {
            let inc = i64::from(frame::MAX_WINDOW) - self.recv_window;
            frame::put_window_update(&mut self.out, 0, inc as u32);
            self.recv_window += inc;
        }
        if id > self.last_stream {
            return Err(self.conn_error(ErrorCode::Protocol, "client sent DATA on an idle stream"));
        }
        let Some(s) = self.streams.iter_mut().find(|s| s.id == id) else {
            // A stream we closed: the bytes are dropped (its window no longer matters).
            return Ok(None);
        };
        if s.recv_closed {
            return Ok(self.stream_error(id, ErrorCode::StreamClosed));
        }
        s.recv_window -= i64::from(flow_len);
        if s.recv_window < 0 {
            return Ok(self.stream_error(id, ErrorCode::FlowControl));
        }
        // Padding is used up at once.
        s.consumed += flow_len - content as u32;
        if s.whole && !end_stream && s.recv_window < i64::from(frame::MAX_WINDOW / 4) {
            let inc = i64::from(frame::MAX_WINDOW) - s.recv_window;
            s.recv_window += inc;
            frame::put_window_update(&mut self.out, id, inc as u32);
        }
        if end_stream {
            s.recv_closed = true;
        }
        Ok(None)
    }

    /// A HEADERS frame begins a block: decide what it is for.
    fn headers(&mut self, id: u32, end_stream: bool) -> Result<(), ConnError> {
        if id.is_multiple_of(2) {
            return Err(self.conn_error(
                ErrorCode::Protocol,
                "client sent HEADERS with even stream id",
            ));
        }
        let what = if let Some(s) = self.streams.iter().find(|s| s.id == id) {
            if s.recv_closed {
                BlockFor::Refuse(ErrorCode::StreamClosed)
            } else if !end_stream {
                BlockFor::Refuse(ErrorCode::Protocol)
            } else {
                BlockFor::Trailers
            }
        } else if id <= self.last_stream {
            return Err(self.conn_error(
                ErrorCode::Protocol,
                "client sent HEADERS on a closed stream",
            ));
        } else {
            self.last_stream = id;
            self.new_streams += 1;
            if self.goaway_sent || id == self.header_timed_out {
                BlockFor::Ignore
            } else if self.streams.len() >= self.limits.max_concurrent_streams as usize
                || self.new_streams > 2 * self.limits.max_concurrent_streams
            {
                BlockFor::Refuse(ErrorCode::RefusedStream)
            } else if !self.settings_acked && !end_stream && self.limits.initial_window < 65_535 {
                // As nginx: a body before our smaller window is acknowledged would
                // overrun it ("client sent stream with data before settings were
                // acknowledged").
                BlockFor::Refuse(ErrorCode::RefusedStream)
            } else {
                BlockFor::New
            }
        };
        self.block = Some(Block {
            stream: id,
            end_stream,
            what,
            priority: None,
        });
        Ok(())
    }

    /// The next piece of the header block: its whole representations are decoded now
    /// (nginx judges a block as it arrives), the rest waits; `block_end`: the last piece.
    fn fragment(
        &mut self,
        fragment: &[u8],
        block_end: bool,
    ) -> Result<Option<Event<'static>>, ConnError> {
        // A fragment is at most 2^24-1 bytes, the sum stops at the bound.
        self.block_len = self.block_len.saturating_add(fragment.len() as u32);
        let bound = self.limits.header.list + self.limits.header.field;
        if self.block_len as usize > bound {
            return Err(self.conn_error(ErrorCode::EnhanceYourCalm, "client sent too large header"));
        }
        let limits = self.limits.header;
        let decoded = if self.block_bytes.is_empty() {
            self.decoder
                .decode_some(fragment, &mut self.fields, limits, block_end)
                .map(|used| {
                    self.block_bytes
                        .extend_from_slice(fragment.get(used..).unwrap_or_default())
                })
        } else {
            self.block_bytes.extend_from_slice(fragment);
            self.decoder
                .decode_some(&self.block_bytes, &mut self.fields, limits, block_end)
                .map(|used| {
                    self.block_bytes.drain(..used);
                })
        };
        match decoded {
            Ok(()) => {}
            Err(hpack::HpackError::TooLarge) => {
                return Err(
                    self.conn_error(ErrorCode::EnhanceYourCalm, "client sent too large header")
                );
            }
            Err(hpack::HpackError::Compression(why)) => {
                return Err(self.conn_error(ErrorCode::Compression, why));
            }
            Err(hpack::HpackError::Truncated) => {
                return Err(self.conn_error(
                    ErrorCode::FrameSize,
                    "client sent header block with incorrect length",
                ));
            }
        }
        if !block_end {
            return Ok(None);
        }
        let Some(block) = self.block.take() else {
            return Ok(None);
        };
        let id = block.stream;
        match block.what {
            BlockFor::Ignore => Ok(None),
            BlockFor::Refuse(code) => Ok(self.stream_error(id, code)),
            BlockFor::Trailers => {
                if validate::trailers(&self.fields).is_err() {
                    return Ok(self.stream_error(id, ErrorCode::Protocol));
                }
                let Some(s) = self.find(id) else {
                    return Ok(None);
                };
                s.recv_closed = true;
                if s.skip_data {
                    return Ok(None);
                }
                if let Some(declared) = s.declared.filter(|&d| d != s.received) {
                    // The body ended short (ngx_http_v2_filter_request_body).
                    s.skip_data = true;
                    return Ok(Some(Event::BodyMismatch {
                        stream: id,
                        received: s.received,
                        declared,
                    }));
                }
                Ok(Some(Event::Trailers { stream: id }))
            }
            BlockFor::New => {
                let (head, malformed) = match validate::request(&self.fields) {
                    Ok(h) => (h, None),
                    Err(why) => (RequestHead::default(), Some(why)),
                };
                let malformed = malformed.or_else(|| {
                    (block.end_stream && head.content_length.is_some_and(|l| l != 0))
                        .then_some("client prematurely closed stream")
                });
                self.streams.push(Stream {
                    id,
                    recv_closed: block.end_stream,
                    send_window: self.peer_initial_window,
                    recv_window: i64::from(self.limits.initial_window),
                    consumed: 0,
                    declared: head.content_length.filter(|_| malformed.is_none()),
                    received: 0,
                    skip_data: false,
                    whole: false,
                });
                self.tree.open(id, block.priority);
                self.head = head;
                self.requests += 1;
                if self.requests >= self.limits.max_requests {
                    self.goaway();
                }
                if let Some(why) = malformed {
                    return Ok(Some(Event::Malformed { stream: id, why }));
                }
                Ok(Some(Event::Request {
                    stream: id,
                    end_stream: block.end_stream,
                }))
            }
        }
    }

    /// SETTINGS parameters; `last`: the frame's last ones (then it is acknowledged).
    fn settings(&mut self, params: &[u8], last: bool) -> Result<Option<Event<'static>>, ConnError> {
        let mut opened = false;
        for p in params.chunks_exact(6) {
            let id = u16::from_be_bytes([p[0], p[1]]);
            let value = u32::from_be_bytes([p[2], p[3], p[4], p[5]]);
            match id {
                setting::ENABLE_PUSH if value > 1 => {
                    return Err(
                        self.conn_error(ErrorCode::Protocol, "client sent invalid ENABLE_PUSH")
                    );
                }
                setting::INITIAL_WINDOW_SIZE => {
                    if value > frame::MAX_WINDOW {
                        return Err(self.conn_error(
                            ErrorCode::FlowControl,
                            "client sent invalid INITIAL_WINDOW_SIZE",
                        ));
                    }
                    let delta = i64::from(value) - self.peer_initial_window;
                    self.peer_initial_window = i64::from(value);
                    for s in &mut self.streams {
                        s.send_window += delta;
                        if s.send_window > i64::from(frame::MAX_WINDOW) {
                            return Err(self.conn_error(
                                ErrorCode::FlowControl,
                                "client sent invalid INITIAL_WINDOW_SIZE",
                            ));
                        }
                    }
                    opened |= delta > 0;
                }
                setting::MAX_FRAME_SIZE => {
                    if !(frame::DEFAULT_MAX_FRAME_SIZE..=(1 << 24) - 1).contains(&value) {
                        return Err(self.conn_error(
                            ErrorCode::Protocol,
                            "client sent invalid MAX_FRAME_SIZE",
                        ));
                    }
                    self.peer_max_frame = value as usize;
                }
                // The encoder indexes nothing, so the peer's table size does not matter;
                // the others concern what a client does.
                _ => {}
            }
        }
        if last {
            frame::put_header(&mut self.out, 0, frame::kind::SETTINGS, flag::ACK, 0);
        }
        Ok(opened.then_some(Event::WindowOpened))
    }

    fn window_update(
        &mut self,
        id: u32,
        increment: u32,
    ) -> Result<Option<Event<'static>>, ConnError> {
        let max = i64::from(frame::MAX_WINDOW);
        if id == 0 {
            self.send_window += i64::from(increment);
            if self.send_window > max {
                return Err(self.conn_error(
                    ErrorCode::FlowControl,
                    "client sent too large WINDOW_UPDATE",
                ));
            }
            return Ok(Some(Event::WindowOpened));
        }
        if id > self.last_stream {
            return Err(self.conn_error(
                ErrorCode::Protocol,
                "client sent WINDOW_UPDATE for an idle stream",
            ));
        }
        let Some(s) = self.find(id) else {
            return Ok(None);
        };
        s.send_window += i64::from(increment);
        if s.send_window > max {
            return Ok(self.stream_error(id, ErrorCode::FlowControl));
        }
        Ok(Some(Event::WindowOpened))
    }
}

mod pieces;
mod send;

#[cfg(test)]
mod tests;
