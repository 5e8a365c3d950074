//! Reading a request head: into the connection's buffer (grown to
//! `large_client_header_buffers` when needed), parsed again only when a line ended, and
//! answered with nginx's status when it cannot be parsed.

use super::*;
use crate::status::ConnState;

impl<'c> Conn<'c> {
    pub(super) fn read_head(&mut self, shared: &mut Shared<'c>, servers: &AddrServers) -> Step {
        let srv = &shared.http.servers[servers.default].srv;
        let (small, (large_n, large_size)) = (
            srv.client_header_buffer_size,
            srv.large_client_header_buffers,
        );
        let opts = ParseOptions {
            underscores_in_headers: srv.underscores_in_headers,
            ignore_invalid_headers: srv.ignore_invalid_headers,
        };
        if matches!(self.state, State::KeepAliveIdle) && !self.client.readable {
            return Step::Wait(self.deadline);
        }
        if !self.client.is_open() {
            return Step::Close;
        }
        if self.client.tls_accepting()
            && let Some(step) = self.accept_tls(shared, servers)
        {
            return step;
        }
        let wants_h2 = self.wants_h2(servers);
        // In clear, the first bytes decide (nginx 1.25's preface check): the HTTP/2
        // preface makes an HTTP/2 connection, anything else is HTTP/1.x on the same port.
        let mut h2c = wants_h2 && self.client.tls().is_none();
        if wants_h2 && !h2c && !self.proxy_protocol_pending {
            if let CertStatusDue::Before(server) = self.cert_status_due {
                return self.finish_handshake_for_cert_status(shared, server, small);
            }
            return self.become_h2(shared, servers);
        }
        if let Some(e) = self.h2_reject.take() {
            // An HTTP/2 stream whose fields were malformed: no head to read, nginx's 400.
            self.active.get_or_insert_with(|| shared.pool.take(small));
            return self.reject(shared, servers, e);
        }
        let a = self.active.get_or_insert_with(|| shared.pool.take(small));
        loop {
            if self.proxy_protocol_pending && a.filled > a.start {
                self.proxy_protocol_pending = false;
                match admission::read_proxy_protocol(self.id, self.peer, servers, a) {
                    Ok(header) => self.proxy_protocol = header,
                    Err(()) => return Step::Close,
                }
                // Over TLS the PROXY header came first and ALPN chose HTTP/2.
                if wants_h2 && !h2c {
                    return self.become_h2(shared, servers);
                }
            }
            // The whole preface decides, as nginx 1.25 compares it: a prefix of it waits
            // for more bytes, anything else is HTTP/1.x (where "PRI * HTTP/2.0" and
            // what follows is a bad request line).
            let mut undecided = false;
            if h2c && !self.proxy_protocol_pending && a.filled > a.start {
                let preface = crate::http2::frame::PREFACE;
                let got = &a.buf[a.start..a.filled];
                let n = got.len().min(preface.len());
                if got[..n] != preface[..n] {
                    h2c = false;
                } else if n == preface.len() {
                    return self.become_h2(shared, servers);
                } else {
                    undecided = true;
                }
            }
            // A head is parsed again from its start when bytes arrive, but only once it can
            // have changed its answer: on its first bytes (a TLS hello or a bad method is
            // refused at once), and then when a new line ends. A client that sends its head
            // a byte at a time so costs a line scan per byte, not a head parse per byte;
            // an error inside a line is found when the line ends (or the buffers fill).
            if a.filled > a.start {
                // A request has begun (its first bytes, or a pipelined one's).
                self.stat.enter(ConnState::Reading);
            }
            let first = a.scanned <= a.start;
            let line_ended = a.filled > a.scanned
                && memchr::memchr(b'\n', &a.buf[a.scanned.max(a.start)..a.filled]).is_some();
            if undecided {
                // A prefix of the HTTP/2 preface: not parsed as HTTP/1 yet.
            } else if a.filled > a.start && !first && !line_ended {
                // Only the line in progress grew: it must still fit one large buffer.
                let head = &a.buf[a.start..a.filled];
                let line_start = memchr::memrchr(b'\n', head).map_or(0, |i| i + 1);
                if head.len() - line_start > large_size
                    && let Err(e) = request::check_line_lengths(head, large_size)
                {
                    return self.reject(shared, servers, e);
                }
                a.scanned = a.filled;
            } else if a.filled > a.start {
                a.scanned = a.filled;
                a.head.clear();
                let head = &a.buf[a.start..a.filled];
                let parsed = request::parse_head(head, &mut a.head, &opts);
                a.head.http2 = self.http2.is_some();
                // A head that outgrew the small buffer lives in large ones, and each of
                // its lines must fit one of those (nginx moves line by line).
                if head.len() > small
                    && parsed.is_ok()
                    && let Err(e) = request::check_line_lengths(
                        &head[..parsed.ok().flatten().unwrap_or(head.len())],
                        large_size,
                    )
                {
                    return self.reject(shared, servers, e);
                }
                match parsed {
                    Ok(Some(_)) if self.cert_status_due != CertStatusDue::No => {
                        // `ssl_ocsp`: the request waits for its certificates' status.
                        let CertStatusDue::Before(server) = self.cert_status_due else {
                            return Step::Close;
                        };
                        return self.start_cert_status(shared, server);
                    }
                    Ok(Some(n)) => {
                        self.state = State::Responding;
                        self.stat.enter(ConnState::Writing);
                        return handler::start_request(self, shared, servers, n);
                    }
                    Ok(None) => {}
                    Err(e) => return self.reject(shared, servers, e),
                }
            }
            if a.filled == a.buf.len() {
                if a.start > 0 {
                    a.buf.copy_within(a.start..a.filled, 0);
                    a.filled -= a.start;
                    a.scanned = a.scanned.saturating_sub(a.start);
                    a.start = 0;
                } else if a.buf.len() < large_n * large_size {
                    let grown = if a.buf.len() < large_size {
                        large_size
                    } else {
                        (a.buf.len() + large_size).min(large_n * large_size)
                    };
                    a.buf.resize(grown, 0);
                } else {
                    let e = request::overflow_error(&a.buf[..a.filled]);
                    return self.reject(shared, servers, e);
                }
            }
            if !self.client.readable {
                return self.wait_for_head(shared);
            }
            match self.client.read(&mut a.buf[a.filled..]) {
                Ok(0) => {
                    if a.filled > a.start {
                        elog!(
                            LogLevel::Info,
                            "*{} client prematurely closed connection while reading client request headers, client: {}",
                            self.id,
                            self.peer.ip()
                        );
                    }
                    return Step::Close;
                }
                Ok(n) => {
                    if matches!(self.state, State::KeepAliveIdle) {
                        // The next request has begun: its head must arrive within the timeout.
                        self.state = State::ReadingHead;
                        self.deadline = Some(
                            shared.now
                                + shared.http.servers[servers.default]
                                    .srv
                                    .client_header_timeout,
                        );
                    }
                    a.filled += n;
                    // A short read drained the socket (nginx's `rev->ready = 0`): under
                    // edge-triggered epoll, more data brings a new event, so the recv()
                    // that would only say EAGAIN is skipped. Not once the FIN is queued:
                    // that needs a read of its own and brings no further event.
                    if a.filled < a.buf.len() && !self.client.read_closed {
                        self.client.readable = false;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if matches!(self.state, State::KeepAliveIdle) {
                        // Nothing arrived after all: an idle connection holds no buffer.
                        if let Some(a) = self.active.take() {
                            shared.pool.give(a, small);
                        }
                        // The keep-alive deadline set by `go_idle` must reach the timers.
                        return Step::Wait(self.deadline);
                    }
                    return self.wait_for_head(shared);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if crate::tls::is_tls_error(&e) => {
                    let doing = if self.requests == 0 && a.filled == a.start {
                        "SSL handshaking"
                    } else {
                        "reading client request headers"
                    };
                    elog!(
                        LogLevel::Info,
                        "*{} {e} while {doing}, client: {}",
                        self.id,
                        self.peer.ip()
                    );
                    return Step::Close;
                }
                Err(e) => {
                    elog!(
                        LogLevel::Info,
                        "*{} recv() failed ({}) while reading client request headers, client: {}",
                        self.id,
                        sys::errno_text(&e),
                        self.peer.ip()
                    );
                    return Step::Close;
                }
            }
        }
    }

    /// The head is incomplete: responses already queued (to the requests before it) go out
    /// now, as nginx answers a request at once and then reads the next one, rather than
    /// waiting for the rest of this head.
    pub(super) fn wait_for_head(&mut self, shared: &mut Shared<'c>) -> Step {
        match self.flush(&mut shared.compress) {
            Flush::Error => Step::Close,
            _ => Step::Wait(self.deadline),
        }
    }

    /// Answers a head that cannot be parsed with nginx's status, then closes.
    pub(super) fn reject(
        &mut self,
        shared: &mut Shared<'c>,
        servers: &AddrServers,
        e: HttpError,
    ) -> Step {
        self.state = State::Responding;
        handler::reject_request(self, shared, servers, e)
    }
}
