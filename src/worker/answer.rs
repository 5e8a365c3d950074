//! Answers the phases give without a content handler: `return CODE TEXT`, redirects
//! (`return 3xx`, `rewrite ... redirect|permanent`, a directory without its slash), with
//! nginx's `Location` completion.

use super::handler::{self, Head};
use super::phases::{Next, Rq};
use crate::http::request::Method;

/// Answers `code` with `Location` (made absolute when it starts with `/` and
/// `absolute_redirect` is on) and nginx's page for the code as the body.
pub(super) fn redirect(rq: &mut Rq<'_, '_>, code: u16, location: &[u8]) {
    // A new redirect replaces one kept from before an error page.
    rq.route.redirect_location.clear();
    if rq.req.loc.msie_refresh && matches!(code, 301 | 302) && super::phases::browser(rq).msie {
        refresh(rq, location);
        return;
    }
    let mut value = Vec::with_capacity(location.len() + 32);
    // nginx's header filter writes a relative Location it completes itself before
    // `Connection`; one that was absolute already stays in the header list, after it.
    let completed = location.starts_with(b"/") && rq.req.loc.absolute_redirect;
    if completed {
        absolute_prefix(rq, &mut value);
    }
    value.extend_from_slice(location);
    let header: [(&[u8], &[u8]); 1] = [(b"Location", &value)];
    let page = crate::http::response::error_page(code, rq.req.loc.server_tokens);
    let extra = handler::extra_headers(rq, code, None);
    let body = if rq.a.head.method == Method::Head {
        b"" as &[u8]
    } else {
        page.unwrap_or(b"")
    };
    handler::queue_response(
        rq.a,
        rq.shared,
        rq.req,
        &Head {
            status: code,
            content_type: page.map(|_| b"text/html" as &[u8]),
            content_length: page.map(|p| p.len() as u64),
            early: if completed { &header } else { &[] },
            late: if completed { &[] } else { &header },
            extra: &extra,
            ..Head::default()
        },
        body,
    );
}

/// `msie_refresh on`: MSIE gets a 200 page that refreshes to the location (as given, not
/// made absolute), nginx's `ngx_http_send_refresh`.
fn refresh(rq: &mut Rq<'_, '_>, location: &[u8]) {
    let mut body = Vec::with_capacity(location.len() + 96);
    body.extend_from_slice(b"<html><head><meta http-equiv=\"Refresh\" content=\"0; URL=");
    crate::http::uri::escape_refresh(location, &mut body);
    body.extend_from_slice(b"\"></head><body></body></html>\r\n");
    let extra = handler::extra_headers(rq, 200, None);
    let head_only = rq.a.head.method == Method::Head;
    handler::queue_response(
        rq.a,
        rq.shared,
        rq.req,
        &Head {
            status: 200,
            content_type: Some(b"text/html"),
            content_length: Some(body.len() as u64),
            extra: &extra,
            ..Head::default()
        },
        if head_only { b"" } else { &body },
    );
}

/// `http://host[:port]` for a redirect, as nginx's header filter builds it: the server's
/// name with `server_name_in_redirect`, else the request's host lowercased (nginx's
/// `r->headers_in.server`), else the address that accepted the connection.
pub(super) fn absolute_prefix(rq: &Rq<'_, '_>, out: &mut Vec<u8>) {
    let buf = &rq.a.buf[rq.a.start..rq.a.filled];
    let host = rq.a.head.host.map(|h| h.get(buf));
    let local = rq.conn.local.as_ref().and_then(|l| l.inet());
    redirect_base(rq.req.loc, rq.req.server, host, local, out);
}

/// nginx's header filter completing a relative `Location`: `http://`, then the server's
/// first name with `server_name_in_redirect on`, else the request's host (lowercased, as
/// nginx keeps it), else the address the connection came in on; then `:port` unless it is
/// 80 or `port_in_redirect` is off. Shared with the proxy, whose rewritten `Location` the
/// same filter completes.
pub(crate) fn redirect_base(
    loc: &crate::config::LocSettings,
    server: &crate::config::ServerConf,
    host: Option<&[u8]>,
    local: Option<std::net::SocketAddr>,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(b"http://");
    match host {
        _ if loc.server_name_in_redirect => out.extend_from_slice(server.first_name().as_bytes()),
        Some(h) => out.extend(h.iter().map(u8::to_ascii_lowercase)),
        // ngx_connection_local_sockaddr without a port: an IPv6 address without brackets.
        None => match local {
            Some(a) => {
                let _ = std::io::Write::write_fmt(out, format_args!("{}", a.ip()));
            }
            None => out.extend_from_slice(server.first_name().as_bytes()),
        },
    }
    if loc.port_in_redirect
        && let Some(port) = local.map(|l| l.port()).filter(|&p| p != 80)
    {
        out.push(b':');
        let mut digits = [0u8; 20];
        out.extend_from_slice(handler::format_u64(u64::from(port), &mut digits));
    }
}

/// The `expires` setting for the request: the configured one, or its value with variables
/// evaluated now (one that does not parse adds no header, as in nginx).
pub(super) fn expires_setting(rq: &Rq<'_, '_>) -> crate::http::expires::Expires {
    use crate::http::expires::{Expires, parse_value};
    let loc = rq.req.loc;
    let Some(script) = &loc.expires_script else {
        return loc.expires;
    };
    let value = super::phases::eval(rq, &script.value);
    std::str::from_utf8(&value)
        .ok()
        .and_then(|v| parse_value(v, script.modified).ok())
        .unwrap_or(Expires::Off)
}

/// `return CODE TEXT`: the text as the body, typed by the URI's extension.
pub(super) fn answer_text<'c>(rq: &mut Rq<'_, 'c>, code: u16, body: &[u8]) -> Next<'c> {
    // Under `error_page CODE URI` the error's status replaces the target's (nginx's
    // `r->err_status` in ngx_http_send_header).
    let code = rq.route.err_status.unwrap_or(code);
    if code == 200
        && let Some(next) = super::response_head::generated_preconditions(rq)
    {
        return next;
    }
    let extra = handler::extra_headers(rq, code, None);
    let head_only = rq.a.head.method == Method::Head;
    // ngx_http_send_response types the text like a file of the URI: by its extension, else
    // `default_type`.
    // After an X-Accel-Redirect the upstream's type wins (ngx_http_set_content_type sets
    // one only when none is set).
    let content_type = match rq.route.upstream_content_type.as_deref() {
        Some(t) => t,
        None => crate::static_files::content_type(rq.req.loc, &rq.route.script.uri).as_bytes(),
    };
    handler::queue_response(
        rq.a,
        rq.shared,
        rq.req,
        &Head {
            status: code,
            content_type: Some(content_type),
            content_length: Some(body.len() as u64),
            extra: &extra,
            ..Head::default()
        },
        if head_only { b"" } else { body },
    );
    Next::Done
}
