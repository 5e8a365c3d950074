//! From a parsed request head to a queued response: virtual server and location choice, URI
//! normalisation, body handling, the static-file handler, error pages, and the access log.

use std::fs::File;

use super::Shared;
use super::conn::{self, Active, BodyReader, Conn, Req, Step};
use super::request_vars::RequestVars;
use crate::config::{LocSettings, ServerConf};
use crate::elog;
use crate::http::chunked::ChunkedDecoder;
use crate::http::date::format_http_date;
use crate::http::request::{HttpError, Method};
use crate::http::{response, uri};
use crate::log::LogLevel;
use crate::router::{self, AddrServers};
use crate::static_files::{self, Lookup};

/// A response body still to be sent after the queued head.
pub enum Body {
    /// Nothing (or everything is already in the output buffer).
    None,
    /// A byte range of an open file.
    File {
        /// The file.
        file: File,
        /// Next offset to send.
        pos: u64,
        /// End offset (exclusive).
        end: u64,
        /// Use `sendfile(2)` (else `pread` + `write`).
        sendfile: bool,
        /// `sendfile_max_chunk`: bytes per turn before yielding to other connections.
        max_chunk: u64,
    },
}

/// Statuses after which nginx does not keep the connection alive.
fn closes_connection(status: u16) -> bool {
    matches!(status, 400 | 408 | 413 | 414 | 500 | 501 | 505)
}

/// A head was parsed (`head_len` bytes): route it and queue the response.
pub(super) fn start_request<'c>(
    c: &mut Conn<'c>,
    shared: &mut Shared<'c>,
    servers: &AddrServers,
    head_len: usize,
) -> Step {
    let peer = c.peer;
    let conn_id = c.id;
    c.requests += 1;
    let requests = c.requests;
    let (Some(a), ..) = c.parts() else {
        return Step::Close;
    };
    let out_before = a.out.len();
    let http = shared.http;
    let buf = &a.buf[a.start..a.filled];
    let host = a.head.host.map(|h| h.get(buf));
    let server = &http.servers[router::select_server(http, servers, host)];

    let mut loc: &'c LocSettings = &server.loc;
    let mut req = Req {
        started: shared.now,
        server,
        loc,
        status: 0,
        keepalive: false,
        head_len,
        body_in_buf: 0,
        body_read: 0,
        header_bytes: 0,
        bytes_sent: 0,
        lingering: false,
    };
    a.uri.clear();
    if let Err(e) = uri::normalize(a.head.path.get(buf), server.srv.merge_slashes, &mut a.uri) {
        elog!(
            LogLevel::Info,
            "*{conn_id} client sent invalid request while reading client request line, client: {}, server: {}{}",
            peer.ip(),
            server_name(server),
            RequestContext {
                request: a.head.request_line.get(buf),
                host: None,
            }
        );
        queue_error(a, shared, &mut req, e.status());
        return queued(a, req, out_before);
    }
    if let Some(l) = router::find_location(server, &a.uri) {
        loc = &l.loc;
        req.loc = loc;
    }
    req.keepalive = a.head.keep_alive
        && !shared.shutting_down
        && requests < loc.keepalive_requests
        && !loc.keepalive_timeout.0.is_zero();

    if let Some(len) = a.head.content_length {
        if loc.client_max_body_size > 0 && len > loc.client_max_body_size {
            elog!(
                LogLevel::Error,
                "*{conn_id} client intended to send too large body: {len} bytes, client: {}, server: {}, request: \"{}\"",
                peer.ip(),
                server_name(server),
                String::from_utf8_lossy(request_line(buf, head_len))
            );
            req.lingering = true;
            queue_error(a, shared, &mut req, 413);
            return queued(a, req, out_before);
        }
        if len > 0 {
            a.discard = Some(BodyReader::Length(len));
        }
    } else if a.head.chunked {
        a.discard = Some(BodyReader::Chunked(ChunkedDecoder::default()));
    }
    // Body bytes that came with the head are checked before answering, as nginx's
    // discard filter does: a malformed chunked body is a 400, not a 200 and a reset.
    if let Some(reader) = a.discard.as_mut() {
        let body = &a.buf[a.start + head_len..a.filled];
        match conn::consume_body(reader, body) {
            Ok((used, done)) => {
                req.body_in_buf = used;
                req.body_read = used as u64;
                if done {
                    a.discard = None;
                }
            }
            Err(e) => {
                elog!(
                    LogLevel::Error,
                    "*{conn_id} {}, client: {}, server: {}{}",
                    e.log_message(),
                    peer.ip(),
                    server_name(server),
                    RequestContext::of(buf, &a.head)
                );
                a.discard = None;
                req.lingering = true;
                queue_error(a, shared, &mut req, e.status());
                return queued(a, req, out_before);
            }
        }
    }

    if loc.proxy_pass.is_some() {
        // The proxy forwards the body itself (from its first byte) and answers when the
        // upstream does.
        a.discard = None;
        req.body_in_buf = 0;
        req.body_read = 0;
        a.req = Some(req);
        return Step::Proxy;
    }
    match a.head.method {
        Method::Get | Method::Head => serve_static(a, shared, &mut req, conn_id, peer),
        _ => queue_error(a, shared, &mut req, 405),
    }
    queued(a, req, out_before)
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
    let (Some(a), ..) = c.parts() else {
        return Step::Close;
    };
    let out_before = a.out.len();
    let server = &shared.http.servers[servers.default];
    let status = e.status();
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
            server_name(server),
            RequestContext::of(buf, &a.head)
        );
    }
    let mut req = Req {
        started: shared.now,
        server,
        loc: &server.loc,
        status: 0,
        keepalive: false,
        head_len: a.filled - a.start,
        body_in_buf: 0,
        body_read: 0,
        header_bytes: 0,
        bytes_sent: 0,
        lingering: true,
    };
    a.head.clear();
    a.discard = None;
    let page = response::error_page(status, server.loc.server_tokens).unwrap_or(b"");
    queue_head(
        a,
        shared,
        &mut req,
        status,
        Some("text/html"),
        Some(page.len() as u64),
        &[],
        &[],
    );
    a.out.extend_from_slice(page);
    queued(a, req, out_before)
}

