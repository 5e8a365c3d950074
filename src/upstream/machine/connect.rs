//! Choosing a peer (the balancer, a pooled connection first) and connecting to it.

use super::*;
use crate::upstream::connect::{self, OpenError};

impl<'c, P: Protocol> Upstream<'c, P> {
    /// The server for the next try, or why there is none.
    pub(super) fn choose(
        &mut self,
        env: &mut Env<'_, 'c>,
        cx: &RequestLog<'_>,
    ) -> Result<Option<(Option<usize>, PeerAddr)>, Failure> {
        let now = env.now;
        let limit = self.settings.next_upstream_timeout;
        if self.tries > 0
            && !limit.is_zero()
            && now.saturating_duration_since(self.started) >= limit
        {
            return Err(Failure::upstream(502));
        }
        if self.target.group == DIRECT {
            // A `proxy_pass` with variables: its address, or its name's next one.
            return Ok(self.choose_direct(env, cx)?.map(|a| (None, a)));
        }
        let Some(conf) = env.groups.get(self.target.group) else {
            return Err(Failure::upstream(502));
        };
        let peer = match self.fresh_retry {
            // A replay on a fresh connection to the same server: counted again, as the
            // try before it was released.
            Some(p) => {
                if let Some(g) = env.upstreams.groups.get_mut(self.target.group) {
                    g.acquire(p, now);
                }
                p
            }
            None => {
                let Some(group) = env.upstreams.groups.get_mut(self.target.group) else {
                    return Err(Failure::upstream(502));
                };
                let picked = group.pick_and_acquire(
                    &conf.balance,
                    &self.tried,
                    self.client_ip,
                    &self.target.hash_key,
                    now,
                );
                match picked {
                    Ok(p) => {
                        self.leave_queue(env);
                        p
                    }
                    Err(_) => {
                        if let Some(q) = conf.queue {
                            match self.enter_queue(env, q) {
                                Ok(()) => return Ok(None),
                                Err(()) => cx.line(
                                    LogLevel::Error,
                                    &"upstream queue is full while connecting to upstream",
                                    Some(self.upstream_name(Some(&conf.name))),
                                ),
                            }
                        } else {
                            // Every try that finds no server has its own entry, named by
                            // the group, and ends the request with 502
                            // (ngx_http_upstream_next with NGX_HTTP_UPSTREAM_FT_NOLIVE).
                            cx.line(
                                LogLevel::Error,
                                &"no live upstreams while connecting to upstream",
                                Some(self.upstream_name(Some(&conf.name))),
                            );
                        }
                        self.log.tries.push(Try {
                            status: 502,
                            time: Some(Duration::ZERO),
                            ..Try::new(TryAddr::Group(conf.name.as_str().into()))
                        });
                        return Err(Failure::upstream(502));
                    }
                }
            }
        };
        let Some(server) = conf.servers.get(peer) else {
            if let Some(g) = env.upstreams.groups.get_mut(self.target.group) {
                g.release(peer, false, now);
            }
            return Err(Failure::upstream(502));
        };
        if let Some(t) = self.tried.get_mut(peer) {
            *t = true;
        }
        Ok(Some((Some(peer), server.addr.clone())))
    }

    /// No server now and the group has a `queue`: the request waits in its worker's line
    /// (or stays there, when this was its turn and still nothing is free); `Err`: the line
    /// is full.
    fn enter_queue(
        &mut self,
        env: &mut Env<'_, 'c>,
        q: crate::config::proxy_values::QueueConf,
    ) -> Result<(), ()> {
        if matches!(self.state, State::Queued(_)) {
            return Ok(());
        }
        let group = self.target.group;
        let full = env.upstreams.queues.len(group) >= q.size;
        if let Some(g) = env.upstreams.groups.get(group) {
            g.count_queue(i64::from(!full), full);
        }
        if full {
            return Err(());
        }
        env.upstreams.queues.push(group, env.client);
        self.state = State::Queued(env.now + q.timeout);
        Ok(())
    }

    /// Takes the request out of its worker's line, if it waits in it.
    pub(super) fn leave_queue(&mut self, env: &mut Env<'_, 'c>) {
        if !matches!(self.state, State::Queued(_)) {
            return;
        }
        let group = self.target.group;
        if env.upstreams.queues.remove(group, env.client)
            && let Some(g) = env.upstreams.groups.get(group)
        {
            g.count_queue(-1, false);
        }
        self.state = State::ChoosingPeer;
    }

