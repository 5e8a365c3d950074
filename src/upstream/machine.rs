//! One request's upstream side as an explicit state machine, over a [`Protocol`]:
//!
//! ```text
//!   ChoosingPeer ──> Connecting ──> Sending ──> ReadingHead ──> ReadingBody ──> Done
//!        ^  (pooled connection: straight to Sending)   │ head: the connection answers
//!        └──── a failed try that may be retried ───────┘        │ upstream stopped early
//!                      tries over: Failed(Failure)                 └──> Broken
//! ```
//!
//! The connection drives it ([`Upstream::drive`]) on events of either socket and at its
//! deadlines. It feeds a streamed request body in ([`Upstream::push_body`]), answers the
//! client when the head is here ([`Turn::Head`]: the connection builds the client's head,
//! or intercepts the status, or turns to a tunnel), and drains the body out
//! ([`Upstream::ready`], [`Upstream::consume`]). The machine never touches the client's
//! socket.
//!
//! Failures know their cause: an upstream error or timeout is logged at `error` in nginx's
//! words, counted against the server (passive health), and retried on the next server when
//! `*_next_upstream` allows it and the request can be replayed; otherwise the request fails
//! with 502 or 504, which the connection finalizes like any status (`error_page`...). A
//! failure on a connection reused from the pool before any response byte is not the
//! server's fault (it closed an idle connection): the request is replayed once on a fresh
//! connection, uncounted.

use std::io::{self, Read};
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Token};

use super::body_buffer::StoredBody;
use super::failure::TryFailure;
use super::log::{Try, TryAddr, UpstreamLog};
use super::protocol::{BodyEnd, HeadFacts, Parsed, ProtoLog, Protocol, Refused};
use super::rate::ReadRate;
use super::request_body::{RequestOut, SendError};
use super::response_buffer::{ResponseBuffer, Spill};
use super::stream::{Handshake, PeerStream};
use super::{DIRECT, Env, Failure, Owner, RequestLog, Settings, Target, UPSTREAM_TOKEN_BIT, pool};
use crate::config::proxy_values::{NextUpstream, PeerAddr};
use crate::elog;
use crate::http::source::Ready;
use crate::log::LogLevel;
use crate::resolver::Ticket;
use crate::sys;

mod connect;
mod exchange;
mod resolve;
mod tries;

pub(crate) use tries::upstream_name;

/// Safety valve for one drive.
const MAX_ROUNDS: usize = 10_000;
/// The smallest head buffer, whatever `*_buffer_size` says.
const MIN_HEAD_BUFFER: usize = 1024;

/// An upstream connection in use by a try.
struct Peer {
    sock: PeerStream,
    readable: bool,
    writable: bool,
    /// Registered for writable edges too. A connection that connected at once is
    /// registered for readable ones only: the upstream reading the request frees send
    /// space, and that edge would wake the worker for nothing; the first write that
    /// would block asks for them ([`Upstream::want_writable_edges`]).
    write_edges: bool,
    /// Its server in the group (`None` for a `proxy_pass` address).
    index: Option<usize>,
    /// Taken from the pool.
    reused: bool,
    /// Requests it served before this one.
    requests: u64,
    /// When it was connected (`keepalive_time`).
    opened: Instant,
}

/// Where the machine is.
enum State {
    /// Next: choose a server and connect.
    ChoosingPeer,
    /// A `proxy_pass` host known only per request is being resolved (`resolve.rs`): the
    /// worker's resolver answers through [`Upstream::on_resolved`], back to `ChoosingPeer`.
    Resolving(Ticket),
    /// No server could be chosen: the request waits in its worker's `queue` for the group,
    /// until this deadline (`queue.rs`).
    Queued(Instant),
    /// A non-blocking connect is in progress.
    Connecting(Peer),
    /// `https://`: the TLS handshake is in progress (`connect.rs`), bounded by
    /// `*_connect_timeout` as nginx's.
    Handshaking(Peer),
    /// The request is going out; no response yet.
    Sending(Peer),
    /// The request is out; the response head is awaited.
    ReadingHead(Peer),
    /// The head was accepted; the body flows into the response buffer.
    ReadingBody(Peer),
    /// The response is all here (or ended at the upstream's close); the connection went
    /// back to the pool or was closed.
    Done,
    /// The upstream stopped in the middle of the body: the client gets what is buffered,
    /// then its connection closes.
    Broken,
    /// No response: the connection finalizes with this.
    Failed(Failure),
}

