//! Typed values of the proxy module (`proxy_*`) and of `upstream {}` blocks, with nginx's
//! defaults as named constants. The worker's runtime state for them lives in `crate::proxy`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::vars::Template;

/// `proxy_connect_timeout 60s;`
pub const DEFAULT_PROXY_CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// `proxy_read_timeout 60s;`
pub const DEFAULT_PROXY_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// `proxy_send_timeout 60s;`
pub const DEFAULT_PROXY_SEND_TIMEOUT: Duration = Duration::from_secs(60);
/// `proxy_buffer_size 4k;` (one memory page): the response head must fit in it.
pub const DEFAULT_PROXY_BUFFER_SIZE: usize = 4096;
/// `proxy_buffers 8 4k;`
pub const DEFAULT_PROXY_BUFFERS: (usize, usize) = (8, 4096);
/// `proxy_next_upstream_tries 0;` (0 = unlimited)
pub const DEFAULT_PROXY_NEXT_UPSTREAM_TRIES: usize = 0;
/// `proxy_next_upstream_timeout 0;` (0 = unlimited)
pub const DEFAULT_PROXY_NEXT_UPSTREAM_TIMEOUT: Duration = Duration::ZERO;
/// `keepalive N;` in an upstream block. nginx caches no upstream connection unless told to;
/// Portico's design caches by default, per worker and per upstream group.
pub const DEFAULT_UPSTREAM_KEEPALIVE: usize = 32;
/// `keepalive_timeout 60s;` in an upstream block.
pub const DEFAULT_UPSTREAM_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(60);
/// `keepalive_requests 1000;` in an upstream block.
pub const DEFAULT_UPSTREAM_KEEPALIVE_REQUESTS: u64 = 1000;
/// `server ... weight=1`
pub const DEFAULT_SERVER_WEIGHT: u32 = 1;
/// `server ... max_fails=1`
pub const DEFAULT_SERVER_MAX_FAILS: u32 = 1;
/// `server ... fail_timeout=10s`
pub const DEFAULT_SERVER_FAIL_TIMEOUT: Duration = Duration::from_secs(10);
/// Port of an upstream server or proxy_pass host written without one.
pub const DEFAULT_UPSTREAM_PORT: u16 = 80;
/// The port of an `https://` upstream without one.
pub const DEFAULT_HTTPS_UPSTREAM_PORT: u16 = 443;

/// `proxy_pass URL;`
#[derive(Clone, Debug)]
pub struct ProxyPass {
    /// Where requests go.
    pub target: ProxyTarget,
    /// The URL as written (`proxy_redirect default` is made from it); empty for a URL with
    /// variables.
    pub url: String,
    /// The location's prefix that a URI part replaces (empty where nginx allows no URI part).
    pub location: Vec<u8>,
    /// `proxy_redirect default` for a fixed URL, made once at load: the URL as written
    /// becomes the location's name when it has a URI part, else the URL plus `/` becomes
    /// `/`; `None` for a URL with variables, where nginx has no default.
    pub default_redirect: Option<Arc<[Redirect]>>,
    /// `https://`: the connection speaks TLS (upssl, issue 15).
    pub tls: bool,
}

/// What `proxy_pass` names.
#[derive(Clone, Debug)]
pub enum ProxyTarget {
    /// A fixed URL: an upstream group (explicit or made for `host:port`) and an optional URI.
    Fixed {
        /// Index in [`crate::config::HttpConf::upstreams`].
        group: usize,
        /// `$proxy_host`: the URL's host, with the port unless it is 80.
        host: Arc<str>,
        /// `$proxy_port`.
        port: u16,
        /// The URI part (`http://h/uri` → `/uri`); `None` when the URL has none.
        uri: Option<Vec<u8>>,
    },
    /// A URL with variables, evaluated per request; its host must name an upstream group or
    /// be an IP address (there is no run-time resolver).
    Dynamic(Template),
}

/// `proxy_redirect`.
#[derive(Clone, Debug)]
pub enum ProxyRedirect {
    /// `default` (and the default): the proxy_pass URL becomes the location.
    Default,
    /// `off`
    Off,
    /// `FROM TO` pairs (plus `default` entries), tried in order.
    Rules(Vec<RedirectRule>),
}

