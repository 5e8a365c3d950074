//! Addresses as nginx reads them in configurations and headers (`ngx_inet.c`):
//! `ngx_inet_addr`, `ngx_ptocidr`, `ngx_parse_addr`, `ngx_parse_addr_port`, `ngx_cidr_match`,
//! and the `X-Forwarded-For` walk of `ngx_http_get_forwarded_addr` that `geo ... proxy`
//! (and later the realip module) use.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `ngx_inet_addr`: a dotted quad, each part a decimal number up to 255 (leading zeros
/// and empty parts read as nginx reads them: `1..2.3` is 1.0.2.3). `255.255.255.255` is
/// `INADDR_NONE`, nginx's "invalid", and gives `None` like any bad text.
pub fn inet_addr(text: &[u8]) -> Option<u32> {
    let (mut addr, mut octet, mut dots) = (0u32, 0u32, 0);
    for &c in text {
        match c {
            b'0'..=b'9' => {
                octet = octet * 10 + u32::from(c - b'0');
                if octet > 255 {
                    return None;
                }
            }
            b'.' => {
                addr = (addr << 8).wrapping_add(octet);
                octet = 0;
                dots += 1;
            }
            _ => return None,
        }
    }
    if dots != 3 {
        return None;
    }
    let addr = (addr << 8).wrapping_add(octet);
    (addr != u32::MAX).then_some(addr)
}

/// `ngx_inet6_addr`: an IPv6 address (`::1`, `2001:db8::`, `::ffff:192.0.2.1`).
pub fn inet6_addr(text: &[u8]) -> Option<Ipv6Addr> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// `ngx_parse_addr`: an IPv4 or IPv6 address without port.
pub fn parse_addr(text: &[u8]) -> Option<IpAddr> {
    match inet_addr(text) {
        Some(v4) => Some(IpAddr::V4(Ipv4Addr::from(v4))),
        None => inet6_addr(text).map(IpAddr::V6),
    }
}

/// `ngx_parse_addr_port`: an address, optionally with a port (`192.0.2.1:80`,
/// `[2001:db8::1]:80`); the port is checked and dropped.
pub fn parse_addr_port(text: &[u8]) -> Option<IpAddr> {
    if let Some(addr) = parse_addr(text) {
        return Some(addr);
    }
    let (addr, port) = if let Some(rest) = text.strip_prefix(b"[") {
        let close = memchr::memchr(b']', rest)?;
        (&rest[..close], rest[close + 1..].strip_prefix(b":")?)
    } else {
        let colon = memchr::memchr(b':', text)?;
        (&text[..colon], &text[colon + 1..])
    };
    // `ngx_atoi`: digits only.
    if port.is_empty() || !port.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let port = port
        .iter()
        .fold(0u32, |n, d| (n * 10 + u32::from(d - b'0')).min(1 << 20));
    if port == 0 || port > 65535 {
        return None;
    }
    parse_addr(addr)
}

/// A network, as `ngx_ptocidr` reads `addr[/bits]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cidr {
    /// An IPv4 network: address (masked) and prefix length.
    V4(u32, u8),
    /// An IPv6 network: address (masked) and prefix length.
    V6(u128, u8),
}

/// What `ngx_ptocidr` says about a network written with host bits set (`10.0.0.1/8`):
/// accepted, masked, and warned about ("low address bits of ... are meaningless").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CidrNote {
    /// The address had no bits beyond the prefix.
    Exact,
    /// Bits beyond the prefix were dropped.
    LowBitsDropped,
}

fn mask32(bits: u8) -> u32 {
    if bits == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(bits))
    }
}

fn mask128(bits: u8) -> u128 {
    if bits == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(bits))
    }
}

