//! A connection whose response comes from an upstream: reading the request body for it
//! (stored whole, or streamed), driving its [`Upstream`] machine, answering the client when
//! the head arrives (through the one head builder, or `error_page` when the status is
//! intercepted), finalizing a failure like any other status, and turning to a tunnel
//! after a 101. The upstream never touches the client's socket: this code reads the body
//! for it and the writer drains the response from it.

use super::*;
use crate::cgi::{BodyShape, CgiRequest, Gateway};
use crate::config::cgi_values::CgiModule;
use crate::http::conditional::{Conditions, Precondition, evaluate};
use crate::http::request::Method;
use crate::proxy::Http1;
use crate::proxy::field::Field;
use crate::upstream::body_buffer::StoredBody;
use crate::upstream::machine::Start;
use crate::upstream::protocol::HeadFacts;
use crate::upstream::{Failure, RequestLog, Settings, Turn};
use crate::worker::backend::{Backend, Kind};

/// What a protocol's module decided about a request.
struct Launch<'c> {
    target: crate::upstream::Target,
    refuse: Option<u16>,
    proxy_host: Option<std::sync::Arc<str>>,
    proxy_port: u16,
    settings: Settings<'c>,
}

impl<'c> Conn<'c> {
    /// The location proxies: read the body first when it is to be buffered, else start the
    /// upstream now (streaming the body, if any, as it comes).
    pub(super) fn start_proxy(&mut self, shared: &mut Shared<'c>) -> Step {
        let Some(a) = self.active.as_deref_mut() else {
            return Step::Close;
        };
        let Some(req) = a.req.as_mut() else {
            return Step::Close;
        };
        let loc = req.loc;
        let Some(kind) = Kind::of(loc) else {
            return Step::Close;
        };
        a.source = Source::Upstream;
        self.state = State::Responding;
        self.client_progress = shared.now;
        // A body an earlier try read (an intercepted status's error page) is not read again.
        if a.route.body_taken {
            let kept = a.route.request_body.take();
            return self.launch_upstream(shared, kept);
        }
        // nginx's ngx_http_read_client_request_body answers `Expect: 100-continue` when it
        // starts reading (ngx_http_test_expect), whether a body follows or not.
        if a.head.expect_continue {
            a.out.extend_from_slice(crate::http::response::CONTINUE);
        }
        // An HTTP/2 body ends with its stream, whatever its `content-length` (even 0):
        // until then it is not whole (nginx's `stream->in_closed`).
        let open = self.client.awaits_body_end();
        let has_body = a.head.chunked || a.head.content_length.is_some_and(|n| n > 0 || open);
        // A body that came whole with the head is read as a buffered one whatever
        // `*_request_buffering` says (nginx: "the whole request body was pre-read"), so it
        // is `$request_body` and goes along to an intercepted status's error page.
        let body_start = a.start + req.head_len;
        let preread_whole = !open && body_at_hand(&a.buf, body_start, a.filled, &a.head);
        // A body that is not sent (`proxy_set_body`, `*_pass_request_body off`) is still
        // read whole first, as nginx reads it; uwsgi and SCGI need the body's length first,
        // so a chunked one is read whole whatever `*_request_buffering` says.
        let buffer = preread_whole
            || match kind {
                // nginx buffers a chunked body for an HTTP/1.0 upstream too: it must send a
                // length (ngx_http_proxy_handler sets no request_body_no_buffering then).
                Kind::Proxy => {
                    loc.proxy_request_buffering
                        || crate::proxy::drops_body(loc)
                        || (a.head.chunked && loc.proxy_http_version == 0)
                }
                Kind::Gateway(m) => {
                    let conf = m.conf(loc);
                    conf.request_buffering()
                        || !conf.pass_request_body()
                        || (m != CgiModule::FastCgi && a.head.chunked)
                }
            };
        // nginx reads what the socket holds before it streams anything: a body that
        // comes whole in that one read is read as a buffered one too.
        let buffer = buffer
            || (has_body
                && !open
                && read_rest_now(
                    &mut self.client,
                    &mut a.buf,
                    &mut a.filled,
                    body_start,
                    &a.head,
                    loc.client_body_buffer_size,
                ));
        if buffer
            && has_body
            && let Some(body) = ClientBody::of_stream(
                &a.head,
                Sink::Store(Box::new(StoredBody::new(loc.client_body_in_file_only))),
                open,
            )
        {
            a.body = Some(body);
            req.body = BodyRead::Abandoned;
            self.state = State::ReadingBody;
            return Step::Again;
        }
        a.body = ClientBody::of_stream(&a.head, Sink::Stream, open);
        if a.body.is_some() {
            req.body = BodyRead::Abandoned;
        }
        self.launch_upstream(shared, None)
    }

    /// The request ends without an answer (the client went away or gave up): the failure's
    /// status goes to the access log when no head was sent.
    pub(super) fn end_unanswered(&mut self, f: Failure) -> Step {
        let status = f.status;
        if let Some(a) = self.active.as_mut()
            && let Some(req) = a.req.as_mut()
        {
            if req.header_bytes == 0 {
                req.status = status;
            }
            req.lingering = false;
        }
        Step::Close
    }

    /// Starts the upstream machine for the request (`stored`: its whole body, read first).
    pub(super) fn launch_upstream(
        &mut self,
        shared: &mut Shared<'c>,
        stored: Option<Box<StoredBody>>,
    ) -> Step {
        let again = matches!(self.state, State::CacheWait { .. });
        self.state = State::Responding;
        let conn = crate::worker::request_vars::ConnInfo::of(self);
        let Some(a) = self.active.as_deref_mut() else {
            return Step::Close;
        };
        if !again {
            a.cache_wait = None;
        }
        match start_upstream(a, &conn, self.key, shared, stored) {
            Launched::Started => {
                self.client_progress = shared.now;
                Step::Again
            }
            Launched::Wait(until, stored) => {
                self.state = State::CacheWait { until, stored };
                Step::Wait(Some(until))
            }
            Launched::Refused(status) => {
                a.body = None;
                a.source = Source::Fixed;
                if let Some(req) = a.req.as_mut() {
                    req.body = BodyRead::Abandoned;
                    req.lingering = true;
                }
                handler::finalize_with_status(self, shared, status)
            }
            Launched::NoRequest => Step::Close,
        }
    }

