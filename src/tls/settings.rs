//! A server block's merged `ssl_*` values and [`build`], which makes the rustls
//! configuration from them (certificates read, suites and curves chosen) or fails with
//! nginx's kind of message.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::ServerTls;
use super::certs::{self, ByOffer};
use super::ciphers::{self, Protocols};

/// `ssl_session_cache`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionCache {
    /// `off`: no session is resumed from a cache.
    Off,
    /// `none` (the default): nothing is stored (nginx only tells clients sessions could be
    /// reused; without a store no session is).
    None,
    /// `builtin[:SIZE]`: each worker's own cache of SIZE sessions.
    Builtin(usize),
    /// `shared:NAME:SIZE`: a shared-memory zone every worker uses (with `builtin` beside it,
    /// the shared cache alone serves).
    Shared(String),
}

/// nginx's `builtin` cache size when none is given (sessions).
pub const DEFAULT_BUILTIN_CACHE_SIZE: usize = 20480;

/// ALPN protocols of an HTTP/1 listener, as nginx 1.22 offers them.
const ALPN_HTTP1: &[&[u8]] = &[b"http/1.1", b"http/1.0", b"http/0.9"];

/// The `ssl_*` values of one server, merged with the http block's.
pub struct SslSettings<'a> {
    /// The conf prefix (relative certificate paths resolve against it, as in nginx).
    pub conf_prefix: &'a Path,
    /// `ssl_certificate` values in order.
    pub certificates: &'a [String],
    /// `ssl_certificate_key` values in order.
    pub certificate_keys: &'a [String],
    /// `ssl_protocols`.
    pub protocols: Protocols,
    /// `ssl_ciphers`.
    pub ciphers: &'a str,
    /// `ssl_prefer_server_ciphers`.
    pub prefer_server_ciphers: bool,
    /// `ssl_ecdh_curve`.
    pub ecdh_curve: &'a str,
    /// `ssl_session_cache`.
    pub session_cache: SessionCache,
    /// `ssl_session_timeout`.
    pub session_timeout: Duration,
    /// `ssl_session_tickets`.
    pub session_tickets: bool,
    /// `ssl_session_ticket_key` files in order.
    pub ticket_keys: &'a [String],
    /// `ssl_buffer_size`.
    pub buffer_size: usize,
    /// `ssl_reject_handshake`.
    pub reject_handshake: bool,
    /// `ssl_verify_client`.
    pub verify_client: super::VerifyClient,
    /// `ssl_client_certificate` (empty: none).
    pub client_certificate: &'a str,
    /// `ssl_trusted_certificate` (empty: none).
    pub trusted_certificate: &'a str,
    /// `ssl_crl` (empty: none).
    pub crl: &'a str,
    /// `ssl_verify_depth`.
    pub verify_depth: u64,
    // ---- tls3: encrypted keys, stapling, early data ----
    /// `ssl_password_file`'s passwords in the file's order (empty: no file).
    pub passwords: &'a [Vec<u8>],
    /// `ssl_stapling`.
    pub stapling: bool,
    /// `ssl_stapling_file` (empty: none).
    pub stapling_file: &'a str,
    /// `ssl_stapling_responder` (empty: the certificate's).
    pub stapling_responder: &'a str,
    /// `ssl_stapling_verify`.
    pub stapling_verify: bool,
    /// `ssl_early_data`.
    pub early_data: bool,
    // ---- ocsp3 ----
    /// `ssl_ocsp`.
    pub ocsp: super::OcspMode,
    /// `ssl_ocsp_responder` (empty: each certificate's).
    pub ocsp_responder: &'a str,
    /// `ssl_ocsp_cache`'s zone (empty: `off`).
    pub ocsp_cache: &'a str,
}

/// The most 0-RTT bytes accepted (nginx's `SSL_CTX_set_max_early_data(NGX_SSL_BUFSIZE)`).
const MAX_EARLY_DATA: u32 = 16384;

/// The smallest TLS record payload rustls allows.
const MIN_RECORD: usize = 32;
/// A TLS record's header, which rustls's `max_fragment_size` counts.
const RECORD_HEADER: usize = 5;
/// The largest record payload.
const MAX_RECORD: usize = 16384;

