//! TLS towards upstreams (`proxy_pass https://`, issue 15 point 3): what a location's
//! `proxy_ssl_*` directives build, once at load in the master — a rustls `ClientConfig`
//! whose session store every connection of the location in one worker shares
//! (`proxy_ssl_session_reuse`; each worker has its own copy after the fork, as nginx's
//! per-worker cached session).
//!
//! Verification follows nginx with OpenSSL rather than rustls's defaults:
//! - `proxy_ssl_verify off` (nginx's default) accepts any certificate (the handshake
//!   signature is still checked against the certificate's key);
//! - `proxy_ssl_verify on` checks the chain against `proxy_ssl_trusted_certificate` (a
//!   trusted certificate presented as it is passes, whatever its CA flag, as OpenSSL finds
//!   it in its store), `proxy_ssl_verify_depth` and `proxy_ssl_crl`, then the name
//!   (`proxy_ssl_name`) against the certificate's DNS names, or its subject CN when it has
//!   none (OpenSSL's `X509_check_host`). A failure carries nginx's log text (see
//!   [`upstream_error`]).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::{certs, ciphers};

/// Sessions a location's store keeps per worker (rustls keys them by server name).
const SESSIONS: usize = 256;
/// Prefix of a verification failure's text (the machine logs it as it is).
const VERIFY_PREFIX: &str = "upstream SSL certificate ";

/// The merged `proxy_ssl_*` values of a location (or `uwsgi_ssl_*`).
#[derive(Debug)]
pub struct UpstreamSslSettings<'a> {
    /// Where relative file names are found.
    pub conf_prefix: &'a std::path::Path,
    /// `*_ssl_protocols`.
    pub protocols: ciphers::Protocols,
    /// `*_ssl_ciphers` (an OpenSSL cipher string).
    pub ciphers: &'a str,
    /// `*_ssl_verify`.
    pub verify: bool,
    /// `*_ssl_verify_depth`.
    pub verify_depth: u64,
    /// `*_ssl_trusted_certificate` (empty: none).
    pub trusted_certificate: &'a str,
    /// `*_ssl_crl` (empty: none).
    pub crl: &'a str,
    /// `*_ssl_certificate` (empty: no client certificate).
    pub certificate: &'a str,
    /// The certificate's path has variables: it is loaded per connection
    /// ([`UpstreamTls::with_certificate`]), not here.
    pub certificate_per_request: bool,
    /// `*_ssl_certificate_key`.
    pub certificate_key: &'a str,
    /// `*_ssl_password_file`: passwords for an encrypted key, in order.
    pub passwords: &'a [Vec<u8>],
    /// `*_ssl_server_name`: send SNI.
    pub server_name: bool,
    /// `*_ssl_session_reuse`.
    pub session_reuse: bool,
}

/// What a location's `proxy_ssl_*` directives built.
#[derive(Debug)]
pub struct UpstreamTls {
    /// The rustls configuration (an `Arc` because rustls takes one).
    pub config: Arc<rustls::ClientConfig>,
}

