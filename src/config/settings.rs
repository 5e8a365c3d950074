//! Typed settings: what the directive setters fill in and what the master and workers read.
//!
//! nginx keeps three layers per setting: a value that starts *unset* in every context, a merge
//! of child ← parent, and a default applied at the end. Here each inheritable block of settings
//! is declared once with the `settings!` macro, which produces two structs:
//! - `XxxRaw`: every field an `Option`, filled by the directive setters at http, server and
//!   location level;
//! - `Xxx`: the merged, concrete values the worker reads, produced by `finish()` after
//!   `inherit()` has pulled unset fields from the enclosing context.
//!
//! Each field's default appears exactly once, as a named constant next to its directive.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use super::gzip_values::*;
use super::limits_values::*;
use super::loc_values::*;
use super::parser::{Directive, SourceFile};
use super::proxy_rest::*;
use super::proxy_values::*;
use super::rewrite_ops::Op;
use crate::http::conditional::IfModifiedSince;
use crate::http::expires::Expires;
use crate::log::AccessLogTarget;
use crate::vars::{Template, UserVars};

/// Declares a block of inheritable settings: `Raw` (all `Option`) and the merged struct.
macro_rules! settings {
    ($(#[$meta:meta])* $name:ident / $raw:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty = $default:expr,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Debug)]
        pub struct $name { $($(#[$fmeta])* pub $field: $ty,)* }

        /// Unmerged form of the settings: `None` means "not set in this context".
        #[derive(Clone, Debug, Default)]
        pub struct $raw { $(pub $field: Option<$ty>,)* }

        impl $raw {
            /// Takes every field still unset here from `parent` (nginx's merge).
            pub fn inherit(&mut self, parent: &$raw) {
                $(if self.$field.is_none() { self.$field = parent.$field.clone(); })*
            }
            /// Applies the defaults to what is still unset.
            pub fn finish(&self) -> $name {
                $name { $($field: self.$field.clone().unwrap_or_else(|| $default),)* }
            }
        }
    };
}

// ---- Defaults, with their units (nginx's values) ----
/// `worker_connections 512;`
pub const DEFAULT_WORKER_CONNECTIONS: usize = 512;
/// `accept_mutex_delay 500ms;`
pub const DEFAULT_ACCEPT_MUTEX_DELAY: Duration = Duration::from_millis(500);
/// `epoll_events 512;`
pub const DEFAULT_EPOLL_EVENTS: usize = 512;
/// `worker_aio_requests 32;`
pub const DEFAULT_WORKER_AIO_REQUESTS: u64 = 32;
/// `lock_file` default, relative to the prefix.
pub const DEFAULT_LOCK_FILE: &str = "logs/portico.lock";
/// `keepalive_timeout 75s;`
pub const DEFAULT_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(75);
/// `keepalive_requests 1000;`
pub const DEFAULT_KEEPALIVE_REQUESTS: u64 = 1000;
/// `client_header_timeout 60s;`
pub const DEFAULT_CLIENT_HEADER_TIMEOUT: Duration = Duration::from_secs(60);
/// `client_body_timeout 60s;`
pub const DEFAULT_CLIENT_BODY_TIMEOUT: Duration = Duration::from_secs(60);
/// `send_timeout 60s;`
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(60);
/// `client_header_buffer_size 1k;`
pub const DEFAULT_CLIENT_HEADER_BUFFER_SIZE: usize = 1024;
/// `large_client_header_buffers 4 8k;`
pub const DEFAULT_LARGE_CLIENT_HEADER_BUFFERS: (usize, usize) = (4, 8192);
/// `client_max_body_size 1m;` (0 disables the check)
pub const DEFAULT_CLIENT_MAX_BODY_SIZE: u64 = 1024 * 1024;
/// `client_body_buffer_size 16k;` (nginx's two pages on 64-bit): a request body up to
/// this size is buffered in memory, a longer one in a temporary file.
pub const DEFAULT_CLIENT_BODY_BUFFER_SIZE: usize = 16 * 1024;
/// `client_body_temp_path client_body_temp;` (relative to the prefix)
pub const DEFAULT_CLIENT_BODY_TEMP_PATH: &str = "client_body_temp";
/// `proxy_temp_path proxy_temp;` (relative to the prefix)
pub const DEFAULT_PROXY_TEMP_PATH: &str = "proxy_temp";
/// `proxy_max_temp_file_size 1024m;`
pub const DEFAULT_PROXY_MAX_TEMP_FILE_SIZE: u64 = 1024 * 1024 * 1024;
/// `sendfile_max_chunk 2m;` (0 = unlimited)
pub const DEFAULT_SENDFILE_MAX_CHUNK: u64 = 2 * 1024 * 1024;
/// `worker_shutdown_timeout` is unset by default, as in nginx: an old worker waits for its
/// connections however long they take.
pub const DEFAULT_WORKER_SHUTDOWN_TIMEOUT: Option<Duration> = None;
/// `lingering_time 30s;`
pub const DEFAULT_LINGERING_TIME: Duration = Duration::from_secs(30);
/// `lingering_timeout 5s;`
pub const DEFAULT_LINGERING_TIMEOUT: Duration = Duration::from_secs(5);
/// `listen ... backlog=N` default on Linux (`NGX_LISTEN_BACKLOG`).
pub const DEFAULT_LISTEN_BACKLOG: i32 = 511;
/// `pid` default, relative to the prefix.
pub const DEFAULT_PID_PATH: &str = "logs/portico.pid";
/// `error_log` default, relative to the prefix (level `error`).
pub const DEFAULT_ERROR_LOG_PATH: &str = "logs/error.log";
/// `access_log` default, relative to the prefix (format `combined`).
pub const DEFAULT_ACCESS_LOG_PATH: &str = "logs/access.log";
/// `root` default, relative to the prefix.
pub const DEFAULT_ROOT: &str = "html";
/// `worker_processes` default.
pub const DEFAULT_WORKER_PROCESSES: usize = 1;
/// `listen` default when a server has none: `*:80` as root, `*:8000` otherwise.
pub const DEFAULT_LISTEN_PORT_ROOT: u16 = 80;
/// See [`DEFAULT_LISTEN_PORT_ROOT`].
pub const DEFAULT_LISTEN_PORT_USER: u16 = 8000;

/// The whole parsed configuration.
#[derive(Debug)]
pub struct Config {
    /// The configuration file as given (`-c`), resolved against the prefix.
    pub file: PathBuf,
    /// The prefix (`-p`), against which relative paths resolve.
    pub prefix: PathBuf,
    /// Top-level directives.
    pub main: MainConf,
    /// The `events {}` block.
    pub events: EventsConf,
    /// The `http {}` block, if any.
    pub http: Option<HttpConf>,
    /// Every file read (main file and includes), for `-T`.
    pub sources: Vec<SourceFile>,
    /// nginx's `[warn]`s about the configuration, in the order met (`-t` prints them, a
    /// start or a reload logs them).
    pub warnings: Vec<super::ConfError>,
    /// Every `root` and `alias` without variables, and the default root where the http
    /// block sets none: the directories the workers must be able to read.
    pub doc_roots: Vec<DocRootSite>,
}

/// A document root the configuration names, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocRootSite {
    /// The directory (for an alias of a regex location, the alias up to its first variable
    /// is not known: such aliases are not listed).
    pub path: PathBuf,
    /// `root` or `alias` (`root` for the default).
    pub directive: &'static str,
    /// The directive's file and line; `None` for the default root.
    pub at: Option<(PathBuf, usize)>,
}

pub use super::core_values::{Cidr, CpuAffinity, CpuSet, DebugPeer, EnvVar};
pub use crate::log::{DebugPoints, ErrorLogConf, ErrorLogTarget};

/// Top-level (`main` context) settings: nginx's core module (`nginx.c`).
#[derive(Clone, Debug)]
pub struct MainConf {
    /// `daemon on|off;` (default on)
    pub daemon: bool,
    /// `master_process on|off;` (default on)
    pub master_process: bool,
    /// `worker_processes N|auto;` resolved to a count (default 1).
    pub worker_processes: usize,
    /// `worker_rlimit_nofile N;`
    pub worker_rlimit_nofile: Option<u64>,
    /// `worker_rlimit_core SIZE;`: the workers' `RLIMIT_CORE`, both limits.
    pub worker_rlimit_core: Option<u64>,
    /// `worker_priority N;`: the workers' nice value (0, the default, leaves it).
    pub worker_priority: i32,
    /// `worker_cpu_affinity ...;`
    pub worker_cpu_affinity: CpuAffinity,
    /// `worker_shutdown_timeout T;` (unset or 0: no limit)
    pub worker_shutdown_timeout: Option<Duration>,
    /// `working_directory DIR;` as written: where workers `chdir` to (so their core files
    /// land there).
    pub working_directory: Option<PathBuf>,
    /// `env` directives in order (`TZ` is kept even without one).
    pub env: Vec<EnvVar>,
    /// `timer_resolution T;`: the workers read the clock once per T instead of once per
    /// event-loop turn (unset: every turn).
    pub timer_resolution: Option<Duration>,
    /// `debug_points stop|abort;`
    pub debug_points: Option<DebugPoints>,
    /// `lock_file FILE;` resolved against the prefix (default `logs/portico.lock`). Portico
    /// has no accept mutex and no lock files, so nothing is created there.
    pub lock_file: PathBuf,
    /// `user USER [GROUP];` as given; `None` means nginx's default (`nobody`, group = user's group)
    /// when the master runs as root.
    pub user: Option<(String, Option<String>)>,
    /// `error_log` directives at main level (default `logs/error.log error`).
    pub error_log: Vec<ErrorLogConf>,
    /// `pid FILE;` resolved against the prefix (default `logs/portico.pid`); `pid off;` gives an
    /// empty path, meaning no pid file.
    pub pid: PathBuf,
}

/// `events {}` settings: nginx's event core and epoll modules (`ngx_event.c`,
/// `ngx_epoll_module.c`).
#[derive(Clone, Debug)]
pub struct EventsConf {
    /// `worker_connections N;`
    pub worker_connections: usize,
    /// `use epoll;` (the only event method, as in Debian's nginx on Linux).
    pub method: Option<String>,
    /// `multi_accept on|off;`: accept every queued connection per wake-up, not one.
    pub multi_accept: bool,
    /// `accept_mutex on|off;` (accepted: Portico's workers share the listening sockets with
    /// `EPOLLEXCLUSIVE`, which wakes one worker per connection without a lock).
    pub accept_mutex: bool,
    /// `accept_mutex_delay T;` (accepted and checked; see `accept_mutex`).
    pub accept_mutex_delay: Duration,
    /// `debug_connection` entries: these clients' connections log at `debug` level.
    pub debug_connection: Vec<DebugPeer>,
    /// `epoll_events N;`: most events one `epoll_wait` returns.
    pub epoll_events: usize,
    /// `worker_aio_requests N;` (checked; Portico has no AIO).
    pub worker_aio_requests: u64,
}

/// A `log_format NAME [escape=default|json|none] STRING...;`.
#[derive(Clone, Debug)]
pub struct LogFormat {
    /// The format's name.
    pub name: String,
    /// How variable values are escaped.
    pub escape: LogEscape,
    /// The compiled format.
    pub template: Template,
    /// Whether it uses `$sent_http_*`, for which the worker keeps a copy of the response
    /// head until the line is written.
    pub reads_sent_headers: bool,
}

impl LogFormat {
    /// A format named `name`.
    pub fn new(name: String, escape: LogEscape, template: Template) -> LogFormat {
        let reads_sent_headers = template
            .vars()
            .any(|v| matches!(v, crate::vars::Var::SentHttp(_)));
        LogFormat {
            name,
            escape,
            template,
            reads_sent_headers,
        }
    }
}

/// `log_format ... escape=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogEscape {
    /// `\xHH` for `"`, `\`, and bytes < 32 or > 126.
    Default,
    /// JSON string escaping.
    Json,
    /// No escaping.
    None,
}

/// One `access_log PATH [FORMAT [buffer=SIZE [flush=TIME]] [if=CONDITION]]` (or `off`,
/// which is an empty list).
#[derive(Clone, Debug)]
pub struct AccessLogConf {
    /// Where to write (for a path with variables, the path as written).
    pub target: AccessLogTarget,
    /// The resolved format (default `combined`).
    pub format: Rc<LogFormat>,
    // ---- core (long tail) ----
    /// `if=CONDITION`: a request for which it evaluates to `""` or `"0"` is not logged.
    pub filter: Option<Template>,
    /// A path with variables: evaluated per line, the file opened then (or kept by
    /// `open_log_file_cache`).
    pub path_script: Option<Template>,
    /// `buffer=SIZE [flush=TIME]`: lines are kept and written in blocks.
    pub buffer: Option<crate::log::LogBuffer>,
}

/// `open_log_file_cache max=N [inactive=TIME] [min_uses=N] [valid=TIME]`: the worker
/// keeps open the files of access logs whose paths hold variables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogFileCache {
    /// Most files kept open.
    pub max: usize,
    /// A file unused this long is closed (default 10s).
    pub inactive: std::time::Duration,
    /// Uses within `inactive` before a file is kept open (default 1).
    pub min_uses: u64,
    /// How long a kept file is used before it is opened again by name (default 60s).
    pub valid: std::time::Duration,
}

impl AccessLogConf {
    /// A plain `access_log PATH FORMAT`.
    pub fn new(target: AccessLogTarget, format: Rc<LogFormat>) -> AccessLogConf {
        AccessLogConf {
            target,
            format,
            filter: None,
            path_script: None,
            buffer: None,
        }
    }
}

/// File-extension → MIME type map (`types {}`).
pub type MimeTypes = Rc<HashMap<String, String, crate::fast_hash::FastState>>;

/// The `http {}` block after merging.
#[derive(Debug)]
pub struct HttpConf {
    /// Virtual servers in config order.
    pub servers: Vec<ServerConf>,
    /// Every distinct listen address across servers, in first-seen order, with its options.
    /// `default_server` is set on an entry when any server claimed it for that address.
    /// Note: like nginx, a wildcard (`*:80`) and a specific address (`127.0.0.1:80`) on the same
    /// port are both listed; nginx binds only the wildcard unless the specific one has options.
    pub listens: Vec<ListenConf>,
    /// Every variable declared by `set` anywhere: a request's
    /// [`crate::rewrite::RewriteCtx`] holds [`UserVars::len`] values.
    pub user_vars: UserVars,
    /// Upstream groups: `upstream {}` blocks and those made for `proxy_pass http://host:port`
    /// ([`ProxyTarget::Fixed`] holds an index here).
    pub upstreams: Vec<UpstreamConf>,
    /// http-level directives of later work, kept raw (in config order): `upstream` blocks and
    /// `proxy_*` settings. Servers and locations keep their own; inheritance is the
    /// consumer's job.
    pub deferred: Vec<Directive>,
    // ---- limits, realip, auth_basic (issue 14) ----
    /// Shared-memory zones (`limit_req_zone`, `limit_conn_zone`), mapped by the master.
    pub zones: Vec<ZoneDecl>,
    // ---- map, geo, split_clients, referer, empty_gif ----
    /// The variables computed per request (`map`, `geo`, `split_clients`), indexed by
    /// [`crate::vars::Var::Computed`]; their names are in `user_vars`.
    pub computed: crate::computed::ComputedTable,
    // ---- proxy (rest of the module) ----
    /// Some `proxy_bind ... transparent`: workers keep `CAP_NET_RAW` when they drop root
    /// privileges (nginx's `ccf->transparent`).
    pub proxy_transparent: bool,
    /// Charset names and `charset_map` tables (`config/charset.rs`).
    pub charsets: super::charset::Charsets,
    // ---- cache (issue 19) ----
    /// `proxy_cache_path` directives: the caches (`LocSettings::proxy_cache` names one by
    /// its zone's index in [`HttpConf::zones`]).
    pub caches: Vec<super::set_cache::CacheDecl>,
    // ---- status ----
    /// `status_zone` names, with whether a server (else a location) names them; indexed by
    /// `SrvSettings::status_zone` and `LocSettings::status_zone`.
    pub status_zones: Vec<(bool, String)>,
    /// Per `status_zones` entry, its counter block in the status zone (set by the master
    /// before it forks; `None` under `-t` or when the zone is full).
    pub status_zone_blocks: Vec<Option<usize>>,
    /// Per `zones` entry, the counter block of a limit zone in the status zone (set by the
    /// master, as `status_zone_blocks`).
    pub limit_zone_blocks: Vec<Option<usize>>,
    // ---- health checks ----
    /// Each `health_check`, tied to its group (one per group at most).
    pub health_checks: Vec<super::health_check::HealthCheck>,
}

impl HttpConf {
    /// The index in [`HttpConf::servers`] of the default server for a connection accepted on
    /// `addr`: the server marked `default_server` for that address, else the first server
    /// listening on it. A specific local address falls back to a wildcard listen on its port.
    pub fn server_default_for(&self, addr: SocketAddr) -> Option<usize> {
        let pick = |want: &dyn Fn(&ListenConf) -> bool| {
            let listening = |s: &ServerConf| s.listens.iter().any(want);
            let default = self
                .servers
                .iter()
                .position(|s| s.listens.iter().any(|l| l.default_server && want(l)));
            default.or_else(|| self.servers.iter().position(listening))
        };
        pick(&|l: &ListenConf| l.addr.inet() == Some(addr)).or_else(|| {
            pick(&|l: &ListenConf| {
                l.addr.inet().is_some_and(|l| {
                    l.port() == addr.port()
                        && l.is_ipv4() == addr.is_ipv4()
                        && l.ip().is_unspecified()
                })
            })
        })
    }
}

/// What a `listen` binds: an IP address and port, or `unix:PATH`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenAddr {
    /// A TCP address.
    Inet(SocketAddr),
    /// A unix-domain socket's path (what follows `unix:`), shared with the requests that
    /// show it as `$server_addr`.
    Unix(std::rc::Rc<std::path::Path>),
}

