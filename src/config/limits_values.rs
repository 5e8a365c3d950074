//! Values of the limit_req, limit_conn, realip and auth_basic directives and `satisfy`
//! (issue 14), and the shared-memory zones the limits count in.

use std::rc::Rc;

use crate::log::LogLevel;
use crate::shm::Segment;
use crate::vars::Template;

/// `limit_req_status` / `limit_conn_status` default (503).
pub const DEFAULT_LIMIT_STATUS: u16 = 503;
/// `limit_req_log_level` / `limit_conn_log_level` default.
pub const DEFAULT_LIMIT_LOG_LEVEL: LogLevel = LogLevel::Error;
/// The smallest zone nginx accepts: 8 pages.
pub const MIN_ZONE_SIZE: u64 = 8 * crate::shm::PAGE as u64;

/// Which module a zone belongs to (nginx's zone `tag`): a name is one kind of zone only, and
/// a reload reuses a zone only for the same kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneKind {
    /// `limit_req_zone`
    LimitReq,
    /// `limit_conn_zone`
    LimitConn,
    /// `proxy_cache_path ... keys_zone=` (named by `proxy_cache`)
    ProxyCache,
    /// An upstream block's `zone NAME [SIZE]` (nginx's upstream module tag).
    Upstream,
    // ---- tls (issue 15) ----
    /// `ssl_session_cache shared:NAME:SIZE`
    SslSessionCache,
    /// `ssl_ocsp_cache shared:NAME:SIZE`
    SslOcspCache,
}

impl ZoneKind {
    /// The tag written into the zone.
    pub fn tag(self) -> u64 {
        match self {
            ZoneKind::LimitReq => 1,
            ZoneKind::LimitConn => 2,
            ZoneKind::ProxyCache => 3,
            ZoneKind::Upstream => 4,
            ZoneKind::SslSessionCache => 5,
            ZoneKind::SslOcspCache => 6,
        }
    }
}

/// A `limit_req_zone` or `limit_conn_zone`, or a zone a `limit_req`/`limit_conn` names
/// before (or without) its declaration (`size` 0 until declared).
#[derive(Clone, Debug)]
pub struct ZoneDecl {
    /// `zone=NAME`
    pub name: String,
    /// Its kind.
    pub kind: ZoneKind,
    /// `:SIZE` in bytes (0: named but not declared, nginx's "zero size shared memory zone").
    pub size: u64,
    /// The key, compiled.
    pub key: Template,
    /// The key as written (a reload that changes it for a kept zone is refused).
    pub key_text: String,
    /// The key is `$binary_remote_addr` alone (the usual one): read from the client's
    /// address without evaluating the template.
    pub key_is_binary_remote_addr: bool,
    /// `limit_req_zone ... rate=`: requests per second × 1000 (nginx's milli-requests).
    pub rate: u64,
    /// Whether a `*_zone` directive declared it (and gave it a key).
    pub declared: bool,
    /// The mapping, once the master made it (before the fork; `None` under `-t`).
    pub segment: Option<Rc<Segment>>,
}

/// One `limit_req zone=NAME [burst=N] [nodelay | delay=N];`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitReq {
    /// Index in [`crate::config::HttpConf::zones`].
    pub zone: usize,
    /// `burst=N` × 1000.
    pub burst: u64,
    /// `delay=N` × 1000 (`nodelay`: as large as nginx makes it).
    pub delay: u64,
}

/// One `limit_conn ZONE NUMBER;`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitConn {
    /// Index in [`crate::config::HttpConf::zones`].
    pub zone: usize,
    /// Connections allowed per key.
    pub conn: u64,
}

/// `real_ip_header`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RealIpHeader {
    /// `X-Real-IP` (the default).
    XRealIp,
    /// `X-Forwarded-For`: every such header, last address first.
    XForwardedFor,
    /// `proxy_protocol`: the PROXY protocol's source address and port.
    ProxyProtocol,
    /// Any other header, by its lowercase name.
    Other(String),
}

/// `satisfy all|any`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Satisfy {
    /// Every access module must allow (the default).
    All,
    /// One is enough.
    Any,
}

/// `auth_basic_user_file`: the compiled name and the folder a relative one is taken from
/// (nginx's `conf_prefix`, the main configuration file's folder).
#[derive(Clone, Debug)]
pub struct UserFile {
    /// The file name, with variables.
    pub path: Template,
    /// Where a relative name is taken from.
    pub prefix: std::path::PathBuf,
}
