//! The tries of a proxied request, as `$upstream_addr`, `$upstream_status`,
//! `$upstream_response_time` (and `_connect_time`, `_header_time`), `$proxy_host` and
//! `$proxy_port` show them in access logs.

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
    /// Time from the try's start to its end.
    pub time: Duration,
    /// Time until the connection was established.
    pub connect_time: Option<Duration>,
    /// Time until the response head was parsed.
    pub header_time: Option<Duration>,
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
                "response_time" => secs(Some(t.time), out),
                "connect_time" => secs(t.connect_time, out),
                "header_time" => secs(t.header_time, out),
                _ => return false,
            }
        }
        true
    }
}