impl ListenAddr {
    /// The TCP address, if it is one.
    pub fn inet(&self) -> Option<SocketAddr> {
        match self {
            ListenAddr::Inet(a) => Some(*a),
            ListenAddr::Unix(_) => None,
        }
    }
}

impl From<SocketAddr> for ListenAddr {
    fn from(a: SocketAddr) -> ListenAddr {
        ListenAddr::Inet(a)
    }
}

/// As nginx's `addr_text`: `127.0.0.1:80`, `[::1]:80`, `unix:/run/app.sock`.
impl std::fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListenAddr::Inet(a) => a.fmt(f),
            ListenAddr::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// `listen [addr:]port [default_server] [backlog=N] [reuseport] [ipv6only=on|off];`
#[derive(Clone, Debug, PartialEq)]
pub struct ListenConf {
    /// Address to bind (`*:80` becomes `0.0.0.0:80`), or a unix-domain socket's path.
    pub addr: ListenAddr,
    /// `default_server` (or `default`).
    pub default_server: bool,
    /// `backlog=N`
    pub backlog: i32,
    /// `reuseport`: one socket per worker.
    pub reuseport: bool,
    /// `ipv6only=on|off` (default on).
    pub ipv6only: bool,
    /// `proxy_protocol`: connections start with a PROXY protocol header (set for the
    /// address when any of its `listen`s says so, as nginx does).
    pub proxy_protocol: bool,
    // ---- core (issue 11) ----
    /// `rcvbuf=`, `sndbuf=`, `so_keepalive=`, `fastopen=`, `deferred`: set on the socket.
    pub sockopts: super::listen::SockOpts,
    // ---- tls (issue 15) ----
    /// `ssl`: connections speak TLS (set for the address when any of its `listen`s says
    /// so, as nginx does).
    pub ssl: bool,
    // ---- http2 ----
    /// `listen ... http2`: connections speak HTTP/2 (h2c with prior knowledge in clear,
    /// ALPN `h2` offered over TLS); set for the address when any of its `listen`s says so.
    pub http2: bool,
}