/// Builds the server's TLS configuration. `warnings`: what is accepted but cannot be
/// honoured exactly, each with its reason.
pub fn build(s: &SslSettings<'_>, warnings: &mut Vec<String>) -> Result<ServerTls, String> {
    if s.certificates.is_empty() {
        // nginx checks a server's verification settings only where it has certificates;
        // a request that Host sends to it is still judged by its `ssl_verify_client`.
        let client_trust = client_trust(s, false)?.0;
        return Ok(ServerTls {
            config: None,
            config_h2: None,
            reject_handshake: s.reject_handshake,
            shared_cache: None,
            client_trust,
            ktls: false,
            staplings: Vec::new(),
            ocsp: None,
        });
    }
    let (client_trust, verifier) = client_trust(s, true)?;
    // nginx's ngx_http_ssl_merge_srv_conf, after the CAs and CRLs are read.
    let ocsp = match s.ocsp {
        super::OcspMode::Off => None,
        _ if s.verify_client == super::VerifyClient::OptionalNoCa => {
            return Err(
                "\"ssl_ocsp\" is incompatible with \"ssl_verify_client optional_no_ca\""
                    .to_string(),
            );
        }
        mode => Some(super::ClientOcsp::new(
            mode,
            s.ocsp_responder,
            s.ocsp_cache,
        )?),
    };
    let staple = stapled_response(s)?;
    let fetch = (s.stapling && s.stapling_file.is_empty()).then(|| -> Result<_, String> {
        // The context's store, as nginx fills it before `ngx_ssl_stapling`: the
        // `ssl_client_certificate` CAs (when clients are verified) and
        // `ssl_trusted_certificate`.
        let mut trusted = Vec::new();
        if s.verify_client != super::VerifyClient::Off && !s.client_certificate.is_empty() {
            let v = s.client_certificate;
            trusted = certs::load_certs(v, &s.conf_prefix.join(v))?;
        }
        if !s.trusted_certificate.is_empty() {
            let v = s.trusted_certificate;
            trusted.extend(certs::load_certs(v, &s.conf_prefix.join(v))?);
        }
        Ok(super::stapling::Setup {
            responder: s.stapling_responder,
            verify: s.stapling_verify,
            trusted: Arc::new(trusted.iter().map(|c| c.as_ref().to_vec()).collect()),
        })
    });
    let fetch = fetch.transpose()?;
    let mut staplings = Vec::new();
    let mut pairs = Vec::new();
    for (i, cert) in s.certificates.iter().enumerate() {
        let Some(key) = s.certificate_keys.get(i) else {
            return Err(format!(
                "no \"ssl_certificate_key\" is defined for certificate \"{cert}\""
            ));
        };
        if cert.contains('$') || key.contains('$') {
            return Err(format!(
                "variables in \"ssl_certificate\" and \"ssl_certificate_key\" (\"{cert}\") are \
                 not supported yet: certificates are loaded once at startup"
            ));
        }
        let chain = certs::load_certs(cert, &s.conf_prefix.join(cert))?;
        let pkey = certs::load_key(key, &s.conf_prefix.join(key), s.passwords)?;
        let mut pair = certs::certified_key(chain, pkey, cert, key)?;
        if let (Some(ocsp), Some(ck)) = (&staple, Arc::get_mut(&mut pair)) {
            ck.ocsp = Some(ocsp.clone());
        }
        let stapling = fetch
            .as_ref()
            .and_then(|f| super::stapling::setup(f, cert, &pair, warnings));
        staplings.extend(stapling.clone());
        pairs.push((pair, stapling));
    }
    let mut provider = super::provider();
    let (tls12, missing) = ciphers::select(s.ciphers, &provider.cipher_suites)?;
    if !missing.is_empty() {
        warnings.push(format!(
            "\"ssl_ciphers\" names ciphers rustls does not have (it has only AEAD suites with \
             ECDHE): {}; they are not enabled",
            missing.join(":")
        ));
    }
    let tls13: Vec<_> = provider
        .cipher_suites
        .iter()
        .filter(|c| matches!(c, rustls::SupportedCipherSuite::Tls13(_)))
        .copied()
        .collect();
    provider.cipher_suites = tls13.into_iter().chain(tls12).collect();
    provider.kx_groups = ciphers::curves(s.ecdh_curve, &provider.kx_groups)?;
    let versions = ciphers::versions(s.protocols)?;
    let builder = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&versions)
        .map_err(|e| format!("SSL_CTX_new() failed ({e})"))?;
    let builder = match verifier {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(Arc::new(ByOffer(pairs)));
    config.ignore_client_order = s.prefer_server_ciphers;
    // kTLS (`ktls.rs`): the traffic secrets may be handed to the kernel for `sendfile`.
    config.enable_secret_extraction = true;
    config.max_fragment_size = Some(s.buffer_size.clamp(MIN_RECORD, MAX_RECORD) + RECORD_HEADER);
    let mut shared_cache = None;
    config.session_storage = match &s.session_cache {
        SessionCache::Off | SessionCache::None => {
            Arc::new(rustls::server::NoServerSessionStorage {})
        }
        SessionCache::Builtin(n) => Arc::new(super::session::Expiring::new(*n, s.session_timeout)),
        SessionCache::Shared(name) => {
            let store = Arc::new(super::session::Shared::new(name, s.session_timeout));
            shared_cache = Some(store.clone());
            store
        }
    };
    let lifetime = u32::try_from(s.session_timeout.as_secs()).unwrap_or(u32::MAX);
    // rustls accepts 0-RTT only on a session it keeps itself (a stateful TLS 1.3 ticket,
    // single-use, which also stops a replay of the same early data): with early data the
    // session cache resumes every session and no stateless ticket is issued.
    let stateless_tickets = s.session_tickets && !s.early_data;
    if s.early_data {
        if matches!(s.session_cache, SessionCache::Off | SessionCache::None) {
            return Err(
                "\"ssl_early_data on\" needs \"ssl_session_cache\" (builtin or shared): \
                 rustls accepts early data only on sessions kept in the server's cache"
                    .to_string(),
            );
        }
        config.max_early_data_size = MAX_EARLY_DATA;
        // The answer to a 0-RTT request leaves before the client's Finished, as OpenSSL
        // lets nginx write it; held back, it would be lost when the connection closes
        // after it.
        config.send_half_rtt_data = true;
    }
    if stateless_tickets {
        let mut files = Vec::new();
        for path in s.ticket_keys {
            let full = s.conf_prefix.join(path);
            let bytes = std::fs::read(&full).map_err(|e| {
                format!(
                    "open() \"{}\" failed ({})",
                    full.display(),
                    crate::sys::errno_text(&e)
                )
            })?;
            files.push((full.display().to_string(), bytes));
        }
        config.ticketer = Arc::new(super::tickets::Ticketer::new(&files, lifetime)?);
    } else if matches!(s.session_cache, SessionCache::Off | SessionCache::None) {
        // No tickets and no cache: TLS 1.3 tickets would only be refused later.
        config.send_tls13_tickets = 0;
    }
    config.alpn_protocols = ALPN_HTTP1.iter().map(|p| p.to_vec()).collect();
    let mut h2 = config.clone();
    h2.alpn_protocols.insert(0, b"h2".to_vec());
    Ok(ServerTls {
        config: Some(Arc::new(config)),
        config_h2: Some(Arc::new(h2)),
        reject_handshake: s.reject_handshake,
        shared_cache,
        client_trust,
        ktls: false,
        staplings,
        ocsp,
    })
}

