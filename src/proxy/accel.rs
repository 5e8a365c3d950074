//! The `X-Accel-*` fields of an upstream's response head, as `ngx_http_upstream.c` acts on
//! them (each can be turned off by `proxy_ignore_headers`):
//!
//! - `X-Accel-Redirect: URI|@name`: the response is dropped and the request goes to `URI`
//!   (as GET unless it is a HEAD) or to the named location, with `Content-Type`,
//!   `Set-Cookie`, `Content-Disposition`, `Cache-Control`, `Expires` and `Accept-Ranges`
//!   kept for the final response ([`Redirect`]);
//! - `X-Accel-Buffering: yes|no`: `proxy_buffering` for this response ([`buffering`]);
//! - `X-Accel-Limit-Rate: N`: the response's `limit_rate` ([`limit_rate`]).
//!
//! - `X-Accel-Charset: NAME`: the charset filter's destination charset for this response,
//!   whatever `charset` says ([`charset`]).
//!
//! `X-Accel-Expires` only speaks to the cache, which Portico does not have.

use super::cookie::{CookieRules, rewrite_set_cookie};
use crate::config::proxy_rest::IgnoreHeaders;

/// Upstream fields an `X-Accel-Redirect` keeps for the final response (those nginx's
/// `ngx_http_upstream_headers_in` marks `redirect`).
const KEPT_ON_REDIRECT: [&str; 5] = [
    "set-cookie",
    "content-disposition",
    "cache-control",
    "expires",
    "accept-ranges",
];

/// An upstream response head's header lines (name and value spans into `buf`), whatever
/// the protocol that parsed them: nginx acts on `X-Accel-*` for every upstream module.
pub type Lines = [((usize, usize), (usize, usize))];

/// The first value of field `name` among `lines`.
fn field<'b>(lines: &Lines, buf: &'b [u8], name: &str) -> Option<&'b [u8]> {
    lines
        .iter()
        .find(|(n, _)| buf[n.0..n.1].eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, v)| &buf[v.0..v.1])
}

/// `X-Accel-Buffering`: `Some(on)` when the upstream asks for buffering on or off.
pub fn buffering(lines: &Lines, buf: &[u8], ignore: IgnoreHeaders) -> Option<bool> {
    if ignore.has(IgnoreHeaders::XA_BUFFERING) {
        return None;
    }
    let value = field(lines, buf, "x-accel-buffering")?;
    if value.eq_ignore_ascii_case(b"no") {
        Some(false)
    } else if value.eq_ignore_ascii_case(b"yes") {
        Some(true)
    } else {
        None
    }
}

/// `X-Accel-Charset`: the charset the response is labelled (and recoded) with, unless
/// ignored (`ngx_http_upstream_process_charset`: the last one counts).
pub fn charset<'b>(lines: &Lines, buf: &'b [u8], ignore: IgnoreHeaders) -> Option<&'b [u8]> {
    if ignore.has(IgnoreHeaders::XA_CHARSET) {
        return None;
    }
    lines
        .iter()
        .rfind(|(n, _)| buf[n.0..n.1].eq_ignore_ascii_case(b"x-accel-charset"))
        .map(|(_, v)| &buf[v.0..v.1])
}

/// `X-Accel-Limit-Rate`: the rate (bytes per second) the upstream asks for, unless
/// ignored; a value that is not a number is passed over, as `ngx_atoi` fails on it.
pub fn limit_rate(lines: &Lines, buf: &[u8], ignore: IgnoreHeaders) -> Option<u64> {
    if ignore.has(IgnoreHeaders::XA_LIMIT_RATE) {
        return None;
    }
    let value = field(lines, buf, "x-accel-limit-rate")?;
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// An `X-Accel-Redirect` to follow.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Redirect {
    /// The field's value: a URI (arguments after `?`) or `@name`.
    pub target: Vec<u8>,
    /// The upstream's `Content-Type`, which the final response keeps.
    pub content_type: Option<Vec<u8>>,
    /// The other kept fields, as header lines (`Name: value\r\n`), `Set-Cookie` rewritten
    /// by the `proxy_cookie_*` rules.
    pub headers: Vec<u8>,
}

/// What decides how an `X-Accel-Redirect` is followed: the module's settings.
#[derive(Clone, Copy, Default)]
pub struct RedirectRules<'a> {
    /// `*_ignore_headers`
    pub ignore: IgnoreHeaders,
    /// `*_force_ranges`: the upstream's `Accept-Ranges` is not kept.
    pub force_ranges: bool,
    /// `proxy_cookie_*` rules for the kept `Set-Cookie` fields.
    pub cookies: Option<&'a CookieRules>,
}

