//! `ssl_ocsp`: the OCSP checks of a client's certificates, as nginx's client side of
//! `ngx_event_openssl_stapling.c` (`ngx_ssl_ocsp_validate`, `_validate_next`, `_handler`,
//! `_get_status`). Once the chain has verified, each certificate of it but the last (only
//! the leaf with `leaf`) is asked about, in order, with the responder of
//! `ssl_ocsp_responder` or the certificate's authorityInfoAccess; a certificate found
//! good goes on to the next, anything else ends the checks. Results are kept in the
//! `ssl_ocsp_cache` zone, when there is one, until the response's nextUpdate (an hour
//! without one).
//!
//! This module holds what is decided ([`Validation`]: which certificate next, the cache,
//! the response's checks); the connection holds the request to the responder
//! (`worker/conn/cert_status.rs`).

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use super::ocsp::{self, CertId, CertStatus, Trust};

/// `ssl_ocsp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OcspMode {
    /// No checks (the default).
    Off,
    /// Every certificate of the chain but the root.
    On,
    /// The client's own certificate only.
    Leaf,
}

/// The zone tag of `ssl_ocsp_cache` zones.
const CACHE_TAG: u64 = 6;
/// How long a result without nextUpdate is cached (nginx: an hour).
const NO_NEXT_UPDATE_TTL: i64 = 3600;

/// One cached result.
#[repr(C)]
#[derive(Clone, Copy)]
struct CacheEntry {
    /// Seconds since the epoch until which it holds.
    valid: i64,
    /// 0 good, 1 revoked, 2 unknown.
    status: u64,
}

// SAFETY: integers only, valid for any bit pattern.
unsafe impl crate::shm::Pod for CacheEntry {}

/// Lays out an empty `ssl_ocsp_cache` zone (the master, before the fork).
pub fn format_zone(seg: &crate::shm::Segment) -> std::io::Result<()> {
    crate::shm::Table::<CacheEntry>::format(seg, CACHE_TAG).map(|_| ())
}

/// An OCSP responder's address: from `ssl_ocsp_responder` (resolved at load, as
/// `ngx_parse_url` does) or a certificate's authorityInfoAccess (an address as it is, a
/// name only through `resolver`).
#[derive(Clone, Debug)]
pub struct Responder {
    /// Host as written (`Host` header, the log's `responder:`).
    pub host: String,
    /// Port (80 by default).
    pub port: u16,
    /// URI (`/` by default).
    pub uri: String,
    /// Addresses known now (empty: a name to resolve).
    pub addrs: Vec<SocketAddr>,
}

/// A server's `ssl_ocsp` settings.
#[derive(Debug)]
pub struct ClientOcsp {
    /// `ssl_ocsp leaf`.
    pub leaf_only: bool,
    /// `ssl_ocsp_responder`.
    pub responder: Option<Responder>,
    /// `ssl_ocsp_cache shared:NAME:SIZE`: the zone's name, and the zone once mapped.
    pub cache_name: Option<String>,
    cache: std::sync::OnceLock<crate::shm::SegmentHandle>,
}

impl ClientOcsp {
    /// The settings of `ssl_ocsp`, `ssl_ocsp_responder` (`""`: none) and `ssl_ocsp_cache`
    /// (`""`: `off`); `Err` is nginx's message.
    pub fn new(mode: OcspMode, responder: &str, cache: &str) -> Result<ClientOcsp, String> {
        let responder = if responder.is_empty() {
            None
        } else {
            let rest = strip_http(responder).ok_or_else(|| {
                format!(
                    "invalid URL prefix in OCSP responder \"{responder}\" in \"ssl_ocsp_responder\""
                )
            })?;
            let (host, port, uri) = super::stapling::parse_url(rest).map_err(|e| {
                format!("{e} in OCSP responder \"{rest}\" in \"ssl_ocsp_responder\"")
            })?;
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let addrs = match bare.parse::<IpAddr>() {
                Ok(ip) => vec![SocketAddr::new(ip, port)],
                Err(_) => match (bare, port).to_socket_addrs() {
                    Ok(a) => a.collect(),
                    Err(_) => Vec::new(),
                },
            };
            if addrs.is_empty() {
                return Err(format!(
                    "host not found in OCSP responder \"{rest}\" in \"ssl_ocsp_responder\""
                ));
            }
            Some(Responder {
                host,
                port,
                uri,
                addrs,
            })
        };
        Ok(ClientOcsp {
            leaf_only: mode == OcspMode::Leaf,
            responder,
            cache_name: (!cache.is_empty()).then(|| cache.to_string()),
            cache: std::sync::OnceLock::new(),
        })
    }

    /// Attaches the mapped `ssl_ocsp_cache` zone.
    pub fn attach(&self, segment: std::rc::Rc<crate::shm::Segment>) {
        let _ = self.cache.set(crate::shm::SegmentHandle::new(segment));
    }

