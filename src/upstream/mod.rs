//! The upstream side of a request, whatever protocol it speaks (HTTP today in
//! [`crate::proxy`]; FastCGI, uwsgi and SCGI next to it): what nginx's `ngx_http_upstream.c`
//! does for every upstream module.
//!
//! - [`machine`]: one request's [`Upstream`] state machine — choosing a peer, connecting,
//!   sending, reading the head, reading the body, done — over a [`Protocol`] that knows the
//!   framing; tries, timeouts and the replay on a stale pooled connection;
//! - [`protocol`]: the boundary a protocol implements (head parsing, body framing);
//! - [`balancer`]: choosing a server of a group, with passive health;
//! - [`pool`]: the per-worker keep-alive pool of idle connections;
//! - [`connect`]: opening a socket to a peer (TCP or unix-domain, `*_bind`,
//!   `*_socket_keepalive`); [`stream`]: the connection's bytes, plain or through TLS
//!   (`proxy_pass https://`); [`rate`]: `*_limit_rate` on reading a buffered response;
//! - [`request_body`]: the request bytes going upstream (a body read whole before
//!   connecting — [`body_buffer`] — or streamed through a window), kept for a replay;
//! - [`response_buffer`]: the response body between the upstream and the client's writer —
//!   memory, then a temporary file (`proxy_max_temp_file_size`), then back-pressure;
//! - [`health`]: active health checks' state in the zone and `match` tests; [`prober`]: the
//!   elected worker's probes; [`queue`]: requests waiting for a free server (`queue N`);
//! - [`failure`]: who caused a failure, the status it maps to, nginx's error-log lines;
//! - [`log`]: the tries as `$upstream_*` shows them;
//! - [`ranges`]: `*_force_ranges`, nginx's range filter on a response of any protocol.
//!
//! The upstream never touches the client's socket: the connection drives the machine,
//! feeds it the request body it reads, and drains the response body from it.

pub mod balancer;
pub mod body_buffer;
pub mod connect;
pub mod failure;
pub mod health;
pub mod log;
pub mod machine;
pub mod pool;
pub mod prober;
pub mod protocol;
pub mod queue;
pub mod ranges;
pub mod rate;
pub mod request_body;
pub mod response_buffer;
pub mod stapler;
pub mod stream;
pub mod temp_file;

use std::os::fd::RawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::config::proxy_values::{NextUpstream, PeerAddr, UpstreamConf};
use crate::config::{HttpConf, LocSettings};
use crate::slab::Key;
use balancer::Group;
use pool::Pool;

pub use failure::{Cause, Failure, RequestLog};
pub use log::UpstreamLog;
pub use machine::{Turn, Upstream};
pub use protocol::Protocol;

/// Records `owner` for the upstream socket `fd` in `owners`.
fn set(owners: &mut Vec<Owner>, fd: i32, owner: Owner) {
    let Ok(i) = usize::try_from(fd) else { return };
    if owners.len() <= i {
        owners.resize(i + 1, Owner::None);
    }
    owners[i] = owner;
}

/// Token bit of an upstream socket (the rest is its descriptor; see [`Owner`]).
pub const UPSTREAM_TOKEN_BIT: usize = 1 << 63;
/// Group index meaning "an address from a `proxy_pass` with variables", not a group.
pub const DIRECT: usize = usize::MAX;
/// Response buffers kept per worker for reuse.
const MAX_SPARE_BUFFERS: usize = 64;

/// A worker's run-time upstream state.
pub struct Upstreams {
    /// Per group (same indexes as `HttpConf::upstreams`): server counters.
    pub groups: Vec<Group>,
    /// Idle connections.
    pub pool: Pool,
    /// Spare response buffers.
    buffers: Vec<Vec<u8>>,
    /// Upstream sockets held by requests in flight.
    pub open: usize,
    /// Who holds each upstream socket, by descriptor (see [`Owner`]).
    owners: Vec<Owner>,
    /// For registering new upstream sockets (a clone of the worker's poll registry).
    registry: mio::Registry,
    /// The health checks' probes (`health_check`).
    pub prober: prober::Prober,
    /// `ssl_stapling`'s OCSP fetches.
    pub stapler: stapler::Stapler,
    /// Requests waiting for a server (`queue`).
    pub queues: queue::Queues,
}