/// A cache entry's stored head that the protocol does not take (a damaged entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnusableHead;

/// What a drive leaves for the connection to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Turn {
    /// Wait for a socket or a deadline (body bytes may be ready to write).
    Wait,
    /// The response head is here: answer the client with it (or intercept it, or tunnel).
    Head(HeadFacts),
    /// There is no response: finalize the request with this failure.
    Failed(Failure),
}

/// One request's upstream side.
pub struct Upstream<'c, P> {
    /// The protocol (its parsed head, its framing state).
    pub proto: P,
    settings: Settings<'c>,
    target: Target,
    state: State,
    request: RequestOut,
    response: ResponseBuffer,
    /// The accepted head, until the connection took it.
    head: Option<HeadFacts>,
    head_taken: bool,
    body_end: BodyEnd,
    /// The connection may go back to the pool after the response.
    reusable: bool,
    /// Reading waits for the client to take buffered bytes.
    blocked: bool,
    /// A byte of the current try's response arrived.
    got_bytes: bool,
    /// The current try's server address (for log lines).
    addr: Option<PeerAddr>,
    /// Servers of the group tried by this request.
    tried: Vec<bool>,
    /// Tries started (a stale pooled connection's replay not counted).
    tries: usize,
    /// Tries still allowed (nginx's `u->peer.tries`).
    tries_left: usize,
    /// The next connect goes to this server on a fresh connection (stale pooled one).
    fresh_retry: Option<usize>,
    stale_retry_done: bool,
    idempotent: bool,
    client_ip: IpAddr,
    started: Instant,
    try_started: Instant,
    /// Last byte moved on the upstream socket.
    progress: Instant,
    /// The tries, for `$upstream_*`.
    pub log: UpstreamLog,
    /// Keep the accepted head's lines in the log (`$upstream_http_*` are used).
    keep_head: bool,
    /// `*_limit_rate` of the response being read.
    rate: Option<ReadRate>,
    /// Reading the upstream waits for the rate limit until then.
    rate_wait: Option<Instant>,
    /// The host name of a `proxy_pass` with variables, as far as it was resolved.
    name: Option<resolve::Name>,
    /// The response is being stored in the cache (`cache/fill.rs`).
    fill: Option<crate::cache::fill::Fill>,
    /// The response comes from the cache: no upstream connection, the body from its file.
    cached: bool,
    /// The `*_next_upstream` bit of the last failed try (`error`, `timeout`,
    /// `invalid_header`), for `*_cache_use_stale`.
    failed_kind: u16,
    /// Streamed request-body bytes of the client's current read turn (see
    /// [`Upstream::gather_body`]); the allocation is kept.
    body_turn: Vec<u8>,
}

impl<P: Default> Default for Upstream<'_, P> {
    fn default() -> Self {
        let now = Instant::now();
        Upstream {
            proto: P::default(),
            settings: Settings::idle(),
            target: Target::default(),
            state: State::Done,
            request: RequestOut::default(),
            response: ResponseBuffer::default(),
            head: None,
            head_taken: false,
            body_end: BodyEnd::Empty,
            reusable: false,
            blocked: false,
            got_bytes: false,
            addr: None,
            tried: Vec::new(),
            tries: 0,
            tries_left: 0,
            fresh_retry: None,
            stale_retry_done: false,
            idempotent: true,
            client_ip: IpAddr::from([0, 0, 0, 0]),
            started: now,
            try_started: now,
            progress: now,
            log: UpstreamLog::default(),
            keep_head: false,
            rate: None,
            rate_wait: None,
            name: None,
            fill: None,
            cached: false,
            failed_kind: 0,
            body_turn: Vec::new(),
        }
    }
}

/// A request for [`Upstream::start`].
pub struct Start<'c, P> {
    /// The protocol, set up for this request.
    pub proto: P,
    /// Its settings.
    pub settings: Settings<'c>,
    /// Where it goes.
    pub target: Target,
    /// The request head, as the protocol built it (into [`Upstream::take_parts`]' buffer).
    pub head: Vec<u8>,
    /// A body read whole before connecting.
    pub stored: Option<Box<StoredBody>>,
    /// No (more) body comes from the client.
    pub body_done: bool,
    /// The method may be repeated (`*_next_upstream` without `non_idempotent`).
    pub idempotent: bool,
    /// The client's address (`ip_hash`).
    pub client_ip: IpAddr,
    /// The request used an upstream before (an internal redirect brought it here): its
    /// tries go on after the earlier ones (` : ` between them in `$upstream_*`).
    pub follow: bool,
    /// Keep each accepted head's lines for `$upstream_http_*` and `$upstream_cookie_*`.
    pub keep_head: bool,
}

