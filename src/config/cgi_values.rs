//! Typed values of the FastCGI, uwsgi and SCGI modules (`ngx_http_fastcgi_module.c`,
//! `ngx_http_uwsgi_module.c`, `ngx_http_scgi_module.c`). The three share nginx's upstream
//! settings (`ngx_http_upstream_conf_t`) and differ in a few directives of their own, so
//! one [`CgiConf`] per module and level holds them all, every field unset until a
//! directive sets it. Levels merge field by field ([`inherit`]), as nginx's
//! `merge_loc_conf` callbacks do, and the defaults are applied when a value is read (each
//! a named constant here). What only one module has is marked so.

use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use super::proxy_values::NextUpstream;
use super::set_upstream::PlacedSize;
use super::settings::LocRaw;
use crate::vars::Template;

/// `*_connect_timeout 60s;`, `*_send_timeout 60s;`, `*_read_timeout 60s;`
pub const DEFAULT_CGI_TIMEOUT: Duration = Duration::from_secs(60);
/// `*_buffer_size 4k;` (one memory page): the response head must fit in it.
pub const DEFAULT_CGI_BUFFER_SIZE: usize = 4096;
/// `*_buffers 8 4k;`
pub const DEFAULT_CGI_BUFFERS: (usize, usize) = (8, 4096);
/// `*_max_temp_file_size 1024m;`
pub const DEFAULT_CGI_MAX_TEMP_FILE_SIZE: u64 = 1024 * 1024 * 1024;
/// `uwsgi_modifier1 0;`, `uwsgi_modifier2 0;`
pub const DEFAULT_UWSGI_MODIFIER: u8 = 0;

/// Which of the three modules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CgiModule {
    /// `fastcgi_*`
    FastCgi,
    /// `uwsgi_*`
    Uwsgi,
    /// `scgi_*`
    Scgi,
}

impl CgiModule {
    /// The three, in nginx's module order.
    pub const ALL: [CgiModule; 3] = [CgiModule::FastCgi, CgiModule::Uwsgi, CgiModule::Scgi];

    /// The directives' prefix and the `upstream:` scheme of log lines.
    pub fn name(self) -> &'static str {
        match self {
            CgiModule::FastCgi => "fastcgi",
            CgiModule::Uwsgi => "uwsgi",
            CgiModule::Scgi => "scgi",
        }
    }

    /// The module a directive belongs to, by its prefix.
    pub fn of_directive(name: &str) -> Option<CgiModule> {
        CgiModule::ALL.into_iter().find(|m| {
            name.strip_prefix(m.name())
                .is_some_and(|rest| rest.starts_with('_'))
        })
    }

    /// `*_temp_path`'s default, relative to the prefix.
    pub fn default_temp_path(self) -> &'static str {
        match self {
            CgiModule::FastCgi => "fastcgi_temp",
            CgiModule::Uwsgi => "uwsgi_temp",
            CgiModule::Scgi => "scgi_temp",
        }
    }

    /// This module's settings of a level.
    pub fn conf(self, loc: &super::LocSettings) -> &CgiConf {
        match self {
            CgiModule::FastCgi => &loc.fastcgi,
            CgiModule::Uwsgi => &loc.uwsgi,
            CgiModule::Scgi => &loc.scgi,
        }
    }

    /// This module's unmerged settings of a level.
    pub fn raw(self, loc: &mut LocRaw) -> &mut Option<CgiConf> {
        match self {
            CgiModule::FastCgi => &mut loc.fastcgi,
            CgiModule::Uwsgi => &mut loc.uwsgi,
            CgiModule::Scgi => &mut loc.scgi,
        }
    }
}

/// `*_pass ADDRESS;`
#[derive(Clone, Debug)]
pub struct CgiPass {
    /// Where requests go.
    pub target: CgiTarget,
    /// `suwsgi://`: its connections speak TLS.
    pub tls: bool,
    /// The directive's file, for errors found at the end of loading.
    pub file: Rc<PathBuf>,
    /// The directive's line.
    pub line: usize,
}

