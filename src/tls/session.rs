//! `ssl_session_cache builtin[:SIZE]`: a worker's own cache of TLS sessions (rustls's
//! memory cache) whose entries expire after `ssl_session_timeout`, as OpenSSL's do.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::server::{ServerSessionMemoryCache, StoresServerSessions};

/// A session cache whose entries carry their expiry.
#[derive(Debug)]
pub struct Expiring {
    inner: std::sync::Arc<ServerSessionMemoryCache>,
    timeout: Duration,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Expiring {
    /// A cache of `size` sessions, each valid for `timeout`.
    pub fn new(size: usize, timeout: Duration) -> Expiring {
        Expiring {
            inner: ServerSessionMemoryCache::new(size.max(1)),
            timeout,
        }
    }

    fn fresh(value: Vec<u8>) -> Option<Vec<u8>> {
        let (expiry, rest) = value.split_first_chunk::<8>()?;
        (u64::from_be_bytes(*expiry) > now_secs()).then(|| rest.to_vec())
    }
}

impl StoresServerSessions for Expiring {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        let expiry = now_secs() + self.timeout.as_secs();
        let mut stored = Vec::with_capacity(8 + value.len());
        stored.extend_from_slice(&expiry.to_be_bytes());
        stored.extend_from_slice(&value);
        self.inner.put(key, stored)
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.inner.get(key).and_then(Self::fresh)
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.inner.take(key).and_then(Self::fresh)
    }

    fn can_cache(&self) -> bool {
        true
    }
}

/// The zone tag of `ssl_session_cache shared:` zones.
const SHARED_TAG: u64 = 3;
/// The largest session a shared-cache entry holds (rustls's sessions without client
/// certificates take about 100 bytes; a larger one is simply not cached).
const SHARED_VALUE_MAX: usize = 928;

/// One cached session in the shared zone.
#[repr(C)]
#[derive(Clone, Copy)]
struct SharedEntry {
    expiry: u64,
    len: u64,
    data: [u8; SHARED_VALUE_MAX],
}

// SAFETY: integers and bytes only, valid for any bit pattern.
unsafe impl crate::shm::Pod for SharedEntry {}

/// Lays out an empty session table in a freshly mapped zone.
pub fn format_zone(seg: &crate::shm::Segment) -> std::io::Result<()> {
    crate::shm::Table::<SharedEntry>::format(seg, SHARED_TAG).map(|_| ())
}

/// `ssl_session_cache shared:NAME:SIZE`: sessions in a shared-memory zone every worker
/// sees (and that a reload keeps, as the master keeps an unchanged zone). The zone is
/// attached once the master has mapped it; until then (`-t`) nothing is cached. When full,
/// the least recently used session makes room, as nginx's cache does.
#[derive(Debug)]
pub struct Shared {
    /// The zone's name.
    pub name: String,
    zone: std::sync::OnceLock<crate::shm::SegmentHandle>,
    timeout: Duration,
}

impl Shared {
    /// A store for zone `name`, not yet attached.
    pub fn new(name: &str, timeout: Duration) -> Shared {
        Shared {
            name: name.to_string(),
            zone: std::sync::OnceLock::new(),
            timeout,
        }
    }

    /// Attaches the mapped zone.
    pub fn attach(&self, segment: std::rc::Rc<crate::shm::Segment>) {
        let _ = self.zone.set(crate::shm::SegmentHandle::new(segment));
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut crate::shm::Guard<'_, SharedEntry>) -> Option<T>,
    ) -> Option<T> {
        let seg = self.zone.get()?.segment();
        let table = crate::shm::Table::<SharedEntry>::open(seg, SHARED_TAG)?;
        let mut guard = table.lock().ok()?;
        f(&mut guard)
    }

    fn lookup(&self, key: &[u8], take: bool) -> Option<Vec<u8>> {
        let now = now_secs();
        self.with(|g| {
            let node = g.find(key)?;
            let entry = *g.value(node);
            if take || entry.expiry <= now {
                g.remove(node);
            }
            let len = usize::try_from(entry.len).ok()?.min(SHARED_VALUE_MAX);
            (entry.expiry > now).then(|| entry.data[..len].to_vec())
        })
    }
}

impl StoresServerSessions for Shared {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        if value.len() > SHARED_VALUE_MAX {
            return false;
        }
        let mut entry = SharedEntry {
            expiry: now_secs() + self.timeout.as_secs(),
            len: value.len() as u64,
            data: [0; SHARED_VALUE_MAX],
        };
        entry.data[..value.len()].copy_from_slice(&value);
        self.with(|g| {
            if let Some(old) = g.find(&key) {
                g.remove(old);
            }
            // Full: the least recently used sessions make room (at most a few tries).
            for _ in 0..4 {
                if g.insert(&key, entry).is_some() {
                    return Some(true);
                }
                let oldest = g.oldest()?;
                g.remove(oldest);
            }
            Some(false)
        })
        .unwrap_or(false)
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.lookup(key, false)
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.lookup(key, true)
    }

    fn can_cache(&self) -> bool {
        true
    }
}