impl<'c, P: Protocol + Default> Upstream<'c, P> {
    /// The protocol and the request-head buffer of the last request, for the next one's
    /// module to set up and fill (their allocations are reused); [`Upstream::start`] takes
    /// them back.
    pub fn take_parts(&mut self) -> (P, Vec<u8>) {
        (std::mem::take(&mut self.proto), self.request.take_buffer())
    }

    /// Gives back what [`Upstream::take_parts`] took when no request starts after all
    /// (their allocations stay for the next one).
    pub fn give_parts(&mut self, proto: P, buffer: Vec<u8>) {
        self.proto = proto;
        self.request.give_buffer(buffer);
    }
}

impl<'c, P: Protocol> Upstream<'c, P> {
    /// Starts a request (the machine is reused from request to request: its buffers stay).
    pub fn start(&mut self, req: Start<'c, P>, env: &mut Env<'_, 'c>) {
        self.end(env);
        self.proto = req.proto;
        self.settings = req.settings;
        let group_conf = env.groups.get(req.target.group);
        // nginx's `u->peer.tries`: every server that is not `down`, backups included, at
        // most `*_next_upstream_tries`.
        let mut tries = group_conf.map_or(1, |g| g.servers.iter().filter(|s| !s.down).count());
        if req.settings.next_upstream_tries > 0 {
            tries = tries.min(req.settings.next_upstream_tries);
        }
        self.tries_left = tries;
        // A `down` server counts as tried: it is no reason to try again (nginx's tries
        // count only the servers that are not down).
        self.tried.clear();
        if let Some(g) = group_conf {
            self.tried.extend(g.servers.iter().map(|s| s.down));
        }
        self.target = req.target;
        self.body_turn.clear();
        let records = self.proto.stored_records();
        self.request
            .start(req.head, req.stored, req.body_done, records);
        let head_size = self.settings.buffer_size.max(MIN_HEAD_BUFFER);
        self.response
            .start(env.upstreams.take_buffer(head_size), self.response_cap());
        self.head = None;
        self.head_taken = false;
        self.body_end = BodyEnd::Empty;
        self.reusable = false;
        self.blocked = false;
        self.got_bytes = false;
        self.addr = None;
        self.tries = 0;
        self.fresh_retry = None;
        self.stale_retry_done = false;
        self.idempotent = req.idempotent;
        self.client_ip = req.client_ip;
        self.started = env.now;
        self.try_started = env.now;
        self.progress = env.now;
        if req.follow && !self.log.tries.is_empty() {
            self.log.tries.push(Try::new(TryAddr::Redirect));
        } else {
            self.log.tries.clear();
        }
        self.log.head.clear();
        self.keep_head = req.keep_head;
        self.rate = None;
        self.rate_wait = None;
        self.name = self
            .target
            .resolve
            .is_some()
            .then_some(resolve::Name::Unasked);
        self.failed_kind = NextUpstream::ERROR;
        self.state = State::ChoosingPeer;
    }

    /// Answers the request from a cache entry instead of an upstream: the stored head is
    /// parsed by the protocol in `self.proto` (which the caller set up for the request, in
    /// place, as for a real one), the body is the file's bytes from `body_start` (none with
    /// `head_only`). `Err` when the protocol does not take the stored head (a damaged
    /// entry: the caller goes upstream instead).
    pub fn start_cached(
        &mut self,
        settings: Settings<'c>,
        hit: crate::cache::entry::Hit,
        head_only: bool,
        keep_head: bool,
        env: &mut Env<'_, 'c>,
    ) -> Result<(), UnusableHead> {
        self.end(env);
        self.settings = settings;
        self.keep_head = keep_head;
        self.log.tries.clear();
        self.log.head.clear();
        self.answer_from(hit, head_only, env)
    }