    /// A request waiting for another to fill its cache entry: at `until` it starts again
    /// (the entry is there, the lock came free, or the wait timed out).
    pub(super) fn wait_cache_lock(&mut self, shared: &mut Shared<'c>, until: Instant) -> Step {
        if shared.now < until {
            return Step::Wait(Some(until));
        }
        let stored = match &mut self.state {
            State::CacheWait { stored, .. } => stored.take(),
            _ => None,
        };
        self.launch_upstream(shared, stored)
    }

    /// One turn of a proxied response: the client's body towards the upstream, the
    /// upstream's machine, then the writer.
    pub(super) fn respond_proxied(&mut self, shared: &mut Shared<'c>) -> Step {
        if let Some(step) = self.client_deadlines(shared) {
            return step;
        }
        if let Some(step) = self.stream_body(shared) {
            return step;
        }
        if let Some(step) = self.watch_client(shared) {
            return step;
        }
        let client = self.client_ip();
        let Some(a) = self.active.as_deref_mut() else {
            return Step::Close;
        };
        let Some(req) = a.req.as_ref() else {
            return Step::Close;
        };
        let turn = {
            let cx = RequestLog {
                conn_id: self.id,
                client,
                server: req.server,
                buf: &a.buf[a.start.min(a.filled)..a.filled],
                head: &a.head,
            };
            let mut env = Self::env(shared, self.key);
            a.upstream.drive(&mut env, &cx, !self.client.writable)
        };
        match turn {
            Turn::Wait => {}
            Turn::Head(facts) => return self.upstream_head(shared, facts),
            Turn::Failed(f) => return self.upstream_failed(shared, f),
        }
        // Bytes the client took, or bytes a body filter took from the upstream's buffer,
        // make room for the upstream to be read again.
        let taken = |c: &Self| c.active.as_deref().map_or(0, |a| a.filter.taken);
        let written = (self.bytes_out, taken(self));
        self.decide_rate(shared);
        let flushed = self.flush(&mut shared.compress);
        let moved = (self.bytes_out, taken(self)) != written;
        let Some(a) = self.active.as_deref_mut() else {
            return Step::Close;
        };
        match flushed {
            Flush::Error => {
                let mut env = Self::env(shared, self.key);
                a.upstream.abandon(&mut env);
                self.end_unanswered(Failure::client(499))
            }
            Flush::Done => self.finish_request(shared),
            Flush::Yield | Flush::Spent => Step::Yield,
            Flush::Pending if a.filter.awaits_trailers() => {
                self.end_with_trailers(shared);
                Step::Again
            }
            Flush::Blocked | Flush::Pending | Flush::Delayed(_) => {
                if matches!(flushed, Flush::Pending) && a.upstream.is_broken() {
                    return self.finish_request(shared);
                }
                // Room the writer made lets the upstream be read again, and room the upstream
                // made in the request window lets the client's body be read: drive again
                // until nothing moves (readiness is remembered, not signalled again).
                let body_waits = a.body.is_some() && a.upstream.body_room() > 0;
                if moved || (body_waits && self.client.readable) {
                    return Step::Again;
                }
                Step::Wait(self.proxied_deadline())
            }
        }
    }

    /// The nearest deadline of a proxied request: the upstream's, the client's send (when
    /// the socket is full) or body (when the upstream waits for its bytes).
    fn proxied_deadline(&self) -> Option<Instant> {
        let a = self.active.as_deref()?;
        let req = a.req.as_ref()?;
        let mut at = a.upstream.deadline();
        let mut nearest = |t: Instant| at = Some(at.map_or(t, |x| x.min(t)));
        if let Some(until) = self.delayed_until {
            nearest(until);
        }
        if !self.client.writable {
            nearest(self.client_progress + req.loc.send_timeout);
        }
        if a.body.is_some() && !self.client.readable && a.upstream.body_room() > 0 {
            nearest(self.client_progress + req.loc.client_body_timeout);
        }
        at
    }

    /// The client's deadlines: a client that takes nothing for `send_timeout`, or sends
    /// nothing of a streamed body for `client_body_timeout`, ends the request.
    fn client_deadlines(&mut self, shared: &mut Shared<'c>) -> Option<Step> {
        let a = self.active.as_deref_mut()?;
        let req = a.req.as_ref()?;
        let now = shared.now;
        let waiting_to_send = !self.client.writable;
        let send_late = waiting_to_send && now >= self.client_progress + req.loc.send_timeout;
        let body_late = a.body.is_some()
            && !self.client.readable
            && a.upstream.body_room() > 0
            && now >= self.client_progress + req.loc.client_body_timeout;
        // A proxied request's client timeouts reset the connection too (nginx's
        // ngx_http_free_request with `c->timedout`).
        if (send_late || body_late)
            && req.loc.reset_timedout_connection
            && let Some(fd) = self.client.raw_fd()
        {
            let _ = crate::sys::set_linger_zero(fd);
        }
        if waiting_to_send && now >= self.client_progress + req.loc.send_timeout {
            self.log_line(
                LogLevel::Info,
                "client timed out (110: Connection timed out) while sending to client",
            );
            // An HTTP/2 stream says so with PROTOCOL_ERROR, as nginx's `fc->timedout`.
            self.timed_out = true;
            return Some(self.abandon_upstream(shared, None));
        }
        let a = self.active.as_deref()?;
        let req = a.req.as_ref()?;
        if a.body.is_some()
            && !self.client.readable
            && a.upstream.body_room() > 0
            && now >= self.client_progress + req.loc.client_body_timeout
        {
            self.log_line(
                LogLevel::Info,
                "client timed out (110: Connection timed out) while reading client request body",
            );
            self.timed_out = true;
            return Some(self.abandon_upstream(shared, Some(Failure::client(408))));
        }
        None
    }

