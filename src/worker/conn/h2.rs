//! An HTTP/2 connection (`listen ... http2` in clear with prior knowledge, or ALPN `h2`
//! over TLS): the protocol is [`crate::http2::Session`]'s; this file gives it the socket
//! and gives each stream a request.
//!
//! One request model, two framings: a stream's request is a [`Conn`] of its own whose
//! transport is a [`Pipe`] in memory instead of a socket. Its head is rendered as the
//! HTTP/1.1 head the parser reads ([`bridge::request_head`]), its body bytes follow as
//! DATA frames bring them, so routing, phases, static files (read into memory: no
//! `sendfile` into a pipe), upstreams, gzip, access, limits, `error_page`, `add_header` and
//! the access log run exactly as for HTTP/1.1. What the request writes is the response
//! HTTP/1.1 would have sent; the connection turns its head into a HEADERS block
//! ([`bridge::response_block`]), takes the chunked framing off its body, and drains it into
//! DATA frames within both flow-control windows, streams served in fair round-robin. The
//! connection is the socket's only writer: a stream's full pipe is its back-pressure, and a
//! stream's request body window reopens only as its request reads the bytes (a body the
//! request stores whole gets it wide open, as nginx). A body's length is checked against
//! its `content-length` by the session; a fault reaches the request as a failed read of
//! its pipe, which answers 400.
//!
//! The cost of the model is one render and one parse of each head and one copy of each
//! body byte through the pipe; in return no request feature has a second implementation.

use std::time::Duration;

use super::client::Pipe;
use super::*;
use crate::http2::bridge::{self, BodyFraming};
use crate::http2::{ErrorCode, Event, Limits, Session, hpack};

/// A stream's request blocks its writes once this much of its response waits to be framed.
const PIPE_OUT_LIMIT: usize = 64 * 1024;
/// The connection frames no more stream output while this much waits for the socket.
const MAX_QUEUED: usize = 256 * 1024;
/// Rounds of read, frame, drive and write in one drive of the connection.
const MAX_ROUNDS: usize = 64;

/// One HTTP/2 connection's state beside its socket.
pub(super) struct H2<'c> {
    session: Session,
    /// Bytes read and not yet taken by the session: `inbuf[in_start..in_end]`.
    inbuf: Vec<u8>,
    in_start: usize,
    in_end: usize,
    streams: Vec<H2Stream<'c>>,
    /// Where the next round-robin pass starts.
    next: usize,
    /// `$http2`: "h2" or "h2c".
    label: &'static str,
    /// The socket's local address, for the streams' `$server_addr`.
    local: Option<SocketAddr>,
    /// `keepalive_timeout` of the address's default server: an idle connection's life.
    idle_timeout: Duration,
    /// `send_timeout`: the longest the client may leave our output unread.
    send_timeout: Duration,
    /// `http2_recv_buffer_size`: the most bytes read per event.
    recv_budget: usize,
    /// `client_header_timeout`: the longest a stream's header block may take.
    header_timeout: Duration,
    /// The stream whose header block is in progress, and since when.
    header_since: Option<(u32, Instant)>,
    /// When the connection last had no stream (its idle time counts from then).
    idle_since: Instant,
    /// Since when output waits on a client that reads nothing (window or socket).
    stalled_since: Option<Instant>,
    /// The client closed its side.
    peer_gone: bool,
    /// A connection error or an idle timeout: flush, then close.
    closing: bool,
    /// When a closing connection closes even if its last bytes did not go.
    close_by: Option<Instant>,
    /// Requests started on the connection (`$connection_requests`).
    requests: u64,
    /// A stream yielded its turn (`sendfile_max_chunk`, `limit_rate`): drive again soon.
    yielded: bool,
    block: Vec<u8>,
    /// The order of a framing pass: indices into `streams` with their standing.
    order: Vec<(usize, u32, f64)>,
    // ---- connection lifecycle (graceful close) ----
    /// How the connection ends: the default server's settings.
    end: EndConf,
    /// The connection ended gracefully (GOAWAY went, no stream is left): it closes with a
    /// lingering close rather than at once.
    linger: bool,
    /// A stream was begun, even one reset for a slow header block: the connection no
    /// longer waits for its first stream.
    begun: bool,
    /// The connection is over for the client (it closed, an error, a timeout), but some
    /// streams' requests still wait for their background subrequests (a cache update, a
    /// mirror): as nginx's `ngx_http_v2_finalize_connection`, which leaves the close to the
    /// last of them, they run to their end; the socket is neither read nor written.
    draining: bool,
}

/// How an HTTP/2 connection ends, from the address's default server (nginx reads them
/// from `h2c->http_connection->conf_ctx`).
struct EndConf {
    /// `client_header_timeout`: how long a new connection may wait for its first stream.
    first_timeout: Duration,
    /// `keepalive_time`: a stream opened after this much of the connection's life gets
    /// GOAWAY with it.
    keepalive_time: Duration,
    /// `lingering_close off` closes at once; otherwise the client's last bytes are read
    /// and discarded, so that they do not reset what it was still to read.
    lingering_off: bool,
    /// `lingering_time`: the longest a lingering close may read.
    lingering_time: Duration,
    /// `lingering_timeout`: the longest wait for more of the client's bytes.
    lingering_timeout: Duration,
}