/// A `server_name` entry.
#[derive(Clone, Debug)]
pub enum ServerName {
    /// `example.com` (stored lowercase), or `""` for requests without Host.
    Exact(String),
    /// `*.example.com` stored as (`.example.com`, false); `.example.com` stored as
    /// (`.example.com`, true): the `true` means it also matches `example.com` itself.
    WildcardFront(String, bool),
    /// `www.example.*` stored as `www.example.`.
    WildcardBack(String),
    /// `~regex`
    Regex(crate::regex::Regex),
}

/// A `server {}` block, merged.
#[derive(Debug)]
pub struct ServerConf {
    /// Its `listen` directives (default `*:80`/`*:8000`).
    pub listens: Vec<ListenConf>,
    /// `server_name` entries; the first is `$server_name`.
    pub names: Vec<ServerName>,
    /// Server-level settings (header buffers and timeouts).
    pub srv: SrvSettings,
    /// Settings for a request that matches no location.
    pub loc: Rc<LocSettings>,
    /// Locations in config order.
    pub locations: Vec<LocationConf>,
    /// `locations` indexed for the search (built once at load).
    pub tree: super::location_tree::LocationTree,
    /// Server-level `rewrite`, `return`, `set`, `if`, `break`: run once per request before
    /// the location search (nginx's server rewrite phase).
    pub rewrite: Vec<Op>,
    /// Server-level directives of later work (`proxy_*`), kept raw in config order.
    pub deferred: Vec<Directive>,
    /// Where the block is written (for `--explain`).
    pub defined_at: super::SourcePos,
    // ---- tls (issue 15) ----
    /// What its `ssl_*` directives built, when it has TLS (an `ssl` listen or `ssl on`).
    pub tls: Option<Rc<crate::tls::ServerTls>>,
}