    /// Ends the request without more answer: the upstream connection closes (never pooled);
    /// the failure, if given, is the access log's status when no head was sent.
    pub(super) fn abandon_upstream(&mut self, shared: &mut Shared<'c>, f: Option<Failure>) -> Step {
        if let Some(a) = self.active.as_deref_mut() {
            let mut env = Self::env(shared, self.key);
            a.upstream.abandon(&mut env);
        }
        match f {
            Some(f) => self.end_unanswered(f),
            None => Step::Close,
        }
    }

    /// While the response head is awaited, a client that closes its connection aborts the
    /// request, unless `proxy_ignore_client_abort` is on.
    fn watch_client(&mut self, shared: &mut Shared<'c>) -> Option<Step> {
        let a = self.active.as_deref_mut()?;
        let req = a.req.as_mut()?;
        if a.body.is_some() || req.header_bytes > 0 || req.client_sent_more || !self.client.readable
        {
            return None;
        }
        let mut probe = [0u8; 1];
        match self.client.peek(&mut probe) {
            // `*_ignore_client_abort on`: nginx does not watch the client at all; the
            // upstream's answer is awaited (and fails to reach the client).
            Ok(0) if Kind::of(req.loc).is_some_and(|k| k.ignore_client_abort(req.loc)) => {
                req.client_sent_more = true;
                None
            }
            Ok(0) => {
                // nginx's log action changes only when the upstream first becomes readable.
                let during = if a.upstream.got_bytes() {
                    "reading response header from upstream"
                } else {
                    "sending request to upstream"
                };
                let what = if a.upstream.resolving() {
                    // No upstream connection yet: nginx's shorter line.
                    "epoll_wait() reported that client prematurely closed connection".to_string()
                } else {
                    format!(
                        "epoll_wait() reported that client prematurely closed connection, so upstream connection is closed too while {during}"
                    )
                };
                self.log_upstream_line(LogLevel::Info, &what);
                Some(self.abandon_upstream(shared, Some(Failure::client(499))))
            }
            // The next pipelined request: leave it (and the readiness) to the connection.
            Ok(_) => {
                req.client_sent_more = true;
                None
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
            Err(_) => Some(self.abandon_upstream(shared, Some(Failure::client(499)))),
        }
    }

    /// The resolver's answer for the name this connection's proxied request waits on.
    pub fn on_resolved(
        &mut self,
        ticket: crate::resolver::Ticket,
        result: Result<crate::resolver::Addrs, crate::resolver::ResolveError>,
    ) {
        if matches!(self.state, State::Http2(_)) {
            self.h2_resolved(ticket, result);
            return;
        }
        if matches!(self.state, State::AwaitingCertStatus(_)) {
            self.cert_status_resolved(ticket, result);
            return;
        }
        if let Some(a) = self.active.as_mut() {
            a.upstream.on_resolved(ticket, result);
        }
    }

    /// The upstream's head is here: intercept it for `error_page`, tunnel after a 101, or
    /// answer the client with it.
    fn upstream_head(&mut self, shared: &mut Shared<'c>, facts: HeadFacts) -> Step {
        if let Some(step) = self.revalidated(shared, &facts) {
            return step;
        }
        if let Some(step) = self.stale_for_status(shared, facts.status) {
            return step;
        }
        let client = self.client_ip();
        let Some(a) = self.active.as_deref_mut() else {
            return Step::Close;
        };
        let Some(req) = a.req.as_ref() else {
            return Step::Close;
        };
        let loc = req.loc;
        let status = facts.status;
        // *_intercept_errors: a status that has an error_page is answered by the routing
        // engine (ngx_http_upstream_intercept_errors), not relayed.
        let intercept = Kind::of(loc).is_some_and(|k| k.intercept_errors(loc));
        if intercept && status >= 300 && loc.error_page_for(status).is_some() {
            if status == 401 {
                a.route.www_authenticate = a
                    .upstream
                    .proto
                    .header(a.upstream.head_bytes(), "www-authenticate")
                    .map(<[u8]>::to_vec);
            }
            let cx = RequestLog {
                conn_id: self.id,
                client,
                server: req.server,
                buf: &a.buf[a.start.min(a.filled)..a.filled],
                head: &a.head,
            };
            let mut env = Self::env(shared, self.key);
            let head = a.upstream.head_bytes().get(..facts.len).unwrap_or_default();
            super::cached::remember_error(&mut a.cache_fill, head, loc, status);
            // A buffered body goes with the request to its error page, as nginx keeps
            // r->request_body.
            a.route.request_body = a.upstream.intercept(&mut env, &cx);
            a.route.body_taken = true;
            return self.finalize_proxied(shared, status);
        }
        if !facts.upgrade {
            let cx = RequestLog {
                conn_id: self.id,
                client,
                server: req.server,
                buf: &a.buf[a.start.min(a.filled)..a.filled],
                head: &a.head,
            };
            // X-Accel-Redirect: the request goes on elsewhere, the response is dropped
            // (ngx_http_upstream_process_headers).
            let (redirect, buffering) = {
                use crate::proxy::accel::{self, RedirectRules};
                let (proto, buf) = a.upstream.proto_and_head();
                let (lines, rules) = match proto {
                    Backend::Http(h) => (
                        h.head.accel_lines(),
                        RedirectRules {
                            ignore: loc.proxy_ignore_headers,
                            force_ranges: loc.proxy_force_ranges,
                            cookies: h.cookies.as_deref(),
                        },
                    ),
                    Backend::Gateway(g) => (
                        &g.head.headers[..],
                        RedirectRules {
                            ignore: g.module.conf(loc).ignore_headers(),
                            ..RedirectRules::default()
                        },
                    ),
                };
                // X-Accel-Limit-Rate is taken as the head is parsed, so it holds through an
                // X-Accel-Redirect too (ngx_http_upstream_process_limit_rate).
                if let Some(rate) = accel::limit_rate(lines, buf, rules.ignore) {
                    a.route.script.limit_rate = Some(rate);
                }
                (
                    accel::redirect(lines, buf, rules),
                    accel::buffering(lines, buf, rules.ignore),
                )
            };
            if let Some(redirect) = redirect {
                let mut env = Self::env(shared, self.key);
                a.route.request_body = a.upstream.intercept(&mut env, &cx);
                a.route.body_taken = true;
                self.drop_client_body();
                return handler::upstream_redirect(self, shared, redirect);
            }
            if let Some(on) = buffering {
                a.upstream.set_buffering(on);
            }
            // proxy_force_ranges: nginx's range filter on this response, unless gzip or
            // gunzip (earlier filters) make its length unknown.
            // A cached response takes ranges too (nginx's `r->allow_ranges` for
            // `r->cached`); one range is cut from the file here.
            // A response that may be stored and says `Accept-Ranges` takes one range too
            // (ngx_http_upstream_copy_allow_ranges for `u->cacheable`): the entry gets
            // the whole body, the client its part.
            let (cacheable, cached) = (a.cache_fill.is_some(), a.upstream.cached());
            let force_ranges = match a.upstream.proto_and_head() {
                (Backend::Http(h), head) => {
                    loc.proxy_force_ranges
                        || cached
                        || cacheable && h.head.field(head, Field::AcceptRanges).is_some()
                }
                (Backend::Gateway(g), head) => {
                    g.module.conf(loc).force_ranges()
                        || cached
                        || cacheable && g.head.header(head, "accept-ranges").is_some()
                }
            } && !handler::upstream_body_coded(a, loc);
            let buf = &a.buf[a.start.min(a.filled)..a.filled];
            let (range, if_range) = (
                a.head.header(buf, b"range"),
                a.head.header(buf, b"if-range"),
            );
            let hit = a.upstream.cached();
            // nginx's not-modified filter on a cache hit (`r->cached`): the client's
            // conditional fields against the entry's validators.
            let precondition = match a.upstream.proto_and_head() {
                (Backend::Http(proto), head) if hit => {
                    preconditions(&a.head, buf, loc, proto, head, a.route.as_get)
                }
                _ => Precondition::Proceed,
            };
            if precondition == Precondition::Failed {
                let mut env = Self::env(shared, self.key);
                a.route.request_body = a.upstream.intercept(&mut env, &cx);
                a.route.body_taken = true;
                self.drop_client_body();
                return handler::finalize_with_status(self, shared, 412);
            }
            let ranged = match a.upstream.proto_and_head() {
                (Backend::Http(proto), _) if precondition == Precondition::NotModified => {
                    proto.ranged = crate::proxy::ranges::Ranged::NotModified;
                    proto.ranged
                }
                (Backend::Http(proto), head) => {
                    proto.decide_range(force_ranges, head, range, if_range)
                }
                (Backend::Gateway(g), head) => g.decide_range(force_ranges, head, range, if_range),
            };
            // Several ranges of a hit: nginx's range filter answers them in one multipart
            // body (a cached response is not single-range only), laid out with the head.
            if ranged == crate::proxy::ranges::Ranged::Full
                && hit
                && let Some(value) = range
                && let Some(total) = a
                    .upstream
                    .cached_body()
                    .map(|b| b.len() as u64)
                    .or_else(|| a.upstream.cached_file_len())
                && let Backend::Http(proto) = &a.upstream.proto
            {
                let head = a.upstream.head_bytes();
                let field = |name| proto.head.field(head, name);
                let last_modified =
                    field(Field::LastModified).and_then(crate::http::date::parse_http_date_secs);
                let if_range_ok = if_range.is_none_or(|v| {
                    crate::http::range::if_range_matches(v, last_modified, field(Field::Etag))
                });
                let mut ranges = Vec::new();
                if if_range_ok
                    && proto.head.content_length == Some(total)
                    && crate::http::range::parse_ranges(value, total, loc.max_ranges, &mut ranges)
                        == crate::http::range::RangeOutcome::Multi
                    && let (Backend::Http(proto), _) = a.upstream.proto_and_head()
                {
                    proto.multipart_ranges = Some((ranges, total));
                }
            }
            if ranged == crate::proxy::ranges::Ranged::NotModified {
                a.upstream.narrow_cached_body(0, 0);
            }
            if let crate::proxy::ranges::Ranged::Part { start, end, .. } = ranged {
                a.upstream.narrow_cached_body(start, end);
            }
            if let crate::proxy::ranges::Ranged::Unsatisfiable { total } = ranged {
                let mut env = Self::env(shared, self.key);
                a.route.request_body = a.upstream.intercept(&mut env, &cx);
                a.route.body_taken = true;
                self.drop_client_body();
                return handler::answer_unsatisfiable(self, shared, total);
            }
            // A Location that a proxy_redirect rule turns into a path is made absolute, as
            // nginx's header filter does (absolute_redirect).
            if let (Backend::Http(proto), head) = a.upstream.proto_and_head()
                && loc.absolute_redirect
                && proto.redirects.is_some()
                && proto.head.field(head, Field::Location).is_some()
            {
                let host = a.head.host.map(|h| h.get(buf));
                crate::worker::redirect_base(
                    loc,
                    req.server,
                    host,
                    a.route.local.as_ref().and_then(|l| l.inet()),
                    &mut proto.location_base,
                );
            }
        }
        let head_step = handler::queue_upstream_head(self, shared, facts);
        if let Some(step) = head_step {
            return step;
        }
        self.begin_cache_fill(shared, facts);
        let client = self.client_ip();
        let Some(a) = self.active.as_deref_mut() else {
            return Step::Close;
        };
        // An unbuffered response goes out as it comes, unlimited
        // (ngx_http_upstream_send_response sets `r->limit_rate = 0`).
        if !a.upstream.buffering() {
            a.route.script.limit_rate = Some(0);
        }
        let Some(req) = a.req.as_ref() else {
            return Step::Close;
        };
        if facts.upgrade {
            let mut env = Self::env(shared, self.key);
            let Some((sock, from_upstream, mut to_upstream)) = a.upstream.into_tunnel(&mut env)
            else {
                return Step::Close;
            };
            // Bytes the client sent after its head belong to the new protocol.
            let body_start = (a.start + req.head_len + req.body_in_buf).min(a.filled);
            to_upstream.extend_from_slice(&a.buf[body_start..a.filled]);
            let moved = a.filled - body_start;
            let idle = loc.proxy_read_timeout;
            if let Some(req) = a.req.as_mut() {
                req.body_in_buf += moved;
            }
            a.source = Source::Fixed;
            self.state = State::Tunnel(Box::new(tunnel::Tunnel::new(
                sock,
                to_upstream,
                from_upstream,
                idle,
                shared.now,
            )));
            return Step::Again;
        }
        let cx = RequestLog {
            conn_id: self.id,
            client,
            server: req.server,
            buf: &a.buf[a.start.min(a.filled)..a.filled],
            head: &a.head,
        };
        let mut env = Self::env(shared, self.key);
        a.upstream.take_head(&mut env, &cx);
        Step::Again
    }

    /// There is no response from the upstream: the request is finalized with the failure's
    /// status, as nginx's `ngx_http_upstream_finalize_request` does (`error_page` applies).
    fn upstream_failed(&mut self, shared: &mut Shared<'c>, f: Failure) -> Step {
        if f.cause == crate::upstream::failure::Cause::Upstream
            && let Some(step) = self.stale_on_failure(shared)
        {
            return step;
        }
        if let Some(a) = self.active.as_deref_mut() {
            let mut env = Self::env(shared, self.key);
            let stored = a.upstream.take_stored_body();
            a.upstream.end(&mut env);
            if stored.is_some() {
                // The body was read whole: an error page proxied again sends it again.
                a.route.request_body = stored;
                a.route.body_taken = true;
            } else if a.body.is_some()
                || a.head.content_length.is_some_and(|n| n > 0)
                || a.head.chunked
            {
                a.route.body_taken = true;
            }
        }
        self.finalize_proxied(shared, f.status)
    }

    /// Finalizes a proxied request with `status` through the routing engine's error-page
    /// handling (or nginx's standard page), as every other response is.
    fn finalize_proxied(&mut self, shared: &mut Shared<'c>, status: u16) -> Step {
        self.drop_client_body();
        handler::finalize_with_status(self, shared, status)
    }

    /// The upstream's response is not the answer: the body source is reset, and a client
    /// body still on its way is abandoned (no keep-alive after the answer).
    fn drop_client_body(&mut self) {
        if let Some(a) = self.active.as_deref_mut() {
            a.source = Source::Fixed;
            if a.body.take().is_some()
                && let Some(req) = a.req.as_mut()
            {
                req.body = BodyRead::Abandoned;
                req.lingering = true;
            }
        }
    }

    /// An error-log line about the request, with nginx's context.
    pub(super) fn log_line(&self, level: LogLevel, what: &str) {
        let Some(a) = self.active.as_deref() else {
            return;
        };
        self.log_request_line(a, level, what);
    }

    /// An error-log line naming the upstream.
    pub(super) fn log_upstream_line(&self, level: LogLevel, what: &str) {
        let Some(a) = self.active.as_deref() else {
            return;
        };
        let Some(req) = a.req.as_ref() else { return };
        let cx = RequestLog {
            conn_id: self.id,
            client: self.client_ip(),
            server: req.server,
            buf: &a.buf[a.start.min(a.filled)..a.filled],
            head: &a.head,
        };
        cx.line(level, &what, a.upstream.name());
    }
}

/// Whether the head buffer holds the whole body (from `body_start` to `filled`).
fn body_at_hand(buf: &[u8], body_start: usize, filled: usize, head: &RequestHead) -> bool {
    let at_hand = buf.get(body_start..filled).unwrap_or_default();
    if head.chunked {
        crate::http::chunked::ChunkedDecoder::holds_whole_body(at_hand)
    } else {
        head.content_length
            .is_some_and(|n| at_hand.len() as u64 >= n)
    }
}

/// nginx's first read of a body (`ngx_http_read_client_request_body`): before streaming
/// it reads what the socket already holds into one buffer of `client_body_buffer_size`
/// (a quarter more; the rest of a Content-Length body when that is smaller), and a body
/// that this read completes is read as a buffered one. The bytes join the head buffer,
/// where the body reader takes them; true when the body is whole there now.
fn read_rest_now(
    client: &mut Client,
    buf: &mut Vec<u8>,
    filled: &mut usize,
    body_start: usize,
    head: &RequestHead,
    buffer_size: usize,
) -> bool {
    let size = buffer_size + buffer_size / 4;
    let at_hand = filled.saturating_sub(body_start);
    let want = match head.content_length {
        Some(n) => match usize::try_from(n).map(|n| n.saturating_sub(at_hand)) {
            // A body longer than the buffer streams whatever this read would find.
            Ok(rest) if rest < size => rest,
            _ => return false,
        },
        None => size,
    };
    let end = *filled + want;
    if buf.len() < end {
        buf.resize(end, 0);
    }
    while *filled < end {
        match client.read(&mut buf[*filled..end]) {
            Ok(0) => break,
            Ok(n) => *filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // Nothing more now (or a failed socket, which the body reader reports).
            Err(_) => break,
        }
    }
    body_at_hand(buf, body_start, *filled, head)
}

/// How [`start_upstream`] left the request.
pub(in crate::worker) enum Launched {
    /// The machine runs.
    Started,
    /// The module refused the request: finalize it with this status.
    Refused(u16),
    /// No request, or its location does not go upstream.
    NoRequest,
    /// Another request fills the cache entry: start again at this time (the cache lock),
    /// with the request's stored body.
    Wait(std::time::Instant, Option<Box<StoredBody>>),
}

/// Starts the upstream machine of `a`'s request (the connection's own or a subrequest's;
/// `stored`: its whole body, read first). The connection `key` owns the upstream socket.
pub(in crate::worker) fn start_upstream<'c>(
    a: &mut Active<'c>,
    conn: &crate::worker::request_vars::ConnInfo,
    key: Key,
    shared: &mut Shared<'c>,
    stored: Option<Box<StoredBody>>,
) -> Launched {
    let Some(req) = a.req.as_ref() else {
        return Launched::NoRequest;
    };
    let loc = req.loc;
    let Some(kind) = Kind::of(loc) else {
        return Launched::NoRequest;
    };
    // `conn.peer` is the realip module's address when it set one: the client's for the
    // upstream (X-Forwarded-For, ip_hash).
    let streamed = a.body.is_some();
    // The request used the proxy before an internal redirect brought it here: its
    // tries go on (`$upstream_addr` shows ` : ` between them).
    let follow = a.proxied;
    a.proxied = true;
    let body_sent = !a.route.body_taken;
    // The body's length upstream: the stored body's (a chunked one gets its length
    // too), else the client's Content-Length — 0 included, as nginx sends it.
    let (content_length, chunked) = match &stored {
        Some(s) => (Some(s.len()), false),
        None if a.route.body_taken => (None, false),
        None if streamed && a.head.chunked => (None, true),
        None => (a.head.content_length, false),
    };
    let body = BodyUp {
        content_length,
        chunked,
        sent: body_sent,
    };
    let mut stored = stored;
    let drops_body = match kind {
        Kind::Proxy => crate::proxy::drops_body(loc),
        Kind::Gateway(m) => !m.conf(loc).pass_request_body(),
    };
    if body_sent && drops_body {
        // Read to keep the connection in step; not sent.
        stored = None;
    }
    // The cache (issue 19): a fresh entry answers without the upstream. A request whose
    // response will not be stored is prepared as without a cache.
    a.upstream.log.cache_status = None;
    a.cache_fill = None;
    let mut uncached = false;
    // A gateway's request is built again once its plan brings validators.
    let mut planned = false;
    let cache = super::cached::cache_view(loc);
    // The proxy looks its cache up before it builds the upstream request, as nginx's
    // ngx_http_upstream_cache runs before create_request: a hit builds none. Only the
    // `proxy_pass` target and the upstream URI (the default key's) are made first.
    let looked = kind == Kind::Proxy && cache.cache.is_some() && loc.proxy_pass.is_some();
    if looked && let Some(pass) = loc.proxy_pass.as_ref() {
        let mut uri = match &mut a.upstream.proto {
            Backend::Http(h) => std::mem::take(&mut h.uri),
            Backend::Gateway(_) => Vec::new(),
        };
        let resolved = {
            let Some(req) = a.req.as_ref() else {
                return Launched::NoRequest;
            };
            let vars = a.vars(conn, req, shared);
            let r = proxy_request(a, conn, &vars, body, false, false);
            crate::proxy::resolve(&vars, &r, shared.http, pass, &mut uri, None)
        };
        a.upstream.log.proxy_host = resolved.proxy_host.clone();
        let (lookup, refresh) = look_up(a, conn, shared, &cache, &uri);
        match lookup {
            super::cached::Lookup::Hit(hit, head_only) => {
                let setup = {
                    let Some(req) = a.req.as_ref() else {
                        return Launched::NoRequest;
                    };
                    let vars = a.vars(conn, req, shared);
                    let r = proxy_request(a, conn, &vars, body, false, false);
                    crate::proxy::HitSetup::new(&vars, &r, loc, &resolved)
                };
                if !matches!(a.upstream.proto, Backend::Http(_)) {
                    a.upstream.proto = Backend::Http(Http1::default());
                }
                if let Backend::Http(h) = &mut a.upstream.proto {
                    setup.apply(h, std::mem::take(&mut uri));
                }
                let settings = Settings::proxy(loc);
                if answer_hit(a, shared, key, hit, head_only, refresh, settings) {
                    return Launched::Started;
                }
            }
            super::cached::Lookup::Upstream(plan) => a.cache_fill = plan,
            super::cached::Lookup::Uncached => uncached = true,
            super::cached::Lookup::Off | super::cached::Lookup::Refresh(..) => {}
            super::cached::Lookup::Failed(status) => return Launched::Refused(status),
            // Another request fills the entry (the cache lock) and a subrequest does not
            // wait for it (its driver has no timer for the lock): it goes upstream and its
            // response is not stored, as a lock timeout's would not be.
            super::cached::Lookup::Wait(_) if a.route.subrequest => uncached = true,
            super::cached::Lookup::Wait(held_ms) => {
                return Launched::Wait(lock_wait(a, shared, &cache, held_ms), stored);
            }
        }
        // The URI's buffer goes back to the protocol (a hit that could not answer gave
        // it already).
        if let Backend::Http(h) = &mut a.upstream.proto
            && h.uri.capacity() == 0
        {
            h.uri = uri;
        }
    }
    let (proto, mut head, prepared) = loop {
        let (proto, mut head) = a.upstream.take_parts();
        let (proto, prepared) = {
            let Some(req) = a.req.as_ref() else {
                a.upstream.give_parts(proto, head);
                return Launched::NoRequest;
            };
            let buf = &a.buf[a.start.min(a.filled)..a.filled];
            let vars = a.vars(conn, req, shared);
            match kind {
                Kind::Proxy => {
                    let mut http = match proto {
                        Backend::Http(h) => h,
                        Backend::Gateway(_) => Http1::default(),
                    };
                    let r = proxy_request(a, conn, &vars, body, uncached, looked);
                    let p =
                        crate::proxy::prepare(&vars, &r, loc, shared.http, &mut http, &mut head);
                    let launch = Launch {
                        target: p.target,
                        refuse: p.refuse,
                        proxy_host: p.proxy_host,
                        proxy_port: p.proxy_port,
                        settings: Settings::proxy(loc),
                    };
                    (Backend::Http(http), launch)
                }
                Kind::Gateway(module) => {
                    let mut gateway = match proto {
                        Backend::Gateway(g) => g,
                        Backend::Http(_) => Gateway::default(),
                    };
                    let body = match (&stored, streamed) {
                        (Some(s), _) => BodyShape::Stored(s.len()),
                        (None, true) => BodyShape::Streamed(a.head.content_length),
                        (None, false) => BodyShape::None,
                    };
                    let r = CgiRequest {
                        buf,
                        head: &a.head,
                        body,
                        as_get: a.route.as_get,
                        client: conn.peer.ip(),
                        conn_id: conn.id,
                        uncached,
                        validators: a.cache_fill.as_ref().map_or(&[][..], |p| &p.conditional),
                    };
                    let p = crate::cgi::prepare(
                        module,
                        &vars,
                        &r,
                        loc,
                        shared.http,
                        &mut gateway,
                        &mut head,
                    );
                    let launch = Launch {
                        target: p.target,
                        refuse: p.refuse,
                        proxy_host: None,
                        proxy_port: 0,
                        settings: crate::cgi::settings(module.conf(loc), loc),
                    };
                    (Backend::Gateway(gateway), launch)
                }
            }
        };
        if let Some(status) = prepared.refuse {
            a.upstream.give_parts(proto, head);
            // A plan the lookup made lets its key's lock go now.
            a.cache_fill = None;
            return Launched::Refused(status);
        }
        // A gateway's cache is looked up once its request is built (its key has no part
        // of the request, but a revalidation's validators are parameters of it).
        let mut proto = proto;
        if cache.cache.is_some() && !uncached && !planned && !looked {
            let (lookup, refresh) = look_up(a, conn, shared, &cache, &[]);
            match lookup {
                super::cached::Lookup::Hit(hit, head_only) => {
                    a.upstream.proto = proto;
                    if answer_hit(a, shared, key, hit, head_only, refresh, prepared.settings) {
                        a.upstream.keep_request_buffer(head);
                        return Launched::Started;
                    }
                    // The stored head is not one the protocol takes: fetched again.
                    proto = std::mem::take(&mut a.upstream.proto);
                }
                super::cached::Lookup::Upstream(plan) => {
                    // `*_cache_revalidate`: a gateway's validators are parameters, so its
                    // request is built again with them.
                    if plan.as_ref().is_some_and(|p| !p.conditional.is_empty()) {
                        a.cache_fill = plan;
                        a.upstream.give_parts(proto, head);
                        planned = true;
                        continue;
                    }
                    a.cache_fill = plan;
                }
                // Not to be stored: the request is built again as without a cache.
                super::cached::Lookup::Uncached => {
                    a.upstream.give_parts(proto, head);
                    uncached = true;
                    continue;
                }
                super::cached::Lookup::Off | super::cached::Lookup::Refresh(..) => {}
                super::cached::Lookup::Failed(status) => {
                    a.upstream.give_parts(proto, head);
                    return Launched::Refused(status);
                }
                super::cached::Lookup::Wait(_) if a.route.subrequest => {
                    a.upstream.give_parts(proto, head);
                    uncached = true;
                    continue;
                }
                super::cached::Lookup::Wait(held_ms) => {
                    a.upstream.give_parts(proto, head);
                    return Launched::Wait(lock_wait(a, shared, &cache, held_ms), stored);
                }
            }
        }
        break (proto, head, prepared);
    };
    // `*_cache_revalidate`: the proxy's conditional fields go at the end of the head.
    if looked
        && let Some(p) = a.cache_fill.as_ref().filter(|p| !p.conditional.is_empty())
        && let Some(end) = memchr::memmem::find(&head, b"\r\n\r\n")
    {
        let at = end + 2;
        head.splice(at..at, p.conditional.iter().copied());
    }
    let idempotent = matches!(
        a.head.method,
        Method::Get | Method::Head | Method::Put | Method::Delete | Method::Options
    );
    let keep_head = shared.http.user_vars.reads_upstream_head();
    let mut env = Conn::env(shared, key);
    a.upstream.start(
        Start {
            proto,
            settings: prepared.settings,
            target: prepared.target,
            head,
            stored,
            body_done: !streamed,
            idempotent,
            client_ip: conn.peer.ip().hash_addr(),
            follow,
            keep_head,
        },
        &mut env,
    );
    if let Some(host) = prepared.proxy_host {
        a.upstream.log.proxy_host = host;
    }
    a.upstream.log.proxy_port = prepared.proxy_port;
    a.source = Source::Upstream;
    Launched::Started
}