    /// The upstream failed (or answered a status `*_cache_use_stale` names) and an expired
    /// entry answers instead: the upstream side ends, its tries stay for `$upstream_*`.
    pub fn answer_stale(
        &mut self,
        hit: crate::cache::entry::Hit,
        head_only: bool,
        env: &mut Env<'_, 'c>,
    ) -> Result<(), UnusableHead> {
        self.end(env);
        self.state = State::Done;
        self.proto.reset();
        self.answer_from(hit, head_only, env)
    }

    /// The `*_next_upstream` bit of the request's last failed try.
    pub fn failed_kind(&self) -> u16 {
        self.failed_kind
    }

    fn answer_from(
        &mut self,
        hit: crate::cache::entry::Hit,
        head_only: bool,
        env: &mut Env<'_, 'c>,
    ) -> Result<(), UnusableHead> {
        // A small body is sent from the worker's copy (no copy here); a bigger one from
        // the file. The head goes into the buffer, to be parsed as an upstream's.
        let memory = hit.memory.clone().filter(|_| !head_only);
        let head_len = hit.head.len();
        self.response
            .start(env.upstreams.take_buffer(head_len), head_len.max(1));
        let Some(room) = self.response.room(head_len) else {
            return Err(UnusableHead);
        };
        if room.len() < head_len {
            self.response.clear();
            return Err(UnusableHead);
        }
        room[..head_len].copy_from_slice(&hit.head);
        self.response.filled(head_len);
        // The parse an earlier hit made of the same stored head is restored, not redone.
        let restored = hit
            .saved
            .as_deref()
            .and_then(|saved| self.proto.restore_head(saved));
        let facts = match restored {
            Some(facts) => facts,
            None => match self.proto.parse_head(self.response.unread()) {
                Parsed::Head(facts) => facts,
                _ => {
                    self.response.clear();
                    return Err(UnusableHead);
                }
            },
        };
        if facts.len != head_len {
            self.response.clear();
            return Err(UnusableHead);
        }
        if self.keep_head {
            self.log.keep_head(&hit.head);
        }
        match memory {
            Some(body) => self.response.adopt_held(body),
            None if !head_only => {
                let Some(file) = hit.file else {
                    self.response.clear();
                    return Err(UnusableHead);
                };
                self.response.adopt_file(file, hit.body_start, hit.len);
            }
            None => {}
        }
        self.head = Some(facts);
        self.head_taken = false;
        self.body_end = BodyEnd::Empty;
        self.reusable = false;
        self.cached = true;
        self.state = State::Done;
        Ok(())
    }

    /// The protocol's parse of the head just answered from the cache, for the entry's next
    /// hits (`None`: the protocol keeps none).
    pub fn saved_head(&self) -> Option<std::rc::Rc<dyn std::any::Any>> {
        self.proto.save_head()
    }

    /// Keeps the request-head buffer of a request answered without the upstream (a cache
    /// hit), for the next request's module to fill.
    pub fn keep_request_buffer(&mut self, buffer: Vec<u8>) {
        self.request.give_buffer(buffer);
    }

    /// A range of a cached response: only body bytes `start..end` are sent.
    pub fn narrow_cached_body(&mut self, start: u64, end: u64) {
        if self.cached {
            match self.head {
                Some(facts) if !self.response.has_file() => {
                    self.response.narrow_mem(facts.len, start, end);
                }
                _ => self.response.narrow_file(start, end),
            }
        }
    }

    /// The body of a cached response held in memory (`None`: it is in the file, or the
    /// response is not from the cache).
    pub fn cached_body(&self) -> Option<&[u8]> {
        let facts = self.head.filter(|_| self.cached && !self.head_taken)?;
        if self.response.has_file() {
            return None;
        }
        self.response.body_after(facts.len)
    }

    /// The length of a cached response's body held in its file (`None`: it is in memory,
    /// or the response is not from the cache).
    pub fn cached_file_len(&self) -> Option<u64> {
        self.head.filter(|_| self.cached && !self.head_taken)?;
        self.response.file_len()
    }

    /// Sends a cached response's body held in its file as multipart ranges: each part's
    /// head, then its bytes `start..end` of the body, and `trailer` at the end.
    pub fn split_cached_file(
        &mut self,
        parts: Vec<super::response_buffer::FilePart>,
        trailer: Vec<u8>,
    ) {
        if let Some(facts) = self.head.filter(|_| self.cached && !self.head_taken) {
            self.response.split_file(facts.len, parts, trailer);
        }
    }

