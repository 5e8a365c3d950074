//! `allow`/`deny` (nginx's `ngx_http_access_module`) and `limit_except` (a block of
//! `ngx_http_core_module` that gives the methods it does not name their own settings,
//! usually access rules).

use std::rc::Rc;

use crate::cidr::{Cidr, MatchAddr, Parsed};
use crate::client_addr::ClientIp;

use super::directives::{Ctx, block, walk};
use super::error::ConfError;
use super::parser::Directive;
use super::raw::{IfRaw, Level, Shared};
use super::settings::{LocRaw, LocSettings};

/// One `allow` or `deny` rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRule {
    /// Which clients it covers.
    pub addresses: RuleAddresses,
    /// `deny` (else `allow`).
    pub deny: bool,
}

/// The clients a rule covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleAddresses {
    /// `all`: every client, whatever its address family.
    All,
    /// A network, or `unix:` for clients of UNIX-domain sockets (`listen unix:`).
    Range(Cidr),
}

impl AccessRule {
    /// Whether the rule covers a client at `peer` (an IPv4-mapped IPv6 address is taken
    /// as its IPv4 address, as nginx does).
    pub fn covers(&self, peer: ClientIp) -> bool {
        self.covers_addr(MatchAddr::of(peer.addr()))
    }

    /// [`AccessRule::covers`] for an address already in matching form.
    #[inline]
    pub fn covers_addr(&self, peer: MatchAddr) -> bool {
        match self.addresses {
            RuleAddresses::All => true,
            RuleAddresses::Range(range) => range.holds(peer),
        }
    }
}

/// The rules of a level, in order; a level with any rule replaces its parent's.
pub type AccessRules = Rc<Vec<AccessRule>>;

/// `allow ADDRESS|CIDR|unix:|all;` and `deny ...;`
pub(crate) fn allow_deny(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let value = d.arg(0);
    let addresses = match value {
        "all" => RuleAddresses::All,
        "unix:" => RuleAddresses::Range(Cidr::Unix),
        _ => match Cidr::parse(value) {
            Some(Parsed::Ok(range)) => RuleAddresses::Range(range),
            Some(Parsed::LowBits(range)) => {
                shared.warnings.push(ConfError::at(
                    d,
                    format!("low address bits of {value} are meaningless"),
                ));
                RuleAddresses::Range(range)
            }
            None => return Err(ConfError::at(d, format!("invalid parameter \"{value}\""))),
        },
    };
    let rule = AccessRule {
        addresses,
        deny: d.name == "deny",
    };
    let rules = l.loc(d)?.access.get_or_insert_with(Rc::default);
    Rc::make_mut(rules).push(rule);
    Ok(())
}

/// nginx's method bits (`NGX_HTTP_GET`...), by which `limit_except` names methods.
pub const METHOD_BITS: &[(&str, u32)] = &[
    ("GET", 0x0002),
    ("HEAD", 0x0004),
    ("POST", 0x0008),
    ("PUT", 0x0010),
    ("DELETE", 0x0020),
    ("MKCOL", 0x0040),
    ("COPY", 0x0080),
    ("MOVE", 0x0100),
    ("OPTIONS", 0x0200),
    ("PROPFIND", 0x0400),
    ("PROPPATCH", 0x0800),
    ("LOCK", 0x1000),
    ("UNLOCK", 0x2000),
    ("PATCH", 0x4000),
    ("TRACE", 0x8000),
    ("CONNECT", 0x10000),
];

/// The bit of a request method as nginx's parser sets it (`NGX_HTTP_UNKNOWN` for a name
/// it does not know).
pub fn method_bit(name: &[u8]) -> u32 {
    METHOD_BITS
        .iter()
        .find(|(n, _)| n.as_bytes() == name)
        .map_or(0x0001, |(_, bit)| *bit)
}

/// `limit_except METHOD... { ... }` after merging: the settings of the methods it does not
/// name.
#[derive(Debug)]
pub struct LimitExcept {
    /// The bits of the methods the block applies to (every method but those named, and
    /// `HEAD` when `GET` is named).
    pub methods: u32,
    /// The location's settings, merged with the block's.
    pub loc: Rc<LocSettings>,
}

impl LimitExcept {
    /// Whether a request with method bit `method` gets the block's settings.
    pub fn applies_to(&self, method: u32) -> bool {
        self.methods & method != 0
    }
}

/// `limit_except` as read, before its location is merged.
#[derive(Debug)]
pub(crate) struct LimitExceptRaw {
    pub methods: u32,
    pub block: IfRaw,
}