/// Who waits for a name in the worker's [`crate::resolver::Resolvers`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waiter {
    /// The client connection (slab key) whose request proxies to the name.
    Client(Key),
    /// An OCSP fetch of `ssl_stapling`: its index in the [`stapler::Stapler`].
    Staple(u32),
}

/// Who an upstream socket's events are for. An upstream socket is registered once, when it
/// connects, with the token `UPSTREAM_TOKEN_BIT | fd`, and stays registered until it closes
/// (for readable edges, and for writable ones too once a connect in progress or a blocked
/// write wanted them): moving between a request and the idle pool only changes this
/// table, so reusing a pooled connection costs no `epoll_ctl`. An entry is never
/// cleared: a closed descriptor has no events, and one reused for a new upstream socket is
/// set again before it is registered. An event already fetched for a socket closed in the
/// same loop turn can reach the new holder of its number: a spurious wake-up, which every
/// pump tolerates (the read or write just says `WouldBlock`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// Nobody (never registered).
    None,
    /// The client connection (slab key) whose request uses it.
    Client(Key),
    /// Idle in the pool under this key.
    Pool(Key),
    /// A health check's probe: check and server index in the [`prober::Prober`].
    Probe(u32, u32),
    /// An OCSP fetch of `ssl_stapling`: its index in the [`stapler::Stapler`].
    Staple(u32),
}

impl Upstreams {
    /// Fresh state for the configured groups; `registry` registers new upstream sockets.
    pub fn new(http: &HttpConf, registry: mio::Registry) -> Upstreams {
        Upstreams {
            groups: groups(http),
            pool: Pool::default(),
            buffers: Vec::new(),
            open: 0,
            owners: Vec::new(),
            registry,
            prober: prober::Prober::new(http, Instant::now()),
            stapler: stapler::Stapler::new(http),
            queues: queue::Queues::default(),
        }
    }

    /// Runs the health checks' due timers (election ticks, rounds, probe deadlines).
    pub fn run_probes(&mut self, now: Instant) {
        let Upstreams {
            groups,
            owners,
            registry,
            prober,
            ..
        } = self;
        prober.on_timers(now, groups, registry, &mut |fd, owner| {
            let Ok(i) = usize::try_from(fd) else { return };
            if owners.len() <= i {
                owners.resize(i + 1, Owner::None);
            }
            owners[i] = owner;
        });
    }

    /// Starts the OCSP fetches handshakes asked for (resolving a responder's name with
    /// `resolvers`); ends those past their deadline.
    pub fn run_staples(
        &mut self,
        now: Instant,
        resolvers: &mut crate::resolver::Resolvers<Waiter>,
    ) {
        let Upstreams {
            owners,
            registry,
            stapler,
            ..
        } = self;
        stapler.on_timers(now, registry, resolvers, &mut |fd, owner| {
            set(owners, fd, owner)
        });
    }

    /// The responder's name of OCSP fetch `i` resolved (or failed to).
    pub fn on_staple_resolved(
        &mut self,
        i: u32,
        result: Result<crate::resolver::Addrs, crate::resolver::ResolveError>,
        now: Instant,
    ) {
        let Upstreams {
            owners,
            registry,
            stapler,
            ..
        } = self;
        stapler.on_resolved(i as usize, result, now, registry, &mut |fd, owner| {
            set(owners, fd, owner)
        });
    }

    /// Readiness of an OCSP fetch's socket.
    pub fn on_staple_event(&mut self, i: u32, now: Instant) {
        let Upstreams {
            owners,
            registry,
            stapler,
            ..
        } = self;
        stapler.on_event(i, now, registry, &mut |fd, owner| set(owners, fd, owner));
    }

    /// Readiness of a probe's socket.
    pub fn on_probe_event(&mut self, check: u32, server: u32, now: Instant) {
        self.prober.on_event(check, server, now, &mut self.groups);
    }

    /// A graceful stop: no more probes, leases given up.
    pub fn stop_probes(&mut self) {
        self.prober.stop(&self.groups);
    }