/// How the request's body goes upstream: its length (`Content-Length`) when known, whether
/// it goes chunked, and whether the client's own body is sent.
#[derive(Clone, Copy)]
struct BodyUp {
    content_length: Option<u64>,
    chunked: bool,
    sent: bool,
}

/// What the proxy reads of `a`'s request (`uncached`: its response will not be stored;
/// `resolved`: the cache lookup resolved `proxy_pass` already).
fn proxy_request<'a>(
    a: &'a Active<'_>,
    conn: &crate::worker::request_vars::ConnInfo,
    vars: &crate::worker::request_vars::RequestVars<'_, '_>,
    body: BodyUp,
    uncached: bool,
    resolved: bool,
) -> crate::proxy::ProxyRequest<'a> {
    let loc = vars.req.loc;
    // proxy_cache_convert_head: a HEAD that may be cached goes up as GET
    // (ngx_http_upstream_cache); the client still gets the head only.
    let convert_head = loc.proxy_cache_convert_head
        && a.head.method == Method::Head
        && super::cached::may_cache(vars, &super::cached::cache_view(loc));
    crate::proxy::ProxyRequest {
        buf: &a.buf[a.start.min(a.filled)..a.filled],
        head: &a.head,
        uri: &a.uri,
        args: a.route.script.args.as_deref(),
        valid_location: a.route.script.valid_location,
        uri_rewritten: a.route.uri_rewritten,
        as_get: a.route.as_get || convert_head,
        content_length: body.content_length,
        chunked: body.chunked,
        body_sent: body.sent,
        client: conn.peer.ip(),
        conn_id: conn.id,
        uncached,
        resolved,
    }
}

