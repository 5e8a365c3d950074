//! Byte ranges: the `Range` header against a resource's size, `If-Range`, and the
//! `Content-Range` values, as nginx's range filter computes them.
//!
//! The caller applies nginx's preconditions first: a 200 response of known length,
//! HTTP/1.0 or later, and `max_ranges` not 0. Where [`parse_range`] answers
//! [`RangeOutcome::Full`] nginx adds `Accept-Ranges: bytes` to the 200.

use super::conditional::trim;
use super::date::parse_http_date_secs;
use super::num::{write_bytes, write_u64};

/// What a `Range` header asks of a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeOutcome {
    /// Ignore the header: 200 with the whole body.
    Full,
    /// 206 with bytes `start..end_exclusive`; `Content-Range` from [`content_range`].
    Single {
        /// First byte sent.
        start: u64,
        /// One past the last byte sent; at most the resource size.
        end_exclusive: u64,
    },
    /// 416 with `Content-Range` from [`content_range_unsatisfied`].
    Unsatisfiable,
    /// Several satisfiable ranges: 206 `multipart/byteranges` (the ranges are in the list
    /// given to [`parse_ranges`]).
    Multi,
}

/// nginx's `NGX_MAX_OFF_T_VALUE`: numbers above it make the range unsatisfiable.
const MAX_OFFSET: u64 = i64::MAX as u64;

/// Decides `value` (the `Range` header) for a resource of `size` bytes, as nginx's
/// `ngx_http_range_parse`.
///
/// - A value shorter than 7 bytes or not starting `bytes=` (any case) is ignored: `Full`.
/// - Each range is `A-B`, `A-` or `-N` (the last N bytes), with spaces allowed around the
///   numbers and between ranges after `,`. `B` past the end is clamped to the end.
/// - Any syntax error after `bytes=`, a number over 2^63-1, or a trailing `,` answers 416,
///   as in nginx (not "ignore"): `bytes=abc` is `Unsatisfiable`.
/// - Ranges starting at or past the end (and reversed ones) are dropped; if none is left,
///   416. But a range starting at 0 that selects nothing (an empty file, `bytes=-0`
///   on an empty file) makes nginx ignore the header: `Full`.
/// - Several ranges whose lengths add up to more than the size (overlaps) are ignored:
///   `Full`.
pub fn parse_range(value: &[u8], size: u64) -> RangeOutcome {
    parse_ranges(value, size, None, &mut Vec::new())
}

/// [`parse_range`] keeping every satisfiable range, in the order asked, in `ranges` (as
/// `(start, end_exclusive)`), and with nginx's `max_ranges`: more ranges than `limit`
/// make the header ignored (`Full`).
pub fn parse_ranges(
    value: &[u8],
    size: u64,
    limit: Option<u64>,
    ranges: &mut Vec<(u64, u64)>,
) -> RangeOutcome {
    ranges.clear();
    let value = trim(value);
    if value.len() < 7 || !value[..6].eq_ignore_ascii_case(b"bytes=") {
        return RangeOutcome::Full;
    }
    let size = size.min(MAX_OFFSET);
    let mut p = Cursor { s: value, i: 6 };
    let mut first: Option<(u64, u64)> = None;
    let mut count = 0u64;
    let mut total: u64 = 0;

    loop {
        let Some((start, end)) = p.one_range(size) else {
            return RangeOutcome::Unsatisfiable;
        };
        if start < end {
            total = match total.checked_add(end - start) {
                Some(t) if t <= MAX_OFFSET => t,
                _ => return RangeOutcome::Unsatisfiable,
            };
            count += 1;
            first.get_or_insert((start, end));
            ranges.push((start, end));
            if limit.is_some_and(|max| count > max) {
                return RangeOutcome::Full;
            }
        } else if start == 0 {
            return RangeOutcome::Full;
        }
        if p.next() != Some(b',') {
            break;
        }
    }

    match first {
        None => RangeOutcome::Unsatisfiable,
        Some(_) if total > size => RangeOutcome::Full,
        Some((start, end_exclusive)) if count == 1 => RangeOutcome::Single {
            start,
            end_exclusive,
        },
        Some(_) => RangeOutcome::Multi,
    }
}

/// A read position in the header; the end reads as nginx's terminating NUL would.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek();
        self.i += 1;
        b
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
    }

    /// At least one digit, at most [`MAX_OFFSET`]; `None` otherwise.
    fn number(&mut self) -> Option<u64> {
        if !self.peek()?.is_ascii_digit() {
            return None;
        }
        let mut n: u64 = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
            if n > MAX_OFFSET {
                return None;
            }
            self.i += 1;
        }
        Some(n)
    }

    /// One range as `(start, end_exclusive)` clamped to `size`, cursor left on the `,`
    /// or the end; `None` is a syntax error (416).
    fn one_range(&mut self, size: u64) -> Option<(u64, u64)> {
        self.skip_spaces();
        let suffix = self.peek() == Some(b'-');
        let mut start = 0;
        if suffix {
            self.i += 1;
        } else {
            start = self.number()?;
            self.skip_spaces();
            if self.next()? != b'-' {
                return None;
            }
            self.skip_spaces();
            if matches!(self.peek(), None | Some(b',')) {
                return Some((start, size));
            }
        }
        let last = self.number()?;
        self.skip_spaces();
        if !matches!(self.peek(), None | Some(b',')) {
            return None;
        }
        if suffix {
            // nginx: start = size - N (or 0), end = size - 1, then the clamp below; an
            // empty resource gives (0, 0).
            let start = size.saturating_sub(last);
            return Some((start, size));
        }
        Some((start, last.saturating_add(1).min(size)))
    }
}

/// Does `If-Range` still describe the resource? If not, the caller ignores `Range` (200).
///
/// As nginx: a value ending in `"` is an etag and must equal `etag` byte for byte (no
/// resource etag: no match); anything else is an HTTP-date that must equal
/// `last_modified` exactly (no `Last-Modified` or an unparsable date: no match).
pub fn if_range_matches(if_range: &[u8], last_modified: Option<i64>, etag: Option<&[u8]>) -> bool {
    let if_range = trim(if_range);
    if if_range.len() >= 2 && if_range.ends_with(b"\"") {
        return etag == Some(if_range);
    }
    match (last_modified, parse_http_date_secs(if_range)) {
        (Some(mtime), Some(date)) => mtime == date,
        _ => false,
    }
}

/// Room for the longest `Content-Range` value: `bytes ` and three 20-digit numbers.
pub const CONTENT_RANGE_MAX_LEN: usize = 6 + 20 + 1 + 20 + 1 + 20;

/// Writes the 206 `Content-Range` value `bytes START-END/SIZE` (END inclusive, so
/// `end_exclusive - 1`) into `out`; returns its length.
pub fn content_range(
    start: u64,
    end_exclusive: u64,
    size: u64,
    out: &mut [u8; CONTENT_RANGE_MAX_LEN],
) -> usize {
    let mut at = write_bytes(out, 0, b"bytes ");
    at = write_u64(out, at, start, 10);
    at = write_bytes(out, at, b"-");
    at = write_u64(out, at, end_exclusive.saturating_sub(1), 10);
    at = write_bytes(out, at, b"/");
    write_u64(out, at, size, 10)
}

/// Writes the 416 `Content-Range` value `bytes */SIZE` into `out`; returns its length.
pub fn content_range_unsatisfied(size: u64, out: &mut [u8; CONTENT_RANGE_MAX_LEN]) -> usize {
    let at = write_bytes(out, 0, b"bytes */");
    write_u64(out, at, size, 10)
}

#[cfg(test)]
mod tests;