    /// Replaces the body of a cached response held in memory (by its multipart ranges).
    pub fn replace_cached_body(&mut self, body: &[u8]) {
        if let Some(facts) = self.head.filter(|_| self.cached && !self.head_taken) {
            self.response.replace_after(facts.len, body);
        }
    }

    /// Whether the response comes from the cache.
    pub fn cached(&self) -> bool {
        self.cached
    }

    /// Stores the response being read in the cache (set by the connection when the head is
    /// here, before [`Upstream::take_head`]).
    pub fn begin_fill(&mut self, fill: crate::cache::fill::Fill) {
        self.fill = Some(fill);
    }

    /// Whether the response being read goes into a cache entry.
    pub fn filling(&self) -> bool {
        self.fill.is_some()
    }

    /// Ends the request's use of the machine: an upstream connection still held is closed,
    /// the response buffer goes back to the worker's spares. The tries stay for the access
    /// log.
    pub fn end(&mut self, env: &mut Env<'_, 'c>) {
        self.stop_resolving(env);
        self.leave_queue(env);
        if self.peer_mut().is_some() {
            self.finish_try_time(env.now);
        }
        self.drop_peer(env, false);
        if !matches!(self.state, State::Failed(_)) {
            self.state = State::Done;
        }
        env.upstreams.give_buffer(self.response.take_memory());
        let _ = self.request.take_stored();
        // A response not complete leaves no cache entry.
        self.fill = None;
        self.cached = false;
    }

    /// How much of the response memory may hold: the head's buffer, and with buffering on
    /// the `*_buffers` too (allocated as the response needs them, as nginx's are).
    fn response_cap(&self) -> usize {
        let s = &self.settings;
        let read_ahead = if s.buffering {
            s.buffers.0.saturating_mul(s.buffers.1)
        } else {
            0
        };
        s.buffer_size
            .max(MIN_HEAD_BUFFER)
            .saturating_add(read_ahead)
    }

    /// The response head turned buffering on or off (`X-Accel-Buffering`), before the
    /// connection takes it.
    pub fn set_buffering(&mut self, on: bool) {
        self.settings.buffering = on;
        self.response.set_cap(self.response_cap());
    }

    /// The descriptor of the upstream socket a try holds (to route its events).
    pub fn peer_fd(&self) -> Option<std::os::fd::RawFd> {
        match &self.state {
            State::Connecting(p)
            | State::Handshaking(p)
            | State::Sending(p)
            | State::ReadingHead(p)
            | State::ReadingBody(p) => Some(p.sock.as_raw_fd()),
            _ => None,
        }
    }

    /// Records readiness of the upstream socket.
    pub fn on_event(&mut self, readable: bool, writable: bool) {
        if let Some(p) = self.peer_mut() {
            p.readable |= readable;
            p.writable |= writable;
        }
    }

    /// Runs the machine until it must wait. `client_blocked`: the client's socket is not
    /// taking bytes (then a full buffer may spill to the temporary file).
    pub fn drive(
        &mut self,
        env: &mut Env<'_, 'c>,
        cx: &RequestLog<'_>,
        client_blocked: bool,
    ) -> Turn {
        let turn = self.run(env, cx, client_blocked);
        self.want_writable_edges(env, cx);
        turn
    }

    /// A connection that waits to write (a write would block, or the connect is in
    /// progress) and is registered for readable edges only is registered for writable
    /// ones too. `epoll_ctl` reports the socket's present state, so an edge between the
    /// blocked write and this call is not lost.
    fn want_writable_edges(&mut self, env: &mut Env<'_, 'c>, cx: &RequestLog<'_>) {
        let Some(p) = self.peer_mut() else {
            return;
        };
        if p.writable || p.write_edges {
            return;
        }
        let token = Token(UPSTREAM_TOKEN_BIT | p.sock.as_raw_fd() as usize);
        let both = Interest::READABLE | Interest::WRITABLE;
        match env
            .upstreams
            .registry
            .reregister(&mut p.sock.sock, token, both)
        {
            Ok(()) => p.write_edges = true,
            Err(e) => {
                let what = format!("epoll_ctl() failed ({})", sys::errno_text(&e));
                let during = match self.state {
                    State::Connecting(_) => "connecting to upstream",
                    State::Handshaking(_) => "SSL handshaking to upstream",
                    _ => "sending request to upstream",
                };
                self.fail(env, cx, TryFailure::Error, &what, during);
            }
        }
    }

