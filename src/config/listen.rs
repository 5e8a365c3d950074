//! `listen` and `server_name`: address parsing as `ngx_parse_url` does it for listeners, and
//! the registry of listen addresses that catches nginx's duplicate-listen errors.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

use super::error::ConfError;
use super::parser::Directive;
use super::raw::{Level, ListenSlot, ServerRaw, Shared};
use super::set_block::compile_regex;
use super::settings::{
    DEFAULT_LISTEN_BACKLOG, DEFAULT_LISTEN_PORT_ROOT, DEFAULT_LISTEN_PORT_USER, ListenAddr,
    ListenConf, ServerName,
};
use super::values::{parse_number, parse_size, parse_time};

/// A listening socket's options from `listen`'s parameters, set by the master on each bind
/// and reload (nginx's `ngx_configure_listening_sockets`); accepted sockets inherit them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SockOpts {
    /// `rcvbuf=SIZE`: SO_RCVBUF.
    pub rcvbuf: Option<i32>,
    /// `sndbuf=SIZE`: SO_SNDBUF.
    pub sndbuf: Option<i32>,
    /// `so_keepalive=on|off|[idle]:[intvl]:[cnt]`: SO_KEEPALIVE and its TCP tunables.
    pub keepalive: Option<SoKeepalive>,
    /// `fastopen=N`: TCP_FASTOPEN's queue length.
    pub fastopen: Option<i32>,
    /// `deferred`: TCP_DEFER_ACCEPT (accept only once data arrived).
    pub deferred: bool,
}

/// `so_keepalive=`: on or off, and the TCP_KEEPIDLE/TCP_KEEPINTVL (seconds) and TCP_KEEPCNT
/// to set (0: the system's).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SoKeepalive {
    /// SO_KEEPALIVE's value.
    pub on: bool,
    /// TCP_KEEPIDLE in seconds (0: unset).
    pub idle: i32,
    /// TCP_KEEPINTVL in seconds (0: unset).
    pub interval: i32,
    /// TCP_KEEPCNT (0: unset).
    pub count: i32,
}

/// A value a socket option takes (a C `int`).
fn socket_int(n: Option<u64>) -> Option<i32> {
    n.and_then(|n| i32::try_from(n).ok())
}

/// `so_keepalive=` as nginx reads it: `on`, `off`, or `[idle]:[intvl]:[cnt]` with times in
/// seconds (units allowed) and at least one of them set.
fn parse_so_keepalive(value: &str) -> Option<SoKeepalive> {
    match value {
        "on" | "off" => {
            return Some(SoKeepalive {
                on: value == "on",
                idle: 0,
                interval: 0,
                count: 0,
            });
        }
        _ => {}
    }
    let mut parts = value.splitn(3, ':');
    let secs = |part: Option<&str>| match part {
        None | Some("") => Some(0),
        Some(t) => parse_time(t, true).and_then(|d| i32::try_from(d.as_secs()).ok()),
    };
    let idle = secs(parts.next())?;
    let interval = secs(parts.next())?;
    let count = match parts.next() {
        None | Some("") => 0,
        Some(n) => socket_int(parse_number(n))?,
    };
    if idle == 0 && interval == 0 && count == 0 {
        return None;
    }
    Some(SoKeepalive {
        on: true,
        idle,
        interval,
        count,
    })
}

/// `listen` without a port uses port 80, as in nginx.
const LISTEN_DEFAULT_PORT: u16 = 80;

/// A port, or a `first-last` range, as nginx reads it.
fn parse_ports(text: &str) -> Result<Vec<u16>, &'static str> {
    let valid = |s: &str| {
        parse_number(s)
            .filter(|n| (1..=65535).contains(n))
            .map(|n| n as u16)
    };
    match text.split_once('-') {
        Some((first, last)) => {
            let (Some(first), Some(last)) = (valid(first), valid(last)) else {
                return Err("invalid port");
            };
            if first > last {
                return Err("invalid port range");
            }
            Ok((first..=last).collect())
        }
        None => valid(text).map(|p| vec![p]).ok_or("invalid port"),
    }
}

/// Whether `text` is a port (or range) alone, as `listen 8080;`.
fn port_only(text: &str) -> bool {
    let first = text.split_once('-').map_or(text, |(a, _)| a);
    let rest_ok = text
        .split_once('-')
        .is_none_or(|(_, b)| parse_number(b).is_some());
    parse_number(first).is_some() && rest_ok
}