    pub(super) fn connect(&mut self, env: &mut Env<'_, 'c>, cx: &RequestLog<'_>) {
        let now = env.now;
        let (index, addr) = match self.choose(env, cx) {
            Ok(Some(chosen)) => chosen,
            // The resolver works on the name.
            Ok(None) => return,
            Err(f) => {
                self.state = State::Failed(f);
                return;
            }
        };
        let fresh = self.fresh_retry.take().is_some();
        if !fresh {
            self.tries += 1;
        }
        self.addr = Some(addr.clone());
        self.try_started = now;
        self.progress = now;
        self.got_bytes = false;
        self.log.tries.push(Try::new(TryAddr::Server(addr.clone())));
        // A cached connection first, unless this is the replay after a stale one.
        if !fresh
            && (self.target.keepalive || self.target.reuse_pooled)
            && let Some(i) = index
            && let Some((sock, usage)) =
                env.upstreams
                    .pool
                    .take(self.target.group, i, self.target.tls.as_ref())
        {
            // Still registered from its first connect: only its owner changes.
            env.upstreams
                .set_owner(sock.as_raw_fd(), Owner::Client(env.client));
            env.upstreams.open += 1;
            self.mark_connected(now);
            self.state = State::Sending(Peer {
                sock,
                readable: true,
                writable: true,
                // Its interest is not known here: a write that blocks asks again.
                write_edges: false,
                index,
                reused: true,
                requests: usage.requests,
                opened: usage.opened,
            });
            return;
        }
        match connect::open_checked(&addr, &self.target.socket) {
            Ok((mut sock, done)) => {
                let fd = sock.as_raw_fd();
                env.upstreams.set_owner(fd, Owner::Client(env.client));
                // Connected at once (a unix socket): readable edges only, until a write
                // would block (`Upstream::want_writable_edges`).
                let interest = if done {
                    Interest::READABLE
                } else {
                    Interest::READABLE | Interest::WRITABLE
                };
                if let Err(e) = env.upstreams.registry.register(
                    &mut sock,
                    Token(UPSTREAM_TOKEN_BIT | fd as usize),
                    interest,
                ) {
                    elog!(
                        LogLevel::Alert,
                        "epoll_ctl() failed ({})",
                        sys::errno_text(&e)
                    );
                    self.release_server(env, index, false);
                    self.state = State::Failed(Failure::upstream(502));
                    return;
                }
                env.upstreams.open += 1;
                let peer = Peer {
                    sock: PeerStream::plain(sock),
                    readable: false,
                    writable: done,
                    write_edges: !done,
                    index,
                    reused: false,
                    requests: 0,
                    opened: now,
                };
                if done {
                    // Connected at once: the request goes now, without waiting for the
                    // writable edge and asking the socket how the connect went.
                    self.state = State::Connecting(peer);
                    self.connected(env, cx);
                } else {
                    self.state = State::Connecting(peer);
                }
            }
            Err(OpenError::Local(what)) => {
                // nginx finalizes with 500 and tries no other server (NGX_ERROR from
                // ngx_event_connect_peer).
                cx.line(
                    LogLevel::Crit,
                    &format_args!("{what} while connecting to upstream"),
                    Some(self.upstream_name(None)),
                );
                self.release_server(env, index, false);
                if let Some(t) = self.log.tries.last_mut() {
                    t.status = 500;
                    t.time = Some(Duration::ZERO);
                }
                self.state = State::Failed(Failure::ours());
            }
            Err(OpenError::Connect(e)) => {
                let what = format!("connect() failed ({})", sys::errno_text(&e));
                self.try_failed(
                    env,
                    cx,
                    TryFailure::Error,
                    &what,
                    "connecting to upstream",
                    index,
                );
            }
        }
    }

    pub(super) fn mark_connected(&mut self, now: Instant) {
        if let Some(t) = self.log.tries.last_mut() {
            t.connect_time = Some(now.saturating_duration_since(self.try_started));
        }
    }

    pub(super) fn finish_connect(&mut self, env: &mut Env<'_, 'c>, cx: &RequestLog<'_>) -> bool {
        let Some(p) = self.peer_mut() else {
            return false;
        };
        let err = match connect::connected(&p.sock.sock) {
            Ok(true) => None,
            Ok(false) => {
                // Not yet: wait for the next writable edge.
                p.writable = false;
                return false;
            }
            Err(e) => Some(e),
        };
        if let Some(e) = err {
            let what = format!("connect() failed ({})", sys::errno_text(&e));
            self.fail(env, cx, TryFailure::Error, &what, "connecting to upstream");
            return true;
        }
        self.connected(env, cx);
        true
    }

    /// The socket is connected: the request goes, or for `https://` the TLS handshake
    /// starts (its own state, bounded by `*_connect_timeout` as nginx's).
    fn connected(&mut self, env: &mut Env<'_, 'c>, cx: &RequestLog<'_>) {
        self.progress = env.now;
        let Some(mut p) = self.take_peer(State::Done) else {
            return;
        };
        let Some(tls) = self.target.tls.as_ref() else {
            self.mark_connected(env.now);
            self.state = State::Sending(p);
            return;
        };
        match PeerStream::tls(p.sock.sock, tls.config.clone(), tls.name.clone()) {
            Ok(sock) => {
                p.sock = sock;
                p.writable = true;
                self.state = State::Handshaking(p);
            }
            Err(what) => {
                // The socket is gone with the failed session: the try failed.
                env.upstreams.open = env.upstreams.open.saturating_sub(1);
                let index = p.index;
                self.try_failed(
                    env,
                    cx,
                    TryFailure::Error,
                    &what,
                    "SSL handshaking to upstream",
                    index,
                );
            }
        }
    }

    /// Moves the TLS handshake on; true if anything changed.
    pub(super) fn handshake(&mut self, env: &mut Env<'_, 'c>, cx: &RequestLog<'_>) -> bool {
        let Some(p) = self.peer_mut() else {
            return false;
        };
        let (mut readable, mut writable) = (p.readable, p.writable);
        let step = p.sock.handshake(&mut readable, &mut writable);
        p.readable = readable;
        p.writable = writable;
        match step {
            Handshake::Wait => false,
            Handshake::Done => {
                self.progress = env.now;
                self.mark_connected(env.now);
                if let Some(p) = self.take_peer(State::Done) {
                    self.state = State::Sending(p);
                }
                true
            }
            Handshake::Closed => {
                self.fail(
                    env,
                    cx,
                    TryFailure::Error,
                    "peer closed connection in SSL handshake",
                    "SSL handshaking to upstream",
                );
                true
            }
            Handshake::Failed(what) => {
                self.fail(
                    env,
                    cx,
                    TryFailure::Error,
                    &what,
                    "SSL handshaking to upstream",
                );
                true
            }
        }
    }
}