    fn with_cache<T>(
        &self,
        f: impl FnOnce(&mut crate::shm::Guard<'_, CacheEntry>) -> Option<T>,
    ) -> Option<T> {
        let seg = self.cache.get()?.segment();
        let table = crate::shm::Table::<CacheEntry>::open(seg, CACHE_TAG)?;
        let mut guard = table.lock().ok()?;
        f(&mut guard)
    }

    /// `ngx_ssl_ocsp_cache_lookup`: a result still valid at `now`; an expired one is
    /// dropped.
    fn lookup(&self, key: &[u8], now: i64) -> Option<CertStatus> {
        self.with_cache(|g| {
            let node = g.find(key)?;
            let entry = *g.value(node);
            if entry.valid <= now {
                g.remove(node);
                return None;
            }
            Some(match entry.status {
                0 => CertStatus::Good,
                1 => CertStatus::Revoked,
                _ => CertStatus::Unknown,
            })
        })
    }

    /// `ngx_ssl_ocsp_cache_store`: a result valid until `valid` (`i64::MAX`: no
    /// nextUpdate). When the zone is full the least recently used results make room.
    fn store(&self, key: &[u8], status: CertStatus, valid: i64, now: i64) {
        if valid < now {
            return;
        }
        let valid = if valid == i64::MAX {
            now + NO_NEXT_UPDATE_TTL
        } else {
            valid
        };
        let entry = CacheEntry {
            valid,
            status: match status {
                CertStatus::Good => 0,
                CertStatus::Revoked => 1,
                CertStatus::Unknown => 2,
            },
        };
        let stored = self.with_cache(|g| {
            if let Some(old) = g.find(key) {
                g.remove(old);
            }
            for _ in 0..4 {
                if g.insert(key, entry).is_some() {
                    return Some(true);
                }
                let oldest = g.oldest()?;
                g.remove(oldest);
            }
            Some(false)
        });
        if stored == Some(false) {
            crate::elog!(
                crate::log::LogLevel::Alert,
                "could not allocate new entry in OCSP cache \"{}\"",
                self.cache_name.as_deref().unwrap_or("")
            );
        }
    }
}

/// `http://` stripped (case-insensitively) from a URL longer than it.
fn strip_http(url: &str) -> Option<&str> {
    match url.get(..7) {
        Some(p) if url.len() > 7 && p.eq_ignore_ascii_case("http://") => Some(&url[7..]),
        _ => None,
    }
}

/// How the checks of a connection ended (`ngx_ssl_ocsp_get_status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OcspOutcome {
    /// Every certificate asked about is good.
    Good,
    /// A certificate is revoked.
    Revoked,
    /// A responder does not know a certificate.
    Unknown,
    /// A status could not be had (no responder, the request or the response failed).
    Failed,
}

impl OcspOutcome {
    /// The reason `$ssl_client_verify` gives after `FAILED:`; `None` when good.
    pub fn reason(self) -> Option<&'static str> {
        match self {
            OcspOutcome::Good => None,
            OcspOutcome::Revoked => Some("certificate revoked"),
            OcspOutcome::Unknown => Some("certificate status unknown"),
            OcspOutcome::Failed => Some("certificate status request failed"),
        }
    }
}

impl From<CertStatus> for OcspOutcome {
    fn from(s: CertStatus) -> OcspOutcome {
        match s {
            CertStatus::Good => OcspOutcome::Good,
            CertStatus::Revoked => OcspOutcome::Revoked,
            CertStatus::Unknown => OcspOutcome::Unknown,
        }
    }
}

/// One certificate's question to a responder.
#[derive(Debug)]
pub struct Query {
    /// Where to ask.
    pub responder: Responder,
    /// The HTTP request (`GET URI/BASE64 HTTP/1.0`).
    pub request: Vec<u8>,
    /// Which certificate of the chain.
    cert: usize,
    id: CertId,
}

/// What the checks do next.
#[derive(Debug)]
pub enum Next {
    /// They are over.
    Done(OcspOutcome),
    /// Ask a responder (the error log's line for a failure to even ask comes with
    /// [`Next::Done`] through [`Validation::next`]'s `Err`).
    Ask(Box<Query>),
}

/// The checks of one connection's chain.
#[derive(Debug)]
pub struct Validation {
    /// The verified chain, leaf first, root last.
    chain: Vec<Vec<u8>>,
    /// The next certificate to check (nginx's `ncert`).
    next: usize,
}

impl Validation {
    /// Checks of the verified `chain` (leaf first).
    pub fn new(chain: Vec<Vec<u8>>) -> Validation {
        Validation { chain, next: 0 }
    }

