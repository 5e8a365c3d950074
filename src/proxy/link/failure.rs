//! Failures of a try: nginx's error-log lines, passive health, the next server, or the
//! client's 502/504.

use super::*;

impl<'c> Link<'c> {
    // ---- failures ----

    /// Writes an error-log line in nginx's format for this request.
    pub(super) fn log_line(
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
        // nginx names the upstream once a peer was chosen (`u->peer.name`).
        let uri = String::from_utf8_lossy(&self.setup.uri);
        let upstream = match (upstream_name, &self.addr) {
            (Some(n), _) => Some(format!("http://{n}{uri}")),
            (None, Some(a)) => Some(format!("http://{a}{uri}")),
            (None, None) => None,
        };
        let context = crate::worker::RequestContext::of(buf, &a.head).with_upstream(upstream);
        elog!(
            level,
            "*{} {what}, client: {}, server: {}{context}",
            cx.id,
            cx.peer.ip(),
            crate::worker::server_name_of(req.server),
        );
    }

    /// A try failed: log it, count it, then retry elsewhere or answer 502/504.
    pub(super) fn fail(
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
        if let Some(t) = self.log.tries.last_mut() {
            t.status = status;
            t.time = Some(now.saturating_duration_since(self.try_started));
        }
        let disabled = match (self.peer, shared.upstreams.groups.get_mut(self.setup.group)) {
            (Some(p), Some(g)) => g.release(p, true, now),
            // nginx's peers made of a name's addresses have max_fails=1 (unless only one).
            _ => self.resolved_peers() > 1,
        };
        if disabled {
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

    pub(super) fn may_retry(&self, bit: u16, now: Instant) -> bool {
        let next = self.loc.proxy_next_upstream;
        let max_tries = self.loc.proxy_next_upstream_tries;
        let timeout = self.loc.proxy_next_upstream_timeout;
        next.has(bit)
            && self.replayable
            && (self.idempotent || next.has(NextUpstream::NON_IDEMPOTENT) || self.out_pos == 0)
            && (max_tries == 0 || self.tries < max_tries)
            && (timeout.is_zero() || now.saturating_duration_since(self.started) < timeout)
            && if self.setup.group == DIRECT {
                self.direct_peer_left()
            } else {
                self.tried.iter().any(|t| !t)
            }
    }

    /// Closes the upstream socket (never pooled) and releases the server.
    pub(super) fn drop_upstream(&mut self, shared: &mut Shared<'c>, failed: bool) {
        self.stop_resolving(shared);
        // Closing the descriptor takes it out of the epoll set too: no deregister call.
        if self.sock.take().is_some() {
            shared.upstreams.open = shared.upstreams.open.saturating_sub(1);
        }
        if let Some(p) = self.peer.take()
            && let Some(g) = shared.upstreams.groups.get_mut(self.setup.group)
        {
            g.release(p, failed, shared.now);
        }
        self.connecting = false;
    }

    /// Queues nginx's error page as the response and ends the upstream side.
    pub(super) fn respond_error(
        &mut self,
        cx: &mut ClientSide<'_, 'c>,
        shared: &mut Shared<'c>,
        status: u16,
    ) -> LinkStep {
        self.respond_error_with(cx, shared, status, b"")
    }

    /// [`Link::respond_error`] with more header lines (`Name: value\r\n`), after
    /// `Connection`.
    pub(super) fn respond_error_with(
        &mut self,
        cx: &mut ClientSide<'_, 'c>,
        shared: &mut Shared<'c>,
        status: u16,
        extra: &[u8],
    ) -> LinkStep {
        self.drop_upstream(shared, false);
        let a = &mut *cx.a;
        let Some(req) = a.req.as_mut() else {
            return LinkStep::Close;
        };
        // nginx answers at once, with the rest of the body unread: it cannot keep the
        // connection unless the body was fully read.
        let body_done = matches!(self.body, BodyIn::Done);
        req.keepalive &= body_done && !shared.shutting_down;
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
        if req.keepalive {
            a.out.extend_from_slice(b"Connection: keep-alive\r\n");
            if let Some(t) = self.loc.keepalive_timeout.1 {
                let _ = write!(a.out, "Keep-Alive: timeout={}\r\n", t.as_secs());
            }
        } else {
            a.out.extend_from_slice(b"Connection: close\r\n");
        }
        a.out.extend_from_slice(extra);
        a.out.extend_from_slice(b"\r\n");
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
}
