//! One proxied request: the upstream connection's state machine and the body relays.
//!
//! A [`Link`] belongs to the client connection that started it; its upstream socket is
//! registered under the client's slab key with [`UPSTREAM_TOKEN_BIT`] set, so a stale event
//! for a reused slot is dropped like any other. Every turn runs four pumps until none makes
//! progress: client body → upstream buffer, buffer → upstream socket, upstream socket →
//! response buffer, response buffer → client socket. Both buffers are bounded, so a slow
//! client stops the reading of the upstream (back-pressure) and a slow upstream stops the
//! reading of the client's body.
//!
//! Failures know their cause: an upstream error or timeout is logged at `error` in nginx's
//! words, counted against the server (passive health), and retried on the next server when
//! `proxy_next_upstream` allows it and the request can be replayed (its bytes sent so far
//! are still in the buffer); otherwise the client gets 502 or 504. A failure on a connection
//! reused from the pool before any response byte is not the server's fault (it closed an
//! idle connection): the request is replayed once on a fresh connection, uncounted.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Token};

use super::response::{self, ClientHeadInput, Framing, HeadError, ResponseHead};
use crate::config::LocSettings;
use crate::config::proxy_values::{NextUpstream, UpstreamConf};
use crate::elog;
use crate::http::chunked::{Chunk, ChunkedDecoder};
use crate::http::response as http_response;
use crate::log::LogLevel;
use crate::sys;
use crate::worker::Shared;
use crate::worker::conn::Active;

/// Token bit of an upstream socket (the rest is the client connection's slab key).
pub const UPSTREAM_TOKEN_BIT: usize = 1 << 63;
/// Request bytes kept for a replay on another connection; a longer request that fails after
/// its start was sent cannot be retried.
const REPLAY_LIMIT: usize = 64 * 1024;
/// Most request-body bytes buffered towards the upstream.
const BODY_WINDOW: usize = 64 * 1024;
/// Bytes read from the client per call while forwarding a body or a tunnel.
const CLIENT_READ_CHUNK: usize = 16 * 1024;
/// Safety valve for one drive.
const MAX_PUMP_ROUNDS: usize = 10_000;
/// Response buffers kept per worker for reuse.
const MAX_SPARE_BUFFERS: usize = 64;
/// Group index meaning "an address from a `proxy_pass` with variables".
pub const DIRECT: usize = usize::MAX;

/// What the client connection should do next.
pub enum LinkStep {
    /// Wait for readiness of either socket, or this deadline.
    Wait(Option<Instant>),
    /// The response is complete and written; the request can be finished (access log,
    /// keep-alive). `Req::keepalive` says whether the client connection stays.
    Finished,
    /// Close the client connection (after logging the request).
    Close,
}

/// The client side, as the link sees it.
pub struct ClientSide<'a, 'c> {
    /// The client socket.
    pub sock: &'a mut TcpStream,
    /// Readable since the last `WouldBlock`.
    pub readable: &'a mut bool,
    /// Writable since the last `WouldBlock`.
    pub writable: &'a mut bool,
    /// The connection's buffers and request.
    pub a: &'a mut Active<'c>,
    /// `*N` in the error log.
    pub id: u64,
    /// Client address.
    pub peer: SocketAddr,
    /// The token to register the upstream socket with.
    pub token: Token,
}

/// One try of the request: what `$upstream_addr`, `$upstream_status` and
/// `$upstream_response_time` show.
#[derive(Debug, Clone)]
pub struct Try {
    /// The server's address, or the group name when no server was live.
    pub addr: String,
    /// Its status (502/504 for failures); 0 while unknown.
    pub status: u16,
    /// Time from the try's start to its end.
    pub time: Duration,
    /// Time until the connection was established.
    pub connect_time: Option<Duration>,
    /// Time until the response head was parsed.
    pub header_time: Option<Duration>,
}

/// The tries of a request, for the access log.
#[derive(Debug, Clone, Default)]
pub struct UpstreamLog {
    /// Every try, in order.
    pub tries: Vec<Try>,
    /// `$proxy_host`
    pub proxy_host: String,
    /// `$proxy_port`
    pub proxy_port: u16,
}

impl UpstreamLog {
    /// Writes `$upstream_*`, `$proxy_host` or `$proxy_port` (by the variable's whole name);
    /// false if unknown or empty.
    pub fn var(&self, name: &str, out: &mut Vec<u8>) -> bool {
        match name {
            "proxy_host" => {
                out.extend_from_slice(self.proxy_host.as_bytes());
                return true;
            }
            "proxy_port" => {
                let _ = write!(out, "{}", self.proxy_port);
                return true;
            }
            _ => {}
        }
        let Some(name) = name.strip_prefix("upstream_") else {
            return false;
        };
        if self.tries.is_empty() {
            return false;
        }
        for (i, t) in self.tries.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            let secs = |d: Option<Duration>, out: &mut Vec<u8>| match d {
                Some(d) => {
                    let _ = write!(out, "{}.{:03}", d.as_secs(), d.subsec_millis());
                }
                None => out.push(b'-'),
            };
            match name {
                "addr" => out.extend_from_slice(t.addr.as_bytes()),
                "status" => match t.status {
                    0 => out.push(b'-'),
                    s => {
                        let _ = write!(out, "{s}");
                    }
                },
                "response_time" => secs(Some(t.time), out),
                "connect_time" => secs(t.connect_time, out),
                "header_time" => secs(t.header_time, out),
                _ => return false,
            }
        }
        true
    }
}

/// Why a try failed, as `proxy_next_upstream` names it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Failure {
    Error,
    Timeout,
    InvalidHeader,
}

/// How the rest of the client's request body arrives.
enum BodyIn {
    Done,
    Length(u64),
    Chunked(ChunkedDecoder),
}

/// Settings and facts fixed when the request starts.
pub struct LinkSetup {
    /// Group index, or [`DIRECT`].
    pub group: usize,
    /// The address for [`DIRECT`].
    pub direct: Option<SocketAddr>,
    /// The request head for the upstream.
    pub head: Vec<u8>,
    /// The URI in it (for log lines).
    pub uri: Vec<u8>,
    /// Whether the connection may go back to the pool afterwards.
    pub keepalive: bool,
    /// The request asks for a protocol switch (`Connection: upgrade`).
    pub upgrade: bool,
    /// The evaluated `hash` key.
    pub hash_key: Vec<u8>,
    /// `proxy_redirect` rules, evaluated.
    pub redirects: Vec<(Vec<u8>, Vec<u8>)>,
    /// `$proxy_host`
    pub proxy_host: String,
    /// `$proxy_port`
    pub proxy_port: u16,
}

