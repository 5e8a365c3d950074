//! A failed try: nginx's error-log lines, passive health, the stale pooled connection's
//! replay, the next server or the request's failure; releasing a connection to the pool.

use super::*;

impl<'c, P: Protocol> Upstream<'c, P> {
    /// `http://ADDR/URI` (or the group's name before a server was chosen) for log lines.
    pub(super) fn upstream_name(&self, group: Option<&str>) -> String {
        // `https://` (`suwsgi://`) for a TLS connection, as nginx's `u->schema`.
        let scheme = match (&self.target.tls, self.proto.scheme()) {
            (Some(_), "uwsgi") => "suwsgi",
            (Some(_), _) => "https",
            (None, plain) => plain,
        };
        upstream_name(scheme, group, self.addr.as_ref(), self.proto.log_uri())
    }

    /// Logs `what while during` (nothing when `what` is empty: the protocol logged it).
    pub(super) fn log_failure(&self, cx: &RequestLog<'_>, what: &str, during: &str) {
        if what.is_empty() {
            return;
        }
        cx.line(
            LogLevel::Error,
            &format_args!("{what} while {during}"),
            Some(self.upstream_name(None)),
        );
    }

    /// A try failed: log it, count it, then retry elsewhere or fail the request.
    pub(super) fn fail(
        &mut self,
        env: &mut Env<'_, 'c>,
        cx: &RequestLog<'_>,
        kind: TryFailure,
        what: &str,
        during: &str,
    ) {
        // A cached connection the upstream had closed: replay once on a fresh one.
        let stale = match self.peer_mut() {
            Some(p) => p.reused.then_some(p.index).flatten(),
            None => None,
        };
        if let Some(index) = stale
            && !self.got_bytes
            && !self.stale_retry_done
            && kind != TryFailure::Timeout
            && self.request.replayable()
        {
            self.stale_retry_done = true;
            // Released uncounted here; `connect` acquires it again for the fresh connection.
            self.drop_peer(env, false);
            self.log.tries.pop();
            self.fresh_retry = Some(index);
            self.retry();
            return;
        }
        let index = self.take_peer(State::Done).and_then(|p| {
            env.upstreams.open = env.upstreams.open.saturating_sub(1);
            p.index
        });
        self.try_failed(env, cx, kind, what, during, index);
    }

    /// A try failed with its connection gone: log it, count it against server `index`,
    /// then retry or fail the request.
    pub(super) fn try_failed(
        &mut self,
        env: &mut Env<'_, 'c>,
        cx: &RequestLog<'_>,
        kind: TryFailure,
        what: &str,
        during: &str,
        index: Option<usize>,
    ) {
        self.log_failure(cx, what, during);
        // A name's addresses are peers with max_fails=1 (unless there is only one).
        let disabled = match index {
            Some(_) => self.release_server(env, index, true),
            None => self.resolved_peers() > 1,
        };
        if disabled {
            let warn = format!("upstream server temporarily disabled while {during}");
            cx.line(LogLevel::Warn, &warn, Some(self.upstream_name(None)));
        }
        self.after_failure(env, kind);
    }

    /// After a failed try (its connection gone): the next one, or the request's failure.
    pub(super) fn after_failure(&mut self, env: &mut Env<'_, 'c>, kind: TryFailure) {
        let status = if kind == TryFailure::Timeout {
            504
        } else {
            502
        };
        if let Some(t) = self.log.tries.last_mut() {
            t.status = status;
            t.time = Some(env.now.saturating_duration_since(self.try_started));
        }
        if self.head.is_some() {
            // The client already has part of the response: all that is left is to close.
            self.state = State::Broken;
            return;
        }
        let bit = match kind {
            TryFailure::Error => NextUpstream::ERROR,
            TryFailure::Timeout => NextUpstream::TIMEOUT,
            TryFailure::InvalidHeader => NextUpstream::INVALID_HEADER,
        };
        self.failed_kind = bit;
        if self.may_retry(bit, env.now) {
            self.retry();
        } else {
            self.state = State::Failed(Failure::upstream(status));
        }
    }

