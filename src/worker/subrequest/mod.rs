//! Subrequests (nginx's `ngx_http_subrequest`): an internal request for a URI, made by a
//! module of the request in progress (`auth_request`, `mirror`, `post_action`; the cache's
//! background update is a clone of the request, see [`cache_update`]), routed through the same
//! phases as any request (server rewrite → find location → rewrite → preaccess →
//! content), answered by the same handlers (static, `return`, the upstream machine for
//! proxy and FastCGI), and owned by the parent's connection: its upstream socket belongs
//! to the connection's slab key and its events come through it.
//!
//! A subrequest has its own [`Active`] from the worker's pool: the parent's head bytes
//! copied (headers, `$request_uri` and the request line are the parent's, as nginx's
//! subrequests share `headers_in`), its own route, `Req` and upstream machine. Only its
//! status and head are kept, as nginx's `header_only` subrequests: its body, if any, is
//! never sent anywhere (an upstream's connection goes back to the pool when the whole
//! short response came with its head, else it is closed, as `ngx_http_upstream_send_response`
//! finalizes a `header_only` request).
//!
//! Differences from nginx: a subrequest's upstream status is taken as it comes
//! (`proxy_intercept_errors`/`error_page` and `X-Accel-Redirect` are not applied inside a
//! subrequest), a failed upstream is its 502/504 without the subrequest's `error_page`.

pub(super) mod auth;
mod cache_update;
pub(super) mod mirror;
pub(super) mod post_action;

use std::time::Instant;

use super::Shared;
use super::conn::{self, Active, Launched, Req};
use super::phases::{self, Handled, Rq};
use super::request_vars::ConnInfo;
use crate::http::request::Method;
use crate::http::source::Ready;
use crate::slab::Key;
use crate::upstream::body_buffer::StoredBody;
use crate::upstream::{RequestLog, Turn};

/// The most rounds of reading and dropping a stored subrequest body in one drive (each
/// round moves: it drops bytes or reads more).
const MAX_STORE_ROUNDS: usize = 4096;

/// Who made a subrequest, which says what is kept of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// `auth_request`: the parent waits for its status (`NGX_HTTP_SUBREQUEST_WAITED`).
    Auth,
    /// `mirror`: nobody waits (`NGX_HTTP_SUBREQUEST_BACKGROUND`); the connection does
    /// not go on to its next request before it ends.
    Mirror,
    /// `post_action`: after the response, like a mirror.
    PostAction,
    /// `*_cache_background_update`: the refresh of an expired entry, like a mirror.
    CacheUpdate,
}

/// Where a subrequest is.
enum State {
    /// `limit_req` delays it until then (with the body it is to send).
    Delayed(Instant, Option<Box<StoredBody>>),
    /// Its location proxies: the upstream starts at the next drive (with the body, if any).
    Launch(Option<Box<StoredBody>>),
    /// The upstream machine runs.
    Upstream,
    /// Its head (and this status) is known; its body is read to the end into its cache
    /// entry, and dropped.
    Storing(u16),
    /// Its status is known.
    Done,
}

/// A subrequest of the connection's current request.
pub(super) struct Subrequest<'c> {
    /// Its buffers, head, route and `Req` (`a.req`, `a.route`).
    a: Box<Active<'c>>,
    /// Who made it.
    pub kind: Kind,
    state: State,
    /// Its response status, once done (nginx's `sr->headers_out.status`).
    pub status: u16,
    /// The connection that owns its upstream socket (known from its first drive).
    key: Key,
}

/// What a drive of the subrequests left.
pub(super) enum SubTurn {
    /// One of them finished: the parent may go on.
    Finished,
    /// Wait for a socket or this deadline.
    Wait(Option<Instant>),
}

