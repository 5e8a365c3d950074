//! Address ranges as nginx writes and matches them (`ngx_ptocidr`, `ngx_cidr_match`):
//! `192.0.2.0/24`, `2001:db8::/32`, a bare address (all bits), and `unix:` for connections
//! over a unix-domain socket. Used by `set_real_ip_from` and `allow`/`deny`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cidr {
    /// IPv4 `addr/mask` (host order), `addr` already masked.
    V4 {
        /// The network.
        addr: u32,
        /// The mask.
        mask: u32,
    },
    /// IPv6 `addr/mask`, `addr` already masked.
    V6 {
        /// The network.
        addr: u128,
        /// The mask.
        mask: u128,
    },
    /// `unix:`: every unix-domain connection.
    Unix,
}

/// What [`Cidr::parse`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A range.
    Ok(Cidr),
    /// A range whose address had bits below the mask (nginx warns "low address bits of X are
    /// meaningless" and clears them).
    LowBits(Cidr),
}

impl Cidr {
    /// Parses `addr[/bits]` as `ngx_ptocidr` does; `None` if it is not one.
    pub fn parse(text: &str) -> Option<Parsed> {
        let (addr, bits) = match text.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (text, None),
        };
        let bits = match bits {
            Some(b) if b.is_empty() || !b.bytes().all(|c| c.is_ascii_digit()) => return None,
            Some(b) => Some(b.parse::<u32>().ok()?),
            None => None,
        };
        if let Ok(v4) = addr.parse::<Ipv4Addr>() {
            let bits = bits.unwrap_or(32);
            if bits > 32 {
                return None;
            }
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            let full = u32::from(v4);
            let cidr = Cidr::V4 {
                addr: full & mask,
                mask,
            };
            return Some(if full & mask != full {
                Parsed::LowBits(cidr)
            } else {
                Parsed::Ok(cidr)
            });
        }
        let v6 = addr.parse::<Ipv6Addr>().ok()?;
        let bits = bits.unwrap_or(128);
        if bits > 128 {
            return None;
        }
        let mask = if bits == 0 {
            0
        } else {
            u128::MAX << (128 - bits)
        };
        let full = u128::from(v6);
        let cidr = Cidr::V6 {
            addr: full & mask,
            mask,
        };
        Some(if full & mask != full {
            Parsed::LowBits(cidr)
        } else {
            Parsed::Ok(cidr)
        })
    }

    /// The single-address range of `ip` (a resolved host name).
    pub fn host(ip: IpAddr) -> Cidr {
        match ip {
            IpAddr::V4(v4) => Cidr::V4 {
                addr: v4.into(),
                mask: u32::MAX,
            },
            IpAddr::V6(v6) => Cidr::V6 {
                addr: v6.into(),
                mask: u128::MAX,
            },
        }
    }

    /// Whether `ip` (`None`: a unix-domain peer) is in the range. An IPv4-mapped IPv6
    /// address matches as IPv4, as `ngx_cidr_match` does.
    pub fn contains(&self, ip: Option<IpAddr>) -> bool {
        self.holds(MatchAddr::of(ip))
    }

    /// Whether the address, already in matching form, is in the range (a list of rules
    /// converts the client's address once).
    #[inline]
    pub fn holds(&self, addr: MatchAddr) -> bool {
        match (*self, addr) {
            (Cidr::V4 { addr, mask }, MatchAddr::V4(ip)) => ip & mask == addr,
            (Cidr::V6 { addr, mask }, MatchAddr::V6(ip)) => ip & mask == addr,
            (Cidr::Unix, MatchAddr::Unix) => true,
            _ => false,
        }
    }
}

/// A client's address as ranges match it: integers, an IPv4-mapped IPv6 address as its
/// IPv4 address (`ngx_cidr_match`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchAddr {
    /// IPv4, host order.
    V4(u32),
    /// IPv6, host order.
    V6(u128),
    /// A unix-domain peer.
    Unix,
}

impl MatchAddr {
    /// The matching form of `ip` (`None`: a unix-domain peer).
    #[inline]
    pub fn of(ip: Option<IpAddr>) -> MatchAddr {
        match ip {
            Some(IpAddr::V4(v4)) => MatchAddr::V4(v4.into()),
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => MatchAddr::V4(v4.into()),
                None => MatchAddr::V6(v6.into()),
            },
            None => MatchAddr::Unix,
        }
    }
}

/// Whether any range of `list` holds `ip`.
pub fn matches(list: &[Cidr], ip: Option<IpAddr>) -> bool {
    let addr = MatchAddr::of(ip);
    list.iter().any(|c| c.holds(addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Cidr {
        match Cidr::parse(text) {
            Some(Parsed::Ok(c)) => c,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn parses_as_ngx_ptocidr() {
        assert_eq!(
            ok("10.0.1.0/24"),
            Cidr::V4 {
                addr: 0x0a00_0100,
                mask: 0xffff_ff00
            }
        );
        assert_eq!(
            ok("127.0.0.1"),
            Cidr::V4 {
                addr: 0x7f00_0001,
                mask: u32::MAX
            }
        );
        assert_eq!(ok("0.0.0.0/0"), Cidr::V4 { addr: 0, mask: 0 });
        assert!(matches!(
            Cidr::parse("10.0.1.1/24"),
            Some(Parsed::LowBits(Cidr::V4 {
                addr: 0x0a00_0100,
                ..
            }))
        ));
        assert!(ok("2001:DB8::1/128").contains(Some("2001:db8::1".parse().unwrap())));
        for bad in [
            "10.0.0.1/33",
            "::/129",
            "10.0.0.1/",
            "10.0.0.1/x",
            "host",
            "1.2.3",
            "",
        ] {
            assert_eq!(Cidr::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn matches_as_ngx_cidr_match() {
        let list = [ok("127.0.0.1/32"), ok("10.0.1.0/24"), Cidr::Unix];
        assert!(matches(&list, Some("10.0.1.77".parse().unwrap())));
        assert!(matches(&list, Some("::ffff:127.0.0.1".parse().unwrap())));
        assert!(!matches(&list, Some("10.0.2.1".parse().unwrap())));
        assert!(matches(&list, None));
        assert!(!matches(&list[..2], None));
        assert!(ok("::/0").contains(Some("2001:db8::1".parse().unwrap())));
        assert!(!ok("::/0").contains(Some("1.2.3.4".parse().unwrap())));
    }
}
