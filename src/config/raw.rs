//! What the directive setters fill: one unmerged struct per context, plus the state shared
//! across contexts (log formats, the listen registry). [`super::merge`] turns it into the
//! typed [`super::Config`].

use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use super::directives::Ctx;
use super::error::ConfError;
use super::parser::Directive;
use super::rewrite_ops::Op;
use super::settings::{
    CpuAffinity, DebugPeer, DebugPoints, EnvVar, ErrorLogConf, ListenConf, LocRaw, LocationMatch,
    LogEscape, LogFormat, ServerName, SrvRaw,
};
use crate::vars::{Template, UserVars};

/// nginx's predefined `combined` access-log format.
pub const COMBINED_FORMAT: &str = "$remote_addr - $remote_user [$time_local] \"$request\" \
                                   $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\"";

/// Top-level directives, unset until given.
#[derive(Debug, Default)]
pub(crate) struct MainRaw {
    pub daemon: Option<bool>,
    pub master_process: Option<bool>,
    pub worker_processes: Option<usize>,
    pub worker_rlimit_nofile: Option<u64>,
    pub worker_cpu_affinity: Option<CpuAffinity>,
    pub worker_shutdown_timeout: Option<Duration>,
    pub user: Option<(String, Option<String>)>,
    pub error_log: Vec<ErrorLogConf>,
    pub pid: Option<PathBuf>,
    pub events: Option<EventsRaw>,
    pub http: Option<HttpRaw>,
    // ---- main and events (issue 18) ----
    pub worker_rlimit_core: Option<u64>,
    /// nginx keeps 0 as "unset", so `worker_priority 0;` may be followed by another.
    pub worker_priority: i32,
    pub working_directory: Option<PathBuf>,
    pub env: Vec<EnvVar>,
    pub timer_resolution: Option<Duration>,
    pub debug_points: Option<DebugPoints>,
    pub lock_file: Option<PathBuf>,
    // ---- regex ----
    /// `pcre_jit` (read before the patterns are compiled: `set_regex::jit_wanted`).
    pub pcre_jit: Option<bool>,
}

/// `events {}`, unset until given.
#[derive(Debug, Default)]
pub(crate) struct EventsRaw {
    pub worker_connections: Option<usize>,
    pub method: Option<String>,
    pub multi_accept: Option<bool>,
    pub accept_mutex: Option<bool>,
    // ---- main and events (issue 18) ----
    pub accept_mutex_delay: Option<Duration>,
    pub debug_connection: Vec<DebugPeer>,
    pub epoll_events: Option<u64>,
    pub worker_aio_requests: Option<u64>,
}

/// `http {}` before merging.
#[derive(Debug, Default)]
pub(crate) struct HttpRaw {
    /// Where the block starts (for errors found once it is merged).
    pub place: Option<super::set_upstream::BlockPlace>,
    pub srv: SrvRaw,
    pub loc: LocRaw,
    pub access_log_off: bool,
    pub servers: Vec<ServerRaw>,
    pub deferred: Vec<Directive>,
    // ---- core (long tail) ----
    /// The hash sizes of the http block (`variables_hash_*`, `server_names_hash_*`).
    pub knobs: super::tuning::HttpKnobs,
}

/// One `server {}` before merging.
#[derive(Debug, Default)]
pub(crate) struct ServerRaw {
    /// Position among the http block's servers (the listen registry refers to it).
    pub index: usize,
    pub listens: Vec<ListenConf>,
    pub names: Vec<ServerName>,
    /// A name nginx's hash would refuse (`www.*.com`), reported once listens are known.
    pub bad_wildcard: Option<String>,
    pub srv: SrvRaw,
    pub loc: LocRaw,
    pub access_log_off: bool,
    pub locations: Vec<LocationRaw>,
    /// Server-level rewrite directives, compiled.
    pub rewrite: Vec<Op>,
    pub deferred: Vec<Directive>,
    /// Where the block is written.
    pub defined_at: super::SourcePos,
}

/// One `location {}` before merging.
#[derive(Debug)]
pub(crate) struct LocationRaw {
    pub matcher: LocationMatch,
    /// The location's name as nginx keeps it (`/x` for `= /x`, the regex source for `~`).
    pub name: String,
    pub loc: LocRaw,
    pub access_log_off: bool,
    pub nested: Vec<LocationRaw>,
    /// Location-level rewrite directives, compiled; each top-level [`Op::If`] gets its
    /// settings from `if_locs` (in the same order) when the location is merged.
    pub rewrite: Vec<Op>,
    /// The settings of each `if` block, unmerged.
    pub if_locs: Vec<LocRaw>,
    pub deferred: Vec<Directive>,
    // ---- core (long tail) ----
    /// `limit_except`, unmerged.
    pub limit_except: Option<super::access::LimitExceptRaw>,
    /// Where the block is written.
    pub defined_at: super::SourcePos,
}