impl<'c> Subrequest<'c> {
    /// Makes a subrequest of the request `rq` for `uri` (with `args`) and runs its phases
    /// up to its content handler; an upstream starts at the first [`drive`](Self::drive).
    /// `body`: the parent's body, sent with it (a mirror's).
    pub(super) fn start(
        rq: &mut Rq<'_, 'c>,
        uri: &[u8],
        args: Option<&[u8]>,
        kind: Kind,
        body: Option<Box<StoredBody>>,
    ) -> Subrequest<'c> {
        Self::start_at(rq, uri, args, kind, body, None)
    }

    /// [`start`](Self::start), at the named location `named` when given (its URI stays
    /// `uri`, as nginx's named locations keep it).
    pub(super) fn start_at(
        rq: &mut Rq<'_, 'c>,
        uri: &[u8],
        args: Option<&[u8]>,
        kind: Kind,
        body: Option<Box<StoredBody>>,
        named: Option<&str>,
    ) -> Subrequest<'c> {
        let parent = &*rq.a;
        let head_len = rq.req.head_len;
        let mut a = rq.shared.pool.take_active(head_len);
        let head_end = (parent.start + head_len).min(parent.filled);
        let head_bytes = &parent.buf[parent.start.min(head_end)..head_end];
        a.buf[..head_bytes.len()].copy_from_slice(head_bytes);
        a.start = 0;
        a.filled = head_bytes.len();
        a.scanned = a.filled;
        a.head.clone_from(&parent.head);
        // nginx's subrequest is a GET unless the module says otherwise (the mirror keeps
        // the parent's method).
        if kind == Kind::Auth {
            a.head.method = Method::Get;
        }
        a.uri.clear();
        a.uri.extend_from_slice(uri);
        a.body = None;
        a.proxied = false;
        let http = rq.shared.http;
        let mut route = std::mem::take(&mut a.route);
        route.clear_matches(http.user_vars.len());
        route.reset(uri, args);
        route.script.computed.reset(&http.computed);
        route.internal = true;
        route.subrequest = true;
        route.as_get = kind == Kind::Auth && rq.a.head.method != Method::Get;
        route.local = rq.route.local.clone();
        route.request_id = rq.route.request_id;
        let server = rq.req.server;
        let mut req = Req {
            sequence: rq.req.sequence,
            ..Req::new(rq.shared.now, server, &server.loc, head_len)
        };
        // limit_req and limit_conn look at the main request's status (`r->main`).
        req.admission.limit_req = rq.req.admission.limit_req;
        req.admission.limit_conn = rq.req.admission.limit_conn;
        let mut conn = rq.conn.clone();
        let sub_rq = &mut Rq {
            a: &mut a,
            shared: rq.shared,
            req: &mut req,
            route: &mut route,
            conn: &mut conn,
        };
        let handled = match named {
            Some(name) => phases::run_named(sub_rq, name),
            None => phases::run(sub_rq),
        };
        let mut sub = Subrequest {
            a,
            kind,
            state: State::Done,
            status: 0,
            key: Key(0),
        };
        sub.after_phases(req, route, handled, body, rq.shared.now);
        // The subrequest's location chose its error log; the parent's is back.
        crate::log::use_request_logs(&rq.req.loc.error_log);
        sub
    }

    /// Where the subrequest goes after its phases ran (or ran on after a delay).
    fn after_phases(
        &mut self,
        mut req: Req<'c>,
        mut route: phases::Route<'c>,
        handled: Handled,
        body: Option<Box<StoredBody>>,
        now: Instant,
    ) {
        route.uri_rewritten = true;
        self.a.uri.clear();
        self.a.uri.extend_from_slice(&route.script.uri);
        self.state = match handled {
            Handled::Proxy => State::Launch(body),
            Handled::Delayed(d) => State::Delayed(now + d, body),
            // The response was queued: its head is kept for `$sent_http_*`, the rest goes.
            Handled::Answered | Handled::AwaitAuth | Handled::ReadBody => {
                let head_end = (req.header_bytes as usize).min(self.a.out.len());
                route.sent_head.clear();
                route.sent_head.extend_from_slice(&self.a.out[..head_end]);
                self.a.out.clear();
                self.a.source = conn::Source::Fixed;
                self.status = req.status;
                State::Done
            }
        };
        if let State::Delayed(..) | State::Launch(_) = self.state {
            req.status = 0;
        }
        self.a.route = route;
        self.a.req = Some(req);
    }

    /// Whether its status is known.
    pub(super) fn done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Its nearest deadline.
    pub(super) fn deadline(&self) -> Option<Instant> {
        match &self.state {
            State::Delayed(at, _) => Some(*at),
            State::Upstream | State::Storing(_) => self.a.upstream.deadline(),
            State::Launch(_) | State::Done => None,
        }
    }

    /// Records readiness of its upstream socket `fd`; false when the socket is not its.
    pub(super) fn on_upstream_event(&mut self, fd: i32, readable: bool, writable: bool) -> bool {
        if self.a.upstream.peer_fd() != Some(fd) {
            return false;
        }
        self.a.upstream.on_event(readable, writable);
        true
    }

    /// Runs the subrequest until it waits or is done (`key`: the connection owning its
    /// upstream socket). True when it became done.
    pub(super) fn drive(&mut self, conn: &ConnInfo, key: Key, shared: &mut Shared<'c>) -> bool {
        self.key = key;
        if let State::Delayed(at, _) = self.state {
            if shared.now < at {
                return false;
            }
            let State::Delayed(_, body) = std::mem::replace(&mut self.state, State::Done) else {
                return false;
            };
            self.resume_delayed(conn, shared, body);
        }
        if let State::Launch(_) = self.state {
            let State::Launch(body) = std::mem::replace(&mut self.state, State::Upstream) else {
                return false;
            };
            match conn::start_upstream(&mut self.a, conn, key, shared, body) {
                Launched::Started => {}
                Launched::Refused(status) => {
                    self.finish(status);
                    return true;
                }
                // A subrequest never waits for the cache lock (start_upstream does not
                // look its cache up).
                Launched::NoRequest | Launched::Wait(..) => {
                    self.finish(500);
                    return true;
                }
            }
        }
        if let State::Storing(status) = self.state {
            return self.store(conn, key, shared, status);
        }
        if !matches!(self.state, State::Upstream) {
            return false;
        }
        let a = &mut *self.a;
        let Some(req) = a.req.as_ref() else {
            self.finish(500);
            return true;
        };
        let cx = RequestLog {
            conn_id: conn.id,
            client: conn.peer.ip(),
            server: req.server,
            buf: &a.buf[a.start.min(a.filled)..a.filled],
            head: &a.head,
        };
        let mut env = conn::Conn::env(shared, key);
        let facts = match a.upstream.drive(&mut env, &cx, false) {
            Turn::Wait => return false,
            Turn::Head(facts) => facts,
            Turn::Failed(f) => {
                a.upstream.end(&mut env);
                self.finish(f.status);
                return true;
            }
        };
        // The head is all a subrequest keeps (`header_only`): the upstream's head
        // stands for the head it would have sent (`$sent_http_*`).
        a.route.sent_head.clear();
        a.route.sent_head.extend_from_slice(a.upstream.head_bytes());
        a.route.sent_head.truncate(facts.len);
        // A background update's 304 for a revalidated entry makes it valid again.
        if conn::cached::revalidate_entry(a, shared, &facts).is_some() {
            a.cache_fill = None;
            a.upstream.log.cache_status = Some("REVALIDATED");
        }
        // A response that may be cached is read whole into its entry, as nginx reads
        // a `header_only` subrequest's body when the upstream is cacheable.
        if a.cache_fill.is_some() && !a.upstream.cached() {
            conn::cached::begin_fill(a, conn, conn.peer.ip(), shared, facts);
        }
        let Some(req) = a.req.as_ref() else {
            self.finish(500);
            return true;
        };
        let cx = RequestLog {
            conn_id: conn.id,
            client: conn.peer.ip(),
            server: req.server,
            buf: &a.buf[a.start.min(a.filled)..a.filled],
            head: &a.head,
        };
        let mut env = conn::Conn::env(shared, key);
        if a.upstream.filling() {
            a.upstream.take_head(&mut env, &cx);
            self.state = State::Storing(facts.status);
            return self.store(conn, key, shared, facts.status);
        }
        // A hit holds no connection; an upstream's goes back to its pool or is closed.
        if !a.upstream.cached() {
            let _ = a.upstream.intercept(&mut env, &cx);
        }
        a.upstream.end(&mut env);
        self.finish(facts.status);
        true
    }

    /// Reads the body going into the cache entry on and drops it; done (with `status`)
    /// when it ended (the entry committed) or the upstream broke off.
    fn store(&mut self, conn: &ConnInfo, key: Key, shared: &mut Shared<'c>, status: u16) -> bool {
        let a = &mut *self.a;
        let Some(req) = a.req.as_ref() else {
            self.finish(500);
            return true;
        };
        let cx = RequestLog {
            conn_id: conn.id,
            client: conn.peer.ip(),
            server: req.server,
            buf: &a.buf[a.start.min(a.filled)..a.filled],
            head: &a.head,
        };
        let mut env = conn::Conn::env(shared, key);
        // Each round drops what is read or reads more; the socket runs dry in time.
        for _ in 0..MAX_STORE_ROUNDS {
            let ended = match a.upstream.ready() {
                Ready::Bytes(b) => {
                    let n = b.len();
                    a.upstream.consume(n);
                    continue;
                }
                Ready::File { len, .. } => {
                    a.upstream
                        .consume(usize::try_from(len).unwrap_or(usize::MAX));
                    continue;
                }
                Ready::End => true,
                Ready::Pending => !matches!(a.upstream.drive(&mut env, &cx, false), Turn::Wait),
            };
            if ended {
                break;
            }
            if matches!(a.upstream.ready(), Ready::Pending) {
                return false;
            }
        }
        a.upstream.end(&mut env);
        self.finish(status);
        true
    }

    /// A delay of its `limit_req` is over: its phases go on.
    fn resume_delayed(
        &mut self,
        conn: &ConnInfo,
        shared: &mut Shared<'c>,
        body: Option<Box<StoredBody>>,
    ) {
        let Some(mut req) = self.a.req.take() else {
            self.finish(500);
            return;
        };
        let mut route = std::mem::take(&mut self.a.route);
        let mut conn = conn.clone();
        conn.local = route.local.clone();
        conn.request_id = route.request_id;
        let handled = phases::resume_delayed(&mut Rq {
            a: &mut self.a,
            shared,
            req: &mut req,
            route: &mut route,
            conn: &mut conn,
        });
        self.after_phases(req, route, handled, body, shared.now);
    }

    /// Its status is `status` (nginx's `sr->headers_out.status` at its end).
    pub(super) fn finish(&mut self, status: u16) {
        self.status = status;
        if let Some(req) = self.a.req.as_mut() {
            req.status = status;
        }
        self.state = State::Done;
    }

    /// The subrequest's variables (for `auth_request_set`), with the script state.
    pub(super) fn eval(
        &self,
        conn: &ConnInfo,
        shared: &Shared<'c>,
        t: &crate::vars::Template,
        out: &mut Vec<u8>,
    ) {
        let Some(req) = self.a.req.as_ref() else {
            return;
        };
        let src = self.a.vars(conn, req, shared);
        t.eval(
            &crate::rewrite::WithScript {
                ctx: &self.a.route.script,
                inner: &src,
            },
            out,
        );
    }

    /// The upstream's last `WWW-Authenticate` (nginx 1.22 keeps one:
    /// `headers_out.www_authenticate` is the last line copied from the upstream).
    pub(super) fn www_authenticate(&self) -> Option<Vec<u8>> {
        if !self.a.proxied {
            return None;
        }
        let head = &self.a.route.sent_head;
        let mut found = None;
        for line in head.split(|&b| b == b'\n').skip(1) {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(colon) = memchr::memchr(b':', line) else {
                continue;
            };
            if line[..colon].eq_ignore_ascii_case(b"www-authenticate") {
                found = Some(line[colon + 1..].trim_ascii().to_vec());
            }
        }
        found
    }

    /// Ends the subrequest: its access-log line under `log_subrequest`, its upstream
    /// closed if it still runs, its buffers back to the pool.
    pub(super) fn end(mut self, conn: &ConnInfo, shared: &mut Shared<'c>) {
        let key = self.key;
        if self.a.upstream.active() {
            let mut env = conn::Conn::env(shared, key);
            self.a.upstream.abandon(&mut env);
            if self.status == 0 {
                self.finish(499);
            }
        }
        if let Some(req) = self.a.req.take()
            && req.loc.log_subrequest
            && !req.loc.access_log.is_empty()
        {
            let mut line = std::mem::take(&mut shared.scratch);
            let vars = self.a.vars(conn, &req, shared);
            for log in &req.loc.access_log {
                super::access_log::write(&vars, log, &mut line);
            }
            line.clear();
            shared.scratch = line;
        }
        let mut env = conn::Conn::env(shared, key);
        self.a.upstream.end(&mut env);
        self.a.route.request_body = None;
        self.a.route.subrequest = false;
        shared.pool.give_active(self.a);
    }
}

/// The subrequests of a connection's request (in its [`Active`]).
pub(super) type Subrequests<'c> = Vec<Subrequest<'c>>;

/// Drives every subrequest of `a`; mirrors that finish are ended at once, a finished
/// auth subrequest waits for its parent.
pub(super) fn drive_all<'c>(
    subs: &mut Subrequests<'c>,
    conn: &ConnInfo,
    key: Key,
    shared: &mut Shared<'c>,
) -> SubTurn {
    let mut finished = false;
    let mut i = 0;
    while i < subs.len() {
        if !subs[i].done() {
            finished |= subs[i].drive(conn, key, shared);
        }
        if subs[i].done() && subs[i].kind != Kind::Auth {
            // In order: their log lines come out as nginx writes them.
            let sub = subs.remove(i);
            sub.end(conn, shared);
            finished = true;
            continue;
        }
        i += 1;
    }
    if finished {
        return SubTurn::Finished;
    }
    SubTurn::Wait(subs.iter().filter_map(Subrequest::deadline).min())
}

/// Whether any subrequest of the list still runs.
pub(super) fn running(subs: &Subrequests<'_>) -> bool {
    subs.iter().any(|s| !s.done())
}