    /// Who holds the upstream socket `fd`.
    pub fn owner(&self, fd: usize) -> Owner {
        self.owners.get(fd).copied().unwrap_or(Owner::None)
    }

    /// Records who holds the upstream socket `fd`.
    pub fn set_owner(&mut self, fd: RawFd, owner: Owner) {
        let Ok(i) = usize::try_from(fd) else { return };
        if self.owners.len() <= i {
            self.owners.resize(i + 1, Owner::None);
        }
        self.owners[i] = owner;
    }

    /// Upstream connections of this worker, in use or cached: they take
    /// `worker_connections` slots as in nginx.
    pub fn connections(&self) -> usize {
        self.open + self.pool.len()
    }

    /// A response buffer of at least `size` bytes (a spare one when there is one).
    pub fn take_buffer(&mut self, size: usize) -> Vec<u8> {
        let mut b = self.buffers.pop().unwrap_or_default();
        if b.len() < size {
            b.resize(size, 0);
        }
        b
    }

    /// Gives a response buffer back for the next request.
    pub fn give_buffer(&mut self, b: Vec<u8>) {
        if self.buffers.len() < MAX_SPARE_BUFFERS && b.capacity() > 0 {
            self.buffers.push(b);
        }
    }
}

/// The worker's groups; a group with a `zone` the master mapped uses its shared records
/// (groups sharing a zone take consecutive records, in configuration order, as the master
/// laid them out).
fn groups(http: &HttpConf) -> Vec<Group> {
    let mut next_record = vec![0usize; http.zones.len()];
    http.upstreams
        .iter()
        .enumerate()
        .map(|(index, u)| {
            let zone = u.zone.and_then(|z| {
                let seg = http.zones.get(z)?.segment.clone()?;
                let first = next_record.get_mut(z)?;
                // The group's control record, then one per server.
                let at = *first + 1;
                *first += u.servers.len() + 1;
                Some((seg, at))
            });
            let mandatory = http
                .health_checks
                .iter()
                .any(|h| h.group == index && h.conf.mandatory);
            match zone {
                Some((seg, first)) => Group::in_shared_zone(u, seg, first, mandatory),
                None => Group::new(u),
            }
        })
        .collect()
}

/// What one turn of an upstream needs from its worker.
pub struct Env<'a, 'c> {
    /// The loop's clock reading.
    pub now: Instant,
    /// The configured groups.
    pub groups: &'c [UpstreamConf],
    /// The worker's upstream state.
    pub upstreams: &'a mut Upstreams,
    /// The worker's resolvers (a request's name waits as [`Waiter::Client`]).
    pub resolvers: &'a mut crate::resolver::Resolvers<Waiter>,
    /// For the resolvers' sockets.
    pub registry: &'a mio::Registry,
    /// The client connection whose request this is (its upstream socket's owner).
    pub client: Key,
    /// The worker is shutting down: no connection goes back to the pool.
    pub shutting_down: bool,
}

/// Where a request goes: a group (by index in `HttpConf::upstreams`), or an address of a
/// `proxy_pass` with variables.
#[derive(Clone, Debug, Default)]
pub struct Target {
    /// Group index, or [`DIRECT`].
    pub group: usize,
    /// The address for [`DIRECT`] (`None`: it could not be resolved: 502).
    pub direct: Option<PeerAddr>,
    /// The evaluated `hash` key.
    pub hash_key: Vec<u8>,
    /// Whether the connection may go back to the pool after the response.
    pub keepalive: bool,
    /// Whether a pooled connection may carry the request even though it will not go back
    /// (a request that asks the upstream to close: nginx's keepalive balancer still hands
    /// it a cached connection).
    pub reuse_pooled: bool,
    /// For [`DIRECT`]: a host name to resolve (when the URL's host is neither a group nor
    /// an IP address), its addresses tried in turn on `port`.
    pub resolve: Option<String>,
    /// The port of the name's addresses.
    pub port: u16,
    /// Socket options of its connections (`*_bind`, `*_socket_keepalive`).
    pub socket: connect::SocketOptions,
    /// `proxy_pass https://`: its connections speak TLS.
    pub tls: Option<TlsTarget>,
}

