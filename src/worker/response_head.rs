//! Writing a response head in nginx's header order, with the headers the headers filter
//! adds (`expires`, `add_header`), and nginx's standard pages for error statuses.

use super::Shared;
use super::conn::{Active, Req};
use super::handler::format_u64;
use super::phases::{self, Next, Rq};
use super::request_vars::RequestVars;
use crate::http::conditional::{self, Conditions, Precondition};
use crate::http::request::Method;
use crate::http::{expires, response};
use crate::rewrite::WithScript;

/// Statuses after which nginx does not keep the connection alive.
pub(super) fn closes_connection(status: u16) -> bool {
    matches!(status, 400 | 408 | 413 | 414 | 500 | 501 | 505)
}

/// Queues nginx's standard page for `status`, with the `always` headers given
/// pre-rendered in `extra`.
pub(super) fn queue_standard_page<'c>(
    a: &mut Active<'c>,
    shared: &mut Shared<'c>,
    req: &mut Req<'c>,
    status: u16,
    extra: &[u8],
) {
    let page = response::error_page(status, req.loc.server_tokens);
    if closes_connection(status) {
        req.keepalive = false;
        if a.discard.take().is_some() {
            req.lingering = true;
        }
    }
    let body = match page {
        Some(p) if a.head.method != Method::Head => p,
        _ => b"",
    };
    let padding = match page {
        Some(_) if status >= 400 && req.loc.msie_padding => msie_padding(a),
        _ => b"",
    };
    queue_response(
        a,
        shared,
        req,
        &Head {
            status,
            content_type: page.map(|_| b"text/html" as &[u8]),
            content_length: Some(page.map_or(0, |p| (p.len() + padding.len()) as u64)),
            extra,
            ..Head::default()
        },
        body,
    );
    if !body.is_empty() {
        a.out.extend_from_slice(padding);
    }
}

/// `msie_padding on` (the default): MSIE and Chrome replace a short error page with their
/// own, so nginx pads its pages for them.
fn msie_padding(a: &Active<'_>) -> &'static [u8] {
    macro_rules! line {
        () => {
            "<!-- a padding to disable MSIE and Chrome friendly error page -->\r\n"
        };
    }
    const PADDING: &[u8] = concat!(line!(), line!(), line!(), line!(), line!(), line!()).as_bytes();
    let buf = &a.buf[a.start..a.filled];
    match a.head.header(buf, b"user-agent") {
        Some(ua) => {
            let browser = crate::http::user_agent::Browser::of(ua);
            if browser.msie || browser.chrome {
                PADDING
            } else {
                b""
            }
        }
        None => b"",
    }
}

/// Queues nginx's page for an error status of a routed request.
pub(super) fn queue_error(rq: &mut Rq<'_, '_>, status: u16) {
    let extra = extra_headers(rq, status, None);
    queue_standard_page(rq.a, rq.shared, rq.req, status, &extra);
}

/// `expires` and `add_header` lines for a response with `status` (of a file changed at
/// `mtime`), rendered as header lines in the headers filter's order.
pub(super) fn extra_headers(rq: &Rq<'_, '_>, status: u16, mtime: Option<i64>) -> Vec<u8> {
    let loc = rq.req.loc;
    let mut out = Vec::new();
    // Fields an X-Accel-Redirect kept from the upstream's head come first, as they were
    // in nginx's header list before the filters added theirs.
    out.extend_from_slice(&rq.route.upstream_headers);
    if let Some(location) = &rq.route.kept_location {
        // A relative one is completed as nginx's header filter completes any Location.
        let mut value = Vec::with_capacity(location.len() + 32);
        if location.starts_with(b"/") && loc.absolute_redirect {
            super::answer::absolute_prefix(rq, &mut value);
        }
        value.extend_from_slice(location);
        push_header(&mut out, b"Location", &value);
    }
    if let Some(value) = &rq.route.www_authenticate {
        push_header(&mut out, b"WWW-Authenticate", value);
    }
    let listed = expires::applies_to_status(status);
    if listed {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let mut date = [0u8; 29];
        let setting = super::answer::expires_setting(rq);
        if let Some((n, cache_control)) = expires::headers(&setting, now, mtime, &mut date) {
            push_header(&mut out, b"Expires", &date[..n]);
            let mut value = [0u8; expires::CACHE_CONTROL_MAX_LEN];
            let n = cache_control.write(&mut value);
            push_header(&mut out, b"Cache-Control", &value[..n]);
        }
    }
    if loc.add_header.is_empty() {
        return out;
    }
    let src = RequestVars {
        conn: rq.conn,
        active: rq.a,
        req: rq.req,
        shared: rq.shared,
        upstream: rq.upstream.map(|u| u as &dyn crate::proxy::UpstreamVars),
        as_get: rq.route.as_get,
    };
    let vars = WithScript {
        ctx: &rq.route.script,
        inner: &src,
    };
    let mut value = Vec::new();
    let applicable = |h: &&crate::config::AddHeader| listed || h.always;
    for (i, h) in loc
        .add_header
        .iter()
        .enumerate()
        .filter(|(_, h)| applicable(h))
    {
        // `ETag` and `Last-Modified` are one header each: a later one replaces it (and an
        // empty one removes it), as nginx's headers filter sets them.
        let replaced = ["etag", "last-modified"]
            .iter()
            .any(|n| h.name.eq_ignore_ascii_case(n))
            && loc.add_header[i + 1..]
                .iter()
                .any(|later| applicable(&later) && later.name.eq_ignore_ascii_case(&h.name));
        if replaced {
            continue;
        }
        value.clear();
        h.value.eval(&vars, &mut value);
        if !value.is_empty() {
            push_header(&mut out, h.name.as_bytes(), &value);
        }
    }
    out
}

/// A response head to queue, in nginx's header order: status line, `Server`, `Date`,
/// `Content-Type`, `Content-Length`, `early` (`Last-Modified`, `Location`), `Connection`,
/// `late` (`ETag`), `extra` (pre-rendered `Expires`, `Cache-Control`, `add_header` lines),
/// `tail` (`Accept-Ranges`, `Content-Range`).
#[derive(Default)]
pub(super) struct Head<'h> {
    pub status: u16,
    pub content_type: Option<&'h [u8]>,
    pub content_length: Option<u64>,
    pub early: &'h [(&'h [u8], &'h [u8])],
    pub late: &'h [(&'h [u8], &'h [u8])],
    pub extra: &'h [u8],
    pub tail: &'h [(&'h [u8], &'h [u8])],
}

