//! Answering with an open file, as nginx's static handler (and `gzip_static`'s) and their
//! header filters do: `Last-Modified`, `ETag`, preconditions (304/412), gzip or gunzip
//! (a compressed copy from the worker's file cache when it has one), byte ranges (206,
//! several as `multipart/byteranges`, 416; `max_ranges`), then the `expires` and
//! `add_header` headers (whose `Last-Modified` and `ETag` replace the file's), in nginx's
//! header order.

use super::conn::{FileBody, Source};
use super::gzip::Coding;
use super::gzip::Decision;
use super::handler::{self, Head};
use super::multipart::Multipart;
use super::phases::{Next, Rq, finalize};
use super::response_head::Body;
use super::response_head::preconditions;
use crate::http::conditional::{self, Precondition};
use crate::http::date::{format_http_date_secs, parse_http_date_secs};
use crate::http::range::{self, CONTENT_RANGE_MAX_LEN, RangeOutcome};
use crate::http::request::Method;
use crate::static_files::{self, StaticFile};

/// Which file a response sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FileKind {
    /// The file the URI maps to; `gzip_vary`: `gzip_static` found a `.gz` beside it that
    /// the client does not get (the response still says `Vary`).
    Plain { gzip_vary: bool },
    /// `gzip_static`'s `FILE.gz`: its own validators, `Content-Encoding: gzip`, no ranges;
    /// `vary`: `gzip_static on` asks for `Vary` (`always` leaves it to gunzip).
    GzipStatic { vary: bool },
}