/// One stream: its request, and how far its response was framed.
struct H2Stream<'c> {
    id: u32,
    conn: Box<Conn<'c>>,
    /// The body is framed chunked for the request model (no `content-length` came).
    chunked_in: bool,
    /// `pipe.input` up to here was reported consumed to the session (or was the head).
    reported: usize,
    resp: Resp,
    /// Body bytes still to frame when the head gave a length: the last ones carry
    /// END_STREAM, as nginx frames them, instead of an empty frame after the request ends.
    left: Option<u64>,
    /// Decoded body bytes of a chunked response, waiting for window.
    plain: Vec<u8>,
    /// A chunked response's last chunk and trailer section as far as decoded: its
    /// trailers (`add_trailer`) go out as a HEADERS frame that ends the stream.
    trailer: Vec<u8>,
    /// The request is over (its connection released); what it wrote is still framed.
    done: bool,
    /// The stream has something to do: input arrived, output drained, an event came.
    wake: bool,
    /// `http2_chunk_size` of the request's location, once it has one.
    chunk_size: usize,
}

enum Resp {
    /// The response head is still to come.
    Head,
    /// The body goes out; `Some` decoder when the rendered response was chunked.
    Body(Option<crate::http::chunked::ChunkedDecoder>),
    /// END_STREAM (or a reset) went out.
    Sent,
}

impl<'c> H2<'c> {
    fn limits(shared: &Shared<'c>, servers: &AddrServers) -> (Limits, &'c ServerConf) {
        let server = &shared.http.servers[servers.default];
        let (n, size) = server.srv.large_client_header_buffers;
        let limits = Limits {
            max_concurrent_streams: server.srv.http2_max_concurrent_streams,
            initial_window: server.srv.http2_body_preread_size,
            header: hpack::Limits {
                field: size,
                list: n.saturating_mul(size),
            },
            chunk_size: server.loc.http2_chunk_size,
            max_requests: server.loc.keepalive_requests,
        };
        (limits, server)
    }
}

impl<'c> Conn<'c> {
    /// Whether this connection is to speak HTTP/2 now: a clear one on an `http2` address,
    /// or one whose TLS handshake chose `h2`.
    pub(super) fn wants_h2(&self, servers: &AddrServers) -> bool {
        self.requests == 0
            && self.http2.is_none()
            && !self.plain_on_tls
            && if self.client.tls().is_some() {
                self.client.tls_alpn_h2()
            } else {
                servers.http2 && !servers.ssl
            }
    }

    /// The connection becomes an HTTP/2 one: what was read already is the session's.
    pub(super) fn become_h2(&mut self, shared: &mut Shared<'c>, servers: &AddrServers) -> Step {
        let (limits, server) = H2::limits(shared, servers);
        let mut inbuf = Vec::new();
        let mut in_end = 0;
        if let Some(a) = self.active.take() {
            let rest = a.buf.get(a.start..a.filled).unwrap_or_default();
            inbuf.extend_from_slice(rest);
            in_end = rest.len();
            shared.pool.give(a, server.srv.client_header_buffer_size);
        }
        let label = if self.client.tls().is_some() {
            "h2"
        } else {
            "h2c"
        };
        self.http2 = Some(label);
        self.tls_vars();
        self.client.readable = true;
        self.state = State::Http2(Box::new(H2 {
            session: Session::new(limits),
            inbuf,
            in_start: 0,
            in_end,
            streams: Vec::new(),
            next: 0,
            label,
            local: self.client.local_addr(),
            idle_timeout: server.loc.keepalive_timeout.0,
            send_timeout: server.loc.send_timeout,
            recv_budget: server.srv.http2_recv_buffer_size,
            header_timeout: server.srv.client_header_timeout,
            header_since: None,
            idle_since: shared.now,
            stalled_since: None,
            peer_gone: false,
            closing: false,
            close_by: None,
            requests: 0,
            yielded: false,
            block: Vec::new(),
            order: Vec::new(),
            end: EndConf {
                first_timeout: server.srv.client_header_timeout,
                keepalive_time: server.loc.keepalive_time,
                lingering_off: matches!(
                    server.loc.lingering_close,
                    crate::config::LingeringClose::Off
                ),
                lingering_time: server.loc.lingering_time,
                lingering_timeout: server.loc.lingering_timeout,
            },
            linger: false,
            begun: false,
            draining: false,
        }));
        self.stat.enter(crate::status::ConnState::Reading);
        Step::Again
    }

