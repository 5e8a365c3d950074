//! Response heads, built in this one place for every source (fixed answers, files,
//! upstreams): nginx's header order, the headers the headers filter adds (`expires`,
//! `add_header`), the keep-alive decision (`conn::keepalive`), and nginx's standard pages
//! for error statuses.

use super::Shared;
use super::conn::keepalive::{self, Writing};
use super::conn::{Active, BodyRead, Req};
use super::handler::format_u64;
use super::phases::{self, Next, Rq};
use super::request_vars::RequestVars;
use crate::http::conditional::{self, Conditions, Precondition};
use crate::http::request::Method;
use crate::http::{expires, response};
use crate::rewrite::WithScript;
use crate::upstream::protocol::ClientHeaders;

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
    if keepalive::closes_connection(status) && a.body.take().is_some() {
        // The rest of the body is not read after these (nginx's special response handler).
        req.body = BodyRead::Abandoned;
        req.lingering = true;
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
    let mut out = Vec::new();
    write_extra_headers(rq, status, mtime, &mut out);
    out
}

/// [`extra_headers`] into `out`; true when `expires` wrote `Expires` and `Cache-Control`
/// (an upstream's own are then left out, as nginx's headers filter replaces them).
fn write_extra_headers(
    rq: &Rq<'_, '_>,
    status: u16,
    mtime: Option<i64>,
    out: &mut Vec<u8>,
) -> bool {
    let loc = rq.req.loc;
    // Fields an X-Accel-Redirect kept from the upstream's head come first, as they were
    // in nginx's header list before the filters added theirs.
    out.extend_from_slice(&rq.route.upstream_headers);
    // A redirect's Location kept through an error page, completed as the header filter
    // completes one that starts with `/`.
    let kept = &rq.route.redirect_location;
    if !kept.is_empty() {
        out.extend_from_slice(b"Location: ");
        if kept.starts_with(b"/") && loc.absolute_redirect {
            super::answer::absolute_prefix(rq, out);
        }
        out.extend_from_slice(kept);
        out.extend_from_slice(b"\r\n");
    }
    let mut wrote_expires = false;
    if let Some(value) = &rq.route.www_authenticate {
        push_header(out, b"WWW-Authenticate", value);
    }
    let listed = expires::applies_to_status(status);
    if listed {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let mut date = [0u8; 29];
        let setting = super::answer::expires_setting(rq);
        if let Some((n, cache_control)) = expires::headers(&setting, now, mtime, &mut date) {
            push_header(out, b"Expires", &date[..n]);
            let mut value = [0u8; expires::CACHE_CONTROL_MAX_LEN];
            let n = cache_control.write(&mut value);
            push_header(out, b"Cache-Control", &value[..n]);
            wrote_expires = true;
        }
    }
    if loc.add_header.is_empty() {
        return wrote_expires;
    }
    let src = RequestVars {
        conn: rq.conn,
        active: rq.a,
        req: rq.req,
        shared: rq.shared,
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
            push_header(out, h.name.as_bytes(), &value);
        }
    }
    wrote_expires
}

/// A response head to queue, in nginx's header order: status line, `Server`, `Date`,
/// `Content-Type`, `Content-Length`, an upstream's early lines, `early` (`Last-Modified`,
/// `Location`), `Transfer-Encoding`, `Connection`, `late` (`ETag`), an upstream's other
/// lines, `extra` (pre-rendered `Expires`, `Cache-Control`, `add_header` lines), `tail`
/// (`Accept-Ranges`, `Content-Range`).
#[derive(Default)]
pub(super) struct Head<'h> {
    pub status: u16,
    pub content_type: Option<&'h [u8]>,
    pub content_length: Option<u64>,
    pub early: &'h [(&'h [u8], &'h [u8])],
    pub late: &'h [(&'h [u8], &'h [u8])],
    pub extra: &'h [u8],
    pub tail: &'h [(&'h [u8], &'h [u8])],
    /// An upstream's head (a proxied response): its reason phrase and header lines.
    pub upstream: Option<&'h dyn ClientHeaders>,
    /// `expires` is in `extra`: the upstream's `Expires` and `Cache-Control` are left out.
    pub skip_cache: bool,
}

/// Appends `head` and then `body` to the output buffer; the head's `Connection` says
/// whether the connection stays ([`keepalive::keep_alive`], recorded in the request).
pub(super) fn queue_response<'c>(
    a: &mut Active<'c>,
    shared: &Shared<'c>,
    req: &mut Req<'c>,
    head: &Head<'_>,
    body: &[u8],
) {
    let reading = req.reading(&a.head, a.body_read(req), shared.shutting_down);
    let writing = Writing {
        status: head.status,
        finalized: req.finalized,
        delimited: head.upstream.is_none_or(|u| !u.until_close()),
        complete: true,
    };
    req.keepalive = head.status != 101 && keepalive::keep_alive(&reading, &writing);
    write_response(&mut a.out, shared, req, head, body);
}

