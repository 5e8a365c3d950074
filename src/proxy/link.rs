//! One proxied request: the upstream connection's state machine and the body relays.
//!
//! A [`Link`] belongs to the client connection that started it; its upstream socket is
//! registered once, as `UPSTREAM_TOKEN_BIT | fd`, and [`super::Owner`] says which client
//! connection (or the idle pool) its events are for. Every turn runs four pumps until none makes
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
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Token};

use super::body_buffer::StoredBody;
use super::connect::OpenError;
use super::response::{self, ClientHeadInput, Framing, HeadError, ResponseHead};
use super::{Owner, pool};
use crate::config::LocSettings;
use crate::config::proxy_values::{NextUpstream, PeerAddr, UpstreamConf};
use crate::elog;
use crate::http::chunked::{Chunk, ChunkedDecoder};
use crate::http::response as http_response;
use crate::log::LogLevel;
use crate::sys;
use crate::worker::Shared;
use crate::worker::conn::Active;
use crate::worker::slab::Key;

mod deadlines;
mod failure;
mod relay;
mod request_body;
mod resolving;
mod tunnel;

pub use super::upstream_log::{Try, TryAddr, UpstreamLog, UpstreamVars};

/// Token bit of an upstream socket (the rest is its descriptor; see [`super::Owner`]).
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
    /// `proxy_intercept_errors`: the upstream answered this status, which has an
    /// `error_page`; its response was discarded and the routing engine answers instead.
    Intercept(u16),
    /// `X-Accel-Redirect`: the upstream's response was discarded; the request goes to
    /// this URI or named location through the routing engine.
    Redirect(Box<super::accel::Redirect>),
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
    /// The client connection's slab key (an upstream socket's owner).
    pub key: Key,
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
    pub direct: Option<PeerAddr>,
    /// `proxy_bind`, `proxy_socket_keepalive` for this request.
    pub socket: super::connect::SocketOptions,
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
    /// `proxy_redirect` rules, evaluated (`None`: none).
    pub redirects: Option<std::sync::Arc<[super::response::Redirect]>>,
    /// `$proxy_host`
    pub proxy_host: std::sync::Arc<str>,
    /// `$proxy_port`
    pub proxy_port: u16,
    /// Answer with this status instead of proxying (a request the upstream cannot take).
    pub refuse: Option<u16>,
    /// Where the body's framing header starts in `head` (see `HeadFacts::framing_at`).
    pub framing_at: Option<usize>,
    /// The client's body is read whole and not sent (`proxy_set_body`,
    /// `proxy_pass_request_body off`).
    pub discard_body: bool,
    /// The method sent upstream is HEAD (`proxy_method HEAD` included): no response body.
    pub head_method: bool,
    /// `proxy_cookie_*` rules, evaluated (`None`: none).
    pub cookies: Option<Box<super::cookie::CookieRules>>,
    /// For [`DIRECT`]: a host name to resolve (the port is `proxy_port`), when the URL's
    /// host is neither a group nor an IP address.
    pub resolve: Option<String>,
}

/// A proxied request in flight.
pub struct Link<'c> {
    loc: &'c LocSettings,
    setup: LinkSetup,
    peer: Option<usize>,
    addr: Option<PeerAddr>,
    sock: Option<TcpStream>,
    up_readable: bool,
    up_writable: bool,
    connecting: bool,
    reused: bool,
    /// The next connect goes to this server on a fresh connection (stale pooled one).
    fresh_retry: Option<usize>,
    stale_retry_done: bool,
    conn_requests: u64,
    /// When the upstream connection in use was opened (`keepalive_time`).
    conn_opened: Instant,
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
    /// `proxy_request_buffering on`: the body is still being read; nothing is connected.
    reading_body: bool,
    /// The whole body, read before connecting: sent after `out`, from its start on each try.
    stored: Option<Box<StoredBody>>,
    stored_pos: u64,
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
    /// `proxy_force_ranges`: the part of the body a 206 sends.
    slice: Option<super::ranges::Slice>,
    /// `proxy_limit_rate` of this response (set when its head arrives).
    read_rate: Option<super::rate::ReadRate>,
    /// Reading the upstream waits for the rate limit until then.
    rate_wait: Option<Instant>,
    /// Stop watching the client for EOF: it sent its next request while this one waits,
    /// or it closed and `proxy_ignore_client_abort` is on.
    client_pipelined: bool,
    /// The tries so far.
    pub log: UpstreamLog,
    /// The peer choice of a name (`resolving.rs`); `None` for a group or an IP address.
    resolving: Option<resolving::Resolving>,
}

