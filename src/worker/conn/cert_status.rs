//! `ssl_ocsp`: the connection waits for the OCSP status of its client's certificates
//! before its request is processed, as nginx holds it in `ngx_http_ssl_handshake_handler`
//! until `ngx_ssl_ocsp_validate` ends. The head is read (the request waits in the buffer);
//! then [`State::AwaitingCertStatus`] asks the responder of each certificate in turn
//! (`tls::Validation` decides which, and judges the answers), on an upstream socket the
//! connection owns ([`Owner::Client`]): connect, `GET URI/BASE64 HTTP/1.0`, the response
//! read to the responder's close. A name is resolved with the server's `resolver`. A
//! failure to connect, or a response cut short or unreadable, tries the responder's next
//! address, as `ngx_ssl_ocsp_next`. As in nginx the requests have no timeout of their own:
//! the connection's `client_header_timeout` bounds the wait (and closes it without a word,
//! as nginx's handshake handler does). What the checks found goes to the session's values
//! (`$ssl_client_verify`, and the request's 495 in `handler.rs`); the head is then parsed
//! again and the request goes on. A connection that ALPN made HTTP/2 finishes its
//! handshake, is checked, then becomes HTTP/2: its streams' requests see the result.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use super::*;
use crate::config::proxy_values::PeerAddr;
use crate::resolver::{Addrs, Lookup, ResolveError, Ticket};
use crate::tls::{OcspNext, OcspOutcome, OcspQuery, Validation};
use crate::upstream::connect::{self, OpenError, SocketOptions};
use crate::upstream::stapler::{Answer, Fetch, advance, read_answer};
use crate::upstream::{Owner, UPSTREAM_TOKEN_BIT, Waiter};

/// Whether a connection's client certificates are still to be checked (`ssl_ocsp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::worker) enum CertStatusDue {
    /// Nothing to check (no `ssl_ocsp` in the handshake's server), or checked.
    No,
    /// To check before the first request, under this server's (the handshake's) settings.
    Before(usize),
}

/// The checks in progress.
pub(super) struct CertCheck {
    /// The handshake's server (its `ssl_ocsp` settings and `resolver`).
    server: usize,
    validation: Validation,
    /// The certificate being asked about.
    query: Option<Box<OcspQuery>>,
    /// Its responder's addresses (known, or resolved).
    addrs: Vec<SocketAddr>,
    /// The next address to try.
    next_addr: usize,
    /// The exchange in progress.
    fetch: Option<Fetch>,
    /// The responder's name is being resolved.
    resolving: Option<Ticket>,
    /// The name did not resolve: the log's message.
    unresolved: Option<String>,
}

/// Where the checks are.
enum Pump {
    /// Waiting for a socket or the resolver.
    Wait,
    /// Over.
    Done(OcspOutcome),
}

impl<'c> Conn<'c> {
    /// The head is read and the certificates are still to be checked: verifies the chain
    /// (once), and starts the checks when it verified.
    pub(super) fn start_cert_status(&mut self, shared: &mut Shared<'c>, server: usize) -> Step {
        self.cert_status_due = CertStatusDue::No;
        if let Some(a) = self.active.as_mut() {
            // The head read so far is parsed again from its start once the checks are
            // over (or at once when there is nothing to check).
            a.scanned = a.start;
        }
        let Some(vars) = self.tls_vars() else {
            return Step::Again;
        };
        let tls = shared.http.servers.get(server).and_then(|s| s.tls.as_ref());
        let (Some(trust), Some(_)) = (
            tls.and_then(|t| t.client_trust.as_ref()),
            tls.and_then(|t| t.ocsp.as_ref()),
        ) else {
            return Step::Again;
        };
        // nginx's ngx_ssl_ocsp_validate: nothing to check without a verified certificate.
        if *vars.verify(trust) != crate::tls::Verified::Success {
            return Step::Again;
        }
        let chain = trust.verified_chain(&vars.peer_chain);
        self.state = State::AwaitingCertStatus(Box::new(CertCheck {
            server,
            validation: Validation::new(chain),
            query: None,
            addrs: Vec::new(),
            next_addr: 0,
            fetch: None,
            resolving: None,
            unresolved: None,
        }));
        Step::Again
    }