/// `ssl_stapling on` with `ssl_stapling_file`: the DER OCSP response every certificate of
/// the server staples (as nginx staples the file's response, unverified). Without a file
/// the responses are fetched (`stapling.rs`).
fn stapled_response(s: &SslSettings<'_>) -> Result<Option<Vec<u8>>, String> {
    if !s.stapling || s.stapling_file.is_empty() {
        return Ok(None);
    }
    let path = s.conf_prefix.join(s.stapling_file);
    let der = std::fs::read(&path).map_err(|e| {
        format!(
            "BIO_new_file(\"{}\") failed ({})",
            path.display(),
            crate::sys::errno_text(&e)
        )
    })?;
    // An OCSPResponse is one DER SEQUENCE (d2i_OCSP_RESPONSE_bio's first check).
    match super::x509::element(&der) {
        Some((0x30, whole, _, _)) if whole.len() == der.len() => Ok(Some(der)),
        _ => Err(format!(
            "d2i_OCSP_RESPONSE_bio(\"{}\") failed",
            path.display()
        )),
    }
}

/// The CAs and CRLs of client verification, read as nginx reads them (the CAs of
/// `ssl_client_certificate` only with `ssl_verify_client` on; the others always), and the
/// handshake's verifier when client certificates are asked for.
#[allow(clippy::type_complexity)]
fn client_trust(
    s: &SslSettings<'_>,
    checked: bool,
) -> Result<
    (
        Option<super::ClientTrust>,
        Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
    ),
    String,
> {
    use super::VerifyClient;
    let read_certs = |v: &str| -> Result<Vec<_>, String> {
        if v.is_empty() {
            return Ok(Vec::new());
        }
        certs::load_certs(v, &s.conf_prefix.join(v))
    };
    let trusted = read_certs(s.trusted_certificate)?;
    let mut crls = Vec::new();
    if !s.crl.is_empty() {
        crls = certs::load_crls(s.crl, &s.conf_prefix.join(s.crl))?;
    }
    if s.verify_client == VerifyClient::Off {
        return Ok((None, None));
    }
    if checked && s.client_certificate.is_empty() && s.verify_client != VerifyClient::OptionalNoCa {
        return Err("no ssl_client_certificate for ssl_verify_client".to_string());
    }
    let client_cas = read_certs(s.client_certificate)?;
    let depth = usize::try_from(s.verify_depth).unwrap_or(usize::MAX);
    let (trust, verifier) =
        super::ClientTrust::new(s.verify_client, client_cas, trusted, &crls, s.crl, depth)?;
    Ok((Some(trust), Some(verifier)))
}
