//! `resolver` and `resolver_timeout` (`ngx_http_core_module.c`, `ngx_resolver_create`): the
//! name servers a location's `proxy_pass` with variables resolves host names through.
//!
//! Each `resolver` line is one resolver, as in nginx: the contexts that inherit it share it
//! (its cache, its sockets, its round robin), and a location with a `resolver` line of its
//! own gets another. [`ResolverConf::id`] numbers them per configuration so that a worker can
//! keep one run-time resolver each (`crate::resolver`).

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::time::Duration;

use super::error::ConfError;
use super::parser::Directive;
use super::raw::{Level, Shared};
use super::values::{msec_arg, parse_time, set_once};

/// `resolver_timeout 30s;`
pub const DEFAULT_RESOLVER_TIMEOUT: Duration = Duration::from_secs(30);
/// The port of a name server written without one.
pub const DEFAULT_DNS_PORT: u16 = 53;

/// One `resolver` line.
#[derive(Debug, PartialEq, Eq)]
pub struct ResolverConf {
    /// Its number among the configuration's `resolver` lines (0, 1, ...).
    pub id: usize,
    /// The name servers, in order (a host name written there counts once per address).
    pub servers: Vec<SocketAddr>,
    /// `valid=TIME`: how long answers are kept, whatever their TTL says.
    pub valid: Option<Duration>,
    /// `ipv4=on|off` (default on): look up A records.
    pub ipv4: bool,
    /// `ipv6=on|off` (default on): look up AAAA records.
    pub ipv6: bool,
}

/// `resolver ADDRESS... [valid=TIME] [ipv4=on|off] [ipv6=on|off]` (http, server, location).
pub(crate) fn resolver(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let id = shared.resolvers;
    set_once(&mut l.loc(d)?.resolver, d, |d| {
        parse(d, id).map(|conf| Some(Rc::new(conf)))
    })?;
    shared.resolvers += 1;
    Ok(())
}

/// `resolver_timeout TIME` (default 30s; 0 waits for as long as it takes, as nginx does).
pub(crate) fn resolver_timeout(
    l: &mut Level<'_>,
    d: &Directive,
    _: &mut Shared,
) -> Result<(), ConfError> {
    set_once(&mut l.loc(d)?.resolver_timeout, d, |d| msec_arg(d, 0))
}

/// Reads a `resolver` line's arguments with `ngx_resolver_create`'s checks and messages.
fn parse(d: &Directive, id: usize) -> Result<ResolverConf, ConfError> {
    let mut conf = ResolverConf {
        id,
        servers: Vec::new(),
        valid: None,
        ipv4: true,
        ipv6: true,
    };
    for word in &d.args {
        let arg = word.text.as_str();
        let invalid = || ConfError::at(d, format!("invalid parameter: {arg}"));
        if let Some(time) = arg.strip_prefix("valid=") {
            // As nginx, `valid=0` means "use the TTLs".
            conf.valid = Some(parse_time(time, true).ok_or_else(invalid)?).filter(|d| !d.is_zero());
        } else if let Some(flag) = arg.strip_prefix("ipv4=") {
            conf.ipv4 = on_off(flag).ok_or_else(invalid)?;
        } else if let Some(flag) = arg.strip_prefix("ipv6=") {
            conf.ipv6 = on_off(flag).ok_or_else(invalid)?;
        } else if arg.starts_with("status_zone=") {
            // nginx's commercial subscription counts queries in a shared zone; open-source
            // nginx has no such parameter, and Portico has no status zones.
            return Err(invalid());
        } else {
            let addrs = server_addrs(arg)
                .map_err(|what| ConfError::at(d, format!("{what} in resolver \"{arg}\"")))?;
            conf.servers.extend(addrs);
        }
    }
    if conf.servers.is_empty() {
        return Err(ConfError::at(d, "no name servers defined"));
    }
    if !conf.ipv4 && !conf.ipv6 {
        return Err(ConfError::at(
            d,
            "\"ipv4\" and \"ipv6\" cannot both be \"off\"",
        ));
    }
    Ok(conf)
}

fn on_off(s: &str) -> Option<bool> {
    match s {
        "on" => Some(true),
        "off" => Some(false),
        _ => None,
    }
}

/// A name server's addresses, as `ngx_parse_url` reads `host[:port]` and `[v6][:port]` (a
/// host name is looked up now, at load, as nginx does); `Err` is nginx's complaint.
fn server_addrs(text: &str) -> Result<Vec<SocketAddr>, &'static str> {
    if text
        .get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case("unix:"))
    {
        // nginx would send UDP to a unix socket; nothing Portico can do sensibly.
        return Err("unix domain sockets are not supported");
    }
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let Some(end) = rest.find(']') else {
            return Err("invalid host");
        };
        let after = &rest[end + 1..];
        if after.contains('/') {
            return Err("invalid host");
        }
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or("invalid host")?),
        };
        let host = &rest[..end];
        if host.is_empty() {
            return Err("no host");
        }
        let Ok(ip) = host.parse::<std::net::Ipv6Addr>() else {
            return Err("invalid IPv6 address");
        };
        (HostPart::Ip(IpAddr::V6(ip)), port)
    } else {
        if text.contains(['/', '?']) {
            return Err("invalid host");
        }
        let (host, port) = match text.find(':') {
            Some(i) => (&text[..i], Some(&text[i + 1..])),
            None => (text, None),
        };
        if host.is_empty() {
            return Err("no host");
        }
        match host.parse::<std::net::Ipv4Addr>() {
            Ok(ip) => (HostPart::Ip(IpAddr::V4(ip)), port),
            Err(_) => (HostPart::Name(host), port),
        }
    };
    let port = match port {
        None => DEFAULT_DNS_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => return Err("invalid port"),
        },
    };
    match host {
        HostPart::Ip(ip) => Ok(vec![SocketAddr::new(ip, port)]),
        HostPart::Name(name) => {
            let mut addrs: Vec<SocketAddr> = (name, port)
                .to_socket_addrs()
                .map_err(|_| "host not found")?
                .collect();
            // getaddrinfo lists an address once per socket type: keep one of each.
            let mut seen = Vec::new();
            addrs.retain(|a| {
                let new = !seen.contains(a);
                seen.push(*a);
                new
            });
            if addrs.is_empty() {
                return Err("host not found");
            }
            Ok(addrs)
        }
    }
}