#[derive(Default)]
struct Tunnel {
    client_eof: bool,
    upstream_eof: bool,
}

type Flow = Result<bool, LinkStep>;

impl<'c> Link<'c> {
    /// A link for the request in `a` (its head parsed, `a.req` set). `kept`: the body an
    /// intercepted try buffered, sent again.
    pub fn new(
        loc: &'c LocSettings,
        mut setup: LinkSetup,
        a: &Active<'c>,
        kept: Option<Box<StoredBody>>,
        client_ip: IpAddr,
        now: Instant,
        buffers: &mut Vec<Vec<u8>>,
    ) -> Link<'c> {
        use crate::http::request::{Method, Version};
        let body = if a.route.body_taken {
            BodyIn::Done
        } else if a.head.chunked {
            BodyIn::Chunked(ChunkedDecoder::new())
        } else {
            match a.head.content_length {
                Some(n) if n > 0 => BodyIn::Length(n),
                _ => BodyIn::Done,
            }
        };
        // A body that is not sent is still read whole first, as nginx reads it.
        let buffered = (loc.proxy_request_buffering || setup.discard_body)
            && !matches!(body, BodyIn::Done)
            && !setup.upgrade
            && setup.refuse.is_none();
        let (body, stored, reading_body) = match kept {
            Some(kept) => (BodyIn::Done, Some(kept), false),
            None if buffered => (body, Some(Box::default()), true),
            None => (body, None, false),
        };
        let resolving = setup
            .resolve
            .is_some()
            .then_some(resolving::Resolving::Start);
        let head_size = loc.proxy_buffer_size.max(1024);
        let resp_cap = super::accel::response_cap(loc, loc.proxy_buffering);
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
            conn_opened: now,
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
            reading_body,
            stored,
            stored_pos: 0,
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
            client_pipelined: false,
            read_rate: None,
            slice: None,
            rate_wait: None,
            log: UpstreamLog::default(),
            resolving,
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
        crate::log::debug_point();
        self.drop_upstream(shared, false);
        LinkStep::Close
    }

    fn round(&mut self, cx: &mut ClientSide<'_, 'c>, shared: &mut Shared<'c>) -> Flow {
        if self.reading_body {
            // No upstream is chosen before the whole body is here.
            return self.buffer_body(cx, shared);
        }
        if self.waiting_for_resolver() {
            return self.watch_client(cx, shared).map(|_| false);
        }
        if self.sock.is_none() && !self.response_done && !self.head_done && !self.aborting {
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
        Ok(progress || (self.sock.is_none() && !self.response_done && !self.head_done))
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
        if let Some(status) = self.setup.refuse {
            return Err(self.respond_error(cx, shared, status));
        }
        let limit = self.loc.proxy_next_upstream_timeout;
        if self.tries > 0
            && !limit.is_zero()
            && now.saturating_duration_since(self.started) >= limit
        {
            return Err(self.respond_error(cx, shared, 502));
        }
        let (peer, addr) = if self.setup.group == DIRECT {
            match self.direct_peer(cx, shared)? {
                Some(a) => (None, a),
                None => return Ok(()),
            }
        } else {
            let Some(conf) = shared.http.upstreams.get(self.setup.group) else {
                return Err(self.respond_error(cx, shared, 502));
            };
            let peer = match self.fresh_retry {
                Some(p) => p,
                None => {
                    if self.tried.len() < conf.servers.len() {
                        // A `down` server counts as tried: it is no reason to try again
                        // (nginx's tries count only the servers that are not down).
                        self.tried = conf.servers.iter().map(|s| s.down).collect();
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
                            // Every try that finds no server has its own entry, named by
                            // the group, and ends the request with 502
                            // (ngx_http_upstream_next with NGX_HTTP_UPSTREAM_FT_NOLIVE).
                            self.log_line(
                                cx,
                                LogLevel::Error,
                                "no live upstreams while connecting to upstream",
                                Some(&conf.name),
                            );
                            self.log.tries.push(Try {
                                status: 502,
                                time: Some(Duration::ZERO),
                                ..Try::new(TryAddr::Group(conf.name.as_str().into()))
                            });
                            return Err(self.respond_error(cx, shared, 502));
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
            (Some(peer), server.addr.clone())
        };
        let fresh = self.fresh_retry.take().is_some();
        if !fresh {
            self.tries += 1;
        }
        self.peer = peer;
        self.addr = Some(addr.clone());
        self.try_started = now;
        self.up_progress = now;
        self.reset_response();
        self.log.tries.push(Try::new(TryAddr::Server(addr.clone())));
        // A cached connection first, unless this is the replay after a stale one.
        if !fresh
            && self.setup.keepalive
            && let Some(p) = peer
            && let Some((sock, usage)) = shared.upstreams.pool.take(self.setup.group, p)
        {
            // Still registered from its first connect: only its owner changes.
            shared
                .upstreams
                .set_owner(sock.as_raw_fd(), Owner::Client(cx.key));
            self.sock = Some(sock);
            shared.upstreams.open += 1;
            self.reused = true;
            self.conn_requests = usage.requests;
            self.conn_opened = usage.opened;
            self.connecting = false;
            self.up_readable = true;
            self.up_writable = true;
            self.mark_connected(now);
            return Ok(());
        }
        self.reused = false;
        self.conn_requests = 0;
        self.conn_opened = now;
        match super::connect::open(&addr, &self.setup.socket) {
            Ok(mut sock) => {
                let fd = sock.as_raw_fd();
                shared.upstreams.set_owner(fd, Owner::Client(cx.key));
                if let Err(e) = shared.registry.register(
                    &mut sock,
                    Token(UPSTREAM_TOKEN_BIT | fd as usize),
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
                shared.upstreams.open += 1;
                self.connecting = true;
                self.up_readable = false;
                self.up_writable = false;
                Ok(())
            }
            Err(OpenError::Connect(e)) => {
                let what = format!("connect() failed ({})", sys::errno_text(&e));
                self.fail(cx, shared, Failure::Error, &what, "connecting to upstream")
            }
            Err(OpenError::Local(what)) => {
                // nginx finalizes with 500 and tries no other server (NGX_ERROR from
                // ngx_event_connect_peer).
                let what = format!("{what} while connecting to upstream");
                self.log_line(cx, LogLevel::Crit, &what, None);
                Err(self.respond_error(cx, shared, 500))
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
        let err = match super::connect::connected(sock) {
            Ok(true) => None,
            Ok(false) => {
                // Not yet: wait for the next writable edge.
                self.up_writable = false;
                return Ok(());
            }
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
        self.stored_pos = 0;
        self.head_done = false;
        self.got_bytes = false;
        self.resp_start = 0;
        self.resp_end = 0;
        self.response_done = false;
        self.chunk = ChunkedDecoder::new();
    }

    // ---- the end ----

    fn finish(&mut self, cx: &mut ClientSide<'_, 'c>, shared: &mut Shared<'c>) -> LinkStep {
        let now = shared.now;
        if let Some(t) = self.log.tries.last_mut()
            && t.time.is_none()
        {
            t.time = Some(now.saturating_duration_since(self.try_started));
        }
        let reusable = self.reusable && self.request_sent();
        self.release_upstream(shared, reusable);
        if let Some(req) = cx.a.req.as_mut() {
            req.keepalive = self.client_keepalive && matches!(self.body, BodyIn::Done);
        }
        LinkStep::Finished
    }

    /// The whole request (head and body) went upstream.
    fn request_sent(&self) -> bool {
        matches!(self.body, BodyIn::Done) && !self.request_pending()
    }

    /// Request bytes (head, or a buffered body) not yet written upstream.
    fn request_pending(&self) -> bool {
        self.out_pos < self.out.len()
            || self
                .stored
                .as_ref()
                .is_some_and(|s| self.stored_pos < s.len())
    }

    /// Ends the upstream side: back to the pool when `reusable` and the connection has
    /// requests left, else closed.
    fn release_upstream(&mut self, shared: &mut Shared<'c>, reusable: bool) {
        let now = shared.now;
        let conf = self.group_conf(shared);
        let keepalive_requests = conf.map_or(0, |c| c.keepalive_requests);
        let bound = conf
            .map(|c| pool::Bound {
                max: c.keepalive,
                timeout: c.keepalive_timeout,
            })
            .unwrap_or_default();
        let requests = self.conn_requests + 1;
        // `keepalive_time`: an older connection serves its request, then closes.
        let keepalive_time = conf
            .and_then(|c| c.keepalive_time)
            .unwrap_or(crate::config::proxy_rest::DEFAULT_UPSTREAM_KEEPALIVE_TIME);
        let young = now.saturating_duration_since(self.conn_opened) <= keepalive_time;
        if reusable
            && young
            && !shared.shutting_down
            && requests < keepalive_requests
            && self.sock.is_some()
            && self.peer.is_some()
        {
            if let (Some(sock), Some(p)) = (self.sock.take(), self.peer.take()) {
                shared.upstreams.open = shared.upstreams.open.saturating_sub(1);
                if let Some(g) = shared.upstreams.groups.get_mut(self.setup.group) {
                    g.release(p, false, now);
                }
                let fd = sock.as_raw_fd();
                if let Some(key) = shared.upstreams.pool.put(
                    sock,
                    self.setup.group,
                    p,
                    pool::Usage {
                        requests,
                        opened: self.conn_opened,
                    },
                    bound,
                    now,
                ) {
                    shared.upstreams.set_owner(fd, Owner::Pool(key));
                }
            }
        } else {
            self.drop_upstream(shared, false);
        }
    }

    /// Closes the upstream side when the client connection goes away mid-request.
    pub fn abandon(&mut self, shared: &mut Shared<'c>) {
        self.drop_upstream(shared, false);
    }

    /// Ends the link: its tries (for the access log); the response buffer goes back to
    /// the worker's spares for the next proxied request.
    pub fn into_log(mut self, upstreams: &mut super::Upstreams) -> UpstreamLog {
        if self.sock.take().is_some() {
            upstreams.open = upstreams.open.saturating_sub(1);
        }
        if upstreams.buffers.len() < MAX_SPARE_BUFFERS {
            upstreams.buffers.push(std::mem::take(&mut self.resp));
        }
        let mut log = self.log;
        log.proxy_host = self.setup.proxy_host;
        log.proxy_port = self.setup.proxy_port;
        log
    }

    /// Continues the `$upstream_*` tries of the request's earlier use of the proxy (before
    /// an internal redirect brought it here).
    pub fn follow(&mut self, earlier: UpstreamLog) {
        self.log.follow(earlier);
    }

    /// `$proxy_host`, `$proxy_port` and `$upstream_*` while the request runs.
    pub fn var(&self, name: &str, out: &mut Vec<u8>) -> bool {
        match name {
            "proxy_host" => out.extend_from_slice(self.setup.proxy_host.as_bytes()),
            // A unix-domain upstream has no port (0 here).
            "proxy_port" => {
                if self.setup.proxy_port != 0 {
                    let _ = write!(out, "{}", self.setup.proxy_port);
                }
            }
            _ => return self.log.var(name, out),
        }
        true
    }
}
