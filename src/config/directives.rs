//! The one directive table: every directive Portico knows, where it may appear, how many
//! arguments it takes, the setter that stores it, and a line of documentation.
//!
//! `dispatch` applies an entry exactly as `ngx_conf_handler` does: unknown names, wrong
//! contexts, a missing `{` or `;`, and the wrong argument count each get nginx's message.
//! A directive that shares its name with another (`server`, `keepalive_timeout`) has one
//! entry per context set; the first entry whose contexts match applies.

use super::error::ConfError;
use super::parser::Directive;
use super::raw::{Level, Shared};
use super::{
    access, listen, resolver, set_block, set_cache, set_cgi, set_core, set_events, set_gzip,
    set_http, set_http2, set_limits, set_loc, set_log, set_proxy, set_proxy_rest, set_regex,
    set_rewrite, set_ssl, set_tail, set_upstream, subrequest, tuning, writer,
};
use super::{charset, health_check, set_geo, set_map, set_referer, set_split_clients, set_status};
use super::{set_ktls, set_proxy_ssl, upstream_ssl};

/// A set of contexts, as nginx's `NGX_*_CONF` bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ctx(u16);

impl Ctx {
    /// Top level.
    pub const MAIN: Ctx = Ctx(1);
    /// `events {}`.
    pub const EVENTS: Ctx = Ctx(1 << 1);
    /// `http {}`.
    pub const HTTP: Ctx = Ctx(1 << 2);
    /// `server {}` inside http.
    pub const SERVER: Ctx = Ctx(1 << 3);
    /// `location {}`, nested or not.
    pub const LOCATION: Ctx = Ctx(1 << 4);
    /// `if () {}` inside a server.
    pub const IF_IN_SERVER: Ctx = Ctx(1 << 5);
    /// `if () {}` inside a location.
    pub const IF_IN_LOCATION: Ctx = Ctx(1 << 6);
    /// `upstream {}`.
    pub const UPSTREAM: Ctx = Ctx(1 << 7);
    /// `limit_except METHOD... {}` inside a location (nginx's `NGX_HTTP_LMT_CONF`).
    pub const LIMIT_EXCEPT: Ctx = Ctx(1 << 8);

    /// The union of two sets (usable in constants).
    pub const fn or(self, other: Ctx) -> Ctx {
        Ctx(self.0 | other.0)
    }

    /// Whether the two sets share a context.
    pub fn intersects(self, other: Ctx) -> bool {
        self.0 & other.0 != 0
    }
}

/// http, server and location: where most HTTP settings may go.
const HSL: Ctx = Ctx::HTTP.or(Ctx::SERVER).or(Ctx::LOCATION);
/// http and server.
const HS: Ctx = Ctx::HTTP.or(Ctx::SERVER);
/// Where the rewrite module's directives may go.
const REWRITE: Ctx = Ctx::SERVER
    .or(Ctx::IF_IN_SERVER)
    .or(Ctx::LOCATION)
    .or(Ctx::IF_IN_LOCATION);

/// How many arguments a directive takes (not counting its name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    /// None (`NGX_CONF_NOARGS`).
    NoArgs,
    /// Exactly N.
    Exact(usize),
    /// From N to M inclusive (`NGX_CONF_TAKE12` is `Range(1, 2)`).
    Range(usize, usize),
    /// N or more (`NGX_CONF_1MORE` is `AtLeast(1)`).
    AtLeast(usize),
    /// One argument, `on` or `off` (`NGX_CONF_FLAG`).
    Flag,
}

impl Arity {
    /// Whether `n` arguments are acceptable.
    pub fn accepts(self, n: usize) -> bool {
        match self {
            Arity::NoArgs => n == 0,
            Arity::Exact(k) => n == k,
            Arity::Range(lo, hi) => (lo..=hi).contains(&n),
            Arity::AtLeast(k) => n >= k,
            Arity::Flag => n == 1,
        }
    }
}

