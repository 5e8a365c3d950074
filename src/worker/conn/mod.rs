//! A client connection: an explicit state machine driven by readiness.
//!
//! States are named by what the connection waits for. Buffers live in [`Active`], taken from
//! the worker's pool when a request starts and returned when the connection goes idle, so an
//! idle keep-alive connection holds no buffer at all.
//!
//! Epoll is edge-triggered under mio: every read and write loops until `WouldBlock`, and the
//! connection remembers which side is ready (`readable`/`writable`) between events.
//!
//! The connection is its socket's only reader and writer ([`client`]): a response has one
//! [`Source`] (fixed bytes, a file, an upstream) that the writer ([`write`]) drains;
//! whether the connection stays open is decided in one place ([`keepalive`]). Files:
//! `body.rs` (request bodies: discarded, stored, streamed), `proxied.rs` (a response from
//! an upstream), `tunnel.rs` (after a 101).

mod body;
pub mod cached;
mod cert_status;
mod chunked_out;
mod client;
mod delayed;
pub mod filter;
mod h2;
mod head;
pub(in crate::worker) mod keepalive;
mod proxied;
mod proxied_body;
mod rate;
mod respond;
mod source;
mod subrequests;
mod tls_accept;
mod trailers;
mod tunnel;
mod write;

pub(in crate::worker) use body::{ClientBody, Sink, consume_body};
use cert_status::{CertCheck, CertStatusDue};
pub(in crate::worker) use chunked_out::Chunks;
use client::Client;
pub(in crate::worker) use keepalive::BodyRead;
pub(in crate::worker) use proxied::{Launched, start_upstream};
pub use source::{FileBody, Source};
use write::Flush;

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use mio::net::TcpStream;

use crate::client_addr::ClientAddr;

