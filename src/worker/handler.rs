//! From a parsed request head to a queued response: virtual server choice, URI
//! normalisation and body handling, then nginx's phases ([`super::phases`]), whose answers
//! are written by [`super::response_head`]; and the access log.

use super::Shared;
use super::conn::{self, Active, BodyRead, ClientBody, Conn, Req, Sink, Step};
use super::phases::{self, Handled, Rq};
use super::request_vars::ConnInfo;
pub(super) use super::response_head::{
    Head, extra_headers, queue_coded, queue_error, queue_response, queue_standard_page,
    upstream_body_coded,
};
use crate::client_addr::ClientAddr;
use crate::config::ListenAddr;
use crate::elog;
use crate::http::request::HttpError;
use crate::http::uri;
use crate::log::LogLevel;
use crate::log::context::RequestContext;
use crate::router::{self, AddrServers};

/// A head was parsed (`head_len` bytes): route it and queue the response.
pub(super) fn start_request<'c>(
    c: &mut Conn<'c>,
    shared: &mut Shared<'c>,
    servers: &AddrServers,
    head_len: usize,
) -> Step {
    // getsockname(2) only where the listen address does not say it.
    let local = match &servers.addr {
        ListenAddr::Inet(a) if a.ip().is_unspecified() => c.local_addr().map(ListenAddr::Inet),
        addr => Some(addr.clone()),
    };
    c.requests += 1;
    let pipeline = std::mem::take(&mut c.pipeline);
    let plain_on_tls = c.plain_on_tls;
    // Values taken during a 0-RTT request are taken again once the handshake is over.
    if c.tls_vars.as_ref().is_none_or(|v| v.early_data) {
        // What `ssl_ocsp` found stays with the connection.
        let ocsp = c.tls_vars.as_ref().and_then(|v| v.ocsp.get());
        c.tls_vars = None;
        if let Some(v) = c.tls_vars() {
            v.ocsp.set(ocsp);
        }
    }
    let mut conn = ConnInfo::of(c);
    conn.local = local.clone();
    conn.request_id = super::request_vars::new_request_id();
    let (Some(a), ..) = c.parts() else {
        return Step::Close;
    };
    let out_before = a.out.len();
    let http = shared.http;
    let buf = &a.buf[a.start..a.filled];
    let host = a.head.host.map(|h| h.get(buf));
    let mut route = std::mem::take(&mut a.route);
    route.clear_matches(http.user_vars.len());
    let state = router::MatchState {
        captures: &mut route.script.captures,
        values: &mut route.script.user,
    };
    let server = match router::select_server(http, servers, host, state) {
        Ok(i) => &http.servers[i],
        Err(line) => {
            // nginx closes the request without an answer (ngx_http_close_request).
            elog!(
                LogLevel::Alert,
                "*{} {line}, client: {}{}",
                conn.id,
                conn.peer.ip(),
                RequestContext::of(buf, &a.head)
            );
            a.route = route;
            return Step::Close;
        }
    };

    let loc = &*server.loc;
    crate::log::use_request_logs(&loc.error_log);
    super::debug_log::request_head(conn.id, buf, &a.head);
    let mut req = Req {
        sequence: conn.requests,
        pipeline,
        ..Req::new(shared.now, server, loc, head_len)
    };
    // `$upstream_*` belong to this request's tries only.
    a.proxied = false;
    route.local = local.clone();
    route.request_id = conn.request_id;
    a.uri.clear();
    if let Err(e) = uri::normalize(a.head.path.get(buf), server.srv.merge_slashes, &mut a.uri) {
        elog!(
            LogLevel::Info,
            "*{} client sent invalid request while reading client request line, client: {}, server: {}{}",
            conn.id,
            conn.peer.ip(),
            server.first_name(),
            RequestContext::line(a.head.request_line.get(buf))
        );
        route.reset(b"", None);
        a.route = route;
        queue_standard_page(a, shared, &mut req, e.status(), b"");
        return queued(a, req, out_before);
    }
    let raw_path = a.head.path.get(buf);
    let query = a.head.query.map(|q| q.get(buf));
    route.reset(&a.uri, query);
    // nginx's ngx_http_process_request refuses a request before its phases: a plain
    // request on a TLS address is 497, a client chain that failed verification 495, a
    // required one not sent 496, a Host other than the SNI name 421 (each a 400-class
    // page of its own, or the server's `error_page`); the connection closes after it.
    let refused = if plain_on_tls {
        Some((
            497,
            "client sent plain HTTP request to HTTPS port".to_string(),
        ))
    } else if conn.http2.is_some() && !servers.listen_http2 && !server.srv.http2 {
        // The Host chose a server with `http2 off` on an HTTP/2 connection (nginx 1.25).
        Some((
            421,
            "client attempted to request the server name for which the negotiated \
             protocol is disabled"
                .to_string(),
        ))
    } else {
        client_cert_refusal(server, &conn, host).map(|status| {
            let why = match status {
                495 => match conn
                    .tls
                    .as_deref()
                    .map(|t| (t.verified.get(), t.ocsp_failure()))
                {
                    Some((Some(crate::tls::Verified::Failed(reason)), _)) => {
                        format!("client SSL certificate verify error: ({reason})")
                    }
                    // nginx's words for an OCSP failure have no parentheses.
                    Some((_, Some(reason))) => {
                        format!("client SSL certificate verify error: {reason}")
                    }
                    _ => "client SSL certificate verify error".to_string(),
                },
                421 => "client attempted to request the server name different from the one \
                        that was negotiated"
                    .to_string(),
                _ => "client sent no required SSL certificate".to_string(),
            };
            (status, why)
        })
    };
    if let Some((status, why)) = refused {
        elog!(
            LogLevel::Info,
            "*{} {} while reading client request headers, client: {}, server: {}{}",
            conn.id,
            why,
            conn.peer.ip(),
            server.first_name(),
            RequestContext::of(buf, &a.head)
        );
        a.body = None;
        req.lingering = true;
        let handled = phases::run_error_page(
            &mut Rq {
                a,
                shared,
                req: &mut req,
                route: &mut route,
                conn: &mut conn,
            },
            status,
        );
        return after_phases(a, req, route, handled, out_before, shared.now);
    }
    route.script.computed.reset(&http.computed);
    route.script.quoted_uri = raw_path.iter().any(|&b| b == b'%' || b == b'+');

    // Until a handler reads it, a body is to be discarded (nginx's discard filter).
    a.body = ClientBody::of(&a.head, Sink::Discard);
    // Body bytes that came with the head are checked before answering, as nginx's
    // discard filter does: a malformed chunked body is a 400, not a 200 and a reset.
    if let Some(reader) = a.body.as_mut() {
        let body = &a.buf[a.start + head_len..a.filled];
        match conn::consume_body(&mut reader.framing, body) {
            Ok((used, done)) => {
                req.body_in_buf = used;
                req.body_read = used as u64;
                if done {
                    a.body = None;
                }
            }
            Err(e) => {
                let buf = &a.buf[a.start..a.filled];
                elog!(
                    LogLevel::Error,
                    "*{} {}, client: {}, server: {}{}",
                    conn.id,
                    e.log_message(),
                    conn.peer.ip(),
                    server.first_name(),
                    RequestContext::of(buf, &a.head)
                );
                a.body = None;
                req.body = BodyRead::Abandoned;
                req.lingering = true;
                a.route = route;
                queue_standard_page(a, shared, &mut req, e.status(), b"");
                return queued(a, req, out_before);
            }
        }
    }

    let handled = phases::run(&mut Rq {
        a,
        shared,
        req: &mut req,
        route: &mut route,
        conn: &mut conn,
    });
    after_phases(a, req, route, handled, out_before, shared.now)
}