    /// [`Upstream::drive`]'s rounds.
    fn run(&mut self, env: &mut Env<'_, 'c>, cx: &RequestLog<'_>, client_blocked: bool) -> Turn {
        self.check_deadline(env, cx);
        for _ in 0..MAX_ROUNDS {
            if let State::Failed(f) = self.state {
                return Turn::Failed(f);
            }
            if let Some(facts) = self.head.filter(|_| !self.head_taken) {
                return Turn::Head(facts);
            }
            let moved = match self.state {
                State::ChoosingPeer => {
                    self.connect(env, cx);
                    true
                }
                // Only the first in line tries (first come, first served); it stays queued
                // when nothing is free yet.
                State::Queued(_)
                    if env.upstreams.queues.head(self.target.group) == Some(env.client) =>
                {
                    self.connect(env, cx);
                    !matches!(self.state, State::Queued(_))
                }
                State::Connecting(ref p) if p.writable => self.finish_connect(env, cx),
                State::Handshaking(_) => self.handshake(env, cx),
                State::Sending(_) | State::ReadingHead(_) | State::ReadingBody(_) => {
                    self.exchange(env, cx, client_blocked)
                }
                _ => false,
            };
            if !moved {
                return Turn::Wait;
            }
        }
        cx.line(
            LogLevel::Alert,
            &format_args!("upstream loop ran {MAX_ROUNDS} rounds, closing"),
            None,
        );
        self.drop_peer(env, false);
        self.state = State::Broken;
        Turn::Wait
    }

    fn peer_mut(&mut self) -> Option<&mut Peer> {
        match &mut self.state {
            State::Connecting(p)
            | State::Handshaking(p)
            | State::Sending(p)
            | State::ReadingHead(p)
            | State::ReadingBody(p) => Some(p),
            _ => None,
        }
    }

    /// Takes the connection out of the state, which becomes `next`.
    fn take_peer(&mut self, next: State) -> Option<Peer> {
        match std::mem::replace(&mut self.state, next) {
            State::Connecting(p)
            | State::Handshaking(p)
            | State::Sending(p)
            | State::ReadingHead(p)
            | State::ReadingBody(p) => Some(p),
            other => {
                self.state = other;
                None
            }
        }
    }

    // ---- deadlines ----

    fn check_deadline(&mut self, env: &mut Env<'_, 'c>, cx: &RequestLog<'_>) {
        if let State::Queued(until) = self.state {
            if env.now >= until {
                self.leave_queue(env);
                let name = env.groups.get(self.target.group).map(|g| g.name.as_str());
                cx.line(
                    LogLevel::Error,
                    &"upstream queue timed out while connecting to upstream",
                    Some(self.upstream_name(name)),
                );
                self.log.tries.push(Try {
                    status: 502,
                    time: Some(Duration::ZERO),
                    ..Try::new(TryAddr::Group(name.unwrap_or("").into()))
                });
                self.state = State::Failed(Failure::upstream(502));
            }
            return;
        }
        if let (State::ReadingBody(_), Some(at)) = (&self.state, self.rate_wait) {
            // `*_limit_rate`: the delay is over, reading goes on.
            if env.now >= at {
                self.rate_wait = None;
                self.progress = env.now;
            }
            return;
        }
        let Some(at) = self.deadline() else {
            return;
        };
        if env.now < at {
            return;
        }
        let during = match self.state {
            State::Connecting(_) => "connecting to upstream",
            State::Handshaking(_) => "SSL handshaking to upstream",
            State::Sending(_) => "sending request to upstream",
            State::ReadingHead(_) => "reading response header from upstream",
            _ => "reading upstream",
        };
        self.fail(
            env,
            cx,
            TryFailure::Timeout,
            "upstream timed out (110: Connection timed out)",
            during,
        );
    }

