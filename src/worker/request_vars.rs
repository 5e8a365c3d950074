//! `$variables` of a request: the worker's [`VarSource`], reading straight from the
//! connection's buffer and the request's bookkeeping (no copies until a value is written).

use crate::status::counters as status;
use crate::upstream::body_buffer::StoredBody;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;

use crate::client_addr::ClientAddr;
use crate::config::ListenAddr;

use super::Shared;
use super::conn::{Active, Conn, Req};
use super::handler::request_line;
use crate::http::num::{push_decimal, push_ip};
use crate::http::request::Version;
use crate::vars::{Var, VarSource, find_cookie, header_matches};

/// What a request's variables read of its connection.
#[derive(Clone)]
pub struct ConnInfo {
    /// `$connection`, the `*N` of error-log lines.
    pub id: u64,
    /// The client's address (the realip module's, once it set one).
    pub peer: ClientAddr,
    /// The connection's own peer (`$realip_remote_addr`).
    pub socket_peer: ClientAddr,
    /// The PROXY protocol header's addresses (`$proxy_protocol_*`).
    pub proxy_protocol: Option<std::rc::Rc<crate::proxy_protocol::Header>>,
    /// `$connection_requests`.
    pub requests: u64,
    /// The local address (`$server_addr`, `$server_port`), when read.
    pub local: Option<ListenAddr>,
    /// `$request_id` of the current request.
    pub request_id: RequestId,
    /// When the connection was accepted (`$connection_time`).
    pub accepted_at: std::time::Instant,
    /// The client socket (`$tcpinfo_*`).
    pub fd: Option<std::os::fd::RawFd>,
    // ---- tls (issue 15) ----
    /// The TLS session's values (`$https`, `$scheme`, `$ssl_*`), on a TLS connection.
    pub tls: Option<std::rc::Rc<crate::tls::TlsVars>>,
    // ---- http2 ----
    /// `$http2`: `h2` or `h2c` on an HTTP/2 stream, `None` on HTTP/1.x.
    pub http2: Option<&'static str>,
    /// Bytes of an HTTP/2 request's HPACK header block (`$request_length`).
    pub h2_block_len: Option<u64>,
}

fn routed<'a, 'c>(c: &'a Conn<'c>) -> Option<&'a Active<'c>> {
    c.active().filter(|a| a.head.head_len > 0)
}

/// `$request_id`: 16 random bytes, kept as two words and written as 32 lowercase hex
/// digits only when the variable is read (most requests never read it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestId([u64; 2]);

impl RequestId {
    /// The 32 hex digits (all `0` for a request that has no id yet).
    pub fn hex(&self) -> [u8; 32] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 32];
        for (i, byte) in self.0.iter().flat_map(|w| w.to_be_bytes()).enumerate() {
            out[2 * i] = HEX[usize::from(byte >> 4)];
            out[2 * i + 1] = HEX[usize::from(byte & 0xf)];
        }
        out
    }
}

/// A new random `$request_id` (splitmix64 seeded from the clock and pid: unique enough for
/// tracing, not for secrets, like nginx's use of it).
pub fn new_request_id() -> RequestId {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            (t.as_nanos() as u64) ^ (u64::from(std::process::id()) << 32)
        });
    }
    fn mix(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    STATE.with(|s| {
        let first = s.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        let second = first.wrapping_add(0x9e37_79b9_7f4a_7c15);
        s.set(second);
        RequestId([mix(first), mix(second)])
    })
}

impl ConnInfo {
    /// The connection's identity.
    pub fn of(c: &Conn<'_>) -> ConnInfo {
        let realip = routed(c)
            .and_then(|a| a.req.as_ref())
            .and_then(|r| r.admission.realip);
        ConnInfo {
            id: c.id,
            peer: realip.map_or(c.peer, ClientAddr::Inet),
            socket_peer: c.peer,
            proxy_protocol: c.proxy_protocol.clone(),
            requests: c.requests,
            // The routing state of a request whose head was parsed (not an older one left
            // in a pooled buffer).
            local: routed(c).and_then(|a| a.route.local.clone()),
            request_id: routed(c).map_or(RequestId::default(), |a| a.route.request_id),
            accepted_at: c.accepted_at,
            fd: c.fd(),
            tls: c.tls_vars.clone(),
            http2: c.http2,
            h2_block_len: c.h2_block_len,
        }
    }
}