    /// One drive of an HTTP/2 connection.
    pub(super) fn drive_h2(&mut self, shared: &mut Shared<'c>, servers: &AddrServers) -> Step {
        let State::Http2(mut h) = std::mem::replace(&mut self.state, State::ReadingHead) else {
            return Step::Close;
        };
        let mut step = if h.draining {
            Self::h2_drain_turn(&mut h, shared, servers)
        } else {
            self.h2_turn(&mut h, shared, servers)
        };
        if matches!(step, Step::Close)
            && !h.draining
            && !h.linger
            && keep_background(&mut h, shared)
        {
            h.draining = true;
            step = Self::h2_drain_turn(&mut h, shared, servers);
        }
        if matches!(step, Step::Close) && h.linger {
            // nginx's ngx_http_v2_lingering_close: our side is shut down (TLS says
            // close_notify), and what the client still sends (a PING, a request it wrote
            // before our GOAWAY reached it) is read and discarded until it closes, so that
            // no reset destroys the responses it has not read yet.
            self.linger_timeout = h.end.lingering_timeout;
            self.state = State::LingeringClose {
                until: shared.now + h.end.lingering_time,
            };
            drop(h);
            self.client.end_tls_and_shutdown_write();
            return Step::Again;
        }
        self.state = State::Http2(h);
        step
    }

    /// How long the connection may stay without streams: `client_header_timeout` before
    /// its first one (as nginx's first read timer), `keepalive_timeout` after. Before the
    /// first stream, bytes not yet taken (part of a frame) get the longer of the two.
    fn h2_idle_limit(h: &H2<'c>) -> Duration {
        // A connection waits `client_header_timeout` for its first stream; once one began
        // (even one reset for a slow header block) it is idle under `keepalive_timeout`.
        let first = h.requests == 0 && !h.begun;
        let nothing_unread = h.in_start == h.in_end && !h.session.mid_frame();
        match (first, nothing_unread) {
            (true, true) => h.end.first_timeout,
            (true, false) => h.end.first_timeout.max(h.idle_timeout),
            _ => h.idle_timeout,
        }
    }

    /// Wakes the streams whose own deadline passed.
    fn h2_timers(h: &mut H2<'c>, shared: &mut Shared<'c>, servers: &AddrServers) {
        let now = shared.now;
        for s in h.streams.iter_mut().filter(|s| !s.done) {
            if let Some(at) = s.conn.armed
                && at <= now
                && matches!(s.conn.timer_fired(at, now), TimerCheck::Expired)
            {
                s.conn.on_timeout(shared, servers);
                s.wake = true;
            }
        }
    }

    /// One drive of a draining connection (see [`H2::draining`]): the streams left run
    /// their background subrequests; the connection closes once the last one ended.
    fn h2_drain_turn(h: &mut H2<'c>, shared: &mut Shared<'c>, servers: &AddrServers) -> Step {
        h.yielded = false;
        Self::h2_timers(h, shared, servers);
        for s in h.streams.iter_mut() {
            if s.wake && !s.done {
                drive_stream(s, &mut h.session, &mut h.yielded, shared, servers);
            }
        }
        h.streams.retain(|s| !s.done);
        if h.streams.is_empty() {
            return Step::Close;
        }
        if h.yielded {
            return Step::Yield;
        }
        let deadline = h.streams.iter().filter_map(|s| s.conn.armed).min();
        Step::Wait(deadline.map(|d| d.max(shared.now + Duration::from_millis(1))))
    }