/// The `X-Accel-Redirect` of a response head, unless ignored.
pub fn redirect(lines: &Lines, buf: &[u8], rules: RedirectRules<'_>) -> Option<Redirect> {
    if rules.ignore.has(IgnoreHeaders::XA_REDIRECT) {
        return None;
    }
    // An empty value still redirects, and fails as an unsafe URI (404), as in nginx.
    let target = field(lines, buf, "x-accel-redirect")?;
    let mut out = Redirect {
        target: target.to_vec(),
        // The last one, as each copy overwrites the response's type.
        content_type: lines
            .iter()
            .rfind(|(n, _)| buf[n.0..n.1].eq_ignore_ascii_case(b"content-type"))
            .map(|(_, v)| buf[v.0..v.1].to_vec()),
        headers: Vec::new(),
    };
    let mut rewritten = Vec::new();
    for (n, v) in lines {
        let (name, value) = (&buf[n.0..n.1], &buf[v.0..v.1]);
        if !KEPT_ON_REDIRECT
            .iter()
            .any(|k| k.as_bytes().eq_ignore_ascii_case(name))
        {
            continue;
        }
        // `proxy_force_ranges` answers ranges itself: the upstream's field is dropped.
        if rules.force_ranges && name.eq_ignore_ascii_case(b"accept-ranges") {
            continue;
        }
        rewritten.clear();
        let value = match rules.cookies {
            Some(rules)
                if name.eq_ignore_ascii_case(b"set-cookie")
                    && rewrite_set_cookie(value, rules, &mut rewritten) =>
            {
                &rewritten[..]
            }
            _ => value,
        };
        out.headers.extend_from_slice(name);
        out.headers.extend_from_slice(b": ");
        out.headers.extend_from_slice(value);
        out.headers.extend_from_slice(b"\r\n");
    }
    Some(out)
}

/// nginx's `ngx_http_parse_unsafe_uri`: the URI and arguments of an `X-Accel-Redirect`
/// target, percent-decoded; `None` when it is unsafe (empty, starting with `?`, holding a
/// NUL, or a `..` path segment before or after decoding).
pub fn parse_unsafe_uri(target: &[u8]) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    if target.is_empty() || target[0] == b'?' {
        return None;
    }
    let (uri, args) = match memchr::memchr(b'?', target) {
        Some(q) => (&target[..q], Some(target[q + 1..].to_vec())),
        None => (target, None),
    };
    if !safe(uri) {
        return None;
    }
    if !uri.contains(&b'%') {
        return Some((uri.to_vec(), args));
    }
    let decoded = unescape(uri);
    if !safe(&decoded) {
        return None;
    }
    Some((decoded, args))
}

/// No NUL, no `..` as the first segment or after a `/`.
fn safe(uri: &[u8]) -> bool {
    let dotdot_at =
        |i: usize| uri.get(i..i + 2) == Some(b"..") && matches!(uri.get(i + 2), None | Some(b'/'));
    if dotdot_at(0) {
        return false;
    }
    uri.iter()
        .enumerate()
        .all(|(i, &b)| b != 0 && !(b == b'/' && dotdot_at(i + 1)))
}

/// `ngx_unescape_uri` (type 0): every `%XX` decoded; a `%` without two hex digits stays.
fn unescape(s: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%'
            && let (Some(h), Some(l)) = (
                s.get(i + 1).copied().and_then(hex),
                s.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Option<(String, Option<String>)> {
        parse_unsafe_uri(t.as_bytes()).map(|(u, a)| {
            (
                String::from_utf8_lossy(&u).into_owned(),
                a.map(|a| String::from_utf8_lossy(&a).into_owned()),
            )
        })
    }

    #[test]
    fn unsafe_uris_as_nginx() {
        assert_eq!(parse("/index.html"), Some(("/index.html".into(), None)));
        assert_eq!(parse("/foo?bar"), Some(("/foo".into(), Some("bar".into()))));
        assert_eq!(parse("/foo%20bar"), Some(("/foo bar".into(), None)));
        assert_eq!(parse(".."), None);
        assert_eq!(parse("../foo"), None);
        assert_eq!(parse("/foo/.."), None);
        assert_eq!(parse("/foo/../x"), None);
        assert_eq!(parse("/foo/.%2e"), None);
        assert_eq!(parse("/foo/..x"), Some(("/foo/..x".into(), None)));
        assert_eq!(parse("?x"), None);
        assert_eq!(parse("/a%00b"), None);
        assert_eq!(parse("/100%"), Some(("/100%".into(), None)));
    }
}