/// A proxied request in flight.
pub struct Link<'c> {
    loc: &'c LocSettings,
    setup: LinkSetup,
    peer: Option<usize>,
    addr: Option<SocketAddr>,
    sock: Option<TcpStream>,
    up_readable: bool,
    up_writable: bool,
    connecting: bool,
    reused: bool,
    /// The next connect goes to this server on a fresh connection (stale pooled one).
    fresh_retry: Option<usize>,
    stale_retry_done: bool,
    conn_requests: u64,
    tried: Vec<bool>,
    tries: usize,
    started: Instant,
    try_started: Instant,
    up_progress: Instant,
    client_progress: Instant,
    // Request towards the upstream.
    out: Vec<u8>,
    out_pos: usize,
    replayable: bool,
    body: BodyIn,
    body_to_client_eof: bool,
    // Response.
    head: ResponseHead,
    head_done: bool,
    got_bytes: bool,
    resp: Vec<u8>,
    /// Most bytes `resp` may hold: `proxy_buffer_size`, plus `proxy_buffers` when buffering.
    resp_cap: usize,
    resp_start: usize,
    resp_end: usize,
    framing: Framing,
    remaining: u64,
    chunk: ChunkedDecoder,
    dechunk: bool,
    response_done: bool,
    reusable: bool,
    aborting: bool,
    tunnel: Option<Tunnel>,
    client_keepalive: bool,
    head_request: bool,
    client_http11: bool,
    idempotent: bool,
    client_ip: IpAddr,
    /// The client sent its next request while this one waits: stop watching for EOF.
    client_pipelined: bool,
    /// The status for the client when tries run out (502, or 504 after a timeout).
    fail_status: u16,
    /// The tries so far.
    pub log: UpstreamLog,
}

#[derive(Default)]
struct Tunnel {
    client_eof: bool,
    upstream_eof: bool,
}

type Flow = Result<bool, LinkStep>;