use super::Shared;
use super::admission;
use super::backend::Backend;
use super::handler;
use crate::config::{LingeringClose, LocSettings, ServerConf};
use crate::elog;
use crate::http::chunked::{Chunk, ChunkedDecoder};
use crate::http::request::{self, HttpError, ParseOptions, RequestHead};
use crate::log::LogLevel;
use crate::router::AddrServers;
use crate::slab::Key;
use crate::sys;
use crate::upstream::{self, Upstream};
use crate::worker::subrequest::SubTurn;

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
enum State<'c> {
    /// (The rest of) a request head.
    ReadingHead,
    /// A proxied request's body, read whole before an upstream is chosen
    /// (`proxy_request_buffering on`).
    ReadingBody,
    /// The response to go out: the socket to take it, its source (an upstream) to produce
    /// it, and meanwhile the rest of a request body (discarded, or streamed upstream).
    Responding,
    /// The next request on a kept-alive connection; holds no buffers.
    KeepAliveIdle,
    /// The client to stop sending after our last response: our side is shut down and input
    /// is discarded until EOF or `lingering_time`.
    LingeringClose { until: Instant },
    /// Bytes both ways between the client and an upstream that switched protocols (101).
    Tunnel(Box<tunnel::Tunnel>),
    /// The end of a `limit_req` delay; the request then goes on (`admission.rs`).
    Delayed { until: Instant },
    /// Another request fills the cache entry (the cache lock): at `until` the request
    /// looks again, with its stored body (`proxied.rs`).
    CacheWait {
        until: Instant,
        stored: Option<Box<crate::upstream::body_buffer::StoredBody>>,
    },
    /// The end of the `auth_request` subrequest; the access phase then goes on.
    AwaitingAuth,
    /// The end of the request's background subrequests (`mirror`), after its response
    /// went out: the connection then goes on (keep-alive, the next request, close).
    AwaitingSubrequests,
    /// An HTTP/2 connection: its streams' requests run over pipes (`h2.rs`).
    Http2(Box<h2::H2<'c>>),
    /// The OCSP status of the client's certificates (`ssl_ocsp`), before its first
    /// request goes on (`cert_status.rs`).
    AwaitingCertStatus(Box<CertCheck>),
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
    /// Whether its response head said `Connection: keep-alive` (set only by the head
    /// builder, from [`keepalive::keep_alive`]; the end of the response asks it again).
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
    /// Its number on the connection (`$connection_requests` when it started).
    pub sequence: u64,
    /// Its location refused keep-alive (`keepalive_time` passed, or `keepalive_disable`
    /// names the browser); set by the phases, read by [`Req::reading`].
    pub keepalive_refused: bool,
    /// How far its body was read.
    pub body: BodyRead,
    /// The client is no longer watched for EOF while the upstream is awaited: it sent more
    /// after its request, or it closed and `proxy_ignore_client_abort` is on.
    pub client_sent_more: bool,
    /// It was read from the buffer after the previous request's end (nginx's
    /// `r->pipeline`, `$pipe`).
    pub pipeline: bool,
    /// The status a handler finalized the request with when it is one after which nginx
    /// closes (its special response handler), whatever status its `error_page` answers.
    pub finalized: Option<u16>,
    /// realip, limit_req, limit_conn state (its `limit_conn` counts go back on drop).
    pub admission: super::admission::State,
    /// `charset $var` and `source_charset $var` as evaluated for the response's head.
    pub charset_values: super::charset::CharsetValues,
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
            admission: Default::default(),
            sequence: 0,
            keepalive_refused: false,
            body: BodyRead::Complete,
            client_sent_more: false,
            pipeline: false,
            finalized: None,
            charset_values: Default::default(),
        }
    }

    /// What the request side allows for keep-alive (see [`keepalive`]), its body as far as
    /// `body` says.
    pub fn reading(
        &self,
        head: &RequestHead,
        body: BodyRead,
        shutting_down: bool,
    ) -> keepalive::Reading {
        keepalive::Reading {
            wants: head.keep_alive,
            allowed: !shutting_down
                && !self.keepalive_refused
                && self.sequence < self.loc.keepalive_requests
                && !self.loc.keepalive_timeout.0.is_zero(),
            body,
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
    /// Queued response bytes: heads, small bodies (pipelined responses coalesced).
    pub out: Vec<u8>,
    /// How much of `out` was written.
    pub out_pos: usize,
    /// Where the body comes from after `out`.
    pub source: Source,
    /// What the body goes through on its way to the client (gzip, gunzip, chunks).
    pub filter: filter::BodyFilter,
    /// The request body still being read (dropped, stored or streamed upstream).
    pub body: Option<ClientBody>,
    /// The request in progress.
    pub req: Option<Req<'c>>,
    /// Routing state (`$uri`, `$args`, `set` values) kept for the access log.
    pub route: super::phases::Route<'c>,
    /// The upstream side of a proxied request; reused from request to request.
    pub upstream: Upstream<'c, Backend<'c>>,
    /// The writer frames the upstream's body in chunks (a gateway response of unknown
    /// length to an HTTP/1.1 client).
    pub chunks: Chunks,
    /// The request went upstream: `$upstream_*` read [`Active::upstream`]'s tries.
    pub proxied: bool,
    /// The cache entry the proxied response may be stored as (`conn/cached.rs`).
    pub cache_fill: Option<Box<cached::FillPlan>>,
    /// The request waits for another to fill its cache entry (the cache lock).
    pub cache_wait: Option<cached::LockWait>,
    /// The request is the background update of an expired entry: the key's lock its
    /// parent took, for the cache lookup (`*_cache_background_update`).
    pub cache_update: Option<crate::cache::keys::Ticket>,
    /// The request's subrequests in flight (`auth_request`, `mirror`); empty (and not
    /// allocated) for a request that makes none.
    pub(in crate::worker) subrequests: crate::worker::subrequest::Subrequests<'c>,
}

impl Active<'_> {
    /// How far the body of `req` (the current request) was read, for keep-alive.
    pub fn body_read(&self, req: &Req<'_>) -> BodyRead {
        match &self.body {
            Some(ClientBody {
                sink: Sink::Discard,
                ..
            }) => BodyRead::Discarding,
            Some(_) => BodyRead::Abandoned,
            None => req.body,
        }
    }

    /// `$upstream_*`, `$proxy_host`, `$proxy_port` of the request's tries (by the
    /// variable's whole name).
    pub fn upstream_var(&self, name: &str, out: &mut Vec<u8>) -> bool {
        self.proxied && self.upstream.log.var(name, out)
    }
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
    /// Buffers for a subrequest (a head of `size` bytes to copy in).
    pub(in crate::worker) fn take_active(&mut self, size: usize) -> Box<Active<'c>> {
        self.take(size)
    }

    /// A subrequest's buffers back.
    pub(in crate::worker) fn give_active(&mut self, a: Box<Active<'c>>) {
        self.give(a, crate::config::DEFAULT_CLIENT_HEADER_BUFFER_SIZE);
    }

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
                source: Source::Fixed,
                filter: Default::default(),
                body: None,
                req: None,
                route: Default::default(),
                upstream: Upstream::default(),
                chunks: Chunks::default(),
                proxied: false,
                cache_fill: None,
                cache_wait: None,
                cache_update: None,
                subrequests: Vec::new(),
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
        a.source = Source::Fixed;
        a.body = None;
        a.req = None;
        a.proxied = false;
        a.cache_fill = None;
        a.cache_wait = None;
        a.cache_update = None;
        a.chunks = Chunks::default();
        // Ended by the connection before; never carried to another request.
        a.subrequests.clear();
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
    /// The socket: the only way bytes leave or enter.
    client: Client,
    /// Connection serial number (`$connection`, the `*N` in the error log).
    pub id: u64,
    /// Client address.
    pub peer: ClientAddr,
    listen: usize,
    state: State<'c>,
    active: Option<Box<Active<'c>>>,
    /// Requests served on this connection (`$connection_requests`).
    pub requests: u64,
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
    /// When bytes last moved on the client's socket for the current request (its body
    /// read, its response written): `client_body_timeout` and `send_timeout` count from it.
    client_progress: Instant,
    /// The loop's clock reading for the current drive.
    now: Instant,
    /// The next request's head is in the buffer already (it was pipelined).
    pub pipeline: bool,
    /// Bytes written to the client so far (the writer's progress, turn to turn).
    bytes_out: u64,
    /// When the connection was accepted (`$connection_time`, `keepalive_time`).
    pub accepted_at: Instant,
    /// The current response's `limit_rate`.
    rate: rate::RateLimit,
    /// `limit_rate`: the writer sends nothing before this moment.
    delayed_until: Option<Instant>,
    /// A `listen ... proxy_protocol` connection whose header is still to be read.
    pub proxy_protocol_pending: bool,
    /// The addresses its PROXY protocol header gave (`$proxy_protocol_*`, realip).
    pub proxy_protocol: Option<std::rc::Rc<crate::proxy_protocol::Header>>,
    /// Its place in the server's connection counters (`stub_status`); set when accepted.
    pub stat: crate::status::ConnStat,
    // ---- tls (issue 15) ----
    /// A client on a `listen ... ssl` address sent plain HTTP: its request is answered 497.
    pub plain_on_tls: bool,
    /// What `$ssl_*` read of the session, taken once its handshake is done.
    pub tls_vars: Option<std::rc::Rc<crate::tls::TlsVars>>,
    /// The client's certificates are to be checked with OCSP before the first request
    /// (`ssl_ocsp` in the handshake's server).
    cert_status_due: CertStatusDue,
    // ---- http2 ----
    /// `$http2` of the connection's requests: `h2`, `h2c`, or `None` on HTTP/1.x.
    pub http2: Option<&'static str>,
    /// An HTTP/2 stream whose request was malformed: its request-model connection answers
    /// this error (400) instead of reading a head.
    pub h2_reject: Option<HttpError>,
    /// `http2_chunk_size` of the last request's location, kept past its end (a stream
    /// whose request ended in one drive frames its response after).
    pub h2_chunk_size: usize,
    /// An HTTP/2 stream's request: bytes of its HPACK-encoded header block, which
    /// `$request_length` counts instead of the rendered HTTP/1.1 head (as nginx).
    pub h2_block_len: Option<u64>,
    /// The `limit_conn` counts of an HTTP/2 stream's request, kept past its end: as in
    /// nginx they go back when the stream closes (its response framed whole), not when
    /// the response is in the stream's pipe.
    pub h2_held: crate::limits::conn::Held,
}

