//! Response heads, built in this one place for every source (fixed answers, files,
//! upstreams): nginx's header order, the headers the headers filter adds (`expires`,
//! `add_header`), the keep-alive decision (`conn::keepalive`), and nginx's standard pages
//! for error statuses.

use super::Shared;
use super::conn::filter::FilterSetup;
use super::conn::filter::recode::Recoder;
use super::conn::keepalive::{self, Writing};
use super::conn::{Active, BodyRead, Req};
use super::gzip::{
    self, Coding, Decision, HeaderLines, RenderedLines, RequestFacts, ResponseFacts,
};
use super::handler::format_u64;
use super::phases::{self, Next, Rq};
use crate::config::LocSettings;
use crate::http::conditional::{self, Conditions, Precondition};
use crate::http::request::Method;
use crate::http::{expires, response};
use crate::rewrite::WithScript;
use crate::upstream::protocol::ClientHeaders;
use crate::vars::{Overlay, Var};

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
    if keepalive::closes_connection(status) {
        // nginx's special response handler: no keep-alive after these, and the rest of
        // the body is not read.
        req.finalized.get_or_insert(status);
        if a.body.take().is_some() {
            req.body = BodyRead::Abandoned;
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

/// Evaluates `charset $var` and `source_charset $var` for the response about to be
/// built (nginx reads them in its charset header filter).
fn evaluate_charset(rq: &mut Rq<'_, '_>) {
    use crate::config::charset::CharsetSel;
    let loc = rq.req.loc;
    if !matches!(loc.charset, CharsetSel::Var(_))
        && !matches!(loc.source_charset, CharsetSel::Var(_))
    {
        return;
    }
    let mut values = std::mem::take(&mut rq.req.charset_values);
    values.dst.clear();
    values.src.clear();
    {
        let src = rq.vars();
        let vars = WithScript {
            ctx: &rq.route.script,
            inner: &src,
        };
        if let CharsetSel::Var(t) = &loc.charset {
            t.eval(&vars, &mut values.dst);
        }
        if let CharsetSel::Var(t) = &loc.source_charset {
            t.eval(&vars, &mut values.src);
        }
    }
    values.evaluated = true;
    rq.req.charset_values = values;
}

/// `expires` and `add_header` lines for a response with `status` (of a file changed at
/// `mtime`), rendered as header lines in the headers filter's order.
pub(super) fn extra_headers(rq: &mut Rq<'_, '_>, status: u16, mtime: Option<i64>) -> Vec<u8> {
    evaluate_charset(rq);
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
    // `expires off` (the default) reads no clock.
    let setting = if listed {
        super::answer::expires_setting(rq)
    } else {
        expires::Expires::Off
    };
    if setting != expires::Expires::Off {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let mut date = [0u8; 29];
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
    let src = rq.vars();
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
        // `$sent_http_*` sees the lines added so far, as nginx's variables read
        // `headers_out` while the headers filter adds to it.
        let lines: &[u8] = out;
        let so_far = Overlay {
            inner: &src,
            own: |var: &Var, value: &mut Vec<u8>| match var {
                Var::SentHttp(name) => Some(super::request_vars::sent_http(lines, name, value)),
                _ => None,
            },
        };
        let vars = WithScript {
            ctx: &rq.route.script,
            inner: &so_far,
        };
        h.value.eval(&vars, &mut value);
        if !value.is_empty() {
            push_header(out, h.name.as_bytes(), &value);
        }
    }
    wrote_expires
}

/// A response head to queue, in nginx's header order: status line, `Server`, `Date`,
/// `Content-Type`, `Content-Length`, an upstream's early lines, `early` (`Last-Modified`,
/// `Location`), `Transfer-Encoding`, `Connection`, `Vary` (gzip), `late` (`ETag`),
/// `content_encoding`, an upstream's other lines, `extra` (pre-rendered `Expires`,
/// `Cache-Control`, `add_header` lines), `tail` (`Accept-Ranges`, `Content-Range`), and
/// last the gzip filter's `Content-Encoding`.
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
    /// The body's own `Content-Encoding` (a `.gz` file that `gzip_static` serves).
    pub content_encoding: Option<&'h [u8]>,
    /// `gzip_static` found a `.gz` the client does not get: `Vary: Accept-Encoding` (with
    /// `gzip_vary on`) all the same.
    pub gzip_vary: bool,
    /// The upstream's `X-Accel-Charset`: the charset filter's destination charset.
    pub accel_charset: Option<&'h [u8]>,
}

impl HeaderLines for Head<'_> {
    fn each(&self, name: &str, f: &mut dyn FnMut(&[u8])) {
        for (n, v) in self.early.iter().chain(self.late).chain(self.tail) {
            if n.eq_ignore_ascii_case(name.as_bytes()) {
                f(v);
            }
        }
        if let Some(u) = self.upstream {
            u.each_header(name, f);
        }
        RenderedLines(self.extra).each(name, f);
    }
}