    /// When the upstream side times out, if it waits for the upstream at all.
    pub fn deadline(&self) -> Option<Instant> {
        let s = &self.settings;
        match &self.state {
            State::Queued(until) => Some(*until),
            State::Connecting(_) => Some(self.try_started + s.connect_timeout),
            State::Handshaking(_) => Some(self.progress + s.connect_timeout),
            State::Sending(p) if self.request.pending() && !p.writable => {
                Some(self.progress + s.send_timeout)
            }
            // Waiting for the client's body, not for the upstream.
            State::Sending(_) => None,
            State::ReadingHead(_) => Some(self.progress + s.read_timeout),
            // The client, not the upstream, is what a full buffer waits for.
            State::ReadingBody(_) if self.blocked || !self.head_taken => None,
            // The read timeout waits too, as nginx replaces it by the delay.
            State::ReadingBody(_) => match self.rate_wait {
                Some(at) => Some(at),
                None => Some(self.progress + s.read_timeout),
            },
            _ => None,
        }
    }

    // ---- what the connection asks ----

    /// Room for streamed request-body bytes (0: the window is full, or no body comes).
    pub fn body_room(&self) -> usize {
        match self.state {
            State::Done | State::Broken | State::Failed(_) => 0,
            _ => self.request.room(),
        }
    }

    /// Gathers streamed request-body bytes (decoded) of the client's current read turn;
    /// [`Upstream::push_body`] frames them together.
    pub fn gather_body(&mut self, data: &[u8]) {
        self.body_turn.extend_from_slice(data);
    }

    /// The body bytes gathered in this turn go into the request, framed by the protocol as
    /// one piece (nginx frames what one read of the client brought as one chunk or record);
    /// `done`: the body ended.
    pub fn push_body(&mut self, done: bool) {
        let proto = &mut self.proto;
        let data = &self.body_turn;
        self.request.push_with(|out| {
            if !data.is_empty() {
                proto.frame_body(data, out);
            }
            if done {
                proto.end_body(out);
            }
        });
        self.body_turn.clear();
        if done {
            self.request.push(&[], true);
        }
    }

    /// Whether the client's whole request body went to the machine.
    pub fn body_done(&self) -> bool {
        self.request.body_done()
    }

    /// The response head's bytes (before [`Upstream::take_head`]); the protocol's parsed
    /// head indexes them.
    pub fn head_bytes(&self) -> &[u8] {
        self.response.unread()
    }

    /// The protocol and the response head's bytes together (before
    /// [`Upstream::take_head`]), for a module that decides on the head.
    pub fn proto_and_head(&mut self) -> (&mut P, &[u8]) {
        (&mut self.proto, self.response.unread())
    }

