//! TLS termination on rustls (issue 15): what the `ssl_*` directives build, once per server
//! at config load in the master (so every worker inherits the same certificates and session
//! ticket keys through the fork), and the transport a client connection reads and writes
//! through (`transport.rs`).
//!
//! - `settings.rs`: the merged `ssl_*` values of a server and [`build`], which turns them into
//!   a rustls `ServerConfig` or nginx's kind of error.
//! - `certs.rs`: PEM certificates and keys (files or `data:`), several pairs per server
//!   chosen by what the client's hello offers.
//! - `ciphers.rs`: `ssl_protocols`, `ssl_ciphers` (OpenSSL cipher strings mapped onto the
//!   suites rustls has), `ssl_ecdh_curve`.
//! - `tickets.rs`: session tickets under keys every worker shares (`ssl_session_ticket_key`).
//! - `hkdf.rs`: the TLS 1.3 key schedule's HKDF on HMAC keys prepared once.
//! - `session.rs`: the `builtin` session cache with `ssl_session_timeout`.
//! - `transport.rs`: ciphertext from the socket → rustls → plaintext for the connection, and
//!   everything the writer emits encrypted on its way out.
//! - `ktls.rs`: kernel TLS — the session's keys handed to the kernel so `sendfile` works
//!   (`ssl_conf_command Options KTLS`).
//! - `client_ocsp.rs`: `ssl_ocsp`, the OCSP checks of a client's chain (the request to
//!   the responder runs in the connection, `worker/conn/cert_status.rs`).
//! - `client.rs`, `cert_names.rs`: TLS towards upstreams (`proxy_pass https://`): the
//!   `proxy_ssl_*` client configuration and nginx's verification of upstream certificates.
//!
//! The crypto provider is aws-lc-rs: measured against ring on this code's handshake loop it
//! did RSA-2048 full handshakes in about 0.65× ring's server CPU time and ECDSA P-256 ones in
//! about 0.85× (README, "TLS").

mod cert_names;
mod certs;
mod chain;
mod ciphers;
mod client;
mod client_auth;
mod client_ocsp;
mod crl;
mod dn;
mod encrypted_key;
mod hkdf;
pub mod ktls;
mod ocsp;
mod offer;
mod session;
mod settings;
pub mod stapling;
mod tickets;
mod transport;
mod x509;

use std::sync::Arc;

pub use ciphers::{Protocols, parse_protocol};
pub use client::{UpstreamSslSettings, UpstreamTls, build_client, upstream_error};
pub use client_auth::{
    ClientTrust, Verified, VerifyClient, error_optional, fingerprint, pem, pem_escaped, pem_tabbed,
    serial,
};
pub use client_ocsp::{
    ClientOcsp, Next as OcspNext, OcspMode, OcspOutcome, Query as OcspQuery, Validation,
};
pub use encrypted_key::read_password_file;
pub use offer::Offered;
pub use settings::{DEFAULT_BUILTIN_CACHE_SIZE, SessionCache, SslSettings, build};
pub use transport::{Hello, Session, TlsVars, is_tls_error};

/// A field of the client's certificate that a `$ssl_client_*` variable prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertField {
    /// `$ssl_client_s_dn` (RFC 2253).
    SubjectDn,
    /// `$ssl_client_i_dn` (RFC 2253).
    IssuerDn,
    /// `$ssl_client_s_dn_legacy` (`/CN=...`).
    SubjectDnLegacy,
    /// `$ssl_client_i_dn_legacy`.
    IssuerDnLegacy,
    /// `$ssl_client_v_start`.
    ValidFrom,
    /// `$ssl_client_v_end`.
    ValidUntil,
    /// `$ssl_client_v_remain` (days).
    DaysLeft,
}