/// Queues the response for `f`, the file the request's URI maps to (or its `.gz`).
pub(super) fn serve<'c>(rq: &mut Rq<'_, 'c>, f: StaticFile, kind: FileKind) -> Next<'c> {
    let loc = rq.req.loc;
    // Under `error_page` the target is sent with the error's status and no validators.
    let status = rq.route.err_status.unwrap_or(200);
    let plain_ok = status == 200;

    let mut etag = [0u8; conditional::ETAG_MAX_LEN];
    let etag_len = if loc.etag {
        conditional::format_etag(f.mtime, f.size, &mut etag)
    } else {
        0
    };
    let etag = (etag_len > 0).then_some(&etag[..etag_len]);
    let mut file_last_modified = [0u8; 29];
    format_http_date_secs(f.mtime, &mut file_last_modified);
    // nginx's headers filter runs before its range filter: `add_header Last-Modified` and
    // `add_header ETag` replace the validators If-Range is compared with.
    let (lm_override, etag_override) = replaced_validators(rq, status);
    let range_mtime = match &lm_override {
        Some(value) => parse_http_date_secs(value),
        None => Some(f.mtime),
    };
    let range_etag = match &etag_override {
        Some(value) => (!value.is_empty()).then_some(value.as_slice()),
        None => etag,
    };
    let last_modified: &[u8] = lm_override.as_deref().unwrap_or(&file_last_modified);
    // The replacing ETag is among the add_header lines; the file's is dropped.
    let etag = if etag_override.is_some() { None } else { etag };
    // `max_ranges 0` turns the range filter off, `Accept-Ranges` included.
    let ranges_on = loc.max_ranges != Some(0);

    let mut status = status;
    // The not-modified filter sees any 200, an `error_page ... =200` target too.
    if plain_ok {
        match preconditions(rq, Some(f.mtime), etag) {
            Precondition::Proceed => {}
            Precondition::NotModified => status = 304,
            Precondition::Failed => return finalize(rq, 412),
        }
    }
    let gzip_static = matches!(kind, FileKind::GzipStatic { .. });
    let gzip_vary = matches!(
        kind,
        FileKind::Plain { gzip_vary: true } | FileKind::GzipStatic { vary: true }
    );
    // After an X-Accel-Redirect the upstream's type wins (nginx sets a file's type only
    // when none is set).
    let upstream_type = rq.route.upstream_content_type.clone();
    let content_type = upstream_type
        .as_deref()
        .unwrap_or(static_files::content_type(loc, &rq.route.script.uri).as_bytes());
    let etag_header: [(&[u8], &[u8]); 1] = [(b"ETag", etag.unwrap_or(b""))];
    let last_modified_header: [(&[u8], &[u8]); 1] = [(b"Last-Modified", last_modified)];
    let validators = |status: u16| -> &[(&[u8], &[u8])] {
        if matches!(status, 200 | 206 | 304) && !last_modified.is_empty() {
            &last_modified_header
        } else {
            &[]
        }
    };
    let mut late: &[(&[u8], &[u8])] = if etag.is_some() { &etag_header } else { &[] };
    // After an X-Accel-Redirect the upstream's kept fields lead `extra` and precede the
    // file's ETag in nginx's header list.
    let kept = rq.route.upstream_headers.len();
    let etag_in_extra = |extra: &mut Vec<u8>| {
        if lm_override.is_some() {
            // Sent in its own place, as nginx's header filter writes `Last-Modified`.
            remove_header_lines(extra, b"last-modified");
        }
        if kept > 0
            && let Some(tag) = etag
        {
            let line = [&b"ETag: "[..], tag, b"\r\n"].concat();
            extra.splice(kept..kept, line);
        }
    };
    if kept > 0 {
        late = &[];
    }
    let accept_ranges: &[(&[u8], &[u8])] = &[(b"Accept-Ranges", b"bytes")];

    // The header filters decide on the whole response (a compressed one has no ranges:
    // nginx's range filter skips a response whose length is unknown).
    let mut extra = handler::extra_headers(rq, status, Some(f.mtime));
    etag_in_extra(&mut extra);
    let not_modified = status == 304;
    let whole = Head {
        status,
        content_type: (!not_modified).then_some(content_type),
        content_length: (!not_modified).then_some(f.size),
        early: validators(status),
        late,
        extra: &extra,
        tail: if status == 200 && !gzip_static && ranges_on {
            accept_ranges
        } else {
            &[]
        },
        content_encoding: gzip_static.then_some(b"gzip" as &[u8]),
        gzip_vary,
        ..Head::default()
    };
    let decision = whole.coding(rq.a, loc, false);
    let send_body = rq.a.head.method != Method::Head && !not_modified && f.size > 0;
    // A body recoded to or from UTF-8 changes its length: no ranges, as for a compressed one.
    let resized = decision.coding == Coding::Identity
        && super::response_head::recoder(rq.shared, loc, &rq.req.charset_values, &whole)
            .is_some_and(|r| r.resizes());
    match decision.coding {
        Coding::Identity if resized => {
            let in_memory = f.content.as_deref().filter(|_| send_body);
            let body = Body::Plain(in_memory.unwrap_or_default());
            handler::queue_coded(rq.a, rq.shared, rq.req, &whole, body, decision);
            if send_body && in_memory.is_none() {
                let size = f.size;
                rq.a.source = file_source(loc, f, 0, size);
            }
            return Next::Done;
        }
        Coding::Identity => {}
        Coding::Gzip(params) => {
            // The cached copy is of the file as it is: a body the charset filter recodes
            // is compressed as it goes.
            let plain_source =
                matches!(loc.source_charset, crate::config::charset::CharsetSel::Off);
            let body = if send_body && plain_source {
                compressed_copy(rq, &f, params.level)
            } else {
                None
            };
            let in_memory = f.content.as_deref().filter(|_| send_body && body.is_none());
            let body = match (&body, in_memory) {
                (Some(gz), _) => Body::Gzipped(gz, f.size),
                (None, Some(plain)) => Body::Plain(plain),
                (None, None) => Body::Plain(b""),
            };
            let streams = send_body && matches!(body, Body::Plain(b""));
            handler::queue_coded(rq.a, rq.shared, rq.req, &whole, body, decision);
            if streams {
                let size = f.size;
                rq.a.source = file_source(loc, f, 0, size);
            }
            return Next::Done;
        }
        Coding::Gunzip => {
            handler::queue_coded(rq.a, rq.shared, rq.req, &whole, Body::Plain(b""), decision);
            if send_body {
                let size = f.size;
                rq.a.source = file_source(loc, f, 0, size);
            }
            return Next::Done;
        }
    }

    let mut range = None;
    let mut ranges = Vec::new();
    let mut multipart = false;
    if status == 200 && !gzip_static && ranges_on {
        let buf = &rq.a.buf[rq.a.start..rq.a.filled];
        let head = &rq.a.head;
        if let Some(value) = head.header(buf, b"range") {
            let if_range_ok = head
                .header(buf, b"if-range")
                .is_none_or(|v| range::if_range_matches(v, range_mtime, range_etag));
            if if_range_ok {
                match range::parse_ranges(value, f.size, loc.max_ranges, &mut ranges) {
                    RangeOutcome::Single {
                        start,
                        end_exclusive,
                    } => {
                        status = 206;
                        range = Some((start, end_exclusive));
                    }
                    RangeOutcome::Unsatisfiable => {
                        unsatisfiable(rq, f.size);
                        return Next::Done;
                    }
                    RangeOutcome::Multi => {
                        status = 206;
                        multipart = true;
                    }
                    RangeOutcome::Full => {}
                }
            }
        }
    }
    if multipart {
        let mut extra = handler::extra_headers(rq, status, Some(f.mtime));
        etag_in_extra(&mut extra);
        let layout = Multipart::new(&ranges, f.size, content_type);
        let head = Head {
            status,
            early: validators(status),
            late,
            extra: &extra,
            ..Head::default()
        };
        return serve_multipart(rq, f, layout, head, decision);
    }
    let (start, end) = range.unwrap_or((0, f.size));
    let mut content_range = [0u8; CONTENT_RANGE_MAX_LEN];
    let mut tail: [(&[u8], &[u8]); 1] = [(b"", b"")];
    let tail: &[(&[u8], &[u8])] = match status {
        206 => {
            let n = range::content_range(start, end, f.size, &mut content_range);
            tail[0] = (b"Content-Range", &content_range[..n]);
            &tail
        }
        _ => whole.tail,
    };
    let partial_extra;
    let extra: &[u8] = if status == 206 {
        let mut e = handler::extra_headers(rq, status, Some(f.mtime));
        etag_in_extra(&mut e);
        partial_extra = e;
        &partial_extra
    } else {
        &extra
    };
    let send_body = send_body && end > start;
    // A small file the cache holds goes out with the head in one write, `sendfile on` or
    // not; others follow it by sendfile. nginx's split (head, then the body by sendfile)
    // cost 15-25 % more CPU per 600-byte request in paired runs (README "Performance",
    // session 10).
    let in_memory = f
        .content
        .as_deref()
        .filter(|_| send_body)
        .and_then(|c| c.get(start as usize..end as usize));
    handler::queue_coded(
        rq.a,
        rq.shared,
        rq.req,
        &Head {
            status,
            content_length: (!not_modified).then_some(end - start),
            early: validators(status),
            extra,
            tail,
            ..whole
        },
        Body::Plain(in_memory.unwrap_or_default()),
        decision,
    );
    if send_body && in_memory.is_none() {
        rq.a.source = file_source(loc, f, start, end);
    }
    Next::Done
}