impl Head<'_> {
    /// What the gzip and gunzip header filters decide for this head (`body_at_hand`: its
    /// body is given whole with it; only gzip can be applied to such a body).
    pub(super) fn coding(&self, a: &Active<'_>, loc: &LocSettings, body_at_hand: bool) -> Decision {
        if !loc.gzip && !loc.gunzip && !self.gzip_vary {
            return Decision::default();
        }
        let content_type = match self.upstream {
            Some(u) => u.header("content-type"),
            None => self.content_type,
        };
        let content_length = match self.upstream {
            Some(u) => u.header("content-length").and_then(|v| {
                std::str::from_utf8(v)
                    .ok()
                    .and_then(|t| t.trim().parse().ok())
            }),
            None => self.content_length,
        };
        let content_encoding = match self.upstream {
            Some(u) => u.header("content-encoding"),
            None => self.content_encoding,
        };
        let facts = ResponseFacts {
            status: self.status,
            content_type,
            content_length,
            content_encoding,
            lines: self,
        };
        let request = RequestFacts {
            head: &a.head,
            buf: &a.buf[a.start.min(a.filled)..a.filled],
        };
        let mut decision = gzip::header_filters(loc, request, &facts, self.gzip_vary);
        if body_at_hand && decision.coding == Coding::Gunzip {
            // A gzip body is never handed over whole (gzip_static sends its file through
            // the filter); left as it is rather than sent as something it is not.
            decision.coding = Coding::Identity;
        }
        decision
    }
}

/// How the head builder writes a response whose body a filter changes.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Coded {
    /// The header filters' verdict.
    pub decision: Decision,
    /// The body goes out in chunks (its length is unknown and the client speaks HTTP/1.1).
    pub chunked: bool,
    /// `add_trailer` has trailers for this status: the body goes out in chunks, the
    /// trailers after the last one (nginx's `r->expect_trailers`).
    pub trailers: bool,
    /// The charset filter changes the body's length (to or from UTF-8): no
    /// `Content-Length`, as nginx's `ngx_http_clear_content_length`.
    pub resized: bool,
}

impl Coded {
    /// How a response with `decision` is written for the request of `a` (a HEAD request,
    /// or a status without a body, has none to frame).
    pub(super) fn of(
        decision: Decision,
        a: &Active<'_>,
        loc: &LocSettings,
        status: u16,
        recoder: Option<&Recoder>,
    ) -> Coded {
        let has_body = a.head.method != Method::Head && !matches!(status, 204 | 304);
        let http11 = a.head.version != crate::http::request::Version::Http10
            && loc.chunked_transfer_encoding;
        // nginx's headers filter: a trailer applies to the statuses `add_header` does
        // unless `always`; its chunked filter then frames the body (HTTP/1.1 only).
        let listed = expires::applies_to_status(status);
        let trailers = has_body
            && http11
            && status >= 200
            && loc.add_trailer.iter().any(|t| listed || t.always);
        let resized = has_body && recoder.is_some_and(Recoder::resizes);
        Coded {
            decision,
            chunked: (decision.coding != Coding::Identity || trailers || resized)
                && has_body
                && http11,
            trailers,
            resized,
        }
    }

    fn changes_body(&self) -> bool {
        self.decision.coding != Coding::Identity || self.resized
    }

    /// The body filter frames the body (a coding changes it, or trailers follow it).
    fn frames(&self) -> bool {
        self.changes_body() || self.trailers
    }
}