/// `ngx_ptocidr`: `addr` or `addr/bits`, IPv4 or IPv6; `None` for nginx's "invalid network".
pub fn parse_cidr(text: &[u8]) -> Option<(Cidr, CidrNote)> {
    let (addr, bits) = match memchr::memchr(b'/', text) {
        Some(slash) => (&text[..slash], Some(&text[slash + 1..])),
        None => (text, None),
    };
    let bits = match bits {
        None => None,
        Some(b) if !b.is_empty() && b.iter().all(u8::is_ascii_digit) && b.len() <= 3 => {
            Some(std::str::from_utf8(b).ok()?.parse::<u16>().ok()?)
        }
        Some(_) => return None,
    };
    let (cidr, masked) = if let Some(v4) = inet_addr(addr) {
        let bits = match bits {
            None => 32,
            Some(b) if b <= 32 => b as u8,
            Some(_) => return None,
        };
        let masked = v4 & mask32(bits);
        (Cidr::V4(masked, bits), masked == v4)
    } else {
        let v6 = u128::from(inet6_addr(addr)?);
        let bits = match bits {
            None => 128,
            Some(b) if b <= 128 => b as u8,
            Some(_) => return None,
        };
        let masked = v6 & mask128(bits);
        (Cidr::V6(masked, bits), masked == v6)
    };
    let note = if masked {
        CidrNote::Exact
    } else {
        CidrNote::LowBitsDropped
    };
    Some((cidr, note))
}

/// An address as nginx's lookups see it: an IPv4-mapped IPv6 address is IPv4.
pub fn unmapped(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

impl Cidr {
    /// Whether `addr` is in the network (`ngx_cidr_match` for one entry).
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self, unmapped(addr)) {
            (Cidr::V4(net, bits), IpAddr::V4(a)) => u32::from(a) & mask32(*bits) == *net,
            (Cidr::V6(net, bits), IpAddr::V6(a)) => u128::from(a) & mask128(*bits) == *net,
            _ => false,
        }
    }
}

fn trusted(addr: IpAddr, proxies: &[Cidr]) -> bool {
    proxies.iter().any(|c| c.contains(addr))
}