    /// What the writer may send next: nothing before the connection took the head (the
    /// buffer holds the upstream's head bytes until then, and a head that never completes
    /// must not reach the client).
    pub fn ready(&self) -> Ready<'_> {
        let ready = if self.head_taken {
            self.response.ready(self.settings.sendfile)
        } else {
            Ready::Pending
        };
        match ready {
            Ready::Pending if matches!(self.state, State::Done | State::Broken) => Ready::End,
            r => r,
        }
    }

    /// Whether the response ends, cleanly, once the writer sent `n` more bytes: the
    /// upstream is done and `n` is all that is buffered.
    pub fn ends_after(&self, n: usize) -> bool {
        self.head_taken && matches!(self.state, State::Done) && self.response.buffered() == n as u64
    }

    /// The writer sent `n` bytes of [`Upstream::ready`].
    pub fn consume(&mut self, n: usize) {
        self.response.consume(n);
    }

    /// The response ended cleanly and the client had all of it.
    pub fn complete(&self) -> bool {
        matches!(self.state, State::Done) && self.response.drained()
    }

    /// Whether the response is read ahead of the client (`*_buffering`); an unbuffered
    /// one hands each read on at once (a body filter then flushes after each).
    pub fn buffering(&self) -> bool {
        self.settings.buffering
    }

    /// The upstream stopped mid-body (the client's connection closes after the rest).
    pub fn is_broken(&self) -> bool {
        matches!(self.state, State::Broken)
    }

    /// Whether the machine still works for the request (a socket, or a try to come).
    pub fn active(&self) -> bool {
        !matches!(self.state, State::Done | State::Broken | State::Failed(_))
    }

    /// Whether a byte of the current try's response arrived (nginx's log action changes
    /// then).
    pub fn got_bytes(&self) -> bool {
        self.got_bytes
    }

    /// `http://ADDR/URI` of the current try, for a log line about the request.
    pub fn name(&self) -> Option<String> {
        self.addr.as_ref().map(|_| self.upstream_name(None))
    }

    /// The body read whole before connecting, while the machine holds it
    /// (`$request_body`).
    pub fn stored_body(&self) -> Option<&StoredBody> {
        self.request.stored()
    }

    /// Takes the body read whole before connecting (for an error page's request).
    pub fn take_stored_body(&mut self) -> Option<Box<StoredBody>> {
        self.request.take_stored()
    }

    /// The client is gone: the upstream connection is closed (never pooled).
    pub fn abandon(&mut self, env: &mut Env<'_, 'c>) {
        self.stop_resolving(env);
        self.leave_queue(env);
        self.finish_try_time(env.now);
        self.drop_peer(env, false);
        self.state = State::Done;
        self.fill = None;
    }

    /// `*_intercept_errors`: the head's response is discarded. The connection goes back to
    /// the pool only when the whole short response already arrived with its head (an error
    /// page usually does); a longer one is closed rather than drained. Returns the stored
    /// request body, for the error page's request.
    pub fn intercept(
        &mut self,
        env: &mut Env<'_, 'c>,
        cx: &RequestLog<'_>,
    ) -> Option<Box<StoredBody>> {
        self.finish_try_time(env.now);
        if let Some(facts) = self.head.filter(|_| !self.head_taken) {
            self.head_taken = true;
            self.response.skip(facts.len);
            let start = self.response.unread_start();
            let complete = match self.body_end {
                BodyEnd::Empty => self.response.unread().is_empty(),
                BodyEnd::AtClose => false,
                BodyEnd::Framed => {
                    let log = ProtoLog {
                        request: cx,
                        addr: self.addr.as_ref(),
                        during: "reading upstream",
                    };
                    let (buf, end) = self.response.bytes_mut();
                    matches!(self.proto.decode_body(buf, start, end, &log), Ok(d) if d.done && !d.surplus)
                }
            };
            let reusable = complete && self.reusable && self.request.sent();
            self.release(env, reusable);
        }
        self.drop_peer(env, false);
        self.state = State::Done;
        self.response.clear();
        self.request.take_stored()
    }

    /// A 101: the upstream connection leaves the machine for the connection's tunnel, with
    /// the bytes the upstream sent after its head and the client's bytes not yet sent.
    pub fn into_tunnel(&mut self, env: &mut Env<'_, 'c>) -> Option<(TcpStream, Vec<u8>, Vec<u8>)> {
        if self.target.tls.is_some() {
            // A tunnel over upstream TLS is not built: the connection closes.
            return None;
        }
        let facts = self.head?;
        self.head_taken = true;
        self.response.skip(facts.len);
        let from_upstream = self.response.unread().to_vec();
        self.response.clear();
        let to_upstream = self.request.take_unsent();
        self.finish_try_time(env.now);
        let p = self.take_peer(State::Done)?;
        // The socket stays registered, owned by the client connection, and counted in
        // `Upstreams::open` until the tunnel closes it.
        self.release_server(env, p.index, false);
        let mut sock = p.sock.into_plain()?;
        if !p.write_edges {
            // The tunnel waits for writable edges when the upstream stops reading.
            let token = Token(UPSTREAM_TOKEN_BIT | sock.as_raw_fd() as usize);
            let both = Interest::READABLE | Interest::WRITABLE;
            if let Err(e) = env.upstreams.registry.reregister(&mut sock, token, both) {
                elog!(
                    LogLevel::Alert,
                    "epoll_ctl() failed ({})",
                    sys::errno_text(&e)
                );
                env.upstreams.open = env.upstreams.open.saturating_sub(1);
                return None;
            }
        }
        Some((sock, from_upstream, to_upstream))
    }
}

impl Settings<'_> {
    /// Settings of an idle machine.
    pub fn idle() -> Settings<'static> {
        Settings {
            connect_timeout: Duration::ZERO,
            send_timeout: Duration::ZERO,
            read_timeout: Duration::ZERO,
            next_upstream: NextUpstream::DEFAULT,
            next_upstream_tries: 0,
            next_upstream_timeout: Duration::ZERO,
            buffering: false,
            buffer_size: MIN_HEAD_BUFFER,
            buffers: (0, 0),
            busy_buffers_size: 0,
            max_temp_file_size: 0,
            temp_file_write_size: 0,
            temp_path: std::path::Path::new(""),
            sendfile: false,
            resolver: None,
            resolver_timeout: Duration::ZERO,
            limit_rate: 0,
        }
    }
}