/// The request ends with `status` and no response of its own (an upstream that failed or
/// whose status is intercepted for `error_page`, a body that could not be read): the
/// routing engine's error-page handling (internal redirect, named location, `=CODE`,
/// external redirect) or nginx's standard page answers, as nginx finalizes a request with
/// a status.
pub(super) fn finalize_with_status<'c>(
    c: &mut Conn<'c>,
    shared: &mut Shared<'c>,
    status: u16,
) -> Step {
    go_on(c, shared, |rq| {
        rq.route.body_taken = true;
        phases::run_error_page(rq, status)
    })
}

/// A request `limit_req` delayed: its delay is over, the phases go on.
pub(super) fn resume_delayed<'c>(
    c: &mut Conn<'c>,
    shared: &mut Shared<'c>,
    _servers: &AddrServers,
) -> Step {
    go_on(c, shared, phases::resume_delayed)
}

/// The `auth_request` subrequest is done: the access phase goes on.
pub(super) fn resume_access<'c>(c: &mut Conn<'c>, shared: &mut Shared<'c>) -> Step {
    go_on(c, shared, phases::resume_access)
}

/// The body the mirrors wait for is read: the content phase goes on.
pub(super) fn resume_content<'c>(c: &mut Conn<'c>, shared: &mut Shared<'c>) -> Step {
    go_on(c, shared, phases::resume_content)
}