/// One turn of the state machine.
pub(super) enum Step {
    Again,
    /// The location proxies: start the upstream side.
    Proxy,
    Wait(Option<Instant>),
    /// `limit_req` delays the request until then.
    Delay(Instant),
    /// `auth_request`: the access phase waits for its subrequest.
    AwaitAuth,
    /// `mirror`: the body is read whole, then the content phase goes on.
    ReadBody,
    Yield,
    Close,
}

impl<'c> Conn<'c> {
    /// A new connection, before its socket is attached.
    pub fn new(id: u64, peer: ClientAddr, listen: usize) -> Conn<'c> {
        Conn {
            client: Client::new(),
            id,
            peer,
            listen,
            state: State::ReadingHead,
            active: None,
            requests: 0,
            deadline: None,
            armed: None,
            timed_out: false,
            linger_timeout: crate::config::DEFAULT_LINGERING_TIMEOUT,
            send_timeout: crate::config::DEFAULT_SEND_TIMEOUT,
            discard_until: None,
            idle_after_flush: None,
            idle_buffer_size: crate::config::DEFAULT_CLIENT_HEADER_BUFFER_SIZE,
            key: Key(0),
            client_progress: Instant::now(),
            now: Instant::now(),
            pipeline: false,
            bytes_out: 0,
            accepted_at: Instant::now(),
            rate: rate::RateLimit::Unknown,
            delayed_until: None,
            proxy_protocol_pending: false,
            proxy_protocol: None,
            stat: crate::status::ConnStat::default(),
            plain_on_tls: false,
            tls_vars: None,
            cert_status_due: CertStatusDue::No,
            http2: None,
            h2_reject: None,
            h2_chunk_size: 0,
            h2_block_len: None,
            h2_held: Default::default(),
        }
    }

    /// Sets the connection's slab key.
    pub fn with_key(mut self, key: Key) -> Conn<'c> {
        self.key = key;
        self
    }

    /// Gives the connection its (registered) socket.
    pub fn attach(&mut self, sock: TcpStream) {
        self.client.attach(sock);
    }

    /// The connection speaks TLS (`listen ... ssl`): it starts with the client's hello.
    pub fn start_tls(&mut self) {
        self.client.start_tls();
    }

    /// What `$ssl_*` and `$https` read: the session's values, taken once after the
    /// handshake (the first request), shared by the connection's requests.
    pub fn tls_vars(&mut self) -> Option<std::rc::Rc<crate::tls::TlsVars>> {
        if self.tls_vars.is_none() {
            self.tls_vars = self
                .client
                .tls()
                .and_then(crate::tls::TlsVars::of)
                .map(std::rc::Rc::new);
        }
        self.tls_vars.clone()
    }

    /// Index of the listener that accepted it.
    pub fn listen_idx(&self) -> usize {
        self.listen
    }

    /// Records readiness from an event. `read_closed`: the peer's FIN (or an error) is
    /// queued behind whatever data there is, so reads must go on until they see it.
    pub fn on_event(&mut self, readable: bool, writable: bool, read_closed: bool) {
        self.client.readable |= readable;
        self.client.writable |= writable;
        self.client.read_closed |= read_closed;
    }

    /// Records readiness of the upstream socket `fd` of a proxied request, its tunnel, or
    /// one of its subrequests.
    pub fn on_upstream_event(&mut self, fd: i32, readable: bool, writable: bool) {
        if self.h2_upstream_event(fd, readable, writable) {
            return;
        }
        match &mut self.state {
            State::Tunnel(t) => t.on_event(readable, writable),
            // The drive that follows moves the OCSP request on.
            State::AwaitingCertStatus(_) => {}
            _ => {
                let Some(a) = self.active.as_mut() else {
                    return;
                };
                if !a.subrequests.is_empty()
                    && a.upstream.peer_fd() != Some(fd)
                    && a.subrequests
                        .iter_mut()
                        .any(|s| s.on_upstream_event(fd, readable, writable))
                {
                    return;
                }
                a.upstream.on_event(readable, writable);
            }
        }
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

    /// Whether the response comes from an upstream (whose deadlines the drive checks).
    fn upstream_sourced(&self) -> bool {
        self.active
            .as_ref()
            .is_some_and(|a| matches!(a.source, Source::Upstream))
    }

    /// The deadline passed: the next drive closes the connection (nginx closes on every
    /// client timeout, with a reset under `reset_timedout_connection on`). A request that was
    /// under way is access-logged when the connection is released: a head cut short by
    /// `client_header_timeout` as 408, like nginx. A proxied request, a request body read
    /// for the upstream and a tunnel compare their own deadlines on the next drive.
    pub fn on_timeout(&mut self, shared: &mut Shared<'c>, servers: &AddrServers) {
        // A writer held back by `limit_rate` was only waiting for its moment. An HTTP/2
        // connection looks at its streams' deadlines and its own when driven.
        if matches!(
            self.state,
            State::ReadingBody | State::Tunnel(_) | State::Http2(_)
        ) || (matches!(self.state, State::Responding)
            && (self.upstream_sourced() || self.delayed_until.is_some()))
        {
            return;
        }
        if matches!(self.state, State::Delayed { .. } | State::CacheWait { .. }) {
            // A delay's end: the next drive resumes the request.
            return;
        }
        if matches!(self.state, State::AwaitingCertStatus(_)) {
            // nginx's handshake handler closes without a word.
            self.timed_out = true;
            return;
        }
        // A subrequest's deadline, or a wait for subrequests (whose own deadlines bound
        // it): the next drive looks at them.
        if matches!(self.state, State::AwaitingAuth | State::AwaitingSubrequests)
            || self.active.as_ref().is_some_and(|a| {
                a.subrequests
                    .iter()
                    .any(|s| s.deadline().is_some_and(|at| at <= shared.now))
            })
        {
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
            && let Some(fd) = self.client.raw_fd()
        {
            let _ = crate::sys::set_linger_zero(fd);
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
            State::Responding if a.body.is_some() && a.out_pos >= a.out.len() => return,
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
            server.first_name(),
            crate::log::context::RequestContext::of(buf, &a.head)
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
    /// An HTTP/2 connection sends GOAWAY with its last stream id and closes once the
    /// streams in flight are done.
    pub fn on_shutdown(&mut self, _shared: &Shared<'c>) {
        self.h2_goaway();
    }

    /// The upstream environment of this connection's request.
    pub(in crate::worker) fn env<'a>(
        shared: &'a mut Shared<'c>,
        key: Key,
    ) -> upstream::Env<'a, 'c> {
        upstream::Env {
            now: shared.now,
            groups: &shared.http.upstreams,
            upstreams: &mut shared.upstreams,
            resolvers: &mut shared.resolvers,
            registry: &shared.registry,
            client: key,
            shutting_down: shared.shutting_down,
        }
    }

    /// Returns the connection's buffers to the pool (the socket closes when dropped).
    pub fn release(&mut self, shared: &mut Shared<'c>) {
        self.release_h2(shared);
        if let State::Tunnel(t) = std::mem::replace(&mut self.state, State::ReadingHead) {
            t.close(&mut shared.upstreams);
        }
        if let Some(a) = self.active.as_mut()
            && a.upstream.active()
        {
            let mut env = Self::env(shared, self.key);
            a.upstream.abandon(&mut env);
        }
        self.end_subrequests(shared);
        // A request cut short (timeout, client gone, write error) still gets its log line.
        if let Some(req) = self.active.as_mut().and_then(|a| a.req.take()) {
            handler::log_request(self, shared, &req);
        }
        if let Some(mut a) = self.active.take() {
            let mut env = Self::env(shared, self.key);
            a.upstream.end(&mut env);
            a.filter.end(&mut shared.compress);
            a.route.request_body = None;
            shared.pool.give(a, 1024);
        }
        self.client.close();
    }

    /// Runs the state machine until it must wait.
    pub fn drive(&mut self, shared: &mut Shared<'c>, servers: &AddrServers) -> Drive {
        if self.timed_out {
            return Drive::Close;
        }
        self.now = shared.now;
        for _ in 0..MAX_ITERATIONS_PER_DRIVE {
            let step = match self.state {
                State::KeepAliveIdle | State::ReadingHead => self.read_head(shared, servers),
                State::ReadingBody => self.read_stored_body(shared),
                State::Responding => self.respond(shared),
                State::LingeringClose { until } => self.linger(shared, until),
                State::Tunnel(_) => self.drive_tunnel(shared),
                State::Delayed { until } => self.wait_delay(shared, servers, until),
                State::CacheWait { until, .. } => self.wait_cache_lock(shared, until),
                State::AwaitingAuth => self.await_auth(shared),
                State::AwaitingSubrequests => self.await_subrequests(shared),
                State::Http2(_) => self.drive_h2(shared, servers),
                State::AwaitingCertStatus(_) => self.await_cert_status(shared, servers),
            };
            let step = match step {
                Step::Proxy => match self.start_proxy(shared) {
                    Step::Proxy | Step::Delay(_) | Step::AwaitAuth | Step::ReadBody => {
                        return Drive::Close;
                    }
                    step => step,
                },
                Step::AwaitAuth => {
                    self.state = State::AwaitingAuth;
                    continue;
                }
                Step::ReadBody => self.read_body_for_mirror(),
                step => step,
            };
            match step {
                Step::Again => continue,
                Step::Wait(deadline) => match self.drive_subrequests(shared) {
                    None => return Drive::Wait { deadline },
                    // The request may have waited for it.
                    Some(SubTurn::Finished) => continue,
                    Some(SubTurn::Wait(sub)) => {
                        let deadline = match (deadline, sub) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        };
                        return Drive::Wait { deadline };
                    }
                },
                Step::Delay(until) => {
                    self.state = State::Delayed { until };
                    return Drive::Wait {
                        deadline: Some(until),
                    };
                }
                Step::Yield => return Drive::Yield,
                Step::Close | Step::Proxy | Step::AwaitAuth | Step::ReadBody => {
                    return Drive::Close;
                }
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

    /// Mutable access for the request handler.
    pub fn parts(&mut self) -> (Option<&mut Box<Active<'c>>>, &mut u64, ClientAddr, u64) {
        (self.active.as_mut(), &mut self.requests, self.peer, self.id)
    }

    /// The client's address for log lines and the upstream: the realip module's, once it
    /// set one for the current request (nginx changes `c->addr_text`), else the peer's.
    pub fn client_ip(&self) -> crate::client_addr::ClientIp {
        self.active
            .as_ref()
            .and_then(|a| a.req.as_ref())
            .and_then(|r| r.admission.realip)
            .map_or(self.peer.ip(), |a| a.ip().into())
    }

    /// The connection's buffers (while a request is active).
    pub fn active(&self) -> Option<&Active<'c>> {
        self.active.as_deref()
    }

    /// The socket's descriptor (`$tcpinfo_*`).
    pub fn fd(&self) -> Option<std::os::fd::RawFd> {
        self.client.raw_fd()
    }

    /// The socket's local address (`$server_addr`, `$server_port`).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.client.local_addr()
    }
}
