//! Answering with an open file, as nginx's static handler and its header filters do:
//! `Last-Modified`, `ETag`, preconditions (304/412), byte ranges (206, `multipart/byteranges`
//! for several, 416; `max_ranges`), then the `expires` and `add_header` headers, in nginx's
//! header order.

use super::conn::{FileBody, Source};
use super::handler::{self, Head};
use super::multipart::Multipart;
use super::phases::{Next, Rq, finalize};
use super::response_head::preconditions;
use crate::http::conditional::{self, Precondition};
use crate::http::date::{format_http_date_secs, parse_http_date_secs};
use crate::http::range::{self, CONTENT_RANGE_MAX_LEN, RangeOutcome};
use crate::http::request::Method;
use crate::static_files::{self, StaticFile};

/// Queues the response for `f`, the file the request's URI maps to.
pub(super) fn serve<'c>(rq: &mut Rq<'_, 'c>, f: StaticFile) -> Next<'c> {
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

    let (mut status, mut range) = (status, None);
    let mut ranges = Vec::new();
    let mut multipart = false;
    // `max_ranges 0` turns the range filter off, `Accept-Ranges` included.
    let ranges_on = loc.max_ranges != Some(0);
    // The not-modified and range filters see any 200, an `error_page ... =200` target too.
    if plain_ok {
        match preconditions(rq, Some(f.mtime), etag) {
            Precondition::Proceed => {}
            Precondition::NotModified => status = 304,
            Precondition::Failed => return finalize(rq, 412),
        }
        let buf = &rq.a.buf[rq.a.start..rq.a.filled];
        let head = &rq.a.head;
        if status == 200
            && ranges_on
            && let Some(value) = head.header(buf, b"range")
        {
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

    let mut extra = handler::extra_headers(rq, status, Some(f.mtime));
    if lm_override.is_some() {
        // Sent in its own place, as nginx's header filter writes `Last-Modified`.
        remove_header_lines(&mut extra, b"last-modified");
    }
    let content_type = static_files::content_type(loc, &rq.route.script.uri);
    if multipart {
        let layout = Multipart::new(&ranges, f.size, content_type.as_bytes());
        return serve_multipart(rq, f, layout, last_modified, etag, &extra);
    }
    let mut content_range = [0u8; CONTENT_RANGE_MAX_LEN];
    let (start, end) = range.unwrap_or((0, f.size));
    let mut tail: [(&[u8], &[u8]); 1] = [(b"", b"")];
    let tail: &[(&[u8], &[u8])] = match status {
        200 if ranges_on => {
            tail[0] = (b"Accept-Ranges", b"bytes");
            &tail
        }
        206 => {
            let n = range::content_range(start, end, f.size, &mut content_range);
            tail[0] = (b"Content-Range", &content_range[..n]);
            &tail
        }
        _ => &[],
    };
    let mut etag_header: &[(&[u8], &[u8])] = &[(b"ETag", etag.unwrap_or(b""))];
    if etag.is_none() {
        etag_header = &[];
    }
    // After an X-Accel-Redirect the upstream's kept fields lead `extra` and precede the
    // file's ETag in nginx's header list.
    let kept = rq.route.upstream_headers.len();
    if kept > 0
        && let Some(tag) = etag
    {
        let line = [&b"ETag: "[..], tag, b"\r\n"].concat();
        extra.splice(kept..kept, line);
        etag_header = &[];
    }
    let last_modified_header: [(&[u8], &[u8]); 1] = [(b"Last-Modified", last_modified)];
    let not_modified = status == 304;
    let send_body = rq.a.head.method != Method::Head && !not_modified && end > start;
    // A small file the cache holds goes out with the head in one write; others follow it
    // by sendfile.
    let in_memory = f
        .content
        .as_deref()
        .filter(|_| send_body)
        .and_then(|c| c.get(start as usize..end as usize));
    handler::queue_response(
        rq.a,
        rq.shared,
        rq.req,
        &Head {
            status,
            // After an X-Accel-Redirect the upstream's type wins (nginx sets a file's type
            // only when none is set).
            content_type: (!not_modified).then_some(
                rq.route
                    .upstream_content_type
                    .as_deref()
                    .unwrap_or(content_type.as_bytes()),
            ),
            content_length: (!not_modified).then_some(end - start),
            early: if matches!(status, 200 | 206 | 304) && !last_modified.is_empty() {
                &last_modified_header
            } else {
                &[]
            },
            late: etag_header,
            extra: &extra,
            tail,
            ..Head::default()
        },
        in_memory.unwrap_or_default(),
    );
    if send_body && in_memory.is_none() {
        rq.a.source = Source::File(FileBody {
            file: f.file,
            pos: start,
            end,
            sendfile: loc.sendfile,
            max_chunk: loc.sendfile_max_chunk,
            rest: None,
        });
    }
    Next::Done
}

/// A 206 `multipart/byteranges` answer: in one piece from a file held in memory, else
/// the first part's head now and the parts one after the other by the writer.
fn serve_multipart<'c>(
    rq: &mut Rq<'_, 'c>,
    f: StaticFile,
    mut layout: Multipart,
    last_modified: &[u8],
    etag: Option<&[u8]>,
    extra: &[u8],
) -> Next<'c> {
    let loc = rq.req.loc;
    let send_body = rq.a.head.method != Method::Head;
    let etag_header: [(&[u8], &[u8]); 1] = [(b"ETag", etag.unwrap_or(b""))];
    let last_modified_header: [(&[u8], &[u8]); 1] = [(b"Last-Modified", last_modified)];
    let content_type = std::mem::take(&mut layout.content_type);
    let head = Head {
        status: 206,
        content_type: Some(&content_type),
        content_length: Some(layout.length),
        early: if last_modified.is_empty() {
            &[]
        } else {
            &last_modified_header
        },
        late: if etag.is_some() { &etag_header } else { &[] },
        extra,
        ..Head::default()
    };
    if !send_body {
        handler::queue_response(rq.a, rq.shared, rq.req, &head, b"");
        return Next::Done;
    }
    if let Some(body) = f.content.as_deref().and_then(|c| layout.body_from(c)) {
        handler::queue_response(rq.a, rq.shared, rq.req, &head, &body);
        return Next::Done;
    }
    let (first_head, (start, end), rest) = layout.into_first();
    handler::queue_response(rq.a, rq.shared, rq.req, &head, &first_head);
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
