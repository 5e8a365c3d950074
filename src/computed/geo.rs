//! `geo [$address] $variable { ... }` (`ngx_http_geo_module`): a value by client address,
//! from networks (`192.0.2.0/24 value;`) or, with `ranges`, IPv4 ranges
//! (`192.0.2.1-192.0.2.9 value;`), built at load into [`IntervalTable`]s.
//!
//! The address is the connection's (`$binary_remote_addr`) or, with `$address`, that
//! variable's value. With `proxy` networks, an address among them is replaced from
//! `X-Forwarded-For` as nginx does (the last address, or with `proxy_recursive` the last
//! one that is not a trusted proxy). An address that cannot be read is looked up as
//! `255.255.255.255` (nginx's `INADDR_NONE`), so `255.255.255.255 value;` catches it.

use std::net::IpAddr;

use super::addr::{Cidr, forwarded_addr, parse_addr, unmapped};
use super::intervals::IntervalTable;
use crate::vars::{Var, VarSource};

/// nginx's `INADDR_NONE`, what an unreadable address is looked up as.
pub const INADDR_NONE: u32 = u32::MAX;

/// The lookup of one `geo` block.
#[derive(Clone, Debug)]
pub enum GeoTable {
    /// Networks: IPv4 and IPv6 (an IPv4-mapped IPv6 address uses the IPv4 table).
    Networks {
        /// IPv4 networks.
        v4: IntervalTable<u32>,
        /// IPv6 networks.
        v6: IntervalTable<u128>,
    },
    /// `ranges`: IPv4 only; anything else is looked up as [`INADDR_NONE`].
    Ranges {
        /// The ranges.
        table: IntervalTable<u32>,
        /// The `default` value's index, if any.
        default: Option<u32>,
    },
}

/// A `geo` variable.
#[derive(Clone, Debug)]
pub struct GeoVar {
    /// `$address`, or `None` for the client's address.
    pub source: Option<Var>,
    /// `proxy` networks: `X-Forwarded-For` is read when the address is one of them.
    pub proxies: Vec<Cidr>,
    /// `$http_x_forwarded_for`, made once.
    pub forwarded_for: Var,
    /// `proxy_recursive`.
    pub recursive: bool,
    /// The networks or ranges.
    pub table: GeoTable,
    /// The distinct values, indexed by the tables.
    pub values: Vec<Box<[u8]>>,
}

/// `$http_x_forwarded_for`, where `proxy` finds the client behind a proxy.
pub fn forwarded_for() -> Var {
    Var::Http("x_forwarded_for".to_string())
}

impl GeoVar {
    /// The address the lookup uses (`ngx_http_geo_addr`); `None` when it cannot be read.
    fn address(&self, src: &dyn VarSource, scratch: &mut Vec<u8>) -> Option<IpAddr> {
        scratch.clear();
        let addr = match &self.source {
            None => {
                if !src.var(&Var::BinaryRemoteAddr, scratch) {
                    return None;
                }
                match scratch.len() {
                    4 => IpAddr::from(<[u8; 4]>::try_from(&scratch[..]).ok()?),
                    16 => IpAddr::from(<[u8; 16]>::try_from(&scratch[..]).ok()?),
                    _ => return None,
                }
            }
            Some(var) => {
                if !src.var(var, scratch) {
                    return None;
                }
                parse_addr(scratch)?
            }
        };
        if self.proxies.is_empty() {
            return Some(addr);
        }
        scratch.clear();
        if !src.var(&self.forwarded_for, scratch) {
            return Some(addr);
        }
        Some(forwarded_addr(addr, scratch, &self.proxies, self.recursive))
    }

    /// The value for this request (`scratch` is working space).
    pub fn value<'v>(&'v self, src: &dyn VarSource, scratch: &mut Vec<u8>) -> &'v [u8] {
        let addr = self.address(src, scratch).map(unmapped);
        let index = match &self.table {
            GeoTable::Networks { v4, v6 } => match addr {
                Some(IpAddr::V6(a)) => v6.find(u128::from(a)),
                Some(IpAddr::V4(a)) => v4.find(u32::from(a)),
                None => v4.find(INADDR_NONE),
            },
            GeoTable::Ranges { table, default } => {
                let key = match addr {
                    Some(IpAddr::V4(a)) => u32::from(a),
                    _ => INADDR_NONE,
                };
                table.find(key).or(*default)
            }
        };
        index
            .and_then(|i| self.values.get(i as usize))
            .map_or(b"", |v| v)
    }
}
