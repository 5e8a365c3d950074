//! The upstream socket (request out, response in, head parsing, body framing) and the
//! response towards the client: bounded buffers, so a slow client stops the upstream reads.

use std::os::fd::AsRawFd;

use super::super::ranges::Ranged;

use super::*;

impl<'c> Link<'c> {
    // ---- upstream socket ----

    pub(super) fn send_upstream(
        &mut self,
        cx: &mut ClientSide<'_, 'c>,
        shared: &mut Shared<'c>,
    ) -> Flow {
        let mut progress = false;
        // The head and the start of a buffered body in one writev, as nginx sends its
        // request chain: an upstream that reads once sees both.
        if self.out_pos < self.out.len()
            && self.up_writable
            && self.stored_pos == 0
            && let (Some(stored), Some(sock)) = (self.stored.as_mut(), self.sock.as_ref())
            && !stored.is_empty()
            && let Ok(body) = stored.bytes_at(0)
        {
            let head = &self.out[self.out_pos..];
            match sys::writev2(sock.as_raw_fd(), head, body) {
                Ok(n) => {
                    let from_head = n.min(head.len());
                    self.out_pos += from_head;
                    self.stored_pos += (n - from_head) as u64;
                    if let Some(t) = self.log.current() {
                        t.bytes_sent += n as u64;
                    }
                    self.up_progress = shared.now;
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.up_writable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.send_failed(cx, shared, &e),
            }
        }
        while self.out_pos < self.out.len() && self.up_writable {
            let Some(sock) = self.sock.as_mut() else {
                return Ok(progress);
            };
            match sock.write(&self.out[self.out_pos..]) {
                Ok(n) => {
                    self.out_pos += n;
                    if let Some(t) = self.log.current() {
                        t.bytes_sent += n as u64;
                    }
                    self.up_progress = shared.now;
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.up_writable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.send_failed(cx, shared, &e),
            }
        }
        // A buffered body follows the head.
        while self.out_pos >= self.out.len() && self.up_writable {
            let (Some(stored), Some(sock)) = (self.stored.as_mut(), self.sock.as_mut()) else {
                break;
            };
            if self.stored_pos >= stored.len() {
                break;
            }
            let data = match stored.bytes_at(self.stored_pos) {
                Ok(d) if !d.is_empty() => d,
                Ok(_) => break,
                Err(e) => {
                    elog!(
                        LogLevel::Crit,
                        "*{} pread() of the buffered client request body failed ({})",
                        cx.id,
                        sys::errno_text(&e)
                    );
                    return Err(self.respond_error(cx, shared, 500));
                }
            };
            match sock.write(data) {
                Ok(n) => {
                    self.stored_pos += n as u64;
                    if let Some(t) = self.log.current() {
                        t.bytes_sent += n as u64;
                    }
                    self.up_progress = shared.now;
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.up_writable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.send_failed(cx, shared, &e),
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

    /// A write of the request to the upstream failed: nginx's error line, then the next
    /// upstream or an error answer.
    fn send_failed(
        &mut self,
        cx: &mut ClientSide<'_, 'c>,
        shared: &mut Shared<'c>,
        e: &io::Error,
    ) -> Flow {
        let what = format!("writev() failed ({})", sys::errno_text(e));
        self.fail(
            cx,
            shared,
            Failure::Error,
            &what,
            "sending request to upstream",
        )?;
        Ok(true)
    }

    pub(super) fn read_upstream(
        &mut self,
        cx: &mut ClientSide<'_, 'c>,
        shared: &mut Shared<'c>,
    ) -> Flow {
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
            let mut end = self.resp.len().min(limit);
            if self.head_done
                && let Some(rate) = &self.read_rate
            {
                match rate.allowance(shared.now) {
                    Ok(n) => end = end.min(self.resp_end.saturating_add(n)),
                    Err(at) => {
                        // The read timeout waits too, as nginx replaces it by the delay.
                        self.rate_wait = Some(at);
                        self.up_progress = shared.now;
                        return Ok(progress);
                    }
                }
            }
            self.rate_wait = None;
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
                    if let Some(t) = self.log.current() {
                        t.bytes_received += n as u64;
                    }
                    if self.head_done
                        && let Some(rate) = self.read_rate.as_mut()
                    {
                        rate.count(n);
                    }
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

    pub(super) fn upstream_eof(
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
                    t.time = Some(shared.now.saturating_duration_since(self.try_started));
                }
                self.drop_upstream(shared, false);
                self.aborting = true;
                Ok(())
            }
        }
    }

    /// Parses the response head once it is complete.
    pub(super) fn try_head(
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

    pub(super) fn process_head(
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
        let unread = (self.resp_end - self.head.len.min(self.resp_end)) as u64;
        if let Some(t) = self.log.tries.last_mut() {
            t.status = status;
            t.header_time = Some(now.saturating_duration_since(self.try_started));
            t.head_end = Some(t.bytes_received.saturating_sub(unread));
        }
        // For $upstream_http_* and $upstream_cookie_*, also after an intercepted error or
        // an X-Accel-Redirect (nginx keeps u->headers_in).
        if shared.http.user_vars.reads_upstream_head() {
            self.log
                .keep_head(&self.resp[..self.head.len.min(self.resp_end)]);
        }
        let bit = NextUpstream::for_status(status);
        if bit != 0 && self.may_retry(bit, now) {
            if let Some(t) = self.log.tries.last_mut() {
                t.time = Some(now.saturating_duration_since(self.try_started));
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
        // proxy_intercept_errors: a status that has an error_page is answered by the routing
        // engine (ngx_http_upstream_intercept_errors), not relayed.
        if self.loc.proxy_intercept_errors
            && status >= 300
            && self.loc.error_page_for(status).is_some()
        {
            return Err(self.intercept(cx, shared, status));
        }
        // X-Accel-Redirect: the request goes on elsewhere (ngx_http_upstream_process_headers).
        if !upgrade
            && let Some(redirect) = super::super::accel::redirect(
                &self.head,
                &self.resp,
                self.loc,
                self.setup.cookies.as_deref(),
            )
        {
            return Err(self.accel_redirect(cx, shared, redirect));
        }
        let buffering = super::super::accel::buffering(&self.head, &self.resp, self.loc)
            .unwrap_or(self.loc.proxy_buffering);
        self.resp_cap = super::super::accel::response_cap(self.loc, buffering);
        self.read_rate =
            super::super::rate::ReadRate::new(self.loc.proxy_limit_rate, now).filter(|_| buffering);
        self.framing = if upgrade {
            Framing::Empty
        } else {
            self.head.framing(self.setup.head_method)
        };
        self.remaining = match self.framing {
            Framing::Length(n) => n,
            _ => 0,
        };
        // `chunked_transfer_encoding off`: the body goes to the client unframed and the
        // connection closes after it, as for an HTTP/1.0 client.
        self.dechunk = self.framing == Framing::Chunked
            && (!self.client_http11 || !self.loc.chunked_transfer_encoding);
        // proxy_force_ranges: nginx's range filter on this response.
        let ranged = if upgrade {
            Ranged::No
        } else {
            let buf = &cx.a.buf[cx.a.start.min(cx.a.filled)..cx.a.filled];
            super::super::ranges::decide(
                self.loc.proxy_force_ranges,
                &self.head,
                &self.resp,
                cx.a.head.header(buf, b"range"),
                cx.a.head.header(buf, b"if-range"),
            )
        };
        match ranged {
            Ranged::Unsatisfiable { total } => {
                self.discard_response(cx, shared);
                let value = format!("Content-Range: bytes */{total}\r\n");
                return Err(self.respond_error_with(cx, shared, 416, value.as_bytes()));
            }
            Ranged::Part { start, end, .. } => {
                self.slice = Some(super::super::ranges::Slice::new(start, end));
            }
            _ => {}
        }
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
            && !shared.shutting_down
            && self.framing != Framing::UntilClose
            && !self.dechunk
            && body_done
            && !upgrade;
        req.keepalive = self.client_keepalive;
        // A Location that a proxy_redirect rule turns into a path is made absolute, as
        // nginx's header filter does (absolute_redirect).
        let mut location_base = Vec::new();
        if self.loc.absolute_redirect
            && self.setup.redirects.is_some()
            && self.head.header(&self.resp, "location").is_some()
        {
            let buf = &a.buf[a.start.min(a.filled)..a.filled];
            crate::worker::redirect_base(
                self.loc,
                req.server,
                a.head.host.map(|h| h.get(buf)),
                a.route.local,
                &mut location_base,
            );
        }
        let input = ClientHeadInput {
            pass: &self.loc.proxy_pass_header,
            hide: &self.loc.proxy_hide_header,
            server_line: http_response::server_header(self.loc.server_tokens),
            date: shared.date.http_date(),
            chunked_to_client: self.framing == Framing::Chunked && !self.dechunk,
            keepalive: self.client_keepalive,
            keepalive_header: self.loc.keepalive_timeout.1.map(|t| t.as_secs()),
            redirects: self.setup.redirects.as_deref().unwrap_or_default(),
            location_base: (!location_base.is_empty()).then_some(&location_base[..]),
            cookies: self.setup.cookies.as_deref(),
            force_ranges: self.loc.proxy_force_ranges,
            ranged,
        };
        let start = a.out.len();
        response::build_client_head(&self.head, &self.resp, &input, &mut a.out);
        // `error_page CODE [=CODE] ...` to a proxied location: the error's status, with
        // its standard reason (nginx's r->err_status in ngx_http_send_header).
        let status = match a.route.err_status {
            Some(code) if code != status && !upgrade => {
                if let Some(eol) = memchr::memchr(b'\n', &a.out[start..]) {
                    a.out.splice(
                        start..start + eol + 1,
                        http_response::status_line(code).iter().copied(),
                    );
                }
                code
            }
            _ if matches!(ranged, Ranged::Part { .. }) => 206,
            _ => status,
        };
        req.header_bytes = (a.out.len() - start) as u64;
        req.bytes_sent += req.header_bytes;
        req.status = status;
        a.route.keep_sent_head(self.loc, &a.out[start..]);
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

    /// `X-Accel-Redirect`: the response is discarded (as an intercepted one) and the
    /// request goes on to the target, with the fields nginx keeps.
    fn accel_redirect(
        &mut self,
        cx: &mut ClientSide<'_, 'c>,
        shared: &mut Shared<'c>,
        redirect: super::super::accel::Redirect,
    ) -> LinkStep {
        self.discard_response(cx, shared);
        LinkStep::Redirect(Box::new(redirect))
    }

    /// Discards an intercepted response and answers with the routing engine.
    fn intercept(
        &mut self,
        cx: &mut ClientSide<'_, 'c>,
        shared: &mut Shared<'c>,
        status: u16,
    ) -> LinkStep {
        self.discard_response(cx, shared);
        if status == 401 {
            cx.a.route.www_authenticate = self
                .head
                .header(&self.resp, "www-authenticate")
                .map(<[u8]>::to_vec);
        }
        LinkStep::Intercept(status)
    }

    /// Drops a response the client will not get. The connection is pooled only when the
    /// whole response already arrived with its head (a short one usually does); a longer
    /// one is closed rather than drained.
    fn discard_response(&mut self, cx: &mut ClientSide<'_, 'c>, shared: &mut Shared<'c>) {
        if let Some(t) = self.log.tries.last_mut() {
            t.time = Some(shared.now.saturating_duration_since(self.try_started));
        }
        let body = &self.resp[self.head.len.min(self.resp_end)..self.resp_end];
        let complete = match self.head.framing(self.setup.head_method) {
            Framing::Empty => body.is_empty(),
            Framing::Length(n) => body.len() as u64 == n,
            Framing::Chunked => {
                let mut dec = ChunkedDecoder::new();
                let mut pos = 0;
                loop {
                    match dec.step(&body[pos..]) {
                        Ok(Chunk::Data { consumed, .. }) => pos += consumed,
                        Ok(Chunk::Done { consumed }) => break pos + consumed == body.len(),
                        Ok(Chunk::NeedMore { .. }) | Err(_) => break false,
                    }
                }
            }
            Framing::UntilClose => false,
        };
        let reusable = complete && self.setup.keepalive && !self.head.close && self.request_sent();
        self.release_upstream(shared, reusable);
        if let Some(req) = cx.a.req.as_mut()
            && !matches!(self.body, BodyIn::Done)
        {
            // The rest of the body is still on its way: no keep-alive after the answer.
            req.keepalive = false;
            req.lingering = true;
        }
        self.body = BodyIn::Done;
        // A buffered body goes with the request where it goes next, as nginx keeps
        // r->request_body.
        cx.a.route.request_body = self.stored.take();
    }

    /// Frames new body bytes `resp[from..resp_end]`: counts them, finds the end, drops what
    /// follows it, and removes chunk framing for an HTTP/1.0 client.
    pub(super) fn account(
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
                if let Some(slice) = self.slice.as_mut() {
                    // A 206: only the range's bytes go to the client.
                    let keep = slice.keep(self.resp_end - from);
                    self.resp
                        .copy_within(from + keep.start..from + keep.end, from);
                    self.resp_end = from + keep.len();
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

    pub(super) fn write_client(
        &mut self,
        cx: &mut ClientSide<'_, 'c>,
        shared: &mut Shared<'c>,
    ) -> Flow {
        let mut progress = false;
        loop {
            let a = &mut *cx.a;
            let head = &a.out[a.out_pos.min(a.out.len())..];
            let body: &[u8] = if self.head_done && self.resp_start < self.resp_end {
                &self.resp[self.resp_start..self.resp_end]
            } else {
                &[]
            };
            if head.is_empty() && body.is_empty() {
                if a.out_pos > 0 {
                    a.out.clear();
                    a.out_pos = 0;
                }
                return Ok(progress);
            }
            if !*cx.writable {
                return Ok(progress);
            }
            // The response head and the body bytes at hand leave in one writev.
            let written = match (head.is_empty(), body.is_empty()) {
                (false, false) => sys::writev2(cx.sock.as_raw_fd(), head, body),
                (false, true) => cx.sock.write(head),
                _ => cx.sock.write(body),
            };
            match written {
                Ok(n) => {
                    progress = true;
                    self.client_progress = shared.now;
                    let from_head = n.min(head.len());
                    a.out_pos += from_head;
                    let from_body = n - from_head;
                    self.resp_start += from_body;
                    if from_body > 0
                        && let Some(req) = a.req.as_mut()
                    {
                        req.bytes_sent += from_body as u64;
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
}