/// The request is done: its `post_action`, if any, starts (as a background subrequest the
/// connection waits for).
pub(super) fn start_post_action<'c>(c: &mut Conn<'c>, shared: &mut Shared<'c>) {
    with_request(
        c,
        shared,
        super::subrequest::post_action::start,
        |a, req, route, (), _, _| {
            a.route = route;
            a.req = Some(req);
        },
    );
}

/// An upstream's response head arrived: the client's head is built from it (the one head
/// builder, with `add_header`, `expires` and the keep-alive decision) and queued. `None`:
/// the connection goes on with the body.
pub(super) fn queue_upstream_head<'c>(
    c: &mut Conn<'c>,
    shared: &mut Shared<'c>,
    facts: crate::upstream::protocol::HeadFacts,
) -> Option<Step> {
    let queued = with_request(
        c,
        shared,
        |rq| super::response_head::queue_upstream_head(rq, facts),
        |a, mut req, mut route, (), out_before, _| {
            req.bytes_sent += req.header_bytes;
            let head_end = (out_before + req.header_bytes as usize).min(a.out.len());
            route.keep_sent_head(req.loc, &a.out[out_before.min(head_end)..head_end]);
            a.route = route;
            a.req = Some(req);
        },
    );
    queued.is_none().then_some(Step::Close)
}

/// `X-Accel-Redirect`: the upstream's response was dropped; the request goes on to its
/// target through the routing phases, with the fields nginx keeps from the upstream's head
/// (`Content-Type`, `Set-Cookie`, ...) for the final response.
pub(super) fn upstream_redirect<'c>(
    c: &mut Conn<'c>,
    shared: &mut Shared<'c>,
    redirect: crate::proxy::accel::Redirect,
) -> Step {
    go_on(c, shared, |rq| {
        rq.route.body_taken = true;
        rq.route.upstream_content_type = redirect.content_type;
        rq.route.upstream_headers = redirect.headers;
        phases::run_accel_redirect(rq, &redirect.target)
    })
}

/// `proxy_force_ranges`: the upstream's response cannot serve the requested range; the
/// response was dropped and the request answers 416 with `Content-Range: bytes */TOTAL`.
pub(super) fn answer_unsatisfiable<'c>(
    c: &mut Conn<'c>,
    shared: &mut Shared<'c>,
    total: u64,
) -> Step {
    go_on(c, shared, |rq| {
        super::file_response::unsatisfiable(rq, total);
        Handled::Answered
    })
}

