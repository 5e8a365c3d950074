//! Conditional requests: `If-Match`, `If-Unmodified-Since`, `If-None-Match` and
//! `If-Modified-Since` against a resource's `Last-Modified` and `ETag`, as nginx's
//! not-modified filter decides them; and nginx's `ETag` format.
//!
//! nginx's order, kept here: `If-Unmodified-Since` and `If-Match` are each checked and
//! either failing answers 412; then, if `If-Modified-Since` or `If-None-Match` is present,
//! every one present must say "not modified" for a 304. nginx skips all of this for a
//! response without `Last-Modified`, so [`evaluate`] does too.

use super::date::parse_http_date_secs;
use super::num::{write_bytes, write_i64, write_u64};
use super::request::Method;

/// What the preconditions decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// Serve the response as it is.
    Proceed,
    /// 304 Not Modified: send the head without body, `Content-Length` or `Content-Type`.
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

/// nginx's `if_modified_since` directive: how `If-Modified-Since` is compared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IfModifiedSince {
    /// Ignore `If-Modified-Since`; also keeps `If-None-Match` from giving a 304 when both
    /// are sent (nginx's `off` answers "modified" before looking at the etag).
    Off,
    /// Not modified only when the date equals `Last-Modified` exactly (nginx's default).
    #[default]
    Exact,
    /// Not modified when the date is at or after `Last-Modified`.
    Before,
}

/// The raw values of a request's conditional headers, as the head parser found them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Conditions<'a> {
    /// `If-Modified-Since`
    pub if_modified_since: Option<&'a [u8]>,
    /// `If-Unmodified-Since`
    pub if_unmodified_since: Option<&'a [u8]>,
    /// `If-None-Match`
    pub if_none_match: Option<&'a [u8]>,
    /// `If-Match`
    pub if_match: Option<&'a [u8]>,
}

impl Conditions<'_> {
    /// No conditional field at all: [`evaluate`] proceeds whatever the validators.
    pub fn is_empty(&self) -> bool {
        self.if_modified_since.is_none()
            && self.if_unmodified_since.is_none()
            && self.if_none_match.is_none()
            && self.if_match.is_none()
    }
}

/// Decides a request's preconditions against a 200 response's validators, as nginx 1.22's
/// not-modified filter does for every 200 response (a file, a `return 200` text, an
/// autoindex listing), whatever the method.
///
/// `last_modified` is seconds since the epoch; `etag` is the `ETag` value as sent
/// (`"5f1e2a3b-264"`, or `W/"..."`). A response without `Last-Modified` fails
/// `If-Unmodified-Since` and counts as modified for `If-Modified-Since`; one without an
/// `ETag` matches only `*`. An unparsable date counts as nginx's `-1`: it fails
/// `If-Unmodified-Since` and never matches `If-Modified-Since` exactly. (Checked against
/// nginx 1.22: `return 200` answers `If-Match: "x"` with 412 and `If-None-Match: *` with
/// 304, for POST and DELETE too.)
pub fn evaluate(
    conditions: &Conditions<'_>,
    _method: Method,
    last_modified: Option<i64>,
    etag: Option<&[u8]>,
    mode: IfModifiedSince,
) -> Precondition {
    if let Some(value) = conditions.if_unmodified_since {
        match last_modified {
            Some(lm) if parse_http_date_secs(trim(value)).unwrap_or(-1) >= lm => {}
            _ => return Precondition::Failed,
        }
    }
    if let Some(list) = conditions.if_match
        && !list_matches(list, etag, false)
    {
        return Precondition::Failed;
    }

    if conditions.if_modified_since.is_none() && conditions.if_none_match.is_none() {
        return Precondition::Proceed;
    }
    if let Some(value) = conditions.if_modified_since {
        match last_modified {
            Some(lm) if !modified_since(value, lm, mode) => {}
            _ => return Precondition::Proceed,
        }
    }
    if let Some(list) = conditions.if_none_match
        && !list_matches(list, etag, true)
    {
        return Precondition::Proceed;
    }
    Precondition::NotModified
}

/// nginx's `ngx_http_test_if_modified`: true when the resource counts as modified.
fn modified_since(value: &[u8], last_modified: i64, mode: IfModifiedSince) -> bool {
    if mode == IfModifiedSince::Off {
        return true;
    }
    let date = parse_http_date_secs(trim(value)).unwrap_or(-1);
    if date == last_modified {
        return false;
    }
    mode == IfModifiedSince::Exact || date < last_modified
}

/// nginx's `ngx_http_test_if_match`: does the `If-Match`/`If-None-Match` list name `etag`?
///
/// `*` alone matches anything, even a resource without an etag. With `weak` (If-None-Match)
/// a `W/` prefix is dropped from the etag and from each list entry before comparing.
/// Without it the bytes must be equal, `W/` included: like nginx, `W/"x"` in If-Match
/// matches a weak `W/"x"` etag. Entries are compared at their start, then followed by
/// optional spaces or tabs and a comma or the end, so an etag holding a comma still matches.
fn list_matches(list: &[u8], etag: Option<&[u8]>, weak: bool) -> bool {
    let list = trim(list);
    if list == b"*" {
        return true;
    }
    let Some(mut etag) = etag else {
        return false;
    };
    if weak && etag.len() > 2 && etag.starts_with(b"W/") {
        etag = &etag[2..];
    }

    let mut rest = list;
    while !rest.is_empty() {
        if weak && rest.len() > 2 && rest.starts_with(b"W/") {
            rest = &rest[2..];
        }
        if etag.len() > rest.len() {
            return false;
        }
        if rest.starts_with(etag) {
            let after = skip_while(&rest[etag.len()..], |b| b == b' ' || b == b'\t');
            if after.is_empty() || after[0] == b',' {
                return true;
            }
        }
        let next = rest.iter().position(|&b| b == b',').unwrap_or(rest.len());
        rest = skip_while(&rest[next..], |b| b == b' ' || b == b'\t' || b == b',');
    }
    false
}

fn skip_while(s: &[u8], pred: impl Fn(u8) -> bool) -> &[u8] {
    let n = s.iter().take_while(|&&b| pred(b)).count();
    &s[n..]
}

/// Strips the spaces and tabs nginx's header parser would not have kept.
pub(crate) fn trim(s: &[u8]) -> &[u8] {
    let s = skip_while(s, |b| b == b' ' || b == b'\t');
    let end = s.len()
        - s.iter()
            .rev()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
    &s[..end]
}

/// Longest value [`format_etag`] writes: quotes, sign, two dashes-or-signs, 2×16 hex digits.
pub const ETAG_MAX_LEN: usize = 40;

/// Writes nginx's `ETag` for a file, `"<mtime hex>-<size hex>"` (`"5f1e2a3b-264"`), into
/// `out`; returns its length. A negative mtime prints as nginx's `%xT` does: `-` then the
/// magnitude in hex.
pub fn format_etag(mtime: i64, size: u64, out: &mut [u8; ETAG_MAX_LEN]) -> usize {
    let mut at = write_bytes(out, 0, b"\"");
    at = write_i64(out, at, mtime, 16);
    at = write_bytes(out, at, b"-");
    at = write_u64(out, at, size, 16);
    write_bytes(out, at, b"\"")
}

#[cfg(test)]
mod tests;