/// Appends `head` and then `body` to the output buffer.
pub(super) fn queue_response<'c>(
    a: &mut Active<'c>,
    shared: &Shared<'c>,
    req: &mut Req<'c>,
    head: &Head<'_>,
    body: &[u8],
) {
    let start = a.out.len();
    // nginx's header filter: a 204 has no body and no Content-Type or Content-Length.
    let no_content = head.status == 204;
    let out = &mut a.out;
    out.extend_from_slice(response::status_line(head.status));
    out.extend_from_slice(response::server_header(req.loc.server_tokens));
    out.extend_from_slice(b"Date: ");
    out.extend_from_slice(shared.date.http_date());
    out.extend_from_slice(b"\r\n");
    if let Some(t) = head.content_type.filter(|_| !no_content) {
        push_header(out, b"Content-Type", t);
    }
    if let Some(len) = head.content_length.filter(|_| !no_content) {
        let mut digits = [0u8; 20];
        push_header(out, b"Content-Length", format_u64(len, &mut digits));
    }
    for (name, value) in head.early {
        push_header(out, name, value);
    }
    if req.keepalive {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
        if let Some(t) = req.loc.keepalive_timeout.1 {
            // keepalive_timeout's second argument, right after Connection as in nginx.
            let mut digits = [0u8; 20];
            out.extend_from_slice(b"Keep-Alive: timeout=");
            out.extend_from_slice(format_u64(t.as_secs(), &mut digits));
            out.extend_from_slice(b"\r\n");
        }
    } else {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    for (name, value) in head.late {
        push_header(out, name, value);
    }
    out.extend_from_slice(head.extra);
    for (name, value) in head.tail {
        push_header(out, name, value);
    }
    out.extend_from_slice(b"\r\n");
    req.status = response::wire_status(head.status);
    req.header_bytes = (a.out.len() - start) as u64;
    if !no_content {
        a.out.extend_from_slice(body);
    }
}

fn push_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// nginx's not-modified filter, which runs on every 200 response: the request's
/// `If-*` headers against the response's validators.
pub(super) fn preconditions(
    rq: &Rq<'_, '_>,
    last_modified: Option<i64>,
    etag: Option<&[u8]>,
) -> Precondition {
    let buf = &rq.a.buf[rq.a.start..rq.a.filled];
    let head = &rq.a.head;
    let conditions = Conditions {
        if_modified_since: head.header(buf, b"if-modified-since"),
        if_unmodified_since: head.header(buf, b"if-unmodified-since"),
        if_none_match: head.header(buf, b"if-none-match"),
        if_match: head.header(buf, b"if-match"),
    };
    let method = if rq.route.as_get {
        Method::Get
    } else {
        head.method
    };
    conditional::evaluate(
        &conditions,
        method,
        last_modified,
        etag,
        rq.req.loc.if_modified_since,
    )
}

/// Applies [`preconditions`] to a generated 200 response (no validators): `None` to go on,
/// else the request is answered (304 queued, or 412 through [`phases::finalize`]).
pub(super) fn generated_preconditions<'c>(rq: &mut Rq<'_, 'c>) -> Option<Next<'c>> {
    match preconditions(rq, None, None) {
        Precondition::Proceed => None,
        Precondition::Failed => Some(phases::finalize(rq, 412)),
        Precondition::NotModified => {
            let extra = extra_headers(rq, 304, None);
            queue_response(
                rq.a,
                rq.shared,
                rq.req,
                &Head {
                    status: 304,
                    extra: &extra,
                    ..Head::default()
                },
                b"",
            );
            Some(Next::Done)
        }
    }
}