/// The size of `sockaddr_un.sun_path`, its terminating NUL included.
const UNIX_PATH_MAX: usize = 108;

/// Parses a listen address into the addresses to bind; errors are nginx's `u.err` texts.
fn parse_listen_addr(url: &str) -> Result<Vec<ListenAddr>, &'static str> {
    if url
        .get(..5)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("unix:"))
    {
        // ngx_parse_unix_domain_url: the rest, whatever it is, is the path.
        let path = &url[5..];
        if path.is_empty() {
            return Err("no path in the unix domain socket");
        }
        if path.len() + 1 > UNIX_PATH_MAX {
            return Err("too long path in the unix domain socket");
        }
        return Ok(vec![ListenAddr::Unix(std::path::Path::new(path).into())]);
    }
    parse_inet_addr(url).map(|v| v.into_iter().map(ListenAddr::Inet).collect())
}

/// An IP listen address (`ADDR[:PORT]`, `PORT`, `[V6][:PORT]`, ports may be ranges).
fn parse_inet_addr(url: &str) -> Result<Vec<SocketAddr>, &'static str> {
    if let Some(rest) = url.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("invalid host")?;
        if after.contains('/') {
            return Err("invalid host");
        }
        let ports = match after {
            "" => vec![LISTEN_DEFAULT_PORT],
            _ => parse_ports(after.strip_prefix(':').ok_or("invalid host")?)?,
        };
        if host.is_empty() {
            return Err("no host");
        }
        let ip: Ipv6Addr = host.parse().map_err(|_| "invalid IPv6 address")?;
        return Ok(ports
            .into_iter()
            .map(|p| SocketAddr::new(IpAddr::V6(ip), p))
            .collect());
    }
    if url.contains(['/', '?']) {
        return Err("invalid host");
    }
    let (host, ports) = match url.split_once(':') {
        Some((host, port)) => (host, parse_ports(port)?),
        None if port_only(url) => ("*", parse_ports(url)?),
        None => (url, vec![LISTEN_DEFAULT_PORT]),
    };
    if host.is_empty() {
        return Err("no host");
    }
    let ips: Vec<IpAddr> = if host == "*" {
        vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED)]
    } else if let Ok(ip) = host.parse::<Ipv4Addr>() {
        vec![IpAddr::V4(ip)]
    } else {
        let resolved = (host, 0).to_socket_addrs().map_err(|_| "host not found")?;
        let mut ips: Vec<IpAddr> = Vec::new();
        for a in resolved {
            if !ips.contains(&a.ip()) {
                ips.push(a.ip());
            }
        }
        if ips.is_empty() {
            return Err("host not found");
        }
        ips
    };
    Ok(ports
        .iter()
        .flat_map(|&p| ips.iter().map(move |&ip| SocketAddr::new(ip, p)))
        .collect())
}

/// Adds one of `server`'s listens to the registry, as `ngx_http_add_addresses` does.
fn register(
    shared: &mut Shared,
    server: usize,
    conf: ListenConf,
    options_set: bool,
    at: Option<&Directive>,
) -> Result<(), ConfError> {
    let fail = |message: String| match at {
        Some(d) => Err(ConfError::at(d, message)),
        None => Err(ConfError::bare(message)),
    };
    let Some(slot) = shared.listens.iter_mut().find(|s| s.conf.addr == conf.addr) else {
        let default_server = conf.default_server.then_some(server);
        shared.listens.push(ListenSlot {
            conf,
            servers: vec![server],
            options_set,
            default_server,
        });
        return Ok(());
    };
    if slot.servers.contains(&server) {
        return fail(format!("a duplicate listen {}", conf.addr));
    }
    slot.servers.push(server);
    slot.conf.proxy_protocol |= conf.proxy_protocol;
    slot.conf.ssl |= conf.ssl;
    slot.conf.http2 |= conf.http2;
    if options_set {
        if slot.options_set {
            return fail(format!("duplicate listen options for {}", conf.addr));
        }
        slot.options_set = true;
        slot.conf.backlog = conf.backlog;
        slot.conf.reuseport = conf.reuseport;
        slot.conf.ipv6only = conf.ipv6only;
        slot.conf.sockopts = conf.sockopts.clone();
    }
    if conf.default_server {
        if slot.default_server.is_some() {
            return fail(format!("a duplicate default server for {}", conf.addr));
        }
        slot.default_server = Some(server);
        slot.conf.default_server = true;
    }
    Ok(())
}