    /// A connection that ALPN made HTTP/2 has no head to wait for: its handshake is
    /// finished first (the client's first bytes are kept for the HTTP/2 connection), then
    /// its certificates are checked, before any stream is read.
    pub(super) fn finish_handshake_for_cert_status(
        &mut self,
        shared: &mut Shared<'c>,
        server: usize,
        size: usize,
    ) -> Step {
        if self.client.tls().is_none_or(|t| !t.is_handshaking()) {
            return self.start_cert_status(shared, server);
        }
        if !self.client.readable {
            return Step::Wait(self.deadline);
        }
        let a = self.active.get_or_insert_with(|| shared.pool.take(size));
        if a.filled == a.buf.len() {
            let grown = (a.buf.len() * 2).max(size);
            a.buf.resize(grown, 0);
        }
        match self.client.read(&mut a.buf[a.filled..]) {
            Ok(0) => Step::Close,
            Ok(n) => {
                a.filled += n;
                Step::Again
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Step::Wait(self.deadline),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Step::Again,
            Err(e) => {
                if crate::tls::is_tls_error(&e) {
                    elog!(
                        LogLevel::Info,
                        "*{} {e} while SSL handshaking, client: {}",
                        self.id,
                        self.peer.ip()
                    );
                }
                Step::Close
            }
        }
    }

    /// Moves the checks on; once they are over, the head is parsed again and its request
    /// goes on.
    pub(super) fn await_cert_status(
        &mut self,
        shared: &mut Shared<'c>,
        servers: &AddrServers,
    ) -> Step {
        let State::AwaitingCertStatus(check) = &mut self.state else {
            return Step::Close;
        };
        let pump = check.pump((self.id, &self.peer, servers), self.key, shared);
        match pump {
            Pump::Wait => Step::Wait(self.deadline),
            Pump::Done(outcome) => {
                if let Some(vars) = self.tls_vars() {
                    vars.ocsp.set(Some(outcome));
                }
                self.state = State::ReadingHead;
                Step::Again
            }
        }
    }

    /// The responder's name resolved (or failed to).
    pub(super) fn cert_status_resolved(
        &mut self,
        ticket: Ticket,
        result: Result<Addrs, ResolveError>,
    ) {
        if let State::AwaitingCertStatus(check) = &mut self.state
            && check.resolving == Some(ticket)
        {
            check.resolving = None;
            check.on_resolved(result);
        }
    }
}

impl CertCheck {
    /// Runs the checks until they wait or end.
    fn pump(
        &mut self,
        (id, client, servers): (u64, &ClientAddr, &AddrServers),
        key: crate::slab::Key,
        shared: &mut Shared<'_>,
    ) -> Pump {
        let now = shared.now;
        let secs = crate::log::time::now_secs();
        let http = shared.http;
        let Some(server) = http.servers.get(self.server) else {
            return Pump::Done(OcspOutcome::Failed);
        };
        let Some(conf) = server.tls.as_ref().and_then(|t| t.ocsp.as_ref()) else {
            return Pump::Done(OcspOutcome::Failed);
        };
        // Each turn connects, reads or moves to the next certificate: bounded by the
        // chain's length and the responders' addresses.
        for _ in 0..64 {
            if let Some(m) = self.unresolved.take() {
                self.log(id, LogLevel::Error, None, &m);
                return Pump::Done(OcspOutcome::Failed);
            }
            if self.resolving.is_some() {
                return Pump::Wait;
            }
            if let Some(f) = self.fetch.as_mut() {
                let request = self.query.as_ref().map_or(&[][..], |q| &q.request);
                let peer = self.addrs.get(f.addr).copied();
                match advance(f, request, now) {
                    Ok(false) => return Pump::Wait,
                    Err(m) => {
                        self.fetch = None;
                        self.log(id, LogLevel::Error, peer, &m);
                        continue;
                    }
                    Ok(true) => {}
                }
                let Some(f) = self.fetch.take() else {
                    return Pump::Done(OcspOutcome::Failed);
                };
                let body = match read_answer(&f.buf) {
                    Ok(Answer::Body(body)) => body,
                    Ok(Answer::Refused) => return Pump::Done(OcspOutcome::Failed),
                    Err(m) => {
                        self.log(id, LogLevel::Error, peer, &m);
                        continue;
                    }
                };
                let Some(q) = self.query.take() else {
                    return Pump::Done(OcspOutcome::Failed);
                };
                match self.validation.judge(conf, &q, body, secs) {
                    Ok(crate::tls::stapling::CertStatus::Good) => continue,
                    Ok(status) => return Pump::Done(status.into()),
                    Err(m) => {
                        self.query = Some(q);
                        self.log(id, LogLevel::Error, peer, &m);
                        return Pump::Done(OcspOutcome::Failed);
                    }
                }
            }
            if self.query.is_some() {
                // The next address of the responder, or the end.
                if self.next_addr >= self.addrs.len() {
                    return Pump::Done(OcspOutcome::Failed);
                }
                self.connect(id, key, shared);
                continue;
            }
            match self.validation.next(conf, secs) {
                Ok(OcspNext::Done(outcome)) => return Pump::Done(outcome),
                Ok(OcspNext::Ask(q)) => {
                    self.addrs.clone_from(&q.responder.addrs);
                    self.next_addr = 0;
                    self.query = Some(q);
                    if let Some(pump) = self.resolve(id, key, server, shared) {
                        return pump;
                    }
                }
                Err(m) => {
                    elog!(
                        LogLevel::Error,
                        "*{id} {m} while SSL handshaking, client: {}, server: {}",
                        client.ip(),
                        servers.addr
                    );
                    return Pump::Done(OcspOutcome::Failed);
                }
            }
        }
        Pump::Done(OcspOutcome::Failed)
    }