/// `limit_except METHOD... { ... }` (in a location, once).
pub(crate) fn limit_except(
    l: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let Level::Location(location) = l else {
        return Err(ConfError::at(
            d,
            "\"limit_except\" directive is not allowed here",
        ));
    };
    if location.limit_except.is_some() {
        return Err(ConfError::directive(d, "is duplicate"));
    }
    let mut methods = u32::MAX;
    for word in &d.args {
        let Some((_, bit)) = METHOD_BITS[..14]
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&word.text))
        else {
            let message = format!("invalid method \"{}\"", word.text);
            return Err(ConfError::at(d, message));
        };
        methods &= !bit;
    }
    // Allowing GET allows HEAD.
    if methods & 0x0002 == 0 {
        methods &= !0x0004;
    }
    let mut raw = IfRaw {
        ctx: Ctx::LIMIT_EXCEPT,
        ops: Vec::new(),
        loc: LocRaw::default(),
        access_log_off: false,
        deferred: Vec::new(),
    };
    walk(&mut Level::If(&mut raw), block(d), shared)?;
    location.limit_except = Some(LimitExceptRaw {
        methods,
        block: raw,
    });
    Ok(())
}

/// Merges a `limit_except` block with its location's settings (`location`, merged): it is
/// a nameless location inside that one with a content handler of its own: its own
/// `proxy_pass` (without a URI part, as in an `if`), or else the location's `proxy_pass` or
/// `*_pass`, as nginx's upstream modules hand their handler to it (`clcf->lmt_excpt`).
/// nginx 1.22 takes only `proxy_pass` inside the block; the gateways' `*_pass` are refused
/// there but inherited.
pub(crate) fn merge_limit_except(raw: LimitExceptRaw, location: &LocRaw) -> LimitExcept {
    let mut loc = raw.block.loc;
    if raw.block.access_log_off {
        loc.access_log = Some(Vec::new());
    }
    loc.inherit(location);
    // try_files is never inherited (nginx's try_files module has no merge).
    loc.try_files = None;
    // The block's own proxy_pass is its handler; otherwise the location's (a `*_pass`
    // comes with the module's settings that `inherit` copies whole into the block).
    if loc.proxy_pass.is_none() {
        loc.proxy_pass = location.proxy_pass.clone();
    }
    LimitExcept {
        methods: raw.methods,
        loc: Rc::new(loc.finish()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    /// The rule's addresses and whether the text had no bits beyond the mask.
    fn parse_cidr(text: &str) -> Option<(RuleAddresses, bool)> {
        Some(match Cidr::parse(text)? {
            Parsed::Ok(range) => (RuleAddresses::Range(range), true),
            Parsed::LowBits(range) => (RuleAddresses::Range(range), false),
        })
    }

    #[test]
    fn cidrs_parse_as_ngx_ptocidr() {
        assert_eq!(
            parse_cidr("10.1.2.0/24"),
            Some((
                RuleAddresses::Range(Cidr::V4 {
                    addr: 0x0a01_0200,
                    mask: 0xffff_ff00
                }),
                true
            ))
        );
        assert_eq!(
            parse_cidr("10.1.2.3/24").map(|(_, exact)| exact),
            Some(false)
        );
        assert_eq!(
            parse_cidr("127.0.0.1").map(|(a, _)| a),
            Some(RuleAddresses::Range(Cidr::V4 {
                addr: 0x7f00_0001,
                mask: u32::MAX
            }))
        );
        assert!(parse_cidr("10.0.0.0/33").is_none());
        assert!(parse_cidr("10.0.0.0/").is_none());
        assert!(parse_cidr("example.com").is_none());
        assert!(parse_cidr("::1/129").is_none());
        let (v6, _) = parse_cidr("2001:db8::/32").unwrap_or((RuleAddresses::All, false));
        let rule = AccessRule {
            addresses: v6,
            deny: true,
        };
        let ip = |s: &str| ClientIp::Ip(s.parse().unwrap_or(IpAddr::V4(0.into())));
        assert!(rule.covers(ip("2001:db8::1")));
        assert!(!rule.covers(ip("2001:db9::1")));
        assert!(!rule.covers(ClientIp::Unix));
        let v4 = AccessRule {
            addresses: RuleAddresses::Range(Cidr::V4 {
                addr: 0x7f00_0000,
                mask: 0xff00_0000,
            }),
            deny: false,
        };
        let mapped: IpAddr = "::ffff:127.0.0.5".parse().unwrap_or(IpAddr::V4(0.into()));
        assert!(v4.covers(mapped.into()));
        assert!(!v4.covers(ClientIp::Unix));
        for (addresses, covers) in [
            (RuleAddresses::Range(Cidr::Unix), true),
            (RuleAddresses::All, true),
        ] {
            let rule = AccessRule {
                addresses,
                deny: true,
            };
            assert_eq!(rule.covers(ClientIp::Unix), covers);
            assert_eq!(
                rule.covers(ip("127.0.0.1")),
                addresses == RuleAddresses::All
            );
        }
    }

    #[test]
    fn method_bits() {
        assert_eq!(method_bit(b"GET"), 0x2);
        assert_eq!(method_bit(b"get"), 0x1);
        assert_eq!(method_bit(b"FOO"), 0x1);
    }
}