/// Appends `head` and then `body` to the output buffer; the head's `Connection` says
/// whether the connection stays ([`keepalive::keep_alive`], recorded in the request).
/// The gzip and gunzip header filters decide first: a body given here is compressed at
/// once, one that its source will give goes through the body filter.
pub(super) fn queue_response<'c>(
    a: &mut Active<'c>,
    shared: &mut Shared<'c>,
    req: &mut Req<'c>,
    head: &Head<'_>,
    body: &[u8],
) {
    let decision = head.coding(a, req.loc, !body.is_empty());
    queue_coded(a, shared, req, head, Body::Plain(body), decision);
}

/// A response body handed to the head builder.
pub(super) enum Body<'b> {
    /// As it is (compressed here if the response is).
    Plain(&'b [u8]),
    /// Already compressed as the decision says (the file cache's copy), with the length
    /// it has uncompressed.
    Gzipped(&'b [u8], u64),
}

/// [`queue_response`] with the header filters' `decision` made by the caller (a file
/// response that looked for a compressed copy first).
pub(super) fn queue_coded<'c>(
    a: &mut Active<'c>,
    shared: &mut Shared<'c>,
    req: &mut Req<'c>,
    head: &Head<'_>,
    body: Body<'_>,
    decision: Decision,
) {
    let recoder =
        recoder(shared, req.loc, &req.charset_values, head).filter(|_| coded_body(a, head.status));
    let coded = Coded::of(decision, a, req.loc, head.status, recoder.as_ref());
    let reading = req.reading(&a.head, a.body_read(req), shared.shutting_down);
    let writing = Writing {
        finalized: req.finalized,
        delimited: if coded.frames() {
            coded.chunked || !coded_body(a, head.status)
        } else {
            head.upstream.is_none_or(|u| !u.until_close())
        },
        complete: true,
    };
    req.keepalive = head.status != 101 && keepalive::keep_alive(&reading, &writing);
    let plain = match body {
        Body::Plain(bytes) if !coded.frames() => bytes,
        _ => b"",
    };
    write_response(&mut a.out, shared, req, head, &coded, plain);
    let recoded;
    let body = match (body, recoder.clone()) {
        (Body::Plain(bytes), Some(mut r)) if !bytes.is_empty() => {
            if coded.frames() {
                // Recoded before gzip and the trailers' framing, as nginx orders them.
                let mut copy = vec![0; bytes.len().saturating_mul(4).saturating_add(16)];
                let n = r.recode(bytes, &mut copy);
                copy.truncate(n);
                recoded = copy;
                Body::Plain(&recoded)
            } else {
                let at = a.out.len() - bytes.len();
                r.recode_in_place(&mut a.out[at..]);
                Body::Plain(bytes)
            }
        }
        (Body::Plain(b""), Some(_)) if !coded.frames() => {
            // A body from its source, of the same length once recoded.
            let setup = FilterSetup {
                chunked: false,
                ..filter_setup(None, &coded, req.loc, recoder)
            };
            a.filter.start_identity(setup);
            return;
        }
        (body, _) => body,
    };
    if !coded.frames() || !coded_body(a, head.status) {
        return;
    }
    if coded.trailers {
        // The body (coded at once when gzip applies) goes out as one chunk; the filter
        // then ends it with the trailers once they are made.
        let bytes = match (body, decision.coding) {
            (Body::Plain(bytes), Coding::Identity) => bytes.to_vec(),
            (Body::Gzipped(gz, plain_len), _) => {
                a.filter.record(plain_len, gz.len() as u64);
                gz.to_vec()
            }
            (Body::Plain(bytes), Coding::Gzip(params)) if !bytes.is_empty() => {
                let mut gz = Vec::new();
                if shared
                    .compress
                    .one_shot
                    .compress(params.level, bytes, &mut gz)
                    .is_ok()
                {
                    a.filter.record(bytes.len() as u64, gz.len() as u64);
                }
                gz
            }
            (_, Coding::Gzip(params)) => {
                a.filter
                    .start(filter_setup(Some(params), &coded, req.loc, recoder));
                return;
            }
            (_, Coding::Gunzip) => {
                a.filter.start(filter_setup(None, &coded, req.loc, recoder));
                return;
            }
        };
        if !bytes.is_empty() {
            use std::io::Write;
            let _ = write!(a.out, "{:x}\r\n", bytes.len());
            a.out.extend_from_slice(&bytes);
            a.out.extend_from_slice(b"\r\n");
        }
        a.filter
            .start_identity(filter_setup(None, &coded, req.loc, recoder));
        return;
    }
    match (body, decision.coding) {
        (Body::Gzipped(gz, plain_len), _) => {
            frame_whole(&mut a.out, gz, coded.chunked);
            a.filter.record(plain_len, gz.len() as u64);
        }
        (Body::Plain(bytes), Coding::Gzip(params)) if !bytes.is_empty() => {
            let mut gz = std::mem::take(&mut shared.compress.scratch);
            gz.clear();
            match shared
                .compress
                .one_shot
                .compress(params.level, bytes, &mut gz)
            {
                Ok(_) => {
                    frame_whole(&mut a.out, &gz, coded.chunked);
                    a.filter.record(bytes.len() as u64, gz.len() as u64);
                }
                Err(e) => {
                    // The head is out; the body cannot be made: the connection closes
                    // after the head (nginx's gzip filter fails the request the same way).
                    crate::elog!(
                        crate::log::LogLevel::Alert,
                        "gzip one-shot compression failed: {}",
                        e.code
                    );
                    req.keepalive = false;
                }
            }
            gz.clear();
            shared.compress.scratch = gz;
        }
        (_, Coding::Gzip(params)) => {
            a.filter
                .start(filter_setup(Some(params), &coded, req.loc, recoder))
        }
        (_, Coding::Gunzip) => a.filter.start(filter_setup(None, &coded, req.loc, recoder)),
        (Body::Plain(bytes), Coding::Identity) if coded.resized && !bytes.is_empty() => {
            frame_whole(&mut a.out, bytes, coded.chunked);
        }
        (_, Coding::Identity) if coded.resized => a
            .filter
            .start_identity(filter_setup(None, &coded, req.loc, recoder)),
        (_, Coding::Identity) => {}
    }
}