/// Appends `head` (its `Connection` as `req.keepalive` says) and then `body` to `out`.
fn write_response<'c>(
    out: &mut Vec<u8>,
    shared: &Shared<'c>,
    req: &mut Req<'c>,
    head: &Head<'_>,
    body: &[u8],
) {
    let start = out.len();
    // nginx's header filter: a 204 has no body and no Content-Type or Content-Length.
    let no_content = head.status == 204;
    match head.upstream {
        // The upstream's own reason phrase, unless an `error_page` status replaced its status.
        Some(u) if u.status() == head.status => {
            let mut digits = [0u8; 20];
            out.extend_from_slice(b"HTTP/1.1 ");
            out.extend_from_slice(format_u64(u64::from(head.status), &mut digits));
            out.push(b' ');
            out.extend_from_slice(u.reason());
            out.extend_from_slice(b"\r\n");
        }
        _ => out.extend_from_slice(response::status_line(head.status)),
    }
    if !head.upstream.is_some_and(|u| u.passes_server()) {
        out.extend_from_slice(response::server_header(req.loc.server_tokens));
    }
    if !head.upstream.is_some_and(|u| u.passes_date()) {
        out.extend_from_slice(b"Date: ");
        out.extend_from_slice(shared.date.http_date());
        out.extend_from_slice(b"\r\n");
    }
    if let Some(t) = head.content_type.filter(|_| !no_content) {
        push_header(out, b"Content-Type", t);
    }
    if let Some(len) = head.content_length.filter(|_| !no_content) {
        let mut digits = [0u8; 20];
        push_header(out, b"Content-Length", format_u64(len, &mut digits));
    }
    if let Some(u) = head.upstream {
        u.write_early(out);
    }
    for (name, value) in head.early {
        push_header(out, name, value);
    }
    if let Some(u) = head.upstream
        && head.status == 101
    {
        out.extend_from_slice(b"Connection: upgrade\r\n");
        if let Some(value) = u.upgrade() {
            push_header(out, b"Upgrade", value);
        }
    } else {
        if head.upstream.is_some_and(|u| u.chunked()) {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
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
    }
    for (name, value) in head.late {
        push_header(out, name, value);
    }
    if let Some(u) = head.upstream {
        u.write_rest(out, head.skip_cache);
    }
    out.extend_from_slice(head.extra);
    for (name, value) in head.tail {
        push_header(out, name, value);
    }
    out.extend_from_slice(b"\r\n");
    req.status = response::wire_status(head.status);
    req.header_bytes = (out.len() - start) as u64;
    if !no_content {
        out.extend_from_slice(body);
    }
}

/// The head of a proxied response, from the upstream's (see [`Head::upstream`]): the
/// status (an `error_page`'s replaces the upstream's, as nginx's `r->err_status`), the
/// upstream's header lines, then `expires` and `add_header` as for every response.
pub(super) fn queue_upstream_head(
    rq: &mut Rq<'_, '_>,
    facts: crate::upstream::protocol::HeadFacts,
) {
    let loc = rq.req.loc;
    // What the client is told: a `proxy_force_ranges` part is a 206 whatever the upstream
    // answered.
    let upstream_status = {
        use crate::upstream::protocol::ClientHeaders;
        crate::proxy::Http1Head::new(&rq.a.upstream.proto, rq.a.upstream.head_bytes(), loc).status()
    };
    let status = match rq.route.err_status {
        Some(code) if code != facts.status && !facts.upgrade => code,
        _ => upstream_status,
    };
    // `expires modified` counts from the upstream's Last-Modified.
    let mtime =
        rq.a.upstream
            .proto
            .head
            .header(rq.a.upstream.head_bytes(), "last-modified")
            .and_then(crate::http::date::parse_http_date_secs);
    // The upstream's own Location replaces one kept from a redirect before an error page.
    if rq
        .a
        .upstream
        .proto
        .head
        .header(rq.a.upstream.head_bytes(), "location")
        .is_some()
    {
        rq.route.redirect_location.clear();
    }
    let mut extra = Vec::new();
    let skip_cache = write_extra_headers(rq, status, mtime, &mut extra);
    let a = &mut *rq.a;
    let view = crate::proxy::Http1Head::new(&a.upstream.proto, a.upstream.head_bytes(), loc);
    let head = Head {
        status,
        extra: &extra,
        upstream: Some(&view),
        skip_cache,
        ..Head::default()
    };
    let req = &mut *rq.req;
    let reading = req.reading(&a.head, a.body_read(req), rq.shared.shutting_down);
    let writing = Writing {
        status,
        finalized: req.finalized,
        delimited: !view.until_close(),
        complete: true,
    };
    req.keepalive = !facts.upgrade && keepalive::keep_alive(&reading, &writing);
    write_response(&mut a.out, rq.shared, req, &head, b"");
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
