//! `syslog:` log targets, as nginx's `ngx_syslog.c`: the parameters of
//! `error_log syslog:server=ADDR[,facility=F][,severity=S][,tag=T][,nohostname]`, and the
//! writer that sends each line as one RFC 3164 datagram:
//! `<PRI>Mon dd hh:mm:ss HOSTNAME TAG: MESSAGE`.
//!
//! The socket is created on first use in each process (as nginx does), non-blocking and
//! connected to the server: a syslog daemon that cannot keep up loses lines rather than
//! stalling a worker. A send that fails closes it and the next line opens a new one, so a
//! daemon restarted in between is found again.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

use super::LogLevel;

/// `server=` without a port: syslog's UDP port.
pub const DEFAULT_SYSLOG_PORT: u16 = 514;
/// `facility=` default: `local7`.
pub const DEFAULT_FACILITY: u8 = 23;
/// `severity=` default: `info` (used by access logs; an error-log line carries its own level).
pub const DEFAULT_SEVERITY: u8 = 6;
/// `tag=` default. nginx's own, so that log pipelines which select nginx's lines by program
/// name (`:programname, isequal, "nginx"`) keep working after the switch.
pub const DEFAULT_TAG: &str = "nginx";
/// Longest tag RFC 3164 allows.
const MAX_TAG_LEN: usize = 32;

/// Facility names in number order (RFC 3164).
const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "intern", "lpr", "news", "uucp", "clock", "authpriv",
    "ftp", "ntp", "audit", "alert", "cron", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];

/// Severity names in number order: nginx's level names, not syslog's (`error`, not `err`).
const SEVERITIES: [&str; 8] = [
    "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
];

/// Where datagrams go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyslogServer {
    /// A UDP address (a host name is resolved when the configuration is read).
    Inet(SocketAddr),
    /// `unix:/dev/log`: a datagram socket.
    Unix(PathBuf),
}

/// One `syslog:` target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyslogConf {
    /// `server=`
    pub server: SyslogServer,
    /// `facility=` (0..=23)
    pub facility: u8,
    /// `severity=` (0..=7); error logs use each line's own level instead.
    pub severity: u8,
    /// `tag=`
    pub tag: String,
    /// `nohostname`: leave the HOSTNAME field out (for a local syslogd that adds it).
    pub nohostname: bool,
}

impl SyslogConf {
    /// Parses what follows `syslog:` as `ngx_syslog_parse_args` does. The error is nginx's
    /// message, without the location.
    pub fn parse(params: &str) -> Result<SyslogConf, String> {
        let mut server = None;
        let (mut facility, mut severity, mut tag) = (None, None, None);
        let mut nohostname = false;
        for p in params.split(',') {
            if let Some(addr) = p.strip_prefix("server=") {
                if server.is_some() {
                    return Err("duplicate syslog \"server\"".into());
                }
                server = Some(
                    parse_server(addr)
                        .map_err(|why| format!("{why} in syslog server \"{addr}\""))?,
                );
            } else if let Some(name) = p.strip_prefix("facility=") {
                if facility.is_some() {
                    return Err("duplicate syslog \"facility\"".into());
                }
                let n = FACILITIES.iter().position(|f| *f == name);
                facility = Some(n.ok_or(format!("unknown syslog facility \"{name}\""))?);
            } else if let Some(name) = p.strip_prefix("severity=") {
                if severity.is_some() {
                    return Err("duplicate syslog \"severity\"".into());
                }
                let n = SEVERITIES.iter().position(|s| *s == name);
                severity = Some(n.ok_or(format!("unknown syslog severity \"{name}\""))?);
            } else if let Some(name) = p.strip_prefix("tag=") {
                if tag.is_some() {
                    return Err("duplicate syslog \"tag\"".into());
                }
                if name.len() > MAX_TAG_LEN {
                    return Err("syslog tag length exceeds 32".into());
                }
                if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    return Err(
                        "syslog \"tag\" only allows alphanumeric characters and underscore".into(),
                    );
                }
                tag = Some(name.to_string());
            } else if p == "nohostname" {
                nohostname = true;
            } else {
                return Err(format!("unknown syslog parameter \"{p}\""));
            }
        }
        let Some(server) = server else {
            return Err("no syslog server specified".into());
        };
        Ok(SyslogConf {
            server,
            facility: facility.map_or(DEFAULT_FACILITY, |n| n as u8),
            severity: severity.map_or(DEFAULT_SEVERITY, |n| n as u8),
            tag: tag.unwrap_or_else(|| DEFAULT_TAG.to_string()),
            nohostname,
        })
    }
}