impl LocationRaw {
    /// An empty location with this match.
    pub fn new(matcher: LocationMatch, name: String) -> LocationRaw {
        LocationRaw {
            matcher,
            name,
            loc: LocRaw::default(),
            access_log_off: false,
            nested: Vec::new(),
            rewrite: Vec::new(),
            if_locs: Vec::new(),
            deferred: Vec::new(),
            limit_except: None,
            defined_at: Default::default(),
        }
    }
}

/// One `if () {}` block while its directives are applied.
#[derive(Debug)]
pub(crate) struct IfRaw {
    /// [`Ctx::IF_IN_SERVER`] or [`Ctx::IF_IN_LOCATION`].
    pub ctx: Ctx,
    /// Its rewrite directives.
    pub ops: Vec<Op>,
    /// Its location-level settings (inside a location only).
    pub loc: LocRaw,
    pub access_log_off: bool,
    /// Directives of later work inside the block (`proxy_pass`).
    pub deferred: Vec<Directive>,
}

/// One distinct listen address and who uses it (nginx's `ngx_http_conf_addr_t`).
#[derive(Debug)]
pub(crate) struct ListenSlot {
    pub conf: ListenConf,
    /// Indexes of the servers listening here.
    pub servers: Vec<usize>,
    /// Whether some `listen` gave socket options (backlog, reuseport, ipv6only).
    pub options_set: bool,
    /// The server that claimed `default_server`.
    pub default_server: Option<usize>,
}

/// State that outlives one context while the table is applied.
#[derive(Debug)]
pub(crate) struct Shared {
    /// `-p`: relative paths (root, logs, pid) resolve against it.
    pub prefix: PathBuf,
    /// `log_format`s in definition order, `combined` first.
    pub formats: Vec<Rc<LogFormat>>,
    /// Listen addresses in first-seen order.
    pub listens: Vec<ListenSlot>,
    /// Upstream groups: `upstream {}` blocks and the placeholders `proxy_pass` URLs register
    /// (see `set_proxy`).
    pub upstreams: Vec<super::proxy_values::UpstreamConf>,
    /// Whether we run as root (decides the default listen port and `user` checks).
    pub is_root: bool,
    /// Every `set $name` of the configuration, collected before any template is compiled.
    pub user_vars: UserVars,
    /// nginx's `[warn]`s about the configuration (`-t` prints them, a start or reload logs
    /// them): the configuration still loads.
    pub warnings: Vec<ConfError>,
    /// The `buffer=`/`flush=` of each buffered access-log file, to refuse a conflicting
    /// second definition as nginx does.
    pub access_buffers: Vec<(PathBuf, crate::log::LogBuffer)>,
    /// Every `root` and `alias` written without variables, for the check that the workers
    /// can read them.
    pub doc_roots: Vec<super::settings::DocRootSite>,
    // ---- limits, realip, auth_basic (issue 14) ----
    /// Shared-memory zones declared or named so far.
    pub zones: Vec<super::limits_values::ZoneDecl>,
    /// nginx's `conf_prefix`: the main configuration file's folder.
    pub conf_prefix: PathBuf,
    /// `resolver` lines so far (the next one's `ResolverConf::id`).
    pub resolvers: usize,
    // ---- map, geo, split_clients, referer, empty_gif ----
    /// The computed variables' definitions, filled by their blocks.
    pub computed: crate::computed::ComputedTable,
    /// `map_hash_max_size` (set to the default by the first `map` block, as nginx does).
    pub map_hash_max_size: Option<u64>,
    /// `map_hash_bucket_size` (likewise).
    pub map_hash_bucket_size: Option<u64>,
    // ---- proxy (rest of the module) ----
    /// A `proxy_bind ... transparent` was seen (see `HttpConf::proxy_transparent`).
    pub proxy_transparent: bool,
    // ---- charset ----
    /// Charset names and `charset_map` tables seen so far.
    pub charsets: super::charset::Charsets,
    // ---- cache (issue 19) ----
    /// `*_cache_path` directives seen so far.
    pub caches: Vec<super::set_cache::CacheDecl>,
    // ---- status ----
    /// `status_zone` names so far, with whether a server (else a location) names them.
    pub status_zones: Vec<(bool, String)>,
    // ---- health checks ----
    /// `match` blocks by name.
    pub health_matches: Vec<(String, Rc<crate::upstream::health::Match>)>,
}