fn serve_static<'c>(
    a: &mut Active<'c>,
    shared: &mut Shared<'c>,
    req: &mut Req<'c>,
    conn_id: u64,
    peer: std::net::SocketAddr,
) {
    let loc = req.loc;
    let mut path = std::mem::take(&mut shared.scratch);
    match static_files::lookup(loc, &a.uri, &mut path) {
        Lookup::File(f) => {
            let mut last_modified = [0u8; 29];
            format_http_date(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(f.mtime.max(0) as u64),
                &mut last_modified,
            );
            let mut etag = [0u8; crate::http::conditional::ETAG_MAX_LEN];
            let etag_len = crate::http::conditional::format_etag(f.mtime, f.size, &mut etag);
            let early: [(&[u8], &[u8]); 1] = [(b"Last-Modified", &last_modified)];
            let late: [(&[u8], &[u8]); 2] =
                [(b"ETag", &etag[..etag_len]), (b"Accept-Ranges", b"bytes")];
            queue_head(
                a,
                shared,
                req,
                200,
                Some(f.content_type),
                Some(f.size),
                &early,
                &late,
            );
            if a.head.method != Method::Head && f.size > 0 {
                a.body = Body::File {
                    file: f.file,
                    pos: 0,
                    end: f.size,
                    sendfile: loc.sendfile,
                    max_chunk: loc.sendfile_max_chunk,
                };
            }
        }
        Lookup::DirectoryRedirect => {
            let buf = &a.buf[a.start..a.filled];
            let mut location = Vec::with_capacity(64);
            location.extend_from_slice(b"http://");
            match a.head.host {
                Some(h) => location.extend_from_slice(h.get(buf)),
                None => location.extend_from_slice(server_name(req.server).as_bytes()),
            }
            if let Some(port) = redirect_port(req) {
                location.extend_from_slice(format!(":{port}").as_bytes());
            }
            uri::escape_uri(&a.uri, &mut location);
            location.push(b'/');
            if let Some(q) = a.head.query {
                location.push(b'?');
                location.extend_from_slice(q.get(buf));
            }
            let page = response::error_page(301, loc.server_tokens).unwrap_or(b"");
            queue_head(
                a,
                shared,
                req,
                301,
                Some("text/html"),
                Some(page.len() as u64),
                &[(b"Location", &location)],
                &[],
            );
            if a.head.method != Method::Head {
                a.out.extend_from_slice(page);
            }
        }
        Lookup::Error(status, msg) => {
            if let Some(msg) = msg {
                let buf = &a.buf[a.start..a.filled];
                let level = if status == 404 || status == 403 {
                    LogLevel::Error
                } else {
                    LogLevel::Crit
                };
                elog!(
                    level,
                    "*{conn_id} {msg}, client: {}, server: {}, request: \"{}\", host: \"{}\"",
                    peer.ip(),
                    server_name(req.server),
                    String::from_utf8_lossy(request_line(buf, req.head_len)),
                    String::from_utf8_lossy(a.head.host.map_or(b"" as &[u8], |h| h.get(buf)))
                );
            }
            queue_error(a, shared, req, status);
        }
    }
    path.clear();
    shared.scratch = path;
}

/// The port to put in a redirect (`port_in_redirect on`): the listener's, unless 80.
fn redirect_port(req: &Req<'_>) -> Option<u16> {
    req.server
        .listens
        .first()
        .map(|l| l.addr.port())
        .filter(|&p| p != 80)
}