/// One `proxy_redirect` entry.
#[derive(Clone, Debug)]
pub enum RedirectRule {
    /// `proxy_redirect default;` among others.
    Default,
    /// `proxy_redirect FROM TO;`: a Location/Refresh value starting with FROM gets TO instead.
    Replace {
        /// Prefix to find.
        from: Template,
        /// Its replacement.
        to: Template,
    },
    /// `proxy_redirect ~REGEX TO;` (`~*`: caseless): a value the regex matches is replaced
    /// whole by TO, whose `$1`..`$9` are the regex's captures.
    Regex {
        /// The compiled regex.
        re: crate::regex::Regex,
        /// The replacement.
        to: Template,
    },
}

/// `proxy_next_upstream` conditions, as bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NextUpstream(pub u16);

impl NextUpstream {
    /// `error`
    pub const ERROR: u16 = 1;
    /// `timeout`
    pub const TIMEOUT: u16 = 1 << 1;
    /// `invalid_header`
    pub const INVALID_HEADER: u16 = 1 << 2;
    /// `http_500`
    pub const HTTP_500: u16 = 1 << 3;
    /// `http_502`
    pub const HTTP_502: u16 = 1 << 4;
    /// `http_503`
    pub const HTTP_503: u16 = 1 << 5;
    /// `http_504`
    pub const HTTP_504: u16 = 1 << 6;
    /// `http_404`
    pub const HTTP_404: u16 = 1 << 7;
    /// `http_403`
    pub const HTTP_403: u16 = 1 << 8;
    /// `http_429`
    pub const HTTP_429: u16 = 1 << 9;
    /// `non_idempotent`
    pub const NON_IDEMPOTENT: u16 = 1 << 10;
    /// nginx's default: `error timeout`.
    pub const DEFAULT: NextUpstream = NextUpstream(Self::ERROR | Self::TIMEOUT);

    /// Whether `bit` is set.
    pub fn has(self, bit: u16) -> bool {
        self.0 & bit != 0
    }

    /// The bit for an upstream status, if one exists.
    pub fn for_status(status: u16) -> u16 {
        match status {
            500 => Self::HTTP_500,
            502 => Self::HTTP_502,
            503 => Self::HTTP_503,
            504 => Self::HTTP_504,
            404 => Self::HTTP_404,
            403 => Self::HTTP_403,
            429 => Self::HTTP_429,
            _ => 0,
        }
    }
}

/// How an upstream group picks a server.
#[derive(Clone, Debug)]
pub enum Balance {
    /// nginx's smooth weighted round robin (the default).
    RoundRobin,
    /// `least_conn`: fewest active connections relative to weight, round robin among ties.
    LeastConn,
    /// `ip_hash`: the client's /24 (IPv4) or whole IPv6 address.
    IpHash,
    /// `hash KEY [consistent]`
    Hash {
        /// The key, evaluated per request.
        key: Template,
        /// Ketama-style consistent hashing.
        consistent: bool,
    },
    /// `random [two [least_conn]]`: a server drawn by weight; with `two`, the one with
    /// fewer active connections of two drawn.
    Random {
        /// `two`
        two: bool,
    },
}

impl Balance {
    /// Whether servers of a group balanced this way may be `backup` (nginx's
    /// `NGX_HTTP_UPSTREAM_BACKUP` flag: round robin and `least_conn` only).
    pub fn allows_backup(&self) -> bool {
        matches!(self, Balance::RoundRobin | Balance::LeastConn)
    }
}

/// Where an upstream server listens: a TCP address or a unix-domain socket
/// (`server unix:/path`, `proxy_pass http://unix:/path:/uri`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerAddr {
    /// A TCP address.
    Inet(SocketAddr),
    /// A unix-domain socket's path (shared, so a try copies no path).
    Unix(std::rc::Rc<std::path::Path>),
}

impl PeerAddr {
    /// The TCP port (0 for a unix-domain socket).
    pub fn port(&self) -> u16 {
        match self {
            PeerAddr::Inet(a) => a.port(),
            PeerAddr::Unix(_) => 0,
        }
    }
}

