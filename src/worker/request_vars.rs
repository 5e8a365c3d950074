//! `$variables` of a request: the worker's [`VarSource`], reading straight from the
//! connection's buffer and the request's bookkeeping (no copies until a value is written).

use std::io::Write;
use std::os::unix::ffi::OsStrExt;

use super::Shared;
use super::conn::{Active, Conn, Req};
use super::handler::{request_line, server_name};
use crate::http::request::Version;
use crate::vars::{Var, VarSource, find_arg, find_cookie, header_matches};

/// Everything a variable of a finished or running request may read.
pub struct RequestVars<'a, 'c> {
    /// The connection.
    pub conn: &'a Conn<'c>,
    /// Its buffers and parsed head.
    pub active: &'a Active<'c>,
    /// The request's bookkeeping.
    pub req: &'a Req<'c>,
    /// Worker-wide state (clock, dates, pid).
    pub shared: &'a Shared<'c>,
}

impl RequestVars<'_, '_> {
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
        match var {
            Var::Uri | Var::DocumentUri if parsed => out.extend_from_slice(&self.active.uri),
            Var::RequestUri if parsed => out.extend_from_slice(head.target.get(buf)),
            Var::Args | Var::QueryString => match head.query.filter(|_| parsed) {
                Some(q) => out.extend_from_slice(q.get(buf)),
                None => return false,
            },
            Var::IsArgs => {
                if parsed && head.query.is_some() {
                    out.push(b'?')
                }
            }
            Var::Arg(name) => match head
                .query
                .filter(|_| parsed)
                .and_then(|q| find_arg(q.get(buf), name))
            {
                Some(v) => out.extend_from_slice(v),
                None => return false,
            },
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
                Some(h) => out.extend_from_slice(h.get(buf)),
                None => out.extend_from_slice(server_name(self.req.server).as_bytes()),
            },
            Var::Hostname => out.extend_from_slice(self.shared.hostname.as_bytes()),
            Var::RemoteAddr => {
                let _ = write!(out, "{}", self.conn.peer.ip());
            }
            Var::RemotePort => {
                let _ = write!(out, "{}", self.conn.peer.port());
            }
            Var::ServerAddr => match self.conn.local_addr() {
                Some(a) => {
                    let _ = write!(out, "{}", a.ip());
                }
                None => return false,
            },
            Var::ServerPort => match self.conn.local_addr() {
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
            Var::DocumentRoot => out.extend_from_slice(self.req.loc.root.as_os_str().as_bytes()),
            Var::RealpathRoot => match std::fs::canonicalize(&self.req.loc.root) {
                Ok(p) => out.extend_from_slice(p.as_os_str().as_bytes()),
                Err(_) => return false,
            },
            Var::RequestFilename if parsed => {
                out.extend_from_slice(self.req.loc.root.as_os_str().as_bytes());
                out.extend_from_slice(&self.active.uri);
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
            Var::Upstream(name) => return self.conn.upstream_var(name, out),
            _ => return false,
        }
        true
    }
}
