//! `ssl_stapling on` without `ssl_stapling_file`: each certificate's OCSP response fetched
//! from its responder (`ngx_event_openssl_stapling.c`). Set up at config load ([`setup`]:
//! the issuer from the chain or `ssl_trusted_certificate`, the responder from
//! `ssl_stapling_responder` or the certificate's authorityInfoAccess, its host resolved
//! then, as `ngx_parse_url` does); the fetch itself runs in each worker's loop
//! (`upstream/stapler.rs`) and its result lands here ([`Stapling::store`]).
//!
//! As in nginx, each worker keeps its own response: the first handshake that selects the
//! certificate starts a fetch, and handshakes staple the response (when the client asks,
//! which rustls checks) while it is valid (until its nextUpdate). A good response is
//! refetched before it expires, at most an hour and at least 5 minutes later; after an
//! error, 5 minutes later.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rustls::sign::CertifiedKey;

pub use super::ocsp::CertStatus;
use super::ocsp::{self, CertId, Checked, Trust};
use super::x509::fields;

/// Set by a handshake whose certificate's response is due: the worker's loop then starts
/// the fetches ([`take_wanted`]).
static WANTED: AtomicBool = AtomicBool::new(false);

/// Whether a handshake asked for a fetch since the last call.
pub fn take_wanted() -> bool {
    WANTED.swap(false, Ordering::Relaxed)
}

/// nginx's `staple->timeout`: the responder's connect, send and read timeout.
pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// One certificate's stapling.
pub struct Stapling {
    /// The certificate's `ssl_certificate` value (the log's `certificate: "..."`).
    pub name: String,
    /// The responder's host (`Host` and the log's `responder: ...`).
    pub host: String,
    /// Its addresses, resolved at load.
    pub addrs: Vec<SocketAddr>,
    /// Its port.
    pub port: u16,
    /// `host` is a name (not an address): each fetch resolves it with the server's
    /// `resolver`, or, without one, says so, as nginx does, and uses the addresses found
    /// at load.
    pub named: bool,
    /// The HTTP request (GET with the OCSP request in its URI).
    pub request: Vec<u8>,
    id: CertId,
    issuer: Vec<u8>,
    chain: Vec<Vec<u8>>,
    trusted: Arc<Vec<Vec<u8>>>,
    verify: bool,
    /// The pair without a staple, and with the current one.
    plain: Arc<CertifiedKey>,
    state: Mutex<State>,
}

impl std::fmt::Debug for Stapling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stapling")
            .field("name", &self.name)
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    staple: Option<Arc<CertifiedKey>>,
    /// A handshake found the response due.
    wanted: bool,
    /// The staple's nextUpdate.
    valid: i64,
    /// When to fetch again.
    refresh: i64,
    loading: bool,
}

impl Stapling {
    /// The pair a handshake at `now` uses: with the response while it is valid. Asks the
    /// worker for a fetch when one is due.
    pub fn current(&self, now: i64) -> Arc<CertifiedKey> {
        let Ok(mut st) = self.state.lock() else {
            return self.plain.clone();
        };
        if !st.loading && st.refresh < now {
            st.wanted = true;
            WANTED.store(true, Ordering::Relaxed);
        }
        match &st.staple {
            Some(ck) if st.valid >= now => ck.clone(),
            _ => self.plain.clone(),
        }
    }

    /// Whether a handshake asked for a fetch that is due at `now`; if so it is marked as
    /// loading.
    pub fn start(&self, now: i64) -> bool {
        let Ok(mut st) = self.state.lock() else {
            return false;
        };
        if !st.wanted || st.loading || st.refresh >= now {
            return false;
        }
        st.wanted = false;
        st.loading = true;
        true
    }

    /// Checks a fetched response (`ngx_ssl_ocsp_verify`).
    pub fn check(&self, der: &[u8], now: i64) -> Result<Checked, String> {
        let algs = super::provider().signature_verification_algorithms.all;
        let t = Trust {
            id: &self.id,
            issuer: &self.issuer,
            chain: &self.chain,
            trusted: &self.trusted,
            verify: self.verify,
            trust_other: true,
            algs,
        };
        ocsp::check(der, &t, now)
    }

    /// A good response, valid until `valid`, fetched at `now`.
    pub fn store(&self, der: Vec<u8>, valid: i64, now: i64) {
        let mut ck = (*self.plain).clone();
        ck.ocsp = Some(der);
        if let Ok(mut st) = self.state.lock() {
            st.staple = Some(Arc::new(ck));
            st.valid = valid;
            st.loading = false;
            st.refresh = (valid.saturating_sub(300)).min(now + 3600).max(now + 300);
        }
    }

    /// A fetch that failed at `now`: the next in 5 minutes (the old response stays while
    /// valid).
    pub fn failed(&self, now: i64) {
        if let Ok(mut st) = self.state.lock() {
            st.loading = false;
            st.refresh = now + 300;
        }
    }
}

