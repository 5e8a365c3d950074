//! A resolver's sockets, as nginx's `ngx_resolver_connection_t`: per name server, one UDP
//! socket made on first use and kept (connected, so the kernel drops datagrams from anyone
//! else; its source port is the kernel's random ephemeral one), and a TCP connection opened
//! when an answer came truncated, kept until it fails or the server closes it.
//!
//! A socket error is logged as nginx logs it (`recv() failed (111: Connection refused)
//! while resolving, resolver: 127.0.0.1:53`) and closes that socket; the next query opens
//! a new one, and the engine's resends cover what was lost.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use mio::net::{TcpStream, UdpSocket};
use mio::{Interest, Registry};

use super::engine::Wire;
use crate::elog;
use crate::log::LogLevel;
use crate::sys;

/// Largest UDP answer read (nginx's `NGX_RESOLVER_UDP_SIZE`); queries carry no EDNS0, so
/// servers send at most 512 bytes and set TC beyond.
const UDP_READ_SIZE: usize = 4096;
/// A TCP message is at most this long, after its 2-byte length.
const TCP_MESSAGE_MAX: usize = 65535;
/// Queries queued on one TCP connection at most.
const TCP_WRITE_LIMIT: usize = 64 * 1024;
/// A TCP connection that cannot take its queries for this long is closed (nginx's
/// resolver `tcp_timeout`, 5 s).
const TCP_WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Bytes read from a TCP connection per call.
const TCP_READ_CHUNK: usize = 16 * 1024;

/// A TCP connection to a name server.
struct Tcp {
    sock: TcpStream,
    connected: bool,
    out: Vec<u8>,
    input: Vec<u8>,
    /// When queued queries must have been written by.
    write_deadline: Option<Instant>,
}

struct Server {
    addr: SocketAddr,
    udp: Option<UdpSocket>,
    tcp: Option<Tcp>,
}

/// The sockets of one resolver.
pub struct Transport {
    resolver: usize,
    servers: Vec<Server>,
}

/// The transport, with what sending needs, as the engine's [`Wire`].
pub struct Io<'a> {
    transport: &'a mut Transport,
    registry: &'a Registry,
    now: Instant,
}

impl Wire for Io<'_> {
    fn send(&mut self, server: usize, tcp: bool, msg: &[u8]) -> bool {
        if tcp {
            self.transport
                .send_tcp(server, msg, self.registry, self.now)
        } else {
            self.transport.send_udp(server, msg, self.registry)
        }
    }
}

impl Transport {
    /// Sockets (none open yet) to `servers`, for resolver number `resolver`.
    pub fn new(resolver: usize, servers: &[SocketAddr]) -> Transport {
        Transport {
            resolver,
            servers: servers
                .iter()
                .map(|&addr| Server {
                    addr,
                    udp: None,
                    tcp: None,
                })
                .collect(),
        }
    }

    /// The transport as a [`Wire`] for this loop turn.
    pub fn io<'a>(&'a mut self, registry: &'a Registry, now: Instant) -> Io<'a> {
        Io {
            transport: self,
            registry,
            now,
        }
    }

    fn send_udp(&mut self, server: usize, msg: &[u8], registry: &Registry) -> bool {
        let resolver = self.resolver;
        let Some(s) = self.servers.get_mut(server) else {
            return false;
        };
        if s.udp.is_none() {
            s.udp = open_udp(s.addr, resolver, server, registry);
        }
        let Some(sock) = s.udp.as_ref() else {
            return false;
        };
        match sock.send(msg) {
            Ok(n) if n == msg.len() => true,
            Ok(_) => {
                log(LogLevel::Crit, "send() incomplete", s.addr);
                s.udp = None;
                false
            }
            // A full socket buffer: this query is lost, the resend will come.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
            Err(e) => {
                log_errno(LogLevel::Error, "send() failed", &e, s.addr);
                s.udp = None;
                false
            }
        }
    }