/// `listen ADDRESS [default_server] [backlog=N] [reuseport] [ipv6only=on|off] ...;`
pub(crate) fn listen(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let Level::Server(server) = l else {
        return Err(ConfError::at(d, "\"listen\" directive is not allowed here"));
    };
    let url = d.arg(0);
    let addrs = parse_listen_addr(url).map_err(|err| {
        ConfError::at(d, format!("{err} in \"{url}\" of the \"listen\" directive"))
    })?;
    let mut base = ListenConf {
        addr: ListenAddr::Inet(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)),
        default_server: false,
        backlog: DEFAULT_LISTEN_BACKLOG,
        reuseport: false,
        ipv6only: true,
        proxy_protocol: false,
        sockopts: SockOpts::default(),
        ssl: false,
        http2: false,
    };
    let mut options_set = false;
    for param in d.args[1..].iter().map(|w| w.text.as_str()) {
        let invalid =
            |what: &str, value: &str| Err(ConfError::at(d, format!("invalid {what} \"{value}\"")));
        if param == "default_server" || param == "default" {
            base.default_server = true;
        } else if param == "proxy_protocol" {
            base.proxy_protocol = true;
        } else if param == "ssl" {
            base.ssl = true;
        } else if param == "bind" {
            // Portico binds every listen address on its own socket: `bind` is what it does.
            options_set = true;
        } else if param == "deferred" {
            base.sockopts.deferred = true;
            options_set = true;
        } else if let Some(value) = param.strip_prefix("backlog=") {
            match value.parse::<i32>() {
                Ok(n) if parse_number(value).is_some() && n != 0 => base.backlog = n,
                _ => return invalid("backlog", param),
            }
            options_set = true;
        } else if let Some(value) = param.strip_prefix("ipv6only=o") {
            base.ipv6only = match value {
                "n" => true,
                "ff" => false,
                _ => return invalid("ipv6only flags", &param[9..]),
            };
            options_set = true;
        } else if param == "reuseport" {
            base.reuseport = true;
            options_set = true;
        } else if let Some(value) = param.strip_prefix("rcvbuf=") {
            let Some(n) = socket_int(parse_size(value)) else {
                return invalid("rcvbuf", param);
            };
            base.sockopts.rcvbuf = Some(n);
            options_set = true;
        } else if let Some(value) = param.strip_prefix("sndbuf=") {
            let Some(n) = socket_int(parse_size(value)) else {
                return invalid("sndbuf", param);
            };
            base.sockopts.sndbuf = Some(n);
            options_set = true;
        } else if let Some(value) = param.strip_prefix("fastopen=") {
            let Some(n) = socket_int(parse_number(value)) else {
                return invalid("fastopen", param);
            };
            base.sockopts.fastopen = Some(n);
            options_set = true;
        } else if let Some(value) = param.strip_prefix("so_keepalive=") {
            base.sockopts.keepalive = Some(parse_so_keepalive(value).ok_or_else(|| {
                ConfError::at(d, format!("invalid so_keepalive value: \"{value}\""))
            })?);
            options_set = true;
        } else if param == "http2" {
            base.http2 = true;
        } else if param.starts_with("accept_filter=") {
            // nginx on Linux: said and ignored (accept filters are FreeBSD's).
            let message =
                format!("accept filters \"{param}\" are not supported on this platform, ignored");
            shared.warnings.push(ConfError::at(d, message));
        } else {
            return invalid("parameter", param);
        }
    }
    for (i, addr) in addrs.iter().enumerate() {
        if addrs[..i].contains(addr) {
            continue;
        }
        let conf = ListenConf {
            addr: addr.clone(),
            ..base.clone()
        };
        register(shared, server.index, conf.clone(), options_set, Some(d))?;
        server.listens.push(conf);
    }
    Ok(())
}