/// Everything a variable of a finished or running request may read.
pub struct RequestVars<'a, 'c> {
    /// The connection.
    pub conn: &'a ConnInfo,
    /// Its buffers and parsed head.
    pub active: &'a Active<'c>,
    /// The request's bookkeeping.
    pub req: &'a Req<'c>,
    /// Worker-wide state (clock, dates, pid).
    pub shared: &'a Shared<'c>,
    /// An `error_page` or `X-Accel-Redirect` made the request a GET (nginx changes
    /// `r->method_name`, which `$request_method` shows).
    pub as_get: bool,
    /// The body an earlier upstream use read whole and kept for the request (nginx's
    /// `r->request_body` after an intercepted status): the routing state holds it, out of
    /// `active` while the phases run.
    pub kept_body: Option<&'a StoredBody>,
}

impl<'a, 'c> RequestVars<'a, 'c> {
    /// The variables of `req` on `conn`; `as_get` and `kept_body` are the routing state's
    /// (see the fields), which the phases hold apart from `active`.
    pub fn new(
        conn: &'a ConnInfo,
        active: &'a Active<'c>,
        req: &'a Req<'c>,
        shared: &'a Shared<'c>,
        as_get: bool,
        kept_body: Option<&'a StoredBody>,
    ) -> RequestVars<'a, 'c> {
        RequestVars {
            conn,
            active,
            req,
            shared,
            as_get,
            kept_body,
        }
    }
}

impl<'c> Active<'c> {
    /// The variables of its request `req` once the phases are over (the routing state is
    /// back in `self.route`).
    pub fn vars<'a>(
        &'a self,
        conn: &'a ConnInfo,
        req: &'a Req<'c>,
        shared: &'a Shared<'c>,
    ) -> RequestVars<'a, 'c> {
        RequestVars::new(
            conn,
            self,
            req,
            shared,
            self.route.as_get,
            self.route.request_body.as_deref(),
        )
    }
}

/// No variables at all: what the script state falls back to for the ones it owns.
struct NoVars;

impl VarSource for NoVars {
    fn var(&self, _: &Var, _: &mut Vec<u8>) -> bool {
        false
    }
}

impl RequestVars<'_, '_> {
    /// `$document_root`: the root or alias the content phase mapped, else the location's
    /// root or alias now (with its variables, if any).
    fn document_root(&self, out: &mut Vec<u8>) {
        // The routing state belongs to the parsed request (a pooled buffer may still hold
        // an older one while a head is cut short).
        let mapped = &self.active.route.document_root;
        if !mapped.is_empty() && self.parsed() {
            out.extend_from_slice(mapped);
            return;
        }
        super::doc_root::document_root(self.req.loc, self, out);
    }

    fn buf(&self) -> &[u8] {
        &self.active.buf[self.active.start..self.active.filled]
    }

    fn parsed(&self) -> bool {
        self.active.head.head_len > 0
    }

    fn header(&self, name: &str) -> Option<&[u8]> {
        let buf = self.buf();
        self.active
            .head
            .headers
            .iter()
            .find(|h| header_matches(name, h.name.get(buf)))
            .map(|h| h.value.get(buf))
    }

    /// Every request header `name` (`$http_*` spelling), in order.
    fn headers<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s [u8]> {
        let buf = self.buf();
        self.active
            .head
            .headers
            .iter()
            .filter(move |h| header_matches(name, h.name.get(buf)))
            .map(move |h| h.value.get(buf))
    }
}

impl VarSource for RequestVars<'_, '_> {
    fn map_uri(
        &self,
        uri: &[u8],
        script: &dyn VarSource,
        root_only: bool,
        out: &mut Vec<u8>,
    ) -> bool {
        if !self.active.route.document_root.is_empty() {
            return false; // mapped by the content phase: `var` answers
        }
        if root_only {
            super::doc_root::document_root(self.req.loc, script, out);
        } else {
            super::doc_root::map_uri_to_path(self.req.loc, uri, false, script, out);
        }
        true
    }