/// A setter: stores directive `d` into the settings of `level`.
pub(crate) type Setter = fn(&mut Level<'_>, &Directive, &mut Shared) -> Result<(), ConfError>;

/// One row of the table.
pub(crate) struct Spec {
    /// The directive's name.
    pub name: &'static str,
    /// Where it may appear.
    pub contexts: Ctx,
    /// Its argument count.
    pub arity: Arity,
    /// Whether it takes a `{ ... }` block.
    pub block: bool,
    /// What it does.
    pub set: Setter,
    /// One line for humans.
    pub doc: &'static str,
}

macro_rules! table {
    ($($name:literal, $ctx:expr, $arity:expr, $block:literal, $set:expr, $doc:literal;)*) => {
        /// Every known directive. A name may appear twice with disjoint contexts (`server`).
        pub(crate) static DIRECTIVES: &[Spec] = &[
            $(Spec { name: $name, contexts: $ctx, arity: $arity, block: $block, set: $set, doc: $doc },)*
        ];
    };
}

use Arity::{AtLeast, Exact, Flag, NoArgs, Range};
use Ctx as C;

table! {
    // ---- main ----
    "daemon", C::MAIN, Flag, false, set_core::daemon, "Run in the background (default on).";
    "master_process", C::MAIN, Flag, false, set_core::master_process, "Run a master that forks workers (default on).";
    "worker_processes", C::MAIN, Exact(1), false, set_core::worker_processes, "Number of workers, or `auto` for one per CPU (default 1).";
    "worker_rlimit_nofile", C::MAIN, Exact(1), false, set_core::worker_rlimit_nofile, "RLIMIT_NOFILE for workers.";
    "worker_cpu_affinity", C::MAIN, AtLeast(1), false, set_core::worker_cpu_affinity, "Pin workers to CPUs: `auto [mask]` or one bitmask per worker.";
    "worker_shutdown_timeout", C::MAIN, Exact(1), false, set_core::worker_shutdown_timeout, "Limit on graceful worker shutdown.";
    "user", C::MAIN, Range(1, 2), false, set_core::user, "User and group the workers run as (when started as root).";
    "pid", C::MAIN, Exact(1), false, set_core::pid, "Pid file, relative to the prefix, or `off` (default logs/portico.pid).";
    "error_log", C::MAIN.or(HSL), AtLeast(1), false, set_log::error_log, "`error_log FILE|stderr [LEVEL]` (default logs/error.log error).";
    "events", C::MAIN, NoArgs, true, set_core::events, "Connection-processing settings.";
    "http", C::MAIN, NoArgs, true, set_core::http, "HTTP server settings.";
    // ---- events ----
    "worker_connections", C::EVENTS, Exact(1), false, set_core::worker_connections, "Connections per worker (default 512).";
    "use", C::EVENTS, Exact(1), false, set_core::use_method, "Event method; only epoll is implemented.";
    "multi_accept", C::EVENTS, Flag, false, set_core::multi_accept, "Accept all pending connections at once (default off).";
    "accept_mutex", C::EVENTS, Flag, false, set_core::accept_mutex, "Accepted for compatibility (default off): EPOLLEXCLUSIVE wakes one worker per connection.";
    // ---- http, server, location ----
    "sendfile", HSL.or(C::IF_IN_LOCATION), Exact(1), false, set_http::sendfile, "Send files with sendfile(2) (default off).";
    "sendfile_max_chunk", HSL, Exact(1), false, set_http::sendfile_max_chunk, "Largest single sendfile(2) call (default 2m, 0 = unlimited).";
    "tcp_nopush", HSL, Flag, false, set_http::tcp_nopush, "TCP_CORK while sending files (default off).";
    "tcp_nodelay", HSL, Flag, false, set_http::tcp_nodelay, "TCP_NODELAY on keep-alive connections (default on).";
    "keepalive_timeout", HSL, Range(1, 2), false, set_http::keepalive_timeout, "Idle keep-alive timeout [and Keep-Alive header value] (default 75s).";
    "keepalive_requests", HSL, Exact(1), false, set_http::keepalive_requests, "Requests per keep-alive connection (default 1000).";
    "client_body_timeout", HSL, Exact(1), false, set_http::client_body_timeout, "Timeout between two body reads (default 60s).";
    "send_timeout", HSL, Exact(1), false, set_http::send_timeout, "Timeout between two response writes (default 60s).";
    "client_max_body_size", HSL, Exact(1), false, set_http::client_max_body_size, "Largest request body, 0 = unlimited (default 1m).";
    "client_body_buffer_size", HSL, Exact(1), false, set_http::client_body_buffer_size, "Request body kept in memory when buffered; beyond it, a temporary file (default 16k).";
    "proxy_temp_path", HSL, Range(1, 4), false, set_http::proxy_temp_path, "Directory of temporary files for upstream responses, relative to the prefix (default proxy_temp).";
    "client_body_temp_path", HSL, Range(1, 4), false, set_http::client_body_temp_path, "Directory of buffered request bodies, relative to the prefix [levels accepted] (default client_body_temp).";
    "server_tokens", HSL, Exact(1), false, set_http::server_tokens, "Show the version in `Server:` and error pages: on|off|build.";
    "access_log", HSL.or(C::IF_IN_LOCATION).or(C::LIMIT_EXCEPT), AtLeast(1), false, set_log::access_log, "`access_log PATH [FORMAT [buffer=..]]` or `off`.";
    "log_format", C::HTTP, AtLeast(2), false, set_log::log_format, "`log_format NAME [escape=..] STRING...`.";
    "root", HSL.or(C::IF_IN_LOCATION), Exact(1), false, set_http::root, "Document root, relative to the prefix (default html).";
    "index", HSL, AtLeast(1), false, set_http::index, "Index files tried for a directory URI (default index.html).";
    "types", HSL, NoArgs, true, set_block::types, "Extension → MIME type map; replaces the inherited one.";
    "default_type", HSL, Exact(1), false, set_http::default_type, "MIME type for unknown extensions (default text/plain).";
    "log_not_found", HSL, Flag, false, set_http::log_not_found, "Log missing files to the error log (default on).";
    "lingering_close", HSL, Exact(1), false, set_http::lingering_close, "Drain client input before closing: off|on|always.";
    "lingering_time", HSL, Exact(1), false, set_http::lingering_time, "Longest lingering close (default 30s).";
    "lingering_timeout", HSL, Exact(1), false, set_http::lingering_timeout, "Wait for more client data while lingering (default 5s).";
    // ---- http, server ----
    "client_header_timeout", HS, Exact(1), false, set_http::client_header_timeout, "Timeout for reading the request head (default 60s).";
    "client_header_buffer_size", HS, Exact(1), false, set_http::client_header_buffer_size, "First buffer for the request head (default 1k).";
    "large_client_header_buffers", HS, Exact(2), false, set_http::large_client_header_buffers, "`NUMBER SIZE` for long request heads (default 4 8k).";
    "ignore_invalid_headers", HS, Flag, false, set_http::ignore_invalid_headers, "Drop header fields with invalid names (default on).";
    "underscores_in_headers", HS, Flag, false, set_http::underscores_in_headers, "Allow `_` in header names (default off).";
    "merge_slashes", HS, Flag, false, set_http::merge_slashes, "Collapse `//` in URIs (default on).";
    "server", C::HTTP, NoArgs, true, set_block::server, "A virtual server.";
    // ---- server ----
    "listen", C::SERVER, AtLeast(1), false, listen::listen, "`[addr:]port [default_server] [backlog=N] [reuseport] [ipv6only=on|off]`.";
    "server_name", C::SERVER, AtLeast(1), false, listen::server_name, "Names: exact, `*.x`, `.x`, `x.*`, `~regex`, `\"\"`.";
    "location", C::SERVER.or(C::LOCATION), Range(1, 2), true, set_block::location, "`location [=|~|~*|^~] URI {}` or `location @name {}`.";
    // ---- rewrite module ----
    "rewrite", REWRITE, Range(2, 3), false, set_rewrite::rewrite, "`rewrite REGEX REPLACEMENT [last|break|redirect|permanent]`.";
    "return", REWRITE, Range(1, 2), false, set_rewrite::return_code, "`return CODE [TEXT|URL]` or `return URL` (302); 444 closes the connection.";
    "set", REWRITE, Exact(2), false, set_rewrite::set, "`set $variable VALUE`.";
    "break", REWRITE, NoArgs, false, set_rewrite::break_op, "Stop processing rewrite directives.";
    "if", C::SERVER.or(C::LOCATION), AtLeast(1), true, set_rewrite::if_block, "`if (CONDITION) { ... }`: rewrite directives and, in a location, location settings.";
    "rewrite_log", C::HTTP.or(REWRITE), Flag, false, set_rewrite::rewrite_flag, "Log rewrite results at notice level (default off).";
    "uninitialized_variable_warn", C::HTTP.or(REWRITE), Flag, false, set_rewrite::rewrite_flag, "Warn when an unset `set` variable is used (default on).";
    // ---- serving files and shaping responses ----
    "alias", C::LOCATION, Exact(1), false, set_loc::alias, "Path replacing the location's prefix (or the whole path, in a regex location).";
    "try_files", C::SERVER.or(C::LOCATION), AtLeast(2), false, set_loc::try_files, "`try_files FILE... URI|=CODE|@name` (not inherited).";
    "error_page", HSL.or(C::IF_IN_LOCATION), AtLeast(2), false, set_loc::error_page, "`error_page CODE... [=[RESPONSE]] URI|@name`.";
    "recursive_error_pages", HSL, Flag, false, set_loc::recursive_error_pages, "Let an error page's location use error_page again (default off).";
    "internal", C::LOCATION, NoArgs, false, set_loc::internal, "Only internal redirects may use the location.";
    "autoindex", HSL, Flag, false, set_loc::autoindex, "List directories without an index file (default off).";
    "autoindex_exact_size", HSL, Flag, false, set_loc::autoindex_exact_size, "Exact file sizes in listings (default on).";
    "autoindex_localtime", HSL, Flag, false, set_loc::autoindex_localtime, "Local rather than UTC times in listings (default off).";
    "autoindex_format", HSL, Exact(1), false, set_loc::autoindex_format, "Listing format: html (the only one implemented).";
    "expires", HSL.or(C::IF_IN_LOCATION), Range(1, 2), false, set_loc::expires, "`expires [modified] TIME|@TIME|epoch|max|off` (default off).";
    "add_header", HSL.or(C::IF_IN_LOCATION), Range(2, 3), false, set_loc::add_header, "`add_header NAME VALUE [always]`; a level's list replaces its parent's.";
    "etag", HSL, Flag, false, set_loc::etag, "ETag on static responses (default on).";
    "if_modified_since", HSL, Exact(1), false, set_loc::if_modified_since, "off|exact|before (default exact).";
    "server_name_in_redirect", HSL, Flag, false, set_loc::server_name_in_redirect, "Primary server name in redirects (default off).";
    "port_in_redirect", HSL, Flag, false, set_loc::port_in_redirect, "Port in absolute redirects (default on).";
    "absolute_redirect", HSL, Flag, false, set_loc::absolute_redirect, "Absolute Location in redirects (default on).";
    "disable_symlinks", HSL, Range(1, 2), false, set_loc::disable_symlinks, "Refuse symbolic links in file paths: off|on [from=$document_root].";
    "open_file_cache", HSL, Range(1, 2), false, set_loc::open_file_cache, "`off` or `max=N [inactive=TIME]` (default off).";
    "open_file_cache_valid", HSL, Exact(1), false, set_loc::open_file_cache_valid, "Revalidate cached file information after (default 60s).";
    "open_file_cache_min_uses", HSL, Exact(1), false, set_loc::open_file_cache_min_uses, "Uses within `inactive` to keep a descriptor open (default 1).";
    "open_file_cache_errors", HSL, Flag, false, set_loc::open_file_cache_errors, "Cache lookup errors (default off).";
    "open_file_cache_events", HSL, Flag, false, set_loc::open_file_cache_events, "Accepted (default off).";
    "msie_padding", HSL, Flag, false, set_loc::msie_padding, "Pad error pages for MSIE (default on).";
    "msie_refresh", HSL, Flag, false, set_loc::msie_refresh, "Refresh instead of redirect for MSIE (default off).";
    // ---- proxy module and upstream blocks (config/set_proxy.rs) ----
    "upstream", C::HTTP, Exact(1), true, set_proxy::upstream, "A group of upstream servers.";
    "server", C::UPSTREAM, AtLeast(1), false, set_proxy::upstream_server, "`server ADDR [weight=N] [max_fails=N] [fail_timeout=T] [backup] [down] [max_conns=N]`.";
    "keepalive", C::UPSTREAM, Exact(1), false, set_proxy::upstream_keepalive, "Idle upstream connections cached per worker (Portico default 32; nginx caches none).";
    "keepalive_timeout", C::UPSTREAM, Exact(1), false, set_proxy::upstream_keepalive_timeout, "How long a cached upstream connection may idle (default 60s).";
    "keepalive_requests", C::UPSTREAM, Exact(1), false, set_proxy::upstream_keepalive_requests, "Requests per cached upstream connection (default 1000).";
    "least_conn", C::UPSTREAM, NoArgs, false, set_proxy::least_conn, "Pick the server with the fewest active connections.";
    "ip_hash", C::UPSTREAM, NoArgs, false, set_proxy::ip_hash, "Pick the server by the client address.";
    "hash", C::UPSTREAM, Range(1, 2), false, set_proxy::hash, "`hash KEY [consistent]`: pick the server by a key.";
    "proxy_pass", C::LOCATION.or(C::IF_IN_LOCATION).or(C::LIMIT_EXCEPT), Exact(1), false, set_proxy::proxy_pass, "Proxy to an upstream group or `http://host:port[/uri]`.";
    "proxy_pass_header", HSL, Exact(1), false, set_proxy::proxy_pass_header, "Pass an upstream header that is hidden by default.";
    "proxy_hide_header", HSL, Exact(1), false, set_proxy::proxy_hide_header, "Hide an upstream header.";
    "proxy_set_header", HSL, Exact(2), false, set_proxy::proxy_set_header, "Set a request header sent upstream (an empty value removes it).";
    "proxy_redirect", HSL, Range(1, 2), false, set_proxy::proxy_redirect, "Rewrite upstream Location/Refresh headers: default|off|FROM TO.";
    "proxy_http_version", HSL, Exact(1), false, set_proxy::proxy_http_version, "HTTP version spoken upstream (Portico default 1.1, for the keep-alive pool).";
    "proxy_connect_timeout", HSL, Exact(1), false, set_proxy::proxy_connect_timeout, "Upstream connect timeout (default 60s).";
    "proxy_read_timeout", HSL, Exact(1), false, set_proxy::proxy_read_timeout, "Upstream read timeout between two reads (default 60s).";
    "proxy_send_timeout", HSL, Exact(1), false, set_proxy::proxy_send_timeout, "Upstream send timeout between two writes (default 60s).";
    "proxy_next_upstream", HSL, AtLeast(1), false, set_proxy::proxy_next_upstream, "When to try the next server (default error timeout).";
    "proxy_next_upstream_tries", HSL, Exact(1), false, set_proxy::proxy_next_upstream_tries, "Most tries per request (default 0: unlimited).";
    "proxy_next_upstream_timeout", HSL, Exact(1), false, set_proxy::proxy_next_upstream_timeout, "Time allowed for tries (default 0: unlimited).";
    "proxy_buffering", HSL, Flag, false, set_proxy::proxy_buffering, "Read the response ahead of a slow client, up to proxy_buffers (default on).";
    "proxy_buffer_size", HSL, Exact(1), false, set_proxy::proxy_buffer_size, "Buffer for the response head (default 4k).";
    "proxy_buffers", HSL, Exact(2), false, set_proxy::proxy_buffers, "Read-ahead buffers per request (default 8 4k).";
    "proxy_request_buffering", HSL, Flag, false, set_proxy::proxy_request_buffering, "Read the whole request body before connecting upstream (default on).";
    "proxy_intercept_errors", HSL, Flag, false, set_proxy::proxy_intercept_errors, "Answer upstream statuses >= 300 with error_page (default off).";
    // ---- core (long tail) ----
    // nginx's tuning knobs (config/tuning.rs): checked as nginx checks them, no effect here.
    "variables_hash_max_size", C::HTTP, Exact(1), false, tuning::variables_hash_max_size, "Tuning knob of nginx's variables hash (default 1024; no effect).";
    "variables_hash_bucket_size", C::HTTP, Exact(1), false, tuning::variables_hash_bucket_size, "Tuning knob of nginx's variables hash (default 64; no effect).";
    "server_names_hash_max_size", C::HTTP, Exact(1), false, tuning::server_names_hash_max_size, "Tuning knob of nginx's server names hash (default 512; checked as nginx builds it).";
    "server_names_hash_bucket_size", C::HTTP, Exact(1), false, tuning::server_names_hash_bucket_size, "Tuning knob of nginx's server names hash (default 64; checked as nginx builds it).";
    "types_hash_max_size", HSL, Exact(1), false, tuning::types_hash_max_size, "Tuning knob of nginx's MIME types hash (default 1024; checked as nginx builds it).";
    "types_hash_bucket_size", HSL, Exact(1), false, tuning::types_hash_bucket_size, "Tuning knob of nginx's MIME types hash (default 64; checked as nginx builds it).";
    "connection_pool_size", HS, Exact(1), false, tuning::connection_pool_size, "Tuning knob of nginx's per-connection memory pool (default 512; no effect).";
    "request_pool_size", HS, Exact(1), false, tuning::request_pool_size, "Tuning knob of nginx's per-request memory pool (default 4k; no effect).";
    "output_buffers", HSL, Exact(2), false, tuning::output_buffers, "Tuning knob of nginx's file-reading buffers (default 2 32k; no effect).";
    "postpone_output", HSL, Exact(1), false, tuning::postpone_output, "Tuning knob of nginx's output coalescing (default 1460; no effect).";
    "subrequest_output_buffer_size", HSL, Exact(1), false, tuning::subrequest_output_buffer_size, "Tuning knob of nginx's in-memory subrequest buffers (default 4k; Portico's subrequests keep only their head).";
    "read_ahead", HSL, Exact(1), false, tuning::read_ahead, "The kernel's read-ahead for static files over 128 KiB (not 0: posix_fadvise sequential, as nginx on Linux; default 0).";
    "directio_alignment", HSL, Exact(1), false, tuning::directio_alignment, "Tuning knob of O_DIRECT reads (default 512; no effect: directio is refused).";
    "send_lowat", HSL, Exact(1), false, tuning::send_lowat, "SO_SNDLOWAT: unsupported on Linux, ignored with nginx's warning.";
    // The access module and limit_except (config/access.rs).
    "allow", HSL.or(C::LIMIT_EXCEPT), Exact(1), false, access::allow_deny, "`allow ADDRESS|CIDR|unix:|all`: let these clients in (rules apply in order).";
    "deny", HSL.or(C::LIMIT_EXCEPT), Exact(1), false, access::allow_deny, "`deny ADDRESS|CIDR|unix:|all`: answer these clients 403.";
    "limit_except", C::LOCATION, AtLeast(1), true, access::limit_except, "`limit_except METHOD... { }`: settings for the methods not named (GET names HEAD too).";
    // The rest of ngx_http_core_module (config/set_tail.rs).
    "load_module", C::MAIN, Exact(1), false, set_tail::load_module, "Refused: Portico has no dynamic modules.";
    "keepalive_time", HSL, Exact(1), false, set_tail::keepalive_time, "Longest life of a client keep-alive connection: the request after it closes the connection (default 1h).";
    "reset_timedout_connection", HSL, Flag, false, set_tail::reset_timedout_connection, "Close a timed-out connection, or one a 444 ends, with RST instead of FIN (default off).";
    "keepalive_disable", HSL, Range(1, 2), false, set_tail::keepalive_disable, "`none|msie6|safari`: browsers that get no keep-alive (default msie6, after a POST).";
    "max_ranges", HSL, Exact(1), false, set_tail::max_ranges, "Most byte ranges per request, 0 turns ranges off (default: no limit).";
    "chunked_transfer_encoding", HSL, Flag, false, set_tail::chunked_transfer_encoding, "Send a response of unknown length chunked to HTTP/1.1 clients (default on).";
    "aio_write", HSL, Flag, false, set_tail::aio_write, "Write temporary files with aio threads (default off; no effect without aio threads).";
    "log_subrequest", HSL, Flag, false, set_tail::log_subrequest, "Write subrequests (auth_request, mirror) to the access log (default off).";
    "directio", HSL, Exact(1), false, set_tail::directio, "`off` only (default): Portico never reads with O_DIRECT.";
    "aio", HSL, Exact(1), false, set_tail::aio, "`off` only (default): Portico has no file AIO or thread pools.";
    "post_action", HSL.or(C::IF_IN_LOCATION), Exact(1), false, subrequest::post_action, "`post_action URI|@name`: after the response, the request goes there too (its answer is discarded).";
    "open_log_file_cache", HSL, Range(1, 4), false, set_log::open_log_file_cache, "`off` or `max=N [inactive=T] [min_uses=N] [valid=T]`: keep access logs with variables open.";
    // ---- limits, realip, auth_basic (issue 14) ----
    "limit_req_zone", C::HTTP, Exact(3), false, set_limits::limit_req_zone, "`limit_req_zone KEY zone=NAME:SIZE rate=N r/s|r/m`: a request-rate zone shared by the workers.";
    "limit_req", HSL, Range(1, 3), false, set_limits::limit_req, "`limit_req zone=NAME [burst=N] [nodelay|delay=N]`: limit the request rate per key.";
    "limit_req_status", HSL, Exact(1), false, set_limits::limit_req_status, "Status of rejected requests (default 503).";
    "limit_req_log_level", HSL, Exact(1), false, set_limits::limit_req_log_level, "Level of rejections in the error log; delays one lower (default error).";
    "limit_req_dry_run", HSL, Flag, false, set_limits::limit_req_dry_run, "Count and log but neither delay nor reject (default off).";
    "limit_conn_zone", C::HTTP, Exact(2), false, set_limits::limit_conn_zone, "`limit_conn_zone KEY zone=NAME:SIZE`: a connection-count zone shared by the workers.";
    "limit_conn", HSL, Exact(2), false, set_limits::limit_conn, "`limit_conn ZONE NUMBER`: requests in progress per key.";
    "limit_conn_status", HSL, Exact(1), false, set_limits::limit_conn_status, "Status of rejected requests (default 503).";
    "limit_conn_log_level", HSL, Exact(1), false, set_limits::limit_conn_log_level, "Level of rejections in the error log (default error).";
    "limit_conn_dry_run", HSL, Flag, false, set_limits::limit_conn_dry_run, "Count and log but do not reject (default off).";
    "set_real_ip_from", HSL, Exact(1), false, set_limits::set_real_ip_from, "Trusted address, CIDR, `unix:` or host whose real_ip_header is believed.";
    "real_ip_header", HSL, Exact(1), false, set_limits::real_ip_header, "Where the client address is: X-Real-IP (default), X-Forwarded-For, proxy_protocol or a header.";
    "real_ip_recursive", HSL, Flag, false, set_limits::real_ip_recursive, "Skip trusted addresses from the right of X-Forwarded-For (default off).";
    "auth_basic", HSL, Exact(1), false, set_limits::auth_basic, "`auth_basic REALM|off`: HTTP Basic authentication (with variables).";
    "auth_basic_user_file", HSL, Exact(1), false, set_limits::auth_basic_user_file, "htpasswd file (with variables; relative to the configuration's folder).";
    "satisfy", HSL, Exact(1), false, set_limits::satisfy, "all: every access check must allow (default); any: one is enough.";
    "auth_delay", HSL, Exact(1), false, set_limits::auth_delay, "Delay a 401 of the access phase by this long (default 0), against timing attacks.";
    // ---- proxy (rest of the module) ----
    "proxy_method", HSL, Exact(1), false, set_proxy_rest::proxy_method, "Method sent upstream instead of the client's (variables allowed).";
    "proxy_set_body", HSL, Exact(1), false, set_proxy_rest::proxy_set_body, "Body sent upstream instead of the client's (variables allowed).";
    "proxy_pass_request_headers", HSL, Flag, false, set_proxy_rest::proxy_pass_request_headers, "Send the client's header fields upstream (default on).";
    "proxy_pass_request_body", HSL, Flag, false, set_proxy_rest::proxy_pass_request_body, "Send the client's body upstream (default on).";
    "proxy_cookie_domain", HSL, Range(1, 2), false, set_proxy_rest::proxy_cookie_domain, "Rewrite the domain of upstream Set-Cookie fields: off|DOMAIN REPLACEMENT.";
    "proxy_cookie_path", HSL, Range(1, 2), false, set_proxy_rest::proxy_cookie_path, "Rewrite the path of upstream Set-Cookie fields: off|PATH REPLACEMENT.";
    "proxy_cookie_flags", HSL, Range(1, 4), false, set_proxy_rest::proxy_cookie_flags, "Set or clear Secure, HttpOnly, SameSite of upstream cookies: off|COOKIE FLAG...";
    "proxy_ignore_headers", HSL, AtLeast(1), false, set_proxy_rest::proxy_ignore_headers, "Upstream header fields not to act on (X-Accel-Redirect, X-Accel-Buffering, ...).";
    "proxy_headers_hash_max_size", HSL, Exact(1), false, set_proxy_rest::proxy_headers_hash_max_size, "nginx hash tuning knob, range-checked and unused (default 512).";
    "proxy_headers_hash_bucket_size", HSL, Exact(1), false, set_proxy_rest::proxy_headers_hash_bucket_size, "nginx hash tuning knob, range-checked and unused (default 64).";
    "proxy_force_ranges", HSL, Flag, false, set_proxy_rest::proxy_force_ranges, "Answer byte ranges from proxied responses that do not offer them (default off).";
    "proxy_socket_keepalive", HSL, Flag, false, set_proxy_rest::proxy_socket_keepalive, "SO_KEEPALIVE on upstream sockets (default off).";
    "proxy_bind", HSL, Range(1, 2), false, set_proxy_rest::proxy_bind, "Local address of upstream connections: ADDRESS [transparent] | off.";
    "proxy_ignore_client_abort", HSL, Flag, false, set_proxy_rest::proxy_ignore_client_abort, "Keep the upstream request when the client closes first (default off).";
    "proxy_send_lowat", HSL, Exact(1), false, set_proxy_rest::proxy_send_lowat, "SO_SNDLOWAT; not supported on Linux, ignored with a warning as nginx does.";
    "proxy_limit_rate", HSL, Exact(1), false, set_proxy_rest::proxy_limit_rate, "Bytes per second read from the upstream (default 0: no limit).";
    "proxy_store", HSL, Exact(1), false, set_proxy_rest::proxy_store, "Only `off` is supported: responses are not stored in files.";
    "proxy_store_access", HSL, Range(1, 3), false, set_proxy_rest::proxy_store_access, "Permissions of stored files: user:rw group:r all:r.";
    "random", C::UPSTREAM, Range(0, 2), false, set_proxy_rest::random, "`random [two [least_conn]]`: pick a server at random, by weight.";
    "keepalive_time", C::UPSTREAM, Exact(1), false, set_proxy_rest::upstream_keepalive_time, "Longest life of a cached upstream connection (default 1h).";
    "state", C::UPSTREAM, Exact(1), false, set_proxy_rest::refuse_plus, "Refused: an nginx Plus directive.";
    "sticky", C::UPSTREAM, AtLeast(1), false, set_proxy_rest::refuse_plus, "Refused: an nginx Plus directive.";
    "ntlm", C::UPSTREAM, NoArgs, false, set_proxy_rest::refuse_plus, "Refused: an nginx Plus directive.";
    "least_time", C::UPSTREAM, Range(1, 2), false, set_proxy_rest::refuse_plus, "Refused: an nginx Plus directive.";
    // ---- cache (issue 19): config/set_cache.rs ----
    "proxy_cache_path", C::HTTP, AtLeast(2), false, set_cache::proxy_cache_path, "`proxy_cache_path DIR [levels=1:2] keys_zone=NAME:SIZE [inactive=10m] [use_temp_path=on] [loader_*=] [manager_*=]`: a cache on disk laid out as nginx's.";
    "proxy_cache", HSL, Exact(1), false, set_cache::proxy_cache, "`proxy_cache ZONE|off`: the cache this level's proxied responses go to.";
    "proxy_cache_key", HSL, Exact(1), false, set_cache::proxy_cache_key, "The cache key (default: the proxy_pass URL and the upstream URI).";
    "proxy_cache_valid", HSL, AtLeast(1), false, set_cache::proxy_cache_valid, "`proxy_cache_valid [CODE...|any] TIME`: how long responses without their own expiry stay fresh.";
    "proxy_cache_methods", HSL, AtLeast(1), false, set_cache::proxy_cache_methods, "Methods cached (GET and HEAD always; POST).";
    "proxy_cache_bypass", HSL, AtLeast(1), false, set_cache::predicate, "Values that, when one is non-empty and not 0, send the request upstream without reading the cache.";
    "proxy_no_cache", HSL, AtLeast(1), false, set_cache::predicate, "Values that, when one is non-empty and not 0, keep the response out of the cache.";
    "proxy_cache_min_uses", HSL, Exact(1), false, set_cache::proxy_cache_min_uses, "Requests for a key before its response is cached (default 1; counted in the keys zone).";
    "proxy_cache_use_stale", HSL, AtLeast(1), false, set_cache::proxy_cache_use_stale, "When an expired entry answers: error, timeout, invalid_header, updating, http_NNN (default off).";
    "proxy_cache_lock", HSL, Flag, false, set_cache::proxy_cache_lock, "One request fills a missing entry, the others wait for it (default off).";
    "proxy_cache_lock_timeout", HSL, Exact(1), false, set_cache::proxy_cache_lock_time, "How long a request waits for the cache lock before it goes upstream uncached (default 5s).";
    "proxy_cache_lock_age", HSL, Exact(1), false, set_cache::proxy_cache_lock_time, "How long a fill holds the cache lock before another request may fill (default 5s).";
    "proxy_cache_revalidate", HSL, Flag, false, set_cache::proxy_cache_revalidate, "Revalidation with conditional requests (proxy; the gateways: only off for now).";
    "proxy_cache_convert_head", HSL, Flag, false, set_cache::proxy_cache_convert_head, "HEAD requests are fetched as GET for the cache (only on).";
    "proxy_cache_background_update", HSL, Flag, false, set_cache::proxy_cache_background_update, "With use_stale updating, a stale entry answers and a background subrequest refreshes it.";
    "proxy_cache_max_range_offset", HSL, Exact(1), false, set_cache::proxy_cache_max_range_offset, "A range starting beyond NUMBER goes upstream as it is and is not cached.";
    "proxy_ssl_certificate", HSL, Exact(1), false, set_proxy_ssl::proxy_ssl_certificate, "Client certificate for upstream TLS.";
    "proxy_ssl_certificate_key", HSL, Exact(1), false, set_proxy_ssl::proxy_ssl_certificate_key, "Its key.";
    "proxy_ssl_ciphers", HSL, Exact(1), false, set_proxy_ssl::proxy_ssl_ciphers, "OpenSSL cipher string for upstream TLS (default DEFAULT).";
    "proxy_ssl_conf_command", HSL, Exact(2), false, set_proxy_ssl::proxy_ssl_conf_command, "Refused: OpenSSL commands mean nothing to rustls.";
    "proxy_ssl_crl", HSL, Exact(1), false, set_proxy_ssl::proxy_ssl_crl, "CRLs upstream certificates are checked against.";
    "proxy_ssl_name", HSL, Exact(1), false, set_proxy_ssl::proxy_ssl_name, "Name verified and sent as SNI (default the proxy_pass host).";
    "proxy_ssl_password_file", HSL, Exact(1), false, set_proxy_ssl::proxy_ssl_password_file, "Refused where used: encrypted keys are not read.";
    "proxy_ssl_protocols", HSL, AtLeast(1), false, set_proxy_ssl::proxy_ssl_protocols, "Protocols towards upstreams.";
    "proxy_ssl_server_name", HSL, Flag, false, set_proxy_ssl::proxy_ssl_server_name, "Send SNI to upstreams (default off).";
    "proxy_ssl_session_reuse", HSL, Flag, false, set_proxy_ssl::proxy_ssl_session_reuse, "Resume upstream TLS sessions (default on).";
    "proxy_ssl_trusted_certificate", HSL, Exact(1), false, set_proxy_ssl::proxy_ssl_trusted_certificate, "CAs upstream certificates verify against.";
    "proxy_ssl_verify", HSL, Flag, false, set_proxy_ssl::proxy_ssl_verify, "Verify upstream certificates (default off).";
    "proxy_ssl_verify_depth", HSL, Exact(1), false, set_proxy_ssl::proxy_ssl_verify_depth, "Intermediates an upstream chain may have (default 1).";
    // ---- conn: response temporary files (config/set_upstream.rs) ----
    "proxy_busy_buffers_size", HSL, Exact(1), false, set_upstream::proxy_busy_buffers_size, "Response bytes kept in memory for the client while the rest may go to a temporary file (default: two buffers).";
    "proxy_temp_file_write_size", HSL, Exact(1), false, set_upstream::proxy_temp_file_write_size, "Most response bytes written to the temporary file at a time (default: two buffers).";
    "proxy_max_temp_file_size", HSL, Exact(1), false, set_upstream::proxy_max_temp_file_size, "Largest response temporary file; 0 disables them (default 1024m).";
    // ---- fastcgi, uwsgi, scgi (config/set_cgi.rs; one setter per suffix for the three) ----
    "fastcgi_pass", C::LOCATION.or(C::IF_IN_LOCATION), Exact(1), false, set_cgi::pass, "Pass requests to a FastCGI server: `host:port`, `unix:/path`, an upstream group, or an address with variables.";
    "fastcgi_param", HSL, Range(2, 3), false, set_cgi::param, "`fastcgi_param NAME VALUE [if_not_empty]`: a parameter sent to the FastCGI server; a level with any replaces its parent's list.";
    "fastcgi_pass_header", HSL, Exact(1), false, set_cgi::pass_header, "Pass an upstream header that is hidden by default.";
    "fastcgi_hide_header", HSL, Exact(1), false, set_cgi::hide_header, "Hide an upstream header.";
    "fastcgi_ignore_headers", HSL, AtLeast(1), false, set_cgi::ignore_headers, "Upstream headers whose special meaning is ignored (X-Accel-*, Expires, Cache-Control, Set-Cookie, Vary).";
    "fastcgi_connect_timeout", HSL, Exact(1), false, set_cgi::connect_timeout, "Upstream connect timeout (default 60s).";
    "fastcgi_send_timeout", HSL, Exact(1), false, set_cgi::send_timeout, "Upstream send timeout between two writes (default 60s).";
    "fastcgi_read_timeout", HSL, Exact(1), false, set_cgi::read_timeout, "Upstream read timeout between two reads (default 60s).";
    "fastcgi_next_upstream", HSL, AtLeast(1), false, set_cgi::next_upstream, "When to try the next server (default error timeout).";
    "fastcgi_next_upstream_tries", HSL, Exact(1), false, set_cgi::next_upstream_tries, "Most tries per request (default 0: unlimited).";
    "fastcgi_next_upstream_timeout", HSL, Exact(1), false, set_cgi::next_upstream_timeout, "Time allowed for tries (default 0: unlimited).";
    "fastcgi_buffering", HSL, Flag, false, set_cgi::buffering, "Read the response ahead of a slow client (default on).";
    "fastcgi_buffer_size", HSL, Exact(1), false, set_cgi::buffer_size, "Buffer for the response head (default 4k).";
    "fastcgi_buffers", HSL, Exact(2), false, set_cgi::buffers, "Read-ahead buffers per request (default 8 4k).";
    "fastcgi_busy_buffers_size", HSL, Exact(1), false, set_cgi::busy_buffers_size, "Response bytes kept in memory for the client while the rest may go to a temporary file (default: two buffers).";
    "fastcgi_temp_path", HSL, Range(1, 4), false, set_cgi::temp_path, "Directory of temporary files for responses, relative to the prefix (default fastcgi_temp).";
    "fastcgi_max_temp_file_size", HSL, Exact(1), false, set_cgi::max_temp_file_size, "Largest response temporary file; 0 disables them (default 1024m).";
    "fastcgi_temp_file_write_size", HSL, Exact(1), false, set_cgi::temp_file_write_size, "Most response bytes written to the temporary file at a time (default: two buffers).";
    "fastcgi_request_buffering", HSL, Flag, false, set_cgi::request_buffering, "Read the whole request body before connecting upstream (default on).";
    "fastcgi_intercept_errors", HSL, Flag, false, set_cgi::intercept_errors, "Answer upstream statuses >= 300 with error_page (default off).";
    "fastcgi_pass_request_headers", HSL, Flag, false, set_cgi::pass_request_headers, "Send the request's header lines as HTTP_* parameters (default on).";
    "fastcgi_pass_request_body", HSL, Flag, false, set_cgi::pass_request_body, "Send the request body (default on).";
    "fastcgi_bind", HSL, Range(1, 2), false, set_cgi::bind, "`fastcgi_bind ADDRESS [transparent] | off`: the local address of upstream connections.";
    "fastcgi_socket_keepalive", HSL, Flag, false, set_cgi::socket_keepalive, "SO_KEEPALIVE on upstream connections (default off).";
    "fastcgi_index", HSL, Exact(1), false, set_cgi::index, "File name appended to a URI ending in `/` in $fastcgi_script_name.";
    "fastcgi_split_path_info", HSL, Exact(1), false, set_cgi::split_path_info, "Regex with two captures splitting the URI into $fastcgi_script_name and $fastcgi_path_info.";
    "fastcgi_catch_stderr", HSL, Exact(1), false, set_cgi::catch_stderr, "A string in the server's stderr output that makes the response invalid (next upstream or 502).";
    "fastcgi_keep_conn", HSL, Flag, false, set_cgi::keep_conn, "Ask the server to keep the connection open, so that it can be reused (default off).";
    "fastcgi_send_lowat", HSL, Exact(1), false, set_cgi::send_lowat, "SO_SNDLOWAT: not available on Linux; warned about and ignored, as nginx does.";
    "fastcgi_store", HSL, Exact(1), false, set_cgi::store, "Only `off` is supported: responses are not stored in files.";
    "fastcgi_store_access", HSL, Range(1, 3), false, set_cgi::store_access, "Permissions of stored files: user:rw group:r all:r.";
    "fastcgi_ignore_client_abort", HSL, Flag, false, set_cgi::ignore_client_abort, "Keep the upstream request when the client closes first (default off).";
    "fastcgi_force_ranges", HSL, Flag, false, set_cgi::force_ranges, "Answer byte ranges from responses that do not offer them (default off).";
    "fastcgi_limit_rate", HSL, Exact(1), false, set_cgi::limit_rate, "Bytes per second read from the upstream (default 0: no limit).";
    "fastcgi_cache", HSL, Exact(1), false, set_cache::proxy_cache, "As proxy_cache (config/set_cache.rs).";
    "fastcgi_cache_path", C::HTTP, AtLeast(2), false, set_cache::proxy_cache_path, "As proxy_cache_path (config/set_cache.rs).";
    "fastcgi_cache_key", HSL, Exact(1), false, set_cache::proxy_cache_key, "As proxy_cache_key (config/set_cache.rs).";
    "fastcgi_cache_bypass", HSL, AtLeast(1), false, set_cache::predicate, "As proxy_cache_bypass (config/set_cache.rs).";
    "fastcgi_no_cache", HSL, AtLeast(1), false, set_cache::predicate, "As proxy_no_cache (config/set_cache.rs).";
    "fastcgi_cache_valid", HSL, AtLeast(1), false, set_cache::proxy_cache_valid, "As proxy_cache_valid (config/set_cache.rs).";
    "fastcgi_cache_min_uses", HSL, Exact(1), false, set_cache::proxy_cache_min_uses, "As proxy_cache_min_uses (config/set_cache.rs).";
    "fastcgi_cache_max_range_offset", HSL, Exact(1), false, set_cache::proxy_cache_max_range_offset, "As proxy_cache_max_range_offset (config/set_cache.rs).";
    "fastcgi_cache_use_stale", HSL, AtLeast(1), false, set_cache::proxy_cache_use_stale, "As proxy_cache_use_stale (config/set_cache.rs).";
    "fastcgi_cache_methods", HSL, AtLeast(1), false, set_cache::proxy_cache_methods, "As proxy_cache_methods (config/set_cache.rs).";
    "fastcgi_cache_lock", HSL, Flag, false, set_cache::proxy_cache_lock, "As proxy_cache_lock (config/set_cache.rs).";
    "fastcgi_cache_lock_timeout", HSL, Exact(1), false, set_cache::proxy_cache_lock_time, "As proxy_cache_lock_timeout (config/set_cache.rs).";
    "fastcgi_cache_lock_age", HSL, Exact(1), false, set_cache::proxy_cache_lock_time, "As proxy_cache_lock_age (config/set_cache.rs).";
    "fastcgi_cache_revalidate", HSL, Flag, false, set_cache::proxy_cache_revalidate, "As proxy_cache_revalidate (config/set_cache.rs).";
    "fastcgi_cache_background_update", HSL, Flag, false, set_cache::proxy_cache_background_update, "As proxy_cache_background_update (config/set_cache.rs).";
    "uwsgi_pass", C::LOCATION.or(C::IF_IN_LOCATION), Exact(1), false, set_cgi::pass, "Pass requests to a uwsgi server: `host:port`, `unix:/path`, an upstream group, or an address with variables.";
    "uwsgi_param", HSL, Range(2, 3), false, set_cgi::param, "`uwsgi_param NAME VALUE [if_not_empty]`: a parameter sent to the uwsgi server; a level with any replaces its parent's list.";
    "uwsgi_pass_header", HSL, Exact(1), false, set_cgi::pass_header, "Pass an upstream header that is hidden by default.";
    "uwsgi_hide_header", HSL, Exact(1), false, set_cgi::hide_header, "Hide an upstream header.";
    "uwsgi_ignore_headers", HSL, AtLeast(1), false, set_cgi::ignore_headers, "Upstream headers whose special meaning is ignored (X-Accel-*, Expires, Cache-Control, Set-Cookie, Vary).";
    "uwsgi_connect_timeout", HSL, Exact(1), false, set_cgi::connect_timeout, "Upstream connect timeout (default 60s).";
    "uwsgi_send_timeout", HSL, Exact(1), false, set_cgi::send_timeout, "Upstream send timeout between two writes (default 60s).";
    "uwsgi_read_timeout", HSL, Exact(1), false, set_cgi::read_timeout, "Upstream read timeout between two reads (default 60s).";
    "uwsgi_next_upstream", HSL, AtLeast(1), false, set_cgi::next_upstream, "When to try the next server (default error timeout).";
    "uwsgi_next_upstream_tries", HSL, Exact(1), false, set_cgi::next_upstream_tries, "Most tries per request (default 0: unlimited).";
    "uwsgi_next_upstream_timeout", HSL, Exact(1), false, set_cgi::next_upstream_timeout, "Time allowed for tries (default 0: unlimited).";
    "uwsgi_buffering", HSL, Flag, false, set_cgi::buffering, "Read the response ahead of a slow client (default on).";
    "uwsgi_buffer_size", HSL, Exact(1), false, set_cgi::buffer_size, "Buffer for the response head (default 4k).";
    "uwsgi_buffers", HSL, Exact(2), false, set_cgi::buffers, "Read-ahead buffers per request (default 8 4k).";
    "uwsgi_busy_buffers_size", HSL, Exact(1), false, set_cgi::busy_buffers_size, "Response bytes kept in memory for the client while the rest may go to a temporary file (default: two buffers).";
    "uwsgi_temp_path", HSL, Range(1, 4), false, set_cgi::temp_path, "Directory of temporary files for responses, relative to the prefix (default uwsgi_temp).";
    "uwsgi_max_temp_file_size", HSL, Exact(1), false, set_cgi::max_temp_file_size, "Largest response temporary file; 0 disables them (default 1024m).";
    "uwsgi_temp_file_write_size", HSL, Exact(1), false, set_cgi::temp_file_write_size, "Most response bytes written to the temporary file at a time (default: two buffers).";
    "uwsgi_request_buffering", HSL, Flag, false, set_cgi::request_buffering, "Read the whole request body before connecting upstream (default on).";
    "uwsgi_intercept_errors", HSL, Flag, false, set_cgi::intercept_errors, "Answer upstream statuses >= 300 with error_page (default off).";
    "uwsgi_pass_request_headers", HSL, Flag, false, set_cgi::pass_request_headers, "Send the request's header lines as HTTP_* parameters (default on).";
    "uwsgi_pass_request_body", HSL, Flag, false, set_cgi::pass_request_body, "Send the request body (default on).";
    "uwsgi_bind", HSL, Range(1, 2), false, set_cgi::bind, "`uwsgi_bind ADDRESS [transparent] | off`: the local address of upstream connections.";
    "uwsgi_socket_keepalive", HSL, Flag, false, set_cgi::socket_keepalive, "SO_KEEPALIVE on upstream connections (default off).";
    "uwsgi_modifier1", HSL, Exact(1), false, set_cgi::modifier1, "The packet's modifier1 (default 0).";
    "uwsgi_modifier2", HSL, Exact(1), false, set_cgi::modifier2, "The packet's modifier2 (default 0).";
    "uwsgi_string", HSL, Exact(1), false, set_cgi::uwsgi_string, "Bytes sent after the packet's variables.";
    "uwsgi_store", HSL, Exact(1), false, set_cgi::store, "Only `off` is supported: responses are not stored in files.";
    "uwsgi_store_access", HSL, Range(1, 3), false, set_cgi::store_access, "Permissions of stored files: user:rw group:r all:r.";
    "uwsgi_ignore_client_abort", HSL, Flag, false, set_cgi::ignore_client_abort, "Keep the upstream request when the client closes first (default off).";
    "uwsgi_force_ranges", HSL, Flag, false, set_cgi::force_ranges, "Answer byte ranges from responses that do not offer them (default off).";
    "uwsgi_limit_rate", HSL, Exact(1), false, set_cgi::limit_rate, "Bytes per second read from the upstream (default 0: no limit).";
    "uwsgi_cache", HSL, Exact(1), false, set_cache::proxy_cache, "As proxy_cache (config/set_cache.rs).";
    "uwsgi_cache_path", C::HTTP, AtLeast(2), false, set_cache::proxy_cache_path, "As proxy_cache_path (config/set_cache.rs).";
    "uwsgi_cache_key", HSL, Exact(1), false, set_cache::proxy_cache_key, "As proxy_cache_key (config/set_cache.rs).";
    "uwsgi_cache_bypass", HSL, AtLeast(1), false, set_cache::predicate, "As proxy_cache_bypass (config/set_cache.rs).";
    "uwsgi_no_cache", HSL, AtLeast(1), false, set_cache::predicate, "As proxy_no_cache (config/set_cache.rs).";
    "uwsgi_cache_valid", HSL, AtLeast(1), false, set_cache::proxy_cache_valid, "As proxy_cache_valid (config/set_cache.rs).";
    "uwsgi_cache_min_uses", HSL, Exact(1), false, set_cache::proxy_cache_min_uses, "As proxy_cache_min_uses (config/set_cache.rs).";
    "uwsgi_cache_max_range_offset", HSL, Exact(1), false, set_cache::proxy_cache_max_range_offset, "As proxy_cache_max_range_offset (config/set_cache.rs).";
    "uwsgi_cache_use_stale", HSL, AtLeast(1), false, set_cache::proxy_cache_use_stale, "As proxy_cache_use_stale (config/set_cache.rs).";
    "uwsgi_cache_methods", HSL, AtLeast(1), false, set_cache::proxy_cache_methods, "As proxy_cache_methods (config/set_cache.rs).";
    "uwsgi_cache_lock", HSL, Flag, false, set_cache::proxy_cache_lock, "As proxy_cache_lock (config/set_cache.rs).";
    "uwsgi_cache_lock_timeout", HSL, Exact(1), false, set_cache::proxy_cache_lock_time, "As proxy_cache_lock_timeout (config/set_cache.rs).";
    "uwsgi_cache_lock_age", HSL, Exact(1), false, set_cache::proxy_cache_lock_time, "As proxy_cache_lock_age (config/set_cache.rs).";
    "uwsgi_cache_revalidate", HSL, Flag, false, set_cache::proxy_cache_revalidate, "As proxy_cache_revalidate (config/set_cache.rs).";
    "uwsgi_cache_background_update", HSL, Flag, false, set_cache::proxy_cache_background_update, "As proxy_cache_background_update (config/set_cache.rs).";
    "scgi_pass", C::LOCATION.or(C::IF_IN_LOCATION), Exact(1), false, set_cgi::pass, "Pass requests to a SCGI server: `host:port`, `unix:/path`, an upstream group, or an address with variables.";
    "scgi_param", HSL, Range(2, 3), false, set_cgi::param, "`scgi_param NAME VALUE [if_not_empty]`: a parameter sent to the SCGI server; a level with any replaces its parent's list.";
    "scgi_pass_header", HSL, Exact(1), false, set_cgi::pass_header, "Pass an upstream header that is hidden by default.";
    "scgi_hide_header", HSL, Exact(1), false, set_cgi::hide_header, "Hide an upstream header.";
    "scgi_ignore_headers", HSL, AtLeast(1), false, set_cgi::ignore_headers, "Upstream headers whose special meaning is ignored (X-Accel-*, Expires, Cache-Control, Set-Cookie, Vary).";
    "scgi_connect_timeout", HSL, Exact(1), false, set_cgi::connect_timeout, "Upstream connect timeout (default 60s).";
    "scgi_send_timeout", HSL, Exact(1), false, set_cgi::send_timeout, "Upstream send timeout between two writes (default 60s).";
    "scgi_read_timeout", HSL, Exact(1), false, set_cgi::read_timeout, "Upstream read timeout between two reads (default 60s).";
    "scgi_next_upstream", HSL, AtLeast(1), false, set_cgi::next_upstream, "When to try the next server (default error timeout).";
    "scgi_next_upstream_tries", HSL, Exact(1), false, set_cgi::next_upstream_tries, "Most tries per request (default 0: unlimited).";
    "scgi_next_upstream_timeout", HSL, Exact(1), false, set_cgi::next_upstream_timeout, "Time allowed for tries (default 0: unlimited).";
    "scgi_buffering", HSL, Flag, false, set_cgi::buffering, "Read the response ahead of a slow client (default on).";
    "scgi_buffer_size", HSL, Exact(1), false, set_cgi::buffer_size, "Buffer for the response head (default 4k).";
    "scgi_buffers", HSL, Exact(2), false, set_cgi::buffers, "Read-ahead buffers per request (default 8 4k).";
    "scgi_busy_buffers_size", HSL, Exact(1), false, set_cgi::busy_buffers_size, "Response bytes kept in memory for the client while the rest may go to a temporary file (default: two buffers).";
    "scgi_temp_path", HSL, Range(1, 4), false, set_cgi::temp_path, "Directory of temporary files for responses, relative to the prefix (default scgi_temp).";
    "scgi_max_temp_file_size", HSL, Exact(1), false, set_cgi::max_temp_file_size, "Largest response temporary file; 0 disables them (default 1024m).";
    "scgi_temp_file_write_size", HSL, Exact(1), false, set_cgi::temp_file_write_size, "Most response bytes written to the temporary file at a time (default: two buffers).";
    "scgi_request_buffering", HSL, Flag, false, set_cgi::request_buffering, "Read the whole request body before connecting upstream (default on).";
    "scgi_intercept_errors", HSL, Flag, false, set_cgi::intercept_errors, "Answer upstream statuses >= 300 with error_page (default off).";
    "scgi_pass_request_headers", HSL, Flag, false, set_cgi::pass_request_headers, "Send the request's header lines as HTTP_* parameters (default on).";
    "scgi_pass_request_body", HSL, Flag, false, set_cgi::pass_request_body, "Send the request body (default on).";
    "scgi_bind", HSL, Range(1, 2), false, set_cgi::bind, "`scgi_bind ADDRESS [transparent] | off`: the local address of upstream connections.";
    "scgi_socket_keepalive", HSL, Flag, false, set_cgi::socket_keepalive, "SO_KEEPALIVE on upstream connections (default off).";
    "scgi_store", HSL, Exact(1), false, set_cgi::store, "Only `off` is supported: responses are not stored in files.";
    "scgi_store_access", HSL, Range(1, 3), false, set_cgi::store_access, "Permissions of stored files: user:rw group:r all:r.";
    "scgi_ignore_client_abort", HSL, Flag, false, set_cgi::ignore_client_abort, "Keep the upstream request when the client closes first (default off).";
    "scgi_force_ranges", HSL, Flag, false, set_cgi::force_ranges, "Answer byte ranges from responses that do not offer them (default off).";
    "scgi_limit_rate", HSL, Exact(1), false, set_cgi::limit_rate, "Bytes per second read from the upstream (default 0: no limit).";
    "scgi_cache", HSL, Exact(1), false, set_cache::proxy_cache, "As proxy_cache (config/set_cache.rs).";
    "scgi_cache_path", C::HTTP, AtLeast(2), false, set_cache::proxy_cache_path, "As proxy_cache_path (config/set_cache.rs).";
    "scgi_cache_key", HSL, Exact(1), false, set_cache::proxy_cache_key, "As proxy_cache_key (config/set_cache.rs).";
    "scgi_cache_bypass", HSL, AtLeast(1), false, set_cache::predicate, "As proxy_cache_bypass (config/set_cache.rs).";
    "scgi_no_cache", HSL, AtLeast(1), false, set_cache::predicate, "As proxy_no_cache (config/set_cache.rs).";
    "scgi_cache_valid", HSL, AtLeast(1), false, set_cache::proxy_cache_valid, "As proxy_cache_valid (config/set_cache.rs).";
    "scgi_cache_min_uses", HSL, Exact(1), false, set_cache::proxy_cache_min_uses, "As proxy_cache_min_uses (config/set_cache.rs).";
    "scgi_cache_max_range_offset", HSL, Exact(1), false, set_cache::proxy_cache_max_range_offset, "As proxy_cache_max_range_offset (config/set_cache.rs).";
    "scgi_cache_use_stale", HSL, AtLeast(1), false, set_cache::proxy_cache_use_stale, "As proxy_cache_use_stale (config/set_cache.rs).";
    "scgi_cache_methods", HSL, AtLeast(1), false, set_cache::proxy_cache_methods, "As proxy_cache_methods (config/set_cache.rs).";
    "scgi_cache_lock", HSL, Flag, false, set_cache::proxy_cache_lock, "As proxy_cache_lock (config/set_cache.rs).";
    "scgi_cache_lock_timeout", HSL, Exact(1), false, set_cache::proxy_cache_lock_time, "As proxy_cache_lock_timeout (config/set_cache.rs).";
    "scgi_cache_lock_age", HSL, Exact(1), false, set_cache::proxy_cache_lock_time, "As proxy_cache_lock_age (config/set_cache.rs).";
    "scgi_cache_revalidate", HSL, Flag, false, set_cache::proxy_cache_revalidate, "As proxy_cache_revalidate (config/set_cache.rs).";
    "scgi_cache_background_update", HSL, Flag, false, set_cache::proxy_cache_background_update, "As proxy_cache_background_update (config/set_cache.rs).";
    "uwsgi_ssl_certificate", HSL, Exact(1), false, upstream_ssl::uwsgi_ssl_certificate, "Client certificate for suwsgi:// upstreams (variables allowed).";
    "uwsgi_ssl_certificate_key", HSL, Exact(1), false, upstream_ssl::uwsgi_ssl_certificate_key, "Its key (variables allowed).";
    "uwsgi_ssl_ciphers", HSL, Exact(1), false, upstream_ssl::uwsgi_ssl_ciphers, "OpenSSL cipher string for suwsgi:// (default DEFAULT).";
    "uwsgi_ssl_conf_command", HSL, Exact(2), false, set_proxy_ssl::proxy_ssl_conf_command, "Refused: OpenSSL commands mean nothing to rustls.";
    "uwsgi_ssl_crl", HSL, Exact(1), false, upstream_ssl::uwsgi_ssl_crl, "CRLs uwsgi upstream certificates are checked against.";
    "uwsgi_ssl_name", HSL, Exact(1), false, upstream_ssl::uwsgi_ssl_name, "Name verified and sent as SNI (default the uwsgi_pass host).";
    "uwsgi_ssl_password_file", HSL, Exact(1), false, upstream_ssl::uwsgi_ssl_password_file, "Passwords for an encrypted uwsgi_ssl_certificate_key.";
    "uwsgi_ssl_protocols", HSL, AtLeast(1), false, upstream_ssl::uwsgi_ssl_protocols, "Protocols towards uwsgi upstreams.";
    "uwsgi_ssl_server_name", HSL, Flag, false, upstream_ssl::uwsgi_ssl_server_name, "Send SNI to uwsgi upstreams (default off).";
    "uwsgi_ssl_session_reuse", HSL, Flag, false, upstream_ssl::uwsgi_ssl_session_reuse, "Resume uwsgi upstream TLS sessions (default on).";
    "uwsgi_ssl_trusted_certificate", HSL, Exact(1), false, upstream_ssl::uwsgi_ssl_trusted_certificate, "CAs uwsgi upstream certificates verify against.";
    "uwsgi_ssl_verify", HSL, Flag, false, upstream_ssl::uwsgi_ssl_verify, "Verify uwsgi upstream certificates (default off).";
    "uwsgi_ssl_verify_depth", HSL, Exact(1), false, upstream_ssl::uwsgi_ssl_verify_depth, "Intermediates a uwsgi upstream chain may have (default 1).";
    // ---- fastcgi: a core knob the gateways' body tests use ----
    // ---- resolver (config/resolver.rs) ----
    "resolver", HSL, AtLeast(1), false, resolver::resolver, "`resolver ADDRESS... [valid=TIME] [ipv4=on|off] [ipv6=on|off]`: name servers for proxy_pass with variables.";
    "resolver_timeout", HSL, Exact(1), false, resolver::resolver_timeout, "How long a request waits for a name to resolve (default 30s).";
    // ---- main and events (issue 18) ----
    "worker_rlimit_core", C::MAIN, Exact(1), false, set_core::worker_rlimit_core, "RLIMIT_CORE for workers (largest core file).";
    "worker_priority", C::MAIN, Exact(1), false, set_core::worker_priority, "Nice value of the workers, -20..19 (default 0).";
    "working_directory", C::MAIN, Exact(1), false, set_core::working_directory, "Workers' current directory, where their core files go.";
    "env", C::MAIN, Exact(1), false, set_core::env, "`env NAME[=VALUE]`: keep or set a variable for workers and a new binary (TZ is kept).";
    "timer_resolution", C::MAIN, Exact(1), false, set_core::timer_resolution, "Read the clock once per interval instead of every loop turn (default 0: every turn).";
    "debug_points", C::MAIN, Exact(1), false, set_core::debug_points, "On an internal error: `stop` the process or `abort` with a core file.";
    "lock_file", C::MAIN, Exact(1), false, set_core::lock_file, "Accepted for compatibility: Portico has no accept mutex and creates no lock file.";
    "thread_pool", C::MAIN, Range(2, 3), false, set_core::not_in_portico, "Refused: Portico has no thread pools.";
    "ssl_engine", C::MAIN, Exact(1), false, set_core::not_in_portico, "Refused: rustls has no OpenSSL engines.";
    "google_perftools_profiles", C::MAIN, Exact(1), false, set_core::not_in_portico, "Refused: no google perftools module.";
    "accept_mutex_delay", C::EVENTS, Exact(1), false, set_events::accept_mutex_delay, "Accepted for compatibility (default 500ms): see accept_mutex.";
    "debug_connection", C::EVENTS, Exact(1), false, set_events::debug_connection, "Log these clients' connections at debug level: address, CIDR, host or `unix:`.";
    "epoll_events", C::EVENTS, Exact(1), false, set_events::epoll_events, "Most events one epoll_wait(2) returns (default 512).";
    "worker_aio_requests", C::EVENTS, Exact(1), false, set_events::worker_aio_requests, "Checked only: Portico has no AIO (default 32).";
    // ---- tls (issue 15): ngx_http_ssl_module (config/set_ssl.rs, tls/) ----
    "ssl", HS, Flag, false, set_ssl::ssl, "Deprecated form of `listen ... ssl` (default off).";
    "ssl_certificate", HS, Exact(1), false, set_ssl::ssl_certificate, "PEM certificate chain (file or `data:`); several pairs per server, chosen by the client's offer.";
    "ssl_certificate_key", HS, Exact(1), false, set_ssl::ssl_certificate_key, "PEM private key (file or `data:`), paired with the `ssl_certificate` of the same rank.";
    "ssl_password_file", HS, Exact(1), false, set_ssl::ssl_password_file, "Passwords of encrypted keys, one a line, tried in order (AES-CBC keys: PKCS#8 PBES2 or traditional PEM).";
    "ssl_protocols", HS, AtLeast(1), false, set_ssl::ssl_protocols, "Protocols (default TLSv1 TLSv1.1 TLSv1.2 TLSv1.3; rustls speaks TLSv1.2 and TLSv1.3).";
    "ssl_ciphers", HS, Exact(1), false, set_ssl::ssl_ciphers, "OpenSSL cipher string selecting TLS 1.2 suites (default HIGH:!aNULL:!MD5).";
    "ssl_prefer_server_ciphers", HS, Flag, false, set_ssl::ssl_prefer_server_ciphers, "Choose the suite by the server's order (default off).";
    "ssl_ecdh_curve", HS, Exact(1), false, set_ssl::ssl_ecdh_curve, "Key-exchange groups, `auto` or a `:` list (default auto).";
    "ssl_dhparam", HS, Exact(1), false, set_ssl::ssl_dhparam, "Read and warned about: rustls has no DHE.";
    "ssl_session_cache", HS, Range(1, 2), false, set_ssl::ssl_session_cache, "off | none | [builtin[:SIZE]] [shared:NAME:SIZE] (default none).";
    "ssl_session_timeout", HS, Exact(1), false, set_ssl::ssl_session_timeout, "Lifetime of cached sessions and tickets (default 5m).";
    "ssl_session_tickets", HS, Flag, false, set_ssl::ssl_session_tickets, "Issue session tickets (default on).";
    "ssl_session_ticket_key", HS, Exact(1), false, set_ssl::ssl_session_ticket_key, "Ticket key file of 80 or 48 bytes; the first encrypts, all decrypt.";
    "ssl_buffer_size", HS, Exact(1), false, set_ssl::ssl_buffer_size, "Largest TLS record payload sent (default 16k).";
    "ssl_reject_handshake", HS, Flag, false, set_ssl::ssl_reject_handshake, "Refuse handshakes selecting this server with unrecognized_name (default off).";
    "ssl_verify_depth", HS, Exact(1), false, set_ssl::ssl_verify_depth, "How many intermediates a client chain may have (default 1).";
    "ssl_verify_client", HS, Exact(1), false, set_ssl::ssl_verify_client, "on|off|optional|optional_no_ca: client certificates, 495/496 as nginx.";
    "ssl_client_certificate", HS, Exact(1), false, set_ssl::ssl_client_certificate, "CAs client certificates verify against (and named to the client).";
    "ssl_trusted_certificate", HS, Exact(1), false, set_ssl::ssl_trusted_certificate, "CAs client certificates verify against (not named to the client).";
    "ssl_crl", HS, Exact(1), false, set_ssl::ssl_crl, "CRLs client certificates are checked against.";
    "ssl_early_data", HS, Flag, false, set_ssl::ssl_early_data, "Accept TLS 1.3 0-RTT requests (default off; needs a session cache; replayable).";
    "ssl_stapling", HS, Flag, false, set_ssl::ssl_stapling, "Staple an OCSP response (default off): `ssl_stapling_file`'s, or one fetched from the responder.";
    "ssl_stapling_verify", HS, Flag, false, set_ssl::ssl_stapling_verify, "Verify fetched OCSP responses (default off); a `ssl_stapling_file` response is stapled as is, as in nginx.";
    "ssl_stapling_file", HS, Exact(1), false, set_ssl::ssl_stapling_file, "DER OCSP response stapled to every certificate of the server.";
    "ssl_stapling_responder", HS, Exact(1), false, set_ssl::ssl_stapling_responder, "OCSP responder URL for fetching (default: the certificate's authorityInfoAccess; not used with `ssl_stapling_file`).";
    "ssl_ocsp", HS, Exact(1), false, set_ssl::ssl_ocsp, "on | off | leaf: OCSP checks of the client's chain (or its leaf) before its request (default off).";
    "ssl_ocsp_cache", HS, Exact(1), false, set_ssl::ssl_ocsp_cache, "off | shared:NAME:SIZE: OCSP results of client certificates kept in a shared zone (default off).";
    "ssl_ocsp_responder", HS, Exact(1), false, set_ssl::ssl_ocsp_responder, "OCSP responder URL for client certificates (default: each certificate's authorityInfoAccess).";
    "ssl_conf_command", HS, Exact(2), false, set_ktls::ssl_conf_command, "Only \"Options KTLS\" (kernel TLS with sendfile); other OpenSSL commands are refused.";
    // ---- regex ----
    "pcre_jit", C::MAIN, Flag, false, set_regex::pcre_jit, "JIT-compile regexes (default on in Portico; nginx: off). Same matches either way.";
    // ---- map, geo, split_clients, referer, empty_gif ----
    "map", C::HTTP, Exact(2), true, set_map::map, "`map STRING $variable { [hostnames;] [volatile;] [default] KEY|~REGEX VALUE; ... }`.";
    "map_hash_max_size", C::HTTP, Exact(1), false, set_map::map_hash_max_size, "Tuning knob of nginx's map hash, range-checked (default 2048).";
    "map_hash_bucket_size", C::HTTP, Exact(1), false, set_map::map_hash_bucket_size, "Tuning knob of nginx's map hash, range-checked (default 64).";
    "geo", C::HTTP, Range(1, 2), true, set_geo::geo, "`geo [$address] $variable { [ranges;] [proxy CIDR;] [default] CIDR|RANGE VALUE; delete ...; }`.";
    "split_clients", C::HTTP, Exact(2), true, set_split_clients::split_clients, "`split_clients STRING $variable { PERCENT% VALUE; ... * VALUE; }` by MurmurHash2.";
    "valid_referers", C::SERVER.or(C::LOCATION), AtLeast(1), false, set_referer::valid_referers, "`valid_referers none|blocked|server_names|NAME[/URI]|~REGEX ...` for `$invalid_referer`.";
    "referer_hash_max_size", C::SERVER.or(C::LOCATION), Exact(1), false, set_referer::referer_hash_max_size, "Tuning knob of nginx's referer hash, range-checked (default 2048).";
    "referer_hash_bucket_size", C::SERVER.or(C::LOCATION), Exact(1), false, set_referer::referer_hash_bucket_size, "Tuning knob of nginx's referer hash, range-checked (default 64).";
    "empty_gif", C::LOCATION, NoArgs, false, set_referer::empty_gif, "Answer with a 1x1 transparent GIF.";
    // ---- gzip, gzip_static, gunzip ----
    "gzip", HSL.or(C::IF_IN_LOCATION), Flag, false, set_gzip::gzip, "Compress responses with gzip (default off).";
    "gzip_types", HSL, AtLeast(1), false, set_gzip::gzip_types, "MIME types compressed besides text/html, or `*` for any.";
    "gzip_comp_level", HSL, Exact(1), false, set_gzip::gzip_comp_level, "Compression level 1..9 (default 1).";
    "gzip_min_length", HSL, Exact(1), false, set_gzip::gzip_min_length, "Smallest Content-Length compressed (default 20).";
    "gzip_buffers", HSL, Exact(2), false, set_gzip::gzip_buffers, "`NUMBER SIZE` of compressed output held per response (default 32 4k).";
    "gzip_http_version", HSL, Exact(1), false, set_gzip::gzip_http_version, "Oldest request version compressed: 1.0|1.1 (default 1.1).";
    "gzip_proxied", HSL, AtLeast(1), false, set_gzip::gzip_proxied, "For requests with Via: off|expired|no-cache|no-store|private|no_last_modified|no_etag|auth|any.";
    "gzip_disable", HSL, AtLeast(1), false, set_gzip::gzip_disable, "User-Agent regexes (or `msie6`) that get no gzip.";
    "gzip_vary", HSL, Flag, false, set_gzip::gzip_vary, "Add `Vary: Accept-Encoding` (default off).";
    "gzip_window", HSL, Exact(1), false, set_gzip::gzip_window, "Compressor window: 512..32k (default 32k).";
    "gzip_hash", HSL, Exact(1), false, set_gzip::gzip_hash, "Compressor hash memory: 512..128k (default 64k).";
    "gzip_no_buffer", HSL, Flag, false, set_gzip::gzip_no_buffer, "Send compressed bytes as soon as they are made (default off).";
    "postpone_gzipping", HSL, Exact(1), false, set_tail::unsupported, "Refused: Portico's compressor starts at the first body byte.";
    "gzip_static", HSL, Exact(1), false, set_gzip::gzip_static, "Serve FILE.gz next to FILE: on|off|always (default off).";
    "gunzip", HSL, Flag, false, set_gzip::gunzip, "Decompress gzip responses for clients without gzip (default off).";
    "gunzip_buffers", HSL, Exact(2), false, set_gzip::gunzip_buffers, "`NUMBER SIZE` of decompressed output held per response (default 32 4k).";
    // ---- charset ----
    "charset", HSL.or(C::IF_IN_LOCATION), Exact(1), false, charset::charset, "`charset NAME|$var|off`: added to Content-Type of `charset_types` (default off).";
    "source_charset", HSL.or(C::IF_IN_LOCATION), Exact(1), false, charset::source_charset, "`source_charset NAME|$var|off`: the body's own charset, recoded by `charset_map`.";
    "override_charset", HSL.or(C::IF_IN_LOCATION), Flag, false, charset::override_charset, "Recode a response that names its charset too (default off).";
    "charset_types", HSL, AtLeast(1), false, charset::charset_types, "MIME types that get a charset besides text/html, or `*`.";
    "charset_map", C::HTTP, Exact(2), true, charset::charset_map, "`charset_map SRC DST { BYTE CODE; ... }`: a recoding table.";
    // ---- writer: limit_rate, trailers, body files (config/writer.rs) ----
    "limit_rate", HSL.or(C::IF_IN_LOCATION), Exact(1), false, writer::limit_rate, "Bytes per second sent to the client (variables allowed; default 0: no limit).";
    "limit_rate_after", HSL.or(C::IF_IN_LOCATION), Exact(1), false, writer::limit_rate_after, "Bytes sent at full speed before limit_rate applies (variables allowed; default 0).";
    "add_trailer", HSL.or(C::IF_IN_LOCATION), Range(2, 3), false, writer::add_trailer, "`add_trailer NAME VALUE [always]`: a trailer after a chunked response.";
    "client_body_in_file_only", HSL, Exact(1), false, writer::client_body_in_file_only, "Keep the request body in a file: on (kept), clean (removed), off (default).";
    "client_body_in_single_buffer", HSL, Flag, false, writer::client_body_in_single_buffer, "Keep a body in memory in one buffer (always so in Portico; default off).";
    // ---- status: upstream zone, stub_status, status handler (config/set_status.rs) ----
    "zone", C::UPSTREAM, Range(1, 2), false, set_status::upstream_zone, "`zone NAME [SIZE]`: the group's server counters shared by all workers.";
    "stub_status", C::SERVER.or(C::LOCATION), Range(0, 1), false, set_status::stub_status, "Answer with nginx's basic status: connections and requests of the whole server.";
    "status_zone", C::SERVER.or(C::LOCATION).or(C::IF_IN_LOCATION), Exact(1), false, set_status::status_zone, "`status_zone NAME|off`: count the server's or location's requests in the status report.";
    "status", C::LOCATION, NoArgs, false, set_status::status, "Answer with the status report in JSON (`?format=prometheus`: Prometheus text).";
    "metrics", C::LOCATION, NoArgs, false, set_status::metrics, "Answer with the status report in Prometheus' text format.";
    // ---- health checks (config/health_check.rs) ----
    "health_check", C::LOCATION, AtLeast(0), false, health_check::health_check, "`health_check [interval=T] [jitter=T] [fails=N] [passes=N] [uri=URI] [port=N] [match=NAME] [mandatory]`: probe the servers of the location's upstream group (it needs a `zone`).";
    "match", C::HTTP, Exact(1), true, health_check::match_block, "`match NAME { status ...; header ...; body ~ RE; }`: the tests a health check's response must pass.";
    "queue", C::UPSTREAM, Range(1, 2), false, set_status::upstream_queue, "`queue N [timeout=T]`: requests that find every server busy (`max_conns`) or unusable wait, per worker, up to N of them for up to T (60s), then 502.";
    // ---- subrequests: auth_request, mirror ----
    "auth_request", HSL, Exact(1), false, subrequest::auth_request, "`auth_request URI|off`: allow the request when a subrequest to URI answers 2xx (401/403 deny).";
    "auth_request_set", HSL, Exact(2), false, subrequest::auth_request_set, "`auth_request_set $variable VALUE`: set from the auth subrequest's variables once it is done.";
    "mirror", HSL, Exact(1), false, subrequest::mirror, "`mirror URI|off`: a background subrequest to URI for each request (responses ignored).";
    "mirror_request_body", HSL, Flag, false, subrequest::mirror_request_body, "Read the client's body first and send it with the mirror subrequests (default on).";
    // ---- http2 (config/set_http2.rs) ----
    "http2", HS, Exact(1), false, set_http2::http2, "`on`: the server's connections speak HTTP/2 (nginx 1.25 form of `listen ... http2`; default off).";
    "http2_max_concurrent_streams", HS, Exact(1), false, set_http2::max_concurrent_streams, "Concurrent streams per HTTP/2 connection (default 128).";
    "http2_recv_buffer_size", C::HTTP, Exact(1), false, set_http2::recv_buffer_size, "Read buffer of an HTTP/2 connection (default 256k).";
    "http2_pool_size", HS, Exact(1), false, set_http2::pool_size, "nginx's pool tuning: checked as nginx checks it, no effect.";
    "http2_body_preread_size", HS, Exact(1), false, set_http2::body_preread_size, "Each stream's request-body window (default 64k).";
    "http2_streams_index_size", HS, Exact(1), false, set_http2::streams_index_size, "nginx's hash tuning: checked as nginx checks it, no effect.";
    "http2_chunk_size", HSL, Exact(1), false, set_http2::chunk_size, "Most body bytes per DATA frame (default 8k).";
    "http2_recv_timeout", HS, Exact(1), false, set_http2::obsolete, "Obsolete since nginx 1.19.7: warned about and ignored, as nginx does.";
    "http2_idle_timeout", HS, Exact(1), false, set_http2::obsolete, "Obsolete since nginx 1.19.7: warned about and ignored, as nginx does.";
    "http2_max_requests", HS, Exact(1), false, set_http2::obsolete, "Obsolete since nginx 1.19.7: warned about and ignored, as nginx does.";
    "http2_max_field_size", HS, Exact(1), false, set_http2::obsolete, "Obsolete since nginx 1.19.7: warned about and ignored, as nginx does.";
    "http2_max_header_size", HS, Exact(1), false, set_http2::obsolete, "Obsolete since nginx 1.19.7: warned about and ignored, as nginx does.";
    "http2_push", HSL, Exact(1), false, set_http2::push_obsolete, "Server push: warned about and ignored, as nginx 1.25.1 does.";
    "http2_push_preload", HSL, Flag, false, set_http2::push_obsolete, "Server push: warned about and ignored, as nginx 1.25.1 does.";
    "http2_max_concurrent_pushes", HS, Exact(1), false, set_http2::push_obsolete, "Server push: warned about and ignored, as nginx 1.25.1 does.";
}

/// Applies one directive in `level`, as `ngx_conf_handler` does.
pub(crate) fn dispatch(
    level: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let ctx = level.ctx();
    let mut known = false;
    for spec in DIRECTIVES.iter().filter(|s| s.name == d.name) {
        known = true;
        if !spec.contexts.intersects(ctx) {
            continue;
        }
        if !spec.block && d.block.is_some() {
            let message = format!("directive \"{}\" is not terminated by \";\"", d.name);
            return Err(ConfError::at(d, message));
        }
        if spec.block && d.block.is_none() {
            return Err(ConfError::at(
                d,
                format!("directive \"{}\" has no opening \"{{\"", d.name),
            ));
        }
        if !spec.arity.accepts(d.args.len()) {
            let message = format!("invalid number of arguments in \"{}\" directive", d.name);
            return Err(ConfError::at(d, message));
        }
        return (spec.set)(level, d, shared);
    }
    if known {
        Err(ConfError::at(
            d,
            format!("\"{}\" directive is not allowed here", d.name),
        ))
    } else {
        Err(ConfError::at(
            d,
            format!("unknown directive \"{}\"", d.name),
        ))
    }
}

/// Applies a block's directives in order.
pub(crate) fn walk(
    level: &mut Level<'_>,
    children: &[Directive],
    shared: &mut Shared,
) -> Result<(), ConfError> {
    children.iter().try_for_each(|d| dispatch(level, d, shared))
}

/// The children of a block directive (empty for a simple one).
pub(crate) fn block(d: &Directive) -> &[Directive] {
    d.block.as_deref().unwrap_or(&[])
}

/// The one-line documentation of a directive, for `--help`-style listings.
pub fn doc(name: &str) -> Option<&'static str> {
    DIRECTIVES.iter().find(|s| s.name == name).map(|s| s.doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        for (i, a) in DIRECTIVES.iter().enumerate() {
            assert!(!a.doc.is_empty(), "{} has no doc", a.name);
            for b in &DIRECTIVES[i + 1..] {
                if a.name == b.name {
                    assert!(
                        !a.contexts.intersects(b.contexts),
                        "{} twice in one context",
                        a.name
                    );
                }
            }
        }
        assert!(doc("listen").is_some());
        assert!(doc("lsten").is_none());
    }

    #[test]
    fn arity() {
        assert!(Arity::Range(1, 2).accepts(2));
        assert!(!Arity::Range(1, 2).accepts(3));
        assert!(Arity::AtLeast(1).accepts(5));
        assert!(!Arity::NoArgs.accepts(1));
        assert!(Arity::Flag.accepts(1));
    }
}
