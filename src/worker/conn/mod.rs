//! A client connection: an explicit state machine driven by readiness.
//!
//! States are named by what the connection waits for. Buffers live in [`Active`], taken from
//! the worker's pool when a request starts and returned when the connection goes idle, so an
//! idle keep-alive connection holds no buffer at all.
//!
//! Epoll is edge-triggered under mio: every read and write loops until `WouldBlock`, and the
//! connection remembers which side is ready (`readable`/`writable`) between events.

mod body;
mod proxied;
mod write;

pub(in crate::worker) use body::consume_body;
use write::Flush;

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::Instant;

use mio::net::TcpStream;

use super::Shared;
use super::handler::{self, Body};
use super::slab::Key;
use crate::config::{LingeringClose, LocSettings, ServerConf};
use crate::elog;
use crate::http::chunked::{Chunk, ChunkedDecoder};
use crate::http::request::{self, HttpError, ParseOptions, RequestHead};
use crate::log::LogLevel;
use crate::router::AddrServers;
use crate::sys;

/// Safety valve: a connection that loops this many times in one drive is closed with an alert
/// instead of spinning the worker.
const MAX_ITERATIONS_PER_DRIVE: usize = 10_000;
/// Coalesced pipelined responses are flushed once this much output is queued.
const OUTPUT_FLUSH_THRESHOLD: usize = 64 * 1024;
/// Bytes read per call while discarding a body or lingering.
const DISCARD_CHUNK: usize = 16 * 1024;

/// What the worker should do after driving a connection.
pub enum Drive {
    /// Wait for readiness; arm this deadline if given.
    Wait {
        /// New deadline for the connection's timer.
        deadline: Option<Instant>,
    },
    /// More work is ready but the connection used its turn (`sendfile_max_chunk`).
    Yield,
    /// Close and forget the connection.
    Close,
}

/// Result of a popped timer entry.
pub enum TimerCheck {
    /// The entry is outdated.
    Stale,
    /// The deadline moved later: push this one.
    Rearm(Instant),
    /// The deadline passed.
    Expired,
}

/// What the connection is waiting for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// (The rest of) a request head.
    ReadingHead,
    /// The socket to take the response (and, meanwhile, the end of an unread request body).
    Responding,
    /// The next request on a kept-alive connection; holds no buffers.
    KeepAliveIdle,
    /// The client to stop sending after our last response: our side is shut down and input
    /// is discarded until EOF or `lingering_time`.
    LingeringClose { until: Instant },
    /// Either socket of a proxied request (its [`crate::proxy::Link`] is in `Conn::proxy`).
    Proxying,
}

/// How the rest of a request body is consumed (read and dropped, as nginx discards bodies a
/// handler does not use).
pub enum BodyReader {
    /// Bytes still to come.
    Length(u64),
    /// A chunked body being decoded.
    Chunked(ChunkedDecoder),
}

/// The request being answered.
pub struct Req<'c> {
    /// When its first byte was parsed.
    pub started: Instant,
    /// Its virtual server.
    pub server: &'c ServerConf,
    /// The settings of its location.
    pub loc: &'c LocSettings,
    /// Response status.
    pub status: u16,
    /// Whether the connection stays open after it.
    pub keepalive: bool,
    /// Bytes of the request head (`$request_length` minus the body).
    pub head_len: usize,
    /// Request body bytes consumed from the head buffer (they follow the head there).
    pub body_in_buf: usize,
    /// Request body bytes consumed in all.
    pub body_read: u64,
    /// Bytes of the response head.
    pub header_bytes: u64,
    /// Total response bytes handed to the kernel.
    pub bytes_sent: u64,
    /// Close with lingering (client may still be sending).
    pub lingering: bool,
}