/// The request under way on `c` (`None`: there is none), its routing state taken out of
/// the connection as while the phases run: `step` works on it, then `finish` gets it back
/// with what `step` returned, where the output buffer stood before, and the time.
fn with_request<'c, T, U>(
    c: &mut Conn<'c>,
    shared: &mut Shared<'c>,
    step: impl FnOnce(&mut Rq<'_, 'c>) -> T,
    finish: impl FnOnce(&mut Active<'c>, Req<'c>, phases::Route<'c>, T, usize, std::time::Instant) -> U,
) -> Option<U> {
    let mut conn = ConnInfo::of(c);
    let (Some(a), ..) = c.parts() else {
        return None;
    };
    let mut req = a.req.take()?;
    let out_before = a.out.len();
    let mut route = std::mem::take(&mut a.route);
    let value = step(&mut Rq {
        a,
        shared,
        req: &mut req,
        route: &mut route,
        conn: &mut conn,
    });
    Some(finish(a, req, route, value, out_before, shared.now))
}

/// [`with_request`] for a step that ends as the phases do ([`after_phases`]); a
/// connection without a request closes.
fn go_on<'c>(
    c: &mut Conn<'c>,
    shared: &mut Shared<'c>,
    step: impl FnOnce(&mut Rq<'_, 'c>) -> Handled,
) -> Step {
    with_request(c, shared, step, after_phases).unwrap_or(Step::Close)
}

/// After the phases: the final URI and the response head kept for later readers, then the
/// request goes to the proxy or to the connection's writer.
fn after_phases<'c>(
    a: &mut Active<'c>,
    mut req: Req<'c>,
    mut route: phases::Route<'c>,
    handled: Handled,
    out_before: usize,
    now: std::time::Instant,
) -> Step {
    match handled {
        Handled::Delayed(delay) => {
            // Nothing is queued yet: the request waits in the connection (`State::Delayed`).
            a.route = route;
            a.req = Some(req);
            return Step::Delay(now + delay);
        }
        Handled::AwaitAuth => {
            a.route = route;
            a.req = Some(req);
            return Step::AwaitAuth;
        }
        Handled::ReadBody => {
            // The body is read from its first byte, as for the proxy.
            a.body = None;
            req.body_in_buf = 0;
            req.body_read = 0;
            a.route = route;
            a.req = Some(req);
            return Step::ReadBody;
        }
        Handled::Answered | Handled::Proxy => {}
    }
    // The final URI, for whoever reads `Active::uri` later (the proxy, the access log).
    // `set $args` counts too (nginx then sends the new arguments upstream).
    let buf = &a.buf[a.start..a.filled];
    let query = a.head.query.map(|q| q.get(buf)).filter(|q| !q.is_empty());
    route.uri_rewritten |= route.script.uri != a.uri || route.script.args.as_deref() != query;
    a.uri.clear();
    a.uri.extend_from_slice(&route.script.uri);
    // The response head, for `$sent_http_*` in the access log once it has left the output
    // buffer.
    let head_end = (out_before + req.header_bytes as usize).min(a.out.len());
    route.keep_sent_head(req.loc, &a.out[out_before.min(head_end)..head_end]);
    let route_body_taken = route.body_taken;
    a.route = route;
    if handled == Handled::Proxy {
        // The proxy forwards the body itself (from its first byte) and answers when the
        // upstream does; after an intercepted error the body was read already.
        a.body = None;
        if !route_body_taken {
            req.body_in_buf = 0;
            req.body_read = 0;
        }
        a.req = Some(req);
        return Step::Proxy;
    }
    // nginx answers `Expect: 100-continue` where a handler discards the body
    // (ngx_http_test_expect): the static, autoindex and `return` handlers on their way to a
    // 2xx or 304, even when no body follows. Error answers go out without it (the special
    // response handler marks the expectation tested), and 444 sends nothing at all.
    if a.head.expect_continue && matches!(req.status, 200..=299 | 304) && a.out.len() > out_before {
        a.out.splice(
            out_before..out_before,
            crate::http::response::CONTINUE.iter().copied(),
        );
    }
    queued(a, req, out_before)
}

/// `client_max_body_size` of the request's current settings: false (the caller answers
/// 413) when the declared body is larger.
pub(super) fn body_size_ok(rq: &mut Rq<'_, '_>) -> bool {
    let limit = rq.req.loc.client_max_body_size;
    match rq.a.head.content_length {
        Some(len) if limit > 0 && len > limit => {
            phases::log_error(
                rq,
                LogLevel::Error,
                &format!("client intended to send too large body: {len} bytes"),
            );
            rq.req.lingering = true;
            false
        }
        _ => true,
    }
}

