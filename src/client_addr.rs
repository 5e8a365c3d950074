//! A client's address as nginx's `c->sockaddr` gives it: an IP address and port, or a peer
//! of a `listen unix:` socket, which has neither (nginx's `$remote_addr` is then `unix:`).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// Where a client connection comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAddr {
    /// A TCP client.
    Inet(SocketAddr),
    /// A client of a unix-domain socket.
    Unix,
}

impl ClientAddr {
    /// The client's address without its port.
    pub fn ip(&self) -> ClientIp {
        match self {
            ClientAddr::Inet(a) => ClientIp::Ip(a.ip()),
            ClientAddr::Unix => ClientIp::Unix,
        }
    }

    /// The client's port (`$remote_port`); none for a unix-domain client.
    pub fn port(&self) -> Option<u16> {
        match self {
            ClientAddr::Inet(a) => Some(a.port()),
            ClientAddr::Unix => None,
        }
    }

    /// The socket address of a TCP client.
    pub fn inet(&self) -> Option<&SocketAddr> {
        match self {
            ClientAddr::Inet(a) => Some(a),
            ClientAddr::Unix => None,
        }
    }
}

/// `127.0.0.1:50000`, `[::1]:50000`, or `unix:`.
impl fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientAddr::Inet(a) => a.fmt(f),
            ClientAddr::Unix => f.write_str("unix:"),
        }
    }
}

impl From<SocketAddr> for ClientAddr {
    fn from(a: SocketAddr) -> ClientAddr {
        ClientAddr::Inet(a)
    }
}

/// A client's address without its port: what `$remote_addr` shows and the error log's
/// `client:` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientIp {
    /// A TCP client's IP address.
    Ip(IpAddr),
    /// A unix-domain client, shown as `unix:`.
    Unix,
}

impl ClientIp {
    /// Appends the address as `Display` writes it, without `format!`'s cost.
    pub fn push_to(self, out: &mut Vec<u8>) {
        match self {
            ClientIp::Ip(ip) => crate::http::num::push_ip(out, ip),
            ClientIp::Unix => out.extend_from_slice(b"unix:"),
        }
    }

    /// The IP address, if the client has one.
    pub fn addr(self) -> Option<IpAddr> {
        match self {
            ClientIp::Ip(ip) => Some(ip),
            ClientIp::Unix => None,
        }
    }

    /// The address `ip_hash` hashes: for a unix-domain client nginx's pseudo address
    /// (three zero bytes), which is what `0.0.0.0` gives, so all such clients go to one
    /// server.
    pub fn hash_addr(self) -> IpAddr {
        self.addr().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }
}

impl From<IpAddr> for ClientIp {
    fn from(ip: IpAddr) -> ClientIp {
        ClientIp::Ip(ip)
    }
}

impl fmt::Display for ClientIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientIp::Ip(ip) => ip.fmt(f),
            ClientIp::Unix => f.write_str("unix:"),
        }
    }
}