/// What the stapling of a server's certificates is set up from.
pub struct Setup<'a> {
    /// `ssl_stapling_responder` (empty: the certificate's).
    pub responder: &'a str,
    /// `ssl_stapling_verify`.
    pub verify: bool,
    /// `ssl_trusted_certificate`'s certificates.
    pub trusted: Arc<Vec<Vec<u8>>>,
}

/// The stapling of one certificate (`chain[0]`), or `None` with nginx's warning where
/// stapling is ignored for it.
pub fn setup(
    s: &Setup<'_>,
    name: &str,
    plain: &Arc<CertifiedKey>,
    warnings: &mut Vec<String>,
) -> Option<Arc<Stapling>> {
    let chain: Vec<Vec<u8>> = plain.cert.iter().map(|c| c.as_ref().to_vec()).collect();
    let leaf = chain.first()?;
    let lf = fields(leaf)?;
    let issued_by = |c: &Vec<u8>| fields(c).is_some_and(|f| f.subject == lf.issuer);
    let issuer = chain
        .iter()
        .skip(1)
        .find(|c| issued_by(c))
        .or_else(|| s.trusted.iter().find(|c| issued_by(c)));
    let Some(issuer) = issuer.cloned() else {
        warnings.push(format!(
            "\"ssl_stapling\" ignored, issuer certificate not found for certificate \"{name}\""
        ));
        return None;
    };
    let url = if s.responder.is_empty() {
        match ocsp::responder_url(leaf) {
            Some(u) => u,
            None => {
                warnings.push(format!(
                    "\"ssl_stapling\" ignored, no OCSP responder URL in the certificate \"{name}\""
                ));
                return None;
            }
        }
    } else {
        s.responder.to_string()
    };
    let rest = match url.get(..7) {
        Some(p) if url.len() > 7 && p.eq_ignore_ascii_case("http://") => &url[7..],
        _ => {
            warnings.push(format!(
                "\"ssl_stapling\" ignored, invalid URL prefix in OCSP responder \"{url}\" in the \
                 certificate \"{name}\""
            ));
            return None;
        }
    };
    let (host, port, uri) = match parse_url(rest) {
        Ok(p) => p,
        Err(e) => {
            warnings.push(format!(
                "\"ssl_stapling\" ignored, {e} in OCSP responder \"{rest}\" in the certificate \
                 \"{name}\""
            ));
            return None;
        }
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let (addrs, named) = match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => (vec![SocketAddr::new(ip, port)], false),
        Err(_) => match (bare, port).to_socket_addrs() {
            Ok(a) => (a.collect::<Vec<_>>(), true),
            Err(_) => (Vec::new(), true),
        },
    };
    if addrs.is_empty() {
        warnings.push(format!(
            "\"ssl_stapling\" ignored, host not found in OCSP responder \"{rest}\" in the \
             certificate \"{name}\""
        ));
        return None;
    }
    let id = CertId::new(leaf, &issuer)?;
    let request = ocsp::http_request(&uri, &host, &id.request());
    Some(Arc::new(Stapling {
        name: name.to_string(),
        host,
        addrs,
        port,
        named,
        request,
        id,
        issuer,
        chain: chain.get(1..).unwrap_or(&[]).to_vec(),
        trusted: s.trusted.clone(),
        verify: s.verify,
        plain: plain.clone(),
        state: Mutex::new(State::default()),
    }))
}

/// `host[:port][/uri]` (after `http://`): host, port (80 by default), URI (`/` by default).
pub(super) fn parse_url(rest: &str) -> Result<(String, u16, String), &'static str> {
    let (hostport, uri) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = if hostport.starts_with('[') {
        match hostport.find(']') {
            Some(i) => match hostport[i + 1..].strip_prefix(':') {
                Some(p) => (&hostport[..=i], Some(p)),
                None if i + 1 == hostport.len() => (hostport, None),
                None => return Err("invalid host"),
            },
            None => return Err("invalid host"),
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err("no host");
    }
    let port = match port {
        None => 80,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err("invalid port"),
        },
    };
    Ok((host.to_string(), port, uri.to_string()))
}

#[cfg(test)]
mod tests {
    use super::parse_url;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("127.0.0.1:8081/"),
            Ok(("127.0.0.1".into(), 8081, "/".into()))
        );
        assert_eq!(
            parse_url("ocsp.example.com"),
            Ok(("ocsp.example.com".into(), 80, "/".into()))
        );
        assert_eq!(
            parse_url("[::1]:99/a/b"),
            Ok(("[::1]".into(), 99, "/a/b".into()))
        );
        assert_eq!(parse_url("h:0/"), Err("invalid port"));
        assert_eq!(parse_url(":80/"), Err("no host"));
    }
}