/// Hands the request to the connection. Bytes queued in the output buffer count as sent
/// (they leave in order with the next write); file bytes are counted as they go out.
fn queued<'c>(a: &mut Active<'c>, mut req: Req<'c>, out_before: usize) -> Step {
    req.bytes_sent = (a.out.len() - out_before) as u64;
    a.req = Some(req);
    Step::Again
}

/// The head could not be parsed: answer with nginx's status and close.
pub(super) fn reject_request<'c>(
    c: &mut Conn<'c>,
    shared: &mut Shared<'c>,
    servers: &AddrServers,
    e: HttpError,
) -> Step {
    let peer = c.peer;
    let conn_id = c.id;
    c.requests += 1;
    let server = &shared.http.servers[servers.default];
    let status = e.status();
    // nginx finalizes even an unparsable request with its status, so an `error_page` of
    // the default server answers it, and its `add_header ... always` lines apply.
    let error_page = server.loc.error_page_for(status).is_some();
    let routed = error_page || server.loc.add_header.iter().any(|h| h.always);
    let error_page = routed.then(|| {
        if c.tls_vars.is_none() {
            c.tls_vars();
        }
        let mut conn = ConnInfo::of(c);
        // `$ssl_client_verify` of the handshake (OpenSSL's verify result in nginx).
        if let (Some(tls), Some(trust)) = (
            conn.tls.as_deref(),
            server.tls.as_ref().and_then(|t| t.client_trust.as_ref()),
        ) {
            tls.verify(trust);
        }
        conn.local = match &servers.addr {
            ListenAddr::Inet(_) => c.local_addr().map(ListenAddr::Inet),
            unix => Some(unix.clone()),
        };
        conn
    });
    let (Some(a), ..) = c.parts() else {
        return Step::Close;
    };
    let out_before = a.out.len();
    if crate::log::enabled(LogLevel::Info) {
        let buf = &a.buf[a.start..a.filled];
        let mut msg = String::with_capacity(128);
        e.write_log_message(buf, &mut msg);
        let stage = if a.head.request_line.is_empty() {
            "request line"
        } else {
            "request headers"
        };
        elog!(
            LogLevel::Info,
            "*{conn_id} {msg} while reading client {stage}, client: {}, server: {}{}",
            peer.ip(),
            server.first_name(),
            RequestContext::of(buf, &a.head)
        );
    }
    let mut req = Req {
        lingering: true,
        ..Req::new(shared.now, server, &server.loc, a.filled - a.start)
    };
    // nginx answers a HEAD without the page even when the rest of the head was bad: it
    // knows the method once the space after it was read, before the line fails.
    let method = if a.head.request_line.is_empty() {
        method_before_bad_line(&a.buf[a.start..a.filled])
    } else {
        a.head.method
    };
    a.head.clear();
    a.head.method = method;
    a.body = None;
    a.route.clear_matches(0);
    a.route.reset(b"", None);
    if let Some(mut conn) = error_page {
        let mut route = std::mem::take(&mut a.route);
        route.local = conn.local.clone();
        let rq = &mut Rq {
            a,
            shared,
            req: &mut req,
            route: &mut route,
            conn: &mut conn,
        };
        if server.loc.error_page_for(status).is_some() {
            let handled = phases::run_error_page(rq, status);
            return after_phases(a, req, route, handled, out_before, shared.now);
        }
        super::response_head::queue_error(rq, status);
        a.route = route;
        return queued(a, req, out_before);
    }
    queue_standard_page(a, shared, &mut req, status, b"");
    queued(a, req, out_before)
}

/// The method of a request line that failed to parse, as nginx records it: the name
/// before the first space (leading empty lines skipped), `Other` when no space was read.
fn method_before_bad_line(buf: &[u8]) -> crate::http::request::Method {
    use crate::http::request::Method;
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let line = &buf[start..];
    match line.iter().position(|&b| b == b' ') {
        Some(end) => Method::from_bytes(&line[..end]),
        None => Method::Other,
    }
}