    /// Reads one datagram from server `server`'s UDP socket into `msg`; false when there is
    /// none (or the socket failed and was closed).
    pub fn recv_udp(&mut self, server: usize, msg: &mut Vec<u8>) -> bool {
        let Some(s) = self.servers.get_mut(server) else {
            return false;
        };
        let Some(sock) = s.udp.as_ref() else {
            return false;
        };
        msg.resize(UDP_READ_SIZE, 0);
        match sock.recv(msg) {
            Ok(n) => {
                msg.truncate(n);
                true
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => false,
            Err(e) => {
                log_errno(LogLevel::Error, "recv() failed", &e, s.addr);
                s.udp = None;
                false
            }
        }
    }

    fn send_tcp(&mut self, server: usize, msg: &[u8], registry: &Registry, now: Instant) -> bool {
        let resolver = self.resolver;
        let Some(s) = self.servers.get_mut(server) else {
            return false;
        };
        let Ok(len) = u16::try_from(msg.len()) else {
            return false;
        };
        if s.tcp.is_none() {
            s.tcp = open_tcp(s.addr, resolver, server, registry);
        }
        let Some(tcp) = s.tcp.as_mut() else {
            return false;
        };
        if tcp.out.len() + 2 + msg.len() > TCP_WRITE_LIMIT {
            log(LogLevel::Crit, "buffer overflow", s.addr);
            return false;
        }
        tcp.out.extend_from_slice(&len.to_be_bytes());
        tcp.out.extend_from_slice(msg);
        tcp.write_deadline.get_or_insert(now + TCP_WRITE_TIMEOUT);
        if tcp.connected && !flush(tcp, now, s.addr) {
            s.tcp = None;
            return false;
        }
        true
    }

    /// Writability (or an error) on server `server`'s TCP connection: finish connecting,
    /// write what is queued.
    pub fn on_tcp_event(&mut self, server: usize, writable: bool, now: Instant) {
        let Some(s) = self.servers.get_mut(server) else {
            return;
        };
        let Some(tcp) = s.tcp.as_mut() else {
            return;
        };
        if !tcp.connected {
            match tcp.sock.take_error() {
                Ok(None) if tcp.sock.peer_addr().is_ok() => tcp.connected = true,
                Ok(None) => return,
                Ok(Some(e)) | Err(e) => {
                    log_errno(LogLevel::Error, "connect() failed", &e, s.addr);
                    s.tcp = None;
                    return;
                }
            }
        }
        if writable && !flush(tcp, now, s.addr) {
            s.tcp = None;
        }
    }

    /// The next whole message from server `server`'s TCP connection, into `msg` (reading
    /// the socket as needed); false when none is complete yet, or the connection ended.
    pub fn next_tcp_message(&mut self, server: usize, msg: &mut Vec<u8>) -> bool {
        let Some(s) = self.servers.get_mut(server) else {
            return false;
        };
        let Some(tcp) = s.tcp.as_mut() else {
            return false;
        };
        loop {
            if let Some(len) = message_len(&tcp.input)
                && tcp.input.len() >= 2 + len
            {
                msg.clear();
                msg.extend_from_slice(&tcp.input[2..2 + len]);
                tcp.input.drain(..2 + len);
                return true;
            }
            if !tcp.connected {
                return false;
            }
            let start = tcp.input.len();
            // A whole message fits in 2 + 65535 bytes, so a full buffer always holds one.
            let room = (2 + TCP_MESSAGE_MAX)
                .saturating_sub(start)
                .min(TCP_READ_CHUNK);
            if room == 0 {
                s.tcp = None;
                return false;
            }
            tcp.input.resize(start + room, 0);
            match tcp.sock.read(&mut tcp.input[start..]) {
                Ok(0) => {
                    s.tcp = None;
                    return false;
                }
                Ok(n) => tcp.input.truncate(start + n),
                Err(e) => {
                    tcp.input.truncate(start);
                    match e.kind() {
                        io::ErrorKind::WouldBlock => return false,
                        io::ErrorKind::Interrupted => {}
                        _ => {
                            log_errno(LogLevel::Error, "recv() failed", &e, s.addr);
                            s.tcp = None;
                            return false;
                        }
                    }
                }
            }
        }
    }

    /// Closes TCP connections whose queued queries could not be written in time.
    pub fn expire(&mut self, now: Instant) {
        for s in &mut self.servers {
            if s.tcp
                .as_ref()
                .and_then(|t| t.write_deadline)
                .is_some_and(|at| at <= now)
            {
                s.tcp = None;
            }
        }
    }

    /// The earliest TCP write deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.servers
            .iter()
            .filter_map(|s| s.tcp.as_ref()?.write_deadline)
            .min()
    }
}

/// The length a TCP message announces, once its two bytes are in.
fn message_len(input: &[u8]) -> Option<usize> {
    match input {
        [hi, lo, ..] => Some(usize::from(u16::from_be_bytes([*hi, *lo]))),
        _ => None,
    }
}

/// Writes what is queued; false when the connection failed.
fn flush(tcp: &mut Tcp, now: Instant, addr: SocketAddr) -> bool {
    let mut written = 0;
    while written < tcp.out.len() {
        match tcp.sock.write(&tcp.out[written..]) {
            Ok(0) => break,
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                log_errno(LogLevel::Error, "send() failed", &e, addr);
                return false;
            }
        }
    }
    tcp.out.drain(..written);
    if tcp.out.is_empty() {
        tcp.write_deadline = None;
    } else if written > 0 {
        tcp.write_deadline = Some(now + TCP_WRITE_TIMEOUT);
    }
    true
}

fn unspecified(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        SocketAddr::V6(_) => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
    }
}

fn open_udp(
    addr: SocketAddr,
    resolver: usize,
    server: usize,
    registry: &Registry,
) -> Option<UdpSocket> {
    let mut sock = match UdpSocket::bind(unspecified(addr)) {
        Ok(s) => s,
        Err(e) => {
            log_errno(LogLevel::Alert, "socket() failed", &e, addr);
            return None;
        }
    };
    if let Err(e) = sock.connect(addr) {
        log_errno(LogLevel::Crit, "connect() failed", &e, addr);
        return None;
    }
    let token = super::token(resolver, server, false);
    if let Err(e) = registry.register(&mut sock, token, Interest::READABLE) {
        log_errno(LogLevel::Alert, "epoll_ctl() failed", &e, addr);
        return None;
    }
    Some(sock)
}

fn open_tcp(addr: SocketAddr, resolver: usize, server: usize, registry: &Registry) -> Option<Tcp> {
    let mut sock = match TcpStream::connect(addr) {
        Ok(s) => s,
        Err(e) => {
            log_errno(LogLevel::Error, "connect() failed", &e, addr);
            return None;
        }
    };
    let token = super::token(resolver, server, true);
    if let Err(e) = registry.register(&mut sock, token, Interest::READABLE | Interest::WRITABLE) {
        log_errno(LogLevel::Alert, "epoll_ctl() failed", &e, addr);
        return None;
    }
    Some(Tcp {
        sock,
        connected: false,
        out: Vec::new(),
        input: Vec::new(),
        write_deadline: None,
    })
}

fn log(level: LogLevel, what: &str, addr: SocketAddr) {
    elog!(level, "{what} while resolving, resolver: {addr}");
}

fn log_errno(level: LogLevel, what: &str, e: &io::Error, addr: SocketAddr) {
    elog!(
        level,
        "{what} ({}) while resolving, resolver: {addr}",
        sys::errno_text(e)
    );
}