impl Shared {
    /// Fresh state with nginx's predefined `combined` format.
    pub fn new(prefix: PathBuf) -> Result<Shared, ConfError> {
        let template = Template::compile(COMBINED_FORMAT).map_err(ConfError::bare)?;
        let combined = LogFormat::new("combined".into(), LogEscape::Default, template);
        Ok(Shared {
            prefix,
            formats: vec![Rc::new(combined)],
            listens: Vec::new(),
            upstreams: Vec::new(),
            is_root: nix::unistd::geteuid().is_root(),
            user_vars: UserVars::default(),
            warnings: Vec::new(),
            access_buffers: Vec::new(),
            doc_roots: Vec::new(),
            zones: Vec::new(),
            conf_prefix: PathBuf::new(),
            resolvers: 0,
            computed: Default::default(),
            map_hash_max_size: None,
            map_hash_bucket_size: None,
            proxy_transparent: false,
            charsets: Default::default(),
            caches: Vec::new(),
            status_zones: Vec::new(),
            health_matches: Vec::new(),
        })
    }
}

/// The context a setter runs in, holding the settings it may fill.
pub(crate) enum Level<'a> {
    Main(&'a mut MainRaw),
    Events(&'a mut EventsRaw),
    Http(&'a mut HttpRaw),
    Server(&'a mut ServerRaw),
    Location(&'a mut LocationRaw),
    /// Inside `if () {}` in a server or a location.
    If(&'a mut IfRaw),
    /// Inside `upstream {}`.
    Upstream(&'a mut super::proxy_values::UpstreamConf),
}

/// An error for a setter reached in a context its table entry should have excluded.
fn misplaced(d: &Directive) -> ConfError {
    ConfError::at(d, format!("\"{}\" directive is not allowed here", d.name))
}

impl Level<'_> {
    /// The context flag the table checks against.
    pub fn ctx(&self) -> Ctx {
        match self {
            Level::Main(_) => Ctx::MAIN,
            Level::Events(_) => Ctx::EVENTS,
            Level::Http(_) => Ctx::HTTP,
            Level::Server(_) => Ctx::SERVER,
            Level::Location(_) => Ctx::LOCATION,
            Level::If(i) => i.ctx,
            Level::Upstream(_) => Ctx::UPSTREAM,
        }
    }

    /// Location-level settings of this context (http, server or location).
    pub fn loc(&mut self, d: &Directive) -> Result<&mut LocRaw, ConfError> {
        match self {
            Level::Http(h) => Ok(&mut h.loc),
            Level::Server(s) => Ok(&mut s.loc),
            Level::Location(l) => Ok(&mut l.loc),
            Level::If(i) if i.ctx == Ctx::IF_IN_LOCATION || i.ctx == Ctx::LIMIT_EXCEPT => {
                Ok(&mut i.loc)
            }
            _ => Err(misplaced(d)),
        }
    }

    /// The rewrite directives of this context (server, location or `if`).
    pub fn ops(&mut self, d: &Directive) -> Result<&mut Vec<Op>, ConfError> {
        match self {
            Level::Server(s) => Ok(&mut s.rewrite),
            Level::Location(l) => Ok(&mut l.rewrite),
            Level::If(i) => Ok(&mut i.ops),
            _ => Err(misplaced(d)),
        }
    }

    /// Server-level settings of this context (http or server).
    pub fn srv(&mut self, d: &Directive) -> Result<&mut SrvRaw, ConfError> {
        match self {
            Level::Http(h) => Ok(&mut h.srv),
            Level::Server(s) => Ok(&mut s.srv),
            _ => Err(misplaced(d)),
        }
    }

    /// The `access_log off;` marker of this context.
    pub fn access_log_off(&mut self, d: &Directive) -> Result<&mut bool, ConfError> {
        match self {
            Level::Http(h) => Ok(&mut h.access_log_off),
            Level::Server(s) => Ok(&mut s.access_log_off),
            Level::Location(l) => Ok(&mut l.access_log_off),
            Level::If(i) => Ok(&mut i.access_log_off),
            _ => Err(misplaced(d)),
        }
    }

    /// Where raw directives of later work are kept; `None` inside checked-only blocks.
    pub fn deferred(&mut self) -> Option<&mut Vec<Directive>> {
        match self {
            Level::Http(h) => Some(&mut h.deferred),
            Level::Server(s) => Some(&mut s.deferred),
            Level::Location(l) => Some(&mut l.deferred),
            Level::If(i) => Some(&mut i.deferred),
            _ => None,
        }
    }

    /// The main context's settings.
    pub fn main(&mut self, d: &Directive) -> Result<&mut MainRaw, ConfError> {
        match self {
            Level::Main(m) => Ok(m),
            _ => Err(misplaced(d)),
        }
    }

    /// The events block's settings.
    pub fn events(&mut self, d: &Directive) -> Result<&mut EventsRaw, ConfError> {
        match self {
            Level::Events(e) => Ok(e),
            _ => Err(misplaced(d)),
        }
    }
}