    /// nginx's `ngx_ssl_ocsp_request`: an address is used as it is; a name is resolved
    /// with the server's `resolver`, and without one its addresses found at load serve
    /// (after a warning), or the request fails when there are none.
    fn resolve(
        &mut self,
        id: u64,
        key: crate::slab::Key,
        server: &crate::config::ServerConf,
        shared: &mut Shared<'_>,
    ) -> Option<Pump> {
        let q = self.query.as_ref()?;
        let host = q
            .responder
            .host
            .trim_start_matches('[')
            .trim_end_matches(']');
        if host.parse::<std::net::IpAddr>().is_ok() {
            return None;
        }
        let Some(conf) = server.loc.resolver.as_ref() else {
            let m = format!("no resolver defined to resolve {}", q.responder.host);
            if self.addrs.is_empty() {
                self.log(id, LogLevel::Error, None, &m);
                return Some(Pump::Done(OcspOutcome::Failed));
            }
            self.log(id, LogLevel::Warn, None, &m);
            return None;
        };
        let timeout = server.loc.resolver_timeout;
        let now = shared.now;
        match shared.resolvers.resolve(
            conf,
            host.as_bytes(),
            Waiter::Client(key),
            timeout,
            now,
            &shared.registry,
        ) {
            Lookup::Ready(result) => {
                self.on_resolved(result);
                None
            }
            Lookup::Pending(ticket) => {
                self.resolving = Some(ticket);
                Some(Pump::Wait)
            }
        }
    }

    /// nginx's `ngx_ssl_ocsp_resolve_handler`.
    fn on_resolved(&mut self, result: Result<Addrs, ResolveError>) {
        let Some(q) = self.query.as_ref() else {
            return;
        };
        match result {
            Ok(addrs) => {
                let port = q.responder.port;
                self.addrs = addrs.iter().map(|ip| SocketAddr::new(ip, port)).collect();
                self.next_addr = 0;
            }
            Err(e) => {
                self.unresolved = Some(format!("{} could not be resolved ({e})", q.responder.host));
            }
        }
    }

    /// Connects to the responder's next address (a failure at once moves past it).
    fn connect(&mut self, id: u64, key: crate::slab::Key, shared: &mut Shared<'_>) {
        let addr = self.next_addr;
        self.next_addr += 1;
        let Some(peer) = self.addrs.get(addr).copied() else {
            return;
        };
        match connect::open(&PeerAddr::Inet(peer), &SocketOptions::default()) {
            Ok(mut sock) => {
                let fd = sock.as_raw_fd();
                let token = mio::Token(UPSTREAM_TOKEN_BIT | fd as usize);
                if let Err(e) = shared.registry.register(
                    &mut sock,
                    token,
                    mio::Interest::READABLE | mio::Interest::WRITABLE,
                ) {
                    let m = format!("epoll_ctl() failed ({})", sys::errno_text(&e));
                    self.log(id, LogLevel::Alert, Some(peer), &m);
                    return;
                }
                shared.upstreams.set_owner(fd, Owner::Client(key));
                self.fetch = Some(Fetch::new(sock, addr, shared.now));
            }
            Err(OpenError::Local(m)) => {
                self.log(id, LogLevel::Alert, Some(peer), &m);
                // Nothing else to try on this machine.
                self.next_addr = self.addrs.len();
            }
            Err(OpenError::Connect(e)) => {
                let m = format!("connect() failed ({})", sys::errno_text(&e));
                self.log(id, LogLevel::Error, Some(peer), &m);
            }
        }
    }

    /// Logs `msg` with nginx's context for a request to a responder.
    fn log(&self, id: u64, level: LogLevel, peer: Option<SocketAddr>, msg: &str) {
        let host = self
            .query
            .as_ref()
            .map_or("", |q| q.responder.host.as_str());
        match peer {
            Some(p) => elog!(
                level,
                "*{id} {msg} while requesting certificate status, responder: {host}, peer: {p}"
            ),
            None => elog!(
                level,
                "*{id} {msg} while requesting certificate status, responder: {host}"
            ),
        }
    }
}