    fn h2_turn(&mut self, h: &mut H2<'c>, shared: &mut Shared<'c>, servers: &AddrServers) -> Step {
        let now = shared.now;
        h.yielded = false;
        Self::h2_timers(h, shared, servers);
        if h.streams.is_empty() && now >= h.idle_since + Self::h2_idle_limit(h) && !h.closing {
            h.session.goaway();
            h.closing = true;
        }
        if h.close_by.is_some_and(|t| now >= t) {
            // The last bytes (GOAWAY) had `send_timeout` to go.
            return Step::Close;
        }
        if h.stalled_since.is_some_and(|t| now >= t + h.send_timeout) {
            if !h.closing {
                elog!(
                    LogLevel::Info,
                    "*{} client timed out (110: Connection timed out) while processing HTTP/2 connection, client: {}, server: {}",
                    self.id,
                    self.peer.ip(),
                    servers.addr
                );
            }
            return Step::Close;
        }
        // One read event's worth of input per drive (the rapid-reset budget counts per
        // read event, as nginx's).
        h.session.new_read();
        let mut budget = h.recv_budget;
        for _ in 0..MAX_ROUNDS {
            let mut progress = false;
            if !h.closing && !h.peer_gone && self.client.readable && budget > 0 {
                match self.h2_read(h, &mut budget) {
                    Ok(p) => progress |= p,
                    Err(()) => return Step::Close,
                }
            }
            progress |= self.h2_frames(h, shared, servers);
            if shared.shutting_down && h.requests > 0 {
                // A connection that became HTTP/2 after the stop began (its handshake
                // was under way) takes the streams of its first read that had any, and
                // no more.
                h.session.goaway();
            }
            for s in h.streams.iter_mut() {
                if s.wake && !s.done {
                    progress = true;
                    drive_stream(s, &mut h.session, &mut h.yielded, shared, servers);
                }
            }
            progress |= pump(h);
            if !h.streams.is_empty() {
                // An idle connection's time counts from its last stream's end.
                h.idle_since = now;
            }
            h.streams
                .retain(|s| !(s.done && matches!(s.resp, Resp::Sent)));
            if h.streams.is_empty() && h.session.open_streams() == 0 {
                h.session.idle_trim();
                if h.in_start == h.in_end {
                    // An idle connection holds no read buffer.
                    h.inbuf = Vec::new();
                    (h.in_start, h.in_end) = (0, 0);
                }
            }
            match self.h2_write(h) {
                Ok(p) => progress |= p,
                Err(()) => return Step::Close,
            }
            if !progress {
                break;
            }
        }
        // A header block that takes too long: its stream is reset, the connection lives.
        match h.session.header_in_progress(&h.inbuf[h.in_start..h.in_end]) {
            Some(id) if !h.closing => match h.header_since {
                Some((s, since)) if s == id => {
                    if now >= since + h.header_timeout {
                        elog!(
                            LogLevel::Info,
                            "*{} client timed out (110: Connection timed out) while reading client request headers (stream {id}), client: {}, server: {}",
                            self.id,
                            self.peer.ip(),
                            servers.addr
                        );
                        h.session.header_timeout(id);
                        h.header_since = None;
                        h.begun = true;
                        if let Err(()) = self.h2_write(h) {
                            return Step::Close;
                        }
                    }
                }
                _ => h.header_since = Some((id, now)),
            },
            _ => h.header_since = None,
        }
        // A stall: output waits and the client takes none of it.
        let waiting = !h.session.pending().is_empty()
            || h.streams.iter().any(|s| {
                !matches!(s.resp, Resp::Sent)
                    && (!s.plain.is_empty()
                        || s.conn
                            .client
                            .pipe
                            .as_ref()
                            .is_some_and(|p| !p.output.is_empty()))
            });
        let blocked = waiting
            && (!self.client.writable
                || h.streams.iter().all(|s| h.session.send_capacity(s.id) == 0));
        if !blocked {
            h.stalled_since = None;
        } else if h.stalled_since.is_none() {
            h.stalled_since = Some(now);
        }
        let finished = (h.closing || h.session.finished()) && h.streams.is_empty();
        if h.peer_gone {
            return Step::Close;
        }
        // Over TLS, what was written before the client's Finished came waits in the session
        // for it: the connection goes on reading until the handshake ends.
        let handshaking = self.client.tls().is_some_and(|t| t.is_handshaking());
        if finished && h.session.pending().is_empty() && !handshaking {
            match self.client.flush_tls() {
                Ok(true) => {
                    // Everything went: a lingering close (see `drive_h2`).
                    h.linger = !h.end.lingering_off;
                    return Step::Close;
                }
                // The last TLS records wait for the socket (`close_by` bounds the wait).
                Ok(false) => {}
                Err(_) => return Step::Close,
            }
        }
        if (h.closing || finished) && h.close_by.is_none() {
            h.close_by = Some(now + h.send_timeout);
        }
        if h.yielded {
            return Step::Yield;
        }
        let mut deadline = h.stalled_since.map(|t| t + h.send_timeout);
        let mut earliest = |at: Instant| {
            deadline = Some(deadline.map_or(at, |d: Instant| d.min(at)));
        };
        for s in h.streams.iter().filter(|s| !s.done) {
            if let Some(at) = s.conn.armed {
                earliest(at);
            }
        }
        if h.streams.is_empty() && !h.closing {
            earliest(h.idle_since + Self::h2_idle_limit(h));
        }
        if let Some((_, since)) = h.header_since {
            earliest(since + h.header_timeout);
        }
        if let Some(at) = h.close_by {
            earliest(at);
        }
        // Every deadline that passed was acted on above: what is left lies ahead (a timer
        // at or before now would fire again at once).
        Step::Wait(deadline.map(|d| d.max(now + Duration::from_millis(1))))
    }