/// How a `location` matches.
#[derive(Clone, Debug)]
pub enum LocationMatch {
    /// `location = /uri`
    Exact(String),
    /// `location /prefix`
    Prefix(String),
    /// `location ^~ /prefix`: a match stops the regex search.
    PrefixNoRegex(String),
    /// `location ~ re` / `location ~* re`
    Regex(crate::regex::Regex, /* case_insensitive */ bool),
    /// `location @name`
    Named(String),
}

/// A `location {}` block, merged with its parents.
#[derive(Debug)]
pub struct LocationConf {
    /// Its match.
    pub matcher: LocationMatch,
    /// Settings after merging server ← location.
    pub loc: Rc<LocSettings>,
    /// Nested locations.
    pub nested: Vec<LocationConf>,
    /// `nested` indexed for the search (built once at load).
    pub tree: super::location_tree::LocationTree,
    /// The location's own `rewrite`, `return`, `set`, `if`, `break` (not inherited, as in
    /// nginx): run after each location search that selects this location.
    pub rewrite: Vec<Op>,
    /// Location-level directives of later work (`proxy_pass`, `proxy_set_header`…), kept
    /// raw in config order; an `if` block holding some is kept as an `if` with only those.
    pub deferred: Vec<Directive>,
    /// `limit_except` (not inherited by nested locations, as in nginx).
    pub limit_except: Option<super::access::LimitExcept>,
    /// Where the block is written (for `--explain`).
    pub defined_at: super::SourcePos,
}

settings! {
    /// Server-level settings (`http` and `server` contexts).
    SrvSettings / SrvRaw {
        /// `client_header_timeout`
        client_header_timeout: Duration = DEFAULT_CLIENT_HEADER_TIMEOUT,
        /// `client_header_buffer_size`
        client_header_buffer_size: usize = DEFAULT_CLIENT_HEADER_BUFFER_SIZE,
        /// `large_client_header_buffers NUMBER SIZE`
        large_client_header_buffers: (usize, usize) = DEFAULT_LARGE_CLIENT_HEADER_BUFFERS,
        /// `ignore_invalid_headers`
        ignore_invalid_headers: bool = true,
        /// `underscores_in_headers`
        underscores_in_headers: bool = false,
        /// `merge_slashes`
        merge_slashes: bool = true,
        // ---- core (long tail): tuning knobs, checked as nginx checks them (config::tuning) ----
        /// `connection_pool_size`
        connection_pool_size: u64 = super::tuning::DEFAULT_CONNECTION_POOL_SIZE,
        /// `request_pool_size`
        request_pool_size: u64 = super::tuning::DEFAULT_REQUEST_POOL_SIZE,
        // ---- status (config/set_status.rs) ----
        /// `status_zone NAME` of a server: index in `HttpConf::status_zones`
        status_zone: Option<usize> = None,
        // ---- tls (issue 15): the ssl_* directives (config/set_ssl.rs, built by tls::build) ----
        /// `ssl on|off` (nginx's deprecated form of `listen ... ssl`)
        ssl: bool = false,
        /// `ssl_certificate FILE|data:PEM` (several)
        ssl_certificate: Vec<String> = Vec::new(),
        /// `ssl_certificate_key FILE|data:PEM` (several, paired in order)
        ssl_certificate_key: Vec<String> = Vec::new(),
        /// `ssl_protocols`
        ssl_protocols: crate::tls::Protocols = super::set_ssl::DEFAULT_SSL_PROTOCOLS,
        /// `ssl_ciphers`
        ssl_ciphers: String = super::set_ssl::DEFAULT_SSL_CIPHERS.to_string(),
        /// `ssl_prefer_server_ciphers`
        ssl_prefer_server_ciphers: bool = false,
        /// `ssl_ecdh_curve`
        ssl_ecdh_curve: String = "auto".to_string(),
        /// `ssl_session_cache`
        ssl_session_cache: crate::tls::SessionCache = crate::tls::SessionCache::None,
        /// `ssl_session_timeout`
        ssl_session_timeout: Duration = super::set_ssl::DEFAULT_SSL_SESSION_TIMEOUT,
        /// `ssl_session_tickets`
        ssl_session_tickets: bool = true,
        /// `ssl_session_ticket_key FILE` (several; the first encrypts)
        ssl_session_ticket_key: Vec<String> = Vec::new(),
        /// `ssl_buffer_size`
        ssl_buffer_size: usize = super::set_ssl::DEFAULT_SSL_BUFFER_SIZE,
        /// `ssl_reject_handshake`
        ssl_reject_handshake: bool = false,
        /// `ssl_verify_depth`
        ssl_verify_depth: u64 = 1,
        /// `ssl_verify_client`
        ssl_verify_client: crate::tls::VerifyClient = crate::tls::VerifyClient::Off,
        /// `ssl_client_certificate FILE`
        ssl_client_certificate: String = String::new(),
        /// `ssl_trusted_certificate FILE`
        ssl_trusted_certificate: String = String::new(),
        /// `ssl_crl FILE`
        ssl_crl: String = String::new(),
        // ---- tls3: encrypted keys, stapling, early data (config/set_ssl.rs) ----
        /// `ssl_password_file`: its passwords in order (empty: none given)
        ssl_password_file: Vec<Vec<u8>> = Vec::new(),
        /// `ssl_stapling`
        ssl_stapling: bool = false,
        /// `ssl_stapling_file FILE` (empty: none)
        ssl_stapling_file: String = String::new(),
        /// `ssl_stapling_responder URL` (empty: the certificate's AIA)
        ssl_stapling_responder: String = String::new(),
        /// `ssl_stapling_verify`
        ssl_stapling_verify: bool = false,
        /// `ssl_early_data`: TLS 1.3 0-RTT requests accepted
        ssl_early_data: bool = false,
        // ---- ocsp3: OCSP checks of client certificates (config/set_ssl.rs) ----
        /// `ssl_ocsp`
        ssl_ocsp: crate::tls::OcspMode = crate::tls::OcspMode::Off,
        /// `ssl_ocsp_responder URL` (empty: each certificate's AIA)
        ssl_ocsp_responder: String = String::new(),
        /// `ssl_ocsp_cache shared:NAME:SIZE`: the zone's name (empty: `off`)
        ssl_ocsp_cache: String = String::new(),
        // ---- ktls (issue 15, upssl): config/set_ktls.rs ----
        /// `ssl_conf_command Options KTLS`: sessions may move into the kernel for sendfile
        ssl_ktls: bool = false,
        // ---- http2 (config/set_http2.rs) ----
        /// `http2 on|off` (nginx 1.25's per-server form of `listen ... http2`)
        http2: bool = false,
        /// `http2_max_concurrent_streams`
        http2_max_concurrent_streams: u32 = 128,
        /// `http2_body_preread_size`: each stream's receive window
        http2_body_preread_size: u32 = 65_536,
        /// `http2_recv_buffer_size` (an `http` setting in nginx; read from the default server)
        http2_recv_buffer_size: usize = 256 * 1024,
    }
}