/// `server=` as `ngx_parse_url` reads it with port 514 by default: `unix:PATH`,
/// `[IPv6][:PORT]`, `HOST[:PORT]`. The error is nginx's reason (`invalid port`...).
fn parse_server(text: &str) -> Result<SyslogServer, &'static str> {
    if let Some(path) = text.strip_prefix("unix:") {
        if path.is_empty() {
            return Err("no path in the unix domain socket");
        }
        return Ok(SyslogServer::Unix(PathBuf::from(path)));
    }
    // A URI part is never allowed in an address.
    if text.contains('/') {
        return Err("invalid host");
    }
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("invalid IPv6 address")?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':').ok_or("invalid host")?)),
        }
    } else {
        match text.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    let port = match port {
        None => DEFAULT_SYSLOG_PORT,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            match p.parse::<u32>() {
                Ok(n @ 1..=65535) => n as u16,
                _ => return Err("invalid port"),
            }
        }
        Some(_) => return Err("invalid port"),
    };
    if host.is_empty() {
        return Err("no host");
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SyslogServer::Inet(SocketAddr::new(ip, port)));
    }
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .map(SyslogServer::Inet)
        .ok_or("host not found")
}

/// A syslog target while the process runs: its settings and, once a line was sent, its
/// connected socket.
#[derive(Debug)]
pub struct SyslogPeer {
    /// The directive's parameters.
    pub conf: SyslogConf,
    socket: Option<OwnedFd>,
    /// The datagram being built, kept so that a line costs no allocation.
    datagram: Vec<u8>,
}

impl SyslogPeer {
    /// A peer that opens its socket when the first line is sent.
    pub fn new(conf: SyslogConf) -> SyslogPeer {
        SyslogPeer {
            conf,
            socket: None,
            datagram: Vec::new(),
        }
    }

    /// Sends one error-log `line` (its trailing newline is dropped), with the line's own
    /// level as severity, as `ngx_syslog_writer` does.
    pub fn send_error_line(&mut self, level: LogLevel, line: &[u8], now: i64) {
        let severity = SEVERITIES
            .iter()
            .position(|s| *s == level.as_str())
            .unwrap_or(3) as u8;
        self.send(severity, line.strip_suffix(b"\n").unwrap_or(line), now);
    }

    /// Sends one access-log `line` (without its newline) with the configured severity.
    pub fn send_access_line(&mut self, line: &[u8], now: i64) {
        self.send(self.conf.severity, line, now);
    }

