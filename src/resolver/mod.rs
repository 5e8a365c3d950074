//! nginx's `resolver`: a non-blocking DNS client inside the worker's event loop, for
//! `proxy_pass` URLs whose host is only known per request and for `ssl_stapling`'s OCSP
//! responder names.
//!
//! - [`dns`]: the wire format (queries out, answers in, every length checked);
//! - [`cache`]: answers kept per resolver, bounded by their TTL (or `valid=`);
//! - [`engine`]: one resolver's state machine without I/O — names asked once for every
//!   request waiting on them, A and AAAA together, round robin over the name servers,
//!   resends, TCP after a truncated answer, CNAME chains, each request's deadline;
//! - [`transport`]: its sockets (a connected UDP socket per name server, TCP when needed).
//!
//! A worker keeps one [`Resolvers`]: one run-time resolver per `resolver` line of the
//! configuration (`ResolverConf::id`), made when first used. The worker's loop does three
//! things for it: events on [`is_token`] tokens go to [`Resolvers::on_event`];
//! [`Resolvers::next_deadline`] bounds the poll timeout and [`Resolvers::on_timers`] runs
//! once per turn; and each [`Done`] from [`Resolvers::take_done`] wakes its request.
//!
//! A request calls [`Resolvers::resolve`]: the answer at once (cached, or a name that cannot
//! be asked), or a [`Ticket`] to wait with. A request that goes away while waiting calls
//! [`Resolvers::cancel`]; one that does not is harmless (its [`Done`] finds nobody).

pub mod cache;
pub mod dns;
pub mod engine;
mod random;
pub mod transport;

use std::fmt;
use std::net::IpAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::config::resolver::ResolverConf;
use engine::{Engine, Settings, Started};
use transport::Transport;

/// The token bits of a resolver socket: the top byte is exactly this (upstream sockets have
/// `0x80`, listeners and the signal pipe `0xff`, client connections less than `0x40`).
const TOKEN_TOP: usize = 0xc0 << 56;
/// Resolvers are numbered in bits 24..56 of a token, servers in 1..24, bit 0 says TCP.
const TOKEN_RESOLVER_SHIFT: usize = 24;
const TOKEN_SERVER_MASK: usize = (1 << TOKEN_RESOLVER_SHIFT) - 1;

/// Whether an event token is a resolver socket's.
pub fn is_token(token: mio::Token) -> bool {
    token.0 >> 56 == TOKEN_TOP >> 56
}

/// The token of resolver `resolver`'s socket to server `server`.
fn token(resolver: usize, server: usize, tcp: bool) -> mio::Token {
    mio::Token(TOKEN_TOP | resolver << TOKEN_RESOLVER_SHIFT | server << 1 | usize::from(tcp))
}

/// The addresses a name resolved to, IPv4 first, starting at a rotating position for a
/// cached answer (as nginx rotates them). Cloning shares the list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Addrs {
    list: Rc<[IpAddr]>,
    first: usize,
}

impl Addrs {
    fn new(list: Rc<[IpAddr]>, first: usize) -> Addrs {
        Addrs { list, first }
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none (never, for a successful resolution).
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The `i`th address in the order to try them.
    pub fn get(&self, i: usize) -> Option<IpAddr> {
        if i >= self.list.len() {
            return None;
        }
        self.list.get((self.first + i) % self.list.len()).copied()
    }

    /// The addresses in the order to try them.
    pub fn iter(&self) -> impl Iterator<Item = IpAddr> + '_ {
        (0..self.list.len()).filter_map(|i| self.get(i))
    }
}

/// Why a name did not resolve, as nginx reports it (`(3: Host not found)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResolveError {
    /// The name server's response code (or 3 for a name with no address).
    Dns(u8),
    /// No answer within `resolver_timeout`.
    TimedOut,
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::Dns(code) => write!(f, "{code}: {}", rcode_text(*code)),
            // nginx's NGX_RESOLVE_TIMEDOUT is NGX_ETIMEDOUT.
            ResolveError::TimedOut => f.write_str("110: Operation timed out"),
        }
    }
}

/// nginx's `ngx_resolver_strerror`.
pub fn rcode_text(code: u8) -> &'static str {
    match code {
        1 => "Format error",
        2 => "Server failure",
        3 => "Host not found",
        4 => "Unimplemented",
        5 => "Operation refused",
        _ => "Unknown error",
    }
}

/// A request waiting for a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket {
    resolver: usize,
    waiter: u64,
}

/// What [`Resolvers::resolve`] gives at once.
#[derive(Debug)]
pub enum Lookup {
    /// The answer (cached, or a name that cannot be asked).
    Ready(Result<Addrs, ResolveError>),
    /// Wait for the [`Done`] with this ticket.
    Pending(Ticket),
}

/// A finished wait: who waited, with which ticket, and what the name resolved to.
pub struct Done<W> {
    /// The waiter given to [`Resolvers::resolve`].
    pub who: W,
    /// Its ticket.
    pub ticket: Ticket,
    /// The addresses, or why not.
    pub result: Result<Addrs, ResolveError>,
}