/// Completes a parsed server: nginx's default listen (`*:80` as root, `*:8000` otherwise),
/// the default server name `""`, and the wildcard-name check nginx makes when hashing names.
pub(crate) fn finish_server(server: &mut ServerRaw, shared: &mut Shared) -> Result<(), ConfError> {
    if server.listens.is_empty() {
        let port = if shared.is_root {
            DEFAULT_LISTEN_PORT_ROOT
        } else {
            DEFAULT_LISTEN_PORT_USER
        };
        let conf = ListenConf {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port).into(),
            default_server: false,
            backlog: DEFAULT_LISTEN_BACKLOG,
            reuseport: false,
            ipv6only: true,
            proxy_protocol: false,
            ssl: false,
            http2: false,
            sockopts: SockOpts::default(),
        };
        register(shared, server.index, conf.clone(), false, None)?;
        server.listens.push(conf);
    }
    if server.names.is_empty() {
        server.names.push(ServerName::Exact(String::new()));
    }
    if let (Some(name), Some(first)) = (&server.bad_wildcard, server.listens.first()) {
        return Err(ConfError::bare(format!(
            "invalid server name or wildcard \"{name}\" on {}",
            first.addr
        )));
    }
    Ok(())
}

/// `server_name NAME...;`
pub(crate) fn server_name(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let Level::Server(server) = l else {
        return Err(ConfError::at(
            d,
            "\"server_name\" directive is not allowed here",
        ));
    };
    for word in &d.args {
        let value = word.text.as_str();
        let bytes = value.as_bytes();
        if (bytes.first() == Some(&b'*') && (bytes.len() < 3 || bytes[1] != b'.'))
            || (bytes.first() == Some(&b'.') && bytes.len() < 2)
        {
            return Err(ConfError::at(
                d,
                format!("server name \"{value}\" is invalid"),
            ));
        }
        if let Some(pattern) = value.strip_prefix('~') {
            if pattern.is_empty() {
                return Err(ConfError::at(
                    d,
                    format!("empty regex in server name \"{value}\""),
                ));
            }
            // nginx matches lowercased hosts, so a pattern with capitals is made caseless.
            let caseless = pattern.bytes().any(|b| b.is_ascii_uppercase());
            server.names.push(ServerName::Regex(compile_regex(
                d, pattern, caseless, shared,
            )?));
            continue;
        }
        let name = if value.eq_ignore_ascii_case("$hostname") {
            // The kernel's hostname, without needing `unsafe` for gethostname(2).
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .unwrap_or_default()
                .trim()
                .to_string()
        } else {
            value.to_string()
        }
        .to_ascii_lowercase();
        let entry = if let Some(rest) = name.strip_prefix('*') {
            ServerName::WildcardFront(rest.to_string(), false)
        } else if name.starts_with('.') {
            ServerName::WildcardFront(name.clone(), true)
        } else if let Some(rest) = name.strip_suffix('*').filter(|r| r.ends_with('.')) {
            ServerName::WildcardBack(rest.to_string())
        } else {
            ServerName::Exact(name.clone())
        };
        let stored = match &entry {
            ServerName::WildcardFront(s, _)
            | ServerName::WildcardBack(s)
            | ServerName::Exact(s) => s.as_str(),
            ServerName::Regex(_) => "",
        };
        if stored.contains('*') && server.bad_wildcard.is_none() {
            server.bad_wildcard = Some(value.to_string());
        }
        server.names.push(entry);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(url: &str) -> Result<Vec<String>, &'static str> {
        parse_listen_addr(url).map(|v| v.iter().map(|a| a.to_string()).collect())
    }

    #[test]
    fn listen_address_forms() {
        assert_eq!(addrs("8080"), Ok(vec!["0.0.0.0:8080".into()]));
        assert_eq!(addrs("*:8080"), Ok(vec!["0.0.0.0:8080".into()]));
        assert_eq!(addrs("127.0.0.1:81"), Ok(vec!["127.0.0.1:81".into()]));
        assert_eq!(addrs("127.0.0.1"), Ok(vec!["127.0.0.1:80".into()]));
        assert_eq!(addrs("[::]:8080"), Ok(vec!["[::]:8080".into()]));
        assert_eq!(addrs("[::1]"), Ok(vec!["[::1]:80".into()]));
        assert_eq!(addrs("8000-8002").map(|v| v.len()), Ok(3));
        assert!(
            addrs("localhost:8081")
                .unwrap()
                .iter()
                .all(|a| a.ends_with(":8081"))
        );
        assert_eq!(addrs("99999"), Err("invalid port"));
        assert_eq!(addrs("*:0"), Err("invalid port"));
        assert_eq!(addrs("1.2.3.4:x"), Err("invalid port"));
        assert_eq!(addrs("9000-8000"), Err("invalid port range"));
        assert_eq!(addrs(":80"), Err("no host"));
        assert_eq!(addrs("[::1"), Err("invalid host"));
        assert_eq!(addrs("[::1]x"), Err("invalid host"));
        assert_eq!(addrs("[zz]:80"), Err("invalid IPv6 address"));
        assert_eq!(addrs("1.2.3.4:80/x"), Err("invalid host"));
        assert_eq!(addrs("unix:/tmp/s"), Ok(vec!["unix:/tmp/s".into()]));
        assert_eq!(addrs("UNIX:/tmp/s"), Ok(vec!["unix:/tmp/s".into()]));
        assert_eq!(addrs("unix:"), Err("no path in the unix domain socket"));
        let long = format!("unix:/{}", "x".repeat(106));
        assert_eq!(addrs(&long).map(|v| v.len()), Ok(1));
        let long = format!("unix:/{}", "x".repeat(107));
        assert_eq!(addrs(&long), Err("too long path in the unix domain socket"));
        assert_eq!(addrs("ab\u{20ac}x:80"), Err("host not found"));
    }
}

