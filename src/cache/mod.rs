//! nginx's file cache (`ngx_http_file_cache.c` and the cache parts of
//! `ngx_http_upstream.c`), shared by `proxy_cache`, `fastcgi_cache`, `uwsgi_cache` and
//! `scgi_cache`.
//!
//! - [`path_conf`]: `*_cache_path`, a cache's directory, levels, keys zone and limits.
//! - [`md5`]: the key's MD5 (the file name) and CRC32 (kept in the header).
//! - [`header`]: the file's header, byte for byte as nginx writes it, and its checks.
//! - [`freshness`]: `*_cache_valid` and what the response's fields say about caching.
//! - [`entry`]: a request's key, its file, and what reading the file finds.
//! - [`hot`]: a worker's table of the entries it answered lately (a hit without reading
//!   the file).
//! - [`vary`]: the variant of a request for a response with `Vary` (nginx's secondary key).
//! - [`fill`]: a response written to a temporary file and renamed into the cache.
//! - [`keys`]: the keys zone in shared memory (uses, lock, validity, size, LRU).
//! - [`manager`]: the work of the cache manager and loader processes (`master/cache_helper.rs`).

pub mod entry;
pub mod fill;
pub mod freshness;
pub mod header;
pub mod hot;
pub mod keys;
pub mod manager;
pub mod md5;
pub mod path_conf;
pub mod vary;

/// Client fields not sent upstream when the response may be cached: the cache answers
/// conditional and range requests itself (nginx's `ngx_http_proxy_cache_headers` and the
/// gateways' `*_cache_headers` set them empty).
const NOT_FORWARDED: &[&str] = &[
    "if-modified-since",
    "if-unmodified-since",
    "if-none-match",
    "if-match",
    "range",
    "if-range",
];

/// Whether the client field `name` stays home when the location caches (every module).
pub fn not_forwarded(name: &[u8]) -> bool {
    NOT_FORWARDED
        .iter()
        .any(|n| n.as_bytes().eq_ignore_ascii_case(name))
}