/// Appends `field` of the certificate `leaf` (DER) as nginx prints it; `now`: seconds since
/// the epoch. Nothing where the certificate cannot be read.
pub fn write_cert_field(field: CertField, leaf: &[u8], now: i64, out: &mut Vec<u8>) {
    let Some(f) = x509::fields(leaf) else {
        return;
    };
    match field {
        CertField::SubjectDn => dn::rfc2253(f.subject, out),
        CertField::IssuerDn => dn::rfc2253(f.issuer, out),
        CertField::SubjectDnLegacy => dn::legacy(f.subject, out),
        CertField::IssuerDnLegacy => dn::legacy(f.issuer, out),
        CertField::ValidFrom | CertField::ValidUntil | CertField::DaysLeft => {
            let Some((start, end)) = dn::validity(f.validity) else {
                return;
            };
            match field {
                CertField::ValidFrom => dn::asn1_time_print(start, out),
                CertField::ValidUntil => dn::asn1_time_print(end, out),
                _ => dn::days_left(end, now, out),
            }
        }
    }
}

/// The crypto provider every TLS object is built with: aws-lc-rs, its TLS 1.3 suites on
/// HKDF with prepared HMAC keys (`hkdf.rs`).
pub fn provider() -> rustls::crypto::CryptoProvider {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider.cipher_suites = hkdf::with_prepared_hkdf(&provider.cipher_suites);
    provider
}

/// What a server block's `ssl_*` directives built: what a handshake that selects the
/// server (by SNI, or as its address's default) uses.
#[derive(Debug)]
pub struct ServerTls {
    /// The rustls configuration: certificates, protocols, suites, sessions, tickets.
    /// (An `Arc` because rustls takes one; built once in the master, never shared between
    /// threads.)
    pub config: Option<Arc<rustls::ServerConfig>>,
    /// The same, offering `h2` first in ALPN (for a listener with HTTP/2 on).
    pub config_h2: Option<Arc<rustls::ServerConfig>>,
    /// `ssl_reject_handshake on`: a hello that selects this server gets a fatal
    /// `unrecognized_name` alert.
    pub reject_handshake: bool,
    /// The `ssl_session_cache shared:` store, attached to its zone by the master.
    pub shared_cache: Option<Arc<session::Shared>>,
    /// `ssl_verify_client` other than `off`: what client chains are judged against.
    pub client_trust: Option<ClientTrust>,
    /// `ssl_conf_command Options KTLS`: a connection's session may move into the kernel
    /// when a file goes out with `sendfile on` (`ktls.rs`).
    pub ktls: bool,
    /// The certificates whose OCSP responses the workers fetch (`ssl_stapling` without
    /// `ssl_stapling_file`).
    pub staplings: Vec<Arc<stapling::Stapling>>,
    /// `ssl_ocsp` on or `leaf`: the client's chain is checked with OCSP before its request.
    pub ocsp: Option<ClientOcsp>,
}

/// Lays out an empty `ssl_session_cache shared:` zone (the master, before the fork).
pub fn format_session_zone(seg: &crate::shm::Segment) -> std::io::Result<()> {
    session::format_zone(seg)
}

/// Lays out an empty `ssl_ocsp_cache` zone (the master, before the fork).
pub fn format_ocsp_zone(seg: &crate::shm::Segment) -> std::io::Result<()> {
    client_ocsp::format_zone(seg)
}

/// Attaches each server's shared session cache and OCSP cache to their mapped zones (the
/// master, once the zones of a configuration are mapped).
pub fn attach_zones(http: &crate::config::HttpConf) {
    let segment = |name: &str| {
        http.zones
            .iter()
            .find(|z| z.name == name)
            .and_then(|z| z.segment.clone())
    };
    for tls in http.servers.iter().filter_map(|s| s.tls.as_ref()) {
        if let Some(ocsp) = tls.ocsp.as_ref()
            && let Some(seg) = ocsp.cache_name.as_deref().and_then(segment)
        {
            ocsp.attach(seg);
        }
        let Some(cache) = tls.shared_cache.as_ref() else {
            continue;
        };
        if let Some(seg) = http
            .zones
            .iter()
            .find(|z| z.name == cache.name)
            .and_then(|z| z.segment.clone())
        {
            cache.attach(seg);
        }
    }
}

impl ServerTls {
    /// The configuration a handshake uses (`h2`: the listener offers HTTP/2 by ALPN),
    /// unless the server rejects handshakes.
    pub fn accepting(&self, h2: bool) -> Option<&Arc<rustls::ServerConfig>> {
        match (self.reject_handshake, h2) {
            (true, _) => None,
            (false, true) => self.config_h2.as_ref(),
            (false, false) => self.config.as_ref(),
        }
    }
}