/// Queues nginx's error page for `status`.
fn queue_error<'c>(a: &mut Active<'c>, shared: &mut Shared<'c>, req: &mut Req<'c>, status: u16) {
    let page = response::error_page(status, req.loc.server_tokens).unwrap_or(b"");
    if closes_connection(status) {
        req.keepalive = false;
        if a.discard.take().is_some() {
            req.lingering = true;
        }
    }
    queue_head(
        a,
        shared,
        req,
        status,
        Some("text/html"),
        Some(page.len() as u64),
        &[],
        &[],
    );
    if a.head.method != Method::Head {
        a.out.extend_from_slice(page);
    }
}

/// Appends a response head in nginx's header order to the output buffer: `early` headers
/// (nginx's `Last-Modified`, `Location`) go before `Connection`, `late` ones after it.
#[allow(clippy::too_many_arguments)]
fn queue_head<'c>(
    a: &mut Active<'c>,
    shared: &Shared<'c>,
    req: &mut Req<'c>,
    status: u16,
    content_type: Option<&str>,
    content_length: Option<u64>,
    early: &[(&[u8], &[u8])],
    late: &[(&[u8], &[u8])],
) {
    let start = a.out.len();
    let out = &mut a.out;
    out.extend_from_slice(response::status_line(status));
    out.extend_from_slice(if req.loc.server_tokens {
        SERVER_WITH_VERSION.as_bytes()
    } else {
        b"Server: portico\r\n"
    });
    out.extend_from_slice(b"Date: ");
    out.extend_from_slice(shared.date.http_date());
    out.extend_from_slice(b"\r\n");
    if let Some(t) = content_type {
        push_header(out, b"Content-Type", t.as_bytes());
    }
    if let Some(len) = content_length {
        let mut digits = [0u8; 20];
        push_header(out, b"Content-Length", format_u64(len, &mut digits));
    }
    for (name, value) in early {
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
    for (name, value) in late {
        push_header(out, name, value);
    }
    out.extend_from_slice(b"\r\n");
    req.status = response::wire_status(status);
    req.header_bytes = (a.out.len() - start) as u64;
}

fn push_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

const SERVER_WITH_VERSION: &str = concat!("Server: portico/", env!("CARGO_PKG_VERSION"), "\r\n");

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

/// The `, request: "…", host: "…"` tail of an error-log line about a client's request:
/// the request line as far as it was read and the `Host` header as sent, each when known
/// (`ngx_http_log_error_handler`). Bytes that are not printable ASCII are written `\xNN`.
pub struct RequestContext<'a> {
    request: &'a [u8],
    host: Option<&'a [u8]>,
}

impl<'a> RequestContext<'a> {
    /// The context of the request whose (possibly partial) head is at the start of `buf`.
    pub fn of(buf: &'a [u8], head: &crate::http::request::RequestHead) -> RequestContext<'a> {
        let request = if head.request_line.is_empty() {
            // The line did not parse: show what arrived of it, as nginx does.
            let from = buf
                .iter()
                .position(|&b| b != b'\r' && b != b'\n')
                .unwrap_or(buf.len());
            let rest = &buf[from..];
            &rest[..memchr::memchr2(b'\r', b'\n', rest).unwrap_or(rest.len())]
        } else {
            head.request_line.get(buf)
        };
        let host = head
            .headers
            .iter()
            .find(|h| h.name.get(buf).eq_ignore_ascii_case(b"host"))
            .map(|h| h.value.get(buf));
        RequestContext { request, host }
    }
}

impl std::fmt::Display for RequestContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.request.is_empty() {
            f.write_str(", request: \"")?;
            write_escaped(f, self.request)?;
            f.write_str("\"")?;
        }
        if let Some(host) = self.host {
            f.write_str(", host: \"")?;
            write_escaped(f, host)?;
            f.write_str("\"")?;
        }
        Ok(())
    }
}

fn write_escaped(f: &mut std::fmt::Formatter<'_>, bytes: &[u8]) -> std::fmt::Result {
    use std::fmt::Write as _;
    for &b in bytes {
        if (0x20..0x7f).contains(&b) {
            f.write_char(b as char)?;
        } else {
            write!(f, "\\x{b:02X}")?;
        }
    }
    Ok(())
}

/// The first `server_name`, as `$server_name` and error-log lines show it.
pub fn server_name(server: &ServerConf) -> &str {
    match server.names.first() {
        Some(crate::config::ServerName::Exact(n)) => n,
        _ => "",
    }
}

/// Writes the access-log lines for a finished request.
pub(super) fn log_request<'c>(c: &Conn<'c>, shared: &mut Shared<'c>, req: &Req<'c>) {
    if req.loc.access_log.is_empty() {
        return;
    }
    let Some(a) = c.active() else { return };
    let mut line = std::mem::take(&mut shared.scratch);
    let vars = RequestVars {
        conn: c,
        active: a,
        req,
        shared,
    };
    for log in &req.loc.access_log {
        line.clear();
        log.format
            .template
            .eval_log(&vars, log.format.escape, &mut line);
        line.push(b'\n');
        crate::log::write_access(&log.target, &line);
    }
    line.clear();
    shared.scratch = line;
}