settings! {
    /// Location-level settings (`http`, `server` and `location` contexts).
    LocSettings / LocRaw {
        /// `root PATH` (resolved against the prefix; default `html`)
        root: PathBuf = PathBuf::from(DEFAULT_ROOT),
        /// `index FILE...` (names may hold variables)
        index: Vec<Template> = vec![Template::literal("index.html")],
        /// `sendfile on|off` (nginx default off)
        sendfile: bool = false,
        /// `sendfile_max_chunk SIZE` (0 = unlimited)
        sendfile_max_chunk: u64 = DEFAULT_SENDFILE_MAX_CHUNK,
        /// `tcp_nopush on|off`
        tcp_nopush: bool = false,
        /// `tcp_nodelay on|off`
        tcp_nodelay: bool = true,
        /// `keepalive_timeout TIMEOUT [HEADER_TIMEOUT]` (zero disables keep-alive)
        keepalive_timeout: (Duration, Option<Duration>) = (DEFAULT_KEEPALIVE_TIMEOUT, None),
        /// `keepalive_requests N`
        keepalive_requests: u64 = DEFAULT_KEEPALIVE_REQUESTS,
        /// `client_body_timeout`
        client_body_timeout: Duration = DEFAULT_CLIENT_BODY_TIMEOUT,
        /// `send_timeout`
        send_timeout: Duration = DEFAULT_SEND_TIMEOUT,
        /// `client_max_body_size` (0 = unlimited)
        client_max_body_size: u64 = DEFAULT_CLIENT_MAX_BODY_SIZE,
        /// `client_body_buffer_size`: a buffered request body larger than this is spilled
        /// to a file under `client_body_temp_path`
        client_body_buffer_size: usize = DEFAULT_CLIENT_BODY_BUFFER_SIZE,
        /// `client_body_temp_path PATH` (resolved against the prefix; levels are accepted
        /// and not used: files are unlinked as soon as they are created)
        client_body_temp_path: PathBuf = PathBuf::from(DEFAULT_CLIENT_BODY_TEMP_PATH),
        /// `proxy_temp_path PATH` (resolved against the prefix): created at start and reload
        /// with `client_body_temp_path`
        proxy_temp_path: PathBuf = PathBuf::from(DEFAULT_PROXY_TEMP_PATH),
        /// `server_tokens on|off|build` (`build` is `on`: Portico has no build name)
        server_tokens: bool = true,
        /// `access_log` (empty = off); default `logs/access.log combined`, filled in by the loader
        access_log: Vec<AccessLogConf> = Vec::new(),
        /// `types {}` (default: nginx's built-in html, gif, jpg)
        types: MimeTypes = default_mime_types(),
        /// `default_type`
        default_type: String = "text/plain".to_string(),
        /// `log_not_found on|off`
        log_not_found: bool = true,
        /// `lingering_close off|on|always`
        lingering_close: LingeringClose = LingeringClose::On,
        /// `lingering_time`
        lingering_time: Duration = DEFAULT_LINGERING_TIME,
        /// `lingering_timeout`
        lingering_timeout: Duration = DEFAULT_LINGERING_TIMEOUT,
        /// `error_log` at http/server/location level; the loader seeds the http level with the
        /// main-level logs, as nginx does. Shared, so a worker can make a request's logs the
        /// current ones without copying them.
        error_log: Rc<Vec<ErrorLogConf>> = Rc::default(),
        /// `alias PATH` (location only): replaces the matched prefix of the URI; in a regex
        /// location the evaluated alias (captures allowed) is the whole path. `None` where
        /// `root` applies. A level with `root` or `alias` inherits neither from its parent.
        alias: Option<super::doc_root::Alias> = None,
        /// `try_files FILE... URI|=CODE|@name` (server or location; not inherited, as in nginx)
        try_files: Option<TryFiles> = None,
        /// `error_page` entries in order; a level with any replaces its parent's list
        error_page: Vec<ErrorPage> = Vec::new(),
        /// `recursive_error_pages on|off`
        recursive_error_pages: bool = false,
        /// `autoindex on|off`
        autoindex: bool = false,
        /// `autoindex_exact_size on|off`
        autoindex_exact_size: bool = true,
        /// `autoindex_localtime on|off`
        autoindex_localtime: bool = false,
        /// `autoindex_format html|xml|json|jsonp`
        autoindex_format: AutoindexFormat = AutoindexFormat::Html,
        /// `expires ...`
        expires: Expires = Expires::Off,
        /// `add_header` entries in order; a level with any replaces its parent's list
        add_header: Vec<AddHeader> = Vec::new(),
        /// `etag on|off`
        etag: bool = true,
        /// `if_modified_since off|exact|before`
        if_modified_since: IfModifiedSince = IfModifiedSince::Exact,
        /// `server_name_in_redirect on|off`
        server_name_in_redirect: bool = false,
        /// `port_in_redirect on|off`
        port_in_redirect: bool = true,
        /// `absolute_redirect on|off`
        absolute_redirect: bool = true,
        /// `internal` (location only; nested locations inherit it, as in nginx)
        internal: bool = false,
        /// `open_file_cache off|max=N [inactive=TIME]`
        open_file_cache: Option<OpenFileCache> = None,
        /// `disable_symlinks off|on [from=$document_root]`
        disable_symlinks: DisableSymlinks = DisableSymlinks::Off,
        /// `open_file_cache_valid TIME`
        open_file_cache_valid: Duration = DEFAULT_OPEN_FILE_CACHE_VALID,
        /// `open_file_cache_min_uses N`
        open_file_cache_min_uses: u64 = DEFAULT_OPEN_FILE_CACHE_MIN_USES,
        /// `open_file_cache_errors on|off`
        open_file_cache_errors: bool = false,
        /// `open_file_cache_events on|off`
        open_file_cache_events: bool = false,
        /// `msie_padding on|off`
        msie_padding: bool = true,
        /// `msie_refresh on|off`
        msie_refresh: bool = false,
        /// `rewrite_log on|off`: rewrite results at notice level in the error log
        rewrite_log: bool = false,
        /// `uninitialized_variable_warn on|off`
        uninitialized_variable_warn: bool = true,
        /// `proxy_pass URL` (location or `if` in a location; nested locations do not inherit it)
        proxy_pass: Option<ProxyPass> = None,
        /// `proxy_set_header NAME VALUE` entries in order; a level with any replaces its parent's
        proxy_set_header: Vec<(String, Template)> = Vec::new(),
        /// `proxy_pass_header NAME` (lowercase)
        proxy_pass_header: Vec<String> = Vec::new(),
        /// `proxy_hide_header NAME` (lowercase)
        proxy_hide_header: Vec<String> = Vec::new(),
        /// `proxy_redirect`
        proxy_redirect: ProxyRedirect = ProxyRedirect::Default,
        /// `proxy_http_version 1.0|1.1`, as the minor version (Portico's default 1.1)
        proxy_http_version: u8 = 1,
        /// `proxy_connect_timeout`
        proxy_connect_timeout: Duration = DEFAULT_PROXY_CONNECT_TIMEOUT,
        /// `proxy_read_timeout`
        proxy_read_timeout: Duration = DEFAULT_PROXY_READ_TIMEOUT,
        /// `proxy_send_timeout`
        proxy_send_timeout: Duration = DEFAULT_PROXY_SEND_TIMEOUT,
        /// `proxy_next_upstream`
        proxy_next_upstream: NextUpstream = NextUpstream::DEFAULT,
        /// `proxy_next_upstream_tries` (0 = unlimited)
        proxy_next_upstream_tries: usize = DEFAULT_PROXY_NEXT_UPSTREAM_TRIES,
        /// `proxy_next_upstream_timeout` (zero = unlimited)
        proxy_next_upstream_timeout: Duration = DEFAULT_PROXY_NEXT_UPSTREAM_TIMEOUT,
        /// `proxy_buffering on|off`
        proxy_buffering: bool = true,
        /// `proxy_buffer_size`
        proxy_buffer_size: usize = DEFAULT_PROXY_BUFFER_SIZE,
        /// `proxy_buffers NUMBER SIZE`
        proxy_buffers: (usize, usize) = DEFAULT_PROXY_BUFFERS,
        /// `proxy_request_buffering on|off`
        proxy_request_buffering: bool = true,
        /// `proxy_intercept_errors on|off`
        proxy_intercept_errors: bool = false,
        // ---- core (long tail): tuning knobs, checked as nginx checks them (config::tuning) ----
        /// `types_hash_max_size`
        types_hash_max_size: u64 = super::tuning::DEFAULT_TYPES_HASH_MAX_SIZE,
        /// `types_hash_bucket_size`
        types_hash_bucket_size: u64 = super::tuning::DEFAULT_TYPES_HASH_BUCKET_SIZE,
        /// `output_buffers NUMBER SIZE`
        output_buffers: (u64, u64) = super::tuning::DEFAULT_OUTPUT_BUFFERS,
        /// `postpone_output`
        postpone_output: u64 = super::tuning::DEFAULT_POSTPONE_OUTPUT,
        /// `subrequest_output_buffer_size`
        subrequest_output_buffer_size: u64 = super::tuning::DEFAULT_SUBREQUEST_OUTPUT_BUFFER_SIZE,
        /// `read_ahead`
        read_ahead: u64 = super::tuning::DEFAULT_READ_AHEAD,
        /// `directio_alignment`
        directio_alignment: u64 = super::tuning::DEFAULT_DIRECTIO_ALIGNMENT,
        /// `send_lowat` (always 0: Linux cannot set it, as nginx warns)
        send_lowat: u64 = super::tuning::DEFAULT_SEND_LOWAT,
        // ---- core (long tail) ----
        /// `root` with variables, evaluated per request (`None`: `root` is the literal
        /// path); set together with `root`, so it is inherited with it.
        root_script: Option<super::doc_root::PathScript> = None,
        /// `allow`/`deny` rules in order (a level with any replaces its parent's)
        access: super::access::AccessRules = Default::default(),
        /// `keepalive_disable` (bits of `set_tail::KEEPALIVE_DISABLE_*`)
        keepalive_disable: u8 = super::set_tail::DEFAULT_KEEPALIVE_DISABLE,
        /// `keepalive_time T`: a connection accepted longer ago than this gets no
        /// keep-alive after its current request (nginx's default 1h)
        keepalive_time: std::time::Duration = std::time::Duration::from_secs(3600),
        /// `reset_timedout_connection on|off`: a connection whose request timed out, or
        /// that a 444 closes, is reset (SO_LINGER 0) rather than closed
        reset_timedout_connection: bool = false,
        /// `max_ranges N` (`None`: nginx's default, no limit; 0 turns ranges off)
        max_ranges: Option<u64> = None,
        /// `chunked_transfer_encoding on|off`: a response of unknown length may be sent
        /// chunked to an HTTP/1.1 client (off: it is sent until the connection closes)
        chunked_transfer_encoding: bool = true,
        /// `aio_write on|off` (no effect without `aio threads`, as in nginx)
        aio_write: bool = false,
        /// `log_subrequest on|off`: subrequests are written to the access log
        log_subrequest: bool = false,
        /// `directio off` (a size is refused at load)
        directio_off: bool = true,
        /// `aio off` (`on` and `threads` are refused at load)
        aio_off: bool = true,
        /// `expires` with variables (set with `expires`, so inherited with it)
        expires_script: Option<ExpiresScript> = None,
        /// `open_log_file_cache` (default off)
        open_log_file_cache: Option<LogFileCache> = None,
        // ---- limits, realip, auth_basic (issue 14) ----
        /// `limit_req` entries of this level (a level with any replaces its parent's)
        limit_req: Vec<LimitReq> = Vec::new(),
        /// `limit_req_status`
        limit_req_status: u16 = DEFAULT_LIMIT_STATUS,
        /// `limit_req_log_level` (delays are logged one level lower)
        limit_req_log_level: crate::log::LogLevel = DEFAULT_LIMIT_LOG_LEVEL,
        /// `limit_req_dry_run`
        limit_req_dry_run: bool = false,
        /// `limit_conn` entries of this level (a level with any replaces its parent's)
        limit_conn: Vec<LimitConn> = Vec::new(),
        /// `limit_conn_status`
        limit_conn_status: u16 = DEFAULT_LIMIT_STATUS,
        /// `limit_conn_log_level`
        limit_conn_log_level: crate::log::LogLevel = DEFAULT_LIMIT_LOG_LEVEL,
        /// `limit_conn_dry_run`
        limit_conn_dry_run: bool = false,
        /// `set_real_ip_from` entries (empty: the realip module is off here)
        set_real_ip_from: Vec<crate::cidr::Cidr> = Vec::new(),
        /// `real_ip_header`
        real_ip_header: RealIpHeader = RealIpHeader::XRealIp,
        /// `real_ip_recursive`
        real_ip_recursive: bool = false,
        /// `auth_basic REALM|off` (`None`: not set anywhere)
        auth_basic: Option<Template> = None,
        /// `auth_basic_user_file`
        auth_basic_user_file: Option<UserFile> = None,
        /// `satisfy all|any`
        satisfy: Satisfy = Satisfy::All,
        /// `auth_delay TIME`: how long a 401 from the access phase waits (default 0)
        auth_delay: Duration = Duration::ZERO,
        // ---- proxy (rest of the module): config/set_proxy_rest.rs, config/proxy_rest.rs ----
        /// `proxy_method METHOD` (`None`: the client's)
        proxy_method: Option<Template> = None,
        /// `proxy_set_body VALUE` (`None`: the client's body)
        proxy_set_body: Option<Template> = None,
        /// `proxy_pass_request_headers on|off`
        proxy_pass_request_headers: bool = true,
        /// `proxy_pass_request_body on|off`
        proxy_pass_request_body: bool = true,
        /// `proxy_cookie_domain` rules (`None`: off)
        proxy_cookie_domain: CookieRewrites = None,
        /// `proxy_cookie_path` rules (`None`: off)
        proxy_cookie_path: CookieRewrites = None,
        /// `proxy_cookie_flags` rules (`None`: off)
        proxy_cookie_flags: Option<Vec<CookieFlagsRule>> = None,
        /// `proxy_ignore_headers FIELD...`
        proxy_ignore_headers: IgnoreHeaders = IgnoreHeaders::default(),
        /// `proxy_force_ranges on|off`
        proxy_force_ranges: bool = false,
        /// `proxy_socket_keepalive on|off`: `SO_KEEPALIVE` on upstream sockets
        proxy_socket_keepalive: bool = false,
        /// `proxy_bind ADDRESS [transparent] | off`
        proxy_bind: ProxyBind = ProxyBind::Off,
        /// `proxy_ignore_client_abort on|off`
        proxy_ignore_client_abort: bool = false,
        /// `proxy_send_lowat SIZE` (ignored on Linux, as by nginx)
        proxy_send_lowat: u64 = 0,
        /// `proxy_limit_rate SIZE` (bytes per second read from the upstream; 0 = none)
        proxy_limit_rate: u64 = 0,
        /// `proxy_store off` (the only value accepted)
        proxy_store: ProxyStore = ProxyStore::Off,
        /// `proxy_store_access` as a file mode
        proxy_store_access: u32 = DEFAULT_PROXY_STORE_ACCESS,
        /// `proxy_headers_hash_max_size` (a tuning knob of nginx's, checked and unused)
        proxy_headers_hash_max_size: u64 = DEFAULT_PROXY_HEADERS_HASH_MAX_SIZE,
        /// `proxy_headers_hash_bucket_size` (a tuning knob of nginx's, checked and unused)
        proxy_headers_hash_bucket_size: u64 = DEFAULT_PROXY_HEADERS_HASH_BUCKET_SIZE,
        // ---- conn: response temporary files (config/set_upstream.rs) ----
        /// `proxy_busy_buffers_size` (unset: twice the larger of `proxy_buffer_size` and
        /// one of `proxy_buffers`)
        proxy_busy_buffers_size: Option<super::set_upstream::PlacedSize> = None,
        /// `proxy_temp_file_write_size` (unset: as `proxy_busy_buffers_size`'s default)
        proxy_temp_file_write_size: Option<super::set_upstream::PlacedSize> = None,
        /// `proxy_max_temp_file_size` (0: no temporary files; unset: 1024m)
        proxy_max_temp_file_size: Option<super::set_upstream::PlacedSize> = None,
        // ---- fastcgi, uwsgi, scgi (config/cgi_values.rs; merged field by field there) ----
        /// `fastcgi_*`
        fastcgi: super::cgi_values::CgiConf = Default::default(),
        /// `uwsgi_*`
        uwsgi: super::cgi_values::CgiConf = Default::default(),
        /// `scgi_*`
        scgi: super::cgi_values::CgiConf = Default::default(),
        // ---- resolver (config/resolver.rs) ----
        /// `resolver ADDRESS... [valid=TIME] [ipv4=on|off] [ipv6=on|off]` (`None`: no resolver)
        resolver: Option<Rc<super::resolver::ResolverConf>> = None,
        /// `resolver_timeout` (zero: no limit)
        resolver_timeout: Duration = super::resolver::DEFAULT_RESOLVER_TIMEOUT,
        // ---- map, geo, split_clients, referer, empty_gif ----
        /// `valid_referers ...` (server or location; finished when the server ends): what
        /// `$invalid_referer` checks; `None` where no level set it (every referer valid)
        valid_referers: Option<Rc<crate::computed::referer::ValidReferers>> = None,
        /// `referer_hash_max_size N` (a tuning knob: range-checked as nginx checks it)
        referer_hash_max_size: u64 = super::set_referer::DEFAULT_REFERER_HASH_MAX_SIZE,
        /// `referer_hash_bucket_size N` (a tuning knob: range-checked as nginx checks it)
        referer_hash_bucket_size: u64 = super::set_referer::DEFAULT_REFERER_HASH_BUCKET_SIZE,
        /// `empty_gif` (location only; nested locations do not inherit it, an `if` in the
        /// location keeps it, as nginx's content handler)
        empty_gif: bool = false,
        // ---- gzip, gzip_static, gunzip (config/set_gzip.rs, config/gzip_values.rs) ----
        /// `gzip on|off`
        gzip: bool = false,
        /// `gzip_types MIME...|*` (default `text/html`)
        gzip_types: GzipTypes = GzipTypes::default(),
        /// `gzip_comp_level 1..9`
        gzip_comp_level: u8 = DEFAULT_GZIP_COMP_LEVEL,
        /// `gzip_min_length SIZE`: a response whose `Content-Length` is smaller is not compressed
        gzip_min_length: u64 = DEFAULT_GZIP_MIN_LENGTH,
        /// `gzip_buffers NUMBER SIZE`: compressed output held for the client at most
        gzip_buffers: (usize, usize) = DEFAULT_GZIP_BUFFERS,
        /// `gzip_http_version 1.0|1.1`: the oldest request version that gets gzip
        gzip_http_version: GzipHttpVersion = DEFAULT_GZIP_HTTP_VERSION,
        /// `gzip_proxied ...`: for requests with `Via`
        gzip_proxied: GzipProxied = GzipProxied::default(),
        /// `gzip_disable REGEX...`: user agents that get no gzip (`msie6` apart)
        gzip_disable: GzipDisable = GzipDisable::default(),
        /// `gzip_disable msie6` (merged on its own, as nginx does)
        gzip_disable_msie6: bool = false,
        /// `gzip_vary on|off`: `Vary: Accept-Encoding` where gzip was considered
        gzip_vary: bool = false,
        /// `gzip_window SIZE`, as zlib's window bits (9..15)
        gzip_window: u8 = DEFAULT_GZIP_WBITS,
        /// `gzip_hash SIZE`, as zlib's memory level (1..9)
        gzip_hash: u8 = DEFAULT_GZIP_MEMLEVEL,
        /// `gzip_no_buffer on|off`: compressed bytes go out as soon as they are made
        gzip_no_buffer: bool = false,
        /// `gzip_static on|off|always`
        gzip_static: GzipStatic = GzipStatic::Off,
        /// `gunzip on|off`
        gunzip: bool = false,
        /// `gunzip_buffers NUMBER SIZE`
        gunzip_buffers: (usize, usize) = DEFAULT_GZIP_BUFFERS,
        // ---- charset (config/charset.rs) ----
        /// `charset NAME|$var|off`: the charset added to `Content-Type`
        charset: super::charset::CharsetSel = super::charset::CharsetSel::Off,
        /// `source_charset NAME|$var|off`: what the body is in when the response says nothing
        source_charset: super::charset::CharsetSel = super::charset::CharsetSel::Off,
        /// `override_charset on|off`: also for a response that names its charset
        override_charset: bool = false,
        /// `charset_types MIME...|*`
        charset_types: GzipTypes = super::charset::default_charset_types(),
        // ---- writer: limit_rate, trailers, body files (config/writer.rs) ----
        /// `limit_rate RATE` (bytes per second to the client; `None`: no limit)
        limit_rate: Option<super::writer::SizeValue> = None,
        /// `limit_rate_after SIZE` (`None`: 0)
        limit_rate_after: Option<super::writer::SizeValue> = None,
        /// `add_trailer` entries in order; a level with any replaces its parent's list
        add_trailer: Vec<AddHeader> = Vec::new(),
        /// `client_body_in_file_only on|clean|off`
        client_body_in_file_only: super::writer::BodyInFile = super::writer::BodyInFile::Off,
        /// `client_body_in_single_buffer on|off`
        client_body_in_single_buffer: bool = false,
        // ---- cache (issue 19): config/set_cache.rs, cache/ ----
        /// `proxy_cache ZONE|$var|off` (`None`: off)
        proxy_cache: Option<super::set_cache::CacheSel> = None,
        /// `proxy_cache_key STRING` (`None`: nginx's, the proxy_pass URL and upstream URI)
        proxy_cache_key: Option<Template> = None,
        /// `proxy_cache_valid` rules (a level with any replaces its parent's)
        proxy_cache_valid: Vec<crate::cache::freshness::ValidRule> = Vec::new(),
        /// `proxy_cache_methods` bits (GET and HEAD are always added)
        proxy_cache_methods: u8 = 0,
        /// `proxy_cache_bypass` values (a level with any replaces its parent's)
        proxy_cache_bypass: Vec<Template> = Vec::new(),
        /// `proxy_no_cache` values (likewise)
        proxy_no_cache: Vec<Template> = Vec::new(),
        /// `proxy_cache_convert_head on|off`
        proxy_cache_convert_head: bool = true,
        /// `proxy_cache_use_stale` as `NextUpstream` bits (0: off)
        proxy_cache_use_stale: u16 = 0,
        // ---- cache lock, uses, updates (issue 19, keys zone; config/set_cache.rs) ----
        /// `proxy_cache_lock on|off`
        proxy_cache_lock: bool = false,
        /// `proxy_cache_lock_timeout TIME` (default 5s)
        proxy_cache_lock_timeout: Duration = Duration::from_secs(5),
        /// `proxy_cache_lock_age TIME` (default 5s)
        proxy_cache_lock_age: Duration = Duration::from_secs(5),
        /// `proxy_cache_min_uses N` (default 1)
        proxy_cache_min_uses: u64 = 1,
        // ---- cache revalidation (config/set_cache.rs, worker/conn/cached.rs) ----
        /// `proxy_cache_revalidate on|off`
        proxy_cache_revalidate: bool = false,
        // ---- cache features (cachefeat): background updates, range offsets ----
        /// `proxy_cache_background_update on|off`
        proxy_cache_background_update: bool = false,
        /// `proxy_cache_max_range_offset NUMBER` (`None`: no limit)
        proxy_cache_max_range_offset: Option<u64> = None,
        // ---- status: stub_status, status handler (config/set_status.rs) ----
        /// `stub_status` (server or location; nested locations do not inherit it, an `if`
        /// in the location keeps it, as nginx's content handler)
        stub_status: bool = false,
        /// `status_zone NAME|off` of a location (inherited): index in
        /// `HttpConf::status_zones`
        status_zone: Option<usize> = None,
        /// `status` / `metrics`: the location answers with the status report (not
        /// inherited, as `stub_status`)
        status_handler: Option<super::set_status::StatusFormat> = None,
        // ---- health checks (config/health_check.rs) ----
        /// `health_check ...` (location; not inherited by nested locations)
        health_check: Option<Rc<super::health_check::HealthCheckConf>> = None,
        // ---- subrequests: auth_request, mirror (config/subrequest.rs) ----
        /// `auth_request URI|off` (empty: off)
        auth_request: Vec<u8> = Vec::new(),
        /// `auth_request_set` entries; a level with any replaces its parent's
        auth_request_set: Vec<super::subrequest::AuthRequestSet> = Vec::new(),
        /// `mirror URI` entries (empty: off); a level with any, or `off`, replaces its
        /// parent's
        mirror: Vec<Vec<u8>> = Vec::new(),
        /// `mirror_request_body on|off`: the client's body is read whole first and sent
        /// with each mirror subrequest
        mirror_request_body: bool = true,
        /// `post_action URI|@name` (empty: none)
        post_action: Vec<u8> = Vec::new(),
        // ---- upstream tls (issue 15, upssl): proxy_ssl_* (config/set_proxy_ssl.rs) ----
        /// `proxy_ssl_server_name on|off`: send SNI
        proxy_ssl_server_name: bool = false,
        /// `proxy_ssl_name NAME` (`None`: the `proxy_pass` host)
        proxy_ssl_name: Option<Template> = None,
        /// `proxy_ssl_verify on|off`
        proxy_ssl_verify: bool = false,
        /// `proxy_ssl_verify_depth N`
        proxy_ssl_verify_depth: u64 = super::set_proxy_ssl::DEFAULT_PROXY_SSL_VERIFY_DEPTH,
        /// `proxy_ssl_trusted_certificate FILE` (empty: none)
        proxy_ssl_trusted_certificate: String = String::new(),
        /// `proxy_ssl_crl FILE` (empty: none)
        proxy_ssl_crl: String = String::new(),
        /// `proxy_ssl_protocols`
        proxy_ssl_protocols: crate::tls::Protocols = super::set_proxy_ssl::DEFAULT_PROXY_SSL_PROTOCOLS,
        /// `proxy_ssl_ciphers`
        proxy_ssl_ciphers: String = super::set_proxy_ssl::DEFAULT_PROXY_SSL_CIPHERS.to_string(),
        /// `proxy_ssl_certificate FILE` (empty: no client certificate)
        proxy_ssl_certificate: super::upstream_ssl::SslPath = Default::default(),
        /// `proxy_ssl_certificate_key FILE`
        proxy_ssl_certificate_key: super::upstream_ssl::SslPath = Default::default(),
        /// `proxy_ssl_password_file FILE` (refused at merge where it would be used)
        proxy_ssl_password_file: String = String::new(),
        /// `proxy_ssl_session_reuse on|off`
        proxy_ssl_session_reuse: bool = true,
        /// What the `proxy_ssl_*` values built for a location whose `proxy_pass` is
        /// `https://` (set at merge by `set_proxy_ssl::attach`)
        proxy_ssl_client: Option<Rc<super::upstream_ssl::UpstreamSsl>> = None,
        // ---- http2 (config/set_http2.rs) ----
        /// `http2_chunk_size`: the most body bytes per DATA frame
        http2_chunk_size: usize = 8192,
    }
}

