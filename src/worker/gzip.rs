//! nginx's gzip and gunzip header filters (`ngx_http_gzip_header_filter`,
//! `ngx_http_gunzip_header_filter`) and `ngx_http_gzip_ok`, for every kind of response:
//! whether its body is compressed, decompressed or left alone, and whether it gets
//! `Vary: Accept-Encoding`. The head builder ([`super::response_head`]) asks once per
//! response and writes the head accordingly; the body filter ([`super::conn::filter`]) or a
//! one-shot compression makes the body.

use crate::compress::Params;
use crate::config::LocSettings;
use crate::config::gzip_values::{GzipHttpVersion, GzipProxied};
use crate::http::encoding;
use crate::http::request::{RequestHead, Version};

/// A response's header lines, as the filters look them up.
pub(super) trait HeaderLines {
    /// Calls `f` with each value of the header `name` (lowercase) the client gets.
    fn each(&self, name: &str, f: &mut dyn FnMut(&[u8]));

    /// The first value of `name`.
    fn first(&self, name: &str) -> Option<Vec<u8>> {
        let mut found = None;
        self.each(name, &mut |v| {
            if found.is_none() {
                found = Some(v.to_vec());
            }
        });
        found
    }

    /// Whether there is a header `name`.
    fn has(&self, name: &str) -> bool {
        let mut any = false;
        self.each(name, &mut |_| any = true);
        any
    }
}

/// No header lines (a response not made yet: `gzip_static` asks before it has one).
pub(super) struct NoLines;

impl HeaderLines for NoLines {
    fn each(&self, _: &str, _: &mut dyn FnMut(&[u8])) {}
}

/// Header lines pre-rendered as `Name: value\r\n` (the `expires` and `add_header` lines).
pub(super) struct RenderedLines<'a>(pub &'a [u8]);

impl HeaderLines for RenderedLines<'_> {
    fn each(&self, name: &str, f: &mut dyn FnMut(&[u8])) {
        for line in self.0.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if let Some(colon) = memchr::memchr(b':', line)
                && line[..colon].eq_ignore_ascii_case(name.as_bytes())
            {
                let value = &line[colon + 1..];
                let start = value.iter().position(|&b| b != b' ').unwrap_or(value.len());
                f(&value[start..]);
            }
        }
    }
}

/// What the header filters read of a response.
pub(super) struct ResponseFacts<'a> {
    /// Its status.
    pub status: u16,
    /// `Content-Type`, whole.
    pub content_type: Option<&'a [u8]>,
    /// `Content-Length`, when known.
    pub content_length: Option<u64>,
    /// `Content-Encoding`, when it has one.
    pub content_encoding: Option<&'a [u8]>,
    /// Its other lines (for `gzip_proxied`).
    pub lines: &'a dyn HeaderLines,
}

/// What the header filters read of the request.
#[derive(Clone, Copy)]
pub(super) struct RequestFacts<'a> {
    /// The parsed head.
    pub head: &'a RequestHead,
    /// The bytes it indexes.
    pub buf: &'a [u8],
}

impl RequestFacts<'_> {
    fn header(&self, name: &[u8]) -> Option<&[u8]> {
        self.head.header(self.buf, name)
    }
}

/// What the filters decided about a response's body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(super) enum Coding {
    /// Sent as it is.
    #[default]
    Identity,
    /// Compressed with these parameters.
    Gzip(Params),
    /// Decompressed (its `Content-Encoding: gzip` removed).
    Gunzip,
}

/// The header filters' verdict on a response.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Decision {
    /// What happens to the body.
    pub coding: Coding,
    /// `Vary: Accept-Encoding` goes out (when `gzip_vary` is on).
    pub vary: bool,
}

/// Statuses nginx compresses.
fn compressible_status(status: u16) -> bool {
    matches!(status, 200 | 403 | 404)
}