/// Buffers of the pass-through stage that frames a body for its trailers.
const TRAILER_FRAMING_BUFFERS: (usize, usize) = (8, 8192);

/// The body filter's setup for a response coded as `coded` says (`gzip`: its parameters;
/// `None` with a coding: gunzip; `None` without one: the pass-through stage for trailers).
fn filter_setup(
    gzip: Option<crate::compress::Params>,
    coded: &Coded,
    loc: &LocSettings,
    recode: Option<Recoder>,
) -> FilterSetup {
    let (buffers, no_buffer) = match (gzip, coded.decision.coding) {
        (Some(_), _) => (loc.gzip_buffers, loc.gzip_no_buffer),
        (None, Coding::Gunzip) => (loc.gunzip_buffers, false),
        (None, _) => (TRAILER_FRAMING_BUFFERS, true),
    };
    FilterSetup {
        gzip,
        chunked: coded.chunked,
        buffers,
        no_buffer,
        trailers: coded.trailers,
        recode,
    }
}

/// Whether a response with `status` to the request of `a` carries a body at all.
fn coded_body(a: &Active<'_>, status: u16) -> bool {
    a.head.method != Method::Head && !matches!(status, 204 | 304)
}

/// Appends a whole coded body: one chunk and the last one, or the bytes as they are.
fn frame_whole(out: &mut Vec<u8>, body: &[u8], chunked: bool) {
    if !chunked {
        out.extend_from_slice(body);
        return;
    }
    if !body.is_empty() {
        use std::io::Write;
        let _ = write!(out, "{:x}\r\n", body.len());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
}

/// Appends `head` (its `Connection` as `req.keepalive` says, its other lines as `coded`
/// says) and then `body` to `out`.
fn write_response<'c>(
    out: &mut Vec<u8>,
    shared: &Shared<'c>,
    req: &mut Req<'c>,
    head: &Head<'_>,
    coded: &Coded,
    body: &[u8],
) {
    let coding = coded.decision.coding;
    let changed = coding != Coding::Identity;
    let start = out.len();
    // nginx's header filter: a 204 has no body and no Content-Type or Content-Length.
    let no_content = head.status == 204;
    match head.upstream {
        // The upstream's own reason phrase, unless an `error_page` status replaced its status.
        Some(u) if u.status() == head.status => {
            let mut digits = [0u8; 20];
            out.extend_from_slice(b"HTTP/1.1 ");
            out.extend_from_slice(format_u64(u64::from(head.status), &mut digits));
            // nginx sends the upstream's status line as it came: no reason, no space.
            if !u.reason().is_empty() {
                out.push(b' ');
                out.extend_from_slice(u.reason());
            }
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
    let charset = charset_verdict(shared, req.loc, &req.charset_values, head);
    if let Some(t) = head.content_type.filter(|_| !no_content) {
        match &charset {
            Some(v) => {
                out.extend_from_slice(b"Content-Type: ");
                v.write(out);
                out.extend_from_slice(b"\r\n");
            }
            None => push_header(out, b"Content-Type", t),
        }
    }
    if let Some(len) = head
        .content_length
        .filter(|_| !no_content && !changed && !coded.trailers && !coded.resized)
    {
        let mut digits = [0u8; 20];
        push_header(out, b"Content-Length", format_u64(len, &mut digits));
    }
    if let Some(u) = head.upstream {
        let from = out.len();
        u.write_early(out);
        if let Some(v) = charset.as_ref().filter(|_| !u.multipart()) {
            replace_content_type(out, from, v);
        }
        if changed {
            edit_upstream_lines(out, from, coding);
        } else if coded.trailers || coded.resized {
            drop_upstream_length(out, from);
        }
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
        if coded.chunked
            || (!changed
                && !coded.trailers
                && !coded.resized
                && head.upstream.is_some_and(|u| u.chunked()))
        {
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
    if coded.decision.vary && req.loc.gzip_vary {
        out.extend_from_slice(b"Vary: Accept-Encoding\r\n");
    }
    for (name, value) in head.late {
        if changed && name.eq_ignore_ascii_case(b"etag") {
            let at = out.len();
            out.extend_from_slice(name);
            out.extend_from_slice(b": ");
            if gzip::weak_etag(value, out) {
                out.extend_from_slice(b"\r\n");
            } else {
                out.truncate(at);
            }
            continue;
        }
        push_header(out, name, value);
    }
    if let Some(encoding) = head.content_encoding.filter(|_| coding != Coding::Gunzip) {
        push_header(out, b"Content-Encoding", encoding);
    }
    if let Some(u) = head.upstream {
        let from = out.len();
        u.write_rest(out, head.skip_cache);
        if changed {
            edit_upstream_lines(out, from, coding);
        }
    }
    let from = out.len();
    out.extend_from_slice(head.extra);
    if changed {
        // The fields an X-Accel-Redirect kept (`Accept-Ranges`, the file's `ETag` among
        // them) and add_header's `ETag` are the response's own to the gzip filter too.
        edit_upstream_lines(out, from, coding);
    }
    for (name, value) in head.tail {
        if (changed || coded.resized) && name.eq_ignore_ascii_case(b"accept-ranges") {
            continue;
        }
        push_header(out, name, value);
    }
    if matches!(coding, Coding::Gzip(_)) {
        out.extend_from_slice(b"Content-Encoding: gzip\r\n");
    }
    out.extend_from_slice(b"\r\n");
    req.status = response::wire_status(head.status);
    req.header_bytes = (out.len() - start) as u64;
    if !no_content {
        out.extend_from_slice(body);
    }
}

/// The charset filter's recoder for `head`'s body, if it recodes one.
pub(super) fn recoder(
    shared: &Shared<'_>,
    loc: &LocSettings,
    values: &super::charset::CharsetValues,
    head: &Head<'_>,
) -> Option<Recoder> {
    let (src, dst) = charset_verdict(shared, loc, values, head)?.recode?;
    let (map, reverse) = shared.http.charsets.table(src, dst)?;
    Some(Recoder::of(map, reverse))
}

/// The charset header filter's verdict on `head` (see `worker/charset.rs`).
fn charset_verdict<'h>(
    shared: &'h Shared<'_>,
    loc: &'h LocSettings,
    values: &'h super::charset::CharsetValues,
    head: &'h Head<'_>,
) -> Option<super::charset::Verdict<'h>> {
    if matches!(loc.charset, crate::config::charset::CharsetSel::Off)
        && head.accel_charset.is_none()
    {
        return None;
    }
    let (content_type, encoding) = match head.upstream {
        Some(u) => (u.header("content-type"), u.header("content-encoding")),
        None => (head.content_type, head.content_encoding),
    };
    let facts = super::charset::Facts {
        status: head.status,
        content_type: content_type?,
        encoded: encoding.is_some_and(|e| !e.is_empty()),
        override_charset: head.accel_charset,
    };
    super::charset::decide(loc, &shared.http.charsets, values, &facts)
}

/// Replaces the value of the `Content-Type` line written from `from` with the charset
/// filter's.
fn replace_content_type(out: &mut Vec<u8>, from: usize, v: &super::charset::Verdict<'_>) {
    let mut at = from;
    while at < out.len() {
        let end = memchr::memchr(b'\n', &out[at..]).map_or(out.len(), |i| at + i + 1);
        let line = &out[at..end];
        let name_end = memchr::memchr(b':', line).map_or(line.len(), |i| i);
        if line[..name_end].eq_ignore_ascii_case(b"content-type") {
            let mut value_at = at + name_end + 1;
            while out.get(value_at) == Some(&b' ') {
                value_at += 1;
            }
            let value_end = if out[..end].ends_with(b"\r\n") {
                end - 2
            } else {
                end
            };
            let value_end = value_end.max(value_at);
            let charset = v.charset.unwrap_or_default();
            let sep: &[u8] = if v.charset.is_some() {
                b"; charset="
            } else {
                b""
            };
            let replacement = v.mime.iter().chain(sep).chain(charset).copied();
            out.splice(value_at..value_end, replacement);
            return;
        }
        at = end;
    }
}

/// The head of a proxied response, from the upstream's (see [`Head::upstream`]): the
/// status (an `error_page`'s replaces the upstream's, as nginx's `r->err_status`), the
/// upstream's header lines, then `expires` and `add_header` as for every response.
pub(super) fn queue_upstream_head(
    rq: &mut Rq<'_, '_>,
    facts: crate::upstream::protocol::HeadFacts,
) {
    lay_out_multipart(rq);
    let loc = rq.req.loc;
    // What the client is told: a `proxy_force_ranges` part is a 206 whatever the upstream
    // answered.
    let upstream_status = {
        use crate::upstream::protocol::ClientHeaders;
        rq.a.upstream
            .proto
            .client_head(rq.a.upstream.head_bytes(), loc)
            .status()
    };
    let status = match rq.route.err_status {
        Some(code) if code != facts.status && !facts.upgrade => code,
        _ => upstream_status,
    };
    // `expires modified` counts from the upstream's Last-Modified (parsed only for it).
    let loc = rq.req.loc;
    let modified = loc.expires_script.is_some()
        || matches!(
            loc.expires,
            expires::Expires::Duration { modified: true, .. }
        );
    let mtime = if modified {
        rq.a.upstream
            .proto
            .header(rq.a.upstream.head_bytes(), "last-modified")
            .and_then(crate::http::date::parse_http_date_secs)
    } else {
        None
    };
    // The upstream's own Location replaces one kept from a redirect before an error page.
    if rq
        .a
        .upstream
        .proto
        .header(rq.a.upstream.head_bytes(), "location")
        .is_some()
    {
        rq.route.redirect_location.clear();
    }
    let mut extra = Vec::new();
    evaluate_charset(rq);
    let skip_cache = write_extra_headers(rq, status, mtime, &mut extra);
    let a = &mut *rq.a;
    let view = a.upstream.proto.client_head(a.upstream.head_bytes(), loc);
    let head = Head {
        status,
        extra: &extra,
        upstream: Some(&view),
        accel_charset: accel_charset(&a.upstream, loc),
        skip_cache,
        ..Head::default()
    };
    let decision = if facts.upgrade {
        Decision::default()
    } else {
        head.coding(a, loc, false)
    };
    let recoder = recoder(rq.shared, loc, &rq.req.charset_values, &head)
        .filter(|_| coded_body(a, status) && !facts.upgrade);
    let coded = Coded::of(decision, a, loc, status, recoder.as_ref());
    let req = &mut *rq.req;
    let reading = req.reading(&a.head, a.body_read(req), rq.shared.shutting_down);
    let writing = Writing {
        finalized: req.finalized,
        delimited: if coded.frames() {
            coded.chunked || !coded_body(a, status)
        } else {
            !view.until_close()
        },
        complete: true,
    };
    req.keepalive = !facts.upgrade && keepalive::keep_alive(&reading, &writing);
    // A body of unknown length the writer frames in chunks (nginx's chunked filter),
    // unless the body filter changes it and frames it itself.
    let chunked = view.frames_chunks() && view.chunked();
    let mut out = std::mem::take(&mut a.out);
    write_response(&mut out, rq.shared, req, &head, &coded, b"");
    a.out = out;
    let recode = recoder;
    let filtered = coded.frames() && coded_body(a, status);
    a.chunks = super::conn::Chunks::framing(chunked && !filtered && recode.is_none());
    if recode.is_some() && !filtered {
        // An 8-bit table keeps the length: the filter frames the body as the upstream's
        // head said.
        crate::upstream::Protocol::unframe(&mut a.upstream.proto);
        let setup = FilterSetup {
            chunked,
            ..filter_setup(None, &coded, loc, recode.clone())
        };
        a.filter.start_identity(setup);
    }
    if filtered {
        // The filter frames the body: the upstream's framing goes entirely.
        crate::upstream::Protocol::unframe(&mut a.upstream.proto);
        match decision.coding {
            Coding::Gzip(params) => a
                .filter
                .start(filter_setup(Some(params), &coded, loc, recode)),
            Coding::Gunzip => a.filter.start(filter_setup(None, &coded, loc, recode)),
            Coding::Identity => a
                .filter
                .start_identity(filter_setup(None, &coded, loc, recode)),
        }
    }
}

/// Lays out the multipart answer to several ranges of a cache hit (see
/// `Http1::multipart_ranges`), in memory or around the entry's file: each part says the
/// type the charset filter gives the response, as nginx's range filter (which runs after
/// the charset filter) writes it.
fn lay_out_multipart(rq: &mut Rq<'_, '_>) {
    use super::backend::Backend;
    use crate::upstream::protocol::ClientHeaders;
    let Backend::Http(proto) = &mut rq.a.upstream.proto else {
        return;
    };
    let Some((ranges, total)) = proto.multipart_ranges.take() else {
        return;
    };
    evaluate_charset(rq);
    let loc = rq.req.loc;
    let part_type = {
        let a = &*rq.a;
        let view = a.upstream.proto.client_head(a.upstream.head_bytes(), loc);
        let head = Head {
            status: view.status(),
            upstream: Some(&view),
            accel_charset: accel_charset(&a.upstream, loc),
            ..Head::default()
        };
        match charset_verdict(rq.shared, loc, &rq.req.charset_values, &head) {
            Some(v) => {
                let mut t = Vec::new();
                v.write(&mut t);
                t
            }
            None => view.header("content-type").unwrap_or_default().to_vec(),
        }
    };
    let layout = super::multipart::Multipart::new(&ranges, total, &part_type);
    let (length, content_type) = (layout.length, layout.content_type.clone());
    let upstream = &mut rq.a.upstream;
    match upstream.cached_body().map(|body| layout.body_from(body)) {
        Some(Some(parts)) => upstream.replace_cached_body(&parts),
        Some(None) => return,
        None => {
            let (parts, trailer) = layout.into_parts();
            upstream.split_cached_file(parts, trailer);
        }
    }
    if let Backend::Http(proto) = &mut upstream.proto {
        proto.multipart_type = content_type;
        proto.ranged = crate::proxy::ranges::Ranged::Multi { length };
    }
}

/// The upstream's `X-Accel-Charset` (not empty), unless `*_ignore_headers` ignores it.
fn accel_charset<'h>(
    upstream: &'h crate::upstream::Upstream<'_, super::backend::Backend>,
    loc: &LocSettings,
) -> Option<&'h [u8]> {
    use super::backend::Backend;
    let buf = upstream.head_bytes();
    let (lines, ignore) = match &upstream.proto {
        Backend::Http(h) => (h.head.accel_lines(), loc.proxy_ignore_headers),
        Backend::Gateway(g) => (&g.head.headers[..], g.module.conf(loc).ignore_headers()),
    };
    crate::proxy::accel::charset(lines, buf, ignore).filter(|v| !v.is_empty())
}

