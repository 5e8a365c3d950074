//! The link's deadlines: the upstream's (connect, send, read between two reads; the tunnel's
//! inactivity) and the client's (send, body), checked on every drive.

use super::*;

impl<'c> Link<'c> {
    /// Upstream or client deadlines that passed.
    pub(super) fn check_deadlines(
        &mut self,
        cx: &mut ClientSide<'_, 'c>,
        shared: &mut Shared<'c>,
    ) -> Result<(), LinkStep> {
        let now = shared.now;
        if self.reading_body
            && let Some(at) = self.client_deadline(cx)
            && now >= at
        {
            // nginx terminates the request: no answer, no error-log line, 408 in the access
            // log (ngx_http_do_read_client_request_body → NGX_HTTP_REQUEST_TIME_OUT).
            return Err(self.client_gone(cx, shared, 408));
        }
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
            } else if self.request_pending() {
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

    pub(super) fn upstream_deadline(&self) -> Option<Instant> {
        self.sock.as_ref()?;
        if self.connecting {
            return Some(self.try_started + self.loc.proxy_connect_timeout);
        }
        if self.tunnel.is_some() {
            let last = self.up_progress.max(self.client_progress);
            return Some(last + self.loc.proxy_read_timeout);
        }
        if self.request_pending() && !self.up_writable {
            return Some(self.up_progress + self.loc.proxy_send_timeout);
        }
        if self.response_done || (self.head_done && self.resp_end >= self.resp_cap) {
            // Back-pressure: the client, not the upstream, is what we wait for.
            return None;
        }
        if !self.request_pending() && matches!(self.body, BodyIn::Done) || self.head_done {
            return Some(self.up_progress + self.loc.proxy_read_timeout);
        }
        None
    }

    pub(super) fn client_deadline(&self, cx: &ClientSide<'_, 'c>) -> Option<Instant> {
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

    pub(super) fn deadline(
        &self,
        cx: &ClientSide<'_, 'c>,
        _shared: &Shared<'c>,
    ) -> Option<Instant> {
        [
            self.upstream_deadline(),
            self.client_deadline(cx),
            self.rate_wait,
        ]
        .into_iter()
        .flatten()
        .min()
    }
}