/// The file's range `start..end` as the response's source.
fn file_source(loc: &crate::config::LocSettings, f: StaticFile, start: u64, end: u64) -> Source {
    Source::File(FileBody {
        file: f.file,
        pos: start,
        end,
        sendfile: loc.sendfile,
        max_chunk: loc.sendfile_max_chunk,
        rest: None,
    })
}

/// A 206 `multipart/byteranges` answer (`head` has its validators and header lines): in
/// one piece from a file held in memory, else the first part's head now and the parts one
/// after the other by the writer.
fn serve_multipart<'c>(
    rq: &mut Rq<'_, 'c>,
    f: StaticFile,
    mut layout: Multipart,
    head: Head<'_>,
    decision: Decision,
) -> Next<'c> {
    let loc = rq.req.loc;
    let content_type = std::mem::take(&mut layout.content_type);
    let head = Head {
        content_type: Some(&content_type),
        content_length: Some(layout.length),
        ..head
    };
    if rq.a.head.method == Method::Head {
        handler::queue_coded(rq.a, rq.shared, rq.req, &head, Body::Plain(b""), decision);
        return Next::Done;
    }
    if let Some(body) = f.content.as_deref().and_then(|c| layout.body_from(c)) {
        handler::queue_coded(rq.a, rq.shared, rq.req, &head, Body::Plain(&body), decision);
        return Next::Done;
    }
    let (first_head, (start, end), rest) = layout.into_first();
    handler::queue_coded(
        rq.a,
        rq.shared,
        rq.req,
        &head,
        Body::Plain(&first_head),
        decision,
    );
    rq.a.source = Source::File(FileBody {
        file: f.file,
        pos: start,
        end,
        sendfile: loc.sendfile,
        max_chunk: loc.sendfile_max_chunk,
        rest: Some(Box::new(rest)),
    });
    Next::Done
}

