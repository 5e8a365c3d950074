//! Values of the main context and `events {}` that need more than a number: `env`, CPU sets for `worker_cpu_affinity`, and the client addresses of
//! `debug_connection`.

use std::net::{IpAddr, SocketAddr};

/// One `env` directive: keep `NAME` from the environment Portico was started with, or set it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvVar {
    /// The variable's name (may be empty, as nginx allows `env =x;`).
    pub name: String,
    /// `env NAME=VALUE;` gives the value; `env NAME;` keeps the inherited one, if any.
    pub value: Option<String>,
}

impl EnvVar {
    /// Splits `NAME` or `NAME=VALUE` at the first `=`, as `ngx_set_env` does.
    pub fn parse(text: &str) -> EnvVar {
        match text.split_once('=') {
            Some((name, value)) => EnvVar {
                name: name.to_string(),
                value: Some(value.to_string()),
            },
            None => EnvVar {
                name: text.to_string(),
                value: None,
            },
        }
    }
}

/// The variable nginx keeps even when no `env` names it.
pub const ALWAYS_KEPT_VAR: &str = "TZ";

/// The environment a worker (or a new binary) gets, as nginx's `ngx_set_environment`: each
/// `env` in order (`TZ` added when none names it), a set value as given, a kept one from
/// `inherited` when it is there. A name given twice keeps its first value, which is what
/// `getenv` would see in nginx's list.
pub fn configured_environment<I>(env: &[EnvVar], inherited: I) -> Vec<(String, String)>
where
    I: IntoIterator<Item = (String, String)>,
{
    let inherited: Vec<(String, String)> = inherited.into_iter().collect();
    let names_tz = env.iter().any(|v| v.name == ALWAYS_KEPT_VAR);
    let tz = EnvVar {
        name: ALWAYS_KEPT_VAR.to_string(),
        value: None,
    };
    let wanted = env.iter().chain((!names_tz).then_some(&tz));
    let mut out: Vec<(String, String)> = Vec::new();
    for var in wanted {
        let value = match &var.value {
            Some(v) => Some(v.clone()),
            None => inherited
                .iter()
                .find(|(k, _)| *k == var.name)
                .map(|(_, v)| v.clone()),
        };
        if let Some(value) = value
            && !out.iter().any(|(k, _)| *k == var.name)
        {
            out.push((var.name.clone(), value));
        }
    }
    out
}

/// CPUs supported by `worker_cpu_affinity` masks (glibc's and nginx's `CPU_SETSIZE`).
pub const MAX_CPUS: usize = 1024;

/// A set of CPU numbers below [`MAX_CPUS`].
#[derive(Clone, PartialEq, Eq)]
pub struct CpuSet([u64; MAX_CPUS / 64]);

impl Default for CpuSet {
    fn default() -> CpuSet {
        CpuSet([0; MAX_CPUS / 64])
    }
}

impl CpuSet {
    /// The set of the listed CPUs (numbers at or above [`MAX_CPUS`] are left out).
    pub fn of(cpus: impl IntoIterator<Item = usize>) -> CpuSet {
        let mut set = CpuSet::default();
        for cpu in cpus {
            set.insert(cpu);
        }
        set
    }

    /// Adds `cpu`.
    pub fn insert(&mut self, cpu: usize) {
        if let Some(word) = self.0.get_mut(cpu / 64) {
            *word |= 1 << (cpu % 64);
        }
    }

    /// Whether `cpu` is in the set.
    pub fn contains(&self, cpu: usize) -> bool {
        self.0
            .get(cpu / 64)
            .is_some_and(|w| w & (1 << (cpu % 64)) != 0)
    }

    /// The CPUs in the set, lowest first.
    pub fn cpus(&self) -> impl Iterator<Item = usize> + '_ {
        (0..MAX_CPUS).filter(|&c| self.contains(c))
    }
}

impl std::fmt::Debug for CpuSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.cpus()).finish()
    }
}

/// Whether to pin workers to CPUs.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum CpuAffinity {
    /// No pinning (nginx's default).
    #[default]
    None,
    /// `worker_cpu_affinity auto [MASK]`: worker N on the Nth CPU the process may use (of
    /// those in MASK, when given).
    Auto(Option<CpuSet>),
    /// One set per worker, as written; the last one serves the workers beyond the list.
    Masks(Vec<CpuSet>),
}

impl CpuAffinity {
    /// The CPUs worker `slot` is pinned to, `None` for no pinning. `allowed` are the CPUs
    /// the process may run on, lowest first (only `auto` uses them).
    pub fn for_worker(&self, slot: usize, allowed: &[usize]) -> Option<CpuSet> {
        match self {
            CpuAffinity::None => None,
            CpuAffinity::Masks(masks) => masks.get(slot).or(masks.last()).cloned(),
            CpuAffinity::Auto(limit) => {
                let usable: Vec<usize> = allowed
                    .iter()
                    .copied()
                    .filter(|&c| limit.as_ref().is_none_or(|m| m.contains(c)))
                    .collect();
                // An empty mask pins nothing, as nginx's ngx_get_cpu_affinity.
                let cpu = *usable.get(slot % usable.len().max(1))?;
                Some(CpuSet::of([cpu]))
            }
        }
    }
}

/// One `debug_connection` entry: clients whose connections log at `debug` level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DebugPeer {
    /// An address block (a single address or host has a full mask).
    Cidr(Cidr),
    /// `unix:`: every connection accepted on a UNIX-domain socket.
    Unix,
}

