//! `proxy_force_ranges`, `fastcgi_force_ranges`, `uwsgi_force_ranges`, `scgi_force_ranges`:
//! nginx's range filter on an upstream's response (`r->allow_ranges` with
//! `r->single_range`), the same for every protocol: a 200 of known length answers one byte
//! range with 206, an unsatisfiable one with 416, and offers `Accept-Ranges: bytes`
//! otherwise. Several ranges are answered with the whole 200, as nginx does for a
//! single-range response. The upstream's own `Accept-Ranges` is dropped
//! (`ngx_http_upstream_copy_allow_ranges`). A protocol gives the head's facts
//! ([`RangeSource`]) and cuts its body with a [`Slice`].
//!
//! Without the directive nginx passes a response as it is (a cache hit aside), and so does
//! Portico.

use crate::http::range::{self, RangeOutcome};

/// What the range filter reads of a response head.
#[derive(Clone, Copy, Debug, Default)]
pub struct RangeSource<'a> {
    /// The status the upstream sent.
    pub status: u16,
    /// The body's length, when the head says it (not chunked, not until the close).
    pub length: Option<u64>,
    /// `Last-Modified`, for `If-Range`.
    pub last_modified: Option<&'a [u8]>,
    /// `ETag`, for `If-Range`.
    pub etag: Option<&'a [u8]>,
}

/// What the range filter does with a proxied response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ranged {
    /// Not a candidate (no `proxy_force_ranges`, not a 200 of known length).
    No,
    /// The whole 200, with `Accept-Ranges: bytes`.
    Full,
    /// 206 with bytes `start..end` of `total`.
    Part {
        /// First byte sent.
        start: u64,
        /// One past the last byte sent.
        end: u64,
        /// The whole length.
        total: u64,
    },
    /// 416.
    Unsatisfiable {
        /// The whole length.
        total: u64,
    },
    /// 206 `multipart/byteranges` of `length` bytes, several ranges of a cache hit held
    /// in memory (its body was replaced by the parts; the type is in
    /// [`crate::proxy::http1::Http1::multipart_type`]).
    Multi {
        /// The multipart body's length.
        length: u64,
    },
    /// Not a range: a cached 200 the client's `If-Modified-Since`/`If-None-Match` turn
    /// into a 304 without a body (nginx's not-modified filter, before the range filter).
    NotModified,
}

/// The range filter's decision for a response head (`source`) to a request whose `Range`
/// and `If-Range` fields are given.
pub fn decide(
    force_ranges: bool,
    source: RangeSource<'_>,
    range_field: Option<&[u8]>,
    if_range: Option<&[u8]>,
) -> Ranged {
    let Some(total) = source
        .length
        .filter(|_| force_ranges && source.status == 200)
    else {
        return Ranged::No;
    };
    let Some(value) = range_field else {
        return Ranged::Full;
    };
    if let Some(if_range) = if_range {
        let last_modified = source
            .last_modified
            .and_then(crate::http::date::parse_http_date_secs);
        if !range::if_range_matches(if_range, last_modified, source.etag) {
            return Ranged::Full;
        }
    }
    match range::parse_range(value, total) {
        RangeOutcome::Single {
            start,
            end_exclusive,
        } => Ranged::Part {
            start,
            end: end_exclusive,
            total,
        },
        RangeOutcome::Unsatisfiable => Ranged::Unsatisfiable { total },
        RangeOutcome::Full | RangeOutcome::Multi => Ranged::Full,
    }
}

/// The body bytes of a 206 among those the upstream sends.
#[derive(Clone, Copy, Debug)]
pub struct Slice {
    /// First byte kept.
    start: u64,
    /// One past the last byte kept.
    end: u64,
    /// Body bytes seen so far.
    seen: u64,
}

impl Slice {
    /// Keeps bytes `start..end` of the body.
    pub fn new(start: u64, end: u64) -> Slice {
        Slice {
            start,
            end,
            seen: 0,
        }
    }

    /// For the next `len` body bytes: which of them to keep, as a range within them.
    pub fn keep(&mut self, len: usize) -> std::ops::Range<usize> {
        let from = self.seen;
        self.seen += len as u64;
        let first = self.start.clamp(from, self.seen) - from;
        let last = self.end.clamp(from, self.seen) - from;
        first as usize..last.max(first) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: RangeSource<'static> = RangeSource {
        status: 200,
        length: Some(100),
        last_modified: None,
        etag: Some(b"\"e\""),
    };

    #[test]
    fn decisions_as_nginx_range_filter() {
        let h = SOURCE;
        assert_eq!(decide(false, h, Some(b"bytes=0-9"), None), Ranged::No);
        assert_eq!(decide(true, h, None, None), Ranged::Full);
        assert_eq!(
            decide(true, h, Some(b"bytes=10-19"), None),
            Ranged::Part {
                start: 10,
                end: 20,
                total: 100
            }
        );
        assert_eq!(
            decide(true, h, Some(b"bytes=200-"), None),
            Ranged::Unsatisfiable { total: 100 }
        );
        assert_eq!(decide(true, h, Some(b"bytes=0-1,5-6"), None), Ranged::Full);
        assert_eq!(
            decide(true, h, Some(b"bytes=0-1"), Some(b"\"other\"")),
            Ranged::Full
        );
        let unknown = RangeSource {
            length: None,
            ..SOURCE
        };
        assert_eq!(decide(true, unknown, Some(b"bytes=0-1"), None), Ranged::No);
        let not_found = RangeSource {
            status: 404,
            ..SOURCE
        };
        assert_eq!(
            decide(true, not_found, Some(b"bytes=0-1"), None),
            Ranged::No
        );
    }

    #[test]
    fn slices_across_reads() {
        let mut s = Slice::new(5, 12);
        assert!(s.keep(4).is_empty());
        assert_eq!(s.keep(4), 1..4);
        assert_eq!(s.keep(10), 0..4);
        assert!(s.keep(3).is_empty());
    }
}
