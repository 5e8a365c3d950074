//! `ngx_http_realip_module`'s address search (`ngx_http_get_forwarded_addr`): starting from
//! the connection's peer, while the current address is a trusted proxy (`set_real_ip_from`),
//! take the next address from the right of the header; `real_ip_recursive off` takes one
//! step only. The worker's phases ([`crate::worker`]) pick the header and apply the result.

use std::net::{IpAddr, SocketAddr};

use crate::cidr::{self, Cidr};
use crate::client_addr::ClientAddr;

/// How a search went (nginx's `NGX_OK` / `NGX_DONE` / `NGX_DECLINED`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Every step went through.
    Ok,
    /// Stopped at an untrusted or unparsable address after at least one step.
    Done,
    /// No step at all.
    Declined,
}

/// Whether `addr` is a trusted proxy (a unix-domain peer is when `unix:` is listed).
fn trusted(addr: ClientAddr, proxies: &[Cidr]) -> bool {
    cidr::matches(proxies, addr.ip().addr())
}

/// `ngx_parse_addr_port`: `ADDR`, `ADDR:PORT` or `[ADDR6]:PORT` (port 0 when absent).
pub fn parse_addr_port(text: &[u8]) -> Option<SocketAddr> {
    let text = std::str::from_utf8(text).ok()?;
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, 0));
    }
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        (host, after.strip_prefix(':')?)
    } else {
        text.split_once(':')?
    };
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let port: u32 = port.parse().ok()?;
    if !(1..=65535).contains(&port) {
        return None;
    }
    let ip = host.parse::<IpAddr>().ok()?;
    Some(SocketAddr::new(ip, port as u16))
}

/// `ngx_http_get_forwarded_addr_internal` over one header value.
fn search(addr: &mut ClientAddr, value: &[u8], proxies: &[Cidr], recursive: bool) -> Step {
    let mut len = value.len();
    let mut found = false;
    loop {
        if !trusted(*addr, proxies) {
            return if found { Step::Done } else { Step::Declined };
        }
        // Skip trailing separators, then back to the start of the last element.
        while len > 1 && matches!(value[len - 1], b' ' | b',') {
            len -= 1;
        }
        let mut p = len.saturating_sub(1);
        while p > 0 {
            if matches!(value[p], b' ' | b',') {
                p += 1;
                break;
            }
            p -= 1;
        }
        let Some(parsed) = parse_addr_port(&value[p.min(len)..len]) else {
            return if found { Step::Done } else { Step::Declined };
        };
        *addr = ClientAddr::Inet(parsed);
        found = true;
        if !(recursive && p > 0) {
            return Step::Ok;
        }
        len = p - 1;
    }
}

/// The client address the header `values` (every occurrence, in request order) give for a
/// connection from `peer`; `None` when the realip module leaves the address alone.
pub fn forwarded_addr(
    peer: ClientAddr,
    values: &[&[u8]],
    proxies: &[Cidr],
    recursive: bool,
) -> Option<SocketAddr> {
    let mut addr = peer;
    let mut rc = Step::Declined;
    let mut found = false;
    for value in values.iter().rev() {
        rc = search(&mut addr, value, proxies, recursive);
        if !recursive {
            break;
        }
        if rc == Step::Declined && found {
            rc = Step::Done;
            break;
        }
        if rc != Step::Ok {
            break;
        }
        found = true;
    }
    match addr {
        ClientAddr::Inet(a) if rc != Step::Declined => Some(a),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cidr::Parsed;

    fn proxies() -> Vec<Cidr> {
        ["127.0.0.1/32", "10.0.1.0/24"]
            .iter()
            .map(|t| match Cidr::parse(t) {
                Some(Parsed::Ok(c)) => c,
                _ => panic!(),
            })
            .collect()
    }

    fn ip(values: &[&str], recursive: bool) -> Option<String> {
        let values: Vec<&[u8]> = values.iter().map(|v| v.as_bytes()).collect();
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        forwarded_addr(peer.into(), &values, &proxies(), recursive).map(|a| a.ip().to_string())
    }

    #[test]
    fn realip_t_cases() {
        assert_eq!(ip(&["192.0.2.1"], false).as_deref(), Some("192.0.2.1"));
        assert_eq!(
            ip(&["10.0.0.1, 192.0.2.1"], false).as_deref(),
            Some("192.0.2.1")
        );
        assert_eq!(
            ip(&["192.0.2.1, 10.0.1.1, 127.0.0.1"], false).as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(
            ip(&["10.0.1.1, 192.0.2.1, 127.0.0.1"], true).as_deref(),
            Some("192.0.2.1")
        );
        assert_eq!(
            ip(&["192.0.2.1", "127.0.0.1, 10.0.1.1"], false).as_deref(),
            Some("10.0.1.1")
        );
        assert_eq!(
            ip(&["10.0.1.1", "192.0.2.1", "127.0.0.1"], true).as_deref(),
            Some("192.0.2.1")
        );
        assert_eq!(ip(&["junk"], false), None);
        assert_eq!(ip(&["127.0.0.1, junk"], true).as_deref(), None);
        assert_eq!(ip(&["junk, 10.0.1.5"], true).as_deref(), Some("10.0.1.5"));
    }

    #[test]
    fn addresses_with_ports() {
        assert_eq!(
            parse_addr_port(b"127.0.0.1:123"),
            Some("127.0.0.1:123".parse().unwrap())
        );
        assert_eq!(
            parse_addr_port(b"[::1]:80"),
            Some("[::1]:80".parse().unwrap())
        );
        assert_eq!(parse_addr_port(b"2001:db8::1").map(|a| a.port()), Some(0));
        assert_eq!(parse_addr_port(b"1.2.3.4:0"), None);
        assert_eq!(parse_addr_port(b"1.2.3.4:70000"), None);
    }
}