    /// Reads what the socket has (at most `http2_recv_buffer_size` per event).
    fn h2_read(&mut self, h: &mut H2<'c>, budget: &mut usize) -> Result<bool, ()> {
        let mut progress = false;
        while self.client.readable && *budget > 0 {
            if h.in_start == h.in_end {
                h.in_start = 0;
                h.in_end = 0;
            }
            if h.inbuf.len() - h.in_end < Session::MIN_READ_BUFFER {
                if h.in_start > 0 {
                    h.inbuf.copy_within(h.in_start..h.in_end, 0);
                    h.in_end -= h.in_start;
                    h.in_start = 0;
                }
                let want = h.in_end + Session::MIN_READ_BUFFER;
                if h.inbuf.len() < want {
                    h.inbuf.resize(want, 0);
                }
            }
            if h.in_end - h.in_start >= Session::MIN_READ_BUFFER {
                // A whole frame's room is taken: let the session have it first.
                break;
            }
            match self.client.read(&mut h.inbuf[h.in_end..]) {
                Ok(0) => {
                    h.peer_gone = true;
                    return Ok(true);
                }
                Ok(n) => {
                    h.in_end += n;
                    *budget = budget.saturating_sub(n);
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(()),
            }
        }
        if self.client.readable
            && (*budget == 0 || h.in_end - h.in_start >= Session::MIN_READ_BUFFER)
        {
            // Stopped before the socket said `WouldBlock` (the budget, or a full buffer):
            // no new edge will come, so the worker drives the connection again next turn.
            h.yielded = true;
        }
        Ok(progress)
    }

    /// Hands the read bytes to the session and acts on its events.
    fn h2_frames(
        &mut self,
        h: &mut H2<'c>,
        shared: &mut Shared<'c>,
        servers: &AddrServers,
    ) -> bool {
        let mut progress = false;
        loop {
            let input = &h.inbuf[h.in_start..h.in_end];
            let (used, event) = match h.session.receive(input) {
                Ok(r) => r,
                Err(e) => {
                    if !e.why.is_empty() {
                        elog!(
                            LogLevel::Info,
                            "*{} {} while processing HTTP/2 connection, client: {}, server: {}",
                            self.id,
                            e.why,
                            self.peer.ip(),
                            servers.addr
                        );
                    }
                    h.closing = true;
                    h.in_start = h.in_end;
                    for s in h.streams.iter_mut() {
                        abort_stream(s, shared);
                    }
                    return true;
                }
            };
            h.in_start += used;
            let Some(event) = event else {
                if used == 0 {
                    break;
                }
                continue;
            };
            progress = true;
            match event {
                Event::Request { stream, end_stream } => {
                    self.h2_open_stream(h, shared, stream, end_stream, None);
                }
                Event::Data {
                    stream,
                    data,
                    end_stream,
                } => {
                    if let Some(s) = h.streams.iter_mut().find(|s| s.id == stream)
                        && !body_unread(s)
                        && let Some(p) = s.conn.client.pipe.as_deref_mut()
                    {
                        if s.chunked_in && !data.is_empty() {
                            use std::io::Write;
                            let _ = write!(p.input, "{:x}\r\n", data.len());
                            p.input.extend_from_slice(data);
                            p.input.extend_from_slice(b"\r\n");
                        } else {
                            p.input.extend_from_slice(data);
                        }
                        if s.chunked_in && end_stream {
                            p.input.extend_from_slice(b"0\r\n\r\n");
                        }
                        p.input_ended |= end_stream;
                        s.conn.client.readable = true;
                        s.wake = true;
                    }
                }
                Event::BodyMismatch {
                    stream,
                    received,
                    declared,
                } => {
                    if let Some(s) = h.streams.iter_mut().find(|s| s.id == stream)
                        && let Some(p) = s.conn.client.pipe.as_deref_mut()
                    {
                        // The request answers 400 when it reads up to here (nginx's
                        // words for the two faults).
                        p.body_error = Some(if received > declared {
                            "client intended to send body data larger than declared".into()
                        } else {
                            format!(
                                "client prematurely closed stream: only {received} out of \
                                 {declared} bytes of request body received"
                            )
                        });
                        // As a socket's queued FIN: the head reader leaves `readable` on.
                        s.conn.client.read_closed = true;
                        s.conn.client.readable = true;
                        s.wake = true;
                    }
                }
                Event::Trailers { stream } => {
                    if let Some(s) = h.streams.iter_mut().find(|s| s.id == stream)
                        && let Some(p) = s.conn.client.pipe.as_deref_mut()
                    {
                        if s.chunked_in {
                            p.input.extend_from_slice(b"0\r\n\r\n");
                        }
                        p.input_ended = true;
                        s.conn.client.readable = true;
                        s.wake = true;
                    }
                }
                Event::Reset { stream, .. } => {
                    if let Some(s) = h.streams.iter_mut().find(|s| s.id == stream) {
                        abort_stream(s, shared);
                    }
                }
                Event::Malformed { stream, why } => {
                    self.h2_open_stream(h, shared, stream, true, Some(why));
                }
                Event::WindowOpened => {}
            }
        }
        progress
    }

    /// A new request: its stream gets a request-model connection over a pipe. A malformed
    /// one's connection answers 400 (as nginx 1.24+) and reads none of its fields.
    fn h2_open_stream(
        &mut self,
        h: &mut H2<'c>,
        shared: &mut Shared<'c>,
        stream: u32,
        end_stream: bool,
        malformed: Option<&'static str>,
    ) {
        let mut input = Vec::with_capacity(512);
        let framing = match malformed {
            Some(_) => BodyFraming::None,
            None => {
                let (head, list) = h.session.request();
                bridge::request_head(head, list, end_stream, &mut input)
            }
        };
        let chunked_in = framing == BodyFraming::UntilEnd;
        if chunked_in {
            // No `content-length`: the body's end is END_STREAM; the request model reads
            // it as a chunked one (and an upstream gets it as nginx sends such a body).
            input.truncate(input.len().saturating_sub(2));
            input.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
        }
        let head_len = input.len();
        let mut c = Box::new(Conn::new(self.id, self.peer, self.listen).with_key(self.key));
        c.http2 = Some(h.label);
        c.h2_reject = malformed.map(HttpError::Malformed);
        c.h2_block_len = Some(h.session.block_len() as u64);
        c.proxy_protocol = self.proxy_protocol.clone();
        // Read once the handshake is complete (ALPN chose h2 before the client's Finished).
        c.tls_vars = self.tls_vars();
        c.accepted_at = self.accepted_at;
        c.requests = h.requests;
        c.now = shared.now;
        h.requests += 1;
        c.client.attach_pipe(Box::new(Pipe {
            input,
            out_limit: PIPE_OUT_LIMIT,
            local: h.local,
            input_ended: end_stream,
            ..Default::default()
        }));
        h.streams.push(H2Stream {
            id: stream,
            conn: c,
            chunked_in,
            reported: head_len,
            resp: Resp::Head,
            left: None,
            plain: Vec::new(),
            trailer: Vec::new(),
            done: false,
            wake: true,
            chunk_size: 0,
        });
        // As nginx at a new stream: with keep-alive off, or once the connection is older
        // than `keepalive_time`, GOAWAY names this stream the last one.
        if h.idle_timeout.is_zero()
            || shared.now.saturating_duration_since(self.accepted_at) > h.end.keepalive_time
        {
            h.session.goaway();
        }
    }

    /// Sends what the session queued; `Err` when the socket failed.
    fn h2_write(&mut self, h: &mut H2<'c>) -> Result<bool, ()> {
        let mut progress = false;
        while self.client.writable {
            match self.client.flush_tls() {
                Ok(true) => {}
                Ok(false) => break,
                Err(_) => return Err(()),
            }
            let pending = h.session.pending();
            if pending.is_empty() {
                break;
            }
            match self.client.write(pending) {
                Ok(n) => {
                    h.session.advance(n);
                    self.bytes_out += n as u64;
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(()),
            }
        }
        Ok(progress)
    }

    /// The HTTP/2 connection's side of a release: every stream's request ends (and is
    /// logged).
    pub(super) fn release_h2(&mut self, shared: &mut Shared<'c>) {
        if let State::Http2(h) = &mut self.state {
            for s in h.streams.iter_mut() {
                abort_stream(s, shared);
            }
            h.streams.clear();
        }
    }

    /// A graceful stop: GOAWAY with the last stream; streams in flight finish. A
    /// connection whose TLS handshake is not over yet is not HTTP/2 for nginx either: it
    /// gets GOAWAY after its first streams (see `h2_turn`), so that a client that connected
    /// just before the stop is not sent away with nothing done.
    pub(super) fn h2_goaway(&mut self) {
        let handshaking = self.client.tls().is_some_and(|t| t.is_handshaking());
        if let State::Http2(h) = &mut self.state
            && !handshaking
        {
            h.session.goaway();
        }
    }

    /// Readiness of an upstream socket: for the stream whose request uses it (all of them
    /// look when none claims it: a subrequest's or a tunnel's socket).
    pub(super) fn h2_upstream_event(&mut self, fd: i32, readable: bool, writable: bool) -> bool {
        let State::Http2(h) = &mut self.state else {
            return false;
        };
        let owner = h.streams.iter().position(|s| {
            !s.done
                && s.conn
                    .active
                    .as_ref()
                    .is_some_and(|a| a.upstream.peer_fd() == Some(fd))
        });
        match owner {
            Some(i) => {
                h.streams[i].conn.on_upstream_event(fd, readable, writable);
                h.streams[i].wake = true;
            }
            None => {
                for s in h.streams.iter_mut().filter(|s| !s.done) {
                    s.conn.on_upstream_event(fd, readable, writable);
                    s.wake = true;
                }
            }
        }
        true
    }

    /// A resolver's answer: for the stream that waits for it.
    pub(super) fn h2_resolved(
        &mut self,
        ticket: crate::resolver::Ticket,
        result: Result<crate::resolver::Addrs, crate::resolver::ResolveError>,
    ) -> bool {
        let State::Http2(h) = &mut self.state else {
            return false;
        };
        if let Some(s) = h.streams.iter_mut().find(|s| {
            s.conn
                .active
                .as_ref()
                .is_some_and(|a| a.upstream.waits_for(ticket))
        }) {
            s.conn.on_resolved(ticket, result);
            s.wake = true;
        }
        true
    }
}

/// The stream's request ends now (reset by the client, or the connection ends): reads see
/// EOF, writes fail, and its connection is released (its access-log line written).
fn abort_stream<'c>(s: &mut H2Stream<'c>, shared: &mut Shared<'c>) {
    if let Some(p) = s.conn.client.pipe.as_deref_mut() {
        p.gone = true;
        p.output.clear();
    }
    if !s.done {
        s.conn.release(shared);
        s.done = true;
    }
    s.resp = Resp::Sent;
}

/// The connection is over for the client: every stream's request ends now, but those whose
/// response is complete and who wait only for their background subrequests (nginx's
/// `r->main->count` keeps such a request, and with it the connection, alive). True when
/// any is left; its output is dropped, since nobody will read it.
fn keep_background<'c>(h: &mut H2<'c>, shared: &mut Shared<'c>) -> bool {
    for s in h.streams.iter_mut() {
        if s.done {
            continue;
        }
        if matches!(s.conn.state, State::AwaitingSubrequests) {
            if let Some(p) = s.conn.client.pipe.as_deref_mut() {
                p.gone = true;
                p.output.clear();
            }
            s.resp = Resp::Sent;
        } else {
            abort_stream(s, shared);
        }
    }
    h.streams.retain(|s| !s.done);
    !h.streams.is_empty()
}