/// Builds a location's upstream TLS configuration; `Err` is nginx's kind of message.
pub fn build_client(s: &UpstreamSslSettings<'_>) -> Result<UpstreamTls, String> {
    let mut provider = super::provider();
    let (tls12, _missing) = ciphers::select(s.ciphers, &provider.cipher_suites)
        .map_err(|e| format!("SSL_CTX_set_cipher_list(\"{}\") failed ({e})", s.ciphers))?;
    let tls13: Vec<_> = provider
        .cipher_suites
        .iter()
        .filter(|c| matches!(c, rustls::SupportedCipherSuite::Tls13(_)))
        .copied()
        .collect();
    provider.cipher_suites = tls13.into_iter().chain(tls12).collect();
    let versions = ciphers::versions(s.protocols)?;
    let algs = provider.signature_verification_algorithms;
    let verifier = if s.verify {
        let trusted = certs::load_certs(
            s.trusted_certificate,
            &s.conf_prefix.join(s.trusted_certificate),
        )?;
        let crls = if s.crl.is_empty() {
            Vec::new()
        } else {
            super::crl::parse_all(&certs::load_crls(s.crl, &s.conf_prefix.join(s.crl))?, s.crl)?
        };
        UpstreamVerifier {
            trust: Some(Trust {
                anchors: trusted,
                crls,
                depth: usize::try_from(s.verify_depth).unwrap_or(usize::MAX),
            }),
            algs,
        }
    } else {
        UpstreamVerifier { trust: None, algs }
    };
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&versions)
        .map_err(|e| format!("SSL_CTX_new() failed ({e})"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    let mut config = if s.certificate.is_empty() || s.certificate_per_request {
        builder.with_no_client_auth()
    } else {
        let pair = load_pair(s.conf_prefix, s.certificate, s.certificate_key, s.passwords)?;
        builder.with_client_cert_resolver(Arc::new(ClientCert(pair)))
    };
    config.enable_sni = s.server_name;
    config.resumption = if s.session_reuse {
        rustls::client::Resumption::in_memory_sessions(SESSIONS)
    } else {
        rustls::client::Resumption::disabled()
    };
    // Upstream HTTP is HTTP/1.x: no ALPN, as nginx 1.22's proxy sends none.
    Ok(UpstreamTls {
        config: Arc::new(config),
    })
}

impl UpstreamTls {
    /// The configuration for one connection whose client certificate and key paths came
    /// from variables (nginx's `ngx_http_upstream_ssl_certificate`, which reads the files
    /// for every connection): this configuration with that pair, sharing its session
    /// store. An empty `certificate` sends none. `Err` is the log text.
    pub fn with_certificate(
        &self,
        conf_prefix: &std::path::Path,
        certificate: &str,
        certificate_key: &str,
        passwords: &[Vec<u8>],
    ) -> Result<Arc<rustls::ClientConfig>, String> {
        if certificate.is_empty() {
            return Ok(self.config.clone());
        }
        let pair = load_pair(conf_prefix, certificate, certificate_key, passwords)?;
        let mut config = (*self.config).clone();
        config.client_auth_cert_resolver = Arc::new(ClientCert(pair));
        Ok(Arc::new(config))
    }
}

/// Reads a client certificate chain and its key (relative names from `conf_prefix`).
fn load_pair(
    conf_prefix: &std::path::Path,
    certificate: &str,
    certificate_key: &str,
    passwords: &[Vec<u8>],
) -> Result<Arc<rustls::sign::CertifiedKey>, String> {
    let chain = certs::load_certs(certificate, &conf_prefix.join(certificate))?;
    let key = certs::load_key(
        certificate_key,
        &conf_prefix.join(certificate_key),
        passwords,
    )?;
    // Through the server side's check, which takes X.509 v1 certificates as OpenSSL.
    certs::certified_key(chain, key, certificate, certificate_key)
}

/// The log text of a failed upstream handshake: a verification failure's own nginx text
/// (`upstream SSL certificate verify error: (N:TEXT)`, `upstream SSL certificate does not
/// match "NAME"`), else `SSL_do_handshake() failed (SSL: ...)`.
pub fn upstream_error(e: &rustls::Error) -> String {
    if let rustls::Error::General(text) = e
        && text.starts_with(VERIFY_PREFIX)
    {
        return text.clone();
    }
    format!("SSL_do_handshake() failed (SSL: {e})")
}

/// `proxy_ssl_certificate`: the one pair, sent whenever the upstream asks for one.
#[derive(Debug)]
struct ClientCert(Arc<rustls::sign::CertifiedKey>);

impl rustls::client::ResolvesClientCert for ClientCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        sigschemes: &[SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.0.key.choose_scheme(sigschemes)?;
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// The trust store of `proxy_ssl_verify on`.
#[derive(Debug)]
struct Trust {
    anchors: Vec<CertificateDer<'static>>,
    crls: Vec<super::crl::Crl>,
    depth: usize,
}

#[derive(Debug)]
struct UpstreamVerifier {
    /// `None`: `proxy_ssl_verify off`, any certificate.
    trust: Option<Trust>,
    algs: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl UpstreamVerifier {
    /// OpenSSL's verify result of `leaf` with `intermediates`: `Err((code, text))`.
    fn chain(
        trust: &Trust,
        leaf: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        algs: &rustls::crypto::WebPkiSupportedAlgorithms,
        now: UnixTime,
    ) -> Result<(), (u32, &'static str)> {
        if trust.anchors.iter().any(|a| a.as_ref() == leaf.as_ref()) {
            return Ok(());
        }
        if super::x509::fields(leaf).is_some_and(|f| f.issuer == f.subject) {
            return Err((18, "self-signed certificate"));
        }
        let Ok(cert) = webpki::EndEntityCert::try_from(leaf) else {
            return Err((20, "unable to get local issuer certificate"));
        };
        let path = (&trust.anchors[..], &trust.crls[..], trust.depth);
        let usage = webpki::KeyUsage::server_auth();
        super::chain::verify_path(&cert, intermediates, path, algs.all, now, usage)
    }
}

impl ServerCertVerifier for UpstreamVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(trust) = &self.trust else {
            return Ok(ServerCertVerified::assertion());
        };
        if let Err((code, text)) = Self::chain(trust, end_entity, intermediates, &self.algs, now) {
            return Err(rustls::Error::General(format!(
                "{VERIFY_PREFIX}verify error: ({code}:{text})"
            )));
        }
        let name = match server_name {
            ServerName::DnsName(d) => d.as_ref().to_string(),
            ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
            _ => String::new(),
        };
        if !super::cert_names::matches(end_entity, &name) {
            return Err(rustls::Error::General(format!(
                "{VERIFY_PREFIX}does not match \"{name}\""
            )));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        signed_with(&self.algs, message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        signed_with(&self.algs, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// Checks a handshake signature against the key of `cert` (read from the DER, so v1
/// certificates work as in OpenSSL).
fn signed_with(
    algs: &rustls::crypto::WebPkiSupportedAlgorithms,
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    let bad = || rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding);
    let spki = super::x509::fields(cert).ok_or_else(bad)?.spki;
    let spki = rustls::pki_types::SubjectPublicKeyInfoDer::from(spki);
    let key = webpki::RawPublicKeyEntity::try_from(&spki).map_err(|_| bad())?;
    let for_scheme = algs
        .mapping
        .iter()
        .find(|(scheme, _)| *scheme == dss.scheme)
        .map_or(&[][..], |(_, a)| *a);
    for alg in for_scheme {
        if key.verify_signature(*alg, message, dss.signature()).is_ok() {
            return Ok(HandshakeSignatureValid::assertion());
        }
    }
    Err(rustls::Error::InvalidCertificate(
        rustls::CertificateError::BadSignature,
    ))
}