/// One resolver: the state machine and its sockets.
struct Resolver<W> {
    engine: Engine<W>,
    transport: Transport,
    /// A message read, while the engine handles it.
    message: Vec<u8>,
}

/// A worker's resolvers, one per `resolver` line, made when first used.
pub struct Resolvers<W> {
    list: Vec<Option<Resolver<W>>>,
    /// The indexes in `list` that hold a resolver (a configuration may have many
    /// `resolver` lines; each loop turn visits only those in use).
    live: Vec<usize>,
    finished: Vec<engine::Finished<W>>,
}

impl<W> Default for Resolvers<W> {
    fn default() -> Self {
        Resolvers {
            list: Vec::new(),
            live: Vec::new(),
            finished: Vec::new(),
        }
    }
}

impl<W: Copy> Resolvers<W> {
    /// Starts resolving `name` (a host name, or an IPv4 literal) with the resolver of
    /// `conf`, for `who`, which waits at most `timeout` (zero: no limit).
    pub fn resolve(
        &mut self,
        conf: &ResolverConf,
        name: &[u8],
        who: W,
        timeout: Duration,
        now: Instant,
        registry: &mio::Registry,
    ) -> Lookup {
        let id = conf.id;
        if self.list.len() <= id {
            self.list.resize_with(id + 1, || None);
        }
        let Some(slot) = self.list.get_mut(id) else {
            return Lookup::Ready(Err(ResolveError::Dns(dns::RCODE_REFUSED)));
        };
        if slot.is_none() {
            self.live.push(id);
        }
        let r = slot.get_or_insert_with(|| Resolver {
            engine: Engine::new(Settings {
                servers: conf.servers.len(),
                valid: conf
                    .valid
                    .map(|d| d.as_secs().min(u64::from(u32::MAX)) as u32),
                ipv4: conf.ipv4,
                ipv6: conf.ipv6,
            }),
            transport: Transport::new(id, &conf.servers),
            message: Vec::new(),
        });
        let mut io = r.transport.io(registry, now);
        match r.engine.resolve(name, who, timeout, now, &mut io) {
            Started::Ready(result) => Lookup::Ready(result),
            Started::Waiting(waiter) => Lookup::Pending(Ticket {
                resolver: id,
                waiter,
            }),
        }
    }

    /// The request holding `ticket` stops waiting.
    pub fn cancel(&mut self, ticket: Ticket) {
        if let Some(Some(r)) = self.list.get_mut(ticket.resolver) {
            r.engine.cancel(ticket.waiter);
        }
    }

    /// Readiness of a resolver socket (see [`is_token`]).
    pub fn on_event(
        &mut self,
        token: mio::Token,
        readable: bool,
        writable: bool,
        now: Instant,
        registry: &mio::Registry,
    ) {
        let bits = token.0 & !TOKEN_TOP;
        let (resolver, sub) = (bits >> TOKEN_RESOLVER_SHIFT, bits & TOKEN_SERVER_MASK);
        if let Some(Some(r)) = self.list.get_mut(resolver) {
            let (server, tcp) = (sub >> 1, sub & 1 == 1);
            r.on_event(server, tcp, readable, writable, now, registry);
        }
    }

    /// Resends, timeouts and TCP write deadlines that are due.
    pub fn on_timers(&mut self, now: Instant, registry: &mio::Registry) {
        for &id in &self.live {
            let Some(Some(r)) = self.list.get_mut(id) else {
                continue;
            };
            if r.engine.next_deadline().is_some_and(|at| at <= now) {
                let mut io = r.transport.io(registry, now);
                r.engine.on_timers(now, &mut io);
            }
            r.transport.expire(now);
        }
    }

    /// The earliest deadline of any resolver.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.live
            .iter()
            .filter_map(|&id| self.list.get(id)?.as_ref())
            .filter_map(
                |r| match (r.engine.next_deadline(), r.transport.next_deadline()) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                },
            )
            .min()
    }

    /// Moves every finished wait to `out`.
    pub fn take_done(&mut self, out: &mut Vec<Done<W>>) {
        for &id in &self.live {
            let Some(Some(r)) = self.list.get_mut(id) else {
                continue;
            };
            r.engine.take_finished(&mut self.finished);
            out.extend(self.finished.drain(..).map(|f| Done {
                who: f.who,
                ticket: Ticket {
                    resolver: id,
                    waiter: f.waiter,
                },
                result: f.result,
            }));
        }
    }
}

impl<W: Copy> Resolver<W> {
    fn on_event(
        &mut self,
        server: usize,
        tcp: bool,
        readable: bool,
        writable: bool,
        now: Instant,
        registry: &mio::Registry,
    ) {
        if tcp {
            self.transport.on_tcp_event(server, writable, now);
        }
        if !readable && !tcp {
            return;
        }
        // Each message is taken out of the socket's buffer before the engine sees it: the
        // engine may send (and so touch the transport) while handling it.
        loop {
            let got = if tcp {
                self.transport.next_tcp_message(server, &mut self.message)
            } else {
                self.transport.recv_udp(server, &mut self.message)
            };
            if !got {
                break;
            }
            let mut io = self.transport.io(registry, now);
            self.engine.on_message(&self.message, tcp, now, &mut io);
        }
    }
}