/// Whether nobody will read the rest of the stream's request body (its request is over,
/// or it gave its body up): later DATA is dropped, as nginx's `skip_data` (a window opened
/// wide for a body read whole no longer bounds what would pile up).
fn body_unread(s: &H2Stream<'_>) -> bool {
    s.done
        || s.conn.active.as_ref().is_some_and(|a| {
            a.body.is_none()
                && a.req
                    .as_ref()
                    .is_some_and(|r| matches!(r.body, BodyRead::Abandoned))
        })
}

/// Runs a stream's request until it waits, and tells the session how much of the body it
/// read (its window reopens by that much).
fn drive_stream<'c>(
    s: &mut H2Stream<'c>,
    session: &mut Session,
    yielded: &mut bool,
    shared: &mut Shared<'c>,
    servers: &AddrServers,
) {
    s.wake = false;
    if let Some(p) = s.conn.client.pipe.as_deref()
        && p.output.len() < p.out_limit
    {
        // The connection framed some of its output: the request may write again.
        s.conn.client.writable = true;
    }
    let drive = s.conn.drive(shared, servers);
    if s.chunk_size == 0 {
        s.chunk_size = match s.conn.active.as_ref().and_then(|a| a.req.as_ref()) {
            Some(req) => req.loc.http2_chunk_size,
            // The request ended within this drive.
            None => s.conn.h2_chunk_size,
        };
    }
    if let Some(p) = s.conn.client.pipe.as_deref_mut() {
        if p.body_whole {
            // The request takes its body as it comes (into memory or a file): as nginx,
            // the stream's window opens wide and stays so.
            session.open_window(s.id);
        }
        if p.in_pos > s.reported {
            session.consumed(s.id, p.in_pos - s.reported);
            s.reported = p.in_pos;
        }
        if p.in_pos >= p.input.len() {
            p.input.clear();
            p.in_pos = 0;
            s.reported = 0;
        }
    }
    match drive {
        Drive::Close => {
            s.conn.release(shared);
            s.done = true;
        }
        Drive::Yield => {
            s.wake = true;
            *yielded = true;
        }
        Drive::Wait { deadline } => {
            if matches!(
                s.conn.state,
                State::KeepAliveIdle | State::LingeringClose { .. }
            ) {
                // The response is complete: its request is over.
                s.conn.release(shared);
                s.done = true;
            } else if let Some(at) = deadline {
                s.conn.set_deadline(at);
            }
        }
    }
}