/// What `*_pass` names.
#[derive(Clone, Debug)]
pub enum CgiTarget {
    /// An upstream group (explicit, or made for `host:port` or `unix:/path`), by index in
    /// [`crate::config::HttpConf::upstreams`].
    Group(usize),
    /// An address with variables, evaluated per request: `host:port`, `unix:/path`, or an
    /// upstream group's name (there is no run-time resolver: a host must be an IP).
    Dynamic(Template),
}

pub use super::cgi_parts::*;

/// One module's settings at one level; `None` is "not set here".
#[derive(Clone, Debug, Default)]
pub struct CgiConf {
    /// `*_pass` (not inherited by nested locations; an `if` block keeps its location's)
    pub pass: Option<CgiPass>,
    /// `*_param` entries (a level with any replaces its parent's list)
    pub params: Option<Rc<CgiParams>>,
    /// `*_connect_timeout`
    pub connect_timeout: Option<Duration>,
    /// `*_send_timeout`
    pub send_timeout: Option<Duration>,
    /// `*_read_timeout`
    pub read_timeout: Option<Duration>,
    /// `*_next_upstream`
    pub next_upstream: Option<NextUpstream>,
    /// `*_next_upstream_tries` (0: unlimited)
    pub next_upstream_tries: Option<usize>,
    /// `*_next_upstream_timeout` (zero: unlimited)
    pub next_upstream_timeout: Option<Duration>,
    /// `*_buffering`
    pub buffering: Option<bool>,
    /// `*_buffer_size`
    pub buffer_size: Option<usize>,
    /// `*_buffers NUMBER SIZE`
    pub buffers: Option<(usize, usize)>,
    /// `*_busy_buffers_size` (where it was set, for the checks after merging)
    pub busy_buffers_size: Option<PlacedSize>,
    /// `*_temp_file_write_size`
    pub temp_file_write_size: Option<PlacedSize>,
    /// `*_max_temp_file_size`
    pub max_temp_file_size: Option<PlacedSize>,
    /// `*_temp_path` (resolved against the prefix; the http level gets the default)
    pub temp_path: Option<PathBuf>,
    /// `*_request_buffering`
    pub request_buffering: Option<bool>,
    /// `*_intercept_errors`
    pub intercept_errors: Option<bool>,
    /// `*_pass_header` names (lowercase)
    pub pass_header: Option<Vec<String>>,
    /// `*_hide_header` names (lowercase)
    pub hide_header: Option<Vec<String>>,
    /// `*_ignore_headers` (the proxy module's bits: nginx's masks are the upstream's)
    pub ignore_headers: Option<crate::config::proxy_rest::IgnoreHeaders>,
    /// `*_pass_request_headers`
    pub pass_request_headers: Option<bool>,
    /// `*_pass_request_body`
    pub pass_request_body: Option<bool>,
    /// `*_bind`
    pub bind: Option<CgiBind>,
    /// `*_socket_keepalive`
    pub socket_keepalive: Option<bool>,
    /// `fastcgi_index` (FastCGI only)
    pub index: Option<String>,
    /// `fastcgi_split_path_info REGEX` (FastCGI only)
    pub split_path_info: Option<Rc<SplitPathInfo>>,
    /// `fastcgi_catch_stderr` strings (FastCGI only)
    pub catch_stderr: Option<Vec<Vec<u8>>>,
    /// `fastcgi_keep_conn` (FastCGI only)
    pub keep_conn: Option<bool>,
    /// `uwsgi_modifier1` (uwsgi only)
    pub modifier1: Option<u8>,
    /// `uwsgi_modifier2` (uwsgi only)
    pub modifier2: Option<u8>,
    /// `uwsgi_string` (uwsgi only): bytes added after the packet's variables.
    pub uwsgi_string: Option<Vec<u8>>,
    /// `*_limit_rate`: bytes per second read of a buffered response (0: no limit).
    pub limit_rate: Option<u64>,
    /// `*_ignore_client_abort`
    pub ignore_client_abort: Option<bool>,
    /// `*_force_ranges`: nginx's range filter on the module's responses.
    pub force_ranges: Option<bool>,
    /// `*_store off` (the only value Portico takes).
    pub store: Option<bool>,
    /// `*_store_access`: the mode stored files would get.
    pub store_access: Option<u32>,
    // ---- cache (issue 19): config/cache_conf.rs ----
    /// `*_cache*`, `*_no_cache`: the same settings as the proxy's.
    pub cache: super::cache_conf::CacheConf,
    // ---- upstream tls (issue 15): config/upstream_ssl.rs ----
    /// `uwsgi_ssl_*` (uwsgi only) and what they built for `suwsgi://`.
    pub ssl: super::upstream_ssl::UwsgiSsl,
}