enum HostPart<'a> {
    Ip(IpAddr),
    Name(&'a str),
}

#[cfg(test)]
mod tests {
    use crate::config::testutil::{http, load_err, load_ok};
    use std::time::Duration;

    fn loc_of(
        conf: &crate::config::Config,
        server: usize,
        location: usize,
    ) -> &crate::config::LocSettings {
        &conf.http.as_ref().expect("http").servers[server].locations[location].loc
    }

    #[test]
    fn parameters_and_inheritance() {
        let conf = load_ok(&http(
            "resolver 127.0.0.1 [::1]:5353 10.0.0.1:54 valid=30s ipv6=off;\n\
             resolver_timeout 5s;\n\
             server { location / { } location /own { resolver 127.0.0.2 ipv4=off; resolver_timeout 0; }
             location /ttl { resolver 127.0.0.3 valid=0; } }",
        ));
        let inherited = loc_of(&conf, 0, 0);
        let r = inherited.resolver.as_ref().expect("inherited resolver");
        assert_eq!(r.id, 0);
        assert_eq!(
            r.servers,
            [
                "127.0.0.1:53".parse().unwrap(),
                "[::1]:5353".parse().unwrap(),
                "10.0.0.1:54".parse().unwrap()
            ]
        );
        assert_eq!(r.valid, Some(Duration::from_secs(30)));
        assert!(r.ipv4 && !r.ipv6);
        assert_eq!(inherited.resolver_timeout, Duration::from_secs(5));
        let own = loc_of(&conf, 0, 1);
        let r = own.resolver.as_ref().expect("own resolver");
        assert_eq!(r.id, 1);
        assert!(!r.ipv4 && r.ipv6);
        assert_eq!(own.resolver_timeout, Duration::ZERO);
        let ttl = loc_of(&conf, 0, 2).resolver.as_ref().expect("resolver");
        assert_eq!((ttl.id, ttl.valid), (2, None), "valid=0 means the TTLs");
    }

    #[test]
    fn defaults_without_a_resolver() {
        let conf = load_ok(&http("server { location / { } }"));
        let loc = loc_of(&conf, 0, 0);
        assert!(loc.resolver.is_none());
        assert_eq!(loc.resolver_timeout, super::DEFAULT_RESOLVER_TIMEOUT);
    }

    #[test]
    fn nginx_messages() {
        let cases = [
            ("resolver valid=5s;", "no name servers defined"),
            (
                "resolver 127.0.0.1 valid=5x;",
                "invalid parameter: valid=5x",
            ),
            (
                "resolver 127.0.0.1 valid=10ms;",
                "invalid parameter: valid=10ms",
            ),
            (
                "resolver 127.0.0.1 ipv6=yes;",
                "invalid parameter: ipv6=yes",
            ),
            ("resolver 127.0.0.1 ipv4=0;", "invalid parameter: ipv4=0"),
            (
                "resolver 127.0.0.1 status_zone=dns;",
                "invalid parameter: status_zone=dns",
            ),
            (
                "resolver 127.0.0.1 ipv4=off ipv6=off;",
                "\"ipv4\" and \"ipv6\" cannot both be \"off\"",
            ),
            (
                "resolver 127.0.0.1:0;",
                "invalid port in resolver \"127.0.0.1:0\"",
            ),
            (
                "resolver 127.0.0.1:99999;",
                "invalid port in resolver \"127.0.0.1:99999\"",
            ),
            (
                "resolver 127.0.0.1:53/x;",
                "invalid host in resolver \"127.0.0.1:53/x\"",
            ),
            ("resolver [::1;", "invalid host in resolver \"[::1\""),
            (
                "resolver [zz]:53;",
                "invalid IPv6 address in resolver \"[zz]:53\"",
            ),
            ("resolver :53;", "no host in resolver \":53\""),
            ("resolver abcdé;", "host not found in resolver \"abcdé\""),
            (
                "resolver unix:/x;",
                "unix domain sockets are not supported in resolver \"unix:/x\"",
            ),
            (
                "resolver no-such-host.invalid;",
                "host not found in resolver \"no-such-host.invalid\"",
            ),
            (
                "resolver 127.0.0.1; resolver 127.0.0.2;",
                "\"resolver\" directive is duplicate",
            ),
            (
                "resolver_timeout 1x;",
                "\"resolver_timeout\" directive invalid value",
            ),
            (
                "resolver_timeout 1s; resolver_timeout 2s;",
                "\"resolver_timeout\" directive is duplicate",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(load_err(&http(text)), want, "{text}");
        }
        assert_eq!(
            load_err(&http(
                "server { location / { if ($uri) { resolver 127.0.0.1; } } }"
            )),
            "\"resolver\" directive is not allowed here"
        );
    }
}