/// nginx's gunzip then gzip header filters (in the order its filter chain runs them) for
/// a response; `vary`: something earlier (`gzip_static`) already asked for `Vary`.
pub(super) fn header_filters(
    loc: &LocSettings,
    request: RequestFacts<'_>,
    response: &ResponseFacts<'_>,
    vary: bool,
) -> Decision {
    let mut decision = Decision {
        coding: Coding::Identity,
        vary,
    };
    let encoding = response.content_encoding.filter(|e| !e.is_empty());
    if loc.gunzip && encoding.is_some_and(|e| e.eq_ignore_ascii_case(b"gzip")) {
        decision.vary = true;
        if !gzip_ok(loc, request, Some(response)) {
            decision.coding = Coding::Gunzip;
        }
        // Either way the response now has no encoding the gzip filter could add to (it
        // stays gzip, or the client gets it plain because it refused gzip).
        return decision;
    }
    if !loc.gzip
        || !compressible_status(response.status)
        || encoding.is_some()
        || response
            .content_length
            .is_some_and(|n| n < loc.gzip_min_length)
        || !loc
            .gzip_types
            .matches(response.content_type.map(encoding::mime_type))
    {
        return decision;
    }
    decision.vary = true;
    if gzip_ok(loc, request, Some(response)) {
        let params = Params {
            level: loc.gzip_comp_level,
            wbits: loc.gzip_window,
            memlevel: loc.gzip_hash,
        };
        decision.coding = Coding::Gzip(params.for_length(response.content_length));
    }
    decision
}

/// nginx's `ngx_http_gzip_ok`: whether the client gets gzip — it accepts it, is not a
/// disabled browser, speaks a recent enough HTTP, and, through a proxy (`Via`), the
/// response is one `gzip_proxied` allows. `response`: `None` before there is one.
pub(super) fn gzip_ok(
    loc: &LocSettings,
    request: RequestFacts<'_>,
    response: Option<&ResponseFacts<'_>>,
) -> bool {
    if !request
        .header(b"accept-encoding")
        .is_some_and(encoding::accepts_gzip)
    {
        return false;
    }
    let user_agent = request.header(b"user-agent");
    if loc.gzip_disable_msie6 && user_agent.is_some_and(encoding::is_msie6) {
        return false;
    }
    let version = match request.head.version {
        Version::Http10 => GzipHttpVersion::Http10,
        Version::Http11 => GzipHttpVersion::Http11,
    };
    if version < loc.gzip_http_version {
        return false;
    }
    if request.header(b"via").is_some() && !proxied_ok(loc, request, response) {
        return false;
    }
    !user_agent.is_some_and(|ua| loc.gzip_disable.matches(ua))
}

/// `gzip_proxied` for a request that came through a proxy.
fn proxied_ok(
    loc: &LocSettings,
    request: RequestFacts<'_>,
    response: Option<&ResponseFacts<'_>>,
) -> bool {
    let p = loc.gzip_proxied;
    if p.has(GzipProxied::OFF) {
        return false;
    }
    if p.has(GzipProxied::ANY) {
        return true;
    }
    if p.has(GzipProxied::AUTH) && request.header(b"authorization").is_some() {
        return true;
    }
    let lines: &dyn HeaderLines = match response {
        Some(r) => r.lines,
        None => &NoLines,
    };
    if let Some(expires) = lines.first("expires") {
        if !p.has(GzipProxied::EXPIRED) {
            return false;
        }
        let Some(expires) = crate::http::date::parse_http_date_secs(&expires) else {
            return false;
        };
        let date = match lines.first("date") {
            Some(d) => match crate::http::date::parse_http_date_secs(&d) {
                Some(d) => d,
                None => return false,
            },
            None => now_secs(),
        };
        return expires < date;
    }
    if lines.has("cache-control") {
        let mut found = false;
        lines.each("cache-control", &mut |v| {
            found |= (p.has(GzipProxied::NO_CACHE) && encoding::list_has_token(v, b"no-cache"))
                || (p.has(GzipProxied::NO_STORE) && encoding::list_has_token(v, b"no-store"))
                || (p.has(GzipProxied::PRIVATE) && encoding::list_has_token(v, b"private"));
        });
        return found;
    }
    if p.has(GzipProxied::NO_LAST_MODIFIED) && lines.has("last-modified") {
        return false;
    }
    !(p.has(GzipProxied::NO_ETAG) && lines.has("etag"))
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// nginx's `ngx_http_weak_etag`: a strong `"..."` becomes `W/"..."`; a weak one stays; one
/// that is neither is dropped (`None`).
pub(super) fn weak_etag(etag: &[u8], out: &mut Vec<u8>) -> bool {
    if etag.len() > 2 && etag.starts_with(b"W/") {
        out.extend_from_slice(etag);
        return true;
    }
    if !etag.starts_with(b"\"") {
        return false;
    }
    out.extend_from_slice(b"W/");
    out.extend_from_slice(etag);
    true
}

#[cfg(test)]
mod tests;