    fn var(&self, var: &Var, out: &mut Vec<u8>) -> bool {
        let buf = self.buf();
        let head = &self.active.head;
        let parsed = self.parsed();
        let route = &self.active.route;
        match var {
            // What rewrites change lives in the request's script state.
            Var::Uri
            | Var::DocumentUri
            | Var::Args
            | Var::QueryString
            | Var::IsArgs
            | Var::Arg(_)
            | Var::User(_)
            | Var::LimitRate
            | Var::Capture(_) => {
                return parsed
                    && crate::rewrite::script_var(&route.script, &NoVars, var, out, false);
            }
            // After the phases (the access log): computed with the request's whole view.
            Var::Computed(_) => {
                return parsed && crate::rewrite::script_var(&route.script, self, var, out, false);
            }
            Var::InvalidReferer => {
                let referer = self.header("referer").filter(|_| parsed);
                if let Some(valid) = &self.req.loc.valid_referers
                    && valid.invalid(referer)
                {
                    out.push(b'1');
                }
            }
            Var::RequestUri if parsed => out.extend_from_slice(head.request_uri.get(buf)),
            // nginx keeps these request headers as lists and joins them.
            Var::Http(name) if parsed && matches!(name.as_str(), "cookie" | "x_forwarded_for") => {
                let separator: &[u8] = if name == "cookie" { b"; " } else { b", " };
                return join(self.headers(name), separator, out);
            }
            Var::Http(name) => match self.header(name).filter(|_| parsed) {
                Some(v) => out.extend_from_slice(v),
                None => return false,
            },
            Var::Cookie(name) => match self
                .headers("cookie")
                .filter(|_| parsed)
                .find_map(|c| find_cookie(c, name))
            {
                Some(v) => out.extend_from_slice(v),
                None => return false,
            },
            Var::Host => match head.host.filter(|_| parsed) {
                Some(h) => out.extend(h.get(buf).iter().map(u8::to_ascii_lowercase)),
                None => out.extend_from_slice(self.req.server.first_name().as_bytes()),
            },
            Var::Hostname => out.extend_from_slice(self.shared.hostname.as_bytes()),
            Var::RemoteAddr => self.conn.peer.ip().push_to(out),
            // A realip address without a port, or a unix-domain client, has none (nginx
            // prints nothing for 0).
            Var::RemotePort => {
                if let Some(port) = self.conn.peer.port().filter(|&p| p != 0) {
                    push_decimal(out, port.into());
                }
            }
            // ---- limits, realip, auth_basic (issue 14) ----
            Var::RealipRemoteAddr => {
                let _ = write!(out, "{}", self.conn.socket_peer.ip());
            }
            Var::RealipRemotePort => {
                if let Some(port) = self.conn.socket_peer.port() {
                    let _ = write!(out, "{port}");
                }
            }
            Var::ProxyProtocolAddr | Var::ProxyProtocolServerAddr => {
                let Some(pp) = self.conn.proxy_protocol.as_deref() else {
                    return false;
                };
                let addr = if *var == Var::ProxyProtocolAddr {
                    &pp.src_addr
                } else {
                    &pp.dst_addr
                };
                out.extend_from_slice(addr.as_bytes());
            }
            Var::ProxyProtocolPort | Var::ProxyProtocolServerPort => {
                let Some(pp) = self.conn.proxy_protocol.as_deref() else {
                    return false;
                };
                let port = if *var == Var::ProxyProtocolPort {
                    pp.src_port
                } else {
                    pp.dst_port
                };
                let _ = write!(out, "{port}");
            }
            Var::LimitReqStatus => match self.req.admission.limit_req {
                Some(s) => out.extend_from_slice(s.as_str().as_bytes()),
                None => return false,
            },
            Var::LimitConnStatus => match self.req.admission.limit_conn {
                Some(s) => out.extend_from_slice(s.as_str().as_bytes()),
                None => return false,
            },
            Var::ServerAddr => match &self.conn.local {
                Some(ListenAddr::Inet(a)) => push_ip(out, a.ip()),
                // nginx's text of a unix-domain address: `unix:PATH`.
                Some(unix) => {
                    let _ = write!(out, "{unix}");
                }
                None => return false,
            },
            Var::ServerPort => match &self.conn.local {
                Some(ListenAddr::Inet(a)) => push_decimal(out, a.port().into()),
                // A unix-domain socket has no port: nginx's value is empty.
                Some(ListenAddr::Unix(_)) => {}
                None => return false,
            },
            Var::ServerName => out.extend_from_slice(self.req.server.first_name().as_bytes()),
            Var::ServerProtocol if parsed && self.conn.http2.is_some() => {
                out.extend_from_slice(b"HTTP/2.0")
            }
            Var::ServerProtocol if parsed => out.extend_from_slice(match head.version {
                Version::Http10 => b"HTTP/1.0",
                Version::Http11 => b"HTTP/1.1",
            }),
            Var::Scheme => out.extend_from_slice(if self.conn.tls.is_some() {
                b"https"
            } else {
                b"http"
            }),
            Var::Request => {
                let line = request_line(buf, self.req.head_len);
                if line.is_empty() {
                    return false;
                }
                // A stream's head is rendered as HTTP/1.1 for the parser; nginx's line
                // says the protocol the client spoke.
                match (self.conn.http2, line.strip_suffix(b"HTTP/1.1")) {
                    (Some(_), Some(start)) => {
                        out.extend_from_slice(start);
                        out.extend_from_slice(b"HTTP/2.0");
                    }
                    _ => out.extend_from_slice(line),
                }
            }
            Var::RequestMethod if parsed && self.as_get => out.extend_from_slice(b"GET"),
            Var::RequestMethod if parsed => out.extend_from_slice(head.method_span.get(buf)),
            Var::RequestLength => {
                // Over HTTP/2 the head counts as its HPACK bytes, as nginx counts it.
                let head = self.conn.h2_block_len.unwrap_or(self.req.head_len as u64);
                let _ = write!(out, "{}", head + self.req.body_read);
            }
            Var::RequestTime => {
                let d = self.shared.now.saturating_duration_since(self.req.started);
                let _ = write!(out, "{}.{:03}", d.as_secs(), d.subsec_millis());
            }
            Var::Status => {
                let _ = write!(out, "{:03}", self.req.status);
            }
            Var::GzipRatio => match self.active.filter.totals {
                Some((zin, zout)) => return crate::compress::ratio(zin, zout, out),
                None => return false,
            },
            Var::BodyBytesSent => {
                let _ = write!(
                    out,
                    "{}",
                    self.req.bytes_sent.saturating_sub(self.req.header_bytes)
                );
            }
            Var::BytesSent => {
                let _ = write!(out, "{}", self.req.bytes_sent);
            }
            Var::TimeLocal => out.extend_from_slice(self.shared.date.log_local()),
            Var::TimeIso8601 => out.extend_from_slice(self.shared.date.iso8601()),
            Var::Msec => {
                // The loop's cached time, as nginx's (see `timer_resolution`).
                let t = crate::log::time::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                let _ = write!(out, "{}.{:03}", t.as_secs(), t.subsec_millis());
            }
            Var::Pid => {
                let _ = write!(out, "{}", self.shared.pid);
            }
            Var::Connection => {
                let _ = write!(out, "{}", self.conn.id);
            }
            Var::ConnectionRequests => {
                let _ = write!(out, "{}", self.conn.requests);
            }
            Var::ConnectionsActive => {
                let _ = write!(out, "{}", status::gauge(status::Field::Active));
            }
            Var::ConnectionsReading => {
                let _ = write!(out, "{}", status::gauge(status::Field::Reading));
            }
            Var::ConnectionsWriting => {
                let _ = write!(out, "{}", status::gauge(status::Field::Writing));
            }
            Var::ConnectionsWaiting => {
                let _ = write!(out, "{}", status::gauge(status::Field::Waiting));
            }
            Var::DocumentRoot => self.document_root(out),
            Var::RealpathRoot => {
                let mut root = Vec::new();
                self.document_root(&mut root);
                match std::fs::canonicalize(std::ffi::OsStr::from_bytes(&root)) {
                    Ok(p) => out.extend_from_slice(p.as_os_str().as_bytes()),
                    Err(_) => return false,
                }
            }
            // While the phases run the routing state is out of `active` (empty here): the
            // script state in front of these variables answers with root + URI.
            Var::RequestFilename if parsed => {
                if !route.filename.is_empty() {
                    out.extend_from_slice(&route.filename);
                } else if !route.script.uri.is_empty() {
                    let uri = &route.script.uri;
                    super::doc_root::map_uri_to_path(self.req.loc, uri, false, self, out);
                } else {
                    return false;
                }
            }
            Var::ContentType => match self.header("content_type").filter(|_| parsed) {
                Some(v) => out.extend_from_slice(v),
                None => return false,
            },
            Var::ContentLength => match self.header("content_length").filter(|_| parsed) {
                Some(v) => out.extend_from_slice(v),
                None => return false,
            },
            Var::NginxVersion => out.extend_from_slice(crate::VERSION.as_bytes()),
            Var::RequestId => out.extend_from_slice(&self.conn.request_id.hex()),
            Var::SentHttp(name) if parsed => {
                let head = &route.sent_head;
                // The status line is not a header.
                let lines = memchr::memchr(b'\n', head).map_or(&head[..0], |at| &head[at + 1..]);
                return sent_http(lines, name, out);
            }
            Var::SentHttp(_) => return false,
            Var::RemoteUser => match crate::auth_basic::credentials(
                self.header("authorization").filter(|_| parsed),
            ) {
                Some((user, _)) => out.extend_from_slice(&user),
                None => return false,
            },
            Var::Https => {
                if self.conn.tls.is_some() {
                    out.extend_from_slice(b"on");
                }
            }
            Var::SslProtocol
            | Var::SslCipher
            | Var::SslServerName
            | Var::SslSessionReused
            | Var::SslSessionId
            | Var::SslAlpnProtocol
            | Var::SslCurve
            | Var::SslEarlyData
            | Var::SslClientVerify
            | Var::SslClientSDn
            | Var::SslClientIDn
            | Var::SslClientSerial
            | Var::SslClientFingerprint
            | Var::SslClientCert
            | Var::SslClientRawCert
            | Var::SslClientEscapedCert
            | Var::SslClientSDnLegacy
            | Var::SslClientIDnLegacy
            | Var::SslClientVStart
            | Var::SslClientVEnd
            | Var::SslClientVRemain
            | Var::SslCiphers
            | Var::SslCurves => {
                // Not found on a plain connection, as nginx's.
                let Some(tls) = self.conn.tls.as_deref() else {
                    return false;
                };
                match var {
                    Var::SslProtocol => out.extend_from_slice(tls.protocol.as_bytes()),
                    Var::SslCipher => out.extend_from_slice(tls.cipher.as_bytes()),
                    Var::SslServerName => match &tls.server_name {
                        Some(name) => out.extend_from_slice(name.as_bytes()),
                        None => return false,
                    },
                    Var::SslSessionReused => out.push(if tls.reused { b'r' } else { b'.' }),
                    Var::SslSessionId => tls.session_id.write_hex(out),
                    Var::SslAlpnProtocol => {
                        if let Some(p) = &tls.alpn {
                            out.extend_from_slice(p);
                        }
                    }
                    Var::SslClientVerify => match tls.verified.get() {
                        Some(crate::tls::Verified::Success) => match tls.ocsp_failure() {
                            None => out.extend_from_slice(b"SUCCESS"),
                            Some(reason) => {
                                out.extend_from_slice(b"FAILED:");
                                out.extend_from_slice(reason.as_bytes());
                            }
                        },
                        Some(crate::tls::Verified::Failed(reason)) => {
                            out.extend_from_slice(b"FAILED:");
                            out.extend_from_slice(reason.as_bytes());
                        }
                        _ => out.extend_from_slice(b"NONE"),
                    },
                    Var::SslClientRawCert
                    | Var::SslClientCert
                    | Var::SslClientEscapedCert
                    | Var::SslClientSerial
                    | Var::SslClientFingerprint => {
                        let Some(leaf) = tls.peer_chain.first() else {
                            return true;
                        };
                        match var {
                            Var::SslClientRawCert => crate::tls::pem(leaf, out),
                            Var::SslClientCert => crate::tls::pem_tabbed(leaf, out),
                            Var::SslClientEscapedCert => crate::tls::pem_escaped(leaf, out),
                            Var::SslClientSerial => crate::tls::serial(leaf, out),
                            _ => crate::tls::fingerprint(leaf, out),
                        }
                    }
                    Var::SslCurve => out.extend_from_slice(tls.curve.unwrap_or("").as_bytes()),
                    Var::SslEarlyData if tls.early_data => out.push(b'1'),
                    Var::SslCiphers | Var::SslCurves => {
                        if let Some(offered) = &tls.offered {
                            if matches!(var, Var::SslCiphers) {
                                offered.write_ciphers(out);
                            } else {
                                offered.write_curves(out);
                            }
                        }
                    }
                    Var::SslClientSDn
                    | Var::SslClientIDn
                    | Var::SslClientSDnLegacy
                    | Var::SslClientIDnLegacy
                    | Var::SslClientVStart
                    | Var::SslClientVEnd
                    | Var::SslClientVRemain => {
                        use crate::tls::CertField as F;
                        let Some(leaf) = tls.peer_chain.first() else {
                            return true;
                        };
                        let field = match var {
                            Var::SslClientSDn => F::SubjectDn,
                            Var::SslClientIDn => F::IssuerDn,
                            Var::SslClientSDnLegacy => F::SubjectDnLegacy,
                            Var::SslClientIDnLegacy => F::IssuerDnLegacy,
                            Var::SslClientVStart => F::ValidFrom,
                            Var::SslClientVEnd => F::ValidUntil,
                            _ => F::DaysLeft,
                        };
                        let now = crate::log::time::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
                        crate::tls::write_cert_field(field, leaf, now, out);
                    }
                    _ => {}
                }
            }
            // `h2` over TLS, `h2c` in clear; empty on HTTP/1.x (nginx's values).
            Var::Http2 => out.extend_from_slice(self.conn.http2.unwrap_or("").as_bytes()),
            // nginx's `r->pipeline`: read after the previous request on the connection,
            // from bytes that came with it.
            Var::Pipe => out.push(if self.req.pipeline { b'p' } else { b'.' }),
            Var::BinaryRemoteAddr => match self.conn.peer.ip().addr() {
                Some(std::net::IpAddr::V4(ip)) => out.extend_from_slice(&ip.octets()),
                Some(std::net::IpAddr::V6(ip)) => out.extend_from_slice(&ip.octets()),
                // nginx's value for a unix-domain client is its text, `unix:`.
                None => out.extend_from_slice(b"unix:"),
            },
            // The URI as routing left it (the phases' own copy while they run).
            Var::FastcgiScriptName | Var::FastcgiPathInfo if parsed => {
                let uri = if route.script.uri.is_empty() {
                    &self.active.uri
                } else {
                    &route.script.uri
                };
                let conf = &self.req.loc.fastcgi;
                if *var == Var::FastcgiScriptName {
                    crate::cgi::split::script_name(conf, uri, out);
                } else {
                    crate::cgi::split::path_info(conf, uri, out);
                }
            }
            Var::RequestCompletion => {
                if self.req.status != 0 && self.req.status < 400 {
                    out.extend_from_slice(b"OK");
                }
            }
            Var::ConnectionTime => {
                let d = self
                    .shared
                    .now
                    .saturating_duration_since(self.conn.accepted_at);
                let _ = write!(out, "{}.{:03}", d.as_secs(), d.subsec_millis());
            }
            Var::TcpinfoRtt | Var::TcpinfoRttvar | Var::TcpinfoSndCwnd | Var::TcpinfoRcvSpace => {
                let Some(info) = self.conn.fd.and_then(|fd| crate::sys::tcp_info(fd).ok()) else {
                    return false;
                };
                let value = match var {
                    Var::TcpinfoRtt => info.tcpi_rtt,
                    Var::TcpinfoRttvar => info.tcpi_rttvar,
                    Var::TcpinfoSndCwnd => info.tcpi_snd_cwnd,
                    _ => info.tcpi_rcv_space,
                };
                let _ = write!(out, "{value}");
            }
            // The proxy module's variable, which needs no upstream: the client's
            // X-Forwarded-For with its address appended.
            Var::Upstream(name) if name == "proxy_add_x_forwarded_for" => {
                if let Some(v) = self.header("x_forwarded_for").filter(|_| parsed) {
                    out.extend_from_slice(v);
                    out.extend_from_slice(b", ");
                }
                let _ = write!(out, "{}", self.conn.peer.ip());
            }
            // nginx's value exists only for a body read whole into memory.
            Var::RequestBody => {
                let a = self.active;
                let stored = match self.kept_body {
                    Some(b) => Some(b),
                    None if a.proxied => a.upstream.stored_body(),
                    None => None,
                };
                match stored.and_then(|b| b.in_memory()) {
                    Some(body) => out.extend_from_slice(body),
                    None => return false,
                }
            }
            // The body's temporary file, while the body is kept.
            Var::RequestBodyFile => {
                let a = self.active;
                let stored = match a.route.request_body.as_deref() {
                    Some(b) => Some(b),
                    None if a.proxied => a.upstream.stored_body(),
                    None => None,
                };
                match stored.and_then(|b| b.file_path()) {
                    Some(path) => {
                        use std::os::unix::ffi::OsStrExt;
                        out.extend_from_slice(path.as_os_str().as_bytes());
                    }
                    None => return false,
                }
            }
            Var::Upstream(name) => return self.active.upstream_var(name, out),
            _ => return false,
        }
        true
    }
}