impl<'c> Req<'c> {
    /// A request of `head_len` head bytes for `server`, answered under `loc`, that has sent
    /// nothing yet and does not keep the connection (the handler decides that).
    pub fn new(
        started: Instant,
        server: &'c ServerConf,
        loc: &'c LocSettings,
        head_len: usize,
    ) -> Req<'c> {
        Req {
            started,
            server,
            loc,
            status: 0,
            keepalive: false,
            head_len,
            body_in_buf: 0,
            body_read: 0,
            header_bytes: 0,
            bytes_sent: 0,
            lingering: false,
        }
    }
}

/// The per-request buffers; pooled.
pub struct Active<'c> {
    /// Head buffer; `buf[start..filled]` holds unparsed input.
    pub buf: Vec<u8>,
    /// Start of the current request in `buf`.
    pub start: usize,
    /// End of the received bytes in `buf`.
    pub filled: usize,
    /// How far `buf` had been filled at the last parse of the current head (see
    /// [`Conn::read_head`]).
    pub scanned: usize,
    /// The parsed head (offsets into `buf[start..]`).
    pub head: RequestHead,
    /// The normalised URI path.
    pub uri: Vec<u8>,
    /// Queued response bytes.
    pub out: Vec<u8>,
    /// How much of `out` was written.
    pub out_pos: usize,
    /// A file body still to send after `out`.
    pub body: Body,
    /// An unread request body to discard.
    pub discard: Option<BodyReader>,
    /// The request in progress.
    pub req: Option<Req<'c>>,
    /// Routing state (`$uri`, `$args`, `set` values) kept for the access log.
    pub route: super::phases::Route<'c>,
    /// The current request was already in the buffer when the one before it ended
    /// (`$pipe`, nginx's `r->pipeline`).
    pub pipelined: bool,
}

/// A worker's free [`Active`] buffers.
#[derive(Default)]
// Boxed on purpose: a connection holds `Option<Box<Active>>`, one pointer while idle, and
// handing a box between the pool and a connection moves a pointer, not the whole struct.
#[allow(clippy::vec_box)]
pub struct Pool<'c> {
    free: Vec<Box<Active<'c>>>,
}

impl<'c> Pool<'c> {
    fn take(&mut self, size: usize) -> Box<Active<'c>> {
        let mut a = self.free.pop().unwrap_or_else(|| {
            Box::new(Active {
                buf: Vec::new(),
                start: 0,
                filled: 0,
                scanned: 0,
                head: RequestHead::default(),
                uri: Vec::new(),
                out: Vec::new(),
                out_pos: 0,
                body: Body::None,
                discard: None,
                req: None,
                route: Default::default(),
                pipelined: false,
            })
        });
        if a.buf.len() < size {
            a.buf.resize(size, 0);
        }
        a
    }

    fn give(&mut self, mut a: Box<Active<'c>>, keep_size: usize) {
        a.start = 0;
        a.filled = 0;
        a.scanned = 0;
        a.out.clear();
        a.out_pos = 0;
        a.body = Body::None;
        a.discard = None;
        a.req = None;
        a.pipelined = false;
        // A buffer grown for a large head is not kept large.
        if a.buf.len() > keep_size {
            a.buf.truncate(keep_size);
            a.buf.shrink_to_fit();
        }
        if a.out.capacity() > OUTPUT_FLUSH_THRESHOLD * 2 {
            a.out.shrink_to(OUTPUT_FLUSH_THRESHOLD);
        }
        if self.free.len() < 1024 {
            self.free.push(a);
        }
    }
}