impl LocSettings {
    /// The first `error_page` entry for `status`, as nginx searches its list.
    pub fn error_page_for(&self, status: u16) -> Option<&ErrorPage> {
        self.error_page.iter().find(|e| e.status == status)
    }
}

/// The types nginx knows without a `types {}` block.
pub fn default_mime_types() -> MimeTypes {
    let types = [
        ("html", "text/html"),
        ("gif", "image/gif"),
        ("jpg", "image/jpeg"),
    ];
    Rc::new(
        types
            .iter()
            .map(|(ext, mime)| (ext.to_string(), mime.to_string()))
            .collect(),
    )
}

/// `lingering_close`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LingeringClose {
    /// Close at once.
    Off,
    /// Drain the client's remaining input when it may still be sending (nginx's default).
    On,
    /// Always drain.
    Always,
}

impl ServerConf {
    /// The first `server_name` as written, as `$server_name` and error-log lines show it
    /// (`*.example.com`, `~^re$`); empty when the server has none.
    pub fn first_name(&self) -> std::borrow::Cow<'_, str> {
        use std::borrow::Cow;
        match self.names.first() {
            Some(ServerName::Exact(n)) => Cow::Borrowed(n),
            // `.example.com` is named without its dot, as nginx's `cscf->server_name`.
            Some(ServerName::WildcardFront(s, true)) => Cow::Borrowed(s.get(1..).unwrap_or("")),
            Some(ServerName::WildcardFront(s, false)) => Cow::Owned(format!("*{s}")),
            Some(ServerName::WildcardBack(p)) => Cow::Owned(format!("{p}*")),
            Some(ServerName::Regex(re)) => Cow::Owned(format!("~{}", re.as_str())),
            None => Cow::Borrowed(""),
        }
    }
}
