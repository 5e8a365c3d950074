//! Choosing the peer of a `proxy_pass` with variables whose host is neither an upstream
//! group nor an IP address: the name goes through the location's `resolver` (nginx's
//! `ngx_http_upstream_resolve_handler`), then its addresses are tried in turn, as the
//! round-robin peers nginx makes of them (`*_next_upstream` moves to the next one).
//!
//! While the resolver works the machine is in `Resolving` with no socket; the worker hands
//! the answer to [`Upstream::on_resolved`] and drives the connection again. No `resolver`
//! for the location gives nginx's "no resolver defined to resolve HOST" and a 502; a name
//! that does not resolve gives "HOST could not be resolved (3: Host not found)" and a 502.

use super::*;
use crate::resolver::{Addrs, Lookup, ResolveError};

/// Where the resolution of a name stands.
pub(super) enum Name {
    /// Not asked yet.
    Unasked,
    /// It did not resolve.
    Failed(ResolveError),
    /// Its addresses; `next` is the index of the next one to try.
    Resolved { addrs: Addrs, next: usize },
}

impl<'c, P: Protocol> Upstream<'c, P> {
    /// The address for the next try of a `proxy_pass` without a group: the URL's IP, or
    /// the next address of its name (asking the resolver first). `Ok(None)`: the resolver
    /// works on it; the machine is `Resolving`.
    pub(super) fn choose_direct(
        &mut self,
        env: &mut Env<'_, 'c>,
        cx: &RequestLog<'_>,
    ) -> Result<Option<PeerAddr>, Failure> {
        loop {
            match &mut self.name {
                None => {
                    return match &self.target.direct {
                        Some(addr) if self.tries == 0 => Ok(Some(addr.clone())),
                        _ => Err(Failure::upstream(502)),
                    };
                }
                Some(Name::Unasked) => {
                    let host = self.target.resolve.as_deref().unwrap_or("");
                    let Some(conf) = self.settings.resolver else {
                        let what = format!("no resolver defined to resolve {host}");
                        cx.line(LogLevel::Error, &what, None);
                        return Err(Failure::upstream(502));
                    };
                    let lookup = env.resolvers.resolve(
                        conf,
                        host.as_bytes(),
                        crate::upstream::Waiter::Client(env.client),
                        self.settings.resolver_timeout,
                        env.now,
                        env.registry,
                    );
                    match lookup {
                        Lookup::Ready(result) => self.resolved(result),
                        Lookup::Pending(ticket) => {
                            self.state = State::Resolving(ticket);
                            return Ok(None);
                        }
                    }
                }
                Some(Name::Failed(e)) => {
                    let host = self.target.resolve.as_deref().unwrap_or("");
                    let what = format!("{host} could not be resolved ({e})");
                    cx.line(LogLevel::Error, &what, None);
                    return Err(Failure::upstream(502));
                }
                Some(Name::Resolved { addrs, next }) => {
                    let ip = addrs.get(*next);
                    *next += 1;
                    return match ip {
                        Some(ip) => Ok(Some(PeerAddr::Inet(std::net::SocketAddr::new(
                            ip,
                            self.target.port,
                        )))),
                        None => Err(Failure::upstream(502)),
                    };
                }
            }
        }
    }

    /// Records a name's answer: its addresses are the tries (at most `*_next_upstream_tries`).
    fn resolved(&mut self, result: Result<Addrs, ResolveError>) {
        self.name = Some(match result {
            Ok(addrs) => {
                let mut tries = addrs.len();
                if self.settings.next_upstream_tries > 0 {
                    tries = tries.min(self.settings.next_upstream_tries);
                }
                self.tries_left = tries;
                Name::Resolved { addrs, next: 0 }
            }
            Err(e) => Name::Failed(e),
        });
    }

    /// Whether the request waits for the resolver's answer `ticket` (an HTTP/2
    /// connection finds the stream it is for).
    pub fn waits_for(&self, ticket: Ticket) -> bool {
        matches!(self.state, State::Resolving(t) if t == ticket)
    }

    /// The resolver's answer for this request (the worker's wake-up).
    pub fn on_resolved(&mut self, ticket: Ticket, result: Result<Addrs, ResolveError>) {
        if matches!(self.state, State::Resolving(t) if t == ticket) {
            self.resolved(result);
            self.state = State::ChoosingPeer;
        }
    }

    /// The request no longer waits for the resolver (it is over, or the client left).
    pub(super) fn stop_resolving(&mut self, env: &mut Env<'_, 'c>) {
        if let State::Resolving(ticket) = self.state {
            env.resolvers.cancel(ticket);
            self.state = State::Done;
        }
    }

    /// Whether a `proxy_pass` without a group has another address to try.
    pub(super) fn direct_peer_left(&self) -> bool {
        matches!(&self.name, Some(Name::Resolved { addrs, next }) if *next < addrs.len())
    }

    /// How many addresses the name resolved to (0 before, or without, a resolution): nginx
    /// makes them peers with `max_fails=1` unless there is only one.
    pub(super) fn resolved_peers(&self) -> usize {
        match &self.name {
            Some(Name::Resolved { addrs, .. }) => addrs.len(),
            _ => 0,
        }
    }

    /// Whether the machine waits for the resolver (and for nothing else).
    pub fn resolving(&self) -> bool {
        matches!(self.state, State::Resolving(_))
    }
}