/// Frames what the streams' requests wrote: each stream at most one chunk per pass, in the
/// order of RFC 7540 priorities as nginx follows them (lower rank first, then heavier),
/// streams of equal standing in round-robin; passes while something moves and the
/// socket's queue is short.
fn pump(h: &mut H2<'_>) -> bool {
    let mut progress = false;
    let count = h.streams.len();
    if count == 0 {
        return false;
    }
    h.order.clear();
    for k in 0..count {
        let i = (h.next + k) % count;
        let (rank, weight) = h.session.standing(h.streams[i].id);
        h.order.push((i, rank, weight));
    }
    // Stable: equal standing keeps the round-robin order.
    h.order
        .sort_by(|a, b| a.1.cmp(&b.1).then(b.2.total_cmp(&a.2)));
    loop {
        let mut moved = false;
        for k in 0..count {
            if h.session.pending().len() >= MAX_QUEUED {
                return progress;
            }
            let Some(&(i, ..)) = h.order.get(k) else {
                break;
            };
            let s = &mut h.streams[i];
            if frame_stream(s, &mut h.session, &mut h.block) {
                moved = true;
                progress = true;
            }
        }
        h.next = (h.next + 1) % count;
        if !moved {
            return progress;
        }
    }
}

/// One stream's turn: its response head once whole, then at most one chunk of body, then
/// END_STREAM once its request is over and everything went. True if anything moved.
fn frame_stream(s: &mut H2Stream<'_>, session: &mut Session, block: &mut Vec<u8>) -> bool {
    let id = s.id;
    if matches!(s.resp, Resp::Sent) {
        return false;
    }
    if !session.is_open(id) {
        // Reset (by either side) or finished: nothing more goes out.
        s.resp = Resp::Sent;
        if let Some(p) = s.conn.client.pipe.as_deref_mut() {
            p.gone = true;
            p.output.clear();
        }
        s.wake = !s.done;
        return true;
    }
    let done = s.done;
    let Some(p) = s.conn.client.pipe.as_deref_mut() else {
        return false;
    };
    let mut moved = false;
    while matches!(s.resp, Resp::Head) {
        let Some(end) = memchr::memmem::find(&p.output, b"\r\n\r\n") else {
            if done {
                // The request ended without a response head: the stream fails
                // (PROTOCOL_ERROR after a client timeout, as nginx's `fc->timedout`).
                let code = if s.conn.timed_out {
                    ErrorCode::Protocol
                } else {
                    ErrorCode::Internal
                };
                session.reset(id, code);
                s.resp = Resp::Sent;
                return true;
            }
            return moved;
        };
        block.clear();
        let head = bridge::response_block(&p.output[..end + 4], block);
        p.output.drain(..end + 4);
        moved = true;
        s.wake = !done;
        match head {
            // An interim response (100 Continue): HTTP/2 needs none of it.
            Some(r) if r.status < 200 => continue,
            Some(r) => {
                s.left = r.content_length.filter(|_| !r.chunked);
                let empty = (done && p.output.is_empty()) || s.left == Some(0);
                session.send_headers(id, block, empty);
                s.resp = if empty {
                    Resp::Sent
                } else {
                    Resp::Body(r.chunked.then(crate::http::chunked::ChunkedDecoder::new))
                };
            }
            None => {
                session.reset(id, ErrorCode::Internal);
                s.resp = Resp::Sent;
            }
        }
    }
    let Resp::Body(decoder) = &mut s.resp else {
        return moved;
    };
    if let Some(dec) = decoder {
        // The request model framed the body chunked (HTTP/1.1 without a length); DATA
        // frames frame it here.
        let mut at = 0;
        loop {
            let step = dec.step(&p.output[at..]);
            // The bytes of a framing-only step from the last chunk on are its trailer
            // section (a data chunk after a stray `0` digit starts it afresh).
            let framing = |consumed: usize, trailer: &mut Vec<u8>| {
                if dec.in_last_chunk() {
                    trailer.extend_from_slice(&p.output[at..at + consumed]);
                } else {
                    trailer.clear();
                }
            };
            match step {
                Ok(crate::http::chunked::Chunk::Data {
                    start,
                    end,
                    consumed,
                }) => {
                    s.trailer.clear();
                    s.plain.extend_from_slice(&p.output[at + start..at + end]);
                    at += consumed;
                }
                Ok(crate::http::chunked::Chunk::NeedMore { consumed }) => {
                    framing(consumed, &mut s.trailer);
                    at += consumed;
                    break;
                }
                Ok(crate::http::chunked::Chunk::Done { consumed }) => {
                    framing(consumed, &mut s.trailer);
                    at += consumed;
                    break;
                }
                Err(_) => {
                    session.reset(id, ErrorCode::Internal);
                    s.resp = Resp::Sent;
                    return true;
                }
            }
            if at >= p.output.len() {
                break;
            }
        }
        if at > 0 {
            p.output.drain(..at);
            moved = true;
            s.wake = !done;
        }
    }
    let chunk = if s.chunk_size == 0 {
        8192
    } else {
        s.chunk_size
    };
    let chunked = decoder.is_some();
    let last = done && p.output.is_empty();
    // Trailers end the stream instead of the last DATA frame.
    block.clear();
    let trailers = chunked
        && last
        && decoder.as_ref().is_some_and(|d| d.is_done())
        && bridge::trailer_block(&s.trailer, block);
    let src: &mut Vec<u8> = if chunked { &mut s.plain } else { &mut p.output };
    let take = src.len().min(chunk);
    let end_now = (last && take == src.len()) || (!chunked && s.left == Some(take as u64));
    if take > 0 || (end_now && !trailers) {
        let sent = session.send_data_sized(id, &src[..take], end_now && !trailers, chunk);
        if let Some(left) = s.left.as_mut() {
            *left = left.saturating_sub(sent as u64);
        }
        if sent > 0 {
            src.drain(..sent);
            moved = true;
            s.wake = !done;
        }
        if end_now && sent == take && !trailers {
            s.resp = Resp::Sent;
            moved = true;
        }
    }
    if trailers && src.is_empty() {
        session.send_headers(id, block, true);
        s.resp = Resp::Sent;
        moved = true;
    }
    moved
}