/// Whether gzip or gunzip will change the body of the upstream response whose head `a`
/// holds. nginx's range filter runs after them and leaves a body of unknown length alone,
/// so `proxy_force_ranges` does not apply to such a response (no 206, 416 or
/// `Accept-Ranges`).
pub(super) fn upstream_body_coded(a: &Active<'_>, loc: &LocSettings) -> bool {
    if !loc.gzip && !loc.gunzip {
        return false;
    }
    use crate::upstream::protocol::ClientHeaders;
    let view = a.upstream.proto.client_head(a.upstream.head_bytes(), loc);
    let head = Head {
        status: view.status(),
        upstream: Some(&view),
        ..Head::default()
    };
    head.coding(a, loc, false).coding != Coding::Identity
}

/// Edits the upstream's header lines written from `from` for a body the filter changes:
/// no `Content-Length` or `Accept-Ranges`, a weak `ETag` (nginx's `ngx_http_clear_*` and
/// `ngx_http_weak_etag`), and for gunzip no `Content-Encoding`. In place: lines dropped
/// are closed up, `W/` is inserted.
/// The upstream's `Content-Length` line goes: trailers make the body chunked (nginx's
/// `ngx_http_clear_content_length`).
fn drop_upstream_length(out: &mut Vec<u8>, from: usize) {
    let mut at = from;
    while at < out.len() {
        let end = memchr::memchr(b'\n', &out[at..]).map_or(out.len(), |i| at + i + 1);
        if out[at..end]
            .get(..15)
            .is_some_and(|n| n.eq_ignore_ascii_case(b"content-length:"))
        {
            out.drain(at..end);
            continue;
        }
        at = end;
    }
}