/// Looks the request's entry up in its cache (`upstream_uri`: the default key's URI) and
/// sets `$upstream_cache_status`; a stale entry that a background update refreshes comes
/// back as a hit, with the key's claim for that update.
fn look_up<'c>(
    a: &mut Active<'c>,
    conn: &crate::worker::request_vars::ConnInfo,
    shared: &mut Shared<'c>,
    cache: &crate::config::cache_conf::CacheView<'_>,
    upstream_uri: &[u8],
) -> (super::cached::Lookup, Option<crate::cache::keys::Ticket>) {
    let Some(req) = a.req.as_ref() else {
        return (super::cached::Lookup::Off, None);
    };
    let mut hot = std::mem::take(&mut shared.hot_cache);
    let update = a.cache_update.take();
    let (lookup, status) = {
        let vars = a.vars(conn, req, shared);
        let cx = RequestLog {
            conn_id: conn.id,
            client: conn.peer.ip(),
            server: req.server,
            buf: &a.buf[a.start.min(a.filled)..a.filled],
            head: &a.head,
        };
        super::cached::lookup(
            &mut hot,
            &vars,
            &cx,
            cache,
            shared.http,
            super::cached::Upstreamward {
                upstream_uri,
                proxy_host: &a.upstream.log.proxy_host,
                wait: a.cache_wait,
                update,
            },
        )
    };
    shared.hot_cache = hot;
    a.upstream.log.cache_status = status;
    // `*_cache_background_update`: the stale entry answers as a hit does, and a
    // background subrequest refreshes it.
    match lookup {
        super::cached::Lookup::Refresh(hit, head_only, ticket) => {
            (super::cached::Lookup::Hit(hit, head_only), Some(ticket))
        }
        other => (other, None),
    }
}

