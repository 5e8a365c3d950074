//! The client's request body towards the upstream, and watching the client while the
//! response head is awaited (499).

use super::*;

impl<'c> Link<'c> {
    // ---- request body, buffered (proxy_request_buffering on) ----

    /// Reads the body into memory or its temporary file; once all of it is here, the head
    /// gets its `Content-Length` (also for a chunked body) and the upstream is chosen.
    pub(super) fn buffer_body(
        &mut self,
        cx: &mut ClientSide<'_, 'c>,
        shared: &mut Shared<'c>,
    ) -> Flow {
        let mut progress = false;
        let mut chunk = [0u8; CLIENT_READ_CHUNK];
        loop {
            if matches!(self.body, BodyIn::Done) {
                self.body_buffered();
                return Ok(true);
            }
            let a = &mut *cx.a;
            let Some(req) = a.req.as_mut() else {
                return Ok(progress);
            };
            let body_start = a.start + req.head_len + req.body_in_buf;
            let from_head = body_start < a.filled;
            let n = if from_head {
                // Bytes that came with the head first.
                let n = (a.filled - body_start).min(chunk.len());
                chunk[..n].copy_from_slice(&a.buf[body_start..body_start + n]);
                n
            } else {
                if !*cx.readable {
                    return Ok(progress);
                }
                match cx.sock.read(&mut chunk) {
                    Ok(0) => {
                        let what = "client prematurely closed connection while reading client request body";
                        self.log_line(cx, LogLevel::Info, what, None);
                        return Err(self.client_gone(cx, shared, 400));
                    }
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        *cx.readable = false;
                        return Ok(progress);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return Err(self.client_gone(cx, shared, 499)),
                }
            };
            let (used, done) = match self.store(&chunk[..n], cx) {
                Ok(r) => r,
                Err(Stored::BadChunk) => return Err(self.client_body_error(cx, shared)),
                Err(Stored::Failed) => return Err(self.respond_error(cx, shared, 500)),
                Err(Stored::TooLarge { had, more }) => {
                    // A Content-Length body was checked before the phases; a chunked one
                    // is checked as it arrives (ngx_http_request_body_chunked_filter).
                    let what = format!(
                        "client intended to send too large chunked body: {had}+{more} bytes"
                    );
                    self.log_line(cx, LogLevel::Error, &what, None);
                    return Err(self.respond_error(cx, shared, 413));
                }
            };
            let a = &mut *cx.a;
            if from_head {
                if let Some(req) = a.req.as_mut() {
                    req.body_in_buf += used;
                    req.body_read += used as u64;
                }
            } else {
                if used < n {
                    // Past the body's end: the next pipelined request, back to the head buffer.
                    let extra = &chunk[used..n];
                    if a.buf.len() < a.filled + extra.len() {
                        a.buf.resize(a.filled + extra.len(), 0);
                    }
                    a.buf[a.filled..a.filled + extra.len()].copy_from_slice(extra);
                    a.filled += extra.len();
                }
                if let Some(req) = a.req.as_mut() {
                    req.body_read += used as u64;
                }
                self.client_progress = shared.now;
            }
            if done {
                self.body = BodyIn::Done;
            }
            progress = true;
        }
    }

