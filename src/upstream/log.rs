//! The tries of a proxied request, as `$upstream_addr`, `$upstream_status`,
//! `$upstream_response_time` (and `_connect_time`, `_header_time`),
//! `$upstream_bytes_received`, `$upstream_bytes_sent`, `$upstream_response_length`,
//! `$proxy_host` and `$proxy_port` show them, and the last response head for
//! `$upstream_http_*` and `$upstream_cookie_*`.
//!
//! Tries are separated by `, `; when a request used the proxy again after an internal
//! redirect (an intercepted error's page, `X-Accel-Redirect`), the tries before and after
//! are separated by ` : `, as nginx's `r->upstream_states` are.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

/// What `$upstream_addr` shows for a try.
#[derive(Debug, Clone)]
pub enum TryAddr {
    /// The server's address.
    Server(crate::config::proxy_values::PeerAddr),
    /// The group's name, when no server of it was live.
    Group(Arc<str>),
    /// Not a try: the request left for an internal redirect and used the proxy again
    /// (nginx's state without a peer, shown as ` : `).
    Redirect,
}

/// One try of the request: what `$upstream_addr`, `$upstream_status` and
/// `$upstream_response_time` show.
#[derive(Debug, Clone)]
pub struct Try {
    /// The server's address, or the group name when no server was live.
    pub addr: TryAddr,
    /// Its status (502/504 for failures); 0 while unknown.
    pub status: u16,
    /// Time from the try's start to its end (`None` while it runs).
    pub time: Option<Duration>,
    /// Time until the connection was established.
    pub connect_time: Option<Duration>,
    /// Time until the response head was parsed.
    pub header_time: Option<Duration>,
    /// Bytes read from the server (heads and body, framing included).
    pub bytes_received: u64,
    /// Bytes written to the server.
    pub bytes_sent: u64,
    /// `bytes_received` when the final response head ended (the body's bytes follow).
    pub head_end: Option<u64>,
}

impl Try {
    /// A try of `addr` that has just started.
    pub fn new(addr: TryAddr) -> Try {
        Try {
            addr,
            status: 0,
            time: None,
            connect_time: None,
            header_time: None,
            bytes_received: 0,
            bytes_sent: 0,
            head_end: None,
        }
    }
}

/// The tries of a request, for the access log.
#[derive(Debug, Clone, Default)]
pub struct UpstreamLog {
    /// Every try, in order.
    pub tries: Vec<Try>,
    /// `$proxy_host`
    pub proxy_host: Arc<str>,
    /// `$proxy_port`
    pub proxy_port: u16,
    /// The header lines of the last response head (`$upstream_http_*`,
    /// `$upstream_cookie_*`), without the status line.
    pub head: Vec<u8>,
    /// `$upstream_cache_status` (`None`: the cache was not used).
    pub cache_status: Option<&'static str>,
}

impl UpstreamLog {
    /// Keeps the header lines of a response head (`head` as received, status line first).
    pub fn keep_head(&mut self, head: &[u8]) {
        self.head.clear();
        let start = memchr::memchr(b'\n', head).map_or(head.len(), |i| i + 1);
        self.head.extend_from_slice(&head[start..]);
    }

