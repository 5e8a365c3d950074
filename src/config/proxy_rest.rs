//! Typed values of the rest of the proxy module (`ngx_http_proxy_module.c` beyond
//! `proxy_pass`, headers, timeouts and buffers; see `set_proxy_rest`), with nginx's defaults
//! as named constants.

use std::net::{IpAddr, SocketAddr};

use super::proxy_values::RedirectRule;
use crate::vars::Template;

/// `proxy_headers_hash_max_size 512;`
pub const DEFAULT_PROXY_HEADERS_HASH_MAX_SIZE: u64 = 512;
/// `proxy_headers_hash_bucket_size 64;`
pub const DEFAULT_PROXY_HEADERS_HASH_BUCKET_SIZE: u64 = 64;
/// `proxy_store_access user:rw;`
pub const DEFAULT_PROXY_STORE_ACCESS: u32 = 0o600;
/// `keepalive_time 1h;` in an upstream block: a cached connection older than this is
/// closed after the request it serves.
pub const DEFAULT_UPSTREAM_KEEPALIVE_TIME: std::time::Duration =
    std::time::Duration::from_secs(3600);

/// `proxy_cookie_domain` / `proxy_cookie_path` rules of a level: `None` is `off` (the
/// default), else the rules tried in order (regexes and `FROM TO` pairs, as
/// [`RedirectRule`]s; a domain's leading dot is already stripped from both sides).
pub type CookieRewrites = Option<Vec<RedirectRule>>;

/// One `proxy_cookie_flags COOKIE FLAG...` rule.
#[derive(Clone, Debug)]
pub struct CookieFlagsRule {
    /// Which cookies it applies to.
    pub cookie: CookieName,
    /// The flags, evaluated per response (`secure`, `nosecure`, `httponly`, `nohttponly`,
    /// `samesite=strict|lax|none`, `nosamesite`; others are ignored, as nginx does).
    pub flags: Vec<Template>,
}

/// The cookie a `proxy_cookie_flags` rule names.
#[derive(Clone, Debug)]
pub enum CookieName {
    /// A name (variables allowed), compared case-insensitively.
    Name(Template),
    /// `~REGEX`, always caseless.
    Regex(crate::regex::Regex),
}

/// `proxy_bind`.
#[derive(Clone, Debug)]
pub enum ProxyBind {
    /// `off` (the default): the kernel picks the local address.
    Off,
    /// A fixed local address (port 0: any port).
    Fixed {
        /// The address.
        addr: SocketAddr,
        /// `transparent`: bind to a non-local (the client's) address.
        transparent: bool,
    },
    /// An address with variables, evaluated per request; empty means no bind.
    Dynamic {
        /// The address template.
        addr: Template,
        /// `transparent`
        transparent: bool,
    },
}

/// `proxy_ignore_headers` bits (`ngx_http_upstream_ignore_headers_masks`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IgnoreHeaders(pub u16);

impl IgnoreHeaders {
    /// `X-Accel-Redirect`: no internal redirect.
    pub const XA_REDIRECT: u16 = 1;
    /// `X-Accel-Expires` (only read by the cache).
    pub const XA_EXPIRES: u16 = 1 << 1;
    /// `X-Accel-Limit-Rate`.
    pub const XA_LIMIT_RATE: u16 = 1 << 2;
    /// `X-Accel-Buffering`: the location's `proxy_buffering` holds.
    pub const XA_BUFFERING: u16 = 1 << 3;
    /// `X-Accel-Charset`.
    pub const XA_CHARSET: u16 = 1 << 4;
    /// `Expires` (only read by the cache).
    pub const EXPIRES: u16 = 1 << 5;
    /// `Cache-Control` (only read by the cache).
    pub const CACHE_CONTROL: u16 = 1 << 6;
    /// `Set-Cookie` (only read by the cache).
    pub const SET_COOKIE: u16 = 1 << 7;
    /// `Vary` (only read by the cache).
    pub const VARY: u16 = 1 << 8;
    /// The names nginx accepts, with their bits.
    pub const NAMES: [(&'static str, u16); 9] = [
        ("X-Accel-Redirect", Self::XA_REDIRECT),
        ("X-Accel-Expires", Self::XA_EXPIRES),
        ("X-Accel-Limit-Rate", Self::XA_LIMIT_RATE),
        ("X-Accel-Buffering", Self::XA_BUFFERING),
        ("X-Accel-Charset", Self::XA_CHARSET),
        ("Expires", Self::EXPIRES),
        ("Cache-Control", Self::CACHE_CONTROL),
        ("Set-Cookie", Self::SET_COOKIE),
        ("Vary", Self::VARY),
    ];

    /// Whether `bit` is set.
    pub fn has(self, bit: u16) -> bool {
        self.0 & bit != 0
    }
}

/// `proxy_store`.
#[derive(Clone, Debug)]
pub enum ProxyStore {
    /// `off` (the default).
    Off,
    /// `on`: the file is `root`/`alias` + URI.
    On,
    /// A path with variables.
    Path(Template),
}

/// `ngx_parse_addr_port`: an IPv4 or IPv6 address, or `IPv4:PORT` / `[IPv6]:PORT` (no
/// names); port 0 when none is given.
pub fn parse_addr_port(text: &str) -> Option<SocketAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, 0));
    }
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        (host, after.strip_prefix(':')?)
    } else {
        text.split_once(':')?
    };
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let port = port.parse::<u16>().ok().filter(|&p| p > 0)?;
    Some(SocketAddr::new(host.parse().ok()?, port))
}
