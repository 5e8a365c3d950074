//! Answering with an open file, as nginx's static handler and its header filters do:
//! `Last-Modified`, `ETag`, preconditions (304/412), one byte range (206/416), then the
//! `expires` and `add_header` headers, in nginx's header order.

use super::conn::{FileBody, Source};
use super::handler::{self, Head};
use super::phases::{Next, Rq, finalize};
use super::response_head::preconditions;
use crate::http::conditional::{self, Precondition};
use crate::http::date::format_http_date_secs;
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
    let mut last_modified = [0u8; 29];
    format_http_date_secs(f.mtime, &mut last_modified);

    let (mut status, mut range) = (status, None);
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
            && let Some(value) = head.header(buf, b"range")
        {
            let if_range_ok = head
                .header(buf, b"if-range")
                .is_none_or(|v| range::if_range_matches(v, Some(f.mtime), etag));
            if if_range_ok {
                match range::parse_range(value, f.size) {
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
                    RangeOutcome::Full | RangeOutcome::Multi => {}
                }
            }
        }
    }

    let mut extra = handler::extra_headers(rq, status, Some(f.mtime));
    let content_type = static_files::content_type(loc, &rq.route.script.uri);
    let mut content_range = [0u8; CONTENT_RANGE_MAX_LEN];
    let (start, end) = range.unwrap_or((0, f.size));
    let mut tail: [(&[u8], &[u8]); 1] = [(b"", b"")];
    let tail: &[(&[u8], &[u8])] = match status {
        200 => {
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
    let last_modified_header: [(&[u8], &[u8]); 1] = [(b"Last-Modified", &last_modified)];
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
            early: if matches!(status, 200 | 206 | 304) {
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
        });
    }
    Next::Done
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
