//! A resolver's cache: what each name resolved to, for as long as its TTL (or `valid=`)
//! allows, keyed by the lowercased name.
//!
//! As in nginx, an entry not used for [`IDLE_LIMIT`] is dropped even when its TTL runs longer
//! (nginx's `expire`, 30 s), so names asked once do not stay. Unlike nginx, the cache is
//! bounded ([`MAX_ENTRIES`]: a `proxy_pass http://$http_host` would otherwise let clients
//! fill it), and a name that does not exist is remembered when the answer carries an SOA
//! (RFC 2308; nginx asks again every time). Server failures and timeouts are never kept.

use std::collections::HashMap;
use std::net::IpAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// An entry unused for this long is dropped (nginx's resolver `expire`).
pub const IDLE_LIMIT: Duration = Duration::from_secs(30);
/// Most names one resolver keeps; past it, new answers are used but not kept.
pub const MAX_ENTRIES: usize = 10_000;
/// Longest a negative answer is kept without `valid=` (RFC 2308 suggests 1–3 hours).
pub const MAX_NEGATIVE_TTL: u32 = 3 * 3600;
/// How often the whole cache is swept of dead entries.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// What a name resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cached {
    /// Its addresses: IPv4 first, then IPv6, in the order the server gave them.
    Addrs(Rc<[IpAddr]>),
    /// An alias: resolve this name instead.
    Cname(Rc<[u8]>),
    /// It does not exist (the DNS error code to report).
    Negative(u8),
}

struct Entry {
    value: Cached,
    valid_until: Instant,
    used: Instant,
}

/// The cache of one resolver.
#[derive(Default)]
pub struct Cache {
    entries: HashMap<Box<[u8]>, Entry>,
    swept: Option<Instant>,
}

impl Cache {
    /// The live entry for `name` (lowercased), marking it used.
    pub fn get(&mut self, name: &[u8], now: Instant) -> Option<&Cached> {
        let alive =
            |e: &Entry| now < e.valid_until && now.saturating_duration_since(e.used) < IDLE_LIMIT;
        if !alive(self.entries.get(name)?) {
            self.entries.remove(name);
            return None;
        }
        let entry = self.entries.get_mut(name)?;
        entry.used = now;
        Some(&entry.value)
    }

    /// Keeps `value` for `name` for `ttl` seconds; a zero TTL keeps nothing (the answer is
    /// used once, as the TTL says).
    pub fn put(&mut self, name: &[u8], value: Cached, ttl: u32, now: Instant) {
        if ttl == 0 {
            self.entries.remove(name);
            return;
        }
        if self.entries.len() >= MAX_ENTRIES && !self.entries.contains_key(name) {
            self.sweep(now);
            if self.entries.len() >= MAX_ENTRIES {
                return;
            }
        }
        let entry = Entry {
            value,
            valid_until: now + Duration::from_secs(u64::from(ttl)),
            used: now,
        };
        self.entries.insert(name.into(), entry);
    }

    /// Drops dead entries, at most once a second.
    pub fn maybe_sweep(&mut self, now: Instant) {
        if self
            .swept
            .is_none_or(|t| now.saturating_duration_since(t) >= SWEEP_EVERY)
        {
            self.sweep(now);
        }
    }

    fn sweep(&mut self, now: Instant) {
        self.swept = Some(now);
        self.entries.retain(|_, e| {
            now < e.valid_until && now.saturating_duration_since(e.used) < IDLE_LIMIT
        });
    }

    /// Names kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Cached {
        Cached::Addrs(list.iter().map(|a| a.parse().unwrap()).collect())
    }

    #[test]
    fn ttl_bounds_an_entry() {
        let t0 = Instant::now();
        let mut c = Cache::default();
        c.put(b"a.net", addrs(&["127.0.0.1"]), 2, t0);
        assert_eq!(
            c.get(b"a.net", t0 + Duration::from_millis(1999)),
            Some(&addrs(&["127.0.0.1"]))
        );
        assert_eq!(c.get(b"a.net", t0 + Duration::from_secs(2)), None);
        assert!(c.is_empty());
    }

    #[test]
    fn zero_ttl_is_not_kept() {
        let t0 = Instant::now();
        let mut c = Cache::default();
        c.put(b"a.net", Cached::Negative(3), 60, t0);
        c.put(b"a.net", addrs(&["::1"]), 0, t0);
        assert_eq!(c.get(b"a.net", t0), None);
    }

    #[test]
    fn idle_entries_go_after_thirty_seconds() {
        let t0 = Instant::now();
        let mut c = Cache::default();
        c.put(b"a.net", Cached::Cname(Rc::from(&b"b.net"[..])), 3600, t0);
        c.put(b"b.net", addrs(&["10.0.0.1"]), 3600, t0);
        // Used at 20 s, so it lives past 30 s; b.net was not.
        assert!(c.get(b"a.net", t0 + Duration::from_secs(20)).is_some());
        c.maybe_sweep(t0 + Duration::from_secs(31));
        assert_eq!(c.len(), 1);
        assert!(c.get(b"a.net", t0 + Duration::from_secs(49)).is_some());
        assert!(c.get(b"b.net", t0 + Duration::from_secs(31)).is_none());
    }

    #[test]
    fn bounded() {
        let t0 = Instant::now();
        let mut c = Cache::default();
        for i in 0..MAX_ENTRIES + 5 {
            c.put(format!("n{i}.net").as_bytes(), Cached::Negative(3), 60, t0);
        }
        assert_eq!(c.len(), MAX_ENTRIES);
        // Once old entries are dead, new ones fit again.
        c.put(
            b"late.net",
            Cached::Negative(3),
            60,
            t0 + Duration::from_secs(61),
        );
        assert_eq!(c.len(), 1);
    }
}