    /// Feeds client bytes to the body reader and keeps the body's data; returns (bytes
    /// that belong to the body, done).
    fn store(&mut self, input: &[u8], cx: &ClientSide<'_, 'c>) -> Result<(usize, bool), Stored> {
        let Some(stored) = self.stored.as_mut() else {
            return Err(Stored::Failed);
        };
        let limit = self.loc.client_body_buffer_size;
        let max = self.loc.client_max_body_size;
        let dir = self.loc.client_body_temp_path.as_path();
        let mut spilled = None;
        // `chunk_rest`: for a chunked body, the bytes of the chunk still to come after
        // `data`. Its whole size counts at its first bytes, as nginx checks at the size line.
        let mut keep = |data: &[u8], chunk_rest: Option<u64>| -> Result<(), Stored> {
            if let Some(rest) = chunk_rest
                && max > 0
                && stored.len() + data.len() as u64 + rest > max
            {
                return Err(Stored::TooLarge {
                    had: stored.len(),
                    more: data.len() as u64 + rest,
                });
            }
            match stored.append(data, limit, dir) {
                Ok(Some(path)) => spilled = Some(path),
                Ok(None) => {}
                Err(e) => {
                    elog!(
                        LogLevel::Crit,
                        "*{} write of the client request body to a temporary file in \"{}\" failed ({})",
                        cx.id,
                        dir.display(),
                        sys::errno_text(&e)
                    );
                    return Err(Stored::Failed);
                }
            }
            Ok(())
        };
        let result = match &mut self.body {
            BodyIn::Done => Ok((0, true)),
            BodyIn::Length(left) => {
                let n = (*left).min(input.len() as u64) as usize;
                keep(&input[..n], None)?;
                *left -= n as u64;
                Ok((n, *left == 0))
            }
            BodyIn::Chunked(dec) => {
                let mut used = 0;
                loop {
                    match dec.step(&input[used..]).map_err(|_| Stored::BadChunk)? {
                        Chunk::Data {
                            start,
                            end,
                            consumed,
                        } => {
                            let rest = dec.remaining();
                            keep(&input[used + start..used + end], Some(rest))?;
                            used += consumed;
                        }
                        Chunk::NeedMore { consumed } => break Ok((used + consumed, false)),
                        Chunk::Done { consumed } => break Ok((used + consumed, true)),
                    }
                    if used >= input.len() {
                        break Ok((used, false));
                    }
                }
            }
        };
        if let Some(path) = spilled {
            let what = format!(
                "a client request body is buffered to a temporary file {}",
                path.display()
            );
            self.log_line(cx, LogLevel::Warn, &what, None);
        }
        result
    }

    /// The whole body is stored: its length goes into the head in place of the framing
    /// header the client's request had.
    fn body_buffered(&mut self) {
        self.reading_body = false;
        let len = self.stored.as_ref().map_or(0, |s| s.len());
        if self.setup.discard_body {
            // Read to keep the connection in step; not sent.
            self.stored = None;
        }
        if let Some(at) = self.setup.framing_at
            && let Some(eol) = memchr::memmem::find(self.out.get(at..).unwrap_or_default(), b"\r\n")
        {
            let line = format!("Content-Length: {len}\r\n");
            self.out.splice(at..at + eol + 2, line.into_bytes());
        }
    }

    // ---- request body, streamed (proxy_request_buffering off) ----

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
    /// request, unless `proxy_ignore_client_abort` is on.
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
            // `proxy_ignore_client_abort on`: nginx does not watch the client at all; the
            // upstream's answer is awaited (and fails to reach the client).
            Ok(0) if self.loc.proxy_ignore_client_abort => {
                self.client_pipelined = true;
                Ok(false)
            }
            Ok(0) => {
                // nginx's log action changes only when the upstream first becomes readable.
                let during = if self.got_bytes {
                    "reading response header from upstream"
                } else {
                    "sending request to upstream"
                };
                let what = if self.waiting_for_resolver() {
                    // No upstream connection yet: nginx's shorter line.
                    "epoll_wait() reported that client prematurely closed connection".to_string()
                } else {
                    format!(
                        "epoll_wait() reported that client prematurely closed connection, so upstream connection is closed too while {during}"
                    )
                };
                self.log_line(cx, LogLevel::Info, &what, None);
                if let Some(t) = self.log.tries.last_mut() {
                    t.time = Some(shared.now.saturating_duration_since(self.try_started));
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

/// Why a buffered body could not be kept.
pub(super) enum Stored {
    /// The client's chunked framing is broken (400).
    BadChunk,
    /// The temporary file could not be written (500).
    Failed,
    /// A chunked body grew past `client_max_body_size` (413): bytes kept, bytes arriving.
    TooLarge { had: u64, more: u64 },
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
