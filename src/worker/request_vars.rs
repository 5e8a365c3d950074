//! `$variables` of a request: the worker's [`VarSource`], reading straight from the
//! connection's buffer and the request's bookkeeping (no copies until a value is written).

use std::io::Write;
use std::os::unix::ffi::OsStrExt;

use std::net::SocketAddr;

use super::Shared;
use super::conn::{Active, Conn, Req};
use super::handler::{request_line, server_name};
use crate::http::request::Version;
use crate::vars::{Var, VarSource, find_cookie, header_matches};

/// What a request's variables read of its connection.
pub struct ConnInfo {
    /// `$connection`, the `*N` of error-log lines.
    pub id: u64,
    /// The client's address.
    pub peer: SocketAddr,
    /// `$connection_requests`.
    pub requests: u64,
    /// The local address (`$server_addr`, `$server_port`), when read.
    pub local: Option<SocketAddr>,
}

impl ConnInfo {
    /// The connection's identity.
    pub fn of(c: &Conn<'_>) -> ConnInfo {
        ConnInfo {
            id: c.id,
            peer: c.peer,
            requests: c.requests,
            local: c.active().and_then(|a| a.route.local),
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
}

/// No variables at all: what the script state falls back to for the ones it owns.
struct NoVars;

impl VarSource for NoVars {
    fn var(&self, _: &Var, _: &mut Vec<u8>) -> bool {
        false
    }
}

impl RequestVars<'_, '_> {
    /// `$document_root`: the mapped root or alias, else the `root` setting.
    fn document_root(&self) -> &[u8] {
        let mapped = &self.active.route.document_root;
        if mapped.is_empty() {
            self.req.loc.root.as_os_str().as_bytes()
        } else {
            mapped
        }
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
}

impl VarSource for RequestVars<'_, '_> {
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
            | Var::Capture(_) => {
                return parsed
                    && crate::rewrite::script_var(&route.script, &NoVars, var, out, false);
            }
            Var::RequestUri if parsed => out.extend_from_slice(head.request_uri.get(buf)),
            Var::Http(name) => match self.header(name).filter(|_| parsed) {
                Some(v) => out.extend_from_slice(v),
                None => return false,
            },
            Var::Cookie(name) => match self
                .header("cookie")
                .filter(|_| parsed)
                .and_then(|c| find_cookie(c, name))
            {
                Some(v) => out.extend_from_slice(v),
                None => return false,
            },
            Var::Host => match head.host.filter(|_| parsed) {
                Some(h) => out.extend(h.get(buf).iter().map(u8::to_ascii_lowercase)),
                None => out.extend_from_slice(server_name(self.req.server).as_bytes()),
            },
            Var::Hostname => out.extend_from_slice(self.shared.hostname.as_bytes()),
            Var::RemoteAddr => {
                let _ = write!(out, "{}", self.conn.peer.ip());
            }
            Var::RemotePort => {
                let _ = write!(out, "{}", self.conn.peer.port());
            }
            Var::ServerAddr => match self.conn.local {
                Some(a) => {
                    let _ = write!(out, "{}", a.ip());
                }
                None => return false,
            },
            Var::ServerPort => match self.conn.local {
                Some(a) => {
                    let _ = write!(out, "{}", a.port());
                }
                None => return false,
            },
            Var::ServerName => out.extend_from_slice(server_name(self.req.server).as_bytes()),
            Var::ServerProtocol if parsed => out.extend_from_slice(match head.version {
                Version::Http10 => b"HTTP/1.0",
                Version::Http11 => b"HTTP/1.1",
            }),
            Var::Scheme => out.extend_from_slice(b"http"),
            Var::Request => {
                let line = request_line(buf, self.req.head_len);
                if line.is_empty() {
                    return false;
                }
                out.extend_from_slice(line);
            }
            Var::RequestMethod if parsed => out.extend_from_slice(head.method_span.get(buf)),
            Var::RequestLength => {
                let _ = write!(out, "{}", self.req.head_len as u64 + self.req.body_read);
            }
            Var::RequestTime => {
                let d = self.shared.now.saturating_duration_since(self.req.started);
                let _ = write!(out, "{}.{:03}", d.as_secs(), d.subsec_millis());
            }
            Var::Status => {
                let _ = write!(out, "{:03}", self.req.status);
            }
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
                let t = std::time::SystemTime::now()
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
            Var::DocumentRoot => out.extend_from_slice(self.document_root()),
            Var::RealpathRoot => {
                let root = std::ffi::OsStr::from_bytes(self.document_root());
                match std::fs::canonicalize(root) {
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
                    out.extend_from_slice(self.document_root());
                    out.extend_from_slice(&route.script.uri);
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
            Var::Https => {}
            Var::Pipe => out.push(
                if self.active.filled > self.active.start + self.req.head_len {
                    b'p'
                } else {
                    b'.'
                },
            ),
            Var::BinaryRemoteAddr => match self.conn.peer.ip() {
                std::net::IpAddr::V4(ip) => out.extend_from_slice(&ip.octets()),
                std::net::IpAddr::V6(ip) => out.extend_from_slice(&ip.octets()),
            },
            Var::RequestCompletion => {
                if self.req.status != 0 && self.req.status < 400 {
                    out.extend_from_slice(b"OK");
                }
            }
            _ => return false,
        }
        true
    }
}
