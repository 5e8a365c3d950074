//! The tries of a proxied request, as `$upstream_addr`, `$upstream_status`,
//! `$upstream_response_time` (and `_connect_time`, `_header_time`),
//! `$upstream_response_length`, `$upstream_bytes_received`, `$upstream_bytes_sent`,
//! `$proxy_host` and `$proxy_port` show them in access logs; and the last response's head
//! for `$upstream_http_NAME` and `$upstream_cookie_NAME`.

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
}

/// One try of the request: what `$upstream_addr`, `$upstream_status` and
/// `$upstream_response_time` show.
#[derive(Debug, Clone)]
pub struct Try {
    /// The server's address, or the group name when no server was live.
    pub addr: TryAddr,
    /// Its status (502/504 for failures); 0 while unknown.
    pub status: u16,
    /// Time from the try's start to its end (`None` while it runs: `-`, as nginx shows it).
    pub time: Option<Duration>,
    /// Time until the connection was established.
    pub connect_time: Option<Duration>,
    /// Time until the response head was parsed.
    pub header_time: Option<Duration>,
    /// Bytes written to the upstream.
    pub bytes_sent: u64,
    /// Bytes read from the upstream (head and body, framing included).
    pub bytes_received: u64,
    /// Bytes of the response body (framing removed).
    pub response_length: u64,
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
            bytes_sent: 0,
            bytes_received: 0,
            response_length: 0,
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
    /// The last response's head as the upstream sent it (reused from request to request).
    pub head: Vec<u8>,
}

impl UpstreamLog {
    /// Writes `$upstream_*`, `$proxy_host` or `$proxy_port` (by the variable's whole name);
    /// false if unknown or empty.
    pub fn var(&self, name: &str, out: &mut Vec<u8>) -> bool {
        match name {
            "proxy_host" => {
                out.extend_from_slice(self.proxy_host.as_bytes());
                return true;
            }
            "proxy_port" => {
                let _ = write!(out, "{}", self.proxy_port);
                return true;
            }
            _ => {}
        }
        let Some(name) = name.strip_prefix("upstream_") else {
            return false;
        };
        if let Some(header) = name.strip_prefix("http_") {
            return match self.header(header) {
                Some(v) => {
                    out.extend_from_slice(v);
                    true
                }
                None => false,
            };
        }
        if let Some(cookie) = name.strip_prefix("cookie_") {
            return match self.cookie(cookie) {
                Some(v) => {
                    out.extend_from_slice(v);
                    true
                }
                None => false,
            };
        }
        if self.tries.is_empty() {
            return false;
        }
        for (i, t) in self.tries.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            let secs = |d: Option<Duration>, out: &mut Vec<u8>| match d {
                Some(d) => {
                    let _ = write!(out, "{}.{:03}", d.as_secs(), d.subsec_millis());
                }
                None => out.push(b'-'),
            };
            match name {
                "addr" => match &t.addr {
                    TryAddr::Server(a) => {
                        let _ = write!(out, "{a}");
                    }
                    TryAddr::Group(name) => out.extend_from_slice(name.as_bytes()),
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
                "response_length" => {
                    let _ = write!(out, "{}", t.response_length);
                }
                "bytes_received" => {
                    let _ = write!(out, "{}", t.bytes_received);
                }
                "bytes_sent" => {
                    let _ = write!(out, "{}", t.bytes_sent);
                }
                _ => return false,
            }
        }
        true
    }
}

/// `bytes` without its leading spaces (not tabs: nginx's cookie parser skips only those).
fn skip_spaces(bytes: &[u8]) -> &[u8] {
    let n = bytes.iter().take_while(|&&b| b == b' ').count();
    &bytes[n..]
}

impl UpstreamLog {
    /// The header lines of the last response head (after its status line).
    fn header_lines(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.head.split(|&b| b == b'\n').skip(1).filter_map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let colon = memchr::memchr(b':', line)?;
            Some((&line[..colon], line[colon + 1..].trim_ascii()))
        })
    }

    /// `$upstream_http_NAME`: the first header of the last response whose name matches
    /// (`-` read as `_`, case-insensitively), as nginx's `ngx_http_variable_unknown_header`.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.header_lines()
            .find(|(n, _)| crate::vars::header_matches(name, n))
            .map(|(_, v)| v)
    }

    /// `$upstream_cookie_NAME`: the value of cookie `NAME` in the first `Set-Cookie` of the
    /// last response that sets it, as `ngx_http_parse_set_cookie_lines` reads it (spaces
    /// around the `=`, the value up to a `;`).
    pub fn cookie(&self, name: &str) -> Option<&[u8]> {
        self.header_lines()
            .filter(|(n, _)| n.eq_ignore_ascii_case(b"set-cookie"))
            .find_map(|(_, v)| {
                if v.len() <= name.len() || !v[..name.len()].eq_ignore_ascii_case(name.as_bytes()) {
                    return None;
                }
                let rest = &v[name.len()..];
                let rest = skip_spaces(skip_spaces(rest).strip_prefix(b"=")?);
                let end = memchr::memchr(b';', rest).unwrap_or(rest.len());
                Some(&rest[..end])
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_variables_of_the_last_head_and_the_tries() {
        let mut log = UpstreamLog {
            head: b"HTTP/1.1 200 OK\r\nX-Len: 40\r\nSet-Cookie: a=1\r\n\
                    Set-Cookie: tc =  con  tent; Domain=x\r\n\r\n"
                .to_vec(),
            ..UpstreamLog::default()
        };
        log.tries.push(Try {
            bytes_received: 68,
            bytes_sent: 40,
            response_length: 23,
            ..Try::new(TryAddr::Server(
                crate::config::proxy_values::PeerAddr::Inet(([127, 0, 0, 1], 80).into()),
            ))
        });
        let var = |name: &str| {
            let mut out = Vec::new();
            log.var(name, &mut out)
                .then(|| String::from_utf8(out).unwrap())
        };
        assert_eq!(var("upstream_http_x_len").as_deref(), Some("40"));
        assert_eq!(var("upstream_http_x_none"), None);
        assert_eq!(var("upstream_cookie_tc").as_deref(), Some("con  tent"));
        assert_eq!(var("upstream_cookie_a").as_deref(), Some("1"));
        assert_eq!(var("upstream_cookie_b"), None);
        assert_eq!(var("upstream_response_length").as_deref(), Some("23"));
        assert_eq!(var("upstream_bytes_received").as_deref(), Some("68"));
        assert_eq!(var("upstream_bytes_sent").as_deref(), Some("40"));
        assert_eq!(var("upstream_response_time").as_deref(), Some("-"));
    }
}