    fn send(&mut self, severity: u8, message: &[u8], now: i64) {
        let datagram = &mut self.datagram;
        datagram.clear();
        append_header(&self.conf, severity, now, datagram);
        datagram.extend_from_slice(message);
        if self.socket.is_none() {
            self.socket = connect(&self.conf.server);
        }
        let Some(socket) = &self.socket else {
            return;
        };
        // Non-blocking: a syslog daemon that cannot keep up loses lines rather than
        // stalling a worker. A refused or failed send drops the socket; the next line
        // connects again (nginx's ngx_syslog_send).
        // SAFETY: sending a valid buffer on our own socket.
        let sent = unsafe {
            libc::send(
                socket.as_raw_fd(),
                datagram.as_ptr().cast(),
                datagram.len(),
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        if sent < 0 {
            self.socket = None;
        }
    }
}

/// `<PRI>Mon dd hh:mm:ss HOSTNAME TAG: ` (HOSTNAME left out with `nohostname`).
fn append_header(conf: &SyslogConf, severity: u8, now: i64, out: &mut Vec<u8>) {
    use std::io::Write as _;
    let pri = u32::from(conf.facility) * 8 + u32::from(severity);
    let _ = write!(out, "<{pri}>");
    super::time::append_syslog_time(now, out);
    out.push(b' ');
    if !conf.nohostname {
        HOSTNAME.with(|h| out.extend_from_slice(h.as_bytes()));
        out.push(b' ');
    }
    out.extend_from_slice(conf.tag.as_bytes());
    out.extend_from_slice(b": ");
}

thread_local! {
    /// The machine's name, lower-cased as nginx's `ngx_cycle->hostname`.
    static HOSTNAME: String = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
}

/// The machine's name as nginx keeps it (`ngx_cycle->hostname`, lower-cased).
#[cfg(test)]
fn hostname() -> String {
    HOSTNAME.with(Clone::clone)
}

/// A non-blocking datagram socket connected to `server`, or `None` (nothing is logged about
/// it: the error log may be this very socket).
fn connect(server: &SyslogServer) -> Option<OwnedFd> {
    use nix::sys::socket::{
        AddressFamily, SockFlag, SockType, SockaddrIn, SockaddrIn6, UnixAddr, connect, socket,
    };
    let flags = SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC;
    match server {
        SyslogServer::Inet(SocketAddr::V4(v4)) => {
            let fd = socket(AddressFamily::Inet, SockType::Datagram, flags, None).ok()?;
            connect(fd.as_raw_fd(), &SockaddrIn::from(*v4)).ok()?;
            Some(fd)
        }
        SyslogServer::Inet(SocketAddr::V6(v6)) => {
            let fd = socket(AddressFamily::Inet6, SockType::Datagram, flags, None).ok()?;
            connect(fd.as_raw_fd(), &SockaddrIn6::from(*v6)).ok()?;
            Some(fd)
        }
        SyslogServer::Unix(path) => {
            let fd = socket(AddressFamily::Unix, SockType::Datagram, flags, None).ok()?;
            connect(fd.as_raw_fd(), &UnixAddr::new(path.as_path()).ok()?).ok()?;
            Some(fd)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_and_defaults() {
        let c = SyslogConf::parse("server=127.0.0.1:5140").unwrap();
        assert_eq!(
            c.server,
            SyslogServer::Inet("127.0.0.1:5140".parse().unwrap())
        );
        assert_eq!((c.facility, c.severity, c.tag.as_str()), (23, 6, "nginx"));
        assert!(!c.nohostname);
        let c = SyslogConf::parse("severity=alert,server=[::1],facility=user,tag=App_1,nohostname")
            .unwrap();
        assert_eq!(c.server, SyslogServer::Inet("[::1]:514".parse().unwrap()));
        assert_eq!((c.facility, c.severity, c.tag.as_str()), (1, 1, "App_1"));
        assert!(c.nohostname);
        let c = SyslogConf::parse("server=unix:/dev/log").unwrap();
        assert_eq!(c.server, SyslogServer::Unix("/dev/log".into()));
    }

    #[test]
    fn bad_parameters_get_nginx_messages() {
        let err = |p: &str| SyslogConf::parse(p).unwrap_err();
        assert_eq!(err(""), "unknown syslog parameter \"\"");
        assert_eq!(err("server=1.2.3.4,"), "unknown syslog parameter \"\"");
        assert_eq!(err("server="), "no host in syslog server \"\"");
        assert_eq!(
            err("server=127.0.0.1:99999"),
            "invalid port in syslog server \"127.0.0.1:99999\""
        );
        assert_eq!(
            err("server=1.2.3.4:0"),
            "invalid port in syslog server \"1.2.3.4:0\""
        );
        assert_eq!(
            err("server=http://x"),
            "invalid host in syslog server \"http://x\""
        );
        assert_eq!(
            err("server=nohost.invalid"),
            "host not found in syslog server \"nohost.invalid\""
        );
        assert_eq!(
            err("server=1.2.3.4,server=1.2.3.4"),
            "duplicate syslog \"server\""
        );
        assert_eq!(
            err("server=1.2.3.4,facility=foo"),
            "unknown syslog facility \"foo\""
        );
        assert_eq!(
            err("server=1.2.3.4,severity=err"),
            "unknown syslog severity \"err\""
        );
        assert_eq!(
            err("server=1.2.3.4,tag=a-b"),
            "syslog \"tag\" only allows alphanumeric characters and underscore"
        );
        assert_eq!(
            err(&format!("server=1.2.3.4,tag={}", "a".repeat(33))),
            "syslog tag length exceeds 32"
        );
        assert_eq!(err("facility=user"), "no syslog server specified");
        assert_eq!(
            err("server=1.2.3.4,foo=1"),
            "unknown syslog parameter \"foo=1\""
        );
    }

    #[test]
    fn header_reads_like_rfc_3164() {
        let mut c = SyslogConf::parse("server=127.0.0.1").unwrap();
        let mut out = Vec::new();
        append_header(&c, 3, 1_793_869_687, &mut out);
        let text = String::from_utf8(out).unwrap();
        // `<187>Nov  5 09:08:07 host nginx: `: the day of the month is padded with a space.
        let (pri, rest) = text.split_at(5);
        assert_eq!(pri, "<187>");
        let (stamp, rest) = rest.split_at(16);
        let b = stamp.as_bytes();
        assert!(b[..3].iter().all(u8::is_ascii_alphabetic), "{text}");
        assert!(b[4] == b' ' || b[4].is_ascii_digit(), "{text}");
        assert_eq!(
            (b[3], b[6], b[9], b[12], b[15]),
            (b' ', b' ', b':', b':', b' '),
            "{text}"
        );
        assert_eq!(rest, format!("{} nginx: ", hostname()));
        c.nohostname = true;
        c.tag = "SEETHIS".into();
        let mut out = Vec::new();
        append_header(&c, 6, 1_793_869_687, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("<190>"), "{text}");
        assert!(text[21..].starts_with("SEETHIS: "), "{text}");
    }
}