fn edit_upstream_lines(out: &mut Vec<u8>, from: usize, coding: Coding) {
    let mut at = from;
    while at < out.len() {
        let end = memchr::memchr(b'\n', &out[at..]).map_or(out.len(), |i| at + i + 1);
        let line = &out[at..end];
        let name_end = memchr::memchr(b':', line).map_or(line.len(), |i| i);
        let name = &line[..name_end];
        let is = |n: &[u8]| name.eq_ignore_ascii_case(n);
        if is(b"content-length")
            || is(b"accept-ranges")
            || (coding == Coding::Gunzip && is(b"content-encoding"))
        {
            out.drain(at..end);
            continue;
        }
        if is(b"etag") {
            let value = line[name_end..]
                .strip_prefix(b":")
                .unwrap_or_default()
                .trim_ascii();
            let value_at = at + (value.as_ptr() as usize - line.as_ptr() as usize);
            if value.starts_with(b"W/") && value.len() > 2 {
                // Weak already.
            } else if value.starts_with(b"\"") {
                out.splice(value_at..value_at, *b"W/");
                at = end + 2;
                continue;
            } else {
                out.drain(at..end);
                continue;
            }
        }
        at = end;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn edited(lines: &str, coding: Coding) -> String {
        let mut out = b"HEAD\r\n".to_vec();
        out.extend_from_slice(lines.as_bytes());
        edit_upstream_lines(&mut out, 6, coding);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn upstream_lines_lose_length_and_ranges_and_get_a_weak_etag() {
        let gzip = Coding::Gzip(crate::compress::Params {
            level: 1,
            wbits: 15,
            memlevel: 8,
        });
        let lines = "Content-Length: 5\r\nETag: \"abc\"\r\nX-A: 1\r\nAccept-Ranges: bytes\r\n\
                     Content-Encoding: gzip\r\n";
        assert_eq!(
            edited(lines, gzip),
            "HEAD\r\nETag: W/\"abc\"\r\nX-A: 1\r\nContent-Encoding: gzip\r\n"
        );
        assert_eq!(
            edited(lines, Coding::Gunzip),
            "HEAD\r\nETag: W/\"abc\"\r\nX-A: 1\r\n"
        );
        assert_eq!(
            edited("ETag: W/\"x\"\r\netag: bare\r\n", gzip),
            "HEAD\r\nETag: W/\"x\"\r\n"
        );
    }
}