/// `$sent_http_NAME` from response header lines (`Name: value\r\n`, no status line):
/// `Cache-Control` and `Link` are every such line's value joined by ", ", any other name
/// the first line's value, as nginx 1.22's variables read `headers_out`. False when there
/// is none.
pub(super) fn sent_http(lines: &[u8], name: &str, out: &mut Vec<u8>) -> bool {
    let values = lines.split(|&b| b == b'\n').filter_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = memchr::memchr(b':', line)?;
        header_matches(name, &line[..colon]).then(|| {
            let value = &line[colon + 1..];
            value.strip_prefix(b" ").unwrap_or(value)
        })
    });
    if matches!(name, "cache_control" | "link") {
        return join(values, b", ", out);
    }
    join(values.take(1), b"", out)
}

/// Appends `values` joined by `separator`; false when there is none (nginx's
/// `ngx_http_variable_headers_internal`).
fn join<'v>(values: impl Iterator<Item = &'v [u8]>, separator: &[u8], out: &mut Vec<u8>) -> bool {
    let mut any = false;
    for value in values {
        if any {
            out.extend_from_slice(separator);
        }
        out.extend_from_slice(value);
        any = true;
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sent_headers_and_request_ids() {
        let lines =
            b"Content-Type: text/html\r\nX-A: b\r\nLink: <a>\r\nX-A: c\r\nLink: <b>\r\n\r\n";
        let sent = |name: &str| {
            let mut out = Vec::new();
            sent_http(lines, name, &mut out).then_some(out)
        };
        assert_eq!(sent("content_type").as_deref(), Some(&b"text/html"[..]));
        assert_eq!(sent("x_a").as_deref(), Some(&b"b"[..]));
        assert_eq!(sent("link").as_deref(), Some(&b"<a>, <b>"[..]));
        assert_eq!(sent("x_b"), None);
        let id = new_request_id();
        assert!(id.hex().iter().all(u8::is_ascii_hexdigit) && id != new_request_id());
    }
}