impl CgiConf {
    /// Takes every field still unset here from `parent`, except `*_pass`, which nested
    /// locations do not inherit.
    pub fn inherit(&mut self, parent: &CgiConf) {
        super::inherit_unset!(
            self, parent;
            params,
            connect_timeout,
            send_timeout,
            read_timeout,
            next_upstream,
            next_upstream_tries,
            next_upstream_timeout,
            buffering,
            buffer_size,
            buffers,
            busy_buffers_size,
            temp_file_write_size,
            max_temp_file_size,
            temp_path,
            request_buffering,
            intercept_errors,
            pass_header,
            hide_header,
            ignore_headers,
            pass_request_headers,
            pass_request_body,
            bind,
            socket_keepalive,
            index,
            split_path_info,
            catch_stderr,
            keep_conn,
            modifier1,
            modifier2,
            uwsgi_string,
            limit_rate,
            ignore_client_abort,
            force_ranges,
            store,
            store_access
        );
        self.cache.inherit(&parent.cache);
        self.ssl.inherit(&parent.ssl);
    }

    /// `*_connect_timeout`, default 60s.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout.unwrap_or(DEFAULT_CGI_TIMEOUT)
    }

    /// `*_send_timeout`, default 60s.
    pub fn send_timeout(&self) -> Duration {
        self.send_timeout.unwrap_or(DEFAULT_CGI_TIMEOUT)
    }

    /// `*_read_timeout`, default 60s.
    pub fn read_timeout(&self) -> Duration {
        self.read_timeout.unwrap_or(DEFAULT_CGI_TIMEOUT)
    }

    /// `*_buffer_size`, default 4k.
    pub fn buffer_size(&self) -> usize {
        self.buffer_size.unwrap_or(DEFAULT_CGI_BUFFER_SIZE)
    }

    /// `*_buffers`, default 8 4k.
    pub fn buffers(&self) -> (usize, usize) {
        self.buffers.unwrap_or(DEFAULT_CGI_BUFFERS)
    }

    /// The larger of `*_buffer_size` and one of `*_buffers`: nginx's unit for the defaults
    /// and the checks.
    pub fn buffer_unit(&self) -> usize {
        self.buffer_size().max(self.buffers().1)
    }

    /// `*_busy_buffers_size`, default two units.
    pub fn busy_buffers_size(&self) -> usize {
        self.busy_buffers_size
            .as_ref()
            .map_or(2 * self.buffer_unit(), |p| p.bytes as usize)
    }

    /// `*_temp_file_write_size`, default two units.
    pub fn temp_file_write_size(&self) -> usize {
        self.temp_file_write_size
            .as_ref()
            .map_or(2 * self.buffer_unit(), |p| p.bytes as usize)
    }

    /// `*_max_temp_file_size`, default 1024m.
    pub fn max_temp_file_size(&self) -> u64 {
        self.max_temp_file_size
            .as_ref()
            .map_or(DEFAULT_CGI_MAX_TEMP_FILE_SIZE, |p| p.bytes)
    }

    /// `*_next_upstream`, default `error timeout`.
    pub fn next_upstream(&self) -> NextUpstream {
        self.next_upstream.unwrap_or(NextUpstream::DEFAULT)
    }

    /// `*_buffering`, default on.
    pub fn buffering(&self) -> bool {
        self.buffering.unwrap_or(true)
    }

    /// `*_request_buffering`, default on.
    pub fn request_buffering(&self) -> bool {
        self.request_buffering.unwrap_or(true)
    }

    /// `*_intercept_errors`, default off.
    pub fn intercept_errors(&self) -> bool {
        self.intercept_errors.unwrap_or(false)
    }

    /// `*_pass_request_headers`, default on.
    pub fn pass_request_headers(&self) -> bool {
        self.pass_request_headers.unwrap_or(true)
    }

    /// `*_pass_request_body`, default on.
    pub fn pass_request_body(&self) -> bool {
        self.pass_request_body.unwrap_or(true)
    }

    /// `*_limit_rate`, default 0 (no limit).
    pub fn limit_rate(&self) -> u64 {
        self.limit_rate.unwrap_or(0)
    }

    /// `*_ignore_client_abort`, default off.
    pub fn ignore_client_abort(&self) -> bool {
        self.ignore_client_abort.unwrap_or(false)
    }

    /// `*_ignore_headers`, default none.
    pub fn ignore_headers(&self) -> crate::config::proxy_rest::IgnoreHeaders {
        self.ignore_headers.unwrap_or_default()
    }

    /// `*_force_ranges`, default off.
    pub fn force_ranges(&self) -> bool {
        self.force_ranges.unwrap_or(false)
    }

    /// `fastcgi_keep_conn`, default off.
    pub fn keep_conn(&self) -> bool {
        self.keep_conn.unwrap_or(false)
    }

    /// `*_pass_header` names.
    pub fn pass_header(&self) -> &[String] {
        self.pass_header.as_deref().unwrap_or_default()
    }

    /// `*_hide_header` names.
    pub fn hide_header(&self) -> &[String] {
        self.hide_header.as_deref().unwrap_or_default()
    }

    /// `fastcgi_index`, default empty.
    pub fn index(&self) -> &str {
        self.index.as_deref().unwrap_or("")
    }
}