/// The client address behind trusted proxies, as `ngx_http_get_forwarded_addr` reads an
/// `X-Forwarded-For` value: while `addr` is one of `proxies`, the rightmost address of
/// the list (a port allowed) replaces it; without `recursive` only once. An unparsable
/// entry stops the walk.
pub fn forwarded_addr(addr: IpAddr, xff: &[u8], proxies: &[Cidr], recursive: bool) -> IpAddr {
    let is_sep = |c: u8| c == b' ' || c == b',';
    let mut addr = addr;
    let mut end = xff.len();
    loop {
        if !trusted(addr, proxies) || end == 0 {
            return addr;
        }
        let mut p = end - 1;
        while p > 0 && is_sep(xff[p]) {
            p -= 1;
            end -= 1;
        }
        while p > 0 {
            if is_sep(xff[p]) {
                p += 1;
                break;
            }
            p -= 1;
        }
        match xff.get(p..end).and_then(parse_addr_port) {
            Some(next) => addr = next,
            None => return addr,
        }
        if !recursive || p == 0 {
            return addr;
        }
        end = p - 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn dotted_quads_as_nginx_reads_them() {
        assert_eq!(inet_addr(b"192.0.2.1"), Some(0xc000_0201));
        assert_eq!(inet_addr(b"010.0.0.1"), Some(0x0a00_0001));
        assert_eq!(inet_addr(b"1..2.3"), Some(0x0100_0203));
        assert_eq!(inet_addr(b"255.255.255.255"), None);
        assert_eq!(inet_addr(b"256.0.0.1"), None);
        assert_eq!(inet_addr(b"1.2.3"), None);
        assert_eq!(inet_addr(b"1.2.3.4.5"), None);
        assert_eq!(inet_addr(b"1.2.3.x"), None);
        assert_eq!(parse_addr(b"::1"), Some(ip("::1")));
        assert_eq!(parse_addr(b"x"), None);
    }

    #[test]
    fn addresses_with_ports() {
        assert_eq!(parse_addr_port(b"192.0.2.1:80"), Some(ip("192.0.2.1")));
        assert_eq!(
            parse_addr_port(b"[2001:db8::1]:8080"),
            Some(ip("2001:db8::1"))
        );
        assert_eq!(parse_addr_port(b"2001:db8::1"), Some(ip("2001:db8::1")));
        assert_eq!(parse_addr_port(b"192.0.2.1:0"), None);
        assert_eq!(parse_addr_port(b"192.0.2.1:65536"), None);
        assert_eq!(parse_addr_port(b"192.0.2.1:+80"), None);
        assert_eq!(parse_addr_port(b"[::1]"), None);
    }

    #[test]
    fn networks() {
        assert_eq!(
            parse_cidr(b"10.0.0.0/8"),
            Some((Cidr::V4(0x0a00_0000, 8), CidrNote::Exact))
        );
        assert_eq!(
            parse_cidr(b"10.1.2.3/8"),
            Some((Cidr::V4(0x0a00_0000, 8), CidrNote::LowBitsDropped))
        );
        assert_eq!(
            parse_cidr(b"0.0.0.0/0"),
            Some((Cidr::V4(0, 0), CidrNote::Exact))
        );
        assert_eq!(
            parse_cidr(b"192.0.2.1"),
            Some((Cidr::V4(0xc000_0201, 32), CidrNote::Exact))
        );
        assert_eq!(parse_cidr(b"::/0"), Some((Cidr::V6(0, 0), CidrNote::Exact)));
        assert!(matches!(
            parse_cidr(b"2001:db8::/32"),
            Some((Cidr::V6(_, 32), CidrNote::Exact))
        ));
        assert_eq!(parse_cidr(b"10.0.0.0/33"), None);
        assert_eq!(parse_cidr(b"10.0.0.0/"), None);
        assert_eq!(parse_cidr(b"10.0.0.0/-1"), None);
        assert_eq!(parse_cidr(b"255.255.255.255/32"), None);
        assert_eq!(parse_cidr(b"example"), None);
        let (net, _) = parse_cidr(b"127.0.0.0/8").unwrap();
        assert!(net.contains(ip("127.1.2.3")));
        assert!(net.contains(ip("::ffff:127.0.0.1")));
        assert!(!net.contains(ip("128.0.0.1")));
        assert!(!net.contains(ip("::1")));
    }

    #[test]
    fn forwarded_for_walk() {
        let proxies = [parse_cidr(b"127.0.0.1").unwrap().0];
        let lo = ip("127.0.0.1");
        assert_eq!(
            forwarded_addr(lo, b"192.0.2.1", &proxies, false),
            ip("192.0.2.1")
        );
        assert_eq!(
            forwarded_addr(lo, b"10.0.0.1, 192.0.2.1", &proxies, false),
            ip("192.0.2.1")
        );
        // The rightmost is a trusted proxy again: only a recursive walk goes on.
        assert_eq!(
            forwarded_addr(lo, b"192.0.2.1, 127.0.0.1", &proxies, false),
            lo
        );
        assert_eq!(
            forwarded_addr(lo, b"192.0.2.1, 127.0.0.1", &proxies, true),
            ip("192.0.2.1")
        );
        assert_eq!(
            forwarded_addr(lo, b"192.0.2.1 ,127.0.0.1, ", &proxies, true),
            ip("192.0.2.1")
        );
        // Untrusted peer, garbage and an empty header leave the address alone.
        let other = ip("10.9.9.9");
        assert_eq!(forwarded_addr(other, b"192.0.2.1", &proxies, true), other);
        assert_eq!(forwarded_addr(lo, b"junk", &proxies, true), lo);
        assert_eq!(forwarded_addr(lo, b"", &proxies, true), lo);
        assert_eq!(
            forwarded_addr(lo, b"192.0.2.1:8080", &proxies, true),
            ip("192.0.2.1")
        );
        assert_eq!(
            forwarded_addr(lo, b"::ffff:192.0.2.1", &proxies, false),
            ip("::ffff:192.0.2.1")
        );
    }
}