#[cfg(test)]
mod load_tests {
    use crate::config::testutil::{http, load_err, load_ok};
    use crate::config::{HttpConf, ServerName};

    fn http_conf(body: &str) -> HttpConf {
        load_ok(&http(body)).http.expect("http block")
    }

    #[test]
    fn listen_options_and_registry() {
        let conf = http_conf(
            "server { listen 127.0.0.1:8080 default_server backlog=64 reuseport; listen [::]:8080 ipv6only=off; }\n\
             server { listen 127.0.0.1:8080; listen 8081 default; }",
        );
        let first = &conf.servers[0].listens[0];
        assert_eq!(first.addr.to_string(), "127.0.0.1:8080");
        assert!(first.default_server && first.reuseport);
        assert_eq!(first.backlog, 64);
        assert!(!conf.servers[0].listens[1].ipv6only);
        let addrs: Vec<String> = conf.listens.iter().map(|l| l.addr.to_string()).collect();
        assert_eq!(addrs, ["127.0.0.1:8080", "[::]:8080", "0.0.0.0:8081"]);
        assert!(conf.listens[0].default_server && conf.listens[2].default_server);
        assert_eq!(
            conf.server_default_for("127.0.0.1:8080".parse().unwrap()),
            Some(0)
        );
        assert_eq!(
            conf.server_default_for("0.0.0.0:8081".parse().unwrap()),
            Some(1)
        );
        // A specific local address falls back to the wildcard listen on its port.
        assert_eq!(
            conf.server_default_for("10.0.0.1:8081".parse().unwrap()),
            Some(1)
        );
        assert_eq!(conf.server_default_for("10.0.0.1:9".parse().unwrap()), None);
    }

    #[test]
    fn listen_socket_options() {
        let conf = http_conf(
            "server { listen 127.0.0.1:8080 rcvbuf=64k sndbuf=8192 so_keepalive=30m::3 \
             fastopen=10 deferred; }\n\
             server { listen 127.0.0.1:8080; listen 8081 so_keepalive=off; }",
        );
        let o = &conf.listens[0].sockopts;
        assert_eq!(
            (o.rcvbuf, o.sndbuf, o.fastopen),
            (Some(65536), Some(8192), Some(10))
        );
        assert!(o.deferred);
        let k = o.keepalive.expect("so_keepalive");
        assert_eq!((k.on, k.idle, k.interval, k.count), (true, 1800, 0, 3));
        assert_eq!(
            conf.listens[1].sockopts.keepalive.map(|k| k.on),
            Some(false)
        );
        for (param, error) in [
            ("rcvbuf=big", "invalid rcvbuf \"rcvbuf=big\""),
            ("sndbuf=4g", "invalid sndbuf \"sndbuf=4g\""),
            ("fastopen=-1", "invalid fastopen \"fastopen=-1\""),
            ("so_keepalive=::", "invalid so_keepalive value: \"::\""),
            ("so_keepalive=1x", "invalid so_keepalive value: \"1x\""),
            ("setfib=1", "invalid parameter \"setfib=1\""),
        ] {
            let body = format!("server {{ listen 80 {param}; }}");
            assert_eq!(load_err(&http(&body)), error, "{param}");
        }
    }