/// How a request's upstream connections speak TLS (`proxy_pass https://`).
#[derive(Clone, Debug)]
pub struct TlsTarget {
    /// The location's client configuration (its session store: `proxy_ssl_session_reuse`).
    pub config: std::sync::Arc<rustls::ClientConfig>,
    /// `proxy_ssl_name` (default the `proxy_pass` host): verified, and sent as SNI with
    /// `proxy_ssl_server_name on`.
    pub name: rustls::pki_types::ServerName<'static>,
}

impl TlsTarget {
    /// The target for `name` as nginx's `ngx_http_upstream_ssl_name` takes it: a port
    /// after the host is dropped (not from a bracketed IPv6 literal's inside).
    pub fn new(config: std::sync::Arc<rustls::ClientConfig>, name: &[u8]) -> TlsTarget {
        let text = String::from_utf8_lossy(name);
        let host = match text.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => text.split(':').next().unwrap_or(""),
        };
        let name = rustls::pki_types::ServerName::try_from(host.to_string()).unwrap_or_else(|_| {
            rustls::pki_types::ServerName::from(std::net::Ipv4Addr::UNSPECIFIED)
        });
        TlsTarget { config, name }
    }
}

/// The settings an upstream module gives the generic machinery (nginx's
/// `ngx_http_upstream_conf_t`): the proxy fills them from `proxy_*` directives, FastCGI
/// will from `fastcgi_*`.
#[derive(Clone, Copy, Debug)]
pub struct Settings<'c> {
    /// `*_connect_timeout`
    pub connect_timeout: Duration,
    /// `*_send_timeout`
    pub send_timeout: Duration,
    /// `*_read_timeout`
    pub read_timeout: Duration,
    /// `*_next_upstream`
    pub next_upstream: NextUpstream,
    /// `*_next_upstream_tries` (0: unlimited)
    pub next_upstream_tries: usize,
    /// `*_next_upstream_timeout` (zero: unlimited)
    pub next_upstream_timeout: Duration,
    /// `*_buffering`
    pub buffering: bool,
    /// `*_buffer_size`: the head must fit it.
    pub buffer_size: usize,
    /// `*_buffers`: number and size.
    pub buffers: (usize, usize),
    /// `*_busy_buffers_size`: response bytes kept in memory for the client while the rest
    /// may go to the temporary file.
    pub busy_buffers_size: usize,
    /// `*_max_temp_file_size` (0: no temporary file).
    pub max_temp_file_size: u64,
    /// `*_temp_file_write_size`: most bytes written to the temporary file at a time.
    pub temp_file_write_size: usize,
    /// `*_temp_path`
    pub temp_path: &'c Path,
    /// `sendfile`: send the temporary file's bytes with `sendfile(2)`.
    pub sendfile: bool,
    /// `resolver`: for a `proxy_pass` host known only per request.
    pub resolver: Option<&'c crate::config::resolver::ResolverConf>,
    /// `resolver_timeout` (zero: no limit).
    pub resolver_timeout: Duration,
    /// `*_limit_rate`: bytes per second read of a buffered response body (0: no limit).
    pub limit_rate: u64,
}

impl<'c> Settings<'c> {
    /// The proxy module's settings of a location.
    pub fn proxy(loc: &'c LocSettings) -> Settings<'c> {
        use crate::config::set_upstream as temp;
        Settings {
            connect_timeout: loc.proxy_connect_timeout,
            send_timeout: loc.proxy_send_timeout,
            read_timeout: loc.proxy_read_timeout,
            next_upstream: loc.proxy_next_upstream,
            next_upstream_tries: loc.proxy_next_upstream_tries,
            next_upstream_timeout: loc.proxy_next_upstream_timeout,
            buffering: loc.proxy_buffering,
            buffer_size: loc.proxy_buffer_size,
            buffers: loc.proxy_buffers,
            busy_buffers_size: temp::busy_buffers_size(loc),
            max_temp_file_size: temp::max_temp_file_size(loc),
            temp_file_write_size: temp::temp_file_write_size(loc),
            temp_path: &loc.proxy_temp_path,
            sendfile: loc.sendfile,
            resolver: loc.resolver.as_deref(),
            resolver_timeout: loc.resolver_timeout,
            limit_rate: loc.proxy_limit_rate,
        }
    }
}
