//! The client's request body towards the upstream, and watching the client while the
//! response head is awaited (499).

use super::*;

impl<'c> Link<'c> {
    // ---- request body ----

    /// Moves request-body bytes from the client (its head buffer first) towards the upstream.
    pub(super) fn pump_body(
        &mut self,
        cx: &mut ClientSide<'_, 'c>,
        shared: &mut Shared<'c>,
    ) -> Flow {
        let mut progress = false;
        loop {
            if matches!(self.body, BodyIn::Done) || self.out.len() - self.out_pos >= BODY_WINDOW {
                return Ok(progress);
            }
            let a = &mut *cx.a;
            let Some(req) = a.req.as_mut() else {
                return Ok(progress);
            };
            let body_start = a.start + req.head_len + req.body_in_buf;
            if body_start < a.filled {
                let input = &a.buf[body_start..a.filled];
                let (used, done) = match take_body(&mut self.body, input) {
                    Ok(r) => r,
                    Err(()) => return Err(self.client_body_error(cx, shared)),
                };
                self.out.extend_from_slice(&input[..used]);
                req.body_in_buf += used;
                req.body_read += used as u64;
                if done {
                    self.body = BodyIn::Done;
                }
                progress = true;
                continue;
            }
            if !*cx.readable {
                return Ok(progress);
            }
            let old = self.out.len();
            let want = match self.body {
                BodyIn::Length(n) => (n as usize).min(CLIENT_READ_CHUNK),
                _ => CLIENT_READ_CHUNK,
            };
            self.out.resize(old + want, 0);
            match cx.sock.read(&mut self.out[old..]) {
                Ok(0) => {
                    self.out.truncate(old);
                    self.body_to_client_eof = true;
                    let what =
                        "client prematurely closed connection while sending request to upstream";
                    self.log_line(cx, LogLevel::Info, what, None);
                    return Err(self.client_gone(cx, shared, 400));
                }
                Ok(n) => {
                    self.out.truncate(old + n);
                    let (used, done) = match take_body(&mut self.body, &self.out[old..]) {
                        Ok(r) => r,
                        Err(()) => {
                            self.out.truncate(old);
                            return Err(self.client_body_error(cx, shared));
                        }
                    };
                    if used < n {
                        // Past the body's end: the next pipelined request, back to the head
                        // buffer.
                        let extra = self.out[old + used..].to_vec();
                        self.out.truncate(old + used);
                        let a = &mut *cx.a;
                        if a.buf.len() < a.filled + extra.len() {
                            a.buf.resize(a.filled + extra.len(), 0);
                        }
                        a.buf[a.filled..a.filled + extra.len()].copy_from_slice(&extra);
                        a.filled += extra.len();
                    }
                    if let Some(req) = cx.a.req.as_mut() {
                        req.body_read += used as u64;
                    }
                    if done {
                        self.body = BodyIn::Done;
                    }
                    self.client_progress = shared.now;
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.out.truncate(old);
                    *cx.readable = false;
                    return Ok(progress);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => self.out.truncate(old),
                Err(_) => {
                    self.out.truncate(old);
                    return Err(self.client_gone(cx, shared, 499));
                }
            }
        }
    }

    pub(super) fn client_body_error(
        &mut self,
        cx: &mut ClientSide<'_, 'c>,
        shared: &mut Shared<'c>,
    ) -> LinkStep {
        self.log_line(cx, LogLevel::Info, "client sent invalid chunked body", None);
        self.drop_upstream(shared, false);
        self.body = BodyIn::Done;
        if self.head_done {
            return LinkStep::Close;
        }
        if let Some(req) = cx.a.req.as_mut() {
            req.keepalive = false;
        }
        self.respond_error(cx, shared, 400)
    }

    /// The client went away: 499 (or `status`), upstream closed, not pooled.
    pub(super) fn client_gone(
        &mut self,
        cx: &mut ClientSide<'_, 'c>,
        shared: &mut Shared<'c>,
        status: u16,
    ) -> LinkStep {
        self.drop_upstream(shared, false);
        if let Some(req) = cx.a.req.as_mut() {
            if !self.head_done {
                req.status = status;
            }
            req.keepalive = false;
            req.lingering = false;
        }
        LinkStep::Close
    }

    /// While waiting for the response head, a client that closes its connection aborts the
    /// request (nginx's `proxy_ignore_client_abort off`).
    pub(super) fn watch_client(
        &mut self,
        cx: &mut ClientSide<'_, 'c>,
        shared: &mut Shared<'c>,
    ) -> Flow {
        if !matches!(self.body, BodyIn::Done) || !*cx.readable || self.client_pipelined {
            return Ok(false);
        }
        let mut probe = [0u8; 1];
        match cx.sock.peek(&mut probe) {
            Ok(0) => {
                // nginx's log action changes only when the upstream first becomes readable.
                let during = if self.got_bytes {
                    "reading response header from upstream"
                } else {
                    "sending request to upstream"
                };
                let what = format!(
                    "epoll_wait() reported that client prematurely closed connection, so upstream connection is closed too while {during}"
                );
                self.log_line(cx, LogLevel::Info, &what, None);
                if let Some(t) = self.log.tries.last_mut() {
                    t.time = shared.now.saturating_duration_since(self.try_started);
                }
                Err(self.client_gone(cx, shared, 499))
            }
            // The next pipelined request: leave it (and the readiness) to the connection.
            Ok(_) => {
                self.client_pipelined = true;
                Ok(false)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                *cx.readable = false;
                Ok(false)
            }
            Err(_) => Err(self.client_gone(cx, shared, 499)),
        }
    }
}

/// Feeds client body bytes to the reader; returns (bytes that belong to the body, done).
pub(super) fn take_body(body: &mut BodyIn, input: &[u8]) -> Result<(usize, bool), ()> {
    match body {
        BodyIn::Done => Ok((0, true)),
        BodyIn::Length(left) => {
            let n = (*left).min(input.len() as u64);
            *left -= n;
            Ok((n as usize, *left == 0))
        }
        BodyIn::Chunked(dec) => {
            let mut used = 0;
            loop {
                match dec.step(&input[used..]).map_err(|_| ())? {
                    Chunk::Data { consumed, .. } => used += consumed,
                    Chunk::NeedMore { consumed } => return Ok((used + consumed, false)),
                    Chunk::Done { consumed } => return Ok((used + consumed, true)),
                }
                if used >= input.len() {
                    return Ok((used, false));
                }
            }
        }
    }
}