    /// The kept header lines as (name, value) pairs.
    fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.head.split(|&b| b == b'\n').filter_map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let colon = memchr::memchr(b':', line)?;
            let value = &line[colon + 1..];
            let value = &value[value
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t'))
                .count()..];
            Some((&line[..colon], value.trim_ascii_end()))
        })
    }

    /// Writes `$upstream_*`, `$proxy_host` or `$proxy_port` (by the variable's whole name);
    /// false if unknown or empty.
    pub fn var(&self, name: &str, out: &mut Vec<u8>) -> bool {
        match name {
            "proxy_host" => {
                out.extend_from_slice(self.proxy_host.as_bytes());
                return true;
            }
            "proxy_port" => {
                // A unix-domain upstream has no port (0 here).
                if self.proxy_port != 0 {
                    let _ = write!(out, "{}", self.proxy_port);
                }
                return true;
            }
            _ => {}
        }
        let Some(name) = name.strip_prefix("upstream_") else {
            return false;
        };
        if name == "cache_status" {
            let Some(status) = self.cache_status else {
                return false;
            };
            out.extend_from_slice(status.as_bytes());
            return true;
        }
        // The last response's fields (ngx_http_upstream_header_variable and friends).
        if let Some(field) = name.strip_prefix("http_") {
            let Some((_, v)) = self
                .headers()
                .find(|(n, _)| crate::vars::header_matches(field, n))
            else {
                return false;
            };
            out.extend_from_slice(v);
            return true;
        }
        if let Some(cookie) = name.strip_prefix("cookie_") {
            let Some(v) = find_set_cookie(self.headers(), cookie) else {
                return false;
            };
            out.extend_from_slice(v);
            return true;
        }
        // nginx 1.22's proxy module reads no trailers from an upstream.
        if name.starts_with("trailer_") {
            return false;
        }
        if self.tries.is_empty() {
            return false;
        }
        let secs = |d: Option<Duration>, out: &mut Vec<u8>| match d {
            Some(d) => {
                let _ = write!(out, "{}.{:03}", d.as_secs(), d.subsec_millis());
            }
            None => out.push(b'-'),
        };
        let mut first = true;
        for t in &self.tries {
            if matches!(t.addr, TryAddr::Redirect) {
                out.extend_from_slice(b" : ");
                first = true;
                continue;
            }
            if !first {
                out.extend_from_slice(b", ");
            }
            first = false;
            match name {
                "addr" => match &t.addr {
                    TryAddr::Server(a) => {
                        let _ = write!(out, "{a}");
                    }
                    TryAddr::Group(name) => out.extend_from_slice(name.as_bytes()),
                    TryAddr::Redirect => {}
                },
                "status" => match t.status {
                    0 => out.push(b'-'),
                    s => {
                        let _ = write!(out, "{s}");
                    }
                },
                "response_time" => secs(t.time, out),
                "connect_time" => secs(t.connect_time, out),
                "header_time" => secs(t.header_time, out),
                "bytes_received" => {
                    let _ = write!(out, "{}", t.bytes_received);
                }
                "bytes_sent" => {
                    let _ = write!(out, "{}", t.bytes_sent);
                }
                "response_length" => {
                    let body = t
                        .head_end
                        .map_or(0, |end| t.bytes_received.saturating_sub(end));
                    let _ = write!(out, "{body}");
                }
                _ => return false,
            }
        }
        true
    }

    /// Continues the tries of an earlier use of the proxy by the same request, after an
    /// internal redirect.
    pub fn follow(&mut self, earlier: UpstreamLog) {
        let mut tries = earlier.tries;
        tries.push(Try::new(TryAddr::Redirect));
        tries.append(&mut self.tries);
        self.tries = tries;
    }

    /// The try in progress.
    pub fn current(&mut self) -> Option<&mut Try> {
        self.tries.last_mut()
    }
}

/// `$upstream_cookie_NAME`: the value of cookie `name` in the first `Set-Cookie` field
/// that sets it, as nginx's `ngx_http_parse_set_cookie_lines` reads it (spaces around the
/// `=`, the value up to a `;`).
pub fn find_set_cookie<'h>(
    headers: impl Iterator<Item = (&'h [u8], &'h [u8])>,
    name: &str,
) -> Option<&'h [u8]> {
    let name = name.as_bytes();
    headers
        .filter(|(n, _)| n.eq_ignore_ascii_case(b"set-cookie"))
        .find_map(|(_, v)| {
            if name.len() >= v.len() || !v[..name.len()].eq_ignore_ascii_case(name) {
                return None;
            }
            let rest = &v[name.len()..];
            let rest = &rest[rest.iter().take_while(|&&b| b == b' ').count()..];
            let rest = rest.strip_prefix(b"=")?;
            let rest = &rest[rest.iter().take_while(|&&b| b == b' ').count()..];
            Some(&rest[..memchr::memchr(b';', rest).unwrap_or(rest.len())])
        })
}
