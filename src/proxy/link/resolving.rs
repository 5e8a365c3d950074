//! Choosing the peer of a `proxy_pass` with variables whose host is neither an upstream
//! group nor an IP address: the name goes through the location's `resolver` (nginx's
//! `ngx_http_upstream_resolve_handler`), then its addresses are tried in turn, as the
//! round-robin peers nginx makes of them (`proxy_next_upstream` moves to the next one).
//!
//! While the resolver works the link waits with no socket; the worker hands the answer to
//! [`Link::on_resolved`] and drives the connection again. No `resolver` for the location
//! gives nginx's "no resolver defined to resolve HOST" and a 502; a name that does not
//! resolve gives "HOST could not be resolved (3: Host not found)" and a 502.

use super::*;
use crate::resolver::{Addrs, Lookup, ResolveError, Ticket};

/// Where the peer choice of a name stands.
pub(super) enum Resolving {
    /// Not asked yet (the request body may still be read first).
    Start,
    /// The resolver is working on it.
    Waiting(Ticket),
    /// It did not resolve (reported on the next drive).
    Failed(ResolveError),
    /// Its addresses; `next` is the index of the next one to try.
    Resolved { addrs: Addrs, next: usize },
}

impl<'c> Link<'c> {
    /// Whether the link waits for the resolver (and for nothing else).
    pub(super) fn waiting_for_resolver(&self) -> bool {
        matches!(self.resolving, Some(Resolving::Waiting(_)))
    }

    /// The resolver's answer for this request (the worker's wake-up).
    pub fn on_resolved(&mut self, ticket: Ticket, result: Result<Addrs, ResolveError>) {
        if matches!(self.resolving, Some(Resolving::Waiting(t)) if t == ticket) {
            self.resolving = Some(match result {
                Ok(addrs) => Resolving::Resolved { addrs, next: 0 },
                Err(e) => Resolving::Failed(e),
            });
        }
    }

    /// The request no longer waits for the resolver (it is over, or the client left).
    pub(super) fn stop_resolving(&mut self, shared: &mut Shared<'c>) {
        if let Some(Resolving::Waiting(ticket)) = self.resolving {
            shared.resolvers.cancel(ticket);
            self.resolving = Some(Resolving::Failed(ResolveError::TimedOut));
        }
    }

    /// Whether a `proxy_pass` without a group has another address to try.
    pub(super) fn direct_peer_left(&self) -> bool {
        match &self.resolving {
            Some(Resolving::Resolved { addrs, next }) => *next < addrs.len(),
            _ => false,
        }
    }

    /// How many addresses the name resolved to (0 before, or without, a resolution).
    pub(super) fn resolved_peers(&self) -> usize {
        match &self.resolving {
            Some(Resolving::Resolved { addrs, .. }) => addrs.len(),
            _ => 0,
        }
    }

    /// The address for the next try of a `proxy_pass` without a group: the URL's IP, or
    /// the next address of its name (asking the resolver first). `Ok(None)`: the resolver
    /// is working; the link waits.
    pub(super) fn direct_peer(
        &mut self,
        cx: &mut ClientSide<'_, 'c>,
        shared: &mut Shared<'c>,
    ) -> Result<Option<PeerAddr>, LinkStep> {
        if self.fresh_retry.is_some()
            && let Some(addr) = &self.addr
        {
            return Ok(Some(addr.clone()));
        }
        loop {
            match &mut self.resolving {
                None => {
                    return match &self.setup.direct {
                        Some(addr) if self.tries == 0 => Ok(Some(addr.clone())),
                        _ => Err(self.respond_error(cx, shared, 502)),
                    };
                }
                Some(Resolving::Start) => self.start_resolving(cx, shared)?,
                Some(Resolving::Waiting(_)) => return Ok(None),
                Some(Resolving::Failed(e)) => {
                    let e = *e;
                    let what = format!("{} could not be resolved ({e})", self.resolve_name());
                    self.log_line(cx, LogLevel::Error, &what, None);
                    return Err(self.respond_error(cx, shared, 502));
                }
                Some(Resolving::Resolved { addrs, next }) => {
                    let ip = addrs.get(*next);
                    *next += 1;
                    return match ip {
                        Some(ip) => Ok(Some(PeerAddr::Inet(SocketAddr::new(
                            ip,
                            self.setup.proxy_port,
                        )))),
                        None => Err(self.respond_error(cx, shared, 502)),
                    };
                }
            }
        }
    }

    fn resolve_name(&self) -> &str {
        self.setup.resolve.as_deref().unwrap_or("")
    }

    fn start_resolving(
        &mut self,
        cx: &mut ClientSide<'_, 'c>,
        shared: &mut Shared<'c>,
    ) -> Result<(), LinkStep> {
        let Some(conf) = self.loc.resolver.as_deref() else {
            let what = format!("no resolver defined to resolve {}", self.resolve_name());
            self.log_line(cx, LogLevel::Error, &what, None);
            return Err(self.respond_error(cx, shared, 502));
        };
        let name = self.setup.resolve.as_deref().unwrap_or("").as_bytes();
        let lookup = shared.resolvers.resolve(
            conf,
            name,
            cx.key,
            self.loc.resolver_timeout,
            shared.now,
            &shared.registry,
        );
        self.resolving = Some(match lookup {
            Lookup::Ready(Ok(addrs)) => Resolving::Resolved { addrs, next: 0 },
            Lookup::Ready(Err(e)) => Resolving::Failed(e),
            Lookup::Pending(ticket) => Resolving::Waiting(ticket),
        });
        Ok(())
    }
}