    /// `ngx_ssl_ocsp_validate_next`: results found in the cache are taken as they come;
    /// the first certificate without one is asked about. `Err`: the checks failed before
    /// a request could be made (the error log's message).
    pub fn next(&mut self, conf: &ClientOcsp, now: i64) -> Result<Next, String> {
        loop {
            let n = self.chain.len();
            if self.next + 1 >= n || (conf.leaf_only && self.next == 1) {
                return Ok(Next::Done(OcspOutcome::Good));
            }
            let i = self.next;
            let (cert, issuer) = (&self.chain[i], &self.chain[i + 1]);
            let responder = match &conf.responder {
                Some(r) => r.clone(),
                None => aia_responder(cert)?,
            };
            self.next += 1;
            let id =
                CertId::new(cert, issuer).ok_or_else(|| "OCSP_cert_to_id() failed".to_string())?;
            if let Some(key) = id.cache_key()
                && let Some(status) = conf.lookup(&key, now)
            {
                if status != CertStatus::Good {
                    return Ok(Next::Done(status.into()));
                }
                continue;
            }
            let request = ocsp::http_request(&responder.uri, &responder.host, &id.request());
            return Ok(Next::Ask(Box::new(Query {
                responder,
                request,
                cert: i,
                id,
            })));
        }
    }

    /// `ngx_ssl_ocsp_verify` of a response body to `q` (the responder answered 200), then
    /// `ngx_ssl_ocsp_cache_store`: the certificate's status, or the error log's message.
    pub fn judge(
        &self,
        conf: &ClientOcsp,
        q: &Query,
        body: &[u8],
        now: i64,
    ) -> Result<CertStatus, String> {
        let issuer = self.chain.get(q.cert + 1).map_or(&[][..], Vec::as_slice);
        let algs = super::provider().signature_verification_algorithms.all;
        let t = Trust {
            id: &q.id,
            issuer,
            chain: &self.chain,
            trusted: &self.chain,
            verify: true,
            trust_other: false,
            algs,
        };
        let checked = ocsp::check(body, &t, now)?;
        if let Some(key) = q.id.cache_key() {
            conf.store(&key, checked.status, checked.valid, now);
        }
        Ok(checked.status)
    }
}

/// `ngx_ssl_ocsp_responder`: the responder of the certificate's authorityInfoAccess, a
/// name left to the resolver (`u.no_resolve`).
fn aia_responder(cert: &[u8]) -> Result<Responder, String> {
    let url = ocsp::responder_url(cert)
        .ok_or_else(|| "no OCSP responder URL in certificate".to_string())?;
    let rest = strip_http(&url)
        .ok_or_else(|| format!("invalid URL prefix in OCSP responder \"{url}\" in certificate"))?;
    let (host, port, uri) = super::stapling::parse_url(rest)
        .map_err(|e| format!("{e} in OCSP responder \"{rest}\" in certificate"))?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => Vec::new(),
    };
    Ok(Responder {
        host,
        port,
        uri,
        addrs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responder_setting() {
        let c = ClientOcsp::new(OcspMode::On, "http://127.0.0.1:8081/test", "").unwrap();
        let r = c.responder.unwrap();
        assert_eq!(
            (r.host.as_str(), r.port, r.uri.as_str()),
            ("127.0.0.1", 8081, "/test")
        );
        assert_eq!(r.addrs.len(), 1);
        assert_eq!(
            ClientOcsp::new(OcspMode::On, "https://x/", "").unwrap_err(),
            "invalid URL prefix in OCSP responder \"https://x/\" in \"ssl_ocsp_responder\""
        );
        assert!(ClientOcsp::new(OcspMode::Leaf, "", "c").unwrap().leaf_only);
    }

    #[test]
    fn the_cache_keeps_results_until_they_expire() {
        let conf = ClientOcsp::new(OcspMode::On, "", "OCSP").unwrap();
        let key = [7u8; 60];
        // Not attached (`-t`): nothing is cached.
        conf.store(&key, CertStatus::Good, 2000, 1000);
        assert_eq!(conf.lookup(&key, 1000), None);
        let seg = crate::shm::Segment::map(64 * 1024).unwrap();
        format_zone(&seg).unwrap();
        conf.attach(std::rc::Rc::new(seg));
        conf.store(&key, CertStatus::Revoked, 2000, 1000);
        assert_eq!(conf.lookup(&key, 1999), Some(CertStatus::Revoked));
        assert_eq!(conf.lookup(&[8u8; 60], 1000), None);
        // Expired: dropped.
        assert_eq!(conf.lookup(&key, 2000), None);
        conf.store(&key, CertStatus::Good, 2000, 1000);
        assert_eq!(conf.lookup(&key, 1000), Some(CertStatus::Good));
        // No nextUpdate: an hour.
        conf.store(&key, CertStatus::Unknown, i64::MAX, 1000);
        assert_eq!(conf.lookup(&key, 4599), Some(CertStatus::Unknown));
        assert_eq!(conf.lookup(&key, 4600), None);
        // Already expired: not stored.
        conf.store(&key, CertStatus::Good, 999, 1000);
        assert_eq!(conf.lookup(&key, 1000), None);
    }

    #[test]
    fn short_chains_need_no_check() {
        let conf = ClientOcsp::new(OcspMode::On, "", "").unwrap();
        let mut v = Validation::new(vec![b"root".to_vec()]);
        assert!(matches!(
            v.next(&conf, 0),
            Ok(Next::Done(OcspOutcome::Good))
        ));
        let mut v = Validation::new(Vec::new());
        assert!(matches!(
            v.next(&conf, 0),
            Ok(Next::Done(OcspOutcome::Good))
        ));
    }
}