impl std::fmt::Display for PeerAddr {
    /// As `$upstream_addr` shows it: `127.0.0.1:8080`, `[::1]:80`, `unix:/tmp/app.sock`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerAddr::Inet(a) => write!(f, "{a}"),
            PeerAddr::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// One `server` of an upstream group (a host name that resolves to several addresses gives
/// one entry per address).
#[derive(Clone, Debug)]
pub struct UpstreamServer {
    /// The resolved address.
    pub addr: PeerAddr,
    /// `weight=N`
    pub weight: u32,
    /// `max_fails=N` (0 = never marked failed)
    pub max_fails: u32,
    /// `fail_timeout=T`
    pub fail_timeout: Duration,
    /// `backup`
    pub backup: bool,
    /// `down`
    pub down: bool,
    /// `max_conns=N` (0 = unlimited)
    pub max_conns: usize,
}

/// An `upstream {}` block, or the group nginx makes for `proxy_pass http://host:port`.
#[derive(Clone, Debug)]
pub struct UpstreamConf {
    /// The block's name, or `host:port` for an implicit group.
    pub name: String,
    /// Its servers, primary and backup.
    pub servers: Vec<UpstreamServer>,
    /// How to choose among them.
    pub balance: Balance,
    /// `keepalive N`: idle connections cached per worker (0 = none).
    pub keepalive: usize,
    /// `keepalive_timeout T`
    pub keepalive_timeout: Duration,
    /// `keepalive_requests N`
    pub keepalive_requests: u64,
    /// `keepalive_time T` (`None`: not set, nginx's 1h applies).
    pub keepalive_time: Option<Duration>,
    /// A balancing directive (`least_conn`, `ip_hash`, `hash`, `random`) was given: a
    /// second one draws nginx's "load balancing method redefined" warning.
    pub balance_set: bool,
    /// A `keepalive` directive was given (a balancing directive after it replaces it, as
    /// in nginx).
    pub keepalive_given: bool,
    /// Whether an `upstream {}` block defined it (else a proxy_pass URL did).
    pub explicit: bool,
    /// For a group made by `proxy_pass`: the port written (if any) and the directive's place,
    /// so that resolution errors at load point at it.
    pub pending: Option<PendingHost>,
    // ---- status: shared upstream state ----
    /// `zone NAME [SIZE]`: index in [`crate::config::HttpConf::zones`] of the zone whose
    /// shared memory holds the servers' counters (`None`: each worker counts alone).
    pub zone: Option<usize>,
    // ---- health checks and queue ----
    /// `queue N [timeout=T]`: requests that find no server wait, per worker, at most N
    /// of them, at most T each.
    pub queue: Option<QueueConf>,
}

/// `queue N [timeout=T]` (nginx Plus).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueConf {
    /// Most requests waiting in one worker.
    pub size: usize,
    /// Longest wait before a 502 (60s).
    pub timeout: Duration,
}

/// A `proxy_pass` host awaiting resolution at the end of loading.
#[derive(Clone, Debug)]
pub struct PendingHost {
    /// The port written in the URL.
    pub port: Option<u16>,
    /// The directive's file.
    pub file: std::path::PathBuf,
    /// The directive's line.
    pub line: usize,
}

impl UpstreamConf {
    /// A group with no servers yet and the defaults.
    pub fn new(name: String, explicit: bool) -> UpstreamConf {
        UpstreamConf {
            name,
            servers: Vec::new(),
            balance: Balance::RoundRobin,
            keepalive: DEFAULT_UPSTREAM_KEEPALIVE,
            keepalive_timeout: DEFAULT_UPSTREAM_KEEPALIVE_TIMEOUT,
            keepalive_requests: DEFAULT_UPSTREAM_KEEPALIVE_REQUESTS,
            keepalive_time: None,
            balance_set: false,
            keepalive_given: false,
            explicit,
            pending: None,
            zone: None,
            queue: None,
        }
    }
}

/// One `proxy_redirect` rule, its variables evaluated for the request.
#[derive(Clone, Debug)]
pub enum Redirect {
    /// A value starting with `from` (ASCII case-insensitively) has that prefix replaced.
    Prefix {
        /// The prefix.
        from: Vec<u8>,
        /// What replaces it.
        to: Vec<u8>,
    },
    /// A value `re` matches is replaced whole by `to`, in which `${1}`..`${9}` stand for
    /// the regex's captures (nginx evaluates the replacement against them).
    Regex {
        /// The rule's regex (a cheap clone of the configuration's).
        re: crate::regex::Regex,
        /// The replacement, captures still to fill in.
        to: Vec<u8>,
    },
}