impl DebugPeer {
    /// Whether a client at `peer` (`None` for a UNIX-domain client) matches.
    pub fn matches(&self, peer: Option<&SocketAddr>) -> bool {
        match (self, peer) {
            (DebugPeer::Unix, None) => true,
            (DebugPeer::Cidr(c), Some(addr)) => c.contains(addr.ip()),
            _ => false,
        }
    }
}

/// An address with a prefix length (`10.0.0.0/8`, `::1/128`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    /// The network address, host bits cleared.
    pub addr: IpAddr,
    /// Prefix length in bits.
    pub bits: u8,
}

impl Cidr {
    /// Parses `ADDR` or `ADDR/BITS` as `ngx_ptocidr`: `None` if it is not one; the flag says
    /// whether host bits were set (nginx warns that they are meaningless and clears them).
    pub fn parse(text: &str) -> Option<(Cidr, bool)> {
        let (addr, bits) = match text.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (text, None),
        };
        let addr: IpAddr = addr.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(b) if !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit()) => {
                b.parse::<u8>().ok().filter(|&n| n <= max)?
            }
            Some(_) => return None,
        };
        let masked = mask(addr, bits);
        Some((Cidr { addr: masked, bits }, masked != addr))
    }

    /// A single address.
    pub fn host(addr: IpAddr) -> Cidr {
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        Cidr { addr, bits }
    }

    /// Whether `ip` is in the block. As nginx compares them, an IPv4 block does not match an
    /// IPv4-mapped IPv6 client (`::ffff:10.0.0.1` on a dual-stack socket).
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.bits) == self.addr
    }
}

fn mask(addr: IpAddr, bits: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let m = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            IpAddr::V4((u32::from(a) & m).into())
        }
        IpAddr::V6(a) => {
            let m = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            IpAddr::V6((u128::from(a) & m).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn environment_keeps_tz_and_what_env_names() {
        let inherited = vars(&[
            ("TZ", "UTC"),
            ("HOME", "/root"),
            ("KEEP", "1"),
            ("PATH", "/bin"),
        ]);
        let env = [
            EnvVar::parse("KEEP"),
            EnvVar::parse("SET=a=b"),
            EnvVar::parse("MISSING"),
        ];
        assert_eq!(
            configured_environment(&env, inherited.clone()),
            vars(&[("KEEP", "1"), ("SET", "a=b"), ("TZ", "UTC")])
        );
        assert_eq!(
            configured_environment(&[], inherited.clone()),
            vars(&[("TZ", "UTC")])
        );
        // TZ may be replaced; a name given twice keeps its first value.
        let env = [EnvVar::parse("TZ=Asia/Tokyo"), EnvVar::parse("TZ")];
        assert_eq!(
            configured_environment(&env, inherited),
            vars(&[("TZ", "Asia/Tokyo")])
        );
        assert_eq!(configured_environment(&[], Vec::new()), Vec::new());
    }

    #[test]
    fn cidr_parses_and_matches_like_nginx() {
        let (c, host_bits) = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(!host_bits);
        assert!(c.contains("10.1.2.3".parse().unwrap()));
        assert!(!c.contains("11.0.0.1".parse().unwrap()));
        assert!(!c.contains("::ffff:10.9.9.9".parse().unwrap()));
        let (c, host_bits) = Cidr::parse("10.0.0.1/8").unwrap();
        assert!(host_bits);
        assert_eq!(c.addr, "10.0.0.0".parse::<IpAddr>().unwrap());
        let (c, _) = Cidr::parse("::1").unwrap();
        assert!(c.contains("::1".parse().unwrap()));
        assert!(!c.contains("127.0.0.1".parse().unwrap()));
        let (all, _) = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(all.contains("192.168.1.1".parse().unwrap()));
        for bad in [
            "1.2.3.4/33",
            "::1/129",
            "1.2.3.4/x",
            "1.2.3.4/",
            "[::1]",
            "localhost",
        ] {
            assert!(Cidr::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn affinity_picks_a_cpu_per_worker() {
        let masks = CpuAffinity::Masks(vec![CpuSet::of([0]), CpuSet::of([1, 2])]);
        assert_eq!(masks.for_worker(0, &[]), Some(CpuSet::of([0])));
        assert_eq!(masks.for_worker(5, &[]), Some(CpuSet::of([1, 2])));
        let auto = CpuAffinity::Auto(None);
        assert_eq!(auto.for_worker(1, &[0, 1, 2]), Some(CpuSet::of([1])));
        assert_eq!(auto.for_worker(4, &[0, 1, 2]), Some(CpuSet::of([1])));
        let limited = CpuAffinity::Auto(Some(CpuSet::of([1, 3])));
        assert_eq!(limited.for_worker(0, &[0, 1, 2, 3]), Some(CpuSet::of([1])));
        assert_eq!(limited.for_worker(1, &[0, 1, 2, 3]), Some(CpuSet::of([3])));
        assert_eq!(
            CpuAffinity::Auto(Some(CpuSet::default())).for_worker(0, &[0, 1]),
            None
        );
        assert_eq!(CpuAffinity::None.for_worker(0, &[0]), None);
        assert_eq!(CpuSet::of([1023, 1024]).cpus().collect::<Vec<_>>(), [1023]);
    }
}
