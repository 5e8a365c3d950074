//! The values of the gzip, gzip_static and gunzip directives (`ngx_http_gzip_filter_module.c`,
//! `ngx_http_gzip_static_module.c`, `ngx_http_gunzip_filter_module.c`, and the `gzip_*`
//! directives of `ngx_http_core_module.c`), with their defaults.

use std::rc::Rc;

/// `gzip_comp_level 1;`
pub const DEFAULT_GZIP_COMP_LEVEL: u8 = 1;
/// `gzip_min_length 20;` (bytes of `Content-Length`)
pub const DEFAULT_GZIP_MIN_LENGTH: u64 = 20;
/// `gzip_buffers 32 4k;` and `gunzip_buffers 32 4k;` (nginx: 128 KB in pages of 4 KB)
pub const DEFAULT_GZIP_BUFFERS: (usize, usize) = (32, 4096);
/// `gzip_window 32k;` as zlib's window bits
pub const DEFAULT_GZIP_WBITS: u8 = crate::compress::MAX_WBITS;
/// `gzip_hash 64k;` as zlib's memory level
pub const DEFAULT_GZIP_MEMLEVEL: u8 = crate::compress::DEFAULT_MEMLEVEL;
/// `gzip_http_version 1.1;` as the request's minor version (HTTP/1.x)
pub const DEFAULT_GZIP_HTTP_VERSION: GzipHttpVersion = GzipHttpVersion::Http11;

/// `gzip_types`: the response types compressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GzipTypes {
    /// `gzip_types *;`: every response, whatever its type (none included).
    Any,
    /// These MIME types, lowercase (`text/html` always among them).
    List(Rc<[String]>),
}

impl Default for GzipTypes {
    /// nginx's `ngx_http_html_default_types`.
    fn default() -> GzipTypes {
        GzipTypes::List(Rc::from(vec!["text/html".to_string()]))
    }
}

impl GzipTypes {
    /// Whether a response of `content_type` (its MIME type, without parameters) is
    /// compressed: nginx's `ngx_http_test_content_type`, an exact match after lowercasing.
    pub fn matches(&self, content_type: Option<&[u8]>) -> bool {
        match self {
            GzipTypes::Any => true,
            GzipTypes::List(types) => content_type.is_some_and(|t| {
                types
                    .iter()
                    .any(|known| known.as_bytes().eq_ignore_ascii_case(t))
            }),
        }
    }
}

/// `gzip_http_version 1.0|1.1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum GzipHttpVersion {
    /// HTTP/1.0 and later requests.
    Http10,
    /// HTTP/1.1 and later requests.
    Http11,
}

/// `gzip_proxied`: nginx's bitmask (`NGX_HTTP_GZIP_PROXIED_*`), the `off` bit included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GzipProxied(pub u16);

impl GzipProxied {
    /// `off`: never for a request with `Via`.
    pub const OFF: u16 = 0x0002;
    /// `expired`: the response's `Expires` is in the past.
    pub const EXPIRED: u16 = 0x0004;
    /// `no-cache`: its `Cache-Control` says `no-cache`.
    pub const NO_CACHE: u16 = 0x0008;
    /// `no-store`
    pub const NO_STORE: u16 = 0x0010;
    /// `private`
    pub const PRIVATE: u16 = 0x0020;
    /// `no_last_modified`: it has no `Last-Modified`.
    pub const NO_LAST_MODIFIED: u16 = 0x0040;
    /// `no_etag`: it has no `ETag`.
    pub const NO_ETAG: u16 = 0x0080;
    /// `auth`: the request has `Authorization`.
    pub const AUTH: u16 = 0x0100;
    /// `any`: always.
    pub const ANY: u16 = 0x0200;
    /// The directive's words and their bits, in nginx's order.
    pub const NAMES: [(&'static str, u16); 9] = [
        ("off", Self::OFF),
        ("expired", Self::EXPIRED),
        ("no-cache", Self::NO_CACHE),
        ("no-store", Self::NO_STORE),
        ("private", Self::PRIVATE),
        ("no_last_modified", Self::NO_LAST_MODIFIED),
        ("no_etag", Self::NO_ETAG),
        ("auth", Self::AUTH),
        ("any", Self::ANY),
    ];

    /// Whether `bit` is set.
    pub fn has(self, bit: u16) -> bool {
        self.0 & bit != 0
    }
}

impl Default for GzipProxied {
    /// `gzip_proxied off;`
    fn default() -> GzipProxied {
        GzipProxied(GzipProxied::OFF)
    }
}

/// `gzip_disable REGEX...`: user agents (case-insensitive patterns) that get no gzip.
#[derive(Clone, Debug, Default)]
pub struct GzipDisable(pub Rc<[crate::regex::Regex]>);

impl GzipDisable {
    /// Whether `user_agent` matches one of the patterns (a pattern that fails to run
    /// counts as a match: nginx's `ngx_regex_exec_array` then declines gzip too).
    pub fn matches(&self, user_agent: &[u8]) -> bool {
        self.0
            .iter()
            .any(|re| re.is_match(user_agent).unwrap_or(true))
    }

    /// Whether there are no patterns.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `gzip_static off|on|always`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum GzipStatic {
    /// Off.
    #[default]
    Off,
    /// `FILE.gz` for clients that accept gzip.
    On,
    /// `FILE.gz` for every client (`gunzip` decompresses for those that do not accept it).
    Always,
}