/// The values of `add_header Last-Modified` and `add_header ETag` for a response with
/// `status` (the last of each, as each replaces the one before); an empty value removes
/// the header.
fn replaced_validators(rq: &Rq<'_, '_>, status: u16) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let listed = crate::http::expires::applies_to_status(status);
    let (mut last_modified, mut etag) = (None, None);
    for h in rq.req.loc.add_header.iter().filter(|h| listed || h.always) {
        if h.name.eq_ignore_ascii_case("last-modified") {
            last_modified = Some(super::phases::eval(rq, &h.value));
        } else if h.name.eq_ignore_ascii_case("etag") {
            etag = Some(super::phases::eval(rq, &h.value));
        }
    }
    (last_modified, etag)
}

/// Removes the `name:` lines (lowercase name) from rendered header lines.
fn remove_header_lines(lines: &mut Vec<u8>, name: &[u8]) {
    let mut kept = Vec::with_capacity(lines.len());
    for line in lines.split_inclusive(|&b| b == b'\n') {
        let is_it = line.get(..name.len() + 1).is_some_and(|start| {
            start[..name.len()].eq_ignore_ascii_case(name) && start[name.len()] == b':'
        });
        if !is_it {
            kept.extend_from_slice(line);
        }
    }
    *lines = kept;
}

/// The file's gzip at `level` from the worker's file cache, made there once (a small file
/// whose last change has settled); `None` when the cache keeps none for it.
fn compressed_copy(rq: &mut Rq<'_, '_>, f: &StaticFile, level: u8) -> Option<std::rc::Rc<[u8]>> {
    if f.size > crate::static_files::cache::GZIP_FILE_MAX {
        return None;
    }
    let policy = crate::static_files::cache::Policy::of(rq.req.loc);
    let shared = &mut *rq.shared;
    let one_shot = &mut shared.compress.one_shot;
    shared
        .file_cache
        .gzipped(&policy, &rq.route.filename, level, &mut |plain: &[u8]| {
            let mut out = Vec::with_capacity(plain.len() / 3 + 64);
            one_shot.compress(level, plain, &mut out).ok()?;
            Some(out)
        })
}

/// 416 with `Content-Range: bytes */SIZE` and nginx's page.
pub(super) fn unsatisfiable(rq: &mut Rq<'_, '_>, size: u64) {
    let mut content_range = [0u8; CONTENT_RANGE_MAX_LEN];
    let n = range::content_range_unsatisfied(size, &mut content_range);
    let page = crate::http::response::error_page(416, rq.req.loc.server_tokens).unwrap_or(b"");
    let extra = handler::extra_headers(rq, 416, None);
    let body = if rq.a.head.method == Method::Head {
        b"" as &[u8]
    } else {
        page
    };
    handler::queue_response(
        rq.a,
        rq.shared,
        rq.req,
        &Head {
            status: 416,
            content_type: Some(b"text/html"),
            content_length: Some(page.len() as u64),
            extra: &extra,
            tail: &[(b"Content-Range", &content_range[..n])],
            ..Head::default()
        },
        body,
    );
}
