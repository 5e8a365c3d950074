//! The exchange on an upstream connection: the request out, the response in — its head
//! parsed by the protocol, its body framed into the response buffer (or spilled to the
//! temporary file), the upstream's end.

use super::*;

impl<'c, P: Protocol> Upstream<'c, P> {
    /// Writes the request and reads the response; true if anything moved.
    pub(super) fn exchange(
        &mut self,
        env: &mut Env<'_, 'c>,
        cx: &RequestLog<'_>,
        client_blocked: bool,
    ) -> bool {
        let mut progress = false;
        // TLS records left from an earlier write go on the writable edge, whether or not
        // request bytes are left.
        if let State::Sending(p) | State::ReadingHead(p) | State::ReadingBody(p) = &mut self.state
            && p.writable
            && p.sock.pending()
        {
            match p.sock.flush() {
                Ok(()) => progress = true,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => p.writable = false,
                Err(e) => {
                    let what = format!("SSL_write() failed ({})", sys::errno_text(&e));
                    self.fail(
                        env,
                        cx,
                        TryFailure::Error,
                        &what,
                        "sending request to upstream",
                    );
                    return true;
                }
            }
        }
        if self.request.pending() {
            let p = match &mut self.state {
                State::Sending(p) | State::ReadingHead(p) | State::ReadingBody(p) => p,
                _ => return false,
            };
            let (sock, writable) = (&mut p.sock, &mut p.writable);
            match self.request.write_to(sock, writable) {
                Ok(moved) => {
                    if moved > 0 {
                        self.progress = env.now;
                        progress = true;
                        if let Some(t) = self.log.tries.last_mut() {
                            t.bytes_sent += moved as u64;
                        }
                    }
                }
                Err(SendError::Socket(e)) => {
                    let what = format!("writev() failed ({})", sys::errno_text(&e));
                    self.fail(
                        env,
                        cx,
                        TryFailure::Error,
                        &what,
                        "sending request to upstream",
                    );
                    return true;
                }
                Err(SendError::Stored(e)) => {
                    cx.line(
                        LogLevel::Crit,
                        &format_args!(
                            "pread() of the buffered client request body failed ({})",
                            sys::errno_text(&e)
                        ),
                        None,
                    );
                    self.drop_peer(env, false);
                    self.state = State::Failed(Failure::ours());
                    return true;
                }
            }
        }
        if matches!(self.state, State::Sending(_)) && self.request.sent() {
            if let Some(p) = self.take_peer(State::Done) {
                self.state = State::ReadingHead(p);
            }
            progress = true;
        }
        progress | self.read(env, cx, client_blocked)
    }