    #[test]
    fn listen_errors() {
        assert_eq!(
            load_err(&http("server { listen 8080; listen *:8080; }")),
            "a duplicate listen 0.0.0.0:8080"
        );
        assert_eq!(
            load_err(&http(
                "server { listen 8080 default_server; }\nserver { listen 8080 default_server; }"
            )),
            "a duplicate default server for 0.0.0.0:8080"
        );
        assert_eq!(
            load_err(&http(
                "server { listen 8080 backlog=10; }\nserver { listen 8080 reuseport; }"
            )),
            "duplicate listen options for 0.0.0.0:8080"
        );
        assert_eq!(
            load_err(&http("server { listen 99999; }")),
            "invalid port in \"99999\" of the \"listen\" directive"
        );
        assert_eq!(
            load_err(&http("server { listen 80 fast; }")),
            "invalid parameter \"fast\""
        );
        assert_eq!(
            load_err(&http("server { listen 80 backlog=0; }")),
            "invalid backlog \"backlog=0\""
        );
        assert_eq!(
            load_err(&http("server { listen 80 ipv6only=maybe; }")),
            "invalid parameter \"ipv6only=maybe\""
        );
        assert_eq!(
            load_err(&http("server { listen 80 ipv6only=oops; }")),
            "invalid ipv6only flags \"oops\""
        );
    }

    #[test]
    fn unix_listens() {
        let conf = http_conf(
            "server { listen unix:/tmp/a.sock; }\n\
             server { listen unix:/tmp/a.sock default_server backlog=5 rcvbuf=8k; listen 8080; }",
        );
        let unix = &conf.listens[0];
        assert_eq!(unix.addr.to_string(), "unix:/tmp/a.sock");
        assert!(unix.default_server);
        assert_eq!((unix.backlog, unix.sockopts.rcvbuf), (5, Some(8192)));
        assert_eq!(conf.listens.len(), 2);
        assert_eq!(
            load_err(&http(
                "server { listen unix:/tmp/a.sock default; }\n\
                 server { listen unix:/tmp/a.sock default; }"
            )),
            "a duplicate default server for unix:/tmp/a.sock"
        );
        assert_eq!(
            load_err(&http("server { listen unix:; }")),
            "no path in the unix domain socket in \"unix:\" of the \"listen\" directive"
        );
    }

    #[test]
    fn default_listen_depends_on_euid() {
        let conf = http_conf("server { }");
        let port = if nix::unistd::geteuid().is_root() {
            80
        } else {
            8000
        };
        assert_eq!(
            conf.servers[0].listens[0].addr.to_string(),
            format!("0.0.0.0:{port}")
        );
        assert_eq!(conf.listens.len(), 1);
    }

    #[test]
    fn server_names() {
        let conf = http_conf(
            "server { server_name Example.COM *.example.org .example.net www.example.* ~^(www)\\.x$ \"\"; }",
        );
        let names = &conf.servers[0].names;
        assert!(matches!(&names[0], ServerName::Exact(n) if n == "example.com"));
        assert!(matches!(&names[1], ServerName::WildcardFront(n, false) if n == ".example.org"));
        assert!(matches!(&names[2], ServerName::WildcardFront(n, true) if n == ".example.net"));
        assert!(matches!(&names[3], ServerName::WildcardBack(n) if n == "www.example."));
        assert!(matches!(&names[4], ServerName::Regex(r) if r.is_match(b"www.x") == Ok(true)));
        assert!(matches!(&names[5], ServerName::Exact(n) if n.is_empty()));
        assert_eq!(
            load_err(&http("server { server_name *x; }")),
            "server name \"*x\" is invalid"
        );
        assert_eq!(
            load_err(&http("server { server_name ~; }")),
            "empty regex in server name \"~\""
        );
        assert!(
            load_err(&http("server { server_name ~(x; }")).starts_with("pcre2_compile() failed: ")
        );
        let port = if nix::unistd::geteuid().is_root() {
            80
        } else {
            8000
        };
        assert_eq!(
            load_err(&http("server { server_name www.*.com; }")),
            format!("invalid server name or wildcard \"www.*.com\" on 0.0.0.0:{port}")
        );
    }
}