/// Answers `a`'s request from the cache entry `hit`, with the protocol in `a.upstream`
/// set up for it; `refresh`: the claim of a background update to start. `false`: the
/// stored head is not one the protocol takes, and the request goes upstream (`MISS`).
fn answer_hit<'c>(
    a: &mut Active<'c>,
    shared: &mut Shared<'c>,
    key: Key,
    hit: crate::cache::entry::Hit,
    head_only: bool,
    refresh: Option<crate::cache::keys::Ticket>,
    settings: Settings<'c>,
) -> bool {
    // A GET answered by a HEAD's entry gets a head whose Content-Length no body follows
    // (nginx's answer): the connection cannot go on.
    if head_only
        && (a.head.method != Method::Head || a.route.as_get)
        && let Some(r) = a.req.as_mut()
    {
        r.keepalive_refused = true;
    }
    let keep_head = shared.http.user_vars.reads_upstream_head();
    let (slot, parsed_before) = ((hit.cache, hit.digest), hit.saved.is_some());
    let mut env = Conn::env(shared, key);
    match a
        .upstream
        .start_cached(settings, hit, head_only, keep_head, &mut env)
    {
        Ok(()) => {
            if !parsed_before && let Some(saved) = a.upstream.saved_head() {
                shared.hot_cache.save_head(slot, saved);
            }
            a.source = Source::Upstream;
            if let Some(ticket) = refresh
                && let Some(sub) =
                    crate::worker::subrequest::Subrequest::cache_update(a, shared, ticket)
            {
                a.subrequests.push(sub);
            }
            true
        }
        Err(_) => {
            shared.hot_cache.forget(&slot);
            a.upstream.log.cache_status = Some("MISS");
            false
        }
    }
}

