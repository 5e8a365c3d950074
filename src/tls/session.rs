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