    /// Whether the request may go to another server after a failure of kind `bit` (an
    /// error, a timeout, a status). As nginx, every try uses one of `u->peer.tries`, and
    /// the request goes on only while another remains.
    pub(super) fn may_retry(&mut self, bit: u16, now: Instant) -> bool {
        self.tries_left = self.tries_left.saturating_sub(1);
        let s = &self.settings;
        s.next_upstream.has(bit)
            && self.request.replayable()
            && (self.idempotent
                || s.next_upstream.has(NextUpstream::NON_IDEMPOTENT)
                || self.request.untouched())
            && self.tries_left > 0
            && (s.next_upstream_timeout.is_zero()
                || now.saturating_duration_since(self.started) < s.next_upstream_timeout)
            && (self.target.group != DIRECT || self.direct_peer_left())
    }

    /// Starts the request over for the next try.
    pub(super) fn retry(&mut self) {
        self.state = State::ChoosingPeer;
        self.request.rewind();
        self.response.clear();
        self.proto.reset();
        self.head = None;
        self.head_taken = false;
        self.got_bytes = false;
    }

    /// Releases a server of the group (`failed`: counted against it); true when that
    /// disables it for `fail_timeout`.
    pub(super) fn release_server(
        &mut self,
        env: &mut Env<'_, 'c>,
        index: Option<usize>,
        failed: bool,
    ) -> bool {
        match (index, env.upstreams.groups.get_mut(self.target.group)) {
            (Some(i), Some(g)) => g.release_try(
                i,
                failed,
                env.now,
                env.now.saturating_duration_since(self.try_started),
            ),
            _ => false,
        }
    }

    /// Closes the upstream connection (never pooled) and releases the server.
    pub(super) fn drop_peer(&mut self, env: &mut Env<'_, 'c>, failed: bool) {
        // Closing the descriptor takes it out of the epoll set too: no deregister call.
        if let Some(mut p) = self.take_peer(State::Done) {
            p.sock.shutdown();
            env.upstreams.open = env.upstreams.open.saturating_sub(1);
            self.release_server(env, p.index, failed);
        }
    }

    /// Ends the try's connection: back to the pool when `reusable` and it has requests
    /// left, else closed. The state becomes `Done`.
    pub(super) fn release(&mut self, env: &mut Env<'_, 'c>, reusable: bool) {
        let Some(mut p) = self.take_peer(State::Done) else {
            self.state = State::Done;
            return;
        };
        env.upstreams.open = env.upstreams.open.saturating_sub(1);
        self.release_server(env, p.index, false);
        let conf = env.groups.get(self.target.group);
        let requests = p.requests + 1;
        let (Some(conf), Some(index), true) = (conf, p.index, reusable) else {
            p.sock.shutdown();
            return;
        };
        // `keepalive_time`: an older connection serves its request, then closes.
        let keepalive_time = conf
            .keepalive_time
            .unwrap_or(crate::config::proxy_rest::DEFAULT_UPSTREAM_KEEPALIVE_TIME);
        let young = env.now.saturating_duration_since(p.opened) <= keepalive_time;
        if requests >= conf.keepalive_requests || !young || env.shutting_down {
            p.sock.shutdown();
            return;
        }
        let bound = pool::Bound {
            max: conf.keepalive,
            timeout: conf.keepalive_timeout,
        };
        let fd = p.sock.as_raw_fd();
        let usage = pool::Usage {
            requests,
            opened: p.opened,
        };
        if let Some(key) =
            env.upstreams
                .pool
                .put(p.sock, self.target.group, index, usage, bound, env.now)
        {
            env.upstreams.set_owner(fd, Owner::Pool(key));
        }
    }
}

/// `SCHEME://ADDR/URI` as nginx's `upstream:` part of an error-log line prints it: a
/// unix-domain socket's path and the URI are separated by `:` (`fastcgi://unix:/run/a.sock:`).
pub(crate) fn upstream_name(
    scheme: &str,
    group: Option<&str>,
    addr: Option<&PeerAddr>,
    uri: &[u8],
) -> String {
    let uri = String::from_utf8_lossy(uri);
    match (group, addr) {
        (Some(n), _) => format!("{scheme}://{n}{uri}"),
        (None, Some(a @ PeerAddr::Unix(_))) => format!("{scheme}://{a}:{uri}"),
        (None, Some(a)) => format!("{scheme}://{a}{uri}"),
        (None, None) => format!("{scheme}://{uri}"),
    }
}