/// When a request waiting for another's fill of its entry (the cache lock) looks again:
/// 2 ms after the first look, the pause doubling up to 100 ms, never past the lock's
/// `*_cache_lock_timeout` nor the other's hold (`held_ms`).
fn lock_wait(
    a: &mut Active<'_>,
    shared: &Shared<'_>,
    cache: &crate::config::cache_conf::CacheView<'_>,
    held_ms: u64,
) -> std::time::Instant {
    let now_ms = crate::cache::keys::now_ms();
    let w = a.cache_wait.get_or_insert(super::cached::LockWait {
        deadline_ms: now_ms + cache.lock_timeout.as_millis() as u64,
        poll_ms: super::cached::LOCK_POLL_FIRST_MS,
    });
    let pause = w
        .poll_ms
        .min(held_ms.max(1))
        .min(w.deadline_ms.saturating_sub(now_ms).max(1));
    w.poll_ms = (w.poll_ms * 2).min(super::cached::LOCK_POLL_MAX_MS);
    shared.now + std::time::Duration::from_millis(pause)
}

/// What a cached 200 makes of the client's conditional fields (nginx's not-modified
/// filter, which runs on a response from the cache): a 304, a 412, or the response.
fn preconditions(
    client: &crate::http::request::RequestHead,
    buf: &[u8],
    loc: &crate::config::LocSettings,
    proto: &Http1,
    head: &[u8],
    as_get: bool,
) -> Precondition {
    if proto.head.status != 200 {
        return Precondition::Proceed;
    }
    let conditions = Conditions {
        if_modified_since: client.header(buf, b"if-modified-since"),
        if_unmodified_since: client.header(buf, b"if-unmodified-since"),
        if_none_match: client.header(buf, b"if-none-match"),
        if_match: client.header(buf, b"if-match"),
    };
    // No conditional field: nothing to compare, so the stored validators stay unparsed.
    if conditions.is_empty() {
        return Precondition::Proceed;
    }
    let last_modified = proto
        .head
        .field(head, Field::LastModified)
        .and_then(crate::http::date::parse_http_date_secs);
    let method = if as_get { Method::Get } else { client.method };
    evaluate(
        &conditions,
        method,
        last_modified,
        proto.head.field(head, Field::Etag),
        loc.if_modified_since,
    )
}