impl<'c> Link<'c> {
    /// A link for the request in `a` (its head parsed, `a.req` set).
    pub fn new(
        loc: &'c LocSettings,
        mut setup: LinkSetup,
        a: &Active<'c>,
        client_ip: IpAddr,
        now: Instant,
        buffers: &mut Vec<Vec<u8>>,
    ) -> Link<'c> {
        use crate::http::request::{Method, Version};
        let body = if a.head.chunked {
            BodyIn::Chunked(ChunkedDecoder::new())
        } else {
            match a.head.content_length {
                Some(n) if n > 0 => BodyIn::Length(n),
                _ => BodyIn::Done,
            }
        };
        let read_ahead = if loc.proxy_buffering {
            loc.proxy_buffers.0.saturating_mul(loc.proxy_buffers.1)
        } else {
            0
        };
        let head_size = loc.proxy_buffer_size.max(1024);
        let resp_cap = head_size.saturating_add(read_ahead);
        let out = std::mem::take(&mut setup.head);
        // Memory grows with what the response needs, up to `resp_cap`, as nginx allocates
        // its proxy_buffers one by one.
        let mut resp = buffers.pop().unwrap_or_default();
        if resp.len() < head_size {
            resp.resize(head_size, 0);
        }
        Link {
            loc,
            setup,
            peer: None,
            addr: None,
            sock: None,
            up_readable: false,
            up_writable: false,
            connecting: false,
            reused: false,
            fresh_retry: None,
            stale_retry_done: false,
            conn_requests: 0,
            tried: Vec::new(),
            tries: 0,
            started: now,
            try_started: now,
            up_progress: now,
            client_progress: now,
            out,
            out_pos: 0,
            replayable: true,
            body,
            body_to_client_eof: false,
            head: ResponseHead::default(),
            head_done: false,
            got_bytes: false,
            resp,
            resp_cap,
            resp_start: 0,
            resp_end: 0,
            framing: Framing::Empty,
            remaining: 0,
            chunk: ChunkedDecoder::new(),
            dechunk: false,
            response_done: false,
            reusable: false,
            aborting: false,
            tunnel: None,
            client_keepalive: false,
            head_request: a.head.method == Method::Head,
            client_http11: a.head.version == Version::Http11,
            idempotent: matches!(
                a.head.method,
                Method::Get | Method::Head | Method::Put | Method::Delete | Method::Options
            ),
            client_ip,
            fail_status: 502,
            client_pipelined: false,
            log: UpstreamLog::default(),
        }
    }

    /// Records readiness of the upstream socket.
    pub fn on_event(&mut self, readable: bool, writable: bool) {
        self.up_readable |= readable;
        self.up_writable |= writable;
    }

    fn group_conf<'s>(&self, shared: &'s Shared<'c>) -> Option<&'s UpstreamConf> {
        shared.http.upstreams.get(self.setup.group)
    }

    /// Runs the pumps until nothing moves.
    pub fn drive(&mut self, cx: &mut ClientSide<'_, 'c>, shared: &mut Shared<'c>) -> LinkStep {
        if let Err(step) = self.check_deadlines(cx, shared) {
            return step;
        }
        for _ in 0..MAX_PUMP_ROUNDS {
            match self.round(cx, shared) {
                Ok(true) => continue,
                Ok(false) => return LinkStep::Wait(self.deadline(cx, shared)),
                Err(step) => return step,
            }
        }
        elog!(
            LogLevel::Alert,
            "*{} proxy loop ran {MAX_PUMP_ROUNDS} rounds, closing",
            cx.id
        );
        self.drop_upstream(shared, false);
        LinkStep::Close
    }

    fn round(&mut self, cx: &mut ClientSide<'_, 'c>, shared: &mut Shared<'c>) -> Flow {
        if self.sock.is_none() && !self.response_done {
            self.connect(cx, shared)?;
            return Ok(true);
        }
        if self.connecting {
            if !self.up_writable {
                return self.watch_client(cx, shared).map(|_| false);
            }
            self.finish_connect(cx, shared)?;
            if self.sock.is_none() {
                return Ok(true);
            }
        }
        if self.tunnel.is_some() {
            return self.tunnel_round(cx, shared);
        }
        let mut progress = self.pump_body(cx, shared)?;
        progress |= self.send_upstream(cx, shared)?;
        progress |= self.read_upstream(cx, shared)?;
        progress |= self.write_client(cx, shared)?;
        if !self.head_done {
            progress |= self.watch_client(cx, shared)?;
        }
        if self.response_done && self.out_drained_to_client(cx) {
            return Err(self.finish(cx, shared));
        }
        if self.aborting && self.out_drained_to_client(cx) {
            self.drop_upstream(shared, false);
            return Err(LinkStep::Close);
        }
        // A failed try left no socket: the next round connects to the next server.
        Ok(progress || (self.sock.is_none() && !self.response_done && !self.aborting))
    }

    fn out_drained_to_client(&self, cx: &ClientSide<'_, 'c>) -> bool {
        cx.a.out_pos >= cx.a.out.len() && self.resp_start >= self.resp_end
    }

    // ---- connecting ----

    fn connect(
        &mut self,
        cx: &mut ClientSide<'_, 'c>,
        shared: &mut Shared<'c>,
    ) -> Result<(), LinkStep> {
        let now = shared.now;
        let limit = self.loc.proxy_next_upstream_timeout;
        if self.tries > 0
            && !limit.is_zero()
            && now.saturating_duration_since(self.started) >= limit
        {
            return Err(self.respond_error(cx, shared, 502));
        }
        let (peer, addr) = if self.setup.group == DIRECT {
            match self.setup.direct {
                Some(a) if self.tries == 0 || self.fresh_retry.is_some() => (None, a),
                _ => return Err(self.respond_error(cx, shared, 502)),
            }
        } else {
            let Some(conf) = shared.http.upstreams.get(self.setup.group) else {
                return Err(self.respond_error(cx, shared, 502));
            };
            let peer = match self.fresh_retry {
                Some(p) => p,
                None => {
                    if self.tried.len() < conf.servers.len() {
                        self.tried.resize(conf.servers.len(), false);
                    }
                    let Some(group) = shared.upstreams.groups.get_mut(self.setup.group) else {
                        return Err(self.respond_error(cx, shared, 502));
                    };
                    match group.pick(
                        &conf.balance,
                        &self.tried,
                        self.client_ip,
                        &self.setup.hash_key,
                        now,
                    ) {
                        Ok(p) => p,
                        Err(_) => {
                            if self.tries == 0 {
                                self.log_line(
                                    cx,
                                    LogLevel::Error,
                                    "no live upstreams while connecting to upstream",
                                    Some(&conf.name),
                                );
                                self.log.tries.push(Try {
                                    addr: conf.name.clone(),
                                    status: 502,
                                    time: Duration::ZERO,
                                    connect_time: None,
                                    header_time: None,
                                });
                            }
                            let status = self.fail_status;
                            return Err(self.respond_error(cx, shared, status));
                        }
                    }
                }
            };
            let Some(server) = conf.servers.get(peer) else {
                return Err(self.respond_error(cx, shared, 502));
            };
            if let Some(t) = self.tried.get_mut(peer) {
                *t = true;
            }
            if let Some(g) = shared.upstreams.groups.get_mut(self.setup.group) {
                g.acquire(peer);
            }
            (Some(peer), server.addr)
        };
        let fresh = self.fresh_retry.take().is_some();
        if !fresh {
            self.tries += 1;
        }
        self.peer = peer;
        self.addr = Some(addr);
        self.try_started = now;
        self.up_progress = now;
        self.reset_response();
        self.log.tries.push(Try {
            addr: addr.to_string(),
            status: 0,
            time: Duration::ZERO,
            connect_time: None,
            header_time: None,
        });
        // A cached connection first, unless this is the replay after a stale one.
        if !fresh
            && self.setup.keepalive
            && let Some(p) = peer
            && let Some((mut sock, requests)) = shared.upstreams.pool.take(self.setup.group, p)
            && shared
                .registry
                .reregister(&mut sock, cx.token, Interest::READABLE | Interest::WRITABLE)
                .is_ok()
        {
            self.sock = Some(sock);
            self.reused = true;
            self.conn_requests = requests;
            self.connecting = false;
            self.up_readable = true;
            self.up_writable = true;
            self.mark_connected(now);
            return Ok(());
        }
        self.reused = false;
        self.conn_requests = 0;
        match TcpStream::connect(addr) {
            Ok(mut sock) => {
                let _ = sock.set_nodelay(true);
                if let Err(e) = shared.registry.register(
                    &mut sock,
                    cx.token,
                    Interest::READABLE | Interest::WRITABLE,
                ) {
                    elog!(
                        LogLevel::Alert,
                        "epoll_ctl() failed ({})",
                        sys::errno_text(&e)
                    );
                    return Err(self.respond_error(cx, shared, 502));
                }
                self.sock = Some(sock);
                self.connecting = true;
                self.up_readable = false;
                self.up_writable = false;
                Ok(())
            }
            Err(e) => {
                let what = format!("connect() failed ({})", sys::errno_text(&e));
                self.fail(cx, shared, Failure::Error, &what, "connecting to upstream")
            }
        }
    }

    fn mark_connected(&mut self, now: Instant) {
        if let Some(t) = self.log.tries.last_mut() {
            t.connect_time = Some(now.saturating_duration_since(self.try_started));
        }
    }

    fn finish_connect(
        &mut self,
        cx: &mut ClientSide<'_, 'c>,
        shared: &mut Shared<'c>,
    ) -> Result<(), LinkStep> {
        let Some(sock) = self.sock.as_ref() else {
            return Ok(());
        };
        let err = match sock.take_error() {
            Ok(Some(e)) => Some(e),
            Ok(None) => match sock.peer_addr() {
                Ok(_) => None,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                    // Not yet: wait for the next writable edge.
                    self.up_writable = false;
                    return Ok(());
                }
                Err(e) => Some(e),
            },
            Err(e) => Some(e),
        };
        if let Some(e) = err {
            let what = format!("connect() failed ({})", sys::errno_text(&e));
            return self.fail(cx, shared, Failure::Error, &what, "connecting to upstream");
        }
        self.connecting = false;
        self.up_progress = shared.now;
        self.mark_connected(shared.now);
        Ok(())
    }

    fn reset_response(&mut self) {
        self.out_pos = 0;
        self.head_done = false;
        self.got_bytes = false;
        self.resp_start = 0;
        self.resp_end = 0;
        self.response_done = false;
        self.chunk = ChunkedDecoder::new();
    }

    // ---- failures ----

    /// Writes an error-log line in nginx's format for this request.
    fn log_line(
        &self,
        cx: &ClientSide<'_, 'c>,
        level: LogLevel,
        what: &str,
        upstream_name: Option<&str>,
    ) {
        let a = &*cx.a;
        let Some(req) = a.req.as_ref() else {
            return;
        };
        let buf = &a.buf[a.start.min(a.filled)..a.filled];
        let line = crate::worker::request_line_of(buf, req.head_len);
        let host = a.head.host.map_or(&b""[..], |h| h.get(buf));
        let host_header = a
            .head
            .headers
            .iter()
            .find(|h| h.name.get(buf).eq_ignore_ascii_case(b"host"))
            .map(|h| h.value.get(buf))
            .unwrap_or(host);
        let upstream = match (upstream_name, self.addr) {
            (Some(n), _) => n.to_string(),
            (None, Some(a)) => a.to_string(),
            (None, None) => String::new(),
        };
        let host_part = if host_header.is_empty() {
            String::new()
        } else {
            format!(", host: \"{}\"", String::from_utf8_lossy(host_header))
        };
        elog!(
            level,
            "*{} {what}, client: {}, server: {}, request: \"{}\", upstream: \"http://{upstream}{}\"{host_part}",
            cx.id,
            cx.peer.ip(),
            crate::worker::server_name_of(req.server),
            String::from_utf8_lossy(line),
            String::from_utf8_lossy(&self.setup.uri),
        );
    }

    /// A try failed: log it, count it, then retry elsewhere or answer 502/504.
    fn fail(
        &mut self,
        cx: &mut ClientSide<'_, 'c>,
        shared: &mut Shared<'c>,
        kind: Failure,
        what: &str,
        during: &str,
    ) -> Result<(), LinkStep> {
        let now = shared.now;
        // A cached connection the upstream had closed: replay once on a fresh one.
        if self.reused
            && !self.got_bytes
            && !self.stale_retry_done
            && kind != Failure::Timeout
            && self.replayable
            && let Some(p) = self.peer
        {
            self.stale_retry_done = true;
            // Released uncounted here; `connect` acquires it again for the fresh connection.
            self.drop_upstream(shared, false);
            self.log.tries.pop();
            self.fresh_retry = Some(p);
            return Ok(());
        }
        let message = format!("{what} while {during}");
        self.log_line(cx, LogLevel::Error, &message, None);
        let status = if kind == Failure::Timeout { 504 } else { 502 };
        self.fail_status = status;
        if let Some(t) = self.log.tries.last_mut() {
            t.status = status;
            t.time = now.saturating_duration_since(self.try_started);
        }
        if let (Some(p), Some(g)) = (self.peer, shared.upstreams.groups.get_mut(self.setup.group))
            && g.release(p, true, now)
        {
            let message = format!("upstream server temporarily disabled while {during}");
            self.log_line(cx, LogLevel::Warn, &message, None);
        }
        self.peer = None;
        self.drop_upstream(shared, false);
        if self.head_done {
            // The client already has part of the response: all we can do is close.
            self.aborting = true;
            return Err(LinkStep::Close);
        }
        let bit = match kind {
            Failure::Error => NextUpstream::ERROR,
            Failure::Timeout => NextUpstream::TIMEOUT,
            Failure::InvalidHeader => NextUpstream::INVALID_HEADER,
        };
        if self.may_retry(bit, now) {
            return Ok(());
        }
        Err(self.respond_error(cx, shared, status))
    }

    fn may_retry(&self, bit: u16, now: Instant) -> bool {
        let next = self.loc.proxy_next_upstream;
        let max_tries = self.loc.proxy_next_upstream_tries;
        let timeout = self.loc.proxy_next_upstream_timeout;
        next.has(bit)
            && self.replayable
            && (self.idempotent || next.has(NextUpstream::NON_IDEMPOTENT) || self.out_pos == 0)
            && (max_tries == 0 || self.tries < max_tries)
            && (timeout.is_zero() || now.saturating_duration_since(self.started) < timeout)
            && self.setup.group != DIRECT
            && self.tried.iter().any(|t| !t)
    }

    /// Closes the upstream socket (never pooled) and releases the server.
    fn drop_upstream(&mut self, shared: &mut Shared<'c>, failed: bool) {
        if let Some(mut s) = self.sock.take() {
            let _ = shared.registry.deregister(&mut s);
        }
        if let Some(p) = self.peer.take()
            && let Some(g) = shared.upstreams.groups.get_mut(self.setup.group)
        {
            g.release(p, failed, shared.now);
        }
        self.connecting = false;
    }

    /// Queues nginx's error page as the response and ends the upstream side.
    fn respond_error(
        &mut self,
        cx: &mut ClientSide<'_, 'c>,
        shared: &mut Shared<'c>,
        status: u16,
    ) -> LinkStep {
        self.drop_upstream(shared, false);
        let a = &mut *cx.a;
        let Some(req) = a.req.as_mut() else {
            return LinkStep::Close;
        };
        // nginx answers at once, with the rest of the body unread: it cannot keep the
        // connection unless the body was fully read.
        let body_done = matches!(self.body, BodyIn::Done);
        req.keepalive &= body_done;
        req.lingering |= !body_done;
        let page = http_response::error_page(status, self.loc.server_tokens).unwrap_or(b"");
        let start = a.out.len();
        a.out.extend_from_slice(http_response::status_line(status));
        a.out
            .extend_from_slice(http_response::server_header(self.loc.server_tokens));
        a.out.extend_from_slice(b"Date: ");
        a.out.extend_from_slice(shared.date.http_date());
        a.out.extend_from_slice(b"\r\nContent-Type: text/html\r\n");
        let _ = write!(a.out, "Content-Length: {}\r\n", page.len());
        a.out.extend_from_slice(if req.keepalive {
            b"Connection: keep-alive\r\n\r\n"
        } else {
            b"Connection: close\r\n\r\n"
        });
        req.header_bytes = (a.out.len() - start) as u64;
        if !self.head_request {
            a.out.extend_from_slice(page);
        }
        req.bytes_sent += (a.out.len() - start) as u64;
        req.status = status;
        self.head_done = true;
        self.response_done = true;
        self.resp_start = 0;
        self.resp_end = 0;
        self.client_keepalive = req.keepalive;
        // The caller's next round writes it; report "finished" once written.
        match self.write_client(cx, shared) {
            Err(step) => step,
            Ok(_) if self.out_drained_to_client(cx) => self.finish(cx, shared),
            Ok(_) => LinkStep::Wait(Some(shared.now + self.loc.send_timeout)),
        }
    }

    // ---- request body ----

    /// Moves request-body bytes from the client (its head buffer first) towards the upstream.
    fn pump_body(&mut self, cx: &mut ClientSide<'_, 'c>, shared: &mut Shared<'c>) -> Flow {
        let mut progress = false;
        loop {
            if matches!(self.body, BodyIn::Done) || self.out.len() - self.out_pos >= BODY_WINDOW {
                return Ok(progress);
            }
            let a = &mut *cx.a;
            let Some(req) = a.req.as_mut() else {
                return Ok(progress);
            };
            let body_start = a.start + req.head_len + req.body_in_buf;
            if body_start < a.filled {
                let input = &a.buf[body_start..a.filled];
                let (used, done) = match take_body(&mut self.body, input) {
                    Ok(r) => r,
                    Err(()) => return Err(self.client_body_error(cx, shared)),
                };
                self.out.extend_from_slice(&input[..used]);
                req.body_in_buf += used;
                req.body_read += used as u64;
                if done {
                    self.body = BodyIn::Done;
                }
                progress = true;
                continue;
            }
            if !*cx.readable {
                return Ok(progress);
            }
            let old = self.out.len();
            let want = match self.body {
                BodyIn::Length(n) => (n as usize).min(CLIENT_READ_CHUNK),
                _ => CLIENT_READ_CHUNK,
            };
            self.out.resize(old + want, 0);
            match cx.sock.read(&mut self.out[old..]) {
                Ok(0) => {
                    self.out.truncate(old);
                    self.body_to_client_eof = true;
                    let what =
                        "client prematurely closed connection while sending request to upstream";
                    self.log_line(cx, LogLevel::Info, what, None);
                    return Err(self.client_gone(cx, shared, 400));
                }
                Ok(n) => {
                    self.out.truncate(old + n);
                    let (used, done) = match take_body(&mut self.body, &self.out[old..]) {
                        Ok(r) => r,
                        Err(()) => {
                            self.out.truncate(old);
                            return Err(self.client_body_error(cx, shared));
                        }
                    };
                    if used < n {
                        // Past the body's end: the next pipelined request, back to the head
                        // buffer.
                        let extra = self.out[old + used..].to_vec();
                        self.out.truncate(old + used);
                        let a = &mut *cx.a;
                        if a.buf.len() < a.filled + extra.len() {
                            a.buf.resize(a.filled + extra.len(), 0);
                        }
                        a.buf[a.filled..a.filled + extra.len()].copy_from_slice(&extra);
                        a.filled += extra.len();
                    }
                    if let Some(req) = cx.a.req.as_mut() {
                        req.body_read += used as u64;
                    }
                    if done {
                        self.body = BodyIn::Done;
                    }
                    self.client_progress = shared.now;
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.out.truncate(old);
                    *cx.readable = false;
                    return Ok(progress);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => self.out.truncate(old),
                Err(_) => {
                    self.out.truncate(old);
                    return Err(self.client_gone(cx, shared, 499));
                }
            }
        }
    }

    fn client_body_error(
        &mut self,
        cx: &mut ClientSide<'_, 'c>,
        shared: &mut Shared<'c>,
    ) -> LinkStep {
        self.log_line(cx, LogLevel::Info, "client sent invalid chunked body", None);
        self.drop_upstream(shared, false);
        self.body = BodyIn::Done;
        if self.head_done {
            return LinkStep::Close;
        }
        if let Some(req) = cx.a.req.as_mut() {
            req.keepalive = false;
        }
        self.respond_error(cx, shared, 400)
    }

    /// The client went away: 499 (or `status`), upstream closed, not pooled.
    fn client_gone(
        &mut self,
        cx: &mut ClientSide<'_, 'c>,
        shared: &mut Shared<'c>,
        status: u16,
    ) -> LinkStep {
        self.drop_upstream(shared, false);
        if let Some(req) = cx.a.req.as_mut() {
            if !self.head_done {
                req.status = status;
            }
            req.keepalive = false;
            req.lingering = false;
        }
        LinkStep::Close
    }

    /// While waiting for the response head, a client that closes its connection aborts the
    /// request (nginx's `proxy_ignore_client_abort off`).
    fn watch_client(&mut self, cx: &mut ClientSide<'_, 'c>, shared: &mut Shared<'c>) -> Flow {
        if !matches!(self.body, BodyIn::Done) || !*cx.readable || self.client_pipelined {
            return Ok(false);
        }
        let mut probe = [0u8; 1];
        match cx.sock.peek(&mut probe) {
            Ok(0) => {
                // nginx's log action changes only when the upstream first becomes readable.
                let during = if self.got_bytes {
                    "reading response header from upstream"
                } else {
                    "sending request to upstream"
                };
                let what = format!(
                    "epoll_wait() reported that client prematurely closed connection, so upstream connection is closed too while {during}"
                );
                self.log_line(cx, LogLevel::Info, &what, None);
                if let Some(t) = self.log.tries.last_mut() {
                    t.time = shared.now.saturating_duration_since(self.try_started);
                }
                Err(self.client_gone(cx, shared, 499))
            }
            // The next pipelined request: leave it (and the readiness) to the connection.
            Ok(_) => {
                self.client_pipelined = true;
                Ok(false)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                *cx.readable = false;
                Ok(false)
            }
            Err(_) => Err(self.client_gone(cx, shared, 499)),
        }
    }

    // ---- upstream socket ----

    fn send_upstream(&mut self, cx: &mut ClientSide<'_, 'c>, shared: &mut Shared<'c>) -> Flow {
        let mut progress = false;
        while self.out_pos < self.out.len() && self.up_writable {
            let Some(sock) = self.sock.as_mut() else {
                return Ok(progress);
            };
            match sock.write(&self.out[self.out_pos..]) {
                Ok(n) => {
                    self.out_pos += n;
                    self.up_progress = shared.now;
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.up_writable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let what = format!("writev() failed ({})", sys::errno_text(&e));
                    self.fail(
                        cx,
                        shared,
                        Failure::Error,
                        &what,
                        "sending request to upstream",
                    )?;
                    return Ok(true);
                }
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

    fn read_upstream(&mut self, cx: &mut ClientSide<'_, 'c>, shared: &mut Shared<'c>) -> Flow {
        let mut progress = false;
        while self.up_readable && !self.response_done {
            if self.resp_start == self.resp_end {
                self.resp_start = 0;
                self.resp_end = 0;
            }
            let limit = if self.head_done {
                self.resp_cap
            } else {
                self.loc.proxy_buffer_size.max(1024).min(self.resp_cap)
            };
            if self.resp_end >= limit {
                if self.head_done && self.resp_start > 0 {
                    self.resp.copy_within(self.resp_start..self.resp_end, 0);
                    self.resp_end -= self.resp_start;
                    self.resp_start = 0;
                    continue;
                }
                if !self.head_done {
                    self.fail(
                        cx,
                        shared,
                        Failure::InvalidHeader,
                        "upstream sent too big header",
                        "reading response header from upstream",
                    )?;
                    return Ok(true);
                }
                // Full: the client must drain it first (back-pressure).
                return Ok(progress);
            }
            if self.resp_end >= self.resp.len() {
                let grown = self.resp.len().saturating_mul(2).clamp(1024, limit);
                self.resp.resize(grown, 0);
            }
            let end = self.resp.len().min(limit);
            let Some(sock) = self.sock.as_mut() else {
                return Ok(progress);
            };
            match sock.read(&mut self.resp[self.resp_end..end]) {
                Ok(0) => {
                    self.up_readable = false;
                    return self.upstream_eof(cx, shared).map(|_| true);
                }
                Ok(n) => {
                    let from = self.resp_end;
                    self.resp_end += n;
                    self.got_bytes = true;
                    self.up_progress = shared.now;
                    progress = true;
                    if !self.head_done {
                        self.try_head(cx, shared)?;
                    } else {
                        self.account(from, cx, shared)?;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.up_readable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let during = if self.head_done {
                        "reading upstream"
                    } else {
                        "reading response header from upstream"
                    };
                    let what = format!("recv() failed ({})", sys::errno_text(&e));
                    self.fail(cx, shared, Failure::Error, &what, during)?;
                    return Ok(true);
                }
            }
        }
        Ok(progress)
    }

    fn upstream_eof(
        &mut self,
        cx: &mut ClientSide<'_, 'c>,
        shared: &mut Shared<'c>,
    ) -> Result<(), LinkStep> {
        if !self.head_done {
            return self.fail(
                cx,
                shared,
                Failure::Error,
                "upstream prematurely closed connection",
                "reading response header from upstream",
            );
        }
        match self.framing {
            Framing::UntilClose => {
                self.response_done = true;
                self.reusable = false;
                Ok(())
            }
            _ if self.response_done => Ok(()),
            _ => {
                self.log_line(
                    cx,
                    LogLevel::Error,
                    "upstream prematurely closed connection while reading upstream",
                    None,
                );
                if let Some(t) = self.log.tries.last_mut() {
                    t.time = shared.now.saturating_duration_since(self.try_started);
                }
                self.drop_upstream(shared, false);
                self.aborting = true;
                Ok(())
            }
        }
    }

    /// Parses the response head once it is complete.
    fn try_head(
        &mut self,
        cx: &mut ClientSide<'_, 'c>,
        shared: &mut Shared<'c>,
    ) -> Result<(), LinkStep> {
        let parsed =
            response::parse_head(&self.resp[self.resp_start..self.resp_end], &mut self.head);
        match parsed {
            Ok(None) => Ok(()),
            Err(HeadError::TooBig) => self.fail(
                cx,
                shared,
                Failure::InvalidHeader,
                "upstream sent too big header",
                "reading response header from upstream",
            ),
            Err(HeadError::Invalid) => self.fail(
                cx,
                shared,
                Failure::InvalidHeader,
                "upstream sent invalid header",
                "reading response header from upstream",
            ),
            Ok(Some(())) => {
                if self.resp_start > 0 {
                    // Offsets were relative to the head's start: normalise.
                    self.resp.copy_within(self.resp_start..self.resp_end, 0);
                    self.resp_end -= self.resp_start;
                    self.resp_start = 0;
                }
                self.process_head(cx, shared)
            }
        }
    }

    fn process_head(
        &mut self,
        cx: &mut ClientSide<'_, 'c>,
        shared: &mut Shared<'c>,
    ) -> Result<(), LinkStep> {
        let now = shared.now;
        let status = self.head.status;
        if (100..200).contains(&status) && status != 101 {
            // An interim response (100 Continue): skip it.
            self.resp_start = self.head.len;
            if self.resp_start < self.resp_end {
                return self.try_head(cx, shared);
            }
            return Ok(());
        }
        if let Some(t) = self.log.tries.last_mut() {
            t.status = status;
            t.header_time = Some(now.saturating_duration_since(self.try_started));
        }
        let bit = NextUpstream::for_status(status);
        if bit != 0 && self.may_retry(bit, now) {
            if let Some(t) = self.log.tries.last_mut() {
                t.time = now.saturating_duration_since(self.try_started);
            }
            // 403 and 404 are answers, not failures of the server.
            let failed = !matches!(status, 403 | 404);
            self.drop_upstream(shared, failed);
            return Ok(());
        }
        let upgrade = status == 101 && self.setup.upgrade;
        if status == 101 && !upgrade {
            return self.fail(
                cx,
                shared,
                Failure::InvalidHeader,
                "upstream sent unexpected 101 response",
                "reading response header from upstream",
            );
        }
        // proxy_intercept_errors: a status that has an error_page is answered by the server,
        // not relayed. This is the hook for the routing engine's internal redirect to the
        // error_page URI; until it lands, the server's own page for the status is sent.
        if self.loc.proxy_intercept_errors
            && status >= 300
            && self.loc.error_page_for(status).is_some()
        {
            if let Some(t) = self.log.tries.last_mut() {
                t.time = now.saturating_duration_since(self.try_started);
            }
            self.drop_upstream(shared, false);
            return Err(self.respond_error(cx, shared, status));
        }
        self.framing = if upgrade {
            Framing::Empty
        } else {
            self.head.framing(self.head_request)
        };
        self.remaining = match self.framing {
            Framing::Length(n) => n,
            _ => 0,
        };
        self.dechunk = self.framing == Framing::Chunked && !self.client_http11;
        let body_done = matches!(self.body, BodyIn::Done);
        self.reusable = self.setup.keepalive
            && !self.head.close
            && self.framing != Framing::UntilClose
            && !upgrade;
        let a = &mut *cx.a;
        let Some(req) = a.req.as_mut() else {
            return Err(LinkStep::Close);
        };
        self.client_keepalive = req.keepalive
            && self.framing != Framing::UntilClose
            && !self.dechunk
            && body_done
            && !upgrade;
        req.keepalive = self.client_keepalive;
        let input = ClientHeadInput {
            pass: &self.loc.proxy_pass_header,
            hide: &self.loc.proxy_hide_header,
            server_line: http_response::server_header(self.loc.server_tokens),
            date: shared.date.http_date(),
            chunked_to_client: self.framing == Framing::Chunked && !self.dechunk,
            keepalive: self.client_keepalive,
            redirects: &self.setup.redirects,
        };
        let start = a.out.len();
        response::build_client_head(&self.head, &self.resp, &input, &mut a.out);
        req.header_bytes = (a.out.len() - start) as u64;
        req.bytes_sent += req.header_bytes;
        req.status = status;
        self.head_done = true;
        self.resp_start = self.head.len;
        if upgrade {
            // Bytes the client sent after its head belong to the new protocol.
            let body_start = (a.start + req.head_len + req.body_in_buf).min(a.filled);
            self.out.extend_from_slice(&a.buf[body_start..a.filled]);
            req.body_in_buf += a.filled - body_start;
            self.tunnel = Some(Tunnel::default());
            self.reusable = false;
            return Ok(());
        }
        if self.framing == Framing::Empty {
            self.response_done = true;
            if self.resp_start < self.resp_end {
                self.reusable = false;
            }
            self.resp_end = self.resp_start;
            return Ok(());
        }
        let from = self.resp_start;
        self.account(from, cx, shared)
    }

    /// Frames new body bytes `resp[from..resp_end]`: counts them, finds the end, drops what
    /// follows it, and removes chunk framing for an HTTP/1.0 client.
    fn account(
        &mut self,
        from: usize,
        cx: &mut ClientSide<'_, 'c>,
        shared: &mut Shared<'c>,
    ) -> Result<(), LinkStep> {
        match self.framing {
            Framing::Empty => {
                self.resp_end = from;
                self.response_done = true;
            }
            Framing::UntilClose => {}
            Framing::Length(_) => {
                let got = (self.resp_end - from) as u64;
                let take = got.min(self.remaining);
                self.remaining -= take;
                if take < got {
                    self.resp_end = from + take as usize;
                    self.reusable = false;
                }
                if self.remaining == 0 {
                    self.response_done = true;
                }
            }
            Framing::Chunked => {
                let mut pos = from;
                let mut write = from;
                while pos < self.resp_end {
                    let step = self.chunk.step(&self.resp[pos..self.resp_end]);
                    match step {
                        Ok(Chunk::Data {
                            start,
                            end,
                            consumed,
                        }) => {
                            if self.dechunk {
                                self.resp.copy_within(pos + start..pos + end, write);
                                write += end - start;
                            }
                            pos += consumed;
                        }
                        Ok(Chunk::NeedMore { consumed }) => {
                            pos += consumed;
                            break;
                        }
                        Ok(Chunk::Done { consumed }) => {
                            pos += consumed;
                            self.response_done = true;
                            if pos < self.resp_end {
                                self.reusable = false;
                            }
                            break;
                        }
                        Err(_) => {
                            self.log_line(
                                cx,
                                LogLevel::Error,
                                "upstream sent invalid chunked response while reading upstream",
                                None,
                            );
                            self.drop_upstream(shared, false);
                            self.aborting = true;
                            self.resp_end = if self.dechunk { write } else { pos };
                            return Ok(());
                        }
                    }
                }
                self.resp_end = if self.dechunk { write } else { pos };
            }
        }
        Ok(())
    }

    // ---- client socket ----

    fn write_client(&mut self, cx: &mut ClientSide<'_, 'c>, shared: &mut Shared<'c>) -> Flow {
        let mut progress = false;
        loop {
            let a = &mut *cx.a;
            let (data, from_out) = if a.out_pos < a.out.len() {
                (&a.out[a.out_pos..], true)
            } else if self.head_done && self.resp_start < self.resp_end {
                (&self.resp[self.resp_start..self.resp_end], false)
            } else {
                if a.out_pos > 0 {
                    a.out.clear();
                    a.out_pos = 0;
                }
                return Ok(progress);
            };
            if !*cx.writable {
                return Ok(progress);
            }
            match cx.sock.write(data) {
                Ok(n) => {
                    progress = true;
                    self.client_progress = shared.now;
                    if from_out {
                        a.out_pos += n;
                    } else {
                        self.resp_start += n;
                        if let Some(req) = a.req.as_mut() {
                            req.bytes_sent += n as u64;
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    *cx.writable = false;
                    return Ok(progress);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let level = match e.raw_os_error() {
                        Some(libc::EPIPE) | Some(libc::ECONNRESET) => LogLevel::Info,
                        _ => LogLevel::Error,
                    };
                    let what = format!(
                        "writev() failed ({}) while sending to client",
                        sys::errno_text(&e)
                    );
                    self.log_line(cx, level, &what, None);
                    return Err(self.client_gone(cx, shared, 499));
                }
            }
        }
    }

    // ---- tunnel ----

    fn tunnel_round(&mut self, cx: &mut ClientSide<'_, 'c>, shared: &mut Shared<'c>) -> Flow {
        let mut progress = self.write_client(cx, shared)?;
        if cx.a.out_pos < cx.a.out.len() {
            return Ok(progress);
        }
        let Some(sock) = self.sock.as_mut() else {
            return Err(LinkStep::Close);
        };
        let Some(t) = self.tunnel.as_mut() else {
            return Ok(progress);
        };
        // client → upstream
        loop {
            if self.out_pos < self.out.len() {
                if !self.up_writable {
                    break;
                }
                match sock.write(&self.out[self.out_pos..]) {
                    Ok(n) => {
                        self.out_pos += n;
                        progress = true;
                        self.up_progress = shared.now;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.up_writable = false;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return Err(self.end_tunnel(shared)),
                }
                continue;
            }
            self.out.clear();
            self.out_pos = 0;
            if t.client_eof || !*cx.readable {
                break;
            }
            self.out.resize(CLIENT_READ_CHUNK, 0);
            match cx.sock.read(&mut self.out) {
                Ok(0) => {
                    self.out.clear();
                    t.client_eof = true;
                    let _ = sock.shutdown(Shutdown::Write);
                    progress = true;
                }
                Ok(n) => {
                    self.out.truncate(n);
                    progress = true;
                    self.client_progress = shared.now;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.out.clear();
                    *cx.readable = false;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => self.out.clear(),
                Err(_) => {
                    self.out.clear();
                    return Err(self.end_tunnel(shared));
                }
            }
        }
        // upstream → client
        loop {
            if self.resp_start < self.resp_end {
                if !*cx.writable {
                    break;
                }
                match cx.sock.write(&self.resp[self.resp_start..self.resp_end]) {
                    Ok(n) => {
                        self.resp_start += n;
                        if let Some(req) = cx.a.req.as_mut() {
                            req.bytes_sent += n as u64;
                        }
                        progress = true;
                        self.client_progress = shared.now;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        *cx.writable = false;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return Err(self.end_tunnel(shared)),
                }
                continue;
            }
            self.resp_start = 0;
            self.resp_end = 0;
            if t.upstream_eof || !self.up_readable {
                break;
            }
            match sock.read(&mut self.resp) {
                Ok(0) => {
                    t.upstream_eof = true;
                    let _ = cx.sock.shutdown(Shutdown::Write);
                    progress = true;
                }
                Ok(n) => {
                    self.resp_end = n;
                    progress = true;
                    self.up_progress = shared.now;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.up_readable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(self.end_tunnel(shared)),
            }
        }
        if t.client_eof && t.upstream_eof {
            return Err(self.end_tunnel(shared));
        }
        Ok(progress)
    }

    fn end_tunnel(&mut self, shared: &mut Shared<'c>) -> LinkStep {
        if let Some(t) = self.log.tries.last_mut() {
            t.time = shared.now.saturating_duration_since(self.try_started);
        }
        self.drop_upstream(shared, false);
        LinkStep::Close
    }

    // ---- the end ----

    fn finish(&mut self, cx: &mut ClientSide<'_, 'c>, shared: &mut Shared<'c>) -> LinkStep {
        let now = shared.now;
        if let Some(t) = self.log.tries.last_mut()
            && t.time.is_zero()
        {
            t.time = now.saturating_duration_since(self.try_started);
        }
        let request_sent = matches!(self.body, BodyIn::Done) && self.out_pos >= self.out.len();
        let conf = self.group_conf(shared);
        let keepalive_requests = conf.map_or(0, |c| c.keepalive_requests);
        let (max, timeout) =
            conf.map_or((0, Duration::ZERO), |c| (c.keepalive, c.keepalive_timeout));
        let requests = self.conn_requests + 1;
        if self.reusable && request_sent && requests < keepalive_requests && self.sock.is_some() {
            if let (Some(sock), Some(p)) = (self.sock.take(), self.peer.take()) {
                if let Some(g) = shared.upstreams.groups.get_mut(self.setup.group) {
                    g.release(p, false, now);
                }
                let registry = &shared.registry;
                shared.upstreams.pool.put(
                    registry,
                    sock,
                    self.setup.group,
                    p,
                    requests,
                    max,
                    now + timeout,
                );
            }
        } else {
            self.drop_upstream(shared, false);
        }
        if let Some(req) = cx.a.req.as_mut() {
            req.keepalive = self.client_keepalive && matches!(self.body, BodyIn::Done);
        }
        LinkStep::Finished
    }

    /// Upstream or client deadlines that passed.
    fn check_deadlines(
        &mut self,
        cx: &mut ClientSide<'_, 'c>,
        shared: &mut Shared<'c>,
    ) -> Result<(), LinkStep> {
        let now = shared.now;
        if let Some(at) = self.client_deadline(cx)
            && now >= at
        {
            self.log_line(
                cx,
                LogLevel::Info,
                "client timed out (110: Connection timed out) while sending to client",
                None,
            );
            self.drop_upstream(shared, false);
            if let Some(req) = cx.a.req.as_mut() {
                req.keepalive = false;
            }
            return Err(LinkStep::Close);
        }
        if let Some(at) = self.upstream_deadline()
            && now >= at
        {
            if self.tunnel.is_some() {
                self.log_line(
                    cx,
                    LogLevel::Error,
                    "upstream timed out (110: Connection timed out) while proxying upgraded connection",
                    None,
                );
                return Err(self.end_tunnel(shared));
            }
            let during = if self.connecting {
                "connecting to upstream"
            } else if self.out_pos < self.out.len() {
                "sending request to upstream"
            } else if !self.head_done {
                "reading response header from upstream"
            } else {
                "reading upstream"
            };
            return self.fail(
                cx,
                shared,
                Failure::Timeout,
                "upstream timed out (110: Connection timed out)",
                during,
            );
        }
        Ok(())
    }

    fn upstream_deadline(&self) -> Option<Instant> {
        self.sock.as_ref()?;
        if self.connecting {
            return Some(self.try_started + self.loc.proxy_connect_timeout);
        }
        if self.tunnel.is_some() {
            let last = self.up_progress.max(self.client_progress);
            return Some(last + self.loc.proxy_read_timeout);
        }
        if self.out_pos < self.out.len() && !self.up_writable {
            return Some(self.up_progress + self.loc.proxy_send_timeout);
        }
        if self.response_done || (self.head_done && self.resp_end >= self.resp_cap) {
            // Back-pressure: the client, not the upstream, is what we wait for.
            return None;
        }
        if self.out_pos >= self.out.len() && matches!(self.body, BodyIn::Done) || self.head_done {
            return Some(self.up_progress + self.loc.proxy_read_timeout);
        }
        None
    }

    fn client_deadline(&self, cx: &ClientSide<'_, 'c>) -> Option<Instant> {
        let pending =
            cx.a.out_pos < cx.a.out.len() || (self.head_done && self.resp_start < self.resp_end);
        if pending && !*cx.writable {
            return Some(self.client_progress + self.loc.send_timeout);
        }
        if !matches!(self.body, BodyIn::Done)
            && !*cx.readable
            && self.out.len() - self.out_pos < BODY_WINDOW
        {
            return Some(self.client_progress + self.loc.client_body_timeout);
        }
        None
    }

    fn deadline(&self, cx: &ClientSide<'_, 'c>, _shared: &Shared<'c>) -> Option<Instant> {
        match (self.upstream_deadline(), self.client_deadline(cx)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Closes the upstream side when the client connection goes away mid-request.
    pub fn abandon(&mut self, shared: &mut Shared<'c>) {
        self.drop_upstream(shared, false);
    }

    /// Ends the link: its tries (for the access log); the response buffer goes back to
    /// `buffers` for the next proxied request.
    pub fn into_log(mut self, buffers: &mut Vec<Vec<u8>>) -> UpstreamLog {
        if buffers.len() < MAX_SPARE_BUFFERS {
            buffers.push(std::mem::take(&mut self.resp));
        }
        let mut log = self.log;
        log.proxy_host = self.setup.proxy_host;
        log.proxy_port = self.setup.proxy_port;
        log
    }

    /// `$proxy_host`, `$proxy_port` and `$upstream_*` while the request runs.
    pub fn var(&self, name: &str, out: &mut Vec<u8>) -> bool {
        match name {
            "proxy_host" => out.extend_from_slice(self.setup.proxy_host.as_bytes()),
            "proxy_port" => {
                let _ = write!(out, "{}", self.setup.proxy_port);
            }
            _ => return self.log.var(name, out),
        }
        true
    }
}

/// Feeds client body bytes to the reader; returns (bytes that belong to the body, done).
fn take_body(body: &mut BodyIn, input: &[u8]) -> Result<(usize, bool), ()> {
    match body {
        BodyIn::Done => Ok((0, true)),
        BodyIn::Length(left) => {
            let n = (*left).min(input.len() as u64);
            *left -= n;
            Ok((n as usize, *left == 0))
        }
        BodyIn::Chunked(dec) => {
            let mut used = 0;
            loop {
                match dec.step(&input[used..]).map_err(|_| ())? {
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