/// A client connection.
pub struct Conn<'c> {
    sock: Option<TcpStream>,
    /// Connection serial number (`$connection`, the `*N` in the error log).
    pub id: u64,
    /// Client address.
    pub peer: SocketAddr,
    listen: usize,
    state: State,
    active: Option<Box<Active<'c>>>,
    /// Requests served on this connection (`$connection_requests`).
    pub requests: u64,
    readable: bool,
    writable: bool,
    read_closed: bool,
    deadline: Option<Instant>,
    armed: Option<Instant>,
    timed_out: bool,
    /// `lingering_timeout` of the request that started the lingering close.
    linger_timeout: std::time::Duration,
    /// `send_timeout` of the response being written.
    send_timeout: std::time::Duration,
    /// While the rest of an unused request body is discarded after the response: the end of
    /// its `lingering_time`.
    discard_until: Option<Instant>,
    /// Set when only coalesced output is left: go idle with this keep-alive timeout after it.
    idle_after_flush: Option<std::time::Duration>,
    idle_buffer_size: usize,
    /// The connection's slab key (its upstream socket's token derives from it).
    key: Key,
    /// The proxied request in flight.
    proxy: Option<Box<crate::proxy::Link<'c>>>,
    /// The tries of the last proxied request, for `$upstream_*` in its access log.
    upstream_log: Option<Box<crate::proxy::UpstreamLog>>,
    /// When the connection was accepted (`$connection_time`).
    pub accepted_at: Instant,
}

/// One turn of the state machine.
pub(super) enum Step {
    Again,
    /// The location proxies: start the upstream side.
    Proxy,
    Wait(Option<Instant>),
    Yield,
    Close,
}