    pub(super) fn read(
        &mut self,
        env: &mut Env<'_, 'c>,
        cx: &RequestLog<'_>,
        client_blocked: bool,
    ) -> bool {
        let mut progress = false;
        self.blocked = false;
        loop {
            let head_accepted = self.head.is_some();
            if head_accepted && !self.head_taken {
                return progress;
            }
            let limit = if head_accepted {
                usize::MAX
            } else {
                self.settings.buffer_size.max(MIN_HEAD_BUFFER)
            };
            let Some(p) = (match &mut self.state {
                State::Sending(p) | State::ReadingHead(p) | State::ReadingBody(p) => Some(p),
                _ => None,
            }) else {
                return progress;
            };
            if !p.readable {
                return progress;
            }
            // `*_limit_rate`: no more than the allowance (a buffered body only).
            let mut allowed = usize::MAX;
            if head_accepted && let Some(rate) = &self.rate {
                match rate.allowance(env.now) {
                    Ok(n) => allowed = n,
                    Err(at) => {
                        self.rate_wait = Some(at);
                        self.progress = env.now;
                        return progress;
                    }
                }
            }
            let Some(room) = self.response.room(limit) else {
                if !head_accepted {
                    self.fail(
                        env,
                        cx,
                        TryFailure::InvalidHeader,
                        "upstream sent too big header",
                        "reading response header from upstream",
                    );
                    return true;
                }
                if client_blocked && self.spill(env, cx) {
                    continue;
                }
                if self.is_broken() {
                    return true;
                }
                // Full: the client must take bytes first (back-pressure).
                self.blocked = true;
                return progress;
            };
            let take = room.len().min(allowed);
            let room = &mut room[..take];
            match p.sock.read(room) {
                Ok(0) => {
                    p.readable = false;
                    self.upstream_eof(env, cx);
                    return true;
                }
                Ok(n) => {
                    let from = self.response.filled(n);
                    if let Some(t) = self.log.tries.last_mut() {
                        t.bytes_received += n as u64;
                    }
                    if head_accepted && let Some(rate) = self.rate.as_mut() {
                        rate.count(n, env.now);
                    }
                    self.got_bytes = true;
                    self.progress = env.now;
                    progress = true;
                    if !self.deframe(env, cx, from) {
                        return true;
                    }
                    if head_accepted {
                        self.decode(env, cx, from);
                    } else {
                        self.parse_head(env, cx);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => p.readable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let during = if head_accepted {
                        "reading upstream"
                    } else {
                        "reading response header from upstream"
                    };
                    let what = format!("recv() failed ({})", sys::errno_text(&e));
                    self.fail(env, cx, TryFailure::Error, &what, during);
                    return true;
                }
            }
        }
    }

    /// Has the protocol remove the framing of the bytes read from `from` on; false when it
    /// refused them (the try failed before the head, or the body broke after it).
    pub(super) fn deframe(
        &mut self,
        env: &mut Env<'_, 'c>,
        cx: &RequestLog<'_>,
        from: usize,
    ) -> bool {
        let head_accepted = self.head.is_some();
        let during = if head_accepted {
            "reading upstream"
        } else {
            "reading response header from upstream"
        };
        let log = ProtoLog {
            request: cx,
            addr: self.addr.as_ref(),
            during,
        };
        let (buf, _) = self.response.bytes_mut();
        let refused = match self.proto.deframe(buf, from, &log) {
            Ok(end) => {
                self.response.truncate(end);
                return true;
            }
            Err(r) => r,
        };
        if head_accepted {
            if let Refused::Invalid(what) = refused {
                cx.line(
                    LogLevel::Error,
                    &format_args!("{what} while {during}"),
                    Some(self.upstream_name(None)),
                );
            }
            self.response.truncate(from);
            self.broken(env);
            return false;
        }
        let what = match &refused {
            Refused::Invalid(what) => what.as_ref(),
            // Logged by the protocol already.
            Refused::Logged => "",
        };
        self.fail(env, cx, TryFailure::InvalidHeader, what, during);
        false
    }

    /// Moves buffered body bytes to the temporary file; true if room was made. A file that
    /// cannot be written ends the response as nginx's event pipe does (the client has part
    /// of it: its connection closes after what is buffered).
    pub(super) fn spill(&mut self, env: &mut Env<'_, 'c>, cx: &RequestLog<'_>) -> bool {
        let s = &self.settings;
        if !s.buffering || s.max_temp_file_size == 0 {
            return false;
        }
        match self.response.spill(
            s.busy_buffers_size,
            s.temp_file_write_size,
            s.max_temp_file_size,
            s.temp_path,
        ) {
            Ok(Spill::Moved) => true,
            Ok(Spill::Full) => false,
            Ok(Spill::Created(path)) => {
                let what = format!(
                    "an upstream response is buffered to a temporary file {} while reading upstream",
                    path.display()
                );
                cx.line(LogLevel::Warn, &what, Some(self.upstream_name(None)));
                true
            }
            Err(e) => {
                cx.line(
                    LogLevel::Crit,
                    &format_args!(
                        "write to a temporary file in \"{}\" failed ({}) while reading upstream",
                        s.temp_path.display(),
                        sys::errno_text(&e)
                    ),
                    Some(self.upstream_name(None)),
                );
                self.broken(env);
                false
            }
        }
    }

    pub(super) fn parse_head(&mut self, env: &mut Env<'_, 'c>, cx: &RequestLog<'_>) {
        loop {
            match self.proto.parse_head(self.response.unread()) {
                Parsed::Incomplete => return,
                Parsed::Interim(len) => {
                    // An interim response (100 Continue): skip it.
                    self.response.skip(len);
                    if self.response.unread().is_empty() {
                        return;
                    }
                }
                Parsed::TooBig => {
                    self.fail(
                        env,
                        cx,
                        TryFailure::InvalidHeader,
                        "upstream sent too big header",
                        "reading response header from upstream",
                    );
                    return;
                }
                Parsed::Invalid(what) => {
                    self.fail(
                        env,
                        cx,
                        TryFailure::InvalidHeader,
                        &what,
                        "reading response header from upstream",
                    );
                    return;
                }
                Parsed::Head(facts) => {
                    self.accept_head(env, facts);
                    return;
                }
            }
        }
    }

    pub(super) fn accept_head(&mut self, env: &mut Env<'_, 'c>, facts: HeadFacts) {
        let now = env.now;
        // The bytes after the head are the body's (`$upstream_response_length`).
        let unread = self.response.unread().len().saturating_sub(facts.len) as u64;
        if let Some(t) = self.log.tries.last_mut() {
            t.status = facts.status;
            t.header_time = Some(now.saturating_duration_since(self.try_started));
            t.head_end = Some(t.bytes_received.saturating_sub(unread));
        }
        // For `$upstream_http_*` and `$upstream_cookie_*`, also after an intercepted error
        // or a retried status (nginx keeps `u->headers_in`).
        if self.keep_head {
            let head = self.response.unread();
            self.log.keep_head(&head[..facts.len.min(head.len())]);
        }
        let bit = NextUpstream::for_status(facts.status);
        if bit != 0 && self.may_retry(bit, now) {
            if let Some(t) = self.log.tries.last_mut() {
                t.time = Some(now.saturating_duration_since(self.try_started));
            }
            // 403 and 404 are answers, not failures of the server.
            let failed = !matches!(facts.status, 403 | 404);
            self.drop_peer(env, failed);
            self.retry();
            return;
        }
        if let Some(p) = self.take_peer(State::Done) {
            self.state = State::ReadingBody(p);
        }
        self.body_end = self.proto.start_body(&facts);
        self.reusable = self.target.keepalive
            && facts.keepalive
            && !facts.upgrade
            && self.body_end != BodyEnd::AtClose;
        self.head = Some(facts);
    }

    /// The connection took the head (it built the client's from it): the body starts.
    pub fn take_head(&mut self, env: &mut Env<'_, 'c>, cx: &RequestLog<'_>) {
        let Some(facts) = self.head else {
            return;
        };
        if self.head_taken {
            return;
        }
        self.head_taken = true;
        self.response.skip(facts.len);
        if self.cached {
            // The body is the cache file's, already in the buffer.
            return;
        }
        // `*_limit_rate`, for a buffered body, from now on.
        self.rate =
            ReadRate::new(self.settings.limit_rate, env.now).filter(|_| self.settings.buffering);
        let start = self.response.unread_start();
        if self.body_end == BodyEnd::Empty {
            if !self.response.unread().is_empty() {
                self.reusable = false;
            }
            self.response.truncate(start);
            self.body_complete(env, cx);
            return;
        }
        self.decode(env, cx, start);
    }

    /// Frames new body bytes from `from`.
    pub(super) fn decode(&mut self, env: &mut Env<'_, 'c>, cx: &RequestLog<'_>, from: usize) {
        let log = ProtoLog {
            request: cx,
            addr: self.addr.as_ref(),
            during: "reading upstream",
        };
        let (buf, end) = self.response.bytes_mut();
        match self.proto.decode_body(buf, from, end, &log) {
            Ok(d) => {
                let failed = match self.fill.as_mut() {
                    Some(fill) => fill.body(buf.get(from..d.end).unwrap_or_default()),
                    None => None,
                };
                // The entry has the whole body; the client its range.
                let end = self.proto.cut_range(buf, from, d.end);
                self.response.truncate(end);
                if let Some(e) = failed {
                    cx.line(
                        LogLevel::Crit,
                        &format_args!(
                            "write to a cache file failed ({}) while reading upstream",
                            sys::errno_text(&e)
                        ),
                        Some(self.upstream_name(None)),
                    );
                }
                if d.surplus {
                    self.reusable = false;
                }
                if d.done {
                    self.body_complete(env, cx);
                }
            }
            Err(what) => {
                self.response.truncate(from);
                cx.line(
                    LogLevel::Error,
                    &format_args!("{what} while reading upstream"),
                    Some(self.upstream_name(None)),
                );
                self.broken(env);
            }
        }
    }

    pub(super) fn upstream_eof(&mut self, env: &mut Env<'_, 'c>, cx: &RequestLog<'_>) {
        if self.head.is_none() {
            self.fail(
                env,
                cx,
                TryFailure::Error,
                "upstream prematurely closed connection",
                "reading response header from upstream",
            );
            return;
        }
        if self.body_end == BodyEnd::AtClose {
            self.reusable = false;
            self.body_complete(env, cx);
            return;
        }
        cx.line(
            LogLevel::Error,
            &"upstream prematurely closed connection while reading upstream",
            Some(self.upstream_name(None)),
        );
        self.broken(env);
    }

    /// The whole body is in the buffer: the connection goes back to the pool (when the
    /// upstream and the request allow it) or is closed.
    pub(super) fn body_complete(&mut self, env: &mut Env<'_, 'c>, cx: &RequestLog<'_>) {
        self.finish_try_time(env.now);
        // The whole response is in the cache's temporary file: it becomes the entry.
        if let Some(fill) = self.fill.take()
            && let Err(e) = fill.commit()
        {
            cx.line(
                LogLevel::Crit,
                &format_args!(
                    "rename() of a cache file failed ({}) while reading upstream",
                    sys::errno_text(&e)
                ),
                Some(self.upstream_name(None)),
            );
        }
        let reusable = self.reusable && self.request.sent();
        self.release(env, reusable);
    }

    /// The upstream stopped mid-body.
    pub(super) fn broken(&mut self, env: &mut Env<'_, 'c>) {
        self.fill = None;
        self.finish_try_time(env.now);
        self.drop_peer(env, false);
        self.state = State::Broken;
    }

    pub(super) fn finish_try_time(&mut self, now: Instant) {
        if let Some(t) = self.log.tries.last_mut()
            && t.time.is_none()
        {
            t.time = Some(now.saturating_duration_since(self.try_started));
        }
    }
}