/// Each module's settings of a child level beside its parent's.
fn pairs<'a>(
    child: &'a mut LocRaw,
    parent: &'a LocRaw,
) -> [(&'a mut Option<CgiConf>, &'a Option<CgiConf>); 3] {
    [
        (&mut child.fastcgi, &parent.fastcgi),
        (&mut child.uwsgi, &parent.uwsgi),
        (&mut child.scgi, &parent.scgi),
    ]
}

/// nginx's merge of the three modules' settings for one level (before the level's other
/// settings are inherited whole): each module's fields come from the parent where unset.
pub(crate) fn inherit(child: &mut LocRaw, parent: &LocRaw) {
    for (slot, from) in pairs(child, parent) {
        let Some(from) = from else {
            continue;
        };
        match slot {
            Some(conf) => conf.inherit(from),
            None => {
                *slot = Some(CgiConf {
                    pass: None,
                    ..from.clone()
                })
            }
        }
    }
}

/// An `if` block in a location keeps the location's `*_pass` (nginx: a nameless location
/// inherits the upstream).
pub(crate) fn inherit_pass(child: &mut LocRaw, location: &LocRaw) {
    for (slot, from) in pairs(child, location) {
        let Some(pass) = from.as_ref().and_then(|c| c.pass.as_ref()) else {
            continue;
        };
        let conf = slot.get_or_insert_with(CgiConf::default);
        if conf.pass.is_none() {
            conf.pass = Some(pass.clone());
        }
    }
}

/// The http level's defaults that depend on the prefix: each module's temporary path.
pub(crate) fn seed_http_defaults(top: &mut LocRaw, prefix: &std::path::Path) {
    for m in CgiModule::ALL {
        let conf = m.raw(top).get_or_insert_with(CgiConf::default);
        if conf.temp_path.is_none() {
            conf.temp_path = Some(prefix.join(m.default_temp_path()));
        }
    }
}
