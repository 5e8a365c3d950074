//! Answering from the output buffer and a file or nothing (the proxied case is in
//! `proxied.rs`), then ending the request: the access log, and keep-alive, the next
//! pipelined request, a lingering close or a close.

use super::*;

impl<'c> Conn<'c> {
    pub(super) fn respond(&mut self, shared: &mut Shared<'c>) -> Step {
        if self.upstream_sourced() {
            return self.respond_proxied(shared);
        }
        // Consume what we can of an unread request body first: it may unblock the client.
        if let Err(step) = self.discard_body(shared.now) {
            return step;
        }
        let Some(a) = self.active.as_mut() else {
            return Step::Close;
        };
        // Coalesce pipelined responses: a fixed response already queued, a body fully read and
        // more input waiting means the next request can be answered before we write.
        if let Some(r) = a.req.as_ref()
            && r.keepalive
            && matches!(a.source, Source::Fixed)
            && !a.filter.is_on()
            && a.body.is_none()
            && a.out.len() < OUTPUT_FLUSH_THRESHOLD
            && a.filled > a.start + r.head_len + r.body_in_buf
            && a.subrequests.is_empty()
        {
            return self.finish_request(shared);
        }
        self.decide_rate(shared);
        match self.flush(&mut shared.compress) {
            Flush::Pending if self.end_with_trailers(shared) => return Step::Again,
            Flush::Done | Flush::Pending => {}
            Flush::Delayed(_) | Flush::Blocked if self.client_gone() => return Step::Close,
            Flush::Delayed(until) => return Step::Wait(Some(until)),
            Flush::Blocked => {
                let send_timeout = self
                    .active
                    .as_ref()
                    .and_then(|a| a.req.as_ref())
                    .map_or(self.send_timeout, |r| r.loc.send_timeout);
                self.send_timeout = send_timeout;
                return Step::Wait(Some(shared.now + send_timeout));
            }
            Flush::Yield | Flush::Spent => return Step::Yield,
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
            Some(r) if a.body.is_some() => {
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

    /// nginx's `ngx_http_test_reading`: while a response waits to go out (`limit_rate`, a
    /// full socket buffer), a client that closed its connection ends the request at once
    /// instead of holding the connection until the send timeout. Input that is the next
    /// pipelined request, or a body being discarded, is left alone.
    fn client_gone(&mut self) -> bool {
        if !self.client.readable {
            return false;
        }
        let Some(a) = self.active.as_ref() else {
            return false;
        };
        let Some(r) = a.req.as_ref() else {
            return false;
        };
        if a.body.is_some() || a.filled > a.start + r.head_len + r.body_in_buf {
            return false;
        }
        let mut probe = [0u8; 1];
        let err = match self.client.peek(&mut probe) {
            Ok(0) => None,
            Ok(_) => return false,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.client.readable = false;
                return false;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return false,
            Err(e) => Some(e),
        };
        elog!(
            LogLevel::Info,
            "*{} client prematurely closed connection{} while sending response to client, client: {}, server: {}{}",
            self.id,
            err.map(|e| format!(" ({})", crate::sys::errno_text(&e)))
                .unwrap_or_default(),
            self.peer.ip(),
            r.server.first_name(),
            crate::log::context::RequestContext::of(
                a.buf.get(a.start..a.filled).unwrap_or_default(),
                &a.head
            )
        );
        true
    }

    /// Ends the current request: access log, then keep-alive, pipelining or close.
    pub(super) fn finish_request(&mut self, shared: &mut Shared<'c>) -> Step {
        if let Some(a) = self.active.as_ref()
            && let Some(req) = a.req.as_ref()
            && !req.loc.post_action.is_empty()
            && !a.route.post_action_started
        {
            handler::start_post_action(self, shared);
        }
        // As nginx's ngx_http_finalize_connection: a request with subrequests still
        // running (mirrors) is done with the client, but its connection waits for them
        // before its log line and its next request.
        if self
            .active
            .as_ref()
            .is_some_and(|a| !a.subrequests.is_empty())
        {
            // Mirrors that are done are ended (logged) before the request.
            let _ = self.drive_subrequests(shared);
            if self
                .active
                .as_ref()
                .is_some_and(|a| crate::worker::subrequest::running(&a.subrequests))
            {
                self.state = State::AwaitingSubrequests;
                return Step::Wait(None);
            }
        }
        self.discard_until = None;
        // The next response has its own rate; the last write of this one is not waited
        // for (nginx's finalization clears `c->write->delayed`).
        self.rate = rate::RateLimit::Unknown;
        self.delayed_until = None;
        let Some(a) = self.active.as_mut() else {
            return Step::Close;
        };
        let Some(mut req) = a.req.take() else {
            return Step::Close;
        };
        self.h2_chunk_size = req.loc.http2_chunk_size;
        if self.http2.is_some() {
            // The stream is not closed yet: its response is still to be framed.
            self.h2_held = std::mem::take(&mut req.admission.held);
        }
        // The response went out whole unless its upstream stopped short.
        let complete = !matches!(a.source, Source::Upstream) || a.upstream.complete();
        let body = a.body_read(&req);
        if a.proxied {
            // The stored body outlives the machine's use for `$request_body` in the log.
            if a.route.request_body.is_none() {
                a.route.request_body = a.upstream.take_stored_body();
            }
            let mut env = Self::env(shared, self.key);
            a.upstream.end(&mut env);
        }
        a.source = Source::Fixed;
        handler::log_request(self, shared, &req);
        let Some(a) = self.active.as_mut() else {
            return Step::Close;
        };
        // A buffered body kept for an error page (its file, if any) ends with the request,
        // and so do the body filter's state and buffers (after the log line's $gzip_ratio).
        a.route.request_body = None;
        a.filter.end(&mut shared.compress);
        a.start = (a.start + req.head_len + req.body_in_buf).min(a.filled);
        // Whatever follows is a new head: parse it from its start.
        a.scanned = a.start;
        // The head announced keep-alive or close; a response that ended short, or a body
        // nobody will read, closes anyway (the one rule, `keepalive::keep_alive`).
        let keep = req.keepalive
            && keepalive::keep_alive(
                &keepalive::Reading {
                    wants: true,
                    allowed: true,
                    body,
                },
                &keepalive::Writing {
                    finalized: req.finalized,
                    delimited: true,
                    complete,
                },
            );
        if !keep {
            let linger = match req.loc.lingering_close {
                LingeringClose::Off => false,
                LingeringClose::Always => true,
                LingeringClose::On => req.lingering || a.body.is_some() || a.filled > a.start,
            };
            if linger && complete && self.client.is_open() {
                self.client.shutdown_write();
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
            self.pipeline = true;
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

    pub(super) fn go_idle(
        &mut self,
        shared: &mut Shared<'c>,
        buffer_size: usize,
        keepalive_timeout: std::time::Duration,
    ) -> Step {
        self.state = State::KeepAliveIdle;
        self.pipeline = false;
        self.stat.enter(crate::status::ConnState::Waiting);
        if let Some(a) = self.active.take() {
            shared.pool.give(a, buffer_size);
        }
        let at = shared.now + keepalive_timeout;
        self.deadline = Some(at);
        // Data may already be waiting (the client pipelined right after our last write).
        if self.client.readable {
            Step::Again
        } else {
            Step::Wait(Some(at))
        }
    }

    pub(super) fn linger(&mut self, shared: &mut Shared<'c>, until: Instant) -> Step {
        if shared.now >= until {
            return Step::Close;
        }
        let mut scratch = [0u8; DISCARD_CHUNK];
        loop {
            match self.client.read(&mut scratch) {
                Ok(0) => return Step::Close,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Step::Wait(Some((shared.now + self.linger_timeout).min(until)));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Step::Close,
            }
        }
    }
}