/// Formats `n` in decimal into `buf`, returning the digits.
pub fn format_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// The request line (for logs): the head's first line without its CRLF.
pub fn request_line(buf: &[u8], head_len: usize) -> &[u8] {
    let head = &buf[..head_len.min(buf.len())];
    let head = match head.iter().position(|&b| b != b'\r' && b != b'\n') {
        Some(i) => &head[i..],
        None => head,
    };
    let end = memchr::memchr(b'\n', head).unwrap_or(head.len());
    let line = &head[..end];
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Writes the access-log lines for a finished request.
pub(super) fn log_request<'c>(c: &Conn<'c>, shared: &mut Shared<'c>, req: &Req<'c>) {
    count_in_status_zones(shared, req);
    if let Some(a) = c.active() {
        super::debug_log::finalize(c.id, req.status, &a.uri);
    }
    if req.loc.access_log.is_empty() {
        return;
    }
    let Some(a) = c.active() else { return };
    let mut line = std::mem::take(&mut shared.scratch);
    let mut conn = ConnInfo::of(c);
    if let Some(addr) = req.admission.realip {
        conn.peer = ClientAddr::Inet(addr);
    }
    let vars = a.vars(&conn, req, shared);
    for log in &req.loc.access_log {
        super::access_log::write(&vars, log, &mut line);
    }
    phases::log_cycle_while_logging(&conn, a, req.server);
    line.clear();
    shared.scratch = line;
}

/// Counts the ended request in its server's and its final location's `status_zone`s.
fn count_in_status_zones(shared: &Shared<'_>, req: &Req<'_>) {
    let blocks = &shared.http.status_zone_blocks;
    let block = |i: Option<usize>| i.and_then(|i| blocks.get(i).copied().flatten());
    let (server, location) = (
        block(req.server.srv.status_zone),
        block(req.loc.status_zone),
    );
    if server.is_none() && location.is_none() {
        return;
    }
    let received = req.head_len as u64 + req.body_read;
    let time_ms = shared
        .now
        .saturating_duration_since(req.started)
        .as_millis() as u64;
    for base in [server, location].into_iter().flatten() {
        crate::status::zones::count(base, req.status, received, req.bytes_sent, time_ms);
    }
}

/// nginx's client-certificate check of a request on a TLS connection (the request's
/// server's `ssl_verify_client`): 495 for a chain that failed verification (with
/// `optional_no_ca`, only for reasons other than an unknown issuer), 496 for `on` without
/// a certificate; 421 where `Host` names another server than the handshake's SNI did
/// (the certificate was checked for that one).
fn client_cert_refusal(
    server: &crate::config::ServerConf,
    conn: &ConnInfo,
    host: Option<&[u8]>,
) -> Option<u16> {
    use crate::tls::{Verified, VerifyClient};
    let trust = server.tls.as_ref()?.client_trust.as_ref()?;
    let tls = conn.tls.as_deref()?;
    if let (Some(sni), Some(host)) = (tls.server_name.as_deref(), host) {
        // The name without its port (an IPv6 literal keeps its brackets).
        let end = if host.starts_with(b"[") {
            host.iter()
                .position(|&b| b == b']')
                .map_or(host.len(), |i| i + 1)
        } else {
            host.iter().position(|&b| b == b':').unwrap_or(host.len())
        };
        let name = host.get(..end).unwrap_or(host);
        let name = name.strip_suffix(b".").unwrap_or(name);
        if !name.eq_ignore_ascii_case(sni.as_bytes()) {
            return Some(421);
        }
    }
    match tls.verify(trust) {
        // The chain verified; the `ssl_ocsp` checks (of the handshake's server) may still
        // fail it.
        Verified::Success => tls.ocsp_failure().map(|_| 495),
        Verified::None => (trust.mode == VerifyClient::On).then_some(496),
        Verified::Failed(reason) => (trust.mode != VerifyClient::OptionalNoCa
            || !crate::tls::error_optional(reason))
        .then_some(495),
    }
}