impl<'c> Conn<'c> {
    /// A new connection, before its socket is attached.
    pub fn new(id: u64, peer: SocketAddr, listen: usize) -> Conn<'c> {
        Conn {
            sock: None,
            id,
            peer,
            listen,
            state: State::ReadingHead,
            active: None,
            requests: 0,
            readable: false,
            writable: true,
            read_closed: false,
            deadline: None,
            armed: None,
            timed_out: false,
            linger_timeout: crate::config::DEFAULT_LINGERING_TIMEOUT,
            send_timeout: crate::config::DEFAULT_SEND_TIMEOUT,
            discard_until: None,
            idle_after_flush: None,
            idle_buffer_size: crate::config::DEFAULT_CLIENT_HEADER_BUFFER_SIZE,
            key: Key(0),
            proxy: None,
            upstream_log: None,
            accepted_at: Instant::now(),
        }
    }

    /// Sets the connection's slab key.
    pub fn with_key(mut self, key: Key) -> Conn<'c> {
        self.key = key;
        self
    }

    /// Gives the connection its (registered) socket.
    pub fn attach(&mut self, sock: TcpStream) {
        self.sock = Some(sock);
    }

    /// Index of the listener that accepted it.
    pub fn listen_idx(&self) -> usize {
        self.listen
    }

    /// Records readiness from an event. `read_closed`: the peer's FIN (or an error) is
    /// queued behind whatever data there is, so reads must go on until they see it.
    pub fn on_event(&mut self, readable: bool, writable: bool, read_closed: bool) {
        self.readable |= readable;
        self.writable |= writable;
        self.read_closed |= read_closed;
    }

    /// Sets the connection's deadline; true if the timer heap needs a new entry for it.
    pub fn set_deadline(&mut self, at: Instant) -> bool {
        self.deadline = Some(at);
        if self.armed.is_none_or(|a| at < a) {
            self.armed = Some(at);
            true
        } else {
            false
        }
    }

    /// Whether a timer entry for `at` is the one this connection is armed with (any other
    /// entry for it is stale).
    pub fn is_armed_at(&self, at: Instant) -> bool {
        self.armed == Some(at)
    }

    /// Checks a popped timer entry against the connection's current deadline.
    pub fn timer_fired(&mut self, at: Instant, now: Instant) -> TimerCheck {
        if self.armed != Some(at) {
            return TimerCheck::Stale;
        }
        self.armed = None;
        match self.deadline {
            Some(d) if d <= now => {
                self.deadline = None;
                TimerCheck::Expired
            }
            Some(d) => {
                self.armed = Some(d);
                TimerCheck::Rearm(d)
            }
            None => TimerCheck::Stale,
        }
    }

    /// The deadline passed: the next drive closes the connection (nginx closes on every
    /// client timeout, with a reset under `reset_timedout_connection on`). A request that was
    /// under way is access-logged when the connection is released: a head cut short by
    /// `client_header_timeout` as 408, like nginx.
    pub fn on_timeout(&mut self, shared: &mut Shared<'c>, servers: &AddrServers) {
        if self.state == State::Proxying {
            // The link compares its own deadlines on the next drive.
            return;
        }
        self.timed_out = true;
        let Some(a) = self.active.as_mut() else {
            return;
        };
        let buf = &a.buf[a.start..a.filled];
        let in_request = match self.state {
            State::ReadingHead => !buf.is_empty(),
            State::Responding => true,
            _ => false,
        };
        // nginx's ngx_http_free_request: a timed-out request's connection is reset with
        // `reset_timedout_connection on` (its location's, or the server's before one).
        let loc = match a.req.as_ref() {
            Some(r) => r.loc,
            None => &shared.http.servers[servers.default].loc,
        };
        if in_request
            && loc.reset_timedout_connection
            && let Some(sock) = &self.sock
        {
            let _ = crate::sys::set_linger_zero(std::os::fd::AsRawFd::as_raw_fd(sock));
        }
        let what = match self.state {
            State::ReadingHead if !buf.is_empty() => {
                if a.head.request_line.is_empty() {
                    "reading client request line"
                } else {
                    "reading client request headers"
                }
            }
            // nginx closes a connection whose discarded body stalls without a word.
            State::Responding if a.discard.is_some() && a.out_pos >= a.out.len() => return,
            State::Responding => "sending response to client",
            _ => return,
        };
        let server = match a.req.as_ref() {
            Some(r) => r.server,
            None => &shared.http.servers[servers.default],
        };
        elog!(
            LogLevel::Info,
            "*{} client timed out (110: Connection timed out) while {what}, client: {}, server: {}{}",
            self.id,
            self.peer.ip(),
            handler::server_name(server),
            handler::RequestContext::of(buf, &a.head)
        );
        if a.req.is_none() {
            self.requests += 1;
            a.req = Some(Req {
                status: 408,
                ..Req::new(shared.now, server, &server.loc, buf.len())
            });
        }
    }

    /// The worker begins a graceful stop. An idle keep-alive connection is left alone: the
    /// client may be sending its next request right now. It is answered with
    /// `Connection: close` or closed when its keep-alive timer expires.
    pub fn on_shutdown(&mut self, _shared: &Shared<'c>) {}

    /// Returns the connection's buffers to the pool (the socket closes when dropped).
    pub fn release(&mut self, shared: &mut Shared<'c>) {
        if let Some(mut link) = self.proxy.take() {
            link.abandon(shared);
            self.upstream_log = Some(Box::new(link.into_log(&mut shared.upstreams)));
        }
        // A request cut short (timeout, client gone, write error) still gets its log line.
        if let Some(req) = self.active.as_mut().and_then(|a| a.req.take()) {
            handler::log_request(self, shared, &req);
        }
        if let Some(mut a) = self.active.take() {
            a.route.request_body = None;
            shared.pool.give(a, 1024);
        }
        self.sock = None;
    }

    /// Runs the state machine until it must wait.
    pub fn drive(&mut self, shared: &mut Shared<'c>, servers: &AddrServers) -> Drive {
        if self.timed_out {
            return Drive::Close;
        }
        for _ in 0..MAX_ITERATIONS_PER_DRIVE {
            let step = match self.state {
                State::KeepAliveIdle | State::ReadingHead => self.read_head(shared, servers),
                State::Responding => self.respond(shared),
                State::LingeringClose { until } => self.linger(shared, until),
                State::Proxying => self.drive_proxy(shared),
            };
            match step {
                Step::Again => continue,
                Step::Proxy => match self.start_proxy(shared) {
                    Step::Proxy => return Drive::Close,
                    Step::Again => continue,
                    Step::Wait(deadline) => return Drive::Wait { deadline },
                    Step::Yield => return Drive::Yield,
                    Step::Close => return Drive::Close,
                },
                Step::Wait(deadline) => return Drive::Wait { deadline },
                Step::Yield => return Drive::Yield,
                Step::Close => return Drive::Close,
            }
        }
        elog!(
            LogLevel::Alert,
            "*{} connection state machine looped {MAX_ITERATIONS_PER_DRIVE} times, closing",
            self.id
        );
        crate::log::debug_point();
        Drive::Close
    }

    fn read_head(&mut self, shared: &mut Shared<'c>, servers: &AddrServers) -> Step {
        let srv = &shared.http.servers[servers.default].srv;
        let (small, (large_n, large_size)) = (
            srv.client_header_buffer_size,
            srv.large_client_header_buffers,
        );
        let opts = ParseOptions {
            underscores_in_headers: srv.underscores_in_headers,
            ignore_invalid_headers: srv.ignore_invalid_headers,
        };
        if self.state == State::KeepAliveIdle && !self.readable {
            return Step::Wait(self.deadline);
        }
        let Some(sock) = self.sock.as_mut() else {
            return Step::Close;
        };
        let a = self.active.get_or_insert_with(|| shared.pool.take(small));
        loop {
            // A head is parsed again from its start when bytes arrive, but only once it can
            // have changed its answer: on its first bytes (a TLS hello or a bad method is
            // refused at once), and then when a new line ends. A client that sends its head
            // a byte at a time so costs a line scan per byte, not a head parse per byte;
            // an error inside a line is found when the line ends (or the buffers fill).
            let first = a.scanned <= a.start;
            let line_ended = a.filled > a.scanned
                && memchr::memchr(b'\n', &a.buf[a.scanned.max(a.start)..a.filled]).is_some();
            if a.filled > a.start && !first && !line_ended {
                // Only the line in progress grew: it must still fit one large buffer.
                let head = &a.buf[a.start..a.filled];
                let line_start = memchr::memrchr(b'\n', head).map_or(0, |i| i + 1);
                if head.len() - line_start > large_size
                    && let Err(e) = request::check_line_lengths(head, large_size)
                {
                    return self.reject(shared, servers, e);
                }
                a.scanned = a.filled;
            } else if a.filled > a.start {
                a.scanned = a.filled;
                a.head.clear();
                let head = &a.buf[a.start..a.filled];
                let parsed = request::parse_head(head, &mut a.head, &opts);
                // A head that outgrew the small buffer lives in large ones, and each of
                // its lines must fit one of those (nginx moves line by line).
                if head.len() > small
                    && parsed.is_ok()
                    && let Err(e) = request::check_line_lengths(
                        &head[..parsed.ok().flatten().unwrap_or(head.len())],
                        large_size,
                    )
                {
                    return self.reject(shared, servers, e);
                }
                match parsed {
                    Ok(Some(n)) => {
                        self.state = State::Responding;
                        return handler::start_request(self, shared, servers, n);
                    }
                    Ok(None) => {}
                    Err(e) => return self.reject(shared, servers, e),
                }
            }
            if a.filled == a.buf.len() {
                if a.start > 0 {
                    a.buf.copy_within(a.start..a.filled, 0);
                    a.filled -= a.start;
                    a.scanned = a.scanned.saturating_sub(a.start);
                    a.start = 0;
                } else if a.buf.len() < large_n * large_size {
                    let grown = if a.buf.len() < large_size {
                        large_size
                    } else {
                        (a.buf.len() + large_size).min(large_n * large_size)
                    };
                    a.buf.resize(grown, 0);
                } else {
                    let e = request::overflow_error(&a.buf[..a.filled]);
                    return self.reject(shared, servers, e);
                }
            }
            if !self.readable {
                return Step::Wait(self.deadline);
            }
            match sock.read(&mut a.buf[a.filled..]) {
                Ok(0) => {
                    if a.filled > a.start {
                        elog!(
                            LogLevel::Info,
                            "*{} client prematurely closed connection while reading client request headers, client: {}",
                            self.id,
                            self.peer.ip()
                        );
                    }
                    return Step::Close;
                }
                Ok(n) => {
                    if self.state == State::KeepAliveIdle {
                        // The next request has begun: its head must arrive within the timeout.
                        self.state = State::ReadingHead;
                        self.deadline = Some(
                            shared.now
                                + shared.http.servers[servers.default]
                                    .srv
                                    .client_header_timeout,
                        );
                    }
                    a.filled += n;
                    // A short read drained the socket (nginx's `rev->ready = 0`): under
                    // edge-triggered epoll, more data brings a new event, so the recv()
                    // that would only say EAGAIN is skipped. Not once the FIN is queued:
                    // that needs a read of its own and brings no further event.
                    if a.filled < a.buf.len() && !self.read_closed {
                        self.readable = false;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    if self.state == State::KeepAliveIdle {
                        // Nothing arrived after all: an idle connection holds no buffer.
                        if let Some(a) = self.active.take() {
                            shared.pool.give(a, small);
                        }
                        // The keep-alive deadline set by `go_idle` must reach the timers.
                        return Step::Wait(self.deadline);
                    }
                    return Step::Wait(self.deadline);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    elog!(
                        LogLevel::Info,
                        "*{} recv() failed ({}) while reading client request headers, client: {}",
                        self.id,
                        sys::errno_text(&e),
                        self.peer.ip()
                    );
                    return Step::Close;
                }
            }
        }
    }

    /// Answers a head that cannot be parsed with nginx's status, then closes.
    fn reject(&mut self, shared: &mut Shared<'c>, servers: &AddrServers, e: HttpError) -> Step {
        self.state = State::Responding;
        handler::reject_request(self, shared, servers, e)
    }

    fn respond(&mut self, shared: &mut Shared<'c>) -> Step {
        // Consume what we can of an unread request body first: it may unblock the client.
        if let Err(step) = self.discard_body(shared) {
            return step;
        }
        let Some(a) = self.active.as_mut() else {
            return Step::Close;
        };
        // Coalesce pipelined responses: a fixed response already queued, a body fully read and
        // more input waiting means the next request can be answered before we write.
        if let Some(r) = a.req.as_ref()
            && r.keepalive
            && matches!(a.body, Body::None)
            && a.discard.is_none()
            && a.out.len() < OUTPUT_FLUSH_THRESHOLD
            && a.filled > a.start + r.head_len + r.body_in_buf
        {
            return self.finish_request(shared);
        }
        match self.flush() {
            Flush::Done => {}
            Flush::Blocked => {
                let send_timeout = self
                    .active
                    .as_ref()
                    .and_then(|a| a.req.as_ref())
                    .map_or(self.send_timeout, |r| r.loc.send_timeout);
                self.send_timeout = send_timeout;
                return Step::Wait(Some(shared.now + send_timeout));
            }
            Flush::Yield => return Step::Yield,
            Flush::Error => return Step::Close,
        }
        let Some(a) = self.active.as_mut() else {
            return Step::Close;
        };
        match a.req.as_ref() {
            // Response sent; the request body is still being discarded. As nginx's
            // `ngx_http_finalize_connection`: each read may wait `lingering_timeout`, all of
            // them together `lingering_time` (not `client_body_timeout`, which is for bodies
            // a handler reads).
            Some(r) if a.discard.is_some() => {
                let until = *self
                    .discard_until
                    .get_or_insert(shared.now + r.loc.lingering_time);
                if shared.now >= until {
                    return Step::Close;
                }
                Step::Wait(Some((shared.now + r.loc.lingering_timeout).min(until)))
            }
            Some(_) => self.finish_request(shared),
            // Only coalesced output of finished requests was left.
            None => match self.idle_after_flush.take() {
                Some(t) => {
                    let size = self.idle_buffer_size;
                    self.go_idle(shared, size, t)
                }
                None => Step::Close,
            },
        }
    }

    /// Ends the current request: access log, then keep-alive, pipelining or close.
    fn finish_request(&mut self, shared: &mut Shared<'c>) -> Step {
        self.discard_until = None;
        let Some(a) = self.active.as_mut() else {
            return Step::Close;
        };
        let Some(req) = a.req.take() else {
            return Step::Close;
        };
        handler::log_request(self, shared, &req);
        self.upstream_log = None;
        let Some(a) = self.active.as_mut() else {
            return Step::Close;
        };
        // A buffered body kept for an error page (its file, if any) ends with the request.
        a.route.request_body = None;
        a.start = (a.start + req.head_len + req.body_in_buf).min(a.filled);
        // Whatever follows is a new head: parse it from its start.
        a.scanned = a.start;
        a.pipelined = a.filled > a.start;
        if !req.keepalive {
            let linger = match req.loc.lingering_close {
                LingeringClose::Off => false,
                LingeringClose::Always => true,
                LingeringClose::On => req.lingering || a.discard.is_some() || a.filled > a.start,
            };
            if linger && let Some(sock) = self.sock.as_ref() {
                let _ = sock.shutdown(std::net::Shutdown::Write);
                self.state = State::LingeringClose {
                    until: shared.now + req.loc.lingering_time,
                };
                self.linger_timeout = req.loc.lingering_timeout;
                return Step::Again;
            }
            return Step::Close;
        }
        if a.start >= a.filled {
            a.start = 0;
            a.filled = 0;
            a.scanned = 0;
        }
        if a.filled > a.start {
            // A pipelined request is waiting in the buffer.
            self.state = State::ReadingHead;
            self.deadline = Some(shared.now + req.server.srv.client_header_timeout);
            return Step::Again;
        }
        if a.out_pos < a.out.len() {
            // Coalesced responses are still queued: write them before going idle.
            a.req = None;
            self.state = State::Responding;
            self.idle_after_flush = Some(req.loc.keepalive_timeout.0);
            self.idle_buffer_size = req.server.srv.client_header_buffer_size;
            return Step::Again;
        }
        self.go_idle(
            shared,
            req.server.srv.client_header_buffer_size,
            req.loc.keepalive_timeout.0,
        )
    }

    fn go_idle(
        &mut self,
        shared: &mut Shared<'c>,
        buffer_size: usize,
        keepalive_timeout: std::time::Duration,
    ) -> Step {
        self.state = State::KeepAliveIdle;
        if let Some(a) = self.active.take() {
            shared.pool.give(a, buffer_size);
        }
        let at = shared.now + keepalive_timeout;
        self.deadline = Some(at);
        // Data may already be waiting (the client pipelined right after our last write).
        if self.readable {
            Step::Again
        } else {
            Step::Wait(Some(at))
        }
    }

    fn linger(&mut self, shared: &mut Shared<'c>, until: Instant) -> Step {
        if shared.now >= until {
            return Step::Close;
        }
        let Some(sock) = self.sock.as_mut() else {
            return Step::Close;
        };
        let mut scratch = [0u8; DISCARD_CHUNK];
        loop {
            match sock.read(&mut scratch) {
                Ok(0) => return Step::Close,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    return Step::Wait(Some((shared.now + self.linger_timeout).min(until)));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Step::Close,
            }
        }
    }

    /// Mutable access for the request handler.
    pub fn parts(&mut self) -> (Option<&mut Box<Active<'c>>>, &mut u64, SocketAddr, u64) {
        (self.active.as_mut(), &mut self.requests, self.peer, self.id)
    }

    /// The connection's buffers (while a request is active).
    pub fn active(&self) -> Option<&Active<'c>> {
        self.active.as_deref()
    }

    /// The socket's descriptor (`$tcpinfo_*`).
    pub fn fd(&self) -> Option<std::os::fd::RawFd> {
        self.sock.as_ref().map(|s| s.as_raw_fd())
    }

    /// The socket's local address (`$server_addr`, `$server_port`).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.sock.as_ref().and_then(|s| s.local_addr().ok())
    }
}
